//! Passes over whole feed columns, written so that they vectorise.
//!
//! Per-row tests (`x.is_finite() && x >= 0.0`, branches on each row) compile to scalar code;
//! these passes instead keep [`LANES`] independent minima, maxima and NaN-catching sums, which
//! the compiler holds in vector registers. A "poison" sum `Σ x·0` is 0 unless some `x` is NaN
//! or infinite, which is what lets a whole slice be judged clean without a test per element.

use crate::tick::MAX_SIZE;

/// Independent accumulators per pass, which the compiler keeps in vector registers.
pub(crate) const LANES: usize = 8;

/// Rows from which a pass over two columns is split between two threads: the codec fit of a
/// long feed reads both level-0 price columns before the run starts, while the two cores the
/// run will use stand idle.
const IN_HALVES_FROM: usize = 1 << 20;

/// `pass` over the rows of `a` and `b`, the halves on two of rayon's threads when there are
/// enough of them (`rayon::join`: the calling thread takes one, an idle pool thread the other,
/// or the caller both in turn), the two results then `join`ed.
pub(crate) fn in_halves<R: Send>(
    a: &[f64],
    b: &[f64],
    pass: fn(&[f64], &[f64]) -> R,
    join: impl FnOnce(R, R) -> R,
) -> R {
    let n = a.len().min(b.len());
    if n < IN_HALVES_FROM {
        return pass(a, b);
    }
    let mid = n / 2;
    let (a0, a1) = a.split_at(mid);
    let (b0, b1) = b.split_at(mid);
    let (first, second) = rayon::join(|| pass(a0, b0), || pass(a1, b1));
    join(first, second)
}

/// The span of two `(lo, hi)` ranges: the lower `lo`, the higher `hi`.
pub(crate) fn widest(x: (f64, f64), y: (f64, f64)) -> (f64, f64) {
    (x.0.min(y.0), x.1.max(y.1))
}

/// Defines a pass compiled twice: with AVX2 where the CPU has it (found once, then cached by
/// `is_x86_feature_detected!`), else for the target's baseline (SSE2 on x86-64). A baseline
/// build holds two f64 per vector register and spills the lanes of a two-column pass; AVX2
/// holds four and keeps them. The passes compare, add, subtract and take minima and maxima:
/// operations that IEEE 754 rounds alike in either instruction set, so both give the same
/// answer to the bit.
macro_rules! dispatched {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn portable($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) -> $ret {
                portable($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: a `target_feature(enable = "avx2")` function asks only that the CPU
                // runs AVX2 instructions, which the line above has just found it does.
                return unsafe { avx2($($arg),*) };
            }
            portable($($arg),*)
        }
    };
}

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

    // Always: a pass's AVX2 clone uses AVX2 only for what is inlined into it.
    #[allow(clippy::inline_always)]
    #[inline(always)]
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

dispatched! {
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
        // A finite spread implies two finite prices (two equal infinities give NaN, caught too);
        // a positive bid below the ask makes both prices positive.
        (spread.finite() && spread.min() > 0.0 && b.min() > 0.0).then(|| (b.min(), a.max()))
    }
}

/// `(min bid, max ask)` over the rows whose book is usable (`0 < bid < ask`, both finite).
pub(crate) fn min_max_of_usable(bids: &[f64], asks: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; LANES];
    let mut hi = [f64::NEG_INFINITY; LANES];
    let mut fold = |b: f64, a: f64, lane: usize| {
        // `0 < b < a` is false for NaN too, so only usable books count.
        let ok = 0.0 < b && b < a && a.is_finite();
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

dispatched! {
    /// True when every element is a size an f32 tick carries (a usable size column): finite,
    /// ≥ 0 and at most [`MAX_SIZE`]: two comparisons a row, which NaN and infinities fail,
    /// OR-ed into one flag without a branch.
    #[allow(clippy::needless_bitwise_bool, clippy::manual_range_contains)] // branch-free: it vectorises
    pub(crate) fn all_sizes_carried(xs: &[f64]) -> bool {
        let bad = xs
            .iter()
            .fold(0u64, |bad, &q| bad | u64::from(!((q >= 0.0) & (q <= MAX_SIZE))));
        bad == 0
    }
}

dispatched! {
    /// True when a deeper level's sizes are all carried (as [`all_sizes_carried`]) and every
    /// row of it that holds size (> 0) has a finite positive price: a taker order walks into
    /// it. One pass over both columns; each row's tests are comparisons combined without a
    /// branch (a NaN fails every comparison), OR-ed into one flag.
    #[allow(clippy::needless_bitwise_bool, clippy::manual_range_contains)] // branch-free: it vectorises
    pub(crate) fn level_usable(prices: &[f64], sizes: &[f64]) -> bool {
        let bad = prices.iter().zip(sizes).fold(0u64, |bad, (&p, &q)| {
            let size_ok = (q >= 0.0) & (q <= MAX_SIZE);
            let priced = (q <= 0.0) | ((p > 0.0) & (p < f64::INFINITY));
            bad | u64::from(!(size_ok & priced))
        });
        bad == 0
    }
}

/// `(max |d − p|, max (|d − p| − ulps · |p|))` over pairs of decoded and original prices:
/// the worst round-trip error, and the worst excess over each price's own allowance (≤ 0
/// when every price is carried). NaN or infinite errors show as an infinite first value.
pub(crate) fn round_trip_errors(decoded: &[f64], prices: &[f64], ulps: f64) -> (f64, f64) {
    let (mut err, mut over) = (Lanes::EMPTY, Lanes::EMPTY);
    let (cd, cp) = (decoded.chunks_exact(LANES), prices.chunks_exact(LANES));
    let (rd, rp) = (cd.remainder(), cp.remainder());
    let mut fold = |d: f64, p: f64, l: usize| {
        let e = (d - p).abs();
        err.fold(e, l);
        over.fold(e - ulps * p.abs(), l);
    };
    for (d8, p8) in cd.zip(cp) {
        for l in 0..LANES {
            fold(d8[l], p8[l], l);
        }
    }
    for (&d, &p) in rd.iter().zip(rp) {
        fold(d, p, 0);
    }
    let worst = if err.finite() {
        err.max().max(0.0)
    } else {
        f64::INFINITY
    };
    (worst, over.max())
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    #[test]
    fn a_pass_in_halves_sees_both_halves_as_one_pass_would() {
        let n = IN_HALVES_FROM + 3;
        let mut bids: Vec<f64> = (0..n).map(|i| 100.0 + (i % 7) as f64).collect();
        let mut asks: Vec<f64> = bids.iter().map(|b| b + 0.5).collect();
        let both = |x: Option<(f64, f64)>, y| x.zip(y).map(|(x, y)| widest(x, y));
        // Extremes on either side of the split, and at its very ends.
        for (lo_row, hi_row) in [(n - 1, 0), (0, n - 1), (n / 2, n / 2 - 1)] {
            let keep = (bids[lo_row], asks[hi_row]);
            (bids[lo_row], asks[hi_row]) = (1.25, 999.5);
            let serial = min_max_if_all_usable(&bids, &asks);
            assert_eq!(serial, Some((1.25, 999.5)));
            assert_eq!(in_halves(&bids, &asks, min_max_if_all_usable, both), serial);
            (bids[lo_row], asks[hi_row]) = keep;
        }
        // One crossed or NaN row in either half makes the whole feed unusable as a block.
        for row in [3, n - 2] {
            for bad in [f64::NAN, bids[row] - 1.0] {
                let keep = asks[row];
                asks[row] = bad;
                assert_eq!(in_halves(&bids, &asks, min_max_if_all_usable, both), None);
                let serial = min_max_of_usable(&bids, &asks);
                assert_eq!(in_halves(&bids, &asks, min_max_of_usable, widest), serial);
                asks[row] = keep;
            }
        }
    }

    #[test]
    fn a_level_is_usable_when_its_sizes_are_carried_and_held_rows_are_priced() {
        let prices: Vec<f64> = (0..19).map(|i| 100.0 + f64::from(i)).collect();
        let sizes: Vec<f64> = (0..19).map(f64::from).collect();
        assert!(level_usable(&prices, &sizes));
        assert!(level_usable(&[], &[]));
        // Rows in the vectorised body (3) and in the remainder (17).
        for row in [3, 17] {
            // Any price on a row that holds nothing: a short book's padding.
            for pad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
                let (mut p, mut q) = (prices.clone(), sizes.clone());
                (p[row], q[row]) = (pad, 0.0);
                assert!(level_usable(&p, &q), "{pad} at {row} holds nothing");
                q[row] = 0.5;
                assert!(!level_usable(&p, &q), "{pad} at {row} holds size");
            }
            for bad in [f64::NAN, -0.5, f64::INFINITY, MAX_SIZE * 2.0] {
                let mut q = sizes.clone();
                q[row] = bad;
                assert!(!level_usable(&prices, &q), "size {bad} at {row}");
            }
        }
    }

    #[test]
    fn sizes_must_be_finite_non_negative_and_within_the_ticks_lots() {
        let mut xs: Vec<f64> = (0..19).map(f64::from).collect();
        assert!(all_sizes_carried(&xs));
        assert!(all_sizes_carried(&[]));
        assert!(all_sizes_carried(&[0.0, -0.0, 1e-30, 1e-46, 3.4e30]));
        for bad in [
            -1e-300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.5e30,
            1e39,
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
    fn round_trip_errors_see_every_pair_and_non_finite_ones() {
        let p: Vec<f64> = (1..20).map(f64::from).collect();
        let mut d = p.clone();
        assert_eq!(round_trip_errors(&d, &p, 1e-9), (0.0, -1e-9));
        assert_eq!(round_trip_errors(&[], &[], 1e-9), (0.0, f64::NEG_INFINITY));
        d[17] += 0.5; // 18.5 for 18: in the remainder loop's reach and beyond the allowance
        let (worst, over) = round_trip_errors(&d, &p, 1e-9);
        assert_eq!(worst, 0.5);
        assert!(over > 0.0);
        d[11] = f64::NAN;
        assert_eq!(round_trip_errors(&d, &p, 1e-9).0, f64::INFINITY);
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
