"""hftbacktest's event record and flags, as its ``types.py`` defines them (version 2).

lobflow reads and writes this format without importing hftbacktest (an optional peer): the
64-byte record and the flag bits are the file format, and the tests check them against
hftbacktest's own `event_dtype` where it is installed.
"""

from __future__ import annotations

import numpy as np

#: One event: flags, exchange and local time (ns), price, quantity, and fields depth events
#: leave at zero.
EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)

#: The low byte of `ev` is the event kind.
KIND_MASK = 0xFF
DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
DEPTH_BBO_EVENT = 5
#: Market-by-order kinds (add, cancel, modify, fill): L3 data, which lobflow does not replay.
L3_KINDS = frozenset({10, 11, 12, 13})

#: Processed by the exchange at `exch_ts` / by the strategy at `local_ts`.
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
#: The bid side (depth) or a buyer-initiated trade / the ask side or a seller-initiated trade.
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
