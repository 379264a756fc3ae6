//! The metrics of one backtest: what the simulator gathers of the path as it walks it
//! ([`PathStats`]), then the metrics from that and the fills ([`metrics`]).
//!
//! Money is in the quote currency. PnL splits into what the signals knew and what trading on
//! them cost: `pnl = edge − slippage − fees`, `edge` being what the same fills would have made
//! at the mid of the snapshot that decided each one. Sums over fills and rows are compensated
//! (Neumaier), so they are the exact sum rounded once in all but contrived cases, whatever the
//! number of terms; running quantities (positions, holding times) add in fill order, as the
//! simulator made them.

use crate::backtest::{Fill, Outcome};
use crate::feed::Feed;

/// Nanoseconds in a year of 365.25 days: the Sharpe ratio's annualisation.
const NS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0 * 1e9;
/// The Sharpe grid: one second for a run shorter than a day, one minute from a day on.
const SECOND_NS: i64 = 1_000_000_000;
const MINUTE_NS: i64 = 60 * SECOND_NS;
const DAY_NS: i64 = 86_400 * SECOND_NS;

/// What one backtest made and paid (see `lobflow.backtest.BacktestMetrics` for each field).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Equity at the end, marked to mid, fees paid.
    pub pnl: f64,
    /// `pnl` in bps of one order's notional (`order_size` at the mean level-0 mid).
    pub pnl_bps: f64,
    /// PnL before fees.
    pub gross_pnl: f64,
    /// `gross_pnl + slippage`: the fills valued at their decision snapshots' mids.
    pub edge: f64,
    /// Fees paid (negative: rebates).
    pub fees: f64,
    /// Cost of the fills against their decision snapshots' mids.
    pub slippage: f64,
    /// Annualised Sharpe ratio of equity changes on the grid; NaN without changes.
    pub sharpe: f64,
    /// Largest fall of equity from a previous peak.
    pub max_drawdown: f64,
    /// Fills, a fill that takes the position through zero counting two.
    pub trades: u64,
    /// Notional traded.
    pub turnover: f64,
    /// Share of closed round trips that made money; NaN without any.
    pub hit_rate: f64,
    /// Mean duration of a closed round trip, seconds; NaN without any.
    pub avg_holding_s: f64,
    /// Filled over requested quantity; NaN when nothing was requested.
    pub fill_ratio: f64,
    /// Quantity requested but not filled.
    pub unfilled_qty: f64,
    /// First snapshot to last, seconds.
    pub elapsed_s: f64,
    /// Snapshots simulated.
    pub snapshots: u64,
}

/// A snapshot's state once its fills are done, as the simulator hands it to [`PathStats`].
#[derive(Clone, Copy, Debug)]
pub struct RowEnd {
    /// The snapshot's level-0 mid.
    pub mid: f64,
    /// Cash + position · mid.
    pub equity: f64,
    /// Position.
    pub position: f64,
    /// Fees paid so far.
    pub fees: f64,
}

/// What the metrics need of the per-snapshot path, gathered snapshot by snapshot while the
/// simulator walks it, so that the path itself need not be kept.
#[derive(Clone, Debug, Default)]
pub struct PathStats {
    rows: usize,
    /// The mids' compensated sum and its carried error.
    mid_sum: (f64, f64),
    peak: f64,
    max_drawdown: f64,
    /// The Sharpe grid: the next point, the step, the points left; the equity at each point.
    grid_next: i64,
    grid_step: i64,
    grid_left: i64,
    sampled: Vec<f64>,
    /// The position as the fills moved it, and the open round trip: its first row and the
    /// equity just before that row.
    position: f64,
    trip: Option<(usize, f64)>,
    wins: u64,
    trips: u64,
    held_ns: f64,
    flips: u64,
    /// Equity at the end of the previous snapshot (0 before the first); fees so far.
    equity: f64,
    fees: f64,
}

impl PathStats {
    /// Ready for a path over snapshots at `ts`: the Sharpe grid runs in whole nanoseconds
    /// from the first snapshot, 1 s apart for a run shorter than a day (a 10-minute run still
    /// has 600 changes), else 1 minute, up to the first point at or past the last snapshot.
    #[must_use]
    pub fn new(ts: &[i64]) -> Self {
        let mut s = Self {
            peak: f64::NEG_INFINITY,
            ..Self::default()
        };
        if let (Some(&first), Some(&last)) = (ts.first(), ts.last()) {
            let span = last.saturating_sub(first);
            if ts.len() >= 2 && span > 0 {
                let step = if span < DAY_NS { SECOND_NS } else { MINUTE_NS };
                s.grid_next = first;
                s.grid_step = step;
                s.grid_left = span / step + 1 + i64::from(span % step != 0);
                s.sampled = Vec::with_capacity(usize::try_from(s.grid_left).unwrap_or(0));
            }
        }
        s
    }

    /// Snapshot `j` of `ts` is done: `fills` are those it made, in order; `end` its state.
    pub fn row(&mut self, ts: &[i64], j: usize, end: &RowEnd, fills: &[Fill]) {
        let before_row = if j == 0 { 0.0 } else { self.equity };
        for f in fills {
            // Round trips: one opens on a fill from flat and closes on the fill that makes
            // the position flat or flips it (a flip opens the next at its row). It won if
            // equity at the closing snapshot's end is above equity just before the opening
            // snapshot (0 before the first).
            let before = self.position;
            self.position += f.qty;
            let opens = before == 0.0 && self.position != 0.0;
            let closes =
                before != 0.0 && (self.position == 0.0 || sign(self.position) * sign(before) < 0.0);
            if closes {
                // A position is non-zero only after a fill from flat, which opened a trip.
                let (open_row, start_eq) = self.trip.unwrap_or((j, before_row));
                self.trips += 1;
                self.wins += u64::from(end.equity > start_eq);
                self.held_ns += (ts[j] - ts[open_row]) as f64;
            }
            if opens || (closes && self.position != 0.0) {
                self.trip = Some((j, before_row));
            }
            // A fill that takes the snapshot's end position through zero is two trades.
            if sign(end.position) * sign(end.position - f.qty) < 0.0 {
                self.flips += 1;
            }
        }
        let (s, c) = &mut self.mid_sum;
        neumaier(s, c, end.mid);
        self.peak = self.peak.max(end.equity);
        self.max_drawdown = self.max_drawdown.max(self.peak - end.equity);
        // Each grid point takes the equity of the last snapshot at or before it.
        let next_ts = ts.get(j + 1).copied().unwrap_or(i64::MAX);
        while self.grid_left > 0 && self.grid_next < next_ts {
            self.sampled.push(end.equity);
            self.grid_next = self.grid_next.saturating_add(self.grid_step);
            self.grid_left -= 1;
        }
        self.rows += 1;
        self.equity = end.equity;
        self.fees = end.fees;
    }

    /// Sharpe ratio of the equity changes on the grid, annualised by its step (a PnL Sharpe,
    /// population standard deviation); NaN for fewer than two snapshots, no time between
    /// them, or no variation.
    fn sharpe(&self) -> f64 {
        if self.sampled.len() < 2 {
            return f64::NAN;
        }
        let changes = || self.sampled.windows(2).map(|w| w[1] - w[0]);
        let m = (self.sampled.len() - 1) as f64;
        let mean = sum(changes()) / m;
        let sd = (sum(changes().map(|r| (r - mean) * (r - mean))) / m).sqrt();
        if sd > 0.0 {
            mean / sd * (NS_PER_YEAR / self.grid_step as f64).sqrt()
        } else {
            f64::NAN
        }
    }
}

/// The metrics of `out`, the outcome of [`crate::backtest::run`] on `feed` with orders of
/// `order_size`.
#[must_use]
pub fn metrics(feed: &Feed<'_>, out: &Outcome, order_size: f64) -> Metrics {
    let st = &out.stats;
    let n = st.rows;
    let (pnl, fees_paid) = (st.equity, st.fees);
    let gross_pnl = if n == 0 { 0.0 } else { pnl + fees_paid };
    let slippage = sum(out.fills.iter().map(|f| f.slippage));
    let filled = sum(out.fills.iter().map(|f| f.qty.abs()));
    // The simulator has refused any row whose level-0 prices are not finite and positive.
    let mean_mid = if n == 0 {
        0.0
    } else {
        (st.mid_sum.0 + st.mid_sum.1) / n as f64
    };
    let notional = order_size * if mean_mid > 0.0 { mean_mid } else { 0.0 };
    let elapsed_ns = match (feed.ts.first(), feed.ts.last()) {
        (Some(&a), Some(&b)) => b - a,
        _ => 0,
    };
    let per_trip = |x: f64| {
        if st.trips == 0 {
            f64::NAN
        } else {
            x / st.trips as f64
        }
    };
    Metrics {
        pnl,
        pnl_bps: if notional > 0.0 {
            pnl / notional * 1e4
        } else {
            f64::NAN
        },
        gross_pnl,
        edge: gross_pnl + slippage,
        fees: fees_paid,
        slippage,
        sharpe: st.sharpe(),
        max_drawdown: st.max_drawdown,
        trades: (out.fills.len() as u64) + st.flips,
        turnover: sum(out.fills.iter().map(|f| f.qty.abs() * f.price)),
        hit_rate: per_trip(st.wins as f64),
        avg_holding_s: per_trip(st.held_ns) / 1e9,
        fill_ratio: if out.requested_qty > 0.0 {
            filled / out.requested_qty
        } else {
            f64::NAN
        },
        unfilled_qty: out.unfilled_qty,
        elapsed_s: elapsed_ns as f64 / 1e9,
        snapshots: n as u64,
    }
}

/// A compensated (Neumaier) sum: the rounding error of each addition is carried apart and
/// added back at the end, so the result does not drift with the number of terms.
fn sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        neumaier(&mut s, &mut c, x);
    }
    s + c
}

/// Adds `x` to the running sum `s`, carrying the addition's rounding error into `c`.
fn neumaier(s: &mut f64, c: &mut f64, x: f64) {
    let t = *s + x;
    *c += if s.abs() >= x.abs() {
        (*s - t) + x
    } else {
        (x - t) + *s
    };
    *s = t;
}

/// The sign of `x` as a float: −1, 0 or 1.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // hand-computed cases use exactly representable numbers
mod tests {
    use super::*;

    fn fill(row: usize, qty: f64) -> Fill {
        Fill {
            row,
            decision_row: row,
            qty,
            price: 10.0,
            fee: 0.0,
            slippage: 0.0,
        }
    }

    /// The stats of a path given row by row: (equity, position) at each row's end, and the
    /// fills, each at its row.
    fn stats(ts: &[i64], ends: &[(f64, f64)], fills: &[Fill]) -> PathStats {
        let mut s = PathStats::new(ts);
        for (j, &(equity, position)) in ends.iter().enumerate() {
            let at: Vec<Fill> = fills.iter().copied().filter(|f| f.row == j).collect();
            let end = RowEnd {
                mid: 1.0,
                equity,
                position,
                fees: 0.0,
            };
            s.row(ts, j, &end, &at);
        }
        s
    }

    #[test]
    fn a_compensated_sum_keeps_what_a_plain_one_drops() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(xs.iter().sum::<f64>(), 1.0);
        assert_eq!(sum(xs), 2.0);
        assert_eq!(sum(std::iter::repeat_n(0.1, 10)), 1.0);
        assert_eq!(sum(std::iter::empty()), 0.0);
    }

    #[test]
    fn a_flip_is_two_trades_and_closes_one_round_trip() {
        // Buy 1 at row 0, flip to −1 at row 2, flatten at row 4.
        let ends = [(0.0, 1.0), (1.0, 1.0), (2.0, -1.0), (3.0, -1.0), (1.5, 0.0)];
        let fills = [fill(0, 1.0), fill(2, -2.0), fill(4, 1.0)];
        let s = stats(&[0, 10, 20, 30, 40], &ends, &fills);
        assert_eq!(s.flips, 1);
        // Trip 1, rows 0 → 2: equity 2 against 0 before row 0, won. Trip 2, rows 2 → 4:
        // equity 1.5 against 1 before row 2, won. Held 20 ns each.
        assert_eq!((s.wins, s.trips, s.held_ns), (2, 2, 40.0));
        assert_eq!(s.max_drawdown, 1.5);
    }

    #[test]
    fn fills_at_one_row_are_judged_by_its_end() {
        // Two fills at row 1: the first closes the long opened at row 0 (equity −1 at row 1's
        // end against 0 before row 0: lost), the second opens a short from row 1 (against
        // equity 5 before it).
        let ends = [(5.0, 1.0), (-1.0, -1.0)];
        let fills = [fill(0, 1.0), fill(1, -1.0), fill(1, -1.0)];
        let s = stats(&[0, 10], &ends, &fills);
        assert_eq!((s.wins, s.trips), (0, 1));
        assert_eq!(s.trip, Some((1, 5.0)));
        // Neither fill took row 1's end position (−1) through zero from the position
        // before it (−1 − (−1) = 0).
        assert_eq!(s.flips, 0);
    }

    #[test]
    fn no_closed_trip_and_a_drawdown_from_the_peak() {
        let ends = [
            (1.0, 1.0),
            (3.0, 1.0),
            (0.5, 1.0),
            (2.0, 1.0),
            (-1.0, 1.0),
            (4.0, 1.0),
        ];
        let s = stats(&[0, 1, 2, 3, 4, 5], &ends, &[fill(0, 1.0)]);
        assert_eq!(s.trips, 0);
        assert_eq!(s.max_drawdown, 4.0);
        assert_eq!(stats(&[], &[], &[]).max_drawdown, 0.0);
    }

    #[test]
    fn sharpe_samples_a_whole_second_grid() {
        // 2.5 s: points at 0, 1, 2, 3 s (the last past the last snapshot takes its equity).
        let ts = [0, 500_000_000, 1_000_000_000, 2_500_000_000];
        let ends = [(0.0, 0.0), (5.0, 0.0), (1.0, 0.0), (3.0, 0.0)];
        let s = stats(&ts, &ends, &[]);
        assert_eq!(s.sampled, vec![0.0, 1.0, 1.0, 3.0]);
        // Changes 1, 0, 2: mean 1, population sd sqrt(2/3).
        let want = 1.0 / (2.0f64 / 3.0).sqrt() * (NS_PER_YEAR / 1e9).sqrt();
        assert!((s.sharpe() - want).abs() < 1e-9 * want);
        // Snapshots sharing a time: the last of them is the one at or before a point.
        let s = stats(
            &[0, 0, 1_000_000_000],
            &[(1.0, 0.0), (2.0, 0.0), (4.0, 0.0)],
            &[],
        );
        assert_eq!(s.sampled, vec![2.0, 4.0]);
        assert!(stats(&[5, 5], &[(0.0, 0.0), (1.0, 0.0)], &[])
            .sharpe()
            .is_nan());
        let flat = [(2.0, 0.0), (2.0, 0.0)];
        assert!(stats(&[0, 3_000_000_000], &flat, &[]).sharpe().is_nan());
    }
}
