"""Contract books as hftbacktest events: `to_hftbacktest` (an array), `export_hftbacktest` (an npz).

The first book becomes `DEPTH_SNAPSHOT_EVENT`s, one per present level; each later book
becomes depth events of what changed against the book before: a level that left the top five
is a zero-quantity deletion, a new level or a new size at a price is an update. A book's
deletions come before its updates (bids, then asks), so hftbacktest never sees a crossed
intermediate state. Every event of a book carries `exch_ts` = `ts` and `local_ts` =
`ts_local` (`ts` where a feed has no `ts_local` or a row's is null).

Where `local_ts` never goes back in `ts` order (a receive time usually does not), each event is
both an exchange and a local event. Where it does go back, each event is written twice, as
hftbacktest's own `correct_event_order` does: an exchange-only copy in `exch_ts` order and a
local-only copy in `local_ts` order, so `validate_event_order` holds either way.

A level of size 0 is absent (hftbacktest has no empty level): books padded as the collector
pads a short book come back unchanged from `lobflow.io.read_hftbacktest`.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lobflow._files import atomic_write
from lobflow._schema import ASK_PX, ASK_SZ, BID_PX, BID_SZ, CONTRACT_COLUMNS, LEVELS
from lobflow.io._errors import SourceError
from lobflow.io._events import (
    BUY_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

    from lobflow._feed import FeedLike

#: Rows per batch read from the books.
BATCH_ROWS = 1 << 17


@dataclass(frozen=True)
class ExportReport:
    """What `export_hftbacktest` wrote."""

    path: Path
    rows: int
    events: int
    #: Whether `local_ts` went back somewhere, so that events were written twice.
    split: bool


def _ns(name: str, schema: pl.Schema) -> pl.Expr:
    """Column `name` as int64 ns (a Datetime of any unit converted, an integer kept)."""
    col = pl.col(name)
    if isinstance(schema[name], pl.Datetime):
        return col.dt.cast_time_unit("ns").cast(pl.Int64)
    return col.cast(pl.Int64)


def _times(df: pl.DataFrame | pl.LazyFrame) -> list[pl.Expr]:
    """`ts` and the local time (`ts_local`, `ts` where it is null or absent) as int64 ns."""
    schema = df.collect_schema()
    ts = _ns("ts", schema)
    local = pl.coalesce(_ns("ts_local", schema), ts) if "ts_local" in schema else ts
    return [ts.alias("ts"), local.alias("lts")]


class _Diff:
    """Turns books into events a batch at a time, remembering the last book."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.prev: NDArray[np.float64] | None = None  # (4, LEVELS): bid px/sz, ask px/sz
        self.last_ts: int | None = None
        self.feed: tuple[object, ...] | None = None
        self.rows = 0

    def events(self, df: pl.DataFrame) -> NDArray[np.void]:
        """The events of `df`'s books (rows in time order, after those already seen)."""
        n = df.height
        first_row = self.rows
        self.rows += n
        if n == 0:
            return np.empty(0, EVENT_DTYPE)
        self._single_feed(df, first_row)
        times = df.select(_times(df))
        if times["ts"].null_count():
            i = int(times["ts"].is_null().arg_true()[0])
            raise SourceError(self.where, "null ts", line=first_row + i, field="ts", unit="row")
        ts = times["ts"].to_numpy()
        self._check_time(ts, first_row)
        lts = times["lts"].to_numpy()
        side = [
            np.column_stack(
                [df[c].cast(pl.Float64).fill_null(float("nan")).to_numpy() for c in cols]
            )
            for cols in (BID_PX, BID_SZ, ASK_PX, ASK_SZ)
        ]
        self._check_values(side, first_row)
        cur = np.stack(side, axis=1)  # (n, 4, LEVELS)
        prev = np.empty_like(cur)
        prev[1:] = cur[:-1]
        snapshot = self.prev is None
        if self.prev is not None:
            prev[0] = self.prev
        self.prev = cur[-1].copy()

        present = (cur[:, (1, 3)] > 0) & np.isfinite(cur[:, (0, 2)])  # (n, 2 sides, LEVELS)
        was = (prev[:, (1, 3)] > 0) & np.isfinite(prev[:, (0, 2)])
        if snapshot:
            was[0] = False
        px, ppx = cur[:, (0, 2)], prev[:, (0, 2)]
        sz, psz = cur[:, (1, 3)], prev[:, (1, 3)]
        # same[i, s, k, m]: level k now and level m before hold the same price on side s.
        same = (
            present[:, :, :, None] & was[:, :, None, :] & (px[:, :, :, None] == ppx[:, :, None, :])
        )
        deleted = was & ~same.any(axis=2)
        kept_size = (same & (sz[:, :, :, None] == psz[:, :, None, :])).any(axis=3)
        updated = present & ~kept_size
        # Candidates in the order events are written: per row, deletions (bid, ask), then
        # updates (bid, ask), each best level first.
        mask = np.concatenate([deleted, updated], axis=1)  # (n, 4, LEVELS)
        cand_px = np.concatenate([ppx, px], axis=1)
        cand_qty = np.concatenate([np.zeros_like(psz), sz], axis=1)
        kind = np.full((n, 4, LEVELS), DEPTH_EVENT, dtype=np.uint64)
        if snapshot:
            kind[0] = DEPTH_SNAPSHOT_EVENT
        sides = np.array([BUY_EVENT, SELL_EVENT, BUY_EVENT, SELL_EVENT], dtype=np.uint64)
        flags = kind | sides[None, :, None]
        rows = np.broadcast_to(np.arange(n)[:, None, None], mask.shape)
        out = np.zeros(int(mask.sum()), EVENT_DTYPE)
        out["ev"] = flags[mask]
        r = rows[mask]
        out["exch_ts"] = ts[r]
        out["local_ts"] = lts[r]
        out["px"] = cand_px[mask]
        out["qty"] = cand_qty[mask]
        return out

    def _single_feed(self, df: pl.DataFrame, first_row: int) -> None:
        keys = [c for c in ("exchange", "symbol") if c in df.columns]
        if not keys:
            return
        feeds = (
            df.select(keys).with_row_index("row").unique(keys, keep="first", maintain_order=True)
        )
        if self.feed is None:
            self.feed = tuple(feeds.row(0)[1:])
        for row in feeds.iter_rows():
            if tuple(row[1:]) != self.feed:
                msg = f"a second feed {tuple(row[1:])} after {self.feed}: export one feed at a time"
                raise SourceError(self.where, msg, line=first_row + int(row[0]), unit="row")

    def _check_time(self, ts: NDArray[np.int64], first_row: int) -> None:
        before = np.concatenate(([ts[0] if self.last_ts is None else self.last_ts], ts[:-1]))
        back = np.flatnonzero(ts < before)
        if back.size:
            i = int(back[0])
            msg = f"ts goes back in time ({int(ts[i])} after {int(before[i])})"
            raise SourceError(self.where, msg, line=first_row + i, field="ts", unit="row")
        self.last_ts = int(ts[-1])

    def _check_values(self, side: list[NDArray[np.float64]], first_row: int) -> None:
        for names_px, names_sz, px, sz in (
            (BID_PX, BID_SZ, side[0], side[1]),
            (ASK_PX, ASK_SZ, side[2], side[3]),
        ):
            bad_sz = ~(np.isfinite(sz) & (sz >= 0))
            bad_px = (sz > 0) & ~np.isfinite(px)
            for bad, names, what in (
                (bad_sz, names_sz, "a size must be finite and >= 0"),
                (bad_px, names_px, "a level with a size needs a finite price"),
            ):
                if bad.any():
                    i, k = (int(x[0]) for x in np.nonzero(bad))
                    raise SourceError(
                        self.where, what, line=first_row + i, field=names[k], unit="row"
                    )


def _scan(books: FeedLike) -> tuple[pl.LazyFrame, str]:
    """`books` as a lazy frame with the contract columns, and a name for errors."""
    from lobflow._feed import scan_books, to_frame

    if isinstance(books, str | os.PathLike):
        lf = scan_books(books)
        where = str(books)
    elif isinstance(books, pl.LazyFrame):
        lf, where = books, "books"
    else:
        lf, where = to_frame(books).lazy(), "books"
    missing = [c for c in CONTRACT_COLUMNS if c not in lf.collect_schema().names()]
    if missing:
        raise SourceError(where, "missing column", field=missing[0])
    return lf, where


def _batches(books: FeedLike) -> tuple[Iterator[pl.DataFrame], str]:
    """Row batches of `books` in their order, and a name for errors."""
    lf, where = _scan(books)
    return iter(lf.collect_batches(chunk_size=BATCH_ROWS)), where


def _with_flags(events: NDArray[np.void], split: bool) -> NDArray[np.void]:
    """Both flags on each event, or (`split`) exchange- and local-only copies, each in order."""
    if not split:
        events["ev"] |= np.uint64(EXCH_EVENT | LOCAL_EVENT)
        return events
    exch = events.copy()
    exch["ev"] |= np.uint64(EXCH_EVENT)
    local = events[np.argsort(events["local_ts"], kind="stable")]
    local["ev"] |= np.uint64(LOCAL_EVENT)
    both = np.concatenate([exch, local])
    key = np.concatenate([exch["exch_ts"], local["local_ts"]])
    return both[np.argsort(key, kind="stable")]


def _local_goes_back(books: FeedLike) -> bool:
    """Whether the local time ever goes back in row order (read a batch at a time)."""
    lf, _ = _scan(books)
    last: int | None = None
    for df in lf.select(_times(lf)[1]).collect_batches(chunk_size=BATCH_ROWS):
        lts = df["lts"].drop_nulls()
        if not len(lts):
            continue
        if bool((lts.diff() < 0).any()) or (last is not None and lts[0] < last):
            return True
        last = int(lts[-1])
    return False


def to_hftbacktest(books: FeedLike) -> NDArray[np.void]:
    """One feed of contract books as hftbacktest's events (`EVENT_DTYPE`), in memory.

    `books` is a DataFrame, LazyFrame, NumPy structured array or a Parquet file / hive folder
    of one feed, rows in time order. A `SourceError` names a bad row and column.
    """
    from lobflow._feed import named_read_errors

    with named_read_errors(books):  # a page that fails to decompress: one line naming its file
        batches, where = _batches(books)
        diff = _Diff(where)
        parts = [diff.events(df) for df in batches]
    events = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    split = bool((np.diff(events["local_ts"]) < 0).any())
    return _with_flags(events, split)


def export_hftbacktest(books: FeedLike, out: str | Path) -> ExportReport:
    """Write one feed of contract books as an npz hftbacktest loads (its array ``data``).

    Streams the books a batch at a time (memory flat in the number of rows) where
    `ts_local` never goes back; the npz is written whole (`lobflow._files.atomic_write`),
    so a failure leaves no file behind.
    """
    from lobflow._feed import named_read_errors

    out = Path(out)
    if out.suffix != ".npz":
        msg = f"--out must name an .npz file, got {out}"
        raise ValueError(msg)
    with named_read_errors(books):  # a page that fails to decompress: one line naming its file
        split = _local_goes_back(books)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(f".{out.name}.events.tmp")
    diff: _Diff | None = None
    try:
        count = 0
        with open(raw, "wb") as fh, named_read_errors(books):
            batches, where = _batches(books)
            diff = _Diff(where)
            if split:
                parts = [diff.events(df) for df in batches]
                events = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
                _with_flags(events, True).tofile(fh)
                count = 2 * len(events)
            else:
                for df in batches:
                    events = _with_flags(diff.events(df), False)
                    events.tofile(fh)
                    count += len(events)
        atomic_write(out, partial(_write_npz, raw, count))
    finally:
        raw.unlink(missing_ok=True)
    return ExportReport(out, diff.rows if diff else 0, count, split)


def _write_npz(raw: Path, count: int, tmp: Path) -> None:
    """An npz holding `data`: the `count` events in `raw` behind a .npy header."""
    header = {
        "descr": np.lib.format.dtype_to_descr(EVENT_DTYPE),
        "fortran_order": False,
        "shape": (count,),
    }
    with (
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("data.npy", "w", force_zip64=True) as member,
    ):
        # Version 1.0, its header padded to 64 bytes: hftbacktest's reader takes no other.
        np.lib.format.write_array_header_1_0(member, header)
        with open(raw, "rb") as src:
            while chunk := src.read(1 << 22):
                member.write(chunk)
