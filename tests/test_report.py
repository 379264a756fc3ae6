"""PnL against threshold and fee, where the PnL went, and the sentences that say what it means."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import lobflow
from lobflow import backtest, report
from lobflow.backtest._by_threshold import candidate_thresholds, pnl_by_threshold
from lobflow.collect.simbook import simulate_books

if TYPE_CHECKING:
    from pathlib import Path

CORES = (0, 1)
BOOKS = simulate_books(4_000, seed=9, price=100.0, tick=0.01, imbalance_edge=0.45)
QI0 = lobflow.Weights((1000, 2000, 5000), 0.3, 0.0, (0.0,) * 4 + (1.0,) + (0.0,) * 13)


def cfg(**kw: Any) -> backtest.BacktestConfig:
    return replace(backtest.BacktestConfig(cores=CORES), **kw)


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    return lobflow.Engine(QI0, cores=CORES).run(BOOKS).scores


def test_pnl_by_threshold_is_the_backtest_at_each(scores: np.ndarray) -> None:
    thresholds = (0.0, 0.3, 0.6)
    curve = pnl_by_threshold(BOOKS, scores, cfg(), thresholds, (0.0, 2.0))
    assert curve.pnl_bps.shape == curve.trades.shape == (2, 3)
    for i, fee in enumerate((0.0, 2.0)):
        for j, t in enumerate(thresholds):
            w = replace(QI0, threshold=t)
            m = backtest.run(BOOKS, w, cfg(taker_fee_bps=fee)).metrics
            assert (curve.pnl_bps[i, j], curve.trades[i, j]) == (m.pnl_bps, m.trades)
    # Higher fees cost more at every threshold that trades.
    trades = curve.trades[0] > 0
    assert (curve.pnl_bps[1][trades] < curve.pnl_bps[0][trades]).all()


def test_a_passive_curve_varies_the_maker_fee(scores: np.ndarray) -> None:
    curve = pnl_by_threshold(BOOKS, scores, cfg(mode="passive"), [0.3], (-1.0, 1.0))
    rebate = backtest.run(BOOKS, QI0, cfg(mode="passive", maker_fee_bps=-1.0)).metrics
    assert curve.pnl_bps[0, 0] == rebate.pnl_bps
    assert curve.pnl_bps[0, 0] > curve.pnl_bps[1, 0]


def test_curves_of_two_feeds_add_up(scores: np.ndarray) -> None:
    a = pnl_by_threshold(BOOKS, scores, cfg(), [0.3])
    total = a + a
    np.testing.assert_array_equal(total.pnl_bps, 2 * a.pnl_bps)
    with pytest.raises(ValueError, match="same thresholds and fees"):
        a + pnl_by_threshold(BOOKS, scores, cfg(), [0.4])


def test_candidates_run_from_zero_to_rare_signals() -> None:
    s = np.random.default_rng(0).normal(size=10_000)
    t = candidate_thresholds(np.append(s, np.nan))
    assert t[0] == 0.0
    assert list(t) == sorted(set(t))
    assert np.mean(np.abs(s) > t[-1]) == pytest.approx(1e-3, abs=5e-4)
    assert candidate_thresholds(np.array([np.nan])) == (0.0,)


def test_explain_splits_the_pnl_into_edge_slippage_and_fees() -> None:
    books = BOOKS.head(50)
    res = backtest.run(books, np.tile(np.array([1, -1], np.int8), 25), cfg(taker_fee_bps=1.0))
    m = res.metrics
    assert m.pnl == pytest.approx(m.edge - m.slippage - m.fees)
    text = " ".join(report.explain(m, res.config))
    assert f"would have made {m.edge:+,.4g}" in text
    assert f"cost {m.slippage:,.4g} (slippage)" in text
    assert f"fees at 1 bps {m.fees:,.4g}" in text
    assert "Sharpe" in text


@pytest.mark.parametrize(
    ("edge", "slippage", "fees", "says"),
    [
        (-1.0, 1.0, 0.5, "lost money even at mid"),
        (1.0, 2.0, 0.5, "smaller than the cost of crossing the spread"),
        (3.0, 2.0, 1.5, "not for the fees too"),
        (3.0, 1.0, 0.5, "pays for the spread, the latency and the fees"),
    ],
)
def test_explain_says_what_ate_the_edge(
    edge: float, slippage: float, fees: float, says: str
) -> None:
    pnl = edge - slippage - fees
    m = backtest.BacktestMetrics(
        pnl=pnl,
        pnl_bps=pnl * 100,
        gross_pnl=pnl + fees,
        edge=edge,
        fees=fees,
        slippage=slippage,
        sharpe=float("nan"),
        max_drawdown=0.0,
        trades=10,
        turnover=1000.0,
        hit_rate=0.5,
        avg_holding_s=1.0,
        fill_ratio=1.0,
        unfilled_qty=0.0,
        elapsed_s=600.0,
        snapshots=6000,
    )
    assert says in " ".join(report.explain(m, cfg()))


def test_explain_a_backtest_without_trades() -> None:
    res = backtest.run(BOOKS.head(100), np.zeros(100, np.int8), cfg())
    lines = report.explain(res.metrics, res.config)
    assert "No trades" in lines[1]


def test_report_draws_pnl_against_threshold_and_fee(tmp_path: Path) -> None:
    res = backtest.run(BOOKS, QI0, cfg())
    path = report.build_report(tmp_path / "rep", BOOKS, res, QI0)
    assert {p.name for p in (tmp_path / "rep").glob("*.png")} >= {
        "pnl.png",
        "threshold.png",
        "latency.png",
        "equity.png",
    }
    page = path.read_text()
    assert "What the numbers mean" in page
    assert "PnL against threshold and fee" in page
    assert "Where the PnL went" in page
    signals = backtest.run(BOOKS, np.zeros(BOOKS.height, np.int8), cfg())
    with pytest.raises(ValueError, match="needs the engine's scores"):
        report.build_report(tmp_path / "no", BOOKS, signals, QI0)
