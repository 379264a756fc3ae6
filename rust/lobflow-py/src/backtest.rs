//! Placeholder: owned by a helper, filled in shortly.

use pyo3::prelude::*;

#[allow(clippy::unnecessary_wraps)] // every submodule registers with this signature
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
