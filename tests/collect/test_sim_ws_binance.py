"""The simulated Binance spot streams against plain aiohttp clients on real sockets."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import aiohttp

from lobflow.collect.sim import SimExchange
from tests.collect.sim_ws_support import closed, payload, recv, recv_until, shape, silent

STREAM = "btcusdt@depth@100ms"


def _levels(rows: list[list[str]]) -> dict[Decimal, Decimal]:
    return {Decimal(p): Decimal(q) for p, q in rows}


def _apply(book: dict[str, dict[Decimal, Decimal]], ev: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for p, q in ev[key]:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = Decimal(q)


async def _depth(s: aiohttp.ClientSession, sim: SimExchange, limit: int = 1000) -> Any:
    r = await s.get(
        f"{sim.base_urls['binance']}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": limit}
    )
    assert r.status == 200
    return await r.json()


def test_frames_have_the_documented_shape_and_ids_without_gaps() -> None:
    doc = payload("binance_ws_diff_depth.doc.jsonc")

    async def go() -> list[Any]:
        async with (
            SimExchange(seed=1) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['binance']}/stream?streams={STREAM}") as ws,
        ):
            return [await recv(ws) for _ in range(12)]

    frames = asyncio.run(go())
    for f in frames:
        assert set(f) == {"stream", "data"}
        assert f["stream"] == STREAM
        assert shape(f["data"]) == shape(doc)
        assert f["data"]["s"] == "BTCUSDT"
        assert f["data"]["e"] == "depthUpdate"
        for p, q in f["data"]["b"] + f["data"]["a"]:
            assert len(p.split(".")[1]) == 8
            assert len(q.split(".")[1]) == 8
    for prev, cur in itertools.pairwise(frames):
        assert cur["data"]["U"] == prev["data"]["u"] + 1
        assert cur["data"]["E"] >= prev["data"]["E"]
        assert cur["data"]["u"] >= cur["data"]["U"]


def test_the_documented_local_book_procedure_ends_on_the_rest_book() -> None:
    rest_doc = payload("binance_depth_rest.json")

    async def go() -> tuple[dict[str, dict[Decimal, Decimal]], Any, int]:
        async with SimExchange(seed=2) as sim, aiohttp.ClientSession() as s:
            url = f"{sim.ws_urls['binance']}/stream?streams={STREAM}"
            async with s.ws_connect(url) as ws:
                buffered = [(await recv(ws))["data"]]
                snap = await _depth(s, sim)
                while snap["lastUpdateId"] < buffered[0]["U"]:
                    snap = await _depth(s, sim)
                assert shape(snap) == shape(rest_doc)
                book = {"bids": _levels(snap["bids"]), "asks": _levels(snap["asks"])}
                local = snap["lastUpdateId"]
                pending = [e for e in buffered if e["u"] > local]
                applied = 0
                while applied < 15:
                    ev = pending.pop(0) if pending else (await recv(ws))["data"]
                    if ev["u"] <= local:
                        continue
                    if applied == 0:
                        assert ev["U"] <= local + 1 <= ev["u"]
                    else:
                        assert ev["U"] == local + 1
                    _apply(book, ev)
                    local = ev["u"]
                    applied += 1
                # A quiet market: the last changes go out, then REST and the stream agree.
                sim.set_rate("binance", "BTC-USDT", 0.0)
                final = await _depth(s, sim)
                while local < final["lastUpdateId"]:
                    ev = (await recv(ws))["data"]
                    assert ev["U"] == local + 1
                    _apply(book, ev)
                    local = ev["u"]
                return book, final, local

    book, final, local = asyncio.run(go())
    assert local == final["lastUpdateId"]
    assert book["bids"] == _levels(final["bids"])
    assert book["asks"] == _levels(final["asks"])
    assert max(book["bids"]) < min(book["asks"])
    assert len(final["bids"]) > 100  # deeper than any top-N view


def test_live_requests_and_their_documented_errors() -> None:
    async def go() -> list[Any]:
        out: list[Any] = []
        async with (
            SimExchange(seed=3, binance_max_msgs_per_s=100) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['binance']}/ws") as ws,
        ):
            await ws.send_json({"method": "SUBSCRIBE", "params": [STREAM], "id": 1})
            out.append(await recv(ws))
            raw = await recv_until(ws, lambda d: "e" in d)
            out.append(raw)
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
            out.append(await recv_until(ws, lambda d: d.get("id") == 3))
            await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 4})
            out.append(await recv_until(ws, lambda d: d.get("id") == 4))
            await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
            out.append(await recv_until(ws, lambda d: d.get("id") == 5))
            out.append(await recv_until(ws, lambda d: "stream" in d))
            await ws.send_json({"method": "SUBSCRIBEX", "params": [], "id": 6})
            out.append(await recv_until(ws, lambda d: d.get("id") == 6))
            await ws.send_str("{not json")
            out.append(await recv_until(ws, lambda d: "error" in d and d["id"] is None))
            await ws.send_json({"method": "UNSUBSCRIBE", "params": [STREAM], "id": 7})
            out.append(await recv_until(ws, lambda d: d.get("id") == 7))
            out.append(await silent(ws, 0.5))
        return out

    ack, raw, listed, prop, setp, wrapped, bad, notjson, unsub, quiet = asyncio.run(go())
    assert ack == payload("binance_ws_subscribe_response.json")
    assert shape(raw) == shape(payload("binance_ws_diff_depth.doc.jsonc"))  # raw: no wrapper
    assert listed == {"result": [STREAM], "id": 3}
    assert prop == {"result": False, "id": 4}
    assert setp == {"result": None, "id": 5}
    assert wrapped["stream"] == STREAM
    assert bad["error"]["code"] == 2
    assert "unknown variant `SUBSCRIBEX`" in bad["error"]["msg"]
    assert notjson["error"]["code"] == 3
    assert unsub == {"result": None, "id": 7}
    assert quiet  # unsubscribed: nothing more comes


def test_server_pings_and_a_missing_pong_ends_the_socket() -> None:
    async def go() -> tuple[bytes, bool, bool]:
        async with (
            SimExchange(seed=4, binance_ping_s=0.2, binance_pong_timeout_s=1.0) as sim,
            aiohttp.ClientSession() as s,
        ):
            url = f"{sim.ws_urls['binance']}/ws"
            async with s.ws_connect(url, autoping=False) as good:
                msg = await good.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.PING
                payload_ = msg.data
                # Answering every ping with its payload keeps the socket for 3 timeouts.
                for _ in range(15):
                    m = await good.receive(timeout=5)
                    if m.type == aiohttp.WSMsgType.PING:
                        await good.pong(m.data)
                alive = not good.closed
            async with s.ws_connect(url, autoping=False) as bad:
                # A pong with another payload is unsolicited: it does not count.
                m = await bad.receive(timeout=5)
                await bad.pong(b"something else")
                cut = await closed(bad, 10)
            return payload_, alive, cut

    payload_, alive, cut = asyncio.run(go())
    assert payload_.isdigit()
    assert alive
    assert cut


def test_more_than_five_messages_a_second_ends_the_socket() -> None:
    async def go() -> bool:
        async with (
            SimExchange(seed=5) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['binance']}/ws") as ws,
        ):
            for i in range(8):
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
            return await closed(ws)

    assert asyncio.run(go())


def test_faults_drop_close_and_stall_are_seen_by_the_client() -> None:
    async def go() -> tuple[int, int, bool, bool, int]:
        async with SimExchange(seed=6) as sim, aiohttp.ClientSession() as s:
            url = f"{sim.ws_urls['binance']}/stream?streams={STREAM}"
            async with s.ws_connect(url, autoping=False) as ws:
                last = (await recv(ws))["data"]["u"]
                sim.inject("binance", "BTC-USDT", "drop")
                gap = 0
                for _ in range(20):
                    ev = (await recv(ws))["data"]
                    if ev["U"] != last + 1:
                        gap = ev["U"] - last - 1
                        break
                    last = ev["u"]
                got = sim.inject("binance", "BTC-USDT", "stall")
                await ws.ping(b"x")
                quiet = await silent(ws, 0.6)  # no data and no pong
                sim.inject("binance", "BTC-USDT", "clear")
                after = (await recv(ws))["data"]
                stalled_gap = after["U"] - ev["u"] - 1
                sim.inject("binance", "BTC-USDT", "close")
                cut = await closed(ws)
            return gap, got.connections, quiet, cut, stalled_gap

    gap, stalled, quiet, cut, stalled_gap = asyncio.run(go())
    assert gap > 0  # U > previous u + 1: the documented "missed events"
    assert stalled == 1
    assert quiet
    assert stalled_gap > 0  # what the stall swallowed is a gap when it resumes
    assert cut


def test_unknown_symbols_are_errors_on_rest_and_silent_on_streams() -> None:
    async def go() -> tuple[int, Any, bool]:
        async with SimExchange(seed=7) as sim, aiohttp.ClientSession() as s:
            r = await s.get(f"{sim.base_urls['binance']}/api/v3/depth", params={"symbol": "FOOXYZ"})
            body = await r.json()
            url = f"{sim.ws_urls['binance']}/stream?streams=fooxyz@depth@100ms"
            async with s.ws_connect(url) as ws:
                quiet = await silent(ws, 0.5)
            return r.status, body, quiet

    status, body, quiet = asyncio.run(go())
    assert status == 400
    assert body == payload("binance_error_invalid_symbol.json")
    assert quiet
