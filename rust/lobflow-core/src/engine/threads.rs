//! The two engine threads' shared mechanics: how a waiting thread spins, how a thread
//! leaves (waking the caller, stopping its partner if it panicked), and how the calling
//! thread waits for both while it polls for Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How a waiting thread spins between two looks at the other side.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spin {
    /// With a `pause`: gentle on the line being polled.
    Pause,
    /// Without: the paced worker, whose wait should end the moment a tick is published.
    Tight,
}

/// Waits a little for the other side; false when the run was stopped.
///
/// With a core of its own a thread only spins: a `sched_yield` would invite the scheduler to
/// run something else there and cost milliseconds of latency. Where both threads share one
/// core, spinning would starve the partner, so it yields.
#[inline]
pub(crate) fn backoff(spins: &mut u32, stop: &AtomicBool, shared_core: bool, spin: Spin) -> bool {
    *spins += 1;
    if *spins < 128 {
        if spin == Spin::Pause {
            std::hint::spin_loop();
        }
        return true;
    }
    *spins = 0;
    if stop.load(Ordering::Acquire) {
        return false;
    }
    if shared_core {
        std::thread::yield_now();
    }
    true
}

/// On the way out of an engine thread (normally or unwinding): sets the stop flag if it
/// panicked, so its partner never waits forever, counts the thread out, and wakes the calling
/// thread.
pub(crate) struct ExitGuard<'a> {
    pub(crate) stop: &'a AtomicBool,
    pub(crate) exited: &'a AtomicUsize,
    pub(crate) caller: std::thread::Thread,
}

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Release);
        }
        // Counted before the wake-up, so the woken caller sees it (Release, paired with its
        // Acquire). `JoinHandle::is_finished` would not do: it turns true only once the thread
        // has stored its result, after this guard has run, and a caller woken before that
        // would go back to sleep for its whole timeout.
        self.exited.fetch_add(1, Ordering::Release);
        self.caller.unpark();
    }
}

/// Waits until `threads` engine threads have counted themselves out ([`ExitGuard`]), calling
/// `poll` meanwhile; true when `poll` asked to stop (the stop flag is then set, and the
/// threads wind down within a few ms).
pub(crate) fn wait_for_threads(
    threads: usize,
    exited: &AtomicUsize,
    stop: &AtomicBool,
    poll: &mut dyn FnMut() -> bool,
) -> bool {
    let mut interrupted = false;
    // Park rather than poll in a tight loop: on a 2-core machine every wake-up of this thread
    // preempts a pinned, spinning engine thread. The engine threads unpark us when they exit;
    // signals are polled at 20 Hz.
    while exited.load(Ordering::Acquire) < threads {
        std::thread::park_timeout(Duration::from_millis(50));
        if !interrupted && !poll() {
            interrupted = true;
            stop.store(true, Ordering::Release);
        }
    }
    interrupted
}

/// A panic's message, for [`crate::Error::WorkerPanicked`].
pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}
