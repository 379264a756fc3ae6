"""The simulated venue's deep book, exact decimals, and its admin routes and fault checks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from lobflow.collect.sim import SimExchange
from lobflow.collect.sim.book import ASK, BID, DeepBook
from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.instruments import SYMBOLS, fixed, instrument, json_number, stripped


def _consistent(book: DeepBook) -> None:
    for side in (BID, ASK):
        prices = [-k if side == BID else k for k in book.keys[side]]
        assert set(prices) == set(book.qty[side])
        assert all(q > 0 for q in book.qty[side].values())
    assert book.keys[BID] == sorted(book.keys[BID])
    assert book.keys[ASK] == sorted(book.keys[ASK])
    assert book.best(BID) < book.best(ASK)


@pytest.mark.parametrize("symbol", sorted(SYMBOLS))
def test_events_keep_the_book_sorted_uncrossed_and_deep(symbol: str) -> None:
    book = DeepBook(instrument(symbol), seed=7, depth=60)
    start = book.update_id
    changes = 0
    for _ in range(3_000):
        ev = book.step()
        changes += len(ev.changes)
        assert ev.changes
        assert ev.last_id == book.update_id
        _consistent(book)
        assert 60 <= len(book.keys[BID]) <= 72
        assert 60 <= len(book.keys[ASK]) <= 72
    assert book.update_id - start == changes  # one update id per level change


def test_undoing_events_in_reverse_gives_back_the_book_exactly() -> None:
    book = DeepBook(instrument("ETH-USDT"), seed=3, depth=50)
    before = (dict(book.qty[BID]), dict(book.qty[ASK]))
    events = [book.step() for _ in range(2_000)]
    for ev in reversed(events):
        book.apply(ev.inverse(ev.t_ns))
    assert (book.qty[BID], book.qty[ASK]) == before
    _consistent(book)


def test_the_best_level_leans_with_queue_imbalance() -> None:
    # P(ask taken | a market order) = 0.5 + 0.3 qi0: with a fixed seed, the up-moves after a
    # bid-heavy top must outnumber those after an ask-heavy one.
    book = DeepBook(instrument("BTC-USDT"), seed=11, depth=40)
    up = {True: 0, False: 0}
    for _ in range(20_000):
        qb, qa = book.qty[BID][book.best(BID)], book.qty[ASK][book.best(ASK)]
        ask0 = book.best(ASK)
        book.step()
        if book.best(ASK) > ask0:
            up[qb > qa] += 1
    assert up[True] > 1.3 * up[False]


def test_decimal_strings_are_exact() -> None:
    assert fixed(6500001, 1) == "650000.1"
    assert fixed(5, 8, 8) == "0.00000005"
    assert fixed(15000, 5) == "0.15000"
    assert stripped(15000, 5) == "0.15"
    assert json_number(650000, 1) == "65000.0"
    with pytest.raises(ValueError, match="cannot write"):
        fixed(5, 3, 2)
    with pytest.raises(ValueError, match="unknown symbol 'BTCUSDT'"):
        instrument("BTCUSDT")


def test_inject_names_what_is_wrong() -> None:
    async def go() -> None:
        async with SimExchange(seed=1) as sim:
            with pytest.raises(ValueError, match="unknown venue 'ftx'"):
                sim.inject("ftx", "BTC-USDT", "drop")
            with pytest.raises(ValueError, match="unknown fault 'explode'"):
                sim.inject("kraken", "BTC-USDT", "explode")
            with pytest.raises(ValueError, match="'bad_checksum' does not exist on binance"):
                sim.inject("binance", "BTC-USDT", Fault.BAD_CHECKSUM)
            with pytest.raises(ValueError, match="count must be >= 1"):
                sim.inject("bybit", "BTC-USDT", "drop", count=0)
            with pytest.raises(ValueError, match="needs a symbol"):
                sim.inject("bybit", None, "drop")
            with pytest.raises(ValueError, match="unknown symbol"):
                sim.inject("bybit", "BTCUSDT", "drop")

    asyncio.run(go())


def test_admin_routes_inject_burst_and_report() -> None:
    async def go() -> list[Any]:
        out: list[Any] = []
        async with SimExchange(seed=2) as sim, aiohttp.ClientSession() as s:
            base = f"http://127.0.0.1:{sim.port}"
            for body in (
                {"venue": "bybit", "symbol": "BTC-USDT", "fault": "restart"},
                {"venue": "binance", "symbol": "BTC-USDT", "fault": "bad_checksum"},
            ):
                r = await s.post(f"{base}/sim/inject", json=body)
                out.append((r.status, await r.json()))
            r = await s.post(f"{base}/sim/inject", data=b"[1,2")
            out.append(r.status)
            async with s.ws_connect(f"ws://127.0.0.1:{sim.port}/v5/public/spot") as ws:
                await ws.send_json({"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]})
                burst = {"venue": "bybit", "symbol": "BTC-USDT", "frames": 500, "wait": True}
                task = asyncio.create_task(s.post(f"{base}/sim/burst", json=burst))
                frames = 0
                while not task.done() or frames < 500:
                    msg = await ws.receive(timeout=5)
                    frames += '"type":"delta"' in msg.data
                r = await task
                out.append((r.status, await r.json()))
            r = await s.get(f"{base}/sim/stats")
            out.append(await r.json())
        return out

    (ok, ok_body), (bad, bad_body), not_json, (burst, result), stats = asyncio.run(go())
    assert ok == 200
    assert ok_body["fault"] == "restart"
    assert ok_body["connections"] == 0
    assert bad == 400
    assert "does not exist on binance" in bad_body["error"]
    assert not_json == 400
    assert burst == 200
    assert result["frames"] == 500
    assert result["seconds"] > 0
    assert stats["bursts"][0]["frames"] == 500
    feeds = {(f["venue"], f["symbol"]): f for f in stats["feeds"]}
    assert feeds[("bybit", "BTC-USDT")]["frames"] >= 500
