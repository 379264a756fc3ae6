"""lobflow: from raw exchange order books to a live, low-latency trading signal."""

from __future__ import annotations

from lobflow._core import Latency, Pinning, __version__
from lobflow._engine import Engine, RunResult
from lobflow._schema import CONTRACT_COLUMNS, FEATURE_NAMES, feature_names
from lobflow._tick import TICK_DTYPE
from lobflow.errors import EngineError, LobflowError, LobflowWarning, WeightsFormatError
from lobflow.weights import Weights

__all__ = [
    "CONTRACT_COLUMNS",
    "FEATURE_NAMES",
    "TICK_DTYPE",
    "Engine",
    "EngineError",
    "Latency",
    "LobflowError",
    "LobflowWarning",
    "Pinning",
    "RunResult",
    "Weights",
    "WeightsFormatError",
    "__version__",
    "feature_names",
]
