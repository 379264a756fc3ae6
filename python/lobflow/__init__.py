"""lobflow: from raw exchange order books to a live, low-latency trading signal."""

from __future__ import annotations

from lobflow._core import __version__
from lobflow._schema import CONTRACT_COLUMNS, FEATURE_NAMES, feature_names
from lobflow.errors import EngineError, LobflowError, LobflowWarning, WeightsFormatError

__all__ = [
    "CONTRACT_COLUMNS",
    "FEATURE_NAMES",
    "EngineError",
    "LobflowError",
    "LobflowWarning",
    "WeightsFormatError",
    "__version__",
    "feature_names",
]
