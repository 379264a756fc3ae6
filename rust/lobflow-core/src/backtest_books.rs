//! The backtest's input checks, and books checked once for many backtests.
//!
//! Every row must pass the engine's own checks ([`Feed::check_row`]: finite positive level-0
//! prices, an uncrossed book, finite non-negative sizes, time never going back), a deeper
//! level that holds size must have a finite positive price (a taker order walks into it), and
//! every signal must be −1, 0 or 1. The first failure is named by its row and column.
//!
//! Clean inputs, the usual case, are settled by one vectorised pass over each column
//! ([`crate::columns`]); only where a pass fails does a walk over the rows find the first bad
//! one and say why.

use crate::columns::{all_sizes_carried, level_usable, min_max_if_all_usable};
use crate::error::{Error, Result};
use crate::feed::{Feed, ASK_PX, ASK_SZ, BID_PX, BID_SZ, BOOK_COLUMNS};
use crate::feed_batch::times_clean;

/// One feed's books, copied once they have passed the backtest's checks: the simulator runs
/// on them without checking them again ([`crate::backtest::run_checked`]). The copy is what
/// makes that sound: nothing outside can change a value after it was checked.
#[derive(Clone, Debug)]
pub struct CheckedBooks {
    ts: Vec<i64>,
    cols: [Vec<f64>; 20],
}

impl CheckedBooks {
    /// Checks `feed`'s books and keeps a copy of them.
    ///
    /// # Errors
    /// [`Error::Feed`] naming the first bad row and column.
    pub fn new(feed: &Feed<'_>) -> Result<Self> {
        check_books(feed)?;
        Ok(Self {
            ts: feed.ts.to_vec(),
            cols: feed.cols.map(<[f64]>::to_vec),
        })
    }

    /// The books as a [`Feed`].
    #[must_use]
    pub fn feed(&self) -> Feed<'_> {
        Feed {
            ts: &self.ts,
            cols: std::array::from_fn(|i| self.cols[i].as_slice()),
        }
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True without rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// The checks of books and signals together: the first failing row, whether its book or its
/// signal fails. `signals` is as long as the feed (checked before).
pub(crate) fn check_inputs(feed: &Feed<'_>, signals: &[i8]) -> Result<()> {
    if book_clean(feed) && signals_clean(signals) {
        return Ok(());
    }
    let mut last_ts = i64::MIN;
    for (j, &signal) in signals.iter().enumerate() {
        row_error(feed, j, last_ts).map_or(Ok(()), Err)?;
        last_ts = feed.ts[j];
        signal_error(j, signal).map_or(Ok(()), Err)?;
    }
    Ok(())
}

/// The checks of the books alone.
fn check_books(feed: &Feed<'_>) -> Result<()> {
    if book_clean(feed) {
        return Ok(());
    }
    let mut last_ts = i64::MIN;
    for j in 0..feed.len() {
        row_error(feed, j, last_ts).map_or(Ok(()), Err)?;
        last_ts = feed.ts[j];
    }
    Ok(())
}

/// The checks of the signals alone.
pub(crate) fn check_signals(signals: &[i8]) -> Result<()> {
    if signals_clean(signals) {
        return Ok(());
    }
    signals
        .iter()
        .enumerate()
        .find_map(|(j, &s)| signal_error(j, s))
        .map_or(Ok(()), Err)
}

/// Why row `j`'s book fails, `last_ts` being the previous row's time; None when it passes.
#[cold]
fn row_error(feed: &Feed<'_>, j: usize, last_ts: i64) -> Option<Error> {
    if let Some(bad) = feed.check_row(j, last_ts) {
        return Some(feed.first_bad_at(j, bad));
    }
    for (px, sz) in [(BID_PX, BID_SZ), (ASK_PX, ASK_SZ)] {
        for k in 1..5 {
            let p = feed.cols[px + k][j];
            if feed.cols[sz + k][j] > 0.0 && !(p.is_finite() && p > 0.0) {
                return Some(Error::Feed {
                    column: BOOK_COLUMNS[px + k].to_string(),
                    row: j,
                    msg: format!("price {p} of a level that holds size is not finite and > 0"),
                });
            }
        }
    }
    None
}

/// Why signal `j` fails; None when it is −1, 0 or 1.
#[cold]
fn signal_error(j: usize, signal: i8) -> Option<Error> {
    (!(-1..=1).contains(&signal)).then(|| Error::Feed {
        column: "signal".to_string(),
        row: j,
        msg: format!("signal {signal} is not -1, 0 or 1"),
    })
}

/// True when every row's book passes, judged by one vectorised pass over each column: times,
/// level-0 prices, then each level's sizes and the prices of its rows that hold size.
fn book_clean(feed: &Feed<'_>) -> bool {
    let c = &feed.cols;
    times_clean(feed.ts, i64::MIN)
        && min_max_if_all_usable(c[BID_PX], c[ASK_PX]).is_some()
        && all_sizes_carried(c[BID_SZ])
        && all_sizes_carried(c[ASK_SZ])
        && [(BID_PX, BID_SZ), (ASK_PX, ASK_SZ)]
            .iter()
            .all(|&(px, sz)| (1..5).all(|k| level_usable(c[px + k], c[sz + k])))
}

/// True when every signal is −1, 0 or 1: `s + 1` then lies in 0..=2 (a count, not a branch
/// per signal, so the pass vectorises).
fn signals_clean(signals: &[i8]) -> bool {
    signals
        .iter()
        .fold(0u32, |bad, &s| bad + u32::from(s.wrapping_add(1) as u8 > 2))
        == 0
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the copy holds exactly the values given
mod tests {
    use super::*;

    /// Books with bid = mid − 0.5, ask = mid + 0.5, 1 unit per level, levels 1 apart.
    fn columns(n: usize) -> (Vec<i64>, Vec<Vec<f64>>) {
        let mut cols = vec![Vec::new(); 20];
        for j in 0..n {
            let mid = 100.0 + j as f64;
            for k in 0..5 {
                cols[k].push(mid - 0.5 - k as f64);
                cols[5 + k].push(1.0);
                cols[10 + k].push(mid + 0.5 + k as f64);
                cols[15 + k].push(1.0);
            }
        }
        ((0..n as i64).collect(), cols)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap()
    }

    #[test]
    fn checked_books_hold_a_copy_of_what_passed() {
        let (ts, mut cols) = columns(37);
        let books = CheckedBooks::new(&feed(&ts, &cols)).unwrap();
        cols[BID_PX][3] = f64::NAN;
        assert_eq!(books.len(), 37);
        assert_eq!(books.feed().cols[BID_PX][3], 99.5 + 3.0);
        let err = CheckedBooks::new(&feed(&ts, &cols)).unwrap_err();
        assert!(err.to_string().contains("row 3,"), "{err}");
    }

    #[test]
    fn the_first_bad_row_is_named_whether_book_or_signal() {
        let (ts, mut cols) = columns(70);
        cols[ASK_PX + 2][65] = f64::NAN;
        let f = feed(&ts, &cols);
        let mut signals = vec![0i8; 70];
        signals[66] = 2;
        let err = check_inputs(&f, &signals).unwrap_err().to_string();
        assert!(err.contains("row 65, column `ask_px_2`"), "{err}");
        signals[64] = -3;
        let err = check_inputs(&f, &signals).unwrap_err().to_string();
        assert!(err.contains("row 64, column `signal`"), "{err}");
        let err = check_signals(&signals).unwrap_err().to_string();
        assert!(err.contains("row 64,"), "{err}");
        assert!(check_signals(&[-1, 0, 1]).is_ok());
        for bad in [2, -2, i8::MIN, i8::MAX] {
            assert!(!signals_clean(&[0, bad, 0]), "{bad}");
        }
    }
}
