"""Imported rows written as the collector's processed layout, all or nothing.

``<out>/exchange=…/symbol=…/date=…/part-<source>.parquet``, with the collector's processed
part-file schema (`PROCESSED`, the same as `lobflow.collect.writer.SCHEMAS["processed"]`,
which a test checks), `date` the UTC day of `ts`. Rows stream
into one Parquet writer per partition inside a hidden staging folder (``.lobflow-import-*``,
file names ending ``.tmp``, so no ``*.parquet`` glob ever sees them). Only when the whole
source has been read are the files synced and moved into place (`os.replace`, atomic per
file, as `lobflow._files.atomic_write` does); on any error the staging folder is removed and
nothing is left behind. The part name comes from the source's name, so importing the same
source again replaces its files instead of doubling the rows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lobflow._schema import BOOK_COLUMNS

if TYPE_CHECKING:
    from pathlib import Path

#: The collector's processed part-file columns (the partition values live in the path).
PROCESSED = pa.schema(
    [("ts", pa.int64())]
    + [(c, pa.float64()) for c in BOOK_COLUMNS]
    + [("ts_local", pa.int64()), ("seq", pa.int64())]
)

#: Rows gathered per partition before they become a Parquet row group (~6 MB of columns:
#: with the block being read, what bounds an import's memory).
GROUP_ROWS = 1 << 15


def part_name(source: Path) -> str:
    """``part-<source name without .csv/.gz/.npz>.parquet``."""
    stem = source.name
    for suffix in (".gz", ".csv", ".npz", ".npy"):
        stem = stem.removesuffix(suffix)
    return f"part-{stem}.parquet"


def _folder_value(kind: str, value: str) -> str:
    if not value or value in (".", "..") or any(c in value for c in "/\\\0"):
        msg = f"{kind} {value!r} cannot name a partition folder ({kind}=…/)"
        raise ValueError(msg)
    return value


class HiveSink:
    """Staged part files under `out`, one per (exchange, symbol, date), moved in by `commit`."""

    def __init__(self, out: Path, name: str) -> None:
        self.out = out
        self.name = name
        self.created_out = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self.stage = out / f".lobflow-import-{uuid.uuid4().hex[:12]}"
        self.stage.mkdir()
        self.schema = PROCESSED
        self._writers: dict[tuple[str, str, str], pq.ParquetWriter] = {}
        self._buffered: dict[tuple[str, str, str], list[pl.DataFrame]] = {}
        self._sizes: dict[tuple[str, str, str], int] = {}
        self.rows = 0

    def _relative(self, key: tuple[str, str, str]) -> str:
        ex, sym, day = key
        ex = _folder_value("exchange", ex)
        sym = _folder_value("symbol", sym)
        return f"exchange={ex}/symbol={sym}/date={day}"

    def write(self, frame: pl.DataFrame) -> None:
        """Add rows (`lobflow.io._rows.SCHEMA`) to their partitions."""
        if not frame.height:
            return
        dated = frame.with_columns(
            date=pl.col("ts").cast(pl.Datetime("ns", "UTC")).dt.strftime("%Y-%m-%d")
        )
        for key, part in dated.partition_by(
            ["exchange", "symbol", "date"], as_dict=True, maintain_order=True
        ).items():
            k = (str(key[0]), str(key[1]), str(key[2]))
            self._buffered.setdefault(k, []).append(part.drop("exchange", "symbol", "date"))
            self._sizes[k] = self._sizes.get(k, 0) + part.height
            if self._sizes[k] >= GROUP_ROWS:
                self._flush(k)

    def _flush(self, key: tuple[str, str, str]) -> None:
        frames = self._buffered.pop(key, [])
        self._sizes.pop(key, None)
        if not frames:
            return
        writer = self._writers.get(key)
        if writer is None:
            folder = self.stage / self._relative(key)
            folder.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(
                folder / f"{self.name}.tmp", self.schema, compression="zstd", write_statistics=True
            )
            self._writers[key] = writer
        table = pl.concat(frames).to_arrow().cast(self.schema)
        writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> list[Path]:
        """Close, sync and move every part file into place; returns the files written."""
        for key in list(self._buffered):
            self._flush(key)
        done: list[Path] = []
        try:
            for key, writer in sorted(self._writers.items()):
                writer.close()
                rel = self._relative(key)
                tmp = self.stage / rel / f"{self.name}.tmp"
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                final = self.out / rel / self.name
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                done.append(final)
        finally:
            self._writers.clear()
            shutil.rmtree(self.stage, ignore_errors=True)
        return done

    def abort(self) -> None:
        """Drop everything staged; `out` too if this import created it and it is empty."""
        for writer in self._writers.values():
            with contextlib.suppress(OSError):
                writer.close()
        self._writers.clear()
        self._buffered.clear()
        shutil.rmtree(self.stage, ignore_errors=True)
        if self.created_out:
            with contextlib.suppress(OSError):
                self.out.rmdir()
