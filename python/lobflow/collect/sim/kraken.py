"""Simulated Kraken: REST ``/0/public/Depth`` and ``AssetPairs``, and the WebSocket v2 API.

What the venue documents (docs.kraken.com: websocket-v2 book, instrument, status, ping;
the book-checksum-v2 guide; REST Depth and AssetPairs) and this module does:

- ``/v2`` greets with a ``status`` message. ``{"method":"subscribe","params":{"channel":
  "book","symbol":["BTC/USD"],"depth":10,"snapshot":true},"req_id":1}`` is acknowledged once
  per symbol (``result`` echoes channel, depth, snapshot, symbol; ``time_in``/``time_out``),
  then a ``snapshot`` and an ``update`` for every book event that changes the subscribed depth.
  Depths are 10, 25, 100, 500 and 1000.
- Prices and quantities are JSON numbers; each message carries the CRC32 checksum of the top
  10 asks (low to high) and bids (high to low), each price and qty formatted to the pair's
  ``price_precision`` / ``qty_precision`` with ``.`` and leading zeros removed. A level that
  left the subscribed depth only because better ones came is not sent (clients truncate);
  one that left the book is sent with qty 0. Timestamps are RFC 3339 with microseconds.
- ``{"channel":"heartbeat"}`` after a second without other messages (once subscribed);
  ``{"method":"ping"}`` is answered ``{"method":"pong",...}``.
- The ``instrument`` channel and REST ``AssetPairs`` give each pair's precisions.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lobflow.collect.sim.book import ASK, BID
from lobflow.collect.sim.faults import Fault
from lobflow.collect.sim.feed import Conn, Feed, Stream
from lobflow.collect.sim.instruments import (
    SYMBOLS,
    Instrument,
    fixed,
    instrument,
    json_number,
)
from lobflow.collect.sim.venue import VenueSim, dumps, parse_json, rfc3339
from lobflow.collect.venues.kraken import VENUE as KRAKEN
from lobflow.collect.venues.kraken import checksum_units

if TYPE_CHECKING:
    from lobflow.collect.sim.book import DeepBook, Event

WS_PATH = "/v2"
DEPTHS = (10, 25, 100, 500, 1000)
#: Kraken's qty precision of spot pairs (``lot_decimals``).
QTY_PRECISION = 8
#: REST Depth pads prices to at least this many decimals (``"105944.30000"``) and volumes
#: to at least this many (``"0.136"``), as the recorded and documented answers do.
REST_PRICE_DECIMALS = 5
REST_QTY_DECIMALS = 3
#: Legacy REST assets whose pairs against USD and EUR answer under an X/Z-prefixed key
#: (``XBTUSD`` answers as ``XXBTZUSD``); newer pairs answer under their own name.
LEGACY = {"XBT", "ETH", "LTC", "XRP", "XDG", "XMR", "ZEC", "ETC", "XLM", "REP", "MLN"}

View = tuple[dict[int, int], dict[int, int]]


def checksum(inst: Instrument, asks: list[tuple[int, int]], bids: list[tuple[int, int]]) -> int:
    """Kraken's CRC32 of the top 10 asks (low->high) then bids (high->low), in ticks and lots.

    The venue module's `checksum_units` computes it; lots are scaled to the pair's 8 qty
    decimals first.
    """
    scale = 10 ** (QTY_PRECISION - inst.qty_decimals)
    return checksum_units([(p, q * scale) for p, q in asks], [(p, q * scale) for p, q in bids])


def v2_symbol(inst: Instrument) -> str:
    """``BTC/USDT`` (the venue module's WebSocket spelling)."""
    return KRAKEN.ws_symbol(inst.unified)


def rest_pair(inst: Instrument) -> tuple[str, str]:
    """(altname, answer key): ``("XBTUSD", "XXBTZUSD")``, ``("XBTUSDT", "XBTUSDT")``."""
    alt = KRAKEN.symbol(inst.unified)
    base = alt[: -len(inst.quote)]
    if base in LEGACY and inst.quote in ("USD", "EUR"):
        return alt, f"X{base}Z{inst.quote}"
    return alt, alt


def altname(pair: str) -> str:
    """A legacy answer key given as a pair (``XXBTZUSD``) as its altname (``XBTUSD``)."""
    if len(pair) == 8 and pair[0] == "X" and pair[4] == "Z" and pair[1:4] in LEGACY:
        return pair[1:4] + pair[5:]
    return pair


def side_json(inst: Instrument, side: list[tuple[int, int]]) -> str:
    """``{"price":0.5666,"qty":4831.75496356},...`` with JSON numbers."""
    pd, qd = inst.price_decimals, inst.qty_decimals
    return ",".join(f'{{"price":{json_number(p, pd)},"qty":{json_number(q, qd)}}}' for p, q in side)


class KrakenConn(Conn):
    """A Kraken v2 socket: its books by (symbol, depth) and instrument subscription."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__("kraken", ws, request)
        self.instrument = False


class BookStream(Stream):
    """One symbol's book at one depth: snapshot, then an update per changing event."""

    interval_s = None

    def __init__(self, feed: Feed, depth: int) -> None:
        super().__init__(feed, f"book.{depth}.{v2_symbol(feed.inst)}")
        self.symbol = v2_symbol(feed.inst)
        self.depth = depth
        self.view: View = ({}, {})

    def top(self, book: DeepBook) -> View:
        """The subscribed depth's levels of a book."""
        return dict(book.top(BID, self.depth)), dict(book.top(ASK, self.depth))

    def reset(self) -> None:
        """Take the book as it is now (first subscriber, burst end)."""
        self.view = self.top(self.feed.book)

    def message(
        self, kind: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]], crc: int, ts: str
    ) -> str:
        """One snapshot or update message."""
        inst = self.feed.inst
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{self.symbol}",'
            f'"bids":[{side_json(inst, bids)}],"asks":[{side_json(inst, asks)}],'
            f'"checksum":{crc},"timestamp":"{ts}"}}]}}'
        )

    def view_checksum(self) -> int:
        """The checksum of the published view."""
        bids = sorted(self.view[BID].items(), reverse=True)
        asks = sorted(self.view[ASK].items())
        return checksum(self.feed.inst, asks, bids)

    def snapshot(self) -> str:
        """The snapshot a new subscriber gets: the view as last published."""
        bids = sorted(self.view[BID].items(), reverse=True)
        asks = sorted(self.view[ASK].items())
        ts = rfc3339(self.feed.book.last_event_ns)
        return self.message("snapshot", bids, asks, self.view_checksum(), ts)

    def diff(self, book: DeepBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """Move the view to ``book``; the (bids, asks) to send, or None if none changed."""
        new = self.top(book)
        out: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        for side in (BID, ASK):
            old, cur = self.view[side], new[side]
            for p, q in cur.items():
                if old.get(p) != q:
                    out[side].append((p, q))
            for p in old.keys() - cur.keys():
                if p not in book.qty[side]:  # gone from the book, not merely out of depth
                    out[side].append((p, 0))
            out[side].sort(reverse=side == BID)
        self.view = new
        return out if out[BID] or out[ASK] else None

    def on_event(self, ev: Event) -> None:
        """Take one book event."""
        d = self.diff(self.feed.book)
        if d is None:
            return
        if self.feed.pending.take(Fault.DROP):
            self.feed.dropped += 1
            return
        crc = self.view_checksum()
        if self.feed.pending.take(Fault.BAD_CHECKSUM):
            crc ^= 0x5A5A5A5A
        self.broadcast(
            self.message("update", d[BID], d[ASK], crc, rfc3339(ev.t_ns)), len(d[BID]) + len(d[ASK])
        )

    def burst_encode(self, book: DeepBook, ev: Event) -> tuple[str, int] | None:
        """A burst frame for one event (see `Stream.burst_encode`)."""
        d = self.diff(book)
        if d is None:
            return None
        msg = self.message("update", d[BID], d[ASK], self.view_checksum(), "\x00rfc\x00")
        return msg, len(d[BID]) + len(d[ASK])


def pair_info(inst: Instrument) -> dict[str, Any]:
    """A v2 ``instrument`` channel pair."""
    return {
        "symbol": v2_symbol(inst),
        "base": inst.base,
        "quote": inst.quote,
        "status": "online",
        "qty_precision": QTY_PRECISION,
        "qty_increment": 10.0**-QTY_PRECISION,
        "price_precision": inst.price_decimals,
        "cost_precision": 5,
        "marginable": False,
        "has_index": True,
        "cost_min": 0.5,
        "tick_size": 10.0**-inst.price_decimals,
        "price_increment": 10.0**-inst.price_decimals,
        "qty_min": 10.0 ** -min(inst.qty_decimals, QTY_PRECISION),
    }


def asset_pair(inst: Instrument) -> dict[str, Any]:
    """A REST ``AssetPairs`` entry."""
    alt, key = rest_pair(inst)
    base = alt[: -len(inst.quote)]
    legacy = key != alt
    return {
        "altname": alt,
        "wsname": f"{base}/{inst.quote}",
        "aclass_base": "currency",
        "base": f"X{base}" if legacy else base,
        "aclass_quote": "currency",
        "quote": f"Z{inst.quote}" if legacy else inst.quote,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": inst.price_decimals,
        "lot_decimals": QTY_PRECISION,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.4], [10000, 0.35]],
        "fees_maker": [[0, 0.25], [10000, 0.2]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": fixed(1, min(inst.qty_decimals, QTY_PRECISION)),
        "costmin": "0.5",
        "tick_size": fixed(1, inst.price_decimals),
        "status": "online",
    }


class Kraken(VenueSim[KrakenConn]):
    """Kraken's REST Depth and AssetPairs, and the WebSocket v2 book and instrument channels."""

    name = "kraken"
    rate = 25.0

    def routes(self, app: web.Application) -> None:
        """Add the venue's routes."""
        app.router.add_get(KRAKEN.path, self.rest_depth)
        app.router.add_get(KRAKEN.asset_pairs_path, self.rest_pairs)
        app.router.add_get(WS_PATH, self.ws)

    def new_conn(self, ws: web.WebSocketResponse, request: web.Request) -> KrakenConn:
        """A socket of this venue."""
        return KrakenConn(ws, request)

    # -- REST ----------------------------------------------------------------------------

    def _json(self, doc: object) -> web.Response:
        self.sim.requests += 1
        return web.Response(text=dumps(doc), content_type="application/json")

    async def rest_depth(self, req: web.Request) -> web.Response:
        """The REST order book."""
        u = self.listed(altname(req.query.get("pair", "")), ws=False)
        if u is None:
            return self._json({"error": ["EQuery:Unknown asset pair"]})
        raw = req.query.get("count", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= 500:
            return self._json({"error": ["EGeneral:Invalid arguments"]})
        feed = self.feed(u)
        book = self.sim.rest_book(feed)
        inst = feed.inst
        pd, qd = (
            max(inst.price_decimals, REST_PRICE_DECIMALS),
            max(inst.qty_decimals, REST_QTY_DECIMALS),
        )

        def rows(side: int) -> list[list[Any]]:
            stamps = book.stamp[side]
            return [
                [inst.price(p, pd), inst.qty(q, qd), stamps.get(p, 0)]
                for p, q in book.top(side, int(raw))
            ]

        _, key = rest_pair(inst)
        return self._json({"error": [], "result": {key: {"asks": rows(ASK), "bids": rows(BID)}}})

    async def rest_pairs(self, req: web.Request) -> web.Response:
        """REST ``AssetPairs``: each pair's precisions."""
        wanted = [p for p in req.query.get("pair", "").split(",") if p]
        insts: list[Instrument] = []
        for p in wanted:
            u = self.listed(altname(p), ws=False)
            if u is None:
                return self._json({"error": ["EQuery:Unknown asset pair"]})
            insts.append(instrument(u))
        if not wanted:
            insts = list(SYMBOLS.values())
        return self._json({"error": [], "result": {rest_pair(i)[1]: asset_pair(i) for i in insts}})

    # -- WebSocket -----------------------------------------------------------------------

    async def ws(self, req: web.Request) -> web.WebSocketResponse:
        """The venue's WebSocket endpoint."""
        conn = await self.accept(req)
        status = {
            "channel": "status",
            "type": "update",
            "data": [
                {
                    "version": "2.0.10",
                    "system": "online",
                    "api_version": "v2",
                    "connection_id": random.getrandbits(63),
                }
            ],
        }
        conn.send(dumps(status))
        await self.serve(conn)
        return conn.ws

    def _ack(self, conn: KrakenConn, doc: dict[str, Any], t_in: int, **fields: object) -> None:
        out: dict[str, Any] = {"method": doc.get("method")}
        if "req_id" in doc:
            out["req_id"] = doc["req_id"]
        out.update(fields)
        out["time_in"], out["time_out"] = rfc3339(t_in), rfc3339(time.time_ns())
        conn.send(dumps(out))

    def _error(
        self, conn: KrakenConn, doc: dict[str, Any], t_in: int, error: str, **fields: object
    ) -> None:
        self._ack(conn, doc, t_in, error=error, success=False, **fields)

    async def on_text(self, conn: KrakenConn, text: str) -> None:
        """Answer one client request."""
        t_in = time.time_ns()
        doc = parse_json(text)
        if not isinstance(doc, dict):
            self._error(conn, {}, t_in, "Malformed request")
            return
        method = doc.get("method")
        params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
        assert isinstance(params, dict)
        if method == "ping":
            out: dict[str, Any] = {"method": "pong"}
            if "req_id" in doc:
                out["req_id"] = doc["req_id"]
            out["time_in"], out["time_out"] = rfc3339(t_in), rfc3339(time.time_ns())
            conn.send(dumps(out))
        elif method not in ("subscribe", "unsubscribe"):
            self._error(conn, doc, t_in, f"Method not found {method}")
        elif params.get("channel") == "instrument":
            conn.instrument = method == "subscribe"
            self._ack(
                conn, doc, t_in, result={"channel": "instrument", "snapshot": True}, success=True
            )
            if method == "subscribe" and params.get("snapshot", True):
                pairs = [pair_info(i) for i in SYMBOLS.values()]
                assets = [
                    {
                        "id": a,
                        "status": "enabled",
                        "precision": 10,
                        "precision_display": 5,
                        "borrowable": False,
                        "collateral_value": 1.0,
                        "margin_rate": 0.02,
                    }
                    for a in sorted({i.base for i in SYMBOLS.values()} | {"USDT"})
                ]
                conn.send(
                    dumps(
                        {
                            "channel": "instrument",
                            "type": "snapshot",
                            "data": {"assets": assets, "pairs": pairs},
                        }
                    )
                )
        elif params.get("channel") != "book":
            self._error(conn, doc, t_in, f"Channel {params.get('channel')} not supported")
        else:
            await self._book(conn, doc, params, t_in, subscribe=method == "subscribe")

    async def _book(
        self,
        conn: KrakenConn,
        doc: dict[str, Any],
        params: dict[str, Any],
        t_in: int,
        *,
        subscribe: bool,
    ) -> None:
        depth = params.get("depth", 10)
        snap = params.get("snapshot", True)
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            self._error(conn, doc, t_in, "Missing field symbol")
            return
        if depth not in DEPTHS or isinstance(depth, bool):
            self._error(conn, doc, t_in, "Invalid depth")
            return
        for sym in symbols:
            u = self.listed(sym, ws=True) if isinstance(sym, str) else None
            if u is None:
                self._error(conn, doc, t_in, f"Currency pair not supported {sym}", symbol=sym)
                continue
            feed = self.feed(u)
            key = f"book.{depth}.{sym}"
            s = feed.streams.get(key)
            if s is None:
                s = feed.streams[key] = BookStream(feed, depth)
            assert isinstance(s, BookStream)
            result = {"channel": "book", "depth": depth, "snapshot": snap, "symbol": sym}
            if not subscribe:
                if conn in s.subs:
                    s.remove(conn)
                    result.pop("snapshot")
                    self._ack(conn, doc, t_in, result=result, success=True)
                else:
                    self._error(conn, doc, t_in, "Subscription Not Found", symbol=sym)
                continue
            if conn in s.subs:
                self._error(conn, doc, t_in, "Already subscribed", symbol=sym)
                continue
            if feed.bursting is not None:  # its snapshot must follow the burst's last frame
                await feed.bursting.done.wait()
            feed.advance()  # the others get every event up to now first
            first = not s.subs
            if first:
                s.reset()
            self._ack(conn, doc, t_in, result=result, success=True)
            if snap:
                conn.send(s.snapshot())
            s.add(conn)
            if first:
                self.subscribed(feed)

    async def keepalive(self, conn: KrakenConn) -> None:
        """Apply the venue's keep-alive rules."""
        now = time.monotonic()
        if conn.streams and now - max(conn.last_tx, conn.opened) >= self.cfg.kraken_heartbeat_s:
            conn.last_tx = now
            conn.send('{"channel":"heartbeat"}')
