"""Binance spot: REST ``/api/v3/depth`` and the diff-depth WebSocket stream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
from lobflow.collect.ws.feeds import Action, FeedBook, Fetch, Malformed, VenueStream

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.collect.stats import StreamStats


class Binance(Venue):
    """Binance spot. Symbols ``BTCUSDT`` (lower case in stream names); no REST book time."""

    name = "binance"
    base_url = "https://api.binance.com"
    path = "/api/v3/depth"
    default_hz = 3.0
    budget_rps = 6000 / 60 / 5
    budget_note = "6000 weight / min per IP, depth limit<=100 weighs 5"
    ws_url = "wss://stream.binance.com:9443"
    max_frame_bytes = 1 << 20

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        return unified_symbol(unified).replace("-", "")

    def ws_symbol(self, unified: str) -> str:  # noqa: D102
        return self.symbol(unified).lower()

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        return split_concatenated(venue_symbol)

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"symbol": self.symbol(unified), "limit": "5"}

    def stream(  # noqa: D102
        self,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> VenueStream:
        return BinanceStream(self, symbols, sink, stats)

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


# -- WebSocket: the diff-depth stream and the documented local-book procedure -----------------

#: Depth of the REST snapshot a book is synced from (weight 50).
SNAPSHOT_LIMIT = "1000"


class BinanceStream(VenueStream):
    """Binance's combined diff-depth stream: buffer, snapshot, apply, ``U > id + 1`` = gap.

    The local-book procedure of Binance's docs (the book machine applies it, buffering events
    while a snapshot is fetched; at most 10 000 are buffered, then the feed starts over): fetch
    a REST snapshot, fetch again while its ``lastUpdateId`` is below the first buffered ``U``,
    drop events with ``u <= lastUpdateId``, check the first one spans ``lastUpdateId + 1``,
    then apply; an event with ``u`` at or below the book's id is stale, one with ``U`` above
    the id + 1 a gap (the feed starts over). Book time: the event time ``E``; seq: ``u``.
    """

    #: Binance pings every 20 s; aiohttp answers. The client's WebSocket pings (every 20 s)
    #: find a dead connection; a quiet symbol can send nothing for a while, so silence alone
    #: is not death.
    silence_s = 120.0

    def setup(self) -> None:  # noqa: D102
        self.first_conn: int | None = None

    def book_key(self, symbol: str) -> str:  # noqa: D102
        return f"{self.venue.ws_symbol(symbol)}@depth@100ms"

    def ws_endpoint(self, conn: int, ws_base: str | None) -> str:  # noqa: D102
        ws_base = ws_base or self.venue.ws_url
        live = [s for s, f in self.feeds.items() if not f.stopped]
        names = "/".join(self.book_key(s) for s in live)
        return f"{ws_base.rstrip('/')}/stream?streams={names}"

    def on_open(self, conn: int, ts_local: int) -> list[Action]:  # noqa: D102
        if self.first_conn is not None:
            return []
        # The stream is silent for a symbol Binance does not know: a small snapshot of each
        # symbol on the first connection tells an unknown symbol with the venue's message.
        self.first_conn = conn
        return [
            Fetch(
                conn,
                "probe",
                s,
                self.venue.path,
                (("symbol", self.venue.symbol(s)), ("limit", "5")),
            )
            for s in self.symbols
        ]

    def fetch_book(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        if fb.fetching:
            return []  # at most one in flight
        fb.fetching = True
        params = (("symbol", self.venue.symbol(fb.symbol)), ("limit", SNAPSHOT_LIMIT))
        return [Fetch(fb.conn, "snapshot", fb.symbol, self.venue.path, params)]

    def on_control(self, conn: int, text: str, ts_local: int) -> list[Action]:  # noqa: D102
        doc = json.loads(text)
        data = doc.get("data") if isinstance(doc, dict) else None
        if data is not None:
            msg = "a data frame the book machine could not read"
            raise Malformed(msg)
        if isinstance(doc, dict) and "error" in doc:
            self.stats.log_once("error", f"{self.venue.name}: {doc['error']}")
        return []  # {"result": null, "id": 1} and the like

    def on_rest(  # noqa: D102
        self, conn: int, what: str, symbol: str | None, status: int, body: str, ts_local: int
    ) -> list[Action]:
        if symbol is None or symbol not in self.feeds:
            return []
        if status:
            out = self.venue.classify(status, {}, body.encode())
            if out.kind is Kind.UNKNOWN_SYMBOL:
                self.stop_feed(symbol, out.reason)
                return []
        fb = self.books.get((conn, symbol))
        if what != "snapshot" or fb is None or fb.synced:
            return []
        fb.fetching = False
        if status != 200:
            return self.fetch_book(fb)  # the client spaces the retries
        events = self.machine.snapshot(conn, fb.feed, body)
        return self.events(conn, events, ts_local)

    def resync(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        fb.fetching = False
        return self.fetch_book(fb)


VENUE = Binance()
