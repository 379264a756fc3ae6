"""PnL against threshold and costs: one feed's scores backtested at many thresholds and fees.

Training chooses its threshold with it on the validation part (`lobflow.train.fit`), and the
report draws it on the part being reported, so both show the same simulated execution the
backtest uses: latency, the spread crossed, the book walked, fees, holding until the opposite
signal (or flattening), flips costing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from lobflow._choices import Mode
from lobflow.backtest._books import Books
from lobflow.backtest._run import run

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import polars as pl

    from lobflow.backtest._run import BacktestConfig


@dataclass(frozen=True)
class PnlByThreshold:
    """Backtest results of one set of scores at each threshold, for each fee.

    The fee is the one the config's mode pays: taker, or maker in passive mode.

    ``pnl_bps[i, j]`` and ``trades[i, j]`` are those of fee ``fees_bps[i]`` at threshold
    ``thresholds[j]``; PnL in bps of one order's notional (`BacktestMetrics.pnl_bps`).
    """

    thresholds: tuple[float, ...]
    fees_bps: tuple[float, ...]
    pnl_bps: np.ndarray
    trades: np.ndarray

    def __add__(self, other: PnlByThreshold) -> PnlByThreshold:
        """The results of two feeds together (same thresholds and fees): PnL and trades add."""
        if (self.thresholds, self.fees_bps) != (other.thresholds, other.fees_bps):
            msg = "only results over the same thresholds and fees add up"
            raise ValueError(msg)
        return replace(
            self, pnl_bps=self.pnl_bps + other.pnl_bps, trades=self.trades + other.trades
        )


def paid_fee_bps(config: BacktestConfig) -> float:
    """The fee `config`'s orders pay: maker in passive mode, else taker."""
    return config.maker_fee_bps if config.mode == Mode.PASSIVE else config.taker_fee_bps


def candidate_thresholds(scores: np.ndarray, n: int = 40) -> tuple[float, ...]:
    """`n` + 1 thresholds from 0 to the 99.9th percentile of ``|scores|``, dense at the top.

    The quantile levels are ``1 - geomspace(1, 1e-3)``: the signals of each threshold go from
    every row down to one row in a thousand, and most candidates trade rarely, where a
    strategy that pays costs lives.
    """
    finite = np.abs(scores[np.isfinite(scores)])
    if finite.size == 0:
        return (0.0,)
    levels = 1.0 - np.geomspace(1.0, 1e-3, n)
    return tuple(float(t) for t in np.unique(np.append(0.0, np.quantile(finite, levels))))


def pnl_by_threshold(
    books: pl.DataFrame,
    scores: np.ndarray,
    config: BacktestConfig,
    thresholds: Sequence[float],
    fees_bps: Sequence[float] | None = None,
    *,
    advance: Callable[[], object] | None = None,
) -> PnlByThreshold:
    """Backtest `scores` on one feed of `books` at every threshold and taker fee.

    Parameters
    ----------
    books
        One feed, one row per score.
    scores
        The engine's (or the pipeline's) scores of those rows; NaN is no signal.
    config
        The execution every run assumes; the fee its mode pays (``taker_fee_bps``, or
        ``maker_fee_bps`` in passive mode) is replaced by each of `fees_bps`.
    thresholds
        Signal thresholds: +1 above ``t``, -1 below ``-t``, as `Weights.signal`.
    fees_bps
        Fees to run (default: the config's own only).
    advance
        Called after each backtest (a progress bar's step).
    """
    passive = config.mode == Mode.PASSIVE
    fees = tuple(fees_bps) if fees_bps is not None else (paid_fee_bps(config),)
    # Read and checked once for every threshold and fee; a single run reads the frame itself
    # (the copy `Books` makes would cost it more than it saves).
    checked = Books(books) if len(fees) * len(thresholds) > 1 else books
    pnl = np.zeros((len(fees), len(thresholds)))
    trades = np.zeros((len(fees), len(thresholds)), dtype=np.int64)
    for i, fee in enumerate(fees):
        cfg = replace(config, maker_fee_bps=fee) if passive else replace(config, taker_fee_bps=fee)
        for j, t in enumerate(thresholds):
            signals = (scores > t).astype(np.int8) - (scores < -t).astype(np.int8)
            m = run(checked, signals, cfg).metrics
            pnl[i, j], trades[i, j] = m.pnl_bps, m.trades
            if advance is not None:
                advance()
    return PnlByThreshold(tuple(float(t) for t in thresholds), fees, pnl, trades)
