//! `_core.backtest`: simulated execution of signals against one feed's books.

use crate::engine::slices;
use crate::errors::PyLobflowError;
use lobflow_core::backtest::{
    path_of_mids, run, run_checked, CheckedBooks, Config, Fill, Mode, OnZero, Outcome,
};
use lobflow_core::backtest_metrics::{metrics, Metrics};
use lobflow_core::feed::Feed;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};

/// What `_core.backtest` returns: the fills, column by column, and the metrics (the path is
/// rebuilt from the fills when asked for, `backtest_path`).
#[pyclass(frozen, get_all, name = "BacktestOutput", module = "lobflow._core")]
pub struct PyBacktestOutput {
    fill_row: Py<PyArray1<i64>>,
    fill_decision_row: Py<PyArray1<i64>>,
    fill_qty: Py<PyArray1<f64>>,
    fill_price: Py<PyArray1<f64>>,
    fill_fee: Py<PyArray1<f64>>,
    fill_slippage: Py<PyArray1<f64>>,
    requested_qty: f64,
    unfilled_qty: f64,
    /// `lobflow.backtest.BacktestMetrics`' fields, in its order.
    metrics: Py<PyTuple>,
}

/// The metrics as the tuple of `lobflow.backtest.BacktestMetrics`' fields, in its order.
fn metrics_tuple(py: Python<'_>, m: &Metrics) -> PyResult<Py<PyTuple>> {
    let f = |x: f64| PyFloat::new(py, x).into_any();
    let n = |x: u64| {
        x.into_pyobject(py)
            .map_or_else(|e| match e {}, Bound::into_any)
    };
    let items = [
        f(m.pnl),
        f(m.pnl_bps),
        f(m.gross_pnl),
        f(m.edge),
        f(m.fees),
        f(m.slippage),
        f(m.sharpe),
        f(m.max_drawdown),
        n(m.trades),
        f(m.turnover),
        f(m.hit_rate),
        f(m.avg_holding_s),
        f(m.fill_ratio),
        f(m.unfilled_qty),
        f(m.elapsed_s),
        n(m.snapshots),
    ];
    Ok(PyTuple::new(py, items)?.unbind())
}

impl PyBacktestOutput {
    fn new(py: Python<'_>, out: &Outcome, metrics: &Metrics) -> PyResult<Self> {
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
        Ok(Self {
            fill_row: rows(|f| f.row),
            fill_decision_row: rows(|f| f.decision_row),
            fill_qty: column(|f| f.qty),
            fill_price: column(|f| f.price),
            fill_fee: column(|f| f.fee),
            fill_slippage: column(|f| f.slippage),
            requested_qty: out.requested_qty,
            unfilled_qty: out.unfilled_qty,
            metrics: metrics_tuple(py, metrics)?,
        })
    }
}

/// `lobflow.backtest.BacktestConfig`'s fields, read off the object (any object with them).
#[derive(FromPyObject)]
struct PyConfig {
    #[pyo3(attribute)]
    mode: String,
    #[pyo3(attribute)]
    order_size: f64,
    #[pyo3(attribute)]
    max_position: f64,
    #[pyo3(attribute)]
    on_zero: String,
    #[pyo3(attribute)]
    min_hold_ns: u64,
    #[pyo3(attribute)]
    md_latency_ns: u64,
    #[pyo3(attribute)]
    order_latency_ns: u64,
    #[pyo3(attribute)]
    taker_fee_bps: f64,
    #[pyo3(attribute)]
    maker_fee_bps: f64,
}

impl PyConfig {
    fn config(&self) -> PyResult<Config> {
        Ok(Config {
            mode: parse_mode(&self.mode)?,
            order_size: self.order_size,
            max_position: self.max_position,
            on_zero: parse_on_zero(&self.on_zero)?,
            min_hold_ns: self.min_hold_ns,
            md_latency_ns: self.md_latency_ns,
            order_latency_ns: self.order_latency_ns,
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.maker_fee_bps,
        })
    }
}

/// Runs the backtest of `signals` against the feed's books (see `lobflow_core::backtest`).
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // pyo3 hands the arguments over by value
fn backtest(
    py: Python<'_>,
    ts: PyReadonlyArray1<'_, i64>,
    cols: Vec<PyReadonlyArray1<'_, f64>>,
    signals: PyReadonlyArray1<'_, i8>,
    config: PyConfig,
) -> PyResult<PyBacktestOutput> {
    let cfg = config.config()?;
    let feed = feed(&ts, &cols)?;
    let sig = signals.as_slice()?;
    let (out, m) = py
        .detach(|| {
            let out = run(&feed, sig, &cfg)?;
            let m = metrics(&feed, &out, cfg.order_size);
            Ok((out, m))
        })
        .map_err(PyLobflowError)?;
    PyBacktestOutput::new(py, &out, &m)
}

/// Runs the backtest of `signals` against books checked before (`CheckedBooks`).
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // pyo3 hands the arguments over by value
fn backtest_checked(
    py: Python<'_>,
    books: &PyCheckedBooks,
    signals: PyReadonlyArray1<'_, i8>,
    config: PyConfig,
) -> PyResult<PyBacktestOutput> {
    let cfg = config.config()?;
    let sig = signals.as_slice()?;
    let (out, m) = py
        .detach(|| {
            let out = run_checked(&books.0, sig, &cfg)?;
            let m = metrics(&books.0.feed(), &out, cfg.order_size);
            Ok((out, m))
        })
        .map_err(PyLobflowError)?;
    PyBacktestOutput::new(py, &out, &m)
}

/// The per-snapshot (position, equity, fees) of a run that made these fills on books with
/// these level-0 prices (`lobflow_core::backtest::path`).
#[pyfunction]
#[allow(clippy::needless_pass_by_value, clippy::too_many_arguments)] // one per fill column
#[allow(clippy::type_complexity)] // the three arrays of the path
fn backtest_path<'py>(
    py: Python<'py>,
    bids: PyReadonlyArray1<'_, f64>,
    asks: PyReadonlyArray1<'_, f64>,
    row: PyReadonlyArray1<'_, i64>,
    decision_row: PyReadonlyArray1<'_, i64>,
    qty: PyReadonlyArray1<'_, f64>,
    price: PyReadonlyArray1<'_, f64>,
    fee: PyReadonlyArray1<'_, f64>,
    slippage: PyReadonlyArray1<'_, f64>,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
)> {
    let (bids, asks) = (bids.as_slice()?, asks.as_slice()?);
    let (row, decision_row) = (row.as_slice()?, decision_row.as_slice()?);
    let (qty, price, fee, slippage) = (
        qty.as_slice()?,
        price.as_slice()?,
        fee.as_slice()?,
        slippage.as_slice()?,
    );
    let n = row.len();
    let lengths = [
        decision_row.len(),
        qty.len(),
        price.len(),
        fee.len(),
        slippage.len(),
    ];
    let in_order = row.windows(2).all(|w| w[0] <= w[1]);
    let within = row
        .iter()
        .all(|&r| usize::try_from(r).is_ok_and(|r| r < bids.len()));
    if asks.len() != bids.len() || lengths.iter().any(|&l| l != n) || !in_order || !within {
        return Err(PyValueError::new_err(
            "a path needs bid and ask columns of one length and fill columns of one length, \
             rows in order within the books",
        ));
    }
    let fills: Vec<Fill> = (0..n)
        .map(|k| Fill {
            row: row[k] as usize,
            decision_row: decision_row[k] as usize,
            qty: qty[k],
            price: price[k],
            fee: fee[k],
            slippage: slippage[k],
        })
        .collect();
    let p = py.detach(|| path_of_mids(bids, asks, &fills));
    Ok((
        p.position.into_pyarray(py),
        p.equity.into_pyarray(py),
        p.fees.into_pyarray(py),
    ))
}

/// One feed's books, checked and copied once (`lobflow_core::backtest::CheckedBooks`).
#[pyclass(frozen, name = "CheckedBooks", module = "lobflow._core")]
pub struct PyCheckedBooks(CheckedBooks);

#[pymethods]
impl PyCheckedBooks {
    #[new]
    #[allow(clippy::needless_pass_by_value)] // pyo3 hands the arrays over by value
    fn new(
        py: Python<'_>,
        ts: PyReadonlyArray1<'_, i64>,
        cols: Vec<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<Self> {
        let feed = feed(&ts, &cols)?;
        let books = py
            .detach(|| CheckedBooks::new(&feed))
            .map_err(PyLobflowError)?;
        Ok(Self(books))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }
}

/// The feed of `ts` and the 20 book columns, as views of the arrays.
fn feed<'a>(
    ts: &'a PyReadonlyArray1<'_, i64>,
    cols: &'a [PyReadonlyArray1<'_, f64>],
) -> PyResult<Feed<'a>> {
    Ok(Feed::new(ts.as_slice()?, slices(cols)?).map_err(PyLobflowError)?)
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
    m.add_class::<PyCheckedBooks>()?;
    m.add_function(wrap_pyfunction!(backtest, m)?)?;
    m.add_function(wrap_pyfunction!(backtest_checked, m)?)?;
    m.add_function(wrap_pyfunction!(backtest_path, m)?)?;
    Ok(())
}
