//! lobflow-core: the pure-Rust inference engine behind `lobflow.Engine` (no Python here).
//!
//! The pipeline is producer → [`ring`] → worker: the producer encodes feed rows into
//! 88-byte [`tick::L2Tick`]s, the worker scores each with a baked linear model ([`weights`])
//! over the 18 contract features ([`features`]), the window means' weights folded into the
//! windows' sums ([`scoring`]), and emits a signal.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod backtest;
mod backtest_books;
pub mod backtest_metrics;
mod backtest_path;
pub mod books;
pub mod c2c;
mod clock;
mod columns;
pub mod engine;
pub mod error;
pub mod feature_columns;
pub mod features;
pub mod feed;
mod feed_batch;
pub mod memory;
pub mod pin;
pub mod ring;
pub mod scoring;
pub mod session;
mod sync;
pub mod tick;
pub mod weights;
mod windows;

pub use error::{Error, Result};
