"""Imported rows: the collector's processed columns, built a bounded batch at a time.

Every importer hands its books to `FeedRows`, which keeps one row per change of the top five
levels, drops (and counts) the books a contract row cannot hold, and turns the rows into a
polars frame every `BATCH_ROWS` rows, so memory stays flat however long the input is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from lobflow._schema import BOOK_COLUMNS
from lobflow.io._book import CROSSED, EMPTY

if TYPE_CHECKING:
    from lobflow.io._book import Top

#: Rows gathered as Python tuples before they become a frame: a row of 20 floats costs
#: ~0.7 KB as objects, so 8 192 rows stay under 6 MB (the frame then takes 0.2 KB a row).
BATCH_ROWS = 8_192

#: The columns of every imported frame, in order: the feed, then the collector's processed
#: part-file columns (`lobflow.collect.writer.SCHEMAS["processed"]`).
SCHEMA: dict[str, pl.DataType] = {
    "exchange": pl.String(),
    "symbol": pl.String(),
    "ts": pl.Int64(),
    **{c: pl.Float64() for c in BOOK_COLUMNS},
    "ts_local": pl.Int64(),
    "seq": pl.Int64(),
}


@dataclass
class Counts:
    """What an import kept and left out, over all its feeds."""

    #: Source records read (CSV lines, LOBSTER message lines, npz events).
    records: int = 0
    #: Rows written: books whose top five levels changed.
    rows: int = 0
    #: Books whose top five equal the row before (a change deeper in the book) - not rows.
    unchanged: int = 0
    #: Books with best bid >= best ask: not a valid contract row (the collector drops them too).
    crossed: int = 0
    #: Books with a side without any level: not a valid contract row either.
    empty_side: int = 0
    #: The (exchange, symbol) feeds seen, in order of appearance.
    feeds: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, why: str) -> None:
        """Count one book left out for `why` (`EMPTY` or `CROSSED`)."""
        if why == CROSSED:
            self.crossed += 1
        elif why == EMPTY:
            self.empty_side += 1
        else:  # pragma: no cover - the two reasons are the only ones `Book.top` gives
            raise AssertionError(why)


class FeedRows:
    """The rows of one feed, deduplicated against the last row kept."""

    __slots__ = ("_book", "_seq", "_ts", "_ts_local", "counts", "exchange", "last", "symbol")

    def __init__(self, exchange: str, symbol: str, counts: Counts) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.counts = counts
        self.last: Top | None = None
        self._ts: list[int] = []
        self._ts_local: list[int | None] = []
        self._seq: list[int] = []
        self._book: list[Top] = []
        counts.feeds.append((exchange, symbol))

    def add(self, ts: int, ts_local: int | None, seq: int, top: Top | str) -> None:
        """Keep the book `top` (from `Book.top`) if it is valid and differs from the last row."""
        if isinstance(top, str):
            self.counts.skip(top)
            return
        if top == self.last:
            self.counts.unchanged += 1
            return
        self.last = top
        self._ts.append(ts)
        self._ts_local.append(ts_local)
        self._seq.append(seq)
        self._book.append(top)
        self.counts.rows += 1

    def __len__(self) -> int:
        return len(self._ts)

    def take(self) -> pl.DataFrame:
        """The rows kept since the last `take`, as a frame of `SCHEMA`."""
        n = len(self._ts)
        cols: dict[str, object] = {
            "exchange": [self.exchange] * n,
            "symbol": [self.symbol] * n,
            "ts": self._ts,
        }
        by_column = list(zip(*self._book, strict=True)) if n else [()] * len(BOOK_COLUMNS)
        for name, values in zip(BOOK_COLUMNS, by_column, strict=True):
            cols[name] = values
        cols["ts_local"] = self._ts_local
        cols["seq"] = self._seq
        self._ts, self._ts_local, self._seq, self._book = [], [], [], []
        return pl.DataFrame(cols, schema=SCHEMA)
