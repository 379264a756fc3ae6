//! `_core.Engine`, `_core.parse_weights`, `_core.weights_text` and the tick layout constants.

use crate::errors::PyLobflowError;
use lobflow_core::c2c::C2cReport;
use lobflow_core::engine::{Engine, EngineConfig, RingStores, RunOptions, RunOutput};
use lobflow_core::feed::{Feed, OnBad};
use lobflow_core::scorer::{feature_names, Weights, N_FEATURES};
use lobflow_core::tick::{MAX_SIZE, TICK_FIELD_OFFSETS, TICK_SIZE};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The Rust inference engine; build it through `lobflow.Engine`.
#[pyclass(frozen, name = "Engine", module = "lobflow._core")]
pub struct PyEngine {
    pub(crate) inner: Engine,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (weights_text, source, capacity = 131_072, cores = (2, 4)))]
    fn new(
        weights_text: &str,
        source: &str,
        capacity: usize,
        cores: (usize, usize),
    ) -> PyResult<Self> {
        let weights = Weights::parse(weights_text, source).map_err(PyLobflowError)?;
        let config = EngineConfig {
            capacity,
            cores: [cores.0, cores.1],
        };
        let inner = Engine::new(weights, config).map_err(PyLobflowError)?;
        Ok(Self { inner })
    }

    /// Runs one feed: `ts` (int64 ns) and the 20 book columns (float64, contract order).
    #[pyo3(signature = (ts, cols, record_features = false, pace_ns = None, skip_bad = false, ring_stores = "auto", panic_at_row = None))]
    // PyO3 extracts arguments by value, one parameter per keyword argument.
    #[allow(clippy::needless_pass_by_value, clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        py: Python<'py>,
        ts: PyReadonlyArray1<'py, i64>,
        cols: Vec<PyReadonlyArray1<'py, f64>>,
        record_features: bool,
        pace_ns: Option<u64>,
        skip_bad: bool,
        ring_stores: &str,
        panic_at_row: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let opts = RunOptions {
            record_features,
            pace_ns,
            on_bad: if skip_bad { OnBad::Skip } else { OnBad::Raise },
            ring_stores: ring_stores_from(ring_stores)?,
            panic_at_row,
        };
        let cols = book_columns(cols)?;
        let feed = Feed::new(ts.as_slice()?, slices(&cols)?).map_err(PyLobflowError)?;
        let out = self.run_interruptible(py, &feed, &opts)?;
        to_dict(py, out)
    }

    /// The engine's model as weights-file text.
    fn weights_text(&self) -> String {
        self.inner.weights().to_text(&[])
    }
}

impl PyEngine {
    /// `Engine::run` without the GIL, the calling thread checking for Ctrl-C at 20 Hz while
    /// it waits for the engine's two: a pending signal stops the run and becomes its error.
    #[allow(clippy::redundant_closure_for_method_calls)] // the path is not general enough
    fn run_interruptible(
        &self,
        py: Python<'_>,
        feed: &Feed<'_>,
        opts: &RunOptions,
    ) -> PyResult<RunOutput> {
        let mut signal_err: Option<PyErr> = None;
        let out = py.detach(|| {
            self.inner.run(
                feed,
                opts,
                &mut || match Python::attach(|py| py.check_signals()) {
                    Ok(()) => true,
                    Err(e) => {
                        signal_err = Some(e);
                        false
                    }
                },
            )
        });
        match signal_err {
            Some(e) => Err(e),
            None => Ok(out.map_err(PyLobflowError)?),
        }
    }
}

fn ring_stores_from(name: &str) -> PyResult<Option<RingStores>> {
    match name {
        "auto" => Ok(None),
        "cached" => Ok(Some(RingStores::Cached)),
        "streaming" => Ok(Some(RingStores::Streaming)),
        other => Err(PyValueError::new_err(format!(
            "ring_stores must be 'auto', 'cached' or 'streaming', got '{other}'"
        ))),
    }
}

fn book_columns(cols: Vec<PyReadonlyArray1<'_, f64>>) -> PyResult<[PyReadonlyArray1<'_, f64>; 20]> {
    cols.try_into().map_err(|v: Vec<_>| {
        PyValueError::new_err(format!("expected 20 book columns, got {}", v.len()))
    })
}

/// The columns' data, borrowed; a column that is not contiguous is an error.
fn slices<'a>(cols: &'a [PyReadonlyArray1<'_, f64>; 20]) -> PyResult<[&'a [f64]; 20]> {
    let v: Vec<&[f64]> = cols
        .iter()
        .map(|c| c.as_slice())
        .collect::<Result<_, _>>()?;
    Ok(std::array::from_fn(|i| v[i]))
}

fn to_dict(py: Python<'_>, out: RunOutput) -> PyResult<Bound<'_, PyDict>> {
    let steady = out.core_to_core_steady();
    let d = PyDict::new(py);
    let n = out.n_rows;
    d.set_item("scores", out.scores.into_pyarray(py))?;
    d.set_item("signals", out.signals.into_pyarray(py))?;
    let features = match out.features {
        Some(f) => Some(f.into_pyarray(py).reshape([n, N_FEATURES])?),
        None => None,
    };
    d.set_item("features", features)?;
    let l = &out.latency;
    let pairs = [
        ("p50", l.p50_ns),
        ("p90", l.p90_ns),
        ("p99", l.p99_ns),
        ("p99.9", l.p999_ns),
        ("max", l.max_ns),
    ];
    d.set_item("latency_ns", latency_dict(py, pairs)?)?;
    d.set_item("latency_count", l.count)?;
    d.set_item("latency_sampled_every", l.sampled_every)?;
    d.set_item("latency_buckets", l.buckets.clone())?;
    d.set_item("ticks_per_s", out.ticks_per_s)?;
    d.set_item("elapsed_ns", out.elapsed_ns)?;
    d.set_item("n", n)?;
    d.set_item("skipped", out.skipped)?;
    d.set_item(
        "cores_requested",
        (out.pin.requested[0], out.pin.requested[1]),
    )?;
    d.set_item("cores_used", (out.pin.used[0], out.pin.used[1]))?;
    d.set_item("cores_available", out.pin.available)?;
    d.set_item("pinned", (out.pinned[0], out.pinned[1]))?;
    d.set_item("pin_note", out.pin.note)?;
    d.set_item("price_anchor", out.codec.anchor)?;
    d.set_item("price_quantum", out.codec.quantum)?;
    d.set_item("max_price_error", out.max_price_error)?;
    d.set_item("size_lot", out.sizes.lot)?;
    d.set_item("sizes_inexact", out.sizes_inexact)?;
    let report = |r: &Option<C2cReport>| r.as_ref().map(|r| c2c_dict(py, r)).transpose();
    d.set_item("core_to_core_ns", report(&out.core_to_core_before)?)?;
    d.set_item("core_to_core_after_ns", report(&out.core_to_core_after)?)?;
    d.set_item("core_to_core_steady", steady)?;
    let stores = match out.ring_stores {
        RingStores::Cached => "cached",
        RingStores::Streaming => "streaming",
    };
    d.set_item("ring_stores", stores)?;
    Ok(d)
}

fn c2c_dict<'py>(py: Python<'py>, r: &C2cReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("cores", (r.cores[0], r.cores[1]))?;
    d.set_item("round_trips", r.round_trips)?;
    d.set_item("cut_short", r.cut_short)?;
    d.set_item("p50", r.one_way_ns_p50)?;
    d.set_item("p90", r.one_way_ns_p90)?;
    d.set_item("p99", r.one_way_ns_p99)?;
    d.set_item("min", r.one_way_ns_min)?;
    Ok(d)
}

fn latency_dict<'py>(py: Python<'py>, pairs: [(&str, u64); 5]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// `(windows_ms, threshold, bias, coef)`, as Python receives a parsed weights file.
type WeightsTuple = ((u64, u64, u64), f64, f64, Vec<f64>);

/// Parses weights-file text with the engine's own parser.
#[pyfunction]
fn parse_weights(text: &str, source: &str) -> PyResult<WeightsTuple> {
    let w = Weights::parse(text, source).map_err(PyLobflowError)?;
    let [a, b, c] = w.windows_ms;
    Ok(((a, b, c), w.threshold, w.bias, w.coef.to_vec()))
}

/// A weights file's bytes as text; a byte that is not UTF-8 is an error naming its line.
#[pyfunction]
fn weights_text(data: &[u8], source: &str) -> PyResult<String> {
    Ok(lobflow_core::scorer::utf8_text(data, source)
        .map_err(PyLobflowError)?
        .to_owned())
}

/// The 18 feature names for the given windows (the engine's spelling).
#[pyfunction]
#[pyo3(name = "feature_names")]
fn py_feature_names(windows_ms: (u64, u64, u64)) -> Vec<String> {
    feature_names([windows_ms.0, windows_ms.1, windows_ms.2])
}

/// One-way core-to-core latency between two (pinned) threads, ns percentiles.
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), round_trips = 100_000))]
fn core_to_core_latency(
    py: Python<'_>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<Bound<'_, PyDict>> {
    probe(
        py,
        lobflow_core::c2c::core_to_core_latency,
        cores,
        round_trips,
    )
}

/// One-way hand-off latency between two (pinned) threads that each write a line of their own
/// (the floor of an SPSC ring's hand-off), ns percentiles.
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), round_trips = 100_000))]
fn handoff_latency(
    py: Python<'_>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<Bound<'_, PyDict>> {
    probe(py, lobflow_core::c2c::handoff_latency, cores, round_trips)
}

/// One-way latency of one message at a time between two (pinned) threads, each stamped with
/// the engine's own clock reads (the floor of its tick latency as it measures it), ns
/// percentiles.
#[pyfunction]
#[pyo3(signature = (cores = (0, 1), messages = 100_000))]
fn stamped_latency(
    py: Python<'_>,
    cores: (usize, usize),
    messages: usize,
) -> PyResult<Bound<'_, PyDict>> {
    probe(py, lobflow_core::c2c::stamped_latency, cores, messages)
}

/// Runs a latency probe with the GIL released and converts its report.
fn probe(
    py: Python<'_>,
    f: fn([usize; 2], usize) -> lobflow_core::Result<lobflow_core::c2c::C2cReport>,
    cores: (usize, usize),
    round_trips: usize,
) -> PyResult<Bound<'_, PyDict>> {
    let r = py
        .detach(|| f([cores.0, cores.1], round_trips))
        .map_err(PyLobflowError)?;
    c2c_dict(py, &r)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_function(wrap_pyfunction!(parse_weights, m)?)?;
    m.add_function(wrap_pyfunction!(weights_text, m)?)?;
    m.add_function(wrap_pyfunction!(py_feature_names, m)?)?;
    m.add_function(wrap_pyfunction!(core_to_core_latency, m)?)?;
    m.add_function(wrap_pyfunction!(handoff_latency, m)?)?;
    m.add_function(wrap_pyfunction!(stamped_latency, m)?)?;
    m.add("TICK_SIZE", TICK_SIZE)?;
    m.add("MAX_SIZE", MAX_SIZE)?;
    m.add("TICK_FIELD_OFFSETS", TICK_FIELD_OFFSETS.to_vec())?;
    m.add("FEATURE_COUNT", N_FEATURES)?;
    Ok(())
}
