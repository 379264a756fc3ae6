"""CLI commands `lobflow backtest` and `lobflow report`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lobflow._choices import Mode, OnZero
from lobflow._cli_options import (
    CoresOption,
    FeeOption,
    LatencyOption,
    ModeOption,
    OnZeroOption,
    execution,
)

if TYPE_CHECKING:
    import polars as pl

    from lobflow.backtest import BacktestConfig, BacktestResult

# The options both commands share, declared once.
Books = Annotated[Path, typer.Argument(help="one feed of processed books (Parquet file or folder)")]
WeightsFile = Annotated[Path, typer.Option("--weights", help="weights file")]
HeldOut = Annotated[
    Path | None,
    typer.Option(
        help="a folder written by `lobflow train`: backtest only the rows it held out "
        "(from the start of its test part)",
        show_default=False,
    ),
]


def _books(books: Path, held_out: Path | None) -> pl.DataFrame:
    from lobflow._feed import named_read_errors, scan_books

    lf = scan_books(books)
    if held_out is not None:
        import polars as pl

        from lobflow.train import load_model

        start = load_model(held_out).split_ts["test_start"]
        lf = lf.filter(pl.col("ts") >= start)
    with named_read_errors(books):
        df = lf.collect()
    if df.height == 0 and held_out is not None:
        msg = f"{books} has no rows in the part {held_out} held out: trained on other books?"
        raise ValueError(msg)
    return df


def _run(
    books: Path, weights: Path, cfg: BacktestConfig, held_out: Path | None
) -> tuple[pl.DataFrame, BacktestResult]:
    from lobflow.backtest import run

    df = _books(books, held_out)
    return df, run(df, weights, cfg, progress=True)


def backtest(
    books: Books,
    weights: WeightsFile = Path("weights.txt"),
    held_out: HeldOut = None,
    mode: ModeOption = Mode.TAKER,
    fee_bps: FeeOption = 1.0,
    latency_ms: LatencyOption = 10.0,
    on_zero: OnZeroOption = OnZero.HOLD,
    cores: CoresOption = None,
) -> None:
    """Backtest the engine's signals on recorded books; print the metrics."""
    from rich.console import Console

    from lobflow.report import summary_table

    cfg = execution(mode, fee_bps, latency_ms, on_zero, cores)
    _, res = _run(books, weights, cfg, held_out)
    Console().print(summary_table(res))


def report(
    books: Books,
    weights: WeightsFile = Path("weights.txt"),
    out: Annotated[Path, typer.Option(help="output folder")] = Path("report"),
    held_out: HeldOut = None,
    mode: ModeOption = Mode.TAKER,
    fee_bps: FeeOption = 1.0,
    latency_ms: LatencyOption = 10.0,
    on_zero: OnZeroOption = OnZero.HOLD,
    cores: CoresOption = None,
) -> None:
    """Backtest, then write an HTML report with PNGs.

    Equity, position, PnL against threshold and fee, latency, weights, IC by horizon.
    """
    from rich.console import Console

    from lobflow._paths import check_output
    from lobflow.report import build_report, summary_table

    check_output(out, [("the books", books), ("the weights", weights)])
    cfg = execution(mode, fee_bps, latency_ms, on_zero, cores)
    df, res = _run(books, weights, cfg, held_out)
    path = build_report(out, df, res, weights, progress=True)
    Console().print(summary_table(res))
    Console().print(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add `backtest` and `report` to the `lobflow` app."""
    app.command("backtest")(backtest)
    app.command("report")(report)
