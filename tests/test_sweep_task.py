"""One sweep task in this process: each row is what the backtest and the engine say of its
weights on its test day; bad rows, unfittable points and unreadable files are said so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from lobflow import Engine, Weights, backtest, features
from lobflow._schema import CONTRACT_COLUMNS
from lobflow.collect.writer import SCHEMAS
from lobflow.sweep import parse_config
from lobflow.sweep._plan import TaskSpec, plan, resolve_root
from lobflow.sweep._task import run_task
from tests.test_sweep_hive import day_folder, write_hive

GRID: dict[str, Any] = {
    "windows_ms": [[100, 200, 500]],
    "horizon": ["1s", "5s"],
    "model": ["ridge", "logistic"],
    "alpha": [1.0],
    "threshold": [0.5, 1.0],
    "latency_ms": [1.0, 20.0],
    "fee_bps": [0.0],
}


def one_task(root: Path, **grid: object) -> TaskSpec:
    cfg = parse_config(
        {
            "data": {"feeds": ["sim/BTC-USDT"]},
            "walk_forward": {"train_days": 2},
            "grid": GRID | grid,
            "backtest": {"md_latency_ms": 2.0},
        }
    )
    return plan(resolve_root(root), cfg)[0]


def read_day(spec: TaskSpec, k: int) -> pl.DataFrame:
    day = (*spec.train, *spec.test)[k]
    return pl.concat([pl.read_parquet(Path(spec.root) / f) for f in day.files]).select(
        CONTRACT_COLUMNS
    )


def labels(books: pl.DataFrame, horizon_ns: int) -> pl.DataFrame:
    out = features.labels(books, horizon_ns)
    assert isinstance(out, pl.DataFrame)
    return out


def test_each_row_is_its_weights_backtested_on_its_test_day(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=3000)
    spec = one_task(tmp_path)
    result = run_task(spec)
    points = {p.index: p for p in spec.grid.points()}
    assert [r.point for r in result.rows] == sorted(points)
    assert result.dropped_rows == 0
    assert result.task_id == spec.id
    test_books = read_day(spec, 2)
    train_labelled = {
        h: sum(
            labels(features.compute(read_day(spec, k), (100, 200, 500)), ns)
            .drop_nulls("fwd_ret_bps")
            .height
            for k in (0, 1)
        )
        for h, ns in (("1s", 10**9), ("5s", 5 * 10**9))
    }
    fitted_std: dict[tuple[str, str], float] = {}
    for row in result.rows:
        p = points[row.point]
        assert row.error is None, row.error
        assert row.test_day == spec.test[0].day
        assert row.test_rows == test_books.height
        # Trained on the training days' labelled rows only: none from the test day.
        if p.model == "ridge":
            assert row.train_rows == train_labelled[p.horizon]
        else:  # rows that did not move are left out of a classifier's training
            assert row.train_rows is not None
            assert row.train_rows < train_labelled[p.horizon]
        assert row.weights is not None
        w = Weights.from_text(row.weights)
        assert w.windows_ms == (100, 200, 500)
        assert w.threshold == row.threshold_score
        # The threshold is in units of the training scores' std: one std per fit.
        assert row.threshold_score is not None
        std = fitted_std.setdefault((p.horizon, p.model), row.threshold_score / p.threshold)
        assert row.threshold_score == pytest.approx(std * p.threshold, rel=1e-12)
        cfg = backtest.BacktestConfig(
            md_latency_ns=2_000_000,
            order_latency_ns=int(p.latency_ms * 1e6),
            taker_fee_bps=0.0,
            cores=(0, 0),
        )
        bt = backtest.run(test_books, w, cfg)
        m = bt.metrics
        got = m["pnl"] if isinstance(m, dict) else m.pnl
        trades = m["trades"] if isinstance(m, dict) else m.trades
        assert row.pnl == got
        assert row.trades == trades
        assert row.equity
        assert row.equity[-1] == got
        assert len(row.equity) <= 200
        scores = Engine(w, cores=(0, 0)).run(test_books).scores
        y = labels(test_books, p.horizon_ns)["fwd_ret_bps"].fill_null(np.nan).to_numpy()
        ok = np.isfinite(y)
        assert row.ic == pytest.approx(spearmanr(scores[ok], y[ok]).statistic, rel=1e-12)
        moved = ok & (y != 0)
        assert row.hit_rate == pytest.approx(np.mean(np.sign(scores[moved]) == np.sign(y[moved])))
    # The simulated books carry a real queue-imbalance signal: every model finds some of it.
    assert all(r.ic is not None and r.ic > 0.05 for r in result.rows)


def test_rows_that_break_the_contract_are_left_out_and_counted(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=3000)
    part = day_folder(tmp_path, "sim", "BTC-USDT", 2) / "part-1-compacted.parquet"
    books = pl.read_parquet(part)
    ts, bid = books["ts"].to_numpy().copy(), books["bid_px_0"].to_numpy().copy()
    bid[[10, 20, 30]] = books["ask_px_0"][[10, 20, 30]].to_numpy()  # locked books
    ts[500] = ts[499] - 1  # goes back in time
    bad = books.with_columns(ts=pl.Series(ts), bid_px_0=pl.Series(bid))
    pq.write_table(bad.to_arrow().cast(SCHEMAS["processed"]), part)
    result = run_task(one_task(tmp_path, model=["ridge"], horizon=["1s"]))
    assert result.dropped_rows == 4
    for row in result.rows:
        assert row.error is None
        assert row.test_rows == 3000 - 4
        assert row.warnings is not None
        assert "4 rows of the fold's days break" in row.warnings


def test_a_point_that_cannot_be_fitted_is_a_row_with_its_error(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=3000)
    # A day here is 300 s of books: a 1 h horizon labels no row of it.
    spec = one_task(tmp_path, horizon=["1s", "1h"], model=["ridge"])
    horizon = {p.index: p.horizon for p in spec.grid.points()}
    result = run_task(spec)
    by_horizon = {h: [r for r in result.rows if horizon[r.point] == h] for h in ("1s", "1h")}
    assert by_horizon["1s"]
    assert all(r.error is None for r in by_horizon["1s"])
    assert by_horizon["1h"]
    assert all(
        r.error == "fit: only 0 labelled training rows (min_train_rows is 200)" and r.pnl is None
        for r in by_horizon["1h"]
    )


def test_an_unreadable_day_file_raises_naming_it(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=100)
    part = day_folder(tmp_path, "sim", "BTC-USDT", 1) / "part-1-compacted.parquet"
    part.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match=rf"sim/BTC-USDT 2025-01-02: {part} is not readable books"):
        run_task(one_task(tmp_path))


def test_a_days_parts_are_read_in_time_order_not_name_order(tmp_path: Path) -> None:
    # Names sort part-10 before part-2: read in name order, the day went back in time at
    # each such boundary and most of its rows were dropped as breaking the contract.
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=3000)
    for d in range(3):
        folder = day_folder(tmp_path, "sim", "BTC-USDT", d)
        whole = folder / "part-1-compacted.parquet"
        books = pl.read_parquet(whole)
        whole.unlink()
        for i in range(11):
            part = books.slice(i * 3000 // 11, (i + 1) * 3000 // 11 - i * 3000 // 11)
            pq.write_table(part.to_arrow().cast(SCHEMAS["processed"]), folder / f"part-{i}.parquet")
    result = run_task(one_task(tmp_path, model=["ridge"], horizon=["1s"]))
    assert result.dropped_rows == 0
    for row in result.rows:
        assert row.error is None, row.error
        assert row.test_rows == 3000


def test_a_non_positive_price_is_a_row_left_out_not_an_error(tmp_path: Path) -> None:
    write_hive(tmp_path, feeds=(("sim", "BTC-USDT"),), days=3, rows=3000)
    part = day_folder(tmp_path, "sim", "BTC-USDT", 2) / "part-1-compacted.parquet"
    books = pl.read_parquet(part)
    bid = books["bid_px_0"].to_numpy().copy()
    ask = books["ask_px_0"].to_numpy().copy()
    bid[100], ask[100] = -5.0, -4.0  # a whole book below zero
    bid[200] = 0.0
    bad = books.with_columns(bid_px_0=pl.Series(bid), ask_px_0=pl.Series(ask))
    pq.write_table(bad.to_arrow().cast(SCHEMAS["processed"]), part)
    result = run_task(one_task(tmp_path, model=["ridge"], horizon=["1s"]))
    assert result.dropped_rows == 2
    for row in result.rows:
        assert row.error is None, row.error
        assert row.test_rows == 3000 - 2
