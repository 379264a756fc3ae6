"""CLI commands `lobflow import` and `lobflow export-hftbacktest`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class ImportFormat(StrEnum):
    """The formats `lobflow import` reads."""

    TARDIS = "tardis"
    LOBSTER = "lobster"
    HFTBACKTEST = "hftbacktest"


def import_(
    fmt: Annotated[
        ImportFormat, typer.Argument(metavar="FORMAT", help="tardis | lobster | hftbacktest")
    ],
    src: Annotated[
        Path,
        typer.Argument(
            metavar="SRC",
            help="a tardis CSV(.gz), a LOBSTER …_orderbook_N.csv (its message file beside it) "
            "or an hftbacktest .npz",
        ),
    ],
    out: Annotated[Path, typer.Option(help="folder of the processed layout")] = Path("data"),
    tz: Annotated[
        str, typer.Option(help="LOBSTER: the time zone of its seconds after midnight")
    ] = "America/New_York",
    exchange: Annotated[
        str | None, typer.Option(help="LOBSTER / hftbacktest: the feed's exchange")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="LOBSTER / hftbacktest: the feed's symbol")
    ] = None,
) -> None:
    """Convert a tardis.dev, LOBSTER or hftbacktest file into the collector's processed layout."""
    from rich.console import Console

    from lobflow._paths import check_output
    from lobflow.io import import_books

    check_output(out, [("the source", src)])
    rep = import_books(str(fmt), src, out, tz=tz, exchange=exchange, symbol=symbol, progress=True)
    c = rep.counts
    feeds = ", ".join(f"{ex} {sym}" for ex, sym in c.feeds) or "none"
    left_out = (
        f"{c.unchanged:,} unchanged top five, {c.crossed:,} crossed, "
        f"{c.empty_side:,} with an empty side"
    )
    Console().print(
        f"imported {c.rows:,} books from {c.records:,} records of {rep.source} "
        f"({feeds}) into {len(rep.files)} file(s) under {out} in {rep.elapsed_s:.1f} s; "
        f"left out: {left_out}",
        soft_wrap=True,
    )


def export_hftbacktest(
    books: Annotated[
        Path, typer.Argument(help="one feed of processed books (Parquet file or hive folder)")
    ],
    out: Annotated[Path, typer.Option(help="the .npz to write")] = Path("books.npz"),
) -> None:
    """Write one feed of books as hftbacktest events (an npz with its array `data`)."""
    from rich.console import Console

    from lobflow._paths import check_output
    from lobflow.io import export_hftbacktest as export

    check_output(out, [("the books", books)])
    with Console(stderr=True).status(f"exporting {books} → {out}"):
        rep = export(books, out)
    twice = " (each twice: ts_local goes back, as hftbacktest's correct_event_order does)"
    Console().print(
        f"wrote {rep.events:,} events for {rep.rows:,} books to {rep.path}"
        f"{twice if rep.split else ''}",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `import` and `export-hftbacktest` to the `lobflow` app."""
    app.command("import")(import_)
    app.command("export-hftbacktest")(export_hftbacktest)
