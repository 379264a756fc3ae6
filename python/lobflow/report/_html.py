"""Plots with matplotlib (Agg), assembled into one HTML file with the PNGs embedded."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from lobflow.backtest._by_threshold import paid_fee_bps
from lobflow.report._explain import explain
from lobflow.report._pnl import breakdown_figure, threshold_figure

if TYPE_CHECKING:
    import os

    from matplotlib.figure import Figure
    from rich.table import Table

    from lobflow._core import Latency
    from lobflow.backtest import BacktestResult
    from lobflow.backtest._by_threshold import PnlByThreshold
    from lobflow.weights import Weights


def ic_by_horizon(
    books: pl.DataFrame, scores: np.ndarray, horizons_s: tuple[float, ...] = (0.5, 1, 2, 5, 10)
) -> dict[float, float]:
    """Spearman IC of `scores` against the forward mid return at each horizon."""
    from lobflow.features import labels

    out: dict[float, float] = {}
    for h in horizons_s:
        lab = labels(books.select("ts", "bid_px_0", "ask_px_0"), int(h * 1e9))
        assert isinstance(lab, pl.DataFrame)
        y = lab["fwd_ret_bps"].to_numpy()
        ok = np.isfinite(y) & np.isfinite(scores)
        out[h] = float(spearmanr(scores[ok], y[ok]).statistic) if ok.sum() > 10 else float("nan")
    return out


def _png(fig: Figure, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    path.write_bytes(buf.getvalue())
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_report(
    out_dir: str | os.PathLike[str],
    result: BacktestResult,
    *,
    weights: Weights | None = None,
    latency: Latency | None = None,
    ic: dict[float, float] | None = None,
    by_threshold: PnlByThreshold | None = None,
    validation: PnlByThreshold | None = None,
    title: str = "lobflow report",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``report.html`` and the PNGs into `out_dir`; return the HTML path.

    `by_threshold` is the reported part backtested at many thresholds and fees
    (`lobflow.backtest.pnl_by_threshold`); `validation` the curve training chose the
    threshold from (`TrainMetrics.validation_curve`), drawn beside it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(result.ts) == 0:
        msg = "nothing to report: the backtest covered no snapshots"
        raise ValueError(msg)
    # A horizon with too few labelled rows has a NaN IC; with none finite there is no plot
    # (a log axis of NaNs was matplotlib's "cannot be log-scaled", after the other PNGs).
    ic = {h: v for h, v in (ic or {}).items() if math.isfinite(v)}
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    t = (result.ts - result.ts[0]) / 1e9
    images: list[tuple[str, str]] = []

    images.append(("Where the PnL went", _png(breakdown_figure(result.metrics), d / "pnl.png")))
    if by_threshold is not None:
        fig = threshold_figure(
            by_threshold,
            threshold=weights.threshold if weights is not None else None,
            fee_bps=paid_fee_bps(result.config),
            validation=validation,
        )
        images.append(("PnL against threshold and fee", _png(fig, d / "threshold.png")))

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    a1.plot(t, result.equity, lw=0.8)
    a1.set_ylabel("equity (marked to mid)")
    dd = np.maximum.accumulate(result.equity) - result.equity
    a2.fill_between(t, -dd, 0, color="tab:red", alpha=0.5)
    a2.set_ylabel("drawdown")
    a2.set_xlabel("seconds")
    images.append(("Equity and drawdown", _png(fig, d / "equity.png")))

    fig, ax = plt.subplots(figsize=(9, 2.5))
    ax.step(t, result.position, where="post", lw=0.8)
    ax.set_ylabel("position")
    ax.set_xlabel("seconds")
    images.append(("Position", _png(fig, d / "position.png")))

    if latency is not None and latency.count:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        edges = np.array([v for v, _ in latency.buckets], dtype=float)
        counts = np.array([c for _, c in latency.buckets], dtype=float)
        ax.bar(edges / 1.25, counts, width=edges - edges / 1.25, align="edge")
        ax.set_xscale("log")
        ax.set_ylabel("ticks")
        marks = {
            "p50": latency.p50_ns,
            "p90": latency.p90_ns,
            "p99": latency.p99_ns,
            "p99.9": latency.p999_ns,
            "max": latency.max_ns,
        }
        for k, v in marks.items():
            ax.axvline(v, color="tab:red", lw=0.8, ls="--")
            ax.annotate(
                f"{k} {v:,} ns",
                (v, 0.95),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
            )
        ax.set_xlabel("tick → signal latency, ns (log)")
        images.append(("Engine latency histogram and percentiles", _png(fig, d / "latency.png")))

    if weights is not None:
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.bar(range(18), weights.coef)
        ax.set_xticks(range(18), weights.feature_names, rotation=70, fontsize=7)
        ax.set_ylabel("baked weight (raw features)")
        ax.set_yscale("symlog", linthresh=1e-6)
        images.append(("Feature weights", _png(fig, d / "weights.png")))

    if ic:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(list(ic), list(ic.values()), marker="o")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("horizon, s")
        ax.set_ylabel("IC (Spearman)")
        images.append(("IC by horizon", _png(fig, d / "ic.png")))

    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>"
        for k, v in result.metrics.as_dict().items()
    )
    meaning = "".join(
        f"<p>{html.escape(line)}</p>" for line in explain(result.metrics, result.config)
    )
    figs = "".join(
        f'<h2>{html.escape(name)}</h2><img src="data:image/png;base64,{b64}">'
        for name, b64 in images
    )
    cfg = html.escape(json.dumps(result.config.__dict__, default=str))
    more = html.escape(json.dumps(extra or {}, indent=1, default=str))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto}}
td{{padding:2px 12px}} img{{max-width:100%}} pre{{background:#f4f4f4;padding:1em}}</style></head>
<body><h1>{html.escape(title)}</h1><h2>What the numbers mean</h2>{meaning}
<h2>Metrics</h2><table>{rows}</table>
<p>Execution assumptions: <code>{cfg}</code></p>{figs}<h2>Run details</h2><pre>{more}</pre>
</body></html>"""
    path = d / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.6g}"
    return html.escape(str(v))


def summary_table(result: BacktestResult, title: str = "backtest") -> Table:
    """The metrics as a rich table for the terminal."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.metrics.as_dict().items():
        table.add_row(k, _fmt(v))
    return table
