//! The worker's score of each snapshot, `bias + w·x`, without the nine window means as numbers
//! of their own.
//!
//! The window means enter the score only as `Σ_j w[9 + 3j + i] · sum_j / count_i` for window
//! `i`, so each window's three weights are folded into the value its prefix sums carry: window
//! `i` sums `d_i = Σ_j w[9 + 3j + i] · (ofi, spread, qi0)_j` and contributes
//! `sum(d_i) / count_i`. The ring is the same as the features' (`windows.rs`). Per window,
//! two of the three subtractions and multiplications go, and the select of a window that holds
//! only this snapshot, and with them the 18 stores and reloads of a feature array; making `d`
//! costs about as many instructions as that saves: the gain is in the stores and the
//! dependencies (`benches/features.rs` times it against `update` + `score`).
//!
//! The value is the same linear function of the same features as [`Weights::score`], summed in
//! another order (as valid as that one: scikit-learn's differs from both); the two agree to
//! within the rounding the prefix sums' rebase bounds (a unit test holds them to it).

use crate::features::{rolling, windowed, FeedState, N_POINT};
use crate::weights::{add_products3, Weights};

/// Incremental score state of one feed under one model.
#[derive(Clone, Debug)]
pub struct ScoreState {
    feed: FeedState,
    point_w: [f64; N_POINT],
    /// `window_w[i][j]`: the weight of window `i`'s mean of value `j` of `(ofi, spread, qi0)`.
    window_w: [[f64; 3]; 3],
    bias: f64,
}

impl ScoreState {
    /// Empty state for `model`'s windows and weights.
    pub fn new(model: &Weights) -> Self {
        let c = &model.coef;
        Self {
            feed: FeedState::new(model.windows_ms),
            point_w: std::array::from_fn(|k| c[k]),
            window_w: std::array::from_fn(|i| std::array::from_fn(|j| c[rolling(j, i)])),
            bias: model.bias,
        }
    }

    /// Forgets the feed (a new feed starts: OFI restarts at 0, windows empty). Keeps the buffer.
    pub fn reset(&mut self) {
        self.feed.reset();
    }

    /// Adds snapshot `ts` (ns) and returns its score, the model's `bias + w·x` over the 18
    /// contract features of [`crate::features::FeatureState::update`].
    ///
    /// `bid_px0 < ask_px0` and finite non-negative sizes are the caller's to check (the engine
    /// validates every row before it gets here).
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::weights::Weights;
    /// use lobflow_core::scoring::ScoreState;
    /// let mut coef = [0.0; 18];
    /// coef[1] = 2.0; // spread
    /// coef[14] = 1.0; // rolling_spread over the 50 ms window
    /// let model = Weights { windows_ms: [10, 20, 50], threshold: 0.0, bias: 0.5, coef };
    /// let mut state = ScoreState::new(&model);
    /// state.score(0, 100.0, 101.0, &[1.0; 5], &[1.0; 5]);
    /// let s = state.score(1_000_000, 100.0, 103.0, &[1.0; 5], &[1.0; 5]);
    /// assert_eq!(s, 0.5 + 2.0 * 3.0 + (1.0 + 3.0) / 2.0);
    /// ```
    #[inline]
    pub fn score(
        &mut self,
        ts: u64,
        bid_px0: f64,
        ask_px0: f64,
        bid_sz: &[f64; 5],
        ask_sz: &[f64; 5],
    ) -> f64 {
        let w = &self.window_w;
        let (point, win) = self.feed.push(ts, bid_px0, ask_px0, [bid_sz, ask_sz], |p| {
            let v = windowed(p);
            std::array::from_fn(|i| w[i][0] * v[0] + w[i][1] * v[1] + w[i][2] * v[2])
        });
        // Three independent sums, one per window: a chain of 12 dependent additions would be
        // ~50 cycles of latency per tick.
        let means = std::array::from_fn(|i| win[i].sums[i] * win[i].inv_count);
        let s = add_products3(means, &self.point_w, &point);
        self.bias + (s[0] + s[1] + s[2])
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;
    use crate::features::FeatureState;
    use crate::weights::N_FEATURES;
    use crate::windows::REBASE_EVERY;

    fn model(seed: u64) -> Weights {
        let mut x = seed;
        let coef = std::array::from_fn(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4.0
        });
        Weights {
            windows_ms: [10, 20, 50],
            threshold: 0.1,
            bias: 0.25,
            coef,
        }
    }

    #[test]
    fn each_weight_lands_on_its_feature() {
        // One weight at a time, on values whose sums and means are exact: the fold must
        // reproduce `Weights::score` bit for bit, which a weight put on the wrong window or
        // value fails.
        let ms = 1_000_000;
        let snaps: [(u64, f64, f64, f64, f64); 4] = [
            (0, 100.0, 101.0, 3.0, 1.0),
            (0, 100.0, 102.0, 1.0, 1.0),
            (15 * ms, 101.0, 103.0, 2.0, 6.0),
            (40 * ms, 100.0, 104.0, 4.0, 4.0),
        ];
        for k in 0..N_FEATURES {
            let mut coef = [0.0; N_FEATURES];
            coef[k] = 1.0;
            let weights = Weights {
                windows_ms: [10, 20, 50],
                threshold: 0.0,
                bias: 0.0,
                coef,
            };
            let (mut fs, mut ss) = (
                FeatureState::new(weights.windows_ms),
                ScoreState::new(&weights),
            );
            for &(ts, b, a, qb, qa) in &snaps {
                let (bs, asz) = ([qb, 1.0, 2.0, 0.0, 4.0], [qa, 1.0, 0.0, 0.0, 2.0]);
                let want = weights.score(&fs.update(ts, b, a, &bs, &asz));
                assert_eq!(
                    ss.score(ts, b, a, &bs, &asz),
                    want,
                    "feature {k} at ts {ts}"
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_features_and_the_scorer_over_long_irregular_runs() {
        // Bursts of equal times, long gaps, queues far from zero and enough snapshots to
        // cross several rebases.
        let ms = 1_000_000u64;
        let weights = model(7);
        let (mut fs, mut ss) = (
            FeatureState::new(weights.windows_ms),
            ScoreState::new(&weights),
        );
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut ts, mut scale, mut worst) = (0u64, [0.0f64; N_FEATURES], 0.0f64);
        let mut pairs = Vec::new();
        for i in 0..3 * REBASE_EVERY {
            ts += match next() % 10 {
                0 => 0,
                1 => 60 * ms,
                _ => next() % (5 * ms),
            };
            let b = 100.0 + (next() % 7) as f64 * 0.01;
            let a = b + 0.01 + (next() % 100) as f64 * 0.01;
            let bs = std::array::from_fn(|_| (next() % 1000) as f64 + 1e6);
            let asz = std::array::from_fn(|_| (next() % 3000) as f64);
            let f = fs.update(ts, b, a, &bs, &asz);
            for (sc, v) in scale.iter_mut().zip(f) {
                *sc = sc.max(v.abs());
            }
            pairs.push((weights.score(&f), ss.score(ts, b, a, &bs, &asz)));
            if i % 4096 == 4095 {
                // The scale the rounding is relative to: every term's largest magnitude.
                let total = weights.bias.abs()
                    + weights
                        .coef
                        .iter()
                        .zip(scale)
                        .map(|(w, s)| w.abs() * s)
                        .sum::<f64>();
                for (want, got) in pairs.drain(..) {
                    worst = worst.max((got - want).abs() / total);
                }
            }
        }
        let bound = 4.0 * REBASE_EVERY as f64 * f64::EPSILON;
        assert!(worst > 0.0, "the two orders of summation never differed");
        assert!(
            worst < bound,
            "worst deviation {worst:e} of scale, bound {bound:e}"
        );
    }

    #[test]
    fn reset_starts_a_new_feed() {
        let weights = model(3);
        let mut ss = ScoreState::new(&weights);
        let mut fresh = ScoreState::new(&weights);
        for t in 0..100u64 {
            ss.score(t * 1_000, 10.0, 10.5, &[1.0; 5], &[2.0; 5]);
        }
        ss.reset();
        let sz = [3.0, 1.0, 0.0, 2.0, 1.0];
        assert_eq!(
            ss.score(5, 9.0, 9.5, &sz, &[1.0; 5]),
            fresh.score(5, 9.0, 9.5, &sz, &[1.0; 5])
        );
    }
}
