"""The simulated Bybit v5 spot orderbook topics against plain aiohttp clients."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import aiohttp

from lobflow.collect.sim import SimExchange
from tests.collect.sim_ws_support import closed, payload, recv, recv_until, shape, silent

TOPIC = "orderbook.50.BTCUSDT"


def _apply(book: dict[str, dict[Decimal, Decimal]], data: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for p, q in data[key]:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = Decimal(q)


async def _subscribe(ws: aiohttp.ClientWebSocketResponse, *topics: str) -> Any:
    await ws.send_json({"req_id": "10001", "op": "subscribe", "args": list(topics)})
    return await recv(ws)


def test_ack_snapshot_deltas_and_pong_have_the_documented_shapes() -> None:
    async def go() -> tuple[Any, Any, list[Any], Any]:
        async with SimExchange(seed=1) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as ws:
                ack = await _subscribe(ws, TOPIC)
                snap = await recv(ws)
                deltas = [await recv(ws) for _ in range(10)]
                await ws.send_json({"req_id": "100001", "op": "ping"})
                pong = await recv_until(ws, lambda d: d.get("op") == "ping")
            return ack, snap, deltas, pong

    ack, snap, deltas, pong = asyncio.run(go())
    assert shape(ack) == shape(payload("bybit_ws_subscribe_response_spot.json"))
    assert ack["success"] is True
    assert ack["req_id"] == "10001"
    delta_doc = payload("bybit_ws_orderbook_delta.json")
    assert shape(snap) == shape(delta_doc)
    assert snap["type"] == "snapshot"
    assert snap["topic"] == TOPIC
    assert list(snap) == ["topic", "ts", "type", "data", "cts"]  # spot: ts before type
    assert len(snap["data"]["b"]) == len(snap["data"]["a"]) == 50
    for d in deltas:
        assert d["type"] == "delta"
        assert shape(d)["data"].keys() == shape(delta_doc)["data"].keys()
        assert d["cts"] <= d["ts"]
    assert shape(pong) == shape(payload("bybit_ws_pong_spot.json"))  # no req_id on spot
    assert pong["ret_msg"] == "pong"


def test_u_counts_up_by_one_and_the_book_is_the_rest_book() -> None:
    async def go() -> tuple[list[int], dict[str, dict[Decimal, Decimal]], Any]:
        async with SimExchange(seed=2) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as ws:
                await _subscribe(ws, TOPIC)
                snap = await recv(ws)
                book: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
                _apply(book, snap["data"])
                us = [snap["data"]["u"]]
                for _ in range(30):
                    d = await recv(ws)
                    _apply(book, d["data"])
                    us.append(d["data"]["u"])
                sim.set_rate("bybit", "BTC-USDT", 0.0)
                # Drain what the 20 ms clock still sends, then the book is quiet.
                while not await silent(ws, 0.3):
                    pass
                r = await s.get(
                    f"{sim.base_urls['bybit']}/v5/market/orderbook",
                    params={"category": "spot", "symbol": "BTCUSDT", "limit": "50"},
                )
                rest = await r.json()
            return us, book, rest

    us, book, rest = asyncio.run(go())
    assert all(b == a + 1 for a, b in itertools.pairwise(us))
    assert len(book["bids"]) == len(book["asks"]) == 50  # deletes keep the topic at 50
    assert shape(rest) == shape(payload("bybit_orderbook_rest.json"))
    assert book["bids"] == {Decimal(p): Decimal(q) for p, q in rest["result"]["b"]}
    assert book["asks"] == {Decimal(p): Decimal(q) for p, q in rest["result"]["a"]}


def test_restart_drop_stall_and_close_faults() -> None:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            SimExchange(seed=3) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as ws,
        ):
            await _subscribe(ws, TOPIC)
            u = (await recv(ws))["data"]["u"]
            sim.inject("bybit", "BTC-USDT", "restart")
            m = await recv(ws)
            out["restart"] = (m["type"], m["data"]["u"], len(m["data"]["b"]))
            out["after_restart"] = (await recv(ws))["data"]["u"]
            u = out["after_restart"]
            sim.inject("bybit", "BTC-USDT", "drop", count=2)
            out["after_drop"] = (await recv(ws))["data"]["u"] - u
            sim.inject("bybit", "BTC-USDT", "stall", seconds=None)
            await ws.send_json({"op": "ping", "req_id": "p"})
            out["stalled_quiet"] = await silent(ws, 0.5)
            sim.inject("bybit", "BTC-USDT", "clear")
            await ws.send_json({"op": "ping", "req_id": "p2"})
            out["pong_after"] = await recv_until(ws, lambda d: d.get("op") == "ping")
            sim.inject("bybit", "BTC-USDT", "close", code=1011)
            msg = await ws.receive(timeout=5)
            out["close"] = (msg.type, msg.data)
        return out

    out = asyncio.run(go())
    assert out["restart"] == ("snapshot", 1, 50)  # u == 1: a restart, overwrite the book
    assert out["after_restart"] == 2
    assert out["after_drop"] == 3  # two deltas missing: u jumps by 3
    assert out["stalled_quiet"]
    assert out["pong_after"]["ret_msg"] == "pong"
    assert out["close"] == (aiohttp.WSMsgType.CLOSE, 1011)


def test_bad_requests_get_the_venue_answers() -> None:
    async def go() -> list[Any]:
        async with SimExchange(seed=4) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as ws:
                bad = await _subscribe(ws, "orderbook.50.FOOXYZ")
                depth = await _subscribe(ws, "orderbook.25.BTCUSDT")
                many = await _subscribe(ws, *[f"orderbook.1.X{i}USDT" for i in range(11)])
                await _subscribe(ws, TOPIC)
                await recv(ws)  # snapshot
                await ws.send_json({"op": "subscribe", "args": [TOPIC], "req_id": "d"})
                dup = await recv_until(ws, lambda d: d.get("req_id") == "d")
                await ws.send_json({"op": "unsubscribe", "args": [TOPIC], "req_id": "u"})
                unsub = await recv_until(ws, lambda d: d.get("req_id") == "u")
                quiet = await silent(ws, 0.3)
            return [bad, depth, many, dup, unsub, quiet]

    bad, depth, many, dup, unsub, quiet = asyncio.run(go())
    assert bad["success"] is False
    assert bad["ret_msg"] == "Invalid symbol :[orderbook.50.FOOXYZ]"
    assert depth["success"] is False  # spot has depths 1, 50, 200, 1000
    assert many["success"] is False
    assert "10" in many["ret_msg"]
    assert dup["success"] is False
    assert "already subscribed" in dup["ret_msg"]
    assert unsub["success"] is True
    assert unsub["op"] == "unsubscribe"
    assert quiet


def test_level1_is_snapshots_only() -> None:
    async def go() -> list[Any]:
        async with (
            SimExchange(seed=5) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as ws,
        ):
            await _subscribe(ws, "orderbook.1.BTCUSDT")
            return [await recv(ws) for _ in range(6)]

    msgs = asyncio.run(go())
    assert {m["type"] for m in msgs} == {"snapshot"}
    assert all(len(m["data"]["b"]) == len(m["data"]["a"]) == 1 for m in msgs)


def test_a_socket_without_pings_or_data_is_cut() -> None:
    async def go() -> bool:
        async with (
            SimExchange(seed=5, bybit_idle_s=0.5) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['bybit']}/v5/public/spot") as idle,
        ):
            return await closed(idle, 5)

    assert asyncio.run(go())
