"""An L2 book rebuilt from updates, keyed by exact prices, read out as a contract row.

Price levels are keyed exactly, never by a float parsed from text: a `decimal.Decimal` of the
price as written (two spellings of one price, "101.5" and "101.50", are one level) or, for a
price stored as a double, an integer in the double's order (`_hbt_in.ordered_bits`). No
rounding can split a level in two or merge two. Each side is a
`sortedcontainers.SortedDict` (a well-kept sorted map, O(log n) updates), so a deep book costs
no more per update than a shallow one.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from sortedcontainers import SortedDict

from lobflow._schema import LEVELS

if TYPE_CHECKING:
    from decimal import Decimal

    #: An exact, totally ordered price key.
    Key = Decimal | int

_get = dict.__getitem__  # SortedDict is a dict: a plain lookup

#: One contract row's 20 book values: bid prices, bid sizes, ask prices, ask sizes.
Top = tuple[float, ...]

#: Why a book has no contract row: a side without levels, or best bid >= best ask.
EMPTY = "empty_side"
CROSSED = "crossed"


class Book:
    """Both sides of one instrument's book: price -> (price as float, size).

    The last `top` is kept with the fifth-best price of each side: a change beyond it (most
    changes of a deep book) cannot alter the top five, so the next `top` returns the kept
    row without reading the book again.
    """

    __slots__ = ("_ask_edge", "_bid_edge", "_dirty", "_top", "asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self._bid_edge: Key | None = None  # None: fewer than five levels, any change counts
        self._ask_edge: Key | None = None
        self._dirty = True
        self._top: Top | str = EMPTY

    def clear(self) -> None:
        """Remove every level of both sides (a snapshot starts)."""
        self.bids.clear()
        self.asks.clear()
        self._dirty = True

    def set(self, bid: bool, key: Key, price: float, size: float) -> None:
        """Set one level's size; size 0 removes the level (absent levels may be removed)."""
        if bid:
            side = self.bids
            edge = self._bid_edge
            if edge is None or key >= edge:
                self._dirty = True
        else:
            side = self.asks
            edge = self._ask_edge
            if edge is None or key <= edge:
                self._dirty = True
        if size == 0.0:
            side.pop(key, None)
        else:
            side[key] = (price, size)

    def clear_side(self, bid: bool, upto: Key | None) -> None:
        """Remove one side's levels from its best price to `upto` inclusive (None: all)."""
        side = self.bids if bid else self.asks
        self._dirty = True
        if upto is None:
            side.clear()
            return
        doomed = list(side.irange(minimum=upto) if bid else side.irange(maximum=upto))
        for k in doomed:
            del side[k]

    def top(self) -> Top | str:
        """The five best levels per side as a contract row, or why there is none.

        A side with fewer than five levels is padded as the collector pads a short book
        (`lobflow.collect.venues.validate`): the last real level's price with size 0.
        """
        if not self._dirty:
            return self._top
        self._dirty = False
        bids, asks = self.bids, self.asks
        # Plain iteration of the sorted keys and dict lookups: sortedcontainers' positional
        # views cost a bisection each.
        bk = list(islice(reversed(bids), LEVELS))
        ak = list(islice(asks, LEVELS))
        self._bid_edge = bk[-1] if len(bk) == LEVELS else None
        self._ask_edge = ak[-1] if len(ak) == LEVELS else None
        if not bk or not ak:
            self._top = EMPTY
        elif bk[0] >= ak[0]:
            self._top = CROSSED
        else:
            b = [_get(bids, k) for k in bk]
            a = [_get(asks, k) for k in ak]
            b.extend([(b[-1][0], 0.0)] * (LEVELS - len(b)))
            a.extend([(a[-1][0], 0.0)] * (LEVELS - len(a)))
            bp, bs = zip(*b, strict=True)
            ap, az = zip(*a, strict=True)
            self._top = bp + bs + ap + az
        return self._top
