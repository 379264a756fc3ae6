"""`lobflow.backtest.run`: scores from the engine, fills from the Rust simulator, metrics here.

One scorer for research and production: when given weights, the signals come from
`lobflow.Engine`, never from a second implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from lobflow import _core
from lobflow._engine import Engine
from lobflow._feed import FeedLike, engine_columns, to_frame
from lobflow._schema import finite, int_within
from lobflow.errors import BacktestError

if TYPE_CHECKING:
    import os

    from lobflow.weights import Weights

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9


@dataclass(frozen=True)
class BacktestConfig:
    """Execution assumptions. Latencies in ns, fees in bps of notional (maker < 0: rebate)."""

    mode: Literal["taker", "passive"] = "taker"
    order_size: float = 1.0
    max_position: float = 1.0
    on_zero: Literal["hold", "flatten"] = "hold"
    min_hold_ns: int = 0
    md_latency_ns: int = 5_000_000
    order_latency_ns: int = 10_000_000
    taker_fee_bps: float = 1.0
    maker_fee_bps: float = 0.0
    #: The engine's (producer, worker) cores when signals come from weights; None: automatic.
    cores: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # Here, naming the field: the binding's u64 conversion said only "can't convert
        # negative int to unsigned", and an infinite size gave NaN equity.
        for name in ("min_hold_ns", "md_latency_ns", "order_latency_ns"):
            int_within(getattr(self, name), name, "an int (ns)", 2**64, "in 0..2^64 ns")
        for name in ("order_size", "max_position", "taker_fee_bps", "maker_fee_bps"):
            finite(name, getattr(self, name))


@dataclass
class BacktestResult:
    """Per-snapshot path, fills, and the metrics of one run."""

    ts: np.ndarray
    position: np.ndarray
    equity: np.ndarray
    fees: np.ndarray
    signals: np.ndarray
    scores: np.ndarray | None
    fills: pl.DataFrame
    metrics: dict[str, float]
    per_day: pl.DataFrame
    config: BacktestConfig
    engine: dict[str, Any] = field(default_factory=dict)

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


def _sharpe(ts: np.ndarray, equity: np.ndarray) -> float:
    """Sharpe of equity changes on a regular grid, annualised by the grid step.

    The grid is 1 s for runs under a day (so a 10-minute run still gets ~600 returns), else
    1 minute. Returns are PnL per step (quote currency), so this is a PnL Sharpe.
    """
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return float("nan")
    step = 1e9 if ts[-1] - ts[0] < 86_400e9 else 60e9
    grid = np.arange(ts[0], ts[-1] + step, step)
    idx = np.searchsorted(ts, grid, side="right") - 1
    sampled = equity[np.clip(idx, 0, len(equity) - 1)]
    r = np.diff(sampled)
    sd = float(r.std())
    return float(r.mean() / sd * math.sqrt(NS_PER_YEAR / step)) if sd > 0 else float("nan")


def _round_trips(ts: np.ndarray, fills: pl.DataFrame, equity: np.ndarray) -> tuple[float, float]:
    """(hit rate, mean holding ns) over closed round trips (flat → position → flat/flip)."""
    pos = 0.0
    open_row = -1
    wins, trips, held = 0, 0, 0.0
    for row, qty in zip(fills["row"].to_list(), fills["qty"].to_list(), strict=True):
        before = pos
        pos += qty
        if before == 0.0 and pos != 0.0:
            open_row = row
        elif before != 0.0 and (pos == 0.0 or np.sign(pos) != np.sign(before)):
            trips += 1
            start_eq = equity[open_row - 1] if open_row > 0 else 0.0
            wins += equity[row] > start_eq
            held += ts[row] - ts[open_row]
            open_row = row if pos != 0.0 else -1
    if trips == 0:
        return float("nan"), float("nan")
    return float(wins / trips), float(held / trips)


def run(
    books: FeedLike,
    signals_or_weights: np.ndarray | Weights | str | os.PathLike[str],
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Simulate trading `signals_or_weights` on one feed of `books`.

    Parameters
    ----------
    books
        One feed (DataFrame, structured array or Parquet path) in the contract schema.
    signals_or_weights
        An int8 array of -1/0/+1 per row, or weights (a `Weights` or a file) that
        `lobflow.Engine` turns into signals.
    config
        Execution assumptions; see `BacktestConfig`.
    """
    cfg = config or BacktestConfig()
    df = to_frame(books)
    cols = engine_columns(df)
    scores = None
    engine_info: dict[str, Any] = {}
    if isinstance(signals_or_weights, np.ndarray):
        signals = np.ascontiguousarray(signals_or_weights, dtype=np.int8)
    else:
        res = Engine(signals_or_weights, cores=cfg.cores).run(df)
        signals, scores = res.signals, res.scores
        engine_info = {
            "ticks_per_s": res.ticks_per_s,
            "latency": res.latency,
            "cores_used": res.cores_used,
        }
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
    # A fill that takes the position through zero is two trades (close, then open).
    flips = np.sign(position[rows]) * np.sign(position[rows] - out.fill_qty) < 0
    hit, hold = _round_trips(ts, fills, equity)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    filled = float(np.abs(fills["qty"].to_numpy()).sum())
    per_day = (
        pl.DataFrame({"ts": ts, "equity": equity})
        .with_columns(day=pl.col("ts").cast(pl.Datetime("ns")).dt.date())
        .group_by("day", maintain_order=True)
        .agg(pl.col("equity").last())
        .with_columns(pnl=pl.col("equity").diff().fill_null(pl.col("equity")))
    )
    metrics = {
        "pnl": float(equity[-1]) if len(equity) else 0.0,
        "fees": float(out.fees[-1]) if len(equity) else 0.0,
        "gross_pnl": float(equity[-1] + out.fees[-1]) if len(equity) else 0.0,
        "slippage": float(fills["slippage"].sum()),
        "sharpe": _sharpe(ts, equity),
        "max_drawdown": float((peak - equity).max()) if len(equity) else 0.0,
        "trades": int(fills.height + int(flips.sum())),
        "turnover": float((fills["qty"].abs() * fills["price"]).sum()),
        "hit_rate": hit,
        "avg_holding_s": hold / 1e9,
        "fill_ratio": filled / out.requested_qty if out.requested_qty > 0 else float("nan"),
        "unfilled_qty": out.unfilled_qty,
        "elapsed_s": float((ts[-1] - ts[0]) / 1e9) if len(ts) else 0.0,
        "snapshots": len(ts),
    }
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
        engine_info,
    )
