"""`--transport ws` at speed: a replayed burst, the venues' real rates, and where time goes.

The simulated venue runs in its own process (``lobflow sim-exchange``), the collector in this
one, so each has a core of the 2-core machine.

- burst: once a feed is synced, ``POST /sim/burst`` has the venue send N update frames as fast
  as the socket takes them; the collector's rate is the frames it read and processed over the
  span of their receive times (a collector that falls behind slows the sender through TCP, so
  the sim's own rate is the same figure seen from the other side);
- real rates: 10 symbols on each of the four venues for `LOBFLOW_BENCH_SECONDS` (30 s by
  default), the collector's CPU share of one core;
- latency: frame read -> processed row queued, p50/p99, beside the time `json.loads` alone
  takes on the same frames (timed afterwards in this process), the Rust book machine's
  `apply` alone on them, and the whole machine (Rust and its Python side) replayed without
  sockets;
- the frame reader alone: aiohttp's ``receive`` loop against picows' callback reader on the
  same burst, each doing nothing but stamp the frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

from lobflow.collect.sim.process import sim_exchange_process
from lobflow.collect.stats import StreamStats
from lobflow.collect.venues import VENUES
from lobflow.collect.ws.stream import astream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SECONDS = float(os.environ.get("LOBFLOW_BENCH_SECONDS", "30"))
BURST_FRAMES = int(os.environ.get("LOBFLOW_BENCH_BURST", "100000"))
SYMBOLS = [
    f"{b}-USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC")
]


@pytest.fixture(scope="module")
def sim() -> Iterator[int]:
    with sim_exchange_process() as venue:
        yield venue.port


def _urls(port: int) -> tuple[dict[str, str], dict[str, str]]:
    return (
        dict.fromkeys(VENUES, f"http://127.0.0.1:{port}"),
        dict.fromkeys(VENUES, f"ws://127.0.0.1:{port}"),
    )


def _post_burst(port: int, venue: str, frames: int) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/sim/burst",
        data=json.dumps(
            {"venue": venue, "symbol": "BTC-USDT", "frames": frames, "wait": True}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def _frames(out: Path, venue: str) -> pl.DataFrame:
    raw = pl.scan_parquet(out / "raw_ws" / "**" / "*.parquet", hive_partitioning=True).collect()
    return raw.filter((pl.col("exchange") == venue) & (pl.col("event") == "frame")).sort("n")


def _parse_times_us(bodies: list[str], parse: Any) -> np.ndarray:
    out = np.empty(len(bodies))
    clock = time.perf_counter_ns
    for i, b in enumerate(bodies):
        t0 = clock()
        parse(b)
        out[i] = clock() - t0
    return out / 1e3


class _TimedApply:
    """A book machine whose `apply` calls are timed (the Rust part of a frame alone)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.times_ns: list[int] = []

    def apply(self, conn: int, frame: str) -> Any:
        t0 = time.perf_counter_ns()
        out = self.inner.apply(conn, frame)
        self.times_ns.append(time.perf_counter_ns() - t0)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _machine_rate(venue: str, events: pl.DataFrame) -> tuple[float, np.ndarray]:
    """Frames/s of the book machine alone (Rust + its Python side) on the run's recorded
    events, and the Rust `apply` times (us) of a second pass."""
    rows = events.select("ts_local", "conn", "event", "symbol", "status", "body").rows()

    def replay(timed: bool) -> tuple[float, np.ndarray]:
        m = VENUES[venue].stream(["BTC-USDT"], lambda *_: None, StreamStats())
        proxy = _TimedApply(m.machine)
        if timed:
            m.machine = proxy  # type: ignore[assignment]
        t0 = time.perf_counter()
        frames = 0
        for ts_local, conn, event, symbol, status, body in rows:
            if event == "open":
                m.open(conn, ts_local)
            elif event == "frame":
                m.frame(conn, body, ts_local)
                frames += 1
            elif event == "close":
                m.close(conn, body)
            elif event != "start":
                m.rest(conn, event, symbol, status or 0, body, ts_local)
        rate = frames / (time.perf_counter() - t0)
        return rate, np.asarray(proxy.times_ns, dtype=float) / 1e3

    rate, _ = replay(timed=False)
    _, apply_us = replay(timed=True)
    return rate, apply_us


@pytest.mark.benchmark(group="collector-ws")
@pytest.mark.parametrize("venue", sorted(VENUES))
def test_burst_books_per_second(benchmark: Any, sim: int, tmp_path: Path, venue: str) -> None:
    base, ws = _urls(sim)

    async def go() -> tuple[dict[str, Any], float, float, Any]:
        stop = asyncio.Event()
        task = asyncio.create_task(
            astream(
                exchanges=[venue],
                symbols=["BTC-USDT"],
                out=tmp_path,
                base_urls=base,
                ws_urls=ws,
                stop=stop,
                live=False,
            )
        )
        await asyncio.sleep(3.0)  # connected and synced
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = await asyncio.to_thread(_post_burst, sim, venue, BURST_FRAMES)
        await asyncio.sleep(0.5)  # what the socket still holds
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stop.set()
        return result, cpu, wall, await task

    result, cpu, wall, stats = benchmark.pedantic(lambda: asyncio.run(go()), rounds=1)
    sim_rate = result["frames"] / result["seconds"]
    frames = _frames(tmp_path, venue)
    ts = frames["ts_local"].to_numpy()
    # The burst's frames: those read after the last real-time frame before the burst began.
    gaps = np.diff(ts)
    start = int(np.argmax(ts >= ts[-1] - int(wall * 1e9)))
    burst = ts[start:]
    span_s = (burst[-1] - burst[0]) / 1e9 if len(burst) > 1 else float("nan")
    rate = (len(burst) - 1) / span_s
    st = stats.streams[venue]
    lat = np.asarray(st.latency_ns, dtype=float) / 1e3
    bodies = frames["body"].to_list()[start:]
    parse = _parse_times_us(bodies, json.loads)
    machine_rate, apply_us = _machine_rate(venue, _events(tmp_path, venue))
    updates_per_frame = result["updates"] / max(result["frames"], 1)
    info = benchmark.extra_info
    info.update(
        frames_read=len(burst),
        frames_per_s=rate,
        updates_per_s=rate * updates_per_frame,
        sim_frames_per_s=sim_rate,
        sim_updates_per_s=result["updates"] / result["seconds"],
        cpu_share_during_burst=cpu / wall,
        # The collector's CPU per frame read: what one core could keep up with, whatever the
        # sender managed on a shared machine.
        cpu_us_per_frame=cpu / len(burst) * 1e6,
        latency_us_p50=float(np.percentile(lat, 50)),
        latency_us_p99=float(np.percentile(lat, 99)),
        json_loads_us_p50=float(np.percentile(parse, 50)),
        json_loads_us_p99=float(np.percentile(parse, 99)),
        machine_only_frames_per_s=machine_rate,
        rust_apply_us_p50=float(np.percentile(apply_us, 50)),
        rust_apply_us_p99=float(np.percentile(apply_us, 99)),
        rows=st.total("rows"),
        gaps=st.total("gaps"),
        max_gap_between_frames_ms=float(gaps[start:].max() / 1e6) if len(gaps) > start else 0.0,
    )
    print(
        f"\n{venue}: {len(burst)} burst frames at {rate:,.0f} frames/s "
        f"({rate * updates_per_frame:,.0f} level updates/s; sim sent {sim_rate:,.0f}"
        f" frames/s), CPU {cpu / wall:.0%} of a core = {cpu / len(burst) * 1e6:.1f} us a frame "
        f"(one core: {len(burst) / cpu:,.0f} frames/s), frame->row p50/p99 "
        f"{info['latency_us_p50']:.1f}/{info['latency_us_p99']:.1f} us vs json.loads "
        f"{info['json_loads_us_p50']:.1f}/{info['json_loads_us_p99']:.1f} us, Rust apply "
        f"{info['rust_apply_us_p50']:.1f}/{info['rust_apply_us_p99']:.1f} us, machine alone "
        f"{info['machine_only_frames_per_s']:,.0f} frames/s, gaps {info['gaps']}"
    )
    assert info["gaps"] == 0


def _events(out: Path, venue: str) -> pl.DataFrame:
    raw = pl.scan_parquet(out / "raw_ws" / "**" / "*.parquet", hive_partitioning=True).collect()
    return raw.filter(pl.col("exchange") == venue).sort("run", "n")


@pytest.mark.benchmark(group="collector-ws")
def test_real_rates_4_venues_10_symbols(benchmark: Any, sim: int, tmp_path: Path) -> None:
    base, ws = _urls(sim)
    venues = sorted(VENUES)

    def run() -> Any:
        return asyncio.run(
            astream(
                exchanges=venues,
                symbols=SYMBOLS,
                duration_s=SECONDS,
                out=tmp_path,
                base_urls=base,
                ws_urls=ws,
                live=False,
            )
        )

    stats = benchmark.pedantic(run, rounds=1, iterations=1)
    share = stats.polling_cpu_s / stats.polling_wall_s
    info = benchmark.extra_info
    info["cpu_share_of_one_core"] = share
    info["shutdown_cpu_s"] = stats.shutdown_cpu_s
    info["rows"] = stats.processed_rows
    info["frames"] = sum(v.frames for v in stats.streams.values())
    info["gaps"] = sum(v.total("gaps") for v in stats.streams.values())
    for name, v in stats.streams.items():
        lat = np.asarray(v.latency_ns, dtype=float) / 1e3
        info[f"{name}_frames_per_s"] = v.frames / stats.polling_wall_s
        info[f"{name}_latency_us_p50"] = float(np.percentile(lat, 50))
        info[f"{name}_latency_us_p99"] = float(np.percentile(lat, 99))
    print(
        f"\nreal rates, 4 venues x 10 symbols for {SECONDS:.0f} s: CPU {share:.1%} of a core, "
        f"{info['frames']} frames ({info['frames'] / stats.polling_wall_s:,.0f}/s), "
        f"{stats.processed_rows} rows, gaps {info['gaps']}; "
        + ", ".join(
            f"{n} p50/p99 {info[f'{n}_latency_us_p50']:.0f}/{info[f'{n}_latency_us_p99']:.0f} us"
            for n in stats.streams
        )
    )


def _burst_rate(stamps: list[int], started: int) -> tuple[int, float]:
    """(frames, their span s) of the stamps taken once the burst was asked for."""
    burst = [t for t in stamps if t >= started]
    return len(burst), (burst[-1] - burst[0]) / 1e9


async def _read_burst_aiohttp(
    url: str, port: int, frames: int, *, per_read_timeout: bool
) -> tuple[int, float, float]:
    """(frames, span s, CPU s) of a bare aiohttp ``receive`` loop during a Bybit burst."""
    import aiohttp

    stamps: list[int] = []
    clock = time.time_ns
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
        while '"snapshot"' not in str((await ws.receive(timeout=5.0)).data):
            pass
        started = clock()
        burst = asyncio.create_task(asyncio.to_thread(_post_burst, port, "bybit", frames))
        cpu0 = time.process_time()
        while len(stamps) < frames:
            msg = await (ws.receive(timeout=2.0) if per_read_timeout else ws.receive())
            if msg.type is aiohttp.WSMsgType.TEXT:
                stamps.append(clock())
        cpu = time.process_time() - cpu0
        await burst
    return (*_burst_rate(stamps, started), cpu)


async def _read_burst_picows(url: str, port: int, frames: int) -> tuple[int, float, float]:
    """The same with picows' callback reader (installed by hand: not a dependency)."""
    picows = pytest.importorskip("picows")

    stamps: list[int] = []
    clock = time.time_ns
    text_type = picows.WSMsgType.TEXT
    done = asyncio.Event()

    class Reader(picows.WSListener):  # type: ignore[misc,name-defined]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is text_type:
                frame.get_payload_as_utf8_text()
                stamps.append(clock())
                if len(stamps) >= frames:
                    done.set()

    transport, _ = await picows.ws_connect(Reader, url)
    transport.send(picows.WSMsgType.TEXT, b'{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
    await asyncio.sleep(0.5)
    stamps.clear()
    started = clock()
    cpu0 = time.process_time()
    await asyncio.to_thread(_post_burst, port, "bybit", frames)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 5)
    cpu = time.process_time() - cpu0
    transport.disconnect()
    return (*_burst_rate(stamps, started), cpu)


@pytest.mark.benchmark(group="collector-ws")
@pytest.mark.parametrize("reader", ["aiohttp-timeout", "aiohttp", "picows"])
def test_frame_reader_alone(benchmark: Any, sim: int, reader: str) -> None:
    """A bare frame reader (read + receive stamp, nothing else) during a Bybit burst.

    ``aiohttp-timeout`` reads with ``receive(timeout=...)`` (a timeout context every frame),
    ``aiohttp`` without, ``picows`` with its callback reader.
    """
    if reader == "picows":
        pytest.importorskip("picows")
    url = f"ws://127.0.0.1:{sim}/v5/public/spot"

    def read() -> tuple[int, float, float]:
        if reader == "picows":
            return asyncio.run(_read_burst_picows(url, sim, BURST_FRAMES))
        timed = reader == "aiohttp-timeout"
        coro = _read_burst_aiohttp(url, sim, BURST_FRAMES, per_read_timeout=timed)
        return asyncio.run(coro)

    n, span, cpu = benchmark.pedantic(read, rounds=1, iterations=1)
    info = benchmark.extra_info
    info.update(frames=n, frames_per_s=n / span, cpu_us_per_frame=cpu / max(n, 1) * 1e6)
    print(
        f"\n{reader}: {n} frames at {n / span:,.0f} frames/s, "
        f"{info['cpu_us_per_frame']:.2f} us CPU a frame (reader alone)"
    )
