"""Kraken spot: REST ``/0/public/Depth`` and the WebSocket v2 ``book`` channel with its CRC32."""

from __future__ import annotations

import json
import time
import zlib
from typing import TYPE_CHECKING

from lobflow.collect.decimals import units
from lobflow.collect.venues.base import (
    LEVELS,
    SYMBOL,
    Book,
    Kind,
    Outcome,
    Venue,
    generic_http,
    levels,
    rate_limited,
    split_concatenated,
    unified_symbol,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Kraken's REST name of bitcoin.
_XBT = "XBT"
#: Levels per side the v2 checksum covers, whatever the subscribed depth.
CHECKSUM_LEVELS = 10


def checksum_units(asks: Sequence[tuple[int, int]], bids: Sequence[tuple[int, int]]) -> int:
    """The v2 book checksum of levels given as integer units of the pair's precisions.

    `asks` low to high and `bids` high to low, each ``(price, qty)`` in units of
    ``10**-price_precision`` and ``10**-qty_precision``; only the first 10 of each count.
    Formatting a value to its precision and removing ``.`` and the leading zeros leaves
    exactly the decimal digits of its units, so the string is built from ints.
    """
    text = "".join(f"{p}{q}" for p, q in asks[:CHECKSUM_LEVELS])
    text += "".join(f"{p}{q}" for p, q in bids[:CHECKSUM_LEVELS])
    return zlib.crc32(text.encode())


def checksum(
    asks: Sequence[tuple[str, str]],
    bids: Sequence[tuple[str, str]],
    price_precision: int,
    qty_precision: int,
) -> int:
    """The v2 book checksum of levels given as decimal text (JSON number text or strings).

    Each price is formatted to ``price_precision`` decimals and each qty to ``qty_precision``
    (``0.566`` at 4 is ``0.5660``), as the venue computes it: the docs' own example verifies
    only that way. A value with more decimals than its precision is a ValueError.

    Examples
    --------
    >>> checksum([("0.5668", "4410.79769741")], [("0.5666", "4831.75496356")], 4, 8) > 0
    True
    """
    return checksum_units(
        [(units(p, price_precision), units(q, qty_precision)) for p, q in asks],
        [(units(p, price_precision), units(q, qty_precision)) for p, q in bids],
    )


class Kraken(Venue):
    """Kraken spot. REST ``XBTUSDT`` (answers under ``XXBTZUSDT``), WebSocket v2 ``BTC/USDT``."""

    name = "kraken"
    base_url = "https://api.kraken.com"
    path = "/0/public/Depth"
    #: Pair precisions for the checksum (``pair_decimals``, ``lot_decimals``).
    asset_pairs_path = "/0/public/AssetPairs"
    default_hz = 1.0
    budget_rps = 1.0
    budget_note = "about 1 request/s per IP for public endpoints: defaults to 1 Hz, not 3"
    ws_url = "wss://ws.kraken.com"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        base, _, quote = unified_symbol(unified).partition("-")
        return f"{_XBT if base == 'BTC' else base}{quote}"

    def ws_symbol(self, unified: str) -> str:  # noqa: D102
        return unified_symbol(unified).replace("-", "/")

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        s = venue_symbol.upper()
        if "/" in s:
            slashed = s.replace("/", "-")
            return slashed if SYMBOL.fullmatch(slashed) else None
        u = split_concatenated(s)
        if u is not None and u.startswith(f"{_XBT}-"):
            u = "BTC" + u[len(_XBT) :]
        return u

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"pair": self.symbol(unified), "count": str(LEVELS)}

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if (g := generic_http(status, headers)) is not None:
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
                return Outcome(Kind.UNKNOWN_SYMBOL, reason=e)
            return Outcome(Kind.RETRY, reason=e)
        result = doc["result"]
        # The answer's key may differ from the requested pair (XBTUSDT -> XXBTZUSDT): take it.
        (book,) = result.values()
        # No book time: the per-level times are each level's last change (seconds, up to a
        # minute apart), and their newest goes backwards whenever the newest level is removed,
        # so the book is stamped on receipt. The newest level time is kept for reference.
        stamps = [int(r[2]) for r in book["bids"][:LEVELS] + book["asks"][:LEVELS]]
        extra = {"newest_level_s": max(stamps)} if stamps else {}
        return Outcome(Kind.OK, Book(levels(book["bids"]), levels(book["asks"]), None, None, extra))


VENUE = Kraken()
