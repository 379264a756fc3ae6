//! `_core.core_to_core_latency`, `handoff_latency` and `stamped_latency`: the machine's
//! latency floors (`lobflow.diagnostics`, `lobflow c2c`), apart from the engine's results.

use crate::errors::PyLobflowError;
use lobflow_core::c2c::C2cReport;
use pyo3::prelude::*;

/// One-way latency between two pinned threads, ns percentiles.
#[pyclass(frozen, get_all, name = "C2cReport", module = "lobflow._core")]
pub struct PyC2cReport {
    /// The two cores used (after fallback).
    cores: (usize, usize),
    /// Timed round trips (or messages).
    round_trips: usize,
    /// Whether the 1 s budget ran out before the round trips asked for.
    cut_short: bool,
    /// Median one-way latency, ns.
    p50: f64,
    /// 90th percentile, ns.
    p90: f64,
    /// 99th percentile, ns.
    p99: f64,
    /// Fastest, ns.
    min: f64,
}

#[pymethods]
impl PyC2cReport {
    fn __repr__(&self) -> String {
        format!(
            "C2cReport(cores={:?}, round_trips={}, cut_short={}, p50={:.1}, p90={:.1}, \
             p99={:.1}, min={:.1})",
            self.cores, self.round_trips, self.cut_short, self.p50, self.p90, self.p99, self.min
        )
    }
}

impl From<C2cReport> for PyC2cReport {
    fn from(r: C2cReport) -> Self {
        Self {
            cores: (r.cores[0], r.cores[1]),
            round_trips: r.round_trips,
            cut_short: r.cut_short,
            p50: r.one_way_ns_p50,
            p90: r.one_way_ns_p90,
            p99: r.one_way_ns_p99,
            min: r.one_way_ns_min,
        }
    }
}

/// One-way core-to-core latency between two (pinned) threads bouncing one line.
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), round_trips = 100_000))]
fn core_to_core_latency(
    py: Python<'_>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<PyC2cReport> {
    probe(
        py,
        lobflow_core::c2c::core_to_core_latency,
        cores,
        round_trips,
    )
}

/// One-way hand-off latency between two (pinned) threads that each write a line of their own
/// (the floor of an SPSC ring's hand-off).
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), round_trips = 100_000))]
fn handoff_latency(
    py: Python<'_>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<PyC2cReport> {
    probe(py, lobflow_core::c2c::handoff_latency, cores, round_trips)
}

/// One-way latency of one message at a time between two (pinned) threads, each stamped with
/// the engine's own clock reads (the floor of its tick latency as it measures it).
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), messages = 100_000))]
fn stamped_latency(
    py: Python<'_>,
    cores: (usize, usize),
    messages: usize,
) -> PyResult<PyC2cReport> {
    probe(py, lobflow_core::c2c::stamped_latency, cores, messages)
}

/// Runs a latency probe with the GIL released.
fn probe(
    py: Python<'_>,
    f: fn([usize; 2], usize) -> lobflow_core::Result<C2cReport>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<PyC2cReport> {
    let r = py
        .detach(|| f([cores.0, cores.1], round_trips))
        .map_err(PyLobflowError)?;
    Ok(r.into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyC2cReport>()?;
    m.add_function(wrap_pyfunction!(core_to_core_latency, m)?)?;
    m.add_function(wrap_pyfunction!(handoff_latency, m)?)?;
    m.add_function(wrap_pyfunction!(stamped_latency, m)?)?;
    Ok(())
}
