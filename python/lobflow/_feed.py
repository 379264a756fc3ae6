"""Turn a user's feed (polars, NumPy structured array, Parquet) into the engine's columns.

No row ever becomes a Python object: float64 columns without nulls are handed over as
zero-copy views, anything else is converted column-wise once.
"""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from lobflow._parts import folder_parts, footer, unreadable
from lobflow._schema import (
    ASK_PX,
    ASK_SZ,
    BID_PX,
    BID_SZ,
    BOOK_COLUMNS,
    CONTRACT_COLUMNS,
    FEED_KEYS,
)
from lobflow.errors import LobflowWarning

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from numpy.typing import NDArray

FeedLike = pl.DataFrame | pl.LazyFrame | np.ndarray[Any, Any] | str | os.PathLike[str]


#: The columns the engine checks row by row (deeper prices may be NaN: an empty level).
_CHECKED = {"ts": "timestamp", "bid_px_0": "price", "ask_px_0": "price"} | {
    c: "size" for c in BID_SZ + ASK_SZ
}
_BAD_ROW = re.compile(r"bad feed at row (\d+), column `([^`]+)`: ")


@dataclass(frozen=True)
class EngineColumns:
    """`ts` as int64 ns and the 20 book columns as contiguous float64, in contract order."""

    ts: NDArray[np.int64]
    cols: list[NDArray[np.float64]]
    #: Rows that were null in the input, per checked column that had any (see `null_message`).
    null_rows: dict[str, NDArray[np.int64]] = field(default_factory=dict)

    def null_message(self, err: ValueError) -> str | None:
        """The engine's bad-row error restated for a value that was null before conversion.

        The engine sees nulls as the NaN (or the -1 timestamp) standing in for them and says
        "NaN or infinite"; the row and column it names are the first bad ones either way.
        None when the named value was not null.
        """
        m = _BAD_ROW.match(str(err))
        if m is None or m[2] not in self.null_rows:
            return None
        row, column = int(m[1]), m[2]
        rows = self.null_rows[column]
        i = int(np.searchsorted(rows, row))
        if i == len(rows) or rows[i] != row:
            return None
        return f"bad feed at row {row}, column `{column}`: null {_CHECKED[column]}"


def scan_books(path: str | os.PathLike[str]) -> pl.LazyFrame:
    """A Parquet file, or a hive-partitioned folder of them (``exchange=…/symbol=…/``), lazily.

    Every stage that takes a path reads it through here. A folder's files are read per feed
    in time order (by the `ts` statistics of their footers, not by name), and a file that is
    not Parquet, or unlike the folder's others, is a `ValueError` naming it (`lobflow._parts`).
    """
    if not os.fspath(path):
        # Path("") is ".": the working directory would be read in its place.
        msg = "books path is empty"
        raise ValueError(msg)
    p = Path(path)
    # The files are listed here and handed over with glob=False: polars would take `*`, `?`
    # and `[...]` in a name for a pattern (`day*.parquet` read its siblings too, and a file
    # named `data[1].parquet` was "not found").
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            msg = f"books not found: {p} is a folder without Parquet files (*.parquet)"
            raise FileNotFoundError(msg)
        return pl.scan_parquet(folder_parts(p, files), hive_partitioning=True, glob=False)
    if not p.exists():
        msg = f"books not found: {p}"
        raise FileNotFoundError(msg)
    footer(p)
    return pl.scan_parquet(p, glob=False)


@contextmanager
def named_read_errors(books: object) -> Iterator[None]:
    """Turn polars' error reading the Parquet path `books` into one naming the file.

    A file whose footer is whole can still fail to decompress when its pages are read, deep
    inside a stage's plan; polars' message then names neither the file nor the row. Other
    inputs (frames) pass their errors through unchanged.
    """
    try:
        yield
    except pl.exceptions.PolarsError as err:
        bad = unreadable_file(Path(books)) if isinstance(books, str | os.PathLike) else None
        if bad is None:  # every file reads on its own: not a broken file
            raise
        raise bad from err


def unreadable_file(path: Path) -> ValueError | None:
    """The error naming the first file at `path` (a file or folder) polars cannot read.

    Each file is read again on its own, every page decoded, on an error path only. None when
    each reads.
    """
    files = sorted(f for f in path.rglob("*.parquet") if f.is_file()) if path.is_dir() else [path]
    for f in files:
        try:
            # In streaming batches: one file may be larger than memory.
            every_page = pl.scan_parquet(f, glob=False).select(pl.all().null_count())
            every_page.collect(engine="streaming")
        except pl.exceptions.PolarsError as e:
            return unreadable(f, e)
    return None


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
        return read_books(feed)
    kind = type(feed)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    msg = (
        "feed must be a polars DataFrame or LazyFrame, a NumPy structured array or a Parquet "
        f"path, not {name}"
    )
    top = kind.__module__.partition(".")[0]
    if top == "pandas":
        msg += "; convert it with `pl.from_pandas(df)`"
    elif top == "pyarrow":
        msg += "; convert it with `pl.from_arrow(table)`"
    raise TypeError(msg)


def read_books(path: str | os.PathLike[str]) -> pl.DataFrame:
    """`scan_books(path)`, collected; a file that is not readable Parquet is a `ValueError`."""
    lf = scan_books(path)
    with named_read_errors(path):
        return lf.collect()


def check_single_feed(df: pl.DataFrame) -> None:
    """Refuse frames holding several feeds: OFI and windows must never cross feeds."""
    keys = [k for k in FEED_KEYS if k in df.columns]
    if not keys or df.height == 0 or all(_one_value(df.get_column(k)) for k in keys):
        return
    feeds = df.select(keys).unique(maintain_order=True)
    if feeds.height > 1:
        shown = ", ".join(str(tuple(r)) for r in feeds.head(5).iter_rows())
        msg = (
            f"the feed holds {feeds.height} feeds ({shown}{', ...' if feeds.height > 5 else ''}); "
            f"run one at a time, e.g. `for part in df.partition_by({keys!r}): engine.run(part)`"
        )
        raise ValueError(msg)


def _one_value(s: pl.Series) -> bool:
    """Whether every value of `s` equals its first (all null counts as one value).

    One comparison a row: a tenth of `unique`'s hashing, which was most of a short run's cost
    (every engine run and backtest checks its feed). Other dtypes than strings, categoricals
    and numbers answer False, leaving them to `unique`.
    """
    dtype = s.dtype
    if not (dtype.is_numeric() or isinstance(dtype, pl.String | pl.Categorical | pl.Enum)):
        return False
    nulls = s.null_count()
    if nulls:
        return nulls == s.len()
    return bool((s == s[0]).all())


def holds_numbers(dtype: pl.DataType) -> bool:
    """Whether a book column of `dtype` is numbers: numeric, or polars' Null type.

    An all-null column built from `pl.lit(None)` or `[]` has the Null type: it holds no value
    of the wrong type, and its nulls are reported (or skipped) as any null is.
    """
    return dtype.is_numeric() or isinstance(dtype, pl.Null)


def check_ts_dtype(dtype: pl.DataType) -> None:
    """A `ts` that is neither integer nor Datetime (nor all-null) is a `ValueError`."""
    if not (dtype.is_integer() or isinstance(dtype, pl.Datetime | pl.Null)):
        msg = f"column `ts` must be int64 nanoseconds (or a Datetime), got {dtype}"
        raise ValueError(msg)


_NS_PER = {"ns": 1, "us": 1_000, "ms": 1_000_000}
_FITS_INT64 = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def ts_beyond_int64(lf: pl.LazyFrame, dtype: pl.DataType) -> tuple[int, str] | None:
    """Row and value of the first `ts` beyond int64 nanoseconds, if any.

    The contract's `ts` is int64 nanoseconds. A UInt64 or Int128 above 2^63, or a
    microsecond Datetime past 2262, does not fit, and polars' own cast error names neither
    the row nor that.
    """
    ts = pl.col("ts")
    if isinstance(dtype, pl.Datetime):
        # The physical value in the column's own unit: scaling it first would overflow.
        per = _NS_PER[dtype.time_unit]
        if per == 1:
            return None
        ts, unit = ts.cast(pl.Int64), dtype.time_unit
        lo, hi = -(2**63) // per, (2**63 - 1) // per
    elif isinstance(dtype, _FITS_INT64) or not dtype.is_integer():
        return None
    else:
        unit, lo, hi = "ns", -(2**63), 2**63 - 1
    beyond = (ts > hi) | (ts < lo)
    first = lf.select(row=beyond.arg_true().first(), value=ts.filter(beyond).first())
    row, value = first.collect().row(0)
    return None if row is None else (int(row), f"{value} {unit}")


def _ts_column(s: pl.Series, *, null_is_bad: bool) -> NDArray[np.int64]:
    if isinstance(s.dtype, pl.Int64) and not s.null_count():
        # The contract's own column, the usual case: a view of polars' buffer.
        return s.to_numpy()
    check_ts_dtype(s.dtype)
    if isinstance(s.dtype, pl.Null):
        s = s.cast(pl.Int64)
    # Outside the contract's int64, as a mistyped column is: an error under on_bad="skip" too.
    beyond = ts_beyond_int64(s.to_frame("ts").lazy(), s.dtype)
    if beyond is not None:
        row, value = beyond
        msg = f"bad feed at row {row}, column `ts`: {value} is beyond int64 nanoseconds"
        raise ValueError(msg)
    if isinstance(s.dtype, pl.Datetime):
        s = s.dt.cast_time_unit("ns").cast(pl.Int64)
    if s.null_count():
        if not null_is_bad:
            row = int(s.is_null().arg_true()[0])
            msg = f"bad feed at row {row}, column `ts`: null timestamp"
            raise ValueError(msg)
        # The engine takes a negative timestamp for a bad row (skipped under on_bad="skip",
        # named under "raise"), and a timestamp has no NaN to stand in for a null: -1 does.
        s = s.cast(pl.Int64).fill_null(-1)
    arr = s.cast(pl.Int64).to_numpy()
    return np.ascontiguousarray(arr, dtype=np.int64)


def _book_column(name: str, s: pl.Series, dtype: pl.DataType, nulls: int) -> NDArray[np.float64]:
    if not holds_numbers(dtype):
        msg = f"column `{name}` must be numeric, got {dtype}"
        raise ValueError(msg)
    if not isinstance(dtype, pl.Float64) or nulls:
        # Nulls become NaN, which the engine reports (or skips) with its row number.
        s = s.cast(pl.Float64).fill_null(float("nan"))
    return np.ascontiguousarray(s.to_numpy(), dtype=np.float64)


def _warn_narrow_prices(schema: Mapping[str, pl.DataType]) -> None:
    narrow = [
        c for c in BID_PX + ASK_PX if schema[c].is_float() and not isinstance(schema[c], pl.Float64)
    ]
    if narrow:
        names = ", ".join(f"`{c}` ({schema[c]})" for c in narrow)
        msg = (
            f"price column(s) {names} are not float64: float32 cannot hold cent prices above "
            "2^17 = 131072 (its spacing there is 1/64), so these prices were rounded before "
            "lobflow saw them; read or build them as float64"
        )
        warnings.warn(msg, LobflowWarning, stacklevel=4)


def engine_columns(feed: FeedLike, *, null_ts_is_bad: bool = False) -> EngineColumns:
    """Validate the schema of `feed` and return the engine's columns.

    A null `ts` raises here, unless `null_ts_is_bad`: then it becomes -1, which the engine
    takes for a bad row. Warns (`LobflowWarning`) about prices narrower than float64.
    """
    df = to_frame(feed)
    # Names, dtypes and Series each in one call: `df.schema` and a `get_column` per name
    # cost several times more, on every `run()`, which matters for short feeds.
    schema = dict(zip(df.columns, df.dtypes, strict=True))
    missing = [c for c in CONTRACT_COLUMNS if c not in schema]
    if missing:
        msg = f"feed is missing column(s) {', '.join(f'`{c}`' for c in missing)}"
        raise ValueError(msg)
    check_single_feed(df)
    series = dict(zip(df.columns, df.get_columns(), strict=True))
    nulls = {c: series[c].null_count() for c in CONTRACT_COLUMNS}
    ts = _ts_column(series["ts"], null_is_bad=null_ts_is_bad)
    if all(isinstance(schema[c], pl.Float64) and not nulls[c] for c in BOOK_COLUMNS):
        # The contract's own columns, the usual case: each a view of polars' buffer (a copy
        # only where the column is in several chunks), with no test per column beyond this.
        cols = [series[c].to_numpy() for c in BOOK_COLUMNS]
    else:
        _warn_narrow_prices(schema)
        cols = [_book_column(c, series[c], schema[c], nulls[c]) for c in BOOK_COLUMNS]
    null_rows = {
        c: series[c].is_null().arg_true().cast(pl.Int64).to_numpy() for c in _CHECKED if nulls[c]
    }
    return EngineColumns(ts, cols, null_rows)
