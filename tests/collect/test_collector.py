"""The real collector against local aiohttp servers: the simulated venue and scripted faults."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import polars as pl

import lobflow
from lobflow import features
from lobflow.collect import SimExchange, acollect
from tests.collect.scripted import P, Script, kucoin_ok, now_ms, read
from tests.oracle import assert_features_close

if TYPE_CHECKING:
    from pathlib import Path


def test_all_four_venues_against_the_simulated_venue(tmp_path: Path) -> None:
    async def go() -> Any:
        async with SimExchange(seed=3) as sim:
            return await acollect(
                exchanges=["kucoin", "kraken", "bybit", "binance"],
                symbols=["BTC-USDT", "ETH-USDT"],
                hz=5.0,
                duration_s=2.5,
                out=tmp_path,
                base_urls=sim.base_urls,
                flush_every_s=0.5,
                live=False,
            )

    stats = asyncio.run(go())
    processed = read(tmp_path, "processed")
    raw = read(tmp_path, "raw")
    assert set(processed["exchange"]) == {"kucoin", "kraken", "bybit", "binance"}
    assert set(processed["symbol"]) == {"BTC-USDT", "ETH-USDT"}
    assert raw.height >= processed.height == stats.processed_rows
    assert set(raw["status"]) == {200}
    # Every part file has the one fixed schema, also where a venue sends no sequence (Kraken).
    schemas = {
        str(pl.read_parquet_schema(f)) for f in (tmp_path / "processed").glob("**/*.parquet")
    }
    assert len(schemas) == 1
    assert processed.schema["seq"] == pl.Int64
    assert processed.filter(pl.col("exchange") == "kraken")["seq"].null_count() > 0
    # Kraken keeps to its ~1 request/s per IP across both symbols; the others poll at 5 Hz.
    kraken = stats.venues["kraken"].requests
    kucoin = stats.venues["kucoin"].requests
    assert kraken <= 4
    assert kucoin >= 2 * 8
    # The feeds interleaved by arrival, as a user reads them back: polars computes them all at
    # once, the engine one feed at a time, and they agree.
    books = processed.sort("ts_local")
    feats = features.compute(books, (10, 20, 50))
    names = lobflow.feature_names((10, 20, 50))
    for (ex, sym), feed in books.group_by(["exchange", "symbol"], maintain_order=True):
        assert feed["ts"].is_sorted(), (ex, sym)
        # Every processed row is a valid contract row: the engine takes the feed as is.
        res = lobflow.Engine(
            lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18), cores=(0, 1)
        ).run(feed.drop("exchange", "symbol", "date"), record_features=True)
        assert res.skipped == 0
        assert res.features is not None
        mine = feats.filter((pl.col("exchange") == ex) & (pl.col("symbol") == sym))
        assert_features_close(mine.select(names).to_numpy(), res.features)
    # Jitter is measured and reported (no timing assertion here: see benches/).
    assert all(len(v.jitter_ns) == v.requests for v in stats.venues.values())


def test_faults_rate_limits_and_duplicates(tmp_path: Path) -> None:
    ku = "/api/v1/market/orderbook/level2_20"
    bn = "/api/v3/depth"
    binance_ok = (P / "binance_depth_rest.json").read_bytes()
    script = Script(
        {
            ku: [
                (200, {}, kucoin_ok(1)),
                (200, {}, kucoin_ok(1)),  # cached repeat: not written twice
                (429, {"gw-ratelimit-reset": "600"}, (P / "kucoin_error_429000.json").read_bytes()),
                (200, {}, kucoin_ok(2)),
                (503, {}, b"upstream down"),
                (200, {}, b"{not json"),
                # aiohttp retries a reset keep-alive connection once by itself: reset twice.
                (0, {}, b""),
                (0, {}, b""),
                (200, {}, kucoin_ok(3)),
            ],
            bn: [(200, {}, binance_ok)],
        }
    )

    async def go() -> Any:
        async with script as url:
            return await acollect(
                exchanges=["kucoin", "binance"],
                symbols=["BTC-USDT"],
                hz=10.0,
                duration_s=6.0,
                out=tmp_path,
                base_urls={"kucoin": url, "binance": url},
                flush_every_s=1.0,
                live=False,
            )

    stats = asyncio.run(go())
    ku_stats = stats.venues["kucoin"]
    assert ku_stats.duplicates >= 1
    assert ku_stats.errors["rate_limited"] == 1
    assert ku_stats.errors["retry"] >= 2  # 503 and the garbage body
    transport = set(ku_stats.errors) - {"rate_limited", "retry"}
    assert transport, "the reset connection must be counted"  # e.g. ServerDisconnectedError
    # The 429 asked for 600 ms: the next request waited at least that long.
    t = script.times[ku]
    assert t[3] - t[2] >= 0.55
    processed = read(tmp_path, "processed")
    kucoin = processed.filter(pl.col("exchange") == "kucoin")
    assert sorted(kucoin["seq"].to_list()) == [1, 2, 3]
    # Binance never stopped while KuCoin failed; its book does not change: deduplicated.
    # (10 Hz asked, capped at the venue's 3 Hz default: ~18 polls in 6 s.)
    assert stats.venues["binance"].requests >= 15
    assert processed.filter(pl.col("exchange") == "binance").height == 1
    assert stats.venues["binance"].duplicates == stats.venues["binance"].requests - 1


def test_invalid_books_are_counted_not_written(tmp_path: Path) -> None:
    ku = "/api/v1/market/orderbook/level2_20"

    def book(seq: int, bid: str, ask: str) -> bytes:
        data = {
            "time": now_ms() + seq,
            "sequence": str(seq),
            "bids": [[bid, "1"]] + [[str(float(bid) - i), "1"] for i in range(1, 5)],
            "asks": [[ask, "1"]] + [[str(float(ask) + i), "1"] for i in range(1, 3)],
        }
        return json.dumps({"code": "200000", "data": data}).encode()

    script = Script(
        {
            ku: [
                (200, {}, book(1, "100", "101")),
                (200, {}, book(2, "102", "101")),
                (200, {}, book(3, "NaN", "101")),
                (200, {}, book(4, "100", "101.5")),
            ]
        }
    )

    async def go() -> Any:
        async with script as url:
            return await acollect(
                exchanges=["kucoin"],
                symbols=["BTC-USDT"],
                hz=3.0,
                duration_s=2.0,
                out=tmp_path,
                base_urls={"kucoin": url},
                flush_every_s=0.5,
                live=False,
            )

    stats = asyncio.run(go())
    inv = stats.venues["kucoin"].invalid
    assert inv["crossed"] == 1
    assert inv["nan"] == 1
    assert inv["short"] >= 2  # 3 ask levels: padded with size 0 and counted
    rows = read(tmp_path, "processed")
    assert rows["seq"].to_list() == [1, 4]
    assert rows["ask_sz_4"].to_list() == [0.0, 0.0]


def test_spread_feeds_polls_every_feed(tmp_path: Path) -> None:
    async def go() -> Any:
        async with SimExchange(seed=4) as sim:
            return await acollect(
                exchanges=["kucoin", "bybit"],
                symbols=["BTC-USDT", "ETH-USDT", "SOL-USDT"],
                hz=3.0,
                duration_s=1.5,
                out=tmp_path,
                base_urls=sim.base_urls,
                flush_every_s=0.5,
                live=False,
                spread_feeds=True,
            )

    stats = asyncio.run(go())
    feeds = read(tmp_path, "processed").group_by(["exchange", "symbol"]).len()
    assert feeds.height == 6
    assert min(feeds["len"].to_list()) >= 3  # ~4 polls each in 1.5 s at 3 Hz
    assert stats.venues["kucoin"].skipped_late == 0
