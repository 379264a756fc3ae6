"""The sweep's tasks: feeds and days found in the hive folder, walk-forward folds, task ids.

Only folder and file names are read here (``exchange=…/symbol=…/date=…/*.parquet``, as the
collector writes them): no Parquet file is opened on the client. Each task carries the paths of
its own day files and reads them on its worker.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from lobflow.sweep._errors import ConfigError

if TYPE_CHECKING:
    import os

    from lobflow.sweep._config import BacktestSettings, FitSettings, Grid, SweepConfig

#: Bumped when a task's output changes meaning, so that `--resume` recomputes old tasks (v2:
#: a day's part files are read in time order and rows the engine would skip are dropped).
TASK_FORMAT = "lobflow-sweep-task v2"


@dataclass(frozen=True)
class Day:
    """One date of one feed: its Parquet files (relative to the data folder) and their sizes."""

    day: date
    files: tuple[str, ...]
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class Feed:
    """One (exchange, symbol) of the hive folder and its days, in date order."""

    exchange: str
    symbol: str
    days: tuple[Day, ...]

    @property
    def name(self) -> str:
        """``exchange/symbol``."""
        return f"{self.exchange}/{self.symbol}"


@dataclass(frozen=True)
class TaskSpec:
    """One task: a feed's fold (training days, test days) for one set of windows.

    Everything a worker needs travels in here (paths, not data): the grid's other keys are
    looped over inside the task, which computes each day's features once for all of them.
    """

    root: str
    exchange: str
    symbol: str
    train: tuple[Day, ...]
    test: tuple[Day, ...]
    windows_ms: tuple[int, int, int]
    grid: Grid
    backtest: BacktestSettings
    fit: FitSettings

    @property
    def id(self) -> str:
        """A digest of what the task computes from: resuming skips a task whose id is done.

        Days enter by relative path and size, so a day that gained a part file, or data moved
        to another folder, are what they are: new work, and the same work.
        """
        content = asdict(self)
        del content["root"]
        # The task's own windows are `windows_ms`; the grid's list of them is other tasks'.
        del content["grid"]["windows_ms"]
        content["format"] = TASK_FORMAT
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def feed(self) -> str:
        """``exchange/symbol``."""
        return f"{self.exchange}/{self.symbol}"


def resolve_root(data: str | os.PathLike[str]) -> Path:
    """The folder holding the ``exchange=…`` folders.

    That is `data` itself, or ``data/processed`` when `data` is the collector's output folder.

    Raises
    ------
    FileNotFoundError
        `data` does not exist or holds no ``exchange=…`` folder.
    """
    root = Path(data)
    if not root.is_dir():
        msg = f"data folder not found: {root}"
        raise FileNotFoundError(msg)
    for cand in (root, root / "processed"):
        if any(p.is_dir() for p in cand.glob("exchange=*")):
            return cand
    msg = (
        f"{root} holds no exchange=…/symbol=…/date=… folders (the collector's processed "
        "layout), nor does its processed/ folder"
    )
    raise FileNotFoundError(msg)


def _value(folder: Path, key: str) -> str:
    name = folder.name
    return name.split("=", 1)[1] if name.startswith(f"{key}=") else ""


def discover(root: Path, config: SweepConfig) -> list[Feed]:
    """The feeds of `root` that `config` names, each with its days in the configured range.

    Raises
    ------
    ConfigError
        A feed pattern matches no feed of `root`.
    ValueError
        A ``date=`` folder whose name is not a date.
    """
    found: list[tuple[str, str, Path]] = []
    for ex_dir in sorted(p for p in root.glob("exchange=*") if p.is_dir()):
        for sym_dir in sorted(p for p in ex_dir.glob("symbol=*") if p.is_dir()):
            found.append((_value(ex_dir, "exchange"), _value(sym_dir, "symbol"), sym_dir))
    names = [f"{ex}/{sym}" for ex, sym, _ in found]
    for pattern in config.data.feeds:
        if not fnmatch.filter(names, pattern):
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            msg = f"[data] feeds: {pattern!r} matches no feed under {root} (there: {shown})"
            raise ConfigError(msg)
    feeds = []
    for (ex, sym, folder), name in zip(found, names, strict=True):
        if any(fnmatch.fnmatchcase(name, p) for p in config.data.feeds):
            days = _days(root, folder, config)
            feeds.append(Feed(ex, sym, days))
    return feeds


def _days(root: Path, folder: Path, config: SweepConfig) -> tuple[Day, ...]:
    out = []
    for d in sorted(p for p in folder.glob("date=*") if p.is_dir()):
        try:
            day = date.fromisoformat(_value(d, "date"))
        except ValueError:
            msg = f"{d}: a date= folder whose name is not a date (YYYY-MM-DD)"
            raise ValueError(msg) from None
        if (config.data.start and day < config.data.start) or (
            config.data.end and day > config.data.end
        ):
            continue
        # Hidden names are the collector's temporary files, never data.
        files = sorted(f for f in d.rglob("*.parquet") if f.is_file() and f.name[0] != ".")
        if not files:
            continue
        rel = tuple(str(f.relative_to(root)) for f in files)
        out.append(Day(day, rel, tuple(f.stat().st_size for f in files)))
    return tuple(out)


def folds(
    days: tuple[Day, ...], config: SweepConfig
) -> list[tuple[tuple[Day, ...], tuple[Day, ...]]]:
    """(train days, test days) of each walk-forward fold over one feed's days.

    A day is a date the feed has data for: a date the collector missed is not a day, so a
    fold's training days are the `train_days` dates with data before its first test day.
    """
    wf = config.walk_forward
    out = []
    start = 0
    while start + wf.train_days + wf.test_days <= len(days):
        train = days[start : start + wf.train_days]
        test = days[start + wf.train_days : start + wf.train_days + wf.test_days]
        out.append((train, test))
        start += wf.step_days
    return out


def plan(root: Path, config: SweepConfig) -> list[TaskSpec]:
    """Every task of the sweep, in a fixed order (feed, fold, windows).

    Raises
    ------
    ConfigError
        A feed pattern matches nothing, or no feed has enough days for one fold.
    """
    tasks = []
    feeds = discover(root, config)
    wf = config.walk_forward
    for feed in feeds:
        for train, test in folds(feed.days, config):
            for w in config.grid.windows_ms:
                tasks.append(
                    TaskSpec(
                        str(root),
                        feed.exchange,
                        feed.symbol,
                        train,
                        test,
                        w,
                        config.grid,
                        config.backtest,
                        config.fit,
                    )
                )
    if not tasks:
        need = wf.train_days + wf.test_days
        have = ", ".join(f"{f.name}: {len(f.days)}" for f in feeds)
        msg = (
            f"no feed has the {need} days of data one fold needs "
            f"(train_days {wf.train_days} + test_days {wf.test_days}); days per feed: {have}"
        )
        raise ConfigError(msg)
    return tasks
