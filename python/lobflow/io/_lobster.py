"""LOBSTER order-book files: ``TICKER_DATE_START_END_orderbook_N.csv`` and its message file.

Line i of the orderbook file is the book after the event on line i of the message file beside
it (``…_message_N.csv``, found by name); neither has a header. LOBSTER's conventions:

- orderbook columns per level k = 1..N: ask price, ask size, bid price, bid size; prices are
  integers in 1e-4 dollars (``5859400`` is 585.94), sizes as given (shares);
- an empty level is a dummy: ask price 9 999 999 999 or bid price -9 999 999 999, size 0.
  It is written as the collector writes a short book's padding;
- message columns: time, event type, order id, size, price, direction. Time is seconds after
  midnight in New York (``34200.004241176``), with up to nanosecond decimals, parsed as
  integers, never through a float.

Exchange ``lobster``, symbol TICKER and the date from the file name unless told otherwise;
`ts_local` is null (LOBSTER has one clock) and `seq` is the message line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl
import pyarrow.compute as pc

from lobflow._schema import LEVELS
from lobflow.io import _csv
from lobflow.io._errors import SourceError
from lobflow.io._levels import Level, check_time, keep_changed, side_columns
from lobflow.io._rows import SCHEMA, Counts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from numpy.typing import NDArray

_NAME = re.compile(
    r"^(?P<ticker>.+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)"
    r"_orderbook_(?P<levels>\d+)\.csv$"
)
ASK_DUMMY = 9_999_999_999
BID_DUMMY = -9_999_999_999
PRICE_UNIT = 10_000
MESSAGE = ["time", "type", "order_id", "size", "price", "direction"]
_TIME = r"^[0-9]+(\.[0-9]+)?$"


@dataclass(frozen=True)
class Pair:
    """An orderbook file, the message file beside it, and what their name says."""

    orderbook: Path
    message: Path
    ticker: str
    day: date
    levels: int


def pair(orderbook: Path) -> Pair:
    """The message file of `orderbook`, found by name; a `SourceError` if either is amiss."""
    m = _NAME.match(orderbook.name)
    if m is None:
        msg = (
            "not a LOBSTER orderbook file name: expected TICKER_DATE_START_END_orderbook_N.csv "
            "(e.g. AAPL_2012-06-21_34200000_57600000_orderbook_10.csv)"
        )
        raise SourceError(orderbook, msg)
    try:
        day = date.fromisoformat(m["date"])
    except ValueError as e:
        raise SourceError(orderbook, f"the date {m['date']} in the file name: {e}") from e
    levels = int(m["levels"])
    if levels < 1:
        raise SourceError(orderbook, "the file name says 0 levels")
    message = orderbook.with_name(
        f"{m['ticker']}_{m['date']}_{m['start']}_{m['end']}_message_{m['levels']}.csv"
    )
    if not orderbook.is_file():
        raise SourceError(orderbook, "no such file")
    if not message.is_file():
        raise SourceError(orderbook, f"its message file {message.name} is not beside it")
    return Pair(orderbook, message, m["ticker"], day, levels)


def midnight_ns(day: date, tz: str) -> int:
    """Midnight of `day` in the time zone `tz`, in ns since the epoch (UTC)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        msg = f"unknown time zone {tz!r} (an IANA name such as America/New_York)"
        raise ValueError(msg) from e
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(start.timestamp()) * 1_000_000_000


def _width(path: Path) -> int:
    return len(_csv.header(path))


def _orderbook_names(n: int) -> list[str]:
    names = []
    for k in range(1, n + 1):
        names += [f"ask_price_{k}", f"ask_size_{k}", f"bid_price_{k}", f"bid_size_{k}"]
    return names


def books(
    p: Pair,
    counts: Counts,
    *,
    tz: str = "America/New_York",
    exchange: str = "lobster",
    symbol: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pl.DataFrame]:
    """The rows of one LOBSTER pair."""
    base = midnight_ns(p.day, tz)
    feed = (exchange, symbol or p.ticker)
    width = _width(p.orderbook)
    if width != 4 * p.levels:
        msg = f"{width} fields, where {p.levels} levels have {4 * p.levels}"
        raise SourceError(p.orderbook, msg, line=1)
    msg_width = _width(p.message)
    if msg_width < len(MESSAGE):
        msg = f"{msg_width} fields, where a message has {len(MESSAGE)}: {', '.join(MESSAGE)}"
        raise SourceError(p.message, msg, line=1)
    names = _orderbook_names(p.levels)
    use = names[: 4 * min(LEVELS, p.levels)]
    msg_names = MESSAGE + [f"extra_{i}" for i in range(msg_width - len(MESSAGE))]
    ob = _csv.blocks(p.orderbook, use, headerless=names, progress=progress)
    ms = _csv.blocks(p.message, ["time"], headerless=msg_names)
    counts.feeds.append(feed)
    last_ts: int | None = None
    last_row: pl.DataFrame | None = None
    for ob_block, ms_block in _aligned(p, ob, ms):
        counts.records += ob_block.rows
        first = ob_block.first_line
        lines = np.arange(first, first + ob_block.rows, dtype=np.int64)
        ts = base + _time_ns(p.message, ms_block)
        last_ts = check_time(p.message, feed, ts, lines, last_ts, "time")
        data: dict[str, object] = {"exchange": feed[0], "symbol": feed[1], "ts": ts}
        for bid in (True, False):
            levels = _levels(p.orderbook, ob_block, bid, min(LEVELS, p.levels))
            pxs, szs = side_columns(p.orderbook, bid, first, lines, levels)
            prefix = "bid" if bid else "ask"
            for k in range(LEVELS):
                data[f"{prefix}_px_{k}"] = pxs[k]
                data[f"{prefix}_sz_{k}"] = szs[k]
        data["ts_local"] = None
        data["seq"] = lines
        frame = pl.DataFrame(data, schema=SCHEMA)
        kept = keep_changed(frame, last_row, counts)
        if kept.height:
            last_row = kept.tail(1)
            yield kept


def _levels(path: Path, block: _csv.Block, bid: bool, n: int) -> list[Level]:
    out = []
    side = "bid" if bid else "ask"
    dummy = BID_DUMMY if bid else ASK_DUMMY
    for k in range(1, n + 1):
        px_name, sz_name = f"{side}_price_{k}", f"{side}_size_{k}"
        raw = _csv.ints(block, px_name, path)
        sz = _csv.floats(block, sz_name, path)
        absent = raw == dummy
        px = raw / PRICE_UNIT  # one correctly rounded division: the nearest double
        out.append(Level(px, sz, absent, px_name, sz_name))
    return out


def _time_ns(path: Path, block: _csv.Block) -> NDArray[np.int64]:
    """Seconds with up to nanosecond decimals, as exact integer ns (digits past 9 must be 0)."""
    arr = block.columns["time"]
    i = _csv.first_bad(pc.match_substring_regex(arr, _TIME))
    if i is not None:
        got = arr[i].as_py()
        raise SourceError(
            path,
            f"not seconds after midnight, got {got!r}",
            line=block.first_line + i,
            field="time",
        )
    t = pl.Series(arr)
    parts = t.str.split_exact(".", 1)
    whole = parts.struct.field("field_0")
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(9, "0")
    finer = frac.str.slice(9).str.contains(r"[1-9]")
    if finer.any():
        i = int(finer.arg_true()[0])
        raise SourceError(
            path,
            f"{t[i]} s is finer than a nanosecond",
            line=block.first_line + i,
            field="time",
        )
    if bool((whole.str.len_chars() > 9).any()):
        i = int((whole.str.len_chars() > 9).arg_true()[0])
        raise SourceError(
            path, f"{t[i]} s is not a time of day", line=block.first_line + i, field="time"
        )
    ns = whole.cast(pl.Int64) * 1_000_000_000 + frac.str.slice(0, 9).cast(pl.Int64)
    return ns.to_numpy()


def _aligned(
    p: Pair, ob: Iterator[_csv.Block], ms: Iterator[_csv.Block]
) -> Iterator[tuple[_csv.Block, _csv.Block]]:
    """Blocks of the two files cut to the same lines; files of unequal length are an error."""
    a: _csv.Block | None = None
    b: _csv.Block | None = None
    while True:
        if a is None:
            a = next(ob, None)
        if b is None:
            b = next(ms, None)
        if a is None or b is None:
            if a is None and b is None:
                return
            longer, shorter, at = (
                (p.orderbook, p.message, a.first_line)
                if a is not None
                else (p.message, p.orderbook, b.first_line)  # type: ignore[union-attr]
            )
            msg = (
                f"has more lines than {shorter.name} (which ends at line {at - 1:,}): "
                "the orderbook and message files of a pair have one line per event each"
            )
            raise SourceError(longer, msg, line=at)
        n = min(a.rows, b.rows)
        yield _head(a, n), _head(b, n)
        a = _tail(a, n)
        b = _tail(b, n)


def _head(block: _csv.Block, n: int) -> _csv.Block:
    if n == block.rows:
        return block
    return _csv.Block({c: v.slice(0, n) for c, v in block.columns.items()}, block.first_line, n)


def _tail(block: _csv.Block, n: int) -> _csv.Block | None:
    if n == block.rows:
        return None
    cols = {c: v.slice(n) for c, v in block.columns.items()}
    return _csv.Block(cols, block.first_line + n, block.rows - n)
