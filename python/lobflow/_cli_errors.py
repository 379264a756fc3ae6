"""Bad input at the command line is one line naming what is wrong, not a traceback.

A missing file, a feed without a column or a malformed weights file is the user's to mend, and
the library's own message already names the file, column or line; a 60-line traceback buries
it. Any other exception is a bug in lobflow and keeps its traceback.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ParamSpec

import typer

from lobflow.errors import LobflowError

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")

#: What the stages raise for bad input: `ValueError` (a bad row, column, option value),
#: `OSError` (a missing or unwritable file), `MemoryError` (a ring that cannot fit), and
#: lobflow's own errors (malformed weights, a collector that cannot start).
INPUT_ERRORS = (ValueError, OSError, MemoryError, LobflowError)


def reported(command: Callable[P, None]) -> Callable[P, None]:
    """`command` with bad input reported as ``error: <message>`` on stderr and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except INPUT_ERRORS as e:
            from rich.console import Console
            from rich.text import Text

            Console(stderr=True).print(Text.assemble(("error: ", "red"), str(e)), soft_wrap=True)
            raise typer.Exit(1) from e

    return run
