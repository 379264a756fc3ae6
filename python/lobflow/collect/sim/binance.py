"""Simulated Binance spot: REST ``/api/v3/depth`` and the diff-depth WebSocket streams.

What the venue documents (binance-spot-api-docs, web-socket-streams.md and rest-api.md) and
this module does:

- ``/stream?streams=<a>/<b>`` wraps each event as ``{"stream","data"}``; ``/ws/<stream>`` and
  ``/ws`` send raw events. ``<sym>@depth@100ms`` publishes every 100 ms, ``<sym>@depth``
  every second, and only when the book changed. Symbols are lowercase.
- An event is ``{"e":"depthUpdate","E":ms,"s":"BTCUSDT","U":first,"u":last,"b":[..],"a":[..]}``
  with every level changed since the previous event (qty ``"0.00000000"`` removes it), prices
  and quantities as 8-decimal strings. Each level change is one update id, so the next
  event's ``U`` is the previous ``u + 1``, and REST's ``lastUpdateId`` is the id of the book
  it returns: the documented local-book procedure works against it.
- Live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` /
  ``GET_PROPERTY``, answered ``{"result":..,"id":..}``; bad requests get the documented
  error codes (0-3) as ``{"error":{"code","msg"},"id"}``.
- A ping frame every 20 s; no pong carrying its payload within a minute closes the socket;
  more than 5 incoming messages (pings, pongs, requests) in a second closes it too.
- A stream name that is not a depth stream of a known symbol is accepted and stays silent.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lobflow.collect.sim.book import ASK, BID
from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.feed import Conn, Feed, Stream
from lobflow.collect.sim.instruments import fixed
from lobflow.collect.sim.venue import VenueSim, dumps, json_response, now_ms, parse_json
from lobflow.collect.venues import VENUES

if TYPE_CHECKING:
    from lobflow.collect.sim.book import DeepBook, Event

#: Stream suffix -> publication interval (s).
INTERVALS = {"@depth@100ms": 0.1, "@depth": 1.0, "@depth@1000ms": 1.0}
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


def level(inst_pd: int, inst_qd: int, price: int, qty: int) -> str:
    """One ``["price","qty"]`` pair, both with 8 decimals, as Binance writes them."""
    return f'["{fixed(price, inst_pd, max(8, inst_pd))}","{fixed(qty, inst_qd, max(8, inst_qd))}"]'


class BinanceConn(Conn):
    """A Binance socket: combined or raw, its stream names, its ping state."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__("binance", ws, request)
        self.combined = True
        self.names: list[str] = []
        self.ping_payload = b""
        self.ping_sent = self.last_pong = time.monotonic()
        self.rx_times: deque[float] = deque()


class DepthStream(Stream):
    """``<sym>@depth[@100ms]``: every level changed since the last event, with U/u."""

    def __init__(self, feed: Feed, name: str, interval_s: float) -> None:
        super().__init__(feed, name)
        self.interval_s = interval_s
        self.symbol = feed.inst.base + feed.inst.quote
        self._changed: dict[tuple[int, int], int] = {}
        self._first = 0
        self._last = 0

    def on_event(self, ev: Event) -> None:
        """Take one book event."""
        if not self._changed:
            self._first = ev.last_id - len(ev.changes) + 1
        for c in ev.changes:
            self._changed[(c.side, c.price)] = c.qty
        self._last = ev.last_id

    def idle(self) -> None:
        """Forget the changes gathered for the last subscriber."""
        self._changed.clear()

    def reset(self) -> None:
        """Start from the book as it is now."""
        self._changed.clear()

    def publish(self) -> None:
        """Send what changed since the last message, if anything."""
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        if self.feed.pending.take(Fault.DROP):
            self.feed.dropped += 1
            return
        data = self.encode(changed, now_ms(), self._first, self._last)
        self.broadcast_data(data, len(changed))

    def encode(
        self,
        changed: dict[tuple[int, int], int],
        e_ms: int | str,
        first: int | str,
        last: int | str,
    ) -> str:
        """The event's JSON (``e_ms``, ``first``, ``last`` are written as given)."""
        pd, qd = self.feed.inst.price_decimals, self.feed.inst.qty_decimals
        bids = sorted((p for s, p in changed if s == BID), reverse=True)
        asks = sorted(p for s, p in changed if s == ASK)
        b = ",".join(level(pd, qd, p, changed[(BID, p)]) for p in bids)
        a = ",".join(level(pd, qd, p, changed[(ASK, p)]) for p in asks)
        return (
            f'{{"e":"depthUpdate","E":{e_ms},"s":"{self.symbol}","U":{first},"u":{last},'
            f'"b":[{b}],"a":[{a}]}}'
        )

    def wrap(self, data: str) -> str:
        """The combined-stream frame of an event."""
        return f'{{"stream":"{self.name}","data":{data}}}'

    def variant(self, conn: Conn) -> object:
        """Combined sockets get the wrapped form."""
        return isinstance(conn, BinanceConn) and conn.combined

    def for_conn(self, conn: Conn, data: str) -> str:
        """The event wrapped as ``{"stream","data"}`` for a combined socket."""
        return self.wrap(data) if self.variant(conn) else data

    def broadcast_data(self, data: str, updates: int) -> None:
        """Send an event to every subscriber, wrapped where the socket is combined."""
        wrapped = self.wrap(data)
        for c in self.subs:
            c.send(wrapped if isinstance(c, BinanceConn) and c.combined else data)
            c.frames += 1
        self.feed.frames += 1
        self.feed.updates += updates

    def burst_encode(self, book: DeepBook, ev: Event) -> tuple[str, int] | None:
        """A burst frame for one event (holes: ms, first, last)."""
        changed = {(c.side, c.price): c.qty for c in ev.changes}
        data = self.encode(changed, "\x00ms\x00", "\x00first\x00", "\x00last\x00")
        return data, len(changed)


class Binance(VenueSim[BinanceConn]):
    """Binance spot's REST depth and diff-depth streams."""

    name = "binance"
    rate = 120.0

    def routes(self, app: web.Application) -> None:
        """Add the venue's routes."""
        app.router.add_get(VENUES[self.name].path, self.rest_depth)
        app.router.add_get("/stream", self.ws_combined)
        app.router.add_get("/ws", self.ws_raw)
        app.router.add_get("/ws/{streams:.*}", self.ws_raw)

    # -- REST ----------------------------------------------------------------------------

    async def rest_depth(self, req: web.Request) -> web.Response:
        """The REST order book."""
        self.sim.requests += 1
        sym = req.query.get("symbol", "")
        if not sym:
            return json_response(
                400,
                {
                    "code": -1102,
                    "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or "
                    "malformed.",
                },
            )
        u = self.listed(sym, ws=False)
        if u is None:
            return json_response(400, {"code": -1121, "msg": "Invalid symbol."})
        raw_limit = req.query.get("limit", "100")
        if not raw_limit.isdigit() or len(raw_limit) > 20:
            msg = "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."
            return json_response(400, {"code": -1100, "msg": msg})
        limit = min(max(int(raw_limit), 1), 5000)
        feed = self.feed(u)
        book = self.sim.rest_book(feed)
        pd, qd = feed.inst.price_decimals, feed.inst.qty_decimals
        body = (
            f'{{"lastUpdateId":{book.update_id},'
            f'"bids":[{",".join(level(pd, qd, p, q) for p, q in book.top(BID, limit))}],'
            f'"asks":[{",".join(level(pd, qd, p, q) for p, q in book.top(ASK, limit))}]}}'
        )
        return web.Response(text=body, content_type="application/json")

    # -- WebSocket -----------------------------------------------------------------------

    async def ws_combined(self, req: web.Request) -> web.WebSocketResponse:
        """``/stream?streams=a/b``: combined streams."""
        names = [n for n in req.query.get("streams", "").split("/") if n]
        return await self._ws(req, names, combined=True)

    async def ws_raw(self, req: web.Request) -> web.WebSocketResponse:
        """``/ws/<stream>`` and ``/ws``: raw streams."""
        names = [n for n in req.match_info.get("streams", "").split("/") if n]
        return await self._ws(req, names, combined=False)

    def new_conn(self, ws: web.WebSocketResponse, request: web.Request) -> BinanceConn:
        """A socket of this venue."""
        return BinanceConn(ws, request)

    async def _ws(
        self, req: web.Request, names: list[str], *, combined: bool
    ) -> web.WebSocketResponse:
        conn = await self.accept(req)
        conn.combined = combined
        for n in names:
            self._subscribe(conn, n)
        await self.serve(conn)
        return conn.ws

    def _stream(self, name: str) -> DepthStream | None:
        for suffix, interval in INTERVALS.items():
            sym = name.removesuffix(suffix)
            if sym != name and "@" not in sym:
                u = self.listed(sym, ws=True)
                if u is None:
                    return None
                feed = self.feed(u)
                s = feed.streams.get(name)
                if s is None:
                    s = feed.streams[name] = DepthStream(feed, name, interval)
                assert isinstance(s, DepthStream)
                return s
        return None

    def _subscribe(self, conn: BinanceConn, name: str) -> None:
        if name in conn.names or len(conn.names) >= 1024:
            return
        conn.names.append(name)
        s = self._stream(name)
        if s is not None:
            s.feed.advance()
            first = not s.subs
            s.add(conn)
            if first:
                self.subscribed(s.feed)

    def _unsubscribe(self, conn: BinanceConn, name: str) -> None:
        if name in conn.names:
            conn.names.remove(name)
        for s in list(conn.streams):
            if s.name == name:
                s.remove(conn)

    async def on_text(self, conn: BinanceConn, text: str) -> None:
        """Answer one client request."""
        doc = parse_json(text)
        if not isinstance(doc, dict):
            conn.send(
                dumps(
                    {
                        "error": {
                            "code": 3,
                            "msg": "Invalid JSON: expected value at line 1 column 1",
                        },
                        "id": None,
                    }
                )
            )
            return
        rid = doc.get("id")
        if not _valid_id(rid):
            self._error(conn, 2, "Invalid request: request ID must be an unsigned integer", None)
            return
        method = doc.get("method")
        if method is None:
            self._error(conn, 2, "Invalid request: missing field `method` at line 1 column 1", rid)
            return
        if method not in METHODS:
            expected = ", ".join(f"`{m}`" for m in METHODS)
            self._error(
                conn,
                2,
                f"Invalid request: unknown variant `{method}`, expected one "
                f"of {expected} at line 1 column 28",
                rid,
            )
            return
        params = doc.get("params", [])
        if not isinstance(params, list):
            self._error(conn, 2, "Invalid request: too many parameters", rid)
            return
        result: Any = None
        if method == "SUBSCRIBE":
            for n in params:
                self._subscribe(conn, str(n))
        elif method == "UNSUBSCRIBE":
            for n in params:
                self._unsubscribe(conn, str(n))
        elif method == "LIST_SUBSCRIPTIONS":
            result = list(conn.names)
        elif params[:1] != ["combined"]:
            self._error(conn, 0, "Unknown property", rid)
            return
        elif method == "SET_PROPERTY":
            if len(params) != 2 or not isinstance(params[1], bool):
                self._error(conn, 1, "Invalid value type: expected Boolean", rid)
                return
            conn.combined = params[1]
        else:
            result = conn.combined
        conn.send(dumps({"result": result, "id": rid}))

    def _error(self, conn: BinanceConn, code: int, msg: str, rid: object) -> None:
        conn.send(dumps({"error": {"code": code, "msg": msg}, "id": rid}))

    def on_rx(self, conn: BinanceConn) -> bool:
        """Count an incoming message; past the venue's 5 a second the socket is cut."""
        now = time.monotonic()
        times = conn.rx_times
        times.append(now)
        while times and times[0] < now - 1.0:
            times.popleft()
        if len(times) > self.cfg.binance_max_msgs_per_s:
            conn.cut("more than 5 incoming messages a second")
            return False
        return True

    def on_pong(self, conn: BinanceConn, payload: bytes) -> None:
        """Take a pong frame."""
        # Only a pong carrying the last ping's payload counts ("unsolicited pong frames are
        # allowed, but will not prevent disconnection").
        if payload == conn.ping_payload:
            conn.last_pong = time.monotonic()

    async def keepalive(self, conn: BinanceConn) -> None:
        """Apply the venue's keep-alive rules."""
        now = time.monotonic()
        if now - conn.last_pong > self.cfg.binance_pong_timeout_s:
            conn.cut("no pong within the timeout")
            return
        if now - conn.ping_sent >= self.cfg.binance_ping_s:
            conn.ping_sent = now
            conn.ping_payload = str(now_ms()).encode()
            try:
                await conn.ws.ping(conn.ping_payload)
            except (ConnectionError, RuntimeError):
                conn.closed = True


def _valid_id(rid: object) -> bool:
    """Binance's accepted ids: an integer, an alphanumeric string of up to 36, or null."""
    if rid is None:
        return True
    if isinstance(rid, bool):
        return False
    if isinstance(rid, int):
        return True
    return isinstance(rid, str) and len(rid) <= 36 and rid.isalnum()
