"""The metrics of one backtest, typed: what the strategy made, what it paid, how it traded."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9


@dataclass(frozen=True)
class BacktestMetrics:
    """What one backtest made and paid. Money is in the quote currency unless named bps.

    The PnL splits into what the signals knew and what trading on them cost:
    ``pnl = edge - slippage - fees``, where `edge` is what the same fills would have made at
    the mid of the snapshot that decided each one.
    """

    #: Net PnL: equity at the end, marked to mid, fees paid.
    pnl: float
    #: `pnl` in basis points of the notional of one order (``order_size`` at the mean mid).
    pnl_bps: float
    #: PnL before fees (``pnl + fees``).
    gross_pnl: float
    #: PnL had every fill been at its decision snapshot's mid, without fees
    #: (``gross_pnl + slippage``): the signals' edge before any cost of trading.
    edge: float
    #: Fees paid (negative: rebates received).
    fees: float
    #: Cost of the fills against their decision snapshot's mid: half the spread, the book
    #: walked, and how far the mid moved during the latency.
    slippage: float
    #: Annualised Sharpe ratio of PnL changes on a 1 s grid (1 min past a day); NaN without
    #: changes. Annualising a run of minutes multiplies its ratio by ~5 600: a steady drift
    #: either way reads as hundreds.
    sharpe: float
    #: Largest fall of equity from a previous peak.
    max_drawdown: float
    #: Fills, a fill that takes the position through zero counting two.
    trades: int
    #: Notional traded.
    turnover: float
    #: Share of round trips (flat → position → flat or flip) that made money; NaN without any.
    hit_rate: float
    #: Mean duration of a round trip, seconds; NaN without any.
    avg_holding_s: float
    #: Filled over requested quantity; NaN when nothing was requested.
    fill_ratio: float
    #: Quantity requested but not filled (taker: beyond the 5 levels; passive: cancelled).
    unfilled_qty: float
    #: Time from the first snapshot to the last, seconds.
    elapsed_s: float
    #: Snapshots simulated.
    snapshots: int

    def as_dict(self) -> dict[str, float | int]:
        """The metrics by name, e.g. for JSON (NaN stays NaN: see `lobflow.train` for JSON)."""
        return asdict(self)


def sharpe(ts: np.ndarray, equity: np.ndarray) -> float:
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


def round_trips(ts: np.ndarray, fills: pl.DataFrame, equity: np.ndarray) -> tuple[float, float]:
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
