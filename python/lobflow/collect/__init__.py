"""Collect: async multi-venue L2 poller writing raw and processed Parquet, and a simulated venue."""

from __future__ import annotations

from lobflow.collect.poller import acollect, collect
from lobflow.collect.sim import SimExchange
from lobflow.collect.simbook import simulate_books
from lobflow.collect.stats import CollectStats, VenueStats
from lobflow.collect.venues import VENUES

__all__ = [
    "VENUES",
    "CollectStats",
    "SimExchange",
    "VenueStats",
    "acollect",
    "collect",
    "simulate_books",
]
