"""Progress bars for long work, on stderr, and only where a person is watching.

Quiet when stderr is not a terminal (a pipe, a log file, CI, pytest's capture), so output
meant for a program stays clean; transient, so the bar is gone when the work is done and
only the results remain on the screen.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def progress_bar(show: bool = True) -> Progress:
    """A rich `Progress` on stderr, shown when `show` and stderr is a terminal.

    Use it as a context manager; `Progress.add_task` / `advance` work the same whether it is
    shown or not. Only one can be open at a time (rich has one live display per console).
    """
    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (show and console.is_terminal),
    )
