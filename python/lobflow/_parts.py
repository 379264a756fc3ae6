"""The Parquet files of a books path: each checked readable, all alike, in time order.

A folder's files are listed here, each footer read once (pyarrow, a few hundred bytes a file),
and from it:

- a file that is not Parquet (truncated, another format, empty) is named at once, rather than
  as polars' traceback from somewhere inside a stage;
- a file whose columns or partition folders differ from the others' (a features file written
  into a books folder, say) is named with the difference, for polars would refuse the folder
  with a shape error that names neither;
- the files of each feed are put in time order by the `ts` statistics of their footers. Names
  sort ``part-10`` before ``part-2``: read in name order, a feed's rows went back in time at
  every such boundary, and ``on_bad="skip"`` then dropped most of them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lobflow._schema import FEED_KEYS

if TYPE_CHECKING:
    from pathlib import Path

_HIVE = re.compile(r"^([^=]+)=(.*)$")


@dataclass(frozen=True)
class Part:
    """One Parquet file of a books folder, as its footer describes it."""

    path: Path
    #: Column names and types (nullability and metadata aside).
    columns: dict[str, pa.DataType]
    #: The (key, value) pairs of its ``key=value`` folders below the books folder.
    hive: tuple[tuple[str, str], ...]
    #: Smallest and largest `ts` (the column's stored integers), None without a `ts` value.
    ts_range: tuple[int, int] | None

    def order(self) -> tuple[Any, ...]:
        """Sort key: the feed its folders name, then time, then the path."""
        values = dict(self.hive)
        feed = tuple(values.get(k, "") for k in FEED_KEYS)
        return (feed, self.ts_range is None, self.ts_range or (0, 0), str(self.path))


def first_line(err: BaseException) -> str:
    """The first line of `err`'s message (polars adds hints and context on further lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def unreadable(path: Path, err: BaseException) -> ValueError:
    """The one-line error for a file that is not readable Parquet."""
    return ValueError(f"books {path} is not readable Parquet: {first_line(err)}")


def footer(path: Path) -> pq.FileMetaData:
    """The file's Parquet footer; a `ValueError` naming the file if it has none."""
    try:
        return pq.read_metadata(path)
    except (pa.ArrowException, ValueError) as e:  # OSError (missing, no permission) names it
        raise unreadable(path, e) from e


def _ts_range(path: Path, md: pq.FileMetaData) -> tuple[int, int] | None:
    """`ts` from the row groups' statistics; the column itself where a group has none."""
    names = [md.schema.column(j).path for j in range(md.num_columns)]
    if "ts" not in names:
        return None
    j = names.index("ts")
    lo: int | None = None
    hi: int | None = None
    for g in range(md.num_row_groups):
        group = md.row_group(g)
        if group.num_rows == 0:
            continue
        stats = group.column(j).statistics
        if stats is None or not stats.has_min_max:
            return _ts_range_read(path)
        a, b = int(stats.min_raw), int(stats.max_raw)
        lo, hi = (a, b) if lo is None or hi is None else (min(lo, a), max(hi, b))
    return None if lo is None or hi is None else (lo, hi)


def _ts_range_read(path: Path) -> tuple[int, int] | None:
    try:
        ts = pq.read_table(path, columns=["ts"]).column("ts")
    except (pa.ArrowException, ValueError) as e:
        raise unreadable(path, e) from e
    if pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.int64())
    mm = pc.min_max(ts).as_py()
    return None if mm["min"] is None else (int(mm["min"]), int(mm["max"]))


def describe(path: Path, root: Path) -> Part:
    """`path`, a Parquet file under the folder `root`, from its footer."""
    md = footer(path)
    schema = md.schema.to_arrow_schema()
    hive = tuple((m[1], m[2]) for d in path.parent.relative_to(root).parts if (m := _HIVE.match(d)))
    return Part(path, {f.name: f.type for f in schema}, hive, _ts_range(path, md))


def _differences(a: Part, b: Part) -> str:
    keys_a, keys_b = [k for k, _ in a.hive], [k for k, _ in b.hive]
    if keys_a != keys_b:
        shown = " / ".join(f"{k}=…" for k in keys_b) or "no partition folders"
        return f"it lies in {shown}, where {a.path} lies in " + (
            " / ".join(f"{k}=…" for k in keys_a) or "no partition folders"
        )
    missing = [c for c in a.columns if c not in b.columns]
    extra = [c for c in b.columns if c not in a.columns]
    typed = [c for c in a.columns if c in b.columns and a.columns[c] != b.columns[c]]
    said = []
    if missing:
        said.append(f"it lacks {_names(missing)}")
    if extra:
        said.append(f"it has {_names(extra)} as well")
    if typed:
        said.append(", ".join(f"`{c}` is {b.columns[c]} (there {a.columns[c]})" for c in typed[:3]))
    return "; ".join(said) + f", against {a.path}"


def _names(cols: list[str]) -> str:
    shown = ", ".join(f"`{c}`" for c in cols[:4])
    return f"column(s) {shown}{', …' if len(cols) > 4 else ''}"


def _signature(p: Part) -> tuple[object, ...]:
    # Columns in another order are the same table to polars.
    return (tuple(k for k, _ in p.hive), tuple(sorted((c, str(t)) for c, t in p.columns.items())))


def folder_parts(root: Path, files: list[Path]) -> list[Path]:
    """The Parquet `files` under `root`, checked readable and alike, in time order per feed.

    Raises
    ------
    ValueError
        A file that is not Parquet, or whose columns or partition folders differ from most
        files': the message names the file and the difference.
    """
    parts = [describe(f, root) for f in files]
    kinds = Counter(_signature(p) for p in parts)
    if len(kinds) > 1:
        usual = kinds.most_common(1)[0][0]
        like = next(p for p in parts if _signature(p) == usual)
        odd = next(p for p in parts if _signature(p) != usual)
        msg = (
            f"books {root} mix files that are not parts of one table: {odd.path} is unlike "
            f"the rest: {_differences(like, odd)} (was it written into the folder?)"
        )
        raise ValueError(msg)
    return [p.path for p in sorted(parts, key=Part.order)]
