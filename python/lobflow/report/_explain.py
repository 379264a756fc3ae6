"""What a backtest's numbers mean, in sentences: for the terminal, the demo and the report."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lobflow.backtest._by_threshold import paid_fee_bps

if TYPE_CHECKING:
    from lobflow.backtest import BacktestConfig, BacktestMetrics
    from lobflow.train import TrainMetrics


def describe_costs(config: BacktestConfig) -> str:
    """The execution a config assumes, in words.

    Examples
    --------
    >>> from lobflow.backtest import BacktestConfig
    >>> for part in describe_costs(BacktestConfig()).split(", "):
    ...     print(part)
    taker orders
    1 bps fee
    5 ms market data + 10 ms order latency
    1 unit held until the opposite signal
    """
    fee = paid_fee_bps(config)
    hold = "until the opposite signal" if config.on_zero == "hold" else "while the signal lasts"
    return (
        f"{config.mode} orders, {fee:g} bps fee, {config.md_latency_ns / 1e6:g} ms market data "
        f"+ {config.order_latency_ns / 1e6:g} ms order latency, {config.order_size:g} unit "
        f"held {hold}"
    )


def explain_training(m: TrainMetrics) -> list[str]:
    """What training measured and chose, in sentences."""
    h = m.horizon_ns / 1e9
    lines = [
        f"IC {m.test.ic:.3f}: the rank correlation of the score with the next {h:g} s return "
        f"on the held-out test part ({m.rows.test:,} rows; 0 is no skill). The one-feature "
        f"baseline, level-0 queue imbalance, scores {m.baseline_qi0.ic:.3f}.",
        f"Hit rate {m.test.hit_rate:.3f}: the share of the rows that moved whose direction the "
        "score's sign called"
        + ("." if m.test.r2 is None else f"; R² {m.test.r2:.3f} of the return itself."),
    ]
    curve = m.validation_curve
    n = len(curve.thresholds)
    fee_row = curve.fees_bps.index(paid_fee_bps(m.execution))
    if not m.trades:
        lines.append(
            f"No threshold: each of {n} thresholds was backtested on the validation part with "
            "these costs and none made money, so the model never trades (threshold above "
            "every score)."
        )
        return lines
    lines.append(
        f"Threshold {m.threshold:.3g}: each of {n} thresholds was backtested on the "
        f"validation part (the {m.rows.val:,} rows before the test part) with these costs; "
        f"{m.threshold:.3g} made the most there, {m.validation.pnl_bps:+.1f} bps of one "
        f"order's notional in {m.validation.trades:,} trades. At threshold 0 the model "
        f"trades on every sign change: {curve.pnl_bps[fee_row, 0]:+,.0f} bps in "
        f"{int(curve.trades[fee_row, 0]):,} trades, the spread and fees paid each time."
    )
    return lines


def explain(m: BacktestMetrics, config: BacktestConfig) -> list[str]:
    """A few plain sentences: where the PnL came from and went, and how to read the ratios."""
    if m.snapshots == 0:
        return ["The backtest covered no snapshots."]
    fee = paid_fee_bps(config)
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
