"""lobflow's taker backtest against hftbacktest running the same strategy on the same books.

Paired rounds: each lobflow timing comes right after an hftbacktest run on the same books, so
the two meet the same state of the machine (the other tool's run has just gone through the
caches), and each ratio is taken within a round. Both get their input ready beforehand in
their own form: hftbacktest its event array (`lobflow.peers.prepare`, which also compiles the
numba strategy once: that time is recorded apart as `hbt_compile_s`), lobflow a polars
frame, or the frame read and checked into `backtest.Books`. The figures land in
`extra_info`:

- `lobflow_snapshots_per_s`, `hbt_snapshots_per_s` and `speedup` (median over rounds of the
  within-round ratio): `backtest.run` on the frame, end to end (the frame's columns taken and
  every row checked, the simulation and its metrics), against hftbacktest building its
  backtest over the events and running the strategy;
- `books_snapshots_per_s` and `books_speedup`: `backtest.run` on `Books` (the simulation,
  its metrics and the signals' check; the books were checked once, before), as a sweep over
  the same books runs;
- `loops_speedup`: lobflow's Rust call alone (`_core.backtest` over the engine's columns:
  checks, simulation, metrics) against hftbacktest's event loop running the strategy;
- `frames_s`: the path replayed from the fills and the fills and per-day frames built, which
  `BacktestResult` does when they are first read (median of fresh results, one after
  another). In no figure above: hftbacktest's figure has no per-snapshot path or frame
  either;
- the agreement of the run (fills, volume, prices, position, PnL), which must be exact here.

Books: the real Binance day in ../shared/data when present, else the bundled sample; the
largest real file there (44 772 snapshots); and a generated feed of 10^6 snapshots
(benches/conftest.py), where fixed costs no longer count. The order size is half the smallest
best-level size of the books, so that no order (a flip trades twice the size) walks past a
best level, where the two models differ (docs/peers.md).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

from benches.conftest import generated_feed
from lobflow import backtest
from lobflow._feed import engine_columns
from lobflow.backtest._run import simulate

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray


pytest.importorskip("hftbacktest")
from lobflow.peers import agreement, prepare

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DAY = DATA / "binance_usdm_BTCUSDT_20240808.parquet"
#: The largest real file (44 772 snapshots over 10.8 minutes).
LARGEST = DATA / "binance_cm_BTCUSD_PERP_20240808-09.parquet"
SAMPLE = REPO / "python" / "lobflow" / "data" / "sample.parquet"
ROUNDS = 7


@dataclass(frozen=True)
class Case:
    """Books, signals and the execution assumptions both tools get."""

    name: str
    books: pl.DataFrame
    signals: NDArray[np.int8]
    config: backtest.BacktestConfig


def persistent(n: int) -> NDArray[np.int8]:
    """Signals that hold for ~50 snapshots, as a thresholded model's do (bench_backtest's)."""
    rng = np.random.default_rng(1)
    state = np.cumsum(rng.random(n) < 0.02) % 3
    return np.where(state == 0, 0, np.where(state == 1, 1, -1)).astype(np.int8)


def _case(name: str) -> Case:
    if name in ("day", "largest"):
        path = DAY if name == "day" else LARGEST
        if not path.exists():
            if name == "largest":
                pytest.skip("../shared/data is absent")
            path = SAMPLE
        books = pl.read_parquet(path)
        name = path.stem
        # Half the smallest best-level size on these books: no order, a flip's twice the
        # size included, is larger than a best level.
        size = float(books.select(pl.min_horizontal("bid_sz_0", "ask_sz_0").min()).item()) / 2
    else:
        books = generated_feed(1_000_000, seed=2)
        size = 0.0001
    cfg = backtest.BacktestConfig(
        order_size=size,
        max_position=size,
        md_latency_ns=5_000_000,
        order_latency_ns=10_000_000,
        taker_fee_bps=1.0,
    )
    return Case(name, books, persistent(books.height), cfg)


@pytest.fixture(scope="module", params=["day", "largest", "generated"])
def case(request: pytest.FixtureRequest) -> Case:
    return _case(str(request.param))


@pytest.mark.benchmark(group="peers")
def test_taker_side_by_side(benchmark: Any, case: Case) -> None:
    books, signals, cfg = case.books, case.signals, case.config
    ready = prepare(books, signals, cfg)
    cols = engine_columns(books)
    checked = backtest.Books(books)
    peers: dict[str, list[Any]] = {"loop": [], "books": [], "frame": []}
    mine: dict[str, list[float]] = {"loop": [], "books": []}

    def timed(f: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        # Each lobflow timing right after an hftbacktest run: the frame's is the benchmark's.
        peers["loop"].append(ready.run())
        mine["loop"].append(timed(lambda: simulate(cols, signals, cfg)))
        peers["books"].append(ready.run())
        mine["books"].append(timed(lambda: backtest.run(checked, signals, cfg)))
        peers["frame"].append(ready.run())
        return (books, signals, cfg), {}

    result = benchmark.pedantic(backtest.run, setup=setup, rounds=ROUNDS, warmup_rounds=1)
    frame_s = benchmark.stats.stats.data
    theirs = {k: [p.elapsed_s for p in v[-ROUNDS:]] for k, v in peers.items()}
    their_loops = [p.loop_s for p in peers["loop"][-ROUNDS:]]
    loops, on_books = mine["loop"][-ROUNDS:], mine["books"][-ROUNDS:]
    rows = books.height

    def ratio(a: list[float], b: list[float]) -> float:
        return statistics.median(x / y for x, y in zip(a, b, strict=True))

    def read_frames(r: backtest.BacktestResult) -> float:
        return timed(lambda: (r.fills, r.per_day))

    frames_s = statistics.median(
        read_frames(backtest.run(checked, signals, cfg)) for _ in range(ROUNDS)
    )
    a = agreement(result, peers["frame"][-1], books)
    info = benchmark.extra_info
    info["books"] = case.name
    info["snapshots"] = rows
    info["hbt_events"] = peers["frame"][-1].events
    info["order_size"] = cfg.order_size
    info["lobflow_snapshots_per_s"] = rows / statistics.median(frame_s)
    info["hbt_snapshots_per_s"] = rows / statistics.median(theirs["frame"])
    info["speedup"] = ratio(theirs["frame"], frame_s)
    info["books_snapshots_per_s"] = rows / statistics.median(on_books)
    info["books_speedup"] = ratio(theirs["books"], on_books)
    info["lobflow_loop_snapshots_per_s"] = rows / statistics.median(loops)
    info["hbt_loop_snapshots_per_s"] = rows / statistics.median(their_loops)
    info["loops_speedup"] = ratio(their_loops, loops)
    info["frames_s"] = frames_s
    info["hbt_compile_s"] = peers["frame"][-1].compile_s
    info["fills"] = [a.lobflow.fills, a.peer.fills]
    info["pnl"] = [a.lobflow.pnl, a.peer.pnl]
    info["differences"] = a.differences()
    # The comparison is only worth its speed figure if both ran the same strategy, on the
    # frame and on the checked books alike.
    assert a.differences() == []
    assert (
        agreement(backtest.run(checked, signals, cfg), peers["books"][-1], books).differences()
        == []
    )
