"""Source files written the way tardis.dev and LOBSTER write them, and a naive book oracle.

The oracle rebuilds each book with a plain dict and a full sort per update: nothing shared
with lobflow's importers (sorted containers, block parsing, vectorised padding).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"


@dataclass
class Oracle:
    """A book as two dicts of exact prices, read out as a contract row the slow way."""

    bids: dict[Decimal, float] = field(default_factory=dict)
    asks: dict[Decimal, float] = field(default_factory=dict)

    def apply(self, side: str, price: str, amount: str) -> None:
        book = self.bids if side == "bid" else self.asks
        if Decimal(amount) == 0:
            book.pop(Decimal(price), None)
        else:
            book[Decimal(price)] = float(amount)

    def row(self) -> tuple[float, ...] | None:
        """The 20 book values (collector padding), or None for an empty or crossed book."""
        b = sorted(self.bids.items(), reverse=True)[:5]
        a = sorted(self.asks.items())[:5]
        if not b or not a or b[0][0] >= a[0][0]:
            return None
        b += [(b[-1][0], 0.0)] * (5 - len(b))
        a += [(a[-1][0], 0.0)] * (5 - len(a))
        return (
            tuple(float(p) for p, _ in b)
            + tuple(s for _, s in b)
            + tuple(float(p) for p, _ in a)
            + tuple(s for _, s in a)
        )


def _fmt(x: Decimal, rng: np.random.Generator) -> str:
    """A price as tardis may spell it: sometimes with trailing zeros."""
    text = format(x, "f")
    return text + "0" * int(rng.integers(0, 2)) if "." in text else text


def incremental(
    path: Path,
    updates: int,
    *,
    seed: int = 0,
    symbols: tuple[str, ...] = ("BTCUSDT",),
    resnapshot_every: int = 0,
    compress: bool = False,
    oracle: bool = True,
) -> list[tuple[str, str, int, int, int, tuple[float, ...] | None]]:
    """Write a random incremental_book_L2 file; return the expected row after each update.

    Each returned item is (exchange, symbol, timestamp µs, local_timestamp µs, line of the
    update's last row, the oracle's book or None). Updates are messages of 1-6 rows sharing
    their timestamps, at any depth (most beyond the top five), with deletions; every
    `resnapshot_every` updates a fresh snapshot replaces the whole book. Without `oracle`
    the books are not computed (None), for files only read for their size.
    """
    rng = np.random.default_rng(seed)
    tick = Decimal("0.1")
    lines = [HEADER]
    expected: list[tuple[str, str, int, int, int, tuple[float, ...] | None]] = []
    mids = {s: 300_000 + 1000 * i for i, s in enumerate(symbols)}
    oracles = {s: Oracle() for s in symbols}
    t = 1_723_075_200_000_000

    def snapshot(sym: str, ts: int, lts: int) -> None:
        oracle = oracles[sym] = Oracle()
        mid = mids[sym]
        for k in range(int(rng.integers(3, 30))):
            for side, price in (("ask", mid + 1 + k), ("bid", mid - 1 - k)):
                amount = f"{rng.integers(1, 5000) / 1000:.3f}"
                text = _fmt(price * tick, rng)
                lines.append(f"binance-futures,{sym},{ts},{lts},true,{side},{text},{amount}")
                oracle.apply(side, text, amount)

    for sym in symbols:
        snapshot(sym, t, t + 150)
        expected.append(("binance-futures", sym, t, t + 150, len(lines), oracles[sym].row()))
    for u in range(updates):
        t += int(rng.integers(1, 50_000))
        sym = symbols[int(rng.integers(len(symbols)))]
        lts = t + int(rng.integers(100, 3_000))
        if resnapshot_every and u and u % resnapshot_every == 0:
            mids[sym] += int(rng.integers(-20, 21))
            snapshot(sym, t, lts)
        else:
            mids[sym] += int(rng.integers(-1, 2))
            # A level the new mid runs over (bids stay below it, asks above) leaves the book
            # in the same message, as on a venue. The mid moves one tick, so only its own
            # price can be run over.
            now = oracles[sym]
            at_mid = mids[sym] * tick
            for side, levels in (("bid", now.bids), ("ask", now.asks)):
                if at_mid in levels:
                    lines.append(f"binance-futures,{sym},{t},{lts},false,{side},{at_mid},0")
                    now.apply(side, str(at_mid), "0")
            for _ in range(int(rng.integers(1, 7))):
                side = "bid" if rng.random() < 0.5 else "ask"
                depth = int(rng.geometric(0.25)) - 1
                sign = -1 if side == "bid" else 1
                price = mids[sym] + sign * (1 + depth)
                amount = "0" if rng.random() < 0.3 else f"{rng.integers(1, 5000) / 1000:.3f}"
                text = _fmt(price * tick, rng)
                lines.append(f"binance-futures,{sym},{t},{lts},false,{side},{text},{amount}")
                oracles[sym].apply(side, text, amount)
        book = oracles[sym].row() if oracle else None
        expected.append(("binance-futures", sym, t, lts, len(lines), book))
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return expected


def kept_rows(
    expected: list[tuple[str, str, int, int, int, tuple[float, ...] | None]],
) -> list[tuple[object, ...]]:
    """The rows an importer keeps: valid books whose top five changed, per feed."""
    last: dict[tuple[str, str], tuple[float, ...]] = {}
    out: list[tuple[object, ...]] = []
    for ex, sym, ts, lts, line, book in expected:
        if book is None or last.get((ex, sym)) == book:
            continue
        last[(ex, sym)] = book
        out.append((ex, sym, ts * 1000, *book, lts * 1000, line))
    return out


def snapshot_file(path: Path, rows: list[list[tuple[str, str, str, str]]], depth: int = 25) -> str:
    """A book_snapshot_N file: each row is up to `depth` levels (ask price, ask amount, bid
    price, bid amount) as text; "" or a missing level is an empty field. Returns the header.
    """
    cols = ["exchange", "symbol", "timestamp", "local_timestamp"]
    for k in range(depth):
        cols += [f"asks[{k}].price", f"asks[{k}].amount", f"bids[{k}].price", f"bids[{k}].amount"]
    lines = [",".join(cols)]
    for i, levels in enumerate(rows):
        fields = ["deribit", "BTC-PERPETUAL", str(1_700_000_000_000_000 + 1000 * i)]
        fields.append(str(1_700_000_000_000_000 + 1000 * i + 7))
        for k in range(depth):
            fields += list(levels[k]) if k < len(levels) else ["", "", "", ""]
        lines.append(",".join(fields))
    path.write_text("\n".join(lines) + "\n")
    return lines[0]


def lobster_pair(
    folder: Path,
    books: list[list[int]],
    times: list[str],
    *,
    levels: int,
    ticker: str = "AAPL",
    day: str = "2012-06-21",
) -> Path:
    """A LOBSTER orderbook/message pair; `books` rows are 4 * `levels` integers."""
    stem = f"{ticker}_{day}_34200000_57600000"
    ob = folder / f"{stem}_orderbook_{levels}.csv"
    msg = folder / f"{stem}_message_{levels}.csv"
    ob.write_text("".join(",".join(str(v) for v in row) + "\n" for row in books))
    msg.write_text("".join(f"{t},1,{1000 + i},100,5859400,1\n" for i, t in enumerate(times)))
    return ob
