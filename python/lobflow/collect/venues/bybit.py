"""Bybit v5 spot: REST ``/v5/market/orderbook`` and the ``orderbook.50`` WebSocket topic."""

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
    split_concatenated,
    unified_symbol,
)


class Bybit(Venue):
    """Bybit v5 spot. Symbols ``BTCUSDT``; ``u == 1`` means the venue restarted its ids."""

    name = "bybit"
    base_url = "https://api.bybit.com"
    path = "/v5/market/orderbook"
    default_hz = 3.0
    budget_rps = 600 / 5
    budget_note = "600 requests / 5 s per IP"
    ws_url = "wss://stream.bybit.com"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        return unified_symbol(unified).replace("-", "")

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        return split_concatenated(venue_symbol)

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"category": "spot", "symbol": self.symbol(unified), "limit": "5"}

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if status == 403:
            # IP limit breached (or a US IP): the docs say wait at least 10 minutes.
            return rate_limited(600.0, "HTTP 403 (IP rate limit)", ban=True)
        if (g := generic_http(status, headers)) is not None:
            return g
        doc = json.loads(body)
        code = int(doc.get("retCode", -1))
        if code == 10006:
            return rate_limited(1.0, "retCode 10006")
        if code == 10001:
            return Outcome(Kind.UNKNOWN_SYMBOL, reason=f"retCode 10001: {doc.get('retMsg')}")
        if code != 0:
            return Outcome(Kind.RETRY, reason=f"retCode {code}: {doc.get('retMsg')}")
        r = doc["result"]
        # Older and testnet answers lack `seq` (and `cts`): the update id `u` orders those.
        seq = r.get("seq", r.get("u"))
        book = Book(
            levels(r["b"]),
            levels(r["a"]),
            int(r["ts"]) * 1_000_000 if r.get("ts") is not None else None,
            int(seq) if seq is not None else None,
            # u == 1 is Bybit's sign of a service restart: the ids start over.
            {"cts": r.get("cts"), "u": r.get("u"), "reset": "seq" not in r and r.get("u") == 1},
        )
        return Outcome(Kind.OK, book)


VENUE = Bybit()
