"""An output that is an input, or inside an input folder, is refused before anything is written."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

import lobflow
from lobflow import features
from lobflow._feed import read_books
from lobflow.cli import app
from tests.books import make_books

if TYPE_CHECKING:
    from pathlib import Path


def _one_error_line(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def books(tmp_path: Path) -> Path:
    p = tmp_path / "books.parquet"
    make_books(400, seed=3).write_parquet(p)
    return p


@pytest.fixture
def hive(tmp_path: Path) -> Path:
    root = tmp_path / "processed"
    part = root / "exchange=test" / "symbol=BTC-USDT"
    part.mkdir(parents=True)
    make_books(400, seed=4).drop("exchange", "symbol").write_parquet(part / "part-1.parquet")
    return root


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    return lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16).save(
        tmp_path / "w.txt"
    )


def test_features_out_equal_to_the_books_is_refused(books: Path) -> None:
    before = books.read_bytes()
    line = _one_error_line(["features", str(books), "--out", str(books)])
    assert f"--out {books} would overwrite the books {books}" in line
    assert books.read_bytes() == before


def test_features_out_inside_a_hive_folder_is_refused(hive: Path) -> None:
    out = hive / "features.parquet"
    line = _one_error_line(["features", str(hive), "--out", str(out)])
    assert f"--out {out} is inside the books {hive}" in line
    assert not out.exists()
    assert list(hive.rglob(".*")) == []  # no temporary file either
    assert read_books(hive).height == 400


def test_features_out_through_a_symlink_or_a_hard_link_is_refused(
    books: Path, tmp_path: Path
) -> None:
    before = books.read_bytes()
    sym = tmp_path / "sym.parquet"
    sym.symlink_to(books)
    hard = tmp_path / "hard.parquet"
    os.link(books, hard)
    for out in (sym, hard):
        line = _one_error_line(["features", str(books), "--out", str(out)])
        assert f"would overwrite the books {books}" in line
    assert books.read_bytes() == before


def test_sink_refuses_its_own_input(books: Path, hive: Path) -> None:
    before = books.read_bytes()
    with pytest.raises(ValueError, match=r"^out .* would overwrite the books"):
        features.sink(books, books)
    assert books.read_bytes() == before
    with pytest.raises(ValueError, match=r"^out .* is inside the books"):
        features.sink(hive, hive / "exchange=test" / "f.parquet")
    assert read_books(hive).height == 400


def test_run_out_equal_to_the_feed_or_the_weights_is_refused(books: Path, weights: Path) -> None:
    before, w_before = books.read_bytes(), weights.read_bytes()
    for out, what in ((books, "the feed"), (weights, "the weights")):
        line = _one_error_line(
            ["run", str(books), "--weights", str(weights), "--cores", "0,1", "--out", str(out)]
        )
        assert f"--out {out} would overwrite {what} {out}" in line
    assert books.read_bytes() == before
    assert weights.read_bytes() == w_before


def test_train_out_inside_or_equal_to_the_books_is_refused(books: Path, hive: Path) -> None:
    line = _one_error_line(["train", str(hive), "--out", str(hive / "model")])
    assert f"is inside the books {hive}" in line
    assert not (hive / "model").exists()
    before = books.read_bytes()
    line = _one_error_line(["train", str(books), "--out", str(books)])
    assert f"--out {books} would overwrite the books {books}" in line
    assert books.read_bytes() == before


def test_report_out_inside_the_books_or_on_the_weights_is_refused(
    hive: Path, weights: Path
) -> None:
    line = _one_error_line(
        ["report", str(hive), "--weights", str(weights), "--out", str(hive / "report")]
    )
    assert f"is inside the books {hive}" in line
    assert not (hive / "report").exists()
    line = _one_error_line(["report", str(hive), "--weights", str(weights), "--out", str(weights)])
    assert f"would overwrite the weights {weights}" in line


def test_import_and_export_refuse_their_inputs(books: Path, hive: Path) -> None:
    line = _one_error_line(["export-hftbacktest", str(hive), "--out", str(hive / "b.npz")])
    assert f"is inside the books {hive}" in line
    assert not (hive / "b.npz").exists()
    before = books.read_bytes()
    line = _one_error_line(["import", "tardis", str(books), "--out", str(books)])
    assert f"--out {books} would overwrite the source {books}" in line
    assert books.read_bytes() == before
