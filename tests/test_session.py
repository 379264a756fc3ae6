"""A live session against Engine.run, feed by feed, bit for bit: generated feeds with bad books
interleaved, and the real Binance books; its signals' layout, stats and threads."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

import lobflow
from lobflow import _core
from lobflow._schema import BOOK_COLUMNS
from tests.books import make_books

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

CORES = (0, 1)
DECIMALS = {"btc": 2, "tiny": 8, "eth": 2}


def model(threshold: float = 0.2) -> lobflow.Weights:
    rng = np.random.default_rng(7)
    coef = rng.normal(size=18) * 0.05
    coef[[0, 3]] = 0.0  # price levels would swamp the score
    return lobflow.Weights((10, 20, 50), threshold, 0.01, tuple(float(c) for c in coef))


def faulty_feed(n: int, seed: int, scale: str, symbol: str) -> pl.DataFrame:
    """`make_books` with prices as the f64s of their decimals (as a parser gives them) and
    about one book in 20 broken: crossed, locked, NaN, negative size, time going back."""
    df = make_books(n, seed=seed, price_scale=scale, symbol=symbol)  # type: ignore[arg-type]
    px = [c for c in BOOK_COLUMNS if "_px_" in c]
    df = df.with_columns(pl.col(px).round(DECIMALS[scale]))
    rng = np.random.default_rng(seed + 100)
    cols = {c: df[c].to_numpy().copy() for c in ("ts", *BOOK_COLUMNS)}
    for row in np.flatnonzero(rng.random(n) < 0.05):
        kind = rng.integers(6)
        if kind == 0:
            cols["ask_px_0"][row] = cols["bid_px_0"][row]
        elif kind == 1:
            cols["ask_px_0"][row] = cols["bid_px_0"][row] - 0.01
        elif kind == 2:
            cols["bid_px_0"][row] = np.nan
        elif kind == 3:
            cols["bid_sz_3"][row] = -1.0
        elif kind == 4:
            cols["ts"][row] -= 2_000_000_000
        else:
            cols["ask_sz_0"][row] = np.inf
    return df.with_columns(*(pl.Series(c, v) for c, v in cols.items()))


def interleave(
    feeds: list[pl.DataFrame], seed: int
) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """A random push order that keeps each feed's own order: (feed id, row) per push."""
    order = np.concatenate([np.full(f.height, i, dtype=np.uint32) for i, f in enumerate(feeds)])
    np.random.default_rng(seed).shuffle(order)
    rows = np.empty(len(order), dtype=np.int64)
    for i in range(len(feeds)):
        mask = order == i
        rows[mask] = np.arange(mask.sum())
    return order, rows


def books_of(df: pl.DataFrame) -> NDArray[np.float64]:
    return df.select(BOOK_COLUMNS).to_numpy().astype(np.float64)


def assert_parity(
    engine: lobflow.Engine, feeds: list[pl.DataFrame], signals: NDArray[np.void]
) -> None:
    """Each feed's signals, in row order, equal `Engine.run` over its books."""
    for i, df in enumerate(feeds):
        mine = signals[signals["feed"] == i]
        np.testing.assert_array_equal(mine["row"], np.arange(df.height))
        want = engine.run(df, on_bad="skip")
        # The rule under which parity holds: the replay's tick carried every level-0 price
        # and size exactly (docs/session.md).
        assert want.max_price_error == 0.0, i
        assert want.max_size_error == 0.0, i
        np.testing.assert_array_equal(mine["ts"], df["ts"].to_numpy())
        # Bit for bit, NaN for NaN.
        np.testing.assert_array_equal(mine["score"].view(np.uint64), want.scores.view(np.uint64))
        np.testing.assert_array_equal(mine["signal"], want.signals)
        np.testing.assert_array_equal(mine["skipped"], np.isnan(want.scores))


def test_generated_feeds_with_bad_books_match_engine_run_bit_for_bit() -> None:
    feeds = [
        faulty_feed(3000, 1, "btc", "BTC-USDT"),
        faulty_feed(2000, 2, "tiny", "PEPE-USDT"),
        faulty_feed(2500, 3, "eth", "ETH-USDT"),
    ]
    engine = lobflow.Engine(model(), cores=CORES)
    order, rows = interleave(feeds, seed=5)
    books = [books_of(f) for f in feeds]
    stamps = [f["ts"].to_numpy() for f in feeds]
    got = []
    with engine.session([("test", f["symbol"][0]) for f in feeds], capacity=256) as s:
        # The first half book by book through push (lists and tuples), the rest in batches.
        half = len(order) // 2
        for k in range(half):
            fid, row = int(order[k]), int(rows[k])
            b = books[fid][row]
            levels = (b[0:5].tolist(), tuple(b[5:10]), b[10:15].tolist(), tuple(b[15:20]))
            s.push(fid, int(stamps[fid][row]), *levels, recv_ns=s.now_ns())
            if k % 97 == 0:
                got.append(s.poll())
        for start in range(half, len(order), 1000):
            ids, at = order[start : start + 1000], rows[start : start + 1000]
            pairs = list(zip(ids.tolist(), at.tolist(), strict=True))
            ts = np.array([stamps[i][x] for i, x in pairs], dtype=np.int64)
            bk = np.stack([books[i][x] for i, x in pairs])
            s.push_many(ids, ts, bk)
            got.append(s.poll())
    got.append(s.poll())
    stats = s.stats()
    signals = np.concatenate(got)
    assert len(signals) == len(order)
    assert_parity(engine, feeds, signals)
    assert stats.closed
    assert stats.pending == 0
    for f, fs in zip(feeds, stats.feeds, strict=True):
        bad = int(np.isnan(engine.run(f, on_bad="skip").scores).sum())
        assert fs.pushed == f.height
        assert fs.skipped == bad > 20
        assert sum(count for _, _, count in fs.skip_reasons) == bad
    # Receive times were given for the first half only.
    with_recv = signals["recv_ns"] >= 0
    assert with_recv.sum() == half
    assert (signals["recv_ns"][with_recv] <= signals["push_ns"][with_recv]).all()
    assert (signals["push_ns"] <= signals["emit_ns"]).all()


def test_the_real_binance_books_match_engine_run_bit_for_bit(shared_data: Path) -> None:
    paths = sorted(shared_data.glob("*.parquet"))
    feeds = [pl.read_parquet(p) for p in paths]
    assert len(feeds) >= 2
    engine = lobflow.Engine(model(threshold=0.05), cores=CORES)
    # Interleaved by receive time, as a collector would see them arrive.
    ids = np.concatenate([np.full(f.height, i, dtype=np.uint32) for i, f in enumerate(feeds)])
    local = np.concatenate([f["ts_local"].to_numpy() for f in feeds])
    order = np.argsort(local, kind="stable")
    ts = np.concatenate([f["ts"].to_numpy() for f in feeds])[order]
    books = np.concatenate([books_of(f) for f in feeds])[order]
    ids = ids[order]
    got = []
    with engine.session(
        # Several days of one market: one feed each (their times do not run on).
        [(f["exchange"][0], p.stem) for f, p in zip(feeds, paths, strict=True)],
        capacity=1024,
        out_capacity=1024,
    ) as s:
        for start in range(0, len(ids), 500):
            s.push_many(
                ids[start : start + 500], ts[start : start + 500], books[start : start + 500]
            )
            got.append(s.poll())
    got.append(s.poll())
    signals = np.concatenate(got)
    assert len(signals) == len(ids)
    assert_parity(engine, feeds, signals)
    assert (signals["signal"] != 0).any()
    assert not signals["skipped"].any()


def test_signal_dtype_mirrors_the_engine_record() -> None:
    assert lobflow.SIGNAL_DTYPE.itemsize == _core.SIGNAL_SIZE == 56
    fields = lobflow.SIGNAL_DTYPE.fields
    assert fields is not None
    offsets = {name: spec[1] for name, spec in fields.items()}
    assert offsets == dict(_core.SIGNAL_FIELD_OFFSETS)


def test_stats_are_typed_and_count_what_happened() -> None:
    engine = lobflow.Engine(model(), cores=CORES)
    book = (
        [100.0, 99.99, 99.98, 99.97, 99.96],
        [1.0] * 5,
        [100.01, 100.02, 100.03, 100.04, 100.05],
    )
    with engine.session([("sim", "A")]) as s:
        b = s.add_feed("sim", "B")
        assert s.feeds == (("sim", "A"), ("sim", "B"))
        assert s.feed_id("sim", "B") == b
        s.push(0, 1_000, *book, [2.0] * 5, recv_ns=s.now_ns())
        s.push(0, 500, *book, [2.0] * 5)  # back in time: skipped
        s.push(b, 500, *book, [2.0] * 5)  # another feed's clock: fine
        crossed = ([100.02, *book[0][1:]], *book[1:])
        s.push(b, 600, *crossed, [2.0] * 5)
        # poll never waits: ask until the worker has scored the first book.
        first = s.poll(max_items=1)
        while not len(first):
            first = s.poll(max_items=1)
        assert len(first) == 1
        live = s.stats()
        assert not live.closed
        assert live.pushed == 4
        assert live.polled == 1
        assert live.pending == 3
    rest = s.poll()
    assert len(rest) == 3
    stats = s.stats()
    a_stats, b_stats = stats.feeds
    assert (a_stats.pushed, a_stats.skipped, a_stats.polled) == (2, 1, 2)
    assert a_stats.skip_reasons[0][0] == "ts"
    assert a_stats.last_ts == 1_000
    assert a_stats.last_score == float(first["score"][0])
    assert b_stats.skip_reasons[0][0] == "ask_px_0"
    assert b_stats.last_bad is not None
    assert "feed (sim, B) row 1" in b_stats.last_bad
    assert stats.push_to_emit.count == 4
    assert stats.recv_to_emit.count == 1
    assert stats.pinning.used == CORES
    assert stats.pinning.pinned[0] is False, "the caller is pinned only when asked"
    assert "4 books (2 skipped)" in stats.summary()
    again = s.close()
    assert again.closed
    assert again.pushed == 4


def test_one_thread_polls_while_another_pushes() -> None:
    engine = lobflow.Engine(model(), cores=CORES)
    df = faulty_feed(20_000, 9, "btc", "BTC-USDT")
    books, ts = books_of(df), df["ts"].to_numpy()
    got: list[NDArray[np.void]] = []
    with engine.session([("test", "BTC-USDT")], capacity=64, out_capacity=64) as s:
        done = threading.Event()

        def poller() -> None:
            while not done.is_set() or s.stats().pending:
                got.append(s.poll())

        t = threading.Thread(target=poller)
        t.start()
        for start in range(0, len(ts), 256):
            n = min(256, len(ts) - start)
            s.push_many(np.zeros(n, np.uint32), ts[start : start + n], books[start : start + n])
        done.set()
        t.join(timeout=60)
        assert not t.is_alive()
    signals = np.concatenate([*got, s.poll()])
    assert_parity(engine, [df], signals)


def test_the_caller_is_pinned_only_when_asked() -> None:
    """In a thread of its own, so that pinning does not outlive the test in pytest's."""
    engine = lobflow.Engine(model(), cores=CORES)
    seen: list[tuple[bool, bool]] = []

    def run() -> None:
        with engine.session([("sim", "A")], pin_caller=True) as s:
            seen.append(s.stats().pinning.pinned)

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=60)
    assert seen == [(True, True)]
