"""KuCoin spot: REST ``level2_20`` snapshots and the ``level2Depth5`` WebSocket topic."""

from __future__ import annotations

import json

from lobflow.collect.venues.base import (
    SYMBOL,
    Book,
    Kind,
    Outcome,
    Venue,
    generic_http,
    levels,
    rate_limited,
    unified_symbol,
)


def _reset_s(headers: dict[str, str]) -> float:
    # No Retry-After on KuCoin: gw-ratelimit-reset is the pool's countdown in ms.
    reset = headers.get("gw-ratelimit-reset")
    return float(reset) / 1000 if reset and reset.isascii() and reset.isdigit() else 1.0


class KuCoin(Venue):
    """KuCoin spot. Symbols ``BTC-USDT`` (the unified spelling); codes in the body."""

    name = "kucoin"
    base_url = "https://api.kucoin.com"
    path = "/api/v1/market/orderbook/level2_20"
    default_hz = 3.0
    budget_rps = 2000 / 30 / 2
    budget_note = "public pool 2000 weight / 30 s, level2_20 weighs 2"
    #: The real endpoint comes from the bullet answer; ``--ws-url`` replaces its host.
    ws_url = "wss://ws-api-spot.kucoin.com"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        return unified_symbol(unified)

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        s = venue_symbol.upper()
        return s if SYMBOL.fullmatch(s) else None

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"symbol": self.symbol(unified)}

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if status == 429:
            return rate_limited(_reset_s(headers), "HTTP 429 (429000)")
        if (g := generic_http(status, headers)) is not None:
            return g
        doc = json.loads(body)
        code = str(doc.get("code"))
        if code == "429000":
            # The same countdown header comes with a 429000 body whatever the status.
            return rate_limited(_reset_s(headers), "429000 in body")
        if code in ("900001", "400100"):
            # 400100 is also KuCoin's answer to many other things: poller.py retries it once
            # the feed has had good answers.
            return Outcome(Kind.UNKNOWN_SYMBOL, reason=f"{code}: {doc.get('msg')}")
        if code != "200000":
            return Outcome(Kind.RETRY, reason=f"code {code}: {doc.get('msg')}")
        d = doc["data"]
        book = Book(
            levels(d["bids"]), levels(d["asks"]), int(d["time"]) * 1_000_000, int(d["sequence"])
        )
        return Outcome(Kind.OK, book)


VENUE = KuCoin()
