"""CLI command `lobflow sweep`."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 (typer reads the annotations at run time)
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lobflow.sweep._cluster import Outcome


def sweep(
    config: Annotated[Path, typer.Argument(help="sweep config (TOML; docs/sweep.md)")],
    data: Annotated[
        Path,
        typer.Option(
            help="hive folder of books (exchange=/symbol=/date=), or the collector's output"
        ),
    ],
    out: Annotated[Path, typer.Option(help="output folder")],
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler to join, e.g. tcp://host:8786 (default: a local cluster)"
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="skip the tasks an earlier run into --out finished")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="local cluster processes (default: one per core)", min=1)
    ] = None,
) -> None:
    """Walk-forward sweep: train and backtest every grid point per feed and fold, on Dask."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from lobflow.sweep import run

    console = Console(stderr=True)
    with Progress(
        TextColumn("tasks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[failed]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("tasks", total=None, failed="")
        failures = 0

        def progress(done: int, total: int, outcome: Outcome) -> None:
            nonlocal failures
            if outcome.error is not None:
                failures += 1
                console.print(f"[yellow]task failed:[/] {outcome.spec.feed} {outcome.error}")
            bar.update(
                task, completed=done, total=total, failed=f"{failures} failed" if failures else ""
            )

        result = run(
            config, data, out, scheduler=scheduler, resume=resume, workers=workers, on_task=progress
        )
    table = Table(
        title=f"chosen point per feed (mean {result.best[0].metric if result.best else ''})"
    )
    for col in ("feed", "point", "score", "test days", "weights"):
        table.add_column(col)
    for c in result.best:
        score = "—" if c.score is None else f"{c.score:.4g}"
        table.add_row(
            f"{c.exchange}/{c.symbol}", str(c.point), score, str(c.days), str(c.weights or "—")
        )
    Console().print(table)
    errors = int(result.results["error"].is_not_null().sum())
    Console().print(
        f"{result.tasks} tasks ({result.ran} run, {result.resumed} resumed, "
        f"{result.failed} failed), "
        f"{result.results.height} rows ({errors} with an error) in {result.elapsed_s:.1f} s; "
        f"wrote {result.results_path} and {result.summary_path}"
    )


def register(app: typer.Typer) -> None:
    """Add `sweep` to the `lobflow` app."""
    app.command("sweep")(sweep)
