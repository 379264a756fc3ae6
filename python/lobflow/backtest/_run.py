"""`lobflow.backtest.run`: scores from the engine; fills and metrics from the Rust simulator.

One scorer for research and production: when given weights, the signals come from
`lobflow.Engine`, never from a second implementation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import polars as pl

from lobflow import _core
from lobflow._choices import Mode, ModeLike, OnZero, OnZeroLike, choice
from lobflow._engine import Engine, RunResult
from lobflow._feed import FeedLike, engine_columns, to_frame
from lobflow._progress import progress_bar
from lobflow._schema import finite, int_within
from lobflow.backtest._books import Books
from lobflow.backtest._metrics import BacktestMetrics, per_day
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
    """Per-snapshot path, fills, and the metrics of one run.

    The simulator returns the fills and the metrics; the per-snapshot path (`position`,
    `equity`, `fees`) and the `fills` and `per_day` frames are built from them when first
    read, and kept. A run read for its metrics, as a sweep reads most, does not pay for them.
    The path is the simulator's own, to the bit: it is replayed from the fills with the
    simulator's arithmetic.
    """

    ts: np.ndarray
    signals: np.ndarray
    scores: np.ndarray | None
    metrics: BacktestMetrics
    config: BacktestConfig
    #: The engine's run that scored the feed (throughput, latency, cores); None when the
    #: signals were given.
    engine: RunResult | None = None
    #: The fills' columns as the simulator gave them, in `fills`' order.
    _fill_columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: The books' level-0 bid and ask prices, which mark the path to its mids.
    _level0: tuple[np.ndarray, np.ndarray] = field(default=(np.empty(0), np.empty(0)), repr=False)

    @cached_property
    def _path(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = self._fill_columns
        return _core.backtest_path(
            *self._level0,
            f["row"],
            f["decision_row"],
            f["qty"],
            f["price"],
            f["fee"],
            f["slippage"],
        )

    @property
    def position(self) -> np.ndarray:
        """Position after each snapshot."""
        return self._path[0]

    @property
    def equity(self) -> np.ndarray:
        """Mark-to-mid equity after each snapshot (cash + position x mid, fees paid)."""
        return self._path[1]

    @property
    def fees(self) -> np.ndarray:
        """Fees paid up to each snapshot."""
        return self._path[2]

    @cached_property
    def fills(self) -> pl.DataFrame:
        """The fills, one row each, in the order the simulator made them.

        Columns: `row` (the snapshot it executed against), `ts`, `decision_row` (the
        snapshot whose signal sent the order), `qty` (signed), `price`, `fee`, `slippage`.
        """
        # From Series: a dict of arrays costs polars a third more to take in.
        return pl.DataFrame([pl.Series(name, a) for name, a in self._fill_columns.items()])

    @cached_property
    def per_day(self) -> pl.DataFrame:
        """Equity at the last snapshot of each UTC day with snapshots, and the day's PnL."""
        return per_day(self.ts, self.equity)

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
    books: FeedLike | Books,
    signals_or_weights: Signals | Weights | str | os.PathLike[str],
    config: BacktestConfig | None = None,
    *,
    progress: bool = False,
) -> BacktestResult:
    """Simulate trading `signals_or_weights` on one feed of `books`.

    Parameters
    ----------
    books
        One feed (DataFrame, structured array or Parquet path) in the contract schema, or
        `Books` read and checked before (for many runs on the same books).
    signals_or_weights
        An array (or list, or polars Series) of -1/0/+1 per row (integers, or floats that are
        exactly these: any other value is a `ValueError` naming its row), or weights (a
        `Weights` or a file) that
        `lobflow.Engine` turns into signals.
    config
        Execution assumptions; see `BacktestConfig`.
    progress
        Show a progress bar on a terminal (scoring, then simulating).
    """
    with progress_bar(progress) as bar:
        return _run(books, signals_or_weights, config or BacktestConfig(), bar)


def _run(
    books: FeedLike | Books,
    signals_or_weights: Signals | Weights | str | os.PathLike[str],
    cfg: BacktestConfig,
    bar: Bar,
) -> BacktestResult:
    task = bar.add_task("reading the books", total=4)
    if isinstance(books, Books):
        df, ts, level0 = books.frame, books.ts, books.level0
    else:
        df = to_frame(books)
        cols = engine_columns(df)
        ts, level0 = cols.ts, (cols.cols[0], cols.cols[10])
    bar.update(task, advance=1, description="scoring with the engine")
    scores = None
    engine_run = None
    if not isinstance(signals_or_weights, Weights | str | os.PathLike):
        signals = check_signals(np.asarray(signals_or_weights))
    else:
        engine = Engine(signals_or_weights, capacity=_ring_capacity(df.height), cores=cfg.cores)
        engine_run = engine.run(df)
        signals, scores = engine_run.signals, engine_run.scores
    bar.update(task, advance=1, description="simulating fills and metrics")
    if len(signals) != df.height:
        msg = f"{len(signals)} signals for {df.height} rows"
        raise BacktestError(msg)
    out = simulate(books.checked if isinstance(books, Books) else cols, signals, cfg)
    bar.update(task, advance=2)
    return BacktestResult(
        ts,
        signals,
        scores,
        BacktestMetrics(*out.metrics),
        cfg,
        engine_run,
        _fill_columns(ts, out),
        level0,
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
    books: EngineColumns | _core.CheckedBooks, signals: NDArray[np.int8], cfg: BacktestConfig
) -> _core.BacktestOutput:
    """The Rust simulator, its metrics included, over the engine's columns.

    It checks every row and signal; on `CheckedBooks`, checked before, the signals only.
    """
    if isinstance(books, _core.CheckedBooks):
        return _core.backtest_checked(books, signals, cfg)
    return _core.backtest(books.ts, books.cols, signals, cfg)


def _fill_columns(ts: NDArray[np.int64], out: _core.BacktestOutput) -> dict[str, np.ndarray]:
    """The fills' columns, one row per fill, in the order the simulator made them."""
    return {
        "row": out.fill_row,
        "ts": ts[out.fill_row],
        "decision_row": out.fill_decision_row,
        "qty": out.fill_qty,
        "price": out.fill_price,
        "fee": out.fill_fee,
        "slippage": out.fill_slippage,
    }
