"""What a collection run did: counters and timing samples per venue (typed, no rendering)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np


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
    jitter_ns: list[int] = field(default_factory=list)
    latency_ns: list[int] = field(default_factory=list)

    def pct(self, which: str, q: float) -> float:
        """A percentile of the jitter or latency samples, in ms."""
        xs = self.jitter_ns if which == "jitter" else self.latency_ns
        return float(np.percentile(xs, q)) / 1e6 if xs else float("nan")


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
