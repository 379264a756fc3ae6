//! The engine's clock reads: TSC timestamps (`quanta`) fenced so that each falls where the
//! code puts it. A leaf module: the engine, the live session and the latency probes use it.

/// A clock read that waits until every earlier instruction has executed.
///
/// `rdtsc` alone may execute before the instructions ahead of it: stamping an emit with it
/// can read the clock before the tick's data has arrived from the producer's core, which
/// understates the latency. A push stamp read early errs the other way: it counts the
/// producer's reading of the feed row (a cache miss) as latency. `lfence` waits for every
/// earlier instruction, loads included, to complete, and keeps later ones from starting.
#[inline]
pub(crate) fn stamp_after(clock: &quanta::Clock) -> u64 {
    // Off x86-64 quanta reads the OS's monotonic clock, through a call the CPU cannot run
    // ahead of much, and the fence keeps the compiler from hoisting the read at least.
    crate::ring::execution_fence();
    clock.raw()
}

/// Raw clock ticks per nanosecond, from quanta's calibration.
pub(crate) fn ticks_per_ns(clock: &quanta::Clock) -> f64 {
    let a = clock.raw();
    let probe = 1_000_000u64;
    let ns = clock.delta_as_nanos(a, a + probe).max(1);
    probe as f64 / ns as f64
}

#[cfg(test)]
mod tests {
    use super::{stamp_after, ticks_per_ns};

    #[test]
    fn stamps_move_forward_and_the_rate_is_plausible() {
        let clock = quanta::Clock::new();
        let a = stamp_after(&clock);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = stamp_after(&clock);
        let ns = clock.delta_as_nanos(a, b);
        assert!((1_000_000..5_000_000_000).contains(&ns), "{ns} ns");
        let rate = ticks_per_ns(&clock);
        // From a 100 MHz fallback clock to a 10 GHz TSC.
        assert!((0.1..10.0).contains(&rate), "{rate} ticks/ns");
    }
}
