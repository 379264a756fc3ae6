"""The four venues' public REST order books: symbols, URLs, budgets, parsing, error shapes.

Every response is classified into exactly one `Outcome`, so the poller has one policy table
instead of per-venue special cases. Facts (endpoints, limits, error bodies) follow the
venues' public API documentation (links in docs/collector.md).
"""

from __future__ import annotations

import email.utils
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

LEVELS = 5

#: The longest pause a rate-limit answer can impose (Retry-After, gw-ratelimit-reset, Kraken's
#: Throttled time): the venues' windows are 1 s to 1 min, so anything longer is a broken header.
MAX_RATE_LIMIT_PAUSE_S = 300.0
#: The longest pause a ban can impose: Binance's documented longest IP ban (3 days).
MAX_BAN_PAUSE_S = 3 * 86_400.0
#: The default cap on an answer's body, on the wire and unpacked: a top-5 book is under 3 KB.
MAX_BODY_BYTES = 64 * 1024
#: A unified symbol: BASE-QUOTE, each in the venues' common alphabet (upper-case letters and
#: digits), so that no symbol can carry a path character into a partition name.
SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")
#: The sequence column is int64.
MAX_SEQ = 2**63 - 1


class Kind(Enum):
    """What a response means for the poller."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # wait `wait_s`, then resume
    BANNED = "banned"  # stop polling the venue for `wait_s`
    RETRY = "retry"  # transient: back off with jitter
    FATAL = "fatal"  # this feed cannot work (unknown symbol): stop it


@dataclass
class Book:
    """A parsed top-5 snapshot, before validation."""

    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    venue_ts_ns: int | None
    seq: int | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """A classified response."""

    kind: Kind
    book: Book | None = None
    wait_s: float = 0.0
    reason: str = ""


def unified_symbol(symbol: str) -> str:
    """`symbol` as a unified ``BASE-QUOTE`` symbol (upper case), or a ValueError naming it."""
    s = symbol.upper() if isinstance(symbol, str) else symbol
    if not isinstance(s, str) or not SYMBOL.fullmatch(s):
        msg = (
            f"symbol {symbol!r} is not BASE-QUOTE of letters and digits (e.g. BTC-USDT), "
            "as every venue spells its markets"
        )
        raise ValueError(msg)
    return s


def rate_limited(wait_s: float, reason: str, *, ban: bool = False) -> Outcome:
    """A rate-limit (or ban) outcome whose pause is capped at the documented maximum."""
    cap = MAX_BAN_PAUSE_S if ban else MAX_RATE_LIMIT_PAUSE_S
    kind = Kind.BANNED if ban else Kind.RATE_LIMITED
    if not wait_s <= cap:  # also inf
        return Outcome(kind, wait_s=cap, reason=f"{reason} (asked {wait_s:g} s, capped at {cap:g})")
    return Outcome(kind, wait_s=max(0.0, wait_s), reason=reason)


def _retry_after(headers: dict[str, str], default: float) -> float:
    """Retry-After in seconds (a number or an HTTP date); `default` when absent or not a time."""
    v = headers.get("Retry-After") or headers.get("retry-after")
    if v is None:
        return default
    try:
        wait = float(v)
    except ValueError:
        try:
            wait = email.utils.parsedate_to_datetime(v).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return default
    return wait if wait >= 0 else default  # NaN and negative: not a time


def _levels(rows: list[Any]) -> list[tuple[float, float]]:
    return [(float(r[0]), float(r[1])) for r in rows[:LEVELS]]


@dataclass(frozen=True)
class Venue:
    """One exchange's public order-book endpoint and its budget."""

    name: str
    base_url: str
    path: str
    default_hz: float
    #: Documented public budget, requests per second per IP (shared by all symbols).
    budget_rps: float
    budget_note: str

    @property
    def max_body_bytes(self) -> int:
        """The cap on an answer's body, on the wire and unpacked."""
        return MAX_BODY_BYTES

    def symbol(self, unified: str) -> str:
        """The venue's spelling of a unified ``BASE-QUOTE`` symbol."""
        base, _, quote = unified_symbol(unified).partition("-")
        if self.name == "kucoin":
            return f"{base}-{quote}"
        if self.name == "kraken":
            return f"{'XBT' if base == 'BTC' else base}{quote}"
        return f"{base}{quote}"

    def params(self, unified: str) -> dict[str, str]:
        """Query parameters for one snapshot request."""
        s = self.symbol(unified)
        return {
            "kucoin": {"symbol": s},
            "kraken": {"pair": s, "count": str(LEVELS)},
            "bybit": {"category": "spot", "symbol": s, "limit": str(LEVELS)},
            "binance": {"symbol": s, "limit": str(LEVELS)},
        }[self.name]

    def classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        """Turn one HTTP response into an `Outcome` (never raises)."""
        try:
            return _CLASSIFY[self.name](status, headers, body)
        except (
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,  # a list or a number where an object belongs
            RecursionError,  # JSON nested deeper than the parser's stack
            ArithmeticError,  # int(1e400)
        ) as e:
            return Outcome(Kind.RETRY, reason=f"unparseable body: {type(e).__name__}: {e}"[:200])


def _generic_http(status: int, headers: dict[str, str]) -> Outcome | None:
    if status == 429:
        return rate_limited(_retry_after(headers, 1.0), "HTTP 429")
    if status >= 500:
        return Outcome(Kind.RETRY, reason=f"HTTP {status}")
    return None


def _kucoin_reset(headers: dict[str, str]) -> float:
    # No Retry-After on KuCoin: gw-ratelimit-reset is the pool's countdown in ms.
    reset = headers.get("gw-ratelimit-reset")
    return float(reset) / 1000 if reset and reset.isascii() and reset.isdigit() else 1.0


def _kucoin(status: int, headers: dict[str, str], body: bytes) -> Outcome:
    if status == 429:
        return rate_limited(_kucoin_reset(headers), "HTTP 429 (429000)")
    if (g := _generic_http(status, headers)) is not None:
        return g
    doc = json.loads(body)
    code = str(doc.get("code"))
    if code == "429000":
        # The same countdown header comes with a 429000 body whatever the status.
        return rate_limited(_kucoin_reset(headers), "429000 in body")
    if code in ("900001", "400100"):
        return Outcome(Kind.FATAL, reason=f"{code}: {doc.get('msg')}")
    if code != "200000":
        return Outcome(Kind.RETRY, reason=f"code {code}: {doc.get('msg')}")
    d = doc["data"]
    return Outcome(
        Kind.OK,
        Book(
            _levels(d["bids"]), _levels(d["asks"]), int(d["time"]) * 1_000_000, int(d["sequence"])
        ),
    )


def _kraken(status: int, headers: dict[str, str], body: bytes) -> Outcome:
    if (g := _generic_http(status, headers)) is not None:
        return g
    doc = json.loads(body)
    errors = doc.get("error") or []
    if errors:
        e = str(errors[0])
        if "Too many requests" in e or "Rate limit" in e:
            return rate_limited(5.0, e)
        if e.startswith("EService: Throttled"):
            until = e.rsplit(":", 1)[-1].strip()
            digits = until.replace(".", "", 1)
            wait = float(until) - time.time() if digits.isascii() and digits.isdigit() else 5.0
            return rate_limited(max(1.0, wait), e)
        if e.startswith(("EQuery:Unknown asset pair", "EGeneral:Invalid arguments")):
            return Outcome(Kind.FATAL, reason=e)
        return Outcome(Kind.RETRY, reason=e)
    result = doc["result"]
    # The response key may differ from the requested pair (XBTUSDT → XXBTZUSDT): take the one.
    (book,) = result.values()
    # No book time: the per-level times are each level's last change (seconds, up to a minute
    # apart), and their newest goes backwards whenever the newest level is removed, so the
    # book is stamped on receipt. The newest level time is kept for reference.
    stamps = [int(r[2]) for r in book["bids"][:LEVELS] + book["asks"][:LEVELS]]
    extra = {"newest_level_s": max(stamps)} if stamps else {}
    return Outcome(Kind.OK, Book(_levels(book["bids"]), _levels(book["asks"]), None, None, extra))


def _bybit(status: int, headers: dict[str, str], body: bytes) -> Outcome:
    if status == 403:
        # IP limit breached (or a US IP): the docs say wait at least 10 minutes.
        return rate_limited(600.0, "HTTP 403 (IP rate limit)", ban=True)
    if (g := _generic_http(status, headers)) is not None:
        return g
    doc = json.loads(body)
    code = int(doc.get("retCode", -1))
    if code == 10006:
        return rate_limited(1.0, "retCode 10006")
    if code == 10001:
        return Outcome(Kind.FATAL, reason=f"retCode 10001: {doc.get('retMsg')}")
    if code != 0:
        return Outcome(Kind.RETRY, reason=f"retCode {code}: {doc.get('retMsg')}")
    r = doc["result"]
    # Older and testnet answers lack `seq` (and `cts`): the update id `u` orders those.
    seq = r.get("seq", r.get("u"))
    return Outcome(
        Kind.OK,
        Book(
            _levels(r["b"]),
            _levels(r["a"]),
            int(r["ts"]) * 1_000_000 if r.get("ts") is not None else None,
            int(seq) if seq is not None else None,
            # u == 1 is Bybit's sign of a service restart: the ids start over.
            {"cts": r.get("cts"), "u": r.get("u"), "reset": "seq" not in r and r.get("u") == 1},
        ),
    )


def _binance(status: int, headers: dict[str, str], body: bytes) -> Outcome:
    if status == 418:
        return rate_limited(_retry_after(headers, 120.0), "HTTP 418 (IP ban)", ban=True)
    if (g := _generic_http(status, headers)) is not None:
        return g
    doc = json.loads(body)
    if status == 400 and doc.get("code") == -1121:
        return Outcome(Kind.FATAL, reason="-1121 Invalid symbol")
    if status != 200 or "lastUpdateId" not in doc:
        return Outcome(Kind.RETRY, reason=f"HTTP {status}: {doc.get('msg')}")
    return Outcome(
        Kind.OK, Book(_levels(doc["bids"]), _levels(doc["asks"]), None, int(doc["lastUpdateId"]))
    )


_CLASSIFY = {"kucoin": _kucoin, "kraken": _kraken, "bybit": _bybit, "binance": _binance}

VENUES: dict[str, Venue] = {
    "kucoin": Venue(
        "kucoin",
        "https://api.kucoin.com",
        "/api/v1/market/orderbook/level2_20",
        3.0,
        2000 / 30 / 2,
        "public pool 2000 weight / 30 s, level2_20 weighs 2",
    ),
    "kraken": Venue(
        "kraken",
        "https://api.kraken.com",
        "/0/public/Depth",
        1.0,
        1.0,
        "about 1 request/s per IP for public endpoints: defaults to 1 Hz, not 3",
    ),
    "bybit": Venue(
        "bybit",
        "https://api.bybit.com",
        "/v5/market/orderbook",
        3.0,
        600 / 5,
        "600 requests / 5 s per IP",
    ),
    "binance": Venue(
        "binance",
        "https://api.binance.com",
        "/api/v3/depth",
        3.0,
        6000 / 60 / 5,
        "6000 weight / min per IP, depth limit<=100 weighs 5",
    ),
}


def validate(book: Book) -> tuple[Book | None, list[str]]:
    """Check a book; fill missing levels with size 0. Returns (book or None if unusable, issues).

    A sequence outside int64 (``bad_seq``), crossed/locked or non-finite best levels, a price
    <= 0 or not finite at any level (``bad_price``) and negative or non-finite sizes make the
    book unusable; unsorted levels and short books are reported (short books are padded).
    """
    issues: list[str] = []
    if book.seq is not None and not 0 <= book.seq <= MAX_SEQ:
        return None, ["bad_seq"]
    for side in (book.bids, book.asks):
        if len(side) < LEVELS:
            issues.append("short")
            pad_px = side[-1][0] if side else math.nan
            side.extend([(pad_px, 0.0)] * (LEVELS - len(side)))
    if not book.bids or not book.asks:
        return None, [*issues, "empty"]
    b0, a0 = book.bids[0][0], book.asks[0][0]
    if not (math.isfinite(b0) and math.isfinite(a0)):
        return None, [*issues, "nan"]
    if any(not (0 < p < math.inf) for p, _ in book.bids + book.asks):
        return None, [*issues, "bad_price"]
    if any(not math.isfinite(s) or s < 0 for _, s in book.bids + book.asks):
        return None, [*issues, "bad_size"]
    if b0 >= a0:
        return None, [*issues, "crossed"]
    real_b = [p for p, s in book.bids if s > 0]
    real_a = [p for p, s in book.asks if s > 0]
    if any(x <= y for x, y in itertools.pairwise(real_b)) or any(
        x >= y for x, y in itertools.pairwise(real_a)
    ):
        issues.append("unsorted")
    return book, issues
