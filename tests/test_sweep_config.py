"""The sweep config: every bad table, key and value is one error naming the file, table and key;
the plan's feeds, days and folds come from folder names alone."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from lobflow.sweep import ConfigError, Grid, load_config, parse_config
from lobflow.sweep._plan import plan, resolve_root
from tests.test_sweep_hive import day_folder, write_hive

if TYPE_CHECKING:
    from pathlib import Path

MINIMAL: dict[str, Any] = {"data": {"feeds": ["sim/*"]}, "walk_forward": {"train_days": 2}}


def with_(table: str, **keys: object) -> dict[str, Any]:
    doc = {k: dict(v) for k, v in MINIMAL.items()}
    doc.setdefault(table, {}).update(keys)
    return doc


def test_the_issue_example_parses_with_its_values(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(
        """
[data]
feeds = ["binance/BTC-USDT", "bybit/*"]
[walk_forward]
train_days = 2
test_days = 1
step_days = 1
[grid]
windows_ms = [[10, 20, 50], [100, 200, 500]]
horizon = ["1s", "5s"]
model = ["ridge"]
alpha = [1.0, 10.0]
threshold = [0.5, 1.0]
latency_ms = [1.0]
fee_bps = [1.0]
"""
    )
    cfg = load_config(path)
    assert cfg.data.feeds == ("binance/BTC-USDT", "bybit/*")
    assert (cfg.walk_forward.train_days, cfg.walk_forward.test_days) == (2, 1)
    points = cfg.grid.points()
    assert len(points) == 2 * 2 * 1 * 2 * 2 * 1 * 1
    assert [p.index for p in points] == list(range(len(points)))
    # windows vary slowest, fee fastest; horizon_ns follows the text
    assert points[0].windows_ms == (10, 20, 50)
    assert points[-1].windows_ms == (100, 200, 500)
    assert (points[0].threshold, points[1].threshold) == (0.5, 1.0)
    assert points[2].alpha == 10.0
    assert points[4].horizon_ns == 5_000_000_000
    assert cfg.grid.varying() == ("windows_ms", "horizon", "alpha", "threshold")


def test_defaults_fill_every_optional_table() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.grid == Grid()
    assert cfg.walk_forward.step_days == cfg.walk_forward.test_days == 1
    assert cfg.select.metric == "pnl"
    assert cfg.fit.threshold_unit == "std"
    # step_days defaults to test_days
    assert parse_config(with_("walk_forward", test_days=3)).walk_forward.step_days == 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (with_("grid", alhpa=[1.0]), "sweep.toml: unknown key `alhpa` in [grid]"),
        (with_("walk_forward", trian_days=1), "unknown key `trian_days` in [walk_forward]"),
        ({**MINIMAL, "grdi": {}}, "unknown table [grdi]"),
        ({"data": {"feeds": ["a/b"]}}, "missing table [walk_forward]"),
        ({"data": {}, "walk_forward": {"train_days": 1}}, "[data] is missing the key `feeds`"),
        ({**MINIMAL, "grid": [1]}, "[grid] must be a table"),
        (with_("walk_forward", train_days=0), "[walk_forward] train_days: must be a whole number"),
        (with_("walk_forward", train_days=1.5), "train_days: must be a whole number >= 1, got 1.5"),
        (with_("walk_forward", train_days=True), "train_days: must be a whole number"),
        (with_("walk_forward", test_days=2, step_days=1), "step_days (1) is shorter than test_"),
        (with_("data", feeds="sim/*"), "[data] feeds: must be a non-empty array"),
        (with_("data", feeds=[]), "[data] feeds: must be a non-empty array"),
        (with_("data", feeds=["sim"]), "each feed must be 'exchange/symbol'"),
        (with_("data", feeds=["sim/"]), "each feed must be 'exchange/symbol'"),
        (with_("data", start="2025-13-01"), "[data] start: must be a date"),
        (
            with_("data", start=date(2025, 2, 1), end=date(2025, 1, 1)),
            "[data] end (2025-01-01) is before start (2025-02-01)",
        ),
        (with_("grid", windows_ms=[[10, 20]]), "[grid] windows_ms: windows_ms must be three"),
        (with_("grid", windows_ms=[10, 20, 50]), "[grid] windows_ms: windows_ms must be three"),
        (with_("grid", horizon=["1 parsec"]), "[grid] horizon: not a duration: '1 parsec'"),
        (with_("grid", horizon=["0s"]), "[grid] horizon: must be longer than 0"),
        (with_("grid", horizon=["1s", "1000ms"]), "[grid] horizon: ['1s', '1000ms'] names one"),
        (with_("grid", horizon=1), "[grid] horizon: must be a non-empty array"),
        (with_("grid", model=["lasso"]), "[grid] model: must be one of 'ridge', 'logistic'"),
        (with_("grid", alpha=[0.0]), "[grid] alpha: must be > 0, got 0.0"),
        (with_("grid", alpha=[1, 1.0]), "[grid] alpha: holds 1.0 twice"),
        (with_("grid", alpha=["1"]), "[grid] alpha: must be a number, got '1'"),
        (with_("grid", threshold=[-1.0]), "[grid] threshold: must be >= 0"),
        (with_("grid", threshold=[float("nan")]), "[grid] threshold: must be finite"),
        (with_("grid", latency_ms=[1e13]), "[grid] latency_ms: must be at most 1e+12 ms"),
        (with_("grid", fee_bps=[float("inf")]), "[grid] fee_bps: must be finite"),
        (with_("backtest", mode="maker"), "[backtest] mode: must be one of 'taker', 'passive'"),
        (with_("backtest", order_size=0), "[backtest] order_size: must be > 0"),
        (with_("backtest", md_latency_ms=-1), "[backtest] md_latency_ms: must be >= 0"),
        (with_("fit", threshold_unit="bps"), "[fit] threshold_unit: must be one of 'std'"),
        (with_("fit", min_train_rows=0), "[fit] min_train_rows: must be a whole number >= 1"),
        (with_("select", metric="calmar"), "[select] metric: must be one of 'pnl', 'sharpe'"),
        (with_("run", retries=-1), "[run] retries: must be a whole number >= 0"),
        (with_("run", workers=0), "[run] workers: must be a whole number >= 1"),
    ],
)
def test_a_bad_config_is_one_error_naming_table_and_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(doc, source="sweep.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("sweep.toml: ")


def test_toml_syntax_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[data]\nfeeds = [\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(path)


def test_an_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(with_("run", worker=2))
    assert "(known: `retries`, `workers`)" in str(err.value)


def test_folds_walk_forward_over_the_days_a_feed_has(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "A"),), days=6, rows=20)
    root = resolve_root(tmp_path)

    def spans(wf: dict[str, int]) -> list[tuple[list[int], list[int]]]:
        cfg = parse_config({"data": {"feeds": ["sim/A"]}, "walk_forward": wf})
        return [
            ([d.day.day for d in t.train], [d.day.day for d in t.test]) for t in plan(root, cfg)
        ]

    assert spans({"train_days": 2}) == [([1, 2], [3]), ([2, 3], [4]), ([3, 4], [5]), ([4, 5], [6])]
    assert spans({"train_days": 2, "test_days": 2}) == [([1, 2], [3, 4]), ([3, 4], [5, 6])]
    assert spans({"train_days": 2, "test_days": 2, "step_days": 3}) == [([1, 2], [3, 4])]
    assert spans({"train_days": 3, "step_days": 2}) == [([1, 2, 3], [4]), ([3, 4, 5], [6])]


def test_a_missing_date_is_not_a_day_and_the_date_range_filters(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "A"),), days=5, rows=20)
    for f in day_folder(tmp_path, "sim", "A", 2).iterdir():
        f.unlink()  # an empty date folder, as a collector stopped before its first flush
    cfg = parse_config(
        {
            "data": {"feeds": ["sim/A"], "end": "2025-01-04"},
            "walk_forward": {"train_days": 2},
        }
    )
    tasks = plan(resolve_root(tmp_path), cfg)
    assert [([d.day.day for d in t.train], t.test[0].day.day) for t in tasks] == [([1, 2], 4)]


def test_task_ids_follow_the_work_not_the_folder(tmp_path: Path) -> None:
    write_hive(tmp_path / "a", days=3, rows=20)
    write_hive(tmp_path / "b", days=3, rows=20)
    cfg = parse_config(with_("grid", windows_ms=[[10, 20, 50], [100, 200, 500]]))
    a, b = plan(resolve_root(tmp_path / "a"), cfg), plan(resolve_root(tmp_path / "b"), cfg)
    assert [t.id for t in a] == [t.id for t in b]
    assert len({t.id for t in a}) == len(a) == 2 * 1 * 2
    # Another alpha changes what every task computes; another windows set only adds tasks.
    more_alpha = plan(resolve_root(tmp_path / "a"), parse_config(with_("grid", alpha=[1.0, 2.0])))
    assert not {t.id for t in more_alpha} & {t.id for t in a}
    more_windows = parse_config(
        with_("grid", windows_ms=[[10, 20, 50], [100, 200, 500], [1, 2, 3]])
    )
    assert {t.id for t in a} < {t.id for t in plan(resolve_root(tmp_path / "a"), more_windows)}
    # A day that gained a part file is new work.
    extra = day_folder(tmp_path / "a", "sim", "BTC-USDT", 1) / "part-2.parquet"
    extra.write_bytes(
        (day_folder(tmp_path / "a", "sim", "BTC-USDT", 1) / "part-1-compacted.parquet").read_bytes()
    )
    changed = plan(resolve_root(tmp_path / "a"), cfg)
    assert [t.id == u.id for t, u in zip(a, changed, strict=True)] == [False, False, True, True]


def test_feeds_that_match_nothing_and_too_few_days_are_config_errors(tmp_path: Path) -> None:
    write_hive(tmp_path, days=2, rows=20)
    root = resolve_root(tmp_path)
    with pytest.raises(ConfigError, match=r"'bybit/\*' matches no feed under .* \(there: sim/BTC"):
        plan(root, parse_config({**MINIMAL, "data": {"feeds": ["sim/*", "bybit/*"]}}))
    with pytest.raises(ConfigError, match=r"no feed has the 3 days of data one fold needs"):
        plan(root, parse_config(MINIMAL))


def test_the_data_folder_must_be_a_hive_of_books(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        resolve_root(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"holds no exchange=…/symbol=…/date=… folders"):
        resolve_root(tmp_path)
    write_hive(tmp_path, days=1, rows=20)
    bad = tmp_path / "processed" / "exchange=sim" / "symbol=BTC-USDT" / "date=yesterday"
    bad.mkdir()
    with pytest.raises(
        ValueError, match=r"date=yesterday: a date= folder whose name is not a date"
    ):
        plan(resolve_root(tmp_path), parse_config(MINIMAL))


def test_the_output_folder_may_not_be_inside_the_books(tmp_path: Path) -> None:
    from lobflow.sweep import run

    write_hive(tmp_path, days=3, rows=20)
    with pytest.raises(ValueError, match=r"--out .*/processed/out is inside the books"):
        run(MINIMAL, tmp_path / "processed", tmp_path / "processed" / "out")
    assert not (tmp_path / "processed" / "out").exists()


def test_the_output_folder_may_sit_beside_processed_in_the_collectors_folder(
    tmp_path: Path,
) -> None:
    # --data may be the collector's output folder (its processed/ holds the books): an
    # output folder beside processed/ is not inside the books, and must not be refused.
    from lobflow.sweep import SweepError, run

    write_hive(tmp_path, days=3, rows=20)
    out = tmp_path / "sweep-out"
    (out / "tasks").mkdir(parents=True)
    (out / "tasks" / "earlier.parquet").write_bytes(b"")
    # The next check, an output folder that holds a sweep, is reached before any cluster.
    with pytest.raises(SweepError, match="already holds a sweep"):
        run(MINIMAL, tmp_path, out)


def test_a_missing_key_beside_a_misspelt_one_names_the_misspelling() -> None:
    # The documented typo, `trian_days` for `train_days`: said as a missing key alone, the
    # user looked for a key that was there.
    doc = {"data": {"feeds": ["sim/*"]}, "walk_forward": {"trian_days": 2}}
    with pytest.raises(
        ConfigError,
        match=r"\[walk_forward\] is missing the key `train_days` \(it has `trian_days`: a typo\?\)",
    ):
        parse_config(doc)
