"""Kraken spot: REST ``/0/public/Depth`` and the WebSocket v2 ``book`` channel with its CRC32."""

from __future__ import annotations

import json
import time
import zlib
from typing import TYPE_CHECKING, Any

from lobflow.collect.decimals import units
from lobflow.collect.venues.base import (
    LEVELS,
    SYMBOL,
    Book,
    Kind,
    Outcome,
    Venue,
    generic_http,
    levels,
    rate_limited,
    split_concatenated,
    unified_symbol,
)
from lobflow.collect.ws.feeds import Action, FeedBook, Fetch, Malformed, Send, VenueStream

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from lobflow.collect.stats import StreamStats

#: Kraken's REST name of bitcoin.
_XBT = "XBT"
#: Levels per side the v2 checksum covers, whatever the subscribed depth.
CHECKSUM_LEVELS = 10


def checksum_units(asks: Sequence[tuple[int, int]], bids: Sequence[tuple[int, int]]) -> int:
    """The v2 book checksum of levels given as integer units of the pair's precisions.

    The venue's definition, as the simulated venue signs its frames and the tests check
    them; the live books are checked by the book machine (`lobflow._core.BookMachine`).

    `asks` low to high and `bids` high to low, each ``(price, qty)`` in units of
    ``10**-price_precision`` and ``10**-qty_precision``; only the first 10 of each count.
    Formatting a value to its precision and removing ``.`` and the leading zeros leaves
    exactly the decimal digits of its units, so the string is built from ints.
    """
    text = "".join(f"{p}{q}" for p, q in asks[:CHECKSUM_LEVELS])
    text += "".join(f"{p}{q}" for p, q in bids[:CHECKSUM_LEVELS])
    return zlib.crc32(text.encode())


def checksum(
    asks: Sequence[tuple[str, str]],
    bids: Sequence[tuple[str, str]],
    price_precision: int,
    qty_precision: int,
) -> int:
    """The v2 book checksum of levels given as decimal text (JSON number text or strings).

    Each price is formatted to ``price_precision`` decimals and each qty to ``qty_precision``
    (``0.566`` at 4 is ``0.5660``), as the venue computes it: the docs' own example verifies
    only that way. A value with more decimals than its precision is a ValueError.

    Examples
    --------
    >>> checksum([("0.5668", "4410.79769741")], [("0.5666", "4831.75496356")], 4, 8) > 0
    True
    """
    return checksum_units(
        [(units(p, price_precision), units(q, qty_precision)) for p, q in asks],
        [(units(p, price_precision), units(q, qty_precision)) for p, q in bids],
    )


class Kraken(Venue):
    """Kraken spot. REST ``XBTUSDT`` (answers under ``XXBTZUSDT``), WebSocket v2 ``BTC/USDT``."""

    name = "kraken"
    base_url = "https://api.kraken.com"
    path = "/0/public/Depth"
    #: Pair precisions for the checksum (``pair_decimals``, ``lot_decimals``).
    asset_pairs_path = "/0/public/AssetPairs"
    default_hz = 1.0
    budget_rps = 1.0
    budget_note = "about 1 request/s per IP for public endpoints: defaults to 1 Hz, not 3"
    ws_url = "wss://ws.kraken.com"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        base, _, quote = unified_symbol(unified).partition("-")
        return f"{_XBT if base == 'BTC' else base}{quote}"

    def ws_symbol(self, unified: str) -> str:  # noqa: D102
        return unified_symbol(unified).replace("-", "/")

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        s = venue_symbol.upper()
        if "/" in s:
            slashed = s.replace("/", "-")
            return slashed if SYMBOL.fullmatch(slashed) else None
        u = split_concatenated(s)
        if u is not None and u.startswith(f"{_XBT}-"):
            u = "BTC" + u[len(_XBT) :]
        return u

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"pair": self.symbol(unified), "count": str(LEVELS)}

    def stream(  # noqa: D102
        self,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> VenueStream:
        return KrakenStream(self, symbols, sink, stats)

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if (g := generic_http(status, headers)) is not None:
            return g
        doc = json.loads(body)
        errors = doc.get("error") or []
        if errors:
            e = str(errors[0])
            if "Too many requests" in e or "Rate limit" in e:
                return rate_limited(5.0, e)
            if e.startswith("EService: Throttled"):
                until = e.rsplit(":", 1)[-1].strip()
                digits = until.replace(".", "", 1)
                wait = float(until) - time.time() if digits.isascii() and digits.isdigit() else 5.0
                return rate_limited(max(1.0, wait), e)
            if e.startswith(("EQuery:Unknown asset pair", "EGeneral:Invalid arguments")):
                return Outcome(Kind.UNKNOWN_SYMBOL, reason=e)
            return Outcome(Kind.RETRY, reason=e)
        result = doc["result"]
        # The answer's key may differ from the requested pair (XBTUSDT -> XXBTZUSDT): take it.
        (book,) = result.values()
        # No book time: the per-level times are each level's last change (seconds, up to a
        # minute apart), and their newest goes backwards whenever the newest level is removed,
        # so the book is stamped on receipt. The newest level time is kept for reference.
        stamps = [int(r[2]) for r in book["bids"][:LEVELS] + book["asks"][:LEVELS]]
        extra = {"newest_level_s": max(stamps)} if stamps else {}
        return Outcome(Kind.OK, Book(levels(book["bids"]), levels(book["asks"]), None, None, extra))


# -- WebSocket v2: book channel, depth 10, CRC32 over the top 10 --------------------------------

#: The subscribed depth (the checksum covers 10 levels whatever the depth).
DEPTH = 10


class KrakenStream(VenueStream):
    """Kraken's v2 ``book`` channel: apply, truncate to the depth, check the CRC32.

    The book machine applies each message's levels in order (qty 0 deletes), truncates the
    book to the subscribed depth and checks the CRC32 of the top 10 asks and bids, each
    formatted to the pair's price and qty precision (REST AssetPairs
    ``pair_decimals``/``lot_decimals``, fetched once per symbol and handed to the machine);
    a mismatch is a gap: unsubscribe and subscribe again. Book time: the RFC 3339
    ``timestamp``; no sequence. Prices and sizes are JSON numbers, taken as their exact text,
    never as floats.
    """

    #: Kraken sends a heartbeat every second without other messages once subscribed; the
    #: client's pings keep a connection that waits for its pairs talking.
    ping_every_s = 10.0
    silence_s = 15.0
    book_depth = DEPTH

    def setup(self) -> None:  # noqa: D102
        self.by_ws = {self.venue.ws_symbol(s): s for s in self.symbols}
        #: (price precision, qty precision) per symbol, from AssetPairs.
        self.precision: dict[str, tuple[int, int]] = {}
        self.subscribed: dict[int, set[str]] = {}
        self.asking: set[str | None] = set()
        self._req = 0

    def book_key(self, symbol: str) -> str:  # noqa: D102
        return self.venue.ws_symbol(symbol)

    def ws_endpoint(self, conn: int, ws_base: str | None) -> str:  # noqa: D102
        ws_base = ws_base or self.venue.ws_url
        return f"{ws_base.rstrip('/')}/v2"

    def ping_text(self, conn: int) -> str:  # noqa: D102
        return '{"method":"ping"}'

    def book_scales(self, symbol: str) -> tuple[int, int] | None:  # noqa: D102
        return self.precision.get(symbol)

    def _book_msg(self, method: str, symbols: list[str]) -> str:
        self._req += 1
        params: dict[str, Any] = {
            "channel": "book",
            "symbol": [self.venue.ws_symbol(s) for s in symbols],
            "depth": DEPTH,
        }
        if method == "subscribe":
            params["snapshot"] = True
        return json.dumps({"method": method, "params": params, "req_id": self._req})

    def _subscribe(self, conn: int) -> list[Action]:
        done = self.subscribed.setdefault(conn, set())
        ready = [
            s
            for s, f in self.feeds.items()
            if not f.stopped and s in self.precision and s not in done
        ]
        done.update(ready)
        return [Send(conn, self._book_msg("subscribe", ready))] if ready else []

    def on_open(self, conn: int, ts_local: int) -> list[Action]:  # noqa: D102
        actions = self._subscribe(conn)
        missing = [s for s, f in self.feeds.items() if not f.stopped and s not in self.precision]
        if missing and None not in self.asking:
            self.asking.add(None)
            pairs = ",".join(self.venue.symbol(s) for s in missing)
            path = getattr(self.venue, "asset_pairs_path", "/0/public/AssetPairs")
            actions.append(Fetch(conn, "pairs", None, path, (("pair", pairs),)))
        return actions

    def on_rest(  # noqa: D102
        self, conn: int, what: str, symbol: str | None, status: int, body: str, ts_local: int
    ) -> list[Action]:
        if what != "pairs":
            return []
        self.asking.discard(symbol)
        path = getattr(self.venue, "asset_pairs_path", "/0/public/AssetPairs")
        doc = json.loads(body) if status == 200 else {}
        errors = doc.get("error") if isinstance(doc, dict) else None
        if status != 200 or errors:
            if symbol is not None and errors and "Unknown asset pair" in str(errors):
                self.stop_feed(symbol, f"Kraken: {errors[0]}")
                return []
            if symbol is None and errors and "Unknown asset pair" in str(errors):
                # One unknown pair fails the whole request: ask for each on its own.
                missing = [
                    s for s, f in self.feeds.items() if not f.stopped and s not in self.precision
                ]
                self.asking.update(missing)
                return [
                    Fetch(conn, "pairs", s, path, (("pair", self.venue.symbol(s)),))
                    for s in missing
                ]
            self.asking.add(symbol)
            params = (
                (("pair", self.venue.symbol(symbol)),)
                if symbol
                else (
                    (
                        "pair",
                        ",".join(
                            self.venue.symbol(s) for s in self.symbols if s not in self.precision
                        ),
                    ),
                )
            )
            return [Fetch(conn, "pairs", symbol, path, params)]  # the client spaces retries
        for info in doc["result"].values():
            unified = self.venue.unified(str(info.get("altname", "")))
            if unified in self.feeds:
                ps, qs = int(info["pair_decimals"]), int(info["lot_decimals"])
                self.precision[unified] = (ps, qs)
                self.machine.set_scales(self.index[unified], ps, qs)
        actions: list[Action] = []
        for c in sorted(self.open_conns):
            actions += self._subscribe(c)
        return actions

    def on_control(self, conn: int, text: str, ts_local: int) -> list[Action]:  # noqa: D102
        doc = json.loads(text)
        if doc.get("channel") == "book":
            msg = "a data frame the book machine could not read"
            raise Malformed(msg)
        if doc.get("method") == "subscribe" and doc.get("success") is False:
            why = str(doc.get("error"))
            symbol = self.by_ws.get(str(doc.get("symbol")))
            if symbol is not None and ("not supported" in why or "not found" in why):
                self.stop_feed(symbol, f"Kraken: {why}")
            else:
                self.stats.log_once("error", f"{self.venue.name}: {why}")
        return []  # status, heartbeat, pong, acks

    def resync(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        return [
            Send(fb.conn, self._book_msg("unsubscribe", [fb.symbol])),
            Send(fb.conn, self._book_msg("subscribe", [fb.symbol])),
        ]


VENUE = Kraken()
