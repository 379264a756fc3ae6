"""CLI commands `lobflow train` and `lobflow export`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lobflow._choices import Mode, ModelKind, OnZero
from lobflow._cli_options import (
    CoresOption,
    FeeOption,
    HorizonOption,
    LatencyOption,
    ModelOption,
    ModeOption,
    OnZeroOption,
    Windows,
    WindowsOption,
    execution,
)

if TYPE_CHECKING:
    from rich.table import Table

    from lobflow.train import TrainMetrics

#: Training's default windows: seconds, for books polled a few times a second.
WINDOWS = Windows(1000, 2000, 5000)


def train(
    books: Annotated[Path, typer.Argument(help="processed Parquet file or hive folder")],
    horizon: HorizonOption = 1_000_000_000,
    windows_ms: WindowsOption = WINDOWS,
    model: ModelOption = ModelKind.RIDGE,
    mode: ModeOption = Mode.TAKER,
    fee_bps: FeeOption = 1.0,
    latency_ms: LatencyOption = 10.0,
    on_zero: OnZeroOption = OnZero.HOLD,
    cores: CoresOption = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("model"),
) -> None:
    """Train a linear model on the contract features; write pipeline, metrics and weights.

    The threshold is chosen by backtesting the validation part with the execution options
    (mode, fee, latency, on-zero): give `lobflow backtest` the same ones.
    """
    from rich.console import Console

    from lobflow._paths import check_outputs
    from lobflow._skipped import skipped_text
    from lobflow.train import fit, save_model

    written = ("pipeline.joblib", "metrics.json", "weights.txt", "manifest.json")
    check_outputs([out, *(out / f for f in written)], [("the books", books)])
    result = fit(
        books,
        horizon_ns=horizon,
        windows_ms=windows_ms,
        model=model,
        execution=execution(mode, fee_bps, latency_ms, on_zero, cores),
        progress=True,
    )
    save_model(result, out)
    console = Console()
    console.print(_table(result.metrics))
    m = result.metrics
    if m.trades:
        console.print(
            f"threshold {m.threshold:.4g}, chosen on validation for these costs: "
            f"{m.validation.pnl_bps:+.2f} bps in {m.validation.trades:,} trades there; "
            f"held-out test {m.test_trading.pnl_bps:+.2f} bps in {m.test_trading.trades:,} trades"
        )
    else:
        console.print("no threshold made money on validation after these costs: no trades")
    if m.rows.skipped:
        console.print(f"training {skipped_text(m.rows.skipped, m.rows.input)} as invalid")
    console.print(f"wrote {out}/pipeline.joblib, metrics.json, weights.txt, manifest.json")


def _table(m: TrainMetrics) -> Table:
    from rich.table import Table

    table = Table(title=f"{m.model} — out of sample ({m.rows.test:,} test rows)")
    for col in ("", "R²", "IC (Spearman)", "hit rate"):
        table.add_column(col)
    for name, row in (("model", m.test), ("baseline qi_0", m.baseline_qi0)):
        r2 = "n/a" if row.r2 is None else f"{row.r2:.4f}"  # logistic: no R²
        table.add_row(name, r2, f"{row.ic:.4f}", f"{row.hit_rate:.4f}")
    return table


def export(
    model_dir: Annotated[
        Path,
        typer.Argument(
            help="folder written by `lobflow train`: a model folder is code (its "
            "pipeline.joblib is a pickle), so export only folders you made or trust"
        ),
    ],
    out: Annotated[Path, typer.Option(help="weights file to write")] = Path("weights.txt"),
    threshold: Annotated[float | None, typer.Option(help="override the trained threshold")] = None,
) -> None:
    """Bake the trained pipeline's scaler into weights the engine reads.

    A model folder is code: its pipeline.joblib is a pickle, and loading a pickle runs
    whatever it names. Nothing is loaded unless the folder's manifest.json, written last by
    `lobflow train`, records the pickle's exact bytes; that keeps out folders train did not
    write and pickles replaced or damaged since, not a folder made to do harm.
    """
    from lobflow._paths import check_output
    from lobflow.export import bake
    from lobflow.train import load_model

    model = "the model it exports from"
    check_output(
        out, [(model, model_dir / f) for f in ("pipeline.joblib", "metrics.json", "manifest.json")]
    )
    saved = load_model(model_dir)
    w = bake(
        saved.pipeline,
        saved.windows_ms,
        saved.threshold if threshold is None else threshold,
        comments=(f"exported from {model_dir}",),
    )
    w.save(out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add `train` and `export` to the `lobflow` app."""
    app.command("train")(train)
    app.command("export")(export)
