"""`lobflow.backtest.run`: scores from the engine, fills from the Rust simulator, metrics here.

One scorer for research and production: when given weights, the signals come from
`lobflow.Engine`, never from a second implementation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import polars as pl

from lobflow import _core
from lobflow._choices import Mode, ModeLike, OnZero, OnZeroLike, choice
from lobflow._engine import Engine, RunResult
from lobflow._feed import FeedLike, engine_columns, to_frame
from lobflow._progress import progress_bar
from lobflow._schema import finite, int_within
from lobflow.backtest._metrics import (
    BacktestMetrics,
    max_drawdown,
    per_day,
    round_trips,
    sharpe,
)
from lobflow.backtest._signals import check_signals
from lobflow.errors import BacktestError
from lobflow.weights import Weights

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from lobflow._feed import EngineColumns
    from lobflow._progress import Bar

    #: Signals given directly: -1, 0 or 1 per row.
    Signals: TypeAlias = np.ndarray | Sequence[float] | pl.Series


@dataclass(frozen=True)
class BacktestConfig:
    """Execution assumptions. Latencies in ns, fees in bps of notional (maker < 0: rebate)."""

    mode: ModeLike = Mode.TAKER
    order_size: float = 1.0
    max_position: float = 1.0
    on_zero: OnZeroLike = OnZero.HOLD
    min_hold_ns: int = 0
    md_latency_ns: int = 5_000_000
    order_latency_ns: int = 10_000_000
    taker_fee_bps: float = 1.0
    maker_fee_bps: float = 0.0
    #: The engine's (producer, worker) cores when signals come from weights; None: automatic.
    cores: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # The strings a caller may pass become the enums (a str each: the simulator reads them).
        object.__setattr__(self, "mode", choice(Mode, self.mode, "mode"))
        object.__setattr__(self, "on_zero", choice(OnZero, self.on_zero, "on_zero"))
        # Here, naming the field: the binding's u64 conversion said only "can't convert
        # negative int to unsigned", and an infinite size gave NaN equity.
        for name in ("min_hold_ns", "md_latency_ns", "order_latency_ns"):
            int_within(getattr(self, name), name, "an int (ns)", 2**64, "in 0..2^64 ns")
        for name in ("order_size", "max_position", "taker_fee_bps", "maker_fee_bps"):
            finite(name, getattr(self, name))


@dataclass(frozen=True)
class BacktestResult:
    """Per-snapshot path, fills, and the metrics of one run."""

    ts: np.ndarray
    position: np.ndarray
    equity: np.ndarray
    fees: np.ndarray
    signals: np.ndarray
    scores: np.ndarray | None
    fills: pl.DataFrame
    metrics: BacktestMetrics
    per_day: pl.DataFrame
    config: BacktestConfig
    #: The engine's run that scored the feed (throughput, latency, cores); None when the
    #: signals were given.
    engine: RunResult | None = None

    def frame(self) -> pl.DataFrame:
        """The per-snapshot path as a DataFrame."""
        return pl.DataFrame(
            {
                "ts": self.ts,
                "position": self.position,
                "equity": self.equity,
                "fees": self.fees,
                "signal": self.signals,
            }
        )


def run(
    books: FeedLike,
    signals_or_weights: Signals | Weights | str | os.PathLike[str],
    config: BacktestConfig | None = None,
    *,
    progress: bool = False,
) -> BacktestResult:
    """Simulate trading `signals_or_weights` on one feed of `books`.

    Parameters
    ----------
    books
        One feed (DataFrame, structured array or Parquet path) in the contract schema.
    signals_or_weights
        An array (or list, or polars Series) of -1/0/+1 per row (integers, or floats that are
        exactly these: any other value is a `ValueError` naming its row), or weights (a
        `Weights` or a file) that
        `lobflow.Engine` turns into signals.
    config
        Execution assumptions; see `BacktestConfig`.
    progress
        Show a progress bar on a terminal (scoring, simulating, metrics).
    """
    with progress_bar(progress) as bar:
        return _run(books, signals_or_weights, config or BacktestConfig(), bar)


def _run(
    books: FeedLike,
    signals_or_weights: Signals | Weights | str | os.PathLike[str],
    cfg: BacktestConfig,
    bar: Bar,
) -> BacktestResult:
    task = bar.add_task("reading the books", total=4)
    df = to_frame(books)
    cols = engine_columns(df)
    bar.update(task, advance=1, description="scoring with the engine")
    scores = None
    engine_run = None
    if not isinstance(signals_or_weights, Weights | str | os.PathLike):
        signals = check_signals(np.asarray(signals_or_weights))
    else:
        engine = Engine(signals_or_weights, capacity=_ring_capacity(df.height), cores=cfg.cores)
        engine_run = engine.run(df)
        signals, scores = engine_run.signals, engine_run.scores
    bar.update(task, advance=1, description="simulating fills")
    if len(signals) != df.height:
        msg = f"{len(signals)} signals for {df.height} rows"
        raise BacktestError(msg)
    out = simulate(cols, signals, cfg)
    fills = _fills(cols.ts, out)
    bar.update(task, advance=1, description="metrics")
    metrics = _metrics(df, cols.ts, out, fills, cfg)
    bar.update(task, advance=1)
    return BacktestResult(
        cols.ts,
        out.position,
        out.equity,
        out.fees,
        signals,
        scores,
        fills,
        metrics,
        per_day(cols.ts, out.equity),
        cfg,
        engine_run,
    )


#: `Engine`'s default ring capacity, which a feed of more rows gets too.
_RING = 131072


def _ring_capacity(rows: int) -> int:
    """The smallest power of two (>= 2) that holds `rows` ticks, at most the default ring.

    A ring that holds the whole feed never fills, so the engine scores and queues as on the
    default ring; a fresh engine for each backtest would otherwise allocate and fault in the
    default's 11.5 MB on every call, several times the cost of scoring a short feed.
    """
    return min(_RING, max(2, 1 << (rows - 1).bit_length()))


def simulate(
    cols: EngineColumns, signals: NDArray[np.int8], cfg: BacktestConfig
) -> _core.BacktestOutput:
    """The Rust simulator over the engine's columns (it checks every row and signal)."""
    return _core.backtest(
        cols.ts,
        cols.cols,
        signals,
        mode=cfg.mode,
        order_size=cfg.order_size,
        max_position=cfg.max_position,
        on_zero=cfg.on_zero,
        min_hold_ns=cfg.min_hold_ns,
        md_latency_ns=cfg.md_latency_ns,
        order_latency_ns=cfg.order_latency_ns,
        taker_fee_bps=cfg.taker_fee_bps,
        maker_fee_bps=cfg.maker_fee_bps,
    )


def _fills(ts: NDArray[np.int64], out: _core.BacktestOutput) -> pl.DataFrame:
    """The fills, one row each, in the order the simulator made them."""
    rows = out.fill_row
    columns = {
        "row": rows,
        "ts": ts[rows],
        "decision_row": out.fill_decision_row,
        "qty": out.fill_qty,
        "price": out.fill_price,
        "fee": out.fill_fee,
        "slippage": out.fill_slippage,
    }
    # From Series: a dict of arrays costs polars a third more to take in, on every run.
    return pl.DataFrame([pl.Series(name, a) for name, a in columns.items()])


def _metrics(
    df: pl.DataFrame,
    ts: NDArray[np.int64],
    out: _core.BacktestOutput,
    fills: pl.DataFrame,
    cfg: BacktestConfig,
) -> BacktestMetrics:
    """The metrics of the simulated path and fills (see `BacktestMetrics`)."""
    equity, position, rows, qty = out.equity, out.position, out.fill_row, out.fill_qty
    # A fill that takes the position through zero is two trades (close, then open).
    flips = np.sign(position[rows]) * np.sign(position[rows] - qty) < 0
    hit, hold = round_trips(ts, rows, qty, equity)
    filled = float(np.abs(qty).sum())
    pnl = float(equity[-1]) if len(equity) else 0.0
    gross_pnl = float(equity[-1] + out.fees[-1]) if len(equity) else 0.0
    slippage = float(fills["slippage"].sum())
    notional = cfg.order_size * _mean_mid(df)
    return BacktestMetrics(
        pnl=pnl,
        pnl_bps=pnl / notional * 1e4 if notional > 0 else float("nan"),
        gross_pnl=gross_pnl,
        edge=gross_pnl + slippage,
        fees=float(out.fees[-1]) if len(equity) else 0.0,
        slippage=slippage,
        sharpe=sharpe(ts, equity),
        max_drawdown=max_drawdown(equity),
        trades=int(fills.height + int(flips.sum())),
        turnover=_turnover(qty, out.fill_price),
        hit_rate=hit,
        avg_holding_s=hold / 1e9,
        fill_ratio=filled / out.requested_qty if out.requested_qty > 0 else float("nan"),
        unfilled_qty=out.unfilled_qty,
        elapsed_s=float((ts[-1] - ts[0]) / 1e9) if len(ts) else 0.0,
        snapshots=len(ts),
    )


def _turnover(qty: NDArray[np.float64], price: NDArray[np.float64]) -> float:
    """Notional traded, summed by polars (NumPy's sum pairs the terms otherwise)."""
    # |qty| * price rounds alike in NumPy and polars, and NumPy's `abs` skips polars' call
    # overhead, which was larger than the sum's on every run.
    return float(pl.Series(np.abs(qty) * price).sum())


def _mean_mid(df: pl.DataFrame) -> float:
    """The mean level-0 mid of the feed (0 without rows).

    In the input's own dtype, as polars adds it. The simulator has refused any row whose
    level-0 price is null, NaN, infinite or not positive, so there is nothing to drop first.
    """
    mid = ((df["bid_px_0"] + df["ask_px_0"]) / 2).mean() if df.height else None
    return float(mid) if isinstance(mid, int | float) and mid > 0 else 0.0
