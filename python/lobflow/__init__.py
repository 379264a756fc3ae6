"""lobflow: from raw exchange order books to a live, low-latency trading signal."""

from __future__ import annotations

from lobflow._core import Latency, Pinning, __version__
from lobflow._engine import Engine, RunResult
from lobflow._schema import CONTRACT_COLUMNS, FEATURE_NAMES, feature_names
from lobflow._session import SIGNAL_DTYPE, Session, SessionStats
from lobflow._tick import TICK_DTYPE
from lobflow.errors import (
    BackpressureError,
    EngineError,
    LobflowError,
    LobflowWarning,
    SessionClosedError,
    WeightsFormatError,
)
from lobflow.weights import Weights

__all__ = [
    "CONTRACT_COLUMNS",
    "FEATURE_NAMES",
    "SIGNAL_DTYPE",
    "TICK_DTYPE",
    "BackpressureError",
    "Engine",
    "EngineError",
    "Latency",
    "LobflowError",
    "LobflowWarning",
    "Pinning",
    "RunResult",
    "Session",
    "SessionClosedError",
    "SessionStats",
    "Weights",
    "WeightsFormatError",
    "__version__",
    "feature_names",
]
