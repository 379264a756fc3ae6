"""CLI commands of lobflow.collect."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `lobflow` app."""
