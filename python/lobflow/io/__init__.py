"""Books in and out: tardis.dev, LOBSTER and hftbacktest files to the processed layout, and back.

`import_books` writes the collector's processed layout (``exchange=…/symbol=…/date=…``) from
a tardis.dev CSV, a LOBSTER pair or an hftbacktest npz; `read_tardis`, `read_lobster` and
`read_hftbacktest` give the same rows as a lazy polars frame. `to_hftbacktest` and
`export_hftbacktest` turn contract books into hftbacktest's events. See docs/import.md.
"""

from __future__ import annotations

from lobflow.io._errors import SourceError
from lobflow.io._events import EVENT_DTYPE
from lobflow.io._formats import FORMATS
from lobflow.io._hbt_out import ExportReport, export_hftbacktest, to_hftbacktest
from lobflow.io._import import (
    ImportReport,
    import_books,
    read_hftbacktest,
    read_lobster,
    read_tardis,
)
from lobflow.io._rows import Counts

__all__ = [
    "EVENT_DTYPE",
    "FORMATS",
    "Counts",
    "ExportReport",
    "ImportReport",
    "SourceError",
    "export_hftbacktest",
    "import_books",
    "read_hftbacktest",
    "read_lobster",
    "read_tardis",
    "to_hftbacktest",
]
