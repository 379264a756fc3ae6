"""Walk-forward research sweeps over many feeds, days and grid points, on Dask (docs/sweep.md)."""

from __future__ import annotations

from lobflow.sweep._config import (
    BacktestSettings,
    DataConfig,
    FitSettings,
    Grid,
    GridPoint,
    RunSettings,
    SelectSettings,
    SweepConfig,
    WalkForward,
    load_config,
    parse_config,
)
from lobflow.sweep._errors import ConfigError, SweepError
from lobflow.sweep._run import SweepResult, run
from lobflow.sweep._select import Choice

__all__ = [
    "BacktestSettings",
    "Choice",
    "ConfigError",
    "DataConfig",
    "FitSettings",
    "Grid",
    "GridPoint",
    "RunSettings",
    "SelectSettings",
    "SweepConfig",
    "SweepError",
    "SweepResult",
    "WalkForward",
    "load_config",
    "parse_config",
    "run",
]
