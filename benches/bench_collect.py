"""The collector at scale: 4 venues x 10 symbols at 3 Hz against the local simulated venue.

Measures the collector's own CPU share of one core (the simulated venue runs in another
process), poll jitter p50/p99 and rows written. One minute by default
(`LOBFLOW_BENCH_SECONDS` to change).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from lobflow.collect import acollect
from lobflow.collect.sim.process import sim_exchange_process

if TYPE_CHECKING:
    from pathlib import Path

SECONDS = float(os.environ.get("LOBFLOW_BENCH_SECONDS", "60"))
SYMBOLS = [
    f"{b}-USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC")
]


@pytest.mark.benchmark(group="collector")
def test_collector_4_venues_10_symbols_3hz(benchmark: Any, tmp_path: Path) -> None:
    with sim_exchange_process() as sim:
        url = sim.http
        venues = ["kucoin", "kraken", "bybit", "binance"]

        def run() -> Any:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            stats = asyncio.run(
                acollect(
                    exchanges=venues,
                    symbols=SYMBOLS,
                    hz=3.0,
                    duration_s=SECONDS,
                    out=tmp_path,
                    base_urls=dict.fromkeys(venues, url),
                    flush_every_s=5.0,
                    live=False,
                    enforce_budgets=False,  # local server: the venues' per-IP budgets do not apply
                )
            )
            return stats, (time.process_time() - cpu0) / (time.perf_counter() - wall0)

        stats, cpu_share = benchmark.pedantic(run, rounds=1, iterations=1)
    jitter = np.concatenate([np.asarray(v.jitter_ns) for v in stats.venues.values()]) / 1e6
    # Steady state (what a long-running collector costs) and the one-off shutdown separately:
    # the final flush + compaction of 80 small partitions is ~1-2 CPU-seconds whatever the
    # run length, so it would dominate a short benchmark.
    polling_share = stats.polling_cpu_s / stats.polling_wall_s
    benchmark.extra_info["cpu_share_of_one_core_polling"] = polling_share
    benchmark.extra_info["cpu_share_of_one_core_incl_shutdown"] = cpu_share
    benchmark.extra_info["shutdown_cpu_s"] = stats.shutdown_cpu_s
    benchmark.extra_info["jitter_ms_p50"] = float(np.percentile(jitter, 50))
    benchmark.extra_info["jitter_ms_p99"] = float(np.percentile(jitter, 99))
    benchmark.extra_info["requests"] = sum(v.requests for v in stats.venues.values())
    benchmark.extra_info["rows_written"] = stats.processed_rows
    benchmark.extra_info["expected_polls"] = int(4 * len(SYMBOLS) * 3 * SECONDS)
    # Where the requests that wrote no row went (a book that had not moved is a duplicate).
    per_venue = stats.venues.values()
    not_written = {
        "duplicates": sum(v.duplicates for v in per_venue),
        "stale": sum(v.stale for v in per_venue),
        "errors": sum(sum(v.errors.values()) for v in per_venue),
        "invalid": sum(sum(v.invalid.values()) for v in per_venue),
    }
    benchmark.extra_info.update(not_written)
    print(
        f"\ncollector: CPU {polling_share:.1%} of a core while polling ({cpu_share:.1%} "
        f"with the {stats.shutdown_cpu_s:.1f} s of shutdown compaction), jitter p50 "
        f"{np.percentile(jitter, 50):.2f} ms p99 {np.percentile(jitter, 99):.2f} ms, "
        f"{stats.processed_rows} rows, {benchmark.extra_info['requests']} requests, "
        f"not written: {not_written}"
    )
