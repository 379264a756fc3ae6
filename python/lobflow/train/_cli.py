"""CLI commands `lobflow train` and `lobflow export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _windows(text: str) -> tuple[int, int, int]:
    from lobflow._schema import check_windows

    try:
        return check_windows([int(x) for x in text.split(",")])
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--windows-ms") from e


def _horizon(text: str) -> int:
    from lobflow._units import parse_duration

    try:
        return parse_duration(text)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--horizon") from e


def train(
    books: Annotated[Path, typer.Argument(help="processed Parquet file or hive folder")],
    horizon: Annotated[str, typer.Option(help="label horizon, e.g. 1s, 500ms")] = "1s",
    windows_ms: Annotated[
        str, typer.Option(help="three ascending windows in ms")
    ] = "1000,2000,5000",
    model: Annotated[str, typer.Option(help="ridge | logistic")] = "ridge",
    fee_bps: Annotated[float, typer.Option(help="taker fee per trade, bps")] = 1.0,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("model"),
) -> None:
    """Train a linear model on the contract features; write pipeline, metrics and weights."""
    from rich.console import Console
    from rich.table import Table

    from lobflow.train import fit, save_model

    if model not in ("ridge", "logistic"):
        raise typer.BadParameter("model must be ridge or logistic")
    horizon_ns, windows = _horizon(horizon), _windows(windows_ms)
    result = fit(
        books,
        horizon_ns=horizon_ns,
        windows_ms=windows,
        model=model,  # type: ignore[arg-type]
        fee_bps=fee_bps,
        progress=True,
    )
    save_model(result, out)
    m = result.metrics
    table = Table(title=f"{model} — out of sample ({m['rows']['test']:,} test rows)")
    for col in ("", "R²", "IC (Spearman)", "hit rate"):
        table.add_column(col)
    for name, row in (("model", m["test"]), ("baseline qi_0", m["baseline_qi0"])):
        r2 = "n/a" if row["r2"] is None else f"{row['r2']:.4f}"  # logistic: no R²
        table.add_row(name, r2, f"{row['ic']:.4f}", f"{row['hit_rate']:.4f}")
    Console().print(table)
    Console().print(
        f"threshold {m['threshold']:.4g}; wrote {out}/pipeline.joblib, metrics.json, weights.txt"
    )


def export(
    model_dir: Annotated[Path, typer.Argument(help="folder written by `lobflow train`")],
    out: Annotated[Path, typer.Option(help="weights file to write")] = Path("weights.txt"),
    threshold: Annotated[float | None, typer.Option(help="override the trained threshold")] = None,
) -> None:
    """Bake the trained pipeline's scaler into weights the engine reads."""
    from lobflow.export import bake
    from lobflow.train import load_model

    inputs = [model_dir / "pipeline.joblib", model_dir / "metrics.json"]
    if any(out.resolve() == f.resolve() for f in inputs):
        msg = f"--out {out} would overwrite the model it exports from"
        raise ValueError(msg)
    saved = load_model(model_dir)
    w = bake(
        saved["pipeline"],
        saved["windows_ms"],
        saved["threshold"] if threshold is None else threshold,
        comments=(f"exported from {model_dir}",),
    )
    w.save(out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add `train` and `export` to the `lobflow` app."""
    app.command("train")(train)
    app.command("export")(export)
