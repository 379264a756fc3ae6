"""What a collection run did: counters and timing samples per venue (typed, no rendering)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from lobflow.collect.samples import Samples

log = logging.getLogger("lobflow.collect")

#: Latency samples kept per venue (the newest), so a week-long run holds a fixed amount.
LATENCY_SAMPLES = 100_000


def _log_often(counts: dict[str, int], key: str, msg: str, error: bool) -> None:
    # The first ten of a kind, then every hundredth: a storm cannot flood the log.
    counts[key] += 1
    n = counts[key]
    if n <= 10 or n % 100 == 0:
        (log.error if error else log.warning)("%s (%d so far)", msg, n)


@dataclass
class VenueStats:
    """Counters and timing samples of one venue polled over REST."""

    requests: int = 0
    rows: int = 0
    duplicates: int = 0
    #: Answers older than one already written (a lower sequence: a lagging replica or cache).
    stale: int = 0
    #: Times the venue's sequence started over (Bybit's u == 1, or a lower one that persists).
    seq_resets: int = 0
    skipped_late: int = 0
    paused_polls: int = 0
    #: Redirect answers (3xx): never followed, counted and backed off like a bad answer.
    redirects: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invalid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Each poll's send time minus its grid time, and each answer's latency, ns (the newest
    #: `LATENCY_SAMPLES` of each).
    jitter_ns: Samples = field(default_factory=lambda: Samples(LATENCY_SAMPLES))
    latency_ns: Samples = field(default_factory=lambda: Samples(LATENCY_SAMPLES))

    def pct(self, which: str, q: float) -> float:
        """A percentile of the jitter or latency samples, in ms."""
        xs = self.jitter_ns if which == "jitter" else self.latency_ns
        return float(np.percentile(np.asarray(xs), q)) / 1e6 if len(xs) else float("nan")


@dataclass
class CollectStats:
    """What a collection run did, per venue."""

    venues: dict[str, VenueStats] = field(default_factory=dict)
    raw_rows: int = 0
    processed_rows: int = 0
    elapsed_s: float = 0.0
    #: CPU seconds of this process while polling (start to stop, periodic flushes included).
    polling_cpu_s: float = 0.0
    #: Wall seconds of the same period.
    polling_wall_s: float = 0.0
    #: CPU seconds of the final flush and compaction at shutdown.
    shutdown_cpu_s: float = 0.0
    #: Periodic flushes that failed (their rows were kept and written by a later flush).
    write_errors: int = 0


@dataclass
class FeedStats:
    """Counters of one WebSocket feed (venue, symbol)."""

    rows: int = 0
    #: Detected gaps (a sequence jump, a checksum mismatch, a malformed frame of a synced feed).
    gaps: int = 0
    #: Fresh books asked for (after a gap).
    resyncs: int = 0
    checksum_mismatches: int = 0
    #: Times the feed lost its connection without another synced one to take over.
    reconnects: int = 0
    #: Frames older than the book (an update id or time already applied): ignored.
    stale: int = 0
    malformed: int = 0
    #: Hand-overs to a newer connection (a reconnect or a rotation) without a gap.
    switches: int = 0
    invalid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Why the feed stopped (the venue's message for an unknown symbol), else "".
    stopped: str = ""
    logged: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def log_once(self, key: str, msg: str, *, error: bool = False) -> None:
        """Log `msg` for the first ten events of kind `key`, then every hundredth."""
        _log_often(self.logged, key, msg, error)


@dataclass
class StreamStats:
    """Counters of one venue's WebSocket client and its feeds."""

    feeds: dict[str, FeedStats] = field(default_factory=dict)
    frames: int = 0
    connections: int = 0
    #: Connections lost (closed, errors, missed heartbeats), not counting rotations.
    reconnects: int = 0
    rotations: int = 0
    #: Connections closed after a heartbeat or the data went silent too long.
    missed_heartbeats: int = 0
    #: Frames not attributable to a feed that were not as documented.
    malformed: int = 0
    redirects: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Frame read -> processed row queued, ns (the newest `LATENCY_SAMPLES`).
    latency_ns: Samples = field(default_factory=lambda: Samples(LATENCY_SAMPLES))
    logged: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def feed(self, symbol: str) -> FeedStats:
        """The counters of `symbol`'s feed (made on first use)."""
        st = self.feeds.get(symbol)
        if st is None:
            st = self.feeds[symbol] = FeedStats()
        return st

    def log_once(self, key: str, msg: str, *, error: bool = False) -> None:
        """Log `msg` for the first ten events of kind `key`, then every hundredth."""
        _log_often(self.logged, key, msg, error)

    def total(self, name: str) -> int:
        """A feed counter summed over the venue's feeds."""
        return sum(int(getattr(f, name)) for f in self.feeds.values())

    def pct(self, q: float) -> float:
        """A percentile of the frame-to-row latency, in microseconds."""
        xs = np.asarray(self.latency_ns)
        return float(np.percentile(xs, q)) / 1e3 if len(xs) else float("nan")


@dataclass
class StreamCollectStats(CollectStats):
    """What a WebSocket collection run did, per venue (`streams`; `venues` stays empty)."""

    streams: dict[str, StreamStats] = field(default_factory=dict)
