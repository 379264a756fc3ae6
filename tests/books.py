"""Generated order books for tests: duplicate timestamps, bursts, gaps, empty levels, two scales."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

SCALES = {"btc": (90_000.0, 0.01), "tiny": (0.000_012_34, 1e-8), "eth": (2_500.0, 0.01)}


def make_books(
    n: int,
    *,
    seed: int = 0,
    price_scale: Literal["btc", "tiny", "eth"] = "btc",
    start_ns: int = 1_700_000_000_000_000_000,
    exchange: str = "test",
    symbol: str = "BTC-USDT",
) -> pl.DataFrame:
    """A realistic-looking feed in the contract schema.

    Gaps between snapshots: 20 % exactly 0 (duplicate timestamps), 40 % under 3 ms (bursts
    inside the 10 ms window), 37 % up to 40 ms, 3 % up to 5 s (long gaps). Mid moves on the
    price grid; 5 % of deeper levels are empty (size 0, price NaN), as are 2 % of best levels'
    sizes (price kept, so the book stays valid).
    """
    base, tick = SCALES[price_scale]
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    gaps = np.where(
        u < 0.2,
        0,
        np.where(
            u < 0.6,
            rng.integers(1, 3_000_000, n),
            np.where(u < 0.97, rng.integers(1, 40_000_000, n), rng.integers(1, 5_000_000_000, n)),
        ),
    )
    ts = start_ns + np.cumsum(gaps).astype(np.int64)
    mid_ticks = np.round(base / tick) + np.cumsum(rng.integers(-1, 2, n))
    half = rng.integers(1, 4, n)
    cols: dict[str, object] = {"ts": ts, "exchange": exchange, "symbol": symbol}
    for k in range(5):
        bid = (mid_ticks - half - k) * tick
        ask = (mid_ticks + half + k) * tick
        bsz = np.round(rng.lognormal(0.0, 1.0, n), 4)
        asz = np.round(rng.lognormal(0.0, 1.0, n), 4)
        empty_rate = 0.02 if k == 0 else 0.05
        b_empty = rng.random(n) < empty_rate
        a_empty = rng.random(n) < empty_rate
        bsz[b_empty] = 0.0
        asz[a_empty] = 0.0
        if k > 0:
            bid = np.where(b_empty, np.nan, bid)
            ask = np.where(a_empty, np.nan, ask)
        cols[f"bid_px_{k}"] = bid
        cols[f"bid_sz_{k}"] = bsz
        cols[f"ask_px_{k}"] = ask
        cols[f"ask_sz_{k}"] = asz
    order = ["ts"] + [
        f"{side}_{kind}_{k}" for side in ("bid", "ask") for kind in ("px", "sz") for k in range(5)
    ]
    return pl.DataFrame(cols).select([*order, "exchange", "symbol"])
