"""Backtest metrics on hand-computed paths; signals from weights come from the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import backtest
from lobflow.collect.simbook import simulate_books

if TYPE_CHECKING:
    from pathlib import Path

CORES = (0, 1)


def ladder(mids: list[float], ts: list[int]) -> pl.DataFrame:
    """bid = mid - 0.5, ask = mid + 0.5, 1 unit per level, levels 1 apart."""
    cols: dict[str, object] = {"ts": ts}
    for k in range(5):
        cols[f"bid_px_{k}"] = [m - 0.5 - k for m in mids]
        cols[f"bid_sz_{k}"] = [1.0] * len(mids)
        cols[f"ask_px_{k}"] = [m + 0.5 + k for m in mids]
        cols[f"ask_sz_{k}"] = [1.0] * len(mids)
    return pl.DataFrame(cols)


def cfg(**kw: Any) -> backtest.BacktestConfig:
    base = {"md_latency_ns": 0, "order_latency_ns": 0, "taker_fee_bps": 0.0, **kw}
    return backtest.BacktestConfig(**base)


def test_known_path_with_a_flip() -> None:
    books = ladder([100, 102, 104, 101, 99], [0, 10**9, 2 * 10**9, 3 * 10**9, 4 * 10**9])
    r = backtest.run(books, np.array([1, 0, -1, 0, 1], np.int8), cfg())
    # buy 1 @100.5; flip: sell 2 at 103.5 (1) and 102.5 (1); buy 2 at 99.5 and 100.5.
    assert r.fills["qty"].to_list() == [1.0, -2.0, 2.0]
    assert r.fills["price"].to_list() == [100.5, 103.0, 100.0]
    assert r.metrics.trades == 5  # two flips count two each
    assert r.position.tolist() == [1, 1, -1, -1, 1]
    # equity: cash + pos·mid; final cash = -100.5 + 206 - 200 = -94.5, +1·99
    assert r.metrics.pnl == pytest.approx(4.5)
    assert r.metrics.fill_ratio == 1.0
    # Round trips: long 100.5 → closed at the flip (win), short → closed at the next flip (win).
    assert r.metrics.hit_rate == 1.0
    assert r.metrics.avg_holding_s == pytest.approx(2.0)
    # equity (cash + pos·mid): -0.5, 1.5, 1.5, 4.5, 4.5 never falls: no drawdown
    np.testing.assert_allclose(r.equity, [-0.5, 1.5, 1.5, 4.5, 4.5])
    assert r.metrics.max_drawdown == 0.0
    # At the decision mids (100, 104, 99) the same fills make 9; the spread crossed cost
    # 0.5 + 2 + 2, so net 4.5: edge = gross + slippage, pnl = gross - fees.
    assert r.metrics.slippage == pytest.approx(4.5)
    assert r.metrics.edge == pytest.approx(9.0)
    assert r.metrics.gross_pnl == r.metrics.pnl
    assert r.metrics.pnl_bps == pytest.approx(4.5 / 101.2 * 1e4)


def test_drawdown_from_the_peak() -> None:
    r = backtest.run(ladder([100, 98, 101, 97], [0, 1, 2, 3]), np.ones(4, np.int8), cfg())
    np.testing.assert_allclose(r.equity, [-0.5, -2.5, 0.5, -3.5])
    assert r.metrics.max_drawdown == pytest.approx(4.0)


def test_fees_and_unfilled_size() -> None:
    books = ladder([100], [0])
    r = backtest.run(
        books, np.array([1], np.int8), cfg(order_size=7, max_position=7, taker_fee_bps=10)
    )
    assert r.fills["qty"].to_list() == [5.0]
    assert r.metrics.unfilled_qty == 2.0
    assert r.metrics.fill_ratio == pytest.approx(5 / 7)
    notional = sum(100.5 + k for k in range(5))
    assert r.metrics.fees == pytest.approx(notional * 10e-4)


def test_weights_go_through_the_engine() -> None:
    books = simulate_books(5000, seed=3)
    w = lobflow.Weights((1000, 2000, 5000), 0.2, 0.0, (0.0,) * 4 + (1.0,) + (0.0,) * 13)
    r = backtest.run(books, w, cfg(cores=CORES))
    np.testing.assert_array_equal(r.signals, lobflow.Engine(w, cores=CORES).run(books).signals)
    assert r.scores is not None
    assert r.engine is not None
    assert r.engine.cores_used == CORES
    assert r.metrics.snapshots == 5000


def test_bad_signal_length() -> None:
    with pytest.raises(lobflow.errors.BacktestError, match="3 signals for 1 rows"):
        backtest.run(ladder([100], [0]), np.zeros(3, np.int8), cfg())
    with pytest.raises(ValueError, match="order_size"):
        backtest.run(ladder([100], [0]), np.zeros(1, np.int8), cfg(order_size=0.0))


def test_cli_backtest_report_and_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    books = tmp_path / "books.parquet"
    simulate_books(3000, seed=5).write_parquet(books)
    w = lobflow.Weights((1000, 2000, 5000), 0.2, 0.0, (0.0,) * 4 + (1.0,) + (0.0,) * 13)
    wpath = w.save(tmp_path / "w.txt")
    common = [str(books), "--weights", str(wpath), "--cores", "0,1"]
    res = CliRunner().invoke(app, ["backtest", *common, "--fee-bps", "0"])
    assert res.exit_code == 0, res.output
    assert "sharpe" in res.output
    res = CliRunner().invoke(app, ["report", *common, "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").stat().st_size > 10_000
    assert {p.name for p in (tmp_path / "rep").glob("*.png")} >= {"equity.png", "latency.png"}
    res = CliRunner().invoke(
        app,
        [
            "run",
            str(books),
            "--weights",
            str(wpath),
            "--cores",
            "0,1",
            "--out",
            str(tmp_path / "scores.parquet"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(tmp_path / "scores.parquet").height == 3000


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("order_latency_ns", -1, ValueError),
        ("md_latency_ns", 2**64, ValueError),
        ("min_hold_ns", 1.5, TypeError),
        ("order_size", float("inf"), ValueError),
        ("max_position", float("inf"), ValueError),
        ("taker_fee_bps", float("nan"), ValueError),
    ],
)
def test_config_fields_are_checked_by_name(field: str, value: object, error: type) -> None:
    with pytest.raises(error, match=rf"^{field} must be"):
        cfg(**{field: value})


def test_latencies_that_sum_past_i64_never_fill() -> None:
    # 2^63 + 2^63 wrapped to 0 in the simulator: orders filled at the row that decided them.
    books = ladder([100.0, 101.0, 102.0, 103.0], [0, 10, 20, 30])
    res = backtest.run(
        books, np.array([1, 1, 1, 1], np.int8), cfg(md_latency_ns=2**63, order_latency_ns=2**63)
    )
    assert res.fills.height == 0
    assert np.all(res.position == 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency-ms", "-5"], "'--latency-ms': must be in 0..1e12 ms, got -5"),
        (["--latency-ms", "inf"], "'--latency-ms': must be in 0..1e12 ms, got inf"),
        (["--latency-ms", "nan"], "'--latency-ms': must be in 0..1e12 ms, got nan"),
        (["--latency-ms", "soon"], "'--latency-ms': not a number: 'soon'"),
        (["--fee-bps", "inf"], "'--fee-bps': must be finite, got inf"),
        (["--mode", "maker"], "'--mode'"),
        (["--on-zero", "close"], "'--on-zero'"),
        (["--cores", "1"], "'--cores': takes two core ids like 2,4, got '1'"),
    ],
)
def test_cli_backtest_bad_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    books = tmp_path / "books.parquet"
    simulate_books(300, seed=5).write_parquet(books)
    w = lobflow.Weights((1000, 2000, 5000), 0.2, 0.0, (0.0,) * 18).save(tmp_path / "w.txt")
    res = CliRunner().invoke(app, ["backtest", str(books), "--weights", str(w), *args])
    assert res.exit_code == 2, res.output
    # The message sits in a box of rich's, wrapped to the terminal's width.
    text = " ".join(res.output.replace("│", " ").split())
    assert f"Invalid value for {message}" in text


def test_config_takes_the_choices_as_strings_or_enums() -> None:
    assert backtest.BacktestConfig(mode="passive").mode is backtest.Mode.PASSIVE
    assert backtest.BacktestConfig(on_zero=backtest.OnZero.FLATTEN).on_zero == "flatten"
    with pytest.raises(ValueError, match=r"^mode must be one of 'taker', 'passive', got 'maker'"):
        backtest.BacktestConfig(mode="maker")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^on_zero must be one of 'hold', 'flatten', got 0"):
        backtest.BacktestConfig(on_zero=0)  # type: ignore[arg-type]


def test_report_on_too_few_rows_for_an_ic_still_writes(tmp_path: Path) -> None:
    from lobflow import report

    books = ladder([100.0, 101.0, 102.0, 101.0, 100.0], [0, 10, 20, 30, 40])
    res = backtest.run(books, np.array([1, 0, -1, 0, 1], np.int8), cfg())
    ic = {1.0: float("nan"), 10.0: float("nan")}
    html = report.write_report(tmp_path / "rep", res, ic=ic)
    assert html.name == "report.html"
    assert html.stat().st_size > 1_000
    assert not (tmp_path / "rep" / "ic.png").exists()
    empty = backtest.run(books.head(0), np.array([], np.int8), cfg())
    with pytest.raises(ValueError, match=r"^nothing to report"):
        report.write_report(tmp_path / "empty", empty)
    assert not (tmp_path / "empty").exists()
