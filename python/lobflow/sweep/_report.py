"""``summary.html``: the grid as heat maps, the chosen points' equity and IC by fold (matplotlib).

One self-contained page (the PNGs embedded), as `lobflow.report` writes for one backtest.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lobflow._files import atomic_write

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from lobflow.sweep._config import Grid, GridPoint, SweepConfig
    from lobflow.sweep._select import Choice

#: Feeds drawn in the equity and IC plots (the first ones, in feed order).
MAX_FEEDS_PLOTTED = 12
#: Heat map cells annotated with their value up to this many cells.
MAX_ANNOTATED = 150


def write_summary(
    out: Path,
    tasks: pl.DataFrame,
    choices: list[Choice],
    config: SweepConfig,
    info: dict[str, object],
) -> Path:
    """Write ``out/summary.html`` and return its path."""
    import matplotlib

    matplotlib.use("Agg")

    grid = config.grid
    ok = tasks.filter(pl.col("error").is_null())
    metric = config.select.metric
    figures: list[tuple[str, str]] = []
    for m in dict.fromkeys((metric, "ic")):
        fig = _heat_map(ok, grid, m)
        if fig is not None:
            figures.append((f"Mean {m} of each grid point (over feeds and test days)", _png(fig)))
    chosen = [c for c in choices if c.point is not None][:MAX_FEEDS_PLOTTED]
    if chosen:
        figures.append(
            ("Equity of each feed's chosen point over its test days", _png(_equity(ok, chosen)))
        )
        figures.append(
            ("IC of each feed's chosen point by fold (test day)", _png(_ic_by_fold(ok, chosen)))
        )
    points = {p.index: p for p in grid.points()}
    errors = tasks.filter(pl.col("error").is_not_null())
    page = _page(config, choices, points, errors, figures, info)

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    return atomic_write(out / "summary.html", write)


def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _fmt(v: object) -> str:
    if isinstance(v, tuple | list):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _label(p: GridPoint, keys: tuple[str, ...]) -> str:
    return " ".join(f"{k}={_fmt(getattr(p, k))}" for k in keys) or "all"


def _heat_map(ok: pl.DataFrame, grid: Grid, metric: str) -> Figure | None:
    """Rows: combinations of the first half of the grid's varying keys; columns: the rest."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    keys = grid.varying()
    if not keys or ok.height == 0:
        return None
    split = (len(keys) + 1) // 2
    row_keys, col_keys = keys[:split], keys[split:]
    means = dict(ok.group_by("point").agg(pl.col(metric).mean()).rows())
    rows: list[str] = []
    cols: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    for p in grid.points():
        r, c = _label(p, row_keys), _label(p, col_keys)
        rows += [r] if r not in rows else []
        cols += [c] if c not in cols else []
        v = means.get(p.index)
        cells[(r, c)] = float("nan") if v is None else float(v)
    mat = np.array([[cells[(r, c)] for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(min(3 + 1.1 * len(cols), 16), min(1.5 + 0.45 * len(rows), 14)))
    finite = mat[np.isfinite(mat)]
    norm = None
    if finite.size and finite.min() < 0 < finite.max():
        norm = TwoSlopeNorm(0.0, float(finite.min()), float(finite.max()))
    im = ax.imshow(mat, cmap="RdYlGn", norm=norm, aspect="auto")
    fig.colorbar(im, ax=ax, label=f"mean {metric}")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    if mat.size <= MAX_ANNOTATED:
        for (i, j), v in np.ndenumerate(mat):
            text = "—" if not math.isfinite(v) else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    return fig


def _chosen_rows(ok: pl.DataFrame, c: Choice) -> pl.DataFrame:
    return ok.filter(
        (pl.col("exchange") == c.exchange)
        & (pl.col("symbol") == c.symbol)
        & (pl.col("point") == c.point)
    ).sort("test_day")


def _equity(ok: pl.DataFrame, chosen: list[Choice]) -> Figure:
    """Each test day's equity path (it starts flat each day) chained after the days before."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    for c in chosen:
        rows = _chosen_rows(ok, c)
        xs, ys, carried = [], [], 0.0
        for ts, eq in zip(rows["equity_ts"].to_list(), rows["equity"].to_list(), strict=True):
            if not ts:
                continue
            xs.extend((np.asarray(ts) // 1_000_000).astype("datetime64[ms]").tolist())
            ys.extend((np.asarray(eq) + carried).tolist())
            carried = ys[-1]
        ax.plot(xs, ys, lw=0.9, label=f"{c.exchange}/{c.symbol} (point {c.point})")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("equity (quote currency, marked to mid)")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return fig


def _ic_by_fold(ok: pl.DataFrame, chosen: list[Choice]) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5))
    for c in chosen:
        rows = _chosen_rows(ok, c)
        ic = [np.nan if v is None else v for v in rows["ic"].to_list()]
        ax.plot(
            rows["test_day"].to_list(), ic, marker="o", lw=0.9, label=f"{c.exchange}/{c.symbol}"
        )
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("IC (Spearman, out of sample)")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return fig


def _page(
    config: SweepConfig,
    choices: list[Choice],
    points: dict[int, GridPoint],
    errors: pl.DataFrame,
    figures: list[tuple[str, str]],
    info: dict[str, object],
) -> str:
    e = html.escape
    keys = ("windows_ms", "horizon", "model", "alpha", "threshold", "latency_ms", "fee_bps")
    head = "".join(f"<th>{k}</th>" for k in ("feed", "point", *keys, "score", "days", "weights"))
    body = ""
    for c in choices:
        if c.point is None:
            body += f"<tr><td>{e(c.exchange)}/{e(c.symbol)}</td><td colspan=11>no result</td></tr>"
            continue
        p = points[c.point]
        vals = "".join(f"<td>{e(_fmt(getattr(p, k)))}</td>" for k in keys)
        score = "—" if c.score is None else f"{c.score:.4g}"
        days = f"{c.days}" + ("" if c.complete else " (not every point had a result)")
        body += (
            f"<tr><td>{e(c.exchange)}/{e(c.symbol)}</td><td>{c.point}</td>{vals}"
            f"<td>{score}</td><td>{days}</td><td>{e(str(c.weights or ''))}</td></tr>"
        )
    figs = "".join(
        f'<h2>{e(name)}</h2><img src="data:image/png;base64,{b64}">' for name, b64 in figures
    )
    err_rows = "".join(
        f"<tr><td>{e(str(r['exchange']))}/{e(str(r['symbol']))}</td><td>{r['test_day']}</td>"
        f"<td>{r['point']}</td><td>{e(str(r['error']))}</td></tr>"
        for r in errors.head(50).iter_rows(named=True)
    )
    err_html = (
        f"<h2>Errors ({errors.height} rows)</h2><table><tr><th>feed</th><th>test day</th>"
        f"<th>point</th><th>error</th></tr>{err_rows}</table>"
        if errors.height
        else "<h2>Errors</h2><p>none</p>"
    )
    cfg = e(json.dumps(asdict(config), indent=1, default=str))
    run = e(json.dumps(info, indent=1, default=str))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>lobflow sweep</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}}
td,th{{padding:2px 8px;text-align:left}} img{{max-width:100%}}
pre{{background:#f4f4f4;padding:1em}}</style></head><body><h1>lobflow sweep</h1>
<h2>Chosen point per feed (by mean {e(config.select.metric)} over the compared test days)</h2>
<table><tr>{head}</tr>{body}</table>{figs}{err_html}
<h2>Run</h2><pre>{run}</pre><h2>Config</h2><pre>{cfg}</pre></body></html>"""
