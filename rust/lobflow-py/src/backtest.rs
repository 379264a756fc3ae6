//! `_core.backtest`: simulated execution of signals against one feed's books.

use crate::errors::PyLobflowError;
use lobflow_core::backtest::{run, Config, Mode, OnZero, Outcome};
use lobflow_core::feed::Feed;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// What `_core.backtest` returns: the per-snapshot path and the fills, column by column.
#[pyclass(frozen, get_all, name = "BacktestOutput", module = "lobflow._core")]
pub struct PyBacktestOutput {
    position: Py<PyArray1<f64>>,
    cash: Py<PyArray1<f64>>,
    equity: Py<PyArray1<f64>>,
    fees: Py<PyArray1<f64>>,
    fill_row: Py<PyArray1<i64>>,
    fill_decision_row: Py<PyArray1<i64>>,
    fill_qty: Py<PyArray1<f64>>,
    fill_price: Py<PyArray1<f64>>,
    fill_fee: Py<PyArray1<f64>>,
    fill_slippage: Py<PyArray1<f64>>,
    requested_qty: f64,
    unfilled_qty: f64,
}

impl PyBacktestOutput {
    fn new(py: Python<'_>, out: Outcome) -> Self {
        let column = |f: fn(&lobflow_core::backtest::Fill) -> f64| {
            out.fills
                .iter()
                .map(f)
                .collect::<Vec<_>>()
                .into_pyarray(py)
                .unbind()
        };
        let rows = |f: fn(&lobflow_core::backtest::Fill) -> usize| {
            out.fills
                .iter()
                .map(|x| f(x) as i64)
                .collect::<Vec<_>>()
                .into_pyarray(py)
                .unbind()
        };
        Self {
            fill_row: rows(|f| f.row),
            fill_decision_row: rows(|f| f.decision_row),
            fill_qty: column(|f| f.qty),
            fill_price: column(|f| f.price),
            fill_fee: column(|f| f.fee),
            fill_slippage: column(|f| f.slippage),
            requested_qty: out.requested_qty,
            unfilled_qty: out.unfilled_qty,
            position: out.position.into_pyarray(py).unbind(),
            cash: out.cash.into_pyarray(py).unbind(),
            equity: out.equity.into_pyarray(py).unbind(),
            fees: out.fees.into_pyarray(py).unbind(),
        }
    }
}

/// Runs the backtest of `signals` against the feed's books (see `lobflow_core::backtest`).
#[pyfunction]
#[pyo3(signature = (ts, cols, signals, *, mode, order_size, max_position, on_zero,
    min_hold_ns, md_latency_ns, order_latency_ns, taker_fee_bps, maker_fee_bps))]
#[allow(clippy::needless_pass_by_value, clippy::too_many_arguments)] // one per config field
fn backtest(
    py: Python<'_>,
    ts: PyReadonlyArray1<'_, i64>,
    cols: Vec<PyReadonlyArray1<'_, f64>>,
    signals: PyReadonlyArray1<'_, i8>,
    mode: &str,
    order_size: f64,
    max_position: f64,
    on_zero: &str,
    min_hold_ns: u64,
    md_latency_ns: u64,
    order_latency_ns: u64,
    taker_fee_bps: f64,
    maker_fee_bps: f64,
) -> PyResult<PyBacktestOutput> {
    let cfg = Config {
        mode: parse_mode(mode)?,
        order_size,
        max_position,
        on_zero: parse_on_zero(on_zero)?,
        min_hold_ns,
        md_latency_ns,
        order_latency_ns,
        taker_fee_bps,
        maker_fee_bps,
    };
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
    Ok(PyBacktestOutput::new(py, out))
}

fn parse_mode(mode: &str) -> PyResult<Mode> {
    match mode {
        "taker" => Ok(Mode::Taker),
        "passive" => Ok(Mode::Passive),
        other => Err(PyValueError::new_err(format!(
            "mode must be 'taker' or 'passive', got {other:?}"
        ))),
    }
}

fn parse_on_zero(on_zero: &str) -> PyResult<OnZero> {
    match on_zero {
        "hold" => Ok(OnZero::Hold),
        "flatten" => Ok(OnZero::Flatten),
        other => Err(PyValueError::new_err(format!(
            "on_zero must be 'hold' or 'flatten', got {other:?}"
        ))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBacktestOutput>()?;
    m.add_function(wrap_pyfunction!(backtest, m)?)?;
    Ok(())
}
