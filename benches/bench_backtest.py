"""Backtest throughput (taker, Rust loop) against a vectorised fill-at-mid NumPy backtest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from lobflow import backtest

if TYPE_CHECKING:
    import polars as pl


def numpy_mid_backtest(df: pl.DataFrame, signals: np.ndarray) -> float:
    """What a user writes first: hold the signal, fill at the mid, no latency, no book walk."""
    mid = ((df["bid_px_0"] + df["ask_px_0"]) / 2).to_numpy()
    pos = signals.astype(np.float64)
    return float(np.sum(pos[:-1] * np.diff(mid)))


@pytest.fixture(scope="module")
def signals(big_feed: pl.DataFrame) -> np.ndarray:
    rng = np.random.default_rng(1)
    # Persistent signals (change ~every 50 snapshots), like a thresholded model's.
    flips = rng.random(big_feed.height) < 0.02
    return np.where(
        np.cumsum(flips) % 3 == 0, 0, np.where(np.cumsum(flips) % 3 == 1, 1, -1)
    ).astype(np.int8)


@pytest.mark.benchmark(group="backtest")
def test_backtest_taker(benchmark: Any, big_feed: pl.DataFrame, signals: np.ndarray) -> None:
    cfg = backtest.BacktestConfig(taker_fee_bps=1.0)
    res = benchmark.pedantic(backtest.run, args=(big_feed, signals, cfg), rounds=3, iterations=1)
    benchmark.extra_info["rows"] = big_feed.height
    benchmark.extra_info["snapshots_per_s"] = big_feed.height / benchmark.stats.stats.median
    benchmark.extra_info["fills"] = res.fills.height


@pytest.mark.benchmark(group="backtest")
def test_numpy_fill_at_mid_baseline(
    benchmark: Any, big_feed: pl.DataFrame, signals: np.ndarray
) -> None:
    benchmark.pedantic(numpy_mid_backtest, args=(big_feed, signals), rounds=3, iterations=1)
    benchmark.extra_info["snapshots_per_s"] = big_feed.height / benchmark.stats.stats.median
