"""`build_report`: what a report needs besides the backtest, measured, then written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lobflow._progress import progress_bar
from lobflow.backtest._by_threshold import candidate_thresholds, paid_fee_bps, pnl_by_threshold
from lobflow.report._html import ic_by_horizon, write_report

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import polars as pl

    from lobflow._engine import RunResult
    from lobflow.backtest import BacktestResult
    from lobflow.backtest._by_threshold import PnlByThreshold
    from lobflow.weights import Weights

#: Rows of the paced run that measures the latency histogram (at 20 µs apart: 2 s).
PACED_ROWS = 100_000
PACE_NS = 20_000


def report_fees(fee_bps: float) -> tuple[float, ...]:
    """The fees the report's threshold curve is drawn at: none, the run's own, and double.

    Examples
    --------
    >>> report_fees(1.0), report_fees(0.0)
    ((0.0, 1.0, 2.0), (0.0, 0.5, 1.0))
    """
    if fee_bps == 0:
        return (0.0, 0.5, 1.0)
    return tuple(sorted({0.0, fee_bps, 2 * fee_bps}))


def build_report(
    out_dir: str | os.PathLike[str],
    books: pl.DataFrame,
    result: BacktestResult,
    weights: Weights | str | os.PathLike[str],
    *,
    validation: PnlByThreshold | None = None,
    paced: RunResult | None = None,
    title: str = "lobflow report",
    extra: dict[str, Any] | None = None,
    progress: bool = False,
) -> Path:
    """Measure what the report shows besides `result`, then write it (`write_report`).

    Parameters
    ----------
    out_dir
        Folder for ``report.html`` and the PNGs.
    books
        The feed `result` was backtested on (one feed).
    result
        A backtest of `weights` on `books` (it holds the engine's scores).
    weights
        The weights backtested.
    validation
        The curve training chose the threshold from (`TrainMetrics.validation_curve`).
    paced
        A paced engine run to draw the latency of; default: the first 100 000 rows of
        `books` 20 µs apart.
    title, extra
        The report's title, and details shown at its end.
    progress
        Show a progress bar on a terminal.
    """
    from lobflow import Engine, Weights

    if result.scores is None:
        msg = "the report needs the engine's scores: backtest weights, not signals"
        raise ValueError(msg)
    w = weights if isinstance(weights, Weights) else Weights.load(weights)
    cfg = result.config
    thresholds = candidate_thresholds(result.scores)
    fees = report_fees(paid_fee_bps(cfg))
    with progress_bar(progress) as bar:
        task = bar.add_task("report: paced engine run (latency)", total=None)
        if paced is None:
            paced = Engine(w, cores=cfg.cores).run(books.head(PACED_ROWS), pace_ns=PACE_NS)
        bar.update(task, total=1, completed=1)
        task = bar.add_task("report: IC by horizon", total=None)
        ic = ic_by_horizon(books, result.scores)
        bar.update(task, total=1, completed=1)
        task = bar.add_task("report: PnL by threshold and fee", total=len(thresholds) * len(fees))
        curve = pnl_by_threshold(
            books, result.scores, cfg, thresholds, fees, advance=lambda: bar.advance(task)
        )
        task = bar.add_task("report: figures", total=None)
        path = write_report(
            out_dir,
            result,
            weights=w,
            latency=paced.latency,
            ic=ic,
            by_threshold=curve,
            validation=validation,
            title=title,
            extra=extra,
        )
        bar.update(task, total=1, completed=1)
    return path
