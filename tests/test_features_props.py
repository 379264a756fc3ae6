"""hypothesis: invariants of the contract features hold on any valid book sequence."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import lobflow
from lobflow import features
from tests.oracle import assert_features_close, oracle_features


@st.composite
def feeds(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 40))
    gaps = draw(
        st.lists(
            st.sampled_from([0, 1, 3_000_000, 9_999_999, 10_000_000, 60_000_000]),
            min_size=n,
            max_size=n,
        )
    )
    ticks = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    halves = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    size = st.one_of(st.just(0.0), st.floats(0.001, 1e4, allow_nan=False))
    sizes = draw(st.lists(st.lists(size, min_size=10, max_size=10), min_size=n, max_size=n))
    mid = 10_000 + np.cumsum(ticks)
    cols: dict[str, object] = {"ts": np.cumsum(gaps).astype(np.int64)}
    for k in range(5):
        cols[f"bid_px_{k}"] = (mid - np.array(halves) - k) * 0.5
        cols[f"ask_px_{k}"] = (mid + np.array(halves) + k) * 0.5
        cols[f"bid_sz_{k}"] = [r[k] for r in sizes]
        cols[f"ask_sz_{k}"] = [r[5 + k] for r in sizes]
    return pl.DataFrame(cols)


@settings(max_examples=60, deadline=None)
@given(feeds())
def test_invariants(df: pl.DataFrame) -> None:
    out = features.compute(df)
    b, a = df["bid_px_0"].to_numpy(), df["ask_px_0"].to_numpy()
    for k in range(5):
        qi = out[f"qi_{k}"].to_numpy()
        assert ((qi >= -1) & (qi <= 1)).all()
    micro = out["microprice"].to_numpy()
    assert ((micro >= b - 1e-9) & (micro <= a + 1e-9)).all()
    assert out["ofi"][0] == 0.0
    spread = out["spread"].to_numpy()
    ts = df["ts"].to_numpy()
    for w in (10, 20, 50):
        roll = out[f"rolling_spread_{w}ms"].to_numpy()
        for i in range(len(ts)):
            window = spread[(ts > ts[i] - w * 1_000_000) & (np.arange(len(ts)) <= i)]
            assert window.min() - 1e-9 <= roll[i] <= window.max() + 1e-9
    assert_features_close(out.select(lobflow.FEATURE_NAMES).to_numpy(), oracle_features(df))


@settings(max_examples=40, deadline=None)
@given(feeds(), st.data())
def test_appending_rows_never_changes_the_past(df: pl.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, df.height))
    assert features.compute(df).head(cut).equals(features.compute(df.head(cut)))


@settings(max_examples=40, deadline=None)
@given(feeds(), feeds())
def test_feeds_never_mix(a: pl.DataFrame, b: pl.DataFrame) -> None:
    # Both feeds start at ts 0, so the interleaving has equal timestamps across feeds too.
    a, b = a.with_columns(symbol=pl.lit("A")), b.with_columns(symbol=pl.lit("B"))
    both = features.compute(pl.concat([a, b]).sort("ts", maintain_order=True))
    for sym, part in (("A", a), ("B", b)):
        got = both.filter(pl.col("symbol") == sym).select(lobflow.FEATURE_NAMES).to_numpy()
        assert_features_close(got, features.compute(part).select(lobflow.FEATURE_NAMES).to_numpy())


@settings(max_examples=30, deadline=None)
@given(feeds(), feeds(), st.integers(1, 30))
def test_sink_in_any_slices_equals_one_pass(a: pl.DataFrame, b: pl.DataFrame, rows: int) -> None:
    a, b = a.with_columns(symbol=pl.lit("A")), b.with_columns(symbol=pl.lit("B"))
    both = pl.concat([a, b]).sort("ts", maintain_order=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "f.parquet"
        assert features.sink(both, out, slice_rows=rows) == both.height
        got = pl.read_parquet(out)
    want = features.compute(both)
    assert got.select("ts", "symbol").equals(want.select("ts", "symbol"))
    names = list(lobflow.FEATURE_NAMES)
    assert_features_close(got.select(names).to_numpy(), want.select(names).to_numpy())
