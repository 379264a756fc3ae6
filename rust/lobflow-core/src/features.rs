//! The 18 contract features, computed incrementally: O(1) amortised per snapshot, no allocation
//! once the window buffer has grown to the busiest burst it has seen.
//!
//! The three windows are nested (lengths strictly ascending), so one time-ordered buffer of
//! `(ts, ofi, spread, qi0)` serves all of them: each window keeps its own start position and
//! running sums, and the buffer only has to reach back as far as the longest window.

use crate::scorer::N_FEATURES;

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    ts: u64,
    vals: [f64; 3],
}

/// Running sums are re-added from scratch this often (pushes), which bounds their rounding
/// drift to ~2^17 ulps of the feature's scale whatever the run length, at an amortised cost of
/// (window entries / 2^16) additions per snapshot.
const RESUM_EVERY: usize = 1 << 16;

/// One causal time window: positions `start..end` of the shared buffer, and their sums.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    len_ns: u64,
    start: usize,
    sums: [f64; 3],
}

/// The previous valid snapshot's best levels, for OFI.
#[derive(Clone, Copy, Debug)]
struct Best {
    b: f64,
    a: f64,
    qb: f64,
    qa: f64,
}

/// Incremental feature state of one feed.
#[derive(Clone, Debug)]
pub struct FeatureState {
    prev: Option<Best>,
    windows: [Window; 3],
    /// Ring of entries; positions are free-running and indexed with `& mask`.
    buf: Vec<Entry>,
    mask: usize,
    end: usize,
}

impl FeatureState {
    /// State for windows of the given lengths in ms (strictly ascending, as a weights file has).
    ///
    /// # Panics
    /// If the windows are not three positive, strictly ascending lengths (the weights parser
    /// guarantees this for every engine).
    pub fn new(windows_ms: [u64; 3]) -> Self {
        assert!(
            windows_ms[0] > 0 && windows_ms[0] < windows_ms[1] && windows_ms[1] < windows_ms[2],
            "windows must be positive and strictly ascending: {windows_ms:?}"
        );
        let windows = windows_ms.map(|ms| Window {
            len_ns: ms.saturating_mul(1_000_000),
            ..Window::default()
        });
        Self {
            prev: None,
            windows,
            buf: vec![Entry::default(); 64],
            mask: 63,
            end: 0,
        }
    }

    /// Forgets the feed (a new feed starts: OFI restarts at 0, windows empty). Keeps the buffer.
    pub fn reset(&mut self) {
        self.prev = None;
        self.end = 0;
        for w in &mut self.windows {
            w.start = 0;
            w.sums = [0.0; 3];
        }
    }

    /// Doubles the buffer, keeping entries at their positions modulo the new mask.
    #[cold]
    fn grow(&mut self) {
        let old_cap = self.mask + 1;
        let first = self.windows[2].start;
        let mut buf = vec![Entry::default(); old_cap * 2];
        let new_mask = old_cap * 2 - 1;
        for pos in first..self.end {
            buf[pos & new_mask] = self.buf[pos & self.mask];
        }
        self.buf = buf;
        self.mask = new_mask;
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
        let mut f = [0.0; N_FEATURES];
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
        self.push_and_average(ts, [ofi, spread, f[4]], &mut f);
        f
    }

    #[inline]
    fn push_and_average(&mut self, ts: u64, vals: [f64; 3], f: &mut [f64; N_FEATURES]) {
        if self.end - self.windows[2].start > self.mask {
            self.grow();
        }
        self.buf[self.end & self.mask] = Entry { ts, vals };
        self.end += 1;
        let resum = self.end % RESUM_EVERY == 0;
        for (wi, w) in self.windows.iter_mut().enumerate() {
            // Evict m while ts_m ≤ ts − W (written without subtraction: ts may be < W).
            while w.start < self.end - 1 {
                let e = self.buf[w.start & self.mask];
                if e.ts.saturating_add(w.len_ns) > ts {
                    break;
                }
                for (s, v) in w.sums.iter_mut().zip(e.vals) {
                    *s -= v;
                }
                w.start += 1;
            }
            let count = self.end - w.start;
            // When only the current snapshot is left the sums restart exactly, so no rounding
            // survives an emptied window. Selects, not a branch: it would mispredict often.
            let alone = count == 1;
            for (s, v) in w.sums.iter_mut().zip(vals) {
                *s = if alone { v } else { *s + v };
            }
            if resum {
                w.sums = [0.0; 3];
                for pos in w.start..self.end {
                    for (s, v) in w.sums.iter_mut().zip(self.buf[pos & self.mask].vals) {
                        *s += v;
                    }
                }
            }
            let inv = 1.0 / count as f64;
            for (j, s) in w.sums.iter().enumerate() {
                f[9 + 3 * j + wi] = s * inv;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

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
        assert!(s.mask >= 1023);
        s.reset();
        let f = s.update(5, 1.0, 3.0, &sz(1.0), &sz(1.0));
        assert_eq!(f[2], 0.0);
        assert_eq!(f[14], 2.0);
    }
}
