"""`backtest.run` against the plain computation of its outputs from the simulator's.

`backtest.run` takes its metrics from the simulator (`backtest_metrics.rs`), computed in the
same call from the path and fills, and builds its fills and per-day frames when first read.
The reference here computes every output the plain way from the same simulated path: a
polars ``group_by`` per day, a Python loop over the fills, and every sum by `math.fsum`
(exactly rounded). The path, fills, per-day rows and every metric that is not a sum must
match to the bit (floats by their bit patterns, so -0.0 against 0.0 or one NaN against
another payload would fail; ints and dtypes exactly). The sums, compensated in Rust, must
equal the exact ones to 1e-12 of their terms' magnitude. Feeds: generated ones (several
days, no fills, one row, none, other dtypes and input forms, both modes, weights through
the engine), the same through `backtest.Books`, and the real Binance books when
../shared/data is present.
"""

from __future__ import annotations

import math
import struct
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow import _core, backtest
from lobflow._schema import BOOK_COLUMNS
from tests.books import make_books

if TYPE_CHECKING:
    from numpy.typing import NDArray

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CORES = (0, 1)
NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
#: The metrics that are sums (or made from sums): equal to the exact value to this share of
#: the magnitude of their terms.
SUMS = {"pnl_bps", "edge", "slippage", "sharpe", "turnover", "fill_ratio"}
SUM_TOLERANCE = 1e-12


def persistent(n: int, seed: int = 1) -> NDArray[np.int8]:
    """Signals that hold for ~50 snapshots, as a thresholded model's do."""
    rng = np.random.default_rng(seed)
    state = np.cumsum(rng.random(n) < 0.02) % 3
    return np.where(state == 0, 0, np.where(state == 1, 1, -1)).astype(np.int8)


def _plain_columns(df: pl.DataFrame) -> tuple[NDArray[np.int64], list[NDArray[np.float64]]]:
    ts = df["ts"]
    if isinstance(ts.dtype, pl.Datetime):
        ts = ts.dt.cast_time_unit("ns")
    cols = [df[c].cast(pl.Float64).fill_null(float("nan")).to_numpy() for c in BOOK_COLUMNS]
    return ts.cast(pl.Int64).to_numpy(), [np.ascontiguousarray(c) for c in cols]


def _sharpe(ts: NDArray[np.int64], equity: NDArray[np.float64]) -> tuple[float, float]:
    """(Sharpe, the magnitude of its changes) on the whole-nanosecond grid."""
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return float("nan"), 0.0
    span = int(ts[-1] - ts[0])
    step = 10**9 if span < 86_400 * 10**9 else 60 * 10**9
    grid = int(ts[0]) + step * np.arange(span // step + 1 + (span % step != 0), dtype=np.int64)
    r = np.diff(equity[np.searchsorted(ts, grid, side="right") - 1])
    mean = math.fsum(r) / len(r)
    sd = math.sqrt(math.fsum((r - mean) * (r - mean)) / len(r))
    sharpe = mean / sd * math.sqrt(NS_PER_YEAR / step) if sd > 0 else float("nan")
    return sharpe, math.fsum(np.abs(r)) / len(r) / sd * math.sqrt(NS_PER_YEAR / step) if sd else 0.0


def _path(
    bids: NDArray[np.float64],
    asks: NDArray[np.float64],
    rows: NDArray[np.int64],
    qty: NDArray[np.float64],
    price: NDArray[np.float64],
    fee: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(position, equity, fees) after each row: each a running sum over the fills in order
    (`cumsum` adds one by one, as the simulator does), carried to the rows after them."""
    last = np.searchsorted(rows, np.arange(len(bids)), side="right") - 1
    held = last >= 0

    def carried(running: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(len(bids))
        out[held] = running[last[held]]
        return out

    position = carried(np.cumsum(qty))
    cash = carried(np.cumsum(-(qty * price + fee)))
    return position, cash + position * (0.5 * (bids + asks)), carried(np.cumsum(fee))


def _round_trips(
    ts: NDArray[np.int64], fills: pl.DataFrame, equity: NDArray[np.float64]
) -> tuple[float, float]:
    pos, open_row = 0.0, -1
    wins, trips, held = 0, 0, 0.0
    for row, qty in zip(fills["row"].to_list(), fills["qty"].to_list(), strict=True):
        before = pos
        pos += qty
        if before == 0.0 and pos != 0.0:
            open_row = row
        elif before != 0.0 and (pos == 0.0 or np.sign(pos) != np.sign(before)):
            trips += 1
            start_eq = equity[open_row - 1] if open_row > 0 else 0.0
            wins += equity[row] > start_eq
            held += ts[row] - ts[open_row]
            open_row = row if pos != 0.0 else -1
    if trips == 0:
        return float("nan"), float("nan")
    return float(wins / trips), float(held / trips)


def reference(
    df: pl.DataFrame, signals: NDArray[np.int8], cfg: backtest.BacktestConfig
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame, dict[str, float | int], dict[str, float]]:
    """(path, fills, per_day, metrics, scale of each sum) of one run, computed the plain way."""
    ts, cols = _plain_columns(df)
    out = _core.backtest(
        ts,
        cols,
        signals,
        cfg,
    )
    rows = out.fill_row
    position, equity, fees = _path(
        cols[0], cols[10], rows, out.fill_qty, out.fill_price, out.fill_fee
    )
    fills = pl.DataFrame(
        {
            "row": rows,
            "ts": ts[rows],
            "decision_row": out.fill_decision_row,
            "qty": out.fill_qty,
            "price": out.fill_price,
            "fee": out.fill_fee,
            "slippage": out.fill_slippage,
        }
    )
    per_day = (
        pl.DataFrame({"ts": ts, "equity": equity})
        .with_columns(day=pl.col("ts").cast(pl.Datetime("ns")).dt.date())
        .group_by("day", maintain_order=True)
        .agg(pl.col("equity").last())
        .with_columns(pnl=pl.col("equity").diff().fill_null(pl.col("equity")))
    )
    n = len(ts)
    flips = np.sign(position[rows]) * np.sign(position[rows] - out.fill_qty) < 0
    hit, hold = _round_trips(ts, fills, equity)
    mids = (cols[0] + cols[10]) / 2
    mid = math.fsum(mids) / n if n else 0.0
    notional = cfg.order_size * (mid if mid > 0 else 0.0)
    pnl = float(equity[-1]) if n else 0.0
    gross = float(equity[-1] + fees[-1]) if n else 0.0
    slip = fills["slippage"].to_numpy()
    slippage = math.fsum(slip)
    qty, price = fills["qty"].to_numpy(), fills["price"].to_numpy()
    filled = math.fsum(np.abs(qty))
    sharpe, sharpe_scale = _sharpe(ts, equity)
    metrics: dict[str, float | int] = {
        "pnl": pnl,
        "pnl_bps": pnl / notional * 1e4 if notional > 0 else float("nan"),
        "gross_pnl": gross,
        "edge": gross + slippage,
        "fees": float(fees[-1]) if n else 0.0,
        "slippage": slippage,
        "sharpe": sharpe,
        "max_drawdown": float((np.maximum.accumulate(equity) - equity).max()) if n else 0.0,
        "trades": int(fills.height + int(flips.sum())),
        "turnover": math.fsum(np.abs(qty) * price),
        "hit_rate": hit,
        "avg_holding_s": hold / 1e9,
        "fill_ratio": filled / out.requested_qty if out.requested_qty > 0 else float("nan"),
        "unfilled_qty": out.unfilled_qty,
        "elapsed_s": float((ts[-1] - ts[0]) / 1e9) if n else 0.0,
        "snapshots": n,
    }
    # The magnitude each sum's rounding is measured against.
    scale: dict[str, float] = {
        "pnl_bps": abs(pnl / notional * 1e4) if notional > 0 else 0.0,
        "edge": abs(gross) + math.fsum(np.abs(slip)),
        "slippage": math.fsum(np.abs(slip)),
        "sharpe": sharpe_scale,
        "turnover": math.fsum(np.abs(qty) * price),
        "fill_ratio": 1.0,
    }
    path = {"ts": ts, "position": position, "equity": equity, "fees": fees}
    return path, fills, per_day, metrics, scale


def _same_bits(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _same_frame(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.schema == b.schema
    for x, y in zip(a.get_columns(), b.get_columns(), strict=True):
        assert _same_array(x.to_numpy(), y.to_numpy()), x.name


def check(
    books: Any,
    arg: NDArray[Any] | lobflow.Weights,
    cfg: backtest.BacktestConfig,
    df: pl.DataFrame | None = None,
) -> backtest.BacktestResult:
    """`backtest.run(books, arg, cfg)` against the reference on the same signals."""
    res = backtest.run(books, arg, cfg)
    frame = books if df is None else df
    signals = res.signals
    if isinstance(arg, np.ndarray):
        assert _same_array(signals, np.asarray(arg).astype(np.int8))
    path, fills, per_day, metrics, scale = reference(frame, signals, cfg)
    for name, want in path.items():
        assert _same_array(getattr(res, name), want), name
    _same_frame(res.fills, fills)
    _same_frame(res.per_day, per_day)
    got = res.metrics.as_dict()
    assert [f.name for f in fields(res.metrics)] == list(metrics)
    for name, want in metrics.items():
        if name in SUMS and not math.isnan(want):
            tol = SUM_TOLERANCE * scale[name]
            assert abs(got[name] - want) <= tol, (name, got[name], want, tol)
        else:
            assert _same_bits(got[name], want), (name, got[name], want)
    # The same books read and checked once give the same run, to the bit.
    again = backtest.run(backtest.Books(books), arg, cfg)
    for name in [*path, "signals"]:
        assert _same_array(getattr(again, name), getattr(res, name)), name
    _same_frame(again.fills, res.fills)
    _same_frame(again.per_day, res.per_day)
    assert all(
        _same_bits(a, b)
        for a, b in zip(again.metrics.as_dict().values(), got.values(), strict=True)
    )
    return res


def cfg(**kw: Any) -> backtest.BacktestConfig:
    return backtest.BacktestConfig(**{"order_size": 0.5, "max_position": 1.0, **kw})


def days(n: int, step_ns: int, start_ns: int = 1_700_000_000_000_000_000) -> pl.DataFrame:
    """A generated feed whose snapshots are `step_ns` apart (several days at large steps)."""
    books = make_books(n, seed=5)
    return books.with_columns(ts=pl.Series(start_ns + np.arange(n, dtype=np.int64) * step_ns))


@pytest.mark.parametrize(
    "config",
    [
        cfg(),
        cfg(mode="passive", maker_fee_bps=-0.2, on_zero="flatten"),
        cfg(on_zero="flatten", min_hold_ns=50_000_000, md_latency_ns=0, order_latency_ns=0),
        cfg(order_size=4.0, max_position=8.0, taker_fee_bps=0.0),
    ],
)
def test_generated_feed(config: backtest.BacktestConfig) -> None:
    books = make_books(5_000, seed=3)
    res = check(books, persistent(books.height), config)
    assert res.fills.height > 10


def test_several_days_each_get_a_row() -> None:
    # 90 s apart, from 21:20 UTC: five calendar days, the first and last partial.
    books = days(4_000, 90_000_000_000, start_ns=1_700_000_000_000_000_000 - 3 * 3_600 * 10**9)
    res = check(books, persistent(books.height, seed=2), cfg())
    assert res.per_day.height == 5


def test_a_day_at_the_epoch_and_a_long_run_sharpe_grid() -> None:
    # From ts 0 over two days (Sharpe's grid is 1 min past a day).
    res = check(days(3_000, 60_000_000_000, start_ns=0), persistent(3_000), cfg())
    assert res.per_day.height == 3


def test_no_fills_one_row_and_no_rows() -> None:
    books = make_books(500, seed=4)
    res = check(books, np.zeros(books.height, np.int8), cfg())
    assert res.fills.height == 0
    check(books.head(1), np.ones(1, np.int8), cfg())
    check(books.head(0), np.zeros(0, np.int8), cfg())


def test_float_and_wide_signals() -> None:
    books = make_books(2_000, seed=6)
    s = persistent(books.height, seed=3)
    check(books, s.astype(np.float64), cfg())
    check(books, s.astype(np.int64), cfg())


def test_other_dtypes_and_input_forms(tmp_path: Path) -> None:
    books = make_books(3_000, seed=7)
    s = persistent(books.height, seed=4)
    odd = books.with_columns(
        pl.col("ts").cast(pl.Datetime("ns")).dt.cast_time_unit("us"),
        pl.col("bid_sz_0", "ask_sz_3").cast(pl.Float32),
        pl.col("bid_sz_1").round(0).cast(pl.Int32),
    )
    check(odd, s, cfg())
    # The contract prices a float32 column rounds (a warning); the simulator reads them widened.
    narrow = books.with_columns(pl.col("bid_px_0", "ask_px_0").cast(pl.Float32))
    with pytest.warns(lobflow.LobflowWarning, match="not float64"):
        check(narrow, s, cfg())
    path = tmp_path / "books.parquet"
    books.write_parquet(path)
    check(path, s, cfg(), df=books)
    check(books.lazy(), s, cfg(), df=books)
    plain = books.drop("exchange", "symbol")
    check(plain.to_numpy(structured=True), s, cfg(), df=plain)
    # A frame of several chunks: its columns are copied whole for the simulator.
    parts = [books.slice(0, 1_234), books.slice(1_234, 999), books.slice(2_233)]
    chunked = pl.concat(parts, rechunk=False)
    assert chunked["bid_px_0"].n_chunks() == 3
    check(chunked, s, cfg())


@pytest.mark.parametrize("rows", [1, 1_024, 4_000])
def test_signals_from_weights(rows: int) -> None:
    # The backtest sizes the engine's ring to the feed: the scores and signals must be those
    # of an engine on the default ring.
    books = make_books(rows, seed=8)
    w = lobflow.Weights((1000, 2000, 5000), 0.2, 0.0, (0.0,) * 4 + (1.0,) + (0.0,) * 13)
    res = check(books, w, cfg(cores=CORES))
    assert res.engine is not None
    assert res.scores is not None
    alone = lobflow.Engine(w, cores=CORES).run(books)
    assert _same_array(res.scores, alone.scores)
    assert _same_array(res.signals, alone.signals)
    assert res.fills.height > 0 or rows == 1


REAL = sorted(DATA.glob("*.parquet")) if DATA.is_dir() else []


@pytest.mark.skipif(not REAL, reason="../shared/data is absent")
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_real_books(path: Path) -> None:
    books = pl.read_parquet(path)
    s = persistent(books.height)
    # As benches/bench_peers.py sizes it (no order walks past a best level), and a size that
    # walks the book and leaves some unfilled.
    size = float(books.select(pl.min_horizontal("bid_sz_0", "ask_sz_0").min()).item()) / 2
    check(books, s, cfg(order_size=size, max_position=size))
    res = check(books, s, cfg(order_size=5.0, max_position=10.0, on_zero="flatten"))
    assert res.metrics.trades > 0


@pytest.mark.parametrize(
    ("exchange", "symbol"),
    [
        (["a"] * 9 + ["b"], ["x"] * 10),
        (["a"] * 10, ["x"] * 5 + [None] * 5),
        ([None] * 10, ["x"] * 9 + ["y"]),
    ],
)
@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical])
def test_a_second_feed_anywhere_is_refused(
    exchange: list[str | None], symbol: list[str | None], dtype: pl.DataType
) -> None:
    # The check compares each key with its first value; the refusal lists what `unique` finds.
    books = make_books(10, seed=9).with_columns(
        exchange=pl.Series(exchange, dtype=pl.String).cast(dtype),
        symbol=pl.Series(symbol, dtype=pl.String).cast(dtype),
    )
    with pytest.raises(ValueError, match=r"the feed holds 2 feeds"):
        backtest.run(books, np.zeros(10, np.int8), cfg())


def test_one_feed_of_nulls_or_categoricals_runs() -> None:
    books = make_books(10, seed=9)
    check(
        books.with_columns(pl.col("exchange", "symbol").cast(pl.Categorical)), persistent(10), cfg()
    )
    check(books.with_columns(exchange=pl.lit(None, pl.String)), persistent(10), cfg())
