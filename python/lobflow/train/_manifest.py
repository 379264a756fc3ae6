"""`manifest.json`: what `lobflow train` wrote into a model folder, checked before unpickling.

``pipeline.joblib`` is a pickle, and unpickling runs whatever code the file names: a model
folder is code. Its manifest, written last by `save_model`, holds the SHA-256 and size of the
pickle; `load_model` reads nothing else from a folder until the pickle's bytes match it. A
folder that `lobflow train` did not write (or whose save did not finish, or whose pickle was
replaced or damaged since) is refused before any of its code runs. A hash beside a file
proves only that the two were written together: it keeps stray and damaged files out, not a
folder made by someone who meant harm, so load only model folders you made or trust.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from lobflow._files import atomic_write

if TYPE_CHECKING:
    from pathlib import Path

MANIFEST = "manifest.json"
PIPELINE = "pipeline.joblib"
#: The manifest's `format` value; another value (or none) is not a model folder.
FORMAT = "lobflow-model v1"
#: The largest pipeline a manifest may record: a scaler and a linear model on 18 features
#: pickle to a few KB.
MAX_PIPELINE_BYTES = 1 << 26
#: A manifest is ~200 bytes: reading more than this means it is some other file.
_MAX_MANIFEST_BYTES = 1 << 16


def write_manifest(folder: Path) -> Path:
    """Record the SHA-256 and size of the folder's ``pipeline.joblib`` (write it last)."""
    data = (folder / PIPELINE).read_bytes()
    digest, size = hashlib.sha256(data).hexdigest(), len(data)
    text = json.dumps({"format": FORMAT, PIPELINE: {"sha256": digest, "bytes": size}}, indent=2)

    def write(tmp: Path) -> None:
        tmp.write_text(text + "\n", encoding="utf-8")

    return atomic_write(folder / MANIFEST, write)


def _entry(raw: bytes) -> tuple[str, int] | None:
    """The pipeline's (SHA-256, size) from a manifest's bytes; None if they are not one."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (UTF-8), or nested past the parser
        return None
    entry = doc.get(PIPELINE) if isinstance(doc, dict) and doc.get("format") == FORMAT else None
    if not isinstance(entry, dict):
        return None
    digest, size = entry.get("sha256"), entry.get("bytes")
    if not (isinstance(digest, str) and isinstance(size, int) and not isinstance(size, bool)):
        return None
    return digest, size


def verified_pipeline(folder: Path) -> bytes:
    """The bytes of the folder's ``pipeline.joblib``, once they match its manifest.

    Read once, hashed, and returned: the bytes unpickled are the bytes checked, even if the
    file is replaced meanwhile. Nothing is unpickled here. A folder without a manifest, a
    manifest of another format, a missing pipeline or one that does not match it is a
    `ValueError`.
    """
    manifest, pipeline = folder / MANIFEST, folder / PIPELINE
    if not folder.is_dir():
        msg = f"model folder {folder} " + (
            "is not a folder" if folder.exists() else "does not exist"
        )
        raise ValueError(msg)
    not_model = f"{folder} is not a model folder written by `lobflow train`"
    if not manifest.is_file():
        msg = f"{not_model}: it has no {MANIFEST}, so its {PIPELINE} (code) is not loaded"
        raise ValueError(msg)
    with manifest.open("rb") as fh:
        raw = fh.read(_MAX_MANIFEST_BYTES + 1)
    entry = _entry(raw) if len(raw) <= _MAX_MANIFEST_BYTES else None
    if entry is None or not 0 <= entry[1] <= MAX_PIPELINE_BYTES:
        msg = f"{not_model}: {manifest} is not a lobflow model manifest ({FORMAT!r})"
        raise ValueError(msg)
    want, size = entry
    if not pipeline.is_file():
        msg = f"{not_model}: {pipeline} is missing"
        raise ValueError(msg)
    with pipeline.open("rb") as fh:
        data = fh.read(size + 1)
    got = hashlib.sha256(data).hexdigest()
    if len(data) != size or got != want:
        shown = f"{len(data):,} bytes" if len(data) <= size else f"over {size:,} bytes"
        msg = (
            f"{pipeline} is not a model written by `lobflow train`: it is not the file "
            f"{manifest} records ({shown}, SHA-256 {got}, where the manifest says {size:,} "
            f"bytes, SHA-256 {want}), so it was replaced or damaged since and is not loaded"
        )
        raise ValueError(msg)
    return data
