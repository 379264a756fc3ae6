"""Bad input gets a clear error naming what and where; `on_bad="skip"` keeps outputs aligned."""

from __future__ import annotations

import _thread
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import lobflow
from tests.books import make_books

if TYPE_CHECKING:
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


def test_weights_errors_carry_path_and_line(tmp_path: Path) -> None:
    p = tmp_path / "w.txt"
    p.write_text(W.to_text().replace("ofi 0.5", "ofi nan"))
    with pytest.raises(lobflow.WeightsFormatError, match=rf"{p}:7: `ofi` must be finite"):
        lobflow.Engine(p, cores=CORES)


def test_worker_panic_is_an_engine_error_and_the_interpreter_survives() -> None:
    from lobflow._feed import engine_columns

    cols = engine_columns(make_books(1000, seed=1))
    inner = lobflow._core.Engine(W.to_text(), "<test>", 1024, CORES)
    with pytest.raises(lobflow.EngineError, match="injected worker panic at row 500"):
        inner.run(cols.ts, cols.cols, panic_at_row=500)
    assert len(engine().run(make_books(10)).scores) == 10


def test_ctrl_c_stops_a_long_run_promptly() -> None:
    df = make_books(100_000, seed=1)  # paced at 1 ms: 100 s if not interrupted
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        engine().run(df, pace_ns=1_000_000)
    timer.join()
    assert time.perf_counter() - t0 < 5


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
            {
                "mode": "taker",
                "order_size": 0.0,
                "max_position": 1.0,
                "on_zero": "hold",
                "min_hold_ns": 0,
                "md_latency_ns": 0,
                "order_latency_ns": 0,
                "taker_fee_bps": 0.0,
                "maker_fee_bps": 0.0,
            },
        )


def test_latency_histogram_holds_every_timed_tick() -> None:
    res = engine().run(make_books(3000, seed=2), pace_ns=5_000)
    assert sum(c for _, c in res.latency_buckets) == res.raw["latency_count"] == 3000
    bounds = [v for v, _ in res.latency_buckets]
    assert bounds == sorted(bounds)
    assert bounds[-1] >= res.latency_ns["max"] / 1.25
