"""A live session's errors: each bad call is one clear exception, never a hang or a wrong score."""

from __future__ import annotations

import math
import re
import signal
import time
from typing import TYPE_CHECKING

import numpy as np
import pytest

import lobflow
from lobflow import _core
from lobflow._session import Session

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

CORES = (0, 1)
BID = [100.0, 99.99, 99.98, 99.97, 99.96]
ASK = [100.01, 100.02, 100.03, 100.04, 100.05]
SIZES = [1.0] * 5


def push_until(s: lobflow.Session, error: type[BaseException]) -> tuple[int, BaseException]:
    """Pushes books until one raises `error`: how many went in, and the error."""
    for i in range(1_000_000):
        try:
            s.push(0, i, BID, SIZES, ASK, SIZES)
        except error as e:
            return i, e
    raise AssertionError(f"a million pushes and no {error.__name__}")


def poll_until(s: lobflow.Session, error: type[BaseException]) -> tuple[int, BaseException]:
    """Polls until a poll raises `error`: how many signals came first, and the error."""
    polled = 0
    for _ in range(1000):
        try:
            polled += len(s.poll())
        except error as e:
            return polled, e
    raise AssertionError(f"a thousand polls and no {error.__name__}")


def engine() -> lobflow.Engine:
    return lobflow.Engine(
        lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16), cores=CORES
    )


@pytest.fixture
def session() -> Iterator[lobflow.Session]:
    with engine().session([("sim", "BTC-USDT")]) as s:
        yield s


def test_an_unknown_feed_id_is_a_value_error(session: lobflow.Session) -> None:
    with pytest.raises(ValueError, match=r"unknown feed id 3: this session has 1 feeds"):
        session.push(3, 0, BID, SIZES, ASK, SIZES)
    with pytest.raises(ValueError, match="unknown feed id 9"):
        session.push_many([0, 9], [0, 1], np.ones((2, 20)))
    assert session.stats().pushed == 0, "nothing of a bad batch went in"
    with pytest.raises(KeyError, match="no feed"):
        session.feed_id("sim", "ETH-USDT")
    with pytest.raises(ValueError, match="already feed 0"):
        session.add_feed("sim", "BTC-USDT")


def test_bad_argument_values_and_types_name_the_argument(session: lobflow.Session) -> None:
    with pytest.raises(ValueError, match="length 5"):
        session.push(0, 0, BID[:4], SIZES, ASK, SIZES)
    with pytest.raises(TypeError):
        session.push(0, 0, BID, ["1"] * 5, ASK, SIZES)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="feed must be a feed id"):
        session.push(-1, 0, BID, SIZES, ASK, SIZES)
    with pytest.raises(ValueError, match="ts must be int64"):
        session.push(0, 2**63, BID, SIZES, ASK, SIZES)
    with pytest.raises(ValueError, match="recv_ns must be a time from now_ns"):
        session.push(0, 0, BID, SIZES, ASK, SIZES, recv_ns=-5)
    with pytest.raises(ValueError, match="recv_ns must be a time from now_ns"):
        session.push(0, 0, BID, SIZES, ASK, SIZES, recv_ns=2**63)
    with pytest.raises(ValueError, match="20 columns"):
        session.push_many([0], [0], np.ones((1, 19)))
    with pytest.raises(ValueError, match="as many ts, books and recv_ns"):
        session.push_many([0, 0], [0], np.ones((2, 20)))
    with pytest.raises(TypeError, match="ts must hold ints"):
        session.push_many([0], [0.5], np.ones((1, 20)))
    with pytest.raises(ValueError, match=r"feeds must hold ints in 0\.\.4294967295"):
        session.push_many([-1], [0], np.ones((1, 20)))
    assert session.stats().pushed == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_window_ms": 20}, ValueError, "longest window is 50 ms"),
        ({"capacity": 1000}, ValueError, "power of two"),
        ({"out_capacity": 1}, ValueError, "power of two"),
        ({"push_timeout_s": math.nan}, ValueError, "push_timeout_s must be finite"),
        ({"push_timeout_s": -1.0}, ValueError, "push_timeout_s must be >= 0"),
        ({"cores": (0,)}, ValueError, "cores must be two core ids"),
        ({"max_window_ms": True}, TypeError, "max_window_ms must be an int"),
    ],
)
def test_a_session_the_engine_cannot_run_is_refused(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        engine().session(**kwargs)  # type: ignore[arg-type]


def test_a_closed_session_refuses_books_and_feeds() -> None:
    s = engine().session([("sim", "BTC-USDT")])
    s.push(0, 0, BID, SIZES, ASK, SIZES)
    s.close()
    with pytest.raises(lobflow.SessionClosedError, match="the session is closed"):
        s.push(0, 1, BID, SIZES, ASK, SIZES)
    with pytest.raises(lobflow.SessionClosedError):
        s.push_many([0], [1], np.ones((1, 20)))
    with pytest.raises(lobflow.SessionClosedError):
        s.add_feed("sim", "ETH-USDT")
    assert issubclass(lobflow.SessionClosedError, lobflow.EngineError)
    assert len(s.poll()) == 1, "what was pushed before close was scored"


def test_a_caller_that_stops_polling_gets_backpressure_and_can_recover() -> None:
    with engine().session(
        [("sim", "BTC-USDT")], capacity=2, out_capacity=2, push_timeout_s=0.05
    ) as s:
        pushed, err = push_until(s, lobflow.BackpressureError)
        assert re.search(r"output queue is full.*poll\(\)", str(err)), err
        assert pushed < 100
        assert s.stats().pushed == pushed, "the failed push went nowhere"
        got = len(s.poll())
        s.push(0, pushed, BID, SIZES, ASK, SIZES)
        with pytest.raises(lobflow.BackpressureError, match=r"\d+ of the 10000 books"):
            s.push_many(
                np.zeros(10_000, np.uint32),
                np.arange(10_000),
                np.tile(BID + SIZES + ASK + SIZES, (10_000, 1)),
            )
    total = got + len(s.poll())
    assert total == s.stats().pushed


def test_a_worker_panic_is_an_engine_error() -> None:
    if not _core.TEST_HOOKS:
        pytest.skip("this build has no test hooks (make dev builds them)")
    s = Session(_core._session_panicking_at(engine()._inner, 2), [("sim", "BTC-USDT")])
    _, err = push_until(s, lobflow.EngineError)
    assert "injected session worker panic at update 2" in str(err)
    # What it published before dying can still be polled; then poll says it died.
    polled, err = poll_until(s, lobflow.EngineError)
    assert "panicked" in str(err)
    assert polled <= 2
    with pytest.raises(lobflow.EngineError, match="panicked"):
        s.close()


def test_ctrl_c_interrupts_a_push_that_waits_for_room() -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        with engine().session(
            [("sim", "BTC-USDT")], capacity=2, out_capacity=2, push_timeout_s=3600.0
        ) as s:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            started = time.monotonic()
            pushed, _ = push_until(s, KeyboardInterrupt)
            assert pushed < 100
            # A hang guard, not a timing claim: the wait was an hour.
            assert time.monotonic() - started < 60
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
