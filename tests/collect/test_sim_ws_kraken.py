"""The simulated Kraken v2 book against plain aiohttp clients, checksums checked client-side."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import aiohttp

from lobflow.collect.sim import SimExchange
from lobflow.collect.sim.instruments import Instrument
from lobflow.collect.sim.kraken import checksum
from tests.collect.sim_ws_support import (
    KrakenBook,
    closed,
    kraken_checksum,
    payload,
    recv,
    recv_until,
    shape,
    silent,
)

BOOK: dict[str, Any] = {"channel": "book", "symbol": ["BTC/USDT"], "depth": 10}
SUB: dict[str, Any] = {"method": "subscribe", "params": BOOK}


def _ticks(x: str, dp: int) -> int:
    return int(Decimal(x).scaleb(dp))


def test_the_checksum_is_the_venues_worked_example_and_its_doc_snapshot() -> None:
    vec = payload("kraken_ws_v2_checksum_vector.json")
    inst = Instrument("BTC", "USD", 0, 1, 8)
    asks = [(_ticks(p, 1), _ticks(q, 8)) for p, q in vec["asks_low_to_high"]]
    bids = [(_ticks(p, 1), _ticks(q, 8)) for p, q in vec["bids_high_to_low"]]
    assert checksum(inst, asks, bids) == vec["checksum"] == 3310070434
    # The docs' MATIC/USD snapshot verifies only with the pair's precisions (4 and 8).
    doc = payload("kraken_ws_v2_book_snapshot.doc.json")["data"][0]
    book = KrakenBook(10, 4, 8)
    assert book.apply(doc)
    update = payload("kraken_ws_v2_book_update.doc.json")["data"][0]
    assert book.apply(update)
    # Without the padding the same book gives another number: the test would see it.
    assert kraken_checksum(book.asks, book.bids, 0, 0) != update["checksum"]


async def _precisions(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    await ws.send_json({"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 9})
    snap = await recv_until(ws, lambda d: d.get("channel") == "instrument")
    return {p["symbol"]: p for p in snap["data"]["pairs"]}


def test_every_message_checks_against_the_clients_own_book() -> None:
    async def go() -> tuple[Any, Any, Any, list[Any], dict[str, Any]]:
        async with SimExchange(seed=1) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{sim.ws_urls['kraken']}/v2") as ws:
                status = await recv(ws)
                pairs = await _precisions(ws)
                await ws.send_json(SUB)
                ack = await recv_until(
                    ws,
                    lambda d: d.get("method") == "subscribe" and d["result"]["channel"] == "book",
                )
                snap = await recv(ws)
                updates = [
                    await recv_until(ws, lambda d: d.get("channel") == "book") for _ in range(40)
                ]
            return status, ack, snap, updates, pairs

    status, ack, snap, updates, pairs = asyncio.run(go())
    assert status["channel"] == "status"
    assert status["data"][0]["system"] == "online"
    assert shape(ack) == shape(payload("kraken_ws_v2_book_subscribe_ack.doc.json"))
    assert shape(snap) == shape(payload("kraken_ws_v2_book_snapshot.doc.json"))
    pair = pairs["BTC/USDT"]
    book = KrakenBook(10, pair["price_precision"], pair["qty_precision"])
    assert book.apply(snap["data"][0])
    assert len(book.bids) == len(book.asks) == 10
    for u in updates:
        assert u["type"] == "update"
        assert shape(u)["data"][0].keys() == shape(snap)["data"][0].keys()
        data = u["data"][0]
        assert book.apply(data), data
        assert dt.datetime.fromisoformat(data["timestamp"]).tzinfo is not None
        for lv in data["bids"] + data["asks"]:
            assert isinstance(lv["price"], float)
            assert isinstance(lv["qty"], float)
    assert max(book.bids) < min(book.asks)


def test_numbers_are_json_numbers_with_trailing_zeros_stripped() -> None:
    async def go() -> str:
        async with (
            SimExchange(seed=2) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['kraken']}/v2") as ws,
        ):
            await ws.send_json(SUB)
            while True:
                msg = await ws.receive(timeout=5)
                if '"type":"snapshot"' in msg.data:
                    return str(msg.data)

    text = asyncio.run(go())
    levels = json.loads(text, parse_float=str)["data"][0]["bids"]
    for lv in levels:
        assert not lv["qty"].endswith("0") or lv["qty"].endswith(".0")
        assert "e" not in lv["qty"].lower()
        assert "e" not in lv["price"].lower()


def test_bad_checksum_and_drop_faults_are_mismatches_for_the_client() -> None:
    async def go() -> tuple[list[bool], list[bool]]:
        async with SimExchange(seed=3) as sim, aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{sim.ws_urls['kraken']}/v2") as ws:
                pairs = await _precisions(ws)
                p = pairs["BTC/USDT"]
                await ws.send_json(SUB)
                snap = await recv_until(ws, lambda d: d.get("type") == "snapshot")
                book = KrakenBook(10, p["price_precision"], p["qty_precision"])
                assert book.apply(snap["data"][0])
                sim.inject("kraken", "BTC-USDT", "bad_checksum")
                corrupted = []
                for _ in range(5):
                    u = await recv_until(ws, lambda d: d.get("type") == "update")
                    corrupted.append(book.apply(u["data"][0]))
                sim.inject("kraken", "BTC-USDT", "drop", count=3)
                dropped = []
                for _ in range(30):
                    u = await recv_until(ws, lambda d: d.get("type") == "update")
                    dropped.append(book.apply(u["data"][0]))
            return corrupted, dropped

    corrupted, dropped = asyncio.run(go())
    assert corrupted == [False, True, True, True, True]  # one bad number, the book is right
    assert not all(dropped)  # a lost update leaves the client's book wrong


def test_heartbeat_ping_errors_unsubscribe_and_stall() -> None:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            SimExchange(seed=4, kraken_heartbeat_s=0.2) as sim,
            aiohttp.ClientSession() as s,
            s.ws_connect(f"{sim.ws_urls['kraken']}/v2") as ws,
        ):
            await recv(ws)  # status
            sim.set_rate("kraken", "BTC-USDT", 0.0)
            await ws.send_json({**SUB, "req_id": 1})
            out["ack"] = await recv(ws)
            await recv(ws)  # snapshot
            out["beats"] = [await recv(ws) for _ in range(3)]
            await ws.send_json({"method": "ping", "req_id": 101})
            out["pong"] = await recv_until(ws, lambda d: d.get("method") == "pong")
            bad = {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": ["FOO/XYZ"]},
                "req_id": 2,
            }
            await ws.send_json(bad)
            out["unknown"] = await recv_until(ws, lambda d: d.get("req_id") == 2)
            await ws.send_json({**SUB, "method": "unsubscribe", "req_id": 3})
            out["unsub"] = await recv_until(ws, lambda d: d.get("req_id") == 3)
            await ws.send_json({**SUB, "req_id": 4})
            await recv_until(ws, lambda d: d.get("type") == "snapshot")
            sim.inject("kraken", "BTC-USDT", "stall", seconds=None)
            await ws.send_json({"method": "ping", "req_id": 102})
            out["stalled"] = await silent(ws, 0.6)  # no heartbeat, no pong
            sim.inject("kraken", "BTC-USDT", "close")
            out["closed"] = await closed(ws)
        return out

    out = asyncio.run(go())
    assert out["ack"]["req_id"] == 1
    assert out["ack"]["success"] is True
    assert out["beats"] == [{"channel": "heartbeat"}] * 3
    assert set(out["pong"]) == {"method", "req_id", "time_in", "time_out"}
    assert out["pong"]["req_id"] == 101
    assert out["unknown"]["success"] is False
    assert out["unknown"]["error"] == "Currency pair not supported FOO/XYZ"
    assert out["unsub"]["success"] is True
    assert out["unsub"]["method"] == "unsubscribe"
    assert out["stalled"]
    assert out["closed"]


def test_rest_depth_and_asset_pairs_are_the_same_book_and_precisions() -> None:
    async def go() -> tuple[Any, KrakenBook, Any, Any]:
        async with SimExchange(seed=5) as sim, aiohttp.ClientSession() as s:
            base = sim.base_urls["kraken"]
            r = await s.get(f"{base}/0/public/AssetPairs", params={"pair": "XBTUSDT"})
            pairs = await r.json()
            info = pairs["result"]["XBTUSDT"]
            book = KrakenBook(25, info["pair_decimals"], info["lot_decimals"])
            async with s.ws_connect(f"{sim.ws_urls['kraken']}/v2") as ws:
                await ws.send_json({**SUB, "params": {**BOOK, "depth": 25}})
                snap = await recv_until(ws, lambda d: d.get("type") == "snapshot")
                assert book.apply(snap["data"][0])
                for _ in range(10):
                    assert book.apply((await recv_until(ws, _is_update))["data"][0])
                sim.set_rate("kraken", "BTC-USDT", 0.0)
                while True:
                    try:
                        assert book.apply((await recv_until(ws, _is_update, within=0.5))["data"][0])
                    except TimeoutError:
                        break
            r = await s.get(f"{base}/0/public/Depth", params={"pair": "XBTUSDT", "count": "25"})
            depth = await r.json()
            r = await s.get(f"{base}/0/public/Depth", params={"pair": "FOOXYZ"})
            unknown = await r.json()
            return pairs, book, depth, unknown

    pairs, book, depth, unknown = asyncio.run(go())
    info = pairs["result"]["XBTUSDT"]
    assert info["wsname"] == "XBT/USDT"
    assert info["lot_decimals"] == 8
    assert shape(depth) == shape(payload("kraken_depth_rest.recorded.json"))
    (rest,) = depth["result"].values()
    assert all(len(r[0].split(".")[1]) >= 5 for r in rest["bids"])
    # The client's WS book (snapshot + updates, truncated to 25) is REST's book.
    assert book.bids == {Decimal(p): Decimal(q) for p, q, _ in rest["bids"]}
    assert book.asks == {Decimal(p): Decimal(q) for p, q, _ in rest["asks"]}
    assert len(book.bids) == 25
    assert unknown == payload("kraken_error_unknown_pair.json")


def _is_update(d: Any) -> bool:
    return bool(d.get("type") == "update")
