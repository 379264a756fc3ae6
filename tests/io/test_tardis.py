"""tardis.dev CSV imports: incremental rebuilds against a naive oracle, snapshots, bad input."""

from __future__ import annotations

import gzip
import re
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
import pytest

from lobflow._schema import BOOK_COLUMNS
from lobflow.io import SourceError, _csv, _sink, import_books, read_tardis
from lobflow.io._sink import PROCESSED
from tests.io.sources import HEADER, incremental, kept_rows, snapshot_file

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = ["exchange", "symbol", "ts", *BOOK_COLUMNS, "ts_local", "seq"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """64 KB blocks: a small file spans many, and updates straddle their edges."""
    monkeypatch.setattr(_csv, "BLOCK_BYTES", 1 << 16)


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of 100 rows: an import writes its staged files early, before any error."""
    monkeypatch.setattr(_sink, "GROUP_ROWS", 100)


def _rows(df: pl.DataFrame) -> list[tuple[object, ...]]:
    return list(df.select(COLUMNS).iter_rows())


@pytest.mark.parametrize(
    ("seed", "symbols", "resnapshot"),
    [(0, ("BTCUSDT",), 0), (1, ("BTCUSDT", "ETHUSDT"), 0), (2, ("BTCUSDT",), 40), (3, ("X",), 1)],
)
@pytest.mark.usefixtures("small_blocks")
def test_incremental_rebuild_matches_a_naive_oracle(
    tmp_path: Path, seed: int, symbols: tuple[str, ...], resnapshot: int
) -> None:
    src = tmp_path / "binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.csv"
    expected = incremental(src, 3_000, seed=seed, symbols=symbols, resnapshot_every=resnapshot)
    got = read_tardis(src).collect()
    want = kept_rows(expected)
    assert len(want) > 500
    # Feeds come out one after the other; within each, in time order.
    assert sorted(_rows(got), key=lambda r: (r[1], r[-1])) == sorted(
        want, key=lambda r: (r[1], r[-1])
    )


@pytest.mark.usefixtures("small_blocks")
def test_gzip_equals_plain(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    expected = incremental(plain, 5_000, seed=5)
    incremental(packed, 5_000, seed=5, compress=True)
    assert plain.stat().st_size > 10 * 2**16
    a = read_tardis(plain).collect()
    assert a.equals(read_tardis(packed).collect())
    assert _rows(a) == kept_rows(expected)


def test_rows_sharing_both_timestamps_are_one_update(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    src.write_text(
        f"{HEADER}\n"
        "x,S,1000,1100,true,ask,101.5,1\n"
        "x,S,1000,1100,true,bid,100.5,3\n"
        # One message that moves the bid up and back: one row, unchanged, so not written.
        "x,S,2000,2100,false,bid,100.7,1\n"
        "x,S,2000,2100,false,bid,100.7,0\n"
        # Same exchange time, another receive time: a second update.
        "x,S,3000,3100,false,bid,100.50,0\n"
        "x,S,3000,3100,false,bid,100.6,2\n"
        "x,S,3000,3200,false,ask,101.5,4\n"
    )
    df = read_tardis(src).collect()
    assert df["ts"].to_list() == [1_000_000, 3_000_000, 3_000_000]
    assert df["ts_local"].to_list() == [1_100_000, 3_100_000, 3_200_000]
    assert df["seq"].to_list() == [3, 7, 8]
    # "100.50" deleted the level "100.5": one price, two spellings.
    assert df["bid_px_0"].to_list() == [100.5, 100.6, 100.6]
    assert df["bid_sz_1"].to_list() == [0.0, 0.0, 0.0]
    assert df["ask_sz_0"].to_list() == [1.0, 1.0, 4.0]


def test_a_snapshot_after_updates_clears_the_book(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    src.write_text(
        f"{HEADER}\n"
        "x,S,1000,1100,true,ask,101,1\n"
        "x,S,1000,1100,true,ask,102,1\n"
        "x,S,1000,1100,true,bid,100,1\n"
        "x,S,2000,2100,false,bid,99,5\n"
        "x,S,3000,3100,true,ask,105,2\n"
        "x,S,3000,3100,true,bid,104,2\n"
    )
    df = read_tardis(src).collect()
    last = df.row(-1, named=True)
    # The old levels (101, 102, 100, 99) are gone: only the new snapshot, padded.
    assert [last[f"ask_px_{k}"] for k in range(5)] == [105.0] * 5
    assert [last[f"bid_px_{k}"] for k in range(5)] == [104.0] * 5
    assert [last[f"bid_sz_{k}"] for k in range(5)] == [2.0, 0.0, 0.0, 0.0, 0.0]


def test_crossed_and_empty_books_are_counted_not_written(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    src.write_text(
        f"{HEADER}\n"
        "x,S,1000,1100,true,bid,100,1\n"  # no ask yet: empty side
        "x,S,2000,2100,false,ask,101,1\n"
        "x,S,3000,3100,false,bid,101,1\n"  # locked: bid == ask
        "x,S,4000,4100,false,bid,101,0\n"
    )
    report = import_books("tardis", src, tmp_path / "out")
    c = report.counts
    assert (c.records, c.rows, c.empty_side, c.crossed, c.unchanged) == (4, 1, 1, 1, 1)


def test_book_snapshot_25_keeps_five_levels_and_pads_short_sides(tmp_path: Path) -> None:
    # Row 1: 25 full levels. Row 2: a change at level 10 only (same top five: dropped).
    # Row 3: six ask levels, three bid levels, empty fields for the rest.
    levels = [(f"{101 + k}", "1", f"{100 - k}", "2") for k in range(25)]
    changed = list(levels)
    changed[10] = ("111", "9", "90", "9")
    short = [(f"{101 + k}", "1", *((f"{100 - k}", "2") if k < 3 else ("", ""))) for k in range(6)]
    src = tmp_path / "deribit_book_snapshot_25_2023-11-14_BTC-PERPETUAL.csv"
    snapshot_file(src, [levels, changed, short])
    df = read_tardis(src).collect()
    assert df.height == 2
    first, last = df.row(0, named=True), df.row(1, named=True)
    assert [first[f"ask_px_{k}"] for k in range(5)] == [101.0, 102.0, 103.0, 104.0, 105.0]
    assert [last[f"bid_px_{k}"] for k in range(5)] == [100.0, 99.0, 98.0, 98.0, 98.0]
    assert [last[f"bid_sz_{k}"] for k in range(5)] == [2.0, 2.0, 2.0, 0.0, 0.0]
    assert (last["exchange"], last["symbol"], last["seq"]) == ("deribit", "BTC-PERPETUAL", 4)
    assert last["ts"] == 1_700_000_000_002_000_000
    assert last["ts_local"] == 1_700_000_000_002_007_000


def test_import_writes_the_processed_layout(tmp_path: Path) -> None:
    src = tmp_path / "binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.csv.gz"
    expected = incremental(src, 2_000, seed=9, compress=True)
    out = tmp_path / "data"
    report = import_books("tardis", src, out, progress=True)
    (part,) = report.files
    assert part.relative_to(out).as_posix() == (
        "exchange=binance-futures/symbol=BTCUSDT/date=2024-08-08/"
        "part-binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.parquet"
    )
    assert pq.read_schema(part).remove_metadata() == PROCESSED
    back = pl.scan_parquet(out, hive_partitioning=True).collect()
    assert _rows(back.with_columns(pl.col("exchange", "symbol").cast(pl.String))) == kept_rows(
        expected
    )
    # Importing the same source again replaces its part, not doubles it.
    again = import_books("tardis", src, out)
    assert again.files == report.files
    assert pl.scan_parquet(out, hive_partitioning=True).collect().height == back.height
    assert not list(out.glob(".lobflow-import-*"))


BAD = {
    "missing_column": (
        "exchange,symbol,timestamp,local_timestamp,side,price,amount\nx,S,1,2,bid,1,1\n",
        "line 1, field `is_snapshot`: missing column",
    ),
    "time_goes_back": (
        f"{HEADER}\nx,S,2000,2100,true,bid,100,1\nx,S,2000,2100,true,ask,101,1\n"
        "x,S,1999,2200,false,bid,100,2\n",
        "line 4, field `timestamp`: timestamp goes back in time",
    ),
    "not_a_number": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,1\nx,S,1000,1100,true,ask,1O1,1\n",
        "line 3, field `price`: not a number, got '1O1'",
    ),
    "nan_amount": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,nan\n",
        "line 2, field `amount`: not a number",
    ),
    "negative_amount": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,-1\n",
        "line 2, field `amount`: negative amount",
    ),
    "negative_price": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,1\nx,S,1000,1100,true,bid,-5,1\n",
        "line 3, field `price`: a price must be > 0, got -5.0",
    ),
    "zero_price": (
        f"{HEADER}\nx,S,1000,1100,true,bid,0,1\n",
        "line 2, field `price`: a price must be > 0, got 0.0",
    ),
    "amount_beyond_float64": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,1\nx,S,1000,1100,true,ask,101,1e400\n",
        "line 3, field `amount`: 1e400 is beyond float64's range",
    ),
    "bad_side": (
        f"{HEADER}\nx,S,1000,1100,true,buy?,100,1\n",
        "line 2, field `side`: expected bid or ask, got 'buy?'",
    ),
    "short_line": (
        f"{HEADER}\nx,S,1000,1100,true,bid,100,1\nx,S,1000,1100,true,ask,101\n",
        "line 3: expected 8 fields, got 7",
    ),
    "not_tardis": ("a,b,c\n1,2,3\n", "line 1: not a tardis book file"),
    "empty": ("", "line 1: is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_line_and_field_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    text, message = BAD[case]
    src = tmp_path / "bad.csv"
    src.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(SourceError) as e:
        import_books("tardis", src, out)
    assert str(e.value).startswith(f"{src}, ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert not out.exists()


@pytest.mark.usefixtures("small_blocks", "small_groups")
def test_a_truncated_gzip_is_named_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    incremental(src, 5_000, seed=4, oracle=False)
    packed = gzip.compress(src.read_bytes())
    cut = tmp_path / "inc.csv.gz"
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the user's own file")
    with pytest.raises(SourceError, match=r"inc\.csv\.gz: the gzip-compressed CSV stream ends"):
        import_books("tardis", cut, out)
    # Rows were read and staged before the break: none of them is left, the folder is.
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.mark.usefixtures("small_blocks", "small_groups")
def test_a_late_bad_line_leaves_no_partial_output(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    incremental(src, 5_000, seed=6, oracle=False)
    with src.open("a") as fh:
        fh.write("binance-futures,BTCUSDT,1999999999999999,1,false,bid,oops,1\n")
    out = tmp_path / "out"
    with pytest.raises(SourceError, match="field `price`: not a number, got 'oops'"):
        import_books("tardis", src, out)
    assert not out.exists()


def test_tardis_files_name_their_own_feed(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    incremental(src, 10)
    with pytest.raises(ValueError, match="name their exchange and symbol in their columns"):
        import_books("tardis", src, tmp_path / "out", symbol="X")


def test_the_processed_schema_is_the_collectors() -> None:
    from lobflow.collect.writer import SCHEMAS

    assert SCHEMAS["processed"] == PROCESSED


def test_the_lazy_frame_applies_what_polars_pushes_down(tmp_path: Path) -> None:
    src = tmp_path / "inc.csv"
    incremental(src, 2_000, seed=12)
    lf = read_tardis(src)
    assert lf.collect_schema().names() == COLUMNS
    whole = lf.collect()
    assert lf.head(3).collect().equals(whole.head(3))
    picked = lf.filter(pl.col("bid_sz_0") > 2.0).select("ts", "bid_sz_0").collect()
    assert picked.equals(whole.filter(pl.col("bid_sz_0") > 2.0).select("ts", "bid_sz_0"))
    sunk = tmp_path / "books.parquet"
    lf.sink_parquet(sunk)
    assert pl.read_parquet(sunk).equals(whole)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bids[4].price", "-1", "line 2, field `bids[4].price`: a price must be > 0, got -1.0"),
        ("asks[0].price", "0", "line 2, field `asks[0].price`: a price must be > 0, got 0.0"),
        ("asks[2].amount", "2e308", "line 2, field `asks[2].amount`: 2e308 is beyond float64's"),
    ],
)
def test_snapshot_values_a_book_cannot_hold_are_named(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    # Imported, such a book was a processed row that every later stage refused or misread.
    levels = [(f"{101 + k}", "1", f"{100 - k}", "1") for k in range(5)]
    src = tmp_path / "snap.csv"
    header = snapshot_file(src, [levels]).split(",")
    line = src.read_text().splitlines()[1].split(",")
    line[header.index(field)] = value
    src.write_text(",".join(header) + "\n" + ",".join(line) + "\n")
    out = tmp_path / "out"
    with pytest.raises(SourceError, match=re.escape(message)):
        import_books("tardis", src, out)
    assert not out.exists()
