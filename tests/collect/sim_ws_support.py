"""Helpers of the simulated venue's WebSocket tests: payload shapes, bounded reads, books."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.collect.scripted import P

if TYPE_CHECKING:
    from collections.abc import Callable

#: Longest wait for one expected message: a bound, not a timing assertion.
WAIT_S = 5.0


def payload(name: str) -> Any:
    """A venue's documented or recorded body from tests/collect/payloads (``//`` comments go)."""
    text = (P / name).read_text()
    if name.endswith(".jsonc"):
        text = re.sub(r"//[^\n]*", "", text)
    return json.loads(text)


def shape(x: Any) -> Any:
    """Keys and JSON types of a document: lists by their first element, scalars by type."""
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()}
    if isinstance(x, list):
        return [shape(x[0])] if x else []
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if x is None:
        return "null"
    return type(x).__name__


async def recv(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT_S) -> Any:
    """The next text message as JSON; AssertionError if the socket closes instead."""
    msg = await ws.receive(timeout=within)
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text message, got {msg.type!r}"
    return json.loads(msg.data)


async def recv_until(
    ws: aiohttp.ClientWebSocketResponse,
    pred: Callable[[Any], bool],
    limit: int = 500,
    within: float = WAIT_S,
) -> Any:
    """The first message matching ``pred`` within ``limit`` messages."""
    for _ in range(limit):
        doc = await recv(ws, within)
        if pred(doc):
            return doc
    msg = f"no matching message in {limit}"
    raise AssertionError(msg)


async def closed(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT_S) -> bool:
    """True once the server ends the socket (reading and dropping what comes first)."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.ERROR,
            ):
                return True


async def silent(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> bool:
    """True if nothing at all arrives for ``seconds`` (a stalled socket)."""
    try:
        await ws.receive(timeout=seconds)
    except TimeoutError:
        return True
    return False


def kraken_checksum(
    asks: dict[Decimal, Decimal], bids: dict[Decimal, Decimal], price_dp: int, qty_dp: int
) -> int:
    """The v2 checksum exactly as Kraken's guide writes it, from the client's own book."""

    def fmt(x: Decimal, dp: int) -> str:
        return f"{x:.{dp}f}".replace(".", "").lstrip("0")

    text = "".join(fmt(p, price_dp) + fmt(asks[p], qty_dp) for p in sorted(asks)[:10])
    text += "".join(
        fmt(p, price_dp) + fmt(bids[p], qty_dp) for p in sorted(bids, reverse=True)[:10]
    )
    return zlib.crc32(text.encode())


class KrakenBook:
    """A client's Kraken v2 book: apply every level of a message, truncate, check."""

    def __init__(self, depth: int, price_dp: int, qty_dp: int) -> None:
        self.depth, self.price_dp, self.qty_dp = depth, price_dp, qty_dp
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, data: dict[str, Any]) -> bool:
        """Apply one message's data entry; True if its checksum matches the book."""
        for side, book in (("bids", self.bids), ("asks", self.asks)):
            for lv in data[side]:
                p, q = Decimal(str(lv["price"])), Decimal(str(lv["qty"]))
                if q == 0:
                    book.pop(p, None)
                else:
                    book[p] = q
        for p in sorted(self.bids, reverse=True)[self.depth :]:
            del self.bids[p]
        for p in sorted(self.asks)[self.depth :]:
            del self.asks[p]
        crc = kraken_checksum(self.asks, self.bids, self.price_dp, self.qty_dp)
        return bool(crc == data["checksum"])


def top(levels: list[list[str]], n: int) -> list[tuple[Decimal, Decimal]]:
    """The first ``n`` ``[price, qty]`` string pairs as Decimals."""
    return [(Decimal(p), Decimal(q)) for p, q in levels[:n]]
