"""`lobflow live` against the simulated venue: every recorded score replays bit for bit.

Real sockets (the simulated venue on 127.0.0.1, all four protocols), a real session (its
pinned worker), real Parquet; the faults are the venue's own (a dropped update, a closed
socket, a bad Kraken checksum, a Bybit restart).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

import lobflow
from lobflow.collect import SimExchange
from lobflow.collect.venues import VENUES
from lobflow.live import LiveSignal, LiveStats, alive

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SYMBOLS = ["BTC-USDT", "ETH-USDT"]


def weights() -> lobflow.Weights:
    """Every feature weighed (windows short enough to matter over a few seconds)."""
    coef = np.random.default_rng(3).normal(size=18) * 0.05
    coef[0], coef[3] = 0.01, -0.01  # mid and microprice: their difference, not the price level
    return lobflow.Weights((10, 50, 200), 0.05, 0.0, tuple(coef))


def run_live(
    out: Path | None,
    seconds: float,
    *,
    venues: list[str] | None = None,
    fault: Callable[[SimExchange], object] | None = None,
    on_signal: Callable[[LiveSignal], None] | None = None,
) -> LiveStats:
    """`alive` against a fresh simulated venue until every feed has scored a few books, then
    `fault(sim)`, then `seconds` more."""
    venues = venues or sorted(VENUES)
    seen: dict[tuple[str, str], int] = {}

    def count(s: LiveSignal) -> None:
        seen[(s.exchange, s.symbol)] = seen.get((s.exchange, s.symbol), 0) + 1
        if on_signal is not None:
            on_signal(s)

    async def go() -> LiveStats:
        async with SimExchange(seed=7) as sim:
            stop = asyncio.Event()
            task = asyncio.create_task(
                alive(
                    weights(),
                    exchanges=venues,
                    symbols=SYMBOLS,
                    out=out,
                    base_urls=sim.base_urls,
                    ws_urls=sim.ws_urls,
                    flush_every_s=0.5,
                    view=False,
                    stop=stop,
                    on_signal=count,
                )
            )
            deadline = asyncio.get_running_loop().time() + 30
            while len([n for n in seen.values() if n >= 3]) < len(venues) * len(SYMBOLS):
                assert asyncio.get_running_loop().time() < deadline, f"feeds not live: {seen}"
                await asyncio.sleep(0.1)
            if fault is not None:
                fault(sim)
            await asyncio.sleep(seconds)
            stop.set()
            return await task

    return asyncio.run(go())


def faults(sim: SimExchange) -> None:
    sim.inject("binance", "BTC-USDT", "drop")
    sim.inject("kucoin", "BTC-USDT", "close")
    sim.inject("kraken", "BTC-USDT", "bad_checksum")
    sim.inject("bybit", "ETH-USDT", "restart")
    sim.inject("bybit", "BTC-USDT", "drop")


def test_every_recorded_score_replays_bit_for_bit_through_lobflow_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    out = tmp_path / "live"
    stats = run_live(out, 4.0, fault=faults)
    streams = stats.collect.streams
    assert streams["binance"].feeds["BTC-USDT"].gaps >= 1
    assert streams["bybit"].feeds["BTC-USDT"].gaps >= 1
    assert streams["kraken"].feeds["BTC-USDT"].checksum_mismatches >= 1
    assert streams["kucoin"].reconnects >= 1
    w = weights()
    w_path = w.save(tmp_path / "w.txt")
    feeds = 0
    for feed in sorted((out / "processed").glob("exchange=*/symbol=*")):
        exchange, symbol = feed.parent.name.split("=")[1], feed.name.split("=")[1]
        rows = pl.read_parquet(feed, hive_partitioning=False)
        signals = pl.read_parquet(
            out / "signals" / feed.parent.name / feed.name, hive_partitioning=False
        )
        assert rows.height > 5, feed
        # One signal per processed row, in the same order, naming the same book.
        assert signals.height == rows.height, feed
        for c in ("ts", "ts_local", "seq"):
            assert signals[c].equals(rows[c]), (feed, c)
        assert (signals["latency_ns"] > 0).all()
        # What the parity rests on: the run's ticks decode to the very f64s the session had.
        run = lobflow.Engine(w).run(feed)
        assert (run.max_price_error, run.max_size_error) == (0.0, 0.0), feed
        scores = tmp_path / f"{exchange}-{symbol}.parquet"
        res = CliRunner().invoke(
            app, ["run", str(feed), "--weights", str(w_path), "--out", str(scores)]
        )
        assert res.exit_code == 0, res.output
        replay = pl.read_parquet(scores)
        a = replay["score"].to_numpy()
        b = signals["score"].to_numpy()
        assert a.view(np.int64).tolist() == b.view(np.int64).tolist(), feed
        assert replay["signal"].to_list() == signals["signal"].to_list(), feed
        feeds += 1
    assert feeds == len(VENUES) * len(SYMBOLS)
    assert stats.signals_written == sum(f.rows for f in stats.feeds)
    assert all(f.refused == 0 and f.skipped == 0 for f in stats.feeds)


def test_without_out_nothing_is_written_and_signals_reach_the_callback(tmp_path: Path) -> None:
    got: list[LiveSignal] = []
    stats = run_live(None, 2.0, venues=["bybit", "kucoin"], on_signal=got.append)
    assert len(got) == sum(f.signals for f in stats.feeds) == sum(f.rows for f in stats.feeds)
    assert len(got) > 20
    assert stats.signals_written == 0
    assert stats.out is None
    by_feed = {(s.exchange, s.symbol) for s in got}
    assert by_feed == {(v, s) for v in ("bybit", "kucoin") for s in SYMBOLS}
    for s in got:
        assert s.latency_ns > 0
        assert math.isfinite(s.score)
        assert s.signal in (-1, 0, 1)
    # Per feed, the book times never go back (one signal per row, in row order).
    for key in by_feed:
        ts = [s.ts for s in got if (s.exchange, s.symbol) == key]
        assert ts == sorted(ts)
    assert stats.session.recv_to_emit.count == len(got)
    assert not list(tmp_path.iterdir())
