"""Rows a stage skipped: one way to say how many, and one threshold for a warning.

`on_bad="skip"` is for the odd bad row. A stage that skipped most of its input has almost
always been fed something wrong (parts out of time order, one timestamp far ahead that every
later row goes back from), and its results describe what little was left. Every stage that
skips rows (the engine, `features.compute` and `features.sink`, training) counts them, and
warns (`LobflowWarning`) above the same share, `WARN_ABOVE_PERCENT`.
"""

from __future__ import annotations

import warnings

from lobflow.errors import LobflowWarning

#: Skipping more than this share of a stage's rows (in percent) warns.
WARN_ABOVE_PERCENT = 10

#: What the warning suggests: most of a feed skipped is most often its parts read out of time
#: order, or one timestamp far ahead, which every later row then goes back from.
SKIP_HINT = (
    "on_bad='raise' names the first and why (parts read out of time order, or a timestamp "
    "far ahead of the rest, make every row after it go back)"
)


def too_many(skipped: int, total: int) -> bool:
    """Whether `skipped` of `total` rows is above `WARN_ABOVE_PERCENT` (exact integers)."""
    return skipped * 100 > total * WARN_ABOVE_PERCENT


def skipped_text(skipped: int, total: int) -> str:
    """``"skipped 4,616 of its 5,500 rows (84%)"``."""
    share = f" ({skipped / total:.0%})" if total else ""
    return f"skipped {skipped:,} of its {total:,} rows{share}"


def warn_if_too_many(who: str, skipped: int, total: int, why: str, *, stacklevel: int) -> None:
    """Warn when `too_many(skipped, total)`: ``"<who> skipped … rows (…%); <why>"``.

    `stacklevel` counts from the caller of this function, as `warnings.warn`'s does.
    """
    if too_many(skipped, total):
        msg = f"{who} {skipped_text(skipped, total)}; {why}"
        warnings.warn(msg, LobflowWarning, stacklevel=stacklevel + 1)
