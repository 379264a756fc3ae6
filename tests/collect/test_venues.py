"""Every venue's real bodies parse; every documented error shape is classified."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from lobflow.collect.venues import VENUES, Book, Kind, validate

P = Path(__file__).with_name("payloads")


def body(name: str) -> bytes:
    return (P / name).read_bytes()


@pytest.mark.parametrize(
    ("venue", "file", "best_bid", "best_ask", "seq", "ts_ns"),
    [
        (
            "kucoin",
            "kucoin_orderbook_level2_20_rest.captured.json",
            85312.0,
            None,
            38167273261,
            1791139201741_000_000,
        ),
        ("kraken", "kraken_depth_rest.recorded.json", None, 105944.3, None, None),
        ("kraken", "kraken_depth_rest.doc.json", None, 30384.1, None, None),
        (
            "bybit",
            "bybit_orderbook_rest.json",
            65485.47,
            65557.7,
            1432604333,
            1716863719031_000_000,
        ),
        ("binance", "binance_depth_rest.json", 60650.0, 60650.01, 14527958487, None),
    ],
)
def test_real_bodies_parse(
    venue: str,
    file: str,
    best_bid: float | None,
    best_ask: float | None,
    seq: int | None,
    ts_ns: int | None,
) -> None:
    out = VENUES[venue].classify(200, {}, body(file))
    assert out.kind is Kind.OK, out.reason
    book = out.book
    assert book is not None
    # Bodies carry 1 (Bybit sample), 3 (Kraken doc) or more levels; the parser keeps <= 5.
    assert 1 <= len(book.bids) <= 5
    assert 1 <= len(book.asks) <= 5
    if best_bid is not None:
        assert book.bids[0][0] == best_bid
    if best_ask is not None:
        assert book.asks[0][0] == best_ask
    assert book.seq == seq
    if ts_ns is not None:
        assert book.venue_ts_ns == ts_ns
    if venue == "kraken":
        # Level timestamps (s) are each level's last change, not the book's time: the book is
        # stamped on receipt, and the newest level time is kept aside.
        doc = json.loads(body(file))
        (levels,) = doc["result"].values()
        newest = max(int(r[2]) for r in levels["bids"][:5] + levels["asks"][:5])
        assert book.venue_ts_ns is None
        assert book.extra["newest_level_s"] == newest


@pytest.mark.parametrize(
    ("venue", "status", "headers", "file", "kind", "wait"),
    [
        (
            "kucoin",
            429,
            {"gw-ratelimit-reset": "1500"},
            "kucoin_error_429000.json",
            Kind.RATE_LIMITED,
            1.5,
        ),
        ("kucoin", 200, {}, "kucoin_error_429000.json", Kind.RATE_LIMITED, 1.0),
        # A 429000 body keeps its countdown header whatever the status it comes with.
        (
            "kucoin",
            200,
            {"gw-ratelimit-reset": "2500"},
            "kucoin_error_429000.json",
            Kind.RATE_LIMITED,
            2.5,
        ),
        (
            "kucoin",
            403,
            {"gw-ratelimit-reset": "700"},
            "kucoin_error_429000.json",
            Kind.RATE_LIMITED,
            0.7,
        ),
        (
            "kucoin",
            200,
            {},
            "kucoin_error_symbol_not_exists_v2_symbols.json",
            Kind.UNKNOWN_SYMBOL,
            0,
        ),
        ("kucoin", 200, {}, "kucoin_error_invalid_parameter.doc.json", Kind.UNKNOWN_SYMBOL, 0),
        ("kraken", 200, {}, "kraken_error_too_many_requests.json", Kind.RATE_LIMITED, 5.0),
        ("kraken", 200, {}, "kraken_error_unknown_pair.json", Kind.UNKNOWN_SYMBOL, 0),
        ("kraken", 200, {}, "kraken_error_invalid_arguments.json", Kind.UNKNOWN_SYMBOL, 0),
        ("bybit", 200, {}, "bybit_error_not_supported_symbols.json", Kind.UNKNOWN_SYMBOL, 0),
        ("bybit", 403, {}, None, Kind.BANNED, 600.0),
        (
            "binance",
            418,
            {"Retry-After": "77"},
            "binance_error_418_ip_banned.json",
            Kind.BANNED,
            77.0,
        ),
        ("binance", 429, {"Retry-After": "3"}, None, Kind.RATE_LIMITED, 3.0),
        ("binance", 400, {}, "binance_error_invalid_symbol.json", Kind.UNKNOWN_SYMBOL, 0),
        ("binance", 451, {}, "binance_error_451_restricted_location.json", Kind.RETRY, 0),
        ("binance", 502, {}, None, Kind.RETRY, 0),
        ("kucoin", 200, {}, None, Kind.RETRY, 0),
    ],
)
def test_error_shapes(
    venue: str, status: int, headers: dict[str, str], file: str | None, kind: Kind, wait: float
) -> None:
    raw = body(file) if file else b"<html>gateway hiccup</html>"
    out = VENUES[venue].classify(status, headers, raw)
    assert out.kind is kind, out
    assert out.wait_s == pytest.approx(wait)


def test_kraken_throttled_carries_its_retry_time() -> None:
    import time

    until = int(time.time()) + 30
    out = VENUES["kraken"].classify(
        200, {}, json.dumps({"error": [f"EService: Throttled: {until}"]}).encode()
    )
    assert out.kind is Kind.RATE_LIMITED
    assert 25 <= out.wait_s <= 31


def test_symbols_map_per_venue() -> None:
    assert VENUES["kucoin"].symbol("btc-usdt") == "BTC-USDT"
    assert VENUES["kraken"].symbol("BTC-USDT") == "XBTUSDT"
    assert VENUES["bybit"].symbol("ETH-USDT") == "ETHUSDT"
    assert VENUES["binance"].params("BTC-USDT") == {"symbol": "BTCUSDT", "limit": "5"}
    assert VENUES["bybit"].params("BTC-USDT")["category"] == "spot"
    with pytest.raises(ValueError, match="BASE-QUOTE"):
        VENUES["kucoin"].symbol("BTCUSDT")


def test_validation() -> None:
    def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> Book:
        return Book(bids, asks, None, 1)

    ok, issues = validate(book([(10, 1), (9, 1)], [(11, 1)]))
    assert ok is not None
    assert issues == ["short", "short"]
    assert len(ok.bids) == 5
    assert ok.bids[4] == (9, 0.0)
    assert validate(book([(11, 1)] * 5, [(10, 1)] * 5))[0] is None  # crossed
    assert validate(book([(10, 1)] * 5, [(10, 1)] * 5))[1][-1] == "crossed"  # locked
    assert validate(book([(float("nan"), 1)] * 5, [(10, 1)] * 5))[1][-1] == "nan"
    assert validate(book([(9, -1)] * 5, [(10, 1)] * 5))[1][-1] == "bad_size"
    good, issues = validate(
        book(
            [(9, 1), (9.5, 1), (8, 1), (7, 1), (6, 1)],
            [(10, 1), (11, 1), (12, 1), (13, 1), (14, 1)],
        )
    )
    assert good is not None
    assert issues == ["unsorted"]


def test_bybit_answers_without_seq_are_ordered_by_their_update_id() -> None:
    doc = json.loads(body("bybit_orderbook_rest.json"))
    del doc["result"]["seq"], doc["result"]["cts"]
    out = VENUES["bybit"].classify(200, {}, json.dumps(doc).encode())
    assert out.kind is Kind.OK, out.reason
    assert out.book is not None
    assert out.book.seq == doc["result"]["u"]
    assert not out.book.extra["reset"]
    doc["result"]["u"] = 1  # Bybit's restart: the ids start over
    restarted = VENUES["bybit"].classify(200, {}, json.dumps(doc).encode()).book
    assert restarted is not None
    assert restarted.extra["reset"]


WS = P / "ws"


@pytest.mark.parametrize(
    ("venue", "rest", "ws"),
    [
        ("binance", "BTCUSDT", "btcusdt"),
        ("bybit", "BTCUSDT", "BTCUSDT"),
        ("kraken", "XBTUSDT", "BTC/USDT"),
        ("kucoin", "BTC-USDT", "BTC-USDT"),
    ],
)
def test_each_venue_spells_symbols_both_ways(venue: str, rest: str, ws: str) -> None:
    v = VENUES[venue]
    assert v.symbol("btc-usdt") == rest
    assert v.ws_symbol("BTC-USDT") == ws
    assert v.unified(rest) == "BTC-USDT"
    assert v.unified(ws) == "BTC-USDT"
    assert v.unified(v.symbol("ETH-EUR")) == "ETH-EUR"
    with pytest.raises(ValueError, match="symbol"):
        v.symbol("BTC/../USDT")
    assert v.unified("../x") is None


def test_the_registry_is_the_venue_modules_and_nothing_else_names_a_venue() -> None:
    import lobflow.collect

    assert sorted(VENUES) == ["binance", "bybit", "kraken", "kucoin"]
    assert all(v.name == name for name, v in VENUES.items())
    # The poller, the streamer and the writer use venues through the interface only: no
    # venue's name appears in them as a string (a fifth venue is one file).
    root = Path(lobflow.collect.__file__).parent
    for f in root.rglob("*.py"):
        rel = f.relative_to(root)
        if rel.parts[0] in ("venues", "sim") or rel.name.startswith("sim"):
            continue
        text = f.read_text()
        for name in VENUES:
            assert f'"{name}"' not in text, f"{rel} names {name}"


def test_kraken_checksum_matches_the_docs_worked_example() -> None:
    from lobflow.collect.venues.kraken import checksum

    doc = json.loads((WS / "kraken_ws_v2_checksum_vector.json").read_bytes())
    asks = [tuple(x) for x in doc["asks_low_to_high"]]
    bids = [tuple(x) for x in doc["bids_high_to_low"]]
    assert checksum(asks, bids, 1, 8) == doc["checksum"] == 3310070434


def test_kraken_checksum_of_the_docs_snapshot_and_update_needs_the_pairs_precision() -> None:
    from lobflow.collect.venues.kraken import checksum

    snap = json.loads((WS / "kraken_ws_v2_book_snapshot.doc.json").read_bytes(), parse_float=str)
    upd = json.loads((WS / "kraken_ws_v2_book_update.doc.json").read_bytes(), parse_float=str)
    (book,) = snap["data"]
    asks = [(a["price"], a["qty"]) for a in book["asks"]]
    bids = [(b["price"], b["qty"]) for b in book["bids"]]
    # MATIC/USD: price precision 4, qty precision 8 (0.566 counts as 0.5660).
    assert checksum(asks, bids, 4, 8) == book["checksum"] == 2439117997
    # The JSON numbers' own text (trailing zeros gone) gives another checksum.
    raw = "".join(f"{p}{q}" for p, q in [*asks, *bids]).replace(".", "")
    assert zlib.crc32(raw.encode()) != book["checksum"]
    with pytest.raises(ValueError, match="more than 3 decimals"):
        checksum(asks, bids, 3, 8)  # 0.5668 cannot be a 3-decimal price
    # The update's one bid (0.5657) replaces that level's qty; the book stays 10 deep.
    (change,) = upd["data"][0]["bids"]
    bids = [(p, change["qty"] if p == change["price"] else q) for p, q in bids]
    assert checksum(asks, bids, 4, 8) == upd["data"][0]["checksum"] == 2114181697


def test_decimal_units_are_exact_and_refuse_what_they_cannot_hold() -> None:
    from lobflow.collect.decimals import fixed_text, units

    assert units("60650.00000000", 2) == units("60650", 2) == 6_065_000
    assert units("0.1", 1) + units("0.2", 1) == units("0.3", 1)
    assert units("1e-05", 8) == 1000
    assert fixed_text(units("0.566", 4), 4) == "0.5660"
    assert units("60650.01", 8) / 10**8 == 60650.01
    for bad in ("", ".", "NaN", "inf", "1e400", "0x10", "1,5"):
        with pytest.raises(ValueError, match=r"decimal|range"):
            units(bad, 8)
    with pytest.raises(ValueError, match="more than 2 decimals"):
        units("0.125", 2)
