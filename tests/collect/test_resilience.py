"""Answers and faults that must neither lose a row nor stop a feed: each found by review."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from lobflow.collect import SimExchange, _flush, acollect, poller, writer
from lobflow.collect.venues import validate
from lobflow.errors import CollectorError
from tests.collect.scripted import P, Script, kucoin_ok, now_ms, read

if TYPE_CHECKING:
    from pathlib import Path

KU = "/api/v1/market/orderbook/level2_20"
BY = "/v5/market/orderbook"
KR = "/0/public/Depth"
BN = "/api/v3/depth"


def run(path: str, venue: str, answers: list[bytes], out: Path, seconds: float) -> Any:
    """Collect `venue` for `seconds` from a server answering `answers` in turn (then the last)."""
    script = Script({path: [(200, {}, b) for b in answers]})

    async def go() -> Any:
        async with script as url:
            return await acollect(
                exchanges=[venue],
                symbols=["BTC-USDT"],
                hz=3.0,
                duration_s=seconds,
                out=out,
                base_urls={venue: url},
                flush_every_s=0.5,
                live=False,
            )

    return asyncio.run(go())


def bybit(u: int, *, with_seq: bool, ts_ms: int) -> bytes:
    doc = json.loads((P / "bybit_orderbook_rest.json").read_bytes())
    r = doc["result"]
    r["u"], r["ts"] = u, ts_ms
    if not with_seq:
        del r["seq"], r["cts"]  # as older and testnet answers come
    return json.dumps(doc).encode()


def binance(update_id: int) -> bytes:
    doc = json.loads((P / "binance_depth_rest.json").read_bytes())
    doc["lastUpdateId"] = update_id
    return json.dumps(doc).encode()


def test_bybit_answers_without_seq_are_written_and_u_1_starts_over(tmp_path: Path) -> None:
    t = now_ms()
    answers = [bybit(u, with_seq=False, ts_ms=t + i) for i, u in enumerate((50, 51, 1, 2))]
    stats = run(BY, "bybit", answers, tmp_path, 2.5)
    rows = read(tmp_path, "processed")
    assert rows["seq"].to_list() == [50, 51, 1, 2]
    assert stats.venues["bybit"].seq_resets == 1
    assert stats.venues["bybit"].stale == 0


def test_kraken_books_are_stamped_on_receipt(tmp_path: Path) -> None:
    # The newest level time goes back 30 s when that level is removed; the book is still new.
    doc = json.loads((P / "kraken_depth_rest.recorded.json").read_bytes())
    (book,) = doc["result"].values()
    first = json.dumps(doc).encode()
    newest = max(book["asks"] + book["bids"], key=lambda r: r[2])
    newest[1] = "0.5" if newest[1] != "0.5" else "0.25"
    for side in ("asks", "bids"):
        for r in book[side]:
            r[2] = min(r[2], 1762820218)
    second = json.dumps(doc).encode()
    stats = run(KR, "kraken", [first, second], tmp_path, 2.5)
    rows = read(tmp_path, "processed")
    assert rows.height == 2
    assert stats.venues["kraken"].invalid.get("ts_backwards", 0) == 0
    assert (rows["ts"] == rows["ts_local"]).all()


@pytest.mark.parametrize(
    ("ids", "written", "stale", "resets"),
    [
        # A lagging replica or cache answers now and then: its old books are not news.
        ((10, 11, 10, 11, 10, 12), [10, 11, 12], 2, 0),
        # Lower ids that keep coming are a restart of the numbering, not staleness.
        ((100, 101, 5, 6, 7, 8), [100, 101, 7, 8], 2, 1),
    ],
)
def test_binance_older_snapshots_are_stale_not_new(
    tmp_path: Path, ids: tuple[int, ...], written: list[int], stale: int, resets: int
) -> None:
    stats = run(BN, "binance", [binance(i) for i in ids], tmp_path, 3.0)
    rows = read(tmp_path, "processed")
    assert rows["seq"].to_list() == written
    assert stats.venues["binance"].stale == stale
    assert stats.venues["binance"].seq_resets == resets


def test_a_venue_time_far_from_now_is_dropped_and_the_feed_goes_on(tmp_path: Path) -> None:
    t = now_ms()
    answers = [
        kucoin_ok(1, t),
        kucoin_ok(2, t * 1000),  # microseconds where milliseconds belong: the year 58 000
        kucoin_ok(3, t + 365 * 86_400_000),  # a year ahead: would freeze the feed's ts
        kucoin_ok(4, t + 4),
    ]
    stats = run(KU, "kucoin", answers, tmp_path, 2.5)
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 4]
    assert stats.venues["kucoin"].invalid["bad_ts"] == 2
    assert read(tmp_path, "raw").height == stats.venues["kucoin"].requests  # kept raw


def test_an_unforeseen_error_costs_one_answer_not_the_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = validate

    def flaky(book: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            msg = "a bug nobody foresaw"
            raise RuntimeError(msg)
        return real(book)

    monkeypatch.setattr(poller, "validate", flaky)
    stats = run(KU, "kucoin", [kucoin_ok(1), kucoin_ok(2), kucoin_ok(3)], tmp_path, 2.0)
    assert stats.venues["kucoin"].errors["internal"] == 1
    assert read(tmp_path, "processed")["seq"].to_list() == [2, 3]


def _failing_writes(monkeypatch: pytest.MonkeyPatch, fails: Any) -> list[Path]:
    """Make part writes raise ENOSPC where `fails(folder, call)`; returns the folders tried."""
    real = writer._atomic_write_part
    tried: list[Path] = []

    def write(table: Any, folder: Path, name: str) -> Path:
        tried.append(folder)
        if fails(folder, len(tried)):
            raise OSError(errno.ENOSPC, "No space left on device", str(folder))
        return real(table, folder, name)

    monkeypatch.setattr(writer, "_atomic_write_part", write)
    return tried


async def _sim_collect(out: Path, seconds: float) -> Any:
    async with SimExchange(seed=5) as sim:
        return await acollect(
            exchanges=["kucoin", "bybit"],
            symbols=["BTC-USDT"],
            hz=5.0,
            duration_s=seconds,
            out=out,
            base_urls=sim.base_urls,
            flush_every_s=0.4,
            live=False,
        )


def test_failed_part_writes_keep_their_rows_for_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first six part writes fail (a disk full for a while), the rest succeed.
    _failing_writes(monkeypatch, lambda _folder, call: call <= 6)
    stats = asyncio.run(_sim_collect(tmp_path, 3.0))
    assert stats.write_errors >= 1
    processed, raw = read(tmp_path, "processed"), read(tmp_path, "raw")
    for venue, v in stats.venues.items():
        feed = processed.filter(pl.col("exchange") == venue)
        assert feed.height == v.rows > 0, venue  # every row written, none twice
        assert feed["ts_local"].n_unique() == feed.height
        assert feed["ts"].is_sorted()
    assert raw.height == sum(v.requests for v in stats.venues.values())


def test_a_final_write_that_keeps_failing_is_an_error_and_costs_only_its_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_flush, "SHUTDOWN_RETRY_PAUSE_S", 0.0)
    _failing_writes(monkeypatch, lambda folder, _call: "raw" in folder.parts)
    with pytest.raises(CollectorError, match=r"\d+ raw rows could not be written") as e:
        asyncio.run(_sim_collect(tmp_path, 1.5))
    stats = e.value.stats
    assert stats is not None
    assert str(sum(v.requests for v in stats.venues.values())) in str(e.value)
    # The processed rows did not wait on the raw ones: all of them are on disk.
    assert read(tmp_path, "processed").height == sum(v.rows for v in stats.venues.values()) > 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("hz", 0.0),
        ("hz", -1.0),
        ("hz", math.nan),
        ("hz", math.inf),
        ("flush_every_s", 0.0),
        ("timeout_s", -2.0),
        ("duration_s", math.nan),
    ],
)
def test_rates_and_intervals_must_be_positive_and_finite(
    tmp_path: Path, option: str, value: float
) -> None:
    kwargs: dict[str, Any] = {option: value}
    with pytest.raises(ValueError, match=option.split("_")[0]):
        asyncio.run(acollect(out=tmp_path, live=False, **kwargs))
    assert not (tmp_path / "raw").exists()


def test_hz_per_venue_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"hz_per_venue\['kucoin'\]"):
        asyncio.run(acollect(out=tmp_path, live=False, hz_per_venue={"kucoin": -3.0}))
    with pytest.raises(ValueError, match="unknown exchange"):
        asyncio.run(acollect(out=tmp_path, live=False, hz_per_venue={"kucoinn": 1.0}))


def test_the_cli_reports_a_negative_rate_instead_of_hanging(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lobflow", "collect", "--hz", "-1", "--duration", "1s"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "hz" in done.stderr
    assert "must be a number > 0" in done.stderr


def _unknown() -> bytes:
    return (P / "kucoin_error_invalid_parameter.doc.json").read_bytes()  # 400100


def test_an_unknown_symbol_before_any_good_answer_stops_the_feed_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lobflow.collect"):
        stats = run(KU, "kucoin", [_unknown()], tmp_path, 1.5)
    assert stats.venues["kucoin"].requests == 1
    assert "BTC-USDT" in caplog.text
    assert "400100" in caplog.text


def test_an_unknown_symbol_after_good_answers_is_a_glitch_retried_with_back_off(
    tmp_path: Path,
) -> None:
    t = now_ms()
    answers = [kucoin_ok(1, t), _unknown(), _unknown(), kucoin_ok(2, t + 2), kucoin_ok(3, t + 3)]
    stats = run(KU, "kucoin", answers, tmp_path, 4.0)
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 2, 3]
    assert stats.venues["kucoin"].errors["unknown_symbol"] == 2


def test_an_unknown_symbol_that_persists_after_good_answers_stops_the_feed_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(poller, "UNKNOWN_SYMBOL_PERSIST_S", 0.8)
    with caplog.at_level(logging.WARNING, logger="lobflow.collect"):
        stats = run(KU, "kucoin", [kucoin_ok(1, now_ms()), _unknown()], tmp_path, 4.0)
    ku = stats.venues["kucoin"]
    assert read(tmp_path, "processed")["seq"].to_list() == [1]
    assert ku.errors["unknown_symbol"] >= 2
    stopped = [r for r in caplog.records if "this feed stops" in r.getMessage()]
    assert len(stopped) == 1
    assert "BTC-USDT" in stopped[0].getMessage()
    assert "400100" in stopped[0].getMessage()
    # It stopped: far fewer polls than 4 s of back-off would have made.
    assert ku.requests == 1 + ku.errors["unknown_symbol"]
