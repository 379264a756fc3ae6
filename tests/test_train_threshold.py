"""The threshold is the backtest's best on validation: same costs, never the test part."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import lobflow
from lobflow import backtest
from lobflow.cli import app
from lobflow.collect.simbook import simulate_books
from lobflow.data import SAMPLE
from lobflow.data.make_sample import PRICE, ROWS, SEED, TICK
from lobflow.train import TrainResult, fit, save_model
from lobflow.train._threshold import MIN_TRADES, NEVER

if TYPE_CHECKING:
    from pathlib import Path

CORES = (0, 1)
HORIZON = 1_000_000_000
WINDOWS = (1000, 2000, 5000)
# A large-tick market (one tick is 1 bps), as the bundled sample: there the edge pays for a
# spread crossed without fees.
BOOKS = simulate_books(40_000, seed=3, price=100.0, tick=0.01)


def costs(fee_bps: float) -> backtest.BacktestConfig:
    return backtest.BacktestConfig(taker_fee_bps=fee_bps, cores=CORES)


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return fit(BOOKS, horizon_ns=HORIZON, windows_ms=WINDOWS, execution=costs(0.0))


def test_the_threshold_is_the_validation_backtests_best(trained: TrainResult) -> None:
    m = trained.metrics
    assert m.trades
    curve = m.validation_curve
    row = curve.fees_bps.index(0.0)
    eligible = curve.trades[row] >= MIN_TRADES
    best = int(np.argmax(np.where(eligible, curve.pnl_bps[row], -np.inf)))
    assert m.threshold == curve.thresholds[best] == trained.weights.threshold
    assert m.validation.pnl_bps == curve.pnl_bps[row, best] > 0
    # The figures are those of `lobflow.backtest.run` with these weights and costs, the
    # engine scoring each part afresh: what a user's backtest of the same rows shows.
    t0, t1 = trained.split_ts["val_start"], trained.split_ts["test_start"]
    val = BOOKS.filter((pl.col("ts") >= t0) & (pl.col("ts") < t1))
    on_val = backtest.run(val, trained.weights, costs(0.0)).metrics
    assert (on_val.pnl_bps, on_val.trades) == pytest.approx(
        (m.validation.pnl_bps, m.validation.trades)
    )
    on_test = backtest.run(trained.test_rows(BOOKS), trained.weights, costs(0.0)).metrics
    assert (on_test.pnl_bps, on_test.trades) == pytest.approx(
        (m.test_trading.pnl_bps, m.test_trading.trades)
    )


def test_the_test_part_does_not_move_anything_trained(trained: TrainResult) -> None:
    # Turn the test part's queue imbalance upside down: were any of it used in training
    # (features, labels, the scaler, CV or the threshold), the weights would move.
    t1 = trained.split_ts["test_start"]
    later = pl.col("ts") >= t1
    flipped = BOOKS.with_columns(
        pl.when(later).then(pl.col("ask_sz_0")).otherwise(pl.col("bid_sz_0")).alias("bid_sz_0"),
        pl.when(later).then(pl.col("bid_sz_0")).otherwise(pl.col("ask_sz_0")).alias("ask_sz_0"),
    )
    again = fit(flipped, horizon_ns=HORIZON, windows_ms=WINDOWS, execution=costs(0.0))
    assert again.weights == trained.weights
    assert again.metrics.validation == trained.metrics.validation
    # ... while the test figures do see the change: the edge now points the wrong way.
    assert again.metrics.test.ic < 0 < trained.metrics.test.ic


def test_costs_nothing_pays_for_mean_no_trades() -> None:
    with pytest.warns(lobflow.LobflowWarning, match="no threshold makes money on validation"):
        r = fit(BOOKS, horizon_ns=HORIZON, windows_ms=WINDOWS, execution=costs(50.0))
    m = r.metrics
    assert (m.trades, m.threshold, r.weights.threshold) == (False, NEVER, NEVER)
    assert (m.validation.trades, m.test_trading.trades) == (0, 0)
    run = lobflow.Engine(r.weights, cores=CORES).run(r.test_rows(BOOKS))
    assert not run.signals.any()
    assert "never trades" in r.weights.to_text()


def test_metrics_json_holds_the_costs_and_the_curve(trained: TrainResult, tmp_path: Path) -> None:
    d = save_model(trained, tmp_path / "model")
    saved = json.loads((d / "metrics.json").read_text())
    assert saved["execution"]["mode"] == "taker"
    assert saved["execution"]["taker_fee_bps"] == 0.0
    assert saved["threshold"] == trained.weights.threshold
    curve = saved["validation_curve"]
    assert len(curve["pnl_bps"]) == len(curve["fees_bps"])
    assert all(len(row) == len(curve["thresholds"]) for row in curve["pnl_bps"])
    assert saved["test_trading"]["trades"] == trained.metrics.test_trading.trades


def test_cli_backtests_the_part_training_held_out(tmp_path: Path) -> None:
    books = tmp_path / "books.parquet"
    BOOKS.write_parquet(books)
    model = tmp_path / "model"
    common = ["--fee-bps", "0", "--cores", "0,1"]
    res = CliRunner().invoke(app, ["train", str(books), *common, "--out", str(model)])
    assert res.exit_code == 0, res.output
    assert "held-out test" in res.output
    args = ["backtest", str(books), "--weights", str(model / "weights.txt"), *common]
    res = CliRunner().invoke(app, [*args, "--held-out", str(model)])
    assert res.exit_code == 0, res.output
    saved = json.loads((model / "metrics.json").read_text())
    snapshots = next(ln for ln in res.output.splitlines() if "snapshots" in ln).split()
    held_out = BOOKS.filter(pl.col("ts") >= int(saved["test_start_ns"]))
    assert int(snapshots[-2].replace(",", "")) == held_out.height
    pnl_bps = next(ln for ln in res.output.splitlines() if "pnl_bps" in ln).split()
    assert float(pnl_bps[-2]) == pytest.approx(saved["test_trading"]["pnl_bps"], rel=1e-5)
    assert "Where it came from" in res.output
    assert "note:" not in res.output  # the costs the threshold was chosen for
    res = CliRunner().invoke(app, [*args, "--held-out", str(model), "--latency-ms", "50"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"note: the threshold in {model} was chosen for taker orders, 0 bps fee" in text
    assert "this backtest assumes taker orders, 0 bps fee, 5 ms market data + 50 ms" in text
    rep = ["report", str(books), "--weights", str(model / "weights.txt"), *common]
    res = CliRunner().invoke(app, [*rep, "--held-out", str(model), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "threshold.png").stat().st_size > 10_000


def test_the_bundled_sample_is_what_make_sample_writes() -> None:
    made = simulate_books(ROWS, seed=SEED, symbol="SIM-USDT", price=PRICE, tick=TICK)
    assert pl.read_parquet(SAMPLE).equals(made)


def test_the_bundled_sample_pays_a_1_bps_fee_out_of_sample() -> None:
    # What make_sample's docstring, the demo and the quick start say of the sample, with the
    # default costs (taker, 1 bps, 15 ms latency).
    books = pl.read_parquet(SAMPLE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = fit(books, horizon_ns=HORIZON, windows_ms=WINDOWS, execution=costs(1.0))
    m = r.metrics
    assert m.test.ic > 0.3
    assert m.test_trading.trades >= MIN_TRADES
    assert m.test_trading.pnl_bps > 0
