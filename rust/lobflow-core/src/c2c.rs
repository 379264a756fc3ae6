//! Core-to-core latency probe: the floor any cross-thread signal (and the engine) can reach.

use crate::pin;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Round trips timed together as one sample. Timing each trip alone adds a clock read to
/// every sample, which on some CPUs costs a crossing far more than its own few ns: this probe
/// is the bare line, and [`stamped_latency`] is the one with the clock reads in.
pub const TRIPS_PER_SAMPLE: usize = 64;

/// Wall time after which a probe stops with the samples it has (at least one), however many
/// round trips were asked for.
///
/// A round trip needs both threads running at once. A host that time-slices the two vCPUs on
/// one physical core answers each only at a scheduler switch (milliseconds), and a
/// 16 384-trip probe would then take minutes, during which Ctrl-C is not looked at; with two
/// cores running at once one takes a few ms.
pub const PROBE_BUDGET: Duration = Duration::from_secs(1);

/// The value the pinging thread leaves on the line when it stops, so that the echo stops too.
const STOP: u64 = u64::MAX;

/// One-way latency between two cores: half the mean round trip of each sample of
/// [`TRIPS_PER_SAMPLE`] round trips ([`core_to_core_latency`], [`handoff_latency`]), or each
/// message's own stamped crossing ([`stamped_latency`]).
#[derive(Clone, Debug, PartialEq)]
pub struct C2cReport {
    /// Cores used (after fallback).
    pub cores: [usize; 2],
    /// Number of timed round trips (for the bulk probes, a multiple of [`TRIPS_PER_SAMPLE`]).
    pub round_trips: usize,
    /// Whether [`PROBE_BUDGET`] ran out before the round trips asked for: a request too large
    /// for it, or cores that seldom ran at once (then the figures say how slowly they
    /// answered). The figures cover the `round_trips` timed.
    pub cut_short: bool,
    /// Median one-way latency in ns.
    pub one_way_ns_p50: f64,
    /// 90th percentile.
    pub one_way_ns_p90: f64,
    /// 99th percentile.
    pub one_way_ns_p99: f64,
    /// Fastest.
    pub one_way_ns_min: f64,
}

/// Two threads pinned to `cores` bounce a counter on a cache-padded atomic of their own
/// (freshly allocated) `round_trips` times (rounded up to whole samples), or for
/// [`PROBE_BUDGET`] and one more sample, whichever is shorter.
///
/// # Errors
/// [`crate::Error::Config`] when `round_trips` is 0 or both threads would run on one core,
/// [`crate::Error::WorkerPanicked`] if the echo thread dies.
pub fn core_to_core_latency(cores: [usize; 2], round_trips: usize) -> crate::Result<C2cReport> {
    let ball = Box::new(CachePadded::new(AtomicU64::new(0)));
    core_to_core_latency_on(&ball, cores, round_trips)
}

/// [`core_to_core_latency`] bouncing `ball`, a line of the caller's memory (on NUMA
/// machines the latency depends on the node it lives on). Nothing else may use `ball`
/// meanwhile.
///
/// # Errors
/// As [`core_to_core_latency`].
pub fn core_to_core_latency_on(
    ball: &AtomicU64,
    cores: [usize; 2],
    round_trips: usize,
) -> crate::Result<C2cReport> {
    probe(ball, cores, round_trips, PROBE_BUDGET)
}

/// The one-way latency of a hand-off between two cores that each write only a line of their
/// own and read the other's, as a queue's head and tail are (each single-writer): half the
/// round trip of two threads pinned to `cores`, each answering a counter on its own
/// cache-padded line.
///
/// This is the floor of any SPSC ring's hand-off, lobflow's included, and it is not
/// [`core_to_core_latency`]'s: a line bounced between two writers crosses once per hop, while
/// a value written on one line and read from another makes the writer take the line back from
/// the reader (an invalidation) before the reader fetches it again, which can cost more than
/// twice the shared line's crossing.
///
/// # Errors
/// As [`core_to_core_latency`].
///
/// # Examples
/// ```
/// let shared = lobflow_core::c2c::core_to_core_latency([0, 1], 1_000)?;
/// let handoff = lobflow_core::c2c::handoff_latency([0, 1], 1_000)?;
/// assert!(shared.one_way_ns_min > 0.0 && handoff.one_way_ns_min > 0.0);
/// # Ok::<(), lobflow_core::Error>(())
/// ```
pub fn handoff_latency(cores: [usize; 2], round_trips: usize) -> crate::Result<C2cReport> {
    let lines = Box::new([
        CachePadded::new(AtomicU64::new(0)),
        CachePadded::new(AtomicU64::new(0)),
    ]);
    probe_lines(&lines[0], &lines[1], cores, round_trips, PROBE_BUDGET)
}

/// The one-way latency of one message at a time across one line, stamped with the engine's
/// own fenced clock reads before the send and after the arrival: the floor of the engine's
/// tick latency as it measures it (producer push to worker emit), with no ring, features or
/// score in between.
///
/// [`core_to_core_latency`] times 64 round trips per clock read, so it leaves out what the
/// reads themselves cost, and on some CPUs that is much more than their own few ns (one
/// `rdtsc` per round trip can add tens of ns to each crossing of the bounced line), so this
/// probe can measure a few times the bulk bounce. Both ends are pinned as the engine's
/// threads are; the pinging thread (`cores[0]`, the producer's) sends a message 1 µs after the previous one
/// was answered, so each crosses alone, as a paced tick does. The cores' clocks are assumed
/// to agree, as the engine's latency assumes too.
///
/// # Errors
/// As [`core_to_core_latency`].
///
/// # Examples
/// ```
/// let r = lobflow_core::c2c::stamped_latency([0, 1], 1_000)?;
/// assert!(r.one_way_ns_min <= r.one_way_ns_p50);
/// # Ok::<(), lobflow_core::Error>(())
/// ```
pub fn stamped_latency(cores: [usize; 2], messages: usize) -> crate::Result<C2cReport> {
    stamped(cores, messages, PROBE_BUDGET)
}

/// The pause before each stamped message.
///
/// Sent right after the previous answer, a message often overtakes the echo's next look at
/// the line: the sender still owns it, and the message crosses in one transfer (the figure
/// turns bimodal). A paced tick never does: its reader has been polling the line for
/// microseconds, so the writer must first take the line back from it and the reader then
/// fetch it again. The gap makes every message cross as a paced tick does.
const GAP: Duration = Duration::from_micros(1);

/// Messages a stamped probe keeps stamps for: more would not fit its budget anyway (a message
/// takes ~1.3 µs with its gap) and a huge request must not allocate its size.
const MAX_STAMPED: usize = 1 << 21;

/// [`stamped_latency`] within `budget`.
fn stamped(cores: [usize; 2], messages: usize, budget: Duration) -> crate::Result<C2cReport> {
    let used = two_cores(cores, messages, "messages")?;
    let ball = CachePadded::new(AtomicU64::new(0));
    let clock = quanta::Clock::new();
    let warmup = (messages / 10).clamp(100, 16_384);
    let total = warmup.saturating_add(messages).min(MAX_STAMPED);
    let (sent, arrived, warm) = std::thread::scope(|s| {
        let echo = s.spawn(|| {
            pin::pin_current(used[1]);
            let mut arrived = Vec::with_capacity(total);
            for i in 0..total as u64 {
                // Without a `pause`, as the engine's paced worker waits (`Spin::Tight`).
                loop {
                    match ball.load(Ordering::Acquire) {
                        v if v == 2 * i + 1 => break,
                        STOP => return arrived,
                        _ => {}
                    }
                }
                arrived.push(crate::clock::stamp_after(&clock));
                ball.store(2 * i + 2, Ordering::Release);
            }
            arrived
        });
        let ping = s.spawn(|| {
            pin::pin_current(used[0]);
            let started = Instant::now();
            let mut sent = Vec::with_capacity(total);
            let (mut warm, mut end) = (warmup, total);
            let mut i = 0;
            while i < end {
                // Paced, as the engine's ticks are: the echo is back to polling the line
                // before the next message is written (see `GAP`).
                let due = Instant::now() + GAP;
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
                sent.push(crate::clock::stamp_after(&clock));
                ball.store(2 * i as u64 + 1, Ordering::Release);
                while ball.load(Ordering::Acquire) != 2 * i as u64 + 2 {
                    std::hint::spin_loop();
                }
                i += 1;
                if end == total && i % TRIPS_PER_SAMPLE == 0 && started.elapsed() > budget {
                    // Out of time: stop here, or after one timed message if none is yet.
                    warm = warm.min(i);
                    end = if i > warm { i } else { i + 1 };
                }
            }
            ball.store(STOP, Ordering::Release);
            (sent, warm)
        });
        let dead = |_| crate::Error::WorkerPanicked("c2c probe thread".into());
        let (sent, warm) = ping.join().map_err(dead)?;
        Ok::<_, crate::Error>((sent, echo.join().map_err(dead)?, warm))
    })?;
    // Every message sent was answered, so both sides hold a stamp for each.
    let samples: Vec<f64> = sent
        .iter()
        .zip(&arrived)
        .skip(warm)
        .map(|(&t0, &t1)| clock.delta_as_nanos(t0, t1) as f64)
        .collect();
    let cut_short = samples.len() < messages;
    Ok(report(used, samples, 1, cut_short))
}

/// [`core_to_core_latency_on`] within `budget` instead of [`PROBE_BUDGET`].
fn probe(
    ball: &AtomicU64,
    cores: [usize; 2],
    round_trips: usize,
    budget: Duration,
) -> crate::Result<C2cReport> {
    probe_lines(ball, ball, cores, round_trips, budget)
}

/// The probe proper: the pinging thread writes `ping` and reads `echo`, the echoing thread the
/// other way round; one line for both ([`probe`]) or a line each ([`handoff_latency`]).
fn probe_lines(
    ping_line: &AtomicU64,
    echo_line: &AtomicU64,
    cores: [usize; 2],
    round_trips: usize,
    budget: Duration,
) -> crate::Result<C2cReport> {
    let used = two_cores(cores, round_trips, "round_trips")?;
    ping_line.store(0, Ordering::Relaxed);
    echo_line.store(0, Ordering::Relaxed);
    // Saturating: a user's count may be anything, and the budget ends the probe anyway.
    let n_samples = round_trips.div_ceil(TRIPS_PER_SAMPLE);
    let round_trips = n_samples.saturating_mul(TRIPS_PER_SAMPLE);
    // A tenth of the probe, within bounds: enough for both threads to be spinning and the
    // line to be warm, without a huge request spending its budget on warming up.
    let warmup = (round_trips / 10)
        .clamp(100, 16_384)
        .next_multiple_of(TRIPS_PER_SAMPLE);
    let total = (warmup.saturating_add(round_trips) as u64).min(u64::MAX / 4);
    // Capped: a probe asked for 2^40 round trips ends at its budget long before, and an
    // allocation that large would abort the process.
    let mut samples = Vec::with_capacity(n_samples.min(1 << 16));
    // Both ends run on threads of their own: pinning the caller would shrink the affinity of
    // whatever thread called us (in Python, the interpreter's main thread) for good.
    let cut_short = std::thread::scope(|s| {
        let echo = s.spawn(|| {
            pin::pin_current(used[1]);
            // Odd values are pings; answer each with the next even value.
            for i in 0..total {
                loop {
                    match ping_line.load(Ordering::Acquire) {
                        v if v == 2 * i + 1 => break,
                        STOP => return,
                        _ => std::hint::spin_loop(),
                    }
                }
                echo_line.store(2 * i + 2, Ordering::Release);
            }
        });
        let ping = s.spawn(|| {
            pin::pin_current(used[0]);
            let started = Instant::now();
            let mut t0 = started;
            let (mut warm_end, mut end) = (warmup as u64, total);
            let mut i = 0;
            while i < end {
                ping_line.store(2 * i + 1, Ordering::Release);
                while echo_line.load(Ordering::Acquire) != 2 * i + 2 {
                    std::hint::spin_loop();
                }
                if (i + 1) % TRIPS_PER_SAMPLE as u64 == 0 {
                    if i >= warm_end {
                        let trips = 2.0 * TRIPS_PER_SAMPLE as f64;
                        samples.push(t0.elapsed().as_nanos() as f64 / trips);
                    }
                    t0 = Instant::now();
                    if end == total && t0 - started > budget {
                        // Out of time: stop here, or after one timed sample if none is yet.
                        if i < warm_end {
                            warm_end = i + 1;
                        }
                        end = if samples.is_empty() {
                            i + 1 + TRIPS_PER_SAMPLE as u64
                        } else {
                            i + 1
                        };
                    }
                }
                i += 1;
            }
            ping_line.store(STOP, Ordering::Release);
            end < total
        });
        let dead = |_| crate::Error::WorkerPanicked("c2c probe thread".into());
        echo.join().map_err(dead)?;
        ping.join().map_err(dead)
    })?;
    Ok(report(used, samples, TRIPS_PER_SAMPLE, cut_short))
}

/// The cores a probe of `count` round trips (or messages, as `what` says) runs on, after
/// fallback.
fn two_cores(cores: [usize; 2], count: usize, what: &str) -> crate::Result<[usize; 2]> {
    if count == 0 {
        return Err(crate::Error::Config(format!("{what} must be ≥ 1")));
    }
    let plan = pin::plan(Some(cores));
    if plan.used[0] == plan.used[1] {
        // Two spinning threads on one core answer each other once per scheduler switch: the
        // probe would take minutes and measure the scheduler, not a crossing.
        return Err(crate::Error::Config(format!(
            "core-to-core latency needs two different cores; {cores:?} come down to core {} \
             alone on this machine",
            plan.used[0]
        )));
    }
    Ok(plan.used)
}

/// Percentiles of `samples` (at least one), each of which timed `trips_per_sample` round trips.
fn report(
    cores: [usize; 2],
    mut samples: Vec<f64>,
    trips_per_sample: usize,
    cut_short: bool,
) -> C2cReport {
    samples.sort_by(f64::total_cmp);
    let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    C2cReport {
        cores,
        round_trips: samples.len() * trips_per_sample,
        cut_short,
        one_way_ns_p50: q(0.5),
        one_way_ns_p90: q(0.9),
        one_way_ns_p99: q(0.99),
        one_way_ns_min: samples[0],
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    #[test]
    fn measures_a_positive_latency() {
        let r = core_to_core_latency([0, 1], 2_000).unwrap();
        assert!(r.one_way_ns_min > 0.0);
        assert!(r.one_way_ns_min <= r.one_way_ns_p50 && r.one_way_ns_p50 <= r.one_way_ns_p99);
    }

    #[test]
    fn measures_on_a_line_of_the_callers() {
        let line = CachePadded::new(AtomicU64::new(0));
        let r = core_to_core_latency_on(&line, [0, 1], 100).unwrap();
        assert_eq!(
            r.round_trips,
            TRIPS_PER_SAMPLE * 2,
            "100 rounded up to whole samples"
        );
        assert!(r.one_way_ns_min > 0.0);
    }

    #[test]
    fn a_probe_out_of_time_stops_with_what_it_has() {
        let ball = AtomicU64::new(0);
        // No time at all: the warm-up is cut, and exactly one sample is timed.
        let r = probe(&ball, [0, 1], 1 << 20, Duration::ZERO).unwrap();
        assert!(r.cut_short);
        assert_eq!(r.round_trips, TRIPS_PER_SAMPLE);
        assert!(r.one_way_ns_min > 0.0);
        // Out of time mid-probe: the samples so far, far fewer than asked for.
        let t0 = Instant::now();
        let r = probe(&ball, [0, 1], usize::MAX, Duration::from_millis(30)).unwrap();
        assert!(r.cut_short);
        assert!(r.round_trips >= TRIPS_PER_SAMPLE && r.round_trips < 1 << 40);
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        // In time: every round trip asked for.
        let r = probe(&ball, [0, 1], 640, Duration::from_secs(60)).unwrap();
        assert!(!r.cut_short);
        assert_eq!(r.round_trips, 640);
    }

    #[test]
    fn a_hand_off_across_two_lines_is_measured_and_checked_like_a_bounce() {
        let r = handoff_latency([0, 1], 2_000).unwrap();
        assert_eq!(r.round_trips, 2_048, "2000 rounded up to whole samples");
        assert!(r.one_way_ns_min > 0.0);
        assert!(r.one_way_ns_min <= r.one_way_ns_p50 && r.one_way_ns_p50 <= r.one_way_ns_p99);
        assert!(handoff_latency([0, 1], 0).is_err());
        let err = handoff_latency([1, 1], 64).unwrap_err();
        assert!(err.to_string().contains("two different cores"), "{err}");
    }

    #[test]
    fn a_stamped_probe_times_each_message_and_stops_on_its_budget() {
        let r = stamped_latency([0, 1], 1_000).unwrap();
        assert_eq!(
            r.round_trips, 1_000,
            "one sample a message, none rounded up"
        );
        assert!(!r.cut_short);
        assert!(r.one_way_ns_min <= r.one_way_ns_p50 && r.one_way_ns_p50 <= r.one_way_ns_p99);
        // No time at all: the warm-up is cut, and exactly one message is timed.
        let r = stamped([0, 1], 1 << 20, Duration::ZERO).unwrap();
        assert!(r.cut_short);
        assert_eq!(r.round_trips, 1);
        // Far more than the stamps kept: cut short, not a 2^40-element allocation.
        let t0 = Instant::now();
        let r = stamped([0, 1], 1 << 40, Duration::from_millis(30)).unwrap();
        assert!(r.cut_short && r.round_trips >= 1 && r.round_trips < MAX_STAMPED);
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        assert!(stamped_latency([0, 1], 0).is_err());
        let err = stamped_latency([1, 1], 64).unwrap_err();
        assert!(err.to_string().contains("two different cores"), "{err}");
    }

    #[test]
    fn zero_round_trips_is_an_error() {
        assert!(core_to_core_latency([0, 1], 0).is_err());
    }

    #[test]
    fn one_core_for_both_ends_is_an_error_not_a_minutes_long_probe() {
        let err = core_to_core_latency([0, 0], 1024).unwrap_err();
        assert!(err.to_string().contains("two different cores"), "{err}");
    }
}
