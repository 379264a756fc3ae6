"""Where the tasks run: a `distributed.LocalCluster` sized to the machine, or a cluster joined.

Dask does the scheduling and the fault tolerance: a task that raises is retried
(``[run] retries``), and a task whose worker dies is run again on another worker until the
scheduler's ``distributed.scheduler.allowed-failures`` (3 by default) is reached. Whatever
still fails comes back here as the exception, for the caller to record.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lobflow.sweep._errors import SweepError
from lobflow.sweep._task import TaskResult, run_task

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from distributed import Client, LocalCluster

    from lobflow.sweep._plan import TaskSpec

#: The environment of a LocalCluster's worker processes. One thread each for polars and for
#: the Rust extension's rayon pool: the workers already use every core between them, and a
#: pool per worker as wide as the machine would have them take turns (the engine's own two
#: threads are placed by `lobflow.sweep._cores`).
#:
#: And no transparent huge pages for NumPy's arrays, and glibc's malloc keeping what a task
#: frees for the next task. NumPy asks the kernel to back each large array (a feed-day's
#: columns, tens of MiB) with 2 MiB pages, and glibc hands such blocks back to the kernel when
#: they are freed, so each task faults them in afresh. On a VM, a huge-page fault now and then
#: costs a task up to a second of system time: one task in four took 1.5-3x its usual time
#: here, at random, and two workers at once met it more often (`benches/bench_sweep.py`).
#: Without the huge pages every task takes its usual time; with the memory kept, a worker
#: holds its largest task's memory, which a worker running task after task of one size needs
#: anyway, and faults none of it in again.
WORKER_ENV = {
    "POLARS_MAX_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "NUMPY_MADVISE_HUGEPAGE": "0",
    # Blocks of any size from the heap, not mmap; the heap's free top never given back.
    "MALLOC_MMAP_THRESHOLD_": str(2**30),
    "MALLOC_TRIM_THRESHOLD_": str(2**62),
}
#: A LocalCluster's workers without Dask's sampling profiler (a stack walk under the GIL every
#: 10 ms) and its GIL monitor: on a machine whose cores all run tasks, they take the tasks'
#: time (`benches/bench_sweep.py`). A remote cluster keeps its own configuration.
WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}


@dataclass(frozen=True)
class Outcome:
    """How one task ended: its result, or the error it failed with after Dask's retries."""

    spec: TaskSpec
    result: TaskResult | None
    error: str | None


def machine_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, else of a new local one; closed on exit.

    The local cluster has `workers` processes (default: one per core) of one thread each.

    Raises
    ------
    SweepError
        Dask distributed is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError as e:
        raise _missing(e) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")  # type: ignore[no-untyped-call]
        except OSError as e:
            msg = f"cannot reach the Dask scheduler at {scheduler}: {e}"
            raise SweepError(msg) from None
        with client:
            yield client
        return
    with (
        local_cluster(workers or machine_cores()) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def local_cluster(workers: int) -> LocalCluster:
    """A `distributed.LocalCluster` of `workers` single-threaded processes, `WORKER_ENV` set.

    The variables go in through Dask's ``distributed.nanny.pre-spawn-environ``, which the
    nanny sets before it starts the worker process: its ``env=`` is applied inside the new
    process only after the process has imported the main module, and a main module that
    imports lobflow (the ``lobflow`` command does) has started polars' thread pool by then.

    Raises
    ------
    SweepError
        Dask distributed is not installed.
    """
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as e:
        raise _missing(e) from None
    spawn_env = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **WORKER_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env, **WORKER_CONFIG}):
        # distributed types its public API only in part (LocalCluster, Client not).
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            # Its HTTP server (health, and the dashboard where bokeh is installed) on a free
            # loopback port: the default 8787 may be another cluster's, and ":0" listens on
            # all interfaces.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )


def _missing(e: ImportError) -> SweepError:
    msg = f"lobflow sweep needs Dask distributed: pip install 'lobflow[cluster]' ({e})"
    return SweepError(msg)


def run_tasks(
    client: Client, specs: list[TaskSpec], retries: int, done: Callable[[Outcome], None]
) -> float:
    """Submit every task and call `done` with each outcome as it arrives (on this thread).

    Returns the wall time from the first submission to the last outcome handled, seconds.

    Task keys carry a fresh token: a scheduler shared with an earlier, interrupted sweep of
    the same tasks must not hand back that sweep's forgotten failures.
    """
    from distributed import as_completed

    start = time.perf_counter()
    token = uuid.uuid4().hex[:8]
    specs_by_key = {f"lobflow-sweep-{spec.id}-{token}": spec for spec in specs}
    futures = [
        client.submit(run_task, spec, key=key, retries=retries, pure=False)
        for key, spec in specs_by_key.items()
    ]
    for fut in as_completed(futures):  # type: ignore[no-untyped-call]
        spec = specs_by_key[fut.key]
        if fut.status == "finished":
            outcome = Outcome(spec, fut.result(), None)
        else:
            exc = fut.exception()
            outcome = Outcome(spec, None, f"{type(exc).__name__}: {exc}")
        fut.release()
        done(outcome)
    return time.perf_counter() - start
