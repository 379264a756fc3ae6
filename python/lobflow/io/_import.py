"""`import_books` (the hive layout on disk) and `read_*` (a lazy frame) over the three formats."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from polars.io.plugins import register_io_source

from lobflow.io._formats import open_source
from lobflow.io._rows import SCHEMA, Counts
from lobflow.io._sink import HiveSink, part_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import polars as pl

    from lobflow.io._formats import Source


@dataclass(frozen=True)
class ImportReport:
    """What one import read and wrote."""

    format: str
    source: Path
    #: The part files written, one per (exchange, symbol, date).
    files: tuple[Path, ...]
    counts: Counts = field(default_factory=Counts)
    elapsed_s: float = 0.0


def import_books(
    fmt: str,
    src: str | Path,
    out: str | Path,
    *,
    tz: str = "America/New_York",
    exchange: str | None = None,
    symbol: str | None = None,
    progress: bool = False,
) -> ImportReport:
    """Convert one `fmt` file (tardis, lobster or hftbacktest) into the processed layout.

    Writes ``<out>/exchange=…/symbol=…/date=…/part-<source>.parquet`` with the collector's
    processed columns (`ts`, the 20 book columns, `ts_local`, `seq`), streaming: memory
    stays flat however large `src` is. All or nothing: on bad input a `SourceError` (a
    `ValueError`) names the file, line and field, and no part file is left behind.

    Parameters
    ----------
    fmt
        ``"tardis"`` (book_snapshot_5/25 or incremental_book_L2 CSV, optionally .gz),
        ``"lobster"`` (the orderbook file; its message file is found beside it) or
        ``"hftbacktest"`` (an .npz of hftbacktest events).
    src, out
        The source file and the folder to write into.
    tz
        LOBSTER's time zone (its times are seconds after midnight there).
    exchange, symbol
        The feed of a LOBSTER or hftbacktest file (defaults: ``lobster`` and the ticker of
        the file name; ``hftbacktest`` and the file's stem).
    progress
        Show a progress bar on a terminal (never when stderr is not one).
    """
    from pathlib import Path

    source = open_source(fmt, src, tz=tz, exchange=exchange, symbol=symbol)
    counts = Counts()
    start = time.perf_counter()
    sink = HiveSink(Path(out), part_name(source.path))
    try:
        with _bar(source, progress) as advance:
            for frame in source.read(counts, advance):
                sink.write(frame)
        files = sink.commit()
    except BaseException:
        sink.abort()
        raise
    return ImportReport(
        source.format, source.path, tuple(files), counts, time.perf_counter() - start
    )


@contextlib.contextmanager
def _bar(source: Source, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar over `source` on a terminal; the callback that moves it."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    done = DownloadColumn() if source.unit == "bytes" else MofNCompleteColumn()
    bar = Progress(
        TextColumn(f"importing {source.path.name}"),
        BarColumn(),
        done,
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task("import", total=source.total)
        yield lambda n: bar.update(task, completed=n)


def _lazy(source: Source) -> pl.LazyFrame:
    """The rows of `source` as a lazy frame, read when collected (or sunk) a frame at a time."""

    def frames(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        left = n_rows
        it = source.read(Counts(), None)
        try:
            for frame in it:
                df = frame if predicate is None else frame.filter(predicate)
                if with_columns is not None:
                    df = df.select(with_columns)
                if left is not None:
                    df = df.head(left)
                    left -= df.height
                yield df
                if left is not None and left <= 0:
                    return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # the source's files, when the frame asks for fewer rows than it has

    return register_io_source(frames, schema=SCHEMA)


def read_tardis(src: str | Path) -> pl.LazyFrame:
    """A tardis.dev book_snapshot_5/25 or incremental_book_L2 CSV(.gz) as lazy contract rows.

    Columns: `exchange`, `symbol`, `ts`, the 20 book columns, `ts_local`, `seq` (the line of
    the source that completed the row). The header is checked now; the rows are read when the
    frame is collected, and bad input raises a `SourceError` then.
    """
    return _lazy(open_source("tardis", src))


def read_lobster(
    src: str | Path,
    *,
    tz: str = "America/New_York",
    exchange: str = "lobster",
    symbol: str | None = None,
) -> pl.LazyFrame:
    """A LOBSTER orderbook file (its message file beside it) as lazy contract rows.

    `seq` is the message line; `ts_local` is null. See `read_tardis` for the columns.
    """
    return _lazy(open_source("lobster", src, tz=tz, exchange=exchange, symbol=symbol))


def read_hftbacktest(
    src: str | Path, *, exchange: str = "hftbacktest", symbol: str | None = None
) -> pl.LazyFrame:
    """An hftbacktest event file (.npz with `data`) replayed into lazy contract rows.

    `seq` is the index of the event that completed the row. See `read_tardis`.
    """
    return _lazy(open_source("hftbacktest", src, exchange=exchange, symbol=symbol))
