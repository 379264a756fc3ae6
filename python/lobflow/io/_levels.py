"""Snapshot-per-row sources turned into contract rows a block at a time, without a Python loop.

Shared by tardis ``book_snapshot_N`` and LOBSTER: absent levels padded as the collector pads
a short book, levels checked in price order, invalid books counted and dropped, rows whose
top five did not change dropped, and time checked never to go back within a feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lobflow._schema import BOOK_COLUMNS, LEVELS
from lobflow.io._errors import SourceError

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from lobflow.io._rows import Counts

F64 = np.ndarray[tuple[int], np.dtype[np.float64]]


@dataclass(frozen=True)
class Level:
    """One level of one side over a block: price, size, and whether the level is absent."""

    px: NDArray[np.float64]
    sz: NDArray[np.float64]
    absent: NDArray[np.bool_]
    #: The source's names of the price and size fields, for errors.
    px_field: str
    sz_field: str


def side_columns(
    path: Path, bid: bool, first_line: int, lines: NDArray[np.int64], levels: list[Level]
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """Five prices and sizes of one side, best first, absent levels padded.

    A padded level has the price of the last real level and size 0 (the collector's short
    book, `lobflow.collect.venues.validate`); a side with no level keeps NaN prices, which
    `keep_changed` counts as an empty side. A negative size, a real level's price of zero or
    below (a contract book's prices are positive, as the collector's are), a real level after
    an absent one, and prices out of order are `SourceError`s naming the line and field.
    """
    side = "bid" if bid else "ask"
    pxs: list[NDArray[np.float64]] = []
    szs: list[NDArray[np.float64]] = []
    prev: Level | None = None
    for lv in levels[:LEVELS]:
        neg = np.flatnonzero(lv.sz < 0)
        if neg.size:
            i = int(neg[0])
            raise SourceError(
                path, f"negative size {lv.sz[i]}", line=int(lines[i]), field=lv.sz_field
            )
        check_prices(path, lv.px, ~lv.absent, lines, lv.px_field)
        if prev is not None:
            gap = np.flatnonzero(prev.absent & ~lv.absent)
            if gap.size:
                i = int(gap[0])
                raise SourceError(
                    path,
                    f"a {side} level after an empty one ({prev.px_field})",
                    line=int(lines[i]),
                    field=lv.px_field,
                )
            wrong = (lv.px >= prev.px) if bid else (lv.px <= prev.px)
            bad = np.flatnonzero(~lv.absent & ~prev.absent & wrong)
            if bad.size:
                i = int(bad[0])
                raise SourceError(
                    path,
                    f"{side} prices out of order ({lv.px[i]} after {prev.px[i]})",
                    line=int(lines[i]),
                    field=lv.px_field,
                )
            px = np.where(lv.absent, pxs[-1], lv.px)
        else:
            px = np.where(lv.absent, np.nan, lv.px)
        pxs.append(px)
        szs.append(np.where(lv.absent, 0.0, lv.sz))
        prev = lv
    while len(pxs) < LEVELS:
        pxs.append(pxs[-1])
        szs.append(np.zeros_like(szs[-1]))
    return pxs, szs


def check_prices(
    path: Path,
    px: NDArray[np.float64],
    real: NDArray[np.bool_],
    lines: NDArray[np.int64],
    field: str,
) -> None:
    """Refuse a price of zero or below where `real`: no contract book holds one.

    Written as a row, such a book was refused by every later stage (the backtest checks each
    level) or, at level 0, scored as a book below zero.
    """
    bad = np.flatnonzero(real & (px <= 0))
    if bad.size:
        i = int(bad[0])
        raise SourceError(
            path, f"a price must be > 0, got {float(px[i])!r}", line=int(lines[i]), field=field
        )


def check_time(
    path: Path,
    feed: tuple[str, str],
    ts: NDArray[np.int64],
    lines: NDArray[np.int64],
    last: int | None,
    field: str,
) -> int:
    """Refuse `ts` going back (after `last`, the feed's last time); returns the new last."""
    if not len(ts):
        return last if last is not None else -(2**63)
    before = np.concatenate(([ts[0] if last is None else last], ts[:-1]))
    back = np.flatnonzero(ts < before)
    if back.size:
        i = int(back[0])
        raise SourceError(
            path,
            f"time goes back ({int(ts[i])} ns after {int(before[i])} ns) in feed "
            f"{feed[0]} {feed[1]}",
            line=int(lines[i]),
            field=field,
        )
    return int(ts[-1])


def keep_changed(part: pl.DataFrame, last: pl.DataFrame | None, counts: Counts) -> pl.DataFrame:
    """Valid rows of one feed whose top five differ from the row before.

    `last` is the feed's last kept row (from the block before), so a run of equal books
    across blocks still gives one row. Empty-sided and crossed books are counted and dropped.
    """
    empty = pl.col("bid_px_0").is_nan() | pl.col("ask_px_0").is_nan()
    crossed = ~empty & (pl.col("bid_px_0") >= pl.col("ask_px_0"))
    flags = part.select(empty=empty.sum(), crossed=crossed.sum()).row(0)
    counts.empty_side += int(flags[0])
    counts.crossed += int(flags[1])
    valid = part.filter(~empty & ~crossed) if flags[0] or flags[1] else part
    both = valid if last is None else pl.concat([last, valid])
    changed = pl.any_horizontal(
        [pl.col(c).ne_missing(pl.col(c).shift(1)) for c in BOOK_COLUMNS]
    ).fill_null(True)  # the first row has no row before it
    kept = both.filter(changed)
    if last is not None:
        kept = kept.slice(1)  # `last` itself, handed on with the block before
    counts.unchanged += valid.height - kept.height
    counts.rows += kept.height
    return kept
