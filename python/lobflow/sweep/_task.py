"""One sweep task, run on a worker: read its days by path, fit every grid point, backtest.

Per task: each day's Parquet files are read on the worker (nothing but paths and small
results cross the scheduler), the training days' features are computed once per day for the
task's windows, and then for every horizon, model and alpha of the grid one pipeline is fitted
on the training days, baked once per threshold, and backtested on each test day by
`lobflow.backtest.run` (the Rust engine's signals, the Rust fill simulator) at every latency
and fee. A grid point that cannot be fitted or backtested is a row with its error; a task
that cannot read or compute its days raises, for Dask to retry.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from lobflow import _core, backtest, features
from lobflow._schema import ASK_SZ, BID_SZ, CONTRACT_COLUMNS, feature_names
from lobflow._units import parse_duration
from lobflow.errors import LobflowError
from lobflow.sweep._cores import claim_core
from lobflow.sweep._fit import Fitted, fit_rows

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import date

    from numpy.typing import NDArray

    from lobflow.sweep._config import GridPoint
    from lobflow.sweep._plan import Day, TaskSpec

#: Points kept of each test day's equity path for the summary's plot.
EQUITY_POINTS = 200


@dataclass(frozen=True)
class PointResult:
    """One grid point on one test day: out-of-sample metrics, or the error that stopped it."""

    point: int
    test_day: date
    #: Spearman rank correlation of the engine's scores with the forward return at the point's
    #: horizon, over the test day's rows that have one.
    ic: float | None = None
    #: Share of the test day's rows whose mid moved over the horizon in the direction of the
    #: score's sign.
    hit_rate: float | None = None
    pnl: float | None = None
    trades: int | None = None
    sharpe: float | None = None
    max_drawdown: float | None = None
    fees: float | None = None
    #: The threshold baked into the weights, in score units.
    threshold_score: float | None = None
    train_rows: int | None = None
    test_rows: int | None = None
    error: str | None = None
    warnings: str | None = None
    #: The baked weights' file text (docs/weights-format.md).
    weights: str | None = None
    equity_ts: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TaskResult:
    """What a task returns to the client: small, whatever the size of its days."""

    task_id: str
    rows: tuple[PointResult, ...]
    #: Rows of its days that break the feed contract and were left out (the rows the engine's
    #: ``on_bad="skip"`` skips), over all its days.
    dropped_rows: int
    #: Wall time of the task, and CPU time of its process meanwhile (all threads): on a
    #: machine whose cores are busy with other work, the second falls short of the first.
    elapsed_s: float
    cpu_s: float
    core: int
    worker: str


def run_task(spec: TaskSpec) -> TaskResult:
    """Run one task (see the module's docstring); the function Dask calls on a worker.

    Raises
    ------
    ValueError
        A day's file is not readable Parquet in the books schema, or its books break the
        feed contract in a way no row can be dropped for.
    """
    start, cpu = time.perf_counter(), time.process_time()
    core = claim_core()
    days: dict[date, pl.DataFrame] = {}
    dropped = 0
    with _caught() as task_warnings:
        for d in (*spec.train, *spec.test):
            days[d.day], n = _read_day(spec, d)
            dropped += n
        names = list(feature_names(spec.windows_ms))
        train_feats = [_features(spec, d, days[d.day]) for d in spec.train]
    shared = list(task_warnings)
    if dropped:
        shared.append(
            f"{dropped} rows of the fold's days break the feed contract and were left out, "
            "as the engine's on_bad='skip' leaves them out"
        )
    points = {
        (p.horizon, p.model, p.alpha, p.threshold, p.latency_ms, p.fee_bps): p
        for p in spec.grid.points()
        if p.windows_ms == spec.windows_ms
    }
    rows: list[PointResult] = []
    for horizon in spec.grid.horizon:
        h_ns = parse_duration(horizon)
        train = pl.concat([_labels(f, h_ns) for f in train_feats]).drop_nulls("fwd_ret_bps")
        x = np.ascontiguousarray(train.select(names).to_numpy(), dtype=np.float64)
        y = np.ascontiguousarray(train["fwd_ret_bps"].to_numpy(), dtype=np.float64)
        future = {d.day: _forward_returns(days[d.day], h_ns) for d in spec.test}
        for model in spec.grid.model:
            for alpha in spec.grid.alpha:
                group = [p for k, p in points.items() if k[:3] == (horizon, model, alpha)]
                with _caught() as fit_warnings:
                    try:
                        fitted: Fitted | str = fit_rows(
                            x,
                            y,
                            names,
                            model=model,
                            alpha=alpha,
                            min_rows=spec.fit.min_train_rows,
                        )
                    except ValueError as e:
                        fitted = f"fit: {e}"
                # The engine's scores depend on the fit alone (not on the threshold, latency
                # or fee): their IC and hit rate are computed once per test day.
                scored: dict[date, tuple[float | None, float | None]] = {}
                for p in group:
                    for d in spec.test:
                        rows.append(
                            _point(
                                spec,
                                p,
                                fitted,
                                days[d.day],
                                d,
                                future[d.day],
                                scored,
                                shared + fit_warnings,
                            )
                        )
    rows.sort(key=lambda r: (r.test_day, r.point))
    return TaskResult(
        spec.id,
        tuple(rows),
        dropped,
        time.perf_counter() - start,
        time.process_time() - cpu,
        core,
        f"{socket.gethostname()}:{os.getpid()}",
    )


def _point(
    spec: TaskSpec,
    p: GridPoint,
    fitted: Fitted | str,
    books: pl.DataFrame,
    day: Day,
    future: NDArray[np.float64],
    scored: dict[date, tuple[float | None, float | None]],
    shared: list[str],
) -> PointResult:
    """One grid point on one test day."""
    if isinstance(fitted, str):
        return PointResult(
            p.index, day.day, test_rows=books.height, error=fitted, warnings=_join(shared)
        )
    unit = spec.fit.threshold_unit
    threshold = p.threshold * fitted.score_std if unit == "std" else p.threshold
    comments = (
        f"lobflow sweep: {spec.feed}, grid point {p.index}, trained on "
        f"{spec.train[0].day}..{spec.train[-1].day} ({fitted.rows} rows)",
        f"windows_ms {list(p.windows_ms)}, horizon {p.horizon}, {p.model} alpha {p.alpha:g}, "
        f"threshold {p.threshold:g} ({unit})",
    )
    error = None
    with _caught() as caught:
        try:
            weights = fitted.weights(spec.windows_ms, threshold, comments)
            res = backtest.run(books, weights, _backtest_config(spec, p))
        except (ValueError, LobflowError) as e:
            error = f"backtest: {e}"
    if error is not None:
        return PointResult(
            p.index,
            day.day,
            threshold_score=threshold,
            train_rows=fitted.rows,
            test_rows=books.height,
            error=error,
            warnings=_join(shared + caught),
        )
    if day.day not in scored:
        scores = res.scores if res.scores is not None else np.full(books.height, np.nan)
        scored[day.day] = (_ic(scores, future), _hit_rate(scores, future))
    ic, hit_rate = scored[day.day]
    m = res.metrics
    ts, equity = _thin(res.ts, res.equity)
    return PointResult(
        p.index,
        day.day,
        ic=ic,
        hit_rate=hit_rate,
        pnl=_metric(m, "pnl"),
        trades=int(_metric(m, "trades") or 0),
        sharpe=_metric(m, "sharpe"),
        max_drawdown=_metric(m, "max_drawdown"),
        fees=_metric(m, "fees"),
        threshold_score=threshold,
        train_rows=fitted.rows,
        test_rows=books.height,
        warnings=_join(shared + caught),
        weights=weights.to_text(),
        equity_ts=ts,
        equity=equity,
    )


def _backtest_config(spec: TaskSpec, p: GridPoint) -> backtest.BacktestConfig:
    b = spec.backtest
    core = claim_core()
    return backtest.BacktestConfig(
        mode=b.mode,
        order_size=b.order_size,
        max_position=b.max_position,
        md_latency_ns=round(b.md_latency_ms * 1e6),
        order_latency_ns=round(p.latency_ms * 1e6),
        taker_fee_bps=p.fee_bps,
        maker_fee_bps=b.maker_fee_bps,
        # Both engine threads on this worker's own core: they yield to each other there
        # instead of spinning on cores other workers' engines need (lobflow.sweep._cores).
        cores=(core, core),
    )


def _metric(metrics: object, name: str) -> float | None:
    """A backtest metric, finite, else None; from a mapping or a dataclass of metrics."""
    m: Mapping[str, object] | None = metrics if isinstance(metrics, dict) else None
    v = m[name] if m is not None else getattr(metrics, name)
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return f if math.isfinite(f) else None


def _read_day(spec: TaskSpec, day: Day) -> tuple[pl.DataFrame, int]:
    """The day's books (contract columns, files in time order) and how many rows were left out.

    Files are ordered by their first and last `ts`, not by name: names sort ``part-10``
    before ``part-2``, and read that way the day would go back in time at each such boundary
    and lose most of its rows to the contract check.
    """
    frames = []
    for rel in day.files:
        path = Path(spec.root) / rel
        try:
            frames.append(pl.read_parquet(path, columns=list(CONTRACT_COLUMNS)))
        except (pl.exceptions.PolarsError, OSError) as e:
            msg = f"{spec.feed} {day.day}: {path} is not readable books Parquet: {e}"
            raise ValueError(msg) from e
    frames.sort(key=_time_order)  # stable: files of equal times keep their name order
    books = pl.concat(frames, how="vertical_relaxed")
    kept = _keep_valid(books)
    return kept, books.height - kept.height


def _time_order(frame: pl.DataFrame) -> tuple[bool, int, int]:
    """Sort key of one file's books: empty files last, else by first and last `ts`."""
    ts = frame["ts"].cast(pl.Int64, strict=False)
    lo, hi = ts.min(), ts.max()
    if not isinstance(lo, int) or not isinstance(hi, int):
        return (True, 0, 0)
    return (False, lo, hi)


def _keep_valid(books: pl.DataFrame) -> pl.DataFrame:
    """The rows the engine's ``on_bad="skip"`` keeps, so that every stage sees the same rows.

    The rule is the engine's ``Feed::check_row``, as `lobflow.features.compute`'s skip is.
    """
    ts = pl.col("ts").cast(pl.Int64)
    bid, ask = pl.col("bid_px_0").cast(pl.Float64), pl.col("ask_px_0").cast(pl.Float64)
    sizes = [pl.col(c).cast(pl.Float64) for c in BID_SZ + ASK_SZ]
    ok = (
        (ts >= 0)
        & bid.is_finite()
        & ask.is_finite()
        & (bid > 0)
        & (bid < ask)
        & pl.all_horizontal([s.is_finite() & (s >= 0) & (s <= _core.MAX_SIZE) for s in sizes])
    ).fill_null(False)
    valid = books.filter(ok)
    # A row before its predecessors' latest time goes back in time, as the engine sees it.
    return valid.filter(pl.col("ts") >= pl.col("ts").cum_max())


def _features(spec: TaskSpec, day: Day, books: pl.DataFrame) -> pl.DataFrame:
    try:
        return features.compute(books, spec.windows_ms)
    except ValueError as e:
        msg = f"{spec.feed} {day.day}: features: {e}"
        raise ValueError(msg) from e


def _labels(frame: pl.DataFrame, horizon_ns: int) -> pl.DataFrame:
    out = features.labels(frame, horizon_ns)
    assert isinstance(out, pl.DataFrame)
    return out


def _forward_returns(books: pl.DataFrame, horizon_ns: int) -> NDArray[np.float64]:
    """Forward mid return (bps) of each row at the horizon, NaN where the day has none."""
    lab = _labels(books.select("ts", "bid_px_0", "ask_px_0"), horizon_ns)
    return lab["fwd_ret_bps"].fill_null(float("nan")).to_numpy().astype(np.float64)


def _ic(scores: NDArray[np.float64], y: NDArray[np.float64]) -> float | None:
    ok = np.isfinite(scores) & np.isfinite(y)
    if ok.sum() < 10 or np.std(scores[ok]) == 0 or np.std(y[ok]) == 0:
        return None
    v = float(spearmanr(scores[ok], y[ok]).statistic)
    return v if math.isfinite(v) else None


def _hit_rate(scores: NDArray[np.float64], y: NDArray[np.float64]) -> float | None:
    moved = np.isfinite(scores) & np.isfinite(y) & (y != 0)
    if not moved.any():
        return None
    return float(np.mean(np.sign(scores[moved]) == np.sign(y[moved])))


def _thin(ts: NDArray[np.int64], equity: NDArray[np.float64]) -> tuple[list[int], list[float]]:
    """At most `EQUITY_POINTS` points of the path, evenly spaced by row, last one kept."""
    if len(ts) == 0:
        return [], []
    idx = np.unique(np.linspace(0, len(ts) - 1, min(len(ts), EQUITY_POINTS)).round().astype(int))
    return ts[idx].astype(np.int64).tolist(), equity[idx].astype(np.float64).tolist()


def _join(messages: list[str]) -> str | None:
    unique = list(dict.fromkeys(messages))
    return "; ".join(unique) if unique else None


@contextmanager
def _caught() -> Iterator[list[str]]:
    """Collect the warnings raised inside as their messages (the list is filled on exit)."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            messages.extend(str(w.message) for w in records)
