"""The live view shows what the run holds: the book's level 0, the score, the collector's counts."""

from __future__ import annotations

from rich.console import Console

import lobflow
from lobflow.collect.stats import StreamCollectStats, StreamStats
from lobflow.live.bridge import Bridge
from lobflow.live.view import Rates, live_table

W = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)  # the spread


def render(table: object) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_the_table_shows_each_feeds_book_score_signal_and_counts() -> None:
    collect = StreamCollectStats()
    collect.streams["bybit"] = StreamStats()
    feed = collect.streams["bybit"].feed("BTC-USDT")
    feed.gaps, feed.resyncs, feed.reconnects = 2, 3, 4
    feeds = [("bybit", "BTC-USDT"), ("kraken", "ETH-USDT")]
    with lobflow.Engine(W, cores=(0, 1)).session(feeds) as s:
        bridge = Bridge(s)
        row = (1_000, *(65000.5,) * 5, *(0.25,) * 5, *(65001.0,) * 5, *(1.5,) * 5, 2_000, 7)
        bridge.on_row("bybit", "BTC-USDT", row, s.now_ns())
        rates = Rates()
        rates.update(bridge.feeds)
    bridge.drain()
    text = render(live_table(bridge, collect, rates, 12.0))
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 13 and cells[1].endswith("USDT"):
            rows[(cells[0], cells[1])] = cells
    btc = rows[("bybit", "BTC-USDT")]
    assert btc[2:4] == ["65000.5 x 0.25", "65001 x 1.5"]
    assert btc[5] == "1"  # rows
    assert btc[6:8] == ["+0.50000", "+1 buy"]  # the spread's weight: the score is the spread
    assert btc[8:12] == ["0", "2", "3", "4"]  # skipped, gaps, resyncs, reconnects
    # A feed without rows yet shows dashes, not zeros or NaN.
    eth = rows[("kraken", "ETH-USDT")]
    assert eth[2:4] == ["-", "-"]
    assert eth[6:8] == ["-", "-"]
    assert eth[9:12] == ["-", "-", "-"]  # the collector has not made it yet
    assert "lobflow live: 2 feeds, 12 s" in text
    assert "session: 1 books" in " ".join(text.split())
