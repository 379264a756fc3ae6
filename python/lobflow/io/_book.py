"""An L2 book rebuilt from updates, keyed by exact prices, read out as a contract row.

Price levels are keyed by `decimal.Decimal` (the exact value of the price as written, or of
the stored double), never by a float parsed from text: two spellings of one price ("101.5",
"101.50") are one level, and no rounding can split a level in two or merge two. Each side is a
`sortedcontainers.SortedDict` (a well-kept sorted map, O(log n) updates), so a deep book costs
no more per update than a shallow one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sortedcontainers import SortedDict

from lobflow._schema import LEVELS

if TYPE_CHECKING:
    from decimal import Decimal

#: One contract row's 20 book values: bid prices, bid sizes, ask prices, ask sizes.
Top = tuple[float, ...]

#: Why a book has no contract row: a side without levels, or best bid >= best ask.
EMPTY = "empty_side"
CROSSED = "crossed"


class Book:
    """Both sides of one instrument's book: price -> (price as float, size)."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()

    def clear(self) -> None:
        """Remove every level of both sides (a snapshot starts)."""
        self.bids.clear()
        self.asks.clear()

    def set(self, bid: bool, key: Decimal, price: float, size: float) -> None:
        """Set one level's size; size 0 removes the level (absent levels may be removed)."""
        side = self.bids if bid else self.asks
        if size == 0.0:
            side.pop(key, None)
        else:
            side[key] = (price, size)

    def clear_side(self, bid: bool, upto: Decimal | None) -> None:
        """Remove one side's levels from its best price to `upto` inclusive (None: all)."""
        side = self.bids if bid else self.asks
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
        bids, asks = self.bids, self.asks
        nb, na = len(bids), len(asks)
        if nb == 0 or na == 0:
            return EMPTY
        if bids.peekitem(-1)[0] >= asks.peekitem(0)[0]:
            return CROSSED
        bv = bids.values()
        av = asks.values()
        b = [bv[-1 - i] for i in range(min(LEVELS, nb))]
        a = [av[i] for i in range(min(LEVELS, na))]
        b.extend([(b[-1][0], 0.0)] * (LEVELS - len(b)))
        a.extend([(a[-1][0], 0.0)] * (LEVELS - len(a)))
        return (
            tuple(p for p, _ in b)
            + tuple(s for _, s in b)
            + tuple(p for p, _ in a)
            + tuple(s for _, s in a)
        )
