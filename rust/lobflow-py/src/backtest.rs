//! `_core.backtest`: simulated execution of signals against one feed's books.

use crate::errors::PyLobflowError;
use lobflow_core::backtest::{run, Config, Mode, OnZero};
use lobflow_core::feed::Feed;
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Runs the backtest; `config` is a dict with the fields of `lobflow_core::backtest::Config`.
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
fn backtest<'py>(
    py: Python<'py>,
    ts: PyReadonlyArray1<'py, i64>,
    cols: Vec<PyReadonlyArray1<'py, f64>>,
    signals: PyReadonlyArray1<'py, i8>,
    config: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = parse_config(config)?;
    let slices: Vec<&[f64]> = cols
        .iter()
        .map(|c| c.as_slice())
        .collect::<Result<_, _>>()?;
    let cols: [&[f64]; 20] = slices.try_into().map_err(|v: Vec<_>| {
        PyValueError::new_err(format!("expected 20 book columns, got {}", v.len()))
    })?;
    let feed = Feed::new(ts.as_slice()?, cols).map_err(PyLobflowError)?;
    let sig = signals.as_slice()?;
    let out = py
        .detach(|| run(&feed, sig, &cfg))
        .map_err(PyLobflowError)?;
    let d = PyDict::new(py);
    d.set_item("position", out.position.into_pyarray(py))?;
    d.set_item("cash", out.cash.into_pyarray(py))?;
    d.set_item("equity", out.equity.into_pyarray(py))?;
    d.set_item("fees", out.fees.into_pyarray(py))?;
    let fills = &out.fills;
    d.set_item(
        "fill_row",
        fills
            .iter()
            .map(|f| f.row as u64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "fill_decision_row",
        fills
            .iter()
            .map(|f| f.decision_row as u64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "fill_qty",
        fills
            .iter()
            .map(|f| f.qty)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "fill_price",
        fills
            .iter()
            .map(|f| f.price)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "fill_fee",
        fills
            .iter()
            .map(|f| f.fee)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "fill_slippage",
        fills
            .iter()
            .map(|f| f.slippage)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item("requested_qty", out.requested_qty)?;
    d.set_item("unfilled_qty", out.unfilled_qty)?;
    Ok(d)
}

fn parse_config(d: &Bound<'_, PyDict>) -> PyResult<Config> {
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(k)?
            .ok_or_else(|| PyValueError::new_err(format!("backtest config is missing `{k}`")))
    };
    let mode = match get("mode")?.extract::<String>()?.as_str() {
        "taker" => Mode::Taker,
        "passive" => Mode::Passive,
        other => {
            return Err(PyValueError::new_err(format!(
                "mode must be 'taker' or 'passive', got {other:?}"
            )))
        }
    };
    let on_zero = match get("on_zero")?.extract::<String>()?.as_str() {
        "hold" => OnZero::Hold,
        "flatten" => OnZero::Flatten,
        other => {
            return Err(PyValueError::new_err(format!(
                "on_zero must be 'hold' or 'flatten', got {other:?}"
            )))
        }
    };
    Ok(Config {
        mode,
        order_size: get("order_size")?.extract()?,
        max_position: get("max_position")?.extract()?,
        on_zero,
        min_hold_ns: get("min_hold_ns")?.extract()?,
        md_latency_ns: get("md_latency_ns")?.extract()?,
        order_latency_ns: get("order_latency_ns")?.extract()?,
        taker_fee_bps: get("taker_fee_bps")?.extract()?,
        maker_fee_bps: get("maker_fee_bps")?.extract()?,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(backtest, m)?)?;
    Ok(())
}
