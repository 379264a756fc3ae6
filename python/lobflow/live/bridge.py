"""The collector's rows into a live session, its signals back out: one `RowHook` per live run.

Each processed row the WebSocket collector makes is pushed into the session at once, with the
time its frame was read on the session's own clock (`Session.now_ns`, which the collector
reads as it reads the frame). Signals are polled right after each push (which picks up those
scored since) and on a short timer (`poll_loop`); a poll never waits. Each signal is matched
with its row's ``ts_local`` and ``seq`` (a feed's signals come back in push order, one per
push) and written under ``signals/``.

Nothing here raises into the collector: a row the session refuses (its queue stayed full, or
it is closed) is counted and logged, and a dead worker stops the run (`error`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from lobflow._session import SIGNAL_DTYPE
from lobflow.errors import BackpressureError, LobflowError, SessionClosedError
from lobflow.live.stats import FeedLive, LiveSignal

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow._session import Session
    from lobflow.collect.writer import PartWriter

log = logging.getLogger("lobflow.live")

_NAMES = SIGNAL_DTYPE.names or ()
_FEED, _TS, _SCORE, _SIGNAL, _SKIPPED, _RECV, _PUSH, _EMIT = (
    _NAMES.index(n)
    for n in ("feed", "ts", "score", "signal", "skipped", "recv_ns", "push_ns", "emit_ns")
)


class Bridge:
    """Pushes rows into `session`, polls its signals, records them in `signals` (if any).

    Implements `lobflow.collect.ws.hooks.RowHook`.
    """

    def __init__(
        self,
        session: Session,
        signals: PartWriter | None = None,
        on_signal: Callable[[LiveSignal], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.session = session
        self.signals = signals
        self.on_signal = on_signal
        self.stop = stop
        self.feeds: list[FeedLive] = []
        self._ids: dict[tuple[str, str], int] = {}
        #: Per feed, (ts_local, seq) of each pushed row whose signal has not come back yet.
        self._pending: list[deque[tuple[int, int | None]]] = []
        self._push = session.push
        # The extension's poll, viewed as signals only when it brought some: an empty poll
        # (most of those after a push) then costs ~0.5 µs instead of the ~2.5 µs that
        # `Session.poll`'s view as `SIGNAL_DTYPE` adds to every call.
        self._poll_raw = session._inner.poll
        self.pushed = 0
        self.polled = 0
        #: Rows of feeds the session could not add (it was closed).
        self.refused_unknown = 0
        #: The error that ended the run (a dead worker), raised once the run has stopped.
        self.error: BaseException | None = None
        for exchange, symbol in session.feeds:
            self._track(exchange, symbol, session.feed_id(exchange, symbol))

    def _track(self, exchange: str, symbol: str, fid: int) -> FeedLive:
        feed = FeedLive(exchange, symbol, fid)
        self._ids[(exchange, symbol)] = fid
        self.feeds.append(feed)
        self._pending.append(deque())
        return feed

    def feed(self, exchange: str, symbol: str) -> FeedLive:
        """The live state of feed (`exchange`, `symbol`), added to the session if new."""
        fid = self._ids.get((exchange, symbol))
        if fid is not None:
            return self.feeds[fid]
        return self._track(exchange, symbol, self.session.add_feed(exchange, symbol))

    # -- RowHook ---------------------------------------------------------------------------

    def now_ns(self) -> int:
        """The session's clock: the one frame read times are stamped with."""
        return self.session.now_ns()

    def on_row(self, exchange: str, symbol: str, row: tuple[Any, ...], recv_ns: int) -> None:
        """Push one processed row (``ts``, 20 book columns, ``ts_local``, ``seq``); poll."""
        fid = self._ids.get((exchange, symbol))
        try:
            feed = self.feeds[fid] if fid is not None else self.feed(exchange, symbol)
            self._push(feed.id, row[0], row[1:6], row[6:11], row[11:16], row[16:21], recv_ns)
        except (BackpressureError, SessionClosedError) as e:
            self._refused(exchange, symbol, e)
            return
        except LobflowError as e:  # the worker died: nothing more will be scored
            self.fail(e)
            return
        except (ValueError, TypeError, OverflowError) as e:  # a row the session cannot take
            self._refused(exchange, symbol, e)
            return
        self._pending[feed.id].append((row[21], row[22]))
        feed.rows += 1
        feed.top = (row[1], row[6], row[11], row[16])
        self.pushed += 1
        self.poll()

    # -- signals ---------------------------------------------------------------------------

    def poll(self) -> int:
        """Take the signals scored so far (never waits); returns how many."""
        if self.polled == self.pushed:
            return 0
        try:
            raw = self._poll_raw(None)
        except LobflowError as e:
            self.fail(e)
            return 0
        if not len(raw):
            return 0
        got = raw.view(SIGNAL_DTYPE)
        self._take(got.tolist())
        return len(got)

    def drain(self) -> int:
        """After the session is closed: take every signal it still holds."""
        n = 0
        while self.polled < self.pushed:
            got = self.poll()
            if not got:
                break
            n += got
        return n

    def _take(self, records: list[tuple[Any, ...]]) -> None:
        feeds, pending, writer, hook = self.feeds, self._pending, self.signals, self.on_signal
        for rec in records:
            feed = feeds[rec[_FEED]]
            ts_local, seq = pending[feed.id].popleft()
            ts, score, signal, skipped = rec[_TS], rec[_SCORE], rec[_SIGNAL], rec[_SKIPPED]
            recv, emit = rec[_RECV], rec[_EMIT]
            latency = emit - recv if recv >= 0 else None
            feed.signals += 1
            if skipped:
                feed.skipped += 1
            else:
                feed.last_score = score
                feed.last_signal = signal
            if latency is not None:
                feed.latency_ns.append(latency)
            if writer is not None:
                writer.add_row(
                    (feed.exchange, feed.symbol),
                    ts,
                    (ts, ts_local, seq, score, signal, latency),
                )
            if hook is not None:
                hook(
                    LiveSignal(
                        feed.exchange,
                        feed.symbol,
                        ts,
                        ts_local,
                        seq,
                        score,
                        signal,
                        bool(skipped),
                        -1 if latency is None else latency,
                        emit - rec[_PUSH],
                    )
                )
        self.polled += len(records)

    async def poll_loop(self, stop: asyncio.Event, every_s: float) -> None:
        """Poll every `every_s` until `stop` (the pushes poll too; this catches the rest)."""
        while not stop.is_set():
            await asyncio.sleep(every_s)
            self.poll()

    # -- trouble ---------------------------------------------------------------------------

    def _refused(self, exchange: str, symbol: str, e: BaseException) -> None:
        fid = self._ids.get((exchange, symbol))
        if fid is None:  # a new feed the session could not add (closed)
            self.refused_unknown += 1
            n = self.refused_unknown
        else:
            self.feeds[fid].refused += 1
            n = self.feeds[fid].refused
        if n <= 10 or n % 1000 == 0:
            log.error(
                "%s %s: a row was not scored (%s: %s); %d so far: this feed's later scores "
                "may differ from a replay of processed/",
                exchange,
                symbol,
                type(e).__name__,
                e,
                n,
            )

    def fail(self, e: BaseException) -> None:
        """The session cannot go on (its worker died): remember why and stop the run."""
        if self.error is None:
            self.error = e
            log.error("the live session failed: %s: %s; stopping", type(e).__name__, e)
        if self.stop is not None:
            self.stop.set()
