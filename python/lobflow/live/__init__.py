"""`lobflow live`: WebSocket books scored as they come by one resident engine session.

`alive` streams the venues with the WebSocket collector, pushes every processed row into a
`lobflow.Session` the moment it is made, and records ``raw_ws/``, ``processed/`` and
``signals/`` (docs/live.md). The names below load on first use, so that ``lobflow --help``
(which imports the command's module) does not import the collector and the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobflow.live.run import alive
    from lobflow.live.stats import FeedSummary, LiveSignal, LiveStats

_WHERE = {
    "alive": "lobflow.live.run",
    "FeedSummary": "lobflow.live.stats",
    "LiveSignal": "lobflow.live.stats",
    "LiveStats": "lobflow.live.stats",
}

__all__ = ["FeedSummary", "LiveSignal", "LiveStats", "alive"]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        msg = f"module 'lobflow.live' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
