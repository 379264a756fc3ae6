"""Files that appear complete or not at all."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def atomic_write(final: Path, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a hidden temp file beside `final`, sync it, and rename it into place.

    A reader (or a glob for ``*.parquet``) never sees a partial file; after a crash only the
    hidden ``.<name>.tmp`` can be left, which the collector's `recover` removes. When `write`
    raises, the temp file is removed and the error goes on.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final
