"""A folder's parts are read in time order, and every stage that skips rows says how many.

Part files named ``part-1`` … ``part-11`` sort ``part-10`` before ``part-2``: read in name
order, the feed went back in time at each such boundary, and ``on_bad="skip"`` dropped most
of it (training kept 884 of 5 500 rows, exit 0, without a word).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import lobflow
from lobflow import features
from lobflow._feed import read_books, scan_books
from lobflow._skipped import WARN_ABOVE_PERCENT
from lobflow.backtest import BacktestConfig
from lobflow.cli import app
from lobflow.collect.simbook import simulate_books
from lobflow.train import fit
from tests.books import make_books

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ROWS, PARTS = 5_500, 11
CFG = BacktestConfig(cores=(0, 1))


def _parts(root: Path, df: pl.DataFrame, *, hive: bool = True) -> Path:
    """`df` cut into PARTS consecutive files named part-1 … part-11 (name order is not time)."""
    folder = root / "exchange=sim" / "symbol=BTC-USDT" if hive else root
    folder.mkdir(parents=True)
    size = df.height // PARTS
    for i in range(PARTS):
        chunk = df.slice(i * size, size if i < PARTS - 1 else None)
        chunk.drop("exchange", "symbol", strict=False).write_parquet(
            folder / f"part-{i + 1}.parquet"
        )
    return root


@pytest.fixture(scope="module")
def sim() -> pl.DataFrame:
    return simulate_books(ROWS, seed=11, imbalance_edge=0.45)


@pytest.mark.parametrize("hive", [True, False])
def test_parts_are_read_in_time_order_not_name_order(
    tmp_path: Path, sim: pl.DataFrame, hive: bool
) -> None:
    root = _parts(tmp_path / "books", sim, hive=hive)
    df = read_books(root)
    assert df.height == ROWS
    assert df["ts"].to_list() == sim["ts"].to_list()
    assert features.compute(root, (1000, 2000, 5000), on_bad="skip").height == ROWS
    res = lobflow.Engine(lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18), cores=(0, 1)).run(
        root
    )
    assert (res.n, res.skipped) == (ROWS, 0)


def test_parts_of_several_feeds_keep_each_feed_in_time_order(tmp_path: Path) -> None:
    root = tmp_path / "books"
    for symbol, seed in (("BTC-USDT", 1), ("ETH-USDT", 2)):
        feed = make_books(1_100, seed=seed, symbol=symbol)
        folder = root / "exchange=test" / f"symbol={symbol}"
        folder.mkdir(parents=True)
        for i in range(PARTS):
            part = feed.slice(i * 100, 100).drop("exchange", "symbol")
            part.write_parquet(folder / f"part-{i + 1}.parquet")
    df = read_books(root)
    for (symbol,), feed in df.group_by("symbol", maintain_order=True):
        assert feed["ts"].is_sorted(), symbol
        assert feed.height == 1_100
    # Feeds stay whole, one after the other, as their folders sort.
    assert df["symbol"].rle_id().max() == 1


def test_training_on_parts_keeps_every_row(tmp_path: Path, sim: pl.DataFrame) -> None:
    root = _parts(tmp_path / "books", sim)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no threshold makes money", lobflow.LobflowWarning)
        r = fit(root, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=CFG)
    assert (r.metrics.rows.input, r.metrics.rows.skipped) == (ROWS, 0)


def _with_bad_rows(df: pl.DataFrame, bad: int) -> pl.DataFrame:
    """`df` with `bad` rows, spread out, crossed (bid above ask)."""
    rows = np.linspace(1, df.height - 1, bad, dtype=np.int64)
    crossed = pl.int_range(pl.len()).is_in(rows.tolist())
    return df.with_columns(
        bid_px_0=pl.when(crossed).then(pl.col("ask_px_0") + 1.0).otherwise(pl.col("bid_px_0"))
    )


def _compute(df: pl.DataFrame, tmp: Path) -> Any:
    return features.compute(df, on_bad="skip")


def _sink(df: pl.DataFrame, tmp: Path) -> Any:
    return features.sink(df, tmp / "f.parquet", on_bad="skip", slice_rows=300)


def _engine(df: pl.DataFrame, tmp: Path) -> Any:
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
    return lobflow.Engine(w, cores=(0, 1)).run(df, on_bad="skip")


STAGES: dict[str, Callable[[pl.DataFrame, Path], Any]] = {
    "features.compute": _compute,
    "features.sink": _sink,
    "the run": _engine,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_warns_above_the_same_share_of_skipped_rows(tmp_path: Path, stage: str) -> None:
    df = make_books(1_000, seed=5)
    at_limit = _with_bad_rows(df, 10 * WARN_ABOVE_PERCENT)  # 100 of 1 000: not above
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        STAGES[stage](at_limit, tmp_path)
    above = _with_bad_rows(df, 10 * WARN_ABOVE_PERCENT + 1)
    with pytest.warns(lobflow.LobflowWarning, match=rf"^{stage} skipped 101 of its 1,000 rows"):
        STAGES[stage](above, tmp_path)


def test_training_says_how_many_rows_it_skipped(sim: pl.DataFrame) -> None:
    bad = _with_bad_rows(sim, 1_100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fit(bad, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=CFG)
    said = [str(w.message) for w in caught if issubclass(w.category, lobflow.LobflowWarning)]
    assert any(m.startswith("training skipped 1,100 of its 5,500 rows (20%)") for m in said), said
    assert (r.metrics.rows.input, r.metrics.rows.skipped) == (ROWS, 1_100)


def test_the_features_command_says_how_many_rows_it_skipped(tmp_path: Path) -> None:
    books = tmp_path / "books.parquet"
    _with_bad_rows(make_books(1_000, seed=6), 30).write_parquet(books)
    res = CliRunner().invoke(
        app, ["features", str(books), "--out", str(tmp_path / "f.parquet"), "--on-bad", "skip"]
    )
    assert res.exit_code == 0, res.output
    assert "skipped 30 of its 1,000 rows (3%)" in " ".join(res.output.split())


def test_the_run_command_says_how_many_rows_it_skipped(tmp_path: Path) -> None:
    books = tmp_path / "books.parquet"
    _with_bad_rows(make_books(1_000, seed=6), 30).write_parquet(books)
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18).save(tmp_path / "w.txt")
    args = ["run", str(books), "--weights", str(w), "--cores", "0,1", "--on-bad", "skip"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "(30 skipped)" in " ".join(res.output.split())


def test_scan_books_lists_nothing_but_parquet(tmp_path: Path, sim: pl.DataFrame) -> None:
    root = _parts(tmp_path / "books", sim.head(1_100))
    (root / "notes.txt").write_text("not books")
    assert scan_books(root).collect().height == 1_100
