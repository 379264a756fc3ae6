"""`lobflow.backtest.Books`: one feed's books read and checked once, for many backtests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lobflow import _core
from lobflow._feed import engine_columns, to_frame

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from lobflow._feed import FeedLike


class Books:
    """One feed's books, read, checked and copied once: the input of many backtests.

    `lobflow.backtest.run(books, ...)` on a `Books` skips what a run on a frame does first
    (the schema and single-feed checks, the columns taken out of the frame, the check of
    every row), which is most of a short feed's run: a sweep over signals, thresholds or
    costs on the same books (`lobflow train`'s threshold search, `lobflow sweep`) pays it
    once. The simulator keeps its own copy of the columns, so no later change to the input
    can reach books it has already checked.

    Bad books raise here, as `run` would on the frame: a `ValueError` naming the first bad
    row and column.
    """

    __slots__ = ("_checked", "frame", "level0", "ts")

    def __init__(self, books: FeedLike) -> None:
        frame = to_frame(books)
        cols = engine_columns(frame)
        self._checked = _core.CheckedBooks(cols.ts, cols.cols)
        #: The snapshot times, int64 ns (read-only).
        self.ts: np.ndarray = _frozen(cols.ts)
        #: The level-0 bid and ask prices (read-only), which mark a run's path to its mids.
        self.level0: tuple[np.ndarray, np.ndarray] = (
            _frozen(cols.cols[0]),
            _frozen(cols.cols[10]),
        )
        #: The feed as a frame (the engine scores it when a backtest is given weights).
        self.frame: pl.DataFrame = frame

    def __len__(self) -> int:
        return len(self._checked)

    def __repr__(self) -> str:
        return f"Books({len(self)} snapshots)"

    @property
    def checked(self) -> _core.CheckedBooks:
        """The simulator's checked copy of the book columns."""
        return self._checked


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy of `a`: what a run on these books reports must not change after."""
    out = a.copy()
    out.flags.writeable = False
    return out
