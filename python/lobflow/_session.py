"""`lobflow.Session`: a live session of the Rust engine: push books as they come, poll signals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lobflow import _core

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from numpy.typing import ArrayLike, NDArray

    from lobflow._core import FeedStats, Latency, Pinning

_SIGNAL_FORMATS = {
    "ts": np.int64,
    "row": np.uint64,
    "score": np.float64,
    "push_ns": np.uint64,
    "emit_ns": np.uint64,
    "recv_ns": np.int64,
    "feed": np.uint32,
    "signal": np.int8,
    "skipped": np.bool_,
}

#: One polled signal (the engine's 56-byte ``Signal`` record; offsets from ``_core``):
#: ``feed``, ``row`` (the book's index in its feed, from 0), ``ts`` (the book's time), ``score``
#: (NaN when skipped), ``signal`` (-1, 0, 1), ``skipped``, and the session clock's ``push_ns``,
#: ``emit_ns`` and ``recv_ns`` (-1 when the push gave none).
SIGNAL_DTYPE = np.dtype(
    {
        "names": [name for name, _ in _core.SIGNAL_FIELD_OFFSETS],
        "formats": [_SIGNAL_FORMATS[name] for name, _ in _core.SIGNAL_FIELD_OFFSETS],
        "offsets": [offset for _, offset in _core.SIGNAL_FIELD_OFFSETS],
        "itemsize": _core.SIGNAL_SIZE,
    }
)


@dataclass(frozen=True)
class SessionStats:
    """A session's counts and latencies (`Session.stats`, `Session.close`)."""

    #: Each feed, by id: books pushed, skipped (and why), polled, the last score.
    feeds: tuple[FeedStats, ...]
    #: Books pushed, all feeds (skipped ones included).
    pushed: int
    #: Books skipped, all feeds.
    skipped: int
    #: Signals handed over by `Session.poll`, all feeds.
    polled: int
    #: Pushed books whose signals have not been polled yet.
    pending: int
    #: Pushes that found the input ring full and waited for room.
    push_waits: int
    #: Push -> emit latency of the polled signals: the input ring, the score, the output ring.
    push_to_emit: Latency
    #: Receive -> emit latency of the polled signals pushed with a ``recv_ns``: wire to signal
    #: where the caller stamps each frame's arrival with `Session.now_ns`.
    recv_to_emit: Latency
    #: (caller, worker) cores: asked for, used, pinned (the caller only when asked).
    pinning: Pinning
    #: Input ring capacity, books.
    capacity: int
    #: Output queue capacity, signals.
    out_capacity: int
    #: Time since the session started, ns.
    uptime_ns: int
    closed: bool

    @classmethod
    def _from_core(cls, s: _core.SessionStats) -> SessionStats:
        return cls(
            feeds=tuple(s.feeds),
            pushed=s.pushed,
            skipped=s.skipped,
            polled=s.polled,
            pending=s.pending,
            push_waits=s.push_waits,
            push_to_emit=s.push_to_emit,
            recv_to_emit=s.recv_to_emit,
            pinning=s.pinning,
            capacity=s.capacity,
            out_capacity=s.out_capacity,
            uptime_ns=s.uptime_ns,
            closed=s.closed,
        )

    def summary(self) -> str:
        """One line for a terminal: books, skips, latency percentiles."""
        p, r = self.push_to_emit, self.recv_to_emit
        wire = f"; recv->emit p50 {r.p50_ns:,} ns, p99 {r.p99_ns:,} ns" if r.count else ""
        return (
            f"{len(self.feeds)} feeds, {self.pushed:,} books ({self.skipped:,} skipped), "
            f"{self.pending:,} pending; push->emit p50 {p.p50_ns:,} ns, "
            f"p99 {p.p99_ns:,} ns{wire}"
        )


class Session:
    """A live session: one pinned worker thread scoring books pushed one at a time.

    Built by `lobflow.Engine.session`. The calling thread pushes each new top-5 book of a feed
    (`push`, or `push_many` for a batch); the worker scores it with that feed's own windows and
    OFI state and publishes the signal on a lock-free queue that `poll` reads without
    waiting. Scores equal `Engine.run` over each feed's pushed books bit for bit
    (docs/session.md). A book that breaks the contract (crossed, NaN, a price or size out of
    range, time going back within its feed) is skipped: its signal comes with score NaN,
    signal 0 and ``skipped`` set, and it is counted per feed in `stats`.

    Use it as a context manager: leaving the block closes it (`close`).

    Examples
    --------
    >>> import lobflow
    >>> w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)
    >>> with lobflow.Engine(w, cores=(0, 1)).session([("sim", "BTC-USDT")]) as s:
    ...     s.push(0, 1_000, [100.0] * 5, [1.0] * 5, [100.5] * 5, [1.0] * 5, s.now_ns())
    >>> s.poll()[["feed", "row", "score", "signal"]].tolist()
    [(0, 0, 0.5, 1)]
    """

    def __init__(self, inner: _core.Session, feeds: Sequence[tuple[str, str]] = ()) -> None:
        self._inner = inner
        self._feeds: list[tuple[str, str]] = []
        for exchange, symbol in feeds:
            self.add_feed(exchange, symbol)

    def __repr__(self) -> str:
        return f"Session(feeds={self._feeds})"

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def feeds(self) -> tuple[tuple[str, str], ...]:
        """The session's feeds, ``(exchange, symbol)``, by id."""
        return tuple(self._feeds)

    def add_feed(self, exchange: str, symbol: str) -> int:
        """Add a feed and return its id (0, 1, ... in order).

        Raises
        ------
        ValueError
            An empty name, or a feed the session already has.
        SessionClosedError
            After `close`.
        """
        fid = self._inner.add_feed(exchange, symbol)
        self._feeds.append((exchange, symbol))
        return fid

    def feed_id(self, exchange: str, symbol: str) -> int:
        """The id of feed ``(exchange, symbol)``; a `KeyError` when the session lacks it."""
        fid = self._inner.feed_id(exchange, symbol)
        if fid is None:
            msg = f"the session has no feed ({exchange}, {symbol}); it has {self._feeds}"
            raise KeyError(msg)
        return fid

    def push(
        self,
        feed: int,
        ts: int,
        bid_px: Sequence[float],
        bid_sz: Sequence[float],
        ask_px: Sequence[float],
        ask_sz: Sequence[float],
        recv_ns: int | None = None,
    ) -> None:
        """Queue one book of `feed` for scoring.

        Parameters
        ----------
        feed
            The feed's id (`add_feed`).
        ts
            The book's time, int ns since the Unix epoch.
        bid_px, bid_sz, ask_px, ask_sz
            Five floats each, best level first (tuples and lists are the fast paths).
        recv_ns
            When the frame that carried the book was read, from `now_ns`: the signal then
            carries it, and `stats` reports receive -> emit latency.

        Raises
        ------
        ValueError
            An unknown feed id, or a level that is not five numbers.
        BackpressureError
            The input ring stayed full for the session's ``push_timeout_s``: the message says
            whether the caller is not polling (the output queue is full) or the worker is
            behind. Nothing was queued.
        SessionClosedError
            After `close`.
        EngineError
            The worker died (its panic).
        """
        try:
            self._inner.push(feed, ts, bid_px, bid_sz, ask_px, ask_sz, recv_ns)
        except OverflowError:
            raise ValueError(_range_message(feed, ts, recv_ns)) from None

    def push_many(
        self,
        feeds: ArrayLike,
        ts: ArrayLike,
        books: ArrayLike,
        recv_ns: ArrayLike | None = None,
    ) -> None:
        """Queue a batch of books in order: row ``i`` is feed ``feeds[i]``'s book at ``ts[i]``.

        Parameters
        ----------
        feeds
            Feed ids, one per book.
        ts
            Book times, int ns since the Unix epoch.
        books
            Shape (n, 20): the contract's book columns in order (``bid_px_0..4``,
            ``bid_sz_0..4``, ``ask_px_0..4``, ``ask_sz_0..4``).
        recv_ns
            Receive times from `now_ns`, one per book, or None.

        Raises
        ------
        ValueError
            Mismatched lengths or an unknown feed id (then nothing was queued).
        BackpressureError
            As `push`; the message says how many books of the batch went in.
        """
        ids = _as_array(feeds, np.uint32, "feeds")
        times = _as_array(ts, np.int64, "ts")
        rows = np.ascontiguousarray(books, dtype=np.float64)
        if rows.ndim != 2:
            msg = f"books must be a 2-d array (n, 20), got shape {rows.shape}"
            raise ValueError(msg)
        recv = None if recv_ns is None else _as_array(recv_ns, np.uint64, "recv_ns")
        self._inner.push_many(ids, times, rows, recv)

    def poll(self, max_items: int | None = None) -> NDArray[np.void]:
        """The signals scored since the last poll, oldest first, without waiting.

        Returns
        -------
        numpy.ndarray
            A structured array of `SIGNAL_DTYPE` (empty when there is nothing new). After
            `close`, the signals not polled yet.

        Raises
        ------
        EngineError
            Once nothing is left to read and the worker has died (its panic).
        """
        raw: NDArray[np.uint8] = self._inner.poll(max_items)
        return raw.view(SIGNAL_DTYPE)

    def now_ns(self) -> int:
        """The session's clock in ns: the clock its push and emit times are on.

        Stamp each frame's arrival with it and pass that as `push`'s ``recv_ns``.
        """
        return self._inner.now_ns()

    def stats(self) -> SessionStats:
        """Counts per feed (pushed, skipped and why, polled, last score) and latencies."""
        return SessionStats._from_core(self._inner.stats())

    def close(self) -> SessionStats:
        """Stop taking books, score every pushed one, join the worker.

        The signals not yet polled stay readable by `poll`. Closing again does nothing more.
        Ctrl-C while it waits stops the worker without draining (``KeyboardInterrupt``).

        Raises
        ------
        EngineError
            The worker died (its panic).
        """
        return SessionStats._from_core(self._inner.close())


def _as_array(x: ArrayLike, dtype: type[np.integer[Any]], name: str) -> NDArray[Any]:
    a = np.asarray(x)
    if a.ndim != 1:
        msg = f"{name} must be 1-d, got shape {a.shape}"
        raise ValueError(msg)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        msg = f"{name} must hold ints, got {a.dtype}"
        raise TypeError(msg)
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    if a.size and (a.min() < lo or a.max() > hi):
        msg = f"{name} must hold ints in {lo}..{hi}, got {a.min()}..{a.max()}"
        raise ValueError(msg)
    return np.ascontiguousarray(a, dtype=dtype)


def _range_message(feed: int, ts: int, recv_ns: int | None) -> str:
    if not 0 <= feed < 2**32:
        return f"feed must be a feed id (0..2^32), got {feed}"
    if not -(2**63) <= ts < 2**63:
        return f"ts must be int64 ns since the Unix epoch, got {ts}"
    return f"recv_ns must be a time from now_ns() (0..2^63 ns), got {recv_ns}"
