"""Durations such as ``1s``, ``500ms`` or ``10m`` as integer nanoseconds."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> int:
    """Nanoseconds in a duration string.

    Examples
    --------
    >>> parse_duration("1s"), parse_duration("250ms"), parse_duration("1.5m")
    (1000000000, 250000000, 90000000000)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)\s*", text)
    if not m:
        msg = f"not a duration: {text!r} (use e.g. 500ms, 1s, 10m)"
        raise ValueError(msg)
    return round(float(m.group(1)) * _UNITS[m.group(2)])
