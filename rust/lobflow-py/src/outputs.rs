//! The engine's outputs as frozen Python classes: the one place a run's Rust results become
//! Python objects.

use lobflow_core::engine::{LatencySummary, RunOutput};
use lobflow_core::pin::PinReport;
use lobflow_core::weights::N_FEATURES;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

/// Tick → signal latency of a run: percentiles in ns and the histogram they come from.
#[pyclass(frozen, get_all, name = "Latency", module = "lobflow._core")]
pub struct PyLatency {
    /// Timed ticks.
    count: u64,
    /// Median, ns.
    p50_ns: u64,
    /// 90th percentile, ns.
    p90_ns: u64,
    /// 99th percentile, ns.
    p99_ns: u64,
    /// 99.9th percentile, ns.
    p999_ns: u64,
    /// Slowest timed tick, ns.
    max_ns: u64,
    /// One tick in this many was timed (1 when paced, 64 flat out).
    sampled_every: u64,
    /// (upper bound ns, count) of each non-empty log bucket (ratio 1.25).
    buckets: Vec<(u64, u64)>,
}

#[pymethods]
impl PyLatency {
    fn __repr__(&self) -> String {
        format!(
            "Latency(count={}, p50_ns={}, p90_ns={}, p99_ns={}, p999_ns={}, max_ns={}, \
             sampled_every={})",
            self.count,
            self.p50_ns,
            self.p90_ns,
            self.p99_ns,
            self.p999_ns,
            self.max_ns,
            self.sampled_every
        )
    }
}

impl From<LatencySummary> for PyLatency {
    fn from(l: LatencySummary) -> Self {
        Self {
            count: l.count,
            p50_ns: l.p50_ns,
            p90_ns: l.p90_ns,
            p99_ns: l.p99_ns,
            p999_ns: l.p999_ns,
            max_ns: l.max_ns,
            sampled_every: l.sampled_every,
            buckets: l.buckets,
        }
    }
}

/// Where a run's two threads were asked to run, where they ran, and whether the OS pinned them.
#[pyclass(frozen, get_all, name = "Pinning", module = "lobflow._core")]
pub struct PyPinning {
    /// (producer, worker) cores asked for; None: chosen automatically.
    requested: Option<(usize, usize)>,
    /// (producer, worker) cores used.
    used: (usize, usize),
    /// Cores this process may run on.
    available: Vec<usize>,
    /// Whether the OS accepted each pin, (producer, worker).
    pinned: (bool, bool),
    /// A sentence for the user when the cores asked for could not be used.
    note: Option<String>,
}

#[pymethods]
impl PyPinning {
    fn __repr__(&self) -> String {
        format!(
            "Pinning(requested={:?}, used={:?}, pinned={:?}, note={:?})",
            self.requested, self.used, self.pinned, self.note
        )
    }
}

impl PyPinning {
    pub(crate) fn new(pin: PinReport, pinned: [bool; 2]) -> Self {
        Self {
            requested: pin.requested.map(|[p, w]| (p, w)),
            used: (pin.used[0], pin.used[1]),
            available: pin.available,
            pinned: (pinned[0], pinned[1]),
            note: pin.note,
        }
    }
}

/// What `Engine.run` computed, as `lobflow.RunResult` receives it.
#[pyclass(frozen, get_all, name = "RunOutput", module = "lobflow._core")]
pub struct PyRunOutput {
    scores: Py<PyArray1<f64>>,
    signals: Py<PyArray1<i8>>,
    features: Option<Py<PyArray2<f64>>>,
    latency: Py<PyLatency>,
    ticks_per_s: f64,
    elapsed_ns: u64,
    n: usize,
    skipped: usize,
    pinning: Py<PyPinning>,
    price_quantum: f64,
    max_price_error: f64,
    size_lot: f64,
    sizes_inexact: usize,
    max_size_error: f64,
}

impl PyRunOutput {
    /// Moves a run's outputs into Python objects (the arrays without a copy).
    pub fn new(py: Python<'_>, out: RunOutput) -> PyResult<Self> {
        let n = out.n_rows;
        let features = match out.features {
            Some(f) => Some(f.into_pyarray(py).reshape([n, N_FEATURES])?.unbind()),
            None => None,
        };
        Ok(Self {
            scores: out.scores.into_pyarray(py).unbind(),
            signals: out.signals.into_pyarray(py).unbind(),
            features,
            latency: Py::new(py, PyLatency::from(out.latency))?,
            ticks_per_s: out.ticks_per_s,
            elapsed_ns: out.elapsed_ns,
            n,
            skipped: out.skipped,
            pinning: Py::new(py, PyPinning::new(out.pin, out.pinned))?,
            price_quantum: out.codec.quantum,
            max_price_error: out.max_price_error,
            size_lot: out.sizes.lot,
            sizes_inexact: out.sizes_inexact,
            max_size_error: out.max_size_error,
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLatency>()?;
    m.add_class::<PyPinning>()?;
    m.add_class::<PyRunOutput>()?;
    Ok(())
}
