"""lobflow's taker strategy run by hftbacktest, on the same books, signals and costs.

hftbacktest (the optional ``peers`` extra) replays the books as events (`lobflow.io`'s
export) and runs a numba-compiled strategy that does what `lobflow.backtest` does in taker
mode: at the time the signal of snapshot j is seen (`ts_j` + `md_latency_ns`) it sets the
target position (± `order_size` within `max_position`; 0 for signal 0 under ``flatten``),
counts its orders still in flight, and sends the difference as an immediate-or-cancel order
that reaches the exchange `order_latency_ns` later and pays `taker_fee_bps` of notional.

The two models that remain different are set here, and docs/peers.md explains them:

- which book an order meets. lobflow fills at the first snapshot at or after the order's
  arrival; hftbacktest at the book in force at the arrival (the last one before). With
  ``timing="next"`` each book reaches hftbacktest's exchange right after the previous
  snapshot's time, which makes the book in force at an arrival the first snapshot at or after
  it: lobflow's rule, inside hftbacktest's own event loop. ``timing="in_force"`` replays the
  books at their own times (hftbacktest's rule);
- depth. hftbacktest's no-partial-fill exchange fills the whole order at the best price; lobflow
  walks five levels for the size. With an order no larger than the best level they agree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from lobflow._schema import BOOK_COLUMNS
from lobflow.io import EVENT_DTYPE, to_hftbacktest
from lobflow.io._events import BUY_EVENT, DEPTH_EVENT, EXCH_EVENT, LOCAL_EVENT

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from lobflow.backtest import BacktestConfig

Timing = Literal["next", "in_force"]


def available() -> bool:
    """Whether hftbacktest (and numba) can be imported: the ``peers`` extra is installed."""
    try:
        import hftbacktest  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class PeerRun:
    """One hftbacktest run of the taker strategy."""

    #: Per fill: `ts` (exchange time of the fill, ns), `qty` (signed), `price`, `fee`.
    fills: pl.DataFrame
    position: float
    #: Balance + position x last mid - fees, as lobflow's final equity.
    pnl: float
    fees: float
    #: Events hftbacktest replayed.
    events: int
    #: Building the backtest (loading the events) and running the compiled strategy.
    elapsed_s: float
    #: Of which running the strategy through the event loop alone.
    loop_s: float
    #: numba compiling the strategy, once a process, on a run of its own (not in elapsed_s).
    compile_s: float
    timing: Timing
    tick_size: float
    lot_size: float


def grid(values: NDArray[np.float64]) -> float:
    """The largest step every finite value is a whole multiple of, from their decimal forms.

    hftbacktest keys its book by price / tick (and size / lot): the step must divide every
    price of the books exactly, which the shortest decimal of each double gives.
    """
    v = np.unique(values[np.isfinite(values) & (values != 0)])
    if not len(v):
        return 1.0
    decs = [Decimal(repr(float(x))) for x in np.abs(v)]
    places = max(0, *(-int(d.as_tuple().exponent) for d in decs))
    g = math.gcd(*(int(d.scaleb(places)) for d in decs))
    return float(g / 10**places)


def peer_events(books: pl.DataFrame, config: BacktestConfig, timing: Timing) -> NDArray[np.void]:
    """The books as the events hftbacktest replays for the comparison.

    Exchange time: `ts` (``in_force``) or the previous snapshot's `ts` + 1 ns (``next``);
    local time: `ts` + `md_latency_ns`, so the strategy sees snapshot j when lobflow's does.
    A last event that changes nothing, after every decision, keeps the event loop's clock
    running to the end.
    """
    ts = books["ts"].cast(pl.Int64)
    exch = ts if timing == "in_force" else pl.concat([ts.head(1), ts.head(-1) + 1])
    local = pl.Series(_later(ts.to_numpy(), int(config.md_latency_ns)))
    frame = books.select(BOOK_COLUMNS).with_columns(ts=exch, ts_local=local)
    events = to_hftbacktest(frame)
    last = books.row(-1, named=True)
    tail = np.zeros(1, EVENT_DTYPE)
    tail["ev"] = DEPTH_EVENT | BUY_EVENT | EXCH_EVENT | LOCAL_EVENT
    tail["exch_ts"] = events["exch_ts"][-1]
    tail["local_ts"] = _later(_later(local.tail(1).to_numpy(), int(config.order_latency_ns)), 1)
    tail["px"] = last["bid_px_0"]
    tail["qty"] = last["bid_sz_0"]
    return np.concatenate([events, tail])


def _later(ts: NDArray[np.int64], ns: int) -> NDArray[np.int64]:
    """`ts` + `ns`, saturating at 2^63 - 1 as lobflow's simulator does."""
    top = np.iinfo(np.int64).max
    if ns > top:
        return np.full_like(ts, top)
    out: NDArray[np.int64] = np.where(ts > top - ns, top, ts + np.int64(ns))
    return out


#: The finest tick and lot handed to hftbacktest (its books count both in int64 steps).
FINEST = 1e-9

_LOOP: Callable[..., int] | None = None


def _compiled() -> Callable[..., int]:
    """The numba strategy loop (compiled for hftbacktest's backtest class on first call)."""
    global _LOOP  # built once, on first use: importing numba is slow
    if _LOOP is not None:
        return _LOOP
    from hftbacktest.order import EXPIRED, FILLED, IOC, LIMIT
    from numba import njit

    @njit
    def collect(
        hbt: Any,  # noqa: ANN401 - hftbacktest's numba class has no Python type
        open_id: NDArray[np.int64],
        open_qty: NDArray[np.float64],
        n_open: int,
        fill_ids: NDArray[np.int64],
        fills: NDArray[np.float64],
        n_fill: int,
    ) -> tuple[int, int]:
        """Record the orders whose responses have come back; drop the finished ones."""
        orders = hbt.orders(0)
        k = 0
        while k < n_open:
            o = orders.get(open_id[k])
            if o is not None and (o.status == FILLED or o.status == EXPIRED):
                if o.status == FILLED:
                    side = 1.0 if open_qty[k] > 0 else -1.0
                    fill_ids[n_fill, 0] = o.exch_timestamp
                    fill_ids[n_fill, 1] = open_id[k]
                    fills[n_fill, 0] = side * o.exec_qty
                    fills[n_fill, 1] = o.exec_price
                    n_fill += 1
                n_open -= 1
                open_id[k] = open_id[n_open]
                open_qty[k] = open_qty[n_open]
            else:
                k += 1
        hbt.clear_inactive_orders(0)
        return n_open, n_fill

    @njit
    def loop(
        hbt: Any,  # noqa: ANN401 - hftbacktest's numba class has no Python type
        decide: NDArray[np.int64],
        target: NDArray[np.float64],
        has_target: NDArray[np.bool_],
        last_arrival: int,
        order_latency: int,
        buy_px: float,
        sell_px: float,
        fill_ids: NDArray[np.int64],
        fills: NDArray[np.float64],
    ) -> int:
        n = len(decide)
        open_id = np.zeros(n + 1, np.int64)
        open_qty = np.zeros(n + 1, np.float64)
        n_open = 0
        n_fill = 0
        oid = 0
        if hbt.elapse(0) != 0:
            return -1
        for j in range(n):
            now = hbt.current_timestamp
            if decide[j] > now and hbt.elapse(decide[j] - now) != 0:
                return -2
            n_open, n_fill = collect(hbt, open_id, open_qty, n_open, fill_ids, fills, n_fill)
            if not has_target[j]:
                continue
            pending = 0.0
            for k in range(n_open):
                pending += open_qty[k]
            qty = target[j] - hbt.position(0) - pending
            # Orders arriving after the last snapshot never fill in lobflow (no snapshot
            # at or after them): they are not sent.
            if abs(qty) <= 1e-12 or decide[j] + order_latency > last_arrival:
                continue
            oid += 1
            if qty > 0:
                hbt.submit_buy_order(0, oid, buy_px, qty, IOC, LIMIT, False)
            else:
                hbt.submit_sell_order(0, oid, sell_px, -qty, IOC, LIMIT, False)
            open_id[n_open] = oid
            open_qty[n_open] = qty
            n_open += 1
        # An order sent at the last decision may arrive at that very time (no latency).
        if hbt.elapse(0) != 0:
            return -3
        n_open, n_fill = collect(hbt, open_id, open_qty, n_open, fill_ids, fills, n_fill)
        return int(n_fill)

    _LOOP = loop
    return _LOOP


def _targets(signals: NDArray[np.int8], config: BacktestConfig) -> tuple[Any, Any]:
    size = min(float(config.order_size), float(config.max_position))
    target = np.where(signals > 0, size, np.where(signals < 0, -size, 0.0))
    has = (signals != 0) | (str(config.on_zero) == "flatten")
    return target.astype(np.float64), np.ascontiguousarray(has)


def _backtest(events: NDArray[np.void], config: BacktestConfig, tick: float, lot: float) -> Any:  # noqa: ANN401 - hftbacktest's numba class has no Python type
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    asset = (
        BacktestAsset()
        .data([events])
        .linear_asset(1.0)
        .constant_order_latency(int(config.order_latency_ns), 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(
            float(config.maker_fee_bps) * 1e-4, float(config.taker_fee_bps) * 1e-4
        )
        .tick_size(tick)
        .lot_size(lot)
    )
    return HashMapMarketDepthBacktest([asset])


@dataclass(frozen=True)
class Prepared:
    """A run made ready: the events built, the strategy compiled; `run` is what is timed."""

    books: pl.DataFrame
    config: BacktestConfig
    timing: Timing
    events: NDArray[np.void]
    tick: float
    lot: float
    decide: NDArray[np.int64]
    target: NDArray[np.float64]
    has_target: NDArray[np.bool_]
    buy_px: float

    def run(self) -> PeerRun:
        """Build hftbacktest's backtest over the events and run the strategy through it."""
        loop = _compiled()
        n_rows = self.books.height
        fill_ids = np.zeros((n_rows + 1, 2), np.int64)  # exchange time, order id
        fills = np.zeros((n_rows + 1, 2), np.float64)  # signed quantity, price
        cfg = self.config
        t0 = time.perf_counter()
        hbt = _backtest(self.events, cfg, self.tick, self.lot)
        t1 = time.perf_counter()
        n = loop(
            hbt,
            self.decide,
            self.target,
            self.has_target,
            int(self.books["ts"][-1]),
            int(cfg.order_latency_ns),
            self.buy_px,
            self.tick,
            fill_ids,
            fills,
        )
        t2 = time.perf_counter()
        if n < 0:
            hbt.close()
            msg = f"hftbacktest's event loop stopped early (code {n})"
            raise RuntimeError(msg)
        state = hbt.state_values(0)
        position, balance, fee = float(state.position), float(state.balance), float(state.fee)
        hbt.close()
        # In time, then sending order: finished orders are collected out of order.
        order = np.lexsort((fill_ids[:n, 1], fill_ids[:n, 0]))
        qty, price = fills[:n, 0][order], fills[:n, 1][order]
        frame = pl.DataFrame(
            {
                "ts": fill_ids[:n, 0][order],
                "qty": qty,
                "price": price,
                "fee": np.abs(qty) * price * float(cfg.taker_fee_bps) * 1e-4,
            }
        )
        last = self.books.row(-1, named=True)
        mid = 0.5 * (last["bid_px_0"] + last["ask_px_0"])
        return PeerRun(
            frame,
            position,
            balance + position * mid - fee,
            fee,
            len(self.events),
            t2 - t0,
            t2 - t1,
            _COMPILE_S,
            self.timing,
            self.tick,
            self.lot,
        )


#: How long numba took to compile the strategy, once per process (0 before it has).
_COMPILE_S = 0.0


def prepare(
    books: pl.DataFrame,
    signals: NDArray[np.int8],
    config: BacktestConfig,
    *,
    timing: Timing = "next",
) -> Prepared:
    """Build the events and the strategy's inputs, and compile the strategy if not yet done.

    The first call in a process compiles the strategy (numba) on a run over the first 64
    books, timed apart (`PeerRun.compile_s`), so that no timed run includes it.
    """
    global _COMPILE_S  # once a process: numba keeps the compiled loop
    if str(config.mode) != "taker":
        msg = "the hftbacktest comparison runs the taker mode only"
        raise ValueError(msg)
    signals = np.ascontiguousarray(signals, dtype=np.int8)
    if len(signals) != books.height:
        msg = f"{len(signals)} signals for {books.height} rows"
        raise ValueError(msg)
    values = books.select(BOOK_COLUMNS)
    tick = grid(values.select(c for c in BOOK_COLUMNS if "_px_" in c).to_numpy().ravel())
    lot = grid(values.select(c for c in BOOK_COLUMNS if "_sz_" in c).to_numpy().ravel())
    lot = min(lot, grid(np.array([float(config.order_size)])))
    # Values off any decimal grid (float noise such as 0.30000000000000004) would give a step
    # of 1e-17: hftbacktest's integer ticks and lots would overflow. 1e-9 still tells every
    # real price and size apart.
    tick, lot = max(tick, FINEST), max(lot, FINEST)
    target, has = _targets(signals, config)
    ready = Prepared(
        books,
        config,
        timing,
        peer_events(books, config, timing),
        tick,
        lot,
        _later(books["ts"].cast(pl.Int64).to_numpy(), int(config.md_latency_ns)),
        target,
        has,
        2.0 * float(np.nanmax(values.to_numpy())),
    )
    if _LOOP is None:
        t0 = time.perf_counter()
        head = books.head(64)
        prepare_head = Prepared(
            head,
            config,
            timing,
            peer_events(head, config, timing),
            tick,
            lot,
            ready.decide[:64],
            target[:64],
            has[:64],
            ready.buy_px,
        )
        prepare_head.run()
        _COMPILE_S = time.perf_counter() - t0
    return ready


def run_taker(
    books: pl.DataFrame,
    signals: NDArray[np.int8],
    config: BacktestConfig,
    *,
    timing: Timing = "next",
) -> PeerRun:
    """Run lobflow's taker strategy in hftbacktest; see the module docstring for the model.

    `PeerRun.elapsed_s` is hftbacktest building its backtest and running the compiled
    strategy; building the events and compiling are done before (`prepare`).
    """
    return prepare(books, signals, config, timing=timing).run()
