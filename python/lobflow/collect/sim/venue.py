"""What the four simulated venues share: settings, the socket loop, JSON and time helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from aiohttp import WSMsgType, web

from lobflow.collect.sim.feed import Conn
from lobflow.collect.sim.instruments import instrument
from lobflow.collect.venues import VENUES

if TYPE_CHECKING:
    from lobflow.collect.sim.feed import Feed, Stream
    from lobflow.collect.sim.server import SimExchange

log = logging.getLogger("lobflow.collect.sim")

C = TypeVar("C", bound=Conn)


@dataclass(frozen=True)
class SimConfig:
    """Settings of the simulated venue (the venues' documented values by default)."""

    seed: int = 0
    #: Levels a side each book keeps (REST and WS depths above it get fewer levels).
    depth: int = 200
    #: Multiplies every venue's book-event rate (1.0: the venues' real rates).
    rate_scale: float = 1.0
    #: Frames of a burst started on a stream's first subscription (0: none).
    burst_on_subscribe: int = 0
    #: Book events of a burst's forward half (the burst replays them forward, then undone).
    burst_cycle: int = 4_000
    #: A socket that takes nothing of a burst for this long is cut (a slow consumer).
    burst_slow_consumer_s: float = 10.0
    #: Binance: server ping every this many seconds; no matching pong within the timeout
    #: closes the socket; more than this many incoming messages a second closes it too.
    binance_ping_s: float = 20.0
    binance_pong_timeout_s: float = 60.0
    binance_max_msgs_per_s: int = 5
    #: Bybit: a socket with neither a client ping nor data for this long is closed.
    bybit_idle_s: float = 600.0
    #: Kraken: a heartbeat after this long without any other message (when subscribed).
    kraken_heartbeat_s: float = 1.0
    #: KuCoin: token lifetime, and the bullet's pingInterval / pingTimeout (ms).
    kucoin_token_ttl_s: float = 24 * 3600.0
    kucoin_ping_interval_ms: int = 18_000
    kucoin_ping_timeout_ms: int = 10_000
    #: Every venue cuts a socket after this long (24 h: "expect to be disconnected").
    conn_lifetime_s: float = 24 * 3600.0


def dumps(doc: object) -> str:
    """Compact JSON, as the venues send it."""
    return json.dumps(doc, separators=(",", ":"))


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def rfc3339(t_ns: int) -> str:
    """``2023-10-06T17:35:55.440295Z`` (RFC 3339, microseconds, UTC), as Kraken v2 writes."""
    s, ns = divmod(t_ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns // 1000:06d}Z"


def json_response(status: int, doc: object, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with ``status``."""
    return web.Response(
        text=dumps(doc), status=status, content_type="application/json", headers=headers
    )


class VenueSim(Generic[C]):
    """One venue's routes and sockets on the shared server (subclassed per venue)."""

    name = ""
    #: Book events a second of one symbol at the venue's real rate.
    rate = 50.0

    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim
        self.cfg = sim.cfg

    def routes(self, app: web.Application) -> None:
        """Add the venue's REST and WebSocket routes."""
        raise NotImplementedError

    def listed(self, venue_symbol: str, *, ws: bool) -> str | None:
        """The unified symbol of a listed market spelled exactly as this venue does, else None.

        Spellings and their inverse are the venue module's (`lobflow.collect.venues`):
        ``ws`` picks the WebSocket spelling (Binance's lower case, Kraken's ``BTC/USDT``).
        """
        v = VENUES[self.name]
        u = v.unified(venue_symbol)
        if u is None:
            return None
        try:
            instrument(u)
            spelled = v.ws_symbol(u) if ws else v.symbol(u)
        except ValueError:
            return None
        return u if spelled == venue_symbol else None

    def feed(self, unified: str) -> Feed:
        """The venue's feed of a unified symbol."""
        return self.sim.feed(self.name, unified)

    def burst_streams(self, feed: Feed) -> list[Stream]:
        """The feed's streams with subscribers, in a fixed order."""
        return [s for _, s in sorted(feed.streams.items()) if s.subs]

    # -- sockets -------------------------------------------------------------------------

    def new_conn(self, ws: web.WebSocketResponse, request: web.Request) -> C:
        """The venue's socket object (with its protocol state)."""
        raise NotImplementedError

    async def accept(self, request: web.Request) -> C:
        """Upgrade to a WebSocket and register it (pings are answered by hand: stalls)."""
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = self.new_conn(ws, request)
        self.sim.conns.add(conn)
        return conn

    async def serve(self, conn: C) -> None:
        """Run a socket until it closes: its writer, keep-alive and receive loop."""
        tasks = [
            asyncio.create_task(conn.writer()),
            asyncio.create_task(self._keepalive_loop(conn)),
        ]
        try:
            await self._receive(conn)
        finally:
            conn.closed = True
            conn.leave_all()
            self.sim.conns.discard(conn)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close()

    async def _receive(self, conn: C) -> None:
        async for msg in conn.ws:
            conn.last_rx = time.monotonic()
            if conn.closed:
                break
            if conn.stalled:
                continue  # a stalled venue reads nothing and answers nothing
            if not self.on_rx(conn):
                break
            if msg.type == WSMsgType.TEXT:
                await self.on_text(conn, msg.data)
            elif msg.type == WSMsgType.BINARY:
                await self.on_text(conn, msg.data.decode(errors="replace"))
            elif msg.type == WSMsgType.PING:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                self.on_pong(conn, msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    async def _keepalive_loop(self, conn: C) -> None:
        while not conn.closed:
            await asyncio.sleep(0.25)
            if time.monotonic() - conn.opened > self.cfg.conn_lifetime_s:
                conn.cut("connection lifetime reached")
                return
            if not conn.stalled:
                await self.keepalive(conn)

    def on_rx(self, conn: C) -> bool:
        """Count one incoming frame of any kind; False ends the socket (rate limits)."""
        return True

    async def on_text(self, conn: C, text: str) -> None:
        """Handle one client message."""

    def on_pong(self, conn: C, payload: bytes) -> None:
        """Handle a pong frame."""

    async def keepalive(self, conn: C) -> None:
        """Called every 0.25 s of a live socket: pings, heartbeats, timeouts."""

    # -- events --------------------------------------------------------------------------

    def subscribed(self, feed: Feed) -> None:
        """Tell the server a stream of ``feed`` got a subscriber (bursts on subscribe)."""
        self.sim.on_subscribed(feed)


def parse_json(text: str) -> object:
    """The JSON document of a client message, or None if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None
