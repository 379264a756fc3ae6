"""CLI commands of the inference engine (`lobflow run`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the engine's commands to the `lobflow` app."""
