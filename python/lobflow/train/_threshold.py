"""The threshold against costs: backtest the validation part at each candidate, keep the best.

The rule is the backtest itself (`lobflow.backtest.run`, with the execution the model will be
backtested with): the engine scores each feed of the part, and each candidate threshold's
signals are traded through the same simulator, with its latency, spread, book walk, fees and
position rules. A rule of its own (each signal one trade over the horizon at half the spread)
disagreed with the backtest it was meant for: a strategy holds until the opposite signal and
pays the spread twice on a flip. Only validation rows choose; the test part is then traded
once, at the chosen threshold, for the metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lobflow._engine import Engine
from lobflow._schema import FEED_KEYS
from lobflow.backtest._by_threshold import (
    PnlByThreshold,
    candidate_thresholds,
    paid_fee_bps,
    pnl_by_threshold,
)
from lobflow.train._metrics import Trading

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.backtest import BacktestConfig
    from lobflow.weights import Weights

#: The threshold of a model that should never trade: no finite score is beyond it.
NEVER = float(np.finfo(np.float64).max)
#: The fewest trades on validation a threshold must make to be chosen. A strategy that holds
#: until the opposite signal makes its few trades' PnL out of where the price drifted while
#: it held: a threshold chosen on a handful of them is chosen by luck.
MIN_TRADES = 20

#: One feed's rows of a part and the engine's scores of them (rows it skipped left out).
Scored = tuple[pl.DataFrame, np.ndarray]


def part_feeds(books: pl.LazyFrame, start: int | None, end: int | None) -> list[pl.DataFrame]:
    """Each feed's rows with ``start <= ts < end`` (None: unbounded), in feed order."""
    keys = [k for k in FEED_KEYS if k in books.collect_schema().names()]
    cond = pl.lit(True)
    if start is not None:
        cond &= pl.col("ts") >= start
    if end is not None:
        cond &= pl.col("ts") < end
    df = books.filter(cond).collect()
    if df.height == 0:
        return []
    return df.partition_by(keys, maintain_order=True) if keys else [df]


def score_feeds(
    weights: Weights, config: BacktestConfig, feeds: list[pl.DataFrame]
) -> list[Scored]:
    """The engine's scores of each feed; rows it skips (bad rows) are left out of both."""
    engine = Engine(weights, cores=config.cores)
    out: list[Scored] = []
    for df in feeds:
        scores = engine.run(df, on_bad="skip").scores
        keep = np.isfinite(scores)
        out.append((df, scores) if keep.all() else (df.filter(pl.Series(keep)), scores[keep]))
    return out


def curve_fees(config: BacktestConfig) -> tuple[float, ...]:
    """The fees the validation curve is drawn at: none, and the execution's own."""
    return tuple(sorted({0.0, paid_fee_bps(config)}))


def choose_threshold(
    parts: list[Scored],
    config: BacktestConfig,
    advance: Callable[[], object] | None = None,
) -> tuple[float, Trading, PnlByThreshold]:
    """The threshold whose backtest of `parts` (the validation feeds) makes the most.

    Only thresholds with at least `MIN_TRADES` trades compete. Returns the threshold, its
    backtest, and the whole curve. Where none of them makes money after costs the threshold
    is `NEVER` (no trades) rather than the least bad loss.
    """
    if not parts:
        msg = "no validation rows the engine could score: nothing to choose a threshold on"
        raise ValueError(msg)
    every = np.concatenate([s for _, s in parts]) if parts else np.zeros(0)
    thresholds = candidate_thresholds(every)
    fees = curve_fees(config)
    curves = [pnl_by_threshold(df, s, config, thresholds, fees, advance=advance) for df, s in parts]
    curve = sum(curves[1:], curves[0])
    row = fees.index(paid_fee_bps(config))
    pnl_bps = np.where(curve.trades[row] >= MIN_TRADES, curve.pnl_bps[row], -np.inf)
    best = int(np.argmax(pnl_bps))
    if not pnl_bps[best] > 0:
        return NEVER, Trading(0.0, 0), curve
    pnl, trades = float(curve.pnl_bps[row, best]), int(curve.trades[row, best])
    return thresholds[best], Trading(pnl, trades), curve


def trade(parts: list[Scored], config: BacktestConfig, threshold: float) -> Trading:
    """The backtest of `parts` at `threshold`: PnL and trades summed over the feeds."""
    pnl, trades = 0.0, 0
    for df, s in parts:
        one = pnl_by_threshold(df, s, config, [threshold])
        pnl += float(one.pnl_bps[0, 0])
        trades += int(one.trades[0, 0])
    return Trading(pnl, trades)
