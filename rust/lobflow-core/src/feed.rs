//! A feed borrowed column by column, and the per-row validation the producer applies.

use crate::columns::{in_halves, min_max_if_all_usable, min_max_of_usable, widest};
use crate::error::{Error, Result};
use crate::tick::{L2Tick, PriceCodec, SizeCodec, MAX_SIZE};
use std::ops::ControlFlow;

/// The book columns in the order [`Feed::cols`] holds them.
pub const BOOK_COLUMNS: [&str; 20] = [
    "bid_px_0", "bid_px_1", "bid_px_2", "bid_px_3", "bid_px_4", "bid_sz_0", "bid_sz_1", "bid_sz_2",
    "bid_sz_3", "bid_sz_4", "ask_px_0", "ask_px_1", "ask_px_2", "ask_px_3", "ask_px_4", "ask_sz_0",
    "ask_sz_1", "ask_sz_2", "ask_sz_3", "ask_sz_4",
];
pub(crate) const BID_PX: usize = 0;
pub(crate) const BID_SZ: usize = 5;
pub(crate) const ASK_PX: usize = 10;
pub(crate) const ASK_SZ: usize = 15;

/// What to do with a row that breaks the contract.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnBad {
    /// Stop with [`Error::Feed`] naming the column and the first bad row.
    #[default]
    Raise,
    /// Skip the row (score NaN, signal 0; it enters neither OFI nor the windows) and count it.
    Skip,
}

/// One feed (one instrument on one venue, time-ordered), borrowed from the caller's columns.
#[derive(Clone, Copy, Debug)]
pub struct Feed<'a> {
    /// Snapshot times, ns since the Unix epoch.
    pub ts: &'a [i64],
    /// The 20 book columns in [`BOOK_COLUMNS`] order.
    pub cols: [&'a [f64]; 20],
}

/// A bad row: which column and why (the row index is the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bad {
    /// Index into [`BOOK_COLUMNS`], or `None` for `ts`.
    pub column: Option<usize>,
    /// What is wrong.
    pub why: &'static str,
}

impl Bad {
    /// The contract name of the offending column.
    pub fn column_name(&self) -> &'static str {
        self.column.map_or("ts", |c| BOOK_COLUMNS[c])
    }

    /// The [`Error::Feed`] for this problem at `row`.
    pub fn at(self, row: usize) -> Error {
        Error::Feed {
            column: self.column_name().to_string(),
            row,
            msg: self.why.to_string(),
        }
    }
}

/// [`Error::FeedShape`] naming the first book column (lengths in [`BOOK_COLUMNS`] order) whose
/// length differs from `ts`'s.
pub(crate) fn check_lengths(ts: usize, cols: [usize; 20]) -> Result<()> {
    match BOOK_COLUMNS.iter().zip(cols).find(|&(_, len)| len != ts) {
        Some((name, len)) => Err(Error::FeedShape(format!(
            "column `{name}` has {len} rows but `ts` has {ts}"
        ))),
        None => Ok(()),
    }
}

impl<'a> Feed<'a> {
    /// Borrows the columns, checking that they all have the same length.
    ///
    /// # Errors
    /// [`Error::FeedShape`] naming the first column whose length differs from `ts`.
    pub fn new(ts: &'a [i64], cols: [&'a [f64]; 20]) -> Result<Self> {
        check_lengths(ts.len(), cols.map(<[f64]>::len))?;
        Ok(Self { ts, cols })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when the feed has no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The price codec for this feed: fitted to the level-0 prices of its uncrossed rows (a
    /// run that stops at its first bad row needs no more; see [`Self::fit_codec_to_valid_rows`]).
    pub fn fit_codec(&self) -> PriceCodec {
        let (bids, asks) = (self.cols[BID_PX], self.cols[ASK_PX]);
        // Clean feeds, the usual case, are settled by one vectorised pass; a feed with some
        // unusable row needs the filtered one.
        let both = |x: Option<_>, y: Option<_>| x.zip(y).map(|(x, y)| widest(x, y));
        let (lo, hi) = match in_halves(bids, asks, min_max_if_all_usable, both) {
            Some(range) => range,
            None => in_halves(bids, asks, min_max_of_usable, widest),
        };
        PriceCodec::fit(lo, hi)
    }

    /// The size codec for this feed: the lot that carries the most level-0 sizes of a sample
    /// exactly (16 runs of 64 rows spread over the feed). Level 0 because OFI, a difference of
    /// sizes that can be far smaller than they are, reads only those; the deeper levels feed
    /// ratios, which a raw f32's 24 bits serve. A sample rather than a pass over the columns,
    /// because a lot that misses a size costs it nothing beyond that same rounding.
    pub fn fit_size_codec(&self) -> SizeCodec {
        const RUNS: usize = 16;
        const RUN: usize = 64;
        let n = self.len();
        // Every row of a short feed; else runs spaced more than a run apart, so none overlap.
        let rows: Vec<usize> = if n <= RUNS * RUN {
            (0..n).collect()
        } else {
            let starts = (0..RUNS).map(|j| (n - RUN) * j / (RUNS - 1));
            starts.flat_map(|s| s..s + RUN).collect()
        };
        SizeCodec::fit(
            [BID_SZ, ASK_SZ]
                .into_iter()
                .flat_map(|c| rows.iter().map(move |&r| self.cols[c][r])),
        )
    }

    /// The codec a run that handles bad rows by `on_bad` encodes with: fitted to the rows it
    /// will encode.
    pub fn fit_codec_for(&self, on_bad: OnBad) -> PriceCodec {
        match on_bad {
            OnBad::Raise => self.fit_codec(),
            OnBad::Skip => self.fit_codec_to_valid_rows(),
        }
    }

    /// The price codec fitted to the level-0 prices of the rows that pass [`Self::check_row`]
    /// only, for a run that skips bad rows: a skipped row's price, however far off, must not
    /// coarsen every other row's.
    pub fn fit_codec_to_valid_rows(&self) -> PriceCodec {
        let (bids, asks) = (self.cols[BID_PX], self.cols[ASK_PX]);
        let mut span = (f64::INFINITY, f64::NEG_INFINITY);
        self.walk_rows(
            |rows| span = widest(span, min_max_of_usable(&bids[rows.clone()], &asks[rows])),
            |_, _| ControlFlow::Continue(()),
        );
        PriceCodec::fit(span.0, span.1)
    }

    /// The first row that fails [`Self::check_row`], and why.
    pub fn first_bad_row(&self) -> Option<(usize, Bad)> {
        let mut first = None;
        self.walk_rows(
            |_| {},
            |r, bad| {
                first = Some((r, bad));
                ControlFlow::Break(())
            },
        );
        first
    }

    /// Rows of the lowest `bid_px_0` and of the highest `ask_px_0` among the rows that pass
    /// [`Self::check_row`] (`valid_only`) or that have an uncrossed finite book: what a codec
    /// fitted to them spans.
    pub fn price_extremes(&self, valid_only: bool) -> Option<(usize, usize)> {
        let (bids, asks) = (self.cols[BID_PX], self.cols[ASK_PX]);
        let mut best: Option<(usize, usize)> = None;
        let mut take = |rows: std::ops::Range<usize>| {
            for r in rows {
                best = Some(best.map_or((r, r), |(l, h)| {
                    (
                        if bids[r] < bids[l] { r } else { l },
                        if asks[r] > asks[h] { r } else { h },
                    )
                }));
            }
        };
        if valid_only {
            self.walk_rows(take, |_, _| ControlFlow::Continue(()));
        } else {
            (0..self.len())
                .filter(|&r| bids[r] < asks[r] && bids[r].is_finite() && asks[r].is_finite())
                .for_each(|r| take(r..r + 1));
        }
        best
    }

    /// Walks the rows as a run checks them, each against the previous valid row's time: hands
    /// `valid` each stretch of rows that pass [`Self::check_row`] (a clean batch of 64 in one
    /// vectorised pass, [`Self::rows_clean`], else row by row) and `bad` each row that does
    /// not, until `bad` breaks.
    fn walk_rows(
        &self,
        mut valid: impl FnMut(std::ops::Range<usize>),
        mut bad: impl FnMut(usize, Bad) -> ControlFlow<()>,
    ) {
        const BATCH: usize = 64;
        let mut last_ts = i64::MIN;
        for start in (0..self.len()).step_by(BATCH) {
            let rows = start..(start + BATCH).min(self.len());
            if self.rows_clean(rows.clone(), last_ts) {
                last_ts = self.ts[rows.end - 1];
                valid(rows);
                continue;
            }
            for r in rows {
                match self.check_row(r, last_ts) {
                    None => {
                        last_ts = self.ts[r];
                        valid(r..r + 1);
                    }
                    Some(why) => {
                        if bad(r, why).is_break() {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The error for the first bad row of a run that stops there, `bad` at `row`: every row
    /// before it is valid. A timestamp that goes back names the one before it too, since
    /// either may be the row out of place: one glitch far ahead makes every later row go
    /// back, and they are reported (or skipped) as such.
    #[cold]
    pub fn first_bad_at(&self, row: usize, bad: Bad) -> Error {
        if bad.column.is_some() || row == 0 || self.ts[row] < 0 {
            return bad.at(row);
        }
        let prev = row - 1;
        Error::Feed {
            column: bad.column_name().to_string(),
            row,
            msg: format!(
                "timestamp decreases: {} ns after row {prev}'s {} ns (feed must be \
                 time-ordered; if row {prev} is the one out of place, every later row is \
                 behind it)",
                self.ts[row], self.ts[prev]
            ),
        }
    }

    /// Checks row `i` against the contract; `last_ts` is the previous valid row's time.
    ///
    /// Used fields only: `ts`, level-0 prices and all ten sizes (deeper prices feed nothing).
    #[inline]
    pub fn check_row(&self, i: usize, last_ts: i64) -> Option<Bad> {
        let ts = self.ts[i];
        if ts < 0 {
            return Some(Bad {
                column: None,
                why: "negative timestamp",
            });
        }
        if ts < last_ts {
            return Some(Bad {
                column: None,
                why: "timestamp decreases (feed must be time-ordered)",
            });
        }
        for c in [BID_PX, ASK_PX] {
            let p = self.cols[c][i];
            if !p.is_finite() {
                return Some(Bad {
                    column: Some(c),
                    why: "price is NaN or infinite",
                });
            }
            if p <= 0.0 {
                return Some(Bad {
                    column: Some(c),
                    why: "price is zero or negative",
                });
            }
        }
        for c in (BID_SZ..BID_SZ + 5).chain(ASK_SZ..ASK_SZ + 5) {
            let v = self.cols[c][i];
            if !v.is_finite() {
                return Some(Bad {
                    column: Some(c),
                    why: "size is NaN or infinite",
                });
            }
            if v < 0.0 {
                return Some(Bad {
                    column: Some(c),
                    why: "size is negative",
                });
            }
            // The tick carries sizes as f32 lots: beyond MAX_SIZE a size would become inf
            // (and NaN in every window after it). Below 1.2e-38 lots one becomes an f32
            // subnormal or 0; no venue quotes such sizes.
            if v > MAX_SIZE {
                return Some(Bad {
                    column: Some(c),
                    why: "size is above 3.4e30, more than the tick's f32 lots can carry",
                });
            }
        }
        if self.cols[BID_PX][i] >= self.cols[ASK_PX][i] {
            return Some(Bad {
                column: Some(ASK_PX),
                why: "crossed or locked book (bid_px_0 >= ask_px_0)",
            });
        }
        None
    }

    /// Encodes row `i` into a tick; also returns the worst level-0 price round-trip error, how
    /// many of the two level-0 sizes the tick holds only to f32's 24 bits, and the worst
    /// level-0 size round-trip error ([`SizeCodec::encode_level0`]).
    #[inline]
    pub fn encode_row(
        &self,
        i: usize,
        codec: &PriceCodec,
        sizes: &SizeCodec,
    ) -> (L2Tick, f64, usize, f64) {
        let mut t = L2Tick {
            ts: self.ts[i] as u64,
            ..L2Tick::default()
        };
        for k in 0..5 {
            t.bid_px[k] = codec.encode(self.cols[BID_PX + k][i]);
            t.bid_sz[k] = self.cols[BID_SZ + k][i] as f32;
            t.ask_px[k] = codec.encode(self.cols[ASK_PX + k][i]);
            t.ask_sz[k] = self.cols[ASK_SZ + k][i] as f32;
        }
        let (inexact, size_err) =
            sizes.encode_level0(&mut t, self.cols[BID_SZ][i], self.cols[ASK_SZ][i]);
        let err_b = (codec.decode(t.bid_px[0]) - self.cols[BID_PX][i]).abs();
        let err_a = (codec.decode(t.ask_px[0]) - self.cols[ASK_PX][i]).abs();
        (t, err_b.max(err_a), inexact, size_err)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    fn columns(n: usize) -> (Vec<i64>, Vec<Vec<f64>>) {
        let ts = (0..n as i64).collect();
        let mut cols = vec![vec![1.0; n]; 20];
        for k in 0..5 {
            cols[BID_PX + k] = vec![100.0 - k as f64; n];
            cols[ASK_PX + k] = vec![101.0 + k as f64; n];
        }
        (ts, cols)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap()
    }

    #[test]
    fn length_mismatch_names_the_column() {
        let (ts, mut cols) = columns(3);
        cols[7].pop();
        let err = Feed::new(&ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap_err();
        assert!(err.to_string().contains("bid_sz_2"), "{err}");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(usize, f64, &str); 5] = [
            (BID_PX, f64::NAN, "bid_px_0"),
            (ASK_PX, f64::INFINITY, "ask_px_0"),
            (BID_SZ + 3, -1.0, "bid_sz_3"),
            (ASK_SZ + 4, f64::NAN, "ask_sz_4"),
            (BID_PX, 101.0, "ask_px_0"),
        ];
        for (col, v, name) in cases {
            let (ts, mut cols) = columns(4);
            cols[col][2] = v;
            let f = feed(&ts, &cols);
            assert!(f.check_row(1, 0).is_none());
            let bad = f.check_row(2, 1).expect("row 2 is bad");
            assert_eq!(bad.column_name(), name);
            assert!(bad.at(2).to_string().contains("row 2"));
        }
    }

    #[test]
    fn time_must_not_go_back_and_deep_empty_levels_are_fine() {
        let (ts, mut cols) = columns(3);
        cols[BID_PX + 4][1] = f64::NAN;
        cols[BID_SZ + 4][1] = 0.0;
        let f = feed(&ts, &cols);
        assert!(f.check_row(1, 1).is_none());
        assert_eq!(f.check_row(1, 2).unwrap().column_name(), "ts");
    }

    #[test]
    fn the_size_lot_follows_the_level_0_sizes_of_the_whole_feed() {
        for n in [0, 1, 63, 64, 65, 5_000] {
            let (ts, mut cols) = columns(n);
            // Level 0 on a 10^-5 grid, but only late in the feed; deeper sizes off any grid.
            let late = n * 3 / 4;
            cols[BID_SZ] = (0..n)
                .map(|r| if r >= late { 0.123_45 } else { 0.5 })
                .collect();
            cols[ASK_SZ] = (0..n).map(|r| 2.0 + r as f64 * 1e-4).collect();
            for k in 1..5 {
                cols[BID_SZ + k] = (0..n)
                    .map(|r| (r as f64 + 0.5).sqrt() * std::f64::consts::E)
                    .collect();
            }
            let f = feed(&ts, &cols);
            let want = if n == 0 {
                SizeCodec::RAW
            } else {
                SizeCodec::with_decimals(5)
            };
            assert_eq!(f.fit_size_codec(), want, "{n} rows");
        }
    }

    /// [`Feed::walk_rows`]'s three users against a plain row-by-row walk.
    #[test]
    fn the_batched_walk_agrees_with_row_by_row() {
        let n = 300;
        let (ts, mut cols) = columns(n);
        cols[BID_PX] = (0..n).map(|r| 100.0 + (r % 7) as f64 * 0.01).collect();
        cols[ASK_PX] = (0..n).map(|r| 100.5 + (r % 5) as f64 * 0.01).collect();
        // Bad rows in some batches (first, middle, last rows of a batch), with far-off prices
        // that only a walk counting them would see; extremes inside clean batches.
        let bads: [(usize, usize, f64); 5] = [
            (63, BID_SZ + 2, -1.0),
            (64, ASK_PX, 50.0), // crossed, and the lowest ask
            (130, BID_PX, 1.0), // the lowest bid; made bad by its NaN size
            (130, ASK_SZ, f64::NAN),
            (299, BID_PX, f64::INFINITY),
        ];
        cols[BID_PX][200] = 99.0;
        cols[ASK_PX][17] = 102.0;
        for (r, c, v) in bads {
            cols[c][r] = v;
        }
        let f = feed(&ts, &cols);
        let mut last = i64::MIN;
        let mut kept = Vec::new();
        let mut first = None;
        for (r, &t) in ts.iter().enumerate() {
            match f.check_row(r, last) {
                None => {
                    last = t;
                    kept.push(r);
                }
                Some(bad) => {
                    first = first.or(Some((r, bad)));
                }
            }
        }
        assert_eq!(f.first_bad_row(), first);
        assert_eq!(first.map(|(r, _)| r), Some(63));
        let lo = kept
            .iter()
            .copied()
            .min_by(|&a, &b| cols[BID_PX][a].total_cmp(&cols[BID_PX][b]));
        let hi = kept
            .iter()
            .copied()
            .max_by(|&a, &b| cols[ASK_PX][a].total_cmp(&cols[ASK_PX][b]));
        assert_eq!(f.price_extremes(true), Some((lo.unwrap(), hi.unwrap())));
        assert_eq!(f.price_extremes(true), Some((200, 17)));
        assert_eq!(f.price_extremes(false), Some((130, 17)));
        let (b, a) = (cols[BID_PX][200], cols[ASK_PX][17]);
        assert_eq!(f.fit_codec_to_valid_rows(), PriceCodec::fit(b, a));
    }

    #[test]
    fn encoding_is_exact_on_a_cent_grid() {
        let (ts, mut cols) = columns(2);
        cols[BID_PX][0] = 90_000.00;
        cols[ASK_PX][0] = 90_000.01;
        let f = feed(&ts, &cols);
        let codec = f.fit_codec();
        let (t, err, _, _) = f.encode_row(0, &codec, &f.fit_size_codec());
        assert!(err < 1e-9);
        let spread = codec.decode(t.ask_px[0]) - codec.decode(t.bid_px[0]);
        assert!((spread - 0.01).abs() < 1e-9);
    }
}
