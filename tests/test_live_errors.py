"""`lobflow live` given bad input: one clear error before anything starts, or a counted skip."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

import lobflow
from lobflow.collect.writer import PartWriter
from lobflow.live.bridge import Bridge

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import Result

W = lobflow.Weights((10, 20, 50), 0.05, 0.0, (0.0, 0.0, 0.0, 0.0, 1.0) + (0.0,) * 13)
BID = (100.0, 99.9, 99.8, 99.7, 99.6)
ASK = (100.1, 100.2, 100.3, 100.4, 100.5)
SIZES = (1.0, 2.0, 3.0, 4.0, 5.0)


def cli(*args: str) -> Result:
    from typer.testing import CliRunner

    from lobflow.cli import app

    return CliRunner().invoke(app, ["live", *args])


def row(ts: int, bid: tuple[float, ...] = BID, ask: tuple[float, ...] = ASK) -> tuple[object, ...]:
    """A processed row: ts, the 20 book columns, ts_local, seq."""
    return (ts, *bid, *SIZES, *ask, *SIZES, 1_700_000_000_000_000_000 + ts, ts)


def test_weights_whose_windows_the_session_cannot_honour_are_refused_at_start(
    tmp_path: Path,
) -> None:
    w = lobflow.Weights((10, 20, 7_200_000), 0.05, 0.0, (0.0,) * 18).save(tmp_path / "w.txt")
    res = cli("--weights", str(w), "--exchange", "bybit", "--out", str(tmp_path / "out"))
    assert res.exit_code == 1
    assert "longest window is 7200000 ms" in res.output
    assert "max_window_ms" in res.output
    # Nothing started, so nothing was recorded.
    assert not any((tmp_path / "out").rglob("*.parquet"))


def test_a_malformed_weights_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "w.txt"
    bad.write_text("windows_ms 10 20\n")
    res = cli("--weights", str(bad))
    assert res.exit_code == 1
    assert str(bad) in res.output.replace("\n", "")


def test_an_unknown_exchange_and_a_bad_option_are_errors_before_any_connection(
    tmp_path: Path,
) -> None:
    w = W.save(tmp_path / "w.txt")
    res = cli("--weights", str(w), "--exchange", "bybit,nasdaq")
    assert res.exit_code == 1
    assert "unknown exchange(s) ['nasdaq']" in res.output
    res = cli("--weights", str(w), "--flush-every", "0s")
    assert res.exit_code == 2
    assert "must be positive" in res.output
    res = cli("--weights", str(w), "--cores", "1")
    assert res.exit_code == 2


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    w = W.save(tmp_path / "w.txt")
    (tmp_path / "out").write_text("not a folder")
    res = cli("--weights", str(w), "--out", str(tmp_path / "out"))
    assert res.exit_code == 1
    assert "is a file, not a folder" in res.output


def test_crossed_and_nan_books_are_counted_skips_never_a_score(tmp_path: Path) -> None:
    writer = PartWriter(tmp_path, "signals")
    with lobflow.Engine(W, cores=(0, 1)).session([("bybit", "BTC-USDT")]) as s:
        bridge = Bridge(s, writer)
        bridge.on_row("bybit", "BTC-USDT", row(1_000), s.now_ns())
        bridge.on_row("bybit", "BTC-USDT", row(2_000, ask=(99.9, *ASK[1:])), s.now_ns())  # locked
        bridge.on_row("bybit", "BTC-USDT", row(3_000, ask=(99.0, *ASK[1:])), s.now_ns())  # crossed
        bridge.on_row("bybit", "BTC-USDT", row(4_000, bid=(math.nan, *BID[1:])), s.now_ns())
        bridge.on_row("bybit", "BTC-USDT", row(5_000), s.now_ns())
    bridge.drain()
    writer.flush()
    feed = bridge.feeds[0]
    assert (feed.rows, feed.signals, feed.skipped, feed.refused) == (5, 5, 3, 0)
    st = s.stats().feeds[0]
    assert st.skipped == 3
    assert {why for _, why, _ in st.skip_reasons}
    got = pl.read_parquet(tmp_path / "signals", hive_partitioning=False).sort("ts")
    scores = got["score"].to_list()
    assert [math.isnan(x) for x in scores] == [False, True, True, True, False]
    assert got["signal"].to_list()[1:4] == [0, 0, 0]
    # The valid books' scores: the same as the engine over the valid books alone.
    good = pl.DataFrame(
        [row(1_000)[:21], row(5_000)[:21]], schema=list(lobflow.CONTRACT_COLUMNS), orient="row"
    )
    ref = lobflow.Engine(W).run(good).scores
    assert np.array_equal(np.asarray(ref), np.array([scores[0], scores[4]]))
    assert feed.last_score == scores[4]


def test_a_row_after_close_is_a_counted_refusal_not_a_crash() -> None:
    with lobflow.Engine(W, cores=(0, 1)).session([("bybit", "BTC-USDT")]) as s:
        bridge = Bridge(s)
        bridge.on_row("bybit", "BTC-USDT", row(1_000), s.now_ns())
    bridge.on_row("bybit", "BTC-USDT", row(2_000), s.now_ns())  # the session is closed
    bridge.on_row("kraken", "ETH-USDT", row(2_000), s.now_ns())  # a feed it cannot add now
    bridge.drain()
    feed = bridge.feeds[0]
    assert (feed.rows, feed.signals, feed.refused) == (1, 1, 1)
    assert bridge.refused_unknown == 1
    assert bridge.error is None
