"""The WebSocket book machine shared by every venue: books per connection, rows per feed.

A `VenueStream` turns a venue's recorded events (a connection opened, a frame, a REST answer,
a connection closed) into processed rows. It does no I/O: the live client
(`lobflow.collect.ws.client`) performs the `Action`s it asks for and records every event
before feeding it, and `lobflow.collect.ws.replay` feeds the same recorded events to a fresh
machine offline, which therefore writes the same rows.

The books themselves are Rust's (`lobflow._core.BookMachine`, one per stream): each data
frame goes to it as read, and it parses the frame, applies the venue's sequence, gap and
checksum rule to the exact book of that (connection, feed) and answers with events: the book's
top 5 (or that it is unchanged), a stale frame, a gap, a malformed frame, a REST snapshot
needed, or that the frame is not data (``CONTROL``: acks, errors, welcomes, which the venue's
`VenueStream.on_control` reads here). What to do about them (resubscribe, refetch, which
connection feeds a symbol's rows, the row checks) is decided here.

Each (connection, symbol) has its own `FeedBook`. A feed's rows come from one connection at a
time, its *active* one: a new connection (a reconnect, or a rotation before the venues' 24 h
limit) becomes active for a symbol once its own book is synced and at least as new as the
active one (by update id, else by book time), so rotating never leaves a gap. Between a
detected gap and the resynced book a feed writes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lobflow._core import BookMachine

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.collect.stats import FeedStats, StreamStats
    from lobflow.collect.venues.base import Venue

#: What the book machine's events are (`lobflow._core.BookMachine`).
CONTROL, BOOK, SYNCED, STALE = (
    BookMachine.CONTROL,
    BookMachine.BOOK,
    BookMachine.SYNCED,
    BookMachine.STALE,
)
GAP, CHECKSUM, MALFORMED, FETCH = (
    BookMachine.GAP,
    BookMachine.CHECKSUM,
    BookMachine.MALFORMED,
    BookMachine.FETCH,
)
#: A book's top 5 as the machine reports it: the row's 20 values, or "empty"/"crossed".
Top = tuple[float, ...] | str
#: A venue time further than this from the receive time is not a book time (as for REST).
MAX_CLOCK_SKEW_NS = 3600 * 10**9
#: Why a connection closed when the run itself ended (not a reconnect).
STOPPED = "stopped"


@dataclass(frozen=True)
class Send:
    """Send a text frame on a connection."""

    conn: int
    text: str


@dataclass(frozen=True)
class Fetch:
    """A REST request the machine needs, answered back through `VenueStream.rest`."""

    conn: int
    #: The venue's label for it ("snapshot", "pairs", "bullet").
    what: str
    symbol: str | None
    path: str
    params: tuple[tuple[str, str], ...] = ()
    method: str = "GET"


@dataclass(frozen=True)
class Reconnect:
    """Close a connection and connect anew (a fresh token, a venue error)."""

    conn: int
    why: str


Action = Send | Fetch | Reconnect


class Malformed(ValueError):
    """A frame that is not what the venue documents."""


class FeedBook:
    """One symbol's book as one connection delivers it (the book itself is the machine's)."""

    __slots__ = ("conn", "feed", "fetching", "symbol", "synced", "top")

    def __init__(self, conn: int, symbol: str, feed: int) -> None:
        self.conn = conn
        self.symbol = symbol
        #: The symbol's index in the machine.
        self.feed = feed
        self.synced = False
        #: The top 5 the machine last reported for this book (None before any).
        self.top: Top | None = None
        #: A REST snapshot request in flight (Binance).
        self.fetching = False


class _Feed:
    """What one symbol has written: its last row and time, its active connection."""

    __slots__ = ("active", "last_top", "last_ts", "stats", "stopped")

    def __init__(self, stats: FeedStats) -> None:
        self.stats = stats
        self.active: int | None = None
        self.last_top: tuple[float, ...] | None = None
        self.last_ts = -1
        self.stopped = False


class VenueStream(ABC):
    """One venue's WebSocket protocol and book rules, fed with recorded events."""

    def __init__(
        self,
        venue: Venue,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> None:
        self.venue = venue
        self.symbols = symbols
        self.sink = sink
        self.stats = stats
        self.books: dict[tuple[int, str], FeedBook] = {}
        self.feeds = {s: _Feed(stats.feed(s)) for s in symbols}
        #: Each symbol's index in the book machine.
        self.index = {s: i for i, s in enumerate(symbols)}
        self.open_conns: set[int] = set()
        self.setup()
        self.machine = BookMachine(
            self.protocol or venue.name,
            [self.book_key(s) for s in symbols],
            [self.book_scales(s) for s in symbols],
            self.book_depth,
        )

    def setup(self) -> None:  # noqa: B027 - an optional hook
        """A venue's own state, made once its `symbols` are known."""

    # -- the events (live and replay) ------------------------------------------------------

    def open(self, conn: int, ts_local: int) -> list[Action]:
        """A connection is open (its handshake done)."""
        self.open_conns.add(conn)
        return self.on_open(conn, ts_local)

    def frame(self, conn: int, text: str, ts_local: int) -> list[Action]:
        """One text frame read from `conn` at `ts_local` (ns)."""
        if conn not in self.open_conns:
            return []
        try:
            return self.events(conn, self.machine.apply(conn, text), ts_local, text)
        except (Malformed, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return self.malformed(conn, None, f"{type(e).__name__}: {e}")
        except RecursionError:
            return self.malformed(conn, None, "JSON nested too deep")

    def rest(
        self, conn: int, what: str, symbol: str | None, status: int, body: str, ts_local: int
    ) -> list[Action]:
        """The answer to a `Fetch` (status 0: it failed without an answer)."""
        if conn not in self.open_conns and what in self.per_connection:
            return []
        try:
            return self.on_rest(conn, what, symbol, status, body, ts_local)
        except (Malformed, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return self.malformed(conn, symbol, f"{what} answer: {type(e).__name__}: {e}")
        except RecursionError:
            return self.malformed(conn, symbol, f"{what} answer nested too deep")

    def close(self, conn: int, why: str = "") -> None:
        """A connection is closed: its feeds move to another synced connection or wait.

        A feed left without one counts a reconnect, unless the run is ending (`STOPPED`).
        """
        self.open_conns.discard(conn)
        self.machine.close(conn)
        for c, symbol in [k for k in self.books if k[0] == conn]:
            del self.books[(c, symbol)]
            feed = self.feeds[symbol]
            if feed.active == conn:
                feed.active = None
                newer = [fb for (c2, s), fb in self.books.items() if s == symbol and fb.synced]
                if newer:
                    self._switch(max(newer, key=lambda fb: fb.conn))
                elif not feed.stopped and why != STOPPED:
                    feed.stats.reconnects += 1

    # -- what a venue implements -----------------------------------------------------------

    #: REST answers that belong to one connection (dropped once it is closed).
    per_connection: tuple[str, ...] = ("snapshot",)
    #: Seconds between the client's pings on a connection.
    ping_every_s: float = 20.0
    #: Seconds without any frame after which a connection is taken for dead.
    silence_s: float = 60.0

    def connect_fetches(self, conn: int) -> list[Fetch]:
        """REST requests to answer (through `rest`) before `conn` can connect."""
        return []

    @abstractmethod
    def ws_endpoint(self, conn: int, ws_base: str | None) -> str | None:
        """The URL of connection `conn`, None if not ready (a REST answer missing).

        `ws_base` is ``--ws-url``'s scheme+host+port for the venue, None for production.
        """

    def ping_text(self, conn: int) -> str | None:
        """The venue's application ping frame, or None for a WebSocket ping."""
        return None

    @abstractmethod
    def on_open(self, conn: int, ts_local: int) -> list[Action]:
        """The frames to send on a new connection (subscriptions), or REST requests."""

    @abstractmethod
    def on_control(self, conn: int, text: str, ts_local: int) -> list[Action]:
        """A frame the book machine says is not data (acks, errors); may raise `Malformed`."""

    def on_rest(
        self, conn: int, what: str, symbol: str | None, status: int, body: str, ts_local: int
    ) -> list[Action]:
        """Apply a REST answer (venues that fetch nothing need not)."""
        return []

    @abstractmethod
    def resync(self, fb: FeedBook) -> list[Action]:
        """Ask the venue for a fresh book of `fb` (resubscribe, refetch)."""

    #: The book machine's protocol (`lobflow._core.BookMachine`); None: the venue's name.
    protocol: str | None = None
    #: The depth books are truncated to (the subscribed depth), None for none.
    book_depth: int | None = None

    @abstractmethod
    def book_key(self, symbol: str) -> str:
        """`symbol`'s name as its data frames carry it (stream, topic or venue symbol)."""

    def book_scales(self, symbol: str) -> tuple[int, int] | None:
        """The (price, size) decimals `symbol`'s book holds exactly; None if not known yet.

        More decimals than this in a price or size makes a frame malformed. Kraken's are the
        pair's precisions (its checksum is computed at them); the others' are 15, beyond any
        venue's.
        """
        return 15, 15

    def fetch_book(self, fb: FeedBook) -> list[Action]:
        """The REST request for a fresh book of `fb` (Binance's snapshots; others need none)."""
        return []

    # -- helpers for venues ----------------------------------------------------------------

    def _book(self, conn: int, feed: int) -> FeedBook:
        symbol = self.symbols[feed]
        fb = self.books.get((conn, symbol))
        if fb is None:
            fb = self.books[(conn, symbol)] = FeedBook(conn, symbol, feed)
        return fb

    def events(
        self,
        conn: int,
        events: list[tuple[int, int, int, int | None, Top | None]],
        ts_local: int,
        text: str = "",
    ) -> list[Action]:
        """Act on the book machine's events for one frame (or REST snapshot) of `conn`."""
        actions: list[Action] = []
        for code, feed, ts, seq, detail in events:
            if code in (BOOK, SYNCED):
                fb = self._book(conn, feed)
                if detail is not None:
                    fb.top = detail
                if code == BOOK:
                    self.changed(fb, ts, ts_local, seq)
                else:
                    self.synced(fb, ts, ts_local, seq)
            elif code == CONTROL:
                actions += self.on_control(conn, text, ts_local)
            elif code == STALE:
                self.feeds[self.symbols[feed]].stats.stale += 1
            elif code in (GAP, CHECKSUM):
                fb = self._book(conn, feed)
                actions += self.gap(fb, str(detail), checksum=code == CHECKSUM)
            elif code == FETCH:
                actions += self.fetch_book(self._book(conn, feed))
            elif code == MALFORMED:
                symbol = self.symbols[feed] if feed >= 0 else None
                actions += self.malformed(conn, symbol, str(detail))
        return actions

    def synced(self, fb: FeedBook, ts: int, ts_local: int, seq: int | None) -> None:
        """`fb` now holds a whole, checked book: it may become its feed's source; emit."""
        fb.synced = True
        fb.fetching = False
        feed = self.feeds[fb.symbol]
        active = feed.active
        if active is None or (
            active != fb.conn
            and fb.conn > active
            and self.machine.pos(fb.conn, fb.feed) >= self.machine.pos(active, fb.feed)
        ):
            self._switch(fb)
        self.changed(fb, ts, ts_local, seq)

    def _switch(self, fb: FeedBook) -> None:
        feed = self.feeds[fb.symbol]
        if feed.active is not None and feed.active != fb.conn:
            feed.stats.switches += 1
        feed.active = fb.conn

    def changed(self, fb: FeedBook, ts: int, ts_local: int, seq: int | None) -> None:
        """`fb`'s book changed: one row if it is its feed's source and its top 5 moved."""
        feed = self.feeds[fb.symbol]
        if feed.active != fb.conn or not fb.synced:
            return
        top = fb.top
        if top is None or top == feed.last_top:
            return
        st = feed.stats
        if isinstance(top, str):
            st.invalid[top] += 1
            return
        if abs(ts - ts_local) > MAX_CLOCK_SKEW_NS:
            st.invalid["bad_ts"] += 1
            return
        if ts < feed.last_ts:
            st.invalid["ts_backwards"] += 1
            return
        feed.last_top = top
        feed.last_ts = ts
        st.rows += 1
        self.sink(fb.symbol, ts, (ts, *top, ts_local, seq))

    def gap(self, fb: FeedBook, why: str, *, checksum: bool = False) -> list[Action]:
        """A detected gap: no rows from `fb` until its book is resynced (the machine's is clear)."""
        st = self.feeds[fb.symbol].stats
        st.gaps += 1
        if checksum:
            st.checksum_mismatches += 1
        st.log_once("gap", f"{self.venue.name} {fb.symbol}: {why}; resyncing")
        fb.synced = False
        fb.top = None
        st.resyncs += 1
        return self.resync(fb)

    def malformed(self, conn: int, symbol: str | None, why: str) -> list[Action]:
        """A frame or answer not as documented: counted and logged once; its feed resyncs."""
        fb = self.books.get((conn, symbol)) if symbol is not None else None
        if fb is None:
            self.stats.malformed += 1
            self.stats.log_once("malformed", f"{self.venue.name}: malformed frame ({why})")
            return []
        st = self.feeds[fb.symbol].stats
        st.malformed += 1
        st.log_once("malformed", f"{self.venue.name} {fb.symbol}: malformed ({why})")
        if not fb.synced:
            return []
        self.machine.reset(conn, fb.feed)
        return self.gap(fb, "malformed frame")

    def stop_feed(self, symbol: str, why: str) -> None:
        """The venue says `symbol` does not exist: its feed stops (before any good answer)."""
        feed = self.feeds[symbol]
        if feed.last_top is not None:
            feed.stats.log_once("unknown", f"{self.venue.name} {symbol}: {why} after good frames")
            return
        feed.stopped = True
        feed.stats.stopped = why
        self.machine.stop(self.index[symbol])
        feed.stats.log_once(
            "stop", f"{self.venue.name} {symbol}: {why}; this feed stops", error=True
        )
        for key in [k for k in self.books if k[1] == symbol]:
            del self.books[key]

    def active_on(self, conn: int) -> list[str]:
        """The symbols whose rows come from `conn`."""
        return [s for s, f in self.feeds.items() if f.active == conn]

    def pending_on(self, conn: int) -> list[str]:
        """The symbols still collected whose book on `conn` is not synced (yet)."""
        out = []
        for s, f in self.feeds.items():
            fb = self.books.get((conn, s))
            if not f.stopped and (fb is None or not fb.synced):
                out.append(s)
        return out
