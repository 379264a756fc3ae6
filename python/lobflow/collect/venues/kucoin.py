"""KuCoin spot: REST ``level2_20`` snapshots and the ``level2Depth5`` WebSocket topic."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from yarl import URL

from lobflow.collect.venues.base import (
    SYMBOL,
    Book,
    Kind,
    Outcome,
    Venue,
    generic_http,
    levels,
    rate_limited,
    unified_symbol,
)
from lobflow.collect.ws.feeds import (
    Action,
    FeedBook,
    Fetch,
    Malformed,
    Reconnect,
    Send,
    VenueStream,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from lobflow.collect.stats import StreamStats


def _reset_s(headers: dict[str, str]) -> float:
    # No Retry-After on KuCoin: gw-ratelimit-reset is the pool's countdown in ms.
    reset = headers.get("gw-ratelimit-reset")
    return float(reset) / 1000 if reset and reset.isascii() and reset.isdigit() else 1.0


class KuCoin(Venue):
    """KuCoin spot. Symbols ``BTC-USDT`` (the unified spelling); codes in the body."""

    name = "kucoin"
    base_url = "https://api.kucoin.com"
    path = "/api/v1/market/orderbook/level2_20"
    default_hz = 3.0
    budget_rps = 2000 / 30 / 2
    budget_note = "public pool 2000 weight / 30 s, level2_20 weighs 2"
    #: The real endpoint comes from the bullet answer; ``--ws-url`` replaces its host.
    ws_url = "wss://ws-api-spot.kucoin.com"

    def symbol(self, unified: str) -> str:  # noqa: D102 - documented on Venue
        return unified_symbol(unified)

    def unified(self, venue_symbol: str) -> str | None:  # noqa: D102
        s = venue_symbol.upper()
        return s if SYMBOL.fullmatch(s) else None

    def params(self, unified: str) -> dict[str, str]:  # noqa: D102
        return {"symbol": self.symbol(unified)}

    def stream(  # noqa: D102
        self,
        symbols: list[str],
        sink: Callable[[str, int, tuple[object, ...]], None],
        stats: StreamStats,
    ) -> VenueStream:
        return KuCoinStream(self, symbols, sink, stats)

    def _classify(self, status: int, headers: dict[str, str], body: bytes) -> Outcome:
        if status == 429:
            return rate_limited(_reset_s(headers), "HTTP 429 (429000)")
        if (g := generic_http(status, headers)) is not None:
            return g
        doc = json.loads(body)
        code = str(doc.get("code"))
        if code == "429000":
            # The same countdown header comes with a 429000 body whatever the status.
            return rate_limited(_reset_s(headers), "429000 in body")
        if code in ("900001", "400100"):
            # 400100 is also KuCoin's answer to many other things: poller.py retries it once
            # the feed has had good answers.
            return Outcome(Kind.UNKNOWN_SYMBOL, reason=f"{code}: {doc.get('msg')}")
        if code != "200000":
            return Outcome(Kind.RETRY, reason=f"code {code}: {doc.get('msg')}")
        d = doc["data"]
        book = Book(
            levels(d["bids"]), levels(d["asks"]), int(d["time"]) * 1_000_000, int(d["sequence"])
        )
        return Outcome(Kind.OK, book)


# -- WebSocket: a token per connection, whole top-5 books ---------------------------------------

BULLET_PATH = "/api/v1/bullet-public"
TOPIC = "/spotMarket/level2Depth5:"


class KuCoinStream(VenueStream):
    """KuCoin's ``/spotMarket/level2Depth5``: every message is a whole top-5 book.

    Each connection first asks ``POST /api/v1/bullet-public`` for a token and an endpoint (a
    new token every time: an expired one is refused), connects to
    ``<endpoint>?token=..&connectId=..``, waits for ``welcome``, subscribes, and pings every
    ``pingInterval`` ms. A message older than the book (by its ``timestamp``) is stale (the
    book machine applies it). Book time: ``timestamp``; no sequence.
    """

    def setup(self) -> None:  # noqa: D102
        #: (endpoint, token) of each connection, from its bullet answer.
        self.bullets: dict[int, tuple[str, str]] = {}
        #: The symbol of each subscribe request, by its id.
        self.requests: dict[str, str] = {}

    def book_key(self, symbol: str) -> str:  # noqa: D102
        return TOPIC + self.venue.ws_symbol(symbol)

    def connect_fetches(self, conn: int) -> list[Fetch]:  # noqa: D102
        return [Fetch(conn, "bullet", None, BULLET_PATH, method="POST")]

    def on_rest(  # noqa: D102
        self, conn: int, what: str, symbol: str | None, status: int, body: str, ts_local: int
    ) -> list[Action]:
        if what != "bullet" or status != 200:
            return []
        doc = json.loads(body)
        data = doc["data"]
        server = data["instanceServers"][0]
        self.bullets[conn] = (str(server["endpoint"]), str(data["token"]))
        self.ping_every_s = float(server["pingInterval"]) / 1000
        self.silence_s = (float(server["pingInterval"]) + float(server["pingTimeout"])) / 1000
        return []

    def ws_endpoint(self, conn: int, ws_base: str | None) -> str | None:  # noqa: D102
        bullet = self.bullets.get(conn)
        if bullet is None:
            return None
        url = URL(bullet[0])
        if ws_base:  # --ws-url replaces the scheme, host and port of the bullet's endpoint
            base = URL(ws_base)
            url = url.with_scheme(base.scheme).with_host(base.raw_host or "").with_port(base.port)
        return str(url.update_query(token=bullet[1], connectId=f"lobflow-{conn}"))

    def ping_text(self, conn: int) -> str:  # noqa: D102
        return json.dumps({"id": f"ping-{conn}", "type": "ping"})

    def on_open(self, conn: int, ts_local: int) -> list[Action]:  # noqa: D102
        return []  # the welcome frame says when to subscribe

    def on_control(self, conn: int, text: str, ts_local: int) -> list[Action]:  # noqa: D102
        doc = json.loads(text)
        kind = doc.get("type")
        if kind == "message":
            msg = "a data frame the book machine could not read"
            raise Malformed(msg)
        if kind == "welcome":
            # One symbol per subscription, so that a refusal names its feed.
            actions: list[Action] = []
            for s, f in self.feeds.items():
                if not f.stopped:
                    sub = f"sub-{conn}-{len(self.requests)}"
                    self.requests[sub] = s
                    doc = {"id": sub, "type": "subscribe", "topic": TOPIC + self.venue.ws_symbol(s)}
                    actions.append(Send(conn, json.dumps({**doc, "response": True})))
            return actions
        if kind == "error":
            code, why = doc.get("code"), str(doc.get("data"))
            if str(code) == "404":
                symbol = self.requests.get(str(doc.get("id")))
                if symbol is not None:
                    self.stop_feed(symbol, f"KuCoin 404: {why}")
                return []
            # 401 (token invalid or expired), 509 (busy), 400 (ping timeout): a new
            # connection, with a new token.
            self.stats.log_once("error", f"{self.venue.name}: error {code}: {why}")
            return [Reconnect(conn, f"KuCoin error {code}: {why}")]
        return []  # ack, pong

    def resync(self, fb: FeedBook) -> list[Action]:  # noqa: D102
        return []  # every message is a whole book: the next one resyncs


VENUE = KuCoin()
