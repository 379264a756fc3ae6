"""What a caller can plug into `astream`: a listener told of every processed row as it is made.

`lobflow live` scores each row the moment the book machine produces it; the collector itself
stays a collector. The listener also lends its clock, so the time a row's frame was read is
taken on the listener's own clock, at the read (`VenueClient` stamps each frame and each REST
answer with it before the machine sees them).
"""

from __future__ import annotations

from typing import Protocol


class RowHook(Protocol):
    """A listener of `astream`'s processed rows (called on the event loop, in row order)."""

    def now_ns(self) -> int:
        """The clock a frame's (or REST answer's) read time is stamped with, in ns."""
        ...

    def on_row(self, exchange: str, symbol: str, row: tuple[object, ...], recv_ns: int) -> None:
        """One processed row of feed (`exchange`, `symbol`), just queued for ``processed/``.

        `row` is the processed file's columns in order (``ts``, the 20 book columns,
        ``ts_local``, ``seq``); `recv_ns` is `now_ns` read when the frame that made it was
        read. It must not raise: the row is the book machine's, and an exception would be
        taken for a malformed frame.
        """
        ...
