"""The `lobflow` command line: one sub-command per pipeline stage (typer)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="lobflow",
    help="From raw exchange order books to a live, low-latency trading signal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Each stage registers its own commands; heavy imports stay inside the command bodies so that
# `lobflow --help` is instant.
from lobflow._cli_errors import reported  # noqa: E402
from lobflow._engine_cli import register as _register_engine  # noqa: E402
from lobflow.backtest._cli import register as _register_backtest  # noqa: E402
from lobflow.collect._cli import register as _register_collect  # noqa: E402
from lobflow.features._cli import register as _register_features  # noqa: E402
from lobflow.io._cli import register as _register_io  # noqa: E402
from lobflow.live._cli import register as _register_live  # noqa: E402
from lobflow.sweep._cli import register as _register_sweep  # noqa: E402
from lobflow.train._cli import register as _register_train  # noqa: E402

for _register in (
    _register_collect,
    _register_features,
    _register_train,
    _register_backtest,
    _register_engine,
    _register_sweep,
    _register_io,
    _register_live,
):
    _register(app)
for _command in app.registered_commands:
    assert _command.callback is not None
    _command.callback = reported(_command.callback)


def main() -> None:
    """Run the `lobflow` command line."""
    app()
