"""Training is chronological and leak-free, and the engine scores exactly like scikit-learn."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lobflow
from lobflow import backtest, features
from lobflow.collect.simbook import simulate_books
from lobflow.export import bake
from lobflow.train import TrainResult, fit, load_model, save_model

if TYPE_CHECKING:
    from pathlib import Path

BOOKS = simulate_books(60_000, seed=7, imbalance_edge=0.45)
CORES = (0, 1)


def costs(fee_bps: float) -> backtest.BacktestConfig:
    """The execution a threshold is chosen for: the default one but for the fee."""
    return backtest.BacktestConfig(taker_fee_bps=fee_bps, cores=CORES)


def engine_vs_sklearn(r: TrainResult, kind: str) -> None:
    test = r.test_rows(BOOKS)
    res = lobflow.Engine(r.weights, cores=CORES).run(test, record_features=True)
    assert res.features is not None
    pipe = r.pipeline
    ref = pipe.predict(res.features) if kind == "ridge" else pipe.decision_function(res.features)
    assert np.abs(res.scores - ref).max() <= 1e-6 * ref.std()
    np.testing.assert_array_equal(res.signals, r.weights.signal(ref))


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_train_then_engine_scores_like_sklearn(kind: Literal["ridge", "logistic"]) -> None:
    with pytest.warns(lobflow.LobflowWarning):  # costs usually beat this small edge
        r = fit(
            BOOKS,
            horizon_ns=1_000_000_000,
            windows_ms=(1000, 2000, 5000),
            model=kind,
            execution=costs(5.0),
        )
    engine_vs_sklearn(r, kind)
    m = r.metrics
    assert m.rows.train > m.rows.val > 0
    # The simulated venue has a real imbalance edge: the model finds it out of sample. With
    # ~12k test rows a null IC has a standard error near 0.009, so 0.03 is > 3 sigma.
    assert m.test.ic > 0.03
    assert r.split_ts["val_start"] < r.split_ts["test_start"]


def test_split_is_purged_by_the_horizon() -> None:
    r = fit(BOOKS, horizon_ns=2_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0))
    n = r.metrics.rows
    total = BOOKS.height
    # Rows within one horizon before each boundary are dropped (plus the unlabelled tail).
    assert n.train + n.val + n.test < total - 2 * 20


def test_save_and_export_round_trip(tmp_path: Path) -> None:
    r = fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0))
    d = save_model(r, tmp_path / "model")
    assert json.loads((d / "metrics.json").read_text())["model"] == "ridge"
    assert lobflow.Weights.load(d / "weights.txt") == r.weights
    saved = load_model(d)
    assert bake(saved.pipeline, saved.windows_ms, saved.threshold) == r.weights
    assert (saved.model, saved.horizon_ns, saved.split_ts) == ("ridge", r.horizon_ns, r.split_ts)


def test_bake_any_users_pipeline() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, (500, 18))
    x[:, 7] = 2.0  # a constant feature: StandardScaler gives it scale 1
    y = x @ rng.normal(size=18)
    for est in (Ridge(alpha=0.5), Lasso(alpha=0.01)):
        p = make_pipeline(StandardScaler(), est).fit(x, y)
        np.testing.assert_allclose(bake(p).score(x), p.predict(x), rtol=1e-9, atol=1e-9)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y > 0)
    np.testing.assert_allclose(bake(clf).score(x), clf.decision_function(x), rtol=1e-9, atol=1e-9)


def test_bake_refuses_what_it_cannot_bake() -> None:
    x = np.random.default_rng(0).normal(size=(50, 18))
    with pytest.raises(TypeError, match="Pipeline"):
        bake(Ridge().fit(x, x[:, 0]))
    with pytest.raises(ValueError, match="18 contract features"):
        bake(make_pipeline(StandardScaler(), Ridge()).fit(x[:, :5], x[:, 0]))


def test_windows_shorter_than_the_data_warn() -> None:
    with pytest.warns(lobflow.LobflowWarning, match="shorter than the data's median spacing"):
        fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(10, 20, 50), execution=costs(0.0))


def test_cli_train_and_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    path = tmp_path / "books.parquet"
    BOOKS.write_parquet(path)
    out = tmp_path / "m"
    res = CliRunner().invoke(
        app, ["train", str(path), "--fee-bps", "0", "--cores", "0,1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["export", str(out), "--out", str(tmp_path / "w.txt")])
    assert res.exit_code == 0, res.output
    assert lobflow.Weights.load(tmp_path / "w.txt") == lobflow.Weights.load(out / "weights.txt")


def test_bake_refuses_names_of_other_windows() -> None:
    import polars as pl

    names = lobflow.feature_names((1000, 2000, 5000))
    x = np.random.default_rng(1).normal(size=(100, 18))
    p = make_pipeline(StandardScaler(), Ridge()).fit(pl.DataFrame(x, schema=list(names)), x[:, 0])
    assert bake(p, (1000, 2000, 5000)).windows_ms == (1000, 2000, 5000)
    with pytest.raises(ValueError, match=r"feature 9 was fitted as `rolling_ofi_1000ms`"):
        bake(p, (10, 20, 50))
    swapped = [names[1], names[0], *names[2:]]
    q = make_pipeline(StandardScaler(), Ridge()).fit(pl.DataFrame(x, schema=swapped), x[:, 0])
    with pytest.raises(ValueError, match=r"feature 0 was fitted as `spread`"):
        bake(q, (1000, 2000, 5000))


def test_split_purges_by_when_the_label_is_known() -> None:
    import polars as pl

    from lobflow.train._fit import split

    # ts 40 sits well before the validation start (54) by its own time, but after a gap its
    # label is only known at 60: it must not train.
    data = pl.DataFrame(
        {
            "ts": [0, 10, 20, 30, 40, 50, 60, 70, 80, 90],
            "fwd_ts": [10, 20, 30, 40, 60, 60, 70, 80, 90, 100],
        }
    )
    train, val, test, t0, t1 = split(data, 0.2, 0.2)
    assert (t0, t1) == (54, 72)
    assert train["ts"].to_list() == [0, 10, 20, 30]
    assert val["ts"].to_list() == [60]
    assert test["ts"].to_list() == [80, 90]


@pytest.mark.parametrize("burst", [1, 7])
def test_cv_folds_never_train_on_labels_that_reach_the_fold(burst: int) -> None:
    from lobflow.train._fit import purged_folds

    # Bursts of equal timestamps make any "rows per horizon" guess wrong; purging by time is not.
    ts = np.repeat(np.arange(300) * 10, burst)
    fwd_ts = ts[np.minimum(np.searchsorted(ts, ts + 25, side="left"), ts.size - 1)]
    folds = purged_folds(ts, fwd_ts, 4)
    assert len(folds) == 4
    for tr, te in folds:
        assert fwd_ts[tr].max() < ts[te].min()
        assert ts[te].min() - ts[tr].max() >= 25
        assert tr.max() < te.min()


def test_training_on_equal_timestamps() -> None:
    import polars as pl

    # Two updates per event time: the median spacing is 0, which must not break the CV.
    half = BOOKS.head(20_000)
    dup = pl.concat([half, half.with_columns(bid_sz_0=pl.col("bid_sz_0") * 1.5)]).sort(
        "ts", maintain_order=True
    )
    r = fit(dup, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0))
    assert r.metrics.rows.train > 0


def test_logistic_is_not_skewed_by_rows_that_did_not_move() -> None:
    import warnings

    import polars as pl

    from lobflow import features

    # At 200 ms about 30 % of rows do not move; as "down" labels they would push the decision
    # function negative (measured: 17 % positive among moved rows instead of about half).
    h = 200_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lobflow.LobflowWarning)
        r = fit(
            BOOKS, horizon_ns=h, windows_ms=(1000, 2000, 5000), model="logistic", execution=costs(0)
        )
    test = features.labels(features.compute(r.test_rows(BOOKS), r.windows_ms), h)
    assert isinstance(test, pl.DataFrame)
    test = test.filter(pl.col("fwd_ret_bps").is_not_null() & (pl.col("fwd_ret_bps") != 0))
    d = r.pipeline.decision_function(test.select(r.weights.feature_names).to_numpy())
    up = (test["fwd_ret_bps"].to_numpy() > 0).mean()
    assert abs((d > 0).mean() - up) < 0.1


def test_cli_train_logistic_reports_no_r2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    path = tmp_path / "books.parquet"
    BOOKS.write_parquet(path)
    out = tmp_path / "m"
    args = ["train", str(path), "--model", "logistic", "--fee-bps", "0", "--cores", "0,1"]
    args += ["--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["r2"] is None
    assert metrics["model"] == "logistic"
    assert "n/a" in res.output


def one_tick_books(n: int) -> pl.DataFrame:
    """Books around 2^16 = 65 536 whose spread is always one 0.1 tick: `ask - bid` is 0.1 only
    up to float64 rounding, whose step doubles where the prices cross 2^16 (the two sides of
    it give 0.1 - 1.5e-12 and 0.1 + 5.8e-12)."""
    books = simulate_books(n, seed=11, price=65_536.0, tick=0.1, imbalance_edge=0.45)
    return books.with_columns(
        (pl.col("bid_px_0") + 0.1 * (k + 1)).alias(f"ask_px_{k}") for k in range(5)
    )


def test_a_feature_that_varies_only_by_rounding_is_fitted_as_a_constant() -> None:
    books = one_tick_books(30_000)
    spread = features.compute(books, (1000, 2000, 5000))["spread"].to_numpy()
    assert 0 < spread.std() < 1e-9 * np.abs(spread).max()  # the premise: rounding noise only
    with pytest.warns(
        lobflow.LobflowWarning, match=r"`spread` \(std [0-9.e-]+\), `rolling_spread_1000ms`"
    ):
        r = fit(
            books, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0)
        )
    assert (r.pipeline.named_steps["scaler"].scale_[[1, 12, 13, 14]] == 1.0).all()
    test = r.test_rows(books)
    res = lobflow.Engine(r.weights, cores=(0, 1)).run(test, record_features=True)
    assert res.features is not None
    ref = r.pipeline.predict(
        features.compute(test, (1000, 2000, 5000)).select(list(r.weights.feature_names)).to_numpy()
    )
    assert np.abs(res.scores - ref).max() <= 1e-6 * ref.std()
    np.testing.assert_array_equal(res.signals, r.weights.signal(ref))


def test_bake_warns_about_weights_on_rounding_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 18))
    x[:, 1] = 0.1 + rng.normal(scale=1e-12, size=500)  # a one-tick spread's rounding
    p = make_pipeline(StandardScaler(), Ridge()).fit(x, x[:, 0] + 1e-3 * x[:, 1])
    with pytest.warns(
        lobflow.LobflowWarning, match=r"`spread` \(scale_ 1.0\de-12 against mean_ 0.1,"
    ):
        bake(p)
    x[:, 1] = 0.1  # exactly constant: scale_ 1, nothing to warn about
    p = make_pipeline(StandardScaler(), Ridge()).fit(x, x[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bake(p)


def test_logistic_on_rows_that_seldom_move_is_a_clear_error() -> None:
    # The first fifth of the rows move one way only, so the first CV fold has one class.
    books = simulate_books(20_000, seed=5, imbalance_edge=0.45, move_prob=0.35)
    n = books.height // 5
    head = books.head(n).with_columns(
        (pl.col(c).first() + pl.int_range(n) * 0.05).alias(c)
        for c in (*(f"bid_px_{k}" for k in range(5)), *(f"ask_px_{k}" for k in range(5)))
    )
    books = pl.concat([head, books.tail(books.height - n)])
    with pytest.raises(ValueError, match=r"CV fold 1 of \d+ all moved up"):
        fit(books, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), model="logistic")


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^model must be one of 'ridge', 'logistic', got 'lasso'"):
        fit(BOOKS, horizon_ns=1_000_000_000, model="lasso")  # type: ignore[arg-type]


def test_metrics_json_has_null_not_nan(tmp_path: Path) -> None:
    r = fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0))
    # As a test split with no moves gives:
    no_moves = replace(r.metrics, test=replace(r.metrics.test, hit_rate=float("nan")))
    d = save_model(replace(r, metrics=no_moves), tmp_path / "model")
    # Strict JSON: NaN is not a token.
    text = (d / "metrics.json").read_text()
    loaded = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert loaded["test"]["hit_rate"] is None


def test_logistic_on_a_feed_that_never_moves_says_so() -> None:
    flat = BOOKS.with_columns(
        pl.col(c).first() for c in BOOKS.columns if c.startswith(("bid_px", "ask_px"))
    )
    with pytest.raises(ValueError, match=r"^logistic needs moves both ways.*0 go up and 0 down"):
        fit(flat, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), model="logistic")


def test_export_does_not_overwrite_its_model_and_names_a_damaged_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    r = fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), execution=costs(0.0))
    d = save_model(r, tmp_path / "model")
    before = (d / "pipeline.joblib").read_bytes()
    res = CliRunner().invoke(app, ["export", str(d), "--out", str(d / "pipeline.joblib")])
    assert res.exit_code == 1, res.output
    assert "would overwrite the model it exports from" in res.output
    assert (d / "pipeline.joblib").read_bytes() == before
    (d / "pipeline.joblib").write_text(lobflow.Weights.load(d / "weights.txt").to_text())
    res = CliRunner().invoke(app, ["export", str(d), "--out", str(tmp_path / "w.txt")])
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "is not a model written by `lobflow train`" in lines[0]
