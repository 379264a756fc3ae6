"""Each venue's WebSocket book rules on the venues' own frames (tests/collect/payloads/ws)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lobflow.collect.stats import StreamStats
from lobflow.collect.venues import VENUES
from lobflow.collect.venues.kraken import checksum
from lobflow.collect.ws.feeds import Fetch, Reconnect, Send, VenueStream

WS = Path(__file__).with_name("payloads") / "ws"
MS = 1_000_000


def rfc3339_ns(text: str) -> int:
    """``2023-10-06T17:35:55.440295Z`` in ns (microseconds, as Kraken sends them)."""
    return (
        int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9
        + int(text[20:26]) * 1000
    )


class Run:
    """A venue's book machine fed by hand, with the rows it writes."""

    def __init__(self, venue: str, symbols: list[str]) -> None:
        self.rows: list[tuple[str, tuple[Any, ...]]] = []
        self.stats = StreamStats()
        self.m: VenueStream = VENUES[venue].stream(symbols, self._sink, self.stats)

    def _sink(self, symbol: str, ts: int, row: tuple[object, ...]) -> None:
        assert row[0] == ts
        self.rows.append((symbol, row))

    def frame(self, doc: object, ts_local: int, conn: int = 1) -> list[Any]:
        return self.m.frame(conn, doc if isinstance(doc, str) else json.dumps(doc), ts_local)


def bids(row: tuple[Any, ...]) -> list[tuple[float, float]]:
    return list(zip(row[1:6], row[6:11], strict=True))


def asks(row: tuple[Any, ...]) -> list[tuple[float, float]]:
    return list(zip(row[11:16], row[16:21], strict=True))


# -- Kraken ------------------------------------------------------------------------------------


def _kraken_ready() -> Run:
    r = Run("kraken", ["MATIC-USD"])
    actions = r.m.open(1, 0)
    (fetch,) = actions
    assert isinstance(fetch, Fetch)
    assert fetch.what == "pairs"
    assert dict(fetch.params) == {"pair": "MATICUSD"}
    # An AssetPairs answer in Kraken's format, with MATIC/USD's precisions (4 and 8).
    pairs = {
        "error": [],
        "result": {
            "MATICUSD": {
                "altname": "MATICUSD",
                "wsname": "MATIC/USD",
                "pair_decimals": 4,
                "lot_decimals": 8,
            }
        },
    }
    (sub,) = r.m.rest(1, "pairs", None, 200, json.dumps(pairs), 0)
    assert isinstance(sub, Send)
    assert json.loads(sub.text)["params"] == {
        "channel": "book",
        "symbol": ["MATIC/USD"],
        "depth": 10,
        "snapshot": True,
    }
    return r


def test_kraken_docs_snapshot_and_update_build_a_checked_book() -> None:
    r = _kraken_ready()
    snap = (WS / "kraken_ws_v2_book_snapshot.doc.json").read_text()
    t = rfc3339_ns("2023-10-06T17:35:55.440295Z")
    assert r.frame(snap, t + MS) == []
    ((symbol, row),) = r.rows
    assert symbol == "MATIC-USD"
    assert row[0] == t
    assert bids(row) == [
        (0.5666, 4831.75496356),
        (0.5665, 6658.22734739),
        (0.5664, 18724.91513344),
        (0.5663, 11563.92544914),
        (0.5662, 14006.65365711),
    ]
    assert asks(row) == [
        (0.5668, 4410.79769741),
        (0.5669, 4655.40412487),
        (0.567, 49844.89424998),
        (0.5671, 24306.41678),
        (0.5672, 29783.25223475),
    ]
    assert row[21:] == (t + MS, None)
    # The docs' update changes the 10th bid: the checksum holds, the top 5 does not move.
    assert r.frame((WS / "kraken_ws_v2_book_update.doc.json").read_text(), t + 2 * MS) == []
    feed = r.stats.feeds["MATIC-USD"]
    assert feed.gaps == feed.checksum_mismatches == 0
    assert len(r.rows) == 1


def test_kraken_checksum_mismatch_is_a_gap_resubscribed_and_silent_until_the_snapshot() -> None:
    r = _kraken_ready()
    snap = json.loads((WS / "kraken_ws_v2_book_snapshot.doc.json").read_text(), parse_float=str)
    t = rfc3339_ns(snap["data"][0]["timestamp"])
    r.frame(json.dumps(snap).replace('"', '"'), t)  # prices as strings parse the same
    entry = snap["data"][0]
    # A new best bid, with the checksum of the resulting book, then one with a wrong checksum.
    new_bids = [("0.5667", "10.5"), *[(b["price"], b["qty"]) for b in entry["bids"]][:9]]
    asks_ = [(a["price"], a["qty"]) for a in entry["asks"]]
    good = {
        "channel": "book",
        "type": "update",
        "data": [
            {
                "symbol": "MATIC/USD",
                "bids": [{"price": 0.5667, "qty": 10.5}],
                "asks": [],
                "checksum": checksum(asks_, new_bids, 4, 8),
                "timestamp": entry["timestamp"],
            }
        ],
    }
    r.frame(good, t + MS)
    assert len(r.rows) == 2
    assert bids(r.rows[-1][1])[0] == (0.5667, 10.5)
    bad = json.loads(json.dumps(good))
    bad["data"][0]["bids"] = [{"price": 0.5667, "qty": 11}]
    bad["data"][0]["checksum"] ^= 0x5A5A5A5A
    actions = r.frame(bad, t + 2 * MS)
    assert [json.loads(a.text)["method"] for a in actions] == ["unsubscribe", "subscribe"]
    feed = r.stats.feeds["MATIC-USD"]
    assert (feed.gaps, feed.checksum_mismatches, feed.resyncs) == (1, 1, 1)
    # Updates of the old subscription write nothing; the fresh snapshot syncs again.
    r.frame(good, t + 3 * MS)
    assert len(r.rows) == 2
    r.frame(snap, t + 4 * MS)
    assert len(r.rows) == 3
    assert bids(r.rows[-1][1])[0] == (0.5666, 4831.75496356)


def test_kraken_unknown_pair_stops_that_feed_with_the_venues_message() -> None:
    r = Run("kraken", ["BTC-USD", "FOO-XYZ"])
    r.m.open(1, 0)
    err = json.dumps({"error": ["EQuery:Unknown asset pair"]})
    fetches = r.m.rest(1, "pairs", None, 200, err, 0)
    assert sorted(dict(f.params)["pair"] for f in fetches if isinstance(f, Fetch)) == [
        "FOOXYZ",
        "XBTUSD",
    ]
    r.m.rest(1, "pairs", "FOO-XYZ", 200, err, 0)
    assert "Unknown asset pair" in r.stats.feeds["FOO-XYZ"].stopped
    assert not r.stats.feeds["BTC-USD"].stopped


# -- Bybit -------------------------------------------------------------------------------------


def _bybit_snapshot(u: int, ts: int, best: str = "1") -> dict[str, Any]:
    # The docs' snapshot example elides its levels ("..."): these continue its delta's book.
    return {
        "topic": "orderbook.50.BTCUSDT",
        "type": "snapshot",
        "ts": ts,
        "data": {
            "s": "BTCUSDT",
            "b": [
                ["30247.20", best],
                ["30245.40", "1"],
                ["30242.10", "1"],
                ["30240.30", "1"],
                ["30240.00", "1"],
                ["30239.00", "1"],
            ],
            "a": [
                ["30248.70", "1"],
                ["30249.30", "1"],
                ["30249.50", "1"],
                ["30249.60", "1"],
                ["30251.90", "1"],
                ["30252.20", "1"],
            ],
            "u": u,
            "seq": 1,
        },
        "cts": ts,
    }


def test_bybit_docs_delta_applies_on_its_snapshot_and_a_jump_in_u_resubscribes() -> None:
    r = Run("bybit", ["BTC-USDT"])
    (sub,) = r.m.open(1, 0)
    assert isinstance(sub, Send)
    assert json.loads(sub.text)["args"] == ["orderbook.50.BTCUSDT"]
    delta = json.loads((WS / "bybit_ws_orderbook_delta.json").read_text())
    t = delta["ts"] * MS
    r.frame(_bybit_snapshot(delta["data"]["u"] - 1, delta["ts"] - 5), t)
    r.frame(delta, t + MS)
    assert len(r.rows) == 2
    row = r.rows[-1][1]
    assert bids(row) == [
        (30247.2, 30.028),
        (30245.4, 0.224),
        (30242.1, 1.593),
        (30240.3, 1.305),
        (30239.0, 1.0),
    ]  # 30240.00 deleted
    assert asks(row) == [
        (30249.3, 0.892),
        (30249.5, 1.778),
        (30251.9, 2.947),
        (30252.2, 0.659),
        (30252.5, 4.591),
    ]  # 30248.70 and 30249.60 deleted
    assert row[0] == delta["ts"] * MS
    assert row[-1] == delta["data"]["u"]
    # A stale delta is ignored; one that skips an id is a gap: unsubscribe and subscribe.
    r.frame(delta, t + 2 * MS)
    assert r.stats.feeds["BTC-USDT"].stale == 1
    jump = json.loads(json.dumps(delta))
    jump["data"]["u"] += 2
    actions = r.frame(jump, t + 3 * MS)
    assert [json.loads(a.text)["op"] for a in actions] == ["unsubscribe", "subscribe"]
    later = json.loads(json.dumps(jump))
    later["data"]["u"] += 1
    r.frame(later, t + 4 * MS)
    assert len(r.rows) == 2  # nothing between the gap and the new snapshot
    r.frame(_bybit_snapshot(later["data"]["u"] + 1, delta["ts"] + 5), t + 5 * MS)
    assert r.rows[-1][1][-1] == later["data"]["u"] + 1
    # u == 1 (a Bybit restart) comes as a snapshot: the book starts over, no gap.
    r.frame(_bybit_snapshot(1, delta["ts"] + 6, best="2"), t + 6 * MS)
    assert r.rows[-1][1][-1] == 1
    assert r.stats.feeds["BTC-USDT"].gaps == 1


def test_bybit_subscribe_refused_stops_the_feed() -> None:
    r = Run("bybit", ["FOO-XYZ"])
    r.m.open(1, 0)
    r.frame(
        {
            "success": False,
            "ret_msg": "Invalid symbol :[orderbook.50.FOOXYZ]",
            "conn_id": "x",
            "op": "subscribe",
        },
        0,
    )
    assert "Invalid symbol" in r.stats.feeds["FOO-XYZ"].stopped


# -- KuCoin ------------------------------------------------------------------------------------


def test_kucoin_docs_depth5_message_is_a_whole_book() -> None:
    r = Run("kucoin", ["BTC-USDT"])
    bullet = (WS / "kucoin_bullet_public_rest.doc.json").read_text()
    r.m.rest(1, "bullet", None, 200, bullet, 0)
    url = r.m.ws_endpoint(1, None)
    assert url is not None
    assert url.startswith("wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZDX")
    assert "connectId=" in url
    assert r.m.ws_endpoint(1, "ws://127.0.0.1:9") is not None
    assert str(r.m.ws_endpoint(1, "ws://127.0.0.1:9")).startswith("ws://127.0.0.1:9/?token=")
    assert r.m.ping_every_s == 18.0
    assert r.m.silence_s == 28.0
    r.m.open(1, 0)
    (sub,) = r.frame((WS / "kucoin_ws_welcome.doc.json").read_text(), 0)
    assert json.loads(sub.text)["topic"] == "/spotMarket/level2Depth5:BTC-USDT"
    msg = json.loads((WS / "kucoin_ws_level2depth5.doc.json").read_text())
    t = msg["data"]["timestamp"] * MS
    r.frame(msg, t + MS)
    ((_, row),) = r.rows
    assert bids(row) == [
        (67996.6, 0.37969491),
        (67995.3, 0.20779746),
        (67994.5, 0.00047785),
        (67993.4, 0.405),
        (67993.3, 0.13528566),
    ]
    assert asks(row) == [
        (67996.7, 1.14213262),
        (67996.8, 0.21748212),
        (67996.9, 0.1503747),
        (67997.0, 0.11446863),
        (67997.1, 0.14842782),
    ]
    assert row[0] == t
    assert row[-1] is None
    # Sides in the wrong order are sorted (the legacy docs list Depth50 asks high to low).
    flipped = json.loads(json.dumps(msg))
    flipped["data"]["asks"].reverse()
    flipped["data"]["timestamp"] += 1
    r.frame(flipped, t + 2 * MS)
    assert len(r.rows) == 1  # the same book: no new row
    older = json.loads(json.dumps(msg))
    older["data"]["timestamp"] -= 5
    r.frame(older, t + 3 * MS)
    assert r.stats.feeds["BTC-USDT"].stale == 1
    (again,) = r.frame((WS / "kucoin_ws_error_token_expired.json").read_text(), t)
    assert isinstance(again, Reconnect)
    assert "token is expired" in again.why


# -- Binance -----------------------------------------------------------------------------------


def _binance_event() -> dict[str, Any]:
    text = (WS / "binance_ws_diff_depth.doc.jsonc").read_text()
    doc: dict[str, Any] = json.loads(re.sub(r"//[^\n]*", "", text))
    return doc


def _ev(first: int, last: int, e_ms: int, b: list[list[str]], a: list[list[str]]) -> str:
    data = {"e": "depthUpdate", "E": e_ms, "s": "BNBBTC", "U": first, "u": last, "b": b, "a": a}
    return json.dumps({"stream": "bnbbtc@depth@100ms", "data": data})


def test_binance_docs_procedure_buffer_snapshot_refetch_apply_stale_and_gap() -> None:
    r = Run("binance", ["BNB-BTC", "FOO-XYZ"])
    probes = r.m.open(1, 0)
    assert {dict(p.params)["symbol"] for p in probes if isinstance(p, Fetch)} == {
        "BNBBTC",
        "FOOXYZ",
    }
    r.m.rest(1, "probe", "FOO-XYZ", 400, '{"code":-1121,"msg":"Invalid symbol."}', 0)
    assert "-1121" in r.stats.feeds["FOO-XYZ"].stopped
    doc = _binance_event()  # U 157, u 160, E 1672515782136
    t = doc["E"] * MS
    (fetch,) = r.frame({"stream": "bnbbtc@depth@100ms", "data": doc}, t)
    assert isinstance(fetch, Fetch)
    assert dict(fetch.params) == {"symbol": "BNBBTC", "limit": "1000"}
    snap = {"lastUpdateId": 150, "bids": [["0.0023", "5"]], "asks": [["0.0027", "7"]]}
    # lastUpdateId 150 < U 157: the snapshot is older than the stream: fetch again.
    (again,) = r.m.rest(1, "snapshot", "BNB-BTC", 200, json.dumps(snap), t)
    assert isinstance(again, Fetch)
    assert r.rows == []
    snap["lastUpdateId"] = 158
    assert r.m.rest(1, "snapshot", "BNB-BTC", 200, json.dumps(snap), t) == []
    ((_, row),) = r.rows
    assert bids(row)[:2] == [(0.0024, 10.0), (0.0023, 5.0)]
    assert asks(row)[:2] == [(0.0026, 100.0), (0.0027, 7.0)]
    assert row[0] == t
    assert row[-1] == 160
    r.frame(_ev(161, 162, doc["E"] + 1, [["0.0024", "0"]], []), t + MS)
    assert bids(r.rows[-1][1])[0] == (0.0023, 5.0)
    r.frame(_ev(159, 161, doc["E"] + 2, [["0.0025", "1"]], []), t + 2 * MS)
    assert r.stats.feeds["BNB-BTC"].stale == 1
    # U above the book's id + 1: a gap; nothing written until the next snapshot lines up.
    (refetch,) = r.frame(_ev(170, 171, doc["E"] + 3, [["0.0025", "2"]], []), t + 3 * MS)
    assert isinstance(refetch, Fetch)
    r.frame(_ev(172, 173, doc["E"] + 4, [["0.0025", "3"]], []), t + 4 * MS)
    assert len(r.rows) == 2
    snap2 = {
        "lastUpdateId": 171,
        "bids": [["0.0023", "5"], ["0.0025", "2"]],
        "asks": [["0.0027", "7"]],
    }
    r.m.rest(1, "snapshot", "BNB-BTC", 200, json.dumps(snap2), t + 5 * MS)
    assert len(r.rows) == 3
    assert bids(r.rows[-1][1])[0] == (0.0025, 3.0)
    assert r.rows[-1][1][-1] == 173
    feed = r.stats.feeds["BNB-BTC"]
    assert (feed.gaps, feed.resyncs) == (1, 1)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_malformed_frames_are_counted_never_fatal(venue: str) -> None:
    r = Run(venue, ["BTC-USDT"])
    r.m.open(1, 0)
    for text in ("{not json", "[]", "3", '"x"', "null", "[" * 5000 + "]" * 5000, '{"data": 1}'):
        r.m.frame(1, text, 0)
    assert r.stats.malformed + r.stats.total("malformed") >= 1
    assert r.rows == []
