//! Python exceptions and the single mapping point from `lobflow_core::Error` to `PyErr`.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

create_exception!(
    lobflow.errors,
    LobflowError,
    PyException,
    "Base class of lobflow's errors."
);
create_exception!(
    lobflow.errors,
    WeightsFormatError,
    LobflowError,
    "A malformed weights file."
);
create_exception!(
    lobflow.errors,
    EngineError,
    LobflowError,
    "An engine thread failed."
);
create_exception!(
    lobflow.errors,
    SessionClosedError,
    EngineError,
    "A live session was used after it was closed."
);
create_exception!(
    lobflow.errors,
    BackpressureError,
    EngineError,
    "A push into a live session waited for room for its whole timeout."
);

/// Newtype so the binding may implement `From` for a foreign error (orphan rule).
pub struct PyLobflowError(pub lobflow_core::Error);

impl From<lobflow_core::Error> for PyLobflowError {
    fn from(e: lobflow_core::Error) -> Self {
        Self(e)
    }
}

impl From<PyLobflowError> for PyErr {
    fn from(PyLobflowError(e): PyLobflowError) -> PyErr {
        use lobflow_core::Error as E;
        let msg = e.to_string();
        match e {
            E::WeightsFormat { .. } | E::WeightsShape { .. } => WeightsFormatError::new_err(msg),
            E::Feed { .. }
            | E::FeedShape(_)
            | E::Capacity { .. }
            | E::Config(_)
            | E::UnknownFeed { .. } => PyValueError::new_err(msg),
            E::SessionClosed(_) => SessionClosedError::new_err(msg),
            E::Backpressure { .. } => BackpressureError::new_err(msg),
            E::RingAlloc { .. } => pyo3::exceptions::PyMemoryError::new_err(msg),
            E::Interrupted => PyKeyboardInterrupt::new_err(msg),
            E::Io { source, .. } => {
                pyo3::exceptions::PyOSError::new_err(format!("{msg} ({source})"))
            }
            _ => EngineError::new_err(msg),
        }
    }
}

/// Runs `f` without the GIL, handing it a `poll` that checks for Ctrl-C: a pending signal
/// makes `poll` answer false (stop waiting) and becomes the error, ahead of `f`'s own.
#[allow(clippy::redundant_closure_for_method_calls)] // the path is not general enough
pub fn detached_interruptible<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(&mut dyn FnMut() -> bool) -> lobflow_core::Result<T> + Send,
) -> PyResult<T> {
    let mut signal_err: Option<PyErr> = None;
    let out = py.detach(|| {
        f(&mut || match Python::attach(|py| py.check_signals()) {
            Ok(()) => true,
            Err(e) => {
                signal_err = Some(e);
                false
            }
        })
    });
    match signal_err {
        Some(e) => Err(e),
        None => Ok(out.map_err(PyLobflowError)?),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LobflowError", py.get_type::<LobflowError>())?;
    m.add("WeightsFormatError", py.get_type::<WeightsFormatError>())?;
    m.add("EngineError", py.get_type::<EngineError>())?;
    m.add("SessionClosedError", py.get_type::<SessionClosedError>())?;
    m.add("BackpressureError", py.get_type::<BackpressureError>())?;
    Ok(())
}
