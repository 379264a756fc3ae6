"""Broken Parquet inputs: one line naming the file and what is wrong, exit 1, in every command.

Truncated, corrupted or non-Parquet files and folders of files that are not parts of one
table gave 70-112-line polars tracebacks in `features`, `backtest` and `train`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest
from typer.testing import CliRunner

import lobflow
from lobflow import features
from lobflow._feed import read_books
from lobflow.cli import app
from tests.books import make_books

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BOOKS = make_books(2_000, seed=10).drop("exchange", "symbol")
#: The magic number that opens every zstd frame: a page's compressed data starts with it.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _good(path: Path, df: pl.DataFrame = BOOKS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, compression="zstd")
    return path


def _truncated(path: Path) -> Path:
    data = _good(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_parquet(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ts,bid_px_0\n1,100.0\n")
    return path


def _corrupted(path: Path) -> Path:
    """A file whose footer is whole but whose first page cannot be decompressed."""
    data = bytearray(_good(path).read_bytes())
    at = data.index(ZSTD_MAGIC)
    data[at : at + 4] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    return path


def _empty(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


BROKEN: dict[str, Callable[[Path], Path]] = {
    "truncated": _truncated,
    "not Parquet": _not_parquet,
    "corrupted": _corrupted,
    "empty": _empty,
}


def _folder_with(tmp_path: Path, broken: Callable[[Path], Path]) -> tuple[Path, Path]:
    """A hive folder of three good parts and one broken one."""
    root = tmp_path / "books"
    part = root / "exchange=test" / "symbol=BTC-USDT"
    for i in range(3):
        _good(part / f"part-{i}.parquet", BOOKS.slice(i * 500, 500))
    bad = broken(part / "part-3.parquet")
    return root, bad


def _mixed(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    root = tmp_path / "books"
    part = root / "exchange=test" / "symbol=BTC-USDT"
    for i in range(3):
        _good(part / f"part-{i}.parquet", BOOKS.slice(i * 500, 500))
    odd = {
        "features written into the folder": (
            root / "features.parquet",
            features.compute(BOOKS.head(500)),
        ),
        "an extra column": (
            part / "part-3.parquet",
            BOOKS.slice(1500, 500).with_columns(pl.lit(1).alias("extra")),
        ),
        "a missing column": (part / "part-3.parquet", BOOKS.slice(1500, 500).drop("ask_sz_3")),
        "another type": (
            part / "part-3.parquet",
            BOOKS.slice(1500, 500).with_columns(pl.col("bid_sz_0").cast(pl.Float32)),
        ),
        "another partition depth": (
            root / "exchange=test" / "part-3.parquet",
            BOOKS.slice(1500, 500),
        ),
    }[kind]
    return root, _good(*odd)


MIXED = [
    "features written into the folder",
    "an extra column",
    "a missing column",
    "another type",
    "another partition depth",
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)
    return w.save(tmp_path_factory.mktemp("w") / "w.txt")


def _commands(books: Path, weights: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "features": ["features", str(books), "--out", str(tmp / "f.parquet")],
        "train": ["train", str(books), "--out", str(tmp / "model")],
        "backtest": ["backtest", str(books), "--weights", str(weights), "--cores", "0,1"],
        "report": [
            "report",
            str(books),
            "--weights",
            str(weights),
            "--cores",
            "0,1",
            "--out",
            str(tmp / "report"),
        ],
        "run": ["run", str(books), "--weights", str(weights), "--cores", "0,1"],
        "export-hftbacktest": ["export-hftbacktest", str(books), "--out", str(tmp / "x.npz")],
    }


COMMANDS = ["features", "train", "backtest", "report", "run", "export-hftbacktest"]


def _one_line(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, f"{res.output}\n{res.exception!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("broken", list(BROKEN))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_broken_file_is_one_line_naming_it(
    tmp_path: Path, weights: Path, command: str, broken: str
) -> None:
    bad = BROKEN[broken](tmp_path / "books.parquet")
    line = _one_line(_commands(bad, weights, tmp_path)[command])
    assert f"books {bad} is not readable Parquet: " in line


@pytest.mark.parametrize("broken", list(BROKEN))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_broken_part_of_a_folder_is_one_line_naming_it(
    tmp_path: Path, weights: Path, command: str, broken: str
) -> None:
    root, bad = _folder_with(tmp_path, BROKEN[broken])
    line = _one_line(_commands(root, weights, tmp_path)[command])
    assert f"books {bad} is not readable Parquet: " in line


@pytest.mark.parametrize("kind", MIXED)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_of_mixed_files_is_one_line_naming_the_odd_one(
    tmp_path: Path, weights: Path, command: str, kind: str
) -> None:
    root, odd = _mixed(tmp_path, kind)
    line = _one_line(_commands(root, weights, tmp_path)[command])
    assert f"books {root} mix files that are not parts of one table: {odd} is unlike" in line


@pytest.mark.parametrize("broken", list(BROKEN))
def test_the_python_readers_name_the_broken_part(tmp_path: Path, broken: str) -> None:
    root, bad = _folder_with(tmp_path, BROKEN[broken])
    for read in (
        read_books,
        features.compute,
        lambda books: features.sink(books, tmp_path / "f.parquet"),
    ):
        with pytest.raises(ValueError, match=rf"^books {bad} is not readable Parquet: \S"):
            read(root)
    assert not (tmp_path / "f.parquet").exists()


def test_columns_in_another_order_are_still_one_table(tmp_path: Path) -> None:
    root = tmp_path / "books"
    _good(root / "a.parquet", BOOKS.head(1000))
    tail = BOOKS.tail(1000)
    _good(root / "b.parquet", tail.select(list(reversed(tail.columns))))
    assert read_books(root).equals(BOOKS)
