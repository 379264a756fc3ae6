"""Does a live run's memory stay flat? ``python -m lobflow.live.soak --minutes 60`` measures.

A `lobflow.live.alive` run of 40 feeds (4 venues x 10 symbols) against the simulated venue at
the venues' real rates, recording as ``lobflow live --out`` does, while this process's resident
memory is sampled every `--every` seconds into a CSV, with where it is: the bytes glibc's
malloc has in use and holds free, and pyarrow's pool (`COLUMNS`). At the end a straight line is
fitted to RSS against time after the warm-up (the first `--warmup` minutes, 20 by default, in
which the run's bounded buffers fill: the collector keeps the newest 100 000 frame latencies
per venue, 17 minutes at Binance's 100 frames/s for 10 symbols; its decimal cache holds 65 536
entries; the live view keeps 4 096 latencies per feed; the model's windows hold a minute of
books): its slope, in MiB per hour, is the figure (flat memory: near 0, small beside the RSS).
``--fit soak.csv`` fits a CSV written before again, with another warm-up.

The simulated venue runs in its own process (its memory is not this one's). The process lowers
its own priority (``--nice``, 19 by default) before starting anything: the session's worker
spins on its core for the whole run, and a soak is a long wait that should not slow the
machine's other work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import lobflow
from lobflow._malloc import malloc_mib
from lobflow.collect.sim.process import sim_exchange_process
from lobflow.collect.venues import VENUES

if TYPE_CHECKING:
    from lobflow.live.stats import LiveStats

SYMBOLS = tuple(
    f"{b}-USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC")
)


#: A soak CSV's columns: time, RSS, then where the memory is (see `malloc_mib`, `arrow_mib`).
COLUMNS = ("t_s", "rss_mib", "malloc_in_use_mib", "malloc_free_mib", "arrow_mib")


@dataclass(frozen=True)
class Soak:
    """A soak's samples and the line fitted to them."""

    #: Seconds since the start, and RSS in MiB, of each sample.
    t_s: tuple[float, ...]
    rss_mib: tuple[float, ...]
    #: Samples before this many seconds are the warm-up, left out of the fit.
    warmup_s: float
    #: The fitted slope after the warm-up, MiB per hour.
    slope_mib_per_h: float
    rows: int
    csv: Path

    def summary(self) -> str:
        """What a reader needs: RSS at start and end, the slope, how long."""
        after = [r for t, r in zip(self.t_s, self.rss_mib, strict=True) if t >= self.warmup_s]
        scored = f", {self.rows:,} books scored" if self.rows else ""
        return (
            f"{self.t_s[-1] / 60:.1f} min{scored}; RSS {self.rss_mib[0]:.1f} "
            f"MiB at the first sample, {after[0]:.1f} MiB after the {self.warmup_s / 60:.0f} "
            f"min warm-up, {self.rss_mib[-1]:.1f} MiB at the end (max {max(self.rss_mib):.1f}); "
            f"slope after the warm-up {self.slope_mib_per_h:+.2f} MiB/h ({self.csv})"
        )


def rss_mib() -> float:
    """The resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def arrow_mib() -> float:
    """Bytes pyarrow's default pool has allocated and not freed, MiB."""
    import pyarrow as pa

    return float(pa.total_allocated_bytes()) / 2**20


def slope_per_hour(t_s: list[float], values: list[float]) -> float:
    """The least-squares slope of `values` against time, per hour (0 with fewer than 2)."""
    if len(t_s) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(t_s) / 3600, np.asarray(values), 1)[0])


def _weights() -> lobflow.Weights:
    coef = tuple(np.linspace(-0.1, 0.1, 18))
    # A one-minute longest window: each feed keeps a minute of books.
    return lobflow.Weights((1_000, 5_000, 60_000), 0.05, 0.0, coef)


async def _run(
    port: int, seconds: float, every_s: float, out: Path, writer: csv.DictWriter[str]
) -> tuple[list[float], list[float], LiveStats]:
    from lobflow.live import alive

    urls = dict.fromkeys(VENUES, f"http://127.0.0.1:{port}")
    ws = dict.fromkeys(VENUES, f"ws://127.0.0.1:{port}")
    stop = asyncio.Event()
    t_s: list[float] = []
    rss: list[float] = []

    async def sample(t0: float) -> None:
        while not stop.is_set():
            t_s.append(time.monotonic() - t0)
            rss.append(rss_mib())
            in_use, free = malloc_mib()
            writer.writerow(
                {
                    "t_s": f"{t_s[-1]:.1f}",
                    "rss_mib": f"{rss[-1]:.2f}",
                    "malloc_in_use_mib": f"{in_use:.2f}",
                    "malloc_free_mib": f"{free:.2f}",
                    "arrow_mib": f"{arrow_mib():.2f}",
                }
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    t0 = time.monotonic()
    sampler = asyncio.create_task(sample(t0))
    try:
        stats = await alive(
            _weights(),
            exchanges=sorted(VENUES),
            symbols=SYMBOLS,
            duration_s=seconds,
            out=out,
            base_urls=urls,
            ws_urls=ws,
            stop=stop,
            view=False,
        )
    finally:
        stop.set()
        await sampler
    return t_s, rss, stats


def soak(
    minutes: float, every_s: float = 10.0, warmup_min: float = 20.0, csv_path: Path | None = None
) -> Soak:
    """Run the soak (see the module's docstring) and fit the slope."""
    csv_path = csv_path or Path(f"soak-{time.strftime('%Y%m%dT%H%M%S')}.csv")
    out = Path(tempfile.mkdtemp(prefix="lobflow-soak-"))
    try:
        with sim_exchange_process() as venue, csv_path.open("w", newline="", buffering=1) as f:
            writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
            writer.writeheader()
            t_s, rss, stats = asyncio.run(_run(venue.port, minutes * 60, every_s, out, writer))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return fit(t_s, rss, warmup_min, csv_path, sum(f.rows for f in stats.feeds))


def fit(t_s: list[float], rss: list[float], warmup_min: float, csv_path: Path, rows: int) -> Soak:
    """The slope of `rss` after `warmup_min` minutes (at most half the run)."""
    warmup_s = min(warmup_min * 60, t_s[-1] / 2)
    kept = [(t, r) for t, r in zip(t_s, rss, strict=True) if t >= warmup_s]
    return Soak(
        t_s=tuple(t_s),
        rss_mib=tuple(rss),
        warmup_s=warmup_s,
        slope_mib_per_h=slope_per_hour([t for t, _ in kept], [r for _, r in kept]),
        rows=rows,
        csv=csv_path,
    )


def read_csv(path: Path) -> tuple[list[float], list[float]]:
    """The samples of a soak's CSV."""
    with path.open(newline="") as f:
        samples = [(float(r["t_s"]), float(r["rss_mib"])) for r in csv.DictReader(f)]
    return [t for t, _ in samples], [r for _, r in samples]


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--warmup", type=float, default=20.0, help="minutes left out of the fit")
    ap.add_argument("--csv", type=Path, default=None, help="where the samples go")
    ap.add_argument("--nice", type=int, default=19, help="lower this process's priority")
    ap.add_argument("--fit", type=Path, default=None, help="only fit this CSV again")
    args = ap.parse_args(argv)
    if args.fit is not None:
        t_s, rss = read_csv(args.fit)
        print(fit(t_s, rss, args.warmup, args.fit, 0).summary())
        return
    if args.nice:
        os.nice(args.nice)
    result = soak(args.minutes, args.every, args.warmup, args.csv)
    print(result.summary())


if __name__ == "__main__":
    main()
