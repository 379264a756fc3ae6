"""`backtest.Books`: books read and checked once, then run on many times without re-checking.

That a run on `Books` equals the run on the frame, to the bit, is checked for every feed of
`tests/test_backtest_fast_path.py`; here, what makes skipping the checks sound (the copy) and
what is still checked (the signals, the configuration).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lobflow import backtest
from lobflow.errors import BacktestError
from tests.books import make_books


def _cfg() -> backtest.BacktestConfig:
    return backtest.BacktestConfig(order_size=0.5, max_position=1.0)


def _signals(n: int) -> np.ndarray:
    return np.where(np.arange(n) // 40 % 2 == 0, 1, -1).astype(np.int8)


def test_later_changes_to_the_input_do_not_reach_checked_books() -> None:
    frame = make_books(800, seed=11)
    arr = frame.drop("exchange", "symbol").to_numpy(structured=True)
    checked = backtest.Books(arr)
    before = backtest.run(checked, _signals(800), _cfg())
    # A NaN and a crossed book written into the array the books came from.
    arr["bid_px_0"][100] = np.nan
    arr["ask_px_0"][200] = 1.0
    with pytest.raises(ValueError, match="row 100"):
        backtest.run(arr, _signals(800), _cfg())
    after = backtest.run(checked, _signals(800), _cfg())
    assert after.metrics == before.metrics or str(after.metrics) == str(before.metrics)
    assert np.array_equal(after.equity, before.equity)
    assert not checked.ts.flags.writeable
    assert not any(a.flags.writeable for a in checked.level0)
    assert len(checked) == 800
    assert repr(checked) == "Books(800 snapshots)"


def test_bad_books_are_refused_when_read_naming_the_row() -> None:
    frame = make_books(300, seed=12)
    bad = frame.with_columns(
        frame["ask_sz_2"].scatter(217, -1.0),
    )
    with pytest.raises(ValueError, match=r"row 217, column `ask_sz_2`") as on_books:
        backtest.Books(bad)
    with pytest.raises(ValueError, match="row 217") as on_frame:
        backtest.run(bad, np.zeros(300, np.int8), _cfg())
    assert str(on_books.value) == str(on_frame.value)


def test_signals_and_config_are_still_checked() -> None:
    checked = backtest.Books(make_books(300, seed=13))
    signals = np.zeros(300, np.int8)
    signals[123] = 3
    with pytest.raises(ValueError, match="row 123 is 3"):
        backtest.run(checked, signals, _cfg())
    with pytest.raises(BacktestError, match="299 signals for 300 rows"):
        backtest.run(checked, np.zeros(299, np.int8), _cfg())
    with pytest.raises(ValueError, match="order_size"):
        backtest.run(checked, np.zeros(300, np.int8), backtest.BacktestConfig(order_size=0.0))


def test_a_result_keeps_its_lazy_parts_through_pickle() -> None:
    # Sweeps send results between processes: the path and frames are built on either side.
    res = backtest.run(backtest.Books(make_books(500, seed=14)), _signals(500), _cfg())
    back = pickle.loads(pickle.dumps(res))
    assert np.array_equal(back.position, res.position)
    assert back.fills.equals(res.fills)
    assert back.per_day.equals(res.per_day)
