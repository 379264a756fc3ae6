"""`Samples`: the newest N integer samples (latencies, jitter) in memory allocated once.

A collector or a live run keeps its newest samples for percentiles for as long as it runs.
A `deque(maxlen=N)` of Python ints grows until it is full (36 bytes a sample, hours at a slow
venue's rate) and a list never stops; this ring is one int64 array from the start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike, NDArray


class Samples:
    """The newest `capacity` int64 samples; ``np.asarray`` gives them oldest first.

    >>> s = Samples(3)
    >>> for v in (1, 2, 3, 4):
    ...     s.append(v)
    >>> len(s), s.seen, np.asarray(s).tolist()
    (3, 4, [2, 3, 4])
    """

    __slots__ = ("_buf", "seen")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = f"capacity must be >= 1, got {capacity}"
            raise ValueError(msg)
        self._buf: NDArray[np.int64] = np.zeros(capacity, dtype=np.int64)
        #: Samples appended since the start (the ring holds the newest `capacity` of them).
        self.seen = 0

    def append(self, value: int) -> None:
        """Keep `value`, dropping the oldest sample once full."""
        self._buf[self.seen % len(self._buf)] = value
        self.seen += 1

    def __len__(self) -> int:
        return min(self.seen, len(self._buf))

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> NDArray[Any]:
        cap = len(self._buf)
        if self.seen <= cap:
            out = self._buf[: self.seen].copy()
        else:
            i = self.seen % cap
            out = np.concatenate((self._buf[i:], self._buf[:i]))
        return out if dtype is None else out.astype(dtype)
