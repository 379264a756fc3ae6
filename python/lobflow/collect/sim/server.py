"""`SimExchange`: one aiohttp server on 127.0.0.1 speaking the four venues' REST and WebSockets.

Every (venue, symbol) has its own `DeepBook`, evolving in wall-clock time at the venue's real
event rate (scaled by ``rate_scale``); the venue's REST answer and its WebSocket streams are
views of that one book. Paths are the venues' own, so one port stands in for all four:

=========  ===================================================  ===========================
venue      REST                                                 WebSocket
=========  ===================================================  ===========================
binance    ``GET /api/v3/depth``                                ``/stream?streams=``, ``/ws``
bybit      ``GET /v5/market/orderbook``                         ``/v5/public/spot``
kraken     ``GET /0/public/Depth``, ``/0/public/AssetPairs``    ``/v2``
kucoin     ``GET /api/v1/market/orderbook/level2_{20,100}``,    ``/`` (the bullet's endpoint)
           ``POST /api/v1/bullet-public``
=========  ===================================================  ===========================

Faults (`SimExchange.inject`, or ``POST /sim/inject``) and bursts (`SimExchange.burst`,
``POST /sim/burst``, or ``burst_on_subscribe``) are what tests and the demo use; counters are
at `SimExchange.stats` and ``GET /sim/stats``. Run it with ``lobflow sim-exchange`` or::

    async with SimExchange(seed=1) as sim:
        await acollect(exchanges=["kucoin"], base_urls=sim.base_urls, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lobflow.collect.sim.binance import Binance
from lobflow.collect.sim.book import DeepBook
from lobflow.collect.sim.burst import Burst, BurstResult
from lobflow.collect.sim.bybit import Bybit, OrderbookStream
from lobflow.collect.sim.faults import Fault, Injected, parse_fault
from lobflow.collect.sim.feed import Conn, Feed
from lobflow.collect.sim.instruments import instrument
from lobflow.collect.sim.kraken import Kraken
from lobflow.collect.sim.kucoin import Kucoin
from lobflow.collect.sim.venue import SimConfig, VenueSim, dumps, json_response

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from lobflow.collect.sim.feed import Stream

log = logging.getLogger("lobflow.collect.sim")

VENUE_NAMES = ("kucoin", "kraken", "bybit", "binance")


@dataclass(frozen=True)
class FeedStats:
    """Counters of one (venue, symbol) feed."""

    venue: str
    symbol: str
    frames: int
    updates: int
    dropped: int
    subscribers: int
    book_events: int
    bursting: bool


@dataclass(frozen=True)
class SimStats:
    """Counters of the whole simulated venue."""

    requests: int
    connections: int
    feeds: tuple[FeedStats, ...]
    bursts: tuple[BurstResult, ...]


class SimExchange:
    """The simulated venue: all four venues' REST and WebSocket order books on one port.

    Parameters
    ----------
    seed
        Seeds every book (each (venue, symbol) book has its own stream of draws).
    host, port
        Where to listen (port 0: any free port; read `port` once entered).
    config
        Rates, depth, keep-alive timings, bursts (see `SimConfig`); keywords of `SimConfig`
        may be given directly instead.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SimConfig | None = None,
        **settings: Any,  # noqa: ANN401 (SimConfig's keywords, checked by replace)
    ) -> None:
        base = config or SimConfig()
        self.cfg = dataclasses.replace(base, seed=seed, **settings)
        self.seed = seed
        self.host = host
        self.port = port
        self.requests = 0
        self.feeds: dict[tuple[str, str], Feed] = {}
        self.conns: set[Conn] = set()
        self.bursts: list[BurstResult] = []
        self.binance = Binance(self)
        self.bybit = Bybit(self)
        self.kraken = Kraken(self)
        self.kucoin = Kucoin(self)
        self.venues: dict[str, VenueSim[Any]] = {
            v.name: v for v in (self.kucoin, self.kraken, self.bybit, self.binance)
        }
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- books ---------------------------------------------------------------------------

    def feed(self, venue: str, unified: str) -> Feed:
        """The (lazily created) feed of a venue and unified symbol."""
        f = self.feeds.get((venue, unified))
        if f is None:
            inst = instrument(unified)
            seed = self.seed * 1_000_003 + zlib.crc32(f"{venue}:{unified}".encode())
            rate = self.venues[venue].rate * self.cfg.rate_scale
            book = DeepBook(inst, seed, depth=self.cfg.depth, rate=rate)
            f = self.feeds[(venue, unified)] = Feed(venue, inst, book)
        return f

    def set_rate(self, venue: str, symbol: str, events_per_s: float) -> None:
        """Set one feed's book-event rate from now on (0 freezes the book: a quiet market).

        Raises
        ------
        ValueError
            If the venue or symbol is unknown or the rate is negative or not finite.
        """
        if venue not in self.venues:
            msg = f"unknown venue {venue!r}: one of {list(VENUE_NAMES)}"
            raise ValueError(msg)
        if not 0 <= events_per_s < float("inf"):
            msg = f"events_per_s must be finite and >= 0, got {events_per_s}"
            raise ValueError(msg)
        feed = self.feed(venue, symbol)
        feed.advance()
        feed.book.rate = events_per_s
        feed.book.restart_clock()

    def rest_book(self, feed: Feed) -> DeepBook:
        """The book a REST request sees: now, or the last frame written by a burst."""
        if feed.bursting is not None:
            return feed.bursting.book_now()
        feed.advance()
        return feed.book

    # -- the server ----------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (all four venues' routes and the admin routes)."""
        app = web.Application()
        for v in self.venues.values():
            v.routes(app)
        app.router.add_post("/sim/inject", self._admin_inject)
        app.router.add_post("/sim/burst", self._admin_burst)
        app.router.add_get("/sim/stats", self._admin_stats)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def __aenter__(self) -> SimExchange:
        self._runner = web.AppRunner(self.app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _on_shutdown(self, _app: web.Application) -> None:
        for t in list(self._tasks):
            t.cancel()
        for f in self.feeds.values():
            for s in f.streams.values():
                s.stop()
        for c in list(self.conns):
            c.cut("server shutdown")

    @property
    def base_urls(self) -> dict[str, str]:
        """REST base URL of every venue (the same server stands in for each)."""
        return {name: f"http://{self.host}:{self.port}" for name in VENUE_NAMES}

    @property
    def ws_urls(self) -> dict[str, str]:
        """WebSocket scheme+host+port of every venue (KuCoin's comes from its bullet)."""
        return {name: f"ws://{self.host}:{self.port}" for name in VENUE_NAMES}

    # -- faults --------------------------------------------------------------------------

    def inject(
        self,
        venue: str,
        symbol: str | None,
        fault: str | Fault,
        *,
        count: int = 1,
        seconds: float | None = None,
        code: int | None = None,
    ) -> Injected:
        """Inject a fault into the feed of ``venue`` and unified ``symbol``.

        Parameters
        ----------
        venue, symbol
            The feed (``symbol`` is unified, ``BTC-USDT``; None only for ``expire_token``,
            which acts on every KuCoin token).
        fault
            A `Fault` or its name: ``drop``, ``bad_checksum``, ``close``, ``stall``,
            ``restart``, ``expire_token``, ``clear``.
        count
            How many messages ``drop`` / ``bad_checksum`` / ``restart`` act on.
        seconds
            How long ``stall`` lasts (None: until ``clear``).
        code
            ``close`` with this WebSocket close code instead of cutting the TCP connection.

        Raises
        ------
        ValueError
            An unknown venue, symbol or fault, a fault the venue does not have, or a count
            below 1.
        """
        f = parse_fault(venue, fault)
        if count < 1:
            msg = f"count must be >= 1, got {count}"
            raise ValueError(msg)
        if f is Fault.EXPIRE_TOKEN:
            return Injected(venue, symbol, f, self.kucoin.expire_tokens())
        if symbol is None:
            msg = f"fault {f.value!r} needs a symbol"
            raise ValueError(msg)
        feed = self.feed(venue, symbol)
        conns = feed.conns()
        if f in (Fault.DROP, Fault.BAD_CHECKSUM, Fault.RESTART):
            setattr(feed.pending, f.value, getattr(feed.pending, f.value) + count)
            return Injected(venue, symbol, f, 0)
        if f is Fault.CLOSE:
            for c in conns:
                if code is None:
                    c.cut("close fault")
                else:
                    self._spawn(c.close(code, "close fault"))
        elif f is Fault.STALL:
            for c in conns:
                c.stall(seconds)
        else:  # CLEAR
            feed.pending.drop = feed.pending.bad_checksum = feed.pending.restart = 0
            for c in conns:
                c.unstall()
        return Injected(venue, symbol, f, len(conns))

    def _spawn(self, coro: Coroutine[object, object, object]) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            log.error("simulated venue task failed: %s", e, exc_info=e)

    # -- bursts --------------------------------------------------------------------------

    async def burst(self, venue: str, symbol: str, frames: int) -> BurstResult:
        """Replay ``frames`` book updates of a feed to its subscribers as fast as they take.

        Raises
        ------
        ValueError
            If the venue or symbol is unknown, ``frames`` < 1, or the feed is bursting.
        """
        if venue not in self.venues:
            msg = f"unknown venue {venue!r}: one of {list(VENUE_NAMES)}"
            raise ValueError(msg)
        if frames < 1:
            msg = f"frames must be >= 1, got {frames}"
            raise ValueError(msg)
        feed = self.feed(venue, symbol)
        if feed.bursting is not None:
            msg = f"{venue} {symbol} is already bursting"
            raise ValueError(msg)
        # No await from here to `bursting`: the loop must start from the book the subscribers
        # were last sent, and no real-time message may be published after it.
        feed.advance()
        streams = self.venues[venue].burst_streams(feed)
        for s in streams:
            s.publish()
        counts: dict[Stream, int] = {s: s.u for s in streams if isinstance(s, OrderbookStream)}
        b = Burst(feed, streams, frames, self.cfg.burst_cycle, self.cfg.burst_slow_consumer_s)
        feed.bursting = b
        try:
            for c in feed.conns():
                await c.drain()  # what was queued goes out before the first raw frame
            result = await b.play(counts)
        finally:
            b.finish()
            feed.bursting = None
            for s in streams:
                s.reset()
                if isinstance(s, OrderbookStream) and s in counts:
                    s.u = counts[s]
            b.done.set()
        self.bursts.append(result)
        log.info(
            "burst %s %s: %d frames, %d updates in %.3f s (%.0f frames/s)",
            venue,
            symbol,
            result.frames,
            result.updates,
            result.seconds,
            result.frames_per_s,
        )
        return result

    def on_subscribed(self, feed: Feed) -> None:
        """A stream of ``feed`` got its first subscriber: start a burst if configured."""
        if self.cfg.burst_on_subscribe > 0 and feed.bursting is None:

            async def later() -> None:
                await asyncio.sleep(0.01)  # let the ack and snapshot go out first
                if feed.bursting is None:
                    await self.burst(feed.venue, feed.inst.unified, self.cfg.burst_on_subscribe)

            self._spawn(later())

    # -- stats and admin -----------------------------------------------------------------

    def stats(self) -> SimStats:
        """Counters of every feed, the sockets and the bursts so far."""
        feeds = tuple(
            FeedStats(
                f.venue,
                f.inst.unified,
                f.frames,
                f.updates,
                f.dropped,
                len(f.conns()),
                f.book.events,
                f.bursting is not None,
            )
            for f in self.feeds.values()
        )
        return SimStats(self.requests, len(self.conns), feeds, tuple(self.bursts))

    async def _body(self, req: web.Request) -> dict[str, Any]:
        try:
            doc = await req.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise web.HTTPBadRequest(
                text=dumps({"error": "the body must be a JSON object"}),
                content_type="application/json",
            )
        return doc

    async def _admin_inject(self, req: web.Request) -> web.Response:
        doc = await self._body(req)
        try:
            got = self.inject(
                str(doc.get("venue")),
                doc.get("symbol"),
                str(doc.get("fault")),
                count=int(doc.get("count", 1)),
                seconds=None if doc.get("seconds") is None else float(doc["seconds"]),
                code=None if doc.get("code") is None else int(doc["code"]),
            )
        except (ValueError, TypeError) as e:
            return json_response(400, {"error": str(e)})
        return json_response(200, dataclasses.asdict(got))

    async def _admin_burst(self, req: web.Request) -> web.Response:
        doc = await self._body(req)
        try:
            venue, symbol, frames = (
                str(doc.get("venue")),
                str(doc.get("symbol")),
                int(doc.get("frames", 0)),
            )
            if venue not in self.venues or frames < 1:
                msg = f"need a venue of {list(VENUE_NAMES)} and frames >= 1, got {doc}"
                raise ValueError(msg)
            instrument(symbol)
        except (ValueError, TypeError) as e:
            return json_response(400, {"error": str(e)})
        if doc.get("wait", False):
            result = await self.burst(venue, symbol, frames)
            return json_response(200, dataclasses.asdict(result))
        self._spawn(self.burst(venue, symbol, frames))
        return json_response(202, {"started": True, "venue": venue, "symbol": symbol})

    async def _admin_stats(self, _req: web.Request) -> web.Response:
        return json_response(200, dataclasses.asdict(self.stats()))


def serve(
    port: int,
    seed: int = 0,
    host: str = "127.0.0.1",
    **settings: Any,  # noqa: ANN401 (SimConfig's keywords)
) -> None:
    """Run the simulated venue until interrupted (``settings``: `SimConfig` keywords)."""
    sim = SimExchange(seed=seed, host=host, port=port, **settings)
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(sim.app(), host=host, port=port, print=lambda *_: None)
