"""`lobflow sweep` on a real LocalCluster of two worker processes and generated multi-day books.

The same table on one worker or two; a worker killed in the middle of a task; a corrupt day
file reported as rows with its error, then run again by ``--resume`` once mended; an
interrupted sweep resumed without recomputing what it had finished; the command line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from lobflow.sweep import SweepError, SweepResult, parse_config, run
from lobflow.sweep._cluster import local_cluster
from lobflow.sweep._plan import plan, resolve_root
from tests.test_sweep_hive import day_folder, write_hive

pytest.importorskip("distributed", reason="the `cluster` extra is not installed")
from distributed import Client, WorkerPlugin

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from lobflow.sweep._cluster import Outcome

CONFIG: dict[str, Any] = {
    "data": {"feeds": ["sim/*"]},
    "walk_forward": {"train_days": 2},
    "grid": {
        "windows_ms": [[100, 200, 500], [1000, 2000, 5000]],
        "horizon": ["1s", "5s"],
        "alpha": [1.0],
        "threshold": [0.5, 1.0],
        "latency_ms": [1.0],
        "fee_bps": [0.0],
    },
    "run": {"retries": 1},
}
CONFIG_TOML = """
[data]
feeds = ["sim/*"]
[walk_forward]
train_days = 2
[grid]
windows_ms = [[100, 200, 500], [1000, 2000, 5000]]
horizon = ["1s", "5s"]
alpha = [1.0]
threshold = [0.5, 1.0]
latency_ms = [1.0]
fee_bps = [0.0]
[run]
retries = 1
"""
FEEDS, TEST_DAYS, POINTS, TASKS = 2, 2, 8, 8


@pytest.fixture(scope="module")
def hive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hive(tmp_path_factory.mktemp("hive"), days=4, rows=3000)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with local_cluster(2) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def reference(hive: Path, cluster: str, tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    return run(CONFIG, hive, tmp_path_factory.mktemp("reference"), scheduler=cluster)


def said(result: Any) -> str:
    """What a command printed, with rich's line wrapping undone."""
    return " ".join(str(result.output).split())


def task_files(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "tasks" / "*.parquet")


def test_two_workers_give_the_table_one_worker_gives(
    reference: SweepResult, hive: Path, tmp_path: Path
) -> None:
    table = reference.results
    assert table.height == FEEDS * TEST_DAYS * POINTS
    assert table["error"].null_count() == table.height
    assert (reference.tasks, reference.ran, reference.failed) == (TASKS, TASKS, 0)
    assert {"ic", "hit_rate", "pnl", "trades", "sharpe", "train_start", "test_day"} <= set(
        table.columns
    )
    assert_frame_equal(pl.read_parquet(reference.results_path), table)
    out = reference.results_path.parent
    # Both workers of the cluster took tasks.
    assert task_files(out)["worker"].n_unique() == 2
    one = run(CONFIG, hive, tmp_path / "one", workers=1)
    assert task_files(tmp_path / "one")["worker"].n_unique() == 1
    assert_frame_equal(one.results, table)
    for a, b in zip(reference.best, one.best, strict=True):
        assert (a.point, a.score) == (b.point, b.score)
        assert a.weights is not None
        assert b.weights is not None
        assert a.weights.read_bytes() == b.weights.read_bytes()
    page = reference.summary_path.read_text()
    assert page.count("data:image/png;base64,") == 4  # two heat maps, equity, IC by fold


class KillOnce(WorkerPlugin):
    """Kills the worker process that starts the first sweep task (SIGKILL, mid-task), once."""

    name = "kill-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        if finish != "executing" or not str(key).startswith("lobflow-sweep-"):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, f"{key} {os.getpid()}".encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost(
    reference: SweepResult, hive: Path, cluster: str, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    # The plugin travels by value: a worker importing this module would import the tests'
    # dependencies too.
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        client.register_plugin(KillOnce(str(marker)))
        try:
            result = run(CONFIG, hive, tmp_path / "out", scheduler=cluster)
        finally:
            client.unregister_worker_plugin(KillOnce.name)
            cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        client.wait_for_workers(2, timeout=60)
    key, pid = marker.read_text().split()
    assert_frame_equal(result.results, reference.results)
    assert result.failed == 0
    tasks = task_files(tmp_path / "out")
    killed = tasks.filter(pl.col("task_id") == key.split("-")[2])
    assert killed.height == POINTS // 2  # the task ran again, elsewhere
    assert not killed["worker"].str.ends_with(f":{pid}").any()


class KillTask(WorkerPlugin):
    """Kills the worker process that starts the sweep task `task_id`, every time."""

    name = "kill-task"

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        if finish == "executing" and f"-{self.task_id}-" in str(key):
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_task_that_kills_every_worker_is_rows_with_its_error(
    reference: SweepResult, hive: Path, cluster: str, tmp_path: Path
) -> None:
    victim = plan(resolve_root(hive), parse_config(CONFIG))[0]
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        # The scheduler gives up on a task after the first worker dies running it (its default
        # is 3 deaths; each costs a worker restart).
        before = client.run_on_scheduler(_allowed_failures, 0)
        client.register_plugin(KillTask(victim.id))
        try:
            result = run(CONFIG, hive, tmp_path / "out", scheduler=cluster)
        finally:
            client.unregister_worker_plugin(KillTask.name)
            client.run_on_scheduler(_allowed_failures, before)
            cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        client.wait_for_workers(2, timeout=60)
    failed = result.results.filter(pl.col("error").is_not_null())
    # Its rows say so; so do those of any task the dying worker held besides.
    assert failed["error"].str.starts_with("KilledWorker: ").all()
    assert result.failed == failed.height // (POINTS // 2) >= 1
    victims = failed.filter(
        (pl.col("symbol") == victim.symbol)
        & (pl.col("test_day") == victim.test[0].day)
        & (pl.col("windows_ms").list.get(0) == victim.windows_ms[0])
    )
    assert victims.height == POINTS // 2
    assert (tmp_path / "out" / "tasks" / f"{victim.id}.failed.parquet").is_file()
    key = ["exchange", "symbol", "test_day", "point"]
    assert_frame_equal(
        result.results.join(failed, on=key, how="anti"),
        reference.results.join(failed, on=key, how="anti"),
    )


def _allowed_failures(n: int, dask_scheduler: Any) -> int:
    """Set the scheduler's allowed failures per task; return the old value."""
    before = int(dask_scheduler.allowed_failures)
    dask_scheduler.allowed_failures = n
    return before


def test_a_corrupt_file_is_rows_with_its_error_until_mended_and_resumed(
    reference: SweepResult, hive: Path, cluster: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(hive, data)
    bad = day_folder(data, "sim", "BTC-USDT", 3) / "part-2.parquet"
    bad.write_bytes(b"PAR1 half a file")
    out = tmp_path / "out"
    result = run(CONFIG, data, out, scheduler=cluster)
    # The two tasks testing BTC on its last day (one per windows set) failed, after a retry.
    assert result.failed == 2
    assert len(list((out / "tasks").glob("*.failed.parquet"))) == 2
    table = result.results
    failed = table.filter(pl.col("error").is_not_null())
    assert failed.height == POINTS
    assert set(failed["symbol"]) == {"BTC-USDT"}
    assert set(failed["test_day"].cast(pl.String)) == {"2025-01-04"}
    assert failed["error"].str.contains(f"ValueError: sim/BTC-USDT 2025-01-04: {bad}").all()
    assert failed["pnl"].null_count() == POINTS
    ok = table.filter(pl.col("error").is_null())
    assert_frame_equal(ok, reference.results.join(failed, on=["symbol", "test_day"], how="anti"))
    btc = next(c for c in result.best if c.symbol == "BTC-USDT")
    assert (btc.days, btc.complete) == (1, True)
    bad.unlink()
    again = run(CONFIG, data, out, scheduler=cluster, resume=True)
    assert (again.ran, again.resumed, again.failed) == (2, TASKS - 2, 0)
    assert not list((out / "tasks").glob("*.failed.parquet"))
    assert_frame_equal(again.results, reference.results)


class Interrupted(Exception):
    pass


def test_an_interrupted_sweep_resumes_without_recomputing(
    reference: SweepResult, hive: Path, cluster: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    def stop_after_three(done: int, total: int, outcome: Outcome) -> None:
        if done == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(CONFIG, hive, out, scheduler=cluster, on_task=stop_after_three)
    finished = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "tasks").iterdir()}
    assert len(finished) == 3
    with pytest.raises(SweepError, match=r"already holds a sweep \(3 task files\): pass --resume"):
        run(CONFIG, hive, out, scheduler=cluster)
    result = run(CONFIG, hive, out, scheduler=cluster, resume=True)
    assert (result.ran, result.resumed, result.failed) == (TASKS - 3, 3, 0)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in finished} == finished
    assert_frame_equal(result.results, reference.results)


def test_the_command_line_runs_resumes_and_reports_bad_input(
    reference: SweepResult, hive: Path, cluster: str, tmp_path: Path
) -> None:
    config = tmp_path / "sweep.toml"
    config.write_text(CONFIG_TOML)
    out = tmp_path / "out"
    args = ["sweep", str(config), "--data", str(hive), "--out", str(out), "--scheduler", cluster]
    from lobflow.cli import app

    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"{TASKS} tasks ({TASKS} run, 0 resumed, 0 failed)" in said(first)
    assert_frame_equal(pl.read_parquet(out / "results.parquet"), reference.results)
    assert (out / "summary.html").is_file()
    assert (out / "weights" / "sim" / "BTC-USDT.txt").is_file()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert "already holds a sweep" in said(refused)
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert f"(0 run, {TASKS} resumed, 0 failed)" in said(resumed)
    config.write_text(CONFIG_TOML.replace("alpha =", "alhpa ="))
    typo = runner.invoke(app, [*args, "--resume"])
    assert typo.exit_code == 1
    assert f"error: {config}: unknown key `alhpa` in [grid]" in said(typo)


WORKER_THREADS = """
import lobflow  # as the `lobflow` command's main module does, before any worker starts
from distributed import Client
from lobflow.sweep._cluster import local_cluster


def pool_size() -> int:
    import polars

    return polars.thread_pool_size()


if __name__ == "__main__":
    with local_cluster(2) as cluster, Client(cluster) as client:
        print(sorted(client.run(pool_size).values()))
"""


def test_local_workers_get_one_polars_thread_even_under_a_main_that_imports_lobflow(
    tmp_path: Path,
) -> None:
    # Worker processes import the main module before the nanny's `env=` reaches them: the
    # variables must be set before the spawn.
    script = tmp_path / "threads.py"
    script.write_text(WORKER_THREADS)
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[1, 1]"
