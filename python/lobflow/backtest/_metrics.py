"""The metrics of one backtest, typed: what the strategy made, what it paid, how it traded."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from numpy.typing import NDArray

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
NS_PER_DAY = 86_400 * 10**9


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


def max_drawdown(equity: NDArray[np.float64]) -> float:
    """Largest fall of equity from a previous peak (0 for an empty path)."""
    if len(equity) == 0:
        return 0.0
    falls = np.maximum.accumulate(equity)
    # In place: the running peak is not needed after, and a long path is spared a copy.
    np.subtract(falls, equity, out=falls)
    return float(falls.max())


def round_trips(
    ts: NDArray[np.int64], rows: NDArray[np.int64], qty: NDArray[np.float64], equity: np.ndarray
) -> tuple[float, float]:
    """(hit rate, mean holding ns) over closed round trips (flat → position → flat/flip).

    `rows` and `qty` are the fills' rows and signed quantities, in fill order. A round trip
    opens on a fill from flat, closes on the fill that makes the position flat or flips it
    (a flip opens the next one at its row); it won if equity at the closing row is above
    equity just before the opening row (0 before row 0).
    """
    # `cumsum` adds in order, so the positions are those of adding the fills one by one.
    pos = np.cumsum(qty)
    before = np.concatenate(([0.0], pos[:-1]))
    opens = (before == 0.0) & (pos != 0.0)
    closes = (before != 0.0) & ((pos == 0.0) | (np.sign(pos) != np.sign(before)))
    trips = int(closes.sum())
    if trips == 0:
        return float("nan"), float("nan")
    # Opens and closes alternate (a position must close before another opens), so each
    # close belongs to the latest start (an open or a flip) strictly before it.
    starts = np.flatnonzero(opens | (closes & (pos != 0.0)))
    ends = np.flatnonzero(closes)
    open_rows = rows[starts[np.searchsorted(starts, ends) - 1]]
    close_rows = rows[ends]
    start_eq = np.where(open_rows > 0, equity[np.maximum(open_rows - 1, 0)], 0.0)
    wins = int((equity[close_rows] > start_eq).sum())
    # A running sum, as holding times were added trip by trip (`sum` pairs them otherwise,
    # which rounds differently past 2^53 ns).
    held = np.cumsum((ts[close_rows] - ts[open_rows]).astype(np.float64))[-1]
    return float(wins / trips), float(held / trips)


def per_day(ts: NDArray[np.int64], equity: np.ndarray) -> pl.DataFrame:
    """Equity at the last snapshot of each UTC day with snapshots, and the day's PnL.

    The first day's PnL is its equity (the run starts flat at 0). `ts` must be non-negative
    and non-decreasing, as the simulator requires, so each day's snapshots are one run of
    rows and its last row is found by `searchsorted` on the day boundaries.
    """
    if len(ts) == 0:
        return pl.DataFrame(schema={"day": pl.Date, "equity": pl.Float64, "pnl": pl.Float64})
    first, last = int(ts[0] // NS_PER_DAY), int(ts[-1] // NS_PER_DAY)
    # The last row before each midnight the run crosses (a day without snapshots repeats
    # its predecessor's row, which `unique` drops), then the last row.
    midnights = np.arange(first + 1, last + 1, dtype=np.int64) * NS_PER_DAY
    ends = np.unique(np.searchsorted(ts, midnights, side="left") - 1)
    ends = np.append(ends, len(ts) - 1)
    eq = equity[ends]
    days = (ts[ends] // NS_PER_DAY).astype(np.int32)  # a Date is days since 1970 in an int32
    return pl.DataFrame(
        [
            pl.Series("day", days, dtype=pl.Date),
            pl.Series("equity", eq),
            pl.Series("pnl", np.concatenate((eq[:1], np.diff(eq)))),
        ]
    )
