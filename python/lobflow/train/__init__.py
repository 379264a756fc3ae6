"""Training: labels, chronological split, time-series CV, threshold against costs, export."""

from __future__ import annotations

from lobflow._choices import ModelKind
from lobflow.train._fit import SavedModel, TrainResult, fit, load_model, save_model
from lobflow.train._metrics import Fit, Rows, Trading, TrainMetrics

__all__ = [
    "Fit",
    "ModelKind",
    "Rows",
    "SavedModel",
    "Trading",
    "TrainMetrics",
    "TrainResult",
    "fit",
    "load_model",
    "save_model",
]
