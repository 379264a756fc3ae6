"""`features.sink`: the features of an input larger than memory, one slice at a time.

`compute` holds whole columns (its windows gather running sums at each row's window start).
Here the input streams through in slices; each slice is computed together with a tail of the
rows before it that can still matter — per feed, every row newer than the feed's last time
minus the longest window (that includes the feed's last row, OFI's previous snapshot) and
the row before those — and only the slice's own rows are written. Memory is one slice plus
that tail, whatever the input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl
import pyarrow.parquet as pq

from lobflow._feed import named_read_errors
from lobflow._files import atomic_write
from lobflow._paths import check_output
from lobflow._schema import CONTRACT_COLUMNS, DEFAULT_WINDOWS_MS, check_windows
from lobflow._skipped import SKIP_HINT, warn_if_too_many
from lobflow.features._compute import Books, _features, _open, _several_feeds, collect

if TYPE_CHECKING:
    from collections.abc import Callable

_SINK_ROW = "_sink_row"  # input row number, carried through the slices


def sink(
    books: Books,
    out: str | os.PathLike[str],
    windows_ms: tuple[int, int, int] = DEFAULT_WINDOWS_MS,
    *,
    on_bad: Literal["raise", "skip"] = "raise",
    slice_rows: int = 1_000_000,
    progress: Callable[[int, int], object] | None = None,
) -> int:
    """Write the features of `books` to the Parquet file `out` with bounded memory.

    The same rows, order and values as ``compute(books, windows_ms, on_bad=on_bad)`` (to the
    last bits of rounding: each slice's running sums start afresh), for inputs that do not fit
    in memory: one slice of `slice_rows` input rows is held at a time, plus the rows of each
    feed inside the longest window before it. The file appears under its name only when
    complete (written to a hidden temp file beside it, synced, then renamed); on an error
    nothing is left behind. `progress`, if given, is called with (input rows done, input
    rows in all) after each slice: a progress bar's update.

    Returns the number of rows written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import polars as pl
    >>> from lobflow import features
    >>> book = {c: [1.0, 1.0, 1.0] for c in features.BOOK_COLUMNS}
    >>> best = {"bid_px_0": [99.0, 99.0, 99.0], "ask_px_0": [101.0, 103.0, 105.0]}
    >>> df = pl.DataFrame({"ts": [0, 0, 1], **book, **best})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "f.parquet"
    >>> features.sink(df, out, slice_rows=2)
    3
    >>> pl.read_parquet(out)["rolling_spread_10ms"].to_list()
    [2.0, 3.0, 4.0]
    """
    w = check_windows(windows_ms)
    if slice_rows < 1:
        msg = f"slice_rows must be at least 1, got {slice_rows}"
        raise ValueError(msg)
    if isinstance(books, str | os.PathLike):
        check_output(out, [("the books", books)], option="out")
    with named_read_errors(books):
        written, total = _sink(books, Path(out), w, on_bad, slice_rows, progress)
    if on_bad == "skip":
        warn_if_too_many("features.sink", total - written, total, SKIP_HINT, stacklevel=2)
    return written


def _sink(
    books: Books,
    out: Path,
    w: tuple[int, int, int],
    on_bad: Literal["raise", "skip"],
    slice_rows: int,
    progress: Callable[[int, int], object] | None = None,
) -> tuple[int, int]:
    """`sink`'s work: the rows written and the input's rows."""
    lf, keys = _open(books, on_bad)
    reach = max(w) * 1_000_000
    # The row index first: after a `select`, polars no longer pushes a slice down to the scan
    # (each slice then re-read everything before it: 0.1 s -> 1 s per slice by the end).
    src = lf.with_row_index(_SINK_ROW).select(_SINK_ROW, "ts", *keys, *CONTRACT_COLUMNS[1:])

    # One pass over the key columns: one feed (the usual file) needs no splitting per slice.
    split = keys if _several_feeds(lf, keys) else []

    def features_of(frame: pl.DataFrame) -> pl.DataFrame:
        # Bad rows are named by their input row, whichever slice they are in.
        plan = _features(
            frame.lazy(), w, keys, split, on_bad=on_bad, carry=[_SINK_ROW], row=_SINK_ROW
        )
        return collect(plan, "in-memory")

    written = total = 0

    def write_slices(path: Path) -> None:
        nonlocal written, total
        tail: pl.DataFrame | None = None
        with _ParquetAppender(path, dictionary=keys) as sink_file:
            # Pulled slice by slice: `collect_batches` runs ahead of a slow consumer and held
            # most of a 10^7-row input; a slice of a Parquet scan reads only its row groups.
            total = src.select(pl.len()).collect().item()
            for offset in range(0, total, slice_rows):
                batch = src.slice(offset, slice_rows).collect()
                first_new = batch[_SINK_ROW][0]
                # The tail also lets a `ts` going back at the slice boundary be seen.
                frame = batch if tail is None else pl.concat([tail, batch])
                feats = features_of(frame)
                new = feats.filter(pl.col(_SINK_ROW) >= first_new).drop(_SINK_ROW)
                sink_file.write(new)
                written += new.height
                kept = frame
                if feats.height < frame.height:  # rows skipped: they stay out of the tail
                    kept = frame.filter(pl.col(_SINK_ROW).is_in(feats[_SINK_ROW].implode()))
                tail = kept.filter(_tail(split, reach))
                if progress is not None:
                    progress(min(offset + slice_rows, total), total)
            if written == 0:  # still a readable file, with the schema
                empty = _features(src.head(0), w, keys, [], on_bad=on_bad)
                sink_file.write(collect(empty, "in-memory"))

    atomic_write(out, write_slices)
    return written, total


def _tail(keys: list[str], reach: int) -> pl.Expr:
    """Rows the next slice's windows can reach, and one more before them per feed.

    A window of a later row holds rows newer than its time minus the longest window, so newer
    than the feed's last time minus it. The one more row is the previous snapshot of the
    oldest such row: without it that row's OFI would be computed as a feed's first (0).
    """

    def per_feed(e: pl.Expr) -> pl.Expr:
        return e.over(keys) if keys else e

    reachable = pl.col("ts") > per_feed(pl.col("ts").max()) - reach
    return reachable | per_feed(reachable.shift(-1)).fill_null(False)


class _ParquetAppender:
    """One Parquet file written as one row group per slice (pyarrow's writer appends)."""

    def __init__(self, path: Path, *, dictionary: list[str]) -> None:
        self.path = path
        # Dictionary-encode the keys only: on the float features it slows the write for no
        # smaller a file.
        self.dictionary = dictionary
        self.writer: pq.ParquetWriter | None = None

    def write(self, df: pl.DataFrame) -> None:
        table = df.to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", use_dictionary=self.dictionary
            )
        self.writer.write_table(table)

    def __enter__(self) -> _ParquetAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
