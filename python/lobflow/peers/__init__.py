"""lobflow beside other tools on the same books: hftbacktest running lobflow's taker strategy.

Needs the optional ``peers`` extra (``pip install lobflow[peers]``); `available` says
whether it is installed. See docs/peers.md for what agrees, what differs and why.
"""

from __future__ import annotations

from lobflow.peers._agreement import Agreement, agreement
from lobflow.peers._hftbacktest import (
    PeerRun,
    Prepared,
    Timing,
    available,
    grid,
    peer_events,
    prepare,
    run_taker,
)

__all__ = [
    "Agreement",
    "PeerRun",
    "Prepared",
    "Timing",
    "agreement",
    "available",
    "grid",
    "peer_events",
    "prepare",
    "run_taker",
]
