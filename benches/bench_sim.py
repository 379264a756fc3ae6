"""The simulated venue under load: its burst ceiling, and its cost at the venues' real rates.

The simulated venue runs in its own process (``lobflow sim-exchange``), as in the
collector's benchmarks. For each venue a raw-socket client (a WebSocket handshake, one
subscribe frame, then reading 1 MiB at a time without parsing) drains a burst of `FRAMES`
frames: the server is the bottleneck, and ``POST /sim/burst`` reports its own timing, from the
first write to the last byte handed to the kernel. The same burst is then read by an aiohttp
client that parses every message (what an aiohttp collector's read loop costs at least).

Floor: the issue's target, 100 000 book updates a second, in frames (each frame at least one
update), so that a collector benchmark is never capped by its feeder.

The second benchmark subscribes to ten symbols on each venue at the venues' real rates for
`LOBFLOW_BENCH_SECONDS` (20 by default) and reports the frames a second each venue sends and
the share of one core the simulated venue uses for it (from /proc, Linux only).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from typing import Any

import aiohttp
import pytest

from lobflow.collect.sim.process import sim_exchange_process

FRAMES = int(os.environ.get("LOBFLOW_BENCH_BURST_FRAMES", "500000"))
SECONDS = float(os.environ.get("LOBFLOW_BENCH_SECONDS", "20"))
BASES = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "LTC", "LINK", "DOT", "AVAX")
FLOOR_FRAMES_PER_S = 100_000
VENUES = ("binance", "bybit", "kraken", "kucoin")


def _masked(text: str) -> bytes:
    data = text.encode()
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    assert len(data) < 126
    return bytes((0x81, 0x80 | len(data))) + mask + body


async def _raw_subscribe(port: int, venue: str) -> tuple[asyncio.StreamReader, Any]:
    path, msg = {
        "binance": ("/stream?streams=btcusdt@depth@100ms", None),
        "bybit": ("/v5/public/spot", {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}),
        "kraken": (
            "/v2",
            {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USDT"]}},
        ),
        "kucoin": (
            "",
            {"id": 1, "type": "subscribe", "topic": "/spotMarket/level2Depth5:BTC-USDT"},
        ),
    }[venue]
    if venue == "kucoin":
        async with aiohttp.ClientSession() as s:
            r = await s.post(f"http://127.0.0.1:{port}/api/v1/bullet-public")
            token = (await r.json())["data"]["token"]
        path = f"/?token={token}&connectId=bench"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 101 " in head, head
    if msg is not None:
        writer.write(_masked(json.dumps(msg)))
    await writer.drain()
    return reader, writer


async def _burst(port: int, venue: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        body = {"venue": venue, "symbol": "BTC-USDT", "frames": FRAMES, "wait": True}
        r = await s.post(f"http://127.0.0.1:{port}/sim/burst", json=body)
        assert r.status == 200, await r.text()
        return dict(await r.json())


async def _raw(port: int, venue: str) -> dict[str, Any]:
    reader, writer = await _raw_subscribe(port, venue)
    got = 0

    async def drain() -> None:
        nonlocal got
        while chunk := await reader.read(1 << 20):
            got += len(chunk)

    task = asyncio.create_task(drain())
    await asyncio.sleep(0.5)  # ack, snapshot
    result = await _burst(port, venue)
    writer.close()
    task.cancel()
    result["client_bytes"] = got
    return result


async def _parsed(port: int, venue: str) -> dict[str, Any]:
    """The same burst read by aiohttp, every message parsed as JSON."""
    async with aiohttp.ClientSession() as s:
        if venue == "kucoin":
            r = await s.post(f"http://127.0.0.1:{port}/api/v1/bullet-public")
            token = (await r.json())["data"]["token"]
            ws = await s.ws_connect(f"ws://127.0.0.1:{port}/?token={token}&connectId=p")
            await ws.send_json(
                {"id": 1, "type": "subscribe", "topic": "/spotMarket/level2Depth5:BTC-USDT"}
            )
        elif venue == "binance":
            ws = await s.ws_connect(f"ws://127.0.0.1:{port}/stream?streams=btcusdt@depth@100ms")
        elif venue == "bybit":
            ws = await s.ws_connect(f"ws://127.0.0.1:{port}/v5/public/spot")
            await ws.send_json({"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]})
        else:
            ws = await s.ws_connect(f"ws://127.0.0.1:{port}/v2")
            params = {"channel": "book", "symbol": ["BTC/USDT"]}
            await ws.send_json({"method": "subscribe", "params": params})
        await asyncio.sleep(0.5)
        n = 0

        async def read() -> None:
            nonlocal n
            async for msg in ws:
                json.loads(msg.data)
                n += 1

        task = asyncio.create_task(read())
        t0 = time.perf_counter()
        result = await _burst(port, venue)
        result["client_seconds"] = time.perf_counter() - t0
        await ws.close()
        task.cancel()
        return result


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.benchmark(group="sim")
def test_burst_rate_of_each_venue(benchmark: Any) -> None:
    with sim_exchange_process(1) as sim:
        port = sim.port

        def run() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for v in VENUES:
                out[v] = asyncio.run(_raw(port, v))
                out[f"{v}_aiohttp_parsed"] = asyncio.run(_parsed(port, v))
            return out

        results = benchmark.pedantic(run, rounds=1, iterations=1)
    for name, r in results.items():
        fps = r["frames"] / r["seconds"]
        ups = r["updates"] / r["seconds"]
        benchmark.extra_info[f"{name}_frames_per_s"] = round(fps)
        benchmark.extra_info[f"{name}_updates_per_s"] = round(ups)
        benchmark.extra_info[f"{name}_bytes_per_frame"] = round(r["bytes"] / r["frames"], 1)
        print(f"{name:24s} {fps:>12,.0f} frames/s {ups:>12,.0f} updates/s")
    for v in VENUES:
        raw = results[v]
        assert raw["frames"] == FRAMES
        assert raw["client_bytes"] >= raw["bytes"] * 0.99  # the client read what was sent
        assert raw["frames"] / raw["seconds"] >= FLOOR_FRAMES_PER_S, v


async def _real_rates(port: int) -> dict[str, int]:
    counts = dict.fromkeys(VENUES, 0)
    async with aiohttp.ClientSession() as s:
        streams = "/".join(f"{b.lower()}usdt@depth@100ms" for b in BASES)
        bn = await s.ws_connect(f"ws://127.0.0.1:{port}/stream?streams={streams}")
        by = await s.ws_connect(f"ws://127.0.0.1:{port}/v5/public/spot")
        await by.send_json({"op": "subscribe", "args": [f"orderbook.50.{b}USDT" for b in BASES]})
        kr = await s.ws_connect(f"ws://127.0.0.1:{port}/v2")
        syms = [f"{b}/USDT" for b in BASES]
        await kr.send_json({"method": "subscribe", "params": {"channel": "book", "symbol": syms}})
        r = await s.post(f"http://127.0.0.1:{port}/api/v1/bullet-public")
        token = (await r.json())["data"]["token"]
        ku = await s.ws_connect(f"ws://127.0.0.1:{port}/?token={token}&connectId=r")
        topic = "/spotMarket/level2Depth5:" + ",".join(f"{b}-USDT" for b in BASES)
        await ku.send_json({"id": 1, "type": "subscribe", "topic": topic})

        async def read(name: str, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for _ in ws:
                counts[name] += 1

        async def ping() -> None:
            while True:
                await asyncio.sleep(5)
                await ku.send_json({"id": "p", "type": "ping"})
                await by.send_json({"op": "ping"})

        tasks = [
            asyncio.create_task(read(n, w))
            for n, w in (("binance", bn), ("bybit", by), ("kraken", kr), ("kucoin", ku))
        ]
        tasks.append(asyncio.create_task(ping()))
        await asyncio.sleep(SECONDS)
        for t in tasks:
            t.cancel()
        for w in (bn, by, kr, ku):
            await w.close()
    return counts


@pytest.mark.benchmark(group="sim")
def test_real_rates_ten_symbols_per_venue(benchmark: Any) -> None:
    with sim_exchange_process(1) as sim:
        pid = sim.process.pid

        def run() -> tuple[dict[str, int], float]:
            cpu0, t0 = _cpu_s(pid), time.perf_counter()
            counts = asyncio.run(_real_rates(sim.port))
            return counts, (_cpu_s(pid) - cpu0) / (time.perf_counter() - t0)

        counts, share = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["sim_core_share"] = round(share, 4)
    for v, n in counts.items():
        benchmark.extra_info[f"{v}_messages_per_s"] = round(n / SECONDS, 1)
        print(f"{v:8s} {n / SECONDS:8.1f} messages/s for 10 symbols")
    print(f"simulated venue: {share:.1%} of one core")
    assert all(n > 0 for n in counts.values())
