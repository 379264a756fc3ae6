"""A collection run's frame, shared by the REST and WebSocket transports.

Its option checks, its signals, the periodic flush loop, the final flush and the run's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from typing import TYPE_CHECKING, Any

from lobflow._malloc import pin_mmap_threshold, release_free_memory
from lobflow.errors import CollectorError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lobflow.collect.stats import CollectStats
    from lobflow.collect.writer import PartWriter

log = logging.getLogger("lobflow.collect")

#: Attempts of the final flush at shutdown, and the pause between them, before the rows that
#: could not be written are reported.
SHUTDOWN_WRITE_ATTEMPTS = 3
SHUTDOWN_RETRY_PAUSE_S = 1.0


def check_positive(name: str, value: float) -> None:
    """A ValueError naming `name` unless `value` is a finite number > 0."""
    # `not (x > 0)` also catches NaN; a zero or negative rate would divide by zero or spin.
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        msg = f"{name} must be a number > 0, got {value!r}"
        raise ValueError(msg)
    if not math.isfinite(value):
        msg = f"{name} must be finite, got {value!r}"
        raise ValueError(msg)


async def flush_loop(
    raw: PartWriter, processed: PartWriter, stop: asyncio.Event, stats: CollectStats
) -> None:
    """Write both writers' rows every flush interval until `stop` (failures keep the rows)."""
    # A run of hours: keep its heap from creeping up (see `lobflow._malloc`).
    pin_mmap_threshold()
    while not stop.is_set():
        await asyncio.sleep(0.2)
        if processed.due():
            # Swap the buffers here, on the loop thread that fills them, so no row can slip
            # between a snapshot and a clear; Parquet encoding then runs off the loop.
            batches = (raw.take(), processed.take())
            try:
                await asyncio.to_thread(_write_both, raw, processed, batches)
            except Exception as e:  # disk full, permissions, ...: keep the rows, keep going
                stats.write_errors += 1
                raw.requeue(batches[0])
                processed.requeue(batches[1])
                log.error(
                    "writing part files under %s failed (%s: %s); %d raw and %d processed rows "
                    "stay in memory for the next flush",
                    raw.root.parent,
                    type(e).__name__,
                    e,
                    raw.pending(),
                    processed.pending(),
                )


def _write_both(raw: PartWriter, processed: PartWriter, batches: tuple[Any, Any]) -> None:
    # Both are attempted whatever the first does; what failed stays in `batches`.
    first: Exception | None = None
    for writer, batch in zip((raw, processed), batches, strict=True):
        try:
            writer.write(batch)
        except Exception as e:  # re-raised below, after the other writer had its turn
            first = first or e
    # The interval's rows, frames and Parquet buffers are freed now: their pages go back to
    # the system, or a run of hours creeps up in resident memory (see `lobflow._malloc`).
    release_free_memory()
    if first is not None:
        raise first


def final_flush(writer: PartWriter) -> str | None:
    """Flush and compact at shutdown; a message naming what could not be written, if any."""
    for attempt in range(1, SHUTDOWN_WRITE_ATTEMPTS + 1):
        try:
            writer.flush()
            break
        except Exception as e:  # retried, then reported with the rows it cost
            error = e
            log.error(
                "final %s flush, attempt %d: %s: %s", writer.kind, attempt, type(e).__name__, e
            )
            if attempt < SHUTDOWN_WRITE_ATTEMPTS:
                time.sleep(SHUTDOWN_RETRY_PAUSE_S)
    else:
        return (
            f"{writer.pending()} {writer.kind} rows could not be written under {writer.root}: "
            f"{type(error).__name__}: {error}"
        )
    try:
        writer.compact()
    except Exception as e:  # the parts are all written; the next start finishes the job
        log.warning(
            "compacting %s failed (%s: %s); its parts stay", writer.root, type(e).__name__, e
        )
    return None


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` inside the block (on the running loop).

    Outside the main thread, or without signal support, nothing is installed: the caller
    stops the run instead.
    """
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def shut_down(
    stats: CollectStats, raw: PartWriter, processed: PartWriter, cpu0: float, t0: float
) -> list[str]:
    """Flush both writers for the last time, once a run's tasks are done; what was lost.

    Records the run's CPU and wall time while collecting, then the final flush's CPU. Raw and
    processed are flushed independently, so one failing cannot cost the other; the messages
    returned name what could not be written, one a writer.
    """
    stats.polling_cpu_s = time.process_time() - cpu0
    stats.polling_wall_s = time.monotonic() - t0
    lost = [m for m in (final_flush(raw), final_flush(processed)) if m is not None]
    stats.shutdown_cpu_s = time.process_time() - cpu0 - stats.polling_cpu_s
    return lost


def finish(
    stats: CollectStats, raw: PartWriter, processed: PartWriter, t0: float, lost: list[str]
) -> None:
    """The run's totals into `stats`; a `CollectorError` carrying them where rows were lost."""
    stats.raw_rows = raw.rows_written
    stats.processed_rows = processed.rows_written
    stats.elapsed_s = time.monotonic() - t0
    if lost:
        err = CollectorError("; ".join(lost))
        err.stats = stats
        raise err
