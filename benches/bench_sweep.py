"""`lobflow sweep`: scaling from one worker process to two, and Dask's cost per task.

Both on generated books in the collector's hive layout: 2 feeds x 4 days of
``LOBFLOW_SWEEP_DAY_ROWS`` snapshots (100 ms apart; default 100 000 a day), walk-forward folds
of 2 training days and 1 test day (so one feed-day is tested per task), 2 windows sets, and
4 grid points per task (2 horizons x 2 thresholds): 8 tasks.

- Scaling: the same sweep on a LocalCluster of 1 worker, then of 2, timed whole (`run`, the
  results table and summary included), each cluster alone on the machine. Efficiency =
  t(1 worker) / (2 x t(2 workers)), from the medians of 3 rounds each, alternated; the goal
  is >= 0.8. The two tables must be equal.
  Each task also records its CPU time: its share of a core (CPU / wall) says how much of the
  machine other processes took, and the CPU time of the whole sweep on 2 workers against 1
  says what running two at once costs the tasks themselves. Beside it, in the same run, the
  machine's own ceiling: the same tasks on a bare `ProcessPoolExecutor` of 1 process, then
  of 2 (the workers' environment and core claims, no Dask), timed the same way; Dask's
  efficiency over the pool's is what Dask itself keeps of it.
- Overhead: on 1 worker, tasks run back to back, so the task phase's wall time less the sum
  of the tasks' own time (measured inside each task) is what Dask and the client add: submit,
  schedule, ship the task and its result, write the task file. The goal is <= 5 % of the
  work. A serial loop of the same tasks in this process, without Dask, is reported beside it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.test_sweep_hive import write_hive

from lobflow.sweep import SweepResult, parse_config, run
from lobflow.sweep._cluster import WORKER_ENV
from lobflow.sweep._cluster import local_cluster as sweep_cluster
from lobflow.sweep._cores import claim_core
from lobflow.sweep._plan import TaskSpec, plan, resolve_root
from lobflow.sweep._task import run_task

pytest.importorskip("distributed", reason="the `cluster` extra is not installed")
from distributed import Client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DAY_ROWS = int(os.environ.get("LOBFLOW_SWEEP_DAY_ROWS", "100000"))
CONFIG: dict[str, Any] = {
    "data": {"feeds": ["sim/*"]},
    "walk_forward": {"train_days": 2, "test_days": 1},
    "grid": {
        "windows_ms": [[100, 200, 500], [1000, 2000, 5000]],
        "horizon": ["1s", "5s"],
        "alpha": [1.0],
        "threshold": [0.5, 1.0],
        "latency_ms": [1.0],
        "fee_bps": [0.0],
    },
}


@pytest.fixture(scope="module")
def hive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hive(tmp_path_factory.mktemp("hive"), days=4, rows=DAY_ROWS)


@contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A LocalCluster's scheduler address, its workers having imported the task's modules
    and claimed their engine cores.

    A worker imports lobflow, scikit-learn and scipy with its first task (1-2 s here): once
    per worker process, so a real sweep of hours does not see it, and it is left out of the
    timings. Claiming cores now gives the cluster started first distinct cores.
    """
    with (
        sweep_cluster(workers) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        client.run(importlib.import_module, "lobflow.sweep._task")
        client.run(claim_core)
        yield cluster.scheduler_address


class Sweeps:
    """Runs of one sweep into fresh output folders on one cluster."""

    def __init__(self, hive: Path, out: Path, scheduler: str) -> None:
        self.hive, self.out, self.scheduler = hive, out, scheduler
        self.results: list[SweepResult] = []

    def __call__(self) -> SweepResult:
        out = self.out / f"run{len(self.results)}"
        result = run(CONFIG, self.hive, out, scheduler=self.scheduler)
        self.results.append(result)
        return result


@pytest.fixture
def one_worker(hive: Path, tmp_path: Path) -> Iterator[Sweeps]:
    with local_cluster(1) as address:
        yield Sweeps(hive, tmp_path / "one", address)


def task_seconds(result: SweepResult, column: str = "elapsed_s") -> float:
    """The sum over tasks of their own wall time (or, with ``cpu_s``, CPU time)."""
    tasks = pl.read_parquet(result.results_path.parent / "tasks" / "*.parquet")
    return float(tasks.unique("task_id")[column].sum())


def cpu_share(results: list[SweepResult]) -> list[float]:
    """CPU time over wall time of the tasks: below 1 where other work had the cores."""
    return [task_seconds(r, "cpu_s") / task_seconds(r) for r in results]


def _warm_worker(_: int) -> None:
    """What `local_cluster` does to a Dask worker: import the task's modules, claim a core."""
    importlib.import_module("lobflow.sweep._task")
    claim_core()
    time.sleep(0.5)  # so that each process of the pool takes one of these


def _pool_sweep(specs: list[TaskSpec], workers: int) -> float:
    """Seconds the tasks take on a bare pool of `workers` fresh processes (started before)."""
    # The worker processes' environment as Dask's nanny gives it (spawned: env at start).
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    saved = dict(os.environ)
    os.environ.update({**env, **WORKER_ENV})
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            list(pool.map(_warm_worker, range(workers)))
            start = time.perf_counter()
            list(pool.map(run_task, specs))
            return time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.benchmark(group="sweep-scaling")
def test_process_pool_scaling_ceiling(benchmark: Any, hive: Path) -> None:
    """The same tasks on 1, then 2, bare processes: what two cores of this machine give them.

    Runs before any Dask cluster is up, so the pools' processes claim the cores.
    """
    specs = plan(resolve_root(hive), parse_config(CONFIG))
    one: list[float] = []
    two: list[float] = []

    def round_() -> None:
        one.append(_pool_sweep(specs, 1))
        two.append(_pool_sweep(specs, 2))

    benchmark.pedantic(round_, rounds=3, iterations=1)
    info = benchmark.extra_info
    info["tasks"] = len(specs)
    info["one_process_s"], info["two_processes_s"] = one, two
    info["efficiency"] = statistics.median(one) / (2 * statistics.median(two))
    info["load_average_1m_after"] = os.getloadavg()[0]
    print(
        f"\n{len(specs)} tasks on a bare process pool: 1 process {statistics.median(one):.2f} s, "
        f"2 processes {statistics.median(two):.2f} s: efficiency {info['efficiency']:.2f} "
        "(the machine's ceiling for Dask's figure)"
    )


@pytest.mark.benchmark(group="sweep-scaling")
def test_sweep_scaling_one_to_two_workers(benchmark: Any, hive: Path, tmp_path: Path) -> None:
    """Each round times the sweep on a cluster of 1 worker, then on one of 2, each cluster
    alone on the machine (started before its timing, closed after it): an idle cluster beside
    the timed one would take its share of the two cores with its heartbeats and monitors."""
    one_worker = Sweeps(hive, tmp_path / "one", "")
    two = Sweeps(hive, tmp_path / "two", "")
    one: list[float] = []
    two_s: list[float] = []

    def round_() -> None:
        # Rounds alternate (1 worker, then 2, ...): a neighbour's load on this shared
        # machine then falls on both about evenly.
        for sweeps, times, workers in ((one_worker, one, 1), (two, two_s, 2)):
            with local_cluster(workers) as address:
                sweeps.scheduler = address
                times.append(_timed(sweeps))

    benchmark.pedantic(round_, rounds=3, iterations=1)
    result = two.results[-1]
    assert_frame_equal(result.results, one_worker.results[0].results)
    t1 = statistics.median(one)
    t2 = statistics.median(two_s)
    tasks1 = statistics.median(r.tasks_s for r in one_worker.results)
    tasks2 = statistics.median(r.tasks_s for r in two.results)
    info = benchmark.extra_info
    info["load_average_1m_after"] = os.getloadavg()[0]
    info["day_rows"] = DAY_ROWS
    info["tasks"] = result.tasks
    info["one_worker_s"] = one
    info["two_workers_s"] = two_s
    info["efficiency"] = t1 / (2 * t2)
    info["task_phase_efficiency"] = tasks1 / (2 * tasks2)
    info["task_work_s_one_worker"] = [task_seconds(r) for r in one_worker.results]
    info["task_work_s_two_workers"] = [task_seconds(r) for r in two.results]
    info["task_cpu_s_one_worker"] = [task_seconds(r, "cpu_s") for r in one_worker.results]
    info["task_cpu_s_two_workers"] = [task_seconds(r, "cpu_s") for r in two.results]
    # CPU time the tasks took on 1 worker over on 2: 1.0 when two at once cost no more work
    # each. Where the cores were free, this bounds the efficiency from above.
    info["task_cpu_ratio"] = statistics.median(info["task_cpu_s_one_worker"]) / statistics.median(
        info["task_cpu_s_two_workers"]
    )
    info["task_cpu_share_one_worker"] = cpu_share(one_worker.results)
    info["task_cpu_share_two_workers"] = cpu_share(two.results)
    print(
        f"\nsweep of {result.tasks} tasks ({DAY_ROWS:,} rows a feed-day): 1 worker {t1:.2f} s, "
        f"2 workers {t2:.2f} s: efficiency {info['efficiency']:.2f} "
        f"(task phase {info['task_phase_efficiency']:.2f}; goal >= 0.8); the tasks had "
        f"{statistics.median(info['task_cpu_share_one_worker']):.0%} of a core each on 1 "
        f"worker, {statistics.median(info['task_cpu_share_two_workers']):.0%} on 2, and took "
        f"{1 / info['task_cpu_ratio']:.2f}x the CPU time on 2; load "
        f"average {info['load_average_1m_after']:.1f} on {os.cpu_count()} cores"
    )


def _timed(sweeps: Sweeps) -> float:
    start = time.perf_counter()
    sweeps()
    return time.perf_counter() - start


@pytest.mark.benchmark(group="sweep-overhead")
def test_sweep_per_task_overhead(benchmark: Any, hive: Path, one_worker: Sweeps) -> None:
    result = benchmark.pedantic(one_worker, rounds=3, iterations=1)
    n = result.tasks
    overhead = [r.tasks_s - task_seconds(r) for r in one_worker.results]
    work = [task_seconds(r) for r in one_worker.results]
    specs = plan(resolve_root(hive), parse_config(CONFIG))
    start = time.perf_counter()
    for spec in specs:
        run_task(spec)
    serial = time.perf_counter() - start
    info = benchmark.extra_info
    info["load_average_1m_after"] = os.getloadavg()[0]
    info["day_rows"] = DAY_ROWS
    info["tasks"] = n
    info["task_phase_s"] = [r.tasks_s for r in one_worker.results]
    info["task_work_s"] = work
    info["task_cpu_share"] = cpu_share(one_worker.results)
    info["overhead_s_per_task"] = [o / n for o in overhead]
    info["overhead_fraction"] = [o / w for o, w in zip(overhead, work, strict=True)]
    info["sweep_fixed_s"] = [r.elapsed_s - r.tasks_s for r in one_worker.results]
    info["serial_in_process_s"] = serial
    mid = statistics.median(info["overhead_fraction"])
    print(
        f"\n{n} tasks of one feed-day ({DAY_ROWS:,} rows): work {statistics.median(work):.2f} s, "
        f"Dask and client overhead {statistics.median(overhead) / n * 1e3:.1f} ms a task = "
        f"{mid:.2%} of the work (goal <= 5 %); the same tasks in-process without Dask "
        f"{serial:.2f} s; load average {info['load_average_1m_after']:.1f}"
    )
