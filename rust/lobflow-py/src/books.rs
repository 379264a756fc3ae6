//! `_core.BookMachine`: a venue's WebSocket book machine (`lobflow_core::books`), its events
//! as small tuples for `lobflow.collect.ws.feeds`.

use lobflow_core::books::{BookMachine, Event, Protocol, Top};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

/// One venue's exact books for every (connection, feed) of a WebSocket collector.
#[pyclass(name = "BookMachine", module = "lobflow._core")]
pub struct PyBookMachine {
    inner: BookMachine,
    out: Vec<Event>,
}

#[pymethods]
impl PyBookMachine {
    /// Not a data frame: the caller parses it.
    #[classattr]
    const CONTROL: u8 = 0;
    /// The book applied; its top may make a row.
    #[classattr]
    const BOOK: u8 = 1;
    /// The book (re)synced from this frame; its top may make a row.
    #[classattr]
    const SYNCED: u8 = 2;
    /// A frame older than the book: ignored.
    #[classattr]
    const STALE: u8 = 3;
    /// A sequence gap: the book was cleared.
    #[classattr]
    const GAP: u8 = 4;
    /// A checksum mismatch: the book was cleared.
    #[classattr]
    const CHECKSUM: u8 = 5;
    /// A frame or snapshot not as documented: nothing applied.
    #[classattr]
    const MALFORMED: u8 = 6;
    /// Binance: the book needs a REST snapshot.
    #[classattr]
    const FETCH: u8 = 7;

    // PyO3 extracts Python lists as owned `Vec`s; the machine copies what it keeps.
    #[allow(clippy::needless_pass_by_value)]
    #[new]
    #[pyo3(signature = (venue, keys, scales, depth = None))]
    fn new(
        venue: &str,
        keys: Vec<String>,
        scales: Vec<Option<(u32, u32)>>,
        depth: Option<usize>,
    ) -> PyResult<Self> {
        let protocol = Protocol::from_name(venue)
            .ok_or_else(|| PyValueError::new_err(format!("no book protocol for {venue:?}")))?;
        if keys.len() != scales.len() {
            return Err(PyValueError::new_err(
                "one (price, size) scale (or None) per key",
            ));
        }
        Ok(Self {
            inner: BookMachine::new(protocol, &keys, &scales, depth),
            out: Vec::new(),
        })
    }

    /// Apply one frame (str or UTF-8 bytes) read from `conn`; its events as tuples.
    fn apply<'py>(
        &mut self,
        py: Python<'py>,
        conn: u32,
        frame: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.out.clear();
        if let Ok(s) = frame.cast::<PyString>() {
            self.inner.apply(conn, s.to_str()?, &mut self.out);
        } else if let Ok(b) = frame.cast::<PyBytes>() {
            match std::str::from_utf8(b.as_bytes()) {
                Ok(text) => self.inner.apply(conn, text, &mut self.out),
                Err(e) => self.out.push(Event::Malformed {
                    feed: None,
                    why: format!("not UTF-8: {e}"),
                }),
            }
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "a frame is str or bytes",
            ));
        }
        events(py, &self.out)
    }

    /// Binance: a REST depth snapshot (its body) for `feed`'s book on `conn`; its events.
    fn snapshot<'py>(
        &mut self,
        py: Python<'py>,
        conn: u32,
        feed: usize,
        body: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        self.out.clear();
        self.inner.snapshot(conn, feed, body, &mut self.out);
        events(py, &self.out)
    }

    /// `conn` closed: its books are dropped.
    fn close(&mut self, conn: u32) {
        self.inner.close(conn);
    }

    /// `feed` stops: its books are dropped, its frames ignored.
    fn stop(&mut self, feed: usize) {
        self.inner.stop(feed);
    }

    /// A gap found by the caller: `feed`'s book on `conn` is cleared and unsynced.
    fn reset(&mut self, conn: u32, feed: usize) {
        self.inner.reset(conn, feed);
    }

    /// `feed`'s (price, size) scales, once known (Kraken's pair precisions).
    fn set_scales(&mut self, feed: usize, price: u32, size: u32) {
        self.inner.set_scales(feed, price, size);
    }

    /// How new `feed`'s book on `conn` is (update id, else book time in ns); -1 if none.
    fn pos(&self, conn: u32, feed: usize) -> i64 {
        self.inner.pos(conn, feed)
    }

    /// Whether `feed`'s book on `conn` is synced.
    fn synced(&self, conn: u32, feed: usize) -> bool {
        self.inner.synced(conn, feed)
    }

    /// `feed`'s book on `conn` as (bids, asks), best first, in (price, size) units; None if none.
    #[allow(clippy::type_complexity)]
    fn levels(&self, conn: u32, feed: usize) -> Option<(Vec<(u128, u128)>, Vec<(u128, u128)>)> {
        self.inner.levels(conn, feed)
    }
}

/// Events as `(code, feed, ts, seq, detail)` tuples.
fn events<'py>(py: Python<'py>, out: &[Event]) -> PyResult<Bound<'py, PyList>> {
    let none = py.None().into_bound(py);
    let tuples = out.iter().map(|e| -> PyResult<Bound<'py, PyTuple>> {
        let (code, feed, ts, seq, detail): (u8, i64, i64, Option<i64>, Bound<'py, PyAny>) = match e
        {
            Event::Control => (0, -1, 0, None, none.clone()),
            Event::Book {
                feed,
                ts,
                seq,
                top,
                synced,
            } => (
                if *synced { 2 } else { 1 },
                *feed as i64,
                *ts,
                *seq,
                top_object(py, top.as_ref())?,
            ),
            Event::Stale { feed } => (3, *feed as i64, 0, None, none.clone()),
            Event::Gap {
                feed,
                why,
                checksum,
            } => (
                if *checksum { 5 } else { 4 },
                *feed as i64,
                0,
                None,
                PyString::new(py, why).into_any(),
            ),
            Event::Malformed { feed, why } => (
                6,
                feed.map_or(-1, |f| f as i64),
                0,
                None,
                PyString::new(py, why).into_any(),
            ),
            Event::Fetch { feed } => (7, *feed as i64, 0, None, none.clone()),
        };
        (code, feed, ts, seq, detail).into_pyobject(py)
    });
    PyList::new(py, tuples.collect::<PyResult<Vec<_>>>()?)
}

/// A top as Python sees it: 20 floats, `"empty"`, `"crossed"`, or None (unchanged).
fn top_object<'py>(py: Python<'py>, top: Option<&Top>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match top {
        None => py.None().into_bound(py),
        Some(Top::Empty) => intern!(py, "empty").clone().into_any(),
        Some(Top::Crossed) => intern!(py, "crossed").clone().into_any(),
        Some(Top::Levels(row)) => PyTuple::new(py, row.iter().copied())?.into_any(),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBookMachine>()
}
