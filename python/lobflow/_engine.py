"""`lobflow.Engine`: the Rust inference engine with a Python face."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, SupportsIndex

import polars as pl

from lobflow import _core
from lobflow._feed import FeedLike, engine_columns
from lobflow._schema import as_int, finite, int_within
from lobflow._session import Session
from lobflow._skipped import SKIP_HINT, warn_if_too_many
from lobflow.errors import LobflowWarning
from lobflow.weights import Weights

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    import numpy as np
    from numpy.typing import NDArray

    from lobflow._core import Latency, Pinning


@dataclass(frozen=True)
class RunResult:
    """What `Engine.run` returns: outputs aligned with the feed, and how the run went."""

    #: One score per feed row (NaN for a skipped row).
    scores: NDArray[np.float64]
    #: One signal per feed row: -1, 0 or 1 (0 for a skipped row).
    signals: NDArray[np.int8]
    #: The (n, 18) feature matrix when recorded (``record_features=True``), else None.
    features: NDArray[np.float64] | None
    #: The 18 feature names, in the matrix's column order.
    feature_names: tuple[str, ...]
    #: Feed rows.
    n: int
    #: Rows skipped under ``on_bad="skip"``.
    skipped: int
    #: Tick → signal latency (push to emit): percentiles and histogram.
    latency: Latency
    #: Valid ticks per second of the threaded part.
    ticks_per_s: float
    #: Wall time of the threaded part, ns.
    elapsed_ns: int
    #: Where the two threads ran and whether the OS pinned them.
    pinning: Pinning
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
    #: Worst |decoded - original| level-0 size: 0 when every level-0 size came back bit for
    #: bit (as sizes parsed from a venue's decimal text do). With ``max_price_error == 0``,
    #: what makes a live session's scores equal this run's bit for bit (docs/session.md).
    max_size_error: float

    @property
    def cores_used(self) -> tuple[int, int]:
        """The (producer, worker) cores the run used."""
        return self.pinning.used

    def features_frame(self) -> pl.DataFrame:
        """The recorded features as a DataFrame named by the model's windows."""
        if self.features is None:
            raise ValueError("features were not recorded: run with record_features=True")
        return pl.DataFrame(self.features, schema=list(self.feature_names), orient="row")

    def summary(self) -> str:
        """One line for a terminal: throughput, latency percentiles, cores."""
        lat = self.latency
        return (
            f"{self.n:,} ticks ({self.skipped:,} skipped) at "
            f"{self.ticks_per_s / 1e6:.1f} M ticks/s; latency p50 {lat.p50_ns:,} ns, "
            f"p90 {lat.p90_ns:,} ns, p99 {lat.p99_ns:,} ns, p99.9 {lat.p999_ns:,} ns, "
            f"max {lat.max_ns:,} ns (1 in {lat.sampled_every} timed); "
            f"cores {self.pinning.used[0]}+{self.pinning.used[1]}"
        )


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
        (producer, worker) cores: two non-negative ints, or None (the default) for the design's
        (2, 4) where this process may run on both, else the last two of its cores. Named cores
        that do not exist are replaced by existing ones, with a `LobflowWarning`.

    Examples
    --------
    >>> import lobflow, polars as pl
    >>> w = lobflow.Weights((10, 20, 50), 0.0, 0.0, (0.0, 1.0) + (0.0,) * 16)
    >>> book = {c: [1.0] for c in lobflow.CONTRACT_COLUMNS[1:]}
    >>> feed = pl.DataFrame({"ts": [0], **book, "bid_px_0": [100.0], "ask_px_0": [100.5]})
    >>> lobflow.Engine(w).run(feed).scores.tolist()
    [0.5]
    """

    def __init__(
        self,
        weights: Weights | str | os.PathLike[str],
        *,
        capacity: int = 131072,
        cores: tuple[int, int] | None = None,
    ) -> None:
        self.cores = None if cores is None else _check_cores(cores)
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
            out = self._inner.run(
                cols.ts,
                cols.cols,
                record_features=record_features,
                pace_ns=pace_ns,
                skip_bad=on_bad == "skip",
            )
        except ValueError as err:
            null = cols.null_message(err)
            if null is None:
                raise
            # The engine's message describes the NaN (or -1) that stood in for the null.
            raise ValueError(null) from None
        return self._result(out)

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
        note = session.stats().pinning.note
        if note:
            warnings.warn(note, LobflowWarning, stacklevel=2)
        return session

    def _result(self, out: _core.RunOutput) -> RunResult:
        result = RunResult(
            scores=out.scores,
            signals=out.signals,
            features=out.features,
            feature_names=self._feature_names,
            n=out.n,
            skipped=out.skipped,
            latency=out.latency,
            ticks_per_s=out.ticks_per_s,
            elapsed_ns=out.elapsed_ns,
            pinning=out.pinning,
            price_quantum=out.price_quantum,
            max_price_error=out.max_price_error,
            size_lot=out.size_lot,
            sizes_inexact=out.sizes_inexact,
            max_size_error=out.max_size_error,
        )
        if result.pinning.note:
            warnings.warn(result.pinning.note, LobflowWarning, stacklevel=3)
        # The one rule every stage that skips rows follows (`lobflow._skipped`).
        warn_if_too_many("the run", result.skipped, result.n, SKIP_HINT, stacklevel=3)
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
