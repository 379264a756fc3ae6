"""`alive`: WebSocket books scored as they come by one resident engine session, recorded.

One `lobflow.Session` with one feed per (exchange, symbol); the collector's
`lobflow.collect.ws.stream.astream` reads the venues and hands every processed row to a
`lobflow.live.bridge.Bridge`, which pushes it into the session, polls the signals back and
writes them under ``<out>/signals`` beside the collector's ``raw_ws/`` and ``processed/``.

Shutdown (the duration, `stop`, Ctrl-C or SIGTERM): the collector stops reading and writes
what it holds; the session is closed, which scores every pushed book; the last signals are
polled and written; every writer compacts. A ``kill -9`` loses at most one flush interval of
each kind (the part files are written atomically; the next start tidies what was left).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lobflow._engine import Engine
from lobflow.collect._flush import check_positive, final_flush
from lobflow.collect.stats import StreamCollectStats
from lobflow.collect.venues import DEFAULT_EXCHANGE, VENUES, unified_symbol
from lobflow.collect.writer import PartWriter, check_out, recover
from lobflow.collect.ws.client import ROTATE_AFTER_S
from lobflow.collect.ws.stream import astream
from lobflow.errors import CollectorError, LobflowError
from lobflow.live.bridge import Bridge
from lobflow.live.stats import LiveStats
from lobflow.live.view import view_loop

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.live.stats import LiveSignal
    from lobflow.weights import Weights

log = logging.getLogger("lobflow.live")

#: Seconds between the timer's polls of the session (each push polls too).
POLL_EVERY_S = 0.002


async def alive(
    weights: Weights | str | Path,
    *,
    exchanges: list[str] | tuple[str, ...] = (DEFAULT_EXCHANGE,),
    symbols: list[str] | tuple[str, ...] = ("BTC-USDT",),
    duration_s: float | None = None,
    out: str | Path | None = None,
    base_urls: dict[str, str] | None = None,
    ws_urls: dict[str, str] | None = None,
    cores: tuple[int, int] | None = None,
    pin_caller: bool = False,
    flush_every_s: float = 5.0,
    view: bool | None = None,
    stop: asyncio.Event | None = None,
    on_signal: Callable[[LiveSignal], None] | None = None,
    poll_every_s: float = POLL_EVERY_S,
    push_timeout_s: float = 1.0,
    max_window_ms: int = 3_600_000,
    rotate_after_s: float = ROTATE_AFTER_S,
    ping_every_s: float | None = None,
    silence_s: float | None = None,
    timeout_s: float = 10.0,
) -> LiveStats:
    """Stream, score and (with `out`) record `symbols` on `exchanges` until told to stop.

    Parameters
    ----------
    weights
        The model (`lobflow.Weights` or a weights file).
    exchanges, symbols
        One feed per pair (unified symbols, e.g. ``BTC-USDT``).
    duration_s
        Stop after this long; None: at `stop`, Ctrl-C or SIGTERM.
    out
        Record ``raw_ws/`` and ``processed/`` as ``lobflow collect --transport ws`` does, and
        ``signals/``; None records nothing.
    base_urls, ws_urls
        Per venue, the REST scheme+host and the WebSocket scheme+host+port (a simulated venue).
    cores
        (caller, worker) cores of the session; None: chosen for the machine.
    pin_caller
        Pin the calling thread (the event loop's, which reads the sockets and pushes) to the
        first core, away from the worker's: it stays pinned after the run, so a process that
        does more than this should leave it off.
    flush_every_s
        The longest time a row (or signal) waits in memory before its part file is written:
        what a ``kill -9`` may lose.
    view
        The rich live view (None: on a terminal); otherwise a log line every 10 s.
    on_signal
        Called on the event loop with each signal as it is polled (keep it short).
    poll_every_s
        The timer's poll interval (each push also polls).
    push_timeout_s, max_window_ms
        The session's (`lobflow.Engine.session`).
    rotate_after_s, ping_every_s, silence_s, timeout_s
        The collector's (`lobflow.collect.ws.stream.astream`).

    Returns
    -------
    LiveStats

    Raises
    ------
    ValueError
        An unknown exchange or symbol, a bad option, or weights the session cannot honour
        (a window longer than `max_window_ms`), before anything starts.
    CollectorError
        ``out`` cannot be written (at start), or rows could not be written at the end.
    EngineError
        The session's worker died (after the run has stopped and written what it had).
    """
    unknown = [e for e in [*exchanges, *(ws_urls or {}), *(base_urls or {})] if e not in VENUES]
    if unknown:
        msg = f"unknown exchange(s) {unknown}; known: {sorted(VENUES)}"
        raise ValueError(msg)
    if not exchanges or not symbols:
        msg = "live needs at least one exchange and one symbol"
        raise ValueError(msg)
    exchanges = list(dict.fromkeys(exchanges))
    symbols = list(dict.fromkeys(unified_symbol(s) for s in symbols))
    for name, value in (("flush_every_s", flush_every_s), ("poll_every_s", poll_every_s)):
        check_positive(name, value)
    if duration_s is not None:
        check_positive("duration_s", duration_s)
    root = None if out is None else Path(out)
    if root is not None:
        check_out(root)
        recover(root)
    engine = Engine(weights, cores=cores)
    session = engine.session(
        [(e, s) for e in exchanges for s in symbols],
        pin_caller=pin_caller,
        push_timeout_s=push_timeout_s,
        max_window_ms=max_window_ms,
    )
    stop = stop or asyncio.Event()
    writer = None if root is None else PartWriter(root, "signals", flush_every_s)
    bridge = Bridge(session, writer, on_signal, stop)
    collect = StreamCollectStats()
    t0 = time.monotonic()
    poller = asyncio.create_task(bridge.poll_loop(stop, poll_every_s))
    flusher = asyncio.create_task(_flush_loop(writer, stop)) if writer is not None else None
    shown = asyncio.create_task(view_loop(bridge, collect, stop, view))
    collect_error: CollectorError | None = None
    try:
        await astream(
            exchanges=exchanges,
            symbols=symbols,
            duration_s=duration_s,
            out=root,
            base_urls=base_urls,
            ws_urls=ws_urls,
            flush_every_s=flush_every_s,
            live=False,
            stop=stop,
            rotate_after_s=rotate_after_s,
            ping_every_s=ping_every_s,
            silence_s=silence_s,
            timeout_s=timeout_s,
            on_row=bridge,
            stats=collect,
        )
    except CollectorError as e:  # rows it could not write: the signals are still written
        collect_error = e
    finally:
        stop.set()
        await asyncio.gather(poller, shown, return_exceptions=True)
        if flusher is not None:
            await asyncio.gather(flusher, return_exceptions=True)
        try:
            session.close()  # scores every pushed book
        except LobflowError as e:  # its worker died
            bridge.fail(e)
        bridge.drain()
        lost = final_flush(writer) if writer is not None else None
    stats = LiveStats(
        feeds=tuple(f.summary() for f in bridge.feeds),
        collect=collect,
        session=session.stats(),
        signals_written=0 if writer is None else writer.rows_written,
        elapsed_s=time.monotonic() - t0,
        out=root,
    )
    if bridge.error is not None:
        raise bridge.error
    if collect_error is not None or lost:
        msg = "; ".join(m for m in (str(collect_error or ""), lost or "") if m)
        err = CollectorError(msg)
        err.stats = collect
        raise err
    return stats


async def _flush_loop(writer: PartWriter, stop: asyncio.Event) -> None:
    """Write the signals every flush interval until `stop` (a failure keeps the rows)."""
    while not stop.is_set():
        await asyncio.sleep(0.2)
        if writer.due():
            batch = writer.take()  # on the loop, which fills it; encoding runs off it
            try:
                await asyncio.to_thread(writer.write, batch)
            except Exception as e:  # disk full, permissions: kept for the next flush
                writer.requeue(batch)
                log.error(
                    "writing signals under %s failed (%s: %s); %d rows stay in memory",
                    writer.root,
                    type(e).__name__,
                    e,
                    writer.pending(),
                )
