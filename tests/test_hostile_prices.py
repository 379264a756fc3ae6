"""A level-0 price at or below zero is a bad row in the features and the engine alike.

Bids of -5 against asks of -4 are an uncrossed book, and were scored as one.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import features
from tests.books import make_books
from tests.oracle import assert_features_close

BOOKS = make_books(300, seed=9)
ROW = 120
W = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)


def _prices(bid: float, ask: float, row: int = ROW) -> pl.DataFrame:
    at = pl.int_range(pl.len()) == row
    return BOOKS.with_columns(
        bid_px_0=pl.when(at).then(pl.lit(bid)).otherwise(pl.col("bid_px_0")),
        ask_px_0=pl.when(at).then(pl.lit(ask)).otherwise(pl.col("ask_px_0")),
    )


NON_POSITIVE = [(-5.0, -4.0), (0.0, 1.0), (-1.0, 0.0), (-0.0, 0.5)]


@pytest.mark.parametrize(("bid", "ask"), NON_POSITIVE)
def test_features_skip_a_non_positive_price_as_a_bad_row(bid: float, ask: float) -> None:
    got = features.compute(_prices(bid, ask), on_bad="skip")
    want = features.compute(BOOKS.filter(pl.int_range(pl.len()) != ROW))
    assert got.equals(want)


# These wait for `Feed::check_row` (the engine's, the feature kernel's and the backtest's row
# check) to take a level-0 price <= 0 for a bad row: "price is zero or negative".


@pytest.mark.parametrize(("bid", "ask"), NON_POSITIVE)
def test_features_name_a_non_positive_price(bid: float, ask: float) -> None:
    with pytest.raises(ValueError, match=rf"^bad books at row {ROW}, column `bid_px_0`: .*zero"):
        features.compute(_prices(bid, ask))


@pytest.mark.parametrize(("bid", "ask"), NON_POSITIVE)
def test_the_engine_names_and_skips_a_non_positive_price(bid: float, ask: float) -> None:
    feed = _prices(bid, ask)
    engine = lobflow.Engine(W, cores=(0, 1))
    with pytest.raises(ValueError, match=rf"^bad feed at row {ROW}, column `bid_px_0`: .*zero"):
        engine.run(feed)
    res = engine.run(feed, on_bad="skip", record_features=True)
    assert res.skipped == 1
    assert np.isnan(res.scores[ROW])
    assert res.signals[ROW] == 0


def test_the_engine_skips_what_the_features_skip() -> None:
    feed = _prices(-5.0, -4.0)
    res = lobflow.Engine(W, cores=(0, 1)).run(feed, on_bad="skip", record_features=True)
    kept = features.compute(feed, on_bad="skip")
    assert res.features is not None
    ok = ~np.isnan(res.scores)
    assert int(ok.sum()) == kept.height
    assert_features_close(res.features[ok], kept.select(W.feature_names).to_numpy())
