//! A live session's stats as frozen Python classes (`_core.SessionStats`, `_core.FeedStats`).

use crate::outputs::{PyLatency, PyPinning};
use lobflow_core::session::{FeedStats, SessionStats};
use pyo3::prelude::*;

/// One feed of a live session.
#[pyclass(frozen, get_all, name = "FeedStats", module = "lobflow._core")]
pub struct PyFeedStats {
    /// The feed's exchange.
    exchange: String,
    /// The feed's symbol.
    symbol: String,
    /// Books pushed, skipped ones included.
    pushed: u64,
    /// Books that broke the contract and were skipped (score NaN, signal 0).
    skipped: u64,
    /// (column, why, count) of each reason books were skipped, in order of first sight.
    skip_reasons: Vec<(String, String, u64)>,
    /// The last skipped book: feed, row, column and why.
    last_bad: Option<String>,
    /// Signals handed over by `poll`.
    polled: u64,
    /// The last polled scored book's time (None before the first).
    last_ts: Option<i64>,
    /// Its score.
    last_score: Option<f64>,
    /// Its signal.
    last_signal: Option<i8>,
}

#[pymethods]
impl PyFeedStats {
    fn __repr__(&self) -> String {
        format!(
            "FeedStats(exchange={:?}, symbol={:?}, pushed={}, skipped={}, polled={}, \
             last_score={:?}, last_signal={:?})",
            self.exchange,
            self.symbol,
            self.pushed,
            self.skipped,
            self.polled,
            self.last_score,
            self.last_signal
        )
    }
}

impl From<FeedStats> for PyFeedStats {
    fn from(f: FeedStats) -> Self {
        Self {
            exchange: f.exchange,
            symbol: f.symbol,
            pushed: f.pushed,
            skipped: f.skipped,
            skip_reasons: f
                .skip_reasons
                .into_iter()
                .map(|r| (r.column.to_string(), r.why.to_string(), r.count))
                .collect(),
            last_bad: f.last_bad,
            polled: f.polled,
            last_ts: f.last.map(|l| l.0),
            last_score: f.last.map(|l| l.1),
            last_signal: f.last.map(|l| l.2),
        }
    }
}

/// A live session's counts and latencies, as `lobflow.SessionStats` receives them.
#[pyclass(frozen, get_all, name = "SessionStats", module = "lobflow._core")]
pub struct PySessionStats {
    /// Each feed, by id.
    feeds: Vec<Py<PyFeedStats>>,
    /// Books pushed, all feeds.
    pushed: u64,
    /// Books skipped, all feeds.
    skipped: u64,
    /// Signals handed over by `poll`, all feeds.
    polled: u64,
    /// Pushed books whose signals have not been polled yet.
    pending: u64,
    /// Pushes that found the input ring full and waited.
    push_waits: u64,
    /// Push → emit latency of the polled signals.
    push_to_emit: Py<PyLatency>,
    /// Receive → emit latency of the polled signals pushed with a receive time.
    recv_to_emit: Py<PyLatency>,
    /// (caller, worker) cores: asked for, used, pinned.
    pinning: Py<PyPinning>,
    /// Input ring capacity, books.
    capacity: usize,
    /// Output ring capacity, signals.
    out_capacity: usize,
    /// Time since the session started, ns.
    uptime_ns: u64,
    /// Whether the session is closed.
    closed: bool,
}

impl PySessionStats {
    pub fn new(py: Python<'_>, s: SessionStats) -> PyResult<Self> {
        let feeds = s
            .feeds
            .into_iter()
            .map(|f| Py::new(py, PyFeedStats::from(f)))
            .collect::<PyResult<_>>()?;
        let pinned = [s.caller_pinned.unwrap_or(false), s.worker_pinned];
        Ok(Self {
            feeds,
            pushed: s.pushed,
            skipped: s.skipped,
            polled: s.polled,
            pending: s.pending,
            push_waits: s.push_waits,
            push_to_emit: Py::new(py, PyLatency::from(s.push_to_emit))?,
            recv_to_emit: Py::new(py, PyLatency::from(s.recv_to_emit))?,
            pinning: Py::new(py, PyPinning::new(s.pin, pinned))?,
            capacity: s.capacity,
            out_capacity: s.out_capacity,
            uptime_ns: s.uptime_ns,
            closed: s.closed,
        })
    }
}
