//! The features of one run of rows held contiguously (a run's scratch copy): each feature is
//! a loop over the run that the compiler vectorises.

use super::{out_below, window_start, SERIES};
use crate::feed::{Bad, Feed, ASK_PX, ASK_SZ, BID_PX, BID_SZ};
use crate::weights::N_FEATURES;

/// Order-flow imbalance of a snapshot against the one before it (`docs/feature-contract.md`).
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
pub(super) fn compute_run(
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
