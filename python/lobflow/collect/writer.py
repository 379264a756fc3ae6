"""Hive-partitioned Parquet part files, written whole and atomically.

Rows are buffered in memory and flushed at most every `flush_every_s` seconds. Each flush
writes ``.<name>.tmp`` in the partition folder, fsyncs it and renames it to ``<name>``
(`os.replace` is atomic on POSIX), so a reader, or a ``kill -9``, never leaves a partial file:
what is lost on a crash is at most the rows of the last interval. On clean shutdown the parts
of each partition are compacted into one file the same way, and only then are the small parts
removed; a crash in between leaves a ``.compacting`` marker the next start-up resolves.

Recovery touches only what the collector itself wrote: names of its own pattern (`PART`,
`TEMP`), inside its own partition folders (`LAYOUT`, `LEVEL`), and markers whose every listed
name is one of its parts. Anything else under ``--out`` is the user's and is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lobflow._files import atomic_write
from lobflow._schema import BOOK_COLUMNS
from lobflow.errors import CollectorError

log = logging.getLogger("lobflow.collect")

#: A part file's name: written by a flush (random suffix) or by compaction.
PART = re.compile(r"part-[0-9]{1,20}-(?:[0-9a-f]{8}|compacted)\.parquet")
#: The temp file `atomic_write` fills before renaming it to a part's name.
TEMP = re.compile(r"\.(part-[0-9]{1,20}-(?:[0-9a-f]{8}|compacted)\.parquet)\.tmp")
#: Partition folder names by level.
LEVEL = {
    "exchange": re.compile(r"exchange=[a-z0-9_]{1,32}"),
    "symbol": re.compile(r"symbol=[A-Z0-9]{1,20}-[A-Z0-9]{1,20}"),
    "date": re.compile(r"date=[0-9]{4}-[0-9]{2}-[0-9]{2}"),
}
#: The partition levels of each kind of output, below ``<out>/<kind>/``. WebSocket raw frames
#: are per venue (a connection carries all its symbols; the frame says which).
LAYOUT: dict[str, tuple[str, ...]] = {
    "raw": ("exchange", "symbol", "date"),
    "processed": ("exchange", "symbol", "date"),
    "raw_ws": ("exchange", "date"),
    "signals": ("exchange", "symbol", "date"),
}
#: The compaction marker, and the first line that says the collector wrote it.
MARKER = ".compacting"
MARKER_HEADER = "lobflow compacting"

#: Columns of a part file (the partition values `exchange`/`symbol` live in the path). Fixed
#: types, so that a part whose venue sends no sequence still has an int64 `seq` column.
SCHEMAS: dict[str, pa.Schema] = {
    "raw": pa.schema(
        [
            ("ts_local", pa.int64()),
            ("status", pa.int32()),
            ("latency_ns", pa.int64()),
            ("url", pa.string()),
            ("body", pa.string()),
        ]
    ),
    "processed": pa.schema(
        [("ts", pa.int64())]
        + [(c, pa.float64()) for c in BOOK_COLUMNS]
        + [("ts_local", pa.int64()), ("seq", pa.int64())]
    ),
    # Every WebSocket event in the order the book machine saw it: ``(run, n)`` orders a venue's
    # events (`lobflow.collect.ws.replay` rebuilds the processed rows from them).
    "raw_ws": pa.schema(
        [
            ("run", pa.int64()),
            ("n", pa.int64()),
            ("ts_local", pa.int64()),
            ("conn", pa.int32()),
            ("event", pa.string()),
            ("symbol", pa.string()),
            ("status", pa.int32()),
            ("body", pa.string()),
        ]
    ),
    # `lobflow live`'s scores, one per processed row (`lobflow.live`): the row's ``ts``,
    # ``ts_local`` and ``seq``, its score and signal, and frame read -> signal readable, ns.
    "signals": pa.schema(
        [
            ("ts", pa.int64()),
            ("ts_local", pa.int64()),
            ("seq", pa.int64()),
            ("score", pa.float64()),
            ("signal", pa.int8()),
            ("latency_ns", pa.int64()),
        ]
    ),
}

#: Buffered rows of one partition, as tuples in the schema's column order.
Rows = list[tuple[Any, ...]]
#: A partition: its level values in `LAYOUT` order, the date last.
Key = tuple[str, ...]
_NS_PER_DAY = 86_400 * 10**9


class _Dates:
    """UTC dates of ns timestamps, one datetime call per day rather than per row."""

    def __init__(self) -> None:
        self._day = -1
        self._text = ""

    def __call__(self, ts_ns: int) -> str:
        day = ts_ns // _NS_PER_DAY
        if day != self._day:
            self._text = datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")
            self._day = day
        return self._text


class PartWriter:
    """Buffers rows per partition (`LAYOUT`) and writes part files atomically.

    `kind` is ``"raw"``, ``"processed"`` or ``"raw_ws"``; it fixes the part files' schema
    (`SCHEMAS`) and partition levels.
    """

    def __init__(self, root: Path, kind: str, flush_every_s: float = 5.0) -> None:
        self.root = Path(root) / kind
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.levels = LAYOUT[kind]
        self.flush_every_s = flush_every_s
        self._rows: dict[Key, Rows] = {}
        self._last_flush = time.monotonic()
        self._date = _Dates()
        self.files_written = 0
        self.rows_written = 0

    def add(self, exchange: str, symbol: str, ts_ns: int, row: dict[str, Any]) -> None:
        """Queue one row (a dict of the schema's columns), dated by `ts_ns` (UTC)."""
        self.add_row((exchange, symbol), ts_ns, tuple(row[n] for n in self.schema.names))

    def add_row(self, parts: tuple[str, ...], ts_ns: int, row: tuple[Any, ...]) -> None:
        """Queue one row (the schema's columns in order) for the partition `parts` + date."""
        key = (*parts, self._date(ts_ns))
        rows = self._rows.get(key)
        if rows is None:
            self.partition(*key)  # a name that would leave the folder fails here, not at flush
            rows = self._rows[key] = []
        rows.append(row)

    def due(self) -> bool:
        """True when the flush interval has passed."""
        return time.monotonic() - self._last_flush >= self.flush_every_s

    def partition(self, *values: str) -> Path:
        """The folder of one partition; a ValueError for names outside the venues' alphabets."""
        if len(values) != len(self.levels):
            msg = f"{self.kind} partitions are {self.levels}, got {values!r}"
            raise ValueError(msg)
        names = [f"{level}={v}" for level, v in zip(self.levels, values, strict=True)]
        for name, level in zip(names, self.levels, strict=True):
            if not LEVEL[level].fullmatch(name):
                msg = (
                    f"partition {name!r} is not a collector partition name ({LEVEL[level].pattern})"
                )
                raise ValueError(msg)
        return self.root.joinpath(*names)

    def take(self) -> dict[Key, Rows]:
        """Hand over the buffered rows and start a new buffer (call on the adding thread)."""
        rows, self._rows = self._rows, {}
        self._last_flush = time.monotonic()
        return rows

    def write(self, batches: dict[Key, Rows]) -> int:
        """Write taken rows as one new part file per partition (safe in a worker thread).

        Each partition leaves `batches` once its file is in place, so when a write fails
        (disk full, permissions) `batches` holds exactly the rows not written, for `requeue`.
        """
        n = 0
        for key in list(batches):
            rows = batches[key]
            columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.schema)
            table = pa.Table.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns, self.schema, strict=True)],
                schema=self.schema,
            )
            if table.num_rows:
                name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
                _atomic_write_part(table, self.partition(*key), name)
                n += table.num_rows
                self.rows_written += table.num_rows
                self.files_written += 1
            del batches[key]
        return n

    def requeue(self, batches: dict[Key, Rows]) -> None:
        """Put rows a failed `write` left back in front of the buffer (on the adding thread)."""
        for key, rows in batches.items():
            newer = self._rows.get(key)
            if newer is not None:
                rows.extend(newer)
            self._rows[key] = rows
        batches.clear()

    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return sum(len(rows) for rows in self._rows.values())

    def flush(self) -> int:
        """Write everything buffered now; returns rows written. On failure the rows stay."""
        batches = self.take()
        try:
            return self.write(batches)
        finally:
            self.requeue(batches)

    def compact(self) -> int:
        """Merge each partition's parts into one file; returns partitions compacted."""
        done = 0
        for folder in sorted(_partitions(self.root.parent, (self.kind,))):
            parts = sorted(p for p in folder.iterdir() if PART.fullmatch(p.name))
            if len(parts) < 2:
                continue
            marker = folder / MARKER
            marker.write_text(marker_text([p.name for p in parts]))
            df = pl.concat([pl.read_parquet(p) for p in parts], how="vertical_relaxed")
            if "n" in df.columns:  # WebSocket events: the machine's order, not the clock's
                df = df.sort("run", "n", maintain_order=True)
            elif "ts" in df.columns:
                df = df.sort("ts", maintain_order=True)
            elif "ts_local" in df.columns:
                df = df.sort("ts_local", maintain_order=True)
            atomic_write(
                folder / f"part-{time.time_ns()}-compacted.parquet",
                partial(df.write_parquet, compression="zstd", statistics=True),
            )
            for p in parts:
                p.unlink()
            marker.unlink()
            done += 1
        return done


class Discard(PartWriter):
    """A writer that keeps nothing: a run asked to record nothing (``out=None``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(Path(os.devnull), kind)

    def add_row(self, parts: tuple[str, ...], ts_ns: int, row: tuple[Any, ...]) -> None:
        """Drop the row."""

    def compact(self) -> int:
        """Nothing to compact."""
        return 0


def marker_text(parts: list[str]) -> str:
    """The content of a compaction marker listing `parts` (names in the marker's folder)."""
    return "\n".join([MARKER_HEADER, *parts]) + "\n"


def check_out(root: Path) -> None:
    """Refuse an output place the collector cannot write, before it collects anything.

    A file, a path under a file, or a folder without write permission is a `CollectorError`
    naming it (a collector would otherwise run for its whole duration and lose every row).
    So is each of its ``raw/``, ``processed/``, ... (`LAYOUT`) that exists but is a file or
    cannot be written.
    """
    root = Path(root)
    for place in (root, *(root / kind for kind in LAYOUT)):
        if place is not root and not place.exists():
            continue
        named = f"--out {root}" if place is root else f"--out {root}: {place}"
        if place.exists() and not place.is_dir():
            msg = f"{named} is a file, not a folder"
            raise CollectorError(msg)
        try:
            place.mkdir(parents=True, exist_ok=True)
            # An unnamed temp file where the OS has them: nothing is left if we die here.
            with tempfile.TemporaryFile(dir=place):
                pass
        except OSError as e:
            msg = f"{named} is not a folder the collector can write: {e.strerror or e}"
            raise CollectorError(msg) from e


def _partitions(root: Path, kinds: tuple[str, ...]) -> list[Path]:
    """The collector's partition folders under `root` (real folders with its names only)."""
    found = []
    for kind in kinds:
        level = [root / kind]
        for pattern in (LEVEL[name] for name in LAYOUT[kind]):
            level = [
                child
                for folder in level
                if folder.is_dir() and not folder.is_symlink()
                for child in folder.iterdir()
                if pattern.fullmatch(child.name) and child.is_dir() and not child.is_symlink()
            ]
        found.extend(level)
    return found


def _marker_parts(marker: Path) -> list[str] | None:
    """The part names a marker lists, or None when it is not one the collector wrote."""
    try:
        lines = [line.strip() for line in marker.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    if lines and lines[0] == MARKER_HEADER:
        lines = lines[1:]
    if not lines or not all(PART.fullmatch(name) for name in lines):
        return None
    return lines


def recover(root: Path, kinds: tuple[str, ...] = tuple(LAYOUT)) -> int:
    """Finish compactions interrupted by a crash and remove the collector's stray temp files.

    Only inside the collector's own partition folders (`LAYOUT`, `LEVEL`), only files of its own
    naming (`TEMP`) and markers listing nothing but its parts; returns the fixes made.
    """
    fixed = 0
    for folder in _partitions(Path(root), kinds):
        for entry in folder.iterdir():
            if TEMP.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
                entry.unlink()
                fixed += 1
        marker = folder / MARKER
        if not marker.is_file() or marker.is_symlink():
            continue
        names = _marker_parts(marker)
        if names is None:
            log.warning("%s is not a compaction marker of the collector's: left alone", marker)
            continue
        # The compacted file was renamed in (it is newer than every listed part) or it was not:
        # either way, deleting the listed parts is only right in the first case.
        listed = [folder / n for n in names]
        compacted = [c for c in folder.glob("part-*-compacted.parquet") if c.name not in names]
        newest_part = max((p.stat().st_mtime_ns for p in listed if p.exists()), default=0)
        if any(c.stat().st_mtime_ns >= newest_part for c in compacted):
            for p in listed:
                p.unlink(missing_ok=True)
        marker.unlink()
        fixed += 1
    return fixed


def _atomic_write_part(table: pa.Table, folder: Path, name: str) -> Path:
    # Periodic parts are small (a few rows per feed) and many (two per feed per flush), so
    # their fixed cost is the collector's largest CPU item. pyarrow's writer costs ~0.5 ms a
    # file where polars' (a streaming-engine query per file since polars 1.3x) costs ~1.3 ms;
    # lz4 without statistics keeps it cheap, and compaction rewrites with zstd and statistics.
    return atomic_write(
        folder / name, partial(pq.write_table, table, compression="lz4", write_statistics=False)
    )
