"""What a live run did and is doing: per feed (book top, scores, latency) and in all (typed)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lobflow.collect.samples import Samples

if TYPE_CHECKING:
    from pathlib import Path

    from lobflow._session import SessionStats
    from lobflow.collect.stats import StreamCollectStats

#: Wire-to-signal samples kept per feed (the newest): a week-long run holds a fixed amount.
LATENCY_SAMPLES = 4096


@dataclass(frozen=True, slots=True)
class LiveSignal:
    """One scored book, as `lobflow.live.alive`'s ``on_signal`` receives it."""

    exchange: str
    symbol: str
    #: The book's time (the venue's), ns since the epoch.
    ts: int
    #: When the frame that made the book was read, ns since the epoch (wall clock).
    ts_local: int
    #: The venue's update id, None where it has none.
    seq: int | None
    #: The model's score; NaN for a book the engine skipped (crossed, NaN, time going back).
    score: float
    #: -1, 0 or 1 (0 for a skipped book).
    signal: int
    skipped: bool
    #: Frame read -> signal readable by Python, ns (the session's clock at both ends).
    latency_ns: int
    #: The engine's share of it: push -> signal readable (the rest is the Python before the
    #: push: the frame's parse and book, the row, the bridge).
    engine_ns: int


@dataclass(slots=True)
class FeedLive:
    """One feed while the run goes: its book top, its last signal, its counts and latency."""

    exchange: str
    symbol: str
    #: The feed's id in the session.
    id: int
    #: Rows pushed into the session.
    rows: int = 0
    #: Signals taken back from it.
    signals: int = 0
    #: Books the session skipped (broke the contract): score NaN, signal 0, counted here.
    skipped: int = 0
    #: Rows the session did not take (its queue stayed full, or it was closed): they have no
    #: score, and this feed's later scores may differ from a replay's (the log says which).
    refused: int = 0
    #: Level 0 of the last pushed book: bid price, bid size, ask price, ask size.
    top: tuple[float, float, float, float] | None = None
    last_score: float = math.nan
    last_signal: int = 0
    #: Wire-to-signal latency of the newest `LATENCY_SAMPLES` signals, ns.
    latency_ns: Samples = field(default_factory=lambda: Samples(LATENCY_SAMPLES))

    def latency_us(self, q: float) -> float:
        """A percentile of the recent wire-to-signal latency, in µs (NaN before any)."""
        if not len(self.latency_ns):
            return math.nan
        return float(np.percentile(np.asarray(self.latency_ns), q)) / 1e3

    def summary(self) -> FeedSummary:
        """A frozen copy of the counts and the latency percentiles."""
        return FeedSummary(
            exchange=self.exchange,
            symbol=self.symbol,
            rows=self.rows,
            signals=self.signals,
            skipped=self.skipped,
            refused=self.refused,
            last_score=self.last_score,
            last_signal=self.last_signal,
            latency_p50_us=self.latency_us(50),
            latency_p99_us=self.latency_us(99),
        )


@dataclass(frozen=True)
class FeedSummary:
    """One feed at the end of a run."""

    exchange: str
    symbol: str
    rows: int
    signals: int
    skipped: int
    refused: int
    last_score: float
    last_signal: int
    #: Wire-to-signal percentiles of the feed's newest `LATENCY_SAMPLES` signals, µs.
    latency_p50_us: float
    latency_p99_us: float


@dataclass(frozen=True)
class LiveStats:
    """What a live run did: per feed, the collector's counters, the session's."""

    feeds: tuple[FeedSummary, ...]
    #: The WebSocket collector's counters (frames, gaps, resyncs, reconnects per feed).
    collect: StreamCollectStats
    #: The session's (books pushed and skipped per feed and why; latency over the whole run).
    session: SessionStats
    #: Signal rows written under ``<out>/signals`` (0 without ``out``).
    signals_written: int
    elapsed_s: float
    out: Path | None

    def summary(self) -> str:
        """A few lines for a terminal."""
        rows = sum(f.rows for f in self.feeds)
        skipped = sum(f.skipped for f in self.feeds)
        refused = sum(f.refused for f in self.feeds)
        wire = self.session.recv_to_emit
        lines = [
            f"{len(self.feeds)} feeds, {rows:,} books scored in {self.elapsed_s:.1f} s "
            f"({skipped:,} skipped by the engine, {refused:,} not taken)",
            f"wire -> signal p50 {wire.p50_ns / 1e3:.1f} µs, p99 {wire.p99_ns / 1e3:.1f} µs "
            f"over {wire.count:,} signals (frame read -> score readable by Python)",
        ]
        if self.out is not None:
            lines.append(
                f"recorded under {self.out}: raw_ws/, processed/ and signals/ "
                f"({self.signals_written:,} signal rows)"
            )
        return "\n".join(lines)
