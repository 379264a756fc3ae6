"""The simulated venue: one aiohttp server speaking the four venues' REST and WebSocket books."""

from __future__ import annotations

from lobflow.collect.sim.server import SimExchange, serve

__all__ = ["SimExchange", "serve"]
