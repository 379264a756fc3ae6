"""Bursts: a feed's book updates replayed as fast as the subscribers' sockets take them.

A burst draws ``cycle`` book events from the feed's book, then the same events undone in
reverse order, so the book is back where it started: the ``2 * cycle`` events are a loop
that can be played any number of times and stays a valid stream of the venue (every
message's sequence fields keep counting, every Kraken checksum matches its book). Each
event becomes a message of each subscribed stream (the venue's own encoder, as in real
time), encoded once with holes for the fields that change each time round (times, update
ids, Bybit's ``u``). Playing is then filling the holes and writing WebSocket frames
(RFC 6455, unmasked text frames) straight to the sockets' transports in chunks, waiting
while a transport holds more than `HIGH_WATER` bytes: the per-message overhead of
``WebSocketResponse.send_str`` would otherwise cap the rate below what a collector must be
shown to keep up with.

While a feed bursts its real-time clock stands still, REST answers the book as of the last
frame written, and a new Bybit, Kraken or KuCoin subscription waits for the burst to end
(its snapshot would otherwise describe a book the burst has moved on from). Binance sockets
subscribing mid-burst get the frames from the next chunk and sync through REST, as the
venue's procedure says. The drop, close and stall faults act during a burst too.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.venue import now_ms, rfc3339

if TYPE_CHECKING:
    from lobflow.collect.sim.book import DeepBook, Event
    from lobflow.collect.sim.feed import Conn, Feed, Stream

#: Frames built per chunk (one write per socket per chunk).
CHUNK = 256
#: A socket's transport buffer above this pauses the burst until it is below `LOW_WATER`.
HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18


@dataclass(frozen=True)
class BurstResult:
    """What a burst sent and how fast the sockets took it."""

    venue: str
    symbol: str
    frames: int
    #: Level updates in those frames (a Binance event or a Bybit delta carries several).
    updates: int
    bytes: int
    #: From the first write to the last byte handed to the kernel.
    seconds: float
    #: Frames not sent because of a drop fault.
    dropped: int = 0

    @property
    def frames_per_s(self) -> float:
        """Frames a second."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    @property
    def updates_per_s(self) -> float:
        """Level updates a second."""
        return self.updates / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Template:
    stream: Stream
    event: int
    #: Update ids of the cycle up to and including this frame's event, and of the event.
    cum_ids: int
    n_ids: int
    updates: int
    text: str
    variants: dict[object, tuple[list[bytes], list[str]]] = field(default_factory=dict)

    def plan(self, conn: Conn) -> tuple[list[bytes], list[str]]:
        key = self.stream.variant(conn)
        got = self.variants.get(key)
        if got is None:
            pieces = self.stream.for_conn(conn, self.text).split("\x00")
            got = self.variants[key] = (
                [p.encode() for p in pieces[0::2]],
                pieces[1::2],
            )
        return got


def _buffered(conn: Conn) -> int:
    tr = conn.transport
    return tr.get_write_buffer_size() if tr is not None else 0


def _header(n: int) -> bytes:
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


class Burst:
    """One burst of a feed: the event loop built once, then played ``frames`` frames."""

    def __init__(
        self, feed: Feed, streams: list[Stream], frames: int, cycle: int, slow_consumer_s: float
    ) -> None:
        self.feed = feed
        self.slow_consumer_s = slow_consumer_s
        self.streams = streams
        self.frames = frames
        self.done = asyncio.Event()
        self.start: DeepBook = feed.book.copy()
        self.events: list[Event] = []
        self.templates: list[_Template] = []
        self.cycle_ids = 0
        self._build(cycle)
        #: Playing position: full loops played, and templates played in the current loop.
        self.loops = 0
        self.pos = 0
        self._cache: tuple[tuple[int, int], DeepBook] | None = None

    def _build(self, cycle: int) -> None:
        work = self.start.copy()
        work.rng = random.Random(self.start.seed * 7919 + self.start.events)
        t_ns = self.start.last_event_ns
        forward = [work.step(t_ns) for _ in range(max(1, cycle))]
        self.events = forward + [e.inverse(t_ns) for e in reversed(forward)]
        replay = self.start.copy()
        cum = 0
        for i, ev in enumerate(self.events):
            replay.apply(ev)
            cum += len(ev.changes)
            for s in self.streams:
                got = s.burst_encode(replay, ev)
                if got is not None:
                    text, updates = got
                    self.templates.append(_Template(s, i, cum, len(ev.changes), updates, text))
        self.cycle_ids = cum

    def book_now(self) -> DeepBook:
        """The book as of the last frame written (REST answers it during the burst)."""
        key = (self.loops, self.pos)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        book = self.start.copy()
        if self.pos:
            last_event = self.templates[self.pos - 1].event
            for ev in self.events[: last_event + 1]:
                book.apply(ev)
        book.update_id = self._last_id()
        self._cache = (key, book)
        return book

    def _last_id(self) -> int:
        if not self.pos:
            return self.start.update_id + self.loops * self.cycle_ids
        t = self.templates[self.pos - 1]
        return self.start.update_id + self.loops * self.cycle_ids + t.cum_ids

    async def play(self, counts: dict[Stream, int]) -> BurstResult:
        """Send the frames; ``counts`` holds each stream's message counter (Bybit's ``u``)."""
        feed, n_tpl = self.feed, len(self.templates)
        sent = updates = nbytes = dropped = 0
        if n_tpl == 0:
            return BurstResult(feed.venue, feed.inst.unified, 0, 0, 0, 0.0)
        t0 = time.perf_counter()
        while sent < self.frames:
            ms = str(now_ms()).encode()
            rfc = rfc3339(time.time_ns()).encode()
            out: dict[Conn, list[bytes]] = {}
            for _ in range(min(CHUNK, self.frames - sent)):
                t = self.templates[self.pos]
                last = self.start.update_id + self.loops * self.cycle_ids + t.cum_ids
                counts[t.stream] = count = counts.get(t.stream, 0) + 1
                self.pos += 1
                if self.pos == n_tpl:
                    self.pos, self.loops = 0, self.loops + 1
                sent += 1
                if feed.pending.drop and feed.pending.take(Fault.DROP):
                    dropped += 1
                    continue
                values = {
                    "ms": ms,
                    "rfc": rfc,
                    "first": b"%d" % (last - t.n_ids + 1),
                    "last": b"%d" % last,
                    "count": b"%d" % count,
                }
                updates += t.updates
                for conn in t.stream.subs:
                    if conn.closed or conn.stalled:
                        continue
                    parts, holes = t.plan(conn)
                    segs = [parts[0]]
                    for part, hole in zip(parts[1:], holes, strict=True):
                        segs.append(values[hole])
                        segs.append(part)
                    payload = b"".join(segs)
                    buf = out.get(conn)
                    if buf is None:
                        buf = out[conn] = []
                    buf.append(_header(len(payload)))
                    buf.append(payload)
            for conn, buf in out.items():
                if conn.transport is not None and not conn.closed:
                    data = b"".join(buf)
                    nbytes += len(data)
                    conn.transport.write(data)
            await self._backpressure()
        await self._flushed()
        seconds = time.perf_counter() - t0
        feed.dropped += dropped
        feed.frames += sent - dropped
        feed.updates += updates
        return BurstResult(
            feed.venue, feed.inst.unified, sent - dropped, updates, nbytes, seconds, dropped
        )

    def _conns(self) -> list[Conn]:
        return [
            c
            for s in self.streams
            for c in s.subs
            if c.transport is not None and not c.closed and not c.transport.is_closing()
        ]

    async def _backpressure(self) -> None:
        if not any(_buffered(c) > HIGH_WATER for c in self._conns()):
            await asyncio.sleep(0)
            return
        # Transports have no public "drained" event: poll their buffers. A socket that takes
        # nothing for `slow_consumer_s` is cut, as the venues cut slow consumers, so that one
        # stuck client cannot hold the burst (and the feed) forever.
        t0 = time.monotonic()
        while slow := [c for c in self._conns() if _buffered(c) > LOW_WATER]:
            if time.monotonic() - t0 > self.slow_consumer_s:
                for c in slow:
                    c.cut("slow consumer during a burst")
                return
            await asyncio.sleep(0.0005)

    async def _flushed(self) -> None:
        t0 = time.monotonic()
        while any(_buffered(c) > 0 for c in self._conns()):
            if time.monotonic() - t0 > self.slow_consumer_s:
                return
            await asyncio.sleep(0.0005)

    def finish(self) -> None:
        """Leave the feed's book where the last frame left it and restart its clock."""
        book = self.book_now()
        self.feed.book.assign(book)
        self.feed.book.restart_clock()
