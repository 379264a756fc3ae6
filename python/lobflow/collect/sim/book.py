"""A deep simulated order book on integer ticks, changed by a stream of random book events.

Each event changes one to three levels, with the mix of a busy spot market: most resize a
queue near the top (geometric in depth), some add a level near the top (inside the spread
when it is wider than a tick), some cancel one, and one in ten takes out the best level of a
side. Which side gets taken out leans with the level-0 queue imbalance
``qi0 = (bid_q0 - ask_q0) / (bid_q0 + ask_q0)``: ``P(ask side) = 0.5 + edge * qi0``, the
queue-imbalance effect `lobflow.collect.simbook` documents, so the books carry a small,
real signal. The far end keeps the book near ``depth`` levels a side.

Events come at Poisson times of a given rate in wall-clock time (`DeepBook.advance`) or one
at a time (`DeepBook.step`, for bursts). Every event records each level's old and new size,
so an event can be undone exactly (`Event.inverse`). Prices are ticks and sizes lots (ints):
the venues' decimal strings are made from them exactly (`instruments.fixed`).
"""

from __future__ import annotations

import bisect
import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobflow.collect.sim.instruments import Instrument


BID, ASK = 0, 1
#: An event backlog longer than this many seconds (a suspended process) is skipped, not
#: replayed: the book jumps to now instead of flooding every stream at once.
MAX_CATCHUP_S = 5.0


@dataclass(frozen=True, slots=True)
class Change:
    """One level's size change: ``qty`` 0 removes the level, ``old`` 0 means it was new."""

    side: int
    price: int
    qty: int
    old: int


@dataclass(frozen=True, slots=True)
class Event:
    """One book event: its wall-clock time and the level changes it made."""

    t_ns: int
    changes: tuple[Change, ...]
    #: The book's update id once the event is applied (its changes are ids
    #: ``last_id - len(changes) + 1 .. last_id``).
    last_id: int = 0

    def inverse(self, t_ns: int) -> Event:
        """The event that undoes this one (changes in reverse order, sizes swapped)."""
        return Event(
            t_ns, tuple(Change(c.side, c.price, c.old, c.qty) for c in reversed(self.changes))
        )


@dataclass
class DeepBook:
    """One symbol's book on one venue: integer ticks and lots, best-first keys per side."""

    inst: Instrument
    seed: int
    depth: int = 200
    #: Book events per second (Poisson), in wall-clock time.
    rate: float = 50.0
    imbalance_edge: float = 0.3
    #: Update ids: one per level change (Binance's U/u, the REST lastUpdateId).
    update_id: int = 0
    #: Events applied so far.
    events: int = 0
    qty: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    #: Wall-clock second of each level's last change (Kraken REST's third element).
    stamp: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    #: Sort keys, best first: -price for bids, price for asks.
    keys: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.update_id = 10_000_000 + self.rng.randrange(10_000_000)
        self._mu = math.log(self.inst.level_lots())
        self.last_event_ns = time.time_ns()
        self._wall0 = self.last_event_ns
        self._mono0 = time.monotonic()
        self.next_t = self._mono0 + self._gap()
        mid = self.inst.start_ticks
        now_s = self.last_event_ns // 10**9
        for side, sign in ((BID, -1), (ASK, 1)):
            p = mid + sign * (1 if side == ASK else 0)
            while len(self.keys[side]) < self.depth:
                self._set(side, p, self._size(), now_s)
                p += sign * (1 + int(self.rng.random() < 0.3))

    # -- reading -------------------------------------------------------------------------

    def best(self, side: int) -> int:
        """The best price of a side, in ticks."""
        k = self.keys[side][0]
        return -k if side == BID else k

    def top(self, side: int, n: int) -> list[tuple[int, int]]:
        """The best ``n`` levels of a side as (ticks, lots), best first."""
        q = self.qty[side]
        if side == BID:
            return [(-k, q[-k]) for k in self.keys[side][:n]]
        return [(k, q[k]) for k in self.keys[side][:n]]

    def copy(self) -> DeepBook:
        """An independent copy of the levels and counters (same seed, fresh clock)."""
        other = DeepBook(self.inst, self.seed, 2, self.rate, self.imbalance_edge)
        other.assign(self)
        other.depth = self.depth
        return other

    def assign(self, other: DeepBook) -> None:
        """Take ``other``'s levels and counters (the clock and random state stay)."""
        self.qty = (dict(other.qty[0]), dict(other.qty[1]))
        self.stamp = (dict(other.stamp[0]), dict(other.stamp[1]))
        self.keys = (list(other.keys[0]), list(other.keys[1]))
        self.update_id, self.events = other.update_id, other.events
        self.last_event_ns = other.last_event_ns

    # -- changing ------------------------------------------------------------------------

    def apply(self, ev: Event) -> None:
        """Apply an event's changes (sizes as given; ids advance by one per change)."""
        s = ev.t_ns // 10**9
        for c in ev.changes:
            self._set(c.side, c.price, c.qty, s)
        self.update_id += len(ev.changes)
        self.events += 1
        self.last_event_ns = ev.t_ns

    def step(self, t_ns: int | None = None) -> Event:
        """Draw one random event, apply it and return it."""
        t_ns = time.time_ns() if t_ns is None else t_ns
        changes: list[Change] = []
        while not changes:  # a draw that changed nothing (a level already there) draws again
            self._draw(changes)
        ev = Event(t_ns, tuple(changes), self.update_id + len(changes))
        self.apply(ev)
        return ev

    def advance(self, now: float | None = None) -> list[Event]:
        """Apply every event due by ``now`` (monotonic seconds) and return them in order."""
        now = time.monotonic() if now is None else now
        if now - self.next_t > MAX_CATCHUP_S:
            self.next_t = now
        out: list[Event] = []
        while self.next_t <= now:
            t_ns = self._wall0 + int((self.next_t - self._mono0) * 1e9)
            out.append(self.step(t_ns))
            self.next_t += self._gap()
        return out

    def restart_clock(self) -> None:
        """Start the event clock afresh from now (after a burst moved the book by hand)."""
        self.next_t = time.monotonic() + self._gap()

    # -- the model -----------------------------------------------------------------------

    def _gap(self) -> float:
        return self.rng.expovariate(self.rate) if self.rate > 0 else math.inf

    def _size(self) -> int:
        return max(1, round(self.rng.lognormvariate(self._mu, 0.8)))

    def _set(self, side: int, price: int, qty: int, stamp_s: int) -> None:
        book, keys = self.qty[side], self.keys[side]
        key = -price if side == BID else price
        if qty <= 0:
            if book.pop(price, None) is not None:
                # The key is present: bisect_left finds exactly it.
                del keys[bisect.bisect_left(keys, key)]
                self.stamp[side].pop(price, None)
            return
        if price not in book:
            bisect.insort(keys, key)
        book[price] = qty
        self.stamp[side][price] = stamp_s

    def _change(self, out: list[Change], side: int, price: int, qty: int) -> None:
        old = self.qty[side].get(price, 0)
        if qty != old:
            out.append(Change(side, price, qty, old))
            self._set(side, price, qty, self.last_event_ns // 10**9)

    def _level(self, side: int, k: int) -> int:
        key = self.keys[side][k]
        return -key if side == BID else key

    def _draw(self, out: list[Change]) -> None:
        r = self.rng.random()
        side = BID if self.rng.random() < 0.5 else ASK
        n = len(self.keys[side])
        bid, ask = self.best(BID), self.best(ASK)
        if ask - bid > 1 and self.rng.random() < min(0.9, 0.4 * (ask - bid - 1)):
            # A wide spread fills fast: someone quotes inside it (one side, not crossing).
            inside = self.rng.randrange(1, ask - bid)
            self._change(out, side, bid + inside if side == BID else ask - inside, self._size())
        elif r < 0.55:  # a queue near the top grows or shrinks (or is cancelled)
            k = min(n - 1, int(self.rng.expovariate(0.35)))
            p = self._level(side, k)
            q = self.qty[side][p]
            new = 0 if self.rng.random() < 0.08 else round(q * self.rng.lognormvariate(0, 0.5))
            self._change(out, side, p, max(new, 0 if k else 1))
        elif r < 0.72:  # a new level near the top
            d = 1 + int(self.rng.expovariate(0.3))
            p = bid - d if side == BID else ask + d
            if p not in self.qty[side]:
                self._change(out, side, p, self._size())
        elif r < 0.82:  # a market order takes out the best level, leaning with imbalance
            qb, qa = self.qty[BID][bid], self.qty[ASK][ask]
            qi0 = (qb - qa) / (qb + qa)
            side = ASK if self.rng.random() < 0.5 + self.imbalance_edge * qi0 else BID
            if len(self.keys[side]) > 2:
                self._change(out, side, self.best(side), 0)
        elif r < 0.92 and n > 2:  # a resting level anywhere is cancelled
            self._change(out, side, self._level(side, self.rng.randrange(1, n)), 0)
        self._keep_depth(out)

    def _keep_depth(self, out: list[Change]) -> None:
        for side, sign in ((BID, -1), (ASK, 1)):
            keys = self.keys[side]
            while len(keys) < self.depth:
                # Refill at an empty tick anywhere in the side's span, so that the span keeps
                # its density instead of stretching outwards refill after refill.
                best, far = self.best(side), self._level(side, len(keys) - 1)
                p = far + sign * (1 + int(self.rng.random() < 0.3))
                for _ in range(4):
                    guess = best + sign * self.rng.randrange(1, abs(far - best) + 2)
                    if guess not in self.qty[side]:
                        p = guess
                        break
                self._change(out, side, p, self._size())
            while len(keys) > self.depth + self.depth // 5:
                self._change(out, side, self._level(side, len(keys) - 1), 0)
