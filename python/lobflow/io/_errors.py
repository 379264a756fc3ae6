"""The one error an import or export raises for bad input: which file, line and field."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class SourceError(ValueError):
    """Input that cannot be represented: names the file, the line (or row) and the field.

    A `ValueError`, so the command line reports it in one line and exits 1.
    """

    def __init__(
        self,
        path: Path | str,
        what: str,
        *,
        line: int | None = None,
        field: str | None = None,
        unit: str = "line",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", {unit} {line:,}"
        if field is not None:
            where += f", field `{field}`"
        super().__init__(f"{where}: {what}")
