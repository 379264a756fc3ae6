"""Bad input gets a clear error naming what and where; `on_bad="skip"` keeps outputs aligned."""

from __future__ import annotations

import _thread
import re
import signal
import threading
import time
import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import backtest, diagnostics, features
from tests.books import make_books
from tests.oracle import assert_features_close

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CORES = (0, 1)
W = lobflow.Weights((10, 20, 50), 0.1, 0.0, (0.0, 1.0, 0.5) + (0.1,) * 15)


def engine() -> lobflow.Engine:
    return lobflow.Engine(W, cores=CORES)


def with_value(df: pl.DataFrame, column: str, row: int, value: object) -> pl.DataFrame:
    s = df[column].to_list()
    s[row] = value
    return df.with_columns(pl.Series(column, s, dtype=df.schema[column]))


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("bid_px_0", float("nan"), "NaN or infinite"),
        ("ask_px_0", float("inf"), "NaN or infinite"),
        ("bid_sz_3", -2.0, "negative"),
        ("ask_sz_0", float("nan"), "NaN or infinite"),
        ("bid_px_0", 1e9, "crossed or locked"),
    ],
)
def test_bad_values_name_column_and_row(column: str, value: float, needle: str) -> None:
    df = with_value(make_books(300, seed=1), column, 137, value)
    reported = "ask_px_0" if needle.startswith("crossed") else column
    with pytest.raises(ValueError, match=rf"row 137, column `{reported}`: .*{needle}"):
        engine().run(df)


def test_decreasing_ts_is_named() -> None:
    df = make_books(300, seed=1)
    df = with_value(df, "ts", 200, int(df["ts"][199]) - 1)
    with pytest.raises(ValueError, match=r"row 200, column `ts`: timestamp decreases"):
        engine().run(df)


def test_null_becomes_a_named_nan() -> None:
    df = with_value(make_books(50, seed=1), "ask_sz_1", 7, None)
    with pytest.raises(ValueError, match=r"row 7, column `ask_sz_1`"):
        engine().run(df)


@pytest.mark.parametrize(
    ("column", "needle"),
    [("bid_px_0", "null price"), ("ask_px_0", "null price"), ("bid_sz_2", "null size")],
)
def test_null_says_null(column: str, needle: str) -> None:
    df = with_value(make_books(300, seed=1), column, 137, None)
    with pytest.raises(ValueError, match=rf"^bad feed at row 137, column `{column}`: {needle}$"):
        engine().run(df)


def test_first_bad_row_is_named_whether_null_or_nan() -> None:
    df = make_books(300, seed=1)
    nan_first = with_value(with_value(df, "bid_px_0", 50, float("nan")), "ask_sz_0", 100, None)
    with pytest.raises(ValueError, match=r"row 50, column `bid_px_0`: price is NaN or infinite"):
        engine().run(nan_first)
    null_first = with_value(with_value(df, "bid_px_0", 150, float("nan")), "ask_sz_0", 100, None)
    with pytest.raises(ValueError, match=r"row 100, column `ask_sz_0`: null size$"):
        engine().run(null_first)
    null_ts_first = with_value(null_first, "ts", 20, None)
    with pytest.raises(ValueError, match=r"row 20, column `ts`: null timestamp$"):
        engine().run(null_ts_first)
    # The features stage names the same rows: the first bad row, null or not.
    with pytest.raises(ValueError, match=r"row 50, column `bid_px_0`: price is NaN or infinite"):
        features.compute(nan_first)
    with pytest.raises(ValueError, match=r"row 100, column `ask_sz_0`: null$"):
        features.compute(null_first)
    with pytest.raises(ValueError, match=r"row 20, column `ts`: null timestamp$"):
        features.compute(null_ts_first)


def test_a_uint64_ts_beyond_int64_is_named_not_left_to_polars() -> None:
    df = make_books(300, seed=1).with_columns(pl.col("ts").cast(pl.UInt64))
    assert engine().run(df).skipped == 0  # in range: converted
    beyond = df.with_columns(
        pl.when(pl.int_range(pl.len()) >= 77)
        .then(pl.lit(2**63, dtype=pl.UInt64))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    # The contract's ts is int64: such a column is outside it, as a mistyped one is, and
    # that is an error under "skip" too.
    for on_bad in ("raise", "skip"):
        with pytest.raises(
            ValueError, match=r"^bad feed at row 77, column `ts`: 9223372036854775808"
        ):
            engine().run(beyond, on_bad=on_bad)


def test_skip_skips_a_null_ts_as_features_do() -> None:
    clean = make_books(1000, seed=4)
    bad = with_value(clean, "ts", 300, None)
    with pytest.raises(ValueError, match=r"^bad feed at row 300, column `ts`: null timestamp$"):
        engine().run(bad)
    res = engine().run(bad, on_bad="skip", record_features=True)
    assert res.skipped == 1
    assert np.isnan(res.scores[300])
    assert res.signals[300] == 0
    kept = clean.with_row_index().filter(pl.col("index") != 300).drop("index")
    mask = np.arange(1000) != 300
    np.testing.assert_array_equal(res.scores[mask], engine().run(kept).scores)
    # The features stage drops the same row and computes the same features without it.
    feats = features.compute(bad, on_bad="skip")
    assert feats.height == 999
    assert res.features is not None
    assert_features_close(feats.select(W.feature_names).to_numpy(), res.features[mask])


def test_missing_and_mistyped_columns() -> None:
    df = make_books(10, seed=1)
    with pytest.raises(ValueError, match=r"missing column\(s\) `bid_sz_2`"):
        engine().run(df.drop("bid_sz_2"))
    with pytest.raises(ValueError, match=r"column `ask_px_3` must be numeric, got String"):
        engine().run(df.with_columns(pl.col("ask_px_3").cast(pl.String)))
    with pytest.raises(ValueError, match=r"column `ts` must be int64"):
        engine().run(df.with_columns(pl.col("ts").cast(pl.Float64)))


def test_datetime_ts_is_accepted() -> None:
    df = make_books(100, seed=1)
    as_dt = df.with_columns(pl.col("ts").cast(pl.Datetime("ns")))
    np.testing.assert_array_equal(engine().run(as_dt).scores, engine().run(df).scores)


def test_several_feeds_are_refused() -> None:
    df = pl.concat([make_books(10, seed=1), make_books(10, seed=2, symbol="ETH-USDT")])
    with pytest.raises(ValueError, match=r"holds 2 feeds.*partition_by"):
        engine().run(df)


def test_skip_keeps_alignment_and_counts() -> None:
    clean = make_books(1000, seed=4)
    bad = with_value(clean, "bid_px_0", 100, float("nan"))
    bad = with_value(bad, "ask_sz_4", 500, -1.0)
    res = engine().run(bad, on_bad="skip", record_features=True)
    assert res.skipped == 2
    assert len(res.scores) == 1000
    assert np.isnan(res.scores[[100, 500]]).all()
    assert (res.signals[[100, 500]] == 0).all()
    # Skipped rows enter neither OFI nor the windows: same as dropping them first.
    kept = clean.with_row_index().filter(~pl.col("index").is_in([100, 500])).drop("index")
    ref = engine().run(kept)
    mask = np.ones(1000, bool)
    mask[[100, 500]] = False
    np.testing.assert_array_equal(res.scores[mask], ref.scores)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="power of two"):
        lobflow.Engine(W, capacity=1000, cores=CORES)
    with pytest.raises(ValueError, match="on_bad"):
        engine().run(make_books(5), on_bad="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="structured array"):
        engine().run(np.zeros((3, 21)))


@pytest.mark.parametrize(
    ("cores", "error"),
    [
        ((0, 1, 2), ValueError),
        ((0,), ValueError),
        (("0", "1"), TypeError),
        ((0.0, 1), TypeError),
        ((True, False), TypeError),
        ((-1, 0), ValueError),
        ((0, -3), ValueError),
        ((2**64, 0), ValueError),
        (0, TypeError),
    ],
)
def test_cores_must_be_two_non_negative_ints(cores: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"^cores must be .*got "):
        lobflow.Engine(W, cores=cores)  # type: ignore[arg-type]


def test_capacity_is_checked_before_the_core() -> None:
    with pytest.raises(ValueError, match=r"^capacity must be a power of two >= 2, got -1$"):
        lobflow.Engine(W, capacity=-1, cores=CORES)
    with pytest.raises(
        ValueError, match=r"^capacity must be a power of two >= 2, got 18446744073709551616$"
    ):
        lobflow.Engine(W, capacity=2**64, cores=CORES)
    with pytest.raises(TypeError, match=r"^capacity must be an int"):
        lobflow.Engine(W, capacity=1024.0, cores=CORES)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ring capacity must be a power of two ≥ 2, got 3"):
        lobflow.Engine(W, capacity=3, cores=CORES)
    eng = lobflow.Engine(W, capacity=np.int64(1024), cores=[np.int64(0), 1])  # type: ignore[arg-type]
    assert (eng.capacity, eng.cores) == (1024, (0, 1))
    assert type(eng.capacity) is int


@pytest.mark.parametrize(
    ("pace", "error"),
    [
        (-1, ValueError),
        (2**63, ValueError),
        (2**70, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("1000", TypeError),
    ],
)
def test_pace_ns_must_be_a_non_negative_int(pace: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"^pace_ns must be .*got "):
        engine().run(make_books(10, seed=1), pace_ns=pace)  # type: ignore[arg-type]


def test_pace_ns_takes_numpy_ints() -> None:
    res = engine().run(make_books(20, seed=1), pace_ns=np.int64(1_000))
    assert res.n == 20


@pytest.mark.parametrize("cores", ["a,b", "0,1.5", "-1,0", "0,1,2", "", "99999999999999999999,1"])
def test_cli_cores_are_a_bad_parameter(tmp_path: Path, cores: str) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    w = W.save(tmp_path / "w.txt")
    for args in (["run", str(tmp_path / "feed.parquet"), "--weights", str(w)], ["c2c"]):
        res = CliRunner().invoke(app, [*args, "--cores", cores])
        assert res.exit_code == 2, res.output
        said = _unboxed(res.output)
        assert "Invalid value for '--cores': takes two core ids like 2,4" in said, said


def test_float32_prices_warn_and_float32_sizes_do_not() -> None:
    df = make_books(200, seed=1)
    structured = df.drop("exchange", "symbol").to_numpy(structured=True)
    narrow = structured.astype(
        [(n, "f4" if n == "ask_px_1" else structured.dtype[n]) for n in structured.dtype.names]
    )
    level0 = df.with_columns(pl.col("bid_px_0", "ask_px_0").cast(pl.Float32))
    for feed, named in (
        (level0, "`bid_px_0` (Float32), `ask_px_0` (Float32)"),
        (narrow, "`ask_px_1` (Float32)"),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            engine().run(feed)
        said = [str(w.message) for w in caught if issubclass(w.category, lobflow.LobflowWarning)]
        assert any(named in m and "float32 cannot hold cent prices" in m for m in said), said
        assert all(w.filename == __file__ for w in caught if "float32" in str(w.message))
    # Sizes lose nothing that matters in float32 (the engine keeps them as f32): no warning.
    sizes = [c for c in df.columns if "_sz_" in c]
    engine().run(df.with_columns(pl.col(sizes).cast(pl.Float32)))


def test_unreadable_paths_name_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(empty))} is a folder without"):
        engine().run(empty)
    not_parquet = tmp_path / "books.parquet"
    not_parquet.write_text("ts,bid_px_0\n1,2\n")
    with pytest.raises(
        ValueError, match=rf"^books {re.escape(str(not_parquet))} is not readable Parquet: "
    ):
        engine().run(not_parquet)
    folder = tmp_path / "folder"
    folder.mkdir()
    part = folder / "part-0.parquet"
    part.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=rf"^books {re.escape(str(part))} is not readable"):
        engine().run(folder)


def test_paths_are_names_not_patterns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # polars' glob took `day*.parquet` to mean its sibling too, and `data[1]` to mean `data1`.
    books = make_books(300, seed=5)
    books.write_parquet(tmp_path / "day*.parquet")
    make_books(200, seed=6).write_parquet(tmp_path / "day_2.parquet")
    assert engine().run(tmp_path / "day*.parquet").n == 300
    folder = tmp_path / "dir[2]" / "exchange=test" / "symbol=BTC-USDT"
    folder.mkdir(parents=True)
    books.write_parquet(folder / "data[1].parquet")
    want = engine().run(books).scores
    np.testing.assert_array_equal(engine().run(folder / "data[1].parquet").scores, want)
    np.testing.assert_array_equal(engine().run(tmp_path / "dir[2]").scores, want)
    # "" is not the working directory.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^books path is empty$"):
        engine().run("")


@pytest.mark.parametrize(
    ("ts", "row", "value"),
    [
        # A microsecond Datetime past 2262 does not fit int64 nanoseconds.
        (pl.Series([0, 10**15, 9_223_372_036_854_776, 2], dtype=pl.Datetime("us")), 2, "us"),
        (pl.Series([0, 1, 2**63 + 5, 3], dtype=pl.Int128), 2, "ns"),
        (pl.Series([0, -(2**63) - 1, 2, 3], dtype=pl.Int128), 1, "ns"),
    ],
)
@pytest.mark.parametrize("on_bad", ["raise", "skip"])
def test_timestamps_beyond_int64_name_their_row(
    ts: pl.Series, row: int, value: str, on_bad: Literal["raise", "skip"]
) -> None:
    df = make_books(4, seed=1).with_columns(ts.alias("ts"))
    want = rf"^bad feed at row {row}, column `ts`: -?\d+ {value} is beyond int64 nanoseconds$"
    with pytest.raises(ValueError, match=want):
        engine().run(df, on_bad=on_bad)


def test_all_null_columns_of_polars_null_type_are_nulls() -> None:
    df = make_books(50, seed=2)
    # Deep prices feed nothing: an all-null one is no error, as an all-null Float64 is not.
    want = engine().run(df).scores
    got = engine().run(df.with_columns(pl.lit(None).alias("bid_px_4"))).scores
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"^bad feed at row 0, column `bid_sz_0`: null"):
        engine().run(df.with_columns(pl.lit(None).alias("bid_sz_0")))
    empty = pl.DataFrame({c: [] for c in lobflow.CONTRACT_COLUMNS})
    assert engine().run(empty).n == 0


def test_a_timestamp_far_ahead_is_named_and_a_mostly_skipped_run_warns() -> None:
    df = make_books(1_000, seed=3)
    ahead = with_value(df, "ts", 100, df["ts"][100] + 10**15)
    with pytest.raises(
        ValueError,
        match=rf"^bad feed at row 101, column `ts`: timestamp decreases: {df['ts'][101]} ns "
        rf"after row 100's {df['ts'][100] + 10**15} ns",
    ):
        engine().run(ahead)
    with pytest.warns(lobflow.LobflowWarning, match=r"skipped 899 of its 1,000 rows \(90%\)"):
        res = engine().run(ahead, on_bad="skip")
    assert res.skipped == 899
    # The odd bad row is what skipping is for: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine().run(with_value(df, "ts", 500, -1), on_bad="skip").skipped == 1


def test_foreign_frames_name_their_full_type() -> None:
    class DataFrame:
        pass

    DataFrame.__module__ = "pandas.core.frame"
    DataFrame.__qualname__ = "DataFrame"
    with pytest.raises(
        TypeError,
        match=r"not pandas\.core\.frame\.DataFrame; convert it with `pl\.from_pandas\(df\)`",
    ):
        engine().run(DataFrame())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Parquet path, not dict$"):
        engine().run({"ts": [0]})  # type: ignore[arg-type]


def test_weights_errors_carry_path_and_line(tmp_path: Path) -> None:
    p = tmp_path / "w.txt"
    p.write_text(W.to_text().replace("ofi 0.5", "ofi nan"))
    with pytest.raises(lobflow.WeightsFormatError, match=rf"{p}:7: `ofi` must be finite"):
        lobflow.Engine(p, cores=CORES)


def test_worker_panic_is_an_engine_error_and_the_interpreter_survives() -> None:
    from lobflow._feed import engine_columns

    if not lobflow._core.TEST_HOOKS:
        pytest.skip("this build has no test hooks (`make dev` builds them)")
    cols = engine_columns(make_books(1000, seed=1))
    inner = lobflow._core.Engine(W.to_text(), "<test>", 1024, CORES)
    with pytest.raises(lobflow.EngineError, match="injected worker panic"):
        lobflow._core._run_panicking(inner, cols.ts, cols.cols)
    assert len(engine().run(make_books(10)).scores) == 10


@pytest.fixture
def python_handles_ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler, as in a terminal session, for the length of a test.

    A process started in the background by a non-interactive shell (``cmd &`` in a script, as
    CI may start the tests) inherits SIGINT ignored; Python then installs no handler, and
    `_thread.interrupt_main` does nothing. Both Ctrl-C tests ran their paced feeds to the end
    in such a CI run, and passed in the same suite wherever an asyncio test had put the
    default handler back first.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("python_handles_ctrl_c")
def test_ctrl_c_stops_a_long_run_promptly() -> None:
    df = make_books(100_000, seed=1)  # paced at 1 ms: 100 s if not interrupted
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        engine().run(df, pace_ns=1_000_000)
    timer.join()
    assert time.perf_counter() - t0 < 5


@pytest.mark.usefixtures("python_handles_ctrl_c")
def test_ctrl_c_stops_a_slowly_paced_run_between_ticks() -> None:
    # 50 ms apart and a default ring: the producer waits 50 ms before every tick, and a stop
    # looked at only every 4096 rows came 200 s late.
    df = make_books(5_000, seed=2)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        lobflow.Engine(W, cores=CORES).run(df, pace_ns=50_000_000)
    timer.join()
    assert time.perf_counter() - t0 < 5


def test_an_outlier_price_is_an_error_naming_it_not_a_rounded_feed() -> None:
    df = with_value(make_books(2_000, seed=3), "ask_px_0", 700, 1e9)
    for on_bad in ("raise", "skip"):
        with pytest.raises(ValueError, match=r"not carried exactly.*1000000000 at row 700"):
            engine().run(df, on_bad=on_bad)


def test_prices_off_any_grid_are_an_error_with_a_way_out() -> None:
    df = make_books(500, seed=4)
    off = df.with_columns(pl.col("bid_px_0", "ask_px_0") + 0.01 / 3)
    with pytest.raises(ValueError, match=r"row 0, column `bid_px_0`: price .* not carried exactly"):
        engine().run(off)
    rounded = off.with_columns(pl.col("bid_px_0", "ask_px_0").round(2))
    assert engine().run(rounded).max_price_error < 1e-9


def test_a_skipped_row_does_not_coarsen_the_kept_rows() -> None:
    df = make_books(2_000, seed=5)
    bad = with_value(with_value(df, "bid_sz_0", 500, -1.0), "ask_px_0", 500, 1e9)
    res = engine().run(bad, on_bad="skip", record_features=True)
    assert res.skipped == 1
    assert res.price_quantum <= 0.01
    assert res.features is not None
    spread = (df["ask_px_0"] - df["bid_px_0"]).to_numpy()
    keep = np.arange(2_000) != 500
    np.testing.assert_allclose(res.features[keep, 1], spread[keep], rtol=0, atol=1e-9)


def test_sizes_beyond_the_ticks_lots_are_named() -> None:
    df = make_books(300, seed=6)
    for value in (1e39, 3.5e38, 3.5e30):
        with pytest.raises(ValueError, match=r"row 120, column `ask_sz_2`: .*above 3.4e30"):
            engine().run(with_value(df, "ask_sz_2", 120, value))
    # Just below the limit is a size like any other, carried to f32's 24 bits.
    res = engine().run(with_value(df, "ask_sz_2", 120, 3.3e30), record_features=True)
    assert res.features is not None
    assert np.isfinite(res.features).all()


def test_a_ring_too_large_to_allocate_is_a_memory_error() -> None:
    with pytest.raises(MemoryError, match="cannot allocate a ring of 1099511627776 slots"):
        lobflow.Engine(W, capacity=2**40, cores=CORES).run(make_books(5))


def test_core_to_core_needs_two_cores() -> None:
    with pytest.raises(ValueError, match="two different cores"):
        diagnostics.core_to_core_latency((0, 0), 1024)


def test_handoff_latency_reports_percentiles_and_needs_two_cores() -> None:
    r = diagnostics.handoff_latency((0, 1), 1000)
    assert r.round_trips == 1024  # rounded up to whole samples of 64
    assert 0 < r.min <= r.p50 <= r.p90 <= r.p99
    with pytest.raises(ValueError, match="two different cores"):
        diagnostics.handoff_latency((1, 1), 1024)


def test_stamped_latency_times_each_message_and_needs_two_cores() -> None:
    r = diagnostics.stamped_latency((0, 1), 1000)
    assert r.round_trips == 1000  # one sample a message: nothing rounded up
    assert not r.cut_short
    assert r.cores == (0, 1)
    assert 0 < r.min <= r.p50 <= r.p90 <= r.p99
    with pytest.raises(ValueError, match="two different cores"):
        diagnostics.stamped_latency((1, 1), 1024)
    with pytest.raises(ValueError, match="messages must be"):
        diagnostics.stamped_latency((0, 1), 0)


def test_core_errors_map_to_one_python_exception_each(tmp_path: Path) -> None:
    """Every core error variant that reaches Python has its documented exception."""
    from lobflow._feed import engine_columns

    text = W.to_text()
    with pytest.raises(ValueError, match="power of two"):  # Error::Capacity
        lobflow._core.Engine(text, "<t>", 1000, CORES)
    with pytest.raises(lobflow.WeightsFormatError, match="<t>:1"):  # Error::WeightsFormat
        lobflow._core.Engine("nope", "<t>", 1024, CORES)
    assert issubclass(lobflow.WeightsFormatError, lobflow.LobflowError)
    assert issubclass(lobflow.EngineError, lobflow.LobflowError)
    cols = engine_columns(make_books(10))
    inner = lobflow._core.Engine(text, "<t>", 1024, CORES)
    with pytest.raises(ValueError, match="bad feed shape"):  # Error::FeedShape
        inner.run(cols.ts[:5], cols.cols)
    with pytest.raises(ValueError, match="expected 20 book columns"):
        inner.run(cols.ts, cols.cols[:19])
    with pytest.raises(ValueError, match="order_size"):  # Error::Config (backtest)
        lobflow._core.backtest(
            cols.ts,
            cols.cols,
            np.zeros(10, np.int8),
            backtest.BacktestConfig(order_size=0.0),
        )


def test_latency_histogram_holds_every_timed_tick() -> None:
    res = engine().run(make_books(3000, seed=2), pace_ns=5_000)
    assert sum(c for _, c in res.latency.buckets) == res.latency.count == 3000
    bounds = [v for v, _ in res.latency.buckets]
    assert bounds == sorted(bounds)
    assert bounds[-1] >= res.latency.max_ns / 1.25


def test_feature_windows_must_be_whole_milliseconds() -> None:
    with pytest.raises(ValueError, match="whole milliseconds"):
        features.compute(make_books(10), (10.5, 20, 50))  # type: ignore[arg-type]
    assert features.compute(make_books(10), (10.0, 20, 50)).height == 10  # type: ignore[arg-type]
    assert features.compute(make_books(10), (np.int64(10), 20, 50)).height == 10  # type: ignore[arg-type]
    # `float("10")` is 10.0: strings were once taken for numbers.
    odd: list[tuple[object, str]] = [
        (("10", 20, 50), "windows_ms must be a number, got '10'"),
        ((10, None, 50), "windows_ms must be a number, got None"),
        ((True, 20, 50), "windows_ms must be a number, got True"),
        ("10,20,50", "windows_ms must be three positive, strictly ascending integers, got '10"),
    ]
    for windows, says in odd:
        with pytest.raises(TypeError, match=says):
            features.compute(make_books(10), windows)  # type: ignore[call-overload]


def test_backtest_cli_cores_are_a_bad_parameter(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    w = W.save(tmp_path / "w.txt")
    books = tmp_path / "books.parquet"
    make_books(10).write_parquet(books)
    res = CliRunner().invoke(app, ["backtest", str(books), "--weights", str(w), "--cores", "a,b"])
    assert res.exit_code == 2, res.output
    said = _unboxed(res.output)
    assert "Invalid value for '--cores': takes two core ids like 2,4, got 'a,b'" in said, said


def _unboxed(output: str) -> str:
    """A CLI error as one line: the text of rich's error box, its borders and wrapping gone."""
    return " ".join(output.replace("│", " ").split())


def test_features_and_engine_skip_the_same_rows_and_keep_empty_deeper_levels() -> None:
    clean = make_books(1000, seed=7)
    bad = with_value(with_value(clean, "ask_sz_2", 200, 1e39), "bid_sz_1", 400, -1.0)
    bad = with_value(bad, "bid_px_3", 600, None)  # a null deeper price: an empty level
    res = engine().run(bad, on_bad="skip", record_features=True)
    assert res.skipped == 2
    feats = features.compute(bad, on_bad="skip")
    assert feats.height == 998
    mask = ~np.isin(np.arange(1000), [200, 400])
    assert res.features is not None
    assert_features_close(feats.select(W.feature_names).to_numpy(), res.features[mask])
    # Stopping at bad rows, both name the same one.
    with pytest.raises(ValueError, match=r"row 200, column `ask_sz_2`"):
        engine().run(bad)
    with pytest.raises(ValueError, match=r"row 200, column `ask_sz_2`"):
        features.compute(bad)


def test_cli_c2c_on_one_core_is_a_bad_parameter() -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    res = CliRunner().invoke(app, ["c2c", "--cores", "0,0"])
    assert res.exit_code == 2, res.output
    # Rich wraps the message in a box: compare its words.
    assert "two different cores" in " ".join(res.output.replace("│", " ").split())
