"""The metrics of one backtest, typed: what the strategy made, what it paid, how it traded.

The simulator computes them (`rust/lobflow-core/src/backtest_metrics.rs`) in the same call
that simulates, from the path and fills it has just made; this module gives them their type
and builds the per-day table when it is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from numpy.typing import NDArray

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
