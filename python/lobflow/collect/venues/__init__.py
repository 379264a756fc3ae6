"""The venue registry: every module of this package with a ``VENUE`` is one venue.

A fifth venue is one more module (see `base.Venue` for what it provides); nothing else in
lobflow names the venues.
"""

from __future__ import annotations

import importlib
import pkgutil

from lobflow.collect.venues.base import (
    LEVELS,
    MAX_BAN_PAUSE_S,
    MAX_BODY_BYTES,
    MAX_RATE_LIMIT_PAUSE_S,
    Book,
    Kind,
    Outcome,
    Venue,
    unified_symbol,
    validate,
)


def _discover() -> dict[str, Venue]:
    found: dict[str, Venue] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        venue = getattr(importlib.import_module(f"{__name__}.{info.name}"), "VENUE", None)
        if isinstance(venue, Venue):
            found[venue.name] = venue
    return dict(sorted(found.items()))


#: Every venue by name.
VENUES: dict[str, Venue] = _discover()
#: The venue `lobflow collect` uses when none is named.
DEFAULT_EXCHANGE = "kucoin"

__all__ = [
    "DEFAULT_EXCHANGE",
    "LEVELS",
    "MAX_BAN_PAUSE_S",
    "MAX_BODY_BYTES",
    "MAX_RATE_LIMIT_PAUSE_S",
    "VENUES",
    "Book",
    "Kind",
    "Outcome",
    "Venue",
    "unified_symbol",
    "validate",
]
