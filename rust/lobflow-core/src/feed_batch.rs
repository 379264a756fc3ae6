//! Checking and encoding a run of clean rows column by column: the producer's flat-out path
//! (the batch features check their rows the same way).
//!
//! Row by row, the producer reads 21 columns at 21 scattered addresses per row and tests each
//! field with a branch; column by column, each read is a sequential stream the prefetcher
//! follows, and the tests become vectorised passes ([`crate::columns`]). A run that is not
//! clean is left to the row-by-row path, which finds and names the bad row exactly as before.

use crate::columns::{all_sizes_carried, min_max_if_all_usable, round_trip_errors};
use crate::feed::{Feed, ASK_PX, ASK_SZ, BID_PX, BID_SZ};
use crate::tick::{L2Tick, PriceCodec, SizeCodec, CARRY_ULPS};

/// What [`Feed::encode_clean_rows`] learnt of a clean run besides its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Encoded {
    /// The worst level-0 price round-trip error, as [`Feed::encode_row`] gives it.
    pub max_price_error: f64,
    /// Whether the codec carried every level-0 price ([`PriceCodec::carries`]).
    pub prices_carried: bool,
    /// Level-0 sizes the ticks hold only to f32's 24 bits ([`SizeCodec::encode_exact`]).
    pub sizes_inexact: usize,
    /// The worst level-0 size round-trip error ([`SizeCodec::encode_level0`]).
    pub max_size_error: f64,
}

impl Feed<'_> {
    /// True when every row of `rows` passes [`Feed::check_row`], `last_ts` being the time of
    /// the previous valid row: vectorised passes over each column instead of a test per field.
    ///
    /// # Panics
    /// If the rows run past the end of the feed.
    pub fn rows_clean(&self, rows: std::ops::Range<usize>, last_ts: i64) -> bool {
        if !times_clean(&self.ts[rows.clone()], last_ts) {
            return false;
        }
        let (bids, asks) = (
            &self.cols[BID_PX][rows.clone()],
            &self.cols[ASK_PX][rows.clone()],
        );
        min_max_if_all_usable(bids, asks).is_some()
            && (BID_SZ..BID_SZ + 5)
                .chain(ASK_SZ..ASK_SZ + 5)
                .all(|c| all_sizes_carried(&self.cols[c][rows.clone()]))
    }

    /// Encodes rows `start..start + out.len()` into `out` when every one of them passes
    /// [`Feed::check_row`] (with `last_ts` the time of the previous valid row), and says
    /// what it found (`Encoded`); `None` when some row does not pass (then `out` holds
    /// nothing meaningful).
    ///
    /// # Panics
    /// If the rows run past the end of the feed.
    pub fn encode_clean_rows(
        &self,
        start: usize,
        out: &mut [L2Tick],
        codec: &PriceCodec,
        sizes: &SizeCodec,
        last_ts: i64,
    ) -> Option<Encoded> {
        let rows = start..start + out.len();
        if !self.rows_clean(rows.clone(), last_ts) {
            return None;
        }
        let ts = &self.ts[rows.clone()];
        let (bids, asks) = (
            &self.cols[BID_PX][rows.clone()],
            &self.cols[ASK_PX][rows.clone()],
        );
        for (t, &v) in out.iter_mut().zip(ts) {
            t.ts = v as u64;
        }
        let (mut sizes_inexact, mut max_size_error) = (0, 0.0f64);
        for k in 0..5 {
            let col = |c: usize| &self.cols[c + k][rows.clone()];
            for (t, (&bp, &ap)) in out.iter_mut().zip(col(BID_PX).iter().zip(col(ASK_PX))) {
                t.bid_px[k] = codec.encode(bp);
                t.ask_px[k] = codec.encode(ap);
            }
            let level_sizes = out.iter_mut().zip(col(BID_SZ).iter().zip(col(ASK_SZ)));
            if k == 0 {
                for (t, (&bs, &az)) in level_sizes {
                    let (inexact, err) = sizes.encode_level0(t, bs, az);
                    sizes_inexact += inexact;
                    max_size_error = max_size_error.max(err);
                }
            } else {
                for (t, (&bs, &az)) in level_sizes {
                    t.bid_sz[k] = bs as f32;
                    t.ask_sz[k] = az as f32;
                }
            }
        }
        // Worst error and worst excess over the price's own allowance, in one vectorised
        // pass per side (a second pass over the decoded prices cost the engine ~13 %).
        let err = |prices: &[f64], side: fn(&L2Tick) -> f32| {
            let mut decoded = [0.0f64; 64];
            let (mut worst, mut excess) = (0.0f64, f64::NEG_INFINITY);
            for (ps, ts) in prices.chunks(64).zip(out.chunks(64)) {
                for (d, t) in decoded.iter_mut().zip(ts) {
                    *d = codec.decode(side(t));
                }
                let (w, x) = round_trip_errors(&decoded[..ps.len()], ps, CARRY_ULPS);
                (worst, excess) = (worst.max(w), excess.max(x));
            }
            (worst, excess)
        };
        let (err_b, over_b) = err(bids, |t| t.bid_px[0]);
        let (err_a, over_a) = err(asks, |t| t.ask_px[0]);
        let worst = err_b.max(err_a);
        // Non-finite errors make `worst` infinite; the excess is then meaningless.
        Some(Encoded {
            max_price_error: worst,
            prices_carried: worst.is_finite() && over_b.max(over_a) <= 0.0,
            sizes_inexact,
            max_size_error,
        })
    }
}

impl Feed<'_> {
    /// Asks the cache for rows `rows` of every column the producer reads, ahead of
    /// [`Feed::encode_clean_rows`]: 21 concurrent streams are more than the hardware
    /// prefetcher follows reliably, and a stalled producer starves the worker.
    pub fn prefetch_rows(&self, rows: std::ops::Range<usize>) {
        let rows = rows.start.min(self.len())..rows.end.min(self.len());
        let lines = |col: *const i8| {
            // Eight f64 to a 64-byte line. `wrapping_add`, not `add`: `Feed`'s fields are
            // public, so a column may be shorter than `ts`, and a prefetch may be anywhere.
            for r in rows.clone().step_by(8) {
                crate::ring::prefetch_read(col.wrapping_add(r * 8));
            }
        };
        lines(self.ts.as_ptr().cast());
        for c in &self.cols {
            lines(c.as_ptr().cast());
        }
    }
}

/// True when the times are non-negative and never go back: the first against `last_ts` (the
/// previous valid row's, and 0), then each against the one before it.
pub(crate) fn times_clean(ts: &[i64], last_ts: i64) -> bool {
    let first_ok = ts.first().map_or(true, |&t| t >= last_ts.max(0));
    first_ok && ts.windows(2).fold(0u32, |n, w| n + u32::from(w[1] < w[0])) == 0
}

#[cfg(test)]
mod tests {
    use super::Encoded;
    use crate::feed::{Feed, BOOK_COLUMNS};
    use crate::tick::{L2Tick, SizeCodec};

    /// The lot of [`columns`]'s sizes, multiples of 0.125.
    fn sizes() -> SizeCodec {
        SizeCodec::with_decimals(3)
    }

    /// A clean 0.01-grid feed of `n` rows with irregular times (some equal).
    fn columns(n: usize) -> (Vec<i64>, Vec<Vec<f64>>) {
        let ts = (0..n).map(|i| 1_000 + (i as i64 / 3) * 7).collect();
        let cols = BOOK_COLUMNS
            .iter()
            .enumerate()
            .map(|(c, name)| {
                (0..n)
                    .map(|i| {
                        let i = i as f64;
                        let lvl = (c % 5) as f64;
                        if name.starts_with("bid_px") {
                            90_000.0 + ((i * 7.0) % 13.0) * 0.01 - lvl * 0.01
                        } else if name.starts_with("ask_px") {
                            90_000.2 + ((i * 5.0) % 11.0) * 0.01 + lvl * 0.01
                        } else {
                            ((i * 3.0 + c as f64) % 17.0) * 0.125
                        }
                    })
                    .collect()
            })
            .collect();
        (ts, cols)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|i| cols[i].as_slice())).expect("aligned")
    }

    /// What the row-by-row path makes of rows `start..start + n`: the ticks, the worst price
    /// error and the inexact sizes.
    fn row_by_row(
        f: &Feed<'_>,
        start: usize,
        n: usize,
        last_ts: i64,
    ) -> Option<(Vec<L2Tick>, f64, usize, f64)> {
        let codec = f.fit_codec();
        let mut last = last_ts;
        let (mut worst, mut inexact, mut size_worst) = (0.0f64, 0, 0.0f64);
        let mut out = Vec::new();
        for i in start..start + n {
            if f.check_row(i, last).is_some() {
                return None;
            }
            last = f.ts[i];
            let (tick, err, sizes_off, size_err) = f.encode_row(i, &codec, &f.fit_size_codec());
            (worst, inexact) = (worst.max(err), inexact + sizes_off);
            size_worst = size_worst.max(size_err);
            out.push(tick);
        }
        Some((out, worst, inexact, size_worst))
    }

    #[test]
    fn clean_runs_encode_exactly_as_row_by_row() {
        let (ts, cols) = columns(200);
        let f = feed(&ts, &cols);
        let codec = f.fit_codec();
        assert_eq!(f.fit_size_codec(), sizes());
        for (start, n) in [(0, 64), (3, 64), (136, 64), (10, 1), (10, 0), (5, 13)] {
            let mut out = vec![L2Tick::default(); n];
            let enc = f.encode_clean_rows(start, &mut out, &codec, &sizes(), i64::MIN);
            let (expect, err, inexact, size_err) =
                row_by_row(&f, start, n, i64::MIN).expect("clean");
            assert_eq!(out, expect, "rows {start}+{n}");
            let want = Encoded {
                max_price_error: err,
                prices_carried: true,
                sizes_inexact: inexact,
                max_size_error: size_err,
            };
            assert_eq!(enc, Some(want), "rows {start}+{n}");
        }
    }

    #[test]
    fn sizes_the_ticks_cannot_hold_are_counted_and_no_others() {
        let (ts, mut cols) = columns(64);
        let (bid_sz, ask_sz) = (5, 15); // BOOK_COLUMNS' bid_sz_0 and ask_sz_0
                                        // The batch's count, checked against the row-by-row path's.
        let count = |cols: &[Vec<f64>], sizes: &SizeCodec| {
            let f = feed(&ts, cols);
            let (codec, mut out) = (f.fit_codec(), vec![L2Tick::default(); 64]);
            let enc = f.encode_clean_rows(0, &mut out, &codec, sizes, i64::MIN);
            let rows: usize = (0..64).map(|i| f.encode_row(i, &codec, sizes).2).sum();
            assert_eq!(enc.expect("clean").sizes_inexact, rows);
            rows
        };
        assert_eq!(count(&cols, &sizes()), 0);
        // Whole lots from 2^31 up keep 24 bits; 2^31 - 1 lots is the last exact size.
        cols[bid_sz][3] = 2_147_483_647.0 / 1000.0;
        cols[ask_sz][9] = (2_147_483_648.0 + 3.0) / 1000.0;
        cols[ask_sz][60] = 123_456_789.125;
        assert_eq!(count(&cols, &sizes()), 2);
        // A size off the lot's grid: 10^-4 under a lot of 10^-3.
        cols[bid_sz][33] = 0.1234;
        assert_eq!(count(&cols, &sizes()), 3);
        // Float32 input under lots of 1: the f32 holds every such size as it is.
        let f32s: Vec<Vec<f64>> = cols
            .iter()
            .map(|c| c.iter().map(|&v| f64::from(v as f32)).collect())
            .collect();
        assert_eq!(count(&f32s, &SizeCodec::RAW), 0);
    }

    #[test]
    fn a_price_off_the_codec_grid_is_flagged_in_any_row() {
        let (ts, cols) = columns(64);
        let f = feed(&ts, &cols);
        let codec = f.fit_codec();
        let mut out = vec![L2Tick::default(); 64];
        assert_eq!(
            f.encode_clean_rows(0, &mut out, &codec, &sizes(), i64::MIN)
                .map(|r| r.prices_carried),
            Some(true)
        );
        for row in [0, 31, 63] {
            let mut off = cols.clone();
            // A third of a quantum off: between two of the codec's grid points.
            off[BOOK_COLUMNS.iter().position(|&n| n == "ask_px_0").unwrap()][row] +=
                codec.quantum / 3.0;
            let f = feed(&ts, &off);
            let enc = f.encode_clean_rows(0, &mut out, &codec, &sizes(), i64::MIN);
            assert!(!enc.unwrap().prices_carried, "row {row}");
        }
    }

    #[test]
    fn any_bad_row_sends_the_run_back_to_row_by_row() {
        let (ts, cols) = columns(64);
        // Every field check_row tests, broken in the first, a middle and the last row.
        let breakers: [(&str, f64); 8] = [
            ("bid_px_0", f64::NAN),
            ("ask_px_0", f64::INFINITY),
            ("ask_px_0", 89_000.0), // crossed
            ("bid_sz_3", -0.5),
            ("ask_sz_4", f64::NAN),
            ("bid_sz_0", f64::INFINITY),
            ("ask_sz_2", 1e39),   // beyond f32
            ("bid_sz_1", 3.5e30), // beyond f32 lots of the finest lot
        ];
        for (name, value) in breakers {
            for row in [0, 31, 63] {
                let mut cols = cols.clone();
                let c = BOOK_COLUMNS
                    .iter()
                    .position(|&n| n == name)
                    .expect("column");
                cols[c][row] = value;
                let f = feed(&ts, &cols);
                let codec = f.fit_codec();
                let mut out = vec![L2Tick::default(); 64];
                assert_eq!(row_by_row(&f, 0, 64, i64::MIN), None);
                assert_eq!(
                    f.encode_clean_rows(0, &mut out, &codec, &sizes(), i64::MIN),
                    None,
                    "{name}={value} at row {row}"
                );
            }
        }
        let f = feed(&ts, &cols);
        let codec = f.fit_codec();
        let mut out = vec![L2Tick::default(); 64];
        // Time going back: inside the run, and against the last valid row before it.
        let mut back = ts.clone();
        back[40] = back[39] - 1;
        let fb = feed(&back, &cols);
        assert_eq!(
            fb.encode_clean_rows(0, &mut out, &codec, &sizes(), i64::MIN),
            None
        );
        assert_eq!(
            f.encode_clean_rows(0, &mut out, &codec, &sizes(), ts[0] + 1),
            None
        );
        assert!(f
            .encode_clean_rows(0, &mut out, &codec, &sizes(), ts[0])
            .is_some());
        let mut neg = ts.clone();
        neg[0] = -1;
        let fn_ = feed(&neg, &cols);
        assert_eq!(
            fn_.encode_clean_rows(0, &mut out, &codec, &sizes(), i64::MIN),
            None
        );
    }
}
