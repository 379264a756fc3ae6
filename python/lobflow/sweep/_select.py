"""The best grid point of each feed, and its weights file.

A feed's points are compared on the test days where every point has a result (a day that
failed for some points would otherwise favour the points it did not fail for), by the mean of
the ``[select] metric`` over those days; ties go to the earlier point of the grid. The weights
written are the chosen point's from the feed's latest fold: trained on the days just before
its last test day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import polars as pl

from lobflow.weights import Weights

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from lobflow.sweep._config import Metric


@dataclass(frozen=True)
class Choice:
    """The chosen grid point of one feed (`point` None when no point has a result)."""

    exchange: str
    symbol: str
    point: int | None
    #: Mean of the selection metric over `days` (None where it is undefined on every day).
    score: float | None
    metric: Metric
    #: Test days the comparison used: those where every grid point has a result, or, where
    #: no day has one for every point (`complete` False), every day with any result.
    days: int
    complete: bool
    #: The weights file written for the point, if any.
    weights: Path | None
    #: The fold the weights come from.
    train_start: date | None = None
    train_end: date | None = None


def choose(tasks: pl.DataFrame, metric: Metric, n_points: int) -> list[Choice]:
    """One `Choice` per feed of `tasks` (a sweep's task rows), in feed order."""
    out = []
    for (exchange, symbol), rows in tasks.group_by("exchange", "symbol", maintain_order=True):
        out.append(_choose_feed(str(exchange), str(symbol), rows, metric, n_points))
    return sorted(out, key=lambda c: (c.exchange, c.symbol))


def _choose_feed(
    exchange: str, symbol: str, rows: pl.DataFrame, metric: Metric, n_points: int
) -> Choice:
    ok = rows.filter(pl.col("error").is_null())
    full = ok.group_by("test_day").agg(pl.len()).filter(pl.col("len") == n_points)["test_day"]
    compared = ok.filter(pl.col("test_day").is_in(full.implode())) if full.len() else ok
    if compared.height == 0:
        return Choice(exchange, symbol, None, None, metric, 0, False, None)
    scores = (
        compared.group_by("point").agg(pl.col(metric).mean().alias("score")).sort("point").rows()
    )
    point, score = max(scores, key=lambda ps: (_rank(ps[1]), -ps[0]))
    days = compared["test_day"].n_unique()
    return Choice(exchange, symbol, int(point), score, metric, days, full.len() > 0, None)


def _rank(score: float | None) -> float:
    return score if score is not None and math.isfinite(score) else -math.inf


def write_weights(out: Path, tasks: pl.DataFrame, choice: Choice) -> Choice:
    """Write the chosen point's weights from the feed's latest fold; `choice` with the path.

    The file is ``weights/<exchange>/<symbol>.txt``, with the choice in its comments. A feed
    without a choice has none: one an earlier run left there is removed.
    """
    path = out / "weights" / choice.exchange / f"{choice.symbol}.txt"
    if choice.point is None:
        path.unlink(missing_ok=True)
        return choice
    rows = tasks.filter(
        (pl.col("exchange") == choice.exchange)
        & (pl.col("symbol") == choice.symbol)
        & (pl.col("point") == choice.point)
        & pl.col("weights").is_not_null()
    ).sort("test_day")
    if rows.height == 0:
        path.unlink(missing_ok=True)
        return choice
    last = rows.row(-1, named=True)
    w = Weights.from_text(last["weights"], f"task {last['task_id']}")
    score = "undefined" if choice.score is None else f"{choice.score:.6g}"
    note = (
        f"chosen by the mean {choice.metric} over {choice.days} test days: {score}; "
        f"latest fold trained on {last['train_start']}..{last['train_end']}"
    )
    w = Weights(w.windows_ms, w.threshold, w.bias, w.coef, (*w.comments, note))
    w.save(path)
    return replace(
        choice, weights=path, train_start=last["train_start"], train_end=last["train_end"]
    )
