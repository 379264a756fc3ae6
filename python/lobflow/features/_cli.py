"""CLI command `lobflow features`: the contract features of processed books, into Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lobflow._choices import OnBad
from lobflow._cli_options import OnBadOption, Windows, WindowsOption

#: The contract's default windows (`lobflow._schema.DEFAULT_WINDOWS_MS`).
WINDOWS = Windows(10, 20, 50)


def features(
    books: Annotated[Path, typer.Argument(help="processed Parquet file or hive folder")],
    out: Annotated[Path, typer.Option(help="Parquet file to write")] = Path("features.parquet"),
    windows_ms: WindowsOption = WINDOWS,
    on_bad: OnBadOption = OnBad.RAISE,
) -> None:
    """Compute the 18 contract features per feed, slice by slice: the input may exceed memory."""
    from rich.console import Console

    from lobflow import features as feats
    from lobflow._paths import check_output
    from lobflow._progress import progress_bar
    from lobflow._skipped import skipped_text

    check_output(out, [("the books", books)])
    seen = 0
    with progress_bar() as bar:
        task = bar.add_task(f"features of {books}", total=None)

        def advance(done: int, total: int) -> None:
            nonlocal seen
            seen = total
            bar.update(task, completed=done, total=total)

        rows = feats.sink(books, out, windows_ms, on_bad=on_bad.literal, progress=advance)
    skipped = f" ({skipped_text(seen - rows, seen)})" if seen > rows else ""
    Console(stderr=True).print(f"wrote {rows:,} rows of the 18 features to {out}{skipped}")


def register(app: typer.Typer) -> None:
    """Add `lobflow features` to the `lobflow` app."""
    app.command("features")(features)
