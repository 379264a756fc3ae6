//! Several feeds interleaved in one table (as a collector writes them): each feed's rows are
//! gathered run by run into scratch columns, computed as one feed, and scattered back.
//!
//! Gathering a whole feed at a time would fault in a copy of every input and output column;
//! a run's scratch stays in cache and is reused, so the table is only read once and the
//! output written once.

use std::marker::PhantomData;

use rayon::prelude::*;

use super::{compute_run, plan_runs, window_start};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::scorer::N_FEATURES;

/// The 18 features of every row of `table`, whose rows belong to the feeds `feeds` (each feed
/// listed by its row numbers, ascending; every row in exactly one feed). OFI and windows
/// never cross feeds; rows keep the table's order.
///
/// # Errors
/// As [`super::compute`], naming the row of the table; [`Error::FeedShape`] when `feeds` is
/// not a partition of the table's rows into ascending lists.
pub fn compute_feeds(
    table: &Feed<'_>,
    feeds: &[&[u32]],
    windows_ms: [u64; 3],
) -> Result<[Vec<f64>; N_FEATURES]> {
    let len_ns = super::window_lengths(windows_ms)?;
    check_partition(feeds, table.len())?;
    let mut cols: [Vec<f64>; N_FEATURES] = std::array::from_fn(|_| vec![0.0; table.len()]);
    let out = Scatter::new(&mut cols);
    // Each feed's times, contiguous: runs are planned and windows searched on them.
    let times: Vec<Vec<i64>> = feeds
        .par_iter()
        .map(|rows| rows.iter().map(|&r| table.ts[r as usize]).collect())
        .collect();
    let tasks: Vec<(usize, std::ops::Range<usize>)> = times
        .iter()
        .enumerate()
        .flat_map(|(f, ts)| {
            let bounds = plan_runs(ts, len_ns[2]);
            let runs: Vec<_> = bounds.windows(2).map(|b| (f, b[0]..b[1])).collect();
            runs
        })
        .collect();
    let first_bad = tasks
        .into_par_iter()
        .map_init(Scratch::default, |scratch, (f, run)| {
            feed_run(table, feeds[f], &times[f], len_ns, run, scratch, &out)
        })
        .filter_map(std::result::Result::err)
        .min_by_key(|&(row, _)| row);
    match first_bad {
        Some((row, bad)) => Err(bad.at(row)),
        None => Ok(cols),
    }
}

/// Every row in exactly one feed, each feed ascending: what makes the scattered writes of
/// parallel runs disjoint (see [`Scatter`]).
fn check_partition(feeds: &[&[u32]], n: usize) -> Result<()> {
    let mut seen = vec![false; n];
    for (f, rows) in feeds.iter().enumerate() {
        let mut prev: Option<u32> = None;
        for &r in *rows {
            let fresh = seen.get(r as usize).is_some_and(|s| !s);
            if !fresh || prev.is_some_and(|p| p >= r) {
                return Err(Error::FeedShape(format!(
                    "feed {f} lists row {r}: out of range, listed twice or out of order"
                )));
            }
            seen[r as usize] = true;
            prev = Some(r);
        }
    }
    if let Some(r) = seen.iter().position(|s| !s) {
        return Err(Error::FeedShape(format!("row {r} belongs to no feed")));
    }
    Ok(())
}

/// One run's copy of its rows (with the warm-up before them) and of its outputs.
#[derive(Default)]
struct Scratch {
    ts: Vec<i64>,
    cols: [Vec<f64>; 20],
    out: [Vec<f64>; N_FEATURES],
    prefix: Vec<[f64; 3]>,
}

/// Computes rows `run` of the feed whose table rows are `rows` (times `ts`) and scatters them
/// into `out`; a bad row is returned by its number in the table.
fn feed_run(
    table: &Feed<'_>,
    rows: &[u32],
    ts: &[i64],
    len_ns: [i64; 3],
    run: std::ops::Range<usize>,
    scratch: &mut Scratch,
    out: &Scatter<'_>,
) -> std::result::Result<(), (usize, crate::feed::Bad)> {
    // From the row before the oldest one the run's windows reach (its OFI needs it).
    let first = window_start(ts, run.start, len_ns[2]).saturating_sub(1);
    let copied = &rows[first..run.end];
    scratch.ts.clear();
    scratch.ts.extend_from_slice(&ts[first..run.end]);
    for (dst, src) in scratch.cols.iter_mut().zip(&table.cols) {
        dst.clear();
        dst.extend(copied.iter().map(|&r| src[r as usize]));
    }
    let local = run.start - first..run.end - first;
    for col in &mut scratch.out {
        col.clear();
        col.resize(local.len(), 0.0);
    }
    let feed = Feed {
        ts: &scratch.ts,
        cols: std::array::from_fn(|c| scratch.cols[c].as_slice()),
    };
    let mut outs = scratch.out.each_mut().map(Vec::as_mut_slice);
    compute_run(&feed, len_ns, local, &mut outs, &mut scratch.prefix)
        .map_err(|(i, bad)| (copied[i] as usize, bad))?;
    for (j, col) in scratch.out.iter().enumerate() {
        for (&r, &v) in rows[run.clone()].iter().zip(col) {
            // SAFETY: `r` is a row of this run, and runs hold disjoint rows (see `Scatter`).
            unsafe { out.write(j, r as usize, v) };
        }
    }
    Ok(())
}

/// The output columns, written by parallel runs through raw pointers, each run its own rows.
struct Scatter<'a> {
    cols: [*mut f64; N_FEATURES],
    len: usize,
    _borrow: PhantomData<&'a mut [f64]>,
}

// SAFETY: `Scatter` only hands out writes through `write`, whose contract is that no two
// threads write the same element; the columns are borrowed mutably for `'a`, so nothing else
// reads or writes them meanwhile.
unsafe impl Sync for Scatter<'_> {}

impl<'a> Scatter<'a> {
    fn new(cols: &'a mut [Vec<f64>; N_FEATURES]) -> Self {
        let len = cols[0].len();
        assert!(cols.iter().all(|c| c.len() == len), "columns of one length");
        Self {
            cols: cols.each_mut().map(Vec::as_mut_ptr),
            len,
            _borrow: PhantomData,
        }
    }

    /// Writes `v` at `row` of column `j`.
    ///
    /// # Safety
    /// No other thread may write the same `(j, row)` while this `Scatter` lives. Holds here
    /// because [`check_partition`] proved every row belongs to exactly one feed and the runs
    /// of a feed take disjoint ranges of its rows.
    unsafe fn write(&self, j: usize, row: usize, v: f64) {
        assert!(row < self.len, "row {row} out of {}", self.len);
        // SAFETY: `row` is in bounds (asserted), the pointer comes from a live, mutably
        // borrowed column, and by the caller's contract no other thread touches this element.
        unsafe { self.cols[j].add(row).write(v) };
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::super::{compute, tests::columns, RUN_ROWS};
    use super::*;

    /// Three feeds of different lengths interleaved row by row, in a fixed shuffled order.
    fn interleave(parts: &[(Vec<i64>, Vec<Vec<f64>>)]) -> (Vec<i64>, Vec<Vec<f64>>, Vec<Vec<u32>>) {
        let mut next = vec![0usize; parts.len()];
        let total: usize = parts.iter().map(|p| p.0.len()).sum();
        let (mut ts, mut cols, mut feeds) = (
            Vec::new(),
            vec![Vec::new(); 20],
            vec![Vec::new(); parts.len()],
        );
        let mut x = 0x1234_5678u64;
        while ts.len() < total {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let f = (x >> 33) as usize % parts.len();
            let i = next[f];
            if i == parts[f].0.len() {
                continue;
            }
            next[f] += 1;
            feeds[f].push(ts.len() as u32);
            ts.push(parts[f].0[i]);
            for (c, col) in cols.iter_mut().enumerate() {
                col.push(parts[f].1[c][i]);
            }
        }
        (ts, cols, feeds)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap()
    }

    #[test]
    fn each_feed_gets_what_it_gets_alone() {
        let parts = [
            columns(3 * RUN_ROWS + 17, 1),
            columns(RUN_ROWS / 3, 2),
            columns(2 * RUN_ROWS, 3),
        ];
        let (ts, cols, feeds) = interleave(&parts);
        let lists: Vec<&[u32]> = feeds.iter().map(Vec::as_slice).collect();
        let got = compute_feeds(&feed(&ts, &cols), &lists, [10, 20, 50]).unwrap();
        for (part, rows) in parts.iter().zip(&feeds) {
            let alone = compute(&feed(&part.0, &part.1), [10, 20, 50]).unwrap();
            for j in 0..N_FEATURES {
                let scale = alone[j]
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()))
                    .max(1e-300);
                for (i, &r) in rows.iter().enumerate() {
                    let dev = (got[j][r as usize] - alone[j][i]).abs() / scale;
                    assert!(
                        dev < 1e-12,
                        "feature {j} row {r}: {} vs {}",
                        got[j][r as usize],
                        alone[j][i]
                    );
                }
            }
        }
    }

    #[test]
    fn a_bad_row_is_named_by_its_table_row() {
        let parts = [columns(RUN_ROWS + 5, 4), columns(RUN_ROWS, 5)];
        let (ts, mut cols, feeds) = interleave(&parts);
        let row = feeds[1][RUN_ROWS - 3] as usize;
        cols[crate::feed::ASK_SZ + 1][row] = -2.0;
        let lists: Vec<&[u32]> = feeds.iter().map(Vec::as_slice).collect();
        let err = compute_feeds(&feed(&ts, &cols), &lists, [10, 20, 50]).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("row {row}, column `ask_sz_1`")),
            "{err}"
        );
    }

    #[test]
    fn feeds_must_partition_the_rows() {
        let (ts, cols) = columns(6, 9);
        let f = feed(&ts, &cols);
        for bad in [
            vec![&[0u32, 1, 2][..], &[3, 4][..]],    // row 5 in no feed
            vec![&[0, 1, 2][..], &[2, 3, 4, 5][..]], // row 2 twice
            vec![&[0, 2, 1][..], &[3, 4, 5][..]],    // out of order
            vec![&[0, 1, 2][..], &[3, 4, 6][..]],    // out of range
        ] {
            assert!(matches!(
                compute_feeds(&f, &bad, [10, 20, 50]),
                Err(Error::FeedShape(_))
            ));
        }
        let ok = compute_feeds(&f, &[&[0, 2, 4], &[1, 3, 5]], [10, 20, 50]).unwrap();
        assert_eq!(ok[2][0], 0.0);
        assert_eq!(ok[2][1], 0.0, "each feed's first row has OFI 0");
    }
}
