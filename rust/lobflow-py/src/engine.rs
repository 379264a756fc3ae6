//! `_core.Engine`, `_core.parse_weights`, `_core.weights_text` and the tick layout constants.

use crate::errors::{detached_interruptible, PyLobflowError};
use crate::outputs::PyRunOutput;
use lobflow_core::engine::{Engine, EngineConfig, RunOptions, RunOutput};
use lobflow_core::feed::{Feed, OnBad};
use lobflow_core::tick::{MAX_SIZE, TICK_FIELD_OFFSETS, TICK_SIZE};
use lobflow_core::weights::{feature_names, Weights, N_FEATURES};
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The Rust inference engine; build it through `lobflow.Engine`.
#[pyclass(frozen, name = "Engine", module = "lobflow._core")]
pub struct PyEngine {
    pub(crate) inner: Engine,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (weights_text, source, capacity = 131_072, cores = None))]
    fn new(
        weights_text: &str,
        source: &str,
        capacity: usize,
        cores: Option<(usize, usize)>,
    ) -> PyResult<Self> {
        let weights = Weights::parse(weights_text, source).map_err(PyLobflowError)?;
        let config = EngineConfig {
            capacity,
            cores: cores.map(|(p, w)| [p, w]),
        };
        let inner = Engine::new(weights, config).map_err(PyLobflowError)?;
        Ok(Self { inner })
    }

    /// Runs one feed: `ts` (int64 ns) and the 20 book columns (float64, contract order).
    #[pyo3(signature = (ts, cols, record_features = false, pace_ns = None, skip_bad = false))]
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
    fn run(
        &self,
        py: Python<'_>,
        ts: PyReadonlyArray1<'_, i64>,
        cols: Vec<PyReadonlyArray1<'_, f64>>,
        record_features: bool,
        pace_ns: Option<u64>,
        skip_bad: bool,
    ) -> PyResult<PyRunOutput> {
        let opts = RunOptions {
            record_features,
            pace_ns,
            on_bad: if skip_bad { OnBad::Skip } else { OnBad::Raise },
            ..RunOptions::default()
        };
        self.run_feed(py, &ts, &cols, &opts)
    }

    /// The engine's model as weights-file text.
    fn weights_text(&self) -> String {
        self.inner.weights().to_text(&[])
    }
}

impl PyEngine {
    /// Borrows the columns as a feed and runs it.
    fn run_feed(
        &self,
        py: Python<'_>,
        ts: &PyReadonlyArray1<'_, i64>,
        cols: &[PyReadonlyArray1<'_, f64>],
        opts: &RunOptions,
    ) -> PyResult<PyRunOutput> {
        let cols = slices(cols)?;
        let feed = Feed::new(ts.as_slice()?, cols).map_err(PyLobflowError)?;
        let out = self.run_interruptible(py, &feed, opts)?;
        PyRunOutput::new(py, out)
    }

    /// `Engine::run` without the GIL, the calling thread checking for Ctrl-C at 20 Hz while
    /// it waits for the engine's two: a pending signal stops the run and becomes its error.
    fn run_interruptible(
        &self,
        py: Python<'_>,
        feed: &Feed<'_>,
        opts: &RunOptions,
    ) -> PyResult<RunOutput> {
        detached_interruptible(py, |poll| self.inner.run(feed, opts, poll))
    }
}

/// Test hook (feature `test-hooks`): `Engine.run` whose worker panics as it starts, to prove
/// a worker panic becomes an `EngineError`.
#[cfg(feature = "test-hooks")]
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
fn _run_panicking(
    py: Python<'_>,
    engine: &PyEngine,
    ts: PyReadonlyArray1<'_, i64>,
    cols: Vec<PyReadonlyArray1<'_, f64>>,
) -> PyResult<PyRunOutput> {
    let opts = RunOptions {
        panic_in_worker: true,
        ..RunOptions::default()
    };
    engine.run_feed(py, &ts, &cols, &opts)
}

/// The columns' data, borrowed: exactly 20 contiguous columns.
pub(crate) fn slices<'a>(cols: &'a [PyReadonlyArray1<'_, f64>]) -> PyResult<[&'a [f64]; 20]> {
    let v: Vec<&[f64]> = cols
        .iter()
        .map(|c| c.as_slice())
        .collect::<Result<_, _>>()?;
    v.try_into().map_err(|v: Vec<_>| {
        PyValueError::new_err(format!("expected 20 book columns, got {}", v.len()))
    })
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
    Ok(lobflow_core::weights::utf8_text(data, source)
        .map_err(PyLobflowError)?
        .to_owned())
}

/// The 18 feature names for the given windows (the engine's spelling).
#[pyfunction]
#[pyo3(name = "feature_names")]
fn py_feature_names(windows_ms: (u64, u64, u64)) -> Vec<String> {
    feature_names([windows_ms.0, windows_ms.1, windows_ms.2])
}

/// The cores a run uses when none are named: (2, 4) where this process may run on both, else
/// the last two of its cores.
#[pyfunction]
fn auto_cores() -> (usize, usize) {
    let [p, w] = lobflow_core::pin::auto_cores(&lobflow_core::pin::available_cores());
    (p, w)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_function(wrap_pyfunction!(parse_weights, m)?)?;
    m.add_function(wrap_pyfunction!(weights_text, m)?)?;
    m.add_function(wrap_pyfunction!(py_feature_names, m)?)?;
    m.add_function(wrap_pyfunction!(auto_cores, m)?)?;
    #[cfg(feature = "test-hooks")]
    m.add_function(wrap_pyfunction!(_run_panicking, m)?)?;
    m.add("TICK_SIZE", TICK_SIZE)?;
    m.add("MAX_SIZE", MAX_SIZE)?;
    m.add("TICK_FIELD_OFFSETS", TICK_FIELD_OFFSETS.to_vec())?;
    m.add("FEATURE_COUNT", N_FEATURES)?;
    m.add("TEST_HOOKS", cfg!(feature = "test-hooks"))?;
    Ok(())
}
