"""The faults the simulated venue can inject, and which venue each applies to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    """A fault to inject into one feed (venue, symbol) of the simulated venue."""

    #: The next ``count`` updates of the feed are not sent (their ids are spent): a gap.
    DROP = "drop"
    #: The next ``count`` Kraken updates carry a wrong checksum (the book itself is right).
    BAD_CHECKSUM = "bad_checksum"
    #: Every socket carrying the feed is closed now: cut without a close frame, or with
    #: close ``code`` when one is given.
    CLOSE = "close"
    #: Every socket carrying the feed goes silent for ``seconds`` (None: until cleared):
    #: no data, no pong, no heartbeat, no server ping; what would have been sent is lost.
    STALL = "stall"
    #: Bybit's service restart: the next message is a ``snapshot`` with ``u == 1``.
    RESTART = "restart"
    #: Every KuCoin token issued so far expires and the sockets using one are cut; a
    #: reconnect with an old token gets KuCoin's ``401 token is expired`` error.
    EXPIRE_TOKEN = "expire_token"
    #: Ends a stall and forgets pending drops, bad checksums and restarts.
    CLEAR = "clear"


#: The faults each venue supports (the others do not exist on that venue's protocol).
APPLIES: dict[str, frozenset[Fault]] = {
    "binance": frozenset({Fault.DROP, Fault.CLOSE, Fault.STALL, Fault.CLEAR}),
    "bybit": frozenset({Fault.DROP, Fault.CLOSE, Fault.STALL, Fault.RESTART, Fault.CLEAR}),
    "kraken": frozenset({Fault.DROP, Fault.BAD_CHECKSUM, Fault.CLOSE, Fault.STALL, Fault.CLEAR}),
    "kucoin": frozenset({Fault.DROP, Fault.CLOSE, Fault.STALL, Fault.EXPIRE_TOKEN, Fault.CLEAR}),
}


@dataclass
class Pending:
    """Faults waiting for a feed's next messages."""

    drop: int = 0
    bad_checksum: int = 0
    restart: int = 0

    def take(self, fault: Fault) -> bool:
        """Consume one pending ``fault``; True if there was one."""
        name = fault.value
        n: int = getattr(self, name)
        if n <= 0:
            return False
        setattr(self, name, n - 1)
        return True


@dataclass(frozen=True)
class Injected:
    """What an injection touched."""

    venue: str
    symbol: str | None
    fault: Fault
    #: Sockets closed or stalled now (0 for faults that wait for the next message).
    connections: int


def parse_fault(venue: str, fault: str | Fault) -> Fault:
    """The `Fault` named ``fault``, checked against ``venue``.

    Raises
    ------
    ValueError
        If the venue or the fault is unknown, or the fault does not exist on that venue.
    """
    if venue not in APPLIES:
        msg = f"unknown venue {venue!r}: one of {sorted(APPLIES)}"
        raise ValueError(msg)
    try:
        f = Fault(fault)
    except ValueError:
        msg = f"unknown fault {fault!r}: one of {[x.value for x in Fault]}"
        raise ValueError(msg) from None
    if f not in APPLIES[venue]:
        has = sorted(x.value for x in APPLIES[venue])
        msg = f"fault {f.value!r} does not exist on {venue} (it has {has})"
        raise ValueError(msg)
    return f
