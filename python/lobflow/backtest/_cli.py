"""CLI commands `lobflow backtest` and `lobflow report`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    from lobflow.backtest._by_threshold import PnlByThreshold

# The options both commands share, declared once.
Books = Annotated[Path, typer.Argument(help="one feed of processed books (Parquet file or folder)")]
WeightsFile = Annotated[Path, typer.Option("--weights", help="weights file")]
HeldOut = Annotated[
    Path | None,
    typer.Option(
        help="a folder written by `lobflow train`: backtest only the rows it held out "
        "(from the start of its test part, read from its metrics.json; no pickle is loaded)",
        show_default=False,
    ),
]


def _books(books: Path, held_out: Path | None) -> pl.DataFrame:
    from lobflow._feed import named_read_errors, scan_books

    lf = scan_books(books)
    if held_out is not None:
        import polars as pl

        lf = lf.filter(pl.col("ts") >= _test_start(held_out))
    with named_read_errors(books):
        df = lf.collect()
    if df.height == 0 and held_out is not None:
        msg = f"{books} has no rows in the part {held_out} held out: trained on other books?"
        raise ValueError(msg)
    return df


def _test_start(model_dir: Path) -> int:
    """Where the model folder's held-out part starts (ns), from its ``metrics.json``.

    Read as data: the folder's ``pipeline.joblib`` is a pickle (code), and where the test
    part starts is all `--held-out` needs, so no pickle is loaded for it.
    """
    import json

    if not model_dir.is_dir():
        state = "is not a folder" if model_dir.exists() else "does not exist"
        msg = f"model folder {model_dir} {state}"
        raise ValueError(msg)
    not_model = f"{model_dir} is not a model folder written by `lobflow train`"
    try:
        with (model_dir / "metrics.json").open("rb") as fh:
            doc = json.loads(fh.read(1 << 20))
    except FileNotFoundError:
        msg = f"{not_model}: it has no metrics.json"
        raise ValueError(msg) from None
    except (OSError, ValueError, RecursionError) as e:
        msg = f"{not_model}: its metrics.json does not read ({type(e).__name__}: {e})"
        raise ValueError(msg) from None
    start = doc.get("test_start_ns") if isinstance(doc, dict) else None
    if not isinstance(start, int) or isinstance(start, bool):
        msg = f"{not_model}: its metrics.json has no integer test_start_ns"
        raise ValueError(msg)
    return start


def _run(
    books: Path, weights: Path, cfg: BacktestConfig, held_out: Path | None
) -> tuple[pl.DataFrame, BacktestResult]:
    from lobflow.backtest import run

    df = _books(books, held_out)
    return df, run(df, weights, cfg, progress=True)


def _trained(model_dir: Path | None) -> tuple[BacktestConfig | None, PnlByThreshold | None]:
    """The costs a model's threshold was chosen for and its validation curve (metrics.json).

    Only for what is shown beside the backtest (a note, a curve): a metrics.json that is
    missing or does not read as `lobflow train` writes it gives None.
    """
    import json

    import numpy as np

    from lobflow.backtest import BacktestConfig
    from lobflow.backtest._by_threshold import PnlByThreshold

    if model_dir is None:
        return None, None
    try:
        doc = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
        fields: dict[str, Any] = dict(doc["execution"])
        cores = fields.pop("cores", None)  # JSON has lists; None: chosen for the machine
        if cores is not None:
            fields["cores"] = tuple(cores)
        cfg = BacktestConfig(**fields)
        c = doc["validation_curve"]
        curve = PnlByThreshold(
            tuple(map(float, c["thresholds"])),
            tuple(map(float, c["fees_bps"])),
            np.asarray(c["pnl_bps"], dtype=np.float64),
            np.asarray(c["trades"], dtype=np.int64),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None, None
    return cfg, curve


def _explained(res: BacktestResult, trained: BacktestConfig | None, model_dir: Path | None) -> None:
    """What the numbers mean, and whether they are for the costs the threshold was chosen for."""
    from dataclasses import replace

    from rich.console import Console

    from lobflow.report import describe_costs, explain

    console = Console()
    for line in explain(res.metrics, res.config):
        console.print(line)
    if trained is not None and replace(trained, cores=res.config.cores) != res.config:
        console.print(
            f"[yellow]note:[/] the threshold in {model_dir} was chosen for "
            f"{describe_costs(trained)}; this backtest assumes {describe_costs(res.config)}"
        )


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
    _explained(res, _trained(held_out)[0], held_out)


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
    trained, curve = _trained(held_out)
    path = build_report(out, df, res, weights, validation=curve, progress=True)
    Console().print(summary_table(res))
    _explained(res, trained, held_out)
    Console().print(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add `backtest` and `report` to the `lobflow` app."""
    app.command("backtest")(backtest)
    app.command("report")(report)
