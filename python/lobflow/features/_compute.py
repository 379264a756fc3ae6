"""Vectorised polars expressions for FEATURE_CONTRACT.md (no Python loop per row).

Causal windows without look-ahead: for snapshot n the window starts at the first row m of the
same feed with ``ts_m > ts_n - W`` (a ``search_sorted`` on the feed's timestamps) and ends at
row n itself — a row index, not a timestamp, so a later row with an equal timestamp never
counts. Means come from per-feed cumulative sums of ``value - first value``: subtracting the
feed's first value keeps the sums small (the spread never cancels to zero otherwise), so the
difference of two sums loses at most ~n·ε of the feature's scale.
"""

from __future__ import annotations

import os
from typing import Literal, overload

import polars as pl

from lobflow._feed import scan_books
from lobflow._schema import (
    CONTRACT_COLUMNS,
    DEFAULT_WINDOWS_MS,
    FEED_KEYS,
    LEVELS,
    check_windows,
    feature_names,
)

Books = pl.DataFrame | pl.LazyFrame | str | os.PathLike[str]


def _scan(books: Books) -> pl.LazyFrame:
    if isinstance(books, pl.LazyFrame):
        return books
    if isinstance(books, pl.DataFrame):
        return books.lazy()
    return scan_books(books)


def _per_feed(e: pl.Expr, keys: list[str]) -> pl.Expr:
    return e.over(keys) if keys else e


def _several_feeds(lf: pl.LazyFrame, keys: list[str]) -> bool:
    """Whether the feed keys take more than one value (nulls count as a value)."""
    if not keys:
        return False
    changes = [pl.col(k).ne_missing(pl.col(k).first()).any() for k in keys]
    return bool(lf.select(pl.any_horizontal(changes)).collect().item())


def _check(lf: pl.LazyFrame, keys: list[str], *, streaming: bool) -> None:
    """Raise on the first row that breaks the contract (eager inputs only)."""
    missing = [c for c in CONTRACT_COLUMNS if c not in lf.collect_schema().names()]
    if missing:
        msg = f"books are missing column(s) {', '.join(f'`{c}`' for c in missing)}"
        raise ValueError(msg)
    sizes = [f"{s}_sz_{k}" for s in ("bid", "ask") for k in range(LEVELS)]
    problems = {
        "ts": (_per_feed(pl.col("ts").diff(), keys) < 0).fill_null(False) | pl.col("ts").is_null(),
        "bid_px_0": ~pl.col("bid_px_0").is_finite().fill_null(False),
        "ask_px_0": ~pl.col("ask_px_0").is_finite().fill_null(False)
        | (pl.col("bid_px_0") >= pl.col("ask_px_0")).fill_null(False),
        **{c: ~(pl.col(c).is_finite() & (pl.col(c) >= 0)).fill_null(False) for c in sizes},
    }
    found = (
        lf.with_row_index("_row")
        .select([pl.col("_row").filter(bad).first().alias(name) for name, bad in problems.items()])
        .collect(engine="streaming" if streaming else "in-memory")
    )
    firsts = {c: found[c][0] for c in found.columns if found[c][0] is not None}
    if firsts:
        column, row = min(firsts.items(), key=lambda kv: kv[1])
        why = {
            "ts": "null, or decreasing within its feed",
            "ask_px_0": "not finite, or crossed/locked book (bid_px_0 >= ask_px_0)",
        }.get(column, "not finite" if "px" in column else "NaN, infinite or negative size")
        msg = f"bad books at row {row}, column `{column}`: {why}"
        raise ValueError(msg)


def feature_exprs(
    windows_ms: tuple[int, int, int], keys: list[str]
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """(point features, rolling features) as expressions over one or more feeds."""
    b, a = pl.col("bid_px_0"), pl.col("ask_px_0")
    qb, qa = pl.col("bid_sz_0"), pl.col("ask_sz_0")
    mid = (b + a) / 2
    spread = a - b

    def prev(e: pl.Expr) -> pl.Expr:
        return _per_feed(e.shift(1), keys)

    def ind(cond: pl.Expr) -> pl.Expr:
        return cond.cast(pl.Float64)

    pb, pa, pqb, pqa = prev(b), prev(a), prev(qb), prev(qa)
    ofi = (
        pl.when(pb.is_null())
        .then(0.0)
        .otherwise(ind(b >= pb) * qb - ind(b <= pb) * pqb - ind(a <= pa) * qa + ind(a >= pa) * pqa)
    )
    depth = qb + qa
    micro = pl.when(depth == 0).then(mid).otherwise((b * qa + a * qb) / depth)
    point = [
        mid.alias("mid"),
        spread.alias("spread"),
        ofi.alias("ofi"),
        micro.alias("microprice"),
    ]
    for k in range(LEVELS):
        bs, az = pl.col(f"bid_sz_{k}"), pl.col(f"ask_sz_{k}")
        d = bs + az
        point.append(pl.when(d == 0).then(0.0).otherwise((bs - az) / d).alias(f"qi_{k}"))

    idx = _per_feed(pl.int_range(pl.len()), keys)
    rolling: list[pl.Expr] = []
    for name, src in (("ofi", "ofi"), ("spread", "spread"), ("qi0", "qi_0")):
        v = pl.col(src)
        first = _per_feed(v.first(), keys)
        cs = pl.col(f"_cs_{src}")
        for w in windows_ms:
            start = pl.col(f"_start_{w}")
            before = _per_feed((cs - (v - first)).gather(start), keys)
            mean = (cs - before) / (idx - start + 1).cast(pl.Float64) + first
            rolling.append(mean.alias(f"rolling_{name}_{w}ms"))
    return point, rolling


def helper_exprs(windows_ms: tuple[int, int, int], keys: list[str]) -> list[pl.Expr]:
    """Window starts and per-feed cumulative sums, each computed once and shared.

    One search per window serves the three series; one cumulative sum of each series (minus
    its feed's first value) serves the three windows.
    """
    out = [
        _per_feed(
            pl.col("ts").search_sorted(pl.col("ts") - w * 1_000_000, side="right"), keys
        ).alias(f"_start_{w}")
        for w in windows_ms
    ]
    for src in ("ofi", "spread", "qi_0"):
        v = pl.col(src)
        out.append(_per_feed((v - v.first()).cum_sum(), keys).alias(f"_cs_{src}"))
    return out


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
        ``"raise"``: `ValueError` naming the first bad row and column (a LazyFrame is
        checked in one streaming pass before the lazy result is returned).
        ``"skip"``: drop rows that break the contract before computing (they enter neither
        OFI nor the windows, as in the engine).
    lazy
        Return a LazyFrame (always the case for a LazyFrame input) so that large inputs can be
        sunk with the streaming engine, e.g. ``.sink_parquet(...)``.

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
    w = check_windows(windows_ms)
    lf = _scan(books)
    names = lf.collect_schema().names()
    keys = [k for k in FEED_KEYS if k in names]
    # `over` costs ~5x even when every row belongs to one feed (the usual case): group only
    # when the keys really change. A LazyFrame keeps its grouping so that it stays lazy.
    split = keys if isinstance(books, pl.LazyFrame) or _several_feeds(lf, keys) else []
    if on_bad == "skip":
        sizes = [f"{s}_sz_{k}" for s in ("bid", "ask") for k in range(LEVELS)]
        ok = (
            pl.col("bid_px_0").is_finite()
            & pl.col("ask_px_0").is_finite()
            & (pl.col("bid_px_0") < pl.col("ask_px_0"))
            & pl.all_horizontal([pl.col(c).is_finite() & (pl.col(c) >= 0) for c in sizes])
        ).fill_null(False)
        lf = lf.filter(ok)
        # A row earlier than its feed's running maximum goes back in time: drop it too.
        lf = lf.filter(pl.col("ts") >= _per_feed(pl.col("ts").cum_max(), split))
    elif on_bad == "raise":
        # Lazy inputs too: one streaming pass over the source, cheaper than features built
        # on a crossed book or a timestamp going backwards (a wrong number, or an error from
        # deep inside polars). Use on_bad="skip" to filter instead.
        _check(lf, split, streaming=not isinstance(books, pl.DataFrame))
    else:
        msg = f"on_bad must be 'raise' or 'skip', got {on_bad!r}"
        raise ValueError(msg)
    point, rolling = feature_exprs(w, split)
    out = (
        lf.select(["ts", *keys, *CONTRACT_COLUMNS[1:]])
        .with_columns(point)
        .with_columns(helper_exprs(w, split))
        .with_columns(rolling)
        .select(["ts", *keys, *feature_names(w)])
    )
    if lazy or isinstance(books, pl.LazyFrame):
        return out
    # In-memory input: the in-memory engine is ~3x faster here; files stream.
    return out.collect(engine="in-memory" if isinstance(books, pl.DataFrame) else "streaming")


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
    pos = _per_feed(pl.col("ts").search_sorted(pl.col("ts") + horizon_ns, side="left"), keys)
    n = _per_feed(pl.len(), keys)
    future = _per_feed(mid.gather(pl.min_horizontal(pos, n - 1)), keys)
    ret = pl.when(pos < n).then((future - mid) / mid * 1e4).otherwise(None)
    future_ts = _per_feed(pl.col("ts").gather(pl.min_horizontal(pos, n - 1)), keys)
    known = pl.when(pos < n).then(future_ts).otherwise(None)
    out = lf.with_columns(ret.alias("fwd_ret_bps"), known.alias("fwd_ts"))
    return out.collect() if isinstance(books, pl.DataFrame) else out
