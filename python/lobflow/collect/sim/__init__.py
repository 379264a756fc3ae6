"""The simulated venue: one aiohttp server speaking the four venues' REST and WebSocket books."""

from __future__ import annotations

from lobflow.collect.sim.burst import BurstResult
from lobflow.collect.sim.faults import Fault, Injected
from lobflow.collect.sim.server import FeedStats, SimExchange, SimStats, serve
from lobflow.collect.sim.venue import SimConfig

__all__ = [
    "BurstResult",
    "Fault",
    "FeedStats",
    "Injected",
    "SimConfig",
    "SimExchange",
    "SimStats",
    "serve",
]
