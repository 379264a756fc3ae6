//! The one error type of lobflow-core; the binding maps each variant to one Python exception.

use std::path::PathBuf;

/// Everything that can go wrong outside the hot path. Hot-path ring operations use their own
/// non-allocating error values (see [`crate::ring`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ring capacity that is zero or not a power of two.
    #[error("ring capacity must be a power of two ≥ 2, got {capacity}")]
    Capacity {
        /// The rejected capacity.
        capacity: usize,
    },
    /// A ring whose slots cannot be allocated (more memory than the system will give).
    #[error(
        "cannot allocate a ring of {capacity} slots ({bytes} bytes){}: choose a smaller capacity",
        available.map_or(String::new(), |a| format!(", more than the {a} bytes of memory available"))
    )]
    RingAlloc {
        /// The requested capacity.
        capacity: usize,
        /// The bytes its slots need (saturating).
        bytes: usize,
        /// The memory the system had available, where that is what refused the ring.
        available: Option<u64>,
    },
    /// A malformed weights file (docs/weights-format.md); `line` is 1-based, 0 for the whole
    /// file.
    #[error("{path}:{line}: {msg}")]
    WeightsFormat {
        /// The file the text came from (or a label such as `<string>`).
        path: String,
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A weight vector of the wrong length.
    #[error("expected {expected} weights, got {got}")]
    WeightsShape {
        /// Number of features the engine computes.
        expected: usize,
        /// Number of weights supplied.
        got: usize,
    },
    /// A bad feed value: `column` and the 0-based `row` of the first offending row.
    #[error("bad feed at row {row}, column `{column}`: {msg}")]
    Feed {
        /// Contract column name (e.g. `bid_px_0`, `ts`).
        column: String,
        /// 0-based row index in the feed.
        row: usize,
        /// What is wrong.
        msg: String,
    },
    /// Feed columns that do not line up (different lengths, wrong count).
    #[error("bad feed shape: {0}")]
    FeedShape(String),
    /// A worker or producer thread panicked; the message is the panic payload.
    #[error("engine thread panicked: {0}")]
    WorkerPanicked(String),
    /// Pinning a thread to `core` failed (reported, never fatal inside `Engine::run`).
    #[error("could not pin thread to core {core}")]
    Pin {
        /// The core id that could not be used.
        core: usize,
    },
    /// The run was stopped by the caller's interrupt poll (e.g. Ctrl-C).
    #[error("run interrupted")]
    Interrupted,
    /// Bad configuration value (backtest or engine options).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A live session was asked about a feed id it does not have.
    #[error("unknown feed id {id}: this session has {feeds} feeds (ids 0..{feeds})")]
    UnknownFeed {
        /// The id asked for.
        id: u64,
        /// How many feeds the session has.
        feeds: usize,
    },
    /// A live session was used after it was closed.
    #[error("{0}")]
    SessionClosed(String),
    /// A push into a live session waited for room for its whole timeout.
    #[error("push timed out after {waited_ms} ms: {reason}")]
    Backpressure {
        /// How long it waited, ms.
        waited_ms: u64,
        /// Which side was full, and what to do about it.
        reason: String,
    },
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
