//! `Engine::run`: a producer thread encodes feed rows into ticks and pushes them through the SPSC
//! ring; a worker thread computes features, scores and emits. Both are pinned (best effort).
//!
//! Skipped rows travel as a sentinel tick (`ts == SKIPPED`) so that the worker writes every
//! output at its row index without a side channel. Latency is measured from just before the
//! producer's push to just after the worker's emit, with TSC timestamps (no syscalls). Each
//! thread writes its timestamps into its own buffer and the two are paired after the run:
//! a shared buffer would put one more cross-core cache-line transfer into every timed tick.
//!
//! The two threads' loops live in `producer` and `worker`; this module holds what a run
//! shares: its options and output, the ring kept between runs, the start, pinning and join
//! of the threads, and the pairing of their timestamps.

mod producer;
mod worker;

use producer::ProducerOut;
use worker::WorkerOut;

use crate::c2c::{self, C2cReport};
use crate::error::{Error, Result};
use crate::feed::{Feed, OnBad};
use crate::pin::{self, PinReport};
use crate::ring::{Consumer, Producer, RingBuffer};
use crate::scorer::Weights;
use crate::tick::{L2Tick, PriceCodec, SizeCodec};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `ts` of a tick that stands for a skipped row.
const SKIPPED: u64 = u64::MAX;
/// A timestamp slot that a thread never reached (the run stopped first).
const UNSTAMPED: u64 = u64::MAX;
/// Flat out, one tick in this many is timed, so timing costs < 1 % of throughput (a power
/// of two, so the sampling test is a mask).
const FLAT_OUT_SAMPLE_EVERY: u64 = 64;
const _: () = assert!(FLAT_OUT_SAMPLE_EVERY.is_power_of_two());
/// Ticks per ring transfer when running flat out.
const BATCH: usize = 64;
/// Round trips of the core-to-core probe before a paced run: a few ms.
const PACED_C2C_ROUND_TRIPS: usize = 16_384;
/// Round trips of the probe that picks a run's [`RingStores`]: 0.05-0.5 ms.
const STORES_C2C_ROUND_TRIPS: usize = 1_024;
/// Left to choose, a run streams when a line takes longer than this to cross between the
/// run's cores. On the VMs lobflow is developed on a crossing takes 21-27 ns (the two vCPUs in
/// one core complex) or 160-260 ns (in two).
const STREAMING_ABOVE_NS: f64 = 80.0;

/// Engine construction parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Ring capacity in ticks (power of two).
    pub capacity: usize,
    /// Requested (producer, worker) cores.
    pub cores: [usize; 2],
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            capacity: 131_072,
            cores: [2, 4],
        }
    }
}

/// Options of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep the (n, 18) feature matrix.
    pub record_features: bool,
    /// Space pushes this many ns apart, so latency is measured without queueing.
    pub pace_ns: Option<u64>,
    /// Raise on the first bad row, or skip and count bad rows.
    pub on_bad: OnBad,
    /// How the producer writes the ring's slots; `None`: chosen per run (see [`RingStores`]).
    pub ring_stores: Option<RingStores>,
    /// Test hook: the worker panics at this row (to prove panics surface as errors).
    #[doc(hidden)]
    pub panic_at_row: Option<usize>,
}

/// How the producer writes the ring's slots (`Producer::push_batch_streaming`).
///
/// A run that laps the ring hands every slot's lines back and forth between the two cores.
/// Where the cores are far apart the producer's ordinary stores wait ~200 ns for each line
/// to come back before writing it, and it becomes the bottleneck; non-temporal stores need
/// no line back, but the worker then reads the slot from memory instead of from a nearby
/// cache, which costs where the cores are close. Measured on 10^7 ticks (docs/engine.md,
/// "Ring stores"): while batches were copied into the ring a slot at a time, streaming took
/// the flat-out rate from 20.0 to 29.9 M ticks/s with the cores ~200 ns apart; since they are
/// copied a run at a time, the three choices are within ~3 % of one another in both states
/// (built with the release profile: 36.1-38.4 M).
///
/// Left to choose ([`RunOptions::ring_stores`] `None`), a run streams when it is flat out,
/// laps the ring, and a short probe (0.05-0.5 ms) finds its two cores more than 80 ns apart;
/// otherwise, and always when paced (a worker waiting on each tick takes it from the
/// producer's cache), it uses ordinary stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingStores {
    /// Ordinary stores.
    Cached,
    /// Non-temporal stores.
    Streaming,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            record_features: false,
            pace_ns: None,
            on_bad: OnBad::Raise,
            ring_stores: None,
            panic_at_row: None,
        }
    }
}

/// Tick → signal latency percentiles, ns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Number of timed ticks.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Slowest timed tick.
    pub max_ns: u64,
    /// One tick in this many was timed.
    pub sampled_every: u64,
    /// The histogram itself: (upper bound ns, count) per log-spaced bucket (ratio 1.25),
    /// only the buckets that hold something.
    pub buckets: Vec<(u64, u64)>,
}

/// Everything a run produces.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// One score per feed row (NaN for skipped rows).
    pub scores: Vec<f64>,
    /// One signal per feed row (0 for skipped rows).
    pub signals: Vec<i8>,
    /// Row-major (n, 18) features when recorded (NaN rows for skipped rows).
    pub features: Option<Vec<f64>>,
    /// Push → emit latency.
    pub latency: LatencySummary,
    /// Valid ticks per second of the threaded part.
    pub ticks_per_s: f64,
    /// Wall time of the threaded part, ns.
    pub elapsed_ns: u64,
    /// Feed rows.
    pub n_rows: usize,
    /// Rows skipped under [`OnBad::Skip`].
    pub skipped: usize,
    /// Where the threads were asked to run and where they ran.
    pub pin: PinReport,
    /// Whether the OS accepted each pin, (producer, worker).
    pub pinned: [bool; 2],
    /// The run's price codec.
    pub codec: PriceCodec,
    /// The run's size codec.
    pub sizes: SizeCodec,
    /// Worst |decoded − original| level-0 price over the feed (0 on a fine enough grid).
    pub max_price_error: f64,
    /// Level-0 sizes of valid rows (two a row) that the ticks did not hold exactly
    /// ([`SizeCodec::encode_exact`]): neither whole lots of [`Self::sizes`] below 2^31 nor
    /// values an f32 holds as they are, they crossed with 24 bits, and OFI over them carries
    /// that rounding.
    pub sizes_inexact: usize,
    /// One-way latency between the run's two cores on a line of its own ring, measured just
    /// before the run: paced runs (what the tick latency is to be compared with), and
    /// flat-out runs whose [`RingStores`] it chose (a shorter probe).
    pub core_to_core_before: Option<C2cReport>,
    /// Paced runs: the same, measured just after. On VMs the two can differ: see
    /// [`RunOutput::core_to_core_steady`].
    pub core_to_core_after: Option<C2cReport>,
    /// How the producer wrote the ring's slots.
    pub ring_stores: RingStores,
}

impl RunOutput {
    /// Whether the core-to-core latency held still across a paced run: the medians before
    /// and after are within 1.5× of each other. On the VMs lobflow is developed on the host
    /// moves the two vCPUs between ~21 ns and ~200 ns apart every few seconds to minutes, and
    /// a run that straddles a move has no one floor to be compared with. `None` flat out.
    pub fn core_to_core_steady(&self) -> Option<bool> {
        let before = self.core_to_core_before.as_ref()?;
        let after = self.core_to_core_after.as_ref()?;
        let (a, b) = (before.one_way_ns_p50, after.one_way_ns_p50);
        Some(a.max(b) <= 1.5 * a.min(b))
    }
}

/// A weights file bound to a ring size and a core plan.
#[derive(Debug)]
pub struct Engine {
    weights: Weights,
    config: EngineConfig,
    clock: quanta::Clock,
    spare: SpareRing,
}

/// The ring's two ends between runs. A run that ends well leaves them here, empty, for the
/// next, which so skips allocating and faulting in the slots (11.5 MB at the default
/// capacity: 1.5–5 ms, several times the work of a 10^4-tick run). Runs at once on other
/// threads find it taken and allocate their own; a run that fails drops its ring.
#[derive(Default)]
struct SpareRing(Mutex<Option<(Producer<L2Tick>, Consumer<L2Tick>)>>);

impl SpareRing {
    /// The kept ends, or a new ring's.
    fn take_or_new(&self, capacity: usize) -> Result<(Producer<L2Tick>, Consumer<L2Tick>)> {
        match self.take() {
            Some(ends) => Ok(ends),
            None => RingBuffer::new(capacity),
        }
    }

    fn take(&self) -> Option<(Producer<L2Tick>, Consumer<L2Tick>)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Keeps the ends for the next run, if nothing is left in flight between them.
    fn keep(&self, tx: Producer<L2Tick>, rx: Consumer<L2Tick>) {
        if rx.slots() == 0 {
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((tx, rx));
        }
    }
}

impl std::fmt::Debug for SpareRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpareRing")
    }
}

/// What both threads of one run read.
#[derive(Clone, Copy)]
struct RunCtx<'a> {
    opts: &'a RunOptions,
    codec: &'a PriceCodec,
    sizes: &'a SizeCodec,
    stop: &'a AtomicBool,
    /// One tick in this many is timed (a power of two).
    every: u64,
    /// Both threads on one core (or unknown topology): waiting yields instead of spinning.
    shared_core: bool,
    /// How the producer writes the ring's slots.
    stores: RingStores,
}

/// On the way out of an engine thread (normally or unwinding): sets the stop flag if it
/// panicked, so its partner never waits forever, counts the thread out, and wakes the calling
/// thread.
struct ExitGuard<'a> {
    stop: &'a AtomicBool,
    exited: &'a AtomicUsize,
    caller: std::thread::Thread,
}
impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Release);
        }
        // Counted before the wake-up, so the woken caller sees it (Release, paired with its
        // Acquire). `JoinHandle::is_finished` would not do: it turns true only once the thread
        // has stored its result, after this guard has run, and a caller woken before that went
        // back to sleep for its whole 50 ms timeout, at the end of about three runs in four.
        self.exited.fetch_add(1, Ordering::Release);
        self.caller.unpark();
    }
}

/// Waits until both engine threads have counted themselves out ([`ExitGuard`]), calling
/// `poll` meanwhile; true when `poll` asked to stop (the stop flag is then set, and the threads
/// wind down within a few ms).
fn wait_for_threads(
    exited: &AtomicUsize,
    stop: &AtomicBool,
    poll: &mut dyn FnMut() -> bool,
) -> bool {
    let mut interrupted = false;
    // Park rather than poll in a tight loop: on a 2-core machine every wake-up of this thread
    // preempts a pinned, spinning engine thread (it showed as the p99.9 of paced runs). The
    // engine threads unpark us when they exit; signals are polled at 20 Hz.
    while exited.load(Ordering::Acquire) < 2 {
        std::thread::park_timeout(Duration::from_millis(50));
        if !interrupted && !poll() {
            interrupted = true;
            stop.store(true, Ordering::Release);
        }
    }
    interrupted
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

impl Engine {
    /// An engine for `weights`.
    ///
    /// # Errors
    /// [`Error::Capacity`] unless `config.capacity` is a power of two ≥ 2.
    pub fn new(weights: Weights, config: EngineConfig) -> Result<Self> {
        if config.capacity < 2 || !config.capacity.is_power_of_two() {
            return Err(Error::Capacity {
                capacity: config.capacity,
            });
        }
        Ok(Self {
            weights,
            config,
            clock: quanta::Clock::new(),
            spare: SpareRing::default(),
        })
    }

    /// The model this engine scores with.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The ring size and cores this engine uses.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs `feed` through the producer → ring → worker pipeline.
    ///
    /// `poll` is called 20 times a second by the calling thread while the threads work;
    /// returning `false` stops the run within a few ms of that call, paced or not.
    ///
    /// # Errors
    /// [`Error::Feed`] for the first bad row under [`OnBad::Raise`] and for a level-0 price
    /// the tick cannot carry exactly, [`Error::Interrupted`] when `poll` asked to stop,
    /// [`Error::WorkerPanicked`] when a thread panicked.
    pub fn run(
        &self,
        feed: &Feed<'_>,
        opts: &RunOptions,
        poll: &mut dyn FnMut() -> bool,
    ) -> Result<RunOutput> {
        if opts.on_bad == OnBad::Raise || opts.pace_ns.is_some() {
            return self.run_with(feed, opts, poll, feed.fit_codec_for(opts.on_bad));
        }
        // Skipping flat out, the codec is fitted to every usable book, skipped rows' too: a
        // pass over the kept rows only costs +40 % on a clean 10^7-row feed. Where rows were
        // skipped, it is fitted again to the kept ones and, if that fit differs, the run
        // repeated with it: a skipped row's far-off price would otherwise coarsen the codec
        // until the kept rows' prices no longer fit it (the run then stops with the first of
        // them), or, though every price is still carried exactly, move the decoded f64s by
        // an ulp (scores 1.6e-9 off those of the same feed without that row, or paced) and
        // report a price step the kept rows do not have.
        let codec = feed.fit_codec();
        let first = self.run_with(feed, opts, poll, codec);
        let clean = match &first {
            Ok(out) => out.skipped == 0,
            Err(e) => !matches!(e, Error::Feed { .. }),
        };
        if clean {
            return first;
        }
        let kept = feed.fit_codec_to_valid_rows();
        if kept == codec {
            return first;
        }
        self.run_with(feed, opts, poll, kept)
    }

    /// [`Self::run`] with the given price codec.
    fn run_with(
        &self,
        feed: &Feed<'_>,
        opts: &RunOptions,
        poll: &mut dyn FnMut() -> bool,
        codec: PriceCodec,
    ) -> Result<RunOutput> {
        let n = feed.len();
        let plan = pin::plan(self.config.cores);
        // Unknown topology counts as shared: yielding is the safe choice there.
        let shared_core = plan.used[0] == plan.used[1] || plan.available.is_empty();
        let paced = opts.pace_ns.is_some();
        let every = if paced { 1 } else { FLAT_OUT_SAMPLE_EVERY };
        // Filled with a value rather than zeroed so that every page is touched here, not as a
        // page fault inside a timed tick.
        let mut pushed_at = vec![UNSTAMPED; n.div_ceil(every as usize)];
        let mut emitted_at = pushed_at.clone();
        let (tx, rx) = self.spare.take_or_new(self.config.capacity)?;
        let (c2c_before, stores) = self.probe_before(n, opts, shared_core, &tx)?;
        let sizes = feed.fit_size_codec();
        let stop = AtomicBool::new(false);
        let ctx = RunCtx {
            opts,
            codec: &codec,
            sizes: &sizes,
            stop: &stop,
            every,
            shared_core,
            stores,
        };
        let feed_error: Mutex<Option<Error>> = Mutex::new(None);

        let caller = std::thread::current();
        let exited = AtomicUsize::new(0);
        let started = Instant::now();
        let (prod, work) = std::thread::scope(|s| {
            let producer = s.spawn(|| {
                let _guard = ExitGuard {
                    stop: &stop,
                    exited: &exited,
                    caller: caller.clone(),
                };
                let pinned = pin::pin_current(plan.used[0]);
                let out = self.produce(feed, &ctx, tx, &mut pushed_at);
                match out {
                    Ok(p) => Some(ProducerOut { pinned, ..p }),
                    Err(e) => {
                        *feed_error
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                        stop.store(true, Ordering::Release);
                        None
                    }
                }
            });
            let worker = s.spawn(|| {
                let _guard = ExitGuard {
                    stop: &stop,
                    exited: &exited,
                    caller: caller.clone(),
                };
                let pinned = pin::pin_current(plan.used[1]);
                self.work(n, &ctx, rx, &mut emitted_at)
                    .map(|w| WorkerOut { pinned, ..w })
            });
            let interrupted = wait_for_threads(&exited, &stop, poll);
            let prod = producer
                .join()
                .map_err(|p| Error::WorkerPanicked(panic_message(&p)));
            let work = worker
                .join()
                .map_err(|p| Error::WorkerPanicked(panic_message(&p)));
            if interrupted && prod.is_ok() && work.is_ok() {
                return (Err(Error::Interrupted), work);
            }
            (prod, work)
        });
        let elapsed = started.elapsed();
        let work = work?;
        let prod = prod?;
        if let Some(e) = feed_error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        let (Some(prod), Some(work)) = (prod, work) else {
            return Err(Error::Interrupted);
        };
        let c2c_after =
            (paced && !shared_core).then(|| self.probe(&prod.tx, PACED_C2C_ROUND_TRIPS));
        self.spare.keep(prod.tx, work.rx);
        Ok(RunOutput {
            scores: work.scores,
            signals: work.signals,
            features: work.features,
            latency: summarize(&self.latencies(&pushed_at, &emitted_at), every),
            ticks_per_s: (n - prod.skipped) as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed_ns: elapsed.as_nanos() as u64,
            n_rows: n,
            skipped: prod.skipped,
            pin: plan,
            pinned: [prod.pinned, work.pinned],
            codec,
            sizes,
            max_price_error: prod.max_price_error,
            sizes_inexact: prod.sizes_inexact,
            core_to_core_before: c2c_before,
            core_to_core_after: c2c_after.transpose()?,
            ring_stores: stores,
        })
    }

    /// The probe before a run (paced: its latency floor; flat out, left to choose and lapping
    /// the ring: which stores to use) and the stores it will use.
    fn probe_before(
        &self,
        n: usize,
        opts: &RunOptions,
        shared_core: bool,
        tx: &Producer<L2Tick>,
    ) -> Result<(Option<C2cReport>, RingStores)> {
        let paced = opts.pace_ns.is_some();
        // Only a run that laps the ring hands slot lines back to the producer (`RingStores`).
        let laps = n > self.config.capacity;
        let choose = opts.ring_stores.is_none() && !paced && laps && !shared_core;
        // Two threads spinning on one core answer each other only when the scheduler switches
        // them (~8 ms a round trip): a probe would take minutes and measure the scheduler.
        let c2c_before = if paced && !shared_core {
            Some(self.probe(tx, PACED_C2C_ROUND_TRIPS)?)
        } else if choose {
            Some(self.probe(tx, STORES_C2C_ROUND_TRIPS)?)
        } else {
            None
        };
        let stores = match (opts.ring_stores, &c2c_before) {
            (Some(chosen), _) => chosen,
            (None, Some(c)) if choose && c.one_way_ns_p50 > STREAMING_ABOVE_NS => {
                RingStores::Streaming
            }
            (None, _) => RingStores::Cached,
        };
        Ok((c2c_before, stores))
    }

    /// One-way latency between the run's two cores on a spare line of this very ring.
    fn probe(&self, tx: &Producer<L2Tick>, round_trips: usize) -> Result<C2cReport> {
        c2c::core_to_core_latency_on(tx.probe_line(), self.config.cores, round_trips)
    }

    /// Push → emit latency of every tick both threads timed.
    fn latencies(&self, pushed_at: &[u64], emitted_at: &[u64]) -> hdrhistogram::Histogram<u64> {
        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
            .expect("static histogram bounds are valid");
        for (&t0, &t1) in pushed_at.iter().zip(emitted_at) {
            if t0 != UNSTAMPED && t1 != UNSTAMPED {
                let ns = self.clock.delta_as_nanos(t0, t1);
                let _ = hist.record(ns.clamp(1, 60_000_000_000));
            }
        }
        hist
    }

    /// TSC ticks per ns, from quanta's calibration.
    fn clock_ticks_per_ns(&self) -> f64 {
        let a = self.clock.raw();
        let probe = 1_000_000u64;
        let ns = self.clock.delta_as_nanos(a, a + probe).max(1);
        probe as f64 / ns as f64
    }
}

/// A clock read that waits until every earlier instruction has executed.
///
/// `rdtsc` alone may execute before the instructions ahead of it: stamping an emit with it
/// can read the clock before the tick's data has even arrived from the producer's core, and
/// on this VM that understated the paced p50 by 10-35 %. A push stamp read early errs the
/// other way: it counts the producer's reading of the feed row (a cache miss to DRAM) as
/// latency. `lfence` waits for every earlier instruction, loads included, to complete, and
/// keeps later ones from starting, so each stamp falls where the code puts it.
#[inline]
pub(crate) fn stamp_after(clock: &quanta::Clock) -> u64 {
    // Off x86-64 quanta reads the OS's monotonic clock, through a call the CPU cannot run
    // ahead of much, and the fence keeps the compiler from hoisting the read at least.
    crate::ring::execution_fence();
    clock.raw()
}

/// How a waiting thread spins between two looks at the other side.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spin {
    /// With a `pause` (23 ns on these Zen 5 vCPUs): gentle on the line being polled.
    Pause,
    /// Without: the paced worker, whose wait ends the moment a tick is published. Its
    /// p50 went from 90 to 84 ns (60 runs each) with the cores 21 ns apart.
    Tight,
}

/// Waits a little for the other side; false when the run was stopped.
///
/// With a core of its own a thread only spins: a `sched_yield` would invite the scheduler to
/// run something else there and cost milliseconds of latency. Where both threads share one
/// core, spinning would starve the partner, so it yields.
#[inline]
pub(crate) fn backoff(spins: &mut u32, stop: &AtomicBool, shared_core: bool, spin: Spin) -> bool {
    *spins += 1;
    if *spins < 128 {
        if spin == Spin::Pause {
            std::hint::spin_loop();
        }
        return true;
    }
    *spins = 0;
    if stop.load(Ordering::Acquire) {
        return false;
    }
    if shared_core {
        std::thread::yield_now();
    }
    true
}

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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{Engine, EngineConfig, RunOptions};
    use crate::feed::Feed;
    use crate::scorer::{Weights, N_FEATURES};

    #[test]
    fn a_run_that_ends_well_leaves_its_ring_for_the_next_and_one_that_fails_does_not() {
        let n = 3000;
        let ts: Vec<i64> = (0..n).map(|i| i * 1_000_000).collect();
        let mut cols: Vec<Vec<f64>> = (0..20)
            .map(|c| vec![[100.0, 2.0, 100.01, 2.0][c / 5]; n as usize])
            .collect();
        let w = Weights {
            windows_ms: [10, 20, 50],
            threshold: 0.0,
            bias: 0.0,
            coef: [0.1; N_FEATURES],
        };
        let config = EngineConfig {
            capacity: 1024,
            cores: [0, 1],
        };
        let engine = Engine::new(w, config).unwrap();
        let run = |cols: &[Vec<f64>]| {
            let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
            engine.run(&feed, &RunOptions::default(), &mut || true)
        };
        let first = run(&cols).unwrap().scores;
        let spare = engine
            .spare
            .take()
            .expect("a run that ended well keeps its ring");
        engine.spare.keep(spare.0, spare.1);
        cols[17][2000] = -1.0;
        assert!(run(&cols).is_err());
        assert!(
            engine.spare.take().is_none(),
            "a failed run dropped its ring"
        );
        cols[17][2000] = 2.0;
        assert_eq!(run(&cols).unwrap().scores, first);
        assert!(engine.spare.take().is_some());
    }
}
