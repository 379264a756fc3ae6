//! The per-snapshot path of a backtest (position, equity, fees), rebuilt from its fills.
//!
//! The simulator keeps only the fills and what the metrics need of the path
//! ([`crate::backtest::Outcome`]); this rebuilds the path when it is asked for, with the
//! simulator's own arithmetic in its order, so every value is the one the simulator had.

use crate::backtest::Fill;
use crate::feed::{Feed, ASK_PX, BID_PX};

/// Position, equity and fees after each snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Path {
    /// Position after each snapshot.
    pub position: Vec<f64>,
    /// Mark-to-mid equity after each snapshot: cash + position · mid, fees paid.
    pub equity: Vec<f64>,
    /// Cumulative fees after each snapshot.
    pub fees: Vec<f64>,
}

/// The path of a run on `feed` that made `fills` (in time order, as the simulator made them).
///
/// # Panics
/// If a fill's row is beyond the feed or the fills are not in row order.
#[must_use]
pub fn path(feed: &Feed<'_>, fills: &[Fill]) -> Path {
    path_of_mids(feed.cols[BID_PX], feed.cols[ASK_PX], fills)
}

/// [`path`] from the level-0 prices alone, all it reads of the books.
///
/// # Panics
/// As [`path`], or if `asks` is shorter than `bids`.
#[must_use]
pub fn path_of_mids(bids: &[f64], asks: &[f64], fills: &[Fill]) -> Path {
    let n = bids.len();
    let mut out = Path {
        position: Vec::with_capacity(n),
        equity: Vec::with_capacity(n),
        fees: Vec::with_capacity(n),
    };
    let (mut pos, mut cash, mut fees) = (0.0f64, 0.0f64, 0.0f64);
    let mut next = fills.iter().peekable();
    for j in 0..n {
        while let Some(f) = next.next_if(|f| f.row == j) {
            pos += f.qty;
            cash -= f.qty * f.price + f.fee;
            fees += f.fee;
        }
        let mid = 0.5 * (bids[j] + asks[j]);
        out.position.push(pos);
        out.equity.push(cash + pos * mid);
        out.fees.push(fees);
    }
    assert!(
        next.next().is_none(),
        "fills beyond the feed or out of row order"
    );
    out
}
