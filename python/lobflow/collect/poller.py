"""The collector: one asyncio task per (venue, symbol) polling on a fixed clock grid.

Poll k of a feed is due at ``start + k / hz`` — never "sleep one period after the last poll",
which drifts by the request time every round. A poll that would start more than one period
late is skipped and counted. Each venue has one `aiolimiter.AsyncLimiter` at its documented
public budget (shared by its symbols) and one back-off state: rate-limit answers pause the
venue for the time the venue asks (Retry-After, gw-ratelimit-reset, the Throttled timestamp),
bans pause it for the whole ban, and transient faults (5xx, timeouts, resets, garbage) back off
exponentially with full jitter. The fixed grid is the retry loop: a paused feed simply skips
grid ticks, so no retry library sleeps behind the scheduler's back. One venue failing never
touches the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from yarl import URL

from lobflow.collect._flush import check_positive, finish, flush_loop, shut_down, stop_on_signals
from lobflow.collect._http import ACCEPT_ENCODING, read_capped
from lobflow.collect._status import status_loop
from lobflow.collect.stats import CollectStats, VenueStats
from lobflow.collect.venues import (
    DEFAULT_EXCHANGE,
    MAX_BAN_PAUSE_S,
    VENUES,
    Book,
    Kind,
    Venue,
    unified_symbol,
    validate,
)
from lobflow.collect.writer import PartWriter, check_out, recover

log = logging.getLogger("lobflow.collect")

#: Longest single sleep of a poll loop, so that a stop is noticed within this time.
STOP_SLICE_S = 0.25
#: A venue time further than this from the receive time is wrong (milliseconds sent as
#: microseconds, a broken clock), not merely late: the book is dropped as `bad_ts`.
MAX_CLOCK_SKEW_NS = 3600 * 10**9
#: Consecutive answers below the last sequence after which the venue is taken to have
#: restarted its numbering, rather than a lagging replica answering now and then.
SEQ_RESET_AFTER = 3
#: After good answers, an "unknown symbol" answer is a venue glitch (KuCoin answers 400100 for
#: many things): retried with back-off, and the feed stops only when it persists this long.
UNKNOWN_SYMBOL_PERSIST_S = 30.0


class _VenueState:
    """Shared by all feeds of one venue: its limiter and its pause."""

    def __init__(
        self, venue: Venue, base_url: str, n_symbols: int, hz: float, enforce: bool
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        # The budget is per IP: one limiter per venue, shared by its symbols' tasks. It is a
        # safety net behind the per-symbol rate, which already fits the budget.
        rps = venue.budget_rps if enforce else n_symbols * hz * 2
        self.limiter = AsyncLimiter(max(rps, 1e-3), 1.0)
        self.paused_until = 0.0
        self.failures = 0
        self.hz = hz
        self.n_symbols = n_symbols

    def pause(self, seconds: float, why: str) -> None:
        if not seconds <= MAX_BAN_PAUSE_S:  # also inf and NaN: never a pause without end
            log.warning(
                "%s asked a pause of %s s: capped at %.0f s",
                self.venue.name,
                seconds,
                MAX_BAN_PAUSE_S,
            )
            seconds = MAX_BAN_PAUSE_S
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        log.warning("%s paused %.1f s: %s", self.venue.name, seconds, why)

    def backoff(self, why: str) -> None:
        self.failures += 1
        cap = min(60.0, 0.25 * 2 ** min(self.failures, 8))
        self.pause(random.uniform(0, cap), why)  # full jitter


class _FeedOrder:
    """One feed's duplicate, staleness and time-order checks.

    `verdict` judges an answer without marking it seen; `commit` marks it once its row is
    queued, so an answer that fails validation leaves no trace (a later valid answer with the
    same sequence is news, not a duplicate).
    """

    def __init__(self, venue: str, symbol: str) -> None:
        self.where = f"{venue} {symbol}"
        self.last_seq: int | None = None
        self.last_hash: bytes | None = None
        self.last_ts = -1
        self.last_venue_ts: int | None = None
        self.lower = 0
        self._digest: bytes | None = None
        self._restart = False
        #: Whether the venue has answered this feed with a book yet.
        self.answered = False
        #: When the current run of "unknown symbol" answers after good ones began.
        self.unknown_since: float | None = None

    def verdict(self, book: Book, body: bytes) -> str | None:
        """None when `book` is news; else why it is not ("duplicate" or "stale")."""
        self._restart = False
        if book.seq is None:
            self._digest = hashlib.blake2b(body, digest_size=16).digest()
            return "duplicate" if self._digest == self.last_hash else None
        last = self.last_seq
        if last is None or book.seq > last:
            return None
        if book.seq == last:
            self.lower = 0
            return "duplicate"
        # Lower than the last: an old answer from a replica or cache, unless the venue says
        # it restarted (Bybit's u == 1), its time is newer, or lower answers keep coming.
        self.lower += 1
        newer = (
            book.venue_ts_ns is not None
            and self.last_venue_ts is not None
            and book.venue_ts_ns > self.last_venue_ts
        )
        if book.extra.get("reset") or newer or self.lower >= SEQ_RESET_AFTER:
            self._restart = True
            return None
        return "stale"

    def commit(self, book: Book, ts: int, stats: VenueStats) -> None:
        """Mark `book` (judged news by the last `verdict`, its row queued at `ts`) as seen."""
        if book.seq is None:
            self.last_hash = self._digest
        else:
            if self._restart:
                log.warning(
                    "%s: sequence started over (%d after %s)", self.where, book.seq, self.last_seq
                )
                stats.seq_resets += 1
            self.lower = 0
            self.last_seq = book.seq
        self.last_ts = ts
        self.last_venue_ts = book.venue_ts_ns


def _ingest(
    venue: Venue,
    st: _VenueState,
    unified: str,
    order: _FeedOrder,
    stats: VenueStats,
    processed: PartWriter,
    answer: tuple[int, dict[str, str], bytes, int],
) -> bool:
    """Classify, check and queue one answer; False when the feed must stop."""
    status, headers, body, recv_ns = answer
    out = venue.classify(status, headers, body)
    if out.kind is not Kind.OK:
        stats.errors[out.kind.value] += 1
        if out.kind is Kind.RATE_LIMITED or out.kind is Kind.BANNED:
            st.pause(out.wait_s, out.reason)
        elif out.kind is Kind.RETRY:
            st.backoff(out.reason)
        else:
            return _unknown_symbol(st, unified, order, out.reason)
        return True
    st.failures = 0
    order.answered = True
    order.unknown_since = None
    assert out.book is not None
    venue_ts = out.book.venue_ts_ns
    if venue_ts is not None and abs(venue_ts - recv_ns) > MAX_CLOCK_SKEW_NS:
        if not stats.invalid["bad_ts"]:
            log.warning(
                "%s %s: venue time %d ns is %.0f s from the receive time; dropped as bad_ts "
                "(the raw answer is kept)",
                venue.name,
                unified,
                venue_ts,
                (venue_ts - recv_ns) / 1e9,
            )
        stats.invalid["bad_ts"] += 1
        return True
    book, issues = validate(out.book)
    for issue in issues:
        stats.invalid[issue] += 1
    if book is None:
        return True
    why = order.verdict(book, body)
    if why == "duplicate":
        stats.duplicates += 1
        return True
    if why == "stale":
        stats.stale += 1
        return True
    ts = venue_ts if venue_ts is not None else recv_ns
    if ts < order.last_ts:
        stats.invalid["ts_backwards"] += 1
        return True
    row: dict[str, Any] = {"ts": ts}
    for side, levels in (("bid", book.bids), ("ask", book.asks)):
        for i, (px, sz) in enumerate(levels):
            row[f"{side}_px_{i}"] = px
            row[f"{side}_sz_{i}"] = sz
    row.update(ts_local=recv_ns, seq=book.seq)
    processed.add(venue.name, unified, ts, row)
    order.commit(book, ts, stats)
    stats.rows += 1
    return True


def _unknown_symbol(st: _VenueState, unified: str, order: _FeedOrder, reason: str) -> bool:
    """The venue says `unified` does not exist: False when the feed must stop."""
    name = st.venue.name
    if not order.answered:
        log.error("%s %s: %s; this feed stops", name, unified, reason)
        return False
    now = time.monotonic()
    if order.unknown_since is None:
        order.unknown_since = now
        log.warning(
            "%s %s: %s after good answers: a glitch, retried with back-off (the feed stops if "
            "it persists %.0f s)",
            name,
            unified,
            reason,
            UNKNOWN_SYMBOL_PERSIST_S,
        )
    elif now - order.unknown_since >= UNKNOWN_SYMBOL_PERSIST_S:
        log.error(
            "%s %s: %s for %.0f s after good answers; this feed stops",
            name,
            unified,
            reason,
            now - order.unknown_since,
        )
        return False
    st.backoff(reason)
    return True


async def _poll_feed(
    session: aiohttp.ClientSession,
    st: _VenueState,
    unified: str,
    stats: VenueStats,
    raw: PartWriter,
    processed: PartWriter,
    start: float,
    stop: asyncio.Event,
) -> None:
    venue = st.venue
    period = 1.0 / st.hz
    # The URL with its query is built once per feed: yarl's encoding is per-request cost.
    url = URL(st.base_url + venue.path).with_query(venue.params(unified))
    order = _FeedOrder(venue.name, unified)
    k = 0
    while not stop.is_set():
        due = start + k * period
        now = time.monotonic()
        if now - due > period:
            skipped = int((now - due) // period)
            stats.skipped_late += skipped
            k += skipped
            continue
        # A plain sleep, in slices of at most STOP_SLICE_S so a stop is seen promptly even
        # between slow polls: `wait_for(stop.wait(), ...)` would build and cancel a task and a
        # timer on every poll, a measurable share of the collector's CPU at 120 polls/s.
        while due > now and not stop.is_set():
            await asyncio.sleep(min(due - now, STOP_SLICE_S))
            now = time.monotonic()
        if stop.is_set():
            break
        k += 1
        if time.monotonic() < st.paused_until:
            stats.paused_polls += 1
            continue
        async with st.limiter:
            sent = time.monotonic()
            stats.jitter_ns.append(int((sent - due) * 1e9))
            ts_local = time.time_ns()
            try:
                # Redirects are never followed: a 3xx to another host could inject its books,
                # and a venue's book endpoint has no reason to move.
                async with session.get(url, allow_redirects=False) as resp:
                    read = await read_capped(resp, venue.max_body_bytes)
                    status = resp.status
                    headers = dict(resp.headers)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                stats.requests += 1
                stats.errors[type(e).__name__] += 1
                st.backoff(f"{type(e).__name__}: {e}")
                continue
        recv_ns = time.time_ns()
        stats.requests += 1
        stats.latency_ns.append(recv_ns - ts_local)
        body = read.data
        raw.add(
            venue.name,
            unified,
            recv_ns,
            {
                "ts_local": recv_ns,
                "status": status,
                "latency_ns": recv_ns - ts_local,
                "url": str(resp.url),
                "body": body.decode("utf-8", "replace"),
            },
        )
        if 300 <= status < 400:
            stats.redirects += 1
            if stats.redirects == 1 or stats.redirects % 100 == 0:
                log.warning(
                    "%s %s: HTTP %d redirect to %r not followed (%d so far)",
                    venue.name,
                    unified,
                    status,
                    headers.get("Location", ""),
                    stats.redirects,
                )
            st.backoff(f"HTTP {status} redirect")
            continue
        if read.problem:
            stats.errors[read.problem] += 1
            if stats.errors[read.problem] == 1:
                log.warning(
                    "%s %s: answer %s (cap %d bytes on the wire and unpacked); a bad answer",
                    venue.name,
                    unified,
                    read.problem.replace("_", " "),
                    venue.max_body_bytes,
                )
            st.backoff(read.problem)
            continue
        answer = (status, headers, body, recv_ns)
        try:
            if not _ingest(venue, st, unified, order, stats, processed, answer):
                return
        except Exception:  # one answer nobody foresaw must not end the feed silently
            stats.errors["internal"] += 1
            if stats.errors["internal"] == 1:
                log.exception("%s %s: answer not processed (kept in raw)", venue.name, unified)
            st.backoff("internal error")


async def acollect(
    *,
    exchanges: list[str] | tuple[str, ...] = (DEFAULT_EXCHANGE,),
    symbols: list[str] | tuple[str, ...] = ("BTC-USDT",),
    hz: float = 3.0,
    duration_s: float | None = None,
    out: str | Path = "data",
    base_urls: dict[str, str] | None = None,
    flush_every_s: float = 5.0,
    timeout_s: float = 2.0,
    live: bool | None = None,
    hz_per_venue: dict[str, float] | None = None,
    stop: asyncio.Event | None = None,
    enforce_budgets: bool = True,
    spread_feeds: bool = False,
) -> CollectStats:
    """Poll `symbols` on `exchanges` until `duration_s` passes, `stop` is set, or SIGINT/SIGTERM.

    Each venue's documented public budget (per IP, shared by its symbols) caps the per-symbol
    rate: Kraken's ~1 request/s means 1 Hz for one symbol, less for several. Only against
    local test servers may `enforce_budgets=False` lift the caps (benchmarks).
    `spread_feeds=True` phases the feeds over the poll period: much lower jitter, more CPU.
    Writes
    ``<out>/raw`` and ``<out>/processed`` (see `lobflow.collect.writer`).
    """
    unknown = [e for e in [*exchanges, *(hz_per_venue or {})] if e not in VENUES]
    if unknown:
        msg = f"unknown exchange(s) {unknown}; known: {sorted(VENUES)}"
        raise ValueError(msg)
    symbols = list(dict.fromkeys(unified_symbol(s) for s in symbols))
    check_positive("hz (polls per second)", hz)
    for e, rate in (hz_per_venue or {}).items():
        check_positive(f"hz_per_venue[{e!r}]", rate)
    check_positive("flush_every_s", flush_every_s)
    check_positive("timeout_s", timeout_s)
    if duration_s is not None:
        check_positive("duration_s", duration_s)
    root = Path(out)
    check_out(root)
    recovered = recover(root)
    if recovered:
        log.info("recovered %d interrupted writes under %s", recovered, root)
    raw = PartWriter(root, "raw", flush_every_s)
    processed = PartWriter(root, "processed", flush_every_s)
    stop = stop or asyncio.Event()
    states: dict[str, _VenueState] = {}
    stats = CollectStats()
    for e in exchanges:
        v = VENUES[e]
        # The public budget is per IP and shared by the venue's symbols.
        fair = min(hz, v.default_hz, v.budget_rps / max(1, len(symbols)))
        rate = (hz_per_venue or {}).get(e, fair if enforce_budgets else hz)
        if rate < hz:
            log.info("%s polls each symbol at %.2f Hz, not %.1f: %s", e, rate, hz, v.budget_note)
        states[e] = _VenueState(
            v, (base_urls or {}).get(e, v.base_url), len(symbols), rate, enforce_budgets
        )
        stats.venues[e] = VenueStats()
    t0 = time.monotonic()
    cpu0 = time.process_time()
    start = t0 + 0.05
    lost: list[str] = []
    with stop_on_signals(stop):
        async with aiohttp.ClientSession(
            headers={"User-Agent": "lobflow-collector", "Accept-Encoding": ACCEPT_ENCODING},
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            # Unpacked by `read_capped` within the venue's cap: aiohttp's own has no limit.
            auto_decompress=False,
        ) as session:
            # With `spread_feeds`, feeds are phased evenly over a poll period instead of firing
            # together: jitter p99 drops ~10x (no burst to wait behind) but the loop wakes once per
            # poll instead of once per burst, which costs CPU (both measured in docs/collector.md).
            feeds = [(e, s) for e in exchanges for s in symbols]
            phase = 1.0 / len(feeds) if spread_feeds else 0.0
            tasks = [
                asyncio.create_task(
                    _poll_feed(
                        session,
                        states[e],
                        s,
                        stats.venues[e],
                        raw,
                        processed,
                        start + i * phase / states[e].hz,
                        stop,
                    )
                )
                for i, (e, s) in enumerate(feeds)
            ]
            flusher = asyncio.create_task(flush_loop(raw, processed, stop, stats))
            status = asyncio.create_task(status_loop(stats, stop, live))
            try:
                if duration_s is not None:
                    try:
                        await asyncio.wait_for(stop.wait(), duration_s)
                    except TimeoutError:
                        stop.set()
                else:
                    await stop.wait()
                for (e, s), res in zip(
                    feeds, await asyncio.gather(*tasks, return_exceptions=True), strict=True
                ):
                    if isinstance(res, Exception):
                        log.error("%s %s: the feed failed: %r", e, s, res)
            finally:
                stop.set()
                for t in (*tasks, status):
                    t.cancel()
                # The flusher is not cancelled: a write it has started finishes before the last one.
                await asyncio.gather(*tasks, flusher, status, return_exceptions=True)
                lost = shut_down(stats, raw, processed, cpu0, t0)
    finish(stats, raw, processed, t0, lost)
    return stats


def collect(
    *,
    exchanges: list[str] | tuple[str, ...] = (DEFAULT_EXCHANGE,),
    symbols: list[str] | tuple[str, ...] = ("BTC-USDT",),
    hz: float = 3.0,
    duration_s: float | None = None,
    out: str | Path = "data",
    base_urls: dict[str, str] | None = None,
    flush_every_s: float = 5.0,
    timeout_s: float = 2.0,
    live: bool | None = None,
    hz_per_venue: dict[str, float] | None = None,
    stop: asyncio.Event | None = None,
    enforce_budgets: bool = True,
    spread_feeds: bool = False,
) -> CollectStats:
    """Blocking wrapper of `acollect` (same arguments)."""
    return asyncio.run(
        acollect(
            exchanges=exchanges,
            symbols=symbols,
            hz=hz,
            duration_s=duration_s,
            out=out,
            base_urls=base_urls,
            flush_every_s=flush_every_s,
            timeout_s=timeout_s,
            live=live,
            hz_per_venue=hz_per_venue,
            stop=stop,
            enforce_budgets=enforce_budgets,
            spread_feeds=spread_feeds,
        )
    )
