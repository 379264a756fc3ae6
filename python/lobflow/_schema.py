"""Column and feature names of the feature contract (docs/feature-contract.md), for every stage."""

from __future__ import annotations

import math
import operator
from typing import SupportsIndex

import numpy as np

LEVELS = 5
DEFAULT_WINDOWS_MS: tuple[int, int, int] = (10, 20, 50)

BID_PX = tuple(f"bid_px_{k}" for k in range(LEVELS))
BID_SZ = tuple(f"bid_sz_{k}" for k in range(LEVELS))
ASK_PX = tuple(f"ask_px_{k}" for k in range(LEVELS))
ASK_SZ = tuple(f"ask_sz_{k}" for k in range(LEVELS))

#: The book columns in the order the engine takes them (after `ts`).
BOOK_COLUMNS: tuple[str, ...] = BID_PX + BID_SZ + ASK_PX + ASK_SZ
#: Every column a feed must have, `ts` first.
CONTRACT_COLUMNS: tuple[str, ...] = ("ts", *BOOK_COLUMNS)
#: Columns that split a table into feeds (OFI and windows never cross them).
FEED_KEYS: tuple[str, ...] = ("exchange", "symbol")


def as_number(name: str, x: object) -> float:
    """`x` as a float; a str, bytes, bool or non-number is a `TypeError` naming the field.

    `float("10")` would take a string for a number, and `float(True)` a flag.
    """
    if not isinstance(x, str | bytes | bool | np.bool_):
        try:
            return float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    msg = f"{name} must be a number, got {x!r}"
    raise TypeError(msg)


def as_int(x: object) -> int | None:
    """An int or NumPy integer as an int; None for anything else (a bool, str or float too)."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, SupportsIndex):
        return None
    return operator.index(x)


def int_within(x: object, name: str, kind: str, high: int, within: str) -> int:
    """`x` as an int in 0..high, or a TypeError / ValueError naming `name` and what it must be."""
    n = as_int(x)
    if n is None:
        msg = f"{name} must be {kind}, got {x!r}"
        raise TypeError(msg)
    if not 0 <= n < high:
        msg = f"{name} must be {within}, got {x!r}"
        raise ValueError(msg)
    return n


def finite(name: str, x: object) -> float:
    """`x` as a finite float (`as_number`); NaN or infinite is a `ValueError` naming `name`."""
    v = as_number(name, x)
    if not math.isfinite(v):
        msg = f"{name} must be finite, got {x!r}"
        raise ValueError(msg)
    return v


#: The longest window `check_windows` and the weights format take, in ms.
MAX_WINDOW_MS = 2**63 - 1


def check_windows(windows_ms: object) -> tuple[int, int, int]:
    """Validate three positive, strictly ascending window lengths in whole milliseconds.

    The one check every stage (features, training, export, `Weights`) applies. A string or
    non-number is a `TypeError`; a fraction of a millisecond is a `ValueError`, not truncated
    (`int(10.5)` would quietly make a 10 ms window).

    Examples
    --------
    >>> check_windows([10, 20, 50])
    (10, 20, 50)
    """
    if isinstance(windows_ms, str | bytes):
        values: list[object] | None = None
    else:
        try:
            values = list(windows_ms)  # type: ignore[call-overload]
        except TypeError:
            values = None
    if values is None:
        msg = f"windows_ms must be three positive, strictly ascending integers, got {windows_ms!r}"
        raise TypeError(msg)
    whole = []
    for x in values:
        n = as_int(x)
        if n is not None:
            whole.append(n)
            continue
        v = as_number("windows_ms", x)
        if not v.is_integer():
            msg = f"windows_ms must be whole milliseconds, got {windows_ms!r}"
            raise ValueError(msg)
        whole.append(int(v))
    w = tuple(whole)
    if len(w) != 3 or any(x <= 0 for x in w) or not (w[0] < w[1] < w[2]):
        msg = f"windows_ms must be three positive, strictly ascending integers, got {windows_ms!r}"
        raise ValueError(msg)
    if w[2] > MAX_WINDOW_MS:
        # Any window past 2^63 ns already spans every int64 timestamp; the weights parser
        # takes no more either, and polars' plugin arguments stop at int64.
        msg = f"windows_ms must be at most 2^63 - 1 ms, got {windows_ms!r}"
        raise ValueError(msg)
    return (w[0], w[1], w[2])


def feature_names(windows_ms: tuple[int, ...] | list[int] = DEFAULT_WINDOWS_MS) -> tuple[str, ...]:
    """The 18 feature names in contract order for the given windows.

    Examples
    --------
    >>> feature_names((10, 20, 50))[9]
    'rolling_ofi_10ms'
    >>> len(feature_names((1000, 2000, 5000)))
    18
    """
    w = check_windows(windows_ms)
    base = ("mid", "spread", "ofi", "microprice", *(f"qi_{k}" for k in range(LEVELS)))
    rolling = tuple(f"rolling_{f}_{ms}ms" for f in ("ofi", "spread", "qi0") for ms in w)
    return base + rolling


#: Feature names for the default windows.
FEATURE_NAMES: tuple[str, ...] = feature_names(DEFAULT_WINDOWS_MS)
