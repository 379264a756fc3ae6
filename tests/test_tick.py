"""The NumPy tick dtype mirrors the engine's 88-byte `L2Tick` field for field."""

from __future__ import annotations

import lobflow
from lobflow import _core


def test_itemsize_is_88() -> None:
    assert lobflow.TICK_DTYPE.itemsize == 88 == _core.TICK_SIZE


def test_offsets_match_the_engine() -> None:
    fields = lobflow.TICK_DTYPE.fields
    assert fields is not None
    ours = [(name, fields[name][1]) for name in lobflow.TICK_DTYPE.names or ()]
    assert ours == [tuple(x) for x in _core.TICK_FIELD_OFFSETS]


def test_feature_names_agree_with_the_engine() -> None:
    for w in [(10, 20, 50), (1000, 2000, 5000)]:
        assert list(lobflow.feature_names(w)) == _core.feature_names(w)
