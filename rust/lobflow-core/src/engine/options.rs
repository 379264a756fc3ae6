//! What a run is asked to do ([`EngineConfig`], [`RunOptions`]) and what it returns
//! ([`RunOutput`], [`LatencySummary`]).

use crate::feed::OnBad;
use crate::pin::PinReport;
use crate::tick::{PriceCodec, SizeCodec};

/// Engine construction parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Ring capacity in ticks (power of two).
    pub capacity: usize,
    /// Requested (producer, worker) cores; `None` chooses them ([`crate::pin::auto_cores`]).
    pub cores: Option<[usize; 2]>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            capacity: 131_072,
            cores: None,
        }
    }
}

/// Options of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep the (n, 18) feature matrix.
    pub record_features: bool,
    /// Space pushes this many ns apart, so latency is measured without queueing. Paces too
    /// long for the clock's range saturate: the run then waits as long as the clock allows.
    pub pace_ns: Option<u64>,
    /// Raise on the first bad row, or skip and count bad rows.
    pub on_bad: OnBad,
    /// Test hook (feature `test-hooks`): the worker panics as it starts, before its loop, to
    /// prove that a panic surfaces as [`crate::Error::WorkerPanicked`] and that the producer,
    /// left waiting on a ring nobody drains, is stopped. Outside the loop, so a build with the
    /// hooks scores with the very loop a release build has.
    #[cfg(feature = "test-hooks")]
    pub panic_in_worker: bool,
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
}
