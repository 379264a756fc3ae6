//! Passes over whole feed columns, written so that they vectorise.
//!
//! Per-row tests (`x.is_finite() && x >= 0.0`, branches on each row) compile to scalar code;
//! these passes instead keep [`LANES`] independent minima, maxima and NaN-catching sums, which
//! the compiler holds in vector registers. A "poison" sum `Σ x·0` is 0 unless some `x` is NaN
//! or infinite, which is what lets a whole slice be judged clean without a test per element.

/// Independent accumulators per pass, which the compiler keeps in vector registers.
pub(crate) const LANES: usize = 8;

/// Lane minima and poison sums of a slice, folded.
#[derive(Clone, Copy)]
struct Lanes {
    min: [f64; LANES],
    max: [f64; LANES],
    poison: [f64; LANES],
}

impl Lanes {
    const EMPTY: Self = Self {
        min: [f64::INFINITY; LANES],
        max: [f64::NEG_INFINITY; LANES],
        poison: [0.0; LANES],
    };

    #[inline]
    fn fold(&mut self, x: f64, l: usize) {
        self.poison[l] += x * 0.0;
        // A NaN `x` leaves min and max as they were; `poison` has caught it.
        self.min[l] = if x < self.min[l] { x } else { self.min[l] };
        self.max[l] = if x > self.max[l] { x } else { self.max[l] };
    }

    fn min(&self) -> f64 {
        self.min.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.max.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// True when no folded value was NaN or infinite.
    fn finite(&self) -> bool {
        self.poison.iter().sum::<f64>() == 0.0
    }
}

/// Folds `f(a, b)` of every pair of `a` and `b` (equal lengths) into lanes.
#[inline]
fn fold2(a: &[f64], b: &[f64], lanes: &mut Lanes, f: impl Fn(f64, f64) -> f64) {
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for (l, (&x, &y)) in x.iter().zip(y).enumerate() {
            lanes.fold(f(x, y), l);
        }
    }
    for (&x, &y) in ra.iter().zip(rb) {
        lanes.fold(f(x, y), 0);
    }
}

/// `(min bid, max ask)` when every row's book is usable (`0 < ask − bid < ∞`, which is false
/// for NaN and infinities too), else `None`.
pub(crate) fn min_max_if_all_usable(bids: &[f64], asks: &[f64]) -> Option<(f64, f64)> {
    // One pass over both columns: for the codec fit they are each a few tens of MB.
    let (mut spread, mut b, mut a) = (Lanes::EMPTY, Lanes::EMPTY, Lanes::EMPTY);
    let mut fold = |x: f64, y: f64, l: usize| {
        spread.fold(y - x, l);
        b.fold(x, l);
        a.fold(y, l);
    };
    let (cb, ca) = (bids.chunks_exact(LANES), asks.chunks_exact(LANES));
    let (rb, ra) = (cb.remainder(), ca.remainder());
    for (x, y) in cb.zip(ca) {
        for (l, (&x, &y)) in x.iter().zip(y).enumerate() {
            fold(x, y, l);
        }
    }
    for (&x, &y) in rb.iter().zip(ra) {
        fold(x, y, 0);
    }
    // A finite spread implies two finite prices (two equal infinities give NaN, caught too).
    (spread.finite() && spread.min() > 0.0).then(|| (b.min(), a.max()))
}

/// `(min bid, max ask)` over the rows whose book is usable (`bid < ask`, both finite).
pub(crate) fn min_max_of_usable(bids: &[f64], asks: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; LANES];
    let mut hi = [f64::NEG_INFINITY; LANES];
    let mut fold = |b: f64, a: f64, lane: usize| {
        // `b < a` is false for NaN too, so only usable books count.
        let ok = b < a && b.is_finite() && a.is_finite();
        lo[lane] = if ok && b < lo[lane] { b } else { lo[lane] };
        hi[lane] = if ok && a > hi[lane] { a } else { hi[lane] };
    };
    let (bc, ac) = (bids.chunks_exact(LANES), asks.chunks_exact(LANES));
    let (br, ar) = (bc.remainder(), ac.remainder());
    for (b8, a8) in bc.zip(ac) {
        for lane in 0..LANES {
            fold(b8[lane], a8[lane], lane);
        }
    }
    for (&b, &a) in br.iter().zip(ar) {
        fold(b, a, 0);
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// True when every element is a size an f32 tick carries (a usable size column): finite,
/// ≥ 0, at most `f32::MAX`, and either 0 or at least f32's smallest normal number.
pub(crate) fn all_sizes_carried(xs: &[f64]) -> bool {
    let (mut all, mut nonzero) = (Lanes::EMPTY, Lanes::EMPTY);
    let mut fold = |x: f64, l: usize| {
        all.fold(x, l);
        nonzero.fold(if x == 0.0 { 1.0 } else { x }, l);
    };
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &x) in c.iter().enumerate() {
            fold(x, l);
        }
    }
    for &x in rest {
        fold(x, 0);
    }
    all.finite()
        && all.min() >= 0.0
        && all.max() <= f64::from(f32::MAX)
        && nonzero.min() >= f64::from(f32::MIN_POSITIVE)
}

/// The largest `|f(a, b)|` over the pairs (NaN or infinite ones count as infinite).
pub(crate) fn max_abs(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut lanes = Lanes::EMPTY;
    fold2(a, b, &mut lanes, |x, y| f(x, y).abs());
    if lanes.finite() {
        lanes.max().max(0.0)
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    #[test]
    fn sizes_must_be_finite_non_negative_and_within_f32() {
        let mut xs: Vec<f64> = (0..19).map(f64::from).collect();
        assert!(all_sizes_carried(&xs));
        assert!(all_sizes_carried(&[]));
        assert!(all_sizes_carried(&[0.0, -0.0, 1e-30, 3.4e38]));
        for bad in [
            -1e-300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e39,
            1e-39,
            1e-46,
        ] {
            for row in [0, 9, 18] {
                let keep = xs[row];
                xs[row] = bad;
                assert!(!all_sizes_carried(&xs), "{bad} at {row}");
                xs[row] = keep;
            }
        }
    }

    #[test]
    fn max_abs_sees_every_pair_and_non_finite_ones() {
        let a: Vec<f64> = (0..19).map(f64::from).collect();
        let b = vec![0.5; 19];
        assert_eq!(max_abs(&a, &b, |x, y| y - x), 17.5);
        assert_eq!(max_abs(&[], &[], |x, y| x - y), 0.0);
        let mut c = a.clone();
        c[11] = f64::NAN;
        assert_eq!(max_abs(&c, &b, |x, y| x - y), f64::INFINITY);
    }

    #[test]
    fn the_codec_range_leaves_out_unusable_rows_on_either_pass() {
        // 19 rows: not a multiple of the lanes, so the remainder loop is exercised too.
        let bids: Vec<f64> = (0..19).map(|i| 100.0 + f64::from(i)).collect();
        let asks: Vec<f64> = bids.iter().map(|b| b + 0.5).collect();
        assert_eq!(min_max_if_all_usable(&bids, &asks), Some((100.0, 118.5)));
        assert_eq!(min_max_of_usable(&bids, &asks), (100.0, 118.5));
        for (row, bid, ask) in [
            (0, 100.0, 99.0),            // crossed: its low bid must not count
            (3, f64::NAN, 104.0),        // NaN bid
            (18, 118.0, f64::INFINITY),  // infinite ask: must not widen the range
            (7, f64::NEG_INFINITY, 1.0), // infinite bid
        ] {
            let (mut b, mut a) = (bids.clone(), asks.clone());
            b[row] = bid;
            a[row] = ask;
            assert_eq!(min_max_if_all_usable(&b, &a), None, "row {row}");
            let (lo, hi) = min_max_of_usable(&b, &a);
            let expect_lo = if row == 0 { 101.0 } else { 100.0 };
            let expect_hi = if row == 18 { 117.5 } else { 118.5 };
            assert_eq!((lo, hi), (expect_lo, expect_hi), "row {row}");
        }
    }
}
