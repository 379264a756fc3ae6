"""Type stubs for the Rust extension `lobflow._core` (hand-written, checked by stubtest)."""

from collections.abc import Sequence
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FEATURE_COUNT",
    "MAX_SIZE",
    "SIGNAL_FIELD_OFFSETS",
    "SIGNAL_SIZE",
    "TICK_FIELD_OFFSETS",
    "TICK_SIZE",
    "BackpressureError",
    "Engine",
    "EngineError",
    "LobflowError",
    "Session",
    "SessionClosedError",
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
SIGNAL_SIZE: int
SIGNAL_FIELD_OFFSETS: list[tuple[str, int]]

class LobflowError(Exception): ...
class WeightsFormatError(LobflowError): ...
class EngineError(LobflowError): ...
class SessionClosedError(EngineError): ...
class BackpressureError(EngineError): ...

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

@final
class Session:
    def __new__(
        cls,
        engine: Engine,
        capacity: int = 16384,
        out_capacity: int = 65536,
        cores: tuple[int, int] | None = None,
        pin_caller: bool = False,
        push_timeout_s: float = 1.0,
        max_window_ms: int = 3600000,
        panic_at_update: int | None = None,
    ) -> Session: ...
    def add_feed(self, exchange: str, symbol: str) -> int: ...
    def feed_id(self, exchange: str, symbol: str) -> int | None: ...
    def push(
        self,
        feed: int,
        ts: int,
        bid_px: Sequence[float],
        bid_sz: Sequence[float],
        ask_px: Sequence[float],
        ask_sz: Sequence[float],
        recv_ns: int | None = None,
    ) -> None: ...
    def push_many(
        self,
        feeds: NDArray[np.uint32],
        ts: NDArray[np.int64],
        books: NDArray[np.float64],
        recv_ns: NDArray[np.uint64] | None = None,
    ) -> None: ...
    def poll(self, max_items: int | None = None) -> NDArray[np.uint8]: ...
    def now_ns(self) -> int: ...
    def _noop(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> dict[str, Any]: ...

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
