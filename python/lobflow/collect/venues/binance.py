"""Binance spot: REST ``/api/v3/depth`` and the diff-depth WebSocket stream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

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
from lobflow.collect.ws.feeds import (
    Action,
    FeedBook,
    Fetch,
    VenueStream,
    price_units,
    size_units,
)

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
#: A 1000-level snapshot is ~70 KB.
SNAPSHOT_MAX_BYTES = 1 << 20
#: Events buffered while a snapshot is fetched; more and the feed starts over.
MAX_BUFFER = 10_000


class _Sync:
    """A book waiting for its snapshot: events buffered, the snapshot when it came."""

    __slots__ = ("buffer", "fetching", "snapshot")

    def __init__(self) -> None:
        self.buffer: list[dict[str, Any]] = []
        self.snapshot: dict[str, Any] | None = None
        self.fetching = False


class BinanceStream(VenueStream):
    """Binance's combined diff-depth stream: buffer, snapshot, apply, ``U > id + 1`` = gap.

    The local-book procedure of Binance's docs: buffer events, fetch a REST snapshot, fetch
    again while its ``lastUpdateId`` is below the first buffered ``U``, drop events with
    ``u <= lastUpdateId``, check the first one spans ``lastUpdateId + 1``, then apply; an event
    with ``u`` at or below the book's id is stale, one with ``U`` above the id + 1 a gap (the
    feed starts over). Book time: the event time ``E``; seq: ``u``.
    """

    #: Binance pings every 20 s; aiohttp answers. The client's WebSocket pings (every 20 s)
    #: find a dead connection; a quiet symbol can send nothing for a while, so silence alone
    #: is not death.
    silence_s = 120.0

    def setup(self) -> None:  # noqa: D102
        v = self.venue
        self.by_stream = {f"{v.ws_symbol(s)}@depth@100ms": s for s in self.symbols}
        self.first_conn: int | None = None

    def ws_endpoint(self, conn: int, ws_base: str | None) -> str:  # noqa: D102
        ws_base = ws_base or self.venue.ws_url
        live = [s for s, f in self.feeds.items() if not f.stopped]
        names = "/".join(f"{self.venue.ws_symbol(s)}@depth@100ms" for s in live)
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

    @staticmethod
    def _sync_state(fb: FeedBook) -> _Sync:
        if not isinstance(fb.state, _Sync):
            fb.state = _Sync()
        return fb.state

    def _fetch(self, fb: FeedBook) -> list[Action]:
        sync = self._sync_state(fb)
        if sync.fetching:
            return []
        sync.fetching = True
        params = (("symbol", self.venue.symbol(fb.symbol)), ("limit", SNAPSHOT_LIMIT))
        return [Fetch(fb.conn, "snapshot", fb.symbol, self.venue.path, params)]

    def on_frame(self, conn: int, text: str, ts_local: int) -> list[Action]:  # noqa: D102
        doc = json.loads(text)
        data = doc.get("data") if isinstance(doc, dict) else None
        if data is None:
            if isinstance(doc, dict) and "error" in doc:
                self.stats.log_once("error", f"{self.venue.name}: {doc['error']}")
            return []  # {"result": null, "id": 1} and the like
        symbol = self.by_stream.get(doc.get("stream"))
        if symbol is None:
            return []
        fb = self.feed_book(conn, symbol)
        if fb is None:
            return []
        first, last = int(data["U"]), int(data["u"])
        if fb.synced:
            if last <= fb.pos:
                self.stale(fb)
                return []
            if first > fb.pos + 1:
                actions = self.gap(fb, f"update ids {fb.pos + 1}..{first - 1} missed")
                self._sync_state(fb).buffer.append(data)  # the first event of the next sync
                return actions
            self._apply(fb, data, ts_local)
            return []
        sync = self._sync_state(fb)
        sync.buffer.append(data)
        if len(sync.buffer) > MAX_BUFFER:
            del sync.buffer[:-1]
            sync.snapshot = None
        actions = self._try_sync(fb, ts_local)
        if not fb.synced and isinstance(fb.state, _Sync) and fb.state.snapshot is None:
            actions += self._fetch(fb)  # at most one in flight
        return actions

    def _try_sync(self, fb: FeedBook, ts_local: int) -> list[Action]:
        sync = self._sync_state(fb)
        snap = sync.snapshot
        if snap is None or not sync.buffer:
            return []
        last_id = int(snap["lastUpdateId"])
        if last_id < int(sync.buffer[0]["U"]):
            sync.snapshot = None  # older than the stream: fetch again
            return self._fetch(fb)
        events = [e for e in sync.buffer if int(e["u"]) > last_id]
        if not events:
            sync.buffer.clear()
            return []  # the snapshot is newer than all buffered events: wait for the next
        if not int(events[0]["U"]) <= last_id + 1 <= int(events[0]["u"]):
            sync.buffer.clear()
            sync.snapshot = None
            return self._fetch(fb)
        book = fb.book
        book.clear()
        ps, ss = self.book_scales(fb.symbol)
        for p, q in snap["bids"]:
            book.set_bid(price_units(p, ps), size_units(q, ss))
        for p, q in snap["asks"]:
            book.set_ask(price_units(p, ps), size_units(q, ss))
        fb.pos = last_id
        fb.state = None
        self._apply(fb, events[0], ts_local, sync=True)
        for i, e in enumerate(events[1:], 1):
            if int(e["u"]) <= fb.pos:
                self.stale(fb)
            elif int(e["U"]) > fb.pos + 1:
                actions = self.gap(fb, "update ids missed in the buffer")
                self._sync_state(fb).buffer.extend(events[i:])
                return actions
            else:
                self._apply(fb, e, ts_local)
        return []

    def _apply(self, fb: FeedBook, e: dict[str, Any], ts_local: int, *, sync: bool = False) -> None:
        ps, ss = self.book_scales(fb.symbol)
        book = fb.book
        for p, q in e["b"]:
            book.set_bid(price_units(p, ps), size_units(q, ss))
        for p, q in e["a"]:
            book.set_ask(price_units(p, ps), size_units(q, ss))
        fb.pos = int(e["u"])
        ts = int(e["E"]) * 1_000_000
        if sync:
            self.synced(fb, ts, ts_local, fb.pos)
        else:
            self.changed(fb, ts, ts_local, fb.pos)

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
        sync = self._sync_state(fb)
        sync.fetching = False
        if status != 200:
            return self._fetch(fb)  # the client spaces the retries
        sync.snapshot = json.loads(body)
        return self._try_sync(fb, ts_local)

    def resync(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        fb.state = _Sync()
        return self._fetch(fb)


VENUE = Binance()
