"""Outputs that would overwrite, or land inside, what a command reads are refused up front.

`lobflow features X --out X` replaced the books with their features, and a features file
written into a hive folder became part of it: every later read of the folder failed with a
polars shape error. Every command that writes checks its outputs here before reading a row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def _real(p: Path) -> Path:
    # Symlinks and `..` resolved, whether or not the path exists yet.
    return Path(os.path.realpath(p))


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` are one file: by their resolved paths, or a hard link."""
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_output(
    out: str | os.PathLike[str],
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
    *,
    option: str = "--out",
) -> None:
    """Refuse an output that is one of `inputs`, or inside an input folder.

    Parameters
    ----------
    out
        A file or folder the command is about to write.
    inputs
        What the command reads (files or folders), each with how the message names it
        (``("the books", path)``); None paths are ignored.
    option
        How the output is named to the user (``--out``, ``out``).

    Raises
    ------
    ValueError
        Naming both paths: writing `out` would overwrite an input, or put a file into an
        input folder that later reads of it take for part of it.
    """
    o = Path(out)
    for what, given in inputs:
        if given is None:
            continue
        i = Path(given)
        if _same_file(o, i):
            msg = f"{option} {o} would overwrite {what} {i}: choose another path"
            raise ValueError(msg)
        if _real(i).is_dir() and _real(o).is_relative_to(_real(i)):
            msg = (
                f"{option} {o} is inside {what} {i}: whatever is written there would be read "
                "as part of it from then on; choose a path outside it"
            )
            raise ValueError(msg)


def check_outputs(
    outs: Iterable[str | os.PathLike[str]],
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
    *,
    option: str = "--out",
) -> None:
    """`check_output` for each of `outs` (e.g. a folder and the files written into it)."""
    ins = list(inputs)
    for out in outs:
        check_output(out, ins, option=option)
