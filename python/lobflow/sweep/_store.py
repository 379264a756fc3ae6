"""The sweep's output folder: one Parquet file per finished task, then the results table.

Each task's rows are written as ``tasks/<id>.parquet`` the moment the task ends (atomically:
a temp file, synced, renamed), so a sweep stopped at any point has lost only the tasks in
flight, and ``--resume`` skips every id with a file. A task that failed for good is written
as ``tasks/<id>.failed.parquet``: its rows carry the error, and a resumed sweep runs it again.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING

import polars as pl

from lobflow._files import atomic_write

if TYPE_CHECKING:
    from pathlib import Path

    from lobflow.sweep._config import GridPoint
    from lobflow.sweep._plan import TaskSpec
    from lobflow.sweep._task import TaskResult

#: The columns of a task file, typed, so that a failed task's all-null columns concatenate.
TASK_SCHEMA: dict[str, pl.DataType] = {
    "exchange": pl.String(),
    "symbol": pl.String(),
    "point": pl.Int64(),
    "windows_ms": pl.List(pl.Int64()),
    "horizon": pl.String(),
    "horizon_ns": pl.Int64(),
    "model": pl.String(),
    "alpha": pl.Float64(),
    "threshold": pl.Float64(),
    "latency_ms": pl.Float64(),
    "fee_bps": pl.Float64(),
    "train_start": pl.Date(),
    "train_end": pl.Date(),
    "test_day": pl.Date(),
    "ic": pl.Float64(),
    "hit_rate": pl.Float64(),
    "pnl": pl.Float64(),
    "trades": pl.Int64(),
    "sharpe": pl.Float64(),
    "max_drawdown": pl.Float64(),
    "fees": pl.Float64(),
    "threshold_score": pl.Float64(),
    "train_rows": pl.Int64(),
    "test_rows": pl.Int64(),
    "dropped_rows": pl.Int64(),
    "error": pl.String(),
    "warnings": pl.String(),
    # Below: kept in the task files, left out of results.parquet (weights and paths are for
    # the summary and the weights files; time and place differ from run to run).
    "weights": pl.String(),
    "equity_ts": pl.List(pl.Int64()),
    "equity": pl.List(pl.Float64()),
    "task_id": pl.String(),
    "elapsed_s": pl.Float64(),
    "cpu_s": pl.Float64(),
    "worker": pl.String(),
    "core": pl.Int64(),
}

#: The columns of results.parquet, in order: one row per (exchange, symbol, test_day, point).
RESULT_COLUMNS = list(TASK_SCHEMA)[: list(TASK_SCHEMA).index("weights")]


class Store:
    """The task files of one output folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tasks = out / "tasks"

    def existing(self) -> int:
        """How many task files (finished or failed) the folder already holds."""
        return sum(1 for _ in self.tasks.glob("*.parquet")) if self.tasks.is_dir() else 0

    def finished(self, task_id: str) -> bool:
        """Whether the task finished in an earlier run (a failed one is run again)."""
        return (self.tasks / f"{task_id}.parquet").is_file()

    def forget_failures(self, specs: list[TaskSpec]) -> None:
        """Remove the failed-task files of tasks not in `specs`.

        Their days or config changed (a mended file makes another task), and only a finished
        task is ever reused.
        """
        keep = {f"{s.id}.failed.parquet" for s in specs}
        for path in self.tasks.glob("*.failed.parquet"):
            if path.name not in keep:
                path.unlink()

    def write(self, spec: TaskSpec, frame: pl.DataFrame, *, failed: bool) -> None:
        """Write one task's rows atomically; a success replaces an earlier failure."""
        name = f"{spec.id}.failed.parquet" if failed else f"{spec.id}.parquet"
        atomic_write(self.tasks / name, partial(frame.write_parquet, statistics=False))
        if not failed:
            (self.tasks / f"{spec.id}.failed.parquet").unlink(missing_ok=True)

    def read(self, specs: list[TaskSpec]) -> pl.DataFrame:
        """The rows of `specs`' task files, in task order.

        Raises
        ------
        FileNotFoundError
            A task has no file (the sweep has not run it).
        """
        frames = []
        for spec in specs:
            ok = self.tasks / f"{spec.id}.parquet"
            path = ok if ok.is_file() else self.tasks / f"{spec.id}.failed.parquet"
            frames.append(pl.read_parquet(path))
        if not frames:
            return pl.DataFrame(schema=TASK_SCHEMA)
        return pl.concat(frames, how="vertical")


def task_frame(spec: TaskSpec, result: TaskResult) -> pl.DataFrame:
    """A finished task's rows, grid values and fold alongside."""
    points = {p.index: p for p in spec.grid.points()}
    rows = []
    for r in result.rows:
        row = asdict(r)
        row.update(_fold(spec))
        row.update(_grid_values(points[r.point]))
        row.update(
            dropped_rows=result.dropped_rows,
            task_id=result.task_id,
            elapsed_s=result.elapsed_s,
            cpu_s=result.cpu_s,
            worker=result.worker,
            core=result.core,
        )
        rows.append(row)
    return _frame(rows)


def failed_frame(spec: TaskSpec, error: str) -> pl.DataFrame:
    """A failed task's rows: one per grid point and test day, each carrying `error`."""
    rows = []
    for p in spec.grid.points():
        if p.windows_ms != spec.windows_ms:
            continue
        for d in spec.test:
            rows.append(
                {"point": p.index, "test_day": d.day, "error": error, "task_id": spec.id}
                | _fold(spec)
                | _grid_values(p)
            )
    return _frame(rows)


def _fold(spec: TaskSpec) -> dict[str, object]:
    return {
        "exchange": spec.exchange,
        "symbol": spec.symbol,
        "train_start": spec.train[0].day,
        "train_end": spec.train[-1].day,
    }


def _grid_values(p: GridPoint) -> dict[str, object]:
    return {
        "windows_ms": list(p.windows_ms),
        "horizon": p.horizon,
        "horizon_ns": p.horizon_ns,
        "model": p.model,
        "alpha": p.alpha,
        "threshold": p.threshold,
        "latency_ms": p.latency_ms,
        "fee_bps": p.fee_bps,
    }


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    full = [{k: row.get(k) for k in TASK_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=TASK_SCHEMA)


def results_table(tasks: pl.DataFrame) -> pl.DataFrame:
    """results.parquet's rows: sorted by feed, test day and grid point, run details left out."""
    return tasks.select(RESULT_COLUMNS).sort(
        "exchange", "symbol", "test_day", "point", maintain_order=True
    )


def write_results(out: Path, table: pl.DataFrame) -> Path:
    """Write ``results.parquet`` atomically."""
    return atomic_write(out / "results.parquet", partial(table.write_parquet, statistics=True))
