"""The sweep's TOML config: its tables, keys, defaults and checks (docs/sweep.md lists them).

Every key is checked where it is read, and a bad one is one `ConfigError` naming the file, the
table and the key: an unknown key (a typo such as ``trian_days`` would otherwise be a silent
default), a wrong type, a value out of range, a duplicate grid value.
"""

from __future__ import annotations

import difflib
import itertools
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from lobflow._schema import check_windows
from lobflow._units import parse_duration
from lobflow.sweep._errors import ConfigError

if TYPE_CHECKING:
    import os

T = TypeVar("T")
ModelKind = Literal["ridge", "logistic"]
Metric = Literal["pnl", "sharpe", "ic", "hit_rate"]

#: The latest latency the backtest takes from a config, as its CLI does (1e12 ms: 31 years).
MAX_LATENCY_MS = 1e12


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: which feeds of the hive folder, and which of their days."""

    feeds: tuple[str, ...]
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class WalkForward:
    """``[walk_forward]``: folds over each feed's days, in order."""

    train_days: int
    test_days: int = 1
    step_days: int = 1


@dataclass(frozen=True)
class GridPoint:
    """One combination of the grid's values."""

    index: int
    windows_ms: tuple[int, int, int]
    horizon: str
    model: ModelKind
    alpha: float
    threshold: float
    latency_ms: float
    fee_bps: float

    @property
    def horizon_ns(self) -> int:
        """The horizon in nanoseconds."""
        return parse_duration(self.horizon)


@dataclass(frozen=True)
class Grid:
    """``[grid]``: every combination of these values is a grid point."""

    windows_ms: tuple[tuple[int, int, int], ...] = ((1000, 2000, 5000),)
    horizon: tuple[str, ...] = ("1s",)
    model: tuple[ModelKind, ...] = ("ridge",)
    alpha: tuple[float, ...] = (1.0,)
    threshold: tuple[float, ...] = (1.0,)
    latency_ms: tuple[float, ...] = (10.0,)
    fee_bps: tuple[float, ...] = (1.0,)

    def points(self) -> tuple[GridPoint, ...]:
        """Every combination, windows varying slowest and fee fastest (the `index` order)."""
        combos = itertools.product(
            self.windows_ms,
            self.horizon,
            self.model,
            self.alpha,
            self.threshold,
            self.latency_ms,
            self.fee_bps,
        )
        return tuple(GridPoint(i, *c) for i, c in enumerate(combos))

    def varying(self) -> tuple[str, ...]:
        """The names of the grid keys with more than one value, in table order."""
        return tuple(k for k in GRID_KEYS if len(getattr(self, k)) > 1)


#: The grid's keys, in the order of `Grid.points`.
GRID_KEYS = ("windows_ms", "horizon", "model", "alpha", "threshold", "latency_ms", "fee_bps")


@dataclass(frozen=True)
class BacktestSettings:
    """``[backtest]``: the execution assumptions every grid point shares."""

    mode: Literal["taker", "passive"] = "taker"
    order_size: float = 1.0
    max_position: float = 1.0
    md_latency_ms: float = 5.0
    maker_fee_bps: float = 0.0


@dataclass(frozen=True)
class FitSettings:
    """``[fit]``: how a grid point is trained on its fold's training days."""

    threshold_unit: Literal["std", "score"] = "std"
    min_train_rows: int = 200


@dataclass(frozen=True)
class SelectSettings:
    """``[select]``: how the best grid point of a feed is chosen."""

    metric: Metric = "pnl"


@dataclass(frozen=True)
class RunSettings:
    """``[run]``: how the tasks are run."""

    retries: int = 2
    workers: int | None = None


@dataclass(frozen=True)
class SweepConfig:
    """A whole sweep config; `load_config` and `parse_config` build it, checked."""

    data: DataConfig
    walk_forward: WalkForward
    grid: Grid = field(default_factory=Grid)
    backtest: BacktestSettings = field(default_factory=BacktestSettings)
    fit: FitSettings = field(default_factory=FitSettings)
    select: SelectSettings = field(default_factory=SelectSettings)
    run: RunSettings = field(default_factory=RunSettings)


def load_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Read and check a sweep config file (TOML).

    Raises
    ------
    ConfigError
        The file is not TOML, or a table or key is unknown, missing or invalid.
    OSError
        The file cannot be read.
    """
    p = Path(path)
    with p.open("rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as e:
            msg = f"{p}: not valid TOML: {e}"
            raise ConfigError(msg) from None
    return parse_config(doc, source=str(p))


def parse_config(doc: Mapping[str, object], source: str = "<config>") -> SweepConfig:
    """Check a parsed TOML document (tables as mappings) and build its `SweepConfig`.

    Raises
    ------
    ConfigError
        A table or key is unknown, missing or invalid; the message starts with `source`.
    """
    known = ("data", "walk_forward", "grid", "backtest", "fit", "select", "run")
    for name in doc:
        if name not in known:
            msg = f"{source}: unknown table [{name}] (known: {', '.join(f'[{k}]' for k in known)})"
            raise ConfigError(msg)
    for name in ("data", "walk_forward"):
        if name not in doc:
            msg = f"{source}: missing table [{name}]"
            raise ConfigError(msg)
    return SweepConfig(
        data=_data(_Table(source, "data", doc["data"])),
        walk_forward=_walk_forward(_Table(source, "walk_forward", doc["walk_forward"])),
        grid=_grid(_Table(source, "grid", doc.get("grid", {}))),
        backtest=_backtest(_Table(source, "backtest", doc.get("backtest", {}))),
        fit=_fit(_Table(source, "fit", doc.get("fit", {}))),
        select=_select(_Table(source, "select", doc.get("select", {}))),
        run=_run(_Table(source, "run", doc.get("run", {}))),
    )


class _Bad(Exception):
    """A value that does not fit its key; `_Table.get` adds the file, table and key."""


_REQUIRED = object()


class _Table:
    """One table of the document: keys are read once each, and leftovers are unknown keys."""

    def __init__(self, source: str, name: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            msg = f"{source}: [{name}] must be a table, got {type(raw).__name__}"
            raise ConfigError(msg)
        self.source, self.name, self.raw = source, name, raw
        self.read: list[str] = []

    def get(self, key: str, parse: Callable[[object], T], default: object = _REQUIRED) -> T:
        self.read.append(key)
        if key not in self.raw:
            if default is _REQUIRED:
                msg = f"{self.source}: [{self.name}] is missing the key `{key}`"
                near = difflib.get_close_matches(key, [str(k) for k in self.raw], n=1)
                if near:
                    msg += f" (it has `{near[0]}`: a typo?)"
                raise ConfigError(msg)
            return cast("T", default)
        try:
            return parse(self.raw[key])
        except _Bad as e:
            msg = f"{self.source}: [{self.name}] {key}: {e}"
            raise ConfigError(msg) from None

    def done(self) -> None:
        """Refuse keys that were never read: unknown ones."""
        for key in self.raw:
            if key not in self.read:
                known = ", ".join(f"`{k}`" for k in self.read)
                msg = f"{self.source}: unknown key `{key}` in [{self.name}] (known: {known})"
                raise ConfigError(msg)


def _number(x: object) -> float:
    # TOML booleans are not numbers here, though Python's bool is an int.
    if isinstance(x, bool) or not isinstance(x, int | float):
        msg = f"must be a number, got {x!r}"
        raise _Bad(msg)
    v = float(x)
    if not math.isfinite(v):
        msg = f"must be finite, got {x!r}"
        raise _Bad(msg)
    return v


def _positive(x: object) -> float:
    v = _number(x)
    if v <= 0:
        msg = f"must be > 0, got {x!r}"
        raise _Bad(msg)
    return v


def _non_negative(x: object) -> float:
    v = _number(x)
    if v < 0:
        msg = f"must be >= 0, got {x!r}"
        raise _Bad(msg)
    return v


def _latency(x: object) -> float:
    v = _non_negative(x)
    if v > MAX_LATENCY_MS:
        msg = f"must be at most {MAX_LATENCY_MS:g} ms, got {x!r}"
        raise _Bad(msg)
    return v


def _count(x: object) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        msg = f"must be a whole number >= 1, got {x!r}"
        raise _Bad(msg)
    return x


def _choice(*options: str) -> Callable[[object], str]:
    def parse(x: object) -> str:
        if x not in options:
            msg = f"must be one of {', '.join(repr(o) for o in options)}, got {x!r}"
            raise _Bad(msg)
        return x

    return parse


def _day(x: object) -> date:
    if isinstance(x, date):
        return x
    if isinstance(x, str):
        try:
            return date.fromisoformat(x)
        except ValueError:
            pass
    msg = f"must be a date (2025-01-31), got {x!r}"
    raise _Bad(msg)


def _feed_glob(x: object) -> str:
    if not isinstance(x, str) or x.count("/") != 1 or "" in x.split("/"):
        msg = f"each feed must be 'exchange/symbol' (globs allowed: 'bybit/*'), got {x!r}"
        raise _Bad(msg)
    return x


def _windows(x: object) -> tuple[int, int, int]:
    try:
        return check_windows(x)
    except (TypeError, ValueError) as e:
        raise _Bad(str(e)) from None


def _horizon(x: object) -> str:
    if not isinstance(x, str):
        msg = f"must be a duration such as '1s' or '500ms', got {x!r}"
        raise _Bad(msg)
    try:
        ns = parse_duration(x)
    except ValueError as e:
        raise _Bad(str(e)) from None
    if ns <= 0:
        msg = f"must be longer than 0, got {x!r}"
        raise _Bad(msg)
    return x.strip()


def _list(item: Callable[[object], T]) -> Callable[[object], tuple[T, ...]]:
    """A non-empty TOML array of `item`s without repeats (a repeat would repeat rows)."""

    def parse(x: object) -> tuple[T, ...]:
        if not isinstance(x, list) or not x:
            msg = f"must be a non-empty array, got {x!r}"
            raise _Bad(msg)
        values = tuple(item(v) for v in x)
        for i, v in enumerate(values):
            if v in values[:i]:
                msg = f"holds {x[i]!r} twice"
                raise _Bad(msg)
        return values

    return parse


def _data(t: _Table) -> DataConfig:
    out = DataConfig(
        feeds=t.get("feeds", _list(_feed_glob)),
        start=t.get("start", _day, None),
        end=t.get("end", _day, None),
    )
    t.done()
    if out.start is not None and out.end is not None and out.end < out.start:
        msg = f"{t.source}: [data] end ({out.end}) is before start ({out.start})"
        raise ConfigError(msg)
    return out


def _walk_forward(t: _Table) -> WalkForward:
    train = t.get("train_days", _count)
    test = t.get("test_days", _count, 1)
    step = t.get("step_days", _count, test)
    t.done()
    if step < test:
        # Overlapping test periods would test a day twice, with two models, in one table.
        msg = (
            f"{t.source}: [walk_forward] step_days ({step}) is shorter than test_days ({test}): "
            "each day would be tested by more than one fold"
        )
        raise ConfigError(msg)
    return WalkForward(train, test, step)


def _grid(t: _Table) -> Grid:
    d = Grid()
    out = Grid(
        windows_ms=t.get("windows_ms", _list(_windows), d.windows_ms),
        horizon=t.get("horizon", _list(_horizon), d.horizon),
        model=cast(
            "tuple[ModelKind, ...]", t.get("model", _list(_choice("ridge", "logistic")), d.model)
        ),
        alpha=t.get("alpha", _list(_positive), d.alpha),
        threshold=t.get("threshold", _list(_non_negative), d.threshold),
        latency_ms=t.get("latency_ms", _list(_latency), d.latency_ms),
        fee_bps=t.get("fee_bps", _list(_number), d.fee_bps),
    )
    t.done()
    horizons = [parse_duration(h) for h in out.horizon]
    if len(set(horizons)) < len(horizons):
        msg = f"{t.source}: [grid] horizon: {list(out.horizon)} names one duration twice"
        raise ConfigError(msg)
    return out


def _backtest(t: _Table) -> BacktestSettings:
    d = BacktestSettings()
    out = BacktestSettings(
        mode=cast(
            "Literal['taker', 'passive']", t.get("mode", _choice("taker", "passive"), d.mode)
        ),
        order_size=t.get("order_size", _positive, d.order_size),
        max_position=t.get("max_position", _positive, d.max_position),
        md_latency_ms=t.get("md_latency_ms", _latency, d.md_latency_ms),
        maker_fee_bps=t.get("maker_fee_bps", _number, d.maker_fee_bps),
    )
    t.done()
    return out


def _fit(t: _Table) -> FitSettings:
    d = FitSettings()
    out = FitSettings(
        threshold_unit=cast(
            "Literal['std', 'score']",
            t.get("threshold_unit", _choice("std", "score"), d.threshold_unit),
        ),
        min_train_rows=t.get("min_train_rows", _count, d.min_train_rows),
    )
    t.done()
    return out


def _select(t: _Table) -> SelectSettings:
    out = SelectSettings(
        metric=cast(
            "Metric",
            t.get("metric", _choice("pnl", "sharpe", "ic", "hit_rate"), SelectSettings().metric),
        )
    )
    t.done()
    return out


def _run(t: _Table) -> RunSettings:
    def retries(x: object) -> int:
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            msg = f"must be a whole number >= 0, got {x!r}"
            raise _Bad(msg)
        return x

    out = RunSettings(
        retries=t.get("retries", retries, RunSettings().retries),
        workers=t.get("workers", _count, None),
    )
    t.done()
    return out
