"""``lobflow collect --transport ws``: one WebSocket client per venue, books to Parquet.

Writes ``<out>/processed`` in the REST collector's layout and columns (one row per change of
a feed's top 5: ``ts`` = the venue's book time, ``ts_local`` = the receive time of the frame
that changed it, ``seq`` = the venue's update id or null) and ``<out>/raw_ws`` (every event the
book machines saw, in order; `lobflow.collect.ws.replay.replay_raw` rebuilds the rows from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from lobflow.collect._flush import check_positive, finish, flush_loop, shut_down, stop_on_signals
from lobflow.collect._http import ACCEPT_ENCODING, refuse_redirects
from lobflow.collect._status import status_loop
from lobflow.collect.stats import StreamCollectStats, StreamStats
from lobflow.collect.venues import DEFAULT_EXCHANGE, VENUES, unified_symbol
from lobflow.collect.writer import Discard, PartWriter, check_out, recover
from lobflow.collect.ws.client import ROTATE_AFTER_S, Options, VenueClient, start_event

if TYPE_CHECKING:
    from lobflow.collect.ws.hooks import RowHook


async def astream(
    *,
    exchanges: list[str] | tuple[str, ...] = (DEFAULT_EXCHANGE,),
    symbols: list[str] | tuple[str, ...] = ("BTC-USDT",),
    duration_s: float | None = None,
    out: str | Path | None = "data",
    base_urls: dict[str, str] | None = None,
    ws_urls: dict[str, str] | None = None,
    flush_every_s: float = 5.0,
    live: bool | None = None,
    stop: asyncio.Event | None = None,
    rotate_after_s: float = ROTATE_AFTER_S,
    ping_every_s: float | None = None,
    silence_s: float | None = None,
    timeout_s: float = 10.0,
    on_row: RowHook | None = None,
    stats: StreamCollectStats | None = None,
) -> StreamCollectStats:
    """Stream `symbols`' books from `exchanges` until `duration_s`, `stop`, or SIGINT/SIGTERM.

    `base_urls` replaces a venue's REST scheme+host (snapshots, KuCoin's token, Kraken's pair
    precisions) and `ws_urls` its WebSocket scheme+host+port (KuCoin's endpoint comes from its
    token answer; `ws_urls` replaces that one's host). `rotate_after_s`, `ping_every_s` and
    `silence_s` shorten the connections' life, pings and silence limit (tests).
    `out=None` records nothing. `on_row` is told of every processed row as it is made
    (`lobflow.collect.ws.hooks.RowHook`); `stats`, when given, is filled as the run goes
    (a live view reads it) and returned.
    """
    unknown = [e for e in [*exchanges, *(ws_urls or {}), *(base_urls or {})] if e not in VENUES]
    if unknown:
        msg = f"unknown exchange(s) {unknown}; known: {sorted(VENUES)}"
        raise ValueError(msg)
    symbols = list(dict.fromkeys(unified_symbol(s) for s in symbols))
    check_positive("flush_every_s", flush_every_s)
    check_positive("rotate_after_s", rotate_after_s)
    check_positive("timeout_s", timeout_s)
    for name, value in (("duration_s", duration_s), ("ping_every_s", ping_every_s)):
        if value is not None:
            check_positive(name, value)
    if silence_s is not None:
        check_positive("silence_s", silence_s)
    if out is None:
        raw: PartWriter = Discard("raw_ws")
        processed: PartWriter = Discard("processed")
    else:
        root = Path(out)
        check_out(root)
        recover(root)
        raw = PartWriter(root, "raw_ws", flush_every_s)
        processed = PartWriter(root, "processed", flush_every_s)
    stop = stop or asyncio.Event()
    stats = stats if stats is not None else StreamCollectStats()
    options = Options(
        rotate_after_s=rotate_after_s,
        ping_every_s=ping_every_s,
        silence_s=silence_s,
        timeout_s=timeout_s,
    )
    run_id = time.time_ns()
    t0, cpu0 = time.monotonic(), time.process_time()
    lost: list[str] = []
    with stop_on_signals(stop):
        async with aiohttp.ClientSession(
            headers={"User-Agent": "lobflow-collector", "Accept-Encoding": ACCEPT_ENCODING},
            # Per request (REST) and per read (WebSocket): a session-wide total would cut streams.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout_s),
            auto_decompress=False,
            middlewares=(refuse_redirects,),
        ) as session:
            clients = [
                _client(
                    name,
                    symbols,
                    session,
                    raw,
                    processed,
                    stats,
                    stop,
                    options,
                    run_id,
                    (base_urls or {}).get(name),
                    (ws_urls or {}).get(name),
                    on_row,
                )
                for name in exchanges
            ]
            tasks = [asyncio.create_task(c.run()) for c in clients]
            flusher = asyncio.create_task(flush_loop(raw, processed, stop, stats))
            status = asyncio.create_task(status_loop(stats, stop, live))
            try:
                if duration_s is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), duration_s)
                else:
                    await stop.wait()
            finally:
                stop.set()
                status.cancel()
                await asyncio.gather(*tasks, flusher, status, return_exceptions=True)
                lost = shut_down(stats, raw, processed, cpu0, t0)
    finish(stats, raw, processed, t0, lost)
    return stats


def _client(
    name: str,
    symbols: list[str],
    session: aiohttp.ClientSession,
    raw: PartWriter,
    processed: PartWriter,
    stats: StreamCollectStats,
    stop: asyncio.Event,
    options: Options,
    run_id: int,
    base_url: str | None,
    ws_url: str | None,
    on_row: RowHook | None = None,
) -> VenueClient:
    venue = VENUES[name]
    st = stats.streams[name] = StreamStats()
    n = 0

    def record(
        ts_local: int, conn: int, event: str, symbol: str | None, status: int | None, body: str
    ) -> None:
        nonlocal n
        n += 1
        raw.add_row((name,), ts_local, (run_id, n, ts_local, conn, event, symbol, status, body))

    def sink(symbol: str, ts: int, row: tuple[object, ...]) -> None:
        processed.add_row((name, symbol), ts, row)
        client.emitted += 1
        if on_row is not None:
            on_row.on_row(name, symbol, row, client.read_ns)

    record(time.time_ns(), 0, "start", None, None, start_event(symbols))
    machine = venue.stream(symbols, sink, st)
    client = VenueClient(
        venue,
        machine,
        session,
        base_url or venue.base_url,
        ws_url,
        record,
        st,
        stop,
        options,
        clock=None if on_row is None else on_row.now_ns,
    )
    return client


def stream(
    *,
    exchanges: list[str] | tuple[str, ...] = (DEFAULT_EXCHANGE,),
    symbols: list[str] | tuple[str, ...] = ("BTC-USDT",),
    duration_s: float | None = None,
    out: str | Path = "data",
    base_urls: dict[str, str] | None = None,
    ws_urls: dict[str, str] | None = None,
    flush_every_s: float = 5.0,
    live: bool | None = None,
    stop: asyncio.Event | None = None,
    rotate_after_s: float = ROTATE_AFTER_S,
    ping_every_s: float | None = None,
    silence_s: float | None = None,
    timeout_s: float = 10.0,
) -> StreamCollectStats:
    """Blocking wrapper of `astream` (same arguments)."""
    return asyncio.run(
        astream(
            exchanges=exchanges,
            symbols=symbols,
            duration_s=duration_s,
            out=out,
            base_urls=base_urls,
            ws_urls=ws_urls,
            flush_every_s=flush_every_s,
            live=live,
            stop=stop,
            rotate_after_s=rotate_after_s,
            ping_every_s=ping_every_s,
            silence_s=silence_s,
            timeout_s=timeout_s,
        )
    )
