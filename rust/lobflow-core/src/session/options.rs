//! How a session is set up: ring sizes, cores, how long a push may wait, the longest window.

use crate::error::{Error, Result};
use std::time::Duration;

/// Options of [`crate::engine::Engine::session`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Input ring capacity in books (a power of two ≥ 2; 96 bytes a slot).
    pub capacity: usize,
    /// Output ring capacity in signals (a power of two ≥ 2; 56 bytes a slot): how many scored
    /// books may wait for the caller's `poll` before the worker waits.
    pub out_capacity: usize,
    /// (caller, worker) cores; `None`: the engine's.
    pub cores: Option<[usize; 2]>,
    /// Pin the calling thread to the first core (it stays pinned after the session).
    pub pin_caller: bool,
    /// How long a push may wait for room in the input ring before it fails with
    /// [`Error::Backpressure`].
    pub push_timeout: Duration,
    /// The longest window, in ms, the session accepts: each feed keeps every book of its
    /// model's longest window in memory (32 bytes a book), so an hours-long window over a
    /// busy feed is a memory choice to make on purpose.
    pub max_window_ms: u64,
    /// Test hook (feature `test-hooks`): the worker panics on the batch holding this update
    /// (counted from 0 over all feeds) before scoring it, to prove that a panic becomes an
    /// error. Checked once a batch, outside the scoring loop.
    #[cfg(feature = "test-hooks")]
    pub panic_at_update: Option<u64>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            out_capacity: 65_536,
            cores: None,
            pin_caller: false,
            push_timeout: Duration::from_secs(1),
            max_window_ms: 3_600_000,
            #[cfg(feature = "test-hooks")]
            panic_at_update: None,
        }
    }
}

impl SessionOptions {
    /// Checks that a session can honour `windows_ms`: three positive, strictly ascending
    /// lengths (what the features' nested windows need), the longest within
    /// [`Self::max_window_ms`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the windows and what is wrong.
    pub fn check_windows(&self, windows_ms: [u64; 3]) -> Result<()> {
        if !crate::windows::windows_are_valid(windows_ms) {
            return Err(Error::Config(format!(
                "the model's windows {windows_ms:?} ms are not three positive, strictly \
                 ascending lengths: a session cannot compute them"
            )));
        }
        if windows_ms[2] > self.max_window_ms {
            return Err(Error::Config(format!(
                "the model's longest window is {} ms, longer than this session keeps \
                 (max_window_ms = {}): each feed holds every book of that window in memory \
                 (32 bytes a book; at 100 books/s a 1 h window is 11.5 MB a feed). Raise \
                 max_window_ms to accept it",
                windows_ms[2], self.max_window_ms
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SessionOptions;

    #[test]
    fn windows_are_checked() {
        let opts = SessionOptions::default();
        assert!(opts.check_windows([10, 20, 50]).is_ok());
        assert!(opts.check_windows([10, 10, 50]).is_err());
        assert!(opts.check_windows([0, 10, 50]).is_err());
        let err = opts.check_windows([10, 20, 7_200_000]).unwrap_err();
        assert!(err.to_string().contains("max_window_ms = 3600000"), "{err}");
        let roomy = SessionOptions {
            max_window_ms: u64::MAX,
            ..SessionOptions::default()
        };
        assert!(roomy.check_windows([10, 20, 7_200_000]).is_ok());
    }
}
