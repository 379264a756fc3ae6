"""Training: labels, chronological split, time-series CV, threshold against costs, export."""

from __future__ import annotations

from lobflow.train._fit import TrainResult, fit, load_model, save_model

__all__ = ["TrainResult", "fit", "load_model", "save_model"]
