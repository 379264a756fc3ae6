"""A local aiohttp server that answers each venue path from a script, and reading helpers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
from aiohttp import web

P = Path(__file__).with_name("payloads")


def read(out: Path, kind: str) -> pl.DataFrame:
    return pl.scan_parquet(out / kind / "**" / "*.parquet", hive_partitioning=True).collect()


class Script:
    """An aiohttp server answering each venue path from a list of canned responses."""

    def __init__(self, answers: dict[str, list[tuple[int, dict[str, str], bytes]]]) -> None:
        self.answers = answers
        self.times: dict[str, list[float]] = {k: [] for k in answers}

    async def handle(self, req: web.Request) -> web.StreamResponse:
        path = req.path
        self.times[path].append(time.monotonic())
        queue = self.answers[path]
        status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if status == 0:  # reset the connection
            assert req.transport is not None
            req.transport.close()
            return web.Response()
        return web.Response(
            status=status, headers=headers, body=body, content_type="application/json"
        )

    async def __aenter__(self) -> str:
        app = web.Application()
        for path in self.answers:
            app.router.add_get(path, self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def now_ms() -> int:
    """The venues' clock: a venue time more than an hour from receipt is dropped as bad."""
    return time.time_ns() // 1_000_000


def kucoin_ok(seq: int, time_ms: int | None = None) -> bytes:
    """The captured KuCoin book, renumbered `seq` and stamped now + `seq` ms (or `time_ms`)."""
    doc = json.loads((P / "kucoin_orderbook_level2_20_rest.captured.json").read_bytes())
    doc["data"]["sequence"] = str(seq)
    doc["data"]["time"] = now_ms() + seq if time_ms is None else time_ms
    return json.dumps(doc).encode()
