"""CLI commands `lobflow backtest` and `lobflow report`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import polars as pl

    from lobflow.backtest import BacktestResult

# The options both commands share, declared once.
Books = Annotated[Path, typer.Argument(help="one feed of processed books (Parquet file or folder)")]
WeightsFile = Annotated[Path, typer.Option("--weights", help="weights file")]
Mode = Annotated[str, typer.Option(help="taker | passive")]
FeeBps = Annotated[float, typer.Option(help="taker fee, bps")]
LatencyMs = Annotated[float, typer.Option(help="order-entry latency, ms")]
Cores = Annotated[str, typer.Option(help="engine cores producer,worker")]


def _run(
    books: Path, weights: Path, mode: str, fee_bps: float, latency_ms: float, cores: str
) -> tuple[pl.DataFrame, BacktestResult]:
    from lobflow._engine_cli import _cores
    from lobflow._feed import scan_books
    from lobflow._schema import finite
    from lobflow.backtest import BacktestConfig, run

    if mode not in ("taker", "passive"):
        raise typer.BadParameter("--mode takes taker or passive")
    c = _cores(cores)
    if not 0 <= latency_ms <= 1e12:  # NaN too; 1e12 ms is 31 years
        msg = f"--latency-ms must be in 0..1e12 ms, got {latency_ms}"
        raise ValueError(msg)
    finite("--fee-bps", fee_bps)
    cfg = BacktestConfig(
        mode=mode,  # type: ignore[arg-type]
        taker_fee_bps=fee_bps,
        order_latency_ns=int(latency_ms * 1e6),
        cores=(c[0], c[1]),
    )
    df = scan_books(books).collect()
    return df, run(df, weights, cfg)


def backtest(
    books: Books,
    weights: WeightsFile = Path("weights.txt"),
    mode: Mode = "taker",
    fee_bps: FeeBps = 1.0,
    latency_ms: LatencyMs = 10.0,
    cores: Cores = "2,4",
) -> None:
    """Backtest the engine's signals on recorded books; print the metrics."""
    from rich.console import Console

    from lobflow.report import summary_table

    _, res = _run(books, weights, mode, fee_bps, latency_ms, cores)
    Console().print(summary_table(res))


def report(
    books: Books,
    weights: WeightsFile = Path("weights.txt"),
    out: Annotated[Path, typer.Option(help="output folder")] = Path("report"),
    mode: Mode = "taker",
    fee_bps: FeeBps = 1.0,
    latency_ms: LatencyMs = 10.0,
    cores: Cores = "2,4",
) -> None:
    """Backtest, then write an HTML report with PNGs (equity, position, latency, weights, IC)."""
    from rich.console import Console

    from lobflow import Engine, Weights
    from lobflow.report import ic_by_horizon, summary_table, write_report

    df, res = _run(books, weights, mode, fee_bps, latency_ms, cores)
    w = Weights.load(weights)
    paced = Engine(w, cores=res.config.cores).run(df.head(100_000), pace_ns=20_000)
    assert res.scores is not None
    path = write_report(
        out,
        res,
        weights=w,
        latency_ns=paced.latency_ns,
        latency_buckets=paced.latency_buckets,
        ic=ic_by_horizon(df, res.scores),
    )
    Console().print(summary_table(res))
    Console().print(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add `backtest` and `report` to the `lobflow` app."""
    app.command("backtest")(backtest)
    app.command("report")(report)
