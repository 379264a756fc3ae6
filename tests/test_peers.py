"""lobflow's taker backtest beside hftbacktest's on the same books: agreement, and why not.

Skipped only where the optional ``peers`` extra (hftbacktest, numba) is not installed;
`make test` installs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

from lobflow import backtest
from tests.io.test_hftbacktest_io import books

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

pytest.importorskip("hftbacktest")
from lobflow.peers import agreement, grid, run_taker


def persistent(n: int, seed: int = 1) -> NDArray[np.int8]:
    """Signals that hold for ~50 snapshots, as a thresholded model's do."""
    rng = np.random.default_rng(seed)
    state = np.cumsum(rng.random(n) < 0.02) % 3
    return np.where(state == 0, 0, np.where(state == 1, 1, -1)).astype(np.int8)


@pytest.fixture(scope="module")
def feed() -> pl.DataFrame:
    return books(3_000, seed=7)


@pytest.mark.parametrize(
    ("md_ms", "order_ms", "on_zero"),
    [(5, 10, "hold"), (0, 0, "hold"), (1, 250, "flatten"), (40, 3, "flatten")],
)
def test_the_same_fills_with_lobflows_timing(
    feed: pl.DataFrame, md_ms: int, order_ms: int, on_zero: str
) -> None:
    signals = persistent(feed.height)
    # 0.001 is the feed's smallest size: every order fits in the best level.
    cfg = backtest.BacktestConfig(
        order_size=0.001,
        max_position=0.001,
        md_latency_ns=md_ms * 1_000_000,
        order_latency_ns=order_ms * 1_000_000,
        taker_fee_bps=2.5,
        on_zero=on_zero,  # type: ignore[arg-type]
    )
    mine = backtest.run(feed, signals, cfg)
    peer = run_taker(feed, signals, cfg, timing="next")
    a = agreement(mine, peer, feed)
    assert a.lobflow.fills > 20
    assert a.differences() == []
    assert a.same_snapshot == a.lobflow.fills
    assert a.walked == 0
    assert peer.fills["fee"].sum() == pytest.approx(mine.fills["fee"].sum(), rel=1e-12)
    assert peer.elapsed_s > 0


def test_hftbacktests_own_timing_meets_the_book_in_force(feed: pl.DataFrame) -> None:
    signals = persistent(feed.height, seed=2)
    cfg = backtest.BacktestConfig(order_size=0.001, max_position=0.001)
    mine = backtest.run(feed, signals, cfg)
    peer = run_taker(feed, signals, cfg, timing="in_force")
    a = agreement(mine, peer, feed)
    # Same orders, same quantities: only the book each one meets differs.
    assert a.lobflow.fills == a.peer.fills
    assert a.lobflow.buy_volume == pytest.approx(a.peer.buy_volume, rel=1e-12)
    assert a.lobflow.position == a.peer.position
    assert any(d.startswith(("buy_price", "sell_price")) for d in a.differences())
    # Each of hftbacktest's fills is at the best price of the last snapshot at or before it.
    ts = feed["ts"].to_numpy()
    fills = peer.fills
    rows = np.searchsorted(ts, fills["ts"].to_numpy(), side="right") - 1
    best = np.where(
        fills["qty"].to_numpy() > 0,
        feed["ask_px_0"].to_numpy()[rows],
        feed["bid_px_0"].to_numpy()[rows],
    )
    assert np.allclose(fills["price"].to_numpy(), best, rtol=1e-12, atol=0)


def ladder(n: int) -> pl.DataFrame:
    """Books with one unit at each of five levels a tick apart, the mid walking."""
    rng = np.random.default_rng(3)
    mid = 1000 + np.cumsum(rng.integers(-1, 2, n))
    cols: dict[str, object] = {"ts": 1_700_000_000_000_000_000 + np.arange(n) * 20_000_000}
    for k in range(5):
        cols[f"bid_px_{k}"] = (mid - 1 - k).astype(float)
        cols[f"bid_sz_{k}"] = np.ones(n)
        cols[f"ask_px_{k}"] = (mid + 1 + k).astype(float)
        cols[f"ask_sz_{k}"] = np.ones(n)
    return pl.DataFrame(cols)


def test_an_order_beyond_the_best_level_differs_by_the_walk_alone() -> None:
    feed = ladder(2_000)
    signals = persistent(feed.height, seed=4)
    cfg = backtest.BacktestConfig(order_size=2.5, max_position=2.5, taker_fee_bps=0.0)
    mine = backtest.run(feed, signals, cfg)
    peer = run_taker(feed, signals, cfg)
    a = agreement(mine, peer, feed)
    assert a.walked == a.lobflow.fills > 10
    assert a.same_snapshot == a.lobflow.fills
    # hftbacktest's no-partial-fill exchange fills the whole size at the best level; lobflow
    # walks the five levels. The PnL differs by exactly the walk's cost over the best price.
    rows = mine.fills["row"].to_numpy()
    qty = mine.fills["qty"].to_numpy()
    best = np.where(qty > 0, feed["ask_px_0"].to_numpy()[rows], feed["bid_px_0"].to_numpy()[rows])
    assert np.array_equal(peer.fills["price"].to_numpy(), best)
    walk_cost = float((qty * (mine.fills["price"].to_numpy() - best)).sum())
    assert walk_cost > 0
    assert a.peer.pnl - a.lobflow.pnl == pytest.approx(walk_cost, rel=1e-9)


def test_agreement_on_the_real_binance_day(shared_data: Path) -> None:
    day = pl.read_parquet(shared_data / "binance_usdm_BTCUSDT_20240808.parquet")
    signals = persistent(day.height)
    # 0.001 BTC is the venue's lot: no order is larger than a best level.
    cfg = backtest.BacktestConfig(order_size=0.001, max_position=0.001, taker_fee_bps=1.0)
    a = agreement(backtest.run(day, signals, cfg), run_taker(day, signals, cfg), day)
    assert a.lobflow.fills > 50
    assert a.differences() == []


def test_grid_is_the_step_of_the_decimals() -> None:
    assert grid(np.array([61234.5, 61234.7, 61235.0, np.nan])) == pytest.approx(0.1)
    assert grid(np.array([0.000_012_34, 0.000_012_36])) == pytest.approx(0.000_000_02)
    assert grid(np.array([1.0, 3.0, 9.0])) == 1.0
