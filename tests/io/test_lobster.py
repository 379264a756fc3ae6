"""LOBSTER imports: prices in 1e-4 dollars, exact ns times in New York, dummy levels, pairs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from lobflow.io import SourceError, import_books, read_lobster
from tests.io.sources import lobster_pair

if TYPE_CHECKING:
    from pathlib import Path

ASK, BID = 9_999_999_999, -9_999_999_999


def level(k: int) -> list[int]:
    """Level k (1-based) of a plain book: ask 585.94 + k cents, bid 585.33 - k cents."""
    return [5_859_400 + 100 * (k - 1), 100 * k, 5_853_300 - 100 * (k - 1), 10 * k]


def book(levels: int, *, asks: int | None = None, bids: int | None = None) -> list[int]:
    """A row of `levels` LOBSTER levels; beyond `asks` / `bids` real levels, dummies."""
    row: list[int] = []
    for k in range(1, levels + 1):
        a_px, a_sz, b_px, b_sz = level(k)
        if asks is not None and k > asks:
            a_px, a_sz = ASK, 0
        if bids is not None and k > bids:
            b_px, b_sz = BID, 0
        row += [a_px, a_sz, b_px, b_sz]
    return row


def test_prices_sizes_and_exact_nanosecond_times(tmp_path: Path) -> None:
    times = ["34200.004241176", "34200.004241177", "57599.999999999"]
    rows = [book(10), book(10, asks=9), book(10, asks=1)]  # levels past 5 change: dropped
    rows[2][1] = 7  # ask size 1 changes: kept
    src = lobster_pair(tmp_path, rows, times, levels=10)
    df = read_lobster(src).collect()
    assert df.height == 2
    first = df.row(0, named=True)
    assert [first[f"ask_px_{k}"] for k in range(5)] == [585.94, 585.95, 585.96, 585.97, 585.98]
    assert [first[f"bid_px_{k}"] for k in range(5)] == [585.33, 585.32, 585.31, 585.3, 585.29]
    assert [first[f"ask_sz_{k}"] for k in range(5)] == [100.0, 200.0, 300.0, 400.0, 500.0]
    # 2012-06-21 is summer time in New York: midnight there is 04:00 UTC.
    midnight = int(datetime(2012, 6, 21, 4, tzinfo=UTC).timestamp()) * 10**9
    assert df["ts"].to_list() == [midnight + 34_200_004_241_176, midnight + 57_599_999_999_999]
    assert df["seq"].to_list() == [1, 3]
    assert df["ts_local"].null_count() == 2
    assert (first["exchange"], first["symbol"]) == ("lobster", "AAPL")


def test_time_zone_follows_the_date_and_tz(tmp_path: Path) -> None:
    winter = lobster_pair(tmp_path, [book(5)], ["34200"], levels=5, day="2012-01-03")
    ts = read_lobster(winter).collect()["ts"][0]
    assert ts == int(datetime(2012, 1, 3, 14, 30, tzinfo=UTC).timestamp()) * 10**9
    utc = read_lobster(winter, tz="UTC").collect()["ts"][0]
    assert utc == int(datetime(2012, 1, 3, 9, 30, tzinfo=UTC).timestamp()) * 10**9
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        read_lobster(winter, tz="Mars/Olympus")


def test_dummy_levels_are_padding_and_empty_sides_are_left_out(tmp_path: Path) -> None:
    rows = [book(5, asks=2, bids=0), book(5, asks=2, bids=1)]
    src = lobster_pair(tmp_path, rows, ["34200.1", "34200.2"], levels=5)
    report = import_books("lobster", src, tmp_path / "out", symbol="AAPL.O", exchange="nasdaq")
    assert report.counts.empty_side == 1
    df = read_lobster(src).collect()
    short = df.row(0, named=True)
    assert [short[f"ask_px_{k}"] for k in range(5)] == [585.94, 585.95, 585.95, 585.95, 585.95]
    assert [short[f"ask_sz_{k}"] for k in range(5)] == [100.0, 200.0, 0.0, 0.0, 0.0]
    assert [short[f"bid_px_{k}"] for k in range(5)] == [585.33] * 5
    # A three-level file is padded the same way.
    src3 = lobster_pair(tmp_path, [book(3)], ["34200.3"], levels=3, ticker="MSFT")
    three = read_lobster(src3).collect().row(0, named=True)
    assert [three[f"bid_sz_{k}"] for k in range(5)] == [10.0, 20.0, 30.0, 0.0, 0.0]
    assert [three[f"bid_px_{k}"] for k in range(5)] == [585.33, 585.32, 585.31, 585.31, 585.31]
    (part,) = report.files
    assert "exchange=nasdaq/symbol=AAPL.O/date=2012-06-21" in part.as_posix()


def test_a_pair_of_unequal_length_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    src = lobster_pair(tmp_path, [book(5)] * 3, ["34200.1", "34200.2"], levels=5)
    out = tmp_path / "out"
    with pytest.raises(SourceError) as e:
        import_books("lobster", src, out)
    assert str(e.value) == (
        f"{src}, line 3: has more lines than AAPL_2012-06-21_34200000_57600000_message_5.csv "
        "(which ends at line 2): the orderbook and message files of a pair have one line "
        "per event each"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (["34200.5", "34200.4"], "message_5.csv, line 2, field `time`: time goes back"),
        (["34200.5", "9h30"], "line 2, field `time`: not seconds after midnight, got '9h30'"),
        (["34200.0000000001", "34201"], "line 1, field `time`: 34200.0000000001 s is finer"),
    ],
)
def test_bad_times_are_named(tmp_path: Path, times: list[str], message: str) -> None:
    src = lobster_pair(tmp_path, [book(5)] * 2, times, levels=5)
    with pytest.raises(SourceError, match=message):
        read_lobster(src).collect()


def test_bad_files_and_names(tmp_path: Path) -> None:
    (tmp_path / "AAPL.csv").write_text("")
    with pytest.raises(SourceError, match="not a LOBSTER orderbook file name"):
        import_books("lobster", tmp_path / "AAPL.csv", tmp_path / "out")
    bad = lobster_pair(tmp_path, [book(5)], ["34200"], levels=5)
    bad.with_name(bad.name.replace("orderbook", "message")).unlink()
    with pytest.raises(SourceError, match=r"its message file .*_message_5\.csv is not beside it"):
        read_lobster(bad)
    wrong = lobster_pair(tmp_path, [book(4)], ["34200"], levels=5, ticker="MSFT")
    with pytest.raises(SourceError, match=r"line 1: 16 fields, where 5 levels have 20"):
        read_lobster(wrong).collect()
    gap = book(5, bids=2)
    gap[4 * 3 + 2], gap[4 * 3 + 3] = 5_850_000, 5  # a real bid at level 4 after a dummy
    holey = lobster_pair(tmp_path, [gap], ["34200"], levels=5, ticker="IBM")
    with pytest.raises(SourceError, match=r"line 1, field `bid_price_4`: a bid level after an"):
        read_lobster(holey).collect()


@pytest.mark.parametrize(("price", "shown"), [(0, "0.0"), (-50_000, "-5.0")])
def test_a_real_level_at_a_price_of_zero_or_below_is_named(
    tmp_path: Path, price: int, shown: str
) -> None:
    # The dummies (+-9999999999) are absent levels; any other price <= 0 is not a book.
    row = book(5)
    row[4 * 4 + 2] = price  # bid level 5: in price order, so only the sign tells
    src = lobster_pair(tmp_path, [row], ["34200"], levels=5)
    with pytest.raises(
        SourceError, match=rf"line 1, field `bid_price_5`: a price must be > 0, got {shown}"
    ):
        import_books("lobster", src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
