//! The three rolling windows' sums, O(1) amortised per snapshot, over one ring of snapshots.
//!
//! The windows are nested (lengths strictly ascending), so one time-ordered ring serves all of
//! them: each window only keeps its start position. The ring holds each snapshot's time and the
//! *exclusive prefix sums* of three values up to it, so a window's sums are one subtraction
//! (`total − prefix[start]`) and evicting an entry is just moving the start forward: no
//! per-entry arithmetic on the way out. What the three values are is the caller's:
//! [`crate::features::FeatureState`] sums `(ofi, spread, qi0)`, [`crate::scoring::ScoreState`]
//! one weighted combination of them per window.

/// The prefix sums are rebased this often (pushes): re-anchored at the oldest live entry so
/// their magnitude, and with it the rounding of `total − prefix[start]`, stays bounded by about
/// 2^16 × the values' scale × ε whatever the run length. Amortised cost: live entries / 2^16
/// subtractions per snapshot.
pub(crate) const REBASE_EVERY: usize = 1 << 16;

/// Window counts below this have their reciprocal in a table. A window holds one snapshot per
/// poll of the exchange (one to a few at 3 polls a second) and up to ~20 in the benches' bursts;
/// longer ones divide.
const RECIPROCALS: usize = 64;

/// `1.0 / k` for `k < RECIPROCALS`: the windows' means multiply by these instead of dividing,
/// three divisions fewer per snapshot with the very same values (IEEE division, at compile
/// time as at run time).
static RECIPROCAL: [f64; RECIPROCALS] = {
    let mut table = [0.0; RECIPROCALS];
    let mut k = 0;
    while k < RECIPROCALS {
        table[k] = 1.0 / k as f64;
        k += 1;
    }
    table
};

/// Three positive, strictly ascending window lengths: what both feature implementations
/// need (the windows are nested).
pub(crate) fn windows_are_valid(windows_ms: [u64; 3]) -> bool {
    let [w0, w1, w2] = windows_ms;
    w0 > 0 && w0 < w1 && w1 < w2
}

/// One window after a push: its sums of the three values and `1 / count`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Sum of each value over the window. Exact (the pushed values themselves) for a window
    /// that holds only the snapshot just pushed.
    pub sums: [f64; 3],
    /// `1 / count`, the same value as the division.
    pub inv_count: f64,
}

/// The ring of snapshot times and prefix sums behind the three windows.
#[derive(Clone, Debug)]
pub(crate) struct Windows {
    len_ns: [u64; 3],
    /// First live position of each window (free-running, indexed with `& mask`).
    start: [usize; 3],
    /// Snapshot times by position. Kept apart from the sums: the eviction walk only reads times,
    /// and eight of them share a cache line.
    ts: Vec<u64>,
    /// Sum of the values over all positions before this one, since the last rebase.
    prefix: Vec<[f64; 3]>,
    /// The same sum over every position pushed so far.
    total: [f64; 3],
    mask: usize,
    end: usize,
}

impl Windows {
    /// Empty windows of the given lengths in ms.
    ///
    /// # Panics
    /// If the windows are not three positive, strictly ascending lengths (the weights parser
    /// guarantees this for every engine).
    pub(crate) fn new(windows_ms: [u64; 3]) -> Self {
        assert!(
            windows_are_valid(windows_ms),
            "windows must be positive and strictly ascending: {windows_ms:?}"
        );
        Self {
            len_ns: windows_ms.map(|ms| ms.saturating_mul(1_000_000)),
            start: [0; 3],
            ts: vec![0; 64],
            prefix: vec![[0.0; 3]; 64],
            total: [0.0; 3],
            mask: 63,
            end: 0,
        }
    }

    /// Empties the windows. Keeps the buffer.
    pub(crate) fn reset(&mut self) {
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

    /// Adds a snapshot at `ts` (ns, not before the last one) with its three values, and returns
    /// each window as it now stands: causal, holding every snapshot of `(ts − W, ts]`.
    ///
    /// Always inlined: a caller that reads only some of the sums (the scorer reads one of each
    /// window's three) lets the compiler drop the others' loads and subtractions.
    #[allow(clippy::inline_always)] // left to itself, the compiler calls it from the scorer
    #[inline(always)]
    pub(crate) fn push(&mut self, ts: u64, vals: [f64; 3]) -> [Window; 3] {
        if self.end - self.start[2] > self.mask {
            self.grow();
        }
        if self.end % REBASE_EVERY == REBASE_EVERY - 1 {
            self.rebase();
        }
        let mask = self.mask;
        // Views of exactly `mask + 1` entries: every `pos & mask` is then provably in bounds,
        // and the compiler drops the bounds checks, which sat on every update.
        let times = &mut self.ts[..=mask];
        let prefix = &mut self.prefix[..=mask];
        let pos = self.end;
        times[pos & mask] = ts;
        prefix[pos & mask] = self.total;
        for (t, v) in self.total.iter_mut().zip(vals) {
            *t += v;
        }
        self.end += 1;
        let mut out = [Window {
            sums: [0.0; 3],
            inv_count: 0.0,
        }; 3];
        for (wi, w) in out.iter_mut().enumerate() {
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
            for j in 0..3 {
                w.sums[j] = if alone {
                    vals[j]
                } else {
                    self.total[j] - base[j]
                };
            }
            w.inv_count = reciprocal(count);
        }
        out
    }

    /// The buffer's capacity (entries).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
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
    fn a_window_alone_gets_its_values_exactly() {
        let mut w = Windows::new([10, 20, 50]);
        w.push(0, [1e17, 1e17, 1e17]);
        let out = w.push(60_000_000, [0.1, 0.2, 0.3]);
        for win in out {
            assert_eq!(win.sums, [0.1, 0.2, 0.3]);
            assert_eq!(win.inv_count, 1.0);
        }
    }
}
