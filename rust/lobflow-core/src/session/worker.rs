//! The session's worker thread: takes books off the input lane, scores each with its feed's own
//! state exactly as `Engine::run`'s worker does, and publishes the results on the output ring.

use super::lane::Receiver;
use super::record::{Out, Update};
use super::{backoff, stamp_after, Spin, Weights};
use crate::ring::Producer;
use crate::scoring::ScoreState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Books taken off the input ring at most at a time.
const BATCH: usize = 64;

/// What the worker and the caller's side share besides the rings.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Set by the caller to stop the worker without draining (an interrupted close).
    pub(crate) stop: AtomicBool,
    /// Set by the worker on its way out, normally or unwinding.
    pub(crate) exited: AtomicBool,
    /// Set while the worker waits for room in the output ring (the caller is not polling).
    pub(crate) waiting_for_room: AtomicBool,
}

/// The worker's model and settings.
pub(crate) struct Worker {
    pub(crate) model: Weights,
    pub(crate) clock: quanta::Clock,
    pub(crate) shared: Arc<Shared>,
    /// Both threads on one core (or unknown topology): waiting yields instead of spinning.
    pub(crate) shared_core: bool,
    #[cfg(feature = "test-hooks")]
    pub(crate) panic_at_update: Option<u64>,
}

/// Marks the worker as gone when it leaves, however it leaves.
struct ExitGuard<'a>(&'a Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        // Release: the outputs it published happen-before a caller that sees the flag; the
        // caller then joins the thread, which orders everything else.
        self.0.exited.store(true, Ordering::Release);
    }
}

/// Each feed's score state and row count, grown when a feed's first book arrives.
struct FeedStates<'m> {
    model: &'m Weights,
    scores: Vec<ScoreState>,
    rows: Vec<u64>,
}

impl FeedStates<'_> {
    #[cold]
    #[inline(never)]
    fn grow(&mut self, feed: usize) {
        self.scores
            .resize_with(feed + 1, || ScoreState::new(self.model));
        self.rows.resize(feed + 1, 0);
    }

    /// Scores `u` (NaN and 0 when it was skipped, which leaves the feed's state as it was).
    #[inline]
    fn score(&mut self, u: &Update) -> Out {
        let f = u.feed as usize;
        if f >= self.rows.len() {
            self.grow(f);
        }
        let row = self.rows[f];
        self.rows[f] += 1;
        let (score, signal) = if u.skipped {
            (f64::NAN, 0)
        } else {
            let (bid_sz, ask_sz) = u.sizes();
            // A valid book's time is not negative (`check_book`), as in `Feed::encode_row`.
            let s = self.scores[f].score(u.ts as u64, u.px[0], u.px[1], &bid_sz, &ask_sz);
            (s, self.model.signal(s))
        };
        Out {
            ts: u.ts,
            row,
            score,
            pushed_at: u.pushed_at,
            emitted_at: 0,
            recv_ns: u.recv_ns,
            feed: u.feed,
            signal,
            skipped: u.skipped,
        }
    }
}

impl Worker {
    /// Runs until the lane is closed and drained, or `stop` is set.
    pub(crate) fn run(self, mut input: Receiver<Update>, mut output: Producer<Out>) {
        let _guard = ExitGuard(&self.shared);
        let mut states = FeedStates {
            model: &self.model,
            scores: Vec::new(),
            rows: Vec::new(),
        };
        let mut inbuf = [Update::default(); BATCH];
        let mut outbuf = [Out::default(); BATCH];
        let mut spins = 0u32;
        #[cfg(feature = "test-hooks")]
        let mut seen = 0u64;
        loop {
            let Ok(n) = input.pop_batch(&mut inbuf) else {
                return; // closed and drained
            };
            if n == 0 {
                // Waiting on an empty ring: ask for the next slot's lines meanwhile, so they
                // come over with the push that fills them.
                input.prefetch_unpublished();
                if !backoff(&mut spins, &self.shared.stop, self.shared_core, Spin::Pause) {
                    return;
                }
                continue;
            }
            spins = 0;
            // Once a batch, not in the scoring loop: a panic loses its whole batch anyway.
            #[cfg(feature = "test-hooks")]
            {
                if let Some(at) = self.panic_at_update {
                    assert!(
                        !(seen..seen + n as u64).contains(&at),
                        "injected session worker panic at update {at}"
                    );
                }
                seen += n as u64;
            }
            for (u, o) in inbuf[..n].iter().zip(&mut outbuf) {
                *o = states.score(u);
            }
            if !self.publish(&mut output, &mut outbuf[..n]) {
                return;
            }
        }
    }

    /// Stamps and pushes `outs`, waiting for room; false when stopped while waiting.
    ///
    /// The stamp is taken just before the outputs become readable; outputs that had to wait
    /// for room are stamped again when room came, so an emit time is when the caller could
    /// first have read the score.
    fn publish(&self, output: &mut Producer<Out>, outs: &mut [Out]) -> bool {
        let (mut sent, mut spins, mut waited) = (0, 0u32, false);
        loop {
            let now = stamp_after(&self.clock);
            for o in &mut outs[sent..] {
                o.emitted_at = now;
            }
            sent += output.push_batch(&outs[sent..]);
            if sent == outs.len() {
                if waited {
                    self.shared.waiting_for_room.store(false, Ordering::Relaxed);
                }
                return true;
            }
            if !waited {
                waited = true;
                self.shared.waiting_for_room.store(true, Ordering::Relaxed);
            }
            // The caller's poll frees room in its own time.
            if !backoff(&mut spins, &self.shared.stop, self.shared_core, Spin::Pause) {
                return false;
            }
        }
    }
}
