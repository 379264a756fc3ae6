"""Fit `Pipeline(StandardScaler, Ridge | LogisticRegression)` on contract features, honestly.

No leakage: the split is chronological, each boundary is purged by the horizon (a training
label may not look into the validation period), and the CV folds keep a gap of at least the
horizon in rows. The threshold is chosen by backtesting the validation part with the
execution the model is meant for (`lobflow.train._threshold`), and every metric is reported
on the untouched test part next to a naive baseline.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lobflow import features as feats
from lobflow._choices import ModelKind, ModelLike, choice
from lobflow._feed import scan_books
from lobflow._progress import progress_bar
from lobflow._schema import FEED_KEYS, check_windows, feature_names
from lobflow._skipped import SKIP_HINT, warn_if_too_many
from lobflow.backtest import BacktestConfig
from lobflow.backtest._by_threshold import candidate_thresholds, paid_fee_bps
from lobflow.errors import LobflowWarning
from lobflow.export import ROUNDING_ONLY, bake
from lobflow.features._compute import counted
from lobflow.train._manifest import MANIFEST, verified_pipeline, write_manifest
from lobflow.train._metrics import Fit, Rows, TrainMetrics
from lobflow.train._threshold import (
    NEVER,
    choose_threshold,
    curve_fees,
    part_feeds,
    score_feeds,
    trade,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from lobflow.weights import Weights


def _hold_rounding_noise_constant(x: np.ndarray, names: list[str]) -> np.ndarray:
    """`x` with every column that varies only by float rounding set to its mean, with a warning.

    The scaler then finds those columns constant (`scale_` 1) and the model gives them a zero
    weight, instead of dividing their rounding noise by ~1e-12 (`lobflow.export.ROUNDING_ONLY`).
    Predictions on the raw columns are unchanged by it: their noise meets a zero weight.
    """
    std = x.std(axis=0)
    noise = (std > 0) & (std <= ROUNDING_ONLY * np.abs(x).max(axis=0))
    if not noise.any():
        return x
    x = np.array(x, dtype=np.float64)
    x[:, noise] = x[:, noise].mean(axis=0)
    shown = ", ".join(f"`{names[i]}` (std {std[i]:.3g})" for i in np.flatnonzero(noise))
    warnings.warn(
        f"feature(s) {shown} vary only by float rounding on the training rows: fitted as "
        "constants (weight 0), so that the engine's own rounding of them cannot move its "
        "scores away from the pipeline's",
        LobflowWarning,
        stacklevel=3,
    )
    return x


@dataclass(frozen=True)
class TrainResult:
    """A fitted pipeline, its baked weights, and out-of-sample metrics."""

    pipeline: Pipeline
    weights: Weights
    metrics: TrainMetrics
    windows_ms: tuple[int, int, int]
    horizon_ns: int
    model: ModelKind
    #: Where validation and test start (``val_start``, ``test_start``), ns.
    split_ts: dict[str, int] = field(default_factory=dict)

    def test_rows(self, books: pl.DataFrame) -> pl.DataFrame:
        """The rows of `books` in the held-out test period."""
        return books.filter(pl.col("ts") >= self.split_ts["test_start"])


def _fit_metrics(y: np.ndarray, pred: np.ndarray, *, r2: bool = True) -> Fit:
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    moved = y != 0
    ic = float(spearmanr(pred, y).statistic) if np.std(pred) > 0 and np.std(y) > 0 else 0.0
    hit = float(np.mean(np.sign(pred[moved]) == np.sign(y[moved]))) if moved.any() else float("nan")
    # R² of log-odds against returns in bps means nothing.
    return Fit(
        r2=(1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0) if r2 else None, ic=ic, hit_rate=hit
    )


def _counting_scorer(
    advance: Callable[[], object],
) -> Callable[[Pipeline, np.ndarray, np.ndarray], float]:
    """The estimator's own score (R² or accuracy, `GridSearchCV`'s default) and a step.

    `GridSearchCV` scores each fit once, in this process (``n_jobs=1``): one progress step
    per fit of the grid.
    """

    def score(estimator: Pipeline, x: np.ndarray, y: np.ndarray) -> float:
        advance()
        return float(estimator.score(x, y))

    return score


def fit(
    books: pl.DataFrame | str | os.PathLike[str],
    *,
    horizon_ns: int = 1_000_000_000,
    windows_ms: tuple[int, int, int] = (1000, 2000, 5000),
    model: ModelLike = ModelKind.RIDGE,
    execution: BacktestConfig | None = None,
    val_frac: float = 0.2,
    test_frac: float = 0.2,
    n_splits: int = 4,
    progress: bool = False,
) -> TrainResult:
    """Train on the contract features of `books` to predict the forward mid return.

    Parameters
    ----------
    books
        Processed books (DataFrame, Parquet file or hive folder), one or more feeds.
    horizon_ns
        Label horizon: forward mid return in bps to the first snapshot at or after it.
    windows_ms
        Rolling windows of the features. Warns when shorter than the data's median spacing
        (such windows only ever hold the current snapshot).
    model
        ``"ridge"`` (regression on the return) or ``"logistic"`` (on its sign; the score is
        the decision function).
    execution
        The execution the threshold is chosen for (default ``BacktestConfig()``: taker,
        1 bps fee, 5 + 10 ms latency): each candidate threshold's signals are backtested on
        the validation part with it, and the one that makes the most is kept. Backtest with
        the same config to see what was trained for.
    val_frac, test_frac
        Chronological fractions for validation (threshold) and test (metrics).
    n_splits
        Time-series CV folds for the regularisation strength.
    progress
        Show a progress bar on a terminal (features, each CV fit, each threshold's backtest).
    """
    windows = check_windows(windows_ms)
    kind = choice(ModelKind, model, "model")
    cfg = execution if execution is not None else BacktestConfig()
    names = list(feature_names(windows))
    with progress_bar(progress) as bar:
        task = bar.add_task("features and labels", total=None)
        frame, total = counted(books, windows, "skip")
        warn_if_too_many("training", total - frame.height, total, SKIP_HINT, stacklevel=2)
        keys = [k for k in FEED_KEYS if k in frame.columns]
        labelled = feats.labels(frame, horizon_ns)
        assert isinstance(labelled, pl.DataFrame)
        data = labelled.drop_nulls("fwd_ret_bps").sort("ts", maintain_order=True)
        if data.height < 200:
            msg = f"only {data.height} labelled rows: too few to train (horizon {horizon_ns} ns)"
            raise ValueError(msg)
        dt = frame.group_by(keys or pl.lit(0)).agg(pl.col("ts").diff().median()).to_series(-1)
        median_dt = float(np.nanmedian(dt.to_numpy().astype(float)))
        if windows[0] * 1e6 < median_dt:
            warnings.warn(
                f"the shortest window ({windows[0]} ms) is shorter than the data's median "
                f"spacing ({median_dt / 1e6:.0f} ms): such windows only hold the current snapshot",
                LobflowWarning,
                stacklevel=2,
            )
        train, val, test, t0, t1 = split(data, val_frac, test_frac)
        if min(train.height, val.height, test.height) < 50:
            msg = "not enough rows in one of train/validation/test after purging by the horizon"
            raise ValueError(msg)
        if kind == ModelKind.LOGISTIC:
            # The sign of "no move" is neither class: labelling it "down" would teach the
            # classifier P(up) against P(not up) and skew every signal short.
            train = train.filter(pl.col("fwd_ret_bps") != 0)
            ups = int((train["fwd_ret_bps"] > 0).sum())
            if min(ups, train.height - ups) < 25:
                msg = (
                    f"logistic needs moves both ways to learn from: of the training rows, "
                    f"{ups} go up and {train.height - ups} down over the horizon (the rest do "
                    "not move); use a longer horizon or more data"
                )
                raise ValueError(msg)
        x_tr, y_tr = train.select(names).to_numpy(), train["fwd_ret_bps"].to_numpy()
        x_tr = _hold_rounding_noise_constant(x_tr, names)
        cv = purged_folds(train["ts"].to_numpy(), train["fwd_ts"].to_numpy(), n_splits)
        if kind == ModelKind.RIDGE:
            pipe = Pipeline([("scaler", StandardScaler()), ("model", Ridge())])
            grid: dict[str, list[float]] = {"model__alpha": [0.1, 1.0, 10.0, 100.0, 1000.0]}
            target = y_tr
        else:
            pipe = Pipeline(
                [("scaler", StandardScaler()), ("model", LogisticRegression(max_iter=1000))]
            )
            grid = {"model__C": [0.01, 0.1, 1.0, 10.0]}
            target = (y_tr > 0).astype(int)
            _check_both_classes(target, cv)
        fits = len(cv) * len(next(iter(grid.values())))
        bar.update(task, total=1, completed=1)
        task = bar.add_task(f"time-series CV ({len(cv)} folds)", total=fits)
        scorer = _counting_scorer(lambda: bar.advance(task))
        search = GridSearchCV(pipe, grid, cv=cv, n_jobs=1, scoring=scorer).fit(x_tr, target)
        best: Pipeline = search.best_estimator_

        # The threshold: the validation part backtested at each candidate, as the model will be.
        unscored = bake(best, windows, 0.0)
        source = books.lazy() if isinstance(books, pl.DataFrame) else scan_books(books)
        val_parts = score_feeds(unscored, cfg, part_feeds(source, t0, t1))
        test_parts = score_feeds(unscored, cfg, part_feeds(source, t1, None))
        val_scores = [s for _, s in val_parts]
        n_candidates = len(candidate_thresholds(np.concatenate(val_scores))) if val_scores else 0
        runs = n_candidates * len(curve_fees(cfg)) * len(val_parts)
        task = bar.add_task("threshold: backtests of the validation part", total=runs)
        threshold, on_val, curve = choose_threshold(val_parts, cfg, lambda: bar.advance(task))
        if threshold == NEVER:
            # Nothing beats the costs on validation: say so and trade nothing, rather than
            # pick the least bad losing threshold.
            latency_ms = (cfg.md_latency_ns + cfg.order_latency_ns) / 1e6
            warnings.warn(
                f"no threshold makes money on validation after costs ({cfg.mode} orders, "
                f"{paid_fee_bps(cfg):g} bps fee, {latency_ms:g} ms latency): the model will "
                "not trade (threshold above every score)",
                LobflowWarning,
                stacklevel=2,
            )
        task = bar.add_task("test part", total=None)
        y_te = test["fwd_ret_bps"].to_numpy()
        x_te = test.select(names).to_numpy()
        s_te = best.predict(x_te) if kind == ModelKind.RIDGE else best.decision_function(x_te)
        metrics = TrainMetrics(
            model=kind,
            regularization=float(next(iter(search.best_params_.values()))),
            horizon_ns=horizon_ns,
            windows_ms=windows,
            rows=Rows(
                train=train.height,
                val=val.height,
                test=test.height,
                input=total,
                skipped=total - frame.height,
            ),
            val_start_ns=int(t0),
            test_start_ns=int(t1),
            median_spacing_ms=median_dt / 1e6,
            execution=cfg,
            threshold=threshold,
            trades=threshold != NEVER,
            validation=on_val,
            validation_curve=curve,
            test_trading=trade(test_parts, cfg, threshold),
            test=_fit_metrics(y_te, np.asarray(s_te, dtype=np.float64), r2=kind == ModelKind.RIDGE),
            # Naive baseline: the level-0 queue imbalance, the classic one-feature predictor,
            # scaled by least squares on the training part.
            baseline_qi0=_baseline(train, test),
        )
        weights = bake(
            best,
            windows,
            threshold,
            comments=(
                f"lobflow {kind} model, horizon {horizon_ns} ns, trained on {train.height} rows",
                f"test IC {metrics.test.ic:.4f}, hit rate {metrics.test.hit_rate:.4f}",
                f"threshold chosen on validation for {cfg.mode} orders at "
                f"{paid_fee_bps(cfg):g} bps"
                + ("" if metrics.trades else ": nothing made money there, so it never trades"),
            ),
        )
        bar.update(task, total=1, completed=1)
    return TrainResult(
        best,
        weights,
        metrics,
        windows,
        horizon_ns,
        kind,
        {"val_start": int(t0), "test_start": int(t1)},
    )


def split(
    data: pl.DataFrame, val_frac: float, test_frac: float
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, int, int]:
    """Chronological train/validation/test parts of `data` (sorted by ``ts``), purged.

    A row belongs to the part its ``ts`` falls in, but train and validation keep only rows
    whose label is known (``fwd_ts``) before the next part starts: a label reaches at least
    the horizon ahead, and further after a gap in the data, so purging by ``ts + horizon``
    alone would still let some labels see the next period.
    """
    ts = data["ts"].to_numpy()
    t0, t1 = (int(t) for t in np.quantile(ts, [1 - val_frac - test_frac, 1 - test_frac]))
    train = data.filter(pl.col("fwd_ts") < t0)
    val = data.filter((pl.col("ts") >= t0) & (pl.col("fwd_ts") < t1))
    test = data.filter(pl.col("ts") >= t1)
    return train, val, test, t0, t1


def purged_folds(
    ts: np.ndarray, fwd_ts: np.ndarray, n_splits: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`TimeSeriesSplit` folds whose training rows all have labels known before the fold.

    The gap is exact rather than a guess in rows: each fold drops the training rows whose
    label (``fwd_ts``) reaches its first test timestamp, so the gap is at least the horizon in
    time however unevenly the rows are spaced (bursts, equal timestamps, several feeds).
    """
    folds = []
    for tr, te in TimeSeriesSplit(n_splits=n_splits).split(ts):
        kept = tr[fwd_ts[tr] < ts[te[0]]]
        if kept.size:
            folds.append((kept, te))
    if not folds:
        msg = "no time-series CV fold keeps any training row: the horizon spans the data"
        raise ValueError(msg)
    return folds


def _check_both_classes(target: np.ndarray, cv: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Refuse a classifier CV fold whose training rows all moved one way.

    scikit-learn would fail every fit of the grid with "only one class" and a long traceback;
    this says which fold and what to do instead.
    """
    for k, (tr, _) in enumerate(cv):
        ups = int(target[tr].sum())
        if ups in (0, tr.size):
            way = "up" if ups else "down"
            msg = (
                f"logistic: the training rows of CV fold {k + 1} of {len(cv)} all moved {way} "
                f"({tr.size} rows): too few rows move for a classifier; train on more data, a "
                "longer horizon, or model='ridge'"
            )
            raise ValueError(msg)


def _baseline(train: pl.DataFrame, test: pl.DataFrame) -> Fit:
    x, y = train["qi_0"].to_numpy(), train["fwd_ret_bps"].to_numpy()
    beta = float(np.dot(x, y) / max(np.dot(x, x), 1e-300))
    return _fit_metrics(test["fwd_ret_bps"].to_numpy(), beta * test["qi_0"].to_numpy())


def save_model(result: TrainResult, out: str | os.PathLike[str]) -> Path:
    """Write ``pipeline.joblib``, ``metrics.json``, ``weights.txt`` and ``manifest.json``.

    The manifest, written last, records the pickle's SHA-256 and size; `load_model` unpickles
    nothing without it.
    """
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    # A save that does not finish leaves no manifest behind, and so no loadable folder.
    (d / MANIFEST).unlink(missing_ok=True)
    joblib.dump(
        {
            "pipeline": result.pipeline,
            "windows_ms": result.windows_ms,
            "horizon_ns": result.horizon_ns,
            "model": result.model,
            "threshold": result.weights.threshold,
            "split_ts": result.split_ts,
        },
        d / "pipeline.joblib",
    )
    # JSON has no NaN: a metric that cannot be computed (a hit rate with no moves) is null.
    metrics = json.dumps(result.metrics.as_dict(), indent=2, allow_nan=False)
    (d / "metrics.json").write_text(metrics + "\n")
    result.weights.save(d / "weights.txt")
    write_manifest(d)  # last, once the pickle it vouches for is in place
    return d


@dataclass(frozen=True)
class SavedModel:
    """What `save_model` wrote and `load_model` read back: the pipeline and how it was trained."""

    pipeline: Pipeline
    windows_ms: tuple[int, int, int]
    horizon_ns: int
    model: ModelKind
    #: The threshold training chose (`TrainMetrics.threshold`).
    threshold: float
    #: Where validation and test start (``val_start``, ``test_start``), ns.
    split_ts: dict[str, int]


def load_model(path: str | os.PathLike[str]) -> SavedModel:
    """What `save_model` wrote: the pipeline and its training parameters.

    ``pipeline.joblib`` is a pickle: loading it runs the code it names, so a model folder is
    code. Nothing is unpickled unless the folder's ``manifest.json`` records the pickle's
    bytes (`lobflow.train._manifest`); load only model folders you made or trust.
    """
    p = Path(path) / "pipeline.joblib"
    data = verified_pipeline(Path(path))
    try:
        saved = joblib.load(io.BytesIO(data))
    except OSError:
        raise
    except Exception as e:  # unpickling a damaged file can raise almost anything
        msg = f"{p} is not a model written by `lobflow train` ({type(e).__name__}: {e})"
        raise ValueError(msg) from e
    keys = {"pipeline", "windows_ms", "horizon_ns", "model", "threshold", "split_ts"}
    if not (isinstance(saved, dict) and keys <= saved.keys()):
        msg = f"{p} is not a model written by `lobflow train`"
        raise ValueError(msg)
    return SavedModel(
        pipeline=saved["pipeline"],
        windows_ms=check_windows(saved["windows_ms"]),
        horizon_ns=int(saved["horizon_ns"]),
        model=choice(ModelKind, saved["model"], "model"),
        threshold=float(saved["threshold"]),
        split_ts={k: int(v) for k, v in saved["split_ts"].items()},
    )


__all__ = ["SavedModel", "TrainResult", "fit", "load_model", "save_model"]
