"""Collect: async multi-venue L2 poller writing raw and processed Parquet, and a simulated venue.

The names below load on first use, so that ``lobflow --help`` (which reads the venue registry
for its options) does not import aiohttp and the simulated venue.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobflow.collect.poller import acollect, collect
    from lobflow.collect.sim import SimExchange
    from lobflow.collect.simbook import simulate_books
    from lobflow.collect.stats import CollectStats, VenueStats
    from lobflow.collect.venues import VENUES

_WHERE = {
    "VENUES": "lobflow.collect.venues",
    "CollectStats": "lobflow.collect.stats",
    "SimExchange": "lobflow.collect.sim",
    "VenueStats": "lobflow.collect.stats",
    "acollect": "lobflow.collect.poller",
    "collect": "lobflow.collect.poller",
    "simulate_books": "lobflow.collect.simbook",
}

__all__ = [
    "VENUES",
    "CollectStats",
    "SimExchange",
    "VenueStats",
    "acollect",
    "collect",
    "simulate_books",
]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        msg = f"module 'lobflow.collect' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
