"""Type stubs for the Rust extension `lobflow._core` (hand-written, checked by stubtest)."""

from collections.abc import Sequence
from typing import ClassVar, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FEATURE_COUNT",
    "MAX_SIZE",
    "SIGNAL_FIELD_OFFSETS",
    "SIGNAL_SIZE",
    "TEST_HOOKS",
    "TICK_FIELD_OFFSETS",
    "TICK_SIZE",
    "BackpressureError",
    "BacktestOutput",
    "BookMachine",
    "C2cReport",
    "CheckedBooks",
    "Engine",
    "EngineError",
    "FeedStats",
    "Latency",
    "LobflowError",
    "Pinning",
    "RunOutput",
    "Session",
    "SessionClosedError",
    "SessionStats",
    "WeightsFormatError",
    "__version__",
    "_run_panicking",
    "_session_panicking_at",
    "auto_cores",
    "backtest",
    "backtest_checked",
    "backtest_path",
    "core_to_core_latency",
    "feature_names",
    "handoff_latency",
    "parse_weights",
    "stamped_latency",
    "weights_text",
]

__version__: str
TICK_SIZE: int
MAX_SIZE: float
TICK_FIELD_OFFSETS: list[tuple[str, int]]
FEATURE_COUNT: int
#: Whether this build has the test-only hooks (``make dev`` builds; wheels do not).
TEST_HOOKS: bool
SIGNAL_SIZE: int
SIGNAL_FIELD_OFFSETS: list[tuple[str, int]]

class LobflowError(Exception): ...
class WeightsFormatError(LobflowError): ...
class EngineError(LobflowError): ...
class SessionClosedError(EngineError): ...
class BackpressureError(EngineError): ...

@final
class Latency:
    """Tick → signal latency of a run: percentiles in ns and the histogram they come from."""

    @property
    def count(self) -> int:
        """Timed ticks."""
    @property
    def p50_ns(self) -> int:
        """Median, ns."""
    @property
    def p90_ns(self) -> int:
        """90th percentile, ns."""
    @property
    def p99_ns(self) -> int:
        """99th percentile, ns."""
    @property
    def p999_ns(self) -> int:
        """99.9th percentile, ns."""
    @property
    def max_ns(self) -> int:
        """Slowest timed tick, ns."""
    @property
    def sampled_every(self) -> int:
        """One tick in this many was timed (1 when paced, 64 flat out)."""
    @property
    def buckets(self) -> list[tuple[int, int]]:
        """(upper bound ns, count) of each non-empty log bucket (ratio 1.25)."""

@final
class Pinning:
    """Where a run's two threads were asked to run, where they ran, and whether they were pinned."""

    @property
    def requested(self) -> tuple[int, int] | None:
        """(producer, worker) cores asked for; None: chosen automatically."""
    @property
    def used(self) -> tuple[int, int]:
        """(producer, worker) cores used."""
    @property
    def available(self) -> list[int]:
        """Cores this process may run on."""
    @property
    def pinned(self) -> tuple[bool, bool]:
        """Whether the OS accepted each pin, (producer, worker)."""
    @property
    def note(self) -> str | None:
        """A sentence for the user when the cores asked for could not be used."""

@final
class RunOutput:
    """What `Engine.run` computed, as `lobflow.RunResult` receives it."""

    @property
    def scores(self) -> NDArray[np.float64]: ...
    @property
    def signals(self) -> NDArray[np.int8]: ...
    @property
    def features(self) -> NDArray[np.float64] | None: ...
    @property
    def latency(self) -> Latency: ...
    @property
    def ticks_per_s(self) -> float: ...
    @property
    def elapsed_ns(self) -> int: ...
    @property
    def n(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def pinning(self) -> Pinning: ...
    @property
    def price_quantum(self) -> float: ...
    @property
    def max_price_error(self) -> float: ...
    @property
    def size_lot(self) -> float: ...
    @property
    def sizes_inexact(self) -> int: ...
    @property
    def max_size_error(self) -> float: ...

@final
class Engine:
    """The Rust inference engine; build it through `lobflow.Engine`."""

    def __new__(
        cls,
        weights_text: str,
        source: str,
        capacity: int = 131072,
        cores: tuple[int, int] | None = None,
    ) -> Engine: ...
    def run(
        self,
        ts: NDArray[np.int64],
        cols: list[NDArray[np.float64]],
        record_features: bool = False,
        pace_ns: int | None = None,
        skip_bad: bool = False,
    ) -> RunOutput:
        """Runs one feed: `ts` (int64 ns) and the 20 book columns (float64, contract order)."""
    def weights_text(self) -> str:
        """The engine's model as weights-file text."""

@final
class C2cReport:
    """One-way latency between two pinned threads, ns percentiles."""

    @property
    def cores(self) -> tuple[int, int]:
        """The two cores used (after fallback)."""
    @property
    def round_trips(self) -> int:
        """Timed round trips (or messages)."""
    @property
    def cut_short(self) -> bool:
        """Whether the 1 s budget ran out before the round trips asked for."""
    @property
    def p50(self) -> float:
        """Median one-way latency, ns."""
    @property
    def p90(self) -> float:
        """90th percentile, ns."""
    @property
    def p99(self) -> float:
        """99th percentile, ns."""
    @property
    def min(self) -> float:
        """Fastest, ns."""

@final
class BacktestOutput:
    """What `_core.backtest` returns: the fills column by column, and the metrics."""

    @property
    def fill_row(self) -> NDArray[np.int64]: ...
    @property
    def fill_decision_row(self) -> NDArray[np.int64]: ...
    @property
    def fill_qty(self) -> NDArray[np.float64]: ...
    @property
    def fill_price(self) -> NDArray[np.float64]: ...
    @property
    def fill_fee(self) -> NDArray[np.float64]: ...
    @property
    def fill_slippage(self) -> NDArray[np.float64]: ...
    @property
    def requested_qty(self) -> float: ...
    @property
    def unfilled_qty(self) -> float: ...
    @property
    def metrics(
        self,
    ) -> tuple[
        float,
        float,
        float,
        float,
        float,
        float,
        float,
        float,
        int,
        float,
        float,
        float,
        float,
        float,
        float,
        int,
    ]:
        """`lobflow.backtest.BacktestMetrics`' fields, in its order."""

def parse_weights(text: str, source: str) -> tuple[tuple[int, int, int], float, float, list[float]]:
    """Parses weights-file text with the engine's own parser."""

def weights_text(data: bytes, source: str) -> str:
    """A weights file's bytes as text; a byte that is not UTF-8 is an error naming its line."""

def feature_names(windows_ms: tuple[int, int, int]) -> list[str]:
    """The 18 feature names for the given windows (the engine's spelling)."""

def auto_cores() -> tuple[int, int]:
    """The cores a run uses when none are named."""

def core_to_core_latency(cores: tuple[int, int] = ..., round_trips: int = 100000) -> C2cReport:
    """One-way core-to-core latency between two (pinned) threads bouncing one line."""

def handoff_latency(cores: tuple[int, int] = ..., round_trips: int = 100000) -> C2cReport:
    """One-way hand-off latency between two threads that each write a line of their own."""

def stamped_latency(cores: tuple[int, int] = ..., messages: int = 100000) -> C2cReport:
    """One-way latency of one message at a time, stamped with the engine's clock reads."""

def backtest(
    ts: NDArray[np.int64],
    cols: list[NDArray[np.float64]],
    signals: NDArray[np.int8],
    config: object,
) -> BacktestOutput:
    """Runs the backtest of `signals` against the feed's books.

    `config` is read for `lobflow.backtest.BacktestConfig`'s fields (any object with them).
    """

def backtest_checked(
    books: CheckedBooks, signals: NDArray[np.int8], config: object
) -> BacktestOutput:
    """Runs the backtest of `signals` against books checked before (`CheckedBooks`)."""

def backtest_path(
    bids: NDArray[np.float64],
    asks: NDArray[np.float64],
    row: NDArray[np.int64],
    decision_row: NDArray[np.int64],
    qty: NDArray[np.float64],
    price: NDArray[np.float64],
    fee: NDArray[np.float64],
    slippage: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The per-snapshot (position, equity, fees) of a run that made these fills."""

@final
class CheckedBooks:
    """One feed's books, checked and copied once."""

    def __new__(cls, ts: NDArray[np.int64], cols: list[NDArray[np.float64]]) -> CheckedBooks: ...
    def __len__(self) -> int: ...

def _run_panicking(
    engine: Engine, ts: NDArray[np.int64], cols: list[NDArray[np.float64]]
) -> RunOutput:
    """Test hook (``TEST_HOOKS`` builds only): a run whose worker panics as it starts."""

@final
class FeedStats:
    """One feed of a live session."""

    @property
    def exchange(self) -> str:
        """The feed's exchange."""
    @property
    def symbol(self) -> str:
        """The feed's symbol."""
    @property
    def pushed(self) -> int:
        """Books pushed, skipped ones included."""
    @property
    def skipped(self) -> int:
        """Books that broke the contract and were skipped (score NaN, signal 0)."""
    @property
    def skip_reasons(self) -> list[tuple[str, str, int]]:
        """(column, why, count) of each reason books were skipped, in order of first sight."""
    @property
    def last_bad(self) -> str | None:
        """The last skipped book: feed, row, column and why."""
    @property
    def polled(self) -> int:
        """Signals handed over by `poll`."""
    @property
    def last_ts(self) -> int | None:
        """The last polled scored book's time (None before the first)."""
    @property
    def last_score(self) -> float | None:
        """Its score."""
    @property
    def last_signal(self) -> int | None:
        """Its signal."""

@final
class SessionStats:
    """A live session's counts and latencies, as `lobflow.SessionStats` receives them."""

    @property
    def feeds(self) -> list[FeedStats]:
        """Each feed, by id."""
    @property
    def pushed(self) -> int:
        """Books pushed, all feeds."""
    @property
    def skipped(self) -> int:
        """Books skipped, all feeds."""
    @property
    def polled(self) -> int:
        """Signals handed over by `poll`, all feeds."""
    @property
    def pending(self) -> int:
        """Pushed books whose signals have not been polled yet."""
    @property
    def push_waits(self) -> int:
        """Pushes that found the input ring full and waited."""
    @property
    def push_to_emit(self) -> Latency:
        """Push → emit latency of the polled signals."""
    @property
    def recv_to_emit(self) -> Latency:
        """Receive → emit latency of the polled signals pushed with a receive time."""
    @property
    def pinning(self) -> Pinning:
        """(caller, worker) cores: asked for, used, pinned."""
    @property
    def capacity(self) -> int:
        """Input ring capacity, books."""
    @property
    def out_capacity(self) -> int:
        """Output ring capacity, signals."""
    @property
    def uptime_ns(self) -> int:
        """Time since the session started, ns."""
    @property
    def closed(self) -> bool:
        """Whether the session is closed."""

@final
class Session:
    """A live session; build it through `lobflow.Engine.session`."""

    def __new__(
        cls,
        engine: Engine,
        capacity: int = 16384,
        out_capacity: int = 65536,
        cores: tuple[int, int] | None = None,
        pin_caller: bool = False,
        push_timeout_s: float = 1.0,
        max_window_ms: int = 3600000,
    ) -> Session: ...
    def add_feed(self, exchange: str, symbol: str) -> int:
        """Adds feed `(exchange, symbol)`; returns its id."""
    def feed_id(self, exchange: str, symbol: str) -> int | None:
        """The id of feed `(exchange, symbol)`, or None."""
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
        """Checks one book and queues it for the worker; waits (without the GIL) when full."""
    def push_many(
        self,
        feeds: NDArray[np.uint32],
        ts: NDArray[np.int64],
        books: NDArray[np.float64],
        recv_ns: NDArray[np.uint64] | None = None,
    ) -> None:
        """Pushes rows in order: ids, times, (n, 20) books (contract order), receive times."""
    def poll(self, max_items: int | None = None) -> NDArray[np.uint8]:
        """Up to `max_items` signals (all by default), as the bytes of `Signal` records."""
    def now_ns(self) -> int:
        """The session's clock: ns since it started."""
    def _noop(self) -> None:
        """Does nothing: the floor `benches/bench_session.py` sets a push's cost beside."""
    def stats(self) -> SessionStats:
        """Counts and latency percentiles so far."""
    def close(self) -> SessionStats:
        """Closes: drains, joins the worker; returns the final stats."""

def _session_panicking_at(engine: Engine, update: int) -> Session:
    """Test hook (feature `test-hooks`): a worker panicking on the batch of update `update`."""

#: One event of a `BookMachine`: (code, feed, ts, seq, detail). `detail` is the top 5 (20
#: floats, "empty" or "crossed") or None (unchanged) for BOOK/SYNCED, the reason for
#: GAP/CHECKSUM/MALFORMED, None otherwise; `feed` is -1 where none applies.
_BookEvent = tuple[int, int, int, int | None, tuple[float, ...] | str | None]

@final
class BookMachine:
    """One venue's exact books for every (connection, feed) of a WebSocket collector."""

    CONTROL: ClassVar[int]
    BOOK: ClassVar[int]
    SYNCED: ClassVar[int]
    STALE: ClassVar[int]
    GAP: ClassVar[int]
    CHECKSUM: ClassVar[int]
    MALFORMED: ClassVar[int]
    FETCH: ClassVar[int]

    def __new__(
        cls,
        venue: str,
        keys: list[str],
        scales: list[tuple[int, int] | None],
        depth: int | None = None,
    ) -> BookMachine: ...
    def apply(self, conn: int, frame: str | bytes) -> list[_BookEvent]:
        """Apply one frame (str or UTF-8 bytes) read from `conn`; its events as tuples."""
    def snapshot(self, conn: int, feed: int, body: str) -> list[_BookEvent]:
        """Binance: a REST depth snapshot (its body) for `feed`'s book on `conn`; its events."""
    def close(self, conn: int) -> None:
        """`conn` closed: its books are dropped."""
    def stop(self, feed: int) -> None:
        """`feed` stops: its books are dropped, its frames ignored."""
    def reset(self, conn: int, feed: int) -> None:
        """A gap found by the caller: `feed`'s book on `conn` is cleared and unsynced."""
    def set_scales(self, feed: int, price: int, size: int) -> None:
        """`feed`'s (price, size) scales, once known (Kraken's pair precisions)."""
    def pos(self, conn: int, feed: int) -> int:
        """How new `feed`'s book on `conn` is (update id, else book time in ns); -1 if none."""
    def synced(self, conn: int, feed: int) -> bool:
        """Whether `feed`'s book on `conn` is synced."""
    def levels(
        self, conn: int, feed: int
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """`feed`'s book on `conn`: (bids, asks) best first in (price, size) units, or None."""
