"""The simulated venue's instruments: each symbol's start price, tick and lot, and its names.

Prices are held as integer ticks of ``10**-price_decimals`` and sizes as integer lots of
``10**-qty_decimals``, so every price and size the venue sends is an exact decimal string
made from integers (`fixed`, `stripped`), never a float's rounding. The ten symbols of
`SYMBOLS` carry realistic prices and steps, and ``SIM-USDT`` is the bundled sample's market;
any other ``BASE-QUOTE`` with a quote the venues know (`lobflow.collect.venues.base.QUOTES`)
is accepted too (a made-up market around 2 000), as the REST venue always did.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from lobflow.collect.venues.base import QUOTES, unified_symbol


@dataclass(frozen=True)
class Instrument:
    """One symbol's price grid, lot and typical level size."""

    base: str
    quote: str
    #: Start mid price, in ticks.
    start_ticks: int
    #: The tick is ``10**-price_decimals``.
    price_decimals: int
    #: The lot is ``10**-qty_decimals``.
    qty_decimals: int
    #: Typical quote-currency value resting on one level (sets the size scale).
    level_notional: float = 20_000.0

    @property
    def unified(self) -> str:
        """The unified ``BASE-QUOTE`` name."""
        return f"{self.base}-{self.quote}"

    def price(self, ticks: int, decimals: int | None = None) -> str:
        """``ticks`` as a decimal string padded to ``decimals`` (default: the tick's)."""
        return fixed(ticks, self.price_decimals, decimals)

    def qty(self, lots: int, decimals: int | None = None) -> str:
        """``lots`` as a decimal string padded to ``decimals`` (default: the lot's)."""
        return fixed(lots, self.qty_decimals, decimals)

    def level_lots(self) -> float:
        """Typical lots resting on one level."""
        price: float = self.start_ticks / 10.0**self.price_decimals
        lots: float = self.level_notional / price * 10.0**self.qty_decimals
        return max(1.0, lots)


def fixed(n: int, decimals: int, out: int | None = None) -> str:
    """The integer ``n`` (in units of ``10**-decimals``) as a decimal with ``out`` decimals.

    ``out`` must be at least ``decimals`` (padding never rounds).

    Examples
    --------
    >>> fixed(452852, 1), fixed(1000, 8, 8), fixed(5, 0, 2), fixed(7, 3)
    ('45285.2', '0.00001000', '5.00', '0.007')
    """
    out = decimals if out is None else out
    if out < decimals or n < 0:
        msg = f"cannot write {n} x 1e-{decimals} with {out} decimals"
        raise ValueError(msg)
    if decimals == 0:
        head, tail = str(n), ""
    else:
        s = str(n).rjust(decimals + 1, "0")
        head, tail = s[:-decimals], s[-decimals:]
    tail += "0" * (out - decimals)
    return f"{head}.{tail}" if tail else head


def stripped(n: int, decimals: int) -> str:
    """``n`` x ``10**-decimals`` without trailing zeros (KuCoin's style: ``"67997"``).

    Examples
    --------
    >>> stripped(679970, 1), stripped(1500, 4), stripped(0, 8)
    ('67997', '0.15', '0')
    """
    s = fixed(n, decimals)
    return s.rstrip("0").rstrip(".") if "." in s else s


def json_number(n: int, decimals: int) -> str:
    """``n`` x ``10**-decimals`` as a JSON number's text, as Kraken v2 sends it.

    Trailing zeros go (``0.566``, not ``0.5660``); a whole number keeps one (``45281.0``), so
    every price and qty parses as a float, as the venue's examples do.

    Examples
    --------
    >>> json_number(5660, 4), json_number(452810, 1), json_number(0, 8)
    ('0.566', '45281.0', '0.0')
    """
    s = stripped(n, decimals)
    return s if "." in s else f"{s}.0"


def _inst(base: str, price: str, pd: int, qd: int, notional: float = 20_000.0) -> Instrument:
    whole, _, frac = price.partition(".")
    ticks = int(whole + frac.ljust(pd, "0")[:pd])
    return Instrument(base, "USDT", ticks, pd, qd, notional)


#: Ten spot markets with realistic prices, ticks and lots (the "10 symbols per venue" set of
#: the benchmarks), and the sample's market.
SYMBOLS: dict[str, Instrument] = {
    i.unified: i
    for i in (
        _inst("BTC", "65000", 1, 6, 60_000.0),
        _inst("ETH", "3000", 2, 5, 40_000.0),
        _inst("SOL", "150", 2, 3),
        _inst("XRP", "0.6", 4, 1),
        _inst("DOGE", "0.15", 5, 0),
        _inst("ADA", "0.45", 4, 1),
        _inst("LTC", "80", 2, 4),
        _inst("LINK", "15", 3, 2),
        _inst("DOT", "7", 3, 2),
        _inst("AVAX", "35", 2, 3),
        # The bundled sample's market (`lobflow.data.make_sample`): near 100 on a cent grid,
        # about one unit a level, so a model trained on the sample scores its live books on
        # the scale it was trained on (the demo's live step).
        _inst("SIM", "100", 2, 4, 100.0),
    )
}


def instrument(unified: str) -> Instrument:
    """The instrument of a unified ``BASE-QUOTE`` symbol (made up for unknown bases).

    Raises
    ------
    ValueError
        If the symbol is not an upper-case ``BASE-QUOTE`` with a quote of ``QUOTES``.
    """
    known = SYMBOLS.get(unified)
    if known is not None:
        return known
    try:
        ok = unified_symbol(unified) == unified
    except ValueError:
        ok = False
    base, _, quote = unified.partition("-")
    if not ok or quote not in QUOTES:
        msg = f"unknown symbol {unified!r}: symbols are BASE-QUOTE with a quote in {QUOTES}"
        raise ValueError(msg)
    # A made-up market: price 1 000..3 000 with cent ticks and 10^-4 lots, fixed per name.
    price = 1_000 + zlib.crc32(unified.encode()) % 2_000
    return Instrument(base, quote, price * 100, 2, 4)
