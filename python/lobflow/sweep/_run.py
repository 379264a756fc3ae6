"""`lobflow.sweep.run`: plan the tasks, run them on a cluster, write the table and summary."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lobflow
from lobflow._files import atomic_write
from lobflow._paths import check_output
from lobflow.sweep._cluster import Outcome, connect, run_tasks
from lobflow.sweep._config import SweepConfig, load_config, parse_config
from lobflow.sweep._errors import SweepError
from lobflow.sweep._plan import plan, resolve_root
from lobflow.sweep._report import write_summary
from lobflow.sweep._select import Choice, choose, write_weights
from lobflow.sweep._store import Store, failed_frame, results_table, task_frame, write_results

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    import polars as pl


@dataclass(frozen=True)
class SweepResult:
    """What a sweep wrote and how it went."""

    #: results.parquet's rows: one per (exchange, symbol, test_day, grid point).
    results: pl.DataFrame
    #: The chosen grid point of each feed, with its weights file.
    best: tuple[Choice, ...]
    #: Tasks in the sweep, run now, skipped as finished by an earlier run, failed for good.
    tasks: int
    ran: int
    resumed: int
    failed: int
    results_path: Path
    summary_path: Path
    #: Wall time of the whole call, and of its task phase (first task submitted to last
    #: task written; 0 when every task was resumed).
    elapsed_s: float
    tasks_s: float


def run(
    config: SweepConfig | Mapping[str, object] | str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    resume: bool = False,
    workers: int | None = None,
    on_task: Callable[[int, int, Outcome], None] | None = None,
) -> SweepResult:
    """Run a walk-forward sweep of the grid over the feeds of a hive folder.

    Parameters
    ----------
    config
        A `SweepConfig`, a parsed TOML document, or the path of a TOML config
        (docs/sweep.md lists its keys).
    data
        The hive folder (``exchange=…/symbol=…/date=…/*.parquet``), or the collector's output
        folder holding it as ``processed/``. Workers read its files by path: on a cluster of
        several machines it must be at the same path on each.
    out
        The output folder: ``results.parquet``, ``summary.html``, ``weights/``, ``tasks/``.
    scheduler
        The address of a running Dask scheduler (``tcp://host:8786``); None starts a
        `distributed.LocalCluster` of one single-threaded process per core.
    resume
        Skip the tasks an earlier run into `out` finished (failed ones run again). Without
        it, an `out` that holds task files is refused.
    workers
        Processes of the LocalCluster (default ``[run] workers``, else one per core).
    on_task
        Called on this thread after each task is written, with (tasks done, tasks to run,
        its outcome): for progress displays.

    Raises
    ------
    ConfigError
        The config is invalid, or names no feed or too few days for one fold.
    SweepError
        Dask distributed is missing, the scheduler cannot be reached, or `out` holds a sweep
        and `resume` is False.
    FileNotFoundError
        `data` is not a hive folder of books.
    ValueError
        `out` is the config file, or lies inside `data` (the task files would be read as
        books from then on).
    """
    start = time.perf_counter()
    cfg = _config(config)
    root = resolve_root(data).resolve()
    specs = plan(root, cfg)
    out_dir = Path(out)
    config_file = None if isinstance(config, SweepConfig | Mapping) else config
    # The books are the hive folder found (`data` itself, or its processed/ where `data` is
    # the collector's output folder): an output folder beside processed/ is not inside them.
    check_output(out_dir, [("the books", root), ("the config", config_file)])
    store = Store(out_dir)
    if not resume and store.existing():
        msg = (
            f"{out_dir} already holds a sweep ({store.existing()} task files): pass "
            "--resume (resume=True) to finish it, or choose another output folder"
        )
        raise SweepError(msg)
    todo = [s for s in specs if not (resume and store.finished(s.id))]
    store.forget_failures(specs)
    _write_json(
        out_dir / "sweep.json", {"config": asdict(cfg), "data": str(root), "tasks": len(specs)}
    )
    failed = finished = 0

    def done(outcome: Outcome) -> None:
        nonlocal failed, finished
        spec = outcome.spec
        if outcome.result is not None:
            store.write(spec, task_frame(spec, outcome.result), failed=False)
        else:
            failed += 1
            store.write(spec, failed_frame(spec, outcome.error or "unknown error"), failed=True)
        finished += 1
        if on_task is not None:
            on_task(finished, len(todo), outcome)

    tasks_s = 0.0
    if todo:
        with connect(scheduler, workers or cfg.run.workers) as client:
            tasks_s = run_tasks(client, todo, cfg.run.retries, done)
    tasks = store.read(specs)
    table = results_table(tasks)
    results_path = write_results(out_dir, table)
    best = tuple(
        write_weights(out_dir, tasks, c)
        for c in choose(tasks, cfg.select.metric, len(cfg.grid.points()))
    )
    info: dict[str, object] = {
        "lobflow": lobflow.__version__,
        "data": str(root),
        "tasks": len(specs),
        "ran": len(todo),
        "resumed": len(specs) - len(todo),
        "failed": failed,
        "rows": table.height,
        "rows_with_error": int(table["error"].is_not_null().sum()),
        "task_seconds": float(tasks.unique("task_id")["elapsed_s"].sum()),
    }
    summary = write_summary(out_dir, tasks, list(best), cfg, info)
    return SweepResult(
        table,
        best,
        len(specs),
        len(todo),
        len(specs) - len(todo),
        failed,
        results_path,
        summary,
        time.perf_counter() - start,
        tasks_s,
    )


def _config(config: SweepConfig | Mapping[str, object] | str | os.PathLike[str]) -> SweepConfig:
    if isinstance(config, SweepConfig):
        return config
    if isinstance(config, Mapping):
        return parse_config(config)
    return load_config(config)


def _write_json(path: Path, content: dict[str, object]) -> None:
    text = json.dumps(content, indent=2, default=str) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)
