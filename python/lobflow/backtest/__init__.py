"""Backtest: simulated execution of engine signals against recorded books (Rust loop)."""

from __future__ import annotations

from lobflow._choices import Mode, OnZero
from lobflow.backtest._books import Books
from lobflow.backtest._metrics import BacktestMetrics
from lobflow.backtest._run import BacktestConfig, BacktestResult, run

__all__ = [
    "BacktestConfig",
    "BacktestMetrics",
    "BacktestResult",
    "Books",
    "Mode",
    "OnZero",
    "run",
]
