"""The named choices the stages take (model kind, execution mode, signal 0, bad rows).

String enums: each member is its own string (``ModelKind.RIDGE == "ridge"``), so the Python
API takes either, the CLI offers exactly these values (typer lists them in ``--help``), and
JSON writes them as plain strings. Kept free of heavy imports: the CLI's option types need
them before any command runs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeVar


class ModelKind(StrEnum):
    """The linear model `lobflow.train.fit` fits."""

    #: Ridge regression on the forward return: the score is in bps.
    RIDGE = "ridge"
    #: Logistic regression on the sign of the move: the score is the log-odds of an up move.
    LOGISTIC = "logistic"


class Mode(StrEnum):
    """How the backtest's orders execute (docs/backtest.md)."""

    #: Immediate-or-cancel orders that walk the book after the latency.
    TAKER = "taker"
    #: Limit orders at the best price, filled by a conservative queue model.
    PASSIVE = "passive"


class OnZero(StrEnum):
    """What the backtest's strategy does when the signal is 0."""

    #: Keep the position until the opposite signal.
    HOLD = "hold"
    #: Go flat.
    FLATTEN = "flatten"


class OnBad(StrEnum):
    """What a stage does with a row that breaks the feature contract."""

    #: Stop with an error naming the first bad row.
    RAISE = "raise"
    #: Leave bad rows out (they enter neither OFI nor the windows) and count them.
    SKIP = "skip"

    @property
    def literal(self) -> Literal["raise", "skip"]:
        """The value as the literal type the feature and engine functions are typed with."""
        return "raise" if self is OnBad.RAISE else "skip"


#: What the Python API takes for each choice: the enum or its string.
ModelLike = ModelKind | Literal["ridge", "logistic"]
ModeLike = Mode | Literal["taker", "passive"]
OnZeroLike = OnZero | Literal["hold", "flatten"]

E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: object, name: str) -> E:
    """`value` as a member of `kind`, else an error naming `name` and the allowed values.

    A string that is no member is a `ValueError`; anything else a `TypeError`.

    Examples
    --------
    >>> choice(Mode, "passive", "mode")
    <Mode.PASSIVE: 'passive'>
    """
    allowed = ", ".join(repr(m.value) for m in kind)
    msg = f"{name} must be one of {allowed}, got {value!r}"
    if not isinstance(value, str):
        raise TypeError(msg)
    try:
        return kind(value)
    except ValueError:
        raise ValueError(msg) from None
