"""Simulated KuCoin spot: REST level2 part books, ``bullet-public`` tokens and the WebSocket.

What the venue documents (kucoin-universal-sdk spec, docs-new websocket base-info and error
codes, the legacy docs) and this module does:

- ``POST /api/v1/bullet-public`` returns a token (valid 24 h) and one instance server whose
  endpoint is this server (``ws://<host:port>/``), with ``pingInterval`` / ``pingTimeout``.
- ``<endpoint>?token=..&connectId=..``: no token is an HTTP 401 on the handshake; an unknown
  token gets ``{"id":<connectId>,"type":"error","code":401,"data":"token is invalid"}``, an
  expired one ``... "token is expired"``, and the socket is cut; a good one gets
  ``{"id":<connectId>,"type":"welcome"}``.
- ``{"id":..,"type":"subscribe","topic":"/spotMarket/level2Depth5:BTC-USDT,ETH-USDT",
  "response":true}`` is acknowledged ``{"id":"<id>","type":"ack"}``; each symbol then gets
  ``{"topic","type":"message","subject":"level2","data":{"asks","bids","timestamp"}}``, a
  whole top-5 (or top-50) book, every 100 ms when it changed (and once right after the ack).
  Errors use the documented codes: 404 topic does not exist, 406 topic is required, 415
  command type is invalid, 509 past 100 topics a request or 300 a session.
- ``{"id":..,"type":"ping"}`` gets ``{"id":..,"type":"pong"}``; no ping within
  ``pingInterval + pingTimeout`` gets ``{"type":"error","code":400,"data":"ping timeout"}``
  and the socket is cut.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lobflow.collect.sim.book import ASK, BID
from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.feed import Conn, Feed, Stream
from lobflow.collect.sim.instruments import Instrument, stripped
from lobflow.collect.sim.venue import VenueSim, dumps, now_ms, parse_json
from lobflow.collect.venues import VENUES

KUCOIN = VENUES["kucoin"]

if TYPE_CHECKING:
    from lobflow.collect.sim.book import DeepBook, Event
    from lobflow.collect.sim.server import SimExchange

#: The part books: the venue module's top-20 path, and the top-100 one beside it.
REST_PATHS = {KUCOIN.path: 20, "/api/v1/market/orderbook/level2_100": 100}
BULLET_PATH = "/api/v1/bullet-public"
WS_PATH = "/"
#: Topic prefix -> levels of the whole book each message carries.
TOPICS = {"/spotMarket/level2Depth5": 5, "/spotMarket/level2Depth50": 50}
INTERVAL_S = 0.1
MAX_TOPICS_PER_REQUEST = 100
MAX_TOPICS_PER_SESSION = 300


def rows(inst: Instrument, side: list[tuple[int, int]]) -> str:
    """``["67996.7","1.14213262"],...``: KuCoin writes decimals without trailing zeros."""
    pd, qd = inst.price_decimals, inst.qty_decimals
    return ",".join(f'["{stripped(p, pd)}","{stripped(q, qd)}"]' for p, q in side)


@dataclass
class Token:
    """One bullet-public token."""

    expires: float
    expired: bool = False


class KucoinConn(Conn):
    """A KuCoin socket: its token, connectId and last client ping."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, token: str, conn_id: str
    ) -> None:
        super().__init__("kucoin", ws, request)
        self.token = token
        self.conn_id = conn_id
        self.last_ping = time.monotonic()
        self.topics = 0


class DepthStream(Stream):
    """``/spotMarket/level2DepthN:SYM``: the whole top-N book whenever it changed."""

    interval_s = INTERVAL_S

    def __init__(self, feed: Feed, prefix: str) -> None:
        super().__init__(feed, f"{prefix}:{feed.inst.unified}")
        self.n = TOPICS[prefix]
        self.view: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])

    def top(self, book: DeepBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The top-N of a book."""
        return book.top(BID, self.n), book.top(ASK, self.n)

    def reset(self) -> None:
        """Take the book as it is now."""
        self.view = self.top(self.feed.book)

    def message(self, ts: int | str) -> str:
        """The message of the current view."""
        inst = self.feed.inst
        bids, asks = self.view
        return (
            f'{{"topic":"{self.name}","type":"message","subject":"level2","data":'
            f'{{"asks":[{rows(inst, asks)}],"bids":[{rows(inst, bids)}],"timestamp":{ts}}}}}'
        )

    def publish(self) -> None:
        """Send what changed since the last message, if anything."""
        new = self.top(self.feed.book)
        if new == self.view:
            return
        self.view = new
        if self.feed.pending.take(Fault.DROP):
            self.feed.dropped += 1
            return
        self.broadcast(self.message(now_ms()), len(new[0]) + len(new[1]))

    def burst_encode(self, book: DeepBook, ev: Event) -> tuple[str, int] | None:
        """A burst frame for one event (see `Stream.burst_encode`)."""
        new = self.top(book)
        if new == self.view:
            return None
        self.view = new
        return self.message("\x00ms\x00"), len(new[0]) + len(new[1])


class Kucoin(VenueSim[KucoinConn]):
    """KuCoin spot's REST part books, public token and level2 depth topics."""

    name = "kucoin"
    rate = 40.0

    def __init__(self, sim: SimExchange) -> None:
        super().__init__(sim)
        self.tokens: dict[str, Token] = {}

    def routes(self, app: web.Application) -> None:
        """Add the venue's routes."""
        for path in REST_PATHS:
            app.router.add_get(path, self.rest_orderbook)
        app.router.add_post(BULLET_PATH, self.bullet)
        app.router.add_get(WS_PATH, self.ws)

    def new_conn(self, ws: web.WebSocketResponse, request: web.Request) -> KucoinConn:
        """A socket of this venue."""
        return KucoinConn(
            ws,
            request,
            request.query.get("token", ""),
            request.query.get("connectId", "") or secrets.token_hex(8),
        )

    def _json(self, doc: object, status: int = 200) -> web.Response:
        self.sim.requests += 1
        return web.Response(text=dumps(doc), status=status, content_type="application/json")

    # -- REST ----------------------------------------------------------------------------

    async def rest_orderbook(self, req: web.Request) -> web.Response:
        """The REST order book."""
        u = req.query.get("symbol", "")
        if self.listed(u, ws=False) is None:
            return self._json({"code": "400100", "msg": "Invalid Parameter."})
        feed = self.feed(u)
        book = self.sim.rest_book(feed)
        n = REST_PATHS[req.path]
        body = (
            f'{{"code":"200000","data":{{"time":{now_ms()},"sequence":"{book.update_id}",'
            f'"bids":[{rows(feed.inst, book.top(BID, n))}],'
            f'"asks":[{rows(feed.inst, book.top(ASK, n))}]}}}}'
        )
        self.sim.requests += 1
        return web.Response(text=body, content_type="application/json")

    async def bullet(self, req: web.Request) -> web.Response:
        """``POST /api/v1/bullet-public``: a token and this server as the endpoint."""
        raw = base64.urlsafe_b64encode(secrets.token_bytes(120)).decode()
        token = f"{raw}.{base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()}"
        self.tokens[token] = Token(time.monotonic() + self.cfg.kucoin_token_ttl_s)
        server = {
            "endpoint": f"ws://{req.host}{WS_PATH}",
            "encrypt": False,
            "protocol": "websocket",
            "pingInterval": self.cfg.kucoin_ping_interval_ms,
            "pingTimeout": self.cfg.kucoin_ping_timeout_ms,
        }
        return self._json({"code": "200000", "data": {"token": token, "instanceServers": [server]}})

    def expire_tokens(self) -> int:
        """Expire every token issued so far and cut the sockets using one; returns the cut."""
        for t in self.tokens.values():
            t.expired = True
        cut = 0
        for c in list(self.sim.conns):
            if isinstance(c, KucoinConn) and not c.closed:
                c.cut("token expired")
                cut += 1
        return cut

    # -- WebSocket -----------------------------------------------------------------------

    async def ws(self, req: web.Request) -> web.StreamResponse:
        """The venue's WebSocket endpoint."""
        if not web.WebSocketResponse().can_prepare(req).ok:
            return self._json({"code": "404000", "msg": "Url Not Found"}, status=404)
        token = req.query.get("token", "")
        if not token:
            return web.Response(status=401, text="Unauthorized")
        conn = await self.accept(req)
        t = self.tokens.get(token)
        problem = (
            "token is invalid"
            if t is None
            else "token is expired"
            if t.expired or time.monotonic() > t.expires
            else ""
        )
        if problem:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.send_str(
                    dumps({"id": conn.conn_id, "type": "error", "code": 401, "data": problem})
                )
            conn.cut(problem)
            self.sim.conns.discard(conn)
            return conn.ws
        conn.send(dumps({"id": conn.conn_id, "type": "welcome"}))
        await self.serve(conn)
        return conn.ws

    def _error(self, conn: KucoinConn, rid: object, code: int, data: str) -> None:
        conn.send(dumps({"id": str(rid), "type": "error", "code": code, "data": data}))

    async def on_text(self, conn: KucoinConn, text: str) -> None:
        """Answer one client request."""
        doc = parse_json(text)
        if not isinstance(doc, dict):
            self._error(conn, conn.conn_id, 415, "command type is invalid")
            return
        rid, kind = doc.get("id", ""), doc.get("type")
        if kind == "ping":
            conn.last_ping = time.monotonic()
            conn.send(dumps({"id": str(rid), "type": "pong"}))
        elif kind in ("subscribe", "unsubscribe"):
            await self._topic(conn, doc, rid, subscribe=kind == "subscribe")
        else:
            self._error(conn, rid, 415, "command type is invalid")

    async def _topic(
        self, conn: KucoinConn, doc: dict[str, Any], rid: object, *, subscribe: bool
    ) -> None:
        topic = doc.get("topic")
        if not isinstance(topic, str) or not topic:
            self._error(conn, rid, 406, "topic is required")
            return
        prefix, _, syms = topic.partition(":")
        symbols = [s for s in syms.split(",") if s]
        if prefix not in TOPICS or not symbols or not all(self.listed(s, ws=True) for s in symbols):
            self._error(conn, rid, 404, f"topic {topic} does not exist")
            return
        if len(symbols) > MAX_TOPICS_PER_REQUEST:
            self._error(conn, rid, 509, "exceed max subscription count limitation of 100 per time")
            return
        if subscribe and conn.topics + len(symbols) > MAX_TOPICS_PER_SESSION:
            self._error(
                conn, rid, 509, "exceed max subscription count limitation of 300 per session"
            )
            return
        streams: list[DepthStream] = []
        for sym in symbols:
            feed = self.feed(sym)
            key = f"{prefix}:{sym}"
            s = feed.streams.get(key)
            if s is None:
                s = feed.streams[key] = DepthStream(feed, prefix)
            assert isinstance(s, DepthStream)
            streams.append(s)
        if doc.get("response", False):
            conn.send(dumps({"id": str(rid), "type": "ack"}))
        for s in streams:
            if not subscribe:
                if conn in s.subs:
                    s.remove(conn)
                    conn.topics -= 1
                continue
            if conn in s.subs:
                continue
            if s.feed.bursting is not None:
                await s.feed.bursting.done.wait()
            s.feed.advance()
            first = not s.subs
            if first:
                s.reset()
            conn.send(s.message(now_ms()))
            s.add(conn)
            conn.topics += 1
            if first:
                self.subscribed(s.feed)

    async def keepalive(self, conn: KucoinConn) -> None:
        """Apply the venue's keep-alive rules."""
        limit = (self.cfg.kucoin_ping_interval_ms + self.cfg.kucoin_ping_timeout_ms) / 1000
        if time.monotonic() - conn.last_ping > limit:
            self._error(conn, conn.conn_id, 400, "ping timeout")
            await conn.drain()
            conn.cut("ping timeout")
