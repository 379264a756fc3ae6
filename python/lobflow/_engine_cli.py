"""CLI command `lobflow run`: score a feed with the engine and print throughput and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def run(
    feed: Annotated[Path, typer.Argument(help="one feed of books (Parquet file or hive folder)")],
    weights: Annotated[Path, typer.Option(help="weights file")] = Path("weights.txt"),
    pace_ns: Annotated[
        int | None, typer.Option(help="space ticks this far apart (latency)")
    ] = None,
    cores: Annotated[str, typer.Option(help="producer,worker cores")] = "2,4",
    on_bad: Annotated[str, typer.Option(help="raise | skip")] = "raise",
    out: Annotated[
        Path | None, typer.Option(help="write scores and signals here (Parquet)")
    ] = None,
) -> None:
    """Run the inference engine over a feed."""
    import polars as pl
    from rich.console import Console

    from lobflow import Engine

    c = [int(x) for x in cores.split(",")]
    if len(c) != 2 or on_bad not in ("raise", "skip"):
        raise typer.BadParameter("--cores takes two ids; --on-bad takes raise or skip")
    res = Engine(weights, cores=(c[0], c[1])).run(feed, pace_ns=pace_ns, on_bad=on_bad)  # type: ignore[arg-type]
    Console().print(res.summary())
    if res.pin_note:
        Console(stderr=True).print(f"[yellow]{res.pin_note}[/]")
    if out is not None:
        pl.DataFrame({"score": res.scores, "signal": res.signals}).write_parquet(out)


def register(app: typer.Typer) -> None:
    """Add `run` to the `lobflow` app."""
    app.command("run")(run)
