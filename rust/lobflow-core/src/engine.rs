//! `Engine::run`: a producer thread encodes feed rows into ticks and pushes them through the SPSC
//! ring; a worker thread computes features, scores and emits. Both are pinned (best effort).
//!
//! Skipped rows travel as a sentinel tick (`ts == SKIPPED`) so that the worker writes every
//! output at its row index without a side channel. Latency is measured from just before the
//! producer's push to just after the worker's emit, with fenced TSC reads ([`crate::clock`]).
//!
//! This module holds a run's orchestration: the ring kept between runs, the start, pinning
//! and join of the two threads. Their loops live in `producer` and `worker`, a run's inputs
//! and outputs in `options`, the threads' shared mechanics in `threads`, and the pairing of
//! their timestamps in `latency`.

mod latency;
mod options;
mod producer;
mod threads;
mod worker;

pub(crate) use latency::{new_histogram, record, summarize};
pub use options::{EngineConfig, LatencySummary, RunOptions, RunOutput};
pub(crate) use threads::{backoff, panic_message, Spin};

use producer::ProducerOut;
use threads::{wait_for_threads, ExitGuard};
use worker::WorkerOut;

use crate::error::{Error, Result};
use crate::feed::{Feed, OnBad};
use crate::pin;
use crate::ring::{Consumer, Producer, RingBuffer};
use crate::tick::{L2Tick, PriceCodec, SizeCodec};
use crate::weights::Weights;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The `ts` of a tick that stands for a skipped row.
const SKIPPED: u64 = u64::MAX;
/// Flat out, one tick in this many is timed, so timing costs < 1 % of throughput (a power
/// of two, so the sampling test is a mask).
const FLAT_OUT_SAMPLE_EVERY: u64 = 64;
const _: () = assert!(FLAT_OUT_SAMPLE_EVERY.is_power_of_two());
/// Ticks per ring transfer when running flat out.
const BATCH: usize = 64;

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
/// capacity: milliseconds, several times the work of a 10^4-tick run). Runs at once on other
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
        // pass over the kept rows alone would cost every clean feed a second walk. Where rows were
        // skipped, it is fitted again to the kept ones and, if that fit differs, the run
        // repeated with it: a skipped row's far-off price would otherwise coarsen the codec
        // until the kept rows' prices no longer fit it (the run then stops with the first of
        // them), or, though every price is still carried exactly, move the decoded f64s by
        // an ulp (scores off those of the same feed without that row, or paced, in the last
        // digits) and report a price step the kept rows do not have.
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
        let every = if opts.pace_ns.is_some() {
            1
        } else {
            FLAT_OUT_SAMPLE_EVERY
        };
        let mut pushed_at = latency::stamp_slots(n, every);
        let mut emitted_at = pushed_at.clone();
        let (tx, rx) = self.spare.take_or_new(self.config.capacity)?;
        let sizes = feed.fit_size_codec();
        let stop = AtomicBool::new(false);
        let ctx = RunCtx {
            opts,
            codec: &codec,
            sizes: &sizes,
            stop: &stop,
            every,
            shared_core,
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
                match self.produce(feed, &ctx, tx, &mut pushed_at) {
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
            let interrupted = wait_for_threads(2, &exited, &stop, poll);
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
        self.spare.keep(prod.tx, work.rx);
        let hist = latency::histogram(&self.clock, &pushed_at, &emitted_at);
        Ok(RunOutput {
            scores: work.scores,
            signals: work.signals,
            features: work.features,
            latency: latency::summarize(&hist, every),
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
            max_size_error: prod.max_size_error,
        })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{Engine, EngineConfig, RunOptions};
    use crate::feed::Feed;
    use crate::weights::{Weights, N_FEATURES};

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
            cores: Some([0, 1]),
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
