"""Hive-partitioned Parquet part files, written whole and atomically.

Rows are buffered in memory and flushed at most every `flush_every_s` seconds. Each flush
writes ``.<name>.tmp`` in the partition folder, fsyncs it and renames it to ``<name>``
(`os.replace` is atomic on POSIX), so a reader, or a ``kill -9``, never leaves a partial file:
what is lost on a crash is at most the rows of the last interval. On clean shutdown the parts
of each partition are compacted into one file the same way, and only then are the small parts
removed; a crash in between leaves a ``.compacting`` marker the next start-up resolves.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

RAW_SCHEMA = {
    "ts_local": pl.Int64,
    "exchange": pl.String,
    "symbol": pl.String,
    "status": pl.Int32,
    "latency_ns": pl.Int64,
    "url": pl.String,
    "body": pl.String,
}


def _date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


class PartWriter:
    """Buffers rows per (exchange, symbol, date) and writes part files atomically."""

    def __init__(self, root: Path, kind: str, flush_every_s: float = 5.0) -> None:
        self.root = Path(root) / kind
        self.kind = kind
        self.flush_every_s = flush_every_s
        self._rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        self._last_flush = time.monotonic()
        self.files_written = 0
        self.rows_written = 0

    def add(self, row: dict[str, Any], ts_ns: int) -> None:
        """Queue one row for its partition (by the row's exchange, symbol and UTC date)."""
        self._rows[(row["exchange"], row["symbol"], _date(ts_ns))].append(row)

    def due(self) -> bool:
        """True when the flush interval has passed."""
        return time.monotonic() - self._last_flush >= self.flush_every_s

    def partition(self, exchange: str, symbol: str, date: str) -> Path:
        """The folder of one partition."""
        return self.root / f"exchange={exchange}" / f"symbol={symbol}" / f"date={date}"

    def take(self) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
        """Hand over the buffered rows and start a new buffer (call on the adding thread)."""
        rows, self._rows = self._rows, defaultdict(list)
        self._last_flush = time.monotonic()
        return rows

    def write(self, batches: dict[tuple[str, str, str], list[dict[str, Any]]]) -> int:
        """Write taken rows as one new part file per partition (safe in a worker thread)."""
        n = 0
        for (ex, sym, date), rows in batches.items():
            if not rows:
                continue
            df = pl.DataFrame(rows, schema=RAW_SCHEMA if self.kind == "raw" else None)
            # Partition values live in the path (hive), not in the file.
            df = df.drop("exchange", "symbol")
            name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
            _atomic_write(df, self.partition(ex, sym, date), name, compact=False)
            n += len(rows)
            self.files_written += 1
        self.rows_written += n
        return n

    def flush(self) -> int:
        """Write everything buffered now; returns rows written."""
        return self.write(self.take())

    def compact(self) -> int:
        """Merge each partition's parts into one file; returns partitions compacted."""
        done = 0
        for folder in sorted({p.parent for p in self.root.glob("**/part-*.parquet")}):
            parts = sorted(folder.glob("part-*.parquet"))
            if len(parts) < 2:
                continue
            marker = folder / ".compacting"
            marker.write_text("\n".join(p.name for p in parts))
            df = pl.concat([pl.read_parquet(p) for p in parts], how="vertical_relaxed")
            if "ts" in df.columns:
                df = df.sort("ts", maintain_order=True)
            elif "ts_local" in df.columns:
                df = df.sort("ts_local", maintain_order=True)
            _atomic_write(df, folder, f"part-{time.time_ns()}-compacted.parquet", compact=True)
            for p in parts:
                p.unlink()
            marker.unlink()
            done += 1
        return done


def recover(root: Path) -> int:
    """Finish compactions interrupted by a crash and remove stray temp files; returns fixes."""
    fixed = 0
    for tmp in Path(root).glob("**/.*.tmp"):
        tmp.unlink()
        fixed += 1
    for marker in Path(root).glob("**/.compacting"):
        # The compacted file was renamed in (it is newer than every listed part) or it was not:
        # either way, deleting the listed parts is only right in the first case.
        folder = marker.parent
        listed = [folder / n for n in marker.read_text().split()]
        names = {p.name for p in listed}
        compacted = [c for c in folder.glob("part-*-compacted.parquet") if c.name not in names]
        newest_part = max((p.stat().st_mtime_ns for p in listed if p.exists()), default=0)
        if any(c.stat().st_mtime_ns >= newest_part for c in compacted):
            for p in listed:
                p.unlink(missing_ok=True)
        marker.unlink()
        fixed += 1
    return fixed


def _atomic_write(df: pl.DataFrame, folder: Path, name: str, *, compact: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    # Small periodic parts are written cheaply (lz4, no statistics): the collector's CPU budget
    # is tight. Compaction at shutdown rewrites them with zstd and statistics for readers.
    if compact:
        df.write_parquet(tmp, compression="zstd", statistics=True)
    else:
        df.write_parquet(tmp, compression="lz4", statistics=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    final = folder / name
    os.replace(tmp, final)
    return final
