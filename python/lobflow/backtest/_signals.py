"""Signals handed to the backtest: -1, 0 or +1 per row, or an error naming the row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


def check_signals(signals: np.ndarray) -> NDArray[np.int8]:
    """`signals` as int8, if every value is exactly -1, 0 or 1.

    Integer and float arrays are taken (``np.sign(scores)`` is float); a cast alone made 0.9
    a 0 and 300 a 44 (int8 wraps). Booleans are refused: True is not a direction.

    Raises
    ------
    TypeError
        An array that is not integers or floats.
    ValueError
        Not one dimension, or a value other than -1, 0 and 1 (NaN too): names the first row.
    """
    a = np.asarray(signals)
    if a.dtype.kind not in "iuf":
        msg = f"signals must be integers -1, 0 or 1, got an array of {a.dtype}"
        raise TypeError(msg)
    if a.ndim != 1:
        msg = f"signals must be one value per row (1-D), got shape {a.shape}"
        raise ValueError(msg)
    # Integers are all in -1..1 when their extremes are: two reductions cost a tenth of
    # `isin` on the usual int8 signals. Floats need `isin` (0.5 lies between the extremes).
    ints_within = a.dtype.kind in "iu" and (a.size == 0 or (a.min() >= -1 and a.max() <= 1))
    if not ints_within:
        bad = ~np.isin(a, (-1, 0, 1))
        if bad.any():
            row = int(np.argmax(bad))
            msg = f"signals must be -1, 0 or 1: row {row} is {a[row].item()!r}"
            raise ValueError(msg)
    return np.ascontiguousarray(a, dtype=np.int8)
