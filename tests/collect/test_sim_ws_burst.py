"""Bursts: thousands of frames as fast as the socket takes them, still a valid venue stream."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from lobflow.collect.sim import SimExchange
from tests.collect.sim_ws_support import KrakenBook, closed, recv, recv_until

FRAMES = 3_000
#: A short loop, so that a burst of FRAMES plays it several times over.
CYCLE = 150


def _apply(book: dict[str, dict[Decimal, Decimal]], bids: Any, asks: Any) -> None:
    for side, rows in (("bids", bids), ("asks", asks)):
        for p, q in rows:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = Decimal(q)


async def _open(venue: str, s: aiohttp.ClientSession, sim: SimExchange) -> Any:
    ws_url, base = sim.ws_urls[venue], sim.base_urls[venue]
    if venue == "binance":
        return await s.ws_connect(f"{ws_url}/stream?streams=btcusdt@depth@100ms")
    if venue == "bybit":
        ws = await s.ws_connect(f"{ws_url}/v5/public/spot")
        await ws.send_json({"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]})
        return ws
    if venue == "kraken":
        ws = await s.ws_connect(f"{ws_url}/v2")
        params = {"channel": "book", "symbol": ["BTC/USDT"], "depth": 10}
        await ws.send_json({"method": "subscribe", "params": params})
        return ws
    bullet = await (await s.post(f"{base}/api/v1/bullet-public")).json()
    server = bullet["data"]["instanceServers"][0]
    ws = await s.ws_connect(f"{server['endpoint']}?token={bullet['data']['token']}&connectId=b")
    await ws.send_json({"id": 1, "type": "subscribe", "topic": "/spotMarket/level2Depth5:BTC-USDT"})
    return ws


class Checker:
    """Follows one venue's stream and checks every data frame it is given."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.frames = 0
        self.last: int | None = None
        self.gaps = 0
        self.bad = 0
        self.book: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
        self.kraken = KrakenBook(10, 1, 8)

    def data(self, d: Any) -> bool:
        """Check one message; False if it is not a data frame."""
        if self.venue == "binance":
            if "stream" not in d:
                return False
            ev = d["data"]
            if self.last is not None and ev["U"] != self.last + 1:
                self.gaps += 1
            self.last = ev["u"]
            _apply(self.book, ev["b"], ev["a"])
        elif self.venue == "bybit":
            if "topic" not in d:
                return False
            u = d["data"]["u"]
            if d["type"] == "snapshot":
                self.book = {"bids": {}, "asks": {}}
            elif self.last is not None and u != self.last + 1:
                self.gaps += 1
            self.last = u
            _apply(self.book, d["data"]["b"], d["data"]["a"])
            if self.book["bids"] and max(self.book["bids"]) >= min(self.book["asks"]):
                self.bad += 1
        elif self.venue == "kraken":
            if d.get("channel") != "book":
                return False
            self.bad += not self.kraken.apply(d["data"][0])
        else:
            if d.get("type") != "message":
                return False
            bids = [Decimal(p) for p, _ in d["data"]["bids"]]
            asks = [Decimal(p) for p, _ in d["data"]["asks"]]
            self.bad += not (len(bids) == len(asks) == 5 and bids[0] < asks[0])
        self.frames += 1
        return True


@pytest.mark.parametrize("venue", ["binance", "bybit", "kraken", "kucoin"])
def test_a_burst_is_a_valid_stream_and_real_time_carries_on_after_it(venue: str) -> None:
    async def go() -> tuple[Checker, Any, int]:
        async with SimExchange(seed=1, burst_cycle=CYCLE) as sim, aiohttp.ClientSession() as s:
            ws = await _open(venue, s, sim)
            check = Checker(venue)
            while not check.data(await recv(ws)):  # ack, welcome, status: until the first book
                pass
            burst = asyncio.create_task(sim.burst(venue, "BTC-USDT", FRAMES))
            before = check.frames
            while check.frames - before < FRAMES:
                check.data(await recv(ws))
            result = await burst
            # Real time again: the next frames continue the same sequence.
            after = check.frames
            while check.frames - after < 3:
                check.data(await recv(ws))
            await ws.close()
            return check, result, before

    check, result, before = asyncio.run(go())
    assert result.frames == FRAMES
    assert result.dropped == 0
    assert result.updates >= FRAMES
    assert check.gaps == 0
    assert check.bad == 0
    assert check.frames >= before + FRAMES + 3


def test_binance_local_book_syncs_through_rest_during_a_burst() -> None:
    async def go() -> tuple[dict[str, dict[Decimal, Decimal]], Any, int, int]:
        async with (
            SimExchange(seed=2, burst_cycle=CYCLE, burst_on_subscribe=20_000) as sim,
            aiohttp.ClientSession() as s,
        ):
            url = f"{sim.ws_urls['binance']}/stream?streams=btcusdt@depth@100ms"
            depth = f"{sim.base_urls['binance']}/api/v3/depth"
            params = {"symbol": "BTCUSDT", "limit": "1000"}
            async with s.ws_connect(url) as ws:
                first = (await recv(ws))["data"]
                snap = await (await s.get(depth, params=params)).json()
                assert snap["lastUpdateId"] >= first["U"]
                book = {
                    "bids": {Decimal(p): Decimal(q) for p, q in snap["bids"]},
                    "asks": {Decimal(p): Decimal(q) for p, q in snap["asks"]},
                }
                local, applied = snap["lastUpdateId"], 0
                ev = first
                feed = sim.feeds[("binance", "BTC-USDT")]
                while True:
                    if ev["u"] > local:
                        if applied == 0:
                            assert ev["U"] <= local + 1 <= ev["u"]
                        else:
                            assert ev["U"] == local + 1
                        _apply(book, ev["b"], ev["a"])
                        local, applied = ev["u"], applied + 1
                    if feed.bursting is None and applied >= 1_000:
                        break
                    ev = (await recv(ws))["data"]
                sim.set_rate("binance", "BTC-USDT", 0.0)
                final = await (await s.get(depth, params=params)).json()
                while local < final["lastUpdateId"]:
                    ev = (await recv(ws))["data"]
                    assert ev["U"] == local + 1
                    _apply(book, ev["b"], ev["a"])
                    local = ev["u"]
            return book, final, local, applied

    book, final, local, applied = asyncio.run(go())
    assert applied >= 1_000
    assert local == final["lastUpdateId"]
    assert book["bids"] == {Decimal(p): Decimal(q) for p, q in final["bids"]}
    assert book["asks"] == {Decimal(p): Decimal(q) for p, q in final["asks"]}


def test_a_drop_during_a_burst_is_a_gap() -> None:
    async def go() -> tuple[Checker, Any, int]:
        async with SimExchange(seed=3, burst_cycle=CYCLE) as sim, aiohttp.ClientSession() as s:
            ws = await _open("bybit", s, sim)
            check = Checker("bybit")
            await recv_until(ws, check.data)
            sim.inject("bybit", "BTC-USDT", "drop", count=5)
            burst = asyncio.create_task(sim.burst("bybit", "BTC-USDT", FRAMES))
            while not burst.done() or check.frames < 1 + FRAMES - 5:
                check.data(await recv(ws))
            result = await burst
            await ws.close()
            return check, result, sim.feeds[("bybit", "BTC-USDT")].dropped

    check, result, dropped = asyncio.run(go())
    # The five drops fall on the next messages: the burst's (and maybe one real-time delta).
    assert dropped == 5
    assert result.dropped >= 4
    assert result.frames == FRAMES - result.dropped
    assert 1 <= check.gaps <= 2  # consecutive drops are one jump of u


def test_a_client_that_stops_reading_is_cut_and_the_burst_ends() -> None:
    async def go() -> tuple[Any, int, bool]:
        async with (
            SimExchange(seed=4, burst_cycle=CYCLE, burst_slow_consumer_s=0.5) as sim,
            aiohttp.ClientSession() as s,
        ):
            stuck = await _open("bybit", s, sim)
            reader = await _open("bybit", s, sim)
            for ws in (stuck, reader):
                await recv_until(ws, lambda d: d.get("type") == "snapshot")
            check = Checker("bybit")
            burst = asyncio.create_task(sim.burst("bybit", "BTC-USDT", 200_000))
            while not burst.done():  # one client reads everything, the other nothing
                msg = await reader.receive(timeout=30)
                check.data(json.loads(msg.data))
            result = await burst
            subscribers = next(f.subscribers for f in sim.stats().feeds)
            stuck_cut = await closed(stuck, 30)  # what it had buffered, then the cut
            await stuck.close()
            await reader.close()
            return result, subscribers, stuck_cut

    result, subscribers, stuck_cut = asyncio.run(go())
    assert result.frames == 200_000  # the burst ended: one stuck client does not hold it
    assert subscribers == 1  # the reading client kept its subscription
    assert stuck_cut
