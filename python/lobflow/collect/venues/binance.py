"""Binance spot: REST ``/api/v3/depth`` and the diff-depth WebSocket stream."""

from __future__ import annotations

import json

from lobflow.collect.venues.base import (
    Book,
    Kind,
    Outcome,
    Venue,
    generic_http,
    levels,
    rate_limited,
    retry_after,
    split_concatenated,
    unified_symbol,
)


class Binance(Venue):
    """Binance spot. Symbols ``BTCUSDT`` (lower case in stream names); no REST book time."""

    name = "binance"
    base_url = "https://api.binance.com"
    path = "/api/v3/depth"
    default_hz = 3.0
    budget_rps = 6000 / 60 / 5
    budget_note = "6000 weight / min per IP, depth limit<=100 weighs 5"
    ws_url = "wss://stream.binance.com:9443"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        return unified_symbol(unified).replace("-", "")

    def ws_symbol(self, unified: str) -> str:  # noqa: D102
        return self.symbol(unified).lower()

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        return split_concatenated(venue_symbol)

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"symbol": self.symbol(unified), "limit": "5"}

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if status == 418:
            return rate_limited(retry_after(headers, 120.0), "HTTP 418 (IP ban)", ban=True)
        if (g := generic_http(status, headers)) is not None:
            return g
        doc = json.loads(body)
        if status == 400 and doc.get("code") == -1121:
            return Outcome(Kind.UNKNOWN_SYMBOL, reason="-1121 Invalid symbol")
        if status != 200 or "lastUpdateId" not in doc:
            return Outcome(Kind.RETRY, reason=f"HTTP {status}: {doc.get('msg')}")
        book = Book(levels(doc["bids"]), levels(doc["asks"]), None, int(doc["lastUpdateId"]))
        return Outcome(Kind.OK, book)


VENUE = Binance()
