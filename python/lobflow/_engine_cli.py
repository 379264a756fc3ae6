"""CLI commands of the inference engine (`lobflow run`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def register(app: typer.Typer) -> None:
    """Add the engine's commands to the `lobflow` app."""
