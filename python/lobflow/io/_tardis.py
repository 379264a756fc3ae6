"""tardis.dev CSV(.gz) books: ``book_snapshot_N`` rows; books rebuilt from ``incremental_book_L2``.

Both carry `exchange`, `symbol`, `timestamp` (the exchange's time) and `local_timestamp`
(tardis' receive time), in microseconds since the epoch (UTC); they become `ts` and
`ts_local` in ns. A file may hold several instruments: each is its own feed.

- ``book_snapshot_N`` (``asks[k].price``, ``asks[k].amount``, ``bids[k].price``, ...): one
  row per snapshot whose top five levels changed; of 25 levels the first five are kept. An
  empty field is an absent level. Converted a block at a time, without a Python loop.
- ``incremental_book_L2`` (`is_snapshot`, `side`, `price`, `amount`): the book rebuilt level
  by level. Rows sharing `timestamp` and `local_timestamp` are one update (one exchange
  message): the book after all of them is one row. An `is_snapshot` row that starts an
  update, or follows rows that were not snapshot rows, starts a new book (the old one is
  cleared): a snapshot is one update. Amount 0 removes a level. Prices key the book exactly
  (`decimal.Decimal` of the text).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow.compute as pc

from lobflow._schema import LEVELS
from lobflow.io import _csv
from lobflow.io._book import Book
from lobflow.io._errors import SourceError
from lobflow.io._levels import Level, check_prices, check_time, keep_changed, side_columns
from lobflow.io._rows import BATCH_ROWS, SCHEMA, Counts, FeedRows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from numpy.typing import NDArray

BASE = ["exchange", "symbol", "timestamp", "local_timestamp"]
INCREMENTAL = [*BASE, "is_snapshot", "side", "price", "amount"]
#: |µs| beyond this overflows int64 ns.
_MAX_US = (2**63 - 1) // 1000


def kind(path: Path) -> str:
    """``"incremental_book_L2"`` or ``"book_snapshot"`` from the header; else a `SourceError`."""
    names = _csv.header(path)
    if any(n in names for n in ("is_snapshot", "side", "price", "amount")):
        _require(path, names, INCREMENTAL)
        return "incremental_book_L2"
    if any(n.startswith(("asks[", "bids[")) for n in names):
        _require(path, names, _snapshot_columns(names))
        return "book_snapshot"
    msg = (
        "not a tardis book file: its header has neither incremental_book_L2's "
        "is_snapshot/side/price/amount nor book_snapshot_N's asks[k]/bids[k] columns"
    )
    raise SourceError(path, msg, line=1)


def _require(path: Path, names: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise SourceError(path, "missing column in the header", line=1, field=missing[0])


def _snapshot_columns(names: list[str]) -> list[str]:
    depth = sum(1 for n in names if n.startswith("asks[") and n.endswith("].price"))
    levels = max(1, min(LEVELS, depth))
    cols = list(BASE)
    for k in range(levels):
        cols += [f"asks[{k}].price", f"asks[{k}].amount", f"bids[{k}].price", f"bids[{k}].amount"]
    return cols


def _ns(block: _csv.Block, name: str, path: Path) -> NDArray[np.int64]:
    us = _csv.ints(block, name, path)
    over = np.flatnonzero(np.abs(us) > _MAX_US)
    if over.size:
        i = int(over[0])
        raise SourceError(
            path, f"{us[i]} µs is beyond int64 ns", line=block.first_line + i, field=name
        )
    return us * 1000


def snapshots(
    path: Path, counts: Counts, progress: Callable[[int], None] | None = None
) -> Iterator[pl.DataFrame]:
    """The rows of a ``book_snapshot_N`` file."""
    cols = _snapshot_columns(_csv.header(path))
    levels = (len(cols) - len(BASE)) // 4
    last_ts: dict[tuple[str, str], int] = {}
    last_row: dict[tuple[str, str], pl.DataFrame] = {}
    for block in _csv.blocks(path, cols, progress=progress):
        counts.records += block.rows
        lines = np.arange(block.first_line, block.first_line + block.rows, dtype=np.int64)
        data: dict[str, object] = {
            "exchange": _csv.texts(block, "exchange"),
            "symbol": _csv.texts(block, "symbol"),
            "ts": _ns(block, "timestamp", path),
        }
        for side in ("bids", "asks"):
            pxs, szs = side_columns(
                path,
                side == "bids",
                block.first_line,
                lines,
                _snapshot_levels(path, block, side, levels),
            )
            prefix = side[:3]
            for k in range(LEVELS):
                data[f"{prefix}_px_{k}"] = pxs[k]
                data[f"{prefix}_sz_{k}"] = szs[k]
        data["ts_local"] = _ns(block, "local_timestamp", path)
        data["seq"] = lines
        frame = pl.DataFrame(data).select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]
        for key, part in frame.partition_by(
            ["exchange", "symbol"], as_dict=True, maintain_order=True
        ).items():
            feed = (str(key[0]), str(key[1]))
            if feed not in last_ts:
                counts.feeds.append(feed)
            last_ts[feed] = check_time(
                path,
                feed,
                part["ts"].to_numpy(),
                part["seq"].to_numpy(),
                last_ts.get(feed),
                "timestamp",
            )
            kept = keep_changed(part, last_row.get(feed), counts)
            if kept.height:
                last_row[feed] = kept.tail(1)
                yield kept


def _snapshot_levels(path: Path, block: _csv.Block, side: str, levels: int) -> list[Level]:
    out = []
    for k in range(levels):
        px_name, sz_name = f"{side}[{k}].price", f"{side}[{k}].amount"
        px = _csv.floats(block, px_name, path, empty_ok=True)
        sz = _csv.floats(block, sz_name, path, empty_ok=True)
        out.append(Level(px, sz, np.isnan(px) | np.isnan(sz) | (sz == 0), px_name, sz_name))
    return out


class _Feed:
    """One instrument's rebuilt book and the update being gathered."""

    __slots__ = ("book", "in_snapshot", "line", "lts", "pending", "rows", "ts")

    def __init__(self, rows: FeedRows) -> None:
        self.book = Book()
        self.rows = rows
        self.ts = -(2**63)
        self.lts = -(2**63)
        self.line = 0
        self.pending = False
        self.in_snapshot = False

    def emit(self) -> None:
        self.rows.add(self.ts, self.lts, self.line, self.book.top())
        self.pending = False


def incremental(
    path: Path, counts: Counts, progress: Callable[[int], None] | None = None
) -> Iterator[pl.DataFrame]:
    """The books rebuilt from an ``incremental_book_L2`` file."""
    feeds: dict[tuple[str, str], _Feed] = {}
    for block in _csv.blocks(path, INCREMENTAL, progress=progress):
        counts.records += block.rows
        ts = _ns(block, "timestamp", path).tolist()
        lts = _ns(block, "local_timestamp", path).tolist()
        snap = _flags(block, "is_snapshot", ("true", "false"), path)
        bid = _flags(block, "side", ("bid", "ask"), path)
        px_text = _csv.texts(block, "price")
        px_values = _csv.floats(block, "price", path)  # each a finite decimal
        lines = np.arange(block.first_line, block.first_line + block.rows, dtype=np.int64)
        check_prices(path, px_values, np.ones(block.rows, dtype=np.bool_), lines, "price")
        px = px_values.tolist()
        amount = _csv.floats(block, "amount", path)
        neg = np.flatnonzero(amount < 0)
        if neg.size:
            i = int(neg[0])
            raise SourceError(
                path, f"negative amount {amount[i]}", line=block.first_line + i, field="amount"
            )
        sizes = amount.tolist()
        ids, names = _feed_ids(block)
        here = []
        for k in names:
            if k not in feeds:
                feeds[k] = _Feed(FeedRows(k[0], k[1], counts))
            here.append(feeds[k])
        line = block.first_line
        for i in range(block.rows):
            f = here[ids[i]]
            t, lt, s = ts[i], lts[i], snap[i]
            if t < f.ts:
                raise SourceError(
                    path,
                    f"timestamp goes back in time ({t // 1000} µs after {f.ts // 1000} µs, "
                    f"line {f.line:,}) in feed {f.rows.exchange} {f.rows.symbol}",
                    line=line + i,
                    field="timestamp",
                )
            new = t != f.ts or lt != f.lts
            if f.pending and new:
                f.emit()
                if len(f.rows) >= BATCH_ROWS:
                    yield f.rows.take()
            if s and (new or not f.in_snapshot):
                f.book.clear()
            f.in_snapshot = s
            f.book.set(bid[i], Decimal(px_text[i]), px[i], sizes[i])
            f.ts, f.lts, f.line, f.pending = t, lt, line + i, True
    for f in feeds.values():
        if f.pending:
            f.emit()
        if len(f.rows):
            yield f.rows.take()


def _feed_ids(block: _csv.Block) -> tuple[list[int], list[tuple[str, str]]]:
    """Each row's feed as a small integer, and the (exchange, symbol) of each integer.

    Dictionary-encoded in Arrow: two Python strings per row would be most of a block's memory.
    """
    joined = pc.binary_join_element_wise(block.columns["exchange"], block.columns["symbol"], _SEP)
    enc = pc.dictionary_encode(joined)
    names = [tuple(s.split(_SEP, 1)) for s in enc.dictionary.to_pylist()]
    return enc.indices.to_pylist(), names


_SEP = "\x1f"  # ASCII unit separator: in no exchange's or symbol's name


def _flags(block: _csv.Block, name: str, values: tuple[str, str], path: Path) -> list[bool]:
    """A two-valued text column as booleans (True for `values[0]`)."""
    arr = block.columns[name]
    text = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    bad = np.flatnonzero(~np.isin(text, values))
    if bad.size:
        i = int(bad[0])
        raise SourceError(
            path,
            f"expected {values[0]} or {values[1]}, got {arr[i].as_py()!r}",
            line=block.first_line + i,
            field=name,
        )
    return (text == values[0]).tolist()  # type: ignore[no-any-return]
