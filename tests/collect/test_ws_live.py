"""`--transport ws` over real sockets against the simulated venue, with its fault injection.

Every run's processed rows are rebuilt from its raw events by `replay_raw` and must match.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from lobflow.collect import SimExchange
from lobflow.collect.sim.process import sim_exchange_process
from lobflow.collect.venues import VENUES
from lobflow.collect.venues.kraken import checksum
from lobflow.collect.ws.replay import replay_raw
from lobflow.collect.ws.stream import astream

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from lobflow.collect.stats import StreamCollectStats

SYMBOLS = ["BTC-USDT", "ETH-USDT"]


def run(
    out: Path,
    venues: list[str],
    seconds: float,
    *,
    symbols: list[str] = SYMBOLS,
    at: float = 1.5,
    fault: Callable[[SimExchange], object] | None = None,
    sim_options: dict[str, Any] | None = None,
    **options: Any,
) -> StreamCollectStats:
    """Stream `venues` from a fresh simulated venue for `seconds`; `fault(sim)` after `at` s
    and once every feed has written a row (a drop before a feed's sync is no gap)."""

    async def go() -> StreamCollectStats:
        synced = _EveryFeedRowed({(v, s) for v in venues for s in symbols})
        async with SimExchange(seed=7, **(sim_options or {})) as sim:
            task = asyncio.create_task(
                astream(
                    exchanges=venues,
                    symbols=symbols,
                    duration_s=seconds,
                    out=out,
                    base_urls=sim.base_urls,
                    ws_urls=sim.ws_urls,
                    flush_every_s=0.5,
                    live=False,
                    on_row=synced,
                    **options,
                )
            )
            if fault is not None:
                await asyncio.sleep(at)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(synced.event.wait(), seconds)
                fault(sim)
            return await task

    return asyncio.run(go())


class _EveryFeedRowed:
    """A row hook that sets `event` once each of `feeds` has produced a processed row."""

    def __init__(self, feeds: set[tuple[str, str]]) -> None:
        self.waiting = set(feeds)
        self.event = asyncio.Event()

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def on_row(self, exchange: str, symbol: str, row: tuple[object, ...], recv_ns: int) -> None:
        self.waiting.discard((exchange, symbol))
        if not self.waiting:
            self.event.set()


def processed(out: Path) -> pl.DataFrame:
    return pl.scan_parquet(out / "processed" / "**" / "*.parquet", hive_partitioning=True).collect()


def raw_events(out: Path, venue: str) -> pl.DataFrame:
    df = pl.scan_parquet(out / "raw_ws" / "**" / "*.parquet", hive_partitioning=True).collect()
    return df.filter(pl.col("exchange") == venue).sort("run", "n")


def assert_replay_matches(out: Path) -> pl.DataFrame:
    rows = processed(out).drop("date")
    rebuilt = replay_raw(out)
    keys = ["exchange", "symbol", "ts_local", "ts"]
    assert rebuilt.height == rows.height > 0
    assert rebuilt.sort(keys).equals(rows.select(rebuilt.columns).sort(keys))
    return rows


def assert_valid_feeds(rows: pl.DataFrame) -> None:
    for (ex, sym), feed in rows.group_by(["exchange", "symbol"], maintain_order=True):
        feed = feed.sort("ts_local")
        assert feed["ts"].is_sorted(), (ex, sym)
        assert (feed["bid_px_0"] < feed["ask_px_0"]).all(), (ex, sym)
        assert (feed["bid_px_4"] > 0).all()
        if feed["seq"].null_count() == 0:
            # Update ids never go back (a snapshot after a reconnect may repeat the last one).
            assert feed["seq"].is_sorted(), (ex, sym)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_each_venue_streams_exact_books_and_replays_them(tmp_path: Path, venue: str) -> None:
    stats = run(tmp_path, [venue], 3.0)
    st = stats.streams[venue]
    assert st.connections == 1
    assert st.reconnects == 0
    for sym in SYMBOLS:
        feed = st.feeds[sym]
        assert feed.rows > 5, (sym, feed)
        assert feed.gaps == feed.malformed == feed.stale == 0
    rows = assert_replay_matches(tmp_path)
    assert_valid_feeds(rows)
    assert stats.processed_rows == rows.height
    assert len(st.latency_ns) > 0


def _binance_gap_window(out: Path, symbol: str) -> tuple[int, int]:
    """(first missing id, lastUpdateId of the snapshot that resynced) of the first gap."""
    ev = raw_events(out, "binance")
    last: int | None = None
    missing: int | None = None
    for event, sym, body in ev.select("event", "symbol", "body").iter_rows():
        if event == "frame" and missing is None:
            doc = json.loads(body)
            data = doc.get("data")
            if data and data["s"] == symbol:
                if last is not None and data["U"] > last + 1:
                    missing = last + 1
                last = data["u"]
        elif event == "snapshot" and sym == "BTC-USDT" and missing is not None:
            return missing, json.loads(body)["lastUpdateId"]
    pytest.fail("no gap and resync in the raw events")


def test_binance_dropped_update_is_a_gap_resynced_with_no_rows_in_between(tmp_path: Path) -> None:
    stats = run(tmp_path, ["binance"], 4.0, fault=lambda s: s.inject("binance", "BTC-USDT", "drop"))
    feed = stats.streams["binance"].feeds["BTC-USDT"]
    assert feed.gaps == feed.resyncs == 1
    rows = assert_replay_matches(tmp_path)
    assert_valid_feeds(rows)
    lo, hi = _binance_gap_window(tmp_path, "BTCUSDT")
    seqs = rows.filter(pl.col("symbol") == "BTC-USDT")["seq"]
    assert seqs.filter((seqs >= lo) & (seqs <= hi)).len() == 0
    assert (seqs > hi).sum() > 0  # and the feed went on


def test_bybit_dropped_update_is_a_gap_resubscribed_and_a_restart_is_not(tmp_path: Path) -> None:
    def faults(sim: SimExchange) -> None:
        sim.inject("bybit", "BTC-USDT", "drop")
        sim.inject("bybit", "ETH-USDT", "restart")

    stats = run(tmp_path, ["bybit"], 4.0, fault=faults)
    st = stats.streams["bybit"]
    assert st.feeds["BTC-USDT"].gaps == 1
    assert st.feeds["ETH-USDT"].gaps == 0
    rows = assert_replay_matches(tmp_path)
    # Between the gap and the fresh snapshot no row: ids jump from before the gap to the
    # snapshot's own.
    ev = raw_events(tmp_path, "bybit")
    us: list[int] = []
    gap: int | None = None
    snap: int | None = None
    for event, body in ev.select("event", "body").iter_rows():
        doc = json.loads(body) if event == "frame" else {}
        if doc.get("topic") == "orderbook.50.BTCUSDT":
            u = doc["data"]["u"]
            if gap is None and us and doc["type"] == "delta" and u != us[-1] + 1:
                gap = us[-1] + 1
            elif gap is not None and doc["type"] == "snapshot":
                snap = u
                break
            us.append(u)
    assert gap is not None
    assert snap is not None
    seqs = rows.filter(pl.col("symbol") == "BTC-USDT")["seq"]
    assert seqs.filter((seqs >= gap) & (seqs < snap)).len() == 0
    # The restarted feed's ids start over (near 1) and it keeps writing.
    eth = rows.filter(pl.col("symbol") == "ETH-USDT").sort("ts_local")["seq"].to_list()
    drops = [i for i in range(1, len(eth)) if eth[i] < eth[i - 1]]
    assert len(drops) == 1
    assert eth[drops[0]] < 10
    assert drops[0] < len(eth) - 1


def _kraken_mismatch_window(out: Path) -> tuple[int, int]:
    """(ts_local of the first update whose checksum is wrong, ts_local of the next snapshot)."""
    ev = raw_events(out, "kraken")
    precision = None
    book: dict[str, dict[Decimal, str]] = {"bids": {}, "asks": {}}
    bad = None
    for ts_local, event, body in ev.select("ts_local", "event", "body").iter_rows():
        if event == "pairs":
            for info in json.loads(body)["result"].values():
                if info["altname"] == "XBTUSDT":
                    precision = (info["pair_decimals"], info["lot_decimals"])
        if event != "frame":
            continue
        doc = json.loads(body, parse_float=str)
        if doc.get("channel") != "book" or doc["data"][0]["symbol"] != "BTC/USDT":
            continue
        entry = doc["data"][0]
        if doc["type"] == "snapshot":
            if bad is not None:
                return bad, ts_local
            book = {"bids": {}, "asks": {}}
        for side in ("bids", "asks"):
            for lvl in entry[side]:
                p, q = Decimal(str(lvl["price"])), str(lvl["qty"])
                if Decimal(q) == 0:
                    book[side].pop(p, None)
                else:
                    book[side][p] = q
            kept = sorted(book[side], reverse=side == "bids")[:10]
            book[side] = {p: book[side][p] for p in kept}
        asks = [(str(p), book["asks"][p]) for p in sorted(book["asks"])]
        bids = [(str(p), book["bids"][p]) for p in sorted(book["bids"], reverse=True)]
        assert precision is not None
        if bad is None and checksum(asks, bids, *precision) != entry["checksum"]:
            bad = ts_local
    pytest.fail("no checksum mismatch and resync in the raw events")


def test_kraken_bad_checksum_resubscribes_and_writes_nothing_until_the_snapshot(
    tmp_path: Path,
) -> None:
    stats = run(
        tmp_path, ["kraken"], 4.0, fault=lambda s: s.inject("kraken", "BTC-USDT", "bad_checksum")
    )
    feed = stats.streams["kraken"].feeds["BTC-USDT"]
    assert feed.checksum_mismatches == feed.gaps == feed.resyncs == 1
    rows = assert_replay_matches(tmp_path)
    lo, hi = _kraken_mismatch_window(tmp_path)
    btc = rows.filter(pl.col("symbol") == "BTC-USDT")
    assert btc.filter((pl.col("ts_local") >= lo) & (pl.col("ts_local") < hi)).height == 0
    assert btc.filter(pl.col("ts_local") >= hi).height > 0


def test_kucoin_expired_token_reconnects_with_a_new_token(tmp_path: Path) -> None:
    stats = run(tmp_path, ["kucoin"], 4.5, fault=lambda s: s.inject("kucoin", None, "expire_token"))
    st = stats.streams["kucoin"]
    assert st.reconnects >= 1
    assert st.connections >= 2
    ev = raw_events(tmp_path, "kucoin")
    tokens = [
        json.loads(b)["data"]["token"] for b in ev.filter(pl.col("event") == "bullet")["body"]
    ]
    assert len(tokens) >= 2
    assert len(set(tokens)) == len(tokens)
    rows = assert_replay_matches(tmp_path)
    second = ev.filter(pl.col("event") == "open")["ts_local"][1]
    assert rows.filter(pl.col("ts_local") > second).height > 0


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_a_closed_socket_reconnects_and_the_feed_resumes(tmp_path: Path, venue: str) -> None:
    # A reconnect after a short-lived connection waits up to 1 s (full jitter), and Binance
    # then fetches a snapshot and waits for its stream to pass it: 5.5 s after the close
    # leave every feed time to write rows again on a loaded machine.
    stats = run(tmp_path, [venue], 7.0, fault=lambda s: s.inject(venue, "BTC-USDT", "close"))
    st = stats.streams[venue]
    assert st.reconnects >= 1
    assert st.feeds["BTC-USDT"].reconnects >= 1
    rows = assert_replay_matches(tmp_path)
    assert_valid_feeds(rows)
    reopened = raw_events(tmp_path, venue).filter(pl.col("event") == "open")["ts_local"][-1]
    for sym in SYMBOLS:
        assert rows.filter((pl.col("symbol") == sym) & (pl.col("ts_local") > reopened)).height


@pytest.mark.parametrize("venue", ["bybit", "kraken"])
def test_a_stalled_stream_is_a_missed_heartbeat_and_is_replaced(tmp_path: Path, venue: str) -> None:
    stats = run(
        tmp_path,
        [venue],
        5.0,
        fault=lambda s: s.inject(venue, "BTC-USDT", "stall"),
        ping_every_s=0.3,
        silence_s=1.0,
    )
    st = stats.streams[venue]
    assert st.missed_heartbeats >= 1
    assert st.connections >= 2
    assert_replay_matches(tmp_path)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_rotation_hands_feeds_over_without_a_gap(tmp_path: Path, venue: str) -> None:
    stats = run(tmp_path, [venue], 5.0, rotate_after_s=1.5)
    st = stats.streams[venue]
    assert st.rotations >= 2
    assert st.reconnects == 0
    for sym in SYMBOLS:
        feed = st.feeds[sym]
        assert feed.switches >= 1, (sym, feed)
        assert feed.gaps == feed.reconnects == 0, (sym, feed)
    rows = assert_replay_matches(tmp_path)
    assert_valid_feeds(rows)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_an_unknown_symbol_stops_its_feed_with_the_venues_message(
    tmp_path: Path, venue: str
) -> None:
    stats = run(tmp_path, [venue], 3.0, symbols=["BTC-USDT", "FOO-XYZ"])
    st = stats.streams[venue]
    assert st.feeds["FOO-XYZ"].stopped
    assert st.feeds["BTC-USDT"].rows > 0
    assert st.reconnects == 0


def test_a_frame_over_the_venues_cap_is_counted_and_the_client_reconnects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(VENUES["bybit"]), "max_frame_bytes", 600)
    stats = run(tmp_path, ["bybit"], 2.5)
    st = stats.streams["bybit"]
    assert st.errors["too_large"] >= 1
    assert st.connections >= 2


def test_the_cli_streams_with_ws_url_and_base_url(tmp_path: Path) -> None:
    with sim_exchange_process() as sim:
        args = [sys.executable, "-m", "lobflow", "collect", "--transport", "ws"]
        args += ["--exchange", ",".join(sorted(VENUES)), "--symbol", "BTC-USDT"]
        for v in sorted(VENUES):
            args += ["--base-url", f"{v}={sim.http}", "--ws-url", f"{v}={sim.ws}"]
        args += ["--duration", "4s", "--out", str(tmp_path / "data"), "--no-live"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    rows = processed(tmp_path / "data")
    assert set(rows["exchange"]) == set(VENUES)
    assert_replay_matches(tmp_path / "data")
