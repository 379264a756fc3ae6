"""A live session from Python: a push's cost beside an empty call into the extension, a
batch's cost per book, a poll's, and push -> emit latency at a steady pace.

Each timed round makes `CALLS` calls in a plain loop (a single call is shorter than the
timer's own resolution); the per-call figures in ``extra_info`` are the round's time over
`CALLS`, loop overhead included, the same for the empty call as for a push. The output queue
is drained between rounds, outside the timing.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import lobflow
from lobflow import _core, diagnostics

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CORES = (0, 1)
CALLS = 1000
ROUNDS = 300
W = lobflow.Weights((10, 20, 50), 0.05, 0.0, tuple(np.linspace(-0.1, 0.1, 18)))
BID = [90_000.0, 89_999.99, 89_999.98, 89_999.97, 89_999.96]
ASK = [90_000.01, 90_000.02, 90_000.03, 90_000.04, 90_000.05]
SIZES = [0.5, 1.25, 2.0, 0.75, 3.0]


@pytest.fixture
def session() -> Iterator[lobflow.Session]:
    with lobflow.Engine(W, cores=CORES).session([("sim", "BTC-USDT")]) as s:
        yield s


def per_call(benchmark: Any, run: Callable[[], None], drain: Callable[[], object]) -> None:
    """Times `run` (CALLS calls) over ROUNDS rounds, draining between them."""

    def setup() -> None:
        drain()

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, warmup_rounds=10)
    st = benchmark.stats.stats
    benchmark.extra_info["calls_per_round"] = CALLS
    benchmark.extra_info["ns_per_call"] = {
        "min": st.min / CALLS * 1e9,
        "median": st.median / CALLS * 1e9,
        "mean": st.mean / CALLS * 1e9,
    }


@pytest.mark.benchmark(group="session-push")
def test_empty_call(benchmark: Any, session: lobflow.Session) -> None:
    """The floor: a method call into the extension that does nothing."""
    noop = session._inner._noop

    def run() -> None:
        for _ in range(CALLS):
            noop()

    per_call(benchmark, run, session.poll)


@pytest.mark.benchmark(group="session-push")
@pytest.mark.parametrize("form", ["lists", "tuples"])
def test_push(benchmark: Any, session: lobflow.Session, form: str) -> None:
    """`Session.push` of one book (four levels of five floats), through the Python method."""
    levels = (
        (BID, SIZES, ASK, SIZES) if form == "lists" else tuple(map(tuple, (BID, SIZES, ASK, SIZES)))
    )
    clock = iter(range(1, 10**12))

    def run() -> None:
        push, t = session.push, next(clock) * CALLS
        for i in range(CALLS):
            push(0, t + i, *levels)

    per_call(benchmark, run, session.poll)
    assert session.stats().skipped == 0


@pytest.mark.benchmark(group="session-push")
def test_push_with_recv_stamp(benchmark: Any, session: lobflow.Session) -> None:
    """A push as a collector makes it: stamped with `now_ns` when its frame was read."""
    clock = iter(range(1, 10**12))

    def run() -> None:
        push, now, t = session.push, session.now_ns, next(clock) * CALLS
        for i in range(CALLS):
            push(0, t + i, BID, SIZES, ASK, SIZES, now())

    per_call(benchmark, run, session.poll)


@pytest.mark.benchmark(group="session-push")
def test_push_core_direct(benchmark: Any, session: lobflow.Session) -> None:
    """The extension's push without the Python method around it."""
    clock = iter(range(1, 10**12))

    def run() -> None:
        push, t = session._inner.push, next(clock) * CALLS
        for i in range(CALLS):
            push(0, t + i, BID, SIZES, ASK, SIZES)

    per_call(benchmark, run, session.poll)


@pytest.mark.benchmark(group="session-push")
def test_push_many_per_book(benchmark: Any, session: lobflow.Session) -> None:
    """`push_many` of 64 books at a time (CALLS books a round)."""
    batch = 64
    ids = np.zeros(batch, np.uint32)
    books = np.tile(np.array(BID + SIZES + ASK + SIZES), (batch, 1))
    clock = iter(range(1, 10**12))

    def run() -> None:
        t = next(clock) * CALLS
        for start in range(0, CALLS - batch + 1, batch):
            session.push_many(ids, np.arange(t + start, t + start + batch), books)

    per_call(benchmark, run, session.poll)
    # 15 batches of 64 make 960 books, not 1000: the per-call figure is per 1000 / 960 books.
    benchmark.extra_info["books_per_round"] = CALLS // batch * batch


@pytest.mark.benchmark(group="session-poll")
def test_poll_1000_signals(benchmark: Any, session: lobflow.Session) -> None:
    """One `poll` taking 1000 signals (per call: per signal)."""
    pushed = iter(range(10**12))

    def fill() -> tuple[tuple[()], dict[str, Any]]:
        t = next(pushed) * CALLS
        for i in range(CALLS):
            session.push(0, t + i, BID, SIZES, ASK, SIZES)
        # The worker scores 1000 books in well under a millisecond.
        time.sleep(0.005)
        return (), {}

    def run() -> None:
        assert len(session.poll()) == CALLS

    benchmark.pedantic(run, setup=fill, rounds=100, warmup_rounds=2)
    benchmark.extra_info["ns_per_signal_median"] = benchmark.stats.stats.median / CALLS * 1e9


@pytest.mark.benchmark(group="session-latency")
def test_push_to_emit_latency(benchmark: Any) -> None:
    """Push -> emit and receive -> emit percentiles at 20 000 books/s (one every 50 us).

    push -> emit runs from just before the book enters the input ring to just before its
    score enters the output ring (two ring hand-offs and the score); receive -> emit adds the
    Python call (the stamp is taken just before `push`). Beside them, the floor of one
    stamped hand-off between the two cores, probed in the same run. The pushing thread is
    pinned to the first core, the worker to the second, as `Engine.run`'s paced runs are.
    """
    engine = lobflow.Engine(W, cores=CORES)
    n, pace = 40_000, 50_000
    results: list[dict[str, Any]] = []

    def paced() -> None:
        # In a thread of its own, pinned to the first core as the engine's producer is (the
        # pin outlives the session: it must not stay on pytest's thread).
        t = threading.Thread(target=paced_pinned)
        t.start()
        t.join()

    def paced_pinned() -> None:
        floor = diagnostics.stamped_latency(CORES, 16_384).p50
        with engine.session([("sim", "BTC-USDT")], pin_caller=True) as s:
            push, now = s.push, s.now_ns
            due = time.perf_counter_ns()
            for i in range(n):
                due += pace
                while time.perf_counter_ns() < due:
                    pass
                push(0, i, BID, SIZES, ASK, SIZES, now())
                if i % 256 == 255:
                    s.poll()
        s.poll()
        st = s.stats()
        results.append(
            {
                "push_to_emit_ns": _pct(st.push_to_emit),
                "recv_to_emit_ns": _pct(st.recv_to_emit),
                "stamped_floor_p50_ns": floor,
                "push_waits": st.push_waits,
            }
        )

    benchmark.pedantic(paced, rounds=3, iterations=1)
    benchmark.extra_info["books"] = n
    benchmark.extra_info["pace_ns"] = pace
    benchmark.extra_info["runs"] = results


def _pct(lat: _core.Latency) -> dict[str, int]:
    return {
        "count": lat.count,
        "p50": lat.p50_ns,
        "p90": lat.p90_ns,
        "p99": lat.p99_ns,
        "p99.9": lat.p999_ns,
        "max": lat.max_ns,
    }


@pytest.mark.benchmark(group="session-memory")
def test_memory_stays_flat_over_40_feeds(benchmark: Any) -> None:
    """Resident memory while 40 feeds push 2 million books (polled as they come): the rings,
    histograms and per-feed windows are fixed once warm, so it should not grow."""
    engine = lobflow.Engine(W, cores=CORES)
    feeds, n, chunk = 40, 2_000_000, 4_000
    rng = np.random.default_rng(1)
    books = np.tile(np.array(BID + SIZES + ASK + SIZES), (chunk, 1))
    books[:, 5] = np.round(rng.lognormal(0, 1, chunk), 4)
    ids = (np.arange(chunk) % feeds).astype(np.uint32)
    rss: list[int] = []

    def run() -> None:
        with engine.session([("sim", f"F{i}") for i in range(feeds)]) as s:
            for start in range(0, n, chunk):
                # 1 ms apart per feed: every window holds a few dozen books.
                ts = (start + np.arange(chunk)) // feeds * 1_000_000
                s.push_many(ids, ts, books)
                s.poll()
                if start % 200_000 == 0:
                    rss.append(_rss_bytes())
        s.poll()

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["books"] = n
    benchmark.extra_info["feeds"] = feeds
    benchmark.extra_info["rss_mib_every_200k_books"] = [round(r / 2**20, 1) for r in rss]
    benchmark.extra_info["books_per_s"] = n / benchmark.stats.stats.median


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
