"""Turn a user's feed (polars, NumPy structured array, Parquet) into the engine's columns.

No row ever becomes a Python object: float64 columns without nulls are handed over as
zero-copy views, anything else is converted column-wise once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from lobflow._schema import BOOK_COLUMNS, CONTRACT_COLUMNS, FEED_KEYS

if TYPE_CHECKING:
    from numpy.typing import NDArray

FeedLike = pl.DataFrame | pl.LazyFrame | np.ndarray[Any, Any] | str | os.PathLike[str]


@dataclass(frozen=True)
class EngineColumns:
    """`ts` as int64 ns and the 20 book columns as contiguous float64, in contract order."""

    ts: NDArray[np.int64]
    cols: list[NDArray[np.float64]]


def scan_books(path: str | os.PathLike[str]) -> pl.LazyFrame:
    """A Parquet file, or a hive-partitioned folder of them (``exchange=…/symbol=…/``), lazily.

    Every stage that takes a path reads it through here.
    """
    p = Path(path)
    if p.is_dir():
        return pl.scan_parquet(p / "**" / "*.parquet", hive_partitioning=True)
    if not p.exists():
        msg = f"books not found: {p}"
        raise FileNotFoundError(msg)
    return pl.scan_parquet(p)


def to_frame(feed: FeedLike) -> pl.DataFrame:
    """Any accepted feed form as a polars DataFrame (views where possible)."""
    if isinstance(feed, pl.LazyFrame):
        return feed.collect()
    if isinstance(feed, pl.DataFrame):
        return feed
    if isinstance(feed, np.ndarray):
        if feed.dtype.names is None:
            msg = "a NumPy feed must be a structured array with the contract's field names"
            raise TypeError(msg)
        return pl.DataFrame({name: feed[name] for name in feed.dtype.names})
    if isinstance(feed, str | os.PathLike):
        return scan_books(feed).collect()
    msg = (
        "feed must be a polars DataFrame, a NumPy structured array or a Parquet path, "
        f"not {type(feed).__name__}"
    )
    raise TypeError(msg)


def check_single_feed(df: pl.DataFrame) -> None:
    """Refuse frames holding several feeds: OFI and windows must never cross feeds."""
    keys = [k for k in FEED_KEYS if k in df.columns]
    if not keys or df.height == 0:
        return
    feeds = df.select(keys).unique(maintain_order=True)
    if feeds.height > 1:
        shown = ", ".join(str(tuple(r)) for r in feeds.head(5).iter_rows())
        msg = (
            f"the feed holds {feeds.height} feeds ({shown}{', ...' if feeds.height > 5 else ''}); "
            f"run one at a time, e.g. `for part in df.partition_by({keys!r}): engine.run(part)`"
        )
        raise ValueError(msg)


def _ts_column(s: pl.Series) -> NDArray[np.int64]:
    if s.dtype == pl.Datetime:
        s = s.dt.cast_time_unit("ns").cast(pl.Int64)
    elif not s.dtype.is_integer():
        msg = f"column `ts` must be int64 nanoseconds (or a Datetime), got {s.dtype}"
        raise ValueError(msg)
    if s.null_count():
        row = int(s.is_null().arg_true()[0])
        msg = f"bad feed at row {row}, column `ts`: null timestamp"
        raise ValueError(msg)
    arr = s.cast(pl.Int64).to_numpy()
    return np.ascontiguousarray(arr, dtype=np.int64)


def _book_column(name: str, s: pl.Series) -> NDArray[np.float64]:
    if not s.dtype.is_numeric():
        msg = f"column `{name}` must be numeric, got {s.dtype}"
        raise ValueError(msg)
    if s.dtype != pl.Float64 or s.null_count():
        # Nulls become NaN, which the engine reports (or skips) with its row number.
        s = s.cast(pl.Float64).fill_null(float("nan"))
    return np.ascontiguousarray(s.to_numpy(), dtype=np.float64)


def engine_columns(feed: FeedLike) -> EngineColumns:
    """Validate the schema of `feed` and return the engine's columns."""
    df = to_frame(feed)
    missing = [c for c in CONTRACT_COLUMNS if c not in df.columns]
    if missing:
        msg = f"feed is missing column(s) {', '.join(f'`{c}`' for c in missing)}"
        raise ValueError(msg)
    check_single_feed(df)
    ts = _ts_column(df.get_column("ts"))
    cols = [_book_column(c, df.get_column(c)) for c in BOOK_COLUMNS]
    return EngineColumns(ts, cols)
