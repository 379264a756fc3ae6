"""NumPy mirror of the engine's 88-byte `L2Tick` (checked against `_core` by the tests)."""

from __future__ import annotations

import numpy as np

#: The tick layout: prices are quanta from a per-run anchor (see docs/tick-encoding.md).
TICK_DTYPE = np.dtype(
    [
        ("bid_px", np.float32, (5,)),
        ("bid_sz", np.float32, (5,)),
        ("ask_px", np.float32, (5,)),
        ("ask_sz", np.float32, (5,)),
        ("ts", np.uint64),
    ],
    align=True,
)
