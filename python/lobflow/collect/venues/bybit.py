"""Bybit v5 spot: REST ``/v5/market/orderbook`` and the ``orderbook.50`` WebSocket topic."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

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
from lobflow.collect.ws.feeds import Action, FeedBook, Malformed, Send, VenueStream

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.collect.stats import StreamStats


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

    def stream(  # noqa: D102
        self,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> VenueStream:
        return BybitStream(self, symbols, sink, stats)

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


# -- WebSocket: orderbook.50 snapshot + deltas, u continuity ---------------------------------

#: The topic's depth: 50 levels pushed every 20 ms on spot.
DEPTH = 50
_TOPIC = re.compile(r"orderbook\.\d+\.[A-Z0-9]+")


class BybitStream(VenueStream):
    """Bybit's ``orderbook.50.<SYM>``: a snapshot resets the book, deltas apply in ``u`` order.

    A delta whose ``u`` is not the previous ``u + 1`` is a gap: unsubscribe and subscribe
    again for a fresh snapshot (``u == 1`` comes with a snapshot when Bybit restarts). Levels
    beyond the depth are dropped (Bybit sends their deletion too). Book time: ``ts``; seq: ``u``.
    The book machine applies these rules; the client sends ``{"op":"ping"}`` every 20 s, as
    the docs ask.
    """

    ping_every_s = 20.0
    #: A pong answers each ping: nothing at all for a ping interval and 10 s is a dead socket.
    silence_s = 30.0
    book_depth = DEPTH

    def setup(self) -> None:  # noqa: D102
        self.topics = {self.book_key(s): s for s in self.symbols}
        self._req = 0
        #: The topic of each request (one topic per request, so a refusal names its feed).
        self.requests: dict[str, str] = {}

    def book_key(self, symbol: str) -> str:  # noqa: D102
        return f"orderbook.{DEPTH}.{self.venue.ws_symbol(symbol)}"

    def ws_endpoint(self, conn: int, ws_base: str | None) -> str:  # noqa: D102
        ws_base = ws_base or self.venue.ws_url
        return f"{ws_base.rstrip('/')}/v5/public/spot"

    def ping_text(self, conn: int) -> str:  # noqa: D102
        return '{"op":"ping"}'

    def _request(self, conn: int, op: str, topics: list[str]) -> list[Action]:
        out: list[Action] = []
        for topic in topics:
            self._req += 1
            req_id = f"{op}-{self._req}"
            self.requests[req_id] = topic
            out.append(Send(conn, json.dumps({"req_id": req_id, "op": op, "args": [topic]})))
        return out

    def on_open(self, conn: int, ts_local: int) -> list[Action]:  # noqa: D102
        live = [t for t, s in self.topics.items() if not self.feeds[s].stopped]
        return self._request(conn, "subscribe", live)

    def on_control(self, conn: int, text: str, ts_local: int) -> list[Action]:  # noqa: D102
        doc = json.loads(text)
        if doc.get("topic") is not None:
            msg = "a data frame the book machine could not read"
            raise Malformed(msg)
        if doc.get("success") is False and doc.get("op") == "subscribe":
            why = str(doc.get("ret_msg"))
            named = set(_TOPIC.findall(why))
            named.add(self.requests.get(str(doc.get("req_id")), ""))
            for name in named & set(self.topics):
                if "already" not in why:
                    self.stop_feed(self.topics[name], f"Bybit: {why}")
        return []  # acks and pongs

    def resync(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        topic = self.book_key(fb.symbol)
        return self._request(fb.conn, "unsubscribe", [topic]) + self._request(
            fb.conn, "subscribe", [topic]
        )


VENUE = Bybit()
