"""polars features == the NumPy oracle == the Rust engine, per feed, without look-ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import features
from tests.books import make_books
from tests.oracle import assert_features_close, oracle_features

if TYPE_CHECKING:
    from pathlib import Path

WINDOWS = [(10, 20, 50), (1000, 2000, 5000)]


def matrix(df: pl.DataFrame, windows: tuple[int, int, int]) -> np.ndarray:
    return df.select(lobflow.feature_names(windows)).to_numpy()


@pytest.mark.parametrize("scale", ["btc", "tiny"])
@pytest.mark.parametrize("windows", WINDOWS)
def test_matches_oracle(scale: str, windows: tuple[int, int, int]) -> None:
    df = make_books(5000, seed=11, price_scale=scale)  # type: ignore[arg-type]
    assert_features_close(
        matrix(features.compute(df, windows), windows), oracle_features(df, windows)
    )


@pytest.mark.parametrize("scale", ["btc", "tiny"])
@pytest.mark.parametrize("windows", WINDOWS)
def test_matches_engine(scale: str, windows: tuple[int, int, int]) -> None:
    df = make_books(5000, seed=12, price_scale=scale)  # type: ignore[arg-type]
    w = lobflow.Weights(windows, 0.0, 0.0, (0.0,) * 18)
    res = lobflow.Engine(w, cores=(0, 1)).run(df, record_features=True)
    assert res.features is not None
    assert_features_close(matrix(features.compute(df, windows), windows), res.features)


def test_matches_engine_on_real_books(shared_data: Path) -> None:
    for path in sorted(shared_data.glob("*.parquet")):
        df = pl.read_parquet(path)
        w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
        res = lobflow.Engine(w, cores=(0, 1)).run(df, record_features=True)
        assert res.features is not None
        assert_features_close(matrix(features.compute(df), (10, 20, 50)), res.features)


def test_feeds_never_mix() -> None:
    a = make_books(800, seed=1, symbol="A")
    b = make_books(800, seed=2, symbol="B", price_scale="eth")
    # Interleave the two feeds by time, as a collector writes them.
    both = pl.concat([a, b]).sort("ts", maintain_order=True)
    out = features.compute(both)
    for sym, part in (("A", a), ("B", b)):
        got = out.filter(pl.col("symbol") == sym)
        assert_features_close(matrix(got, (10, 20, 50)), oracle_features(part))


def test_later_equal_timestamps_do_not_leak_back() -> None:
    df = make_books(3, seed=1).with_columns(
        ts=pl.Series([5, 5, 5]),
        ask_px_0=pl.Series([90_000.02, 90_000.05, 90_000.11]),
        bid_px_0=pl.Series([90_000.01] * 3),
    )
    got = features.compute(df)["rolling_spread_10ms"].to_numpy()
    np.testing.assert_allclose(got, [0.01, 0.025, 0.05], rtol=1e-9)


def test_appending_future_rows_changes_nothing_before() -> None:
    df = make_books(3000, seed=5)
    head = features.compute(df.head(2000))
    full = features.compute(df).head(2000)
    assert head.equals(full)


def test_inputs_forms(tmp_path: Path) -> None:
    df = make_books(1000, seed=3)
    base = features.compute(df)
    hive = tmp_path / "processed" / "exchange=test" / "symbol=BTC-USDT"
    hive.mkdir(parents=True)
    df.drop("exchange", "symbol").write_parquet(hive / "part-0.parquet")
    assert (
        features.compute(tmp_path / "processed")
        .select(lobflow.FEATURE_NAMES)
        .equals(base.select(lobflow.FEATURE_NAMES))
    )
    lazy = features.compute(df.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect(engine="streaming").equals(base)


def test_column_types_are_converted_or_refused() -> None:
    """Datetime `ts` of any unit and float32 books give the int64-ns / float64 numbers."""
    df = make_books(500, seed=4)
    base = features.compute(df)
    us = df.with_columns(
        (pl.col("ts") // 1000 * 1000).cast(pl.Datetime("ns")).dt.cast_time_unit("us")
    )
    as_int = features.compute(df.with_columns(ts=pl.col("ts") // 1000 * 1000))
    assert features.compute(us).drop("ts").equals(as_int.drop("ts"))
    f32 = df.with_columns(pl.col(c).cast(pl.Float32) for c in features.BOOK_COLUMNS if "sz" in c)
    want = features.compute(
        df.with_columns(
            pl.col(c).cast(pl.Float32).cast(pl.Float64) for c in features.BOOK_COLUMNS if "sz" in c
        )
    )
    assert features.compute(f32).equals(want)
    assert not base.equals(want)
    # Decimal books, as a database export may bring them: the Float64 numbers, in both modes
    # (the skip filter's `is_finite` once raised on them).
    rounded = df.with_columns(pl.col("^(bid|ask)_px_.*$").round(2))
    dec = rounded.with_columns(pl.col("bid_px_0", "ask_px_0").cast(pl.Decimal(18, 2)))
    for on_bad in ("raise", "skip"):
        got = features.compute(dec, on_bad=on_bad)
        assert got.equals(features.compute(rounded, on_bad=on_bad)), on_bad
    with pytest.raises(ValueError, match="`bid_sz_3` must be numeric"):
        features.compute(df.with_columns(bid_sz_3=pl.lit("x")))
    with pytest.raises(ValueError, match="`ts` must be int64"):
        features.compute(df.with_columns(ts=pl.col("ts").cast(pl.Float64)))
    nulls = df.with_columns(
        ask_sz_2=pl.when(pl.int_range(pl.len()) == 17).then(None).otherwise("ask_sz_2")
    )
    with pytest.raises(ValueError, match=r"row 17, column `ask_sz_2`: null"):
        features.compute(nulls)
    assert features.compute(nulls, on_bad="skip").height == df.height - 1


def test_a_uint64_ts_beyond_int64_is_named_as_the_engine_names_it(tmp_path: Path) -> None:
    df = make_books(300, seed=1)
    unsigned = df.with_columns(pl.col("ts").cast(pl.UInt64))
    assert features.compute(unsigned).equals(features.compute(df))  # in range: converted
    beyond = unsigned.with_columns(
        pl.when(pl.int_range(pl.len()) >= 77)
        .then(pl.lit(2**63 + 5, dtype=pl.UInt64))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    want = r"^bad books at row 77, column `ts`: 9223372036854775813 ns is beyond int64"
    for on_bad in ("raise", "skip"):
        with pytest.raises(ValueError, match=want):
            features.compute(beyond, on_bad=on_bad)
        with pytest.raises(ValueError, match=want):
            features.compute(beyond.lazy(), on_bad=on_bad)
        with pytest.raises(ValueError, match=want):
            features.sink(beyond, tmp_path / "out.parquet", on_bad=on_bad)
    assert not (tmp_path / "out.parquet").exists()


def test_a_microsecond_datetime_past_2262_is_named_and_null_columns_are_nulls() -> None:
    df = make_books(300, seed=1)
    late = df.with_columns(
        pl.when(pl.int_range(pl.len()) >= 40)
        .then(pl.lit(9_300_000_000_000_000, dtype=pl.Int64))
        .otherwise(pl.col("ts") // 1_000)
        .cast(pl.Datetime("us"))
        .alias("ts")
    )
    want = r"^bad books at row 40, column `ts`: 9300000000000000 us is beyond int64 nanoseconds$"
    with pytest.raises(ValueError, match=want):
        features.compute(late)
    # Deep prices feed nothing: an all-null one of polars' Null type is no error, as a Float64 one.
    null_typed = features.compute(df.with_columns(pl.lit(None).alias("bid_px_4")))
    as_float = features.compute(df.with_columns(pl.lit(None, dtype=pl.Float64).alias("bid_px_4")))
    assert null_typed.equals(as_float)


@pytest.mark.parametrize("key", [pl.Categorical(), pl.Enum(["A", "B"])])
def test_categorical_feed_keys_are_keys(key: pl.DataType) -> None:
    # The plugin's polars has no dictionary columns: these keys made it panic.
    books = pl.concat(
        [make_books(300, seed=8, symbol="A"), make_books(200, seed=9, symbol="B")]
    ).sort("ts", maintain_order=True)
    want = features.compute(books)
    got = features.compute(books.with_columns(pl.col("symbol").cast(key)))
    assert got.drop("symbol").equals(want.drop("symbol"))


@pytest.mark.parametrize("on_bad", ["raise", "skip"])
def test_lazy_and_eager_plans_for_several_feeds_agree(on_bad: Literal["raise", "skip"]) -> None:
    """A lazy and an eager plan for the same interleaved feeds give the same numbers."""
    a = make_books(700, seed=5, symbol="A")
    b = make_books(700, seed=6, symbol="B", price_scale="tiny")
    c = make_books(300, seed=7).with_columns(symbol=pl.lit(None, dtype=pl.String))
    both = pl.concat([a, b, c]).sort("ts", maintain_order=True)
    eager = features.compute(both, on_bad=on_bad)
    lazy = features.compute(both.lazy(), on_bad=on_bad).collect()
    assert lazy.select("ts", "symbol").equals(eager.select("ts", "symbol"))
    assert_features_close(matrix(lazy, (10, 20, 50)), matrix(eager, (10, 20, 50)))


def test_output_columns() -> None:
    out = features.compute(make_books(10, seed=1), (1000, 2000, 5000))
    assert out.columns == ["ts", "exchange", "symbol", *lobflow.feature_names((1000, 2000, 5000))]
    assert all(out[c].dtype == pl.Float64 for c in out.columns[3:])


def test_bad_rows_raise_or_skip() -> None:
    df = make_books(100, seed=1)
    bad = df.with_columns(
        bid_px_0=pl.when(pl.int_range(pl.len()) == 40).then(1e9).otherwise(pl.col("bid_px_0"))
    )
    with pytest.raises(ValueError, match=r"row 40, column `ask_px_0`"):
        features.compute(bad)
    skipped = features.compute(bad, on_bad="skip")
    assert skipped.height == 99
    kept = df.with_row_index().filter(pl.col("index") != 40).drop("index")
    assert skipped.equals(features.compute(kept))
    with pytest.raises(ValueError, match="missing column"):
        features.compute(df.drop("ask_sz_4"))


def test_labels_use_the_first_snapshot_at_or_after_the_horizon() -> None:
    df = pl.DataFrame(
        {"ts": [0, 400, 1000, 1000, 1600], "bid_px_0": [99.0, 100.0, 101.0, 102.0, 103.0]}
    ).with_columns(ask_px_0=pl.col("bid_px_0") + 2.0)
    got = features.labels(df, 1000)
    assert isinstance(got, pl.DataFrame)
    mids = [100.0, 101.0, 102.0, 103.0, 104.0]
    expect = [
        (mids[2] - mids[0]) / mids[0] * 1e4,
        (mids[4] - mids[1]) / mids[1] * 1e4,
        None,
        None,
        None,
    ]
    assert got["fwd_ret_bps"].to_list() == expect


def test_one_feed_with_keys_equals_no_keys() -> None:
    df = make_books(2000, seed=8)
    assert (
        features.compute(df)
        .drop("exchange", "symbol")
        .equals(features.compute(df.drop("exchange", "symbol")))
    )


def test_a_null_key_is_a_feed_of_its_own() -> None:
    a = make_books(500, seed=1)
    b = make_books(500, seed=2).with_columns(symbol=pl.lit(None, dtype=pl.String))
    out = features.compute(pl.concat([a, b]).sort("ts", maintain_order=True))
    got = out.filter(pl.col("symbol").is_null())
    assert_features_close(matrix(got, (10, 20, 50)), oracle_features(b))


def test_cli_writes_the_features(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    df = make_books(1500, seed=9)
    src, out = tmp_path / "books.parquet", tmp_path / "f.parquet"
    df.write_parquet(src)
    args = ["features", str(src), "--out", str(out), "--windows-ms", "1000,2000,5000"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(out).equals(features.compute(df, (1000, 2000, 5000)))
    bad = df.with_columns(ask_sz_3=pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise(1.0))
    bad.write_parquet(src)
    res = CliRunner().invoke(app, ["features", str(src), "--out", str(out)])
    assert res.exit_code == 1
    assert "row 7, column `ask_sz_3`" in res.output


def test_lazy_results_name_the_bad_row_when_collected() -> None:
    """A lazy plan stays lazy: its bad rows surface at collect, named as in the eager case."""
    df = make_books(100, seed=1)
    crossed = df.with_columns(
        bid_px_0=pl.when(pl.int_range(pl.len()) == 40).then(1e9).otherwise(pl.col("bid_px_0"))
    )
    backwards = pl.concat([df.tail(50), df.head(50)])
    null_ts = df.with_columns(ts=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("ts"))
    for bad, message in (
        (crossed, r"row 40, column `ask_px_0`: crossed"),
        (backwards, r"row 50, column `ts`: timestamp decreases"),
        (null_ts, r"row 3, column `ts`: null"),
    ):
        plan = features.compute(bad.lazy())
        with pytest.raises(pl.exceptions.ComputeError, match=message):
            plan.collect()
        with pytest.raises(ValueError, match=message):
            features.compute(bad)


def test_skipped_rows_of_interleaved_feeds_move_the_feed_boundaries() -> None:
    """A feed whose first row is crossed starts at its second; a row back in time is dropped."""
    a = make_books(600, seed=3, symbol="A")
    b = make_books(600, seed=4, symbol="B", price_scale="eth")
    nth = pl.int_range(pl.len()).over("symbol")
    both = pl.concat([a, b]).sort("ts", maintain_order=True)
    both = both.with_columns(
        bid_px_0=pl.when((pl.col("symbol") == "A") & (nth == 0))
        .then(1e12)
        .otherwise(pl.col("bid_px_0")),
        ts=pl.when((pl.col("symbol") == "B") & (nth == 300)).then(0).otherwise(pl.col("ts")),
    )
    out = features.compute(both, on_bad="skip")
    assert out.height == 1198
    for sym, kept in (("A", a.slice(1)), ("B", b.filter(pl.int_range(pl.len()) != 300))):
        got = out.filter(pl.col("symbol") == sym)
        assert got["ts"].equals(kept["ts"])
        assert_features_close(matrix(got, (10, 20, 50)), oracle_features(kept))
    # Under "raise" the error names the row of the input, not of the sorted feeds.
    row = both.with_row_index().filter((pl.col("symbol") == "A") & (pl.col("bid_px_0") > 1e11))
    with pytest.raises(ValueError, match=rf"row {row['index'][0]}, column `ask_px_0`"):
        features.compute(both)


def test_labels_stay_inside_their_feed() -> None:
    df = pl.DataFrame(
        {
            "ts": [0, 0, 500, 500, 1000, 1000],
            "symbol": ["A", "B", "A", "B", "A", "B"],
            "bid_px_0": [100.0, 10.0, 101.0, 11.0, 102.0, 12.0],
        }
    ).with_columns(ask_px_0=pl.col("bid_px_0") + 2.0)
    got = features.labels(df, 1000)
    assert isinstance(got, pl.DataFrame)
    assert got.columns == [*df.columns, "fwd_ret_bps", "fwd_ts"]
    assert got["fwd_ret_bps"].to_list()[:2] == [2 / 101 * 1e4, 2 / 11 * 1e4]
    assert got["fwd_ts"].to_list() == [1000, 1000, None, None, None, None]
    with pytest.raises(ValueError, match="decreases within its feed at row 3"):
        features.labels(df.with_columns(ts=pl.Series([0, 0, 500, -1, 1000, 1000])), 1000)
