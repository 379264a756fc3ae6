//! Simulated execution of signals against recorded books: taker (walks the 5 levels after a
//! latency) and passive (joins the best price behind a conservative L2 queue estimate).
//!
//! Timing: the signal of snapshot n is seen by the strategy at `ts_n + md_latency` (market data
//! reaches it late) and the order it sends arrives at `ts_n + md_latency + order_latency`. It
//! executes against the first snapshot whose `ts` is at or after the arrival — never against
//! the snapshot that produced the signal unless both latencies are zero.

pub use crate::backtest_books::CheckedBooks;
use crate::backtest_books::{check_inputs, check_signals};
use crate::backtest_metrics::{PathStats, RowEnd};
pub use crate::backtest_path::{path, path_of_mids, Path};
use crate::error::{Error, Result};
use crate::feed::Feed;
use std::collections::VecDeque;

/// How orders execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Immediate-or-cancel market orders: walk the book for size, VWAP, unfilled rest dropped.
    Taker,
    /// Limit orders at the best price on our side, filled by the queue model.
    Passive,
}

/// What to do when the signal is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnZero {
    /// Keep the position.
    Hold,
    /// Go flat.
    Flatten,
}

/// Backtest parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Execution mode.
    pub mode: Mode,
    /// Position a signal of ±1 targets (units of the base asset).
    pub order_size: f64,
    /// Largest absolute position allowed.
    pub max_position: f64,
    /// Policy for signal 0.
    pub on_zero: OnZero,
    /// Minimum time between a fill and the next position change, ns.
    pub min_hold_ns: u64,
    /// Delay from snapshot time to the strategy seeing it, ns.
    pub md_latency_ns: u64,
    /// Delay from decision to the order reaching the venue, ns.
    pub order_latency_ns: u64,
    /// Taker fee, bps of notional.
    pub taker_fee_bps: f64,
    /// Maker fee, bps of notional (negative for a rebate).
    pub maker_fee_bps: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Taker,
            order_size: 1.0,
            max_position: 1.0,
            on_zero: OnZero::Hold,
            min_hold_ns: 0,
            md_latency_ns: 0,
            order_latency_ns: 0,
            taker_fee_bps: 0.0,
            maker_fee_bps: 0.0,
        }
    }
}

/// One fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fill {
    /// Row of the snapshot it executed against.
    pub row: usize,
    /// Row of the snapshot whose signal sent the order.
    pub decision_row: usize,
    /// Signed quantity (+ buy, − sell).
    pub qty: f64,
    /// Average price.
    pub price: f64,
    /// Fee paid (negative for a rebate).
    pub fee: f64,
    /// Cost against the decision snapshot's mid, in quote currency (positive = worse).
    pub slippage: f64,
}

/// The fills, and what the metrics need of the per-snapshot path.
///
/// The path itself (position, equity and fees after each snapshot) is not kept: a run that
/// is read for its metrics does not pay for three arrays as long as the feed. [`path`]
/// rebuilds it from the fills, to the bit.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The path's summary for the metrics, gathered snapshot by snapshot.
    pub stats: PathStats,
    /// Every fill, in time order.
    pub fills: Vec<Fill>,
    /// Quantity asked for by all orders.
    pub requested_qty: f64,
    /// Quantity that could not be filled (taker: beyond the 5 levels; passive: cancelled).
    pub unfilled_qty: f64,
}

struct Order {
    arrival: i64,
    qty: f64,
    decision_row: usize,
    decision_mid: f64,
    /// Passive: price, queue ahead (None until the order reaches the book), depletion seen.
    price: f64,
    queue_ahead: Option<f64>,
    last_size: f64,
}

/// Runs the backtest of `signals` (one per row) on `feed`.
///
/// # Errors
/// [`Error::Config`] for non-positive sizes or non-finite fees, [`Error::FeedShape`] when the
/// signals do not line up with the feed.
pub fn run(feed: &Feed<'_>, signals: &[i8], cfg: &Config) -> Result<Outcome> {
    check_config(feed.len(), signals, cfg)?;
    check_inputs(feed, signals)?;
    Ok(simulate(feed, signals, cfg))
}

/// Runs the backtest of `signals` on books checked before ([`CheckedBooks`]): only the
/// signals and the configuration are checked here, which is what a sweep of many signals
/// or configurations over the same books saves on each run.
///
/// # Errors
/// As [`run`], for the signals and the configuration.
pub fn run_checked(books: &CheckedBooks, signals: &[i8], cfg: &Config) -> Result<Outcome> {
    check_config(books.len(), signals, cfg)?;
    check_signals(signals)?;
    Ok(simulate(&books.feed(), signals, cfg))
}

/// The signals line up with `n` rows, the sizes are finite and positive, the fees finite.
fn check_config(n: usize, signals: &[i8], cfg: &Config) -> Result<()> {
    if signals.len() != n {
        return Err(Error::FeedShape(format!(
            "{} signals for {n} rows",
            signals.len()
        )));
    }
    if !(cfg.order_size > 0.0 && cfg.max_position >= cfg.order_size && cfg.max_position.is_finite())
    {
        return Err(Error::Config(
            "order_size must be finite and > 0, and max_position finite and >= order_size".into(),
        ));
    }
    if !cfg.taker_fee_bps.is_finite() || !cfg.maker_fee_bps.is_finite() {
        return Err(Error::Config("fees must be finite".into()));
    }
    Ok(())
}

/// The simulation proper, over inputs that have passed the checks.
fn simulate(feed: &Feed<'_>, signals: &[i8], cfg: &Config) -> Outcome {
    let n = feed.len();
    let c = &feed.cols;
    // Saturating: latencies summing past 2^64 ns, or a u64 past i64, would wrap to ~0 and
    // fill orders at the very snapshot that decided them. Saturated, they never arrive.
    let lat =
        i64::try_from(cfg.md_latency_ns.saturating_add(cfg.order_latency_ns)).unwrap_or(i64::MAX);
    let min_hold = i64::try_from(cfg.min_hold_ns).unwrap_or(i64::MAX);
    let mut out = Outcome {
        stats: PathStats::new(feed.ts),
        ..Outcome::default()
    };
    let mut acct = Account::default();
    let mut inflight: VecDeque<Order> = VecDeque::new();
    let mut last_fill_ts = i64::MIN;
    for j in 0..n {
        let ts = feed.ts[j];
        let mid = 0.5 * (c[0][j] + c[10][j]);
        // 1. This snapshot's signal sets a new target position.
        let target = match (signals[j], cfg.on_zero) {
            (1, _) => Some(cfg.order_size),
            (-1, _) => Some(-cfg.order_size),
            (0, OnZero::Flatten) => Some(0.0),
            _ => None,
        };
        let held_long_enough = ts.saturating_sub(last_fill_ts) >= min_hold;
        if let (Some(target), true) = (target, held_long_enough) {
            let target = target.clamp(-cfg.max_position, cfg.max_position);
            let pending: f64 = inflight.iter().map(|o| o.qty).sum();
            if (target - acct.pos - pending).abs() > 1e-12 {
                let qty = if cfg.mode == Mode::Passive {
                    // One working quote at a time: replace what is resting, so the new quote
                    // is sized from the position alone.
                    for o in inflight.drain(..) {
                        out.unfilled_qty += o.qty.abs();
                    }
                    target - acct.pos
                } else {
                    // Taker orders on their way will fill: sizing without them would overshoot
                    // the target (and `max_position`) by what is in flight.
                    target - acct.pos - pending
                };
                if qty.abs() > 1e-12 {
                    out.requested_qty += qty.abs();
                    let price = if qty > 0.0 { c[0][j] } else { c[10][j] };
                    inflight.push_back(Order {
                        arrival: ts.saturating_add(lat),
                        qty,
                        decision_row: j,
                        decision_mid: mid,
                        price,
                        queue_ahead: None,
                        last_size: 0.0,
                    });
                }
            }
        }
        // 2. Orders that have reached the venue by this snapshot (including one just sent with
        //    zero latency) execute against it.
        let first_fill = out.fills.len();
        if execute_due(feed, j, cfg, &mut inflight, &mut acct, &mut out) {
            last_fill_ts = ts;
        }
        // 3. The snapshot's end state, marked to its mid (as `path` rebuilds it).
        let equity = acct.cash + acct.pos * mid;
        let row = RowEnd {
            mid,
            equity,
            position: acct.pos,
            fees: acct.fees,
        };
        out.stats.row(feed.ts, j, &row, &out.fills[first_fill..]);
    }
    out.unfilled_qty += inflight.iter().map(|o| o.qty.abs()).sum::<f64>();
    out
}

/// Position, cash and fees paid so far.
#[derive(Clone, Copy, Debug, Default)]
struct Account {
    pos: f64,
    cash: f64,
    fees: f64,
}

/// Executes every in-flight order that has arrived by row `j`; true when anything filled.
fn execute_due(
    feed: &Feed<'_>,
    j: usize,
    cfg: &Config,
    inflight: &mut VecDeque<Order>,
    acct: &mut Account,
    out: &mut Outcome,
) -> bool {
    let ts = feed.ts[j];
    let mut filled_any = false;
    let mut k = 0;
    while k < inflight.len() {
        if inflight[k].arrival > ts {
            k += 1;
            continue;
        }
        let (qty, price, fee_bps) = match cfg.mode {
            Mode::Taker => {
                // Immediate-or-cancel: whatever the 5 levels cannot fill is dropped.
                let (filled, vwap) = walk(feed, j, inflight[k].qty);
                out.unfilled_qty += (inflight[k].qty - filled).abs();
                (filled, vwap, cfg.taker_fee_bps)
            }
            Mode::Passive => {
                if !passive_step(feed, j, &mut inflight[k]) {
                    k += 1;
                    continue;
                }
                (inflight[k].qty, inflight[k].price, cfg.maker_fee_bps)
            }
        };
        let Some(o) = inflight.remove(k) else { break };
        if qty != 0.0 {
            let fee = qty.abs() * price * fee_bps * 1e-4;
            acct.pos += qty;
            acct.cash -= qty * price + fee;
            acct.fees += fee;
            out.fills.push(Fill {
                row: j,
                decision_row: o.decision_row,
                qty,
                price,
                fee,
                slippage: qty * (price - o.decision_mid),
            });
            filled_any = true;
        }
    }
    filled_any
}

/// Walks the 5 levels of row `j` for a signed quantity; returns (filled, VWAP).
fn walk(feed: &Feed<'_>, j: usize, qty: f64) -> (f64, f64) {
    let (px, sz) = if qty > 0.0 { (10, 15) } else { (0, 5) };
    let mut left = qty.abs();
    let mut notional = 0.0;
    for k in 0..5 {
        let (p, s) = (feed.cols[px + k][j], feed.cols[sz + k][j]);
        if left <= 0.0 || !(p.is_finite() && s > 0.0) {
            continue;
        }
        let take = left.min(s);
        notional += take * p;
        left -= take;
    }
    let filled = qty.abs() - left;
    if filled == 0.0 {
        (0.0, 0.0)
    } else {
        (filled.copysign(qty), notional / filled)
    }
}

/// Advances a resting limit order at row `j`; true when it fills.
///
/// Conservative L2 queue: on arrival the queue ahead is the displayed size at our price. The
/// displayed size only tells us that *something* left the queue, so a decrease is counted as
/// queue consumed ahead of us only (never behind us), and we fill once the decreases add up to
/// the queue ahead plus our own size, or when the price trades through ours.
fn passive_step(feed: &Feed<'_>, j: usize, o: &mut Order) -> bool {
    let c = &feed.cols;
    let buy = o.qty > 0.0;
    let (best, size_at, opposite) = if buy {
        (c[0][j], level_size(feed, j, 0, 5, o.price), c[10][j])
    } else {
        (c[10][j], level_size(feed, j, 10, 15, o.price), c[0][j])
    };
    let through = if buy {
        best < o.price || opposite <= o.price
    } else {
        best > o.price || opposite >= o.price
    };
    match o.queue_ahead {
        None => {
            if through {
                return true;
            }
            o.queue_ahead = Some(size_at);
            o.last_size = size_at;
            false
        }
        Some(ahead) => {
            if through {
                return true;
            }
            let drop = (o.last_size - size_at).max(0.0);
            o.last_size = size_at;
            let left = ahead + o.qty.abs() - drop;
            o.queue_ahead = Some(left - o.qty.abs());
            left <= 0.0
        }
    }
}

/// Displayed size at `price` on one side of row `j` (0 when the price is not among 5 levels).
#[allow(clippy::float_cmp)] // prices of one feed: the same decimal always parses to the same f64
fn level_size(feed: &Feed<'_>, j: usize, px: usize, sz: usize, price: f64) -> f64 {
    (0..5)
        .find(|&k| feed.cols[px + k][j] == price)
        .map_or(0.0, |k| feed.cols[sz + k][j])
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // hand-computed cases use exactly representable numbers
mod tests {
    use super::*;
    use crate::feed::{ASK_PX, ASK_SZ, BID_PX};

    /// Books with bid = mid − 0.5, ask = mid + 0.5, 1 unit per level, levels 1 apart.
    fn books(mids: &[f64], ts: &[i64]) -> (Vec<i64>, Vec<Vec<f64>>) {
        let mut cols = vec![Vec::new(); 20];
        for &m in mids {
            for k in 0..5 {
                cols[k].push(m - 0.5 - k as f64);
                cols[5 + k].push(1.0);
                cols[10 + k].push(m + 0.5 + k as f64);
                cols[15 + k].push(1.0);
            }
        }
        (ts.to_vec(), cols)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap()
    }

    #[test]
    fn known_path_long_then_flat() {
        let (ts, cols) = books(&[100.0, 102.0, 104.0, 103.0], &[0, 10, 20, 30]);
        let f = feed(&ts, &cols);
        let cfg = Config {
            on_zero: OnZero::Flatten,
            ..Config::default()
        };
        let out = run(&f, &[1, 1, 0, 0], &cfg).unwrap();
        // Buy 1 at 100.5 (row 0, zero latency), sell 1 at 103.5 (row 2's bid).
        assert_eq!(out.fills.len(), 2);
        assert_eq!(out.fills[0].price, 100.5);
        assert_eq!(out.fills[1].price, 103.5);
        let p = path(&f, &out.fills);
        assert_eq!(p.equity, vec![-0.5, 1.5, 3.0, 3.0]);
        assert_eq!(p.position, vec![1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn the_rebuilt_path_is_the_one_the_metrics_saw() {
        let mids: Vec<f64> = (0..200).map(|i| 100.0 + f64::from((i * 37) % 11)).collect();
        let (ts, cols) = books(&mids, &(0..200).map(|i| i * 7).collect::<Vec<_>>());
        let f = feed(&ts, &cols);
        let signals: Vec<i8> = (0..200).map(|i| [1, 1, 0, -1, -1, 0, 1][i % 7]).collect();
        let cfg = Config {
            order_latency_ns: 10,
            on_zero: OnZero::Flatten,
            taker_fee_bps: 2.0,
            ..Config::default()
        };
        let out = run(&f, &signals, &cfg).unwrap();
        let p = path(&f, &out.fills);
        let m = crate::backtest_metrics::metrics(&f, &out, cfg.order_size);
        assert!(out.fills.len() > 10);
        assert_eq!(Some(&m.pnl), p.equity.last());
        assert_eq!(Some(&m.fees), p.fees.last());
        let mut peak = f64::NEG_INFINITY;
        let dd = p.equity.iter().fold(0.0f64, |d, &e| {
            peak = peak.max(e);
            d.max(peak - e)
        });
        assert_eq!(m.max_drawdown, dd);
    }

    #[test]
    fn latency_skips_a_snapshot() {
        let (ts, cols) = books(&[100.0, 101.0, 105.0], &[0, 5, 20]);
        let f = feed(&ts, &cols);
        let cfg = Config {
            md_latency_ns: 4,
            order_latency_ns: 8,
            ..Config::default()
        };
        let out = run(&f, &[1, 0, 0], &cfg).unwrap();
        // Arrives at 12: row 1 (ts 5) is too early, it fills at row 2's ask.
        assert_eq!(out.fills[0].row, 2);
        assert_eq!(out.fills[0].price, 105.5);
        assert_eq!(out.fills[0].slippage, 5.5);
    }

    #[test]
    fn latencies_past_i64_never_arrive_instead_of_wrapping() {
        let (ts, cols) = books(&[100.0, 101.0, 105.0], &[0, 5, 20]);
        let f = feed(&ts, &cols);
        for (md, order) in [(0, 1u64 << 63), (u64::MAX, 1), (5, u64::MAX)] {
            let cfg = Config {
                md_latency_ns: md,
                order_latency_ns: order,
                ..Config::default()
            };
            let out = run(&f, &[1, 1, 1], &cfg).unwrap();
            assert!(out.fills.is_empty(), "{md} + {order}: {:?}", out.fills);
        }
        let cfg = Config {
            min_hold_ns: u64::MAX,
            on_zero: OnZero::Flatten,
            ..Config::default()
        };
        // Held "forever": the first fill is never undone.
        let out = run(&f, &[1, 0, 0], &cfg).unwrap();
        assert_eq!(path(&f, &out.fills).position, vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn unbounded_order_sizes_are_refused() {
        let (ts, cols) = books(&[100.0], &[0]);
        let f = feed(&ts, &cols);
        for (size, max) in [(f64::INFINITY, f64::INFINITY), (1.0, f64::INFINITY)] {
            let cfg = Config {
                order_size: size,
                max_position: max,
                ..Config::default()
            };
            assert!(matches!(run(&f, &[1], &cfg), Err(Error::Config(_))));
        }
    }

    #[test]
    fn a_fill_walks_three_levels_and_fees_are_charged() {
        let (ts, cols) = books(&[100.0], &[0]);
        let f = feed(&ts, &cols);
        let cfg = Config {
            order_size: 2.5,
            max_position: 3.0,
            taker_fee_bps: 10.0,
            ..Config::default()
        };
        let out = run(&f, &[1], &cfg).unwrap();
        let vwap = (100.5 + 101.5 + 0.5 * 102.5) / 2.5;
        assert!((out.fills[0].price - vwap).abs() < 1e-12);
        let fee = 2.5 * vwap * 10.0 * 1e-4;
        assert!((out.fills[0].fee - fee).abs() < 1e-12);
        // Equity is cash marked to the mid (100): cash = equity − position · mid.
        let cash = path(&f, &out.fills).equity[0] - 2.5 * 100.0;
        assert!((cash - (-(2.5 * vwap) - fee)).abs() < 1e-9);
    }

    #[test]
    fn a_size_larger_than_the_book_is_partly_unfilled() {
        let (ts, cols) = books(&[100.0], &[0]);
        let f = feed(&ts, &cols);
        let cfg = Config {
            order_size: 7.0,
            max_position: 7.0,
            ..Config::default()
        };
        let out = run(&f, &[-1], &cfg).unwrap();
        assert_eq!(out.fills[0].qty, -5.0);
        assert_eq!(out.unfilled_qty, 2.0);
        assert_eq!(out.requested_qty, 7.0);
    }

    #[test]
    fn a_flip_trades_twice_the_size() {
        let (ts, cols) = books(&[100.0, 100.0], &[0, 1]);
        let f = feed(&ts, &cols);
        let out = run(&f, &[1, -1], &Config::default()).unwrap();
        assert_eq!(out.fills[1].qty, -2.0);
        assert_eq!(path(&f, &out.fills).position, vec![1.0, -1.0]);
    }

    /// Taker mode, 15 ns of order latency: each order fills one or two snapshots after it is
    /// sent, so the next decision finds it still in flight.
    fn in_flight(ts: &[i64], signals: &[i8], on_zero: OnZero) -> (Outcome, Path) {
        let (ts, cols) = books(&vec![100.0; ts.len()], ts);
        let cfg = Config {
            order_latency_ns: 15,
            on_zero,
            ..Config::default()
        };
        let f = feed(&ts, &cols);
        let out = run(&f, signals, &cfg).unwrap();
        let p = path(&f, &out.fills);
        (out, p)
    }

    #[test]
    fn a_flip_counts_the_order_in_flight() {
        // The buy sent at row 0 fills at row 2; the sell sent at row 1 must be -2, not -1.
        let (out, p) = in_flight(
            &[0, 10, 20, 30, 40, 50],
            &[1, -1, -1, -1, -1, -1],
            OnZero::Hold,
        );
        assert_eq!(p.position, vec![0.0, 0.0, 1.0, -1.0, -1.0, -1.0]);
        let qty: Vec<f64> = out.fills.iter().map(|f| f.qty).collect();
        assert_eq!(qty, vec![1.0, -2.0]);
    }

    #[test]
    fn a_flatten_counts_the_order_in_flight() {
        // The buy from row 0 is still on its way at row 1: flattening sells it there.
        let (out, p) = in_flight(
            &[0, 10, 20, 30, 40, 50],
            &[1, 0, 0, 0, 0, 0],
            OnZero::Flatten,
        );
        assert_eq!(p.position, vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(out.fills.len(), 2);
    }

    #[test]
    fn orders_in_flight_never_take_the_position_past_its_limit() {
        // Short, then a flatten still in flight when the signal turns long.
        let (out, p) = in_flight(
            &[0, 20, 30, 40, 60, 80],
            &[-1, -1, 0, 1, 1, 1],
            OnZero::Flatten,
        );
        assert_eq!(p.position, vec![0.0, -1.0, -1.0, -1.0, 1.0, 1.0]);
        assert!(p.position.iter().all(|x| x.abs() <= 1.0));
        assert!(!out.fills.is_empty());
    }

    #[test]
    fn min_hold_defers_changes() {
        let (ts, cols) = books(&[100.0, 100.0, 100.0], &[0, 5, 20]);
        let f = feed(&ts, &cols);
        let cfg = Config {
            min_hold_ns: 10,
            ..Config::default()
        };
        let out = run(&f, &[1, -1, -1], &cfg).unwrap();
        assert_eq!(path(&f, &out.fills).position, vec![1.0, 1.0, -1.0]);
    }

    #[test]
    fn passive_waits_for_the_queue() {
        // We join the bid at 99.5 behind 1 unit; the size there drops 1 → 0.5 → 0 (plus our
        // own 1 must go): fill only once 2 units have left, i.e. never with these books...
        let (ts, mut cols) = books(&[100.0, 100.0, 100.0, 100.0], &[0, 1, 2, 3]);
        cols[5] = vec![1.0, 0.5, 0.2, 3.0];
        let f = feed(&ts, &cols);
        let cfg = Config {
            mode: Mode::Passive,
            maker_fee_bps: -1.0,
            ..Config::default()
        };
        let out = run(&f, &[1, 0, 0, 0], &cfg).unwrap();
        assert!(
            out.fills.is_empty(),
            "only 0.8 left the queue: ahead 1 + ours 1 not consumed"
        );
        // ...but a trade-through (the bid drops below our price) fills at our price.
        let (ts, mut cols) = books(&[100.0, 100.0, 98.0], &[0, 1, 2]);
        cols[5] = vec![1.0, 1.0, 1.0];
        let f = feed(&ts, &cols);
        let out = run(&f, &[1, 0, 0], &cfg).unwrap();
        assert_eq!(out.fills.len(), 1);
        assert_eq!(out.fills[0].row, 2);
        assert_eq!(out.fills[0].price, 99.5);
        assert!(out.fills[0].fee < 0.0, "maker rebate");
    }

    #[test]
    fn passive_fills_when_queue_ahead_and_ours_are_consumed() {
        let (ts, mut cols) = books(&[100.0; 4], &[0, 1, 2, 3]);
        cols[5] = vec![2.0, 2.0, 1.0, 0.0];
        // Ahead 2 on arrival (row 0), then drops 1 and 1 = 2 → our 1 is not yet consumed;
        // add row 4 where size refills and drops again.
        let f = feed(&ts, &cols);
        let cfg = Config {
            mode: Mode::Passive,
            ..Config::default()
        };
        let out = run(&f, &[1, 0, 0, 0], &cfg).unwrap();
        assert!(out.fills.is_empty());
        let (ts, mut cols) = books(&[100.0; 3], &[0, 1, 2]);
        cols[5] = vec![2.0, 4.0, 0.0];
        let f = feed(&ts, &cols);
        let out = run(&f, &[1, 0, 0], &cfg).unwrap();
        assert_eq!(
            out.fills.len(),
            1,
            "4 units left after we joined behind 2: filled"
        );
    }

    #[test]
    fn config_and_shape_errors() {
        let (ts, cols) = books(&[100.0], &[0]);
        let f = feed(&ts, &cols);
        assert!(run(&f, &[1, 1], &Config::default()).is_err());
        let bad = Config {
            order_size: 0.0,
            ..Config::default()
        };
        assert!(run(&f, &[1], &bad).is_err());
    }

    #[test]
    fn bad_books_and_signals_are_errors_naming_the_row() {
        let (ts, cols) = books(&[100.0, 101.0, 102.0, 103.0], &[0, 10, 20, 30]);
        let cases: [(usize, usize, f64, &str); 5] = [
            (ASK_PX, 2, 90.0, "crossed"),
            (BID_PX, 1, f64::NAN, "NaN"),
            (BID_PX, 3, -5.0, "zero or negative"),
            (BID_PX, 2, 0.0, "zero or negative"),
            (ASK_PX + 3, 1, f64::NAN, "holds size"),
        ];
        for (col, row, v, why) in cases {
            let mut bad = cols.clone();
            bad[col][row] = v;
            let err = run(&feed(&ts, &bad), &[0, 0, 0, 0], &Config::default()).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("row {row},")) && msg.contains(why),
                "{col} {row}: {msg}"
            );
        }
        // A deeper level that holds nothing may carry any price (a short book's padding).
        let mut padded = cols.clone();
        padded[ASK_PX + 4][1] = f64::NAN;
        padded[ASK_SZ + 4][1] = 0.0;
        assert!(run(&feed(&ts, &padded), &[0, 0, 0, 0], &Config::default()).is_ok());
        let back = [0, 10, 5, 30];
        let err = run(&feed(&back, &cols), &[0; 4], &Config::default()).unwrap_err();
        assert!(err.to_string().contains("row 2,"), "{err}");
        let err = run(&feed(&ts, &cols), &[0, 1, 44, 0], &Config::default()).unwrap_err();
        assert!(err.to_string().contains("row 2, column `signal`"), "{err}");
    }
}
