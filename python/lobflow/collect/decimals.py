"""Exact decimal prices and sizes as integer units: no float keys that drift.

``units(text, scale)`` is the integer number of ``10**-scale`` in the decimal the venue sent,
so ``"60650.00000000"`` and ``"60650"`` are the same value. The WebSocket books key their
levels this way in Rust (`lobflow._core.BookMachine`); here it serves Kraken's checksum as the
venue defines it (`lobflow.collect.venues.kraken.checksum`) and the simulated venue.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: No price or size has more digits than this (a larger one is a broken message, and its float
#: would overflow).
MAX_DIGITS = 40


def units(text: str, scale: int) -> int:
    """``text`` (a decimal such as ``"0.5660"``, ``"45285"``, ``"1e-05"``) in ``10**-scale`` units.

    Raises ValueError when ``text`` is not a decimal number or has non-zero digits beyond
    ``scale`` decimals (it cannot be held exactly at that scale).

    Examples
    --------
    >>> units("45285.2", 1), units("0.566", 4), units("0.00100000", 8), units("30000", 2)
    (452852, 5660, 100000, 3000000)
    >>> units("5e-05", 8)
    5000
    """
    head, _, tail = text.partition(".")
    if len(tail) > scale:
        stripped = tail.rstrip("0")
        if len(stripped) > scale:
            return _units_slow(text, scale)
        tail = stripped
    digits = head + tail + "0" * (scale - len(tail))
    plain = digits.isascii() and len(digits) <= MAX_DIGITS and head not in ("", "-")
    if plain and (digits.isdigit() or (digits[0] == "-" and digits[1:].isdigit())):
        return int(digits)
    return _units_slow(text, scale)


def _units_slow(text: str, scale: int) -> int:
    # Exponents ("1e-05"), signs and anything unusual go through Decimal, exactly.
    try:
        d = Decimal(text)
    except (InvalidOperation, TypeError, ValueError) as e:
        msg = f"{text!r} is not a decimal number"
        raise ValueError(msg) from e
    if not d.is_finite():
        msg = f"{text!r} is not a finite decimal"
        raise ValueError(msg)
    scaled = d.scaleb(scale)
    if scaled.adjusted() >= MAX_DIGITS:
        msg = f"{text!r} is out of range"
        raise ValueError(msg)
    if scaled != scaled.to_integral_value():
        msg = f"{text!r} has more than {scale} decimals"
        raise ValueError(msg)
    return int(scaled)


def fixed_text(n: int, scale: int) -> str:
    """``n`` units of ``10**-scale`` as a decimal with exactly ``scale`` decimals.

    Examples
    --------
    >>> fixed_text(5660, 4), fixed_text(452852, 1), fixed_text(7, 0)
    ('0.5660', '45285.2', '7')
    """
    sign = "-" if n < 0 else ""
    s = str(abs(n)).rjust(scale + 1, "0")
    return f"{sign}{s[:-scale]}.{s[-scale:]}" if scale else f"{sign}{s}"
