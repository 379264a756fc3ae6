"""Backtest: simulated execution of engine signals against recorded books (Rust loop)."""

from __future__ import annotations

from lobflow.backtest._run import BacktestConfig, BacktestResult, run

__all__ = ["BacktestConfig", "BacktestResult", "run"]
