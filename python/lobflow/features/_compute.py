"""The 18 contract features as one polars expression: a Rust plugin over whole columns.

polars hands the columns of each feed to `lobflow._core` without a copy, which computes all
18 features in one fused pass (validation included, in parallel runs of rows: see
`rust/lobflow-core/src/feature_columns.rs`) and hands them back as a struct column that is
unnested without a copy. Column-at-a-time polars expressions need ~40 passes over memory
per row; the plugin reads each input column once and is bound by the kernel faulting in the
output's fresh pages (docs/features.md).

Causal windows without look-ahead: the window of row n holds the rows m <= n of its feed with
``ts_m > ts_n - W`` — a row index ends it, so a later row with an equal timestamp never counts.
Several feeds in one frame are grouped by the plugin (with polars' group-by), so OFI and
windows never cross them and rows keep their order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, overload

import polars as pl
from polars.plugins import register_plugin_function

from lobflow import _core
from lobflow._feed import (
    check_ts_dtype,
    holds_numbers,
    named_read_errors,
    scan_books,
    ts_beyond_int64,
)
from lobflow._schema import (
    BOOK_COLUMNS,
    CONTRACT_COLUMNS,
    DEFAULT_WINDOWS_MS,
    FEED_KEYS,
    LEVELS,
    check_windows,
)
from lobflow._skipped import SKIP_HINT, warn_if_too_many

Books = pl.DataFrame | pl.LazyFrame | str | os.PathLike[str]

_PLUGIN = Path(_core.__file__)
_STRUCT = "_features"
#: The largest size the engine's ticks carry (f32 lots; docs/tick-encoding.md).
MAX_SIZE = float(_core.MAX_SIZE)
_BAD_ROW = re.compile(r"bad books at row \d+, column `[^`]+`: [^\n]*")


def _open(books: Books, on_bad: str) -> tuple[pl.LazyFrame, list[str]]:
    """The books as a LazyFrame and the feed keys they have; bad arguments raise here."""
    if on_bad not in ("raise", "skip"):
        msg = f"on_bad must be 'raise' or 'skip', got {on_bad!r}"
        raise ValueError(msg)
    lf = _scan(books)
    # Asked of a derived plan: once a scan itself has resolved its schema, polars (2.1) stops
    # pushing slices down into it, and `sink`'s slices would re-read all rows before them.
    schema = lf.select(pl.all()).collect_schema()
    missing = [c for c in CONTRACT_COLUMNS if c not in schema]
    if missing:
        msg = f"books are missing column(s) {', '.join(f'`{c}`' for c in missing)}"
        raise ValueError(msg)
    wrong = [c for c in BOOK_COLUMNS if not holds_numbers(schema[c])]
    if wrong:
        msg = f"book column(s) {', '.join(f'`{c}`' for c in wrong)} must be numeric"
        raise ValueError(msg)
    ts = schema["ts"]
    check_ts_dtype(ts)
    # Outside the contract's int64, as a mistyped column is, so under ``on_bad="skip"`` too, as
    # in the engine.
    beyond = ts_beyond_int64(lf, ts)
    if beyond is not None:
        row, value = beyond
        msg = f"bad books at row {row}, column `ts`: {value} is beyond int64 nanoseconds"
        raise ValueError(msg)
    return lf, [k for k in FEED_KEYS if k in schema]


def _scan(books: Books) -> pl.LazyFrame:
    if isinstance(books, pl.LazyFrame):
        return books
    if isinstance(books, pl.DataFrame):
        return books.lazy()
    return scan_books(books)


def _several_feeds(lf: pl.LazyFrame, keys: list[str]) -> bool:
    """Whether the feed keys take more than one value (nulls count as a value)."""
    if not keys:
        return False
    changes = [pl.col(k).ne_missing(pl.col(k).first()).any() for k in keys]
    return bool(lf.select(pl.any_horizontal(changes)).collect().item())


def _ts_ns(dtype: pl.DataType) -> pl.Expr:
    """`ts` as int64 nanoseconds, whatever integer or Datetime type it came as."""
    if isinstance(dtype, pl.Datetime):
        return pl.col("ts").dt.cast_time_unit("ns").cast(pl.Int64)
    return pl.col("ts").cast(pl.Int64)


def _feature_struct(
    w: tuple[int, int, int], ts: pl.Expr, split: list[str], row: str | None
) -> pl.Expr:
    """All 18 features as a struct column (the plugin call), per feed of the `split` keys.

    The plugin groups the rows into feeds itself: polars' `over` around it gathers and
    scatters every column per feed, which costs more than the features.
    """
    args = [ts, *(_f64(c) for c in BOOK_COLUMNS)]
    if row is not None:
        args.append(pl.col(row))
    return register_plugin_function(
        plugin_path=_PLUGIN,
        function_name="lobflow_features",
        # As strings: the plugin's polars has no Categorical or Enum (it panicked on them).
        args=[*args, *(pl.col(k).cast(pl.String) for k in split)],
        kwargs={"windows_ms": list(w), "row_numbers": row is not None, "keys": len(split)},
        is_elementwise=False,
    )


def _size_carried(c: pl.Expr) -> pl.Expr:
    """A size the engine's f32 ticks carry, as `Feed::check_row` requires of every row."""
    return c.is_finite() & (c >= 0) & (c <= MAX_SIZE)


def _f64(name: str) -> pl.Expr:
    """A book column as the plugin reads it: Decimal and integer columns have no `is_finite`."""
    return pl.col(name).cast(pl.Float64)


def _skip_bad(lf: pl.LazyFrame, split: list[str]) -> pl.LazyFrame:
    """Drop what the engine's ``on_bad="skip"`` skips, so that it enters neither OFI nor windows."""
    sizes = [f"{s}_sz_{k}" for s in ("bid", "ask") for k in range(LEVELS)]
    bid, ask = _f64("bid_px_0"), _f64("ask_px_0")
    ok = (
        (pl.col("ts") >= 0)
        & bid.is_finite()
        & ask.is_finite()
        & (bid > 0)  # and so the ask, above it
        & (bid < ask)
        & pl.all_horizontal([_size_carried(_f64(c)) for c in sizes])
    ).fill_null(False)
    lf = lf.filter(ok)
    # A row earlier than its feed's running maximum goes back in time: drop it too.
    running = pl.col("ts").cum_max()
    return lf.filter(pl.col("ts") >= (running.over(split) if split else running))


def _features(
    lf: pl.LazyFrame,
    w: tuple[int, int, int],
    keys: list[str],
    split: list[str],
    *,
    on_bad: Literal["raise", "skip"],
    carry: list[str] | None = None,
    row: str | None = None,
) -> pl.LazyFrame:
    """`ts`, `keys`, `carry` and the 18 features of `lf`, per feed of `split` (none: one feed).

    `row`: a column numbering the input rows, which errors then name (default: the position in
    `lf`; with ``on_bad="skip"`` rows are dropped first, but then nothing is reported).
    """
    carry = carry or []
    ts = _ts_ns(lf.collect_schema()["ts"])
    if on_bad == "skip":
        lf = _skip_bad(lf.with_columns(ts.alias("ts")), split)
        ts = pl.col("ts")
    feats = _feature_struct(w, ts, split, row)
    # Unnested as a step of its own: `struct.unnest()` inside the select would expand to one
    # `struct.field` per feature and run the whole computation once for each.
    return lf.select(ts.alias("ts"), *keys, *carry, feats.alias(_STRUCT)).unnest(_STRUCT)


def collect(lf: pl.LazyFrame, engine: Literal["in-memory", "streaming"]) -> pl.DataFrame:
    """Collects a features plan; a bad row becomes the `ValueError` that names it."""
    try:
        return lf.collect(engine=engine)
    except pl.exceptions.ComputeError as err:
        bad = _BAD_ROW.search(str(err))
        if bad is None:
            raise
        raise ValueError(bad.group(0)) from err


@overload
def compute(
    books: pl.DataFrame | str | os.PathLike[str],
    windows_ms: tuple[int, int, int] = ...,
    *,
    on_bad: Literal["raise", "skip"] = ...,
    lazy: Literal[False] = ...,
) -> pl.DataFrame: ...
@overload
def compute(
    books: Books,
    windows_ms: tuple[int, int, int] = ...,
    *,
    on_bad: Literal["raise", "skip"] = ...,
    lazy: Literal[True],
) -> pl.LazyFrame: ...
@overload
def compute(
    books: pl.LazyFrame,
    windows_ms: tuple[int, int, int] = ...,
    *,
    on_bad: Literal["raise", "skip"] = ...,
    lazy: bool = ...,
) -> pl.LazyFrame: ...


def compute(
    books: Books,
    windows_ms: tuple[int, int, int] = DEFAULT_WINDOWS_MS,
    *,
    on_bad: Literal["raise", "skip"] = "raise",
    lazy: bool = False,
) -> pl.DataFrame | pl.LazyFrame:
    """The 18 contract features of every snapshot, per feed, in contract order.

    Parameters
    ----------
    books
        A DataFrame, LazyFrame, Parquet file or hive folder with the contract's columns. Rows
        are in feed order; `exchange`/`symbol`, where present, split feeds (OFI and windows
        never cross them).
    windows_ms
        Three positive, ascending window lengths in ms.
    on_bad
        ``"raise"``: `ValueError` naming the first bad row (its position in `books`) and
        column; for a lazy result, a ``polars.exceptions.ComputeError`` with the same message
        when it is collected. ``"skip"``: drop rows that break the contract before computing
        (they enter neither OFI nor the windows, as in the engine); an eager result warns
        (`LobflowWarning`) when more than 10 % of the rows were skipped, as every stage does
        (a lazy one cannot know: compare heights).
    lazy
        Return a LazyFrame (always the case for a LazyFrame input), e.g. to
        ``.sink_parquet(...)``. The windows need whole feeds, so even the streaming engine
        holds the input's columns: for inputs larger than memory use `features.sink`, which
        writes the same rows slice by slice.

    Returns
    -------
    `ts`, the feed keys present, then the 18 features named for `windows_ms`.

    Examples
    --------
    >>> import polars as pl
    >>> from lobflow import features
    >>> book = {c: [1.0, 1.0] for c in features.BOOK_COLUMNS}
    >>> best = {"bid_px_0": [99.0, 99.0], "ask_px_0": [101.0, 103.0]}
    >>> df = pl.DataFrame({"ts": [0, 0], **book, **best})
    >>> features.compute(df)["rolling_spread_10ms"].to_list()
    [2.0, 3.0]
    """
    if lazy or isinstance(books, pl.LazyFrame):
        return _plan(books, windows_ms, on_bad)[0]
    df, total = counted(books, windows_ms, on_bad)
    if on_bad == "skip":
        warn_if_too_many("features.compute", total - df.height, total, SKIP_HINT, stacklevel=2)
    return df


def _plan(
    books: Books, windows_ms: tuple[int, int, int], on_bad: Literal["raise", "skip"]
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The features plan of `books`, and the input it reads."""
    w = check_windows(windows_ms)
    lf, keys = _open(books, on_bad)
    # One feed (the usual case) needs no grouping: one pass over the key columns tells.
    split = keys if _several_feeds(lf, keys) else []
    return _features(lf, w, keys, split, on_bad=on_bad), lf


def counted(
    books: pl.DataFrame | str | os.PathLike[str],
    windows_ms: tuple[int, int, int],
    on_bad: Literal["raise", "skip"],
) -> tuple[pl.DataFrame, int]:
    """`compute(books, windows_ms, on_bad=on_bad)` and the number of input rows, unwarned.

    For the stages that compute features on their way (training), and say themselves how
    many rows were skipped.
    """
    with named_read_errors(books):
        out, lf = _plan(books, windows_ms, on_bad)
        df = collect(out, "in-memory" if isinstance(books, pl.DataFrame) else "streaming")
        if isinstance(books, pl.DataFrame):
            return df, books.height
        # A Parquet scan's row count comes from its footers.
        return df, int(lf.select(pl.len()).collect().item())


def _join_keys(keys: list[str]) -> tuple[list[str], list[pl.Expr]]:
    """Columns to join feeds on, and the expressions that make them.

    A join never matches null to null, but a null key is a feed of its own (as in `over`), so
    each key becomes (value or "", is null).
    """
    names = [f"_by{i}" for i in range(2 * len(keys))]
    exprs = [
        e
        for i, k in enumerate(keys)
        for e in (
            pl.col(k).cast(pl.String).fill_null("").alias(names[2 * i]),
            pl.col(k).is_null().alias(names[2 * i + 1]),
        )
    ]
    return names, exprs


def labels(books: pl.DataFrame | pl.LazyFrame, horizon_ns: int) -> pl.DataFrame | pl.LazyFrame:
    """Forward mid return in bps over `horizon_ns` (column ``fwd_ret_bps``).

    The future mid is the first snapshot of the same feed with ``ts >= ts_n + horizon``; rows
    without one get null. Uses a ``mid`` column where present, else the best bid and ask.
    ``fwd_ts`` is that snapshot's timestamp: the label is only known then, which is what a
    leak-free split must purge by (it can be much later than ``ts_n + horizon`` after a gap).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"ts": [0, 5, 10], "bid_px_0": [99.0, 100.0, 101.0],
    ...                    "ask_px_0": [101.0, 102.0, 103.0]})
    >>> labels(df, 10)["fwd_ret_bps"].to_list()
    [200.0, None, None]
    """
    if horizon_ns <= 0:
        # At 0 the "first snapshot at or after ts_n" can be an earlier row with the same ts.
        msg = f"horizon_ns must be positive, got {horizon_ns}"
        raise ValueError(msg)
    lf = books.lazy()
    names = lf.collect_schema().names()
    keys = [k for k in FEED_KEYS if k in names]
    mid = pl.col("mid") if "mid" in names else (pl.col("bid_px_0") + pl.col("ask_px_0")) / 2
    by, by_exprs = _join_keys(keys)
    if by:
        # polars checks the join's sortedness only without `by`: a `ts` going back within a
        # feed would give wrong labels silently.
        back = (pl.col("ts").diff() < 0).over(by).fill_null(False)
        first_back = lf.with_columns(by_exprs).select(
            pl.int_range(pl.len(), dtype=pl.Int64).filter(back).min()
        )
        row = first_back.collect().item()
        if row is not None:
            msg = f"`ts` decreases within its feed at row {row}: labels need time order"
            raise ValueError(msg)
    future = lf.select(*by_exprs, pl.col("ts").alias("_fwd_ts"), mid.alias("_fwd_mid"))
    # A forward as-of join takes the first row of the feed with ts >= ts_n + horizon: one
    # merge of two sorted columns.
    out = (
        lf.with_columns(*by_exprs, (pl.col("ts") + horizon_ns).alias("_due"))
        .join_asof(
            future,
            left_on="_due",
            right_on="_fwd_ts",
            by=by or None,
            strategy="forward",
            check_sortedness=not by,  # checked above
        )
        .with_columns(
            ((pl.col("_fwd_mid") - mid) / mid * 1e4).alias("fwd_ret_bps"),
            pl.col("_fwd_ts").alias("fwd_ts"),
        )
        .select(*names, "fwd_ret_bps", "fwd_ts")
    )
    return out.collect() if isinstance(books, pl.DataFrame) else out
