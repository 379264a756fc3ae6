"""Hive-partitioned Parquet part files, written whole and atomically.

Rows are buffered in memory and flushed at most every `flush_every_s` seconds. Each flush
writes ``.<name>.tmp`` in the partition folder, fsyncs it and renames it to ``<name>``
(`os.replace` is atomic on POSIX), so a reader, or a ``kill -9``, never leaves a partial file:
what is lost on a crash is at most the rows of the last interval. On clean shutdown the parts
of each partition are compacted into one file the same way, and only then are the small parts
removed; a crash in between leaves a ``.compacting`` marker the next start-up resolves.

Recovery touches only what the collector itself wrote: names of its own pattern (`PART`,
`TEMP`), inside its own partition folders (`PARTITION`), and markers whose every listed name is
one of its parts. Anything else under ``--out`` is the user's and is left alone.
"""

from __future__ import annotations

import logging
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
#: Partition folder names, one per level below the kind's folder.
PARTITION = (
    re.compile(r"exchange=[a-z0-9_]{1,32}"),
    re.compile(r"symbol=[A-Z0-9]{1,20}-[A-Z0-9]{1,20}"),
    re.compile(r"date=[0-9]{4}-[0-9]{2}-[0-9]{2}"),
)
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
}

#: Buffered rows of one partition, column by column.
Columns = dict[str, list[Any]]


def _date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


class PartWriter:
    """Buffers rows per (exchange, symbol, date) and writes part files atomically.

    `kind` is ``"raw"`` or ``"processed"``; it fixes the part files' schema (`SCHEMAS`).
    """

    def __init__(self, root: Path, kind: str, flush_every_s: float = 5.0) -> None:
        self.root = Path(root) / kind
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.flush_every_s = flush_every_s
        self._rows: dict[tuple[str, str, str], Columns] = {}
        self._last_flush = time.monotonic()
        self.files_written = 0
        self.rows_written = 0

    def add(self, exchange: str, symbol: str, ts_ns: int, row: dict[str, Any]) -> None:
        """Queue one row (the schema's columns) for its partition, dated by `ts_ns` (UTC)."""
        key = (exchange, symbol, _date(ts_ns))
        cols = self._rows.get(key)
        if cols is None:
            self.partition(*key)  # a name that would leave the folder fails here, not at flush
            cols = self._rows[key] = {name: [] for name in self.schema.names}
        for name, values in cols.items():
            values.append(row[name])

    def due(self) -> bool:
        """True when the flush interval has passed."""
        return time.monotonic() - self._last_flush >= self.flush_every_s

    def partition(self, exchange: str, symbol: str, date: str) -> Path:
        """The folder of one partition; a ValueError for names outside the venues' alphabets."""
        names = (f"exchange={exchange}", f"symbol={symbol}", f"date={date}")
        for name, pattern in zip(names, PARTITION, strict=True):
            if not pattern.fullmatch(name):
                msg = f"partition {name!r} is not a collector partition name ({pattern.pattern})"
                raise ValueError(msg)
        return self.root.joinpath(*names)

    def take(self) -> dict[tuple[str, str, str], Columns]:
        """Hand over the buffered rows and start a new buffer (call on the adding thread)."""
        rows, self._rows = self._rows, {}
        self._last_flush = time.monotonic()
        return rows

    def write(self, batches: dict[tuple[str, str, str], Columns]) -> int:
        """Write taken rows as one new part file per partition (safe in a worker thread).

        Each partition leaves `batches` once its file is in place, so when a write fails
        (disk full, permissions) `batches` holds exactly the rows not written, for `requeue`.
        """
        n = 0
        for key in list(batches):
            ex, sym, date = key
            table = pa.Table.from_pydict(batches[key], schema=self.schema)
            if table.num_rows:
                name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
                _atomic_write_part(table, self.partition(ex, sym, date), name)
                n += table.num_rows
                self.rows_written += table.num_rows
                self.files_written += 1
            del batches[key]
        return n

    def requeue(self, batches: dict[tuple[str, str, str], Columns]) -> None:
        """Put rows a failed `write` left back in front of the buffer (on the adding thread)."""
        for key, cols in batches.items():
            newer = self._rows.get(key)
            if newer is not None:
                for name, values in cols.items():
                    values.extend(newer[name])
            self._rows[key] = cols
        batches.clear()

    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return sum(len(cols["ts_local"]) for cols in self._rows.values())

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
            if "ts" in df.columns:
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


def marker_text(parts: list[str]) -> str:
    """The content of a compaction marker listing `parts` (names in the marker's folder)."""
    return "\n".join([MARKER_HEADER, *parts]) + "\n"


def check_out(root: Path) -> None:
    """Refuse an output place the collector cannot write, before it collects anything.

    A file, a path under a file, or a folder without write permission is a `CollectorError`
    naming it (a collector would otherwise run for its whole duration and lose every row).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        msg = f"--out {root} is a file, not a folder"
        raise CollectorError(msg)
    try:
        root.mkdir(parents=True, exist_ok=True)
        # An unnamed temp file where the OS has them: nothing is left if we die here.
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as e:
        msg = f"--out {root} is not a folder the collector can write: {e.strerror or e}"
        raise CollectorError(msg) from e


def _partitions(root: Path, kinds: tuple[str, ...]) -> list[Path]:
    """The collector's partition folders under `root` (real folders with its names only)."""
    found = []
    for kind in kinds:
        level = [root / kind]
        for pattern in PARTITION:
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


def recover(root: Path, kinds: tuple[str, ...] = ("raw", "processed")) -> int:
    """Finish compactions interrupted by a crash and remove the collector's stray temp files.

    Only inside the collector's own partition folders (`PARTITION`), only files of its own
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
