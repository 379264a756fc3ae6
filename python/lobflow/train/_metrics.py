"""What `lobflow.train.fit` measured, typed and frozen; `as_dict` is ``metrics.json``."""

from __future__ import annotations

import dataclasses
import math
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lobflow._choices import ModelKind
    from lobflow.backtest import BacktestConfig
    from lobflow.backtest._by_threshold import PnlByThreshold


@dataclasses.dataclass(frozen=True)
class Fit:
    """How well scores predict the forward return on one part of the data."""

    #: Out-of-sample R² of the score as a forecast of the return in bps; None for logistic
    #: models, whose score is log-odds.
    r2: float | None
    #: Spearman rank correlation of score and return (0 when either is constant).
    ic: float
    #: Share of rows that moved whose move the score's sign called; NaN when none moved.
    hit_rate: float


@dataclasses.dataclass(frozen=True)
class Rows:
    """Labelled rows in each part, after purging by the horizon; the input's rows."""

    train: int
    val: int
    test: int
    #: Rows of the books trained on.
    input: int
    #: Of those, the rows skipped as invalid (`on_bad="skip"`; training warns above 10 %).
    skipped: int


@dataclasses.dataclass(frozen=True)
class Trading:
    """The backtest of one part at the chosen threshold (`lobflow.backtest.run`, per feed)."""

    #: Net PnL, summed over feeds, in bps of one order's notional.
    pnl_bps: float
    #: Trades (a flip counts two).
    trades: int


@dataclasses.dataclass(frozen=True)
class TrainMetrics:
    """Everything `fit` chose and measured. Test figures come from the untouched test part."""

    model: ModelKind
    #: The regularisation CV chose: Ridge's ``alpha`` or logistic's ``C``.
    regularization: float
    horizon_ns: int
    windows_ms: tuple[int, int, int]
    rows: Rows
    #: Where the validation and the test parts start (ns): the test part is every row from
    #: `test_start_ns` on (`lobflow backtest --held-out`).
    val_start_ns: int
    test_start_ns: int
    median_spacing_ms: float
    #: The execution the threshold was chosen for: backtest with the same to compare.
    execution: BacktestConfig
    #: The signal threshold: the one whose backtest of the validation part made the most.
    threshold: float
    #: False when no threshold made money on validation after costs: the threshold is then
    #: above every score, and the model never trades.
    trades: bool
    #: The validation part's backtest at `threshold`.
    validation: Trading
    #: The validation part's PnL at every candidate threshold and at a few fees: the curve
    #: the threshold was read from (its `fees_bps` include the execution's).
    validation_curve: PnlByThreshold
    #: The test part's backtest at `threshold`.
    test_trading: Trading
    #: The model's scores against the test part's returns.
    test: Fit
    #: The naive baseline on the test part: level-0 queue imbalance, scaled by least
    #: squares on the training part.
    baseline_qi0: Fit

    def as_dict(self) -> dict[str, object]:
        """Plain JSON types: enums as their strings, arrays as lists, NaN and inf as None."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(x: object) -> object:
    """`x` as JSON-ready values.

    Strict JSON has no NaN: a metric that could not be computed (a hit rate with no moves)
    is null.
    """
    if isinstance(x, Enum):
        return x.value
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return _plain(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
