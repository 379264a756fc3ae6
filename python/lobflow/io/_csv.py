"""CSV(.gz) read a block at a time, every field as text, errors as file / line / field.

pyarrow's streaming CSV reader (`pyarrow.csv.open_csv`) parses in C++ and hands over one
block of rows at a time, so memory stays flat for a file of any size; a ``.gz`` file is
decompressed as a stream on the way in. It runs single-threaded because only then does it
name the line of a malformed row ("Row #N"), which the error passes on. Every column is read
as text and converted here by the importers, so a number is parsed once, exactly, and a
field that is not one is named with its line.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from lobflow.io._errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from numpy.typing import NDArray

#: Bytes of text per block (about 16 000 lines of a tardis update file): the text, and the
#: Python values an importer makes of one block, are most of an import's memory.
BLOCK_BYTES = 1 << 20

_ROW = re.compile(r"Row #(\d+): (.*)", re.DOTALL)
#: Integers as text: an optional sign and digits.
INT = r"^-?[0-9]+$"
#: Decimal numbers as text: digits with an optional fraction and exponent (no nan, no inf).
DECIMAL = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"


@dataclass(frozen=True)
class Block:
    """One block of a CSV file: its text columns and the line number of its first row."""

    columns: dict[str, pa.Array]
    first_line: int
    rows: int


def header(path: Path) -> list[str]:
    """The names in the first line of `path`; a `SourceError` when there is no first line."""
    try:
        with gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb") as fh:
            first = fh.readline()
    except (OSError, EOFError, zlib.error) as e:
        raise SourceError(path, f"cannot be read as {_kind(path)}: {e}", line=1) from e
    text = first.decode("utf-8", errors="replace").rstrip("\r\n")
    if not text:
        raise SourceError(path, "is empty", line=1)
    return text.split(",")


def _kind(path: Path) -> str:
    return "gzip-compressed CSV" if path.name.endswith(".gz") else "CSV"


def blocks(
    path: Path,
    names: list[str],
    *,
    headerless: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Block]:
    """The rows of `path` a block at a time, the columns named in `names` as text.

    A file with a header line may have more columns than `names`; a file without one is read
    with the column names `headerless` (all of its columns, in order). `progress` gets the
    bytes of the file consumed so far.
    """
    has_header = headerless is None
    raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    try:
        stream: pa.NativeFile = pa.PythonFile(raw, mode="r")
        if path.name.endswith(".gz"):
            stream = pa.CompressedInputStream(stream, "gzip")
        read = pcsv.ReadOptions(
            use_threads=False,
            block_size=BLOCK_BYTES,
            column_names=headerless,
        )
        convert = pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=names,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        line = 2 if has_header else 1
        try:
            reader = pcsv.open_csv(stream, read_options=read, convert_options=convert)
            for batch in reader:
                n = batch.num_rows
                if n:
                    yield Block({c: batch.column(c) for c in names}, line, n)
                line += n
                if progress is not None:
                    progress(raw.tell())
        except pa.ArrowInvalid as e:
            raise _parse_error(path, e, line) from e
        except (OSError, EOFError, zlib.error) as e:
            raise SourceError(
                path,
                f"the {_kind(path)} stream ends or breaks after line {line - 1:,} ({e}): "
                "a truncated or damaged file",
            ) from e
    finally:
        raw.close()


def _parse_error(path: Path, e: pa.ArrowInvalid, line: int) -> SourceError:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    m = _ROW.search(text)
    if m is not None:
        what = m[2].replace("Expected", "expected").replace("columns", "fields")
        return SourceError(path, what, line=int(m[1]))
    return SourceError(path, f"{text} (in the block from line {line:,})")


def first_bad(ok: pa.Array) -> int | None:
    """Index of the first False (or null) in a boolean array; None when all are True."""
    bad = pc.invert(pc.fill_null(ok, False))
    if not pc.any(bad).as_py():
        return None
    return int(pc.index(bad, True).as_py())


def _check(block: Block, name: str, pattern: str, path: Path, what: str) -> pa.Array:
    arr = block.columns[name]
    i = first_bad(pc.match_substring_regex(arr, pattern))
    if i is not None:
        raise SourceError(
            path, f"{what}, got {arr[i].as_py()!r}", line=block.first_line + i, field=name
        )
    return arr


def ints(block: Block, name: str, path: Path) -> NDArray[np.int64]:
    """Column `name` as int64; a field that is not an integer is an error naming its line."""
    arr = _check(block, name, INT, path, "not an integer")
    try:
        return np.asarray(pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False))
    except pa.ArrowInvalid as e:
        raise SourceError(path, f"an integer beyond int64 ({e})", field=name) from e


def floats(block: Block, name: str, path: Path, *, empty_ok: bool = False) -> NDArray[np.float64]:
    """Column `name` as float64 (correctly rounded); empty fields are NaN where `empty_ok`."""
    arr = block.columns[name]
    if empty_ok:
        empty = pc.equal(arr, "")
        ok = pc.or_(empty, pc.match_substring_regex(arr, DECIMAL))
    else:
        empty = None
        ok = pc.match_substring_regex(arr, DECIMAL)
    i = first_bad(ok)
    if i is not None:
        got = arr[i].as_py()
        what = "empty" if got == "" else f"not a number, got {got!r}"
        raise SourceError(path, what, line=block.first_line + i, field=name)
    if empty is not None:
        arr = pc.if_else(empty, pa.scalar(None, pa.string()), arr)
    out = np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    # The pattern takes only finite decimals, but one past float64's range (1e400) casts to inf.
    inf = np.flatnonzero(np.isinf(out))
    if inf.size:
        i = int(inf[0])
        raise SourceError(
            path,
            f"{arr[i].as_py()} is beyond float64's range",
            line=block.first_line + i,
            field=name,
        )
    return out


def texts(block: Block, name: str) -> list[str]:
    """Column `name` as Python strings."""
    return block.columns[name].to_pylist()  # type: ignore[no-any-return]
