//! `_core.Session`: a live session of an engine (conversions, GIL release, error mapping only).

use crate::engine::PyEngine;
use crate::errors::{detached_interruptible, PyLobflowError};
use crate::session_stats::{PyFeedStats, PySessionStats};
use lobflow_core::session::{
    Book, Session, SessionOptions, Signal, SIGNAL_FIELD_OFFSETS, SIGNAL_SIZE,
};
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::time::Duration;

/// A live session; build it through `lobflow.Engine.session`.
#[pyclass(frozen, name = "Session", module = "lobflow._core")]
pub struct PySession {
    inner: Session,
}

#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (engine, capacity = 16_384, out_capacity = 65_536, cores = None, pin_caller = false, push_timeout_s = 1.0, max_window_ms = 3_600_000))]
    fn new(
        py: Python<'_>,
        engine: &Bound<'_, PyEngine>,
        capacity: usize,
        out_capacity: usize,
        cores: Option<(usize, usize)>,
        pin_caller: bool,
        push_timeout_s: f64,
        max_window_ms: u64,
    ) -> PyResult<Self> {
        let push_timeout = Duration::try_from_secs_f64(push_timeout_s).map_err(|_| {
            PyValueError::new_err(format!(
                "push_timeout_s must be a finite number of seconds >= 0, got {push_timeout_s}"
            ))
        })?;
        let opts = SessionOptions {
            capacity,
            out_capacity,
            cores: cores.map(|(a, b)| [a, b]),
            pin_caller,
            push_timeout,
            max_window_ms,
            ..SessionOptions::default()
        };
        Self::start(py, engine, &opts)
    }

    /// Adds feed `(exchange, symbol)`; returns its id.
    fn add_feed(&self, py: Python<'_>, exchange: &str, symbol: &str) -> PyResult<u32> {
        // Without the GIL: a push waiting for room holds the session's input side.
        Ok(py
            .detach(|| self.inner.add_feed(exchange, symbol))
            .map_err(PyLobflowError)?)
    }

    /// The id of feed `(exchange, symbol)`, or None.
    fn feed_id(&self, py: Python<'_>, exchange: &str, symbol: &str) -> Option<u32> {
        py.detach(|| self.inner.feed_id(exchange, symbol))
    }

    /// Checks one book and queues it for the worker; waits (without the GIL) when full.
    #[pyo3(signature = (feed, ts, bid_px, bid_sz, ask_px, ask_sz, recv_ns = None))]
    #[allow(clippy::too_many_arguments)] // one parameter per argument of the Python call
    fn push(
        &self,
        py: Python<'_>,
        feed: u32,
        ts: i64,
        bid_px: &Bound<'_, PyAny>,
        bid_sz: &Bound<'_, PyAny>,
        ask_px: &Bound<'_, PyAny>,
        ask_sz: &Bound<'_, PyAny>,
        recv_ns: Option<u64>,
    ) -> PyResult<()> {
        let mut book: Book = [0.0; 20];
        for (i, side) in [bid_px, bid_sz, ask_px, ask_sz].into_iter().enumerate() {
            book[5 * i..5 * i + 5].copy_from_slice(&five(side)?);
        }
        if self
            .inner
            .try_push(feed, ts, &book, recv_ns)
            .map_err(PyLobflowError)?
        {
            return Ok(());
        }
        self.waiting(py, |s, poll| s.push(feed, ts, &book, recv_ns, poll))
    }

    /// Pushes rows in order: ids (uint32), times (int64), books ((n, 20) float64, contract
    /// order), receive times (uint64) or None.
    #[pyo3(signature = (feeds, ts, books, recv_ns = None))]
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
    fn push_many(
        &self,
        py: Python<'_>,
        feeds: PyReadonlyArray1<'_, u32>,
        ts: PyReadonlyArray1<'_, i64>,
        books: PyReadonlyArray2<'_, f64>,
        recv_ns: Option<PyReadonlyArray1<'_, u64>>,
    ) -> PyResult<()> {
        let flat = books.as_slice()?;
        if books.shape()[1] != 20 {
            return Err(PyValueError::new_err(format!(
                "books must have 20 columns (the contract's book columns), got {}",
                books.shape()[1]
            )));
        }
        let rows: Vec<Book> = flat
            .chunks_exact(20)
            .map(|r| r.try_into().expect("chunks of 20"))
            .collect();
        let (feeds, ts) = (feeds.as_slice()?, ts.as_slice()?);
        let recv = recv_ns.as_ref().map(|r| r.as_slice()).transpose()?;
        self.waiting(py, |s, poll| s.push_many(feeds, ts, &rows, recv, poll))
    }

    /// Up to `max_items` signals (all there are by default), as the bytes of `Signal` records.
    #[pyo3(signature = (max_items = None))]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        max_items: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let mut out: Vec<Signal> = Vec::new();
        self.inner
            .poll(&mut out, max_items.unwrap_or(usize::MAX))
            .map_err(PyLobflowError)?;
        Ok(PyArray1::from_vec(py, Signal::to_bytes(&out)))
    }

    /// The session's clock: ns since it started.
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }

    /// Does nothing: the cost of a call into the session, the floor `benches/bench_session.py`
    /// sets a push's cost beside.
    #[allow(clippy::unused_self)] // a method call is what is being measured
    fn _noop(&self) {}

    /// Counts and latency percentiles so far.
    fn stats(&self, py: Python<'_>) -> PyResult<PySessionStats> {
        let stats = py.detach(|| self.inner.stats());
        PySessionStats::new(py, stats)
    }

    /// Closes: drains, joins the worker; returns the final stats.
    fn close(&self, py: Python<'_>) -> PyResult<PySessionStats> {
        let stats = self.waiting(py, |s, poll| s.close(poll))?;
        PySessionStats::new(py, stats)
    }
}

impl PySession {
    /// Starts a session of `engine` without the GIL (the worker's start and pin).
    fn start(
        py: Python<'_>,
        engine: &Bound<'_, PyEngine>,
        opts: &SessionOptions,
    ) -> PyResult<Self> {
        let engine = &engine.get().inner;
        let inner = py.detach(|| engine.session(opts)).map_err(PyLobflowError)?;
        Ok(Self { inner })
    }

    /// Runs `f` without the GIL, its `poll` checking for Ctrl-C: a pending signal stops the
    /// wait and becomes the error.
    fn waiting<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Session, &mut dyn FnMut() -> bool) -> lobflow_core::Result<T> + Send,
    ) -> PyResult<T> {
        detached_interruptible(py, |poll| f(&self.inner, poll))
    }
}

/// Five floats from a tuple or list (the fast paths), or any other sequence.
fn five(obj: &Bound<'_, PyAny>) -> PyResult<[f64; 5]> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() == 5 {
            let mut out = [0.0; 5];
            for (i, v) in out.iter_mut().enumerate() {
                *v = t.get_borrowed_item(i)?.extract()?;
            }
            return Ok(out);
        }
    } else if let Ok(l) = obj.cast::<PyList>() {
        if l.len() == 5 {
            let mut out = [0.0; 5];
            for (i, v) in out.iter_mut().enumerate() {
                *v = l.get_item(i)?.extract()?;
            }
            return Ok(out);
        }
    }
    // Anything else, and the wrong lengths, with PyO3's own errors.
    obj.extract()
}

/// Test hook (feature `test-hooks`): a session of `engine` whose worker panics on the batch
/// holding update `update`, to prove that a panic becomes an `EngineError`.
#[cfg(feature = "test-hooks")]
#[pyfunction]
fn _session_panicking_at(
    py: Python<'_>,
    engine: &Bound<'_, PyEngine>,
    update: u64,
) -> PyResult<PySession> {
    let opts = SessionOptions {
        panic_at_update: Some(update),
        ..SessionOptions::default()
    };
    PySession::start(py, engine, &opts)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySession>()?;
    m.add_class::<PySessionStats>()?;
    m.add_class::<PyFeedStats>()?;
    #[cfg(feature = "test-hooks")]
    m.add_function(wrap_pyfunction!(_session_panicking_at, m)?)?;
    m.add("SIGNAL_SIZE", SIGNAL_SIZE)?;
    m.add("SIGNAL_FIELD_OFFSETS", SIGNAL_FIELD_OFFSETS.to_vec())?;
    Ok(())
}
