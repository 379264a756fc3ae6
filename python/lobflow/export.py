"""Bake a fitted `Pipeline(StandardScaler, linear model)` into engine weights.

With ``z = (x - mean) / scale`` and ``score = b + w·z``, the engine scores raw features with
``w' = w / scale`` and ``b' = b - Σ w·mean/scale``. For a classifier the score is its
decision function (log-odds of an up move).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lobflow._schema import DEFAULT_WINDOWS_MS, check_windows, feature_names
from lobflow.errors import LobflowWarning
from lobflow.weights import N_FEATURES, Weights

#: A feature whose standard deviation is at most this fraction of its magnitude varies only by
#: float64 rounding: a one-tick spread computed as `ask - bid` near 60 000 is 0.1 give or take
#: ~1e-12. Scaled to unit variance, that noise gets a weight of ~1e10, and the engine's own
#: rounding of the same feature (a different ~1e-12, within the contract) then moves the score
#: by more than its spread. `lobflow.train.fit` fits such features as constants; `bake` warns.
ROUNDING_ONLY = 1e-9


def bake(
    pipeline: Pipeline,
    windows_ms: tuple[int, int, int] = DEFAULT_WINDOWS_MS,
    threshold: float = 0.0,
    comments: tuple[str, ...] = (),
) -> Weights:
    """Fold the scaler into the linear model's weights.

    Parameters
    ----------
    pipeline
        A fitted `sklearn.pipeline.Pipeline` of a `StandardScaler` then any linear model with
        ``coef_`` and ``intercept_`` over the 18 contract features (a binary classifier's
        decision function is the score).
    windows_ms
        The windows the features were computed with (written to the file).
    threshold
        Signal threshold in score units.
    comments
        Provenance lines for the file's header.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, (200, 18))
    >>> p = make_pipeline(StandardScaler(), Ridge()).fit(x, x[:, 1])
    >>> w = bake(p)
    >>> bool(np.allclose(w.score(x), p.predict(x)))
    True
    """
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        msg = "expected a fitted Pipeline(StandardScaler, <linear model>)"
        raise TypeError(msg)
    scaler, model = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(scaler, StandardScaler):
        msg = f"the first step must be a StandardScaler, got {type(scaler).__name__}"
        raise TypeError(msg)
    if not hasattr(model, "coef_"):
        msg = f"the last step must be a fitted linear model, got {type(model).__name__}"
        raise TypeError(msg)
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.ndim == 2:
        if coef.shape[0] != 1:
            msg = "only binary classifiers (one decision function) can be baked"
            raise ValueError(msg)
        coef = coef[0]
    if coef.shape != (N_FEATURES,):
        msg = f"the model must use the {N_FEATURES} contract features, got {coef.shape[0]}"
        raise ValueError(msg)
    windows = check_windows(windows_ms)
    _check_names(pipeline, windows)
    intercept = (
        float(np.ravel(model.intercept_)[0])
        if np.ndim(model.intercept_)
        else float(model.intercept_)
    )
    mean = scaler.mean_ if scaler.with_mean else np.zeros(N_FEATURES)
    scale = scaler.scale_ if scaler.with_std else np.ones(N_FEATURES)
    w = coef / scale
    b = intercept - float(np.sum(coef * mean / scale))
    _warn_rounding_only(coef, w, mean, scale, windows)
    return Weights(windows, float(threshold), b, tuple(w.tolist()), comments)


def _warn_rounding_only(
    coef: np.ndarray,
    w: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    windows_ms: tuple[int, int, int],
) -> None:
    """Warn about weights on features that varied only by rounding when the scaler was fitted.

    A feature the scaler found constant (`scale_` 1) has a standardised coefficient of ~0
    and is left out.
    """
    used = np.abs(coef) > 1e-6 * np.abs(coef).max(initial=0.0)
    noise = used & (scale <= ROUNDING_ONLY * np.abs(mean))
    if not noise.any():
        return
    names = feature_names(windows_ms)
    shown = ", ".join(
        f"`{names[i]}` (scale_ {scale[i]:.3g} against mean_ {mean[i]:.3g}, weight {w[i]:.3g})"
        for i in np.flatnonzero(noise)
    )
    msg = (
        f"feature(s) {shown} varied only by float rounding when the pipeline was fitted: "
        "their baked weights turn the engine's own rounding of them (within the feature "
        "contract) into score error, and engine and pipeline scores will disagree; fit with "
        "those columns held constant (lobflow.train.fit does)"
    )
    warnings.warn(msg, LobflowWarning, stacklevel=3)


def _check_names(pipeline: Pipeline, windows_ms: tuple[int, int, int]) -> None:
    """Refuse a pipeline fitted on named columns that are not these windows' features.

    A model fitted on ``rolling_ofi_1000ms`` baked with the default 10/20/50 ms windows would
    be scored by the engine on other features without any error: the failure the weights
    file exists to prevent. Pipelines fitted on bare arrays carry no names to check.
    """
    fitted = getattr(pipeline, "feature_names_in_", None)
    if fitted is None:
        return
    want = feature_names(windows_ms)
    for i, (got, name) in enumerate(zip([str(f) for f in fitted], want, strict=True)):
        if got != name:
            msg = (
                f"feature {i} was fitted as `{got}` but windows_ms={windows_ms} names it "
                f"`{name}`: bake with the windows (and the column order) the model was "
                "trained with"
            )
            raise ValueError(msg)
