"""`lobflow live` at the venues' real rates: wire-to-signal latency beside the JSON-parse floor,
and the bridge's cost per row beside a bare push.

- wire to signal: 4 venues x 10 symbols (40 feeds) of the simulated venue, which runs in its
  own process (``lobflow sim-exchange``) at the venues' real rates, for `LOBFLOW_BENCH_SECONDS`
  (30 s by default), recorded as ``lobflow live --out`` records. Per signal, the session's emit
  stamp minus the frame-read stamp (both on the session's clock; the ``latency_ns`` column of
  ``signals/``): frame read -> score readable by Python. The floor beside it: ``json.loads``
  of the same frames (every recorded frame), timed one by one in this process after the run.
  The ratio of the two is the figure that travels between machines.
- the bridge: `Bridge.on_row` (what `lobflow live` does per row: slice the row, push it with
  its receive stamp, keep its ts_local and seq, poll) beside `Session.push` of the same book
  with a receive stamp, in the same run. A push's own cost beside an empty call into the
  extension is `benches/bench_session.py`'s.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow.collect.sim.process import sim_exchange_process
from lobflow.collect.venues import VENUES

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from lobflow.live import LiveSignal, LiveStats

SECONDS = float(os.environ.get("LOBFLOW_BENCH_SECONDS", "30"))
SYMBOLS = [
    f"{b}-USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC")
]
CALLS = 1000
W = lobflow.Weights((100, 500, 2000), 0.05, 0.0, tuple(np.linspace(-0.1, 0.1, 18)))


@pytest.fixture(scope="module")
def sim() -> Iterator[int]:
    with sim_exchange_process() as venue:
        yield venue.port


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q))


@pytest.mark.benchmark(group="live")
def test_wire_to_signal_40_feeds_at_real_rates(benchmark: Any, sim: int, tmp_path: Path) -> None:
    from lobflow.live import alive

    urls = {v: f"http://127.0.0.1:{sim}" for v in VENUES}
    ws = {v: f"ws://127.0.0.1:{sim}" for v in VENUES}
    loop_cpu: list[float] = []
    # Per signal, the engine's share (push -> emit) and the whole (frame read -> emit).
    shares: list[tuple[int, int]] = []

    def keep(sig: LiveSignal) -> None:
        shares.append((sig.engine_ns, sig.latency_ns))

    async def go() -> LiveStats:
        t0, c0 = time.monotonic(), time.thread_time()
        stats = await alive(
            W,
            exchanges=sorted(VENUES),
            symbols=SYMBOLS,
            duration_s=SECONDS,
            out=tmp_path,
            base_urls=urls,
            ws_urls=ws,
            pin_caller=True,
            view=False,
            on_signal=keep,
        )
        loop_cpu.append((time.thread_time() - c0) / (time.monotonic() - t0))
        return stats

    stats = benchmark.pedantic(lambda: asyncio.run(go()), rounds=1, iterations=1)
    signals = pl.scan_parquet(tmp_path / "signals" / "**" / "*.parquet").collect()
    wire = signals["latency_ns"].to_numpy() / 1e3
    raw = pl.scan_parquet(tmp_path / "raw_ws" / "**" / "*.parquet").collect()
    bodies = raw.filter(pl.col("event") == "frame")["body"].to_list()
    parse = np.empty(len(bodies))
    clock, loads = time.perf_counter_ns, json.loads
    for i, b in enumerate(bodies):
        t0 = clock()
        loads(b)
        parse[i] = clock() - t0
    parse /= 1e3
    engine_us, whole_us = (np.array(x) / 1e3 for x in zip(*shares, strict=True))
    python_us = whole_us - engine_us
    st = stats.session
    info = benchmark.extra_info
    info.update(
        feeds=len(stats.feeds),
        seconds=SECONDS,
        frames=len(bodies),
        signals=len(wire),
        wire_to_signal_us_p50=_pct(wire, 50),
        wire_to_signal_us_p90=_pct(wire, 90),
        wire_to_signal_us_p99=_pct(wire, 99),
        wire_to_signal_us_max=float(wire.max()),
        json_loads_us_p50=_pct(parse, 50),
        json_loads_us_p99=_pct(parse, 99),
        ratio_p50=_pct(wire, 50) / _pct(parse, 50),
        ratio_p99=_pct(wire, 99) / _pct(parse, 99),
        push_to_emit_us_p50=_pct(engine_us, 50),
        push_to_emit_us_p99=_pct(engine_us, 99),
        read_to_push_us_p50=_pct(python_us, 50),
        read_to_push_us_p99=_pct(python_us, 99),
        loop_thread_cpu_share=loop_cpu[0],
        worker_core=st.pinning.used[1],
        pinned=list(st.pinning.pinned),
        gaps=sum(v.total("gaps") for v in stats.collect.streams.values()),
        skipped=st.skipped,
    )
    print(
        f"\n40 feeds for {SECONDS:.0f} s: {len(bodies):,} frames, {len(wire):,} signals; "
        f"wire->signal p50 {info['wire_to_signal_us_p50']:.1f} us, p99 "
        f"{info['wire_to_signal_us_p99']:.1f} us; json.loads of the same frames p50 "
        f"{info['json_loads_us_p50']:.2f} us, p99 {info['json_loads_us_p99']:.2f} us "
        f"(ratio {info['ratio_p50']:.1f}x / {info['ratio_p99']:.1f}x); of which read->push "
        f"(Python) p50 {info['read_to_push_us_p50']:.1f} us, p99 "
        f"{info['read_to_push_us_p99']:.1f} us and push->emit (engine) p50 "
        f"{info['push_to_emit_us_p50']:.1f} us, p99 {info['push_to_emit_us_p99']:.1f} us; "
        f"event loop {loop_cpu[0]:.1%} of a core; gaps {info['gaps']}"
    )
    assert len(wire) == sum(f.rows for f in stats.feeds) > 0
    assert st.skipped == 0


BID = (90_000.0, 89_999.99, 89_999.98, 89_999.97, 89_999.96)
ASK = (90_000.01, 90_000.02, 90_000.03, 90_000.04, 90_000.05)
SIZES = (0.5, 1.25, 2.0, 0.75, 3.0)


@pytest.fixture
def session() -> Iterator[lobflow.Session]:
    with lobflow.Engine(W).session([("sim", "BTC-USDT")]) as s:
        yield s


def _per_call(benchmark: Any, run: Any, drain: Any) -> None:
    """Times `run` (CALLS calls) over 300 rounds, draining the signals between them."""

    def setup() -> None:
        drain()

    benchmark.pedantic(run, setup=setup, rounds=300, warmup_rounds=10)
    st = benchmark.stats.stats
    benchmark.extra_info["ns_per_call_median"] = st.median / CALLS * 1e9
    benchmark.extra_info["ns_per_call_min"] = st.min / CALLS * 1e9


@pytest.mark.benchmark(group="live-row")
def test_session_push_with_recv_stamp(benchmark: Any, session: lobflow.Session) -> None:
    """The floor of the bridge: a push of one book with its receive stamp."""
    clock = iter(range(1, 10**12))

    def run() -> None:
        push, now, t = session.push, session.now_ns, next(clock) * CALLS
        for i in range(CALLS):
            push(0, t + i, BID, SIZES, ASK, SIZES, now())

    _per_call(benchmark, run, session.poll)


@pytest.mark.benchmark(group="live-row")
def test_bridge_on_row(benchmark: Any, session: lobflow.Session) -> None:
    """What `lobflow live` does per processed row (no recording): slice, push, keep, poll."""
    from lobflow.live.bridge import Bridge

    bridge = Bridge(session)
    clock = iter(range(1, 10**12))
    on_row, now = bridge.on_row, session.now_ns

    def run() -> None:
        t = next(clock) * CALLS
        for i in range(CALLS):
            on_row("sim", "BTC-USDT", (t + i, *BID, *SIZES, *ASK, *SIZES, t + i, i), now())

    def drain() -> None:
        time.sleep(0.002)
        bridge.poll()

    _per_call(benchmark, run, drain)
    assert bridge.feeds[0].refused == 0
