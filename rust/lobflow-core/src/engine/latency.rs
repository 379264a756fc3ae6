//! A run's latency: the producer's push stamps and the worker's emit stamps, each thread
//! writing its own buffer (a shared one would add a cross-core transfer to every timed
//! tick), paired after the run into an hdrhistogram and summarised.

use super::options::LatencySummary;

/// A timestamp slot that a thread never reached (the run stopped first), or a row that is
/// not a tick → signal latency (a skipped row).
pub(crate) const UNSTAMPED: u64 = u64::MAX;

/// Largest latency recorded, ns (longer ones are clamped to it): a minute.
const MAX_NS: u64 = 60_000_000_000;

/// One stamp slot per timed row, filled with [`UNSTAMPED`] rather than zeroed so that every
/// page is touched here, not as a page fault inside a timed tick.
pub(crate) fn stamp_slots(n: usize, every: u64) -> Vec<u64> {
    vec![UNSTAMPED; n.div_ceil(every as usize)]
}

/// Push → emit latency of every tick both threads stamped.
pub(crate) fn histogram(
    clock: &quanta::Clock,
    pushed_at: &[u64],
    emitted_at: &[u64],
) -> hdrhistogram::Histogram<u64> {
    let mut hist = new_histogram();
    for (&t0, &t1) in pushed_at.iter().zip(emitted_at) {
        if t0 != UNSTAMPED && t1 != UNSTAMPED {
            record(&mut hist, clock.delta_as_nanos(t0, t1));
        }
    }
    hist
}

/// An empty latency histogram: 1 ns to a minute, 3 significant digits, fixed memory.
pub(crate) fn new_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::<u64>::new_with_bounds(1, MAX_NS, 3)
        .expect("static histogram bounds are valid")
}

/// Records one latency, clamped into the histogram's range.
#[inline]
pub(crate) fn record(hist: &mut hdrhistogram::Histogram<u64>, ns: u64) {
    // Within bounds after the clamp, so recording cannot fail.
    let _ = hist.record(ns.clamp(1, MAX_NS));
}

/// Percentiles and the non-empty log buckets (ratio 1.25) of `h`.
pub(crate) fn summarize(h: &hdrhistogram::Histogram<u64>, every: u64) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary {
            sampled_every: every,
            ..LatencySummary::default()
        };
    }
    LatencySummary {
        count: h.len(),
        p50_ns: h.value_at_quantile(0.50),
        p90_ns: h.value_at_quantile(0.90),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: h.max(),
        sampled_every: every,
        buckets: h
            .iter_log(1, 1.25)
            .filter(|v| v.count_since_last_iteration() > 0)
            .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{histogram, summarize, UNSTAMPED};

    #[test]
    fn unstamped_slots_are_left_out_and_buckets_sum_to_the_count() {
        let clock = quanta::Clock::new();
        let t0 = clock.raw();
        let pushed = [t0, t0, UNSTAMPED, t0];
        let emitted = [t0 + 1_000, UNSTAMPED, t0 + 5, t0 + 100_000];
        let h = histogram(&clock, &pushed, &emitted);
        assert_eq!(h.len(), 2);
        let s = summarize(&h, 1);
        assert_eq!(s.count, 2);
        assert_eq!(s.buckets.iter().map(|b| b.1).sum::<u64>(), 2);
        assert!(s.p50_ns <= s.max_ns);
        assert_eq!(summarize(&super::new_histogram(), 64).sampled_every, 64);
    }
}
