"""`lobflow import` and `lobflow export-hftbacktest` from the command line."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from lobflow.cli import app
from tests.io.sources import HEADER, incremental, lobster_pair
from tests.io.test_hftbacktest_io import books
from tests.io.test_lobster import book

if TYPE_CHECKING:
    from pathlib import Path


def run(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def test_import_and_export_round_trip_from_the_command_line(tmp_path: Path) -> None:
    df = books(500, seed=11)
    df.write_parquet(tmp_path / "day.parquet")
    code, out = run("export-hftbacktest", tmp_path / "day.parquet", "--out", tmp_path / "day.npz")
    assert code == 0, out
    assert "events for 500 books" in out
    code, out = run(
        "import", "hftbacktest", tmp_path / "day.npz", "--out", tmp_path / "data",
        "--exchange", "binance", "--symbol", "BTC-USDT",
    )  # fmt: skip
    assert code == 0, out
    assert out.startswith("imported ")
    back = pl.scan_parquet(tmp_path / "data", hive_partitioning=True).collect()
    assert back["exchange"].unique().to_list() == ["binance"]
    assert back.height <= 500
    assert back["ts"].is_sorted()


def test_each_format_imports(tmp_path: Path) -> None:
    src = tmp_path / "binance_incremental_book_L2_2024-08-08_BTCUSDT.csv.gz"
    incremental(src, 300, compress=True)
    assert run("import", "tardis", src, "--out", tmp_path / "data")[0] == 0
    pair = lobster_pair(tmp_path, [book(10)] * 2, ["34200.1", "34200.2"], levels=10)
    code, out = run("import", "lobster", pair, "--out", tmp_path / "data", "--tz", "UTC")
    assert code == 0, out
    assert "(lobster AAPL)" in out
    assert "1 unchanged top five" in out
    exchanges = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert exchanges == ["exchange=binance-futures", "exchange=lobster"]


def _bad_files(tmp_path: Path) -> dict[str, tuple[list[object], str]]:
    """Each bad input named in the issue: args and what the one line must say."""
    truncated = tmp_path / "trunc.csv.gz"
    text = tmp_path / "ok.csv"
    incremental(text, 2_000, oracle=False)
    packed = gzip.compress(text.read_bytes())
    truncated.write_bytes(packed[: len(packed) // 2])
    missing = tmp_path / "missing.csv"
    missing.write_text("exchange,symbol,timestamp,local_timestamp,side,price,amount\n")
    backwards = tmp_path / "back.csv"
    backwards.write_text(
        f"{HEADER}\nx,S,5,5,true,bid,1,1\nx,S,5,5,true,ask,2,1\nx,S,4,6,false,bid,1,2\n"
    )
    unequal = lobster_pair(tmp_path, [book(5)] * 3, ["34200.1", "34200.2"], levels=5)
    other = tmp_path / "other.npz"
    np.savez(other, data=np.zeros(4, dtype=[("ts", "i8"), ("px", "f8")]))
    return {
        "truncated_gzip": (["tardis", truncated], f"{truncated}: the gzip-compressed CSV stream"),
        "missing_column": (["tardis", missing], f"{missing}, line 1, field `is_snapshot`"),
        "time_back": (["tardis", backwards], f"{backwards}, line 4, field `timestamp`"),
        "lobster_rows": (["lobster", unequal], f"{unequal}, line 3: has more lines than"),
        "npz_dtype": (["hftbacktest", other], f"{other}: `data` has dtype"),
    }


@pytest.mark.parametrize(
    "case", ["truncated_gzip", "missing_column", "time_back", "lobster_rows", "npz_dtype"]
)
def test_bad_input_is_one_line_exit_1_and_no_output(tmp_path: Path, case: str) -> None:
    args, message = _bad_files(tmp_path)[case]
    out = tmp_path / "data"
    code, text = run("import", *args, "--out", out)
    assert code == 1, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"error: {message}")
    assert not out.exists()


def test_export_bad_input_is_one_line(tmp_path: Path) -> None:
    df = books(20).with_columns(ts=pl.Series(np.arange(20)[::-1]))
    df.write_parquet(tmp_path / "back.parquet")
    code, text = run("export-hftbacktest", tmp_path / "back.parquet", "--out", tmp_path / "x.npz")
    assert code == 1
    assert text.strip().startswith(f"error: {tmp_path / 'back.parquet'}, row 1, field `ts`")
    assert not (tmp_path / "x.npz").exists()
