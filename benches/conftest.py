"""Shared generated feeds for the benchmarks (built once per session, outside the timings)."""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pytest

#: Benchmarks run on >= 10^7 rows unless LOBFLOW_BENCH_ROWS says otherwise (for smoke runs).
ROWS = int(os.environ.get("LOBFLOW_BENCH_ROWS", "10000000"))


def generated_feed(n: int, seed: int = 0) -> pl.DataFrame:
    """A 0.01-grid BTC-like feed: random-walk mid, lognormal sizes, 0-5 ms spacing."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(0, 5_000_000, n))
    mid = 9_000_000 + np.cumsum(rng.integers(-1, 2, n))
    cols: dict[str, np.ndarray] = {"ts": ts.astype(np.int64)}
    for k in range(5):
        cols[f"bid_px_{k}"] = (mid - 1 - k) / 100
        cols[f"bid_sz_{k}"] = np.round(rng.lognormal(0, 1, n), 4)
        cols[f"ask_px_{k}"] = (mid + 1 + k) / 100
        cols[f"ask_sz_{k}"] = np.round(rng.lognormal(0, 1, n), 4)
    return pl.DataFrame(cols)


@pytest.fixture(scope="session")
def big_feed() -> pl.DataFrame:
    return generated_feed(ROWS)
