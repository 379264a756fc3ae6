"""The one interface every venue module implements, and what the venues share.

A venue module (``binance.py``, ``bybit.py``, ...) holds everything about one exchange: its
REST and WebSocket endpoints, symbol spelling, budget, error table, and its book's sequence
and checksum rules. It exposes one instance, ``VENUE``, of a `Venue` subclass; the registry
(`lobflow.collect.venues.VENUES`) finds the modules by themselves, so a fifth venue is one
more file. The poller, the WebSocket streamer and the simulated venue use venues only
through this interface: nothing branches on a venue's name.

Every REST answer is classified into exactly one `Outcome`, so the poller has one policy table
instead of per-venue special cases. Facts (endpoints, limits, error bodies) follow the
venues' public API documentation (links in docs/collector.md).
"""

from __future__ import annotations

import email.utils
import itertools
import math
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.collect.stats import StreamStats
    from lobflow.collect.ws.feeds import VenueStream

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
#: Quote currencies that split a concatenated venue symbol (``BTCUSDT``), longest match first.
QUOTES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "TUSD", "USD", "EUR", "GBP", "BTC", "ETH")
#: The sequence column is int64.
MAX_SEQ = 2**63 - 1


class Kind(Enum):
    """What a response means for the poller."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # wait `wait_s`, then resume
    BANNED = "banned"  # stop polling the venue for `wait_s`
    RETRY = "retry"  # transient: back off with jitter
    #: The venue says the symbol does not exist. Before a feed's first good answer it stops
    #: the feed; after good answers it is a glitch, retried until it persists (poller.py).
    UNKNOWN_SYMBOL = "unknown_symbol"


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


def split_concatenated(symbol: str) -> str | None:
    """``BTCUSDT`` as ``BTC-USDT`` (the longest known quote that leaves a base), else None."""
    s = symbol.upper()
    for quote in sorted(QUOTES, key=len, reverse=True):
        if s.endswith(quote) and len(s) > len(quote):
            unified = f"{s[: -len(quote)]}-{quote}"
            return unified if SYMBOL.fullmatch(unified) else None
    return None


def rate_limited(wait_s: float, reason: str, *, ban: bool = False) -> Outcome:
    """A rate-limit (or ban) outcome whose pause is capped at the documented maximum."""
    cap = MAX_BAN_PAUSE_S if ban else MAX_RATE_LIMIT_PAUSE_S
    kind = Kind.BANNED if ban else Kind.RATE_LIMITED
    if not wait_s <= cap:  # also inf
        return Outcome(kind, wait_s=cap, reason=f"{reason} (asked {wait_s:g} s, capped at {cap:g})")
    return Outcome(kind, wait_s=max(0.0, wait_s), reason=reason)


def retry_after(headers: dict[str, str], default: float) -> float:
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


def generic_http(status: int, headers: dict[str, str]) -> Outcome | None:
    """The HTTP statuses every venue treats alike (429, 5xx), else None."""
    if status == 429:
        return rate_limited(retry_after(headers, 1.0), "HTTP 429")
    if status >= 500:
        return Outcome(Kind.RETRY, reason=f"HTTP {status}")
    return None


def levels(rows: list[Any]) -> list[tuple[float, float]]:
    """The first `LEVELS` ``[price, size, ...]`` rows as floats."""
    return [(float(r[0]), float(r[1])) for r in rows[:LEVELS]]


class Venue(ABC):
    """One exchange's public order books: endpoints, symbols, budget, answers, book rules."""

    #: The registry name, also the ``exchange=`` partition value.
    name: ClassVar[str]
    #: REST scheme and host (``--base-url`` replaces it).
    base_url: ClassVar[str]
    #: REST path of the top-N snapshot the poller asks for.
    path: ClassVar[str]
    #: Polls per second per symbol by default.
    default_hz: ClassVar[float]
    #: Documented public budget, requests per second per IP (shared by all symbols).
    budget_rps: ClassVar[float]
    budget_note: ClassVar[str]
    #: The cap on a REST answer's body, on the wire and unpacked.
    max_body_bytes: ClassVar[int] = MAX_BODY_BYTES
    #: WebSocket scheme, host and port (``--ws-url`` replaces it).
    ws_url: ClassVar[str]
    #: The cap on one WebSocket message (aiohttp's ``max_msg_size``): a larger one closes the
    #: connection (counted, and the client reconnects).
    max_frame_bytes: ClassVar[int] = 256 * 1024

    def __repr__(self) -> str:
        return f"<venue {self.name}>"

    # -- symbols ---------------------------------------------------------------------------

    @abstractmethod
    def symbol(self, unified: str) -> str:
        """The venue's REST spelling of a unified ``BASE-QUOTE`` symbol."""

    def ws_symbol(self, unified: str) -> str:
        """The venue's WebSocket spelling of a unified symbol (the REST one unless it differs)."""
        return self.symbol(unified)

    @abstractmethod
    def unified(self, venue_symbol: str) -> str | None:
        """The unified symbol of a REST or WebSocket spelling, or None if it is not one."""

    # -- REST polling ----------------------------------------------------------------------

    @abstractmethod
    def params(self, unified: str) -> dict[str, str]:
        """Query parameters for one top-5 snapshot request."""

    def classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        """Turn one HTTP response into an `Outcome` (never raises)."""
        try:
            return self._classify(status, headers, body)
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

    @abstractmethod
    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        """`classify` without the safety net: may raise on a malformed body."""

    # -- WebSocket books -------------------------------------------------------------------

    @abstractmethod
    def stream(
        self,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> VenueStream:
        """A fresh book machine for `symbols`, writing rows to `sink`."""


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
