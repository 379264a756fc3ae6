"""Simulated Bybit v5 spot: REST ``/v5/market/orderbook`` and the public spot WebSocket.

What the venue documents (bybit-exchange/docs: v5/websocket/public/orderbook.mdx,
v5/websocket/wss-authentication.mdx, v5/market/orderbook.mdx) and this module does:

- ``/v5/public/spot``: ``{"op":"subscribe","args":["orderbook.50.BTCUSDT"],"req_id":..}`` is
  answered ``{"success":true,"ret_msg":"subscribe","conn_id":..,"req_id":..,"op":"subscribe"}``
  (at most 10 args; an unknown topic fails the request with ``Invalid symbol :[topic]``),
  then a ``snapshot`` of the topic's levels, then a ``delta`` whenever they change, on the
  depth's clock: 1 level every 10 ms (snapshots only, re-sent unchanged every 3 s), 50 every
  20 ms, 200 every 100 ms, 1000 every 200 ms.
- A message is ``{"topic","ts","type","data":{"s","b","a","u","seq"},"cts"}`` (spot puts
  ``ts`` before ``type``), prices and sizes strings, size ``"0"`` deletes a level (also one
  that left the topic's depth), ``u`` goes up by one a message, ``seq`` is the book's cross
  sequence, ``cts`` the matching-engine time of the last change. A service restart sends a
  ``snapshot`` with ``u == 1``.
- ``{"op":"ping","req_id":..}`` gets the spot pong ``{"success":true,"ret_msg":"pong",
  "conn_id":..,"op":"ping"}`` (the documented spot pong has no ``req_id``). A socket with
  neither pings nor data for 10 minutes is closed.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lobflow.collect.sim.book import ASK, BID
from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.feed import Conn, Feed, Stream
from lobflow.collect.sim.venue import VenueSim, dumps, now_ms, parse_json
from lobflow.collect.venues import VENUES

if TYPE_CHECKING:
    from lobflow.collect.sim.book import DeepBook, Event
    from lobflow.collect.sim.instruments import Instrument

WS_PATH = "/v5/public/spot"
#: Spot orderbook depths and their push intervals (s).
DEPTHS = {1: 0.01, 50: 0.02, 200: 0.1, 1000: 0.2}
#: Level 1 re-sends an unchanged snapshot (same ``u``) after this long.
LEVEL1_REPEAT_S = 3.0
MAX_ARGS = 10

View = tuple[dict[int, int], dict[int, int]]


def levels(inst: Instrument, side: list[tuple[int, int]]) -> str:
    """``["price","size"],...`` with the tick's and the lot's decimals."""
    return ",".join(f'["{inst.price(p)}","{inst.qty(q) if q else "0"}"]' for p, q in side)


class BybitConn(Conn):
    """A Bybit socket: its connection id and its last client ping."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__("bybit", ws, request)
        self.conn_id = str(uuid.uuid4())
        self.last_ping = time.monotonic()


class OrderbookStream(Stream):
    """``orderbook.{depth}.{SYMBOL}``: snapshot, then deltas of the top ``depth`` levels."""

    def __init__(self, feed: Feed, depth: int) -> None:
        self.symbol = feed.inst.base + feed.inst.quote
        super().__init__(feed, f"orderbook.{depth}.{self.symbol}")
        self.depth = depth
        self.interval_s = DEPTHS[depth]
        self.view: View = ({}, {})
        self.u = 1_000_000 + feed.book.seed % 10_000_000
        self.seq = feed.book.update_id
        self.cts = feed.book.last_event_ns // 1_000_000
        self._sent_at = 0.0

    def top(self, book: DeepBook) -> View:
        """The topic's levels of a book."""
        return dict(book.top(BID, self.depth)), dict(book.top(ASK, self.depth))

    def reset(self) -> None:
        """Take the book as it is now as the topic's levels (first subscriber, burst end)."""
        self.view = self.top(self.feed.book)
        self.seq = self.feed.book.update_id
        self.cts = self.feed.book.last_event_ns // 1_000_000

    def message(
        self, kind: str, view: View, ts: int | str, u: int | str, seq: int | str, cts: int | str
    ) -> str:
        """One snapshot or delta message."""
        inst = self.feed.inst
        b = levels(inst, sorted(view[BID].items(), reverse=True))
        a = levels(inst, sorted(view[ASK].items()))
        return (
            f'{{"topic":"{self.name}","ts":{ts},"type":"{kind}","data":{{"s":"{self.symbol}",'
            f'"b":[{b}],"a":[{a}],"u":{u},"seq":{seq}}},"cts":{cts}}}'
        )

    def snapshot(self) -> str:
        """The snapshot a new subscriber gets: the topic's levels as last published."""
        return self.message("snapshot", self.view, now_ms(), self.u, self.seq, self.cts)

    def diff(self, new: View) -> View:
        """Levels that changed from the published view to ``new`` (0: gone)."""
        out: View = ({}, {})
        for side in (BID, ASK):
            old, cur = self.view[side], new[side]
            for p, q in cur.items():
                if old.get(p) != q:
                    out[side][p] = q
            for p in old.keys() - cur.keys():
                out[side][p] = 0
        return out

    def publish(self) -> None:
        """Send what changed since the last message, if anything."""
        book = self.feed.book
        new = self.top(book)
        if self.feed.pending.take(Fault.RESTART):
            self.view, self.u = new, 1
            self.seq, self.cts = book.update_id, book.last_event_ns // 1_000_000
            self.broadcast(self.snapshot(), sum(map(len, new)))
            return
        d = self.diff(new)
        if not d[BID] and not d[ASK]:
            if self.depth == 1 and time.monotonic() - self._sent_at > LEVEL1_REPEAT_S:
                self._sent_at = time.monotonic()
                self.broadcast(self.snapshot(), 2)
            return
        self.view, self.u = new, self.u + 1
        self.seq, self.cts = book.update_id, book.last_event_ns // 1_000_000
        if self.feed.pending.take(Fault.DROP):
            self.feed.dropped += 1
            return
        self._sent_at = time.monotonic()
        if self.depth == 1:  # level 1 is snapshot-only
            self.broadcast(self.snapshot(), 2)
        else:
            msg = self.message("delta", d, now_ms(), self.u, self.seq, self.cts)
            self.broadcast(msg, len(d[BID]) + len(d[ASK]))

    def burst_encode(self, book: DeepBook, ev: Event) -> tuple[str, int] | None:
        """A burst frame for one event (see `Stream.burst_encode`)."""
        new = self.top(book)
        d = self.diff(new)
        if not d[BID] and not d[ASK]:
            return None
        self.view = new
        kind = "snapshot" if self.depth == 1 else "delta"
        hole = ("\x00ms\x00", "\x00count\x00", "\x00last\x00", "\x00ms\x00")
        return self.message(kind, new if self.depth == 1 else d, *hole), len(d[BID]) + len(d[ASK])


class Bybit(VenueSim[BybitConn]):
    """Bybit v5 spot's REST order book and public orderbook topics."""

    name = "bybit"
    rate = 60.0

    def routes(self, app: web.Application) -> None:
        """Add the venue's routes."""
        app.router.add_get(VENUES[self.name].path, self.rest_orderbook)
        app.router.add_get(WS_PATH, self.ws)

    def new_conn(self, ws: web.WebSocketResponse, request: web.Request) -> BybitConn:
        """A socket of this venue."""
        return BybitConn(ws, request)

    # -- REST ----------------------------------------------------------------------------

    async def rest_orderbook(self, req: web.Request) -> web.Response:
        """The REST order book."""
        self.sim.requests += 1
        sym = req.query.get("symbol", "")
        u = self.listed(sym, ws=False)
        ms = now_ms()
        if u is None or req.query.get("category") != "spot":
            return self._rest(
                {
                    "retCode": 10001,
                    "retMsg": "Not supported symbols",
                    "result": {},
                    "retExtInfo": {},
                    "time": ms,
                }
            )
        raw = req.query.get("limit", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            return self._rest(
                {
                    "retCode": 10001,
                    "retMsg": "Illegal limit",
                    "result": {},
                    "retExtInfo": {},
                    "time": ms,
                }
            )
        feed = self.feed(u)
        book = self.sim.rest_book(feed)
        n = int(raw)
        bids, asks = book.top(BID, n), book.top(ASK, n)
        body = (
            f'{{"retCode":0,"retMsg":"OK","result":{{"s":"{sym}",'
            f'"a":[{levels(feed.inst, asks)}],"b":[{levels(feed.inst, bids)}],'
            f'"ts":{ms},"u":{book.events},"seq":{book.update_id},'
            f'"cts":{book.last_event_ns // 1_000_000}}},"retExtInfo":{{}},"time":{ms}}}'
        )
        return web.Response(text=body, content_type="application/json")

    def _rest(self, doc: object) -> web.Response:
        return web.Response(text=dumps(doc), content_type="application/json")

    # -- WebSocket -----------------------------------------------------------------------

    async def ws(self, req: web.Request) -> web.WebSocketResponse:
        """The venue's WebSocket endpoint."""
        conn = await self.accept(req)
        await self.serve(conn)
        return conn.ws

    def _answer(self, conn: BybitConn, op: str, ok: bool, msg: str, req_id: object) -> None:
        doc: dict[str, Any] = {"success": ok, "ret_msg": msg, "conn_id": conn.conn_id}
        if req_id is not None:
            doc["req_id"] = req_id
        doc["op"] = op
        conn.send(dumps(doc))

    def _topic(self, topic: object) -> OrderbookStream | None:
        if not isinstance(topic, str):
            return None
        kind, _, rest = topic.partition(".")
        depth, _, sym = rest.partition(".")
        u = self.listed(sym, ws=True)
        if kind != "orderbook" or not depth.isdigit() or int(depth) not in DEPTHS or u is None:
            return None
        feed = self.feed(u)
        s = feed.streams.get(topic)
        if s is None:
            s = feed.streams[topic] = OrderbookStream(feed, int(depth))
        assert isinstance(s, OrderbookStream)
        return s

    async def on_text(self, conn: BybitConn, text: str) -> None:
        """Answer one client request."""
        doc = parse_json(text)
        if not isinstance(doc, dict):
            self._answer(conn, "", False, "error:request not json", None)
            return
        op, req_id, args = doc.get("op"), doc.get("req_id"), doc.get("args", [])
        if op == "ping":
            conn.last_ping = time.monotonic()
            # The documented spot pong has no req_id, whatever the ping carried.
            self._answer(conn, "ping", True, "pong", None)
        elif op in ("subscribe", "unsubscribe"):
            if not isinstance(args, list) or not args:
                self._answer(conn, op, False, "error:args is empty", req_id)
            elif len(args) > MAX_ARGS:
                self._answer(conn, op, False, f"error:args size >{MAX_ARGS}", req_id)
            elif op == "subscribe":
                await self._subscribe(conn, args, req_id)
            else:
                for t in args:
                    for s in list(conn.streams):
                        if s.name == t:
                            s.remove(conn)
                self._answer(conn, op, True, "unsubscribe", req_id)
        else:
            self._answer(conn, str(op), False, f"error:unsupported op {op}", req_id)

    async def _subscribe(self, conn: BybitConn, args: list[Any], req_id: object) -> None:
        streams = [self._topic(t) for t in args]
        bad = [str(t) for t, s in zip(args, streams, strict=True) if s is None]
        if bad:
            self._answer(conn, "subscribe", False, f"Invalid symbol :[{','.join(bad)}]", req_id)
            return
        dup = [s.name for s in streams if s is not None and conn in s.subs]
        if dup:
            self._answer(
                conn, "subscribe", False, f"error:already subscribed,topic:{dup[0]}", req_id
            )
            return
        self._answer(conn, "subscribe", True, "subscribe", req_id)
        for s in streams:
            assert s is not None
            if s.feed.bursting is not None:  # its snapshot must follow the burst's last frame
                await s.feed.bursting.done.wait()
            s.feed.advance()
            first = not s.subs
            if first:
                s.reset()
            elif s.feed.bursting is None:
                s.publish()  # the others get what the snapshot will already hold
            conn.send(s.snapshot())
            s.add(conn)
            if first:
                self.subscribed(s.feed)

    async def keepalive(self, conn: BybitConn) -> None:
        """Apply the venue's keep-alive rules."""
        idle = time.monotonic() - max(conn.last_ping, conn.last_tx)
        if idle > self.cfg.bybit_idle_s:
            conn.cut("no ping and no data for 10 minutes")
