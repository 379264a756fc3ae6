"""`backtest.run(books, signals)` checks both: signals are -1, 0 or 1, and the feed's rows are
the engine's own (`Feed::check_row`), each error naming its row."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from lobflow import backtest
from lobflow.backtest import BacktestConfig
from tests.books import make_books

BOOKS = make_books(400, seed=8)
CFG = BacktestConfig(cores=(0, 1))


def _signals(values: Any = 0, dtype: Any = np.int8) -> np.ndarray:
    return np.full(BOOKS.height, values, dtype=dtype)


def _at(a: np.ndarray, row: int, value: Any) -> np.ndarray:
    a = a.copy()
    a[row] = value
    return a


@pytest.mark.parametrize(
    ("signals", "row", "shown"),
    [
        (_at(_signals(0.0, np.float64), 7, 0.9), 7, "0.9"),
        (_at(_signals(0, np.int64), 3, 300), 3, "300"),
        (_at(_signals(0, np.int64), 11, -2), 11, "-2"),
        (_at(_signals(1.0, np.float64), 5, np.nan), 5, "nan"),
        (_at(_signals(0, np.uint16), 9, 255), 9, "255"),
    ],
)
def test_a_signal_other_than_minus_one_zero_or_one_names_its_row(
    signals: np.ndarray, row: int, shown: str
) -> None:
    with pytest.raises(ValueError, match=rf"^signals must be -1, 0 or 1: row {row} is {shown}"):
        backtest.run(BOOKS, signals, CFG)


def test_float_signals_that_are_whole_directions_are_taken() -> None:
    rng = np.random.default_rng(1)
    ints = rng.integers(-1, 2, BOOKS.height).astype(np.int8)
    a = backtest.run(BOOKS, ints, CFG)
    b = backtest.run(BOOKS, ints.astype(np.float64), CFG)
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(b.signals, ints)


def test_signals_as_a_list_or_a_series_are_signals_not_a_weights_path() -> None:
    # A list went to Weights.load and failed as "expected str, bytes or os.PathLike object".
    rng = np.random.default_rng(2)
    ints = rng.integers(-1, 2, BOOKS.height).astype(np.int8)
    want = backtest.run(BOOKS, ints, CFG).metrics
    assert backtest.run(BOOKS, ints.tolist(), CFG).metrics == want
    assert backtest.run(BOOKS, pl.Series(ints), CFG).metrics == want
    with pytest.raises(ValueError, match=r"^signals must be -1, 0 or 1: row 4 is 2"):
        backtest.run(BOOKS, _at(ints, 4, 2).tolist(), CFG)


def test_boolean_or_misshapen_signals_are_refused() -> None:
    with pytest.raises(TypeError, match="got an array of bool"):
        backtest.run(BOOKS, _signals(True, np.bool_), CFG)
    with pytest.raises(ValueError, match=r"1-D"):
        backtest.run(BOOKS, np.zeros((BOOKS.height, 2), dtype=np.int8), CFG)


# The feed's rows: these wait for `_core.backtest` to run `Feed::check_row` on every row (and
# `check_row` to take a level-0 price <= 0 for a bad row).


def _with(column: str, row: int, value: Any) -> pl.DataFrame:
    return BOOKS.with_columns(
        pl.when(pl.int_range(pl.len()) == row)
        .then(pl.lit(value, dtype=BOOKS.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
    )


CROSSED = BOOKS.with_columns(
    bid_px_0=pl.when(pl.int_range(pl.len()) == 40)
    .then(pl.col("ask_px_0") + 10.0)
    .otherwise(pl.col("bid_px_0"))
)


@pytest.mark.parametrize(
    ("feed", "row", "column", "why"),
    [
        (CROSSED, 40, "ask_px_0", "crossed"),
        (_with("bid_px_0", 41, float("nan")), 41, "bid_px_0", "NaN"),
        (_with("ask_sz_0", 42, float("inf")), 42, "ask_sz_0", "infinite"),
        (_with("ts", 43, 0), 43, "ts", "decreases"),
        (_with("bid_px_0", 44, -5.0), 44, "bid_px_0", "zero or negative"),
        (_with("bid_px_0", 45, 0.0), 45, "bid_px_0", "zero or negative"),
    ],
)
def test_a_bad_row_in_the_feed_is_named_with_signals_given(
    feed: pl.DataFrame, row: int, column: str, why: str
) -> None:
    with pytest.raises(ValueError, match=rf"row {row}, column `{column}`: .*{why}"):
        backtest.run(feed, _signals(1), CFG)


def test_reversed_timestamps_are_refused_not_simulated() -> None:
    reversed_feed = BOOKS.reverse()
    first = int(np.flatnonzero(np.diff(reversed_feed["ts"].to_numpy()) < 0)[0]) + 1
    with pytest.raises(ValueError, match=rf"row {first}, column `ts`: .*decreases"):
        backtest.run(reversed_feed, _signals(1), CFG)
