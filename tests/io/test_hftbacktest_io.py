"""hftbacktest events: export checked by hftbacktest itself, replay, round trips, bad files."""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

from lobflow._schema import BOOK_COLUMNS
from lobflow.io import (
    EVENT_DTYPE,
    SourceError,
    export_hftbacktest,
    import_books,
    read_hftbacktest,
    to_hftbacktest,
)
from lobflow.io._events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

ROW = ["ts", *BOOK_COLUMNS, "ts_local"]


def books(n: int, *, seed: int = 0, local_back: bool = False) -> pl.DataFrame:
    """A feed as the collector writes one: 0.1 tick, 1-5 levels a side, short sides padded."""
    rng = np.random.default_rng(seed)
    ts = 1_723_075_200_000_000_000 + np.cumsum(rng.integers(1, 80_000_000, n))
    lag = rng.integers(-2_000_000, 3_000_000, n) if local_back else np.full(n, 1_300_000)
    mid = 600_000 + np.cumsum(rng.integers(-2, 3, n))
    cols: dict[str, object] = {"ts": ts, "exchange": "binance", "symbol": "BTC-USDT"}
    for side, sign in (("bid", -1), ("ask", 1)):
        depth = rng.integers(1, 6, n)
        for k in range(5):
            px = (mid + sign * (1 + 2 * k)) / 10
            sz = np.round(rng.lognormal(0, 1, n), 3) + 0.001
            real = k < depth
            last_px = (mid + sign * (1 + 2 * (depth - 1))) / 10
            cols[f"{side}_px_{k}"] = np.where(real, px, last_px)
            cols[f"{side}_sz_{k}"] = np.where(real, sz, 0.0)
    cols["ts_local"] = ts + lag
    # Keep a few books unchanged from the row before, as a deeper change leaves them.
    frame = pl.DataFrame(cols)
    same = rng.random(n) < 0.1
    same[0] = False
    idx = np.where(same, np.arange(n) - 1, np.arange(n))
    for _ in range(3):
        idx = idx[idx]
    book = frame.select(BOOK_COLUMNS)[idx]
    return frame.select("ts", "exchange", "symbol", "ts_local").hstack(book)


def changed(df: pl.DataFrame) -> pl.DataFrame:
    """Rows whose book differs from the row before: what one row per change gives."""
    diff = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(1)) for c in BOOK_COLUMNS])
    return df.filter(diff.fill_null(True))


@pytest.fixture(scope="module")
def hbt_validate() -> object:
    validation = pytest.importorskip("hftbacktest.data.validation")
    return validation.validate_event_order


def test_the_format_is_hftbacktests() -> None:
    hbt = pytest.importorskip("hftbacktest")
    types = pytest.importorskip("hftbacktest.types")
    assert hbt.event_dtype == EVENT_DTYPE
    assert EVENT_DTYPE.itemsize == 64
    for name, value in [
        ("DEPTH_EVENT", DEPTH_EVENT),
        ("TRADE_EVENT", TRADE_EVENT),
        ("DEPTH_CLEAR_EVENT", DEPTH_CLEAR_EVENT),
        ("DEPTH_SNAPSHOT_EVENT", DEPTH_SNAPSHOT_EVENT),
        ("EXCH_EVENT", EXCH_EVENT),
        ("LOCAL_EVENT", LOCAL_EVENT),
        ("BUY_EVENT", BUY_EVENT),
        ("SELL_EVENT", SELL_EVENT),
    ]:
        assert getattr(types, name) == value, name


@pytest.mark.parametrize("local_back", [False, True])
def test_export_is_valid_for_hftbacktest_and_round_trips(
    tmp_path: Path, hbt_validate: object, local_back: bool
) -> None:
    df = books(3_000, seed=int(local_back), local_back=local_back)
    out = tmp_path / "day.npz"
    report = export_hftbacktest(df, out)
    data = np.load(out)["data"]
    assert data.dtype == EVENT_DTYPE
    assert report.split is local_back
    hbt_validate(data)  # type: ignore[operator]
    first = data[0]
    assert first["ev"] & 0xFF == DEPTH_SNAPSHOT_EVENT
    assert int(first["exch_ts"]) == df["ts"][0]
    # Where the local time goes back each event is written twice (exchange-only, local-only).
    only_exch = (data["ev"] & (EXCH_EVENT | LOCAL_EVENT)) == EXCH_EVENT
    assert bool(only_exch.any()) is local_back
    back = read_hftbacktest(out, exchange="binance", symbol="BTC-USDT").collect()
    assert back.select(ROW).equals(changed(df).select(ROW))
    assert back.height < df.height  # the unchanged books carry no event
    assert np.array_equal(to_hftbacktest(df), data)


def test_hftbacktest_replays_the_export_to_the_same_book(tmp_path: Path) -> None:
    hbt = pytest.importorskip("hftbacktest")
    df = books(400, seed=3)
    out = tmp_path / "day.npz"
    export_hftbacktest(df, out)
    asset = (
        hbt.BacktestAsset()
        .data([str(out)])
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(0.1)
        .lot_size(0.001)
    )
    bt = hbt.HashMapMarketDepthBacktest([asset])
    last = df.row(-1, named=True)
    # The clock starts at the first event (the first exchange time); run past the last local.
    assert bt.elapse(int(last["ts_local"]) - int(df["ts"][0]) + 1) in (0, 1)
    depth = bt.depth(0)
    assert depth.best_bid == pytest.approx(last["bid_px_0"], abs=1e-9)
    assert depth.best_ask == pytest.approx(last["ask_px_0"], abs=1e-9)
    assert depth.best_bid_qty == last["bid_sz_0"]
    bt.close()


def test_real_binance_books_round_trip(
    tmp_path: Path, shared_data: Path, hbt_validate: object
) -> None:
    for path in sorted(shared_data.glob("*.parquet")):
        out = tmp_path / f"{path.stem}.npz"
        export_hftbacktest(path, out)
        hbt_validate(np.load(out)["data"])  # type: ignore[operator]
        df = pl.read_parquet(path)
        report = import_books("hftbacktest", out, tmp_path / "data", symbol=df["symbol"][0])
        back = pl.concat([pl.read_parquet(f) for f in report.files])  # a day each, in order
        assert back.select(ROW).equals(changed(df).select(ROW)), path.name


def events(rows: list[tuple[int, int, int, float, float]]) -> NDArray[np.void]:
    """(ev flags, exch_ts, local_ts, px, qty) as an event array."""
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, (ev, exch, local, px, qty) in enumerate(rows):
        out[i] = (ev, exch, local, px, qty, 0, 0, 0.0)
    return out


BOTH = EXCH_EVENT | LOCAL_EVENT
BID = BOTH | DEPTH_EVENT | BUY_EVENT
ASK = BOTH | DEPTH_EVENT | SELL_EVENT


def test_replay_groups_clears_and_skips_as_hftbacktest_does(tmp_path: Path) -> None:
    path = tmp_path / "e.npz"
    np.savez_compressed(
        path,
        data=events(
            [
                (BID, 10, 11, 100.0, 1.0),
                (BID, 10, 11, 99.0, 2.0),
                (BID, 10, 11, 98.0, 3.0),
                (ASK, 10, 11, 101.0, 1.0),
                (ASK, 10, 11, 102.0, 1.0),
                (BOTH | TRADE_EVENT | BUY_EVENT, 12, 13, 101.0, 0.5),  # no book change
                (LOCAL_EVENT | DEPTH_EVENT | BUY_EVENT, 14, 14, 97.0, 9.0),  # local copy only
                # Clear the bids from the best down to 99 (inclusive), then a new best.
                (BOTH | DEPTH_CLEAR_EVENT | BUY_EVENT, 20, 21, 99.0, 0.0),
                (BID, 20, 21, 99.5, 4.0),
                (ASK, 30, 31, 101.0, 0.0),
                (ASK, 30, 32, 101.5, 2.0),  # another local time: another update
                (BOTH | DEPTH_CLEAR_EVENT, 40, 41, np.nan, 0.0),  # both sides
                (BID, 40, 41, 90.0, 1.0),
                (ASK, 40, 41, 91.0, 1.0),
            ]
        ),
    )
    df = read_hftbacktest(path).collect()
    assert df["ts"].to_list() == [10, 20, 30, 30, 40]
    assert df["ts_local"].to_list() == [11, 21, 31, 32, 41]
    assert df["seq"].to_list() == [4, 8, 9, 10, 13]
    assert df.row(1, named=True)["bid_px_0"] == 99.5
    assert [df.row(1, named=True)[f"bid_px_{k}"] for k in range(3)] == [99.5, 98.0, 98.0]
    assert [df.row(3, named=True)[f"ask_px_{k}"] for k in range(3)] == [101.5, 102.0, 102.0]
    assert df.row(4, named=True)["bid_px_1"] == 90.0
    assert df["symbol"][0] == "e"


BAD_EVENTS = {
    "l3": ([(BOTH | 10 | BUY_EVENT, 1, 1, 100.0, 1.0)], "event 0, field `ev`: a market-by-order"),
    "sideless": ([(BOTH | DEPTH_EVENT, 1, 1, 100.0, 1.0)], "event 0, field `ev`: a depth event"),
    "unknown": ([(BOTH | 7 | BUY_EVENT, 1, 1, 1.0, 1.0)], "event 0, field `ev`: unknown event"),
    "nan_price": ([(BID, 1, 1, 1.0, 1.0), (BID, 2, 2, np.nan, 1.0)], "event 1, field `px`"),
    "negative_price": (
        [(BID, 1, 1, 1.0, 1.0), (ASK, 1, 1, -2.0, 1.0)],
        r"event 1, field `px`: -2.0 is not a valid depth price",
    ),
    "zero_price": ([(BID, 1, 1, 0.0, 1.0)], r"event 0, field `px`: 0.0 is not a valid depth"),
    "negative_qty": ([(BID, 1, 1, 1.0, -1.0)], "event 0, field `qty`"),
    "time_back": (
        [(BID, 5, 5, 1.0, 1.0), (ASK, 5, 5, 2.0, 1.0), (ASK, 4, 6, 2.0, 2.0)],
        r"event 2, field `exch_ts`: exch_ts goes back in time \(4 after 5\)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_bad_events_are_named(tmp_path: Path, case: str) -> None:
    rows, message = BAD_EVENTS[case]
    path = tmp_path / "bad.npz"
    np.savez(path, data=events(rows))
    out = tmp_path / "out"
    with pytest.raises(SourceError, match=message):
        import_books("hftbacktest", path, out)
    assert not out.exists()


def test_bad_files_are_named(tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, data=np.zeros(3, dtype=[("ev", "u8"), ("ts", "i8")]))
    with pytest.raises(SourceError, match=r"other\.npz: `data` has dtype .* not hftbacktest's"):
        import_books("hftbacktest", other, tmp_path / "out")
    nameless = tmp_path / "nameless.npz"
    np.savez(nameless, events=events([(BID, 1, 1, 1.0, 1.0)]))
    with pytest.raises(SourceError, match=r"no array named `data` in the npz \(it has: events\)"):
        read_hftbacktest(nameless)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(SourceError, match="not an npz file"):
        read_hftbacktest(text)
    whole = tmp_path / "whole.npz"
    np.savez(whole, data=events([(BID, i, i, 100.0 + i % 7, 1.0) for i in range(20_000)]))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(SourceError, match=r"cut\.npz: cannot be read as an npz|not an npz"):
        read_hftbacktest(cut).collect()


def test_a_truncated_member_is_named(tmp_path: Path) -> None:
    # A zip whose member is shorter than its .npy header says: the file ends early.
    whole = events([(BID, i, i, 100.0 + i % 7, 1.0) for i in range(1_000)])
    short = tmp_path / "short.npz"
    with zipfile.ZipFile(short, "w") as zf, zf.open("data.npy", "w") as member:
        np.lib.format.write_array_header_1_0(
            member,
            {
                "descr": np.lib.format.dtype_to_descr(EVENT_DTYPE),
                "fortran_order": False,
                "shape": (2_000,),
            },
        )
        member.write(whole.tobytes())
    with pytest.raises(SourceError, match="event 1,000: the file ends after 1,000 of its 2,000"):
        read_hftbacktest(short).collect()


def test_export_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    df = books(50)
    out = tmp_path / "x.npz"
    back = df.with_columns(ts=pl.when(pl.int_range(50) == 20).then(0).otherwise(pl.col("ts")))
    with pytest.raises(SourceError, match="books, row 20, field `ts`: ts goes back"):
        export_hftbacktest(back, out)
    nan = df.with_columns(
        ask_px_0=pl.when(pl.int_range(50) == 7).then(float("nan")).otherwise(pl.col("ask_px_0"))
    )
    with pytest.raises(SourceError, match="row 7, field `ask_px_0`: a level with a size needs"):
        export_hftbacktest(nan, out)
    two = pl.concat([df, df.with_columns(symbol=pl.lit("ETH-USDT"), ts=pl.col("ts") + 10**12)])
    with pytest.raises(SourceError, match=r"row 50: a second feed \('binance', 'ETH-USDT'\)"):
        export_hftbacktest(two, out)
    with pytest.raises(SourceError, match="field `bid_sz_3`: missing column"):
        export_hftbacktest(df.drop("bid_sz_3"), out)
    with pytest.raises(ValueError, match=r"must name an \.npz file"):
        export_hftbacktest(df, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []
