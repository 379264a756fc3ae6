"""The simulated KuCoin bullet token and level2 depth topics against plain aiohttp clients."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from lobflow.collect.sim import SimExchange
from tests.collect.sim_ws_support import closed, payload, recv, recv_until, shape, silent, top

TOPIC = "/spotMarket/level2Depth5:BTC-USDT"


async def _bullet(s: aiohttp.ClientSession, sim: SimExchange) -> Any:
    r = await s.post(f"{sim.base_urls['kucoin']}/api/v1/bullet-public")
    assert r.status == 200
    return await r.json()


def _url(bullet: Any, connect_id: str) -> str:
    server = bullet["data"]["instanceServers"][0]
    return f"{server['endpoint']}?token={bullet['data']['token']}&connectId={connect_id}"


def test_bullet_welcome_ack_and_messages_have_the_documented_shapes() -> None:
    async def go() -> tuple[Any, Any, Any, list[Any], Any, int]:
        async with SimExchange(seed=1) as sim, aiohttp.ClientSession() as s:
            bullet = await _bullet(s, sim)
            async with s.ws_connect(_url(bullet, "abc123")) as ws:
                welcome = await recv(ws)
                await ws.send_json(
                    {"id": 1545910660739, "type": "subscribe", "topic": TOPIC, "response": True}
                )
                ack = await recv(ws)
                msgs = [await recv(ws) for _ in range(6)]
                await ws.send_json({"id": "1545910590801", "type": "ping"})
                pong = await recv_until(ws, lambda d: d.get("type") == "pong")
            return bullet, welcome, ack, msgs, pong, sim.port

    bullet, welcome, ack, msgs, pong, port = asyncio.run(go())
    assert shape(bullet) == shape(payload("kucoin_bullet_public_rest.doc.json"))
    server = bullet["data"]["instanceServers"][0]
    assert server["endpoint"] == f"ws://127.0.0.1:{port}/"  # the endpoint is this server
    assert (server["pingInterval"], server["pingTimeout"]) == (18000, 10000)
    assert welcome == {"id": "abc123", "type": "welcome"}
    assert ack == payload("kucoin_ws_ack.doc.json")
    assert pong == payload("kucoin_ws_pong.doc.json")
    doc = payload("kucoin_ws_level2depth5.doc.json")
    for m in msgs:
        assert shape(m) == shape(doc)
        bids, asks = top(m["data"]["bids"], 5), top(m["data"]["asks"], 5)
        assert len(bids) == len(asks) == 5
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        assert bids[0][0] < asks[0][0]
        assert not any(p.endswith("0") and "." in p for p, _ in m["data"]["asks"])
    assert len({str(m["data"]) for m in msgs}) == len(msgs)  # only changes are pushed


def test_tokens_missing_unknown_and_expired() -> None:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with SimExchange(seed=2) as sim, aiohttp.ClientSession() as s:
            bullet = await _bullet(s, sim)
            endpoint = bullet["data"]["instanceServers"][0]["endpoint"]
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await s.ws_connect(endpoint)
            out["missing"] = e.value.status
            async with s.ws_connect(f"{endpoint}?token=nope&connectId=c1") as ws:
                out["unknown"] = await recv(ws)
                out["unknown_closed"] = await closed(ws)
            async with s.ws_connect(_url(bullet, "c2")) as ws:
                await recv(ws)  # welcome
                await ws.send_json({"id": 1, "type": "subscribe", "topic": TOPIC})
                await recv(ws)
                got = sim.inject("kucoin", None, "expire_token")
                out["cut"] = (got.connections, await closed(ws))
            async with s.ws_connect(_url(bullet, "c3")) as ws:
                out["expired"] = await recv(ws)
            async with s.ws_connect(_url(await _bullet(s, sim), "c4")) as ws:
                out["fresh"] = await recv(ws)
        return out

    out = asyncio.run(go())
    assert out["missing"] == 401
    assert out["unknown"] == {"id": "c1", "type": "error", "code": 401, "data": "token is invalid"}
    assert out["unknown_closed"]
    assert out["cut"] == (1, True)
    assert shape(out["expired"]) == shape(payload("kucoin_ws_error_token_expired.json"))
    assert out["expired"]["data"] == "token is expired"
    assert out["expired"]["code"] == 401
    assert out["fresh"]["type"] == "welcome"


def test_no_ping_within_interval_and_timeout_ends_the_socket() -> None:
    async def go() -> tuple[Any, bool]:
        async with (
            SimExchange(seed=3, kucoin_ping_interval_ms=300, kucoin_ping_timeout_ms=200) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(_url(await _bullet(s, sim), "t1")) as ws,
        ):
            await recv(ws)
            error = await recv_until(ws, lambda d: d.get("type") == "error")
            return error, await closed(ws)

    error, cut = asyncio.run(go())
    assert error == {"id": "t1", "type": "error", "code": 400, "data": "ping timeout"}
    assert cut


def test_unknown_topic_stall_and_drop() -> None:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            SimExchange(seed=3) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(_url(await _bullet(s, sim), "t2")) as ws,
        ):
            await recv(ws)
            bad = "/spotMarket/level2Depth5:FOO-XYZ"
            await ws.send_json({"id": 5, "type": "subscribe", "topic": bad})
            out["unknown"] = await recv(ws)
            await ws.send_json({"id": 6, "type": "subscribe", "topic": TOPIC, "response": True})
            await recv(ws)  # ack
            await recv(ws)  # the first book
            sim.inject("kucoin", "BTC-USDT", "stall")
            await ws.send_json({"id": "p", "type": "ping"})
            out["stalled"] = await silent(ws, 0.3)
            sim.inject("kucoin", "BTC-USDT", "clear")
            await ws.send_json({"id": "p2", "type": "ping"})
            out["pong"] = await recv_until(ws, lambda d: d.get("type") == "pong")
            sim.inject("kucoin", "BTC-USDT", "drop", count=3)
            await recv_until(ws, lambda d: d.get("type") == "message")
            out["dropped"] = next(f.dropped for f in sim.stats().feeds if f.venue == "kucoin")
        return out

    out = asyncio.run(go())
    assert out["unknown"] == {
        "id": "5",
        "type": "error",
        "code": 404,
        "data": "topic /spotMarket/level2Depth5:FOO-XYZ does not exist",
    }
    assert out["stalled"]
    assert out["pong"]["id"] == "p2"
    assert out["dropped"] == 3


def test_rest_and_ws_are_the_same_book() -> None:
    async def go() -> tuple[Any, Any]:
        async with SimExchange(seed=4) as sim, aiohttp.ClientSession() as s:
            bullet = await _bullet(s, sim)
            async with s.ws_connect(_url(bullet, "r1")) as ws:
                await recv(ws)
                await ws.send_json({"id": 1, "type": "subscribe", "topic": TOPIC})
                last = await recv(ws)
                sim.set_rate("kucoin", "BTC-USDT", 0.0)
                while True:
                    try:
                        last = await recv(ws, within=0.4)
                    except TimeoutError:
                        break
            r = await s.get(
                f"{sim.base_urls['kucoin']}/api/v1/market/orderbook/level2_20",
                params={"symbol": "BTC-USDT"},
            )
            return last, await r.json()

    last, rest = asyncio.run(go())
    assert rest["code"] == "200000"
    assert len(rest["data"]["bids"]) == 20
    assert top(rest["data"]["bids"], 5) == top(last["data"]["bids"], 5)
    assert top(rest["data"]["asks"], 5) == top(last["data"]["asks"], 5)
    assert isinstance(rest["data"]["sequence"], str)
    assert Decimal(rest["data"]["bids"][0][0]) < Decimal(rest["data"]["asks"][0][0])
