"""What a backtest's numbers mean, in sentences: for the terminal, the demo and the report."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobflow.backtest import BacktestConfig, BacktestMetrics


def explain(m: BacktestMetrics, config: BacktestConfig) -> list[str]:
    """A few plain sentences: where the PnL came from and went, and how to read the ratios."""
    if m.snapshots == 0:
        return ["The backtest covered no snapshots."]
    passive = config.mode == "passive"
    fee = config.maker_fee_bps if passive else config.taker_fee_bps
    latency_ms = (config.md_latency_ns + config.order_latency_ns) / 1e6
    minutes = m.elapsed_s / 60
    lines = [
        f"Net PnL {m.pnl:+,.4g} ({m.pnl_bps:+.2f} bps of one order's notional) over "
        f"{minutes:,.0f} minutes and {m.trades:,} trades.",
    ]
    if m.trades == 0:
        lines.append(
            "No trades: no score crossed the threshold. Training sets the threshold above "
            "every score when nothing made money on its validation part after these costs."
        )
        return lines
    lines.append(
        f"Where it came from: the same fills at the mid of the snapshot that decided each "
        f"would have made {m.edge:+,.4g} (the signals' edge); crossing the spread, walking the "
        f"book and the {latency_ms:g} ms latency cost {m.slippage:,.4g} (slippage), and fees at "
        f"{fee:g} bps {m.fees:,.4g}."
    )
    if m.edge <= 0:
        lines.append("The signals lost money even at mid: they did not call these moves.")
    elif m.edge <= m.slippage:
        lines.append(
            "The edge is smaller than the cost of crossing the spread in time: as a taker "
            "this model cannot keep it. A higher threshold trades less, on stronger signals."
        )
    elif m.pnl < 0:
        lines.append("The edge pays for the spread and latency, but not for the fees too.")
    else:
        lines.append("The edge pays for the spread, the latency and the fees.")
    if math.isfinite(m.hit_rate):
        lines.append(
            f"Hit rate {m.hit_rate:.0%}: the share of round trips (flat or a flip, to the next "
            "flat or flip) that made money after costs. Few large winners can outweigh many "
            "small losers, and the other way round."
        )
    if math.isfinite(m.sharpe):
        lines.append(
            f"Sharpe {m.sharpe:,.1f} is annualised from 1-second PnL changes of a "
            f"{minutes:,.0f}-minute run: it scales minutes of steadiness to a year "
            "(by √(seconds a year) ≈ 5 600), so read its sign and size as how steady the PnL "
            "was, not as a forecast."
        )
    return lines
