"""Bad input at the command line: one line naming the problem, exit status 1, no traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from lobflow.cli import app
from tests.books import make_books

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    books = tmp_path / "books.parquet"
    make_books(300, seed=1).drop("ask_sz_3").write_parquet(books)
    bad_weights = tmp_path / "bad.txt"
    bad_weights.write_text("windows_ms 10 20 50\nthreshold x\n")
    return {
        "missing": str(tmp_path / "missing.parquet"),
        "no_column": str(books),
        "bad_weights": str(bad_weights),
        "empty_dir": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{missing}"], "books not found: {missing}"),
        (["train", "{no_column}"], "ask_sz_3"),
        (["export", "{empty_dir}"], "pipeline.joblib"),
        (["features", "{missing}"], "books not found: {missing}"),
        (["run", "{no_column}", "--weights", "{missing}"], "{missing}"),
        (["run", "{no_column}", "--weights", "{bad_weights}"], "{bad_weights}"),
        (["backtest", "{missing}", "--weights", "{bad_weights}"], "books not found: {missing}"),
        (["report", "{missing}", "--weights", "{bad_weights}"], "books not found: {missing}"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    files: dict[str, str], args: list[str], message: str
) -> None:
    res = CliRunner().invoke(app, [a.format(**files) for a in args])
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ")
    assert message.format(**files) in lines[0]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train", "x.parquet", "--windows-ms", "5,2,1"], "--windows-ms"),
        (["train", "x.parquet", "--horizon", "1x"], "--horizon"),
        (["train", "x.parquet", "--horizon", "0s"], "--horizon"),
        (["train", "x.parquet", "--model", "lasso"], "--model"),
        (["train", "x.parquet", "--fee-bps", "nan"], "--fee-bps"),
        (["train", "x.parquet", "--cores", "0"], "--cores"),
        (["features", "x.parquet", "--windows-ms", "10,x,50"], "--windows-ms"),
        (["features", "x.parquet", "--on-bad", "drop"], "--on-bad"),
        (["backtest", "x.parquet", "--mode", "maker"], "--mode"),
        (["report", "x.parquet", "--latency-ms", "-1"], "--latency-ms"),
        (["report", "x.parquet", "--on-zero", "exit"], "--on-zero"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], option: str) -> None:
    # Each shared option is parsed by one function (lobflow._cli_options), before the command
    # runs: a usage error naming the option, whichever command it was given to.
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}'" in res.output
