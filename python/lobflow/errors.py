"""lobflow's exceptions: the engine's (raised from Rust) and the Python stages' own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lobflow._core import (
    BackpressureError,
    EngineError,
    LobflowError,
    SessionClosedError,
    WeightsFormatError,
)

if TYPE_CHECKING:
    from lobflow.collect.stats import CollectStats


class LobflowWarning(UserWarning):
    """Something worked, but not as asked (e.g. cores fell back, windows shorter than the data)."""


class CollectorError(LobflowError):
    """The collector could not start or could not write its output.

    Where it could not write, `stats` is what the run did up to then.
    """

    stats: CollectStats | None = None


class BacktestError(LobflowError):
    """A backtest configuration or input that cannot be simulated."""


__all__ = [
    "BackpressureError",
    "BacktestError",
    "CollectorError",
    "EngineError",
    "LobflowError",
    "LobflowWarning",
    "SessionClosedError",
    "WeightsFormatError",
]
