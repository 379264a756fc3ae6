"""Training is chronological and leak-free, and the engine scores exactly like scikit-learn."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import numpy as np
import pytest
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lobflow
from lobflow.collect.simbook import simulate_books
from lobflow.export import bake
from lobflow.train import fit, load_model, save_model

if TYPE_CHECKING:
    from pathlib import Path

BOOKS = simulate_books(60_000, seed=7, imbalance_edge=0.45)


def engine_vs_sklearn(result: object, kind: str) -> None:
    r = result  # TrainResult
    test = r.test_rows(BOOKS)  # type: ignore[attr-defined]
    res = lobflow.Engine(r.weights, cores=(0, 1)).run(test, record_features=True)  # type: ignore[attr-defined]
    assert res.features is not None
    pipe = r.pipeline  # type: ignore[attr-defined]
    ref = pipe.predict(res.features) if kind == "ridge" else pipe.decision_function(res.features)
    assert np.abs(res.scores - ref).max() <= 1e-6 * ref.std()
    np.testing.assert_array_equal(res.signals, r.weights.signal(ref))  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_train_then_engine_scores_like_sklearn(kind: Literal["ridge", "logistic"]) -> None:
    with pytest.warns(lobflow.LobflowWarning):  # costs usually beat this small edge
        r = fit(
            BOOKS, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), model=kind, fee_bps=5.0
        )
    engine_vs_sklearn(r, kind)
    m = r.metrics
    assert m["rows"]["train"] > m["rows"]["val"] > 0
    # The simulated venue has a real imbalance edge: the model finds it out of sample. With
    # ~12k test rows a null IC has a standard error near 0.009, so 0.03 is > 3 sigma.
    assert m["test"]["ic"] > 0.03
    assert r.split_ts["val_start"] < r.split_ts["test_start"]


def test_split_is_purged_by_the_horizon() -> None:
    r = fit(BOOKS, horizon_ns=2_000_000_000, windows_ms=(1000, 2000, 5000), fee_bps=0.0)
    n = r.metrics["rows"]
    total = BOOKS.height
    # Rows within one horizon before each boundary are dropped (plus the unlabelled tail).
    assert n["train"] + n["val"] + n["test"] < total - 2 * 20


def test_save_and_export_round_trip(tmp_path: Path) -> None:
    r = fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(1000, 2000, 5000), fee_bps=0.0)
    d = save_model(r, tmp_path / "model")
    assert json.loads((d / "metrics.json").read_text())["model"] == "ridge"
    assert lobflow.Weights.load(d / "weights.txt") == r.weights
    saved = load_model(d)
    assert bake(saved["pipeline"], saved["windows_ms"], saved["threshold"]) == r.weights


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
        fit(BOOKS, horizon_ns=1_000_000_000, windows_ms=(10, 20, 50), fee_bps=0.0)


def test_cli_train_and_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    path = tmp_path / "books.parquet"
    BOOKS.write_parquet(path)
    out = tmp_path / "m"
    res = CliRunner().invoke(app, ["train", str(path), "--fee-bps", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["export", str(out), "--out", str(tmp_path / "w.txt")])
    assert res.exit_code == 0, res.output
    assert lobflow.Weights.load(tmp_path / "w.txt") == lobflow.Weights.load(out / "weights.txt")
