"""An independent float64 oracle of docs/feature-contract.md in plain NumPy (no lobflow code).

Deliberately simple rather than fast: windows are found with `searchsorted` on the timestamps
and means are taken over explicit row ranges ending at the row itself, which is causality by
construction (a later row with an equal timestamp has a larger index and never counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl
    from numpy.typing import NDArray


def oracle_features(
    df: pl.DataFrame, windows_ms: tuple[int, int, int] = (10, 20, 50)
) -> NDArray[np.float64]:
    """The (n, 18) contract features of one feed."""
    ts = df["ts"].to_numpy().astype(np.int64)
    b = df["bid_px_0"].to_numpy().astype(np.float64)
    a = df["ask_px_0"].to_numpy().astype(np.float64)
    qb = df["bid_sz_0"].to_numpy().astype(np.float64)
    qa = df["ask_sz_0"].to_numpy().astype(np.float64)
    n = len(ts)
    out = np.zeros((n, 18))
    out[:, 0] = (b + a) / 2
    out[:, 1] = a - b
    ofi = np.zeros(n)
    pb, pa, pqb, pqa = b[:-1], a[:-1], qb[:-1], qa[:-1]
    cb, ca, cqb, cqa = b[1:], a[1:], qb[1:], qa[1:]
    ofi[1:] = (cb >= pb) * cqb - (cb <= pb) * pqb - (ca <= pa) * cqa + (ca >= pa) * pqa
    out[:, 2] = ofi
    depth = qb + qa
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 3] = np.where(depth == 0, out[:, 0], (b * qa + a * qb) / depth)
        for k in range(5):
            bs = df[f"bid_sz_{k}"].to_numpy().astype(np.float64)
            asz = df[f"ask_sz_{k}"].to_numpy().astype(np.float64)
            d = bs + asz
            out[:, 4 + k] = np.where(d == 0, 0.0, (bs - asz) / d)
    series = (ofi, out[:, 1], out[:, 4])
    for wi, w in enumerate(windows_ms):
        # First row m with ts_m > ts_n - W; the window is rows start..n inclusive.
        start = np.searchsorted(ts, ts - w * 1_000_000, side="right")
        for j, v in enumerate(series):
            for i in range(n):
                out[i, 9 + 3 * j + wi] = v[start[i] : i + 1].mean()
    return out


def oracle_scores(
    features: NDArray[np.float64], bias: float, coef: tuple[float, ...]
) -> NDArray[np.float64]:
    """bias + features · coef, summed left to right like the contract says."""
    s = np.full(features.shape[0], bias)
    for j, c in enumerate(coef):
        s = s + c * features[:, j]
    return s


def assert_features_close(got: NDArray[np.float64], want: NDArray[np.float64]) -> None:
    """Every feature within 1e-6 of its scale (its largest |value| in the feed)."""
    assert got.shape == want.shape
    scale = np.maximum(np.abs(want).max(axis=0), np.finfo(float).tiny)
    err = np.abs(got - want) / scale
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= 1e-6, f"feature {worst[1]} row {worst[0]}: {got[worst]} vs {want[worst]}"
