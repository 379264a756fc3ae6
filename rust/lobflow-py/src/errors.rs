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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LobflowError", py.get_type::<LobflowError>())?;
    m.add("WeightsFormatError", py.get_type::<WeightsFormatError>())?;
    m.add("EngineError", py.get_type::<EngineError>())?;
    m.add("SessionClosedError", py.get_type::<SessionClosedError>())?;
    m.add("BackpressureError", py.get_type::<BackpressureError>())?;
    Ok(())
}
