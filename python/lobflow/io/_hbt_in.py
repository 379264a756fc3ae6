"""Books replayed from hftbacktest event files (``.npz`` with an array ``data``, or ``.npy``).

The array is read a chunk of events at a time straight out of the zip member (``np.load`` of
an npz would hold it all), and checked to be hftbacktest's `event_dtype`. The exchange-side
events (`EXCH_EVENT`; an event split by hftbacktest's `correct_event_order` also has a
local-only copy, which is skipped) are replayed in order:

- depth, snapshot and best-bid/offer events set a level (quantity 0 removes it);
- a depth-clear event removes a side from its best price to `px` (all of it when `px` is not
  finite), both sides when it names neither, as hftbacktest's market depth does;
- trades change no book and are skipped; market-by-order (L3) events are refused.

Events sharing `exch_ts` and `local_ts` are one update: the book after the last of them is one
row (`ts` = `exch_ts`, `ts_local` = `local_ts`, `seq` = the index of that event), kept when its
top five changed. Levels are keyed by the stored double itself, as an order-preserving
integer (`ordered_bits`): exact, and several times cheaper than a `Decimal` of its binary
expansion.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from typing import IO, TYPE_CHECKING

import numpy as np

from lobflow.io._book import Book
from lobflow.io._errors import SourceError
from lobflow.io._events import (
    BUY_EVENT,
    DEPTH_BBO_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    KIND_MASK,
    L3_KINDS,
    SELL_EVENT,
    TRADE_EVENT,
)
from lobflow.io._rows import BATCH_ROWS, Counts, FeedRows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import polars as pl
    from numpy.typing import NDArray


def ordered_bits(px: NDArray[np.float64]) -> NDArray[np.int64]:
    """Each double as an integer in the same order: its exact identity, and a fast book key.

    Non-negative doubles order as their bit patterns; negative ones in reverse, so their
    magnitude bits are negated. -0.0 and 0.0 both become 0. No rounding: two keys are equal
    exactly when the doubles are.
    """
    bits = np.ascontiguousarray(px, dtype=np.float64).view(np.int64)
    return np.where(bits >= 0, bits, -(bits & np.int64(0x7FFF_FFFF_FFFF_FFFF)))


#: Events per chunk read (16 MB).
CHUNK = 1 << 18
_SET = (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT)


def _open_array(path: Path, zf: zipfile.ZipFile | None) -> tuple[IO[bytes], int]:
    """The open ``.npy`` stream (past its header) and its length in events."""
    if zf is not None:
        names = zf.namelist()
        if "data.npy" not in names:
            shown = ", ".join(n.removesuffix(".npy") for n in names[:5]) or "none"
            raise SourceError(path, f"no array named `data` in the npz (it has: {shown})")
        fh: IO[bytes] = zf.open("data.npy")
    else:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except ValueError as e:
        fh.close()
        raise SourceError(path, f"`data` is not a NumPy array file: {e}") from e
    if dtype != EVENT_DTYPE:
        fh.close()
        raise SourceError(
            path,
            f"`data` has dtype {dtype.descr}, not hftbacktest's event_dtype {EVENT_DTYPE.descr}",
        )
    if len(shape) != 1 or fortran:
        fh.close()
        raise SourceError(path, f"`data` has shape {shape}, not one row of events")
    return fh, int(shape[0])


def _zip(path: Path) -> zipfile.ZipFile | None:
    """The npz as a zip file; None for a plain ``.npy``; anything else is a `SourceError`."""
    try:
        if zipfile.is_zipfile(path):
            return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise SourceError(path, f"cannot be read as an npz: {e}") from e
    if path.name.endswith(".npy"):
        return None
    raise SourceError(path, "not an npz file (a zip of .npy arrays)")


def chunks(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, NDArray[np.void]]]:
    """(index of the first event, events) a chunk at a time; a short file is an error."""
    zf = _zip(path)
    try:
        fh, total = _open_array(path, zf)
        with fh:
            done = 0
            while done < total:
                want = min(CHUNK, total - done)
                try:
                    raw = fh.read(want * EVENT_DTYPE.itemsize)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                    raise SourceError(
                        path, f"the file breaks off ({e})", line=done, unit="event"
                    ) from e
                got = len(raw) // EVENT_DTYPE.itemsize
                if got < want:
                    raise SourceError(
                        path,
                        f"the file ends after {done + got:,} of its {total:,} events",
                        line=done + got,
                        unit="event",
                    )
                yield done, np.frombuffer(raw, dtype=EVENT_DTYPE)
                done += got
                if progress is not None:
                    progress(done)
    finally:
        if zf is not None:
            zf.close()


def total_events(path: Path) -> int:
    """How many events the file holds (from its header, which is checked)."""
    zf = _zip(path)
    try:
        fh, total = _open_array(path, zf)
        fh.close()
        return total
    finally:
        if zf is not None:
            zf.close()


def _check(
    path: Path, at: NDArray[np.int64], ev: NDArray[np.uint64], events: NDArray[np.void]
) -> None:
    """Refuse events lobflow cannot replay, naming the first one (`at`: file indices)."""
    kind = ev & KIND_MASK
    l3 = np.flatnonzero(np.isin(kind, list(L3_KINDS)))
    if l3.size:
        i = int(l3[0])
        raise SourceError(
            path,
            f"a market-by-order (L3) event (kind {int(kind[i])}): lobflow replays L2 depth only",
            line=int(at[i]),
            field="ev",
            unit="event",
        )
    known = np.isin(kind, [*_SET, DEPTH_CLEAR_EVENT, TRADE_EVENT])
    bad = np.flatnonzero(~known)
    if bad.size:
        i = int(bad[0])
        raise SourceError(
            path, f"unknown event kind {int(kind[i])}", line=int(at[i]), field="ev", unit="event"
        )
    depth = np.isin(kind, _SET)
    buy = (ev & BUY_EVENT) != 0
    sell = (ev & SELL_EVENT) != 0
    sideless = np.flatnonzero(depth & (buy == sell))
    if sideless.size:
        i = int(sideless[0])
        raise SourceError(
            path,
            "a depth event must be either BUY_EVENT (bid) or SELL_EVENT (ask)",
            line=int(at[i]),
            field="ev",
            unit="event",
        )
    px = events["px"]
    qty = events["qty"]
    for name, bad_values in (
        ("px", depth & ~(np.isfinite(px) & (px > 0))),
        ("qty", depth & ~(np.isfinite(qty) & (qty >= 0))),
    ):
        idx = np.flatnonzero(bad_values)
        if idx.size:
            i = int(idx[0])
            value = px[i] if name == "px" else qty[i]
            raise SourceError(
                path,
                f"{value} is not a valid depth {'price' if name == 'px' else 'quantity'}",
                line=int(at[i]),
                field=name,
                unit="event",
            )


def books(
    path: Path,
    counts: Counts,
    *,
    exchange: str = "hftbacktest",
    symbol: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pl.DataFrame]:
    """The books replayed from one event file."""
    rows = FeedRows(exchange, symbol or path.stem, counts)
    book = Book()
    pending = False
    key = (-(2**63), -(2**63))
    last = -1
    last_exch = -(2**63)
    for start, events in chunks(path, progress):
        counts.records += len(events)
        ev_all = events["ev"]
        exch = (ev_all & EXCH_EVENT) != 0
        idx = np.flatnonzero(exch)
        ev = ev_all[idx]
        sub = events[idx]
        at = start + idx
        _check(path, at, ev, sub)
        ets = sub["exch_ts"]
        before = np.concatenate(([last_exch], ets[:-1]))
        back = np.flatnonzero(ets < before)
        if back.size:
            i = int(back[0])
            raise SourceError(
                path,
                f"exch_ts goes back in time ({int(ets[i])} after {int(before[i])}): "
                "exchange events must be in time order",
                line=int(at[i]),
                field="exch_ts",
                unit="event",
            )
        if len(ets):
            last_exch = int(ets[-1])
        kinds = (ev & KIND_MASK).tolist()
        bids = ((ev & BUY_EVENT) != 0).tolist()
        asks = ((ev & SELL_EVENT) != 0).tolist()
        pxs = sub["px"].tolist()
        keys = ordered_bits(sub["px"]).tolist()
        qtys = sub["qty"].tolist()
        lts = sub["local_ts"].tolist()
        for j, t in enumerate(ets.tolist()):
            k = kinds[j]
            if k == TRADE_EVENT:
                continue
            if pending and (t != key[0] or lts[j] != key[1]):
                rows.add(key[0], key[1], last, book.top())
                pending = False
                if len(rows) >= BATCH_ROWS:
                    yield rows.take()
            px = pxs[j]
            if k == DEPTH_CLEAR_EVENT:
                upto = keys[j] if math.isfinite(px) else None
                if bids[j] == asks[j]:
                    book.clear()
                else:
                    book.clear_side(bids[j], upto)
            else:
                book.set(bids[j], keys[j], px, qtys[j])
            key = (t, lts[j])
            last = int(at[j])
            pending = True
    if pending:
        rows.add(key[0], key[1], last, book.top())
    if len(rows):
        yield rows.take()
