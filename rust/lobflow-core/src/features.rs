//! The 18 contract features, computed incrementally: O(1) amortised per snapshot, no allocation
//! once the window buffer has grown to the busiest burst it has seen.
//!
//! The three windows are nested (lengths strictly ascending), so one time-ordered ring of
//! snapshots serves all of them: each window only keeps its start position. The ring holds each
//! snapshot's time and the *exclusive prefix sums* of `(ofi, spread, qi0)` up to it, so a
//! window's sums are one subtraction (`total − prefix[start]`) and evicting an entry is just
//! moving the start forward: no per-entry arithmetic on the way out.

use crate::scorer::N_FEATURES;

/// The prefix sums are rebased this often (pushes): re-anchored at the oldest live entry so
/// their magnitude, and with it the rounding of `total − prefix[start]`, stays bounded by about
/// 2^16 × the feature's scale × ε whatever the run length. Amortised cost: live entries / 2^16
/// subtractions per snapshot.
const REBASE_EVERY: usize = 1 << 16;

/// Window counts below this have their reciprocal in a table. A window holds one snapshot per
/// poll of the exchange (one to a few at 3 polls a second) and up to ~20 in the benches' bursts;
/// longer ones divide.
const RECIPROCALS: usize = 64;

/// `1.0 / k` for `k < RECIPROCALS`: the windows' means multiply by these instead of dividing,
/// three divisions fewer per snapshot with the very same values (IEEE division, at compile
/// time as at run time; update + score 38.1 → 40.7 M/s on one thread of the Xeon VM).
static RECIPROCAL: [f64; RECIPROCALS] = {
    let mut table = [0.0; RECIPROCALS];
    let mut k = 0;
    while k < RECIPROCALS {
        table[k] = 1.0 / k as f64;
        k += 1;
    }
    table
};

/// The previous valid snapshot's best levels, for OFI.
#[derive(Clone, Copy, Debug)]
struct Best {
    b: f64,
    a: f64,
    qb: f64,
    qa: f64,
}

/// Three positive, strictly ascending window lengths: what both feature implementations
/// need (the windows are nested).
pub(crate) fn windows_are_valid(windows_ms: [u64; 3]) -> bool {
    let [w0, w1, w2] = windows_ms;
    w0 > 0 && w0 < w1 && w1 < w2
}

/// Incremental feature state of one feed.
#[derive(Clone, Debug)]
pub struct FeatureState {
    prev: Option<Best>,
    len_ns: [u64; 3],
    /// First live position of each window (free-running, indexed with `& mask`).
    start: [usize; 3],
    /// Snapshot times by position. Kept apart from the sums: the eviction walk only reads times,
    /// and eight of them share a cache line.
    ts: Vec<u64>,
    /// Sum of `(ofi, spread, qi0)` over all positions before this one, since the last rebase.
    prefix: Vec<[f64; 3]>,
    /// The same sum over every position pushed so far.
    total: [f64; 3],
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
            windows_are_valid(windows_ms),
            "windows must be positive and strictly ascending: {windows_ms:?}"
        );
        Self {
            prev: None,
            len_ns: windows_ms.map(|ms| ms.saturating_mul(1_000_000)),
            start: [0; 3],
            ts: vec![0; 64],
            prefix: vec![[0.0; 3]; 64],
            total: [0.0; 3],
            mask: 63,
            end: 0,
        }
    }

    /// Forgets the feed (a new feed starts: OFI restarts at 0, windows empty). Keeps the buffer.
    pub fn reset(&mut self) {
        self.prev = None;
        self.end = 0;
        self.start = [0; 3];
        self.total = [0.0; 3];
    }

    /// Doubles the buffer, keeping entries at their positions modulo the new mask.
    #[cold]
    fn grow(&mut self) {
        let cap = (self.mask + 1) * 2;
        let new_mask = cap - 1;
        let mut ts = vec![0; cap];
        let mut prefix = vec![[0.0; 3]; cap];
        for pos in self.start[2]..self.end {
            ts[pos & new_mask] = self.ts[pos & self.mask];
            prefix[pos & new_mask] = self.prefix[pos & self.mask];
        }
        self.ts = ts;
        self.prefix = prefix;
        self.mask = new_mask;
    }

    /// Re-anchors the prefix sums at the oldest live entry (see [`REBASE_EVERY`]).
    #[cold]
    fn rebase(&mut self) {
        let base = self.prefix[self.start[2] & self.mask];
        for pos in self.start[2]..self.end {
            let p = &mut self.prefix[pos & self.mask];
            for (x, b) in p.iter_mut().zip(base) {
                *x -= b;
            }
        }
        for (x, b) in self.total.iter_mut().zip(base) {
            *x -= b;
        }
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
        if self.end - self.start[2] > self.mask {
            self.grow();
        }
        if self.end % REBASE_EVERY == REBASE_EVERY - 1 {
            self.rebase();
        }
        let mask = self.mask;
        // Views of exactly `mask + 1` entries: every `pos & mask` is then provably in bounds,
        // and the compiler drops the bounds checks (8 % of an update's instructions, callgrind).
        let times = &mut self.ts[..=mask];
        let prefix = &mut self.prefix[..=mask];
        let pos = self.end;
        times[pos & mask] = ts;
        prefix[pos & mask] = self.total;
        for (t, v) in self.total.iter_mut().zip(vals) {
            *t += v;
        }
        self.end += 1;
        for wi in 0..3 {
            // Entry m is out once ts_m + W ≤ ts, i.e. ts_m < ts + 1 − W (0 when ts < W: then
            // nothing is out). The entry just pushed never is (W > 0), so it ends every walk.
            let lim = ts.saturating_add(1).saturating_sub(self.len_ns[wi]);
            let mut s = self.start[wi];
            // Consecutive snapshots usually push 0–2 entries out of a window, in an order no
            // predictor can learn; two unconditional steps take them without a branch, and the
            // loop is left for bursts and gaps.
            s += usize::from(times[s & mask] < lim);
            s += usize::from(times[s & mask] < lim);
            while times[s & mask] < lim {
                s += 1;
            }
            self.start[wi] = s;
            let count = self.end - s;
            // A window holding only this snapshot gets its values exactly, not as a difference
            // of two large sums. Selects, not a branch: it would mispredict often.
            let alone = count == 1;
            let base = prefix[s & mask];
            let inv = reciprocal(count);
            for j in 0..3 {
                let sum = if alone {
                    vals[j]
                } else {
                    self.total[j] - base[j]
                };
                f[9 + 3 * j + wi] = sum * inv;
            }
        }
    }
}

/// `1.0 / count`, from [`RECIPROCAL`] while the window is short enough (one well-predicted
/// branch: a feed's window counts move slowly).
#[inline]
fn reciprocal(count: usize) -> f64 {
    if count < RECIPROCALS {
        RECIPROCAL[count]
    } else {
        1.0 / count as f64
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
    fn the_reciprocal_table_and_the_division_agree_bit_for_bit() {
        for k in 1..4 * RECIPROCALS {
            assert_eq!(
                reciprocal(k).to_bits(),
                (1.0 / k as f64).to_bits(),
                "count {k}"
            );
        }
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
