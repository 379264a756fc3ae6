"""Engine.run against the NumPy oracle, in every input form, on generated and real books."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import lobflow
from tests.books import make_books
from tests.oracle import assert_features_close, oracle_features, oracle_scores

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

CORES = (0, 1)  # named, so that runs are pinned alike on every machine


def model(windows: tuple[int, int, int], scale: float, threshold: float = 0.0) -> lobflow.Weights:
    """Weights that give every feature a say, normalised by the price scale."""
    rng = np.random.default_rng(42)
    coef = rng.normal(size=18)
    coef[[0, 3]] = 0.0  # price levels would swamp the score
    coef[1] /= scale
    coef[[10, 11, 12, 13, 14]] /= [1, 1, scale, scale, scale]
    return lobflow.Weights(windows, threshold, 0.01, tuple(float(c) for c in coef))


def check_run(df: pl.DataFrame, w: lobflow.Weights, *, near_allowed: int = 0) -> None:
    res = lobflow.Engine(w, cores=CORES).run(df, record_features=True)
    want = oracle_features(df, w.windows_ms)
    assert res.features is not None
    assert_features_close(res.features, want)
    ref = oracle_scores(want, w.bias, w.coef)
    assert np.abs(res.scores - ref).max() <= 1e-6 * ref.std()
    # Rows whose score is within rounding of ±threshold could legitimately differ: short feeds
    # have none, and we check that rather than assume it; long ones may have a few.
    near = np.abs(np.abs(ref) - w.threshold) <= 1e-6 * ref.std()
    assert near.sum() <= near_allowed
    np.testing.assert_array_equal(res.signals[~near], w.signal(ref)[~near])
    assert set(np.unique(res.signals)) == {-1, 0, 1}


@pytest.mark.parametrize("scale", ["btc", "tiny", "eth"])
@pytest.mark.parametrize("windows", [(10, 20, 50), (1000, 2000, 5000)])
def test_parity_with_oracle(scale: str, windows: tuple[int, int, int]) -> None:
    df = make_books(4000, seed=3, price_scale=scale)  # type: ignore[arg-type]
    px = float(df["ask_px_0"][0] - df["bid_px_0"][0])
    check_run(df, model(windows, px, threshold=0.5))


@pytest.mark.slow
def test_parity_over_ring_laps_and_rebases() -> None:
    """A feed long enough to lap the default 131 072-slot ring twice and to cross four
    rebases of the window sums (every 2^16 snapshots): the parity feeds above do neither."""
    df = make_books(2 * 131_072 + 12_345, seed=11)
    px = float(df["ask_px_0"][0] - df["bid_px_0"][0])
    check_run(df, model((10, 20, 50), px, threshold=0.5), near_allowed=3)


def test_parity_on_real_binance_books(shared_data: Path) -> None:
    for path in sorted(shared_data.glob("*.parquet"))[:3]:
        df = pl.read_parquet(path).head(8000)
        px = float(np.median((df["ask_px_0"] - df["bid_px_0"]).to_numpy()))
        check_run(df, model((10, 20, 50), px, threshold=0.3))


@pytest.mark.parametrize(
    ("bid", "ask", "spread"), [(90_000.00, 90_000.01, 0.01), (0.000_012_34, 0.000_012_35, 1e-8)]
)
def test_exact_spread(bid: float, ask: float, spread: float) -> None:
    df = make_books(3, seed=1).with_columns(bid_px_0=pl.lit(bid), ask_px_0=pl.lit(ask))
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
    res = lobflow.Engine(w, cores=CORES).run(df, record_features=True)
    assert res.features is not None
    np.testing.assert_allclose(res.features[:, 1], spread, rtol=1e-9, atol=0)


@pytest.mark.parametrize(("decimals", "queue"), [(4, 0.12), (5, 0.12), (8, 0.12), (8, 3.0)])
def test_ofi_of_queues_that_barely_move(decimals: int, queue: float) -> None:
    """OFI is a difference of sizes, far smaller than they may be: raw f32 sizes (24 bits)
    would put it 10^-5 to 7x its scale off here, lots in f64 rounding. Seen live: a short
    collector feed whose queues near 1.5 moved by hundredths.
    The 3-BTC queue on an 8-decimal venue is 3·10^8 lots: more whole lots than an f32's value
    holds (2^24), which the tagged lots do (2^31)."""
    rng = np.random.default_rng(decimals)
    lot = 10.0**-decimals
    n = 400

    def walk() -> NDArray[np.float64]:
        return np.round(queue + np.cumsum(rng.integers(-3, 4, n)) * lot, decimals)

    df = make_books(n, seed=1).with_columns(
        bid_px_0=pl.lit(90_000.0), ask_px_0=pl.lit(90_000.01), bid_sz_0=walk(), ask_sz_0=walk()
    )
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
    res = lobflow.Engine(w, cores=CORES).run(df, record_features=True)
    assert res.size_lot == pytest.approx(lot)
    assert res.sizes_inexact == 0
    assert res.features is not None
    want = oracle_features(df)
    assert_features_close(res.features, want)
    ofi = want[:, 2]
    # Exact to f64 rounding: 10^-9 of the scale, or a few ulps of the queues where their own
    # rounding is larger than that (3.0 is 4.4e-16 from its neighbours, 10^-8 of this OFI).
    queues = df.select(pl.max_horizontal("bid_sz_0", "ask_sz_0").max()).item()
    tol = max(1e-9 * np.abs(ofi).max(), 4 * float(np.spacing(queues)))
    assert np.abs(res.features[:, 2] - ofi).max() <= tol


@pytest.mark.parametrize("queue", [1.5e9, 2.5e9])
def test_queues_beyond_the_ticks_whole_lots_are_counted_and_warned(queue: float) -> None:
    """Whole lots are exact below 2^31 (2.1e9): a coarse-tick token's queues of billions of
    units, under a price that does not move, are beyond that, and their OFI then carries the
    f32's rounding (~256 units at 2.5e9). The run says so rather than return it silently."""
    rng = np.random.default_rng(7)
    n = 300
    queues = {
        c: queue + np.cumsum(rng.integers(-50_000, 50_001, n)).astype(np.float64)
        for c in ("bid_sz_0", "ask_sz_0")
    }
    df = make_books(n, seed=2).with_columns(
        bid_px_0=pl.lit(0.000_012_34), ask_px_0=pl.lit(0.000_012_35), **queues
    )
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
    beyond = queue > 2**31
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lobflow.Engine(w, cores=CORES).run(df, record_features=True)
    said = [str(c.message) for c in caught if "level-0 sizes" in str(c.message)]
    assert res.sizes_inexact == (2 * n if beyond else 0)
    assert said == (
        [
            f"{2 * n:,} of the run's {2 * n:,} level-0 sizes were not whole lots of 1 "
            "below 2^31 and crossed as f32 (24 bits): OFI and its windows over them "
            "carry that rounding (RunResult.sizes_inexact, docs/tick-encoding.md)"
        ]
        if beyond
        else []
    )
    assert res.features is not None
    off = np.abs(res.features[:, 2] - oracle_features(df)[:, 2]).max()
    assert (off > 1.0) if beyond else (off == 0.0)


def test_input_forms_agree(tmp_path: Path) -> None:
    df = make_books(2000, seed=5)
    w = model((10, 20, 50), 0.02)
    eng = lobflow.Engine(w, cores=CORES)
    base = eng.run(df).scores
    path = tmp_path / "feed.parquet"
    df.write_parquet(path)
    structured = df.drop("exchange", "symbol").to_numpy(structured=True)
    for other in (eng.run(path), eng.run(str(path)), eng.run(structured), eng.run(df.lazy())):
        np.testing.assert_array_equal(other.scores, base)


def test_engine_accepts_a_weights_path(tmp_path: Path) -> None:
    w = model((10, 20, 50), 0.02)
    p = w.save(tmp_path / "w.txt")
    df = make_books(500, seed=2)
    np.testing.assert_array_equal(
        lobflow.Engine(p, cores=CORES).run(df).scores, lobflow.Engine(w, cores=CORES).run(df).scores
    )


def test_result_reports_the_run() -> None:
    res = lobflow.Engine(model((10, 20, 50), 0.02), cores=CORES).run(make_books(3000, seed=9))
    assert res.n == 3000
    assert res.skipped == 0
    assert res.scores.dtype == np.float64
    assert res.signals.dtype == np.int8
    assert res.features is None
    lat = res.latency
    assert 0 < lat.p50_ns <= lat.p90_ns <= lat.p99_ns <= lat.p999_ns <= lat.max_ns
    assert lat.count == sum(c for _, c in lat.buckets)
    assert lat.sampled_every == 64
    assert res.pinning.requested == CORES
    assert res.pinning.note is None
    assert res.ticks_per_s > 0
    assert res.cores_used == CORES
    assert res.price_quantum <= 0.01
    assert res.max_price_error < 1e-9
    assert "ticks" in res.summary()


def test_paced_run_times_every_tick() -> None:
    res = lobflow.Engine(model((10, 20, 50), 0.02), cores=CORES).run(
        make_books(2000, seed=9), pace_ns=10_000
    )
    assert res.latency.sampled_every == 1
    assert res.latency.count == 2000
    assert "p99.9" in res.summary()


def test_one_engine_runs_feed_after_feed_and_from_several_threads_at_once() -> None:
    """Runs on one engine share its kept ring one at a time; the GIL is released, so runs
    from other threads overlap, and each gives what a fresh engine gives, bit for bit."""
    w = model((10, 20, 50), 100.0)
    feeds = [make_books(6_000 + 1_000 * i, seed=30 + i) for i in range(4)]
    fresh = [lobflow.Engine(w, cores=CORES).run(f).scores for f in feeds]
    engine = lobflow.Engine(w, cores=CORES, capacity=1024)
    for f, want in zip(feeds, fresh, strict=True):
        np.testing.assert_array_equal(engine.run(f).scores, want)
        with pytest.raises(ValueError, match="row 10"):
            engine.run(f.with_columns(f["ask_sz_0"].scatter(10, -1.0)))
        np.testing.assert_array_equal(engine.run(f).scores, want)
    with ThreadPoolExecutor(max_workers=len(feeds)) as pool:
        got = list(pool.map(lambda f: engine.run(f).scores, feeds))
    for g, want in zip(got, fresh, strict=True):
        np.testing.assert_array_equal(g, want)


def test_features_frame_is_named_by_windows() -> None:
    w = model((1000, 2000, 5000), 0.02)
    res = lobflow.Engine(w, cores=CORES).run(make_books(100, seed=1), record_features=True)
    frame = res.features_frame()
    assert frame.columns == list(lobflow.feature_names((1000, 2000, 5000)))
    assert frame.height == 100


def test_default_cores_are_chosen_for_the_machine_without_a_warning() -> None:
    available = sorted(os.sched_getaffinity(0))
    want = (2, 4) if {2, 4} <= set(available) else (available[-2], available[-1])
    res = lobflow.Engine(model((10, 20, 50), 0.02)).run(make_books(100, seed=1))
    assert res.pinning.requested is None
    assert res.cores_used == want == lobflow._core.auto_cores()
    assert res.pinning.note is None


def test_named_cores_that_do_not_exist_fall_back_with_a_warning() -> None:
    missing = max(os.sched_getaffinity(0)) + 1
    eng = lobflow.Engine(model((10, 20, 50), 0.02), cores=(0, missing))
    with pytest.warns(lobflow.LobflowWarning, match="requested but this process may run on"):
        res = eng.run(make_books(100, seed=1))
    assert res.pinning.requested == (0, missing)
    assert missing not in res.cores_used


def test_run_command_writes_the_engines_scores(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    books = make_books(3000, seed=2)
    feed = tmp_path / "books.parquet"
    books.write_parquet(feed)
    w = model((10, 20, 50), 0.02)
    args = ["run", str(feed), "--weights", str(w.save(tmp_path / "w.txt")), "--cores", "0,1"]
    out = tmp_path / "scores.parquet"
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    want = lobflow.Engine(w, cores=CORES).run(books).scores
    np.testing.assert_array_equal(pl.read_parquet(out)["score"].to_numpy(), want)
