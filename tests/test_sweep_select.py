"""Choosing each feed's point, its weights file and the summary page, from real task rows
(tasks run in this process) and failed ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from lobflow import Weights
from lobflow.sweep import parse_config
from lobflow.sweep._plan import plan, resolve_root
from lobflow.sweep._report import write_summary
from lobflow.sweep._select import choose, write_weights
from lobflow.sweep._store import failed_frame, task_frame
from lobflow.sweep._task import run_task
from tests.test_sweep_hive import write_hive

if TYPE_CHECKING:
    from pathlib import Path

DOC: dict[str, Any] = {
    "data": {"feeds": ["sim/*"]},
    "walk_forward": {"train_days": 1},
    "grid": {
        "windows_ms": [[100, 200, 500]],
        "horizon": ["1s", "5s"],
        "threshold": [0.5, 1.5],
        "latency_ms": [1.0],
        "fee_bps": [0.0],
    },
    "select": {"metric": "pnl"},
}


def test_each_feed_gets_the_best_mean_on_days_every_point_has(tmp_path: Path) -> None:
    write_hive(tmp_path / "data", days=4, rows=2000)
    cfg = parse_config(DOC)
    specs = plan(resolve_root(tmp_path / "data"), cfg)
    assert len(specs) == 2 * 3
    # ETH's last fold fails: its day leaves the comparison for ETH, not for BTC.
    frames = [
        failed_frame(s, "ValueError: boom")
        if (s.symbol, s.test[0].day.day) == ("ETH-USDT", 4)
        else task_frame(s, run_task(s))
        for s in specs
    ]
    # One point of BTC fails on its second test day alone (as a point that cannot be fitted
    # does): that day leaves BTC's comparison, for every point.
    one_point = (pl.col("symbol") == "BTC-USDT") & (pl.col("point") == 0)
    one_point &= pl.col("test_day").dt.day() == 3
    tasks = pl.concat(frames).with_columns(
        error=pl.when(one_point).then(pl.lit("fit: too few rows")).otherwise(pl.col("error")),
        pnl=pl.when(one_point).then(None).otherwise(pl.col("pnl")),
    )
    choices = choose(tasks, "pnl", len(cfg.grid.points()))
    assert [(c.symbol, c.days, c.complete) for c in choices] == [
        ("BTC-USDT", 2, True),
        ("ETH-USDT", 2, True),
    ]
    compared = {"BTC-USDT": [2, 4], "ETH-USDT": [2, 3]}
    for c in choices:
        ok = tasks.filter(
            (pl.col("symbol") == c.symbol) & pl.col("test_day").dt.day().is_in(compared[c.symbol])
        )
        assert ok["error"].null_count() == ok.height
        means = ok.group_by("point").agg(pl.col("pnl").mean()).sort("point")
        best = means.sort("pnl", descending=True, maintain_order=True).row(0)
        assert (c.point, c.score) == best
    written = [write_weights(tmp_path / "out", tasks, c) for c in choices]
    for c in written:
        assert c.weights == tmp_path / "out" / "weights" / "sim" / f"{c.symbol}.txt"
        w = Weights.load(c.weights)
        latest = tasks.filter(
            (pl.col("symbol") == c.symbol)
            & (pl.col("point") == c.point)
            & pl.col("error").is_null()
        ).sort("test_day")
        assert w == Weights.from_text(latest["weights"][-1])
        assert f"chosen by the mean pnl over {c.days} test days" in w.comments[-1]
        assert c.train_end == latest["train_end"][-1]
    page = write_summary(tmp_path / "out", tasks, written, cfg, {"tasks": 6}).read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "Errors (5 rows)" in page
    assert "ValueError: boom" in page


def test_a_feed_without_any_result_has_no_choice_and_the_page_says_so(tmp_path: Path) -> None:
    write_hive(tmp_path / "data", feeds=(("sim", "A"),), days=2, rows=50)
    cfg = parse_config({**DOC, "grid": {"horizon": ["1s"]}})
    specs = plan(resolve_root(tmp_path / "data"), cfg)
    tasks = pl.concat([failed_frame(s, "KilledWorker: gone") for s in specs])
    (choice,) = choose(tasks, "pnl", len(cfg.grid.points()))
    assert (choice.point, choice.score, choice.days) == (None, None, 0)
    stale = tmp_path / "out" / "weights" / "sim" / "A.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    assert write_weights(tmp_path / "out", tasks, choice).weights is None
    assert not stale.exists()
    page = write_summary(tmp_path / "out", tasks, [choice], cfg, {}).read_text()
    assert "no result" in page
    assert "data:image/png" not in page  # one grid point: no heat map, and nothing to plot


def test_an_undefined_metric_ranks_last_and_ties_go_to_the_lower_point(tmp_path: Path) -> None:
    write_hive(tmp_path / "data", feeds=(("sim", "A"),), days=2, rows=2000)
    cfg = parse_config(DOC)
    (spec,) = plan(resolve_root(tmp_path / "data"), cfg)
    tasks = task_frame(spec, run_task(spec))
    n = len(cfg.grid.points())
    # Point 0's metric undefined everywhere; points 1..3 tied.
    rigged = tasks.with_columns(
        sharpe=pl.when(pl.col("point") == 0).then(None).otherwise(pl.lit(2.0))
    )
    (c,) = choose(rigged, "sharpe", n)
    assert (c.point, c.score) == (1, 2.0)
