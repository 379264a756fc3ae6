"""CLI command `lobflow features`: the contract features of processed books, into Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer


def features(
    books: Annotated[Path, typer.Argument(help="processed Parquet file or hive folder")],
    out: Annotated[Path, typer.Option(help="Parquet file to write")] = Path("features.parquet"),
    windows_ms: Annotated[str, typer.Option(help="three ascending windows in ms")] = "10,20,50",
    on_bad: Annotated[
        str, typer.Option(help="raise: stop at the first bad row; skip: drop bad rows")
    ] = "raise",
) -> None:
    """Compute the 18 contract features per feed, slice by slice: the input may exceed memory."""
    from rich.console import Console

    from lobflow import features as feats
    from lobflow._schema import check_windows

    try:
        windows = check_windows([int(x) for x in windows_ms.split(",")])
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--windows-ms") from e
    if on_bad not in ("raise", "skip"):
        raise typer.BadParameter("must be raise or skip", param_hint="--on-bad")
    mode: Literal["raise", "skip"] = "raise" if on_bad == "raise" else "skip"
    console = Console(stderr=True)
    with console.status(f"features of {books} → {out}"):
        rows = feats.sink(books, out, windows, on_bad=mode)
    console.print(f"wrote {rows:,} rows of the 18 features to {out}")


def register(app: typer.Typer) -> None:
    """Add `lobflow features` to the `lobflow` app."""
    app.command("features")(features)
