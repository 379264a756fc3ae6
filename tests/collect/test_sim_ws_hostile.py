"""Malformed client messages get the venue's error answer (or none) and never kill the socket."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from lobflow.collect.sim import SimExchange
from tests.collect.sim_ws_support import recv, recv_until

GARBAGE: list[str] = [
    "",
    "not json",
    "[1, 2, 3]",
    "null",
    '"a string"',
    "{}",
    '{"method": 5, "op": [], "type": {}, "id": {"x": 1}}',
    '{"method": "subscribe", "params": {"channel": "book", "symbol": [1, null], "depth": "10"}}',
    '{"method": "subscribe", "params": "book"}',
    '{"op": "subscribe", "args": [1, {}, null]}',
    '{"op": "subscribe", "args": "orderbook.50.BTCUSDT"}',
    '{"type": "subscribe", "topic": 123, "id": 1}',
    '{"type": "subscribe", "topic": "/spotMarket/level2Depth5:", "id": 2}',
    '{"method": "SUBSCRIBE", "params": "btcusdt@depth", "id": 3}',
    '{"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 4}',
    '{"method": "SUBSCRIBE", "params": [], "id": true}',
    '{"' + "x" * 10_000 + '": 1}',
]


async def _connect(venue: str, s: aiohttp.ClientSession, sim: SimExchange) -> Any:
    base = sim.ws_urls[venue]
    if venue == "kucoin":
        r = await s.post(f"{sim.base_urls['kucoin']}/api/v1/bullet-public")
        bullet = await r.json()
        server = bullet["data"]["instanceServers"][0]
        ws = await s.ws_connect(f"{server['endpoint']}?token={bullet['data']['token']}&connectId=h")
        await recv(ws)  # welcome
        return ws
    path = {"binance": "/ws", "bybit": "/v5/public/spot", "kraken": "/v2"}[venue]
    return await s.ws_connect(base + path)


async def _alive(venue: str, ws: aiohttp.ClientWebSocketResponse) -> Any:
    """A ping the venue's way, and its answer."""
    if venue == "binance":
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 99})
        return await recv_until(ws, lambda d: d.get("id") == 99)
    if venue == "bybit":
        await ws.send_json({"op": "ping", "req_id": "alive"})
        return await recv_until(ws, lambda d: d.get("ret_msg") == "pong")
    if venue == "kraken":
        await ws.send_json({"method": "ping", "req_id": 99})
        return await recv_until(ws, lambda d: d.get("method") == "pong")
    await ws.send_json({"id": "alive", "type": "ping"})
    return await recv_until(ws, lambda d: d.get("type") == "pong")


@pytest.mark.parametrize("venue", ["binance", "bybit", "kraken", "kucoin"])
def test_garbage_is_answered_and_the_socket_lives(venue: str) -> None:
    async def go() -> Any:
        # Binance cuts a socket past 5 messages a second: that limit is tested elsewhere.
        async with (
            SimExchange(seed=1, binance_max_msgs_per_s=1_000) as sim,
            aiohttp.ClientSession() as s,
        ):
            ws = await _connect(venue, s, sim)
            for text in GARBAGE:
                await ws.send_str(text)
            await ws.send_bytes(b"\xff\xfe binary")
            alive = await _alive(venue, ws)
            await ws.close()
            return alive

    assert asyncio.run(go())  # answered after every malformed message
