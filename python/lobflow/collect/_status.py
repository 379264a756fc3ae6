"""The collector's live status: a rich table on a terminal, log lines otherwise."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from lobflow.collect.stats import StreamCollectStats

if TYPE_CHECKING:
    from rich.table import Table

    from lobflow.collect.stats import CollectStats

log = logging.getLogger("lobflow.collect")


def table(stats: CollectStats) -> Table:
    """A rich table of rows, errors and timing per venue (per feed for WebSocket runs)."""
    if isinstance(stats, StreamCollectStats):
        return stream_table(stats)
    from rich.table import Table

    t = Table(title=f"collected in {stats.elapsed_s:.1f} s")
    for c in (
        "venue",
        "requests",
        "rows",
        "dups",
        "stale",
        "late",
        "paused",
        "redirects",
        "errors",
        "invalid",
        "jitter p50/p99 ms",
        "latency p50/p99 ms",
    ):
        t.add_column(c)
    for name, v in stats.venues.items():
        t.add_row(
            name,
            str(v.requests),
            str(v.rows),
            str(v.duplicates),
            str(v.stale),
            str(v.skipped_late),
            str(v.paused_polls),
            str(v.redirects),
            ", ".join(f"{k}:{n}" for k, n in v.errors.items()) or "0",
            ", ".join(f"{k}:{n}" for k, n in v.invalid.items()) or "0",
            f"{v.pct('jitter', 50):.2f}/{v.pct('jitter', 99):.2f}",
            f"{v.pct('latency', 50):.2f}/{v.pct('latency', 99):.2f}",
        )
    return t


def stream_table(stats: StreamCollectStats) -> Table:
    """A rich table per WebSocket feed, with each venue's connection counters."""
    from rich.table import Table

    t = Table(title=f"streamed for {stats.elapsed_s:.1f} s")
    for c in (
        "venue",
        "symbol",
        "rows",
        "gaps",
        "resyncs",
        "checksum",
        "reconnects",
        "stale",
        "malformed",
        "switches",
        "invalid",
    ):
        t.add_column(c)
    for name, v in stats.streams.items():
        for symbol, f in v.feeds.items():
            t.add_row(
                name,
                symbol + (" (stopped)" if f.stopped else ""),
                str(f.rows),
                str(f.gaps),
                str(f.resyncs),
                str(f.checksum_mismatches),
                str(f.reconnects),
                str(f.stale),
                str(f.malformed),
                str(f.switches),
                ", ".join(f"{k}:{n}" for k, n in f.invalid.items()) or "0",
            )
        t.add_row(
            name,
            "(connections)",
            f"{v.frames} frames",
            f"{v.connections} conns",
            f"{v.rotations} rotated",
            f"{v.missed_heartbeats} silent",
            str(v.reconnects),
            f"{v.redirects} redir",
            str(v.malformed),
            f"p50 {v.pct(50):.0f} us",
            f"p99 {v.pct(99):.0f} us",
        )
    return t


def _log_streams(stats: StreamCollectStats) -> None:
    for name, v in stats.streams.items():
        log.info(
            "%s: %d frames, %d rows, %d gaps, %d resyncs, %d checksum mismatches, %d reconnects, "
            "%d stale, %d malformed",
            name,
            v.frames,
            v.total("rows"),
            v.total("gaps"),
            v.total("resyncs"),
            v.total("checksum_mismatches"),
            v.reconnects,
            v.total("stale"),
            v.total("malformed") + v.malformed,
        )


async def status_loop(stats: CollectStats, stop: asyncio.Event, live: bool | None) -> None:
    """Show `stats` until `stop`: live on a terminal (or `live=True`), else a log line per 10 s."""
    if live is False or (live is None and not sys.stderr.isatty()):
        while not stop.is_set():
            await asyncio.sleep(10)
            if isinstance(stats, StreamCollectStats):
                _log_streams(stats)
            for name, v in stats.venues.items():
                log.info(
                    "%s: %d rows, %d requests, jitter p99 %.2f ms",
                    name,
                    v.rows,
                    v.requests,
                    v.pct("jitter", 99),
                )
        return
    from rich.live import Live

    with Live(table(stats), refresh_per_second=2, transient=False) as view:
        while not stop.is_set():
            await asyncio.sleep(0.5)
            view.update(table(stats))
