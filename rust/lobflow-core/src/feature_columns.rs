//! The 18 contract features of a whole feed at once, column by column: the batch counterpart of
//! [`crate::features::FeatureState`], behind `lobflow.features.compute` (a polars expression).
//!
//! The engine updates its features one tick at a time from the history it has kept; a table
//! has every row at hand, so here a feature is a loop over a run of rows that the compiler
//! vectorises, and runs are computed in parallel on rayon's pool (polars' own pool when polars
//! calls in). It is a second implementation of `FEATURE_CONTRACT.md`, written apart from the
//! engine's: the tests hold both, and an oracle in `NumPy`, to the same numbers.
//!
//! A window's mean comes from prefix sums of `(ofi, spread, qi0)` that each run starts afresh
//! at the oldest row its first row's longest window reaches (its warm-up), so runs need nothing
//! from each other and a prefix sum spans at most about two runs of rows: the difference of two
//! of them loses at most ~2·[`RUN_ROWS`]·ε of the feature's scale, however long the feed.

mod interleaved;

use rayon::prelude::*;

pub use interleaved::compute_feeds;

use crate::error::{Error, Result};
use crate::feed::{Bad, Feed, ASK_PX, ASK_SZ, BID_PX, BID_SZ};
use crate::scorer::N_FEATURES;

/// Rows per run. Small enough that a run's columns stay in L2 between its passes (the window
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
    // Zeroed allocations come from fresh pages of the kernel: no pass of our own to clear them.
    // (Faulting those pages in is most of the time at 10^7 rows; huge pages made repeated
    // calls twice as fast but a process's first call three times slower on our VMs, whose
    // balloon hands freed huge pages back to the host: docs/features.md.)
    let mut cols: [Vec<f64>; N_FEATURES] = std::array::from_fn(|_| vec![0.0; feed.len()]);
    compute_into(feed, windows_ms, cols.each_mut().map(Vec::as_mut_slice))?;
    Ok(cols)
}

/// [`compute`] into caller-owned columns, each `feed.len()` long.
///
/// # Errors
/// As [`compute`], and [`Error::FeedShape`] when an output column has the wrong length.
pub fn compute_into(
    feed: &Feed<'_>,
    windows_ms: [u64; 3],
    out: [&mut [f64]; N_FEATURES],
) -> Result<()> {
    let len_ns = window_lengths(windows_ms)?;
    if let Some(c) = out.iter().position(|c| c.len() != feed.len()) {
        return Err(Error::FeedShape(format!(
            "output column {c} has {} rows, the feed {}",
            out[c].len(),
            feed.len()
        )));
    }
    let bounds = plan_runs(feed.ts, len_ns[2]);
    let parts = split_by_runs(out, &bounds);
    let first_bad = bounds
        .par_windows(2)
        .zip(parts)
        .map_init(Vec::new, |prefix, (run, mut cols)| {
            compute_run(feed, len_ns, run[0]..run[1], &mut cols, prefix)
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
    let [w0, w1, w2] = windows_ms;
    if !(w0 > 0 && w0 < w1 && w1 < w2) {
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

/// The output columns cut at `bounds`: one set of 18 slices per run.
fn split_by_runs<'a>(
    out: [&'a mut [f64]; N_FEATURES],
    bounds: &[usize],
) -> Vec<[&'a mut [f64]; N_FEATURES]> {
    let runs = bounds.len().saturating_sub(1);
    let mut parts: Vec<Vec<&'a mut [f64]>> = (0..runs).map(|_| Vec::new()).collect();
    for col in out {
        let mut rest = col;
        for (part, run) in parts.iter_mut().zip(bounds.windows(2)) {
            let (head, tail) = rest.split_at_mut(run[1] - run[0]);
            part.push(head);
            rest = tail;
        }
    }
    parts
        .into_iter()
        .map(|p| p.try_into().expect("N_FEATURES slices per run"))
        .collect()
}

/// Order-flow imbalance of a snapshot against the one before it (`FEATURE_CONTRACT.md`).
#[inline]
#[allow(clippy::too_many_arguments)] // the eight level-0 fields, by name
fn ofi(b: f64, a: f64, qb: f64, qa: f64, pb: f64, pa: f64, pqb: f64, pqa: f64) -> f64 {
    // 0.0/1.0 factors rather than branches: price moves are coin flips.
    let ind = |c: bool| f64::from(u8::from(c));
    ind(b >= pb) * qb - ind(b <= pb) * pqb - ind(a <= pa) * qa + ind(a >= pa) * pqa
}

/// `(x − y) / (x + y)`, 0 when `x + y = 0`: the queue imbalance of one level.
#[inline]
fn imbalance(x: f64, y: f64) -> f64 {
    let d = x + y;
    if d == 0.0 {
        0.0
    } else {
        (x - y) / d
    }
}

/// `(ofi, spread, qi0)` of row `i`, from the feed itself (warm-up rows before a run).
fn series_at(feed: &Feed<'_>, i: usize) -> [f64; 3] {
    let c = |col: usize, row: usize| feed.cols[col][row];
    let flow = if i == 0 {
        0.0
    } else {
        let p = i - 1;
        ofi(
            c(BID_PX, i),
            c(ASK_PX, i),
            c(BID_SZ, i),
            c(ASK_SZ, i),
            c(BID_PX, p),
            c(ASK_PX, p),
            c(BID_SZ, p),
            c(ASK_SZ, p),
        )
    };
    [
        flow,
        c(ASK_PX, i) - c(BID_PX, i),
        imbalance(c(BID_SZ, i), c(ASK_SZ, i)),
    ]
}

/// Validates rows `rows` and computes their features into `out` (one slice per feature, each
/// `rows.len()` long). `prefix` is scratch space reused between runs.
///
/// Returns the first bad row and what is wrong with it instead; `out` then holds nothing
/// meaningful.
fn compute_run(
    feed: &Feed<'_>,
    len_ns: [i64; 3],
    rows: std::ops::Range<usize>,
    out: &mut [&mut [f64]; N_FEATURES],
    prefix: &mut Vec<[f64; 3]>,
) -> std::result::Result<(), (usize, Bad)> {
    let r0 = rows.start;
    // Rows before the run were checked by the runs before it; if one of them is bad, that
    // run reports an earlier row.
    let last_ts = if r0 == 0 { i64::MIN } else { feed.ts[r0 - 1] };
    if !feed.rows_clean(rows.clone(), last_ts) {
        let mut last = last_ts;
        for i in rows.clone() {
            if let Some(bad) = feed.check_row(i, last) {
                return Err((i, bad));
            }
            last = feed.ts[i];
        }
    }
    point_features(feed, rows.clone(), out);
    let (points, means) = out.split_at_mut(9);
    window_means(feed, len_ns, rows, points, means, prefix);
    Ok(())
}

/// `mid`, `spread`, `ofi`, `microprice` and `qi_0..qi_4` of rows `rows`.
fn point_features(
    feed: &Feed<'_>,
    rows: std::ops::Range<usize>,
    out: &mut [&mut [f64]; N_FEATURES],
) {
    let col = |c: usize| &feed.cols[c][rows.clone()];
    let (b, a, qb, qa) = (col(BID_PX), col(ASK_PX), col(BID_SZ), col(ASK_SZ));
    let [mid, spread, flow, micro, qi0, rest @ ..] = out;
    for i in 0..rows.len() {
        let m = 0.5 * (b[i] + a[i]);
        mid[i] = m;
        spread[i] = a[i] - b[i];
        let depth = qb[i] + qa[i];
        micro[i] = if depth == 0.0 {
            m
        } else {
            (b[i] * qa[i] + a[i] * qb[i]) / depth
        };
        qi0[i] = imbalance(qb[i], qa[i]);
    }
    // OFI against the row before; the run's first row takes it from the feed (0 for the
    // feed's first row).
    if !rows.is_empty() {
        flow[0] = series_at(feed, rows.start)[0];
    }
    for i in 1..rows.len() {
        let p = i - 1;
        flow[i] = ofi(b[i], a[i], qb[i], qa[i], b[p], a[p], qb[p], qa[p]);
    }
    for (k, qi) in rest[..4].iter_mut().enumerate() {
        let (bs, az) = (col(BID_SZ + k + 1), col(ASK_SZ + k + 1));
        for ((q, &x), &y) in qi.iter_mut().zip(bs).zip(az) {
            *q = imbalance(x, y);
        }
    }
}

/// The nine window means of rows `rows` into `means`, from their point features.
fn window_means(
    feed: &Feed<'_>,
    len_ns: [i64; 3],
    rows: std::ops::Range<usize>,
    points: &[&mut [f64]],
    means: &mut [&mut [f64]],
    prefix: &mut Vec<[f64; 3]>,
) {
    let ts = feed.ts;
    let r0 = rows.start;
    // Windows are nested, so the longest one's start at the first row is the oldest row any
    // window of the run reaches; starts only move forward from there.
    let base = window_start(ts, r0, len_ns[2]);
    let value = |i: usize| -> [f64; 3] {
        if i < r0 {
            series_at(feed, i)
        } else {
            SERIES.map(|f| points[f][i - r0])
        }
    };
    // prefix[k] = Σ of the series over rows base..base + k.
    prefix.clear();
    prefix.reserve(rows.end - base + 1);
    let mut sum = [0.0f64; 3];
    prefix.push(sum);
    for i in base..rows.end {
        for (s, v) in sum.iter_mut().zip(value(i)) {
            *s += v;
        }
        prefix.push(sum);
    }
    let mut start = len_ns.map(|len| window_start(ts, r0, len));
    for n in rows.clone() {
        let own = value(n);
        let at = n - r0;
        for (w, &len) in len_ns.iter().enumerate() {
            let lim = out_below(ts[n], len);
            // Row n is never out (len > 0), so every step below stops at n at the latest. Two
            // steps without a branch take the usual 0–2 leaving rows, whose count no predictor
            // learns; the loop is for bursts and gaps.
            let mut s = start[w];
            s += usize::from(ts[s] < lim);
            s += usize::from(ts[s] < lim);
            while ts[s] < lim {
                s += 1;
            }
            start[w] = s;
            let count = n + 1 - s;
            let inv = 1.0 / count as f64;
            let (hi, lo) = (prefix[n + 1 - base], prefix[s - base]);
            for j in 0..3 {
                // A window of one row takes its value exactly, not as a difference of sums.
                let total = if count == 1 { own[j] } else { hi[j] - lo[j] };
                means[3 * j + w][at] = total * inv;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;
    use crate::features::FeatureState;

    /// A feed of `n` rows with bursts of equal times, gaps, empty levels and price moves.
    pub(super) fn columns(n: usize, seed: u64) -> (Vec<i64>, Vec<Vec<f64>>) {
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
    fn bad_windows_and_shapes_are_errors() {
        let (ts, cols) = columns(3, 1);
        let f = feed(&ts, &cols);
        for w in [[0, 20, 50], [20, 20, 50], [50, 20, 10]] {
            assert!(matches!(compute(&f, w), Err(Error::Config(_))), "{w:?}");
        }
        let mut short = vec![0.0; 2];
        let mut cols_out: Vec<Vec<f64>> = vec![vec![0.0; 3]; N_FEATURES];
        let mut out: Vec<&mut [f64]> = cols_out.iter_mut().map(Vec::as_mut_slice).collect();
        out[5] = &mut short;
        let out: [&mut [f64]; N_FEATURES] = out.try_into().unwrap();
        assert!(matches!(
            compute_into(&f, [10, 20, 50], out),
            Err(Error::FeedShape(_))
        ));
        assert!(compute(&feed(&[], &vec![vec![]; 20]), [10, 20, 50]).unwrap()[0].is_empty());
    }
}
