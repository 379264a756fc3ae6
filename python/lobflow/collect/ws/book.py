"""An exact order book: integer price keys, sorted with `bisect`, top 5 read from the end.

Prices and sizes are integer units of ``10**-scale`` (`lobflow.collect.decimals.units`), so
levels never drift or collide as float keys do. Each side keeps its keys in one ascending
Python list with the best level last (bids keyed by price, asks by minus price): updates near
the top, the common case, move few list entries, and the top 5 is the list's last five.
A book of a few thousand levels (Binance's 1000-level snapshot plus what the diff stream adds)
stays a few microseconds per change.
"""

from __future__ import annotations

from bisect import bisect_left, insort

#: Levels of each side in a processed row.
TOP = 5


class Side:
    """One side of a book: levels keyed by signed integer price, best last."""

    __slots__ = ("keys", "sign", "sizes")

    def __init__(self, sign: int) -> None:
        #: +1 for bids (best = highest price), -1 for asks (best = lowest price).
        self.sign = sign
        self.keys: list[int] = []
        self.sizes: dict[int, int] = {}

    def clear(self) -> None:
        """Remove every level."""
        self.keys.clear()
        self.sizes.clear()

    def set(self, price: int, size: int) -> bool:
        """Set one level (size 0 deletes it); True when the top `TOP` may have changed."""
        k = price * self.sign
        keys = self.keys
        if size:
            if k not in self.sizes:
                insort(keys, k)
            self.sizes[k] = size
        elif k in self.sizes:
            del self.sizes[k]
            del keys[bisect_left(keys, k)]
        else:
            return False
        return len(keys) <= TOP or k >= keys[-TOP]

    def truncate(self, depth: int) -> None:
        """Keep the best `depth` levels (a venue's book depth: what falls out is not sent)."""
        extra = len(self.keys) - depth
        if extra > 0:
            for k in self.keys[:extra]:
                del self.sizes[k]
            del self.keys[:extra]

    def best(self, n: int) -> list[tuple[int, int]]:
        """The best `n` levels as (price, size), best first."""
        sign, sizes = self.sign, self.sizes
        return [(k * sign, sizes[k]) for k in reversed(self.keys[-n:])]

    def __len__(self) -> int:
        return len(self.keys)


class Book:
    """Both sides of one feed's book at one price scale and one size scale.

    The top 5 is computed again only after a change that may have moved it (`Side.set`
    tells): most of a deep book's updates land below the top 5.
    """

    __slots__ = ("_top", "asks", "bids", "dirty", "px_div", "sz_div")

    def __init__(self, price_scale: int, size_scale: int) -> None:
        self.bids = Side(1)
        self.asks = Side(-1)
        self.px_div = 10**price_scale
        self.sz_div = 10**size_scale
        self.dirty = True
        self._top: tuple[float, ...] | str = "empty"

    def clear(self) -> None:
        """Remove every level of both sides."""
        self.bids.clear()
        self.asks.clear()
        self.dirty = True

    def set_bid(self, price: int, size: int) -> None:
        """Set one bid level (size 0 deletes it)."""
        if self.bids.set(price, size):
            self.dirty = True

    def set_ask(self, price: int, size: int) -> None:
        """Set one ask level (size 0 deletes it)."""
        if self.asks.set(price, size):
            self.dirty = True

    def top(self) -> tuple[float, ...] | str:
        """The 20 row values (bid px, bid sz, ask px, ask sz; 5 each) or why there are none.

        A side with fewer than 5 levels is padded as the REST collector pads: the last price
        with size 0. An empty side is ``"empty"``, a best bid at or above the best ask
        ``"crossed"``.
        """
        if not self.dirty:
            return self._top
        self.dirty = False
        self._top = self._compute()
        return self._top

    def _compute(self) -> tuple[float, ...] | str:
        bids, asks = self.bids, self.asks
        if not bids.keys or not asks.keys:
            return "empty"
        if bids.keys[-1] >= -asks.keys[-1]:
            return "crossed"
        px, sz = self.px_div, self.sz_div
        out: list[float] = []
        for side in (bids, asks):
            levels = side.best(TOP)
            prices = [p / px for p, _ in levels]
            sizes = [s / sz for _, s in levels]
            while len(prices) < TOP:
                prices.append(prices[-1])
                sizes.append(0.0)
            out += prices
            out += sizes
        return tuple(out)
