//! The 18 contract features of a whole table at once, column by column: the batch counterpart
//! of [`crate::features::FeatureState`], behind `lobflow.features.compute` (a polars plugin).
//!
//! The engine updates its features one tick at a time from the history it has kept; a table
//! has every row at hand, so here a feature is a loop over a run of rows that the compiler
//! vectorises, and runs are computed in parallel on rayon's pool. It is a second
//! implementation of `docs/feature-contract.md`, written apart from the engine's: the tests hold
//! both, and an oracle in `NumPy`, to the same numbers.
//!
//! Each run copies its rows (and the rows before them that its windows reach: its warm-up)
//! out of the table into scratch that stays in cache, computes them there (`kernel.rs`) and
//! writes them to the output. So the input is read in place however polars chunked it
//! (`table.rs`), several feeds interleaved in one table are computed feed by feed without
//! copying whole feeds, and each output column is written once.
//!
//! A window's mean comes from prefix sums of `(ofi, spread, qi0)` that each run starts afresh
//! at its warm-up, so runs need nothing from each other and a prefix sum spans at most about
//! two runs of rows: the difference of two of them loses at most ~2·`RUN_ROWS`·ε of the
//! feature's scale, however long the feed.

mod kernel;
mod scatter;
mod table;

use std::borrow::Cow;

use rayon::prelude::*;

pub use table::{Chunked, Table};

use crate::error::{Error, Result};
use crate::feed::{Bad, Feed};
use crate::weights::N_FEATURES;
use crate::windows::windows_are_valid;
use kernel::compute_run;
use scatter::Scatter;
use table::Rows;

/// Rows per run. Small enough that a run's scratch stays in L2 between its passes (the window
/// pass reads what the point pass wrote), large enough that the per-run binary searches and
/// task hand-offs do not show.
const RUN_ROWS: usize = 1 << 13;

/// Indices of the three windowed series among the features (`ofi`, `spread`, `qi_0`).
const SERIES: [usize; 3] = [2, 1, 4];

/// The 18 features of every row of `feed` (one feed, time-ordered), as 18 columns in contract
/// order.
///
/// # Errors
/// [`Error::Config`] for windows that are not three positive, strictly ascending lengths;
/// [`Error::Feed`] naming the first row (and column) that breaks the contract, as the engine's
/// producer would.
///
/// # Examples
/// ```
/// use lobflow_core::feature_columns::compute;
/// use lobflow_core::feed::Feed;
///
/// let ts = [0_i64, 5_000_000];
/// let cols: [Vec<f64>; 20] = std::array::from_fn(|c| match c {
///     0..=4 => vec![99.0 - c as f64; 2],        // bid prices
///     10..=14 => vec![101.0 + (c - 10) as f64; 2], // ask prices
///     _ => vec![1.0; 2],                         // sizes
/// });
/// let feed = Feed::new(&ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap();
/// let f = compute(&feed, [10, 20, 50]).unwrap();
/// assert_eq!(f[1], [2.0, 2.0]); // spread
/// assert_eq!(f[12], [2.0, 2.0]); // rolling_spread_10ms
/// ```
pub fn compute(feed: &Feed<'_>, windows_ms: [u64; 3]) -> Result<[Vec<f64>; N_FEATURES]> {
    compute_table(&Table::from(feed), None, windows_ms)
}

/// The 18 features of every row of `table`, in the table's row order.
///
/// `feeds`: `None` when the table is one feed; else each feed's rows (ascending, every row in
/// exactly one feed), for several feeds interleaved in one table. OFI and windows never cross
/// feeds.
///
/// # Errors
/// As [`compute`], naming the row of the table; [`Error::FeedShape`] when `feeds` is not a
/// partition of the table's rows into ascending lists.
pub fn compute_table(
    table: &Table<'_>,
    feeds: Option<&[&[u32]]>,
    windows_ms: [u64; 3],
) -> Result<[Vec<f64>; N_FEATURES]> {
    // Zeroed allocations come from fresh pages of the kernel: no pass of our own to clear them.
    // (Faulting those pages in is most of the time on long tables. Huge pages are not asked
    // for: they made a process's first call slower on VMs whose balloon hands freed huge
    // pages back to the host; docs/experiments.md.)
    let mut cols: [Vec<f64>; N_FEATURES] = std::array::from_fn(|_| vec![0.0; table.len()]);
    compute_table_into(
        table,
        feeds,
        windows_ms,
        cols.each_mut().map(Vec::as_mut_slice),
    )?;
    Ok(cols)
}

/// [`compute_table`] into caller-owned columns, each `table.len()` long (what they held
/// before is overwritten).
///
/// # Errors
/// As [`compute_table`], and [`Error::FeedShape`] for an output column of another length.
pub fn compute_table_into(
    table: &Table<'_>,
    feeds: Option<&[&[u32]]>,
    windows_ms: [u64; 3],
    out: [&mut [f64]; N_FEATURES],
) -> Result<()> {
    let len_ns = window_lengths(windows_ms)?;
    let n = table.len();
    if let Some(j) = out.iter().position(|c| c.len() != n) {
        return Err(Error::FeedShape(format!(
            "output column {j} has {} rows, the table {n}",
            out[j].len()
        )));
    }
    let feeds: Vec<Rows<'_>> = match feeds {
        None => vec![Rows::Range(0..n)],
        Some(lists) => {
            check_partition(lists, n)?;
            lists.iter().map(|l| Rows::Listed(l)).collect()
        }
    };
    // Each feed's times, contiguous (borrowed where they already are): runs are planned and
    // windows searched on them.
    let times: Vec<Cow<'_, [i64]>> = feeds
        .par_iter()
        .map(|rows| {
            if let (Rows::Range(r), Some(ts)) = (rows, table.ts.as_slice()) {
                return Cow::Borrowed(&ts[r.clone()]);
            }
            let mut ts = Vec::with_capacity(rows.len());
            table.ts.extend(rows, &mut ts);
            Cow::Owned(ts)
        })
        .collect();
    let mut tasks: Vec<(usize, std::ops::Range<usize>)> = times
        .iter()
        .enumerate()
        .flat_map(|(f, ts)| {
            let bounds = plan_runs(ts, len_ns[2]);
            let runs: Vec<_> = bounds.windows(2).map(|b| (f, b[0]..b[1])).collect();
            runs
        })
        .collect();
    // In table order: interleaved feeds share output cache lines, and runs of one region
    // of the table then fill them on one thread, close in time (rayon splits the list into
    // contiguous parts). Feed by feed, each line went back and forth between the cores.
    tasks.sort_by_key(|(f, run)| feeds[*f].row(run.start));
    let out = Scatter::new(out);
    let first_bad = tasks
        .into_par_iter()
        .map_init(Scratch::default, |scratch, (f, run)| {
            feed_run(table, &feeds[f], &times[f], len_ns, run, scratch, &out)
        })
        .filter_map(std::result::Result::err)
        .min_by_key(|&(row, _)| row);
    match first_bad {
        Some((row, bad)) => Err(bad.at(row)),
        None => Ok(()),
    }
}

/// The windows in ns, once checked to be three positive, strictly ascending lengths in ms.
fn window_lengths(windows_ms: [u64; 3]) -> Result<[i64; 3]> {
    if !windows_are_valid(windows_ms) {
        return Err(Error::Config(format!(
            "windows must be three positive, strictly ascending lengths in ms, got {windows_ms:?}"
        )));
    }
    Ok(windows_ms.map(|ms| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX)))
}

/// First row `m ≤ n` of the window of length `len` ending at row `n`: `ts_m > ts_n − len`.
///
/// Binary search over `ts[..n]`, which must be non-decreasing for the answer to mean anything
/// (on a feed that is not, some row fails validation and the run's numbers are discarded).
fn window_start(ts: &[i64], n: usize, len: i64) -> usize {
    let lim = out_below(ts[n], len);
    ts[..n].partition_point(|&t| t < lim)
}

/// Rows with a time below this are out of the window of length `len` ending at time `t`
/// (`ts_m ≤ t − len`, i.e. `ts_m < t + 1 − len`).
#[inline]
fn out_below(t: i64, len: i64) -> i64 {
    t.saturating_add(1).saturating_sub(len)
}

/// Run boundaries `[0, …, n]`: a cut every [`RUN_ROWS`] rows, except where the longest window
/// at the cut reaches back more than a run (bursts, equal timestamps): there the run goes on,
/// so warm-ups never add up to more than the rows themselves.
fn plan_runs(ts: &[i64], longest: i64) -> Vec<usize> {
    let n = ts.len();
    let mut bounds = vec![0];
    let mut cut = RUN_ROWS;
    while cut < n {
        if cut - window_start(ts, cut, longest) <= RUN_ROWS {
            bounds.push(cut);
        }
        cut += RUN_ROWS;
    }
    if n > 0 {
        bounds.push(n);
    }
    bounds
}

/// Every row in exactly one feed, each feed ascending: what makes the writes of parallel runs
/// disjoint (see [`Scatter`]).
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

/// A run's copy of the rows it cannot read in place (with the warm-up before them) and of its
/// outputs when they are scattered, reused from run to run on each thread.
#[derive(Default)]
struct Scratch {
    cols: [Vec<f64>; 20],
    out: [Vec<f64>; N_FEATURES],
    prefix: Vec<[f64; 3]>,
}

/// Computes the rows at positions `run` of a feed (its table rows `rows`, its times `ts`) and
/// writes them to `out`; a bad row is returned by its number in the table.
fn feed_run(
    table: &Table<'_>,
    rows: &Rows<'_>,
    ts: &[i64],
    len_ns: [i64; 3],
    run: std::ops::Range<usize>,
    scratch: &mut Scratch,
    out: &Scatter<'_>,
) -> std::result::Result<(), (usize, Bad)> {
    // From the row before the oldest one the run's windows reach (its OFI needs it).
    let first = window_start(ts, run.start, len_ns[2]).saturating_sub(1);
    let copied = rows.sub(first..run.end);
    // Rows that lie in one chunk of a column are read in place; the others are copied.
    let Scratch {
        cols: spare,
        out: outputs,
        prefix,
    } = scratch;
    let cols: [&[f64]; 20] = {
        let mut views = [&[][..]; 20];
        for ((view, src), dst) in views.iter_mut().zip(&table.cols).zip(spare.iter_mut()) {
            let inside = match &copied {
                Rows::Range(r) => src.run_slice(r.clone()),
                Rows::Listed(_) => None,
            };
            *view = inside.unwrap_or_else(|| {
                dst.clear();
                src.extend(&copied, dst);
                dst
            });
        }
        views
    };
    let feed = Feed {
        ts: &ts[first..run.end],
        cols,
    };
    let local = run.start - first..run.end - first;
    let table_row = |(i, bad)| (copied.row(i), bad);
    match rows.sub(run) {
        Rows::Range(r) => {
            // SAFETY: these are this run's rows; runs of the feed take disjoint positions, so
            // no other reference to them exists meanwhile.
            let mut outs = std::array::from_fn(|j| unsafe { out.rows_mut(j, r.clone()) });
            compute_run(&feed, len_ns, local, &mut outs, prefix).map_err(table_row)?;
        }
        Rows::Listed(l) => {
            for col in outputs.iter_mut() {
                col.resize(l.len(), 0.0);
            }
            let mut outs = outputs.each_mut().map(Vec::as_mut_slice);
            compute_run(&feed, len_ns, local, &mut outs, prefix).map_err(table_row)?;
            for (j, col) in outputs.iter().enumerate() {
                // SAFETY: these are this run's rows; feeds hold disjoint rows
                // (`check_partition`) and runs of a feed disjoint positions, so no other
                // thread touches them.
                unsafe { out.write_rows(j, l, col) };
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;
    use crate::features::FeatureState;
    use crate::feed::{ASK_PX, ASK_SZ, BID_PX, BID_SZ};

    /// A feed of `n` rows with bursts of equal times, gaps, empty levels and price moves.
    fn columns(n: usize, seed: u64) -> (Vec<i64>, Vec<Vec<f64>>) {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let ms = 1_000_000i64;
        let mut t = 1_700_000_000_000_000_000i64;
        let mut mid = 9_000_000i64;
        let mut ts = Vec::with_capacity(n);
        let mut cols: Vec<Vec<f64>> = (0..20).map(|_| Vec::with_capacity(n)).collect();
        for _ in 0..n {
            t += match next() % 10 {
                0 | 1 => 0,
                2 => 80 * ms,
                3 => 10 * ms, // exactly the shortest window
                _ => (next() % 5_000_000) as i64,
            };
            mid += (next() % 3) as i64 - 1;
            ts.push(t);
            for k in 0..5 {
                let empty = next() % 7 == 0;
                let size = |r: u64| {
                    if empty {
                        0.0
                    } else {
                        (r % 1000) as f64 / 100.0
                    }
                };
                cols[BID_PX + k].push((mid - 1 - k as i64) as f64 / 100.0);
                cols[ASK_PX + k].push((mid + 1 + k as i64) as f64 / 100.0);
                cols[BID_SZ + k].push(size(next()));
                cols[ASK_SZ + k].push(size(next()));
            }
        }
        (ts, cols)
    }

    fn feed<'a>(ts: &'a [i64], cols: &'a [Vec<f64>]) -> Feed<'a> {
        Feed::new(ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap()
    }

    /// The engine's incremental state over the same rows (in f64, no tick encoding).
    fn incremental(f: &Feed<'_>, windows: [u64; 3]) -> Vec<[f64; N_FEATURES]> {
        let mut s = FeatureState::new(windows);
        (0..f.len())
            .map(|i| {
                let sz = |c: usize| std::array::from_fn(|k| f.cols[c + k][i]);
                s.update(
                    f.ts[i] as u64,
                    f.cols[BID_PX][i],
                    f.cols[ASK_PX][i],
                    &sz(BID_SZ),
                    &sz(ASK_SZ),
                )
            })
            .collect()
    }

    #[test]
    fn agrees_with_the_incremental_features_across_runs() {
        // Several runs, so warm-ups and run boundaries are crossed many times.
        let (ts, cols) = columns(5 * RUN_ROWS + 123, 7);
        let f = feed(&ts, &cols);
        for windows in [[10, 20, 50], [1, 2, 500]] {
            let batch = compute(&f, windows).unwrap();
            let inc = incremental(&f, windows);
            for j in 0..N_FEATURES {
                let scale = batch[j]
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()))
                    .max(1e-300);
                for (i, row) in inc.iter().enumerate() {
                    let dev = (batch[j][i] - row[j]).abs() / scale;
                    assert!(
                        dev < 1e-12,
                        "feature {j} row {i}: {} vs {}",
                        batch[j][i],
                        row[j]
                    );
                }
            }
        }
    }

    #[test]
    fn equal_timestamps_do_not_look_ahead() {
        // Spreads 1, 2, 3 at t = 0, 0, 0: each row sees only itself and the rows before it.
        let ts = [0, 0, 0];
        let mut cols = vec![vec![1.0; 3]; 20];
        cols[BID_PX] = vec![100.0; 3];
        cols[ASK_PX] = vec![101.0, 102.0, 103.0];
        let f = feed(&ts, &cols);
        let out = compute(&f, [10, 20, 50]).unwrap();
        assert_eq!(out[12], [1.0, 1.5, 2.0]);
        assert_eq!(out[2][0], 0.0, "first row's OFI");
    }

    #[test]
    fn a_row_exactly_one_window_old_is_out() {
        // Spreads 1..=5 at t = 0, 0, 15, 40, 65 ms (the engine's unit test, in batch).
        let ms = 1_000_000;
        let ts = [0, 0, 15 * ms, 40 * ms, 65 * ms];
        let mut cols = vec![vec![0.0; 5]; 20];
        cols[BID_PX] = vec![100.0; 5];
        cols[ASK_PX] = vec![101.0, 102.0, 103.0, 104.0, 105.0];
        let out = compute(&feed(&ts, &cols), [10, 20, 50]).unwrap();
        assert_eq!(out[12], [1.0, 1.5, 3.0, 4.0, 5.0], "10 ms");
        assert_eq!(
            out[13],
            [1.0, 1.5, 2.0, 4.0, 5.0],
            "20 ms: 15 ms is 25 ms old at 40 ms"
        );
        assert_eq!(
            out[14],
            [1.0, 1.5, 2.0, 2.5, 4.5],
            "50 ms: 15 ms is exactly 50 ms old at 65"
        );
    }

    #[test]
    fn a_burst_longer_than_a_run_is_not_cut_again() {
        // Every row at the same time: the windows hold the whole feed. A cut may reach back
        // one run at most (the first one), so the rest stays one run.
        let n = 3 * RUN_ROWS;
        assert_eq!(plan_runs(&vec![5; n], 10), vec![0, RUN_ROWS, n]);
        let spaced: Vec<i64> = (0..n as i64).map(|i| i * 1_000_000_000).collect();
        assert_eq!(plan_runs(&spaced, 10).len(), 4);
        assert_eq!(plan_runs(&[], 10), vec![0]);
        let (ts, mut cols) = columns(n, 3);
        let ts = vec![ts[0]; ts.len()];
        cols[ASK_SZ][n - 1] = 0.5;
        let f = feed(&ts, &cols);
        let out = compute(&f, [10, 20, 50]).unwrap();
        let inc = incremental(&f, [10, 20, 50]);
        for j in 9..N_FEATURES {
            let dev = (out[j][n - 1] - inc[n - 1][j]).abs();
            assert!(
                dev < 1e-9,
                "feature {j}: {} vs {}",
                out[j][n - 1],
                inc[n - 1][j]
            );
        }
    }

    #[test]
    fn the_first_bad_row_is_named_whichever_run_finds_it() {
        let (ts, cols) = columns(4 * RUN_ROWS, 11);
        for (col, row, v, name) in [
            (BID_SZ + 2, 3 * RUN_ROWS + 5, -1.0, "bid_sz_2"),
            (ASK_PX, RUN_ROWS, f64::NAN, "ask_px_0"),
            (BID_PX, 17, 1e9, "ask_px_0"),
        ] {
            let mut bad = cols.clone();
            bad[col][row] = v;
            // A second, later problem: the earlier one must win.
            bad[ASK_SZ][3 * RUN_ROWS + 9] = f64::INFINITY;
            let err = compute(&feed(&ts, &bad), [10, 20, 50]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("row {row},")) && msg.contains(name),
                "{msg}"
            );
        }
        let mut back = ts.clone();
        back[2 * RUN_ROWS] = back[2 * RUN_ROWS - 1] - 1;
        let err = compute(&feed(&back, &cols), [10, 20, 50]).unwrap_err();
        assert!(err
            .to_string()
            .contains(&format!("row {}, column `ts`", 2 * RUN_ROWS)));
    }

    #[test]
    fn bad_windows_are_errors_and_empty_tables_fine() {
        let (ts, cols) = columns(3, 1);
        let f = feed(&ts, &cols);
        for w in [[0, 20, 50], [20, 20, 50], [50, 20, 10]] {
            assert!(matches!(compute(&f, w), Err(Error::Config(_))), "{w:?}");
        }
        assert!(compute(&feed(&[], &vec![vec![]; 20]), [10, 20, 50]).unwrap()[0].is_empty());
    }

    fn pieces<T: Copy>(v: &[T], at: [usize; 2]) -> Chunked<'_, T> {
        let (lo, hi) = (at[0].min(at[1]), at[0].max(at[1]));
        Chunked::new(vec![&v[..lo], &v[lo..lo], &v[lo..hi], &v[hi..]])
    }

    #[test]
    fn chunked_columns_give_the_numbers_of_contiguous_ones() {
        // Chunk boundaries that differ from column to column, and an empty chunk.
        let (ts, cols) = columns(2 * RUN_ROWS + 77, 13);
        let f = feed(&ts, &cols);
        let cut = |c: usize| [c * 911 % ts.len(), (c * 4099 + 5) % ts.len()];
        let table = Table::new(
            pieces(&ts, cut(21)),
            std::array::from_fn(|c| pieces(&cols[c], cut(c))),
        )
        .unwrap();
        assert_eq!(
            compute_table(&table, None, [10, 20, 50]).unwrap(),
            compute(&f, [10, 20, 50]).unwrap()
        );
    }

    // Several feeds interleaved in one table.

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

    #[test]
    fn each_feed_gets_what_it_gets_alone() {
        let parts = [
            columns(3 * RUN_ROWS + 17, 1),
            columns(RUN_ROWS / 3, 2),
            columns(2 * RUN_ROWS, 3),
        ];
        let (ts, cols, feeds) = interleave(&parts);
        let lists: Vec<&[u32]> = feeds.iter().map(Vec::as_slice).collect();
        let got =
            compute_table(&Table::from(&feed(&ts, &cols)), Some(&lists), [10, 20, 50]).unwrap();
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
        let err =
            compute_table(&Table::from(&feed(&ts, &cols)), Some(&lists), [10, 20, 50]).unwrap_err();
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
                compute_table(&Table::from(&f), Some(&bad), [10, 20, 50]),
                Err(Error::FeedShape(_))
            ));
        }
        let ok = compute_table(
            &Table::from(&f),
            Some(&[&[0, 2, 4], &[1, 3, 5]]),
            [10, 20, 50],
        )
        .unwrap();
        assert_eq!(ok[2][0], 0.0);
        assert_eq!(ok[2][1], 0.0, "each feed's first row has OFI 0");
    }
}
