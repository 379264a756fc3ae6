"""One venue's live WebSocket client: connect, read, ping, rotate, reconnect; record everything.

The client does the I/O a `VenueStream` asks for and nothing else: every event (a connection
opened, a frame read, a REST answer, a connection closed) is recorded to ``raw_ws`` first and
then fed to the machine, on the event loop, in one step, so the recorded order is the order the
machine saw and `lobflow.collect.ws.replay` rebuilds the same rows.

- Reconnects back off exponentially with full jitter (``uniform(0, min(60, 0.5 * 2**n))``,
  the poller's formula), reset once a connection has lived a minute. A retry library would
  have to be told to reset, to sleep interruptibly and to take the venue's own waits; the
  formula is two lines here.
- Liveness: the venue's application ping (Bybit, KuCoin, Kraken) or a WebSocket ping
  (Binance, through aiohttp's ``heartbeat``), and a connection that stays silent longer
  than the venue's ``silence_s`` is closed as dead (a missed heartbeat) and replaced. A
  watchdog task per connection finds the silence (within a quarter of the limit more):
  a timeout on every read would cost more than the rest of the frame's handling.
- Rotation: before ``rotate_after_s`` (23 h by default; the venues cut at 24 h) a second
  connection is opened; each feed moves to it once its book there is synced, and the old one
  is closed when no feed reads it (or after ``handover_s``): no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from lobflow.collect._http import RedirectRefused, read_capped
from lobflow.collect.venues import Kind
from lobflow.collect.ws.feeds import STOPPED, Fetch, Reconnect, Send

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from lobflow.collect.stats import StreamStats
    from lobflow.collect.venues import Venue
    from lobflow.collect.ws.feeds import Action, VenueStream

log = logging.getLogger("lobflow.collect")

#: Connections are rotated before the venues' 24 h limit.
ROTATE_AFTER_S = 23 * 3600.0
#: A rotation's old connection is closed after this even if some feed has not moved.
HANDOVER_S = 60.0
#: A connection that lived this long resets the reconnect back-off.
HEALTHY_S = 60.0
#: REST answers of the WebSocket side (a Binance 1000-level snapshot is ~70 KB).
MAX_REST_BYTES = 1 << 20


@dataclass(frozen=True)
class Options:
    """Timing of the clients (tests shorten them)."""

    rotate_after_s: float = ROTATE_AFTER_S
    handover_s: float = HANDOVER_S
    #: Overrides of every venue's ping interval and silence limit (None: the venue's own).
    ping_every_s: float | None = None
    silence_s: float | None = None
    timeout_s: float = 10.0
    max_backoff_s: float = 60.0


class VenueClient:
    """The connections of one venue, feeding one `VenueStream`."""

    def __init__(
        self,
        venue: Venue,
        machine: VenueStream,
        session: aiohttp.ClientSession,
        rest_base: str,
        ws_base: str | None,
        record: Callable[[int, int, str, str | None, int | None, str], None],
        stats: StreamStats,
        stop: asyncio.Event,
        options: Options,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.venue = venue
        self.machine = machine
        self.session = session
        self.rest_base = rest_base.rstrip("/")
        self.ws_base = ws_base
        self.record = record
        self.stats = stats
        self.stop = stop
        self.opt = options
        self.sockets: dict[int, aiohttp.ClientWebSocketResponse] = {}
        self.opened_at: dict[int, float] = {}
        self._next = 0
        self._fetch_pause_until = 0.0
        self._fetch_failures = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Rows the machine has emitted (the sink counts them), for the latency samples.
        self.emitted = 0
        #: `clock` read as the frame (or REST answer) being handled was read: the receive
        #: time its rows carry to a `lobflow.collect.ws.hooks.RowHook` (0 without a clock).
        self.clock = clock
        self.read_ns = 0

    # -- supervision -----------------------------------------------------------------------

    async def run(self) -> None:
        """Keep one connection open (two while rotating) until `stop`."""
        failures = 0
        stopping = asyncio.create_task(self.stop.wait())
        conn = self._new_conn()
        current = asyncio.create_task(self._connection(conn))
        try:
            while not self.stop.is_set():
                opened = self.opened_at.get(conn)
                wait = (
                    None if opened is None else opened + self.opt.rotate_after_s - time.monotonic()
                )
                if opened is None:
                    wait = 0.05  # poll until the connection is open, then wait for its age
                await asyncio.wait(
                    {current, stopping},
                    timeout=max(0.0, wait or 0.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if self.stop.is_set():
                    break
                if current.done():
                    why = self._why(current)
                    began = self.opened_at.pop(conn, None)
                    lived = 0.0 if began is None else time.monotonic() - began
                    failures = 0 if lived >= HEALTHY_S else failures + 1
                    self.stats.reconnects += 1
                    delay = random.uniform(0, min(self.opt.max_backoff_s, 0.5 * 2**failures))
                    log.warning(
                        "%s: connection %d ended (%s); reconnecting in %.1f s",
                        self.venue.name,
                        conn,
                        why,
                        delay,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), delay)
                    if self.stop.is_set():
                        break
                    conn = self._new_conn()
                    current = asyncio.create_task(self._connection(conn))
                elif opened is not None:
                    conn, current = await self._rotate(conn, current)
        finally:
            stopping.cancel()
            for ws in list(self.sockets.values()):
                await ws.close()
            await asyncio.gather(current, *self._tasks, return_exceptions=True)

    async def _rotate(self, old: int, old_task: asyncio.Task[str]) -> tuple[int, asyncio.Task[str]]:
        """Open the next connection, move the feeds to it, close `old`."""
        self.stats.rotations += 1
        conn = self._new_conn()
        log.info("%s: rotating connection %d to %d", self.venue.name, old, conn)
        task = asyncio.create_task(self._connection(conn))
        deadline = time.monotonic() + self.opt.handover_s
        while time.monotonic() < deadline and not self.stop.is_set() and not task.done():
            if conn in self.sockets and not self.machine.active_on(old):
                break
            await asyncio.sleep(0.02)
        self.opened_at.pop(old, None)
        ws = self.sockets.get(old)
        if ws is not None:
            await ws.close()
        await asyncio.gather(old_task, return_exceptions=True)
        return conn, task

    def _new_conn(self) -> int:
        self._next += 1
        return self._next

    @staticmethod
    def _why(task: asyncio.Task[str]) -> str:
        if task.cancelled():
            return "cancelled"
        e = task.exception()
        return task.result() if e is None else f"{type(e).__name__}: {e}"

    # -- one connection --------------------------------------------------------------------

    async def _connection(self, conn: int) -> str:
        """Connect, read until closed or silent; returns why it ended."""
        m = self.machine
        for f in m.connect_fetches(conn):
            await self._fetch(f)
        url = m.ws_endpoint(conn, self.ws_base)
        if url is None:
            return "no endpoint (its REST answer failed)"
        ping_text = m.ping_text(conn)
        ping_every = self.opt.ping_every_s or m.ping_every_s
        silence = self.opt.silence_s or m.silence_s
        try:
            ws = await self.session.ws_connect(
                url,
                max_msg_size=self.venue.max_frame_bytes,
                # A WebSocket ping where the venue has no application ping of its own.
                heartbeat=None if ping_text else ping_every,
                autoping=True,
                compress=0,
                timeout=aiohttp.ClientWSTimeout(ws_close=self.opt.timeout_s),
            )
        except RedirectRefused as e:
            self.stats.redirects += 1
            return str(e)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            self.stats.errors[type(e).__name__] += 1
            return f"connect failed: {type(e).__name__}: {e}"
        self.stats.connections += 1
        self.sockets[conn] = ws
        self.opened_at[conn] = time.monotonic()
        self._feed_open(conn, url)
        pinger = (
            asyncio.create_task(self._pinger(conn, ws, ping_text, ping_every))
            if ping_text
            else None
        )
        why = STOPPED
        try:
            why = await self._read(conn, ws, silence)
        finally:
            if pinger is not None:
                pinger.cancel()
            self.sockets.pop(conn, None)
            await ws.close()
            if self.stop.is_set():
                why = STOPPED
            self.record(time.time_ns(), conn, "close", None, None, why)
            self.machine.close(conn, why)
        return why

    def _feed_open(self, conn: int, url: str) -> None:
        shown = str(URL(url).without_query_params("token"))  # KuCoin's token stays out of raw
        ts_local = time.time_ns()
        self.record(ts_local, conn, "open", None, None, shown)
        self._do(self.machine.open(conn, ts_local))

    async def _read(self, conn: int, ws: aiohttp.ClientWebSocketResponse, silence: float) -> str:
        stats, machine, record, clock = self.stats, self.machine, self.record, self.clock
        text_type = aiohttp.WSMsgType.TEXT
        live = _Liveness()
        watchdog = asyncio.create_task(_watch(ws, silence, live))
        try:
            while True:
                # No per-read timeout: aiohttp's costs ~4 us a frame; `_watch` finds silence.
                msg = await ws.receive()
                if clock is not None:
                    self.read_ns = clock()
                ts_local = time.time_ns()
                t0 = time.perf_counter_ns()
                if msg.type is text_type or msg.type is aiohttp.WSMsgType.BINARY:
                    live.frames += 1
                    text = (
                        msg.data
                        if msg.type is text_type
                        else bytes(msg.data).decode("utf-8", "replace")
                    )
                    stats.frames += 1
                    record(ts_local, conn, "frame", None, None, text)
                    before = self.emitted
                    actions = machine.frame(conn, text, ts_local)
                    if self.emitted != before:
                        stats.latency_ns.append(time.perf_counter_ns() - t0)
                    if actions:
                        self._do(actions)
                    continue
                if live.silent:
                    stats.missed_heartbeats += 1
                    return f"no frame for {silence:.0f} s (missed heartbeat)"
                if msg.type is aiohttp.WSMsgType.ERROR:
                    e = msg.data if isinstance(msg.data, BaseException) else ws.exception()
                    if (
                        isinstance(e, aiohttp.WebSocketError)
                        and e.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
                    ):
                        stats.errors["too_large"] += 1
                    return f"error: {e}"
                return f"closed by the venue (code {ws.close_code})"
        finally:
            watchdog.cancel()

    async def _pinger(
        self, conn: int, ws: aiohttp.ClientWebSocketResponse, text: str, every: float
    ) -> None:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            while not ws.closed:
                await asyncio.sleep(every)
                await ws.send_str(text)

    # -- actions ---------------------------------------------------------------------------

    def _do(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                self._spawn(self._send(a))
            elif isinstance(a, Fetch):
                self._spawn(self._fetch(a))
            elif isinstance(a, Reconnect):
                ws = self.sockets.get(a.conn)
                log.warning("%s: connection %d: %s", self.venue.name, a.conn, a.why)
                if ws is not None:
                    self._spawn(self._close(ws))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _close(ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.close()

    async def _send(self, a: Send) -> None:
        ws = self.sockets.get(a.conn)
        if ws is not None and not ws.closed:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
                await ws.send_str(a.text)

    async def _fetch(self, f: Fetch) -> None:
        """Do one REST request (spaced after failures), record its answer, feed it."""
        wait = self._fetch_pause_until - time.monotonic()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), wait)
        if self.stop.is_set():
            return
        url = URL(self.rest_base + f.path).with_query(dict(f.params))
        status, body = 0, ""
        try:
            async with self.session.request(
                f.method,
                url,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.opt.timeout_s),
            ) as resp:
                read = await read_capped(resp, MAX_REST_BYTES)
                status = resp.status
                body = read.data.decode("utf-8", "replace")
                if read.problem:
                    self.stats.errors[read.problem] += 1
                    status = 0
        except RedirectRefused as e:
            self.stats.redirects += 1
            body = str(e)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            self.stats.errors[type(e).__name__] += 1
            body = f"{type(e).__name__}: {e}"
        if status == 200:
            self._fetch_failures = 0
        else:
            self._fetch_failures += 1
            out = self.venue.classify(status, {}, body.encode()) if status else None
            wait = (
                out.wait_s
                if out is not None and out.kind in (Kind.RATE_LIMITED, Kind.BANNED)
                else 0.0
            )
            backoff = random.uniform(0, min(self.opt.max_backoff_s, 0.25 * 2**self._fetch_failures))
            self._fetch_pause_until = time.monotonic() + max(wait, backoff)
            self.stats.log_once(
                "rest", f"{self.venue.name} {f.what} {f.symbol or ''}: HTTP {status} {body[:120]!r}"
            )
        if self.clock is not None:
            self.read_ns = self.clock()
        ts_local = time.time_ns()
        self.record(ts_local, f.conn, f.what, f.symbol, status, body)
        self._do(self.machine.rest(f.conn, f.what, f.symbol, status, body, ts_local))


class _Liveness:
    """Frames a connection has read, and whether `_watch` closed it for its silence."""

    __slots__ = ("frames", "silent")

    def __init__(self) -> None:
        self.frames = 0
        self.silent = False


async def _watch(ws: aiohttp.ClientWebSocketResponse, silence: float, live: _Liveness) -> None:
    """Close `ws` once it has read no frame for `silence` s (found within a quarter more)."""
    step = silence / 4
    seen, quiet = live.frames, 0.0
    while not ws.closed:
        await asyncio.sleep(step)
        if live.frames != seen:
            seen, quiet = live.frames, 0.0
            continue
        quiet += step
        if quiet >= silence:
            live.silent = True
            await ws.close()
            return


def start_event(symbols: list[str]) -> str:
    """The body of a run's first raw event: what the machine was built for."""
    return json.dumps({"symbols": symbols})
