"""Train one grid point on given days and bake its weights: no split, CV or threshold search.

`lobflow.train.fit` splits one data set itself (train, validation for the threshold, test for
the metrics) and searches the regularisation by CV. In a walk-forward sweep the fold is the
split (the test days are other days), and alpha and the threshold are grid values, so this
takes the training rows as they are, with the same pipeline, the same handling of features
that vary only by rounding, and the same `lobflow.export.bake`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lobflow.export import bake

# train's own rule for such features, so that a sweep bakes what `lobflow train` would.
from lobflow.train._fit import _hold_rounding_noise_constant

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from lobflow.sweep._config import ModelKind
    from lobflow.weights import Weights


@dataclass(frozen=True)
class Fitted:
    """A pipeline fitted on a fold's training rows, and the spread of its scores there."""

    pipeline: Pipeline
    model: ModelKind
    #: Standard deviation of the model's scores on its training rows (the ``std`` unit of
    #: the grid's threshold).
    score_std: float
    rows: int

    def weights(
        self, windows_ms: tuple[int, int, int], threshold: float, comments: tuple[str, ...]
    ) -> Weights:
        """The engine's weights with `threshold` in score units."""
        return bake(self.pipeline, windows_ms, threshold, comments)


def fit_rows(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    names: list[str],
    *,
    model: ModelKind,
    alpha: float,
    min_rows: int,
) -> Fitted:
    """Fit a scaler and a linear model on labelled training rows as they are.

    ``Ridge(alpha)`` fits the returns; ``LogisticRegression(C=1/alpha)`` their sign (the rows
    that did not move left out). Both after a ``StandardScaler``.

    Raises
    ------
    ValueError
        Fewer than `min_rows` rows (for logistic: moves each way), or scores that do not vary
        (nothing was learned, and no threshold in ``std`` units exists).
    """
    if model == "logistic":
        moved = y != 0
        x, y = x[moved], y[moved]
        ups = int((y > 0).sum())
        if min(ups, y.size - ups) < min_rows // 8:
            msg = (
                f"logistic needs moves both ways: of the training rows that moved, {ups} went "
                f"up and {y.size - ups} down"
            )
            raise ValueError(msg)
    if y.size < min_rows:
        msg = f"only {y.size} labelled training rows (min_train_rows is {min_rows})"
        raise ValueError(msg)
    x = _hold_rounding_noise_constant(x, names)
    if model == "ridge":
        pipe = Pipeline([("scaler", StandardScaler()), ("model", Ridge(alpha=alpha))])
        pipe.fit(x, y)
        scores = pipe.predict(x)
    else:
        clf = LogisticRegression(C=1.0 / alpha, max_iter=1000)
        pipe = Pipeline([("scaler", StandardScaler()), ("model", clf)])
        pipe.fit(x, (y > 0).astype(int))
        scores = pipe.decision_function(x)
    std = float(np.std(scores))
    if not std > 0:
        msg = "the model's scores do not vary on its training rows: it learned nothing"
        raise ValueError(msg)
    return Fitted(pipe, model, std, int(y.size))
