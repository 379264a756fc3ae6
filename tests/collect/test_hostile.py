"""Hostile or unlucky input to the REST collector: nothing lost, deleted, injected or hung."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import math
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from lobflow.collect import acollect, writer
from lobflow.collect.venues import VENUES, Book, Kind, validate
from lobflow.errors import CollectorError
from tests.collect.scripted import Script, kucoin_ok, now_ms, read

if TYPE_CHECKING:
    from pathlib import Path

KU = "/api/v1/market/orderbook/level2_20"

Answer = tuple[int, dict[str, str], bytes]


async def _collect(url: str, out: Path, seconds: float, **kw: Any) -> Any:
    return await acollect(
        exchanges=["kucoin"],
        symbols=["BTC-USDT"],
        hz=3.0,
        duration_s=seconds,
        out=out,
        base_urls={"kucoin": url},
        flush_every_s=0.5,
        live=False,
        **kw,
    )


def run(answers: list[Answer], out: Path, seconds: float) -> Any:
    """Collect KuCoin for `seconds` from a server answering `answers` in turn (then the last)."""

    async def go() -> Any:
        async with Script({KU: answers}) as url:
            return await _collect(url, out, seconds)

    return asyncio.run(go())


def ok(seq: int) -> Answer:
    return (200, {}, kucoin_ok(seq, now_ms() + seq))


def book(seq: int, bid: str, ask: str) -> bytes:
    data = {
        "time": now_ms() + seq,
        "sequence": str(seq),
        "bids": [[bid, "1"], *[[str(float(bid) - i), "1"] for i in range(1, 5)]],
        "asks": [[ask, "1"], *[[str(float(ask) + i), "1"] for i in range(1, 5)]],
    }
    return json.dumps({"code": "200000", "data": data}).encode()


# -- 1. recovery touches only the collector's own files ---------------------------------------


def test_recover_touches_only_the_collectors_own_files(tmp_path: Path) -> None:
    out = tmp_path
    part = out / "processed" / "exchange=kucoin" / "symbol=BTC-USDT" / "date=2026-01-02"
    part.mkdir(parents=True)
    raw = out / "raw" / "exchange=kucoin" / "symbol=BTC-USDT" / "date=2026-01-02"
    raw.mkdir(parents=True)
    # The user's own files, some inside the collector's folders, named like temp files or
    # listed by a marker that the collector did not write.
    theirs = [
        out / ".thesis.docx.tmp",
        out / "notes" / ".draft.tmp",
        out / "raw" / ".upload.tmp",
        part / ".mine.tmp",
        part / ".part-1-notours.parquet.tmp",
        out / "stuff" / "important.txt",
        out / "stuff" / ".compacting",
        raw / "keep.parquet",
    ]
    for f in theirs:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("the user's")
    (out / "stuff" / ".compacting").write_text("important.txt\n")
    # A marker in a partition that lists a file which is not a part of the collector's.
    (raw / ".compacting").write_text("keep.parquet\n")
    theirs.append(raw / ".compacting")
    # The collector's own leftovers: a temp part and an interrupted compaction.
    ours_tmp = part / ".part-1767225600000000000-0a1b2c3d.parquet.tmp"
    ours_tmp.write_bytes(b"partial")
    listed = [part / "part-1767225600000000001-00000001.parquet", part / "part-2-00000002.parquet"]
    for p in listed:
        p.write_bytes(b"old part")
    compacted = part / "part-1767225600000000009-compacted.parquet"
    compacted.write_bytes(b"merged")
    marker = part / ".compacting"
    marker.write_text(writer.marker_text([p.name for p in listed]))

    fixed = writer.recover(out)

    for f in theirs:
        assert f.exists(), f"recover() deleted {f}"
    assert not ours_tmp.exists()
    assert not any(p.exists() for p in listed)
    assert compacted.exists()
    assert not marker.exists()
    assert fixed == 2


# -- 2. a sequence beyond int64 costs that answer ---------------------------------------------


def test_a_sequence_beyond_int64_costs_that_answer_not_the_feed(tmp_path: Path) -> None:
    t = now_ms()
    answers: list[Answer] = [
        (200, {}, kucoin_ok(1, t)),
        (200, {}, kucoin_ok(2**63, t + 1)),
        (200, {}, kucoin_ok(-5, t + 2)),
        (200, {}, kucoin_ok(3, t + 3)),
    ]
    stats = run(answers, tmp_path, 2.5)
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 3]
    assert stats.venues["kucoin"].invalid["bad_seq"] == 2
    assert stats.write_errors == 0
    assert read(tmp_path, "raw").height == stats.venues["kucoin"].requests


# -- 4. --out must be a folder the collector can write ----------------------------------------


@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_out_that_is_not_a_writable_folder_is_refused_at_start(tmp_path: Path, where: str) -> None:
    f = tmp_path / "books.parquet"
    f.write_bytes(b"not a folder")
    out = f if where == "file" else f / "sub"

    async def go() -> Any:
        async with Script({KU: [ok(1)]}) as url:
            # A collector that ran for its whole duration before failing would time out here.
            return await asyncio.wait_for(_collect(url, out, 3600.0), 20)

    with pytest.raises(CollectorError, match=r"books\.parquet"):
        asyncio.run(go())
    assert f.read_bytes() == b"not a folder"


@pytest.mark.parametrize("kind", ["raw", "processed"])
def test_out_whose_raw_or_processed_is_a_file_is_refused_at_start(
    tmp_path: Path, kind: str
) -> None:
    # The folder itself is writable, but every flush under <out>/<kind> would fail: the
    # collector ran for its whole duration and lost that kind's rows at exit.
    out = tmp_path / "data"
    out.mkdir()
    (out / kind).write_text("the user's own file")

    async def go() -> Any:
        async with Script({KU: [ok(1)]}) as url:
            return await asyncio.wait_for(_collect(url, out, 3600.0), 20)

    with pytest.raises(CollectorError, match=rf"{kind} is a file, not a folder"):
        asyncio.run(go())
    assert (out / kind).read_text() == "the user's own file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_refused_at_start(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:

        async def go() -> Any:
            async with Script({KU: [ok(1)]}) as url:
                return await asyncio.wait_for(_collect(url, ro / "data", 3600.0), 20)

        with pytest.raises(CollectorError, match="ro"):
            asyncio.run(go())
    finally:
        ro.chmod(0o700)


def test_the_cli_refuses_an_out_file_in_one_line(tmp_path: Path) -> None:
    f = tmp_path / "books.parquet"
    f.write_bytes(b"x")
    done = subprocess.run(
        [sys.executable, "-m", "lobflow", "collect", "--out", str(f), "--duration", "1h"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "books.parquet" in lines[0]
    assert "folder" in lines[0]


# -- 5. redirects are not followed -------------------------------------------------------------


def test_redirects_are_counted_and_never_followed(tmp_path: Path) -> None:
    elsewhere = Script({KU: [(200, {}, kucoin_ok(10**9, now_ms() + 10**6))]})

    async def go() -> Any:
        async with elsewhere as other:
            away = (302, {"Location": f"{other}{KU}?symbol=BTC-USDT"}, b"")
            here = (301, {"Location": f"{KU}?symbol=BTC-USDT&x=1"}, b"")
            answers = [ok(1), away, ok(2), here, away, ok(3)]
            async with Script({KU: answers}) as url:
                return await _collect(url, tmp_path, 3.0)

    stats = asyncio.run(go())
    assert elsewhere.times[KU] == [], "a redirect was followed"
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 2, 3]
    assert stats.venues["kucoin"].redirects == 3
    assert stats.venues["kucoin"].stale == 0


# -- 6. a cap on the size of an answer ---------------------------------------------------------


def test_oversized_answers_and_gzip_bombs_are_bad_answers(tmp_path: Path) -> None:
    cap = VENUES["kucoin"].max_body_bytes
    # Valid JSON after the padding: only a cap tells these from a book.
    big = b" " * (cap + 1) + kucoin_ok(2, now_ms() + 2)
    bomb = gzip.compress(b" " * (32 * 2**20) + kucoin_ok(3, now_ms() + 3), compresslevel=9)
    assert len(bomb) < cap  # small on the wire, 32 MiB unpacked
    answers = [ok(1), (200, {}, big), (200, {"Content-Encoding": "gzip"}, bomb), ok(4)]
    stats = run(answers, tmp_path, 4.0)
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 4]
    assert stats.venues["kucoin"].errors["too_large"] == 2
    assert stats.venues["kucoin"].errors.get("internal", 0) == 0
    # Raw keeps what was read, up to the cap, not the whole body.
    longest = read(tmp_path, "raw")["body"].str.len_bytes().max()
    assert isinstance(longest, int)
    assert longest <= cap + 1


def test_a_gzip_answer_within_the_cap_is_read(tmp_path: Path) -> None:
    body = gzip.compress(kucoin_ok(7, now_ms()))
    stats = run([(200, {"Content-Encoding": "gzip"}, body)], tmp_path, 1.0)
    assert read(tmp_path, "processed")["seq"].to_list() == [7]
    assert stats.venues["kucoin"].errors.get("too_large", 0) == 0


# -- 9. symbols and exchange names are checked against the venues' alphabets -------------------


@pytest.mark.parametrize(
    "symbol",
    [
        "BTC-USDT/../../escaped",
        "../x-USDT",
        "BTC-US DT",
        "BTC-",
        "-USDT",
        "BTC-USDT-X",
        "BTC\0-USDT",
    ],
)
def test_symbols_with_path_or_foreign_characters_are_refused(tmp_path: Path, symbol: str) -> None:
    with pytest.raises(ValueError, match="symbol"):
        asyncio.run(acollect(symbols=[symbol], out=tmp_path / "out", live=False, duration_s=1))
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize("name", ["../kucoin", "kucoin/..", "KuCoin ", ""])
def test_exchange_names_outside_the_registry_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="exchange"):
        asyncio.run(acollect(exchanges=[name], out=tmp_path / "out", live=False, duration_s=1))
    assert list(tmp_path.rglob("*")) == []


def test_the_writer_refuses_a_partition_outside_its_folder(tmp_path: Path) -> None:
    w = writer.PartWriter(tmp_path, "processed")
    with pytest.raises(ValueError, match="symbol"):
        w.partition("kucoin", "../../escaped", "2026-01-01")


# -- 10. every pause is capped -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "status", "headers", "body", "kind"),
    [
        ("binance", 429, {"Retry-After": "1e400"}, b"{}", Kind.RATE_LIMITED),
        ("bybit", 429, {"Retry-After": "99999999999"}, b"{}", Kind.RATE_LIMITED),
        (
            "kucoin",
            429,
            {"gw-ratelimit-reset": "9" * 30},
            b'{"code":"429000","msg":"Too Many Requests"}',
            Kind.RATE_LIMITED,
        ),
        (
            "kraken",
            200,
            {},
            json.dumps({"error": ["EService: Throttled: 99999999999999"]}).encode(),
            Kind.RATE_LIMITED,
        ),
        ("binance", 418, {"Retry-After": "1e400"}, b"{}", Kind.BANNED),
    ],
)
def test_pauses_asked_by_a_venue_are_capped(
    venue: str, status: int, headers: dict[str, str], body: bytes, kind: Kind
) -> None:
    from lobflow.collect.venues import MAX_BAN_PAUSE_S, MAX_RATE_LIMIT_PAUSE_S

    out = VENUES[venue].classify(status, headers, body)
    assert out.kind is kind
    cap = MAX_BAN_PAUSE_S if kind is Kind.BANNED else MAX_RATE_LIMIT_PAUSE_S
    assert out.wait_s == cap
    assert "capped" in out.reason


@pytest.mark.parametrize("value", ["nan", "-inf", "-3", "soon"])
def test_a_retry_after_that_is_not_a_time_is_the_default(value: str) -> None:
    out = VENUES["binance"].classify(429, {"Retry-After": value}, b"{}")
    assert out.kind is Kind.RATE_LIMITED
    assert math.isfinite(out.wait_s)
    assert 0 <= out.wait_s <= 1.0


def test_the_poller_caps_any_pause_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    from lobflow.collect import poller
    from lobflow.collect.venues import MAX_BAN_PAUSE_S

    st = poller._VenueState(VENUES["kucoin"], "http://127.0.0.1:1", 1, 1.0, True)
    with caplog.at_level(logging.WARNING, logger="lobflow.collect"):
        st.pause(math.inf, "a venue asking for forever")
    import time

    assert st.paused_until - time.monotonic() <= MAX_BAN_PAUSE_S
    assert "capped" in caplog.text


# -- 13. a price <= 0 is a bad row -------------------------------------------------------------


def test_zero_or_negative_prices_are_bad_rows(tmp_path: Path) -> None:
    def b(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> Book:
        return Book(bids, asks, None, 1)

    assert validate(b([(-5, 1)] * 5, [(-4, 1)] * 5)) == (None, ["bad_price"])
    deep = [(10.0, 1.0), (9.0, 1.0), (0.0, 1.0), (-1.0, 1.0), (-2.0, 1.0)]
    assert validate(b(deep, [(11, 1)] * 5))[1][-1] == "bad_price"
    assert validate(b([(10, 1)] * 5, [(math.inf, 1)] * 5))[1][-1] == "nan"
    answers = [ok(1), (200, {}, book(2, "-5", "-4")), (200, {}, book(3, "0", "1")), ok(4)]
    stats = run(answers, tmp_path, 2.5)
    assert read(tmp_path, "processed")["seq"].to_list() == [1, 4]
    assert stats.venues["kucoin"].invalid["bad_price"] == 2


# -- 15. deep JSON backs off; an invalid answer does not mark its sequence as seen -------------


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_deeply_nested_json_is_a_bad_answer(venue: str) -> None:
    nested = b"[" * 20_000 + b"]" * 20_000  # within the size cap
    out = VENUES[venue].classify(200, {}, nested)
    assert out.kind is Kind.RETRY
    assert "unparseable" in out.reason
    for weird in (b"[]", b"3", b'"x"', b"null", b'{"data": []}'):
        assert VENUES[venue].classify(200, {}, weird).kind is not Kind.OK


def test_deeply_nested_json_backs_off_instead_of_polling_again_at_once(tmp_path: Path) -> None:
    nested = b"[" * 20_000 + b"]" * 20_000  # within the size cap
    stats = run([ok(1), (200, {}, nested)], tmp_path, 3.0)
    ku = stats.venues["kucoin"]
    assert ku.errors.get("internal", 0) == 0
    assert ku.errors["retry"] >= 1
    # Backed off: far fewer polls than the 3 Hz grid's ~9 in 3 s.
    assert ku.paused_polls >= 1


def test_an_invalid_answer_does_not_mark_its_sequence_as_seen(tmp_path: Path) -> None:
    answers: list[Answer] = [
        (200, {}, book(5, "101", "100")),  # crossed: not written, sequence 5 not seen
        (200, {}, book(5, "100", "101")),  # the same sequence, valid: news
        (200, {}, book(6, "-1", "101")),
        (200, {}, book(6, "100", "101.5")),
    ]
    stats = run(answers, tmp_path, 2.5)
    assert read(tmp_path, "processed")["seq"].to_list() == [5, 6]
    assert stats.venues["kucoin"].duplicates >= 1  # the last answer repeated
    assert stats.venues["kucoin"].invalid["crossed"] == 1
