"""Sockets, streams and feeds of the simulated venue, shared by the four venues' protocols.

A `Feed` is one symbol on one venue: a `DeepBook`, the `Stream` s clients subscribe to
(Binance ``btcusdt@depth@100ms``, Bybit ``orderbook.50.BTCUSDT``, ...), and the faults waiting
for its next messages. A stream publishes on its venue's clock (every ``interval_s``) or on
every book event (``interval_s`` None, Kraken), encoding each message once for all its
subscribers. A `Conn` is one client socket: messages queue in order and one writer task sends
them, so a slow client delays only itself (and is cut past ``max_queue`` messages, as the
venues cut slow consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from lobflow.collect.sim.faults import Pending

if TYPE_CHECKING:
    from aiohttp import web

    from lobflow.collect.sim.book import DeepBook, Event
    from lobflow.collect.sim.burst import Burst
    from lobflow.collect.sim.instruments import Instrument

log = logging.getLogger("lobflow.collect.sim")

#: Messages a socket may have queued before it counts as a slow consumer and is cut.
MAX_QUEUE = 50_000


class Conn:
    """One client WebSocket: ordered outbound queue, writer task, stall state, streams."""

    def __init__(self, venue: str, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.venue = venue
        self.ws = ws
        self.transport = request.transport
        self.queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.stalled_until = 0.0
        self.streams: set[Stream] = set()
        self.frames = 0
        self.opened = time.monotonic()
        self.last_rx = self.last_tx = self.opened
        self.closed = False
        #: Why the server ended the socket (for logs and stats), if it did.
        self.cut_reason = ""

    @property
    def stalled(self) -> bool:
        """True while a stall fault holds the socket silent."""
        return time.monotonic() < self.stalled_until

    def send(self, text: str) -> None:
        """Queue one message (dropped while stalled or closed)."""
        if self.closed or self.stalled:
            return
        self.queue.append(text)
        self._wake.set()
        self._empty.clear()
        if len(self.queue) > MAX_QUEUE:
            self.cut("slow consumer")

    def stall(self, seconds: float | None) -> None:
        """Go silent for ``seconds`` (None: until `unstall`); queued messages are lost."""
        self.stalled_until = float("inf") if seconds is None else time.monotonic() + seconds
        self.queue.clear()
        self._empty.set()

    def unstall(self) -> None:
        """End a stall."""
        self.stalled_until = 0.0

    def cut(self, reason: str) -> None:
        """Close the TCP connection at once, without a WebSocket close frame."""
        if self.closed:
            return
        self.closed, self.cut_reason = True, reason
        self.queue.clear()
        self._wake.set()
        self._empty.set()
        if self.transport is not None:
            self.transport.abort()

    async def close(self, code: int, message: str = "") -> None:
        """Close with a WebSocket close frame (``code``) after the queued messages."""
        await self.drain()
        self.closed, self.cut_reason = True, f"closed {code} {message}".strip()
        self._wake.set()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message.encode())

    async def drain(self) -> None:
        """Wait until the queue is empty (or the socket closed)."""
        await self._empty.wait()

    async def writer(self) -> None:
        """Send queued messages in order until the socket closes."""
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            while self.queue and not self.closed:
                text = self.queue.popleft()
                try:
                    await self.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    self.closed = True
                    self._empty.set()
                    return
                self.last_tx = time.monotonic()
            self._empty.set()

    def leave_all(self) -> None:
        """Unsubscribe from every stream (the socket is gone)."""
        for s in list(self.streams):
            s.remove(self)


class Stream:
    """One subscribable stream of a feed: its subscribers and its publishing clock."""

    #: Seconds between publications; None publishes on every book event (`on_event`).
    interval_s: float | None = None

    def __init__(self, feed: Feed, name: str) -> None:
        self.feed = feed
        self.name = name
        self.subs: set[Conn] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, conn: Conn) -> None:
        """Subscribe ``conn`` (the caller sends any snapshot first) and start publishing."""
        self.subs.add(conn)
        conn.streams.add(self)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, conn: Conn) -> None:
        """Unsubscribe ``conn``; the last one out stops the clock."""
        self.subs.discard(conn)
        conn.streams.discard(self)
        if not self.subs and self._task is not None:
            self._task.cancel()
            self._task = None
            self.idle()

    def stop(self) -> None:
        """Stop publishing (server shutdown)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def reset(self) -> None:
        """Take the book as it is now as the published state (first subscriber, burst end)."""

    def on_event(self, ev: Event) -> None:
        """Called for every book event while the stream has subscribers."""

    def publish(self) -> None:
        """Called every ``interval_s`` while the stream has subscribers."""

    def idle(self) -> None:
        """Called when the last subscriber left (forget per-subscription state)."""

    def variant(self, conn: Conn) -> object:
        """Which form of a message ``conn`` gets (see `for_conn`); one form by default."""
        return None

    def for_conn(self, conn: Conn, text: str) -> str:
        """The form of a message ``conn`` gets (Binance wraps combined sockets' events)."""
        return text

    def burst_encode(self, book: DeepBook, ev: Event) -> tuple[str, int] | None:
        r"""A burst frame for one event and its level updates, or None if nothing changed.

        The frame's varying fields are holes ``\\x00name\\x00`` (``ms``, ``rfc``,
        ``first``, ``last``, ``count``) that the burst fills for every frame it sends.
        """
        raise NotImplementedError

    def broadcast(self, text: str, updates: int) -> None:
        """Send one data message to every subscriber and count it."""
        for c in self.subs:
            c.send(text)
            c.frames += 1
        self.feed.frames += 1
        self.feed.updates += updates

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while self.subs:
                if self.feed.bursting is not None:
                    await self.feed.bursting.done.wait()
                    continue
                if self.interval_s is None:
                    delay = self.feed.book.next_t - loop.time()
                    await asyncio.sleep(min(1.0, max(0.0, delay)))
                    self.feed.advance()
                    continue
                due = max(due + self.interval_s, loop.time())
                await asyncio.sleep(due - loop.time())
                self.feed.advance()
                if self.feed.bursting is None:
                    self.publish()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not kill the venue silently
            log.exception("stream %s stopped", self.name)


class Feed:
    """One symbol on one venue: its book, its streams, its pending faults and counters."""

    def __init__(self, venue: str, inst: Instrument, book: DeepBook) -> None:
        self.venue = venue
        self.inst = inst
        self.book = book
        self.streams: dict[str, Stream] = {}
        self.pending = Pending()
        #: Data messages and level updates sent (once per message, whatever the subscribers).
        self.frames = 0
        self.updates = 0
        #: Messages not sent because of a drop fault.
        self.dropped = 0
        #: The burst in progress (it owns the book until it ends), if any.
        self.bursting: Burst | None = None

    def advance(self) -> None:
        """Bring the book to now, handing each event to the streams that have subscribers."""
        if self.bursting is not None:
            return
        events = self.book.advance()
        if not events:
            return
        live = [s for s in self.streams.values() if s.subs]
        for ev in events:
            for s in live:
                s.on_event(ev)

    def conns(self) -> set[Conn]:
        """Every socket subscribed to one of the feed's streams."""
        out: set[Conn] = set()
        for s in self.streams.values():
            out |= s.subs
        return out
