"""Reading a venue's HTTP answer within a size cap, on the wire and unpacked.

aiohttp's own decompression has no output limit, so the collector's session is opened with
``auto_decompress=False`` and asks only for the encodings it can unpack here with a bound:
identity, gzip and deflate (``zlib.decompressobj(...).decompress(data, max_length)``). A body
over the cap, compressed or not, is read no further than the cap and is a bad answer: a top-N
book is a few KB, so a larger one is a broken or hostile server, never a book.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import aiohttp

#: The encodings the collector asks for (and can unpack within a cap).
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class Body:
    """What was read of one answer: the (unpacked) bytes and why it is unusable, if it is."""

    data: bytes
    #: "" for a body within the cap; else "too_large" or "bad_encoding".
    problem: str = ""


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> Body:
    """Read `resp`'s body, at most `cap` bytes on the wire and `cap` bytes unpacked.

    An oversized body keeps its first `cap` bytes (for the raw record) and closes the
    connection instead of reading the rest.
    """
    declared = resp.content_length
    if declared is not None and declared > cap:
        resp.close()
        return Body(b"", "too_large")
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = await resp.content.read(cap + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    wire = b"".join(chunks)
    if size > cap:
        resp.close()
        return Body(wire[:cap], "too_large")
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return Body(wire)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return Body(wire[:cap], "bad_encoding")
    return _unpack(wire, cap)


def _unpack(wire: bytes, cap: int) -> Body:
    # MAX_WBITS | 32 reads a gzip or zlib header; some servers send "deflate" without one.
    for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(wire, cap + 1)
        except zlib.error:
            continue
        if len(out) > cap or d.unconsumed_tail:
            return Body(out[:cap], "too_large")
        return Body(out)
    return Body(wire[:cap], "bad_encoding")


class RedirectRefused(aiohttp.ClientError):
    """A venue answered a redirect, which the collector never follows."""


async def refuse_redirects(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Client middleware: a 3xx answer raises `RedirectRefused` instead of being followed.

    `ws_connect` follows redirects of its handshake and has no option to stop it; a session
    with this middleware stops it there too.
    """
    resp = await handler(req)
    if 300 <= resp.status < 400:
        where = resp.headers.get("Location", "")
        resp.release()
        msg = f"HTTP {resp.status} redirect to {where!r} not followed"
        raise RedirectRefused(msg)
    return resp
