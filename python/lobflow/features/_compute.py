"""Vectorised polars expressions for FEATURE_CONTRACT.md (no Python loop per row).

Causal windows without look-ahead: for snapshot n the window starts at the first row m of the
same feed with ``ts_m > ts_n - W`` and ends at row n itself — a row index, not a timestamp, so
a later row with an equal timestamp never counts. The start is one past the last row with
``ts_m <= ts_n - W``: a backward as-of join of ``ts - W`` onto ``ts``, i.e. one linear merge of
two sorted columns (``search_sorted`` per row, a binary search each, was 8x slower at 10^7
rows and most of the run time). Means come from cumulative sums of ``value - feed's first
value``: subtracting the first value keeps the sums small (the spread never cancels to zero
otherwise), so the difference of two sums loses at most ~n·ε of the feature's scale.
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


def _open(books: Books, on_bad: str) -> tuple[pl.LazyFrame, list[str]]:
    """The books as a LazyFrame and the feed keys they have; bad arguments raise here."""
    if on_bad not in ("raise", "skip"):
        msg = f"on_bad must be 'raise' or 'skip', got {on_bad!r}"
        raise ValueError(msg)
    lf = _scan(books)
    # Asked of a derived plan: once a scan itself has resolved its schema, polars (2.1) stops
    # pushing slices down into it, and `sink`'s slices would re-read all rows before them.
    names = lf.select(pl.all()).collect_schema().names()
    missing = [c for c in CONTRACT_COLUMNS if c not in names]
    if missing:
        msg = f"books are missing column(s) {', '.join(f'`{c}`' for c in missing)}"
        raise ValueError(msg)
    return lf, [k for k in FEED_KEYS if k in names]


def _scan(books: Books) -> pl.LazyFrame:
    if isinstance(books, pl.LazyFrame):
        return books
    if isinstance(books, pl.DataFrame):
        return books.lazy()
    return scan_books(books)


# Several feeds, in memory: each feed goes alone through the one-feed expressions and the rows
# are put back in input order. Lazy: the feeds stay interleaved, `over(keys)` groups shift,
# first, cumulative sums and the time check, window starts come from as-of joins by feed and
# gathers use row numbers of the whole frame. (Grouped `gather` and `search_sorted` under
# `over`, as before, took 15 s for 10^7 rows of 4 feeds; the in-memory path takes ~4 s.)
_ROW = "_input_row"
_FEED = "_feed_id"  # one integer per feed (lazy plan): never null


def _per_feed(e: pl.Expr, keys: list[str]) -> pl.Expr:
    return e.over(keys) if keys else e


def _join_keys(keys: list[str]) -> tuple[list[str], list[pl.Expr]]:
    """Columns to join feeds on, and the expressions that make them.

    A join never matches null to null, but a null key is a feed of its own (as in `over`), so
    each key becomes (value or "", is null). The integer feed id is never null.
    """
    if keys == [_FEED]:
        return keys, []
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


def _several_feeds(lf: pl.LazyFrame, keys: list[str]) -> bool:
    """Whether the feed keys take more than one value (nulls count as a value)."""
    if not keys:
        return False
    changes = [pl.col(k).ne_missing(pl.col(k).first()).any() for k in keys]
    return bool(lf.select(pl.any_horizontal(changes)).collect().item())


def _check(
    lf: pl.LazyFrame, keys: list[str], *, streaming: bool, row: pl.Expr | None = None
) -> None:
    """Raise on the first row that breaks the contract, numbered by `row` (default: position)."""
    sizes = [f"{s}_sz_{k}" for s in ("bid", "ask") for k in range(LEVELS)]
    problems = {
        "ts": (_per_feed(pl.col("ts").diff(), keys) < 0).fill_null(False) | pl.col("ts").is_null(),
        "bid_px_0": ~pl.col("bid_px_0").is_finite().fill_null(False),
        "ask_px_0": ~pl.col("ask_px_0").is_finite().fill_null(False)
        | (pl.col("bid_px_0") >= pl.col("ask_px_0")).fill_null(False),
        **{c: ~(pl.col(c).is_finite() & (pl.col(c) >= 0)).fill_null(False) for c in sizes},
    }
    row = pl.int_range(pl.len(), dtype=pl.Int64) if row is None else row
    found = lf.select([row.filter(bad).first().alias(name) for name, bad in problems.items()])
    found_df = found.collect(engine="streaming" if streaming else "in-memory")
    firsts = {c: found_df[c][0] for c in found_df.columns if found_df[c][0] is not None}
    if firsts:
        column, at = min(firsts.items(), key=lambda kv: kv[1])
        why = {
            "ts": "null, or decreasing within its feed",
            "ask_px_0": "not finite, or crossed/locked book (bid_px_0 >= ask_px_0)",
        }.get(column, "not finite" if "px" in column else "NaN, infinite or negative size")
        msg = f"bad books at row {at}, column `{column}`: {why}"
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

    rolling: list[pl.Expr] = []
    for name, src in (("ofi", "ofi"), ("spread", "spread"), ("qi0", "qi_0")):
        cs = pl.col(f"_cs_{src}")
        first = _per_feed(pl.col(src).first(), keys)
        for w in windows_ms:
            # Sum of the rows after the last one too old: the running sum now minus the
            # running sum at that row (same feed), or all of the feed so far.
            before = cs.gather(pl.col(f"_old_{w}")).fill_null(0.0)
            mean = (cs - before) * pl.col(f"_inv_{w}") + first
            rolling.append(mean.alias(f"rolling_{name}_{w}ms"))
    return point, rolling


def with_window_bounds(
    lf: pl.LazyFrame, windows_ms: tuple[int, int, int], keys: list[str]
) -> pl.LazyFrame:
    """Adds, per window, ``_old_{w}`` and ``_inv_{w}``.

    ``_old_{w}`` is the row number (in the frame) of the feed's last row with
    ``ts_m <= ts_n - W``, null when there is none; ``_inv_{w}`` is one over the window's row
    count. Needs ``ts`` non-decreasing within each feed (checked or filtered before).
    """
    # The joins run on a narrow frame: an as-of join by feed reorders (copies) every column
    # of its left side, which on the full frame cost 5x the joins themselves.
    by, by_exprs = _join_keys(keys)
    nth = _per_feed(pl.int_range(pl.len(), dtype=pl.Int64), keys)  # row within its feed
    row = pl.int_range(pl.len(), dtype=pl.Int64).alias("_row")
    narrow = lf.select("ts", *(by_exprs or by), row, nth.alias("_nth"))
    rows = narrow.select(*by, "_row", "_nth", pl.col("ts").alias("_ts_m"))
    for w in windows_ms:
        narrow = (
            narrow.with_columns((pl.col("ts") - w * 1_000_000).alias("_cut"))
            .join_asof(
                rows,
                left_on="_cut",
                right_on="_ts_m",
                by=by or None,
                strategy="backward",
                suffix="_m",
                # Sorted within each feed by the checks before; polars cannot tell.
                check_sortedness=False,
            )
            .with_columns(
                pl.col("_row_m").alias(f"_old_{w}"),
                (1.0 / (pl.col("_nth") - pl.col("_nth_m").fill_null(-1))).alias(f"_inv_{w}"),
            )
            .drop("_cut", "_row_m", "_nth_m", "_ts_m", strict=False)
        )
    bounds = narrow.select(f"_{kind}_{w}" for w in windows_ms for kind in ("old", "inv"))
    return pl.concat([lf, bounds], how="horizontal")


def cum_sum_exprs(keys: list[str]) -> list[pl.Expr]:
    """Per series, its running sum over the feed minus the feed's first value.

    Subtracting the first value keeps the sums small (the spread never cancels to zero
    otherwise). One sum per series serves the three windows.
    """
    return [
        _per_feed((pl.col(src) - pl.col(src).first()).cum_sum(), keys).alias(f"_cs_{src}")
        for src in ("ofi", "spread", "qi_0")
    ]


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
        Return a LazyFrame (always the case for a LazyFrame input), e.g. to
        ``.sink_parquet(...)``. The window steps need whole columns, so even the streaming
        engine holds ~300 bytes per row at its peak: for inputs larger than memory use
        `features.sink`, which writes the same rows slice by slice.

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
    lf, keys = _open(books, on_bad)
    # One feed (the usual case) needs no grouping: one pass over the key columns tells.
    split = keys if _several_feeds(lf, keys) else []
    if lazy or isinstance(books, pl.LazyFrame):
        if not split:
            return _features(lf, w, keys, [], on_bad=on_bad, check="streaming")
        # One integer per feed, made once: grouping the ~15 per-feed steps by it instead of
        # by the string keys is 1.5x faster.
        lf = lf.with_columns(pl.struct(split).rank("dense").alias(_FEED))
        out = _features(lf, w, keys, [_FEED], on_bad=on_bad, check="streaming", carry=[_FEED])
        return out.drop(_FEED)
    # In-memory input: the in-memory engine is ~3x faster here; files stream.
    engine: Literal["in-memory", "streaming"] = (
        "in-memory" if isinstance(books, pl.DataFrame) else "streaming"
    )
    if not split:
        return _features(lf, w, keys, [], on_bad=on_bad, check=engine).collect(engine=engine)
    df = books if isinstance(books, pl.DataFrame) else lf.collect(engine=engine)
    if on_bad == "raise":
        _check(df.lazy(), split, streaming=False)
    return several_feeds_in_memory(df, w, keys, split, on_bad=on_bad)


def several_feeds_in_memory(
    df: pl.DataFrame,
    w: tuple[int, int, int],
    keys: list[str],
    split: list[str],
    *,
    on_bad: Literal["raise", "skip"],
    carry: list[str] | None = None,
) -> pl.DataFrame:
    """Each feed alone through the one-feed path, then the rows back in input order.

    3x faster than grouping every step with `over` (docs/features.md). The "raise" check is
    the caller's. Columns: `ts`, `keys`, `carry`, the features.
    """
    carry = carry or []
    # Parts without their (string) keys, gathers of the features only: moving strings around
    # was half of the time.
    parts = df.with_row_index(_ROW).partition_by(split, maintain_order=True, include_key=False)
    outs = [
        _features(p.lazy(), w, [], [], on_bad=on_bad, check=None, carry=[_ROW, *carry]).collect()
        for p in parts
    ]
    both = pl.concat(outs)
    order = both[_ROW].arg_sort()
    feats = both.select(*carry, *feature_names(w))[order]
    kept = df.select("ts", *keys)
    if both.height < df.height:  # rows skipped
        kept = kept[both[_ROW].gather(order)]
    return pl.concat([kept, feats], how="horizontal")


def _features(
    lf: pl.LazyFrame,
    w: tuple[int, int, int],
    keys: list[str],
    split: list[str],
    *,
    on_bad: Literal["raise", "skip"],
    check: Literal["in-memory", "streaming"] | None,
    carry: list[str] | None = None,
) -> pl.LazyFrame:
    """The features of `lf`, grouped by `split` (the feed keys, or none for one feed).

    `check`: the engine that runs the "raise" check, or None when the caller did it. `carry`:
    columns passed through to the output.
    """
    carry = carry or []
    lf = lf.select(["ts", *keys, *carry, *CONTRACT_COLUMNS[1:]])
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
    elif check is not None:
        # Lazy inputs too: one streaming pass over the source, cheaper than features built
        # on a crossed book or a timestamp going backwards (a wrong number, or an error from
        # deep inside polars). Use on_bad="skip" to filter instead.
        _check(lf, split, streaming=check == "streaming")
    point, rolling = feature_exprs(w, split)
    out = with_window_bounds(lf.with_columns(point), w, split)
    out = out.with_columns(cum_sum_exprs(split)).with_columns(rolling)
    return out.select(["ts", *keys, *carry, *feature_names(w)])


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
