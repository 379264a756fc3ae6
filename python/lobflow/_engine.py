"""`lobflow.Engine`: the Rust inference engine with a Python face."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, SupportsIndex

import polars as pl

from lobflow import _core
from lobflow._feed import FeedLike, engine_columns
from lobflow._schema import as_int, finite, int_within
from lobflow._session import Session
from lobflow.errors import LobflowWarning
from lobflow.weights import Weights

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class RunResult:
    """What `Engine.run` returns: outputs aligned with the feed, and how the run went."""

    scores: NDArray[np.float64]
    signals: NDArray[np.int8]
    features: NDArray[np.float64] | None
    feature_names: tuple[str, ...]
    latency_ns: dict[str, int]
    latency_sampled_every: int
    latency_buckets: list[tuple[int, int]]
    ticks_per_s: float
    elapsed_ns: int
    n: int
    skipped: int
    cores_requested: tuple[int, int]
    cores_used: tuple[int, int]
    pinned: tuple[bool, bool]
    pin_note: str | None
    #: The tick's price resolution for this feed (docs/tick-encoding.md): a power of ten.
    price_quantum: float
    #: Worst level-0 price round-trip error: f64 rounding only, since a price the tick cannot
    #: carry exactly stops the run with a ``ValueError`` naming its row.
    max_price_error: float
    #: The tick's level-0 size lot for this feed, a power of ten (docs/tick-encoding.md): sizes
    #: on its grid below 2^31 lots are carried exactly, any other to f32's 24 bits.
    size_lot: float
    #: Level-0 sizes of valid rows (two a row) that were not whole lots of `size_lot` below
    #: 2^31 and so crossed as f32 (24 bits, ~6e-8 of the size): OFI over them carries that
    #: rounding, which a stuck price with queues of billions of lots makes visible. Nonzero
    #: warns (`LobflowWarning`); every other size is exact.
    sizes_inexact: int
    #: One-way latency between the run's two cores on a cache line of the run's own ring,
    #: measured just before it (p50, p90, p99, min in ns). Paced runs: the floor to compare
    #: `latency_ns` with. Flat out: the short probe that chose `ring_stores`, when one did
    #: (runs that lap the ring, left to choose); else None. None too where both threads share
    #: one core (two spinning threads on one core would measure the scheduler, for minutes).
    core_to_core_ns: dict[str, float] | None
    #: Paced runs: the same, measured just after the run. None flat out and on one core.
    core_to_core_after_ns: dict[str, float] | None
    #: Whether the two held still (medians within 1.5x): on VMs the host can move the vCPUs
    #: mid-run, and then no one floor fits the run (docs/engine.md). None flat out.
    core_to_core_steady: bool | None
    #: Whether a probe above stopped at its 1 s budget with fewer round trips than asked
    #: (`c2c::PROBE_BUDGET`): the two cores seldom ran at once, so its figures rest on few
    #: samples. None where no probe ran.
    core_to_core_cut_short: bool | None
    #: How the producer wrote the ring's slots: ``"cached"`` (ordinary stores) or
    #: ``"streaming"`` (non-temporal stores; flat-out runs whose cores are far apart).
    ring_stores: Literal["cached", "streaming"]
    raw: dict[str, Any] = field(repr=False, compare=False)

    def features_frame(self) -> pl.DataFrame:
        """The recorded features as a DataFrame named by the model's windows."""
        if self.features is None:
            raise ValueError("features were not recorded: run with record_features=True")
        return pl.DataFrame(self.features, schema=list(self.feature_names), orient="row")

    def summary(self) -> str:
        """One line for a terminal: throughput, latency percentiles, cores."""
        lat = ", ".join(f"{k} {v:,} ns" for k, v in self.latency_ns.items())
        return (
            f"{self.n:,} ticks ({self.skipped:,} skipped) at "
            f"{self.ticks_per_s / 1e6:.1f} M ticks/s; "
            f"latency {lat} (1 in {self.latency_sampled_every} timed); "
            f"cores {self.cores_used[0]}+{self.cores_used[1]}" + self._c2c_summary()
        )

    @property
    def p50_over_core_to_core(self) -> float | None:
        """Paced runs: latency p50 over the larger core-to-core p50 around the run.

        This is the ratio the engine's latency target is stated in; None flat out. It means
        something only where `core_to_core_steady` holds.
        """
        if self.core_to_core_ns is None or self.core_to_core_after_ns is None:
            return None
        floor = max(self.core_to_core_ns["p50"], self.core_to_core_after_ns["p50"])
        return self.latency_ns["p50"] / floor

    def _c2c_summary(self) -> str:
        if self.core_to_core_ns is None:
            return ""
        if self.core_to_core_after_ns is None:
            c2c = self.core_to_core_ns["p50"]
            return f" (core-to-core p50 {c2c:.0f} ns: {self.ring_stores} ring stores)"
        before, after = self.core_to_core_ns["p50"], self.core_to_core_after_ns["p50"]
        moved = "" if self.core_to_core_steady else "; it moved during the run"
        if self.core_to_core_cut_short:
            moved += "; a probe ran out of time: the cores seldom ran at once"
        return f" (core-to-core p50 {before:.0f} ns before, {after:.0f} ns after{moved})"


class Engine:
    """A baked linear model, scored on two pinned threads over a lock-free ring.

    Parameters
    ----------
    weights
        A weights file path or a `Weights`.
    capacity
        Ring size in ticks; a power of two. The first run allocates the ring (88 bytes a
        slot) and later runs reuse it, so keep one engine for many feeds.
    cores
        (producer, worker) cores: two non-negative ints. Where they do not exist the engine
        uses existing ones and warns with `LobflowWarning`.

    Examples
    --------
    >>> import lobflow, polars as pl
    >>> w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)
    >>> book = {c: [1.0] for c in lobflow.CONTRACT_COLUMNS[1:]}
    >>> feed = pl.DataFrame({"ts": [0], **book, "bid_px_0": [100.0], "ask_px_0": [100.5]})
    >>> lobflow.Engine(w, cores=(0, 1)).run(feed).scores.tolist()
    [0.5]
    """

    def __init__(
        self,
        weights: Weights | str | os.PathLike[str],
        *,
        capacity: int = 131072,
        cores: tuple[int, int] = (2, 4),
    ) -> None:
        self.cores = _check_cores(cores)
        # The core checks that the capacity is a power of two (ValueError naming it); here only
        # what cannot reach it as an unsigned integer.
        self.capacity = _check_capacity(capacity)
        self.weights = weights if isinstance(weights, Weights) else Weights.load(weights)
        source = "<Weights>" if isinstance(weights, Weights) else str(Path(weights))
        self._inner = _core.Engine(self.weights.to_text(), source, self.capacity, self.cores)
        self._feature_names = self.weights.feature_names

    def __repr__(self) -> str:
        return (
            f"Engine(windows_ms={self.weights.windows_ms}, threshold={self.weights.threshold}, "
            f"capacity={self.capacity}, cores={self.cores})"
        )

    def run(
        self,
        feed: FeedLike,
        *,
        record_features: bool = False,
        pace_ns: SupportsIndex | None = None,
        on_bad: Literal["raise", "skip"] = "raise",
        ring_stores: Literal["auto", "cached", "streaming"] = "auto",
    ) -> RunResult:
        """Score every snapshot of one feed.

        Parameters
        ----------
        feed
            A polars DataFrame/LazyFrame with the contract's columns, a NumPy structured array
            with those fields, or a Parquet file or hive folder. One feed (exchange, symbol).
        record_features
            Also return the (n, 18) feature matrix.
        pace_ns
            Space the producer's pushes this many ns apart, so the latency percentiles measure
            the pipeline rather than queueing.
        on_bad
            ``"raise"``: a `ValueError` naming the column and first bad row. ``"skip"``: skip
            bad rows (score NaN, signal 0, outside OFI and windows) and count them.
        ring_stores
            How the producer writes the ring: ``"cached"`` (ordinary stores), ``"streaming"``
            (non-temporal stores, which spare it taking each slot's cache line back from the
            worker's core first), or ``"auto"``: streaming for a flat-out run that laps the
            ring when a short probe finds the two cores more than 80 ns apart
            (docs/engine.md). The outputs are the same whichever is used.

        Returns
        -------
        RunResult

        Raises
        ------
        ValueError
            A bad row under ``on_bad="raise"``, and in either mode a level-0 price the 88-byte
            tick cannot carry exactly (off any decimal grid, or a feed whose range, an outlier
            say, needs a coarser step than its grid): the message names the row, the column
            and the rows of the feed's extreme prices (docs/tick-encoding.md).
        MemoryError
            A ring of `capacity` slots cannot be allocated, or needs more than the memory the
            system has available (Linux's ``MemAvailable``): refused before it is touched,
            since overcommit would grant it and the OOM killer end the interpreter.
        KeyboardInterrupt
            Ctrl-C, within a tenth of a second, paced runs too.
        """
        if on_bad not in ("raise", "skip"):
            msg = f"on_bad must be 'raise' or 'skip', got {on_bad!r}"
            raise ValueError(msg)
        pace_ns = _check_pace(pace_ns)
        cols = engine_columns(feed, null_ts_is_bad=True)
        try:
            raw = self._inner.run(
                cols.ts,
                cols.cols,
                record_features=record_features,
                pace_ns=pace_ns,
                skip_bad=on_bad == "skip",
                ring_stores=ring_stores,
            )
        except ValueError as err:
            null = cols.null_message(err)
            if null is None:
                raise
            # The engine's message describes the NaN (or -1) that stood in for the null.
            raise ValueError(null) from None
        return self._result(raw)

    def session(
        self,
        feeds: Iterable[tuple[str, str]] = (),
        *,
        cores: tuple[int, int] | None = None,
        pin_caller: bool = False,
        capacity: int = 16384,
        out_capacity: int = 65536,
        push_timeout_s: float = 1.0,
        max_window_ms: int = 3_600_000,
    ) -> Session:
        """Start a live session: a pinned worker thread that scores books pushed one by one.

        Parameters
        ----------
        feeds
            ``(exchange, symbol)`` pairs, given ids 0, 1, ... (`Session.add_feed` adds more).
        cores
            (caller, worker) cores; None: this engine's. The worker is pinned to the second.
        pin_caller
            Also pin the calling thread to the first core (it stays pinned afterwards).
        capacity, out_capacity
            Input ring size in books and output queue size in signals (powers of two): how far
            the worker may fall behind the pushes, and the caller's polls behind the worker.
        push_timeout_s
            How long a push waits for room before `BackpressureError`.
        max_window_ms
            The longest model window the session accepts (each feed keeps every book of it
            in memory, 32 bytes a book).

        Returns
        -------
        Session

        Raises
        ------
        ValueError
            Windows longer than `max_window_ms`, a ring size that is not a power of two.
        """
        core_ids = None if cores is None else _check_cores(cores)
        timeout = finite("push_timeout_s", push_timeout_s)
        if timeout < 0:
            msg = f"push_timeout_s must be >= 0 seconds, got {push_timeout_s!r}"
            raise ValueError(msg)
        inner = _core.Session(
            self._inner,
            capacity=_check_capacity(capacity),
            out_capacity=_check_capacity(out_capacity),
            cores=core_ids,
            pin_caller=bool(pin_caller),
            push_timeout_s=timeout,
            max_window_ms=int_within(
                max_window_ms, "max_window_ms", "an int number of ms", 2**64, "in 0..2^64 ms"
            ),
        )
        session = Session(inner, list(feeds))
        note = session.stats().pin_note
        if note:
            warnings.warn(note, LobflowWarning, stacklevel=2)
        return session

    def _result(self, raw: dict[str, Any]) -> RunResult:
        result = RunResult(
            scores=raw["scores"],
            signals=raw["signals"],
            features=raw["features"],
            feature_names=self._feature_names,
            latency_ns=dict(raw["latency_ns"]),
            latency_sampled_every=int(raw["latency_sampled_every"]),
            latency_buckets=[(int(v), int(c)) for v, c in raw["latency_buckets"]],
            ticks_per_s=float(raw["ticks_per_s"]),
            elapsed_ns=int(raw["elapsed_ns"]),
            n=int(raw["n"]),
            skipped=int(raw["skipped"]),
            cores_requested=tuple(raw["cores_requested"]),
            cores_used=tuple(raw["cores_used"]),
            pinned=tuple(raw["pinned"]),
            pin_note=raw["pin_note"],
            price_quantum=float(raw["price_quantum"]),
            max_price_error=float(raw["max_price_error"]),
            size_lot=float(raw["size_lot"]),
            sizes_inexact=int(raw["sizes_inexact"]),
            core_to_core_ns=_c2c(raw["core_to_core_ns"]),
            core_to_core_after_ns=_c2c(raw["core_to_core_after_ns"]),
            core_to_core_steady=raw["core_to_core_steady"],
            core_to_core_cut_short=_cut_short(raw["core_to_core_ns"], raw["core_to_core_after_ns"]),
            ring_stores=raw["ring_stores"],
            raw=raw,
        )
        if result.pin_note:
            warnings.warn(result.pin_note, LobflowWarning, stacklevel=3)
        if result.skipped * 10 > result.n:
            # Skipping is for the odd bad row; most of a feed skipped is most often one
            # timestamp far ahead, which every later row then goes back from.
            msg = (
                f"the run skipped {result.skipped:,} of its {result.n:,} rows "
                f"({result.skipped / result.n:.0%}); on_bad='raise' names the first and why "
                "(a timestamp far ahead of the rest makes every row after it go back)"
            )
            warnings.warn(msg, LobflowWarning, stacklevel=3)
        if result.sizes_inexact:
            valid = 2 * (result.n - result.skipped)
            msg = (
                f"{result.sizes_inexact:,} of the run's {valid:,} level-0 sizes were not whole "
                f"lots of {result.size_lot:g} below 2^31 and crossed as f32 (24 bits): OFI and "
                "its windows over them carry that rounding (RunResult.sizes_inexact, "
                "docs/tick-encoding.md)"
            )
            warnings.warn(msg, LobflowWarning, stacklevel=3)
        return result


def _check_pace(pace_ns: object) -> int | None:
    if pace_ns is None:
        return None
    return int_within(
        pace_ns,
        "pace_ns",
        "an int number of nanoseconds or None",
        2**63,
        "in 0..2^63 nanoseconds",
    )


def _check_cores(cores: object) -> tuple[int, int]:
    ids = tuple(cores) if isinstance(cores, tuple | list) else None
    if ids is None or len(ids) != 2:
        msg = f"cores must be two core ids (producer, worker), got {cores!r}"
        raise (TypeError if ids is None else ValueError)(msg)
    producer, worker = as_int(ids[0]), as_int(ids[1])
    if producer is None or worker is None:
        msg = f"cores must be two int core ids (producer, worker), got {cores!r}"
        raise TypeError(msg)
    if not (0 <= producer < 2**31 and 0 <= worker < 2**31):
        msg = f"cores must be core ids in 0..2^31, got {cores!r}"
        raise ValueError(msg)
    return (producer, worker)


def _check_capacity(capacity: object) -> int:
    return int_within(
        capacity, "capacity", "an int (a power of two >= 2)", 2**64, "a power of two >= 2"
    )


def _cut_short(*probes: dict[str, Any] | None) -> bool | None:
    ran = [bool(p["cut_short"]) for p in probes if p is not None]
    return any(ran) if ran else None


def _c2c(raw: dict[str, Any] | None) -> dict[str, float] | None:
    if raw is None:
        return None
    return {k: float(raw[k]) for k in ("p50", "p90", "p99", "min")}
