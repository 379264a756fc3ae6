"""The simulated venue: one aiohttp server answering all four venues' REST order-book formats.

The book of each symbol evolves in wall-clock time with the model of
`lobflow.collect.simbook` (a step every 100 ms: AR(1) queues, one-tick moves that lean with
the imbalance, 1-3 tick spreads, occasional empty levels), seeded per symbol. Bodies copy the
shapes of the venues' real responses (tests/collect/payloads), prices and sizes as strings.

Run it with ``lobflow sim-exchange --port 8001`` or in-process::

    async with SimExchange(seed=1) as sim:
        await acollect(exchanges=["kucoin"], base_urls=sim.base_urls, ...)
"""

from __future__ import annotations

import json
import math
import time
import zlib

import numpy as np
from aiohttp import web

from lobflow.collect.venues import VENUES

STEP_S = 0.1


class SimBook:
    """One symbol's evolving book (the incremental form of `simulate_books`)."""

    def __init__(self, seed: int, price: float = 2_000.0, tick: float = 0.05) -> None:
        self.rng = np.random.default_rng(seed)
        self.tick = tick
        self.bid_ticks = round(price / tick)
        self.log0 = self.rng.normal(0.0, 0.8, 2)
        self.t = time.monotonic()
        self.seq = 1
        self._draw()

    def _draw(self) -> None:
        r = self.rng
        self.sizes = np.round(r.lognormal(0.0, 0.8, (2, 5)) * (1 + np.arange(5)) * 0.5, 4)
        self.sizes[:, 0] = np.round(np.exp(self.log0), 4) + 0.0001
        self.sizes[:, 1:][r.random((2, 4)) < 0.02] = 0.0
        self.spread = int(r.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))

    def advance(self) -> None:
        """Step the model to now (one step per 100 ms elapsed)."""
        now = time.monotonic()
        while now - self.t >= STEP_S:
            self.t += STEP_S
            qb, qa = self.sizes[0, 0], self.sizes[1, 0]
            qi0 = (qb - qa) / (qb + qa)
            if self.rng.random() < 0.35:
                self.bid_ticks += 1 if self.rng.random() < 0.5 + 0.3 * qi0 else -1
            self.log0 = 0.95 * self.log0 + self.rng.normal(0.0, 0.8 * math.sqrt(1 - 0.95**2), 2)
            self.seq += 1
            self._draw()

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(bids, asks) as decimal strings, best first."""

        def px(t: int) -> str:
            return f"{t * self.tick:.2f}"

        bids = [(px(self.bid_ticks - k), f"{self.sizes[0, k]:.4f}") for k in range(5)]
        asks = [(px(self.bid_ticks + self.spread + k), f"{self.sizes[1, k]:.4f}") for k in range(5)]
        return bids, asks


class SimExchange:
    """An aiohttp server on 127.0.0.1 that speaks KuCoin, Kraken, Bybit and Binance REST."""

    def __init__(self, *, seed: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.seed = seed
        self.host = host
        self.port = port
        self.books: dict[str, SimBook] = {}
        self.requests = 0
        self._runner: web.AppRunner | None = None

    def book(self, unified: str) -> SimBook:
        """The (lazily created) book of a unified symbol."""
        b = self.books.get(unified)
        if b is None:
            b = self.books[unified] = SimBook(self.seed * 1000 + zlib.crc32(unified.encode()))
        b.advance()
        return b

    def app(self) -> web.Application:
        """The aiohttp application (routes of all four venues)."""
        app = web.Application()
        app.router.add_get(VENUES["kucoin"].path, self._kucoin)
        app.router.add_get(VENUES["kraken"].path, self._kraken)
        app.router.add_get(VENUES["bybit"].path, self._bybit)
        app.router.add_get(VENUES["binance"].path, self._binance)
        return app

    async def __aenter__(self) -> SimExchange:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_urls(self) -> dict[str, str]:
        """The same server stands in for every venue."""
        return {name: f"http://{self.host}:{self.port}" for name in VENUES}

    def _unified(self, venue: str, symbol: str) -> str | None:
        for quote in ("USDT", "USDC", "USD", "EUR", "BTC"):
            if venue == "kucoin" and "-" in symbol:
                return symbol
            if symbol.endswith(quote) and len(symbol) > len(quote):
                base = symbol[: -len(quote)]
                return f"{'BTC' if base == 'XBT' else base}-{quote}"
        return None

    def _json(self, doc: object, status: int = 200) -> web.Response:
        self.requests += 1
        return web.Response(text=json.dumps(doc), status=status, content_type="application/json")

    async def _kucoin(self, req: web.Request) -> web.Response:
        u = self._unified("kucoin", req.query.get("symbol", ""))
        if u is None:
            return self._json({"code": "400100", "msg": "Invalid Parameter."})
        b = self.book(u)
        bids, asks = b.levels()
        data = {
            "time": time.time_ns() // 1_000_000,
            "sequence": str(b.seq),
            "bids": [list(x) for x in bids],
            "asks": [list(x) for x in asks],
        }
        return self._json({"code": "200000", "data": data})

    async def _kraken(self, req: web.Request) -> web.Response:
        pair = req.query.get("pair", "")
        u = self._unified("kraken", pair)
        if u is None:
            return self._json({"error": ["EQuery:Unknown asset pair"]})
        b = self.book(u)
        bids, asks = b.levels()
        now = int(time.time())
        # Kraken answers under its own key for the pair (XBTUSDT -> XXBTZUSDT).
        key = "XXBTZUSDT" if pair == "XBTUSDT" else pair
        res = {
            key: {"asks": [[p, s, now] for p, s in asks], "bids": [[p, s, now] for p, s in bids]}
        }
        return self._json({"error": [], "result": res})

    async def _bybit(self, req: web.Request) -> web.Response:
        sym = req.query.get("symbol", "")
        u = self._unified("bybit", sym)
        if u is None or req.query.get("category") != "spot":
            return self._json(
                {
                    "retCode": 10001,
                    "retMsg": "Not supported symbols",
                    "result": {},
                    "retExtInfo": {},
                    "time": time.time_ns() // 1_000_000,
                }
            )
        b = self.book(u)
        bids, asks = b.levels()
        ms = time.time_ns() // 1_000_000
        result = {
            "s": sym,
            "a": [list(x) for x in asks],
            "b": [list(x) for x in bids],
            "ts": ms,
            "u": b.seq,
            "seq": b.seq,
            "cts": ms - 1,
        }
        return self._json(
            {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": ms}
        )

    async def _binance(self, req: web.Request) -> web.Response:
        u = self._unified("binance", req.query.get("symbol", ""))
        if u is None:
            return self._json({"code": -1121, "msg": "Invalid symbol."}, status=400)
        b = self.book(u)
        bids, asks = b.levels()
        return self._json(
            {
                "lastUpdateId": b.seq,
                "bids": [list(x) for x in bids],
                "asks": [list(x) for x in asks],
            }
        )


def serve(port: int, seed: int = 0, host: str = "127.0.0.1") -> None:
    """Run the simulated venue until interrupted."""
    web.run_app(
        SimExchange(seed=seed, host=host, port=port).app(),
        host=host,
        port=port,
        print=lambda *_: None,
    )
