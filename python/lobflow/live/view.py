"""The live view: per feed, the book top, the last score and signal, rates, gaps and latency.

A rich table redrawn every second on a terminal; a log line every 10 s otherwise. It reads
what the run keeps anyway (the bridge's feeds, the collector's counters, the session's stats)
and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from lobflow.collect.stats import FeedStats, StreamCollectStats
    from lobflow.live.bridge import Bridge
    from lobflow.live.stats import FeedLive, LiveStats

log = logging.getLogger("lobflow.live")

#: Seconds between redraws of the view, and between log lines without one.
REDRAW_S = 1.0
LOG_EVERY_S = 10.0


class Rates:
    """Rows per second of each feed between two looks."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, int]] = {}
        self.per_s: dict[int, float] = {}

    def update(self, feeds: list[FeedLive]) -> None:
        """Take each feed's row count now."""
        now = time.monotonic()
        for f in feeds:
            before = self._last.get(f.id)
            if before is not None and now > before[0]:
                self.per_s[f.id] = (f.rows - before[1]) / (now - before[0])
            self._last[f.id] = (now, f.rows)


def _num(x: float) -> str:
    return f"{x:.10g}"


def _signal(score: float, signal: int, *, short: bool = False) -> str:
    if math.isnan(score):
        return "[dim]-[/]"
    if short:
        return {1: "[green]+1[/]", -1: "[red]-1[/]"}.get(signal, "0")
    return {1: "[green]+1 buy[/]", -1: "[red]-1 sell[/]"}.get(signal, "0 flat")


def _us(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.0f}"


def live_table(
    bridge: Bridge, collect: StreamCollectStats, rates: Rates, elapsed_s: float
) -> Table:
    """One frame of the view."""
    from rich.table import Table

    st = bridge.session.stats()
    wire, engine = st.recv_to_emit, st.push_to_emit
    t = Table(
        title=f"lobflow live: {len(bridge.feeds)} feeds, {elapsed_s:.0f} s",
        caption=(
            f"session: {st.pushed:,} books, {st.skipped:,} skipped, {st.pending:,} pending; "
            f"wire->signal p50/p99 {wire.p50_ns / 1e3:.1f}/{wire.p99_ns / 1e3:.1f} µs, "
            f"engine (push->emit) {engine.p50_ns / 1e3:.1f}/{engine.p99_ns / 1e3:.1f} µs "
            f"over the run; worker on core {st.pinning.used[1]}"
            + ("" if st.pinning.pinned[1] else " (not pinned)")
        ),
    )
    for c in (
        "venue",
        "symbol",
        "bid (px x size)",
        "ask (px x size)",
        "rows/s",
        "rows",
        "score",
        "signal",
        "skipped",
        "gaps",
        "resyncs",
        "reconnects",
        "wire->signal p50/p99 µs",
    ):
        t.add_column(c, justify="left" if c in ("venue", "symbol") else "right")
    for f in bridge.feeds:
        venue = collect.streams.get(f.exchange)
        fs: FeedStats | None = None if venue is None else venue.feeds.get(f.symbol)
        bid = ask = "-"
        if f.top is not None:
            bid = f"{_num(f.top[0])} x {_num(f.top[1])}"
            ask = f"{_num(f.top[2])} x {_num(f.top[3])}"
        rate = rates.per_s.get(f.id, math.nan)
        t.add_row(
            f.exchange,
            f.symbol + (" (stopped)" if fs is not None and fs.stopped else ""),
            bid,
            ask,
            "-" if math.isnan(rate) else f"{rate:.1f}",
            f"{f.rows:,}",
            "-" if math.isnan(f.last_score) else f"{f.last_score:+.5f}",
            _signal(f.last_score, f.last_signal),
            str(f.skipped + f.refused),
            "-" if fs is None else str(fs.gaps),
            "-" if fs is None else str(fs.resyncs),
            "-" if fs is None else str(fs.reconnects),
            f"{_us(f.latency_us(50))}/{_us(f.latency_us(99))}",
        )
    return t


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def view_loop(
    bridge: Bridge, collect: StreamCollectStats, stop: asyncio.Event, view: bool | None
) -> None:
    """Show the run until `stop`: the table on a terminal (or `view=True`), else log lines."""
    t0 = time.monotonic()
    if view is False or (view is None and not sys.stdout.isatty()):
        while not stop.is_set():
            await _wait(stop, LOG_EVERY_S)
            if not stop.is_set():
                st = bridge.session.stats()
                log.info(
                    "live: %d books scored (%d skipped), %d pending; wire->signal p50 %.1f µs "
                    "p99 %.1f µs",
                    st.pushed,
                    st.skipped,
                    st.pending,
                    st.recv_to_emit.p50_ns / 1e3,
                    st.recv_to_emit.p99_ns / 1e3,
                )
        return
    from rich.live import Live

    rates = Rates()
    rates.update(bridge.feeds)
    # The collector's periodic status lines say what the table shows; its warnings (gaps,
    # reconnects) still print above it.
    collector_log = logging.getLogger("lobflow.collect")
    level = collector_log.level
    collector_log.setLevel(max(level, logging.WARNING))
    try:
        with Live(
            live_table(bridge, collect, rates, 0.0),
            refresh_per_second=1 / REDRAW_S,
            transient=True,
        ) as shown:
            while not stop.is_set():
                await _wait(stop, REDRAW_S)
                rates.update(bridge.feeds)
                shown.update(live_table(bridge, collect, rates, time.monotonic() - t0))
    finally:
        collector_log.setLevel(level)


def summary_table(stats: LiveStats) -> Table:
    """Per feed, what a finished run did (narrow enough for 80 columns)."""
    from rich import box
    from rich.table import Table

    t = Table(
        title=f"lobflow live: {len(stats.feeds)} feeds, {stats.elapsed_s:.1f} s",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        caption="gaps/resyncs/reconnects from the collector; µs: wire -> signal, newest signals",
    )
    for c in ("venue", "symbol", "rows", "rows/s", "skipped", "gap/rs/rc", "score", "sig"):
        t.add_column(c, justify="left" if c in ("venue", "symbol") else "right")
    t.add_column("µs p50/p99", justify="right")
    for f in stats.feeds:
        venue = stats.collect.streams.get(f.exchange)
        fs = None if venue is None else venue.feeds.get(f.symbol)
        t.add_row(
            f.exchange,
            f.symbol + (" (stopped)" if fs is not None and fs.stopped else ""),
            f"{f.rows:,}",
            f"{f.rows / stats.elapsed_s:.1f}" if stats.elapsed_s > 0 else "-",
            str(f.skipped) + (f" +{f.refused} not taken" if f.refused else ""),
            "-" if fs is None else f"{fs.gaps}/{fs.resyncs}/{fs.reconnects}",
            "-" if math.isnan(f.last_score) else f"{f.last_score:+.3f}",
            _signal(f.last_score, f.last_signal, short=True),
            f"{_us(f.latency_p50_us)}/{_us(f.latency_p99_us)}",
        )
    return t
