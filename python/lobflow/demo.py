"""`make demo`: the whole pipeline on one machine, offline, in a few minutes.

1. the simulated venue and the real collector against it (so the collector is seen working);
2. features -> training (chronological split; the threshold chosen by backtesting the
   validation part with the demo's costs) -> weights, on the bundled sample, which is
   synthetic and says so;
3. the backtest of the held-out part with the same costs, and what its numbers mean;
4. `Engine(weights).run` on the held-out part, checked against the trained pipeline, plus
   throughput on a few million generated ticks and paced latency percentiles;
5. the HTML report (PnL against threshold and fee among its figures);
6. last, `lobflow live` for 10 seconds against the simulated venue's WebSocket books: the
   weights scoring every book change of the sample's market on all four venues as it arrives,
   recorded and replayed; and the commands to do each step on your own data.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from rich.console import Console
from rich.panel import Panel

import lobflow
from lobflow import backtest, diagnostics, report
from lobflow._feed import scan_books
from lobflow.backtest._by_threshold import pnl_by_threshold
from lobflow.collect.simbook import simulate_books
from lobflow.data import SAMPLE
from lobflow.train import fit, save_model

if TYPE_CHECKING:
    from lobflow.live import LiveStats

console = Console()
FEED = "data/processed/exchange=kucoin/symbol=BTC-USDT"


def _step(n: int, text: str) -> None:
    console.rule(f"[bold]{n}. {text}")


def _collect(out: Path, seconds: float) -> None:
    from lobflow.collect import SimExchange, acollect
    from lobflow.collect._status import table

    async def go() -> None:
        async with SimExchange(seed=7) as sim:
            stats = await acollect(
                exchanges=["kucoin", "binance", "bybit", "kraken"],
                symbols=["BTC-USDT", "ETH-USDT"],
                hz=3.0,
                duration_s=seconds,
                out=out,
                base_urls=sim.base_urls,
                flush_every_s=2.0,
                live=False,
            )
        console.print(table(stats))

    asyncio.run(go())
    rows = scan_books(out / "processed")
    console.print(rows.group_by("exchange", "symbol").len().sort("exchange", "symbol").collect())


def _live(out: Path, weights: lobflow.Weights, cores: tuple[int, int], seconds: float) -> None:
    from lobflow.collect import SimExchange
    from lobflow.live import alive
    from lobflow.live.view import summary_table

    async def go() -> LiveStats:
        async with SimExchange(seed=11) as sim:
            return await alive(
                weights,
                exchanges=["binance", "bybit", "kraken", "kucoin"],
                # The sample's market (price ~100, cent ticks, ~1 unit a level): the model
                # was trained on it, and scores books of another scale meaninglessly.
                symbols=["SIM-USDT"],
                duration_s=seconds,
                out=out,
                base_urls=sim.base_urls,
                ws_urls=sim.ws_urls,
                cores=cores,
                flush_every_s=2.0,
            )

    shutil.rmtree(out, ignore_errors=True)  # the replay below is of this session alone
    stats = asyncio.run(go())
    console.print(summary_table(stats))
    st = stats.session
    wire, engine = st.recv_to_emit, st.push_to_emit
    console.print(
        f"  {sum(f.rows for f in stats.feeds):,} book changes scored as they came, one "
        f"resident engine session for all {len(stats.feeds)} feeds (each with its own windows "
        "and OFI state).\n"
        f"  wire -> signal p50 {wire.p50_ns / 1e3:.0f} µs, p99 {wire.p99_ns / 1e3:.0f} µs: "
        "from the moment the frame was read off the socket to the moment its score was "
        "readable by Python (the exact book in Rust, the Python around it, the push, the "
        f"worker's score). The engine's own share (push -> emit) is p50 "
        f"{engine.p50_ns / 1e3:.1f} µs; the rest is Python's per-frame work. p99 is the "
        f"machine's: a worker on a shared or busy core waits for the scheduler "
        f"(worker pinned to core {st.pinning.used[1]}: {st.pinning.pinned[1]}).\n"
        "  rows/s are the venues' real rates as the simulated venue plays them (Binance 100 ms "
        "batches, Bybit 20 ms, Kraken per change, KuCoin 100 ms); a score near 0 is flat."
    )
    feed = stats.feeds[0]
    folder = out / "processed" / f"exchange={feed.exchange}" / f"symbol={feed.symbol}"
    recorded = pl.read_parquet(
        out / "signals" / f"exchange={feed.exchange}" / f"symbol={feed.symbol}",
        hive_partitioning=False,
    )["score"].to_numpy()
    replayed = lobflow.Engine(weights, cores=cores).run(folder).scores
    same = np.array_equal(np.asarray(replayed).view(np.int64), recorded.view(np.int64))
    console.print(
        f"  recorded under {out}/ (raw_ws, processed, signals); `lobflow run {folder} "
        f"--weights ...` replays {feed.exchange} {feed.symbol}'s {len(recorded):,} scores: "
        f"identical bit for bit: {same}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the demo."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("demo-out"))
    ap.add_argument("--collect-seconds", type=float, default=15.0)
    ap.add_argument("--throughput-ticks", type=int, default=3_000_000)
    ap.add_argument("--fee-bps", type=float, default=1.0, help="taker fee, bps (default 1)")
    ap.add_argument("--live-seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    out: Path = args.out
    t_start = time.perf_counter()
    console.print(Panel.fit(f"lobflow {lobflow.__version__} demo -> {out}/", style="bold"))

    _step(1, "collect: the real collector against the simulated venue (all four REST formats)")
    _collect(out / "collected", args.collect_seconds)

    _step(2, "features -> train (chronological, purged, threshold against costs) -> weights")
    books = pl.read_parquet(SAMPLE)
    hours = (books["ts"][-1] - books["ts"][0]) / 3.6e12
    console.print(
        f"bundled sample: {books.height:,} snapshots of one feed, 100 ms apart ({hours:.1f} h). "
        "[bold]Synthetic[/]: a large-tick market (one tick is 1 bps) whose level-0 queue "
        "imbalance leans the next moves, an edge put there to be found "
        "(python/lobflow/data/make_sample.py). Real books are seldom this kind."
    )
    # One set of costs for everything below: the threshold is chosen for them, the held-out
    # backtest pays them.
    costs = backtest.BacktestConfig(taker_fee_bps=args.fee_bps)
    console.print(f"costs, in training and backtest alike: {report.describe_costs(costs)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(
            books,
            horizon_ns=1_000_000_000,
            windows_ms=(1000, 2000, 5000),
            execution=costs,
            progress=True,
        )
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    model_dir = save_model(result, out / "model")
    m = result.metrics
    for line in report.explain_training(m):
        console.print(f"  {line}")
    console.print(f"saved {model_dir}/ (pipeline, metrics.json, weights.txt, manifest)")

    _step(3, "backtest of the held-out part, with the same costs")
    test = result.test_rows(books)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bt = backtest.run(test, result.weights, costs)
    for w in caught:
        console.print(f"[yellow]engine:[/] {w.message}")
    console.print(report.summary_table(bt, f"held-out backtest ({test.height:,} snapshots)"))
    for line in report.explain(bt.metrics, costs):
        console.print(f"  {line}")
    assert bt.scores is not None
    assert bt.engine is not None
    fees = (0.0, 0.5, 1.0, 2.0, 3.0)
    at_fees = pnl_by_threshold(test, bt.scores, costs, [result.weights.threshold], fees)
    console.print(
        "  The same threshold at other fees: "
        + ", ".join(f"{fee:g} bps {at_fees.pnl_bps[i, 0]:+.0f}" for i, fee in enumerate(fees))
        + " bps of one order's notional (the report draws every threshold)."
    )

    _step(4, "Engine(weights).run on the held-out part: same numbers as scikit-learn")
    engine = lobflow.Engine(result.weights, cores=bt.engine.cores_used)
    res = engine.run(test, record_features=True)
    assert res.features is not None
    ref = result.pipeline.predict(res.features)
    rel = float(np.abs(res.scores - ref).max() / ref.std())
    console.print(f"max |engine - sklearn| / std = {rel:.2e} (bar: 1e-6)")
    big = simulate_books(args.throughput_ticks, seed=1)
    flat = engine.run(big)
    paced = engine.run(big.head(200_000), pace_ns=20_000)
    console.print(f"flat out: {flat.summary()}")
    console.print(f"paced 20 µs: {paced.summary()}")
    used = paced.cores_used
    if used[0] != used[1]:  # a floor needs two cores
        stamped = diagnostics.stamped_latency(used, 100_000).p50
        c2c = diagnostics.core_to_core_latency(used, 100_000).p50
        console.print(
            f"the floor of that metric (lobflow.diagnostics.stamped_latency: one message at a "
            f"time across one line, timed with the engine's own clock reads) p50 "
            f"{stamped:.0f} ns: paced p50 = {paced.latency.p50_ns / stamped:.2f}x it "
            f"(bare core-to-core line p50 {c2c:.0f} ns)"
        )

    _step(5, "report")
    path = report.build_report(
        out / "report",
        test,
        bt,
        result.weights,
        validation=m.validation_curve,
        paced=paced,
        title="lobflow demo: held-out backtest of the bundled (synthetic) sample",
        extra={
            "train": m.as_dict(),
            "engine_flat": flat.summary(),
            "engine_paced": paced.summary(),
        },
        progress=True,
    )
    console.print(f"wrote {path}")

    real = Path(__file__).resolve().parents[3] / "shared" / "data"
    files = sorted(real.glob("*.parquet")) if real.is_dir() else []
    if files:
        _step(6, "bonus: real Binance books from ../shared/data (features vs engine parity)")
        from lobflow import features

        df = pl.read_parquet(files[0])
        zero = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0,) * 18)
        eng = lobflow.Engine(zero, cores=bt.engine.cores_used).run(df, record_features=True)
        pf = features.compute(df).select(lobflow.FEATURE_NAMES).to_numpy()
        assert eng.features is not None
        scale = np.maximum(np.abs(pf).max(axis=0), 1e-300)
        worst = float((np.abs(eng.features - pf) / scale).max())
        console.print(
            f"{files[0].name}: {df.height:,} rows, worst feature diff / scale {worst:.1e}"
        )

    _step(7 if files else 6, "live: the weights on streaming books (simulated venue, 10 s)")
    _live(out / "live", result.weights, bt.engine.cores_used, args.live_seconds)

    console.print(
        Panel(
            "On your own data:\n"
            "  lobflow collect --exchange kucoin,binance --symbol BTC-USDT "
            "--duration 10m --out data/\n"
            "  lobflow train data/processed --horizon 1s --windows-ms 1000,2000,5000 "
            "--fee-bps 1 --out model/\n"
            f"  lobflow backtest {FEED} --weights model/weights.txt --held-out model/ "
            "--fee-bps 1\n"
            f"  lobflow report {FEED} --weights model/weights.txt --held-out model/ "
            "--out report/\n"
            f"  lobflow run {FEED} --weights model/weights.txt\n"
            "  lobflow live --weights model/weights.txt --exchange binance,bybit "
            "--symbol BTC-USDT --duration 1h --out live/",
            title=f"done in {time.perf_counter() - t_start:.0f} s",
        )
    )


if __name__ == "__main__":
    main()
