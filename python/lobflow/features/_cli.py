"""CLI commands of lobflow.features."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `lobflow` app."""
