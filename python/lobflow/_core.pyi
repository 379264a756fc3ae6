"""Type stubs for the Rust extension `lobflow._core` (hand-written, checked by stubtest)."""

from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FEATURE_COUNT",
    "MAX_SIZE",
    "TICK_FIELD_OFFSETS",
    "TICK_SIZE",
    "Engine",
    "EngineError",
    "LobflowError",
    "WeightsFormatError",
    "__version__",
    "backtest",
    "core_to_core_latency",
    "feature_names",
    "handoff_latency",
    "parse_weights",
    "stamped_latency",
    "weights_text",
]

__version__: str
TICK_SIZE: int
MAX_SIZE: float
TICK_FIELD_OFFSETS: list[tuple[str, int]]
FEATURE_COUNT: int

class LobflowError(Exception): ...
class WeightsFormatError(LobflowError): ...
class EngineError(LobflowError): ...

@final
class Engine:
    def __new__(
        cls,
        weights_text: str,
        source: str,
        capacity: int = 131072,
        cores: tuple[int, int] = ...,
    ) -> Engine: ...
    def run(
        self,
        ts: NDArray[np.int64],
        cols: list[NDArray[np.float64]],
        record_features: bool = False,
        pace_ns: int | None = None,
        skip_bad: bool = False,
        ring_stores: str = "auto",
        panic_at_row: int | None = None,
    ) -> dict[str, Any]: ...
    def weights_text(self) -> str: ...

def parse_weights(
    text: str, source: str
) -> tuple[tuple[int, int, int], float, float, list[float]]: ...
def weights_text(data: bytes, source: str) -> str: ...
def feature_names(windows_ms: tuple[int, int, int]) -> list[str]: ...
def core_to_core_latency(
    cores: tuple[int, int] = ..., round_trips: int = 100000
) -> dict[str, Any]: ...
def handoff_latency(cores: tuple[int, int] = ..., round_trips: int = 100000) -> dict[str, Any]: ...
def stamped_latency(cores: tuple[int, int] = ..., messages: int = 100000) -> dict[str, Any]: ...
def backtest(
    ts: NDArray[np.int64],
    cols: list[NDArray[np.float64]],
    signals: NDArray[np.int8],
    config: dict[str, Any],
) -> dict[str, Any]: ...
