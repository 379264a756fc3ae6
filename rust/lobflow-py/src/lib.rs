//! `lobflow._core`: the thin `PyO3` face of `lobflow-core` (conversions, GIL release, error mapping).
// `deny`, not `forbid`: the features plugin's generated FFI entry points are allowed theirs.
#![deny(unsafe_code)]

mod backtest;
mod books;
mod diagnostics;
mod engine;
mod errors;
mod features;
mod outputs;
mod session;
mod session_stats;

use pyo3::prelude::*;

/// The extension module. Each submodule registers its own classes and functions.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    engine::register(m)?;
    outputs::register(m)?;
    diagnostics::register(m)?;
    backtest::register(m)?;
    session::register(m)?;
    books::register(m)?;
    Ok(())
}
