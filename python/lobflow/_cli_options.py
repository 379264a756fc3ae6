"""The options the commands share, each declared and parsed once.

Every parser takes the text typer hands it (or a value that is already parsed: a default) and
returns a typed value, or raises `typer.BadParameter`: a usage error naming the option, exit
status 2, before the command starts. The option types are `Annotated` aliases, so a command
declares ``cores: CoresOption = None`` and receives a `Cores` or None.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from lobflow._choices import Mode, ModelKind, OnBad, OnZero

if TYPE_CHECKING:
    from lobflow.backtest import BacktestConfig

#: Larger ids name no core of any machine Linux runs on (its CPU sets stop at 8192).
MAX_CORE_ID = 2**31 - 1
#: The longest latency the CLI takes, in ms (31 years: past it is a typo, not a latency).
MAX_LATENCY_MS = 1e12


class Cores(NamedTuple):
    """Two core ids: the engine's producer and worker threads."""

    producer: int
    worker: int


class Windows(NamedTuple):
    """Three ascending window lengths in ms (`lobflow._schema.check_windows`)."""

    short: int
    middle: int
    long: int


def parse_cores(text: str | Cores) -> Cores:
    """``--cores``: two non-negative integer ids separated by a comma, e.g. ``2,4``.

    Examples
    --------
    >>> parse_cores("2, 4")
    Cores(producer=2, worker=4)
    """
    if isinstance(text, Cores):
        return text
    parts = [p.strip() for p in str(text).split(",")]
    if (
        len(parts) != 2
        or not all(p.isdecimal() and p.isascii() for p in parts)
        or any(int(p) > MAX_CORE_ID for p in parts)
    ):
        msg = f"takes two core ids like 2,4, got {text!r}"
        raise typer.BadParameter(msg)
    return Cores(int(parts[0]), int(parts[1]))


def parse_windows(text: str | Windows) -> Windows:
    """``--windows-ms``: three positive, strictly ascending integers, e.g. ``10,20,50``.

    Examples
    --------
    >>> parse_windows("1000,2000,5000")
    Windows(short=1000, middle=2000, long=5000)
    """
    from lobflow._schema import check_windows

    if isinstance(text, Windows):
        return text
    try:
        return Windows(*check_windows([int(x) for x in str(text).split(",")]))
    except ValueError as e:  # int("x") included
        raise typer.BadParameter(str(e)) from e


def parse_duration(text: str | int) -> int:
    """A duration such as ``1s``, ``500ms`` or ``10m``, as integer nanoseconds (positive).

    Examples
    --------
    >>> parse_duration("250ms")
    250000000
    """
    from lobflow._units import parse_duration as ns

    if isinstance(text, int):
        return text
    try:
        value = ns(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    if value <= 0:
        msg = f"must be positive, got {text!r}"
        raise typer.BadParameter(msg)
    return value


def parse_latency_ms(text: str | float) -> float:
    """``--latency-ms``: a latency in milliseconds, 0 up to 1e12 (`MAX_LATENCY_MS`).

    Examples
    --------
    >>> parse_latency_ms("2.5")
    2.5
    """
    value = _number(text)
    if not 0 <= value <= MAX_LATENCY_MS:  # NaN too
        msg = f"must be in 0..1e12 ms, got {text}"
        raise typer.BadParameter(msg)
    return value


def parse_bps(text: str | float) -> float:
    """A fee in basis points: any finite number (negative for a rebate).

    Examples
    --------
    >>> parse_bps("-0.5")
    -0.5
    """
    value = _number(text)
    if not math.isfinite(value):
        msg = f"must be finite, got {text}"
        raise typer.BadParameter(msg)
    return value


def _number(text: str | float) -> float:
    if isinstance(text, int | float):
        return float(text)
    try:
        return float(text)
    except ValueError:
        msg = f"not a number: {text!r}"
        raise typer.BadParameter(msg) from None


CoresOption = Annotated[
    Cores | None,
    typer.Option(
        parser=parse_cores,
        metavar="P,W",
        help="producer,worker cores for the engine (default: chosen for the machine)",
        show_default=False,
    ),
]
WindowsOption = Annotated[
    Windows,
    typer.Option(parser=parse_windows, metavar="A,B,C", help="three ascending windows in ms"),
]
HorizonOption = Annotated[
    int,
    typer.Option(
        parser=parse_duration,
        metavar="DURATION",
        help="label horizon, e.g. 1s, 500ms",
        show_default="1s",
    ),
]
ModelOption = Annotated[ModelKind, typer.Option(help="the linear model")]
ModeOption = Annotated[Mode, typer.Option(help="how orders execute")]
OnZeroOption = Annotated[OnZero, typer.Option(help="what a 0 signal does to the position")]
OnBadOption = Annotated[
    OnBad, typer.Option(help="raise: stop at the first bad row; skip: leave bad rows out")
]
FeeOption = Annotated[
    float, typer.Option(parser=parse_bps, metavar="BPS", help="taker fee, bps of notional")
]
LatencyOption = Annotated[
    float,
    typer.Option(parser=parse_latency_ms, metavar="MS", help="order-entry latency, ms"),
]


def execution(
    mode: Mode,
    fee_bps: float,
    latency_ms: float,
    on_zero: OnZero,
    cores: Cores | None,
) -> BacktestConfig:
    """The `BacktestConfig` of the shared execution options (train and backtest alike).

    Training chooses its threshold by backtesting its validation part with this config, so
    the two commands given the same options assume the same costs.
    """
    from dataclasses import replace

    from lobflow.backtest import BacktestConfig

    cfg = BacktestConfig(
        mode=mode,
        taker_fee_bps=fee_bps,
        order_latency_ns=round(latency_ms * 1e6),
        on_zero=on_zero,
    )
    return cfg if cores is None else replace(cfg, cores=(cores.producer, cores.worker))
