//! The 18 contract features, computed incrementally: O(1) amortised per snapshot, no allocation
//! once the window buffer has grown to the busiest burst it has seen.
//!
//! The nine point features come from the snapshot and the previous one; the nine window means
//! from the ring of prefix sums in `windows.rs`.

use crate::weights::N_FEATURES;
use crate::windows::{Window, Windows};

/// Features 0–8 (`mid` … `qi_4`): what a snapshot gives without the windows.
pub(crate) const N_POINT: usize = 9;

/// The previous valid snapshot's best levels, for OFI.
#[derive(Clone, Copy, Debug)]
struct Best {
    b: f64,
    a: f64,
    qb: f64,
    qa: f64,
}

/// The point features of consecutive snapshots (OFI needs the previous one).
#[derive(Clone, Copy, Debug, Default)]
struct Point {
    prev: Option<Best>,
}

impl Point {
    /// Forgets the previous snapshot: the next OFI is 0.
    fn reset(&mut self) {
        self.prev = None;
    }

    /// Features 0–8 of this snapshot, in contract order.
    #[inline]
    fn update(
        &mut self,
        bid_px0: f64,
        ask_px0: f64,
        bid_sz: &[f64; 5],
        ask_sz: &[f64; 5],
    ) -> [f64; N_POINT] {
        let (b, a, qb, qa) = (bid_px0, ask_px0, bid_sz[0], ask_sz[0]);
        let mid = 0.5 * (b + a);
        let spread = a - b;
        let ofi = match self.prev {
            None => 0.0,
            Some(p) => {
                // Indicators as 0.0/1.0 factors rather than branches: price moves are a coin
                // flip, so branches here would be mispredicted half the time.
                let ind = |c: bool| f64::from(u8::from(c));
                ind(b >= p.b) * qb - ind(b <= p.b) * p.qb - ind(a <= p.a) * qa
                    + ind(a >= p.a) * p.qa
            }
        };
        self.prev = Some(Best { b, a, qb, qa });
        let depth = qb + qa;
        let microprice = if depth == 0.0 {
            mid
        } else {
            (b * qa + a * qb) / depth
        };
        let mut f = [0.0; N_POINT];
        f[0] = mid;
        f[1] = spread;
        f[2] = ofi;
        f[3] = microprice;
        for k in 0..5 {
            let d = bid_sz[k] + ask_sz[k];
            f[4 + k] = if d == 0.0 {
                0.0
            } else {
                (bid_sz[k] - ask_sz[k]) / d
            };
        }
        f
    }
}

/// The contract index of window `window`'s mean of value `value` of [`windowed`]'s three:
/// the rolling features go value by value, each over the three windows in ascending order.
#[inline]
pub(crate) const fn rolling(value: usize, window: usize) -> usize {
    N_POINT + 3 * value + window
}

/// The three values the windows average, from a snapshot's point features: `(ofi, spread,
/// qi0)`, the order of the contract's rolling groups.
#[inline]
pub(crate) fn windowed(point: &[f64; N_POINT]) -> [f64; 3] {
    [point[2], point[1], point[4]]
}

/// One feed's snapshots as far as any per-snapshot computation needs them: the previous best
/// levels (OFI) and the windows' ring, holding whichever three values the caller sums.
#[derive(Clone, Debug)]
pub(crate) struct FeedState {
    point: Point,
    windows: Windows,
}

impl FeedState {
    pub(crate) fn new(windows_ms: [u64; 3]) -> Self {
        Self {
            point: Point::default(),
            windows: Windows::new(windows_ms),
        }
    }

    /// Forgets the feed (a new feed starts: OFI restarts at 0, windows empty). Keeps the buffer.
    pub(crate) fn reset(&mut self) {
        self.point.reset();
        self.windows.reset();
    }

    /// Adds a snapshot: its point features, and the windows after pushing the three values
    /// `summed` makes of them.
    #[inline]
    pub(crate) fn push(
        &mut self,
        ts: u64,
        bid_px0: f64,
        ask_px0: f64,
        sizes: [&[f64; 5]; 2],
        summed: impl FnOnce(&[f64; N_POINT]) -> [f64; 3],
    ) -> ([f64; N_POINT], [Window; 3]) {
        let point = self.point.update(bid_px0, ask_px0, sizes[0], sizes[1]);
        let windows = self.windows.push(ts, summed(&point));
        (point, windows)
    }

    #[cfg(test)]
    pub(crate) fn window_capacity(&self) -> usize {
        self.windows.capacity()
    }
}

/// Incremental feature state of one feed.
#[derive(Clone, Debug)]
pub struct FeatureState {
    feed: FeedState,
}

impl FeatureState {
    /// State for windows of the given lengths in ms (strictly ascending, as a weights file has).
    ///
    /// # Panics
    /// If the windows are not three positive, strictly ascending lengths (the weights parser
    /// guarantees this for every engine).
    pub fn new(windows_ms: [u64; 3]) -> Self {
        Self {
            feed: FeedState::new(windows_ms),
        }
    }

    /// Forgets the feed (a new feed starts: OFI restarts at 0, windows empty). Keeps the buffer.
    pub fn reset(&mut self) {
        self.feed.reset();
    }

    /// Adds snapshot `ts` (ns) and returns its 18 features in contract order.
    ///
    /// `bid_px0 < ask_px0` and finite non-negative sizes are the caller's to check (the engine
    /// validates every row before it gets here).
    #[inline]
    pub fn update(
        &mut self,
        ts: u64,
        bid_px0: f64,
        ask_px0: f64,
        bid_sz: &[f64; 5],
        ask_sz: &[f64; 5],
    ) -> [f64; N_FEATURES] {
        let (point, windows) = self
            .feed
            .push(ts, bid_px0, ask_px0, [bid_sz, ask_sz], windowed);
        let mut f = [0.0; N_FEATURES];
        f[..N_POINT].copy_from_slice(&point);
        for (wi, w) in windows.iter().enumerate() {
            for j in 0..3 {
                f[rolling(j, wi)] = w.sums[j] * w.inv_count;
            }
        }
        f
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;
    use crate::windows::REBASE_EVERY;

    const Z: [f64; 5] = [0.0; 5];

    fn sz(q0: f64) -> [f64; 5] {
        [q0, 1.0, 2.0, 0.0, 4.0]
    }

    #[test]
    fn first_tick_ofi_is_zero_and_basics() {
        let mut s = FeatureState::new([10, 20, 50]);
        let f = s.update(1_000, 100.0, 101.0, &sz(3.0), &sz(1.0));
        assert_eq!(f[0], 100.5);
        assert_eq!(f[1], 1.0);
        assert_eq!(f[2], 0.0);
        assert_eq!(f[3], (100.0 * 1.0 + 101.0 * 3.0) / 4.0);
        assert_eq!(f[4], 0.5);
        assert_eq!(f[7], 0.0, "empty level on both sides → qi 0");
        for v in &f[9..] {
            assert!(v.is_finite());
        }
    }

    #[test]
    fn ofi_follows_the_indicator_definition() {
        let mut s = FeatureState::new([10, 20, 50]);
        s.update(0, 100.0, 101.0, &sz(5.0), &sz(7.0));
        // bid up, ask unchanged: +qb_n − 0 − qa_n + qa_{n−1}
        let f = s.update(1, 100.5, 101.0, &sz(2.0), &sz(3.0));
        assert_eq!(f[2], 2.0 - 3.0 + 7.0);
        // bid down, ask up: 0 − qb_{n−1} − 0 + qa_{n−1}
        let f = s.update(2, 100.0, 101.5, &sz(4.0), &sz(9.0));
        assert_eq!(f[2], -2.0 + 3.0);
    }

    #[test]
    fn empty_best_levels_use_mid_and_zero() {
        let mut s = FeatureState::new([10, 20, 50]);
        let f = s.update(0, 10.0, 12.0, &Z, &Z);
        assert_eq!(f[3], 11.0);
        assert_eq!(f[4], 0.0);
    }

    #[test]
    fn windows_are_causal_and_evict_by_time() {
        let ms = 1_000_000;
        let mut s = FeatureState::new([10, 20, 50]);
        // spreads 1, 2, 3, 4 at t = 0, 0, 15ms, 40ms
        let f0 = s.update(0, 100.0, 101.0, &Z, &Z);
        assert_eq!(
            f0[12], 1.0,
            "the later equal-timestamp row is not in the window yet"
        );
        let f1 = s.update(0, 100.0, 102.0, &Z, &Z);
        assert_eq!(f1[12], 1.5);
        let f2 = s.update(15 * ms, 100.0, 103.0, &Z, &Z);
        assert_eq!(f2[12], 3.0, "10 ms window: only itself");
        assert_eq!(f2[13], 2.0, "20 ms window: all three");
        let f3 = s.update(40 * ms, 100.0, 104.0, &Z, &Z);
        assert_eq!(f3[12], 4.0);
        assert_eq!(f3[13], 4.0, "ts 15ms is exactly 25ms old: out of 20 ms");
        assert_eq!(f3[14], 2.5, "50 ms window holds all four");
        // exactly W old is excluded (ts_m > ts_n − W)
        let f4 = s.update(65 * ms, 100.0, 105.0, &Z, &Z);
        assert_eq!(
            f4[14], 4.5,
            "t=15ms is exactly 50ms old → out; 40ms and 65ms remain"
        );
    }

    #[test]
    fn bursts_grow_the_buffer_and_reset_clears() {
        let mut s = FeatureState::new([10, 20, 50]);
        for i in 0..1000u64 {
            let f = s.update(i, 100.0, 100.0 + (i % 7) as f64 + 1.0, &Z, &Z);
            let expect = (0..=i).map(|j| (j % 7) as f64 + 1.0).sum::<f64>() / (i + 1) as f64;
            assert!((f[14] - expect).abs() < 1e-12);
        }
        assert!(s.feed.window_capacity() >= 1024);
        s.reset();
        let f = s.update(5, 1.0, 3.0, &sz(1.0), &sz(1.0));
        assert_eq!(f[2], 0.0);
        assert_eq!(f[14], 2.0);
    }

    #[test]
    fn long_runs_stay_within_rounding_of_a_direct_sum() {
        // Enough ticks to cross several rebases, with irregular gaps, bursts of equal times and
        // values far from zero (the prefix sums grow fastest then).
        let ms = 1_000_000u64;
        let mut s = FeatureState::new([10, 20, 50]);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut hist: Vec<(u64, [f64; 3])> = Vec::new();
        let mut ts = 0u64;
        let mut worst = 0.0f64;
        let mut scale = [0.0f64; 3];
        for _ in 0..5 * REBASE_EVERY {
            ts += match next() % 10 {
                0 => 0,
                1 => 60 * ms,
                _ => next() % (5 * ms),
            };
            let spread = 1.0 + (next() % 100) as f64 * 0.01;
            let q = [(next() % 1000) as f64 + 1e6, 1.0, 2.0, 3.0, 4.0];
            let f = s.update(ts, 100.0, 100.0 + spread, &q, &[1.0; 5]);
            hist.push((ts, [f[2], f[1], f[4]]));
            for (sc, v) in scale.iter_mut().zip([f[2], f[1], f[4]]) {
                *sc = sc.max(v.abs());
            }
            for (wi, w) in [10, 20, 50].iter().enumerate() {
                let inside = hist.iter().rev().take_while(|(t, _)| t + w * ms > ts);
                let (mut sums, mut count) = ([0.0f64; 3], 0.0);
                for (_, v) in inside {
                    for (acc, v) in sums.iter_mut().zip(v) {
                        *acc += v;
                    }
                    count += 1.0;
                }
                for j in 0..3 {
                    let dev = (f[9 + 3 * j + wi] - sums[j] / count).abs();
                    worst = worst.max(dev / scale[j].max(f64::MIN_POSITIVE));
                }
            }
            // Keep the direct sums cheap: nothing older than the longest window matters.
            if hist.len() > 4096 {
                let cut = hist.len() - 2048;
                hist.drain(..cut);
            }
        }
        // The bound the rebase promises (without it this run drifts to ~3e-11 of the scale).
        let bound = 2.0 * REBASE_EVERY as f64 * f64::EPSILON;
        assert!(
            worst < bound,
            "worst deviation {worst:e} of scale, bound {bound:e}"
        );
    }
}
