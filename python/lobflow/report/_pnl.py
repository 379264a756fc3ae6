"""The report's money figures: where the PnL went, and PnL against threshold and fee."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lobflow.backtest import BacktestMetrics
    from lobflow.backtest._by_threshold import PnlByThreshold


def breakdown_figure(m: BacktestMetrics) -> Figure:
    """Bars from the signals' edge at mid, minus slippage, minus fees, to the net PnL."""
    import matplotlib.pyplot as plt

    names = ["edge at mid", "- slippage", "- fees", "= net PnL"]
    values = [m.edge, -m.slippage, -m.fees, m.pnl]
    colors = ["tab:blue", "tab:red", "tab:red", "tab:green" if m.pnl >= 0 else "tab:red"]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(names, values, color=colors)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("quote currency")
    for i, v in enumerate(values):
        ax.annotate(f"{v:,.4g}", (i, v), ha="center", va="bottom" if v >= 0 else "top")
    ax.margins(y=0.2)
    return fig


def threshold_figure(
    curve: PnlByThreshold,
    *,
    threshold: float | None,
    fee_bps: float,
    validation: PnlByThreshold | None = None,
) -> Figure:
    """PnL (top) and trades (bottom) against the threshold, one line per fee.

    `threshold` (the weights') is marked; `validation`, the curve training chose it from,
    is drawn dashed at `fee_bps`, the fee it was chosen for.
    """
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    x = np.asarray(curve.thresholds)
    for i, fee in enumerate(curve.fees_bps):
        style = {"lw": 2.0} if fee == fee_bps else {"lw": 1.0, "alpha": 0.7}
        top.plot(x, curve.pnl_bps[i], marker=".", label=f"fee {fee:g} bps", **style)
        bottom.plot(x, np.maximum(curve.trades[i], 0.5), lw=1.0, label=f"fee {fee:g} bps")
    if validation is not None and fee_bps in validation.fees_bps:
        row = validation.fees_bps.index(fee_bps)
        top.plot(
            validation.thresholds,
            validation.pnl_bps[row],
            ls="--",
            color="grey",
            label=f"validation, fee {fee_bps:g} bps (chose the threshold)",
        )
    top.axhline(0, color="grey", lw=0.5)
    # Low thresholds trade on every wobble and lose far more than the best ones make: scaled
    # to them, the part of the curve a threshold is chosen from would be a flat line.
    best = max(float(np.max(curve.pnl_bps, initial=0.0)), 1.0)
    worst = float(np.min(curve.pnl_bps, initial=0.0))
    if worst < -3 * best:
        top.set_ylim(-3 * best, 1.3 * best)
        top.annotate(
            f"lower thresholds: down to {worst:+,.0f} bps (off the scale)",
            (0.01, 0.97),
            xycoords="axes fraction",
            va="top",
            fontsize=8,
        )
    if threshold is not None and math.isfinite(threshold) and threshold <= x.max(initial=0) * 10:
        for ax in (top, bottom):
            ax.axvline(threshold, color="black", ls=":", lw=1.0)
        top.annotate(
            " trained threshold", (threshold, 1.0), xycoords=("data", "axes fraction"), va="top"
        )
    top.set_ylabel("net PnL, bps of one order")
    top.legend(fontsize=8)
    bottom.set_yscale("log")
    bottom.set_ylabel("trades")
    bottom.set_xlabel("threshold (score units): trade when |score| is above it")
    return fig
