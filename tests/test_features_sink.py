"""features.sink: slice by slice, the same rows, order and values as features.compute."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import features
from tests.books import make_books
from tests.oracle import assert_features_close

if TYPE_CHECKING:
    from pathlib import Path


def interleaved(n: int) -> pl.DataFrame:
    a = make_books(n, seed=11, symbol="A")
    b = make_books(n, seed=12, symbol="B", price_scale="tiny")
    return pl.concat([a, b]).sort("ts", maintain_order=True)


def assert_same(got: pl.DataFrame, want: pl.DataFrame, windows: tuple[int, int, int]) -> None:
    assert got.columns == want.columns
    assert got.select("ts", "symbol").equals(want.select("ts", "symbol"))
    names = lobflow.feature_names(windows)
    assert_features_close(got.select(names).to_numpy(), want.select(names).to_numpy())


@pytest.mark.parametrize("windows", [(10, 20, 50), (1000, 2000, 5000)])
@pytest.mark.parametrize("slice_rows", [3, 97, 5000])
def test_slices_equal_one_pass(
    tmp_path: Path, windows: tuple[int, int, int], slice_rows: int
) -> None:
    # 3-row slices put boundaries inside bursts and duplicate timestamps; 5-s windows
    # reach back over many slices.
    books = interleaved(150 if slice_rows == 3 else 2000)
    out = tmp_path / "f.parquet"
    n = features.sink(books, out, windows, slice_rows=slice_rows)
    assert n == books.height
    assert_same(pl.read_parquet(out), features.compute(books, windows), windows)
    assert [p.name for p in tmp_path.iterdir()] == ["f.parquet"]  # no temp file left


def test_skip_drops_the_same_rows_across_slice_boundaries(tmp_path: Path) -> None:
    books = interleaved(1500)
    row = pl.int_range(pl.len())
    bad = books.with_columns(
        # a crossed book, and a time going back right at the start of a slice (row 200)
        bid_px_0=pl.when(row == 57).then(1e12).otherwise(pl.col("bid_px_0")),
        ts=pl.when(row == 200).then(pl.col("ts") - 10_000_000_000).otherwise(pl.col("ts")),
    )
    out = tmp_path / "f.parquet"
    n = features.sink(bad, out, on_bad="skip", slice_rows=100)
    want = features.compute(bad, on_bad="skip")
    assert n == want.height < bad.height
    assert_same(pl.read_parquet(out), want, (10, 20, 50))


def test_raise_names_the_input_row_and_leaves_no_file(tmp_path: Path) -> None:
    books = interleaved(1000)
    bad = books.with_columns(
        ask_sz_2=pl.when(pl.int_range(pl.len()) == 1234).then(-1.0).otherwise(pl.col("ask_sz_2"))
    )
    out = tmp_path / "f.parquet"
    with pytest.raises(ValueError, match=r"row 1234, column `ask_sz_2`"):
        features.sink(bad, out, slice_rows=100)
    assert list(tmp_path.iterdir()) == []


def test_one_feed_without_keys_and_an_empty_result(tmp_path: Path) -> None:
    books = make_books(3000, seed=13).drop("exchange", "symbol")
    out = tmp_path / "f.parquet"
    assert features.sink(books.lazy(), out, slice_rows=250) == 3000
    got, want = pl.read_parquet(out), features.compute(books)
    assert got.columns == want.columns
    diff = np.abs(got.drop("ts").to_numpy() - want.drop("ts").to_numpy()).max()
    assert diff < 1e-9
    crossed = books.with_columns(bid_px_0=pl.col("ask_px_0") + 1.0)
    with pytest.warns(lobflow.LobflowWarning, match=r"skipped 3,000 of its 3,000 rows"):
        assert features.sink(crossed, out, on_bad="skip") == 0
    empty = pl.read_parquet(out)
    assert empty.height == 0
    assert empty.columns == want.columns


def test_bad_arguments(tmp_path: Path) -> None:
    books = make_books(10, seed=1)
    with pytest.raises(ValueError, match="slice_rows"):
        features.sink(books, tmp_path / "f.parquet", slice_rows=0)
    with pytest.raises(ValueError, match="missing column"):
        features.sink(books.drop("bid_sz_3"), tmp_path / "f.parquet")
