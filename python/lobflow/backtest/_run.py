"""`lobflow.backtest.run`: scores from the engine, fills from the Rust simulator, metrics here.

One scorer for research and production: when given weights, the signals come from
`lobflow.Engine`, never from a second implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lobflow import _core
from lobflow._choices import Mode, ModeLike, OnZero, OnZeroLike, choice
from lobflow._engine import Engine, RunResult
from lobflow._feed import FeedLike, engine_columns, to_frame
from lobflow._progress import progress_bar
from lobflow._schema import finite, int_within
from lobflow.backtest._metrics import BacktestMetrics, round_trips, sharpe
from lobflow.backtest._signals import check_signals
from lobflow.errors import BacktestError

if TYPE_CHECKING:
    import os

    from rich.progress import Progress

    from lobflow.weights import Weights


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
    signals_or_weights: np.ndarray | Weights | str | os.PathLike[str],
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
        An array of -1/0/+1 per row (integers, or floats that are exactly these: any other
        value is a `ValueError` naming its row), or weights (a `Weights` or a file) that
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
    signals_or_weights: np.ndarray | Weights | str | os.PathLike[str],
    cfg: BacktestConfig,
    bar: Progress,
) -> BacktestResult:
    task = bar.add_task("reading the books", total=4)
    df = to_frame(books)
    cols = engine_columns(df)
    bar.update(task, advance=1, description="scoring with the engine")
    scores = None
    engine_run = None
    if isinstance(signals_or_weights, np.ndarray):
        signals = check_signals(signals_or_weights)
    else:
        engine_run = Engine(signals_or_weights, cores=cfg.cores).run(df)
        signals, scores = engine_run.signals, engine_run.scores
    bar.update(task, advance=1, description="simulating fills")
    if len(signals) != df.height:
        msg = f"{len(signals)} signals for {df.height} rows"
        raise BacktestError(msg)
    out = _core.backtest(
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
    ts, equity, position = cols.ts, out.equity, out.position
    rows = out.fill_row
    fills = pl.DataFrame(
        {
            "row": rows,
            "ts": ts[rows],
            "decision_row": out.fill_decision_row,
            "qty": out.fill_qty,
            "price": out.fill_price,
            "fee": out.fill_fee,
            "slippage": out.fill_slippage,
        }
    )
    bar.update(task, advance=1, description="metrics")
    # A fill that takes the position through zero is two trades (close, then open).
    flips = np.sign(position[rows]) * np.sign(position[rows] - out.fill_qty) < 0
    hit, hold = round_trips(ts, fills, equity)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    filled = float(np.abs(fills["qty"].to_numpy()).sum())
    per_day = (
        pl.DataFrame({"ts": ts, "equity": equity})
        .with_columns(day=pl.col("ts").cast(pl.Datetime("ns")).dt.date())
        .group_by("day", maintain_order=True)
        .agg(pl.col("equity").last())
        .with_columns(pnl=pl.col("equity").diff().fill_null(pl.col("equity")))
    )
    pnl = float(equity[-1]) if len(equity) else 0.0
    gross_pnl = float(equity[-1] + out.fees[-1]) if len(equity) else 0.0
    slippage = float(fills["slippage"].sum())
    notional = cfg.order_size * _mean_mid(df)
    metrics = BacktestMetrics(
        pnl=pnl,
        pnl_bps=pnl / notional * 1e4 if notional > 0 else float("nan"),
        gross_pnl=gross_pnl,
        edge=gross_pnl + slippage,
        fees=float(out.fees[-1]) if len(equity) else 0.0,
        slippage=slippage,
        sharpe=sharpe(ts, equity),
        max_drawdown=float((peak - equity).max()) if len(equity) else 0.0,
        trades=int(fills.height + int(flips.sum())),
        turnover=float((fills["qty"].abs() * fills["price"]).sum()),
        hit_rate=hit,
        avg_holding_s=hold / 1e9,
        fill_ratio=filled / out.requested_qty if out.requested_qty > 0 else float("nan"),
        unfilled_qty=out.unfilled_qty,
        elapsed_s=float((ts[-1] - ts[0]) / 1e9) if len(ts) else 0.0,
        snapshots=len(ts),
    )
    bar.update(task, advance=1)
    return BacktestResult(
        ts,
        position,
        equity,
        out.fees,
        signals,
        scores,
        fills,
        metrics,
        per_day,
        cfg,
        engine_run,
    )


def _mean_mid(df: pl.DataFrame) -> float:
    """The mean level-0 mid of the rows where both sides are quoted (0 without any)."""
    mid = ((df["bid_px_0"] + df["ask_px_0"]) / 2).drop_nans().mean() if df.height else None
    return float(mid) if isinstance(mid, int | float) and mid > 0 else 0.0
