//! The 88-byte `L2Tick` that crosses the ring, and the price codec that keeps it exact.
//!
//! A raw f32 cannot hold an exchange price: at 90 000 its spacing is 0.0078, so a one-cent spread
//! would read 0.0078. The tick therefore stores each price as an integer number of *quanta*
//! away from a per-run *anchor*: `price = anchor + k · quantum` with `k` an integer held exactly
//! by the f32 (every integer with |k| ≤ 2^24 is exact). [`PriceCodec::fit`] picks the smallest
//! power-of-ten quantum for which every level-0 price of the feed lies within 2^23 quanta of the
//! anchor, so prices on any decimal grid at least that fine round-trip exactly and differences
//! such as the spread are exact multiples of the quantum.
//!
//! Level-0 sizes are stored in lots of a power of ten ([`SizeCodec`]): a whole number of lots
//! below 2^31 is stored as that integer in the f32's bits (tagged by the sign bit), so it and
//! OFI, a difference of such sizes, are exact; any other size keeps the f32's 24 bits, as
//! deeper sizes do. See `docs/tick-encoding.md`.

use std::mem::{offset_of, size_of};

/// One top-5 L2 snapshot as the producer hands it to the worker.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct L2Tick {
    /// Bid prices, best first, as quanta from the run's anchor ([`PriceCodec`]).
    pub bid_px: [f32; 5],
    /// Bid sizes, best first: level 0 in lots of the run's [`SizeCodec`], deeper ones raw.
    pub bid_sz: [f32; 5],
    /// Ask prices, best first, as quanta from the run's anchor ([`PriceCodec`]).
    pub ask_px: [f32; 5],
    /// Ask sizes, best first: level 0 in lots of the run's [`SizeCodec`], deeper ones raw.
    pub ask_sz: [f32; 5],
    /// Snapshot time, nanoseconds since the Unix epoch.
    pub ts: u64,
}

/// Size of [`L2Tick`] in bytes.
pub const TICK_SIZE: usize = size_of::<L2Tick>();
const _: () = assert!(TICK_SIZE == 88);
// The NumPy mirror (`lobflow.TICK_DTYPE`) is written against these offsets.
const _: () = assert!(
    offset_of!(L2Tick, bid_px) == 0
        && offset_of!(L2Tick, bid_sz) == 20
        && offset_of!(L2Tick, ask_px) == 40
        && offset_of!(L2Tick, ask_sz) == 60
        && offset_of!(L2Tick, ts) == 80
);

/// Byte offset of each field of [`L2Tick`], for the `NumPy` dtype mirror.
pub const TICK_FIELD_OFFSETS: [(&str, usize); 5] = [
    ("bid_px", offset_of!(L2Tick, bid_px)),
    ("bid_sz", offset_of!(L2Tick, bid_sz)),
    ("ask_px", offset_of!(L2Tick, ask_px)),
    ("ask_sz", offset_of!(L2Tick, ask_sz)),
    ("ts", offset_of!(L2Tick, ts)),
];

/// How far, relative to itself, a decoded price may be from the price and still be carried
/// exactly ([`PriceCodec::carries`]): 8 ulps.
pub const CARRY_ULPS: f64 = 8.0 * f64::EPSILON;

/// Largest offset, in quanta, that [`PriceCodec::fit`] allows (2^23, half the exact f32 range,
/// leaving room for prices that drift beyond the fitted range).
const MAX_QUANTA: f64 = 8_388_608.0;

/// Rounds to the nearest integer (ties to even) without a libm call, for [`PriceCodec::encode`],
/// which makes an f32 of the result: adding and subtracting 1.5·2^52 leaves no fraction bits,
/// so the FPU's round-to-nearest does the work. Exact for |x| < 2^51. Beyond that (never an
/// offset a tick holds exactly: an f32 holds integers only to 2^24, and a level-0 price that
/// far out fails [`PriceCodec::carries`]) the result is within two ulps of `x`, which its f32
/// cannot tell from `x`'s own but at an f32 tie; ±inf and NaN pass through. No branch for
/// that range: the encoder runs this on all ten prices of every row, where a test and select
/// would be a large share of its instructions.
/// `f64::round` compiles to a call on the baseline x86-64 target (no SSE4.1), on every price
/// of every row.
#[inline]
fn round_nearest(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    (x + MAGIC) - MAGIC
}

/// Maps prices to and from f32 quanta: `price = anchor + k · quantum`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceCodec {
    /// A multiple of `quantum` near the middle of the feed's level-0 prices.
    pub anchor: f64,
    /// A power of ten: the price resolution of the encoding.
    pub quantum: f64,
    /// `anchor / quantum`, an integer: decoding adds `k` to it before scaling, so that a
    /// price far below the anchor keeps its own precision (`anchor + k · quantum` would
    /// round it to the anchor's: a 10^-9 price beside a 5·10^6 anchor came back as 0).
    pub anchor_quanta: f64,
}

impl PriceCodec {
    /// The smallest power-of-ten quantum (down to 1e-18) that puts every price in `[lo, hi]`
    /// within 2^23 quanta of an anchor at the range's middle.
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::tick::PriceCodec;
    /// let c = PriceCodec::fit(90_000.00, 90_000.01);
    /// let (b, a) = (c.encode(90_000.00), c.encode(90_000.01));
    /// assert!((c.decode(a) - c.decode(b) - 0.01).abs() < 1e-9);
    /// ```
    pub fn fit(lo: f64, hi: f64) -> Self {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() && lo <= hi {
            (lo, hi)
        } else {
            (0.0, 0.0)
        };
        // Halves first: lo + hi may overflow.
        let mid = 0.5 * lo + 0.5 * hi;
        // 10^-18: finer than any venue's grid (the finest seen, 10^-8 to 10^-12 on tokens
        // priced in 10^-6 to 10^-9, stays within it).
        let mut exp = -18;
        loop {
            let quantum = 10f64.powi(exp);
            let anchor_quanta = (mid / quantum).round();
            let anchor = anchor_quanta * quantum;
            let reach = (hi - anchor).abs().max((anchor - lo).abs()) + quantum;
            // Past 10^30 (prices near f64's limits) nothing fits; [`Self::carries`] then
            // fails for the prices that do not round-trip, and the engine reports them.
            if reach / quantum < MAX_QUANTA || exp >= 30 {
                return Self {
                    anchor,
                    quantum,
                    anchor_quanta,
                };
            }
            exp += 1;
        }
    }

    /// True when `decoded` is `price` carried exactly: equal up to a few ulps of the price
    /// itself (its own rounding to f64 and that of `(anchor_quanta + k) · quantum`, ≤ 2 ulps).
    /// A price on a grid of the quantum or coarser always is; one between grid points (a
    /// float off any decimal grid, or a feed whose range forced a coarser quantum than its
    /// grid) is not, however small it is beside the anchor.
    #[inline]
    pub fn carries(&self, price: f64, decoded: f64) -> bool {
        (decoded - price).abs() <= CARRY_ULPS * price.abs()
    }

    /// Price → quanta (an integer-valued f32 while within 2^24 quanta of the anchor).
    #[inline]
    pub fn encode(&self, price: f64) -> f32 {
        // Multiplying by the exact power-of-ten reciprocal differs from dividing by at most an
        // ulp, far from the .5 boundary where rounding could tell them apart for gridded prices.
        round_nearest((price - self.anchor) * (1.0 / self.quantum)) as f32
    }

    /// Quanta → price, in f64.
    #[inline]
    pub fn decode(&self, k: f32) -> f64 {
        // The sum is exact while |anchor_quanta + k| < 2^53, and below that one rounding.
        (self.anchor_quanta + f64::from(k)) * self.quantum
    }
}

/// Most decimals a [`SizeCodec`] lot has: 10^-8, the finest size grid of the venues lobflow
/// reads (Kraken and `KuCoin` quote BTC sizes to 8 decimals).
pub const MAX_SIZE_DECIMALS: i32 = 8;

/// The largest size a tick carries: `f32::MAX` lots of the finest lot (3.4·10^30), so that no
/// codec's encoding overflows to inf. Independent of the fitted lot, so that which rows are
/// bad does not depend on the encoding.
pub const MAX_SIZE: f64 = f32::MAX as f64 / pow10(MAX_SIZE_DECIMALS);

/// Set in a level-0 size's f32 bits (the sign bit, which no size has): the other 31 bits are
/// then a whole number of lots, exact up to 2^31, where the f32's own value is exact only to
/// 2^24 (0.17 in lots of 10^-8).
const WHOLE_LOTS: u32 = 1 << 31;

/// 2^31: the whole lots a tagged size can hold.
const WHOLE_LOTS_LIMIT: f64 = 2_147_483_648.0;

/// A size is a whole number of lots when `size · 10^d` is within this many ulps of an integer:
/// a decimal size parsed to f64 and scaled by its power of ten lands a few ulps from it.
const ON_GRID_ULPS: f64 = 8.0;

/// 2^52: added to `0 ≤ x < 2^51`, it leaves the f64 no fraction bits, so the sum's low
/// mantissa bits are `x` rounded to the nearest integer.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `10^d` for `d ≥ 0`, exact up to 10^22.
const fn pow10(d: i32) -> f64 {
    let mut x = 1.0;
    let mut i = 0;
    while i < d {
        x *= 10.0;
        i += 1;
    }
    x
}

/// `x` lots as a whole number below 2^31, if it is one (within [`ON_GRID_ULPS`]): the one test
/// of "carried exactly", shared by [`SizeCodec::fit`] and [`SizeCodec::encode`] so that they
/// agree. `x` is finite and ≥ 0.
#[inline]
fn whole_lots(x: f64) -> Option<u32> {
    // The nearest integer without a float-to-int conversion or a libm call.
    let y = x + TWO_52;
    let k = y - TWO_52;
    // k < 2^31 sits in y's low 31 mantissa bits.
    (k < WHOLE_LOTS_LIMIT && (x - k).abs() <= ON_GRID_ULPS * f64::EPSILON * x)
        .then(|| y.to_bits() as u32)
}

/// Maps level-0 sizes to and from f32 lots: `size = k · lot`, `lot = 10^-decimals`.
///
/// A raw f32 keeps 24 bits of a size, relative error ≤ 6·10^-8: enough for a size, not for
/// OFI, which is a difference of level-0 sizes and can be far smaller than they are (two
/// queues of 1.5 moving by 0.0357 give an OFI off by 10^-6 of itself). A size that is a whole
/// number of lots below 2^31 is stored as that integer in the f32's bits, tagged by the sign
/// bit (no size is negative), so it comes back exact; any other is stored as the f32 value
/// `size · 10^d`, which keeps 24 bits, no fewer than a raw f32 would.
///
/// Deeper sizes stay raw f32: they feed only the imbalance ratios of their own level, which
/// 24 bits serve, and scaling all ten sizes cost the producer ~20 % of its rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizeCodec {
    /// Sizes are held in units of `10^-decimals`.
    pub decimals: i32,
    /// `10^decimals`, exact in f64.
    pub scale: f64,
    /// `10^-decimals`, the f64 nearest to it.
    pub lot: f64,
}

impl SizeCodec {
    /// Lots of 1: whole sizes below 2^31 exact, any other the f32 nearest to it.
    pub const RAW: Self = Self {
        decimals: 0,
        scale: 1.0,
        lot: 1.0,
    };

    /// The lot of `0..=MAX_SIZE_DECIMALS` decimals that carries the most of `sizes` exactly
    /// (a whole number of lots below 2^31), the coarsest of equals. Zeros, negatives and
    /// non-finite values count for none; with nothing on any grid, [`Self::RAW`].
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::tick::SizeCodec;
    /// let c = SizeCodec::fit([1.5, 0.0357, 2.25]);
    /// assert_eq!(c.decimals, 4);
    /// let ofi = c.decode(c.encode(1.5)) - c.decode(c.encode(1.4643));
    /// assert!((ofi - 0.0357).abs() < 1e-15);
    /// ```
    pub fn fit(sizes: impl IntoIterator<Item = f64>) -> Self {
        let mut carried = [0usize; MAX_SIZE_DECIMALS as usize + 1];
        for v in sizes {
            if !(v > 0.0 && v <= MAX_SIZE) {
                continue;
            }
            for (d, n) in carried.iter_mut().enumerate() {
                let x = v * 10f64.powi(d as i32);
                if x >= WHOLE_LOTS_LIMIT {
                    break; // and so for every finer lot
                }
                if whole_lots(x).is_some() {
                    *n += 1;
                }
            }
        }
        let best = (0..carried.len()).fold(0, |b, d| if carried[d] > carried[b] { d } else { b });
        if carried[best] == 0 {
            return Self::RAW;
        }
        Self::with_decimals(best as i32)
    }

    /// The codec of lot `10^-decimals`.
    ///
    /// # Panics
    /// If `decimals` is outside `0..=MAX_SIZE_DECIMALS`.
    pub fn with_decimals(decimals: i32) -> Self {
        assert!(
            (0..=MAX_SIZE_DECIMALS).contains(&decimals),
            "decimals {decimals}"
        );
        Self {
            decimals,
            scale: 10f64.powi(decimals),
            lot: 10f64.powi(-decimals),
        }
    }

    /// Size (finite, ≥ 0) → lots: a whole number of them below 2^31 as that integer, tagged;
    /// any other size as the f32 value of its lots, so that an off-grid size is not forced
    /// onto the grid but keeps its 24 bits.
    #[inline]
    pub fn encode(&self, size: f64) -> f32 {
        self.encode_exact(size).0
    }

    /// [`Self::encode`], and whether the f32 holds the size exactly: as whole lots, or as a
    /// value the f32 holds as it is (a float32 input under lots of 1); false when the size
    /// kept only the f32's 24 bits, and OFI over it then carries that rounding.
    #[inline]
    #[allow(clippy::float_cmp)] // exactly the question: does the f32 hold `x` as it is?
    pub fn encode_exact(&self, size: f64) -> (f32, bool) {
        let x = size * self.scale;
        let f = x as f32;
        match whole_lots(x) {
            Some(k) => (f32::from_bits(WHOLE_LOTS | k), true),
            None => (f, f64::from(f) == x),
        }
    }

    /// Writes `bid` and `ask` into `t`'s level-0 sizes; returns how many of the two the f32s
    /// hold only to 24 bits ([`Self::encode_exact`]).
    #[inline]
    pub fn encode_level0(&self, t: &mut L2Tick, bid: f64, ask: f64) -> usize {
        let (b, b_exact) = self.encode_exact(bid);
        let (a, a_exact) = self.encode_exact(ask);
        (t.bid_sz[0], t.ask_sz[0]) = (b, a);
        usize::from(!b_exact) + usize::from(!a_exact)
    }

    /// Lots → size, in f64 (within an ulp of the size for a whole number of lots).
    #[inline]
    pub fn decode(&self, k: f32) -> f64 {
        let bits = k.to_bits();
        let lots = if bits & WHOLE_LOTS == 0 {
            f64::from(k)
        } else {
            f64::from(bits & !WHOLE_LOTS)
        };
        lots * self.lot
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_contract() {
        assert_eq!(TICK_SIZE, 88);
        let offsets: Vec<usize> = TICK_FIELD_OFFSETS.iter().map(|(_, o)| *o).collect();
        assert_eq!(offsets, vec![0, 20, 40, 60, 80]);
    }

    #[test]
    fn spreads_are_exact_at_both_price_scales() {
        for (b, a, spread) in [
            (90_000.00, 90_000.01, 0.01),
            (0.000_012_34, 0.000_012_35, 1e-8),
            (1.0, 1.0001, 1e-4),
        ] {
            let c = PriceCodec::fit(b, a);
            let got = c.decode(c.encode(a)) - c.decode(c.encode(b));
            assert!(
                (got - spread).abs() <= 1e-9 * spread.max(1e-9),
                "{b} {a}: {got}"
            );
        }
    }

    #[test]
    fn gridded_prices_round_trip_across_a_wide_range() {
        let c = PriceCodec::fit(60_000.0, 120_000.0);
        assert!(c.quantum <= 0.01, "quantum {}", c.quantum);
        for cents in (6_000_000i64..12_000_000).step_by(99_991) {
            let p = cents as f64 / 100.0;
            assert!((c.decode(c.encode(p)) - p).abs() < 1e-9, "{p}");
            assert!(c.carries(p, c.decode(c.encode(p))), "{p}");
        }
        // Grids of other shapes, over ranges that fit 2^24 quanta of the largest power of ten
        // dividing the grid (0.1 for 0.5, 0.01 for 0.25: 600 000 steps of either): all carried.
        for (grid, base) in [
            (0.01, 2_500.0),
            (0.5, 100.0),
            (1e-8, 0.000_012),
            (0.25, 7.0),
        ] {
            let steps = [0i64, 1, 7, 12_345, 600_000];
            let c = PriceCodec::fit(base, base + grid * 600_000.0);
            for k in steps {
                let p = base + grid * k as f64;
                assert!(c.carries(p, c.decode(c.encode(p))), "grid {grid}: {p}");
            }
        }
    }

    #[test]
    fn carries_tells_gridded_prices_from_off_grid_ones() {
        let c = PriceCodec::fit(90_000.00, 90_000.01);
        for p in [90_000.00, 90_000.01, 90_000.005] {
            assert!(c.carries(p, c.decode(c.encode(p))), "{p}");
        }
        // A grid finer than 10^-12, as a token priced in 10^-11 may quote on.
        let tiny = PriceCodec::fit(1.234_5e-11, 1.234_6e-11);
        for p in [1.234_5e-11, 1.234_6e-11] {
            assert!(tiny.carries(p, tiny.decode(tiny.encode(p))), "{p}");
        }
        // A float off any decimal grid the range allows.
        let off = PriceCodec::fit(100.0, 101.0);
        let p = 100.123_456_789_123;
        assert!(!off.carries(p, off.decode(off.encode(p))));
        // One far-away price makes the quantum coarser than the cent grid of the rest.
        let wide = PriceCodec::fit(90_000.00, 1e9);
        assert!(!wide.carries(90_000.01, wide.decode(wide.encode(90_000.01))));
        // A tiny price beside a far anchor: decoded to 0, which is not it, however close.
        let far = PriceCodec::fit(1e-9, 1e7);
        assert!(!far.carries(1e-9, far.decode(far.encode(1e-9))));
        // Gridded prices far below the anchor keep their own precision.
        let span = PriceCodec::fit(1.0, 1_000.0);
        for p in [1.01, 2.37, 999.99] {
            assert!(span.carries(p, span.decode(span.encode(p))), "{p}");
        }
        // Prices near f64's limits fit no quantum; nothing breaks, and they are not carried.
        let huge = PriceCodec::fit(-1e308, 1e308);
        assert!(!huge.carries(1e307, huge.decode(huge.encode(1e307))));
        assert!(!huge.carries(90_000.0, huge.decode(huge.encode(90_000.0))));
    }

    #[test]
    fn round_nearest_matches_std_away_from_ties() {
        for x in [
            0.0,
            0.4,
            0.6,
            -0.4,
            -0.6,
            1e6 + 0.49,
            -8_388_607.7,
            123.000_000_01,
            2_251_799_813_685_247.5,
            -2_251_799_813_685_247.5,
            1e300,
            -1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(round_nearest(x), x.round(), "{x}");
        }
        assert_eq!(round_nearest(2.5), 2.0, "ties go to even");
        assert!(round_nearest(f64::NAN).is_nan());
        // From 2^51 on an f64 has no fraction bits, but the sum can drop low integer bits of
        // x (2^51 + 1 and 2^55 - 4 lose theirs): within two ulps of x, and the same f32.
        let two_51 = 2_251_799_813_685_248.0;
        let two_52 = 2.0 * two_51;
        for x in [
            two_51,
            two_51 + 1.0,
            -(two_51 + 1.0),
            two_52 + 1.0,
            3.3 * two_52,
            -5.0 * two_52,
            16.0 * two_51 - 4.0,
            1e20,
        ] {
            let r = round_nearest(x);
            assert!((r - x).abs() <= 2.0 * f64::EPSILON * x.abs(), "{x} → {r}");
            assert_eq!(r as f32, x as f32, "{x}");
        }
        assert_ne!(
            round_nearest(two_51 + 1.0),
            two_51 + 1.0,
            "the case the doc names"
        );
    }

    #[test]
    fn gridded_sizes_make_ofi_exact_and_others_keep_their_bits() {
        // The collector test's case: queues near 1.5 moving by hundredths.
        let (p, c) = (1.5f64, 1.4643f64);
        let raw = f64::from(p as f32) - f64::from(c as f32);
        assert!((raw - (p - c)).abs() > 1e-6 * (p - c), "raw f32 OFI {raw}");
        let codec = SizeCodec::fit([p, c, 0.0001, 12.0]);
        assert_eq!(codec.decimals, 4);
        let got = codec.decode(codec.encode(p)) - codec.decode(codec.encode(c));
        assert!((got - (p - c)).abs() <= 4.0 * f64::EPSILON * p, "{got}");
        // Whole numbers of lots come back exact up to 2^31 lots (an f32's value: 2^24).
        for v in [
            0.0,
            0.0001,
            0.1234,
            1.0,
            1_677.721_5,
            1_677.721_7,
            214_748.364_7,
        ] {
            let k = codec.encode(v);
            assert!((codec.decode(k) - v).abs() <= 2.0 * f64::EPSILON * v, "{v}");
        }
        let beyond_f32 = 1_677.721_7 - 1_677.721_5;
        let ofi = codec.decode(codec.encode(1_677.721_7)) - codec.decode(codec.encode(1_677.721_5));
        assert!((ofi - beyond_f32).abs() <= 1e-12, "{ofi}");
        // Off the grid, or from 2^31 lots: the f32's 24 bits, as a raw f32 would keep.
        for v in [0.123_456_789, 2_000.000_1, 214_748.364_8, 1e20, 3e30] {
            let rel = (codec.decode(codec.encode(v)) - v).abs() / v;
            assert!(rel <= 6e-8, "{v}: {rel}");
        }
        // No size is negative, so the tag cannot be mistaken for one; -0.0 is a size of 0.
        assert_eq!(codec.decode(codec.encode(-0.0)), 0.0);
        // The largest size any codec carries stays finite.
        assert_eq!(MAX_SIZE, f64::from(f32::MAX) / 1e8);
        let finest = SizeCodec::with_decimals(MAX_SIZE_DECIMALS);
        assert!(finest.encode(MAX_SIZE).is_finite());
    }

    #[test]
    fn the_size_lot_is_the_one_that_carries_most() {
        assert_eq!(SizeCodec::fit([]), SizeCodec::RAW);
        assert_eq!(
            SizeCodec::fit([0.0, -1.0, f64::NAN, f64::INFINITY]),
            SizeCodec::RAW
        );
        // Whole numbers: no decimals; a mix: the finest grid that still fits.
        assert_eq!(SizeCodec::fit([1.0, 7.0, 300.0]).decimals, 0);
        assert_eq!(SizeCodec::fit([0.5, 0.25, 0.125]).decimals, 3);
        assert_eq!(SizeCodec::fit([0.123_456_78, 0.1, 0.05]).decimals, 8);
        // Tagged whole lots reach 2^31: 8-decimal sizes up to 21.47 (an f32's value: 0.17).
        assert_eq!(
            SizeCodec::fit([0.123_456_78, 3.000_000_01, 21.0]).decimals,
            8
        );
        // Beyond it 5 decimals carry more of these.
        assert_eq!(
            SizeCodec::fit([0.123_45, 2.5, 40.123_45, 55.5, 0.000_000_01]).decimals,
            5
        );
        // Synthetic floats are on no grid.
        let floats = (1..100).map(|i| f64::from(i).sqrt() * std::f64::consts::PI);
        assert_eq!(SizeCodec::fit(floats), SizeCodec::RAW);
    }

    #[test]
    fn the_f32_raw_price_would_have_failed() {
        let raw = f64::from(90_000.01f32) - f64::from(90_000.00f32);
        assert!((raw - 0.01).abs() > 1e-3, "raw f32 spread {raw}");
    }
}
