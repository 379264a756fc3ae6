"""lobflow's taker backtest against hftbacktest running the same strategy on the same books.

Paired rounds: each round times one hftbacktest run and then one `lobflow.backtest.run`, so
the two meet the same state of the machine, and the ratio is taken within a round. Both get
their input ready beforehand in their own form: lobflow a polars frame, hftbacktest its event
array (`lobflow.peers.prepare`, which also compiles the numba strategy once: that time is
recorded apart as `hbt_compile_s`). The figures land in `extra_info`:

- `lobflow_snapshots_per_s`, `hbt_snapshots_per_s` and `speedup` (median over rounds of the
  within-round ratio): `backtest.run` end to end (checks, simulation, metrics) against
  hftbacktest building its backtest over the events and running the strategy;
- `loops_speedup`: the two simulations alone, lobflow's Rust loop (`_core.backtest` over the
  engine's columns) against hftbacktest's event loop running the strategy;
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
    peers: list[Any] = []
    loops: list[float] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        peers.append(ready.run())
        t0 = time.perf_counter()
        simulate(cols, signals, cfg)
        loops.append(time.perf_counter() - t0)
        return (books, signals, cfg), {}

    result = benchmark.pedantic(backtest.run, setup=setup, rounds=ROUNDS, warmup_rounds=1)
    mine = benchmark.stats.stats.data
    theirs = [p.elapsed_s for p in peers[-ROUNDS:]]
    their_loops = [p.loop_s for p in peers[-ROUNDS:]]
    rows = books.height
    a = agreement(result, peers[-1], books)
    info = benchmark.extra_info
    info["books"] = case.name
    info["snapshots"] = rows
    info["hbt_events"] = peers[-1].events
    info["order_size"] = cfg.order_size
    info["lobflow_snapshots_per_s"] = rows / statistics.median(mine)
    info["hbt_snapshots_per_s"] = rows / statistics.median(theirs)
    info["speedup"] = statistics.median(t / m for t, m in zip(theirs, mine, strict=True))
    info["lobflow_loop_snapshots_per_s"] = rows / statistics.median(loops[-ROUNDS:])
    info["hbt_loop_snapshots_per_s"] = rows / statistics.median(their_loops)
    info["loops_speedup"] = statistics.median(
        t / m for t, m in zip(their_loops, loops[-ROUNDS:], strict=True)
    )
    info["hbt_compile_s"] = peers[-1].compile_s
    info["fills"] = [a.lobflow.fills, a.peer.fills]
    info["pnl"] = [a.lobflow.pnl, a.peer.pnl]
    info["differences"] = a.differences()
    # The comparison is only worth its speed figure if both ran the same strategy.
    assert a.differences() == []
