"""The three import formats behind one shape: a source, its rows as frames, and its size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lobflow.io import _hbt_in, _lobster, _tardis
from lobflow.io._errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import polars as pl

    from lobflow.io._rows import Counts

Format = Literal["tardis", "lobster", "hftbacktest"]
FORMATS: tuple[Format, ...] = ("tardis", "lobster", "hftbacktest")


@dataclass(frozen=True)
class Source:
    """One input, checked enough to start: how to read it and how far progress goes."""

    format: Format
    path: Path
    #: The progress total (bytes of the file, or events of an npz) and its unit.
    total: int
    unit: str
    read: Callable[[Counts, Callable[[int], None] | None], Iterator[pl.DataFrame]]


def open_source(
    fmt: str,
    src: str | Path,
    *,
    tz: str = "America/New_York",
    exchange: str | None = None,
    symbol: str | None = None,
) -> Source:
    """Check `src` is a `fmt` file (header, names, dtype) and say how to read it.

    `exchange` and `symbol` name the feed of a LOBSTER or hftbacktest file (tardis files
    carry their own in their columns, one feed per instrument).
    """
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}: one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    path = Path(src)
    if not str(src):
        msg = "the source path is empty"
        raise ValueError(msg)
    if not path.is_file():
        raise SourceError(path, "no such file" if not path.exists() else "not a file")
    if fmt == "tardis":
        if exchange is not None or symbol is not None:
            msg = "tardis files name their exchange and symbol in their columns"
            raise ValueError(msg)
        reader = _tardis.snapshots if _tardis.kind(path) == "book_snapshot" else _tardis.incremental
        return Source("tardis", path, path.stat().st_size, "bytes", lambda c, p: reader(path, c, p))
    if fmt == "lobster":
        pair = _lobster.pair(path)
        _lobster.midnight_ns(pair.day, tz)  # an unknown time zone is named now, not mid-read
        return Source(
            "lobster",
            path,
            path.stat().st_size,
            "bytes",
            lambda c, p: _lobster.books(
                pair, c, tz=tz, exchange=exchange or "lobster", symbol=symbol, progress=p
            ),
        )
    total = _hbt_in.total_events(path)
    return Source(
        "hftbacktest",
        path,
        total,
        "events",
        lambda c, p: _hbt_in.books(
            path, c, exchange=exchange or "hftbacktest", symbol=symbol, progress=p
        ),
    )
