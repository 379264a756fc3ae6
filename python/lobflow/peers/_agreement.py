"""How far two backtests of one strategy agree: fills, volume, price per side, position, PnL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

    from lobflow.backtest import BacktestResult
    from lobflow.peers._hftbacktest import PeerRun


@dataclass(frozen=True)
class Totals:
    """One backtest's trading, summed."""

    fills: int
    buy_volume: float
    sell_volume: float
    #: Volume-weighted mean fill price of the buys / sells (NaN without any).
    buy_price: float
    sell_price: float
    position: float
    pnl: float
    fees: float

    @classmethod
    def of(cls, fills: pl.DataFrame, position: float, pnl: float) -> Totals:
        """From a fills frame with signed `qty`, `price` and `fee`."""
        qty = fills["qty"].to_numpy()
        price = fills["price"].to_numpy()
        buy, sell = qty > 0, qty < 0
        bv, sv = float(qty[buy].sum()), float(-qty[sell].sum())
        return cls(
            fills=len(qty),
            buy_volume=bv,
            sell_volume=sv,
            buy_price=float((qty[buy] * price[buy]).sum() / bv) if bv else float("nan"),
            sell_price=float((-qty[sell] * price[sell]).sum() / sv) if sv else float("nan"),
            position=position,
            pnl=pnl,
            fees=float(fills["fee"].sum()),
        )


@dataclass(frozen=True)
class Agreement:
    """lobflow's and hftbacktest's totals, and how their fills line up."""

    lobflow: Totals
    peer: Totals
    #: Fills at the same snapshot, with the same quantity (in order, one to one).
    same_snapshot: int
    #: lobflow fills that walked past the best level (hftbacktest fills those at the best).
    walked: int
    #: Largest |price difference| over fills paired in order (0 when counts differ).
    max_price_diff: float

    def differences(self, rel: float = 1e-9) -> list[str]:
        """What differs beyond `rel` (relative; PnL against the traded notional)."""
        out = []
        a, b = self.lobflow, self.peer
        if a.fills != b.fills:
            out.append(f"fills {a.fills} vs {b.fills}")
        for name in ("buy_volume", "sell_volume", "buy_price", "sell_price"):
            x, y = getattr(a, name), getattr(b, name)
            if not (np.isnan(x) and np.isnan(y)) and not abs(x - y) <= rel * max(abs(x), 1.0):
                out.append(f"{name} {x!r} vs {y!r}")
        if not abs(a.position - b.position) <= rel * max(abs(a.position), 1.0):
            out.append(f"position {a.position!r} vs {b.position!r}")
        notional = a.buy_volume * a.buy_price + a.sell_volume * a.sell_price if a.fills else 0.0
        if not abs(a.pnl - b.pnl) <= rel * max(notional, 1.0):
            out.append(f"pnl {a.pnl!r} vs {b.pnl!r}")
        return out


def agreement(result: BacktestResult, peer: PeerRun, books: pl.DataFrame) -> Agreement:
    """Compare lobflow's taker backtest `result` with hftbacktest's `peer` on `books`."""
    fills = result.fills
    mine = Totals.of(fills, float(result.position[-1]), float(result.equity[-1]))
    theirs = Totals.of(peer.fills, peer.position, peer.pnl)
    ts = books["ts"].to_numpy()
    rows = fills["row"].to_numpy()
    # The snapshot hftbacktest's fill met under lobflow's rule: the first at or after it.
    peer_rows = np.searchsorted(ts, peer.fills["ts"].to_numpy(), side="left")
    n = min(len(rows), len(peer_rows))
    q_mine = fills["qty"].to_numpy()[:n]
    q_peer = peer.fills["qty"].to_numpy()[:n]
    same = int(((rows[:n] == peer_rows[:n]) & np.isclose(q_mine, q_peer, rtol=1e-12)).sum())
    best = np.where(
        q_mine > 0,
        books["ask_px_0"].to_numpy()[rows[:n]],
        books["bid_px_0"].to_numpy()[rows[:n]],
    )
    walked = int((~np.isclose(fills["price"].to_numpy()[:n], best, rtol=1e-12, atol=0)).sum())
    diff = (
        float(np.abs(fills["price"].to_numpy() - peer.fills["price"].to_numpy()).max())
        if len(rows) == len(peer_rows) and len(rows)
        else 0.0
    )
    return Agreement(mine, theirs, same, walked, diff)
