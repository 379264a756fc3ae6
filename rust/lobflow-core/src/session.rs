//! A resident engine: one pinned worker thread that stays up for a whole live session, scores
//! books pushed one at a time for several feeds, and hands the signals back through a second
//! lock-free ring that the caller polls without blocking.
//!
//! ```text
//! caller (push)                       worker (pinned)                      caller (poll)
//!  check_book ─▶ input lane (SPSC) ─▶ per-feed ScoreState ─▶ output ring (SPSC) ─▶ Signal
//! ```
//!
//! - **Parity**: a book is checked with the rules `Engine::run` applies to a row
//!   ([`crate::feed::Feed::check_row`], per feed: each feed's time must not go back), and
//!   scored by the same [`ScoreState`](crate::scoring::ScoreState) code on the same inputs:
//!   level-0 prices and sizes as the caller's f64s, deeper sizes through `as f32` as the
//!   88-byte tick carries them. `Engine::run` over a feed's pushed books (skipping the bad
//!   ones) gives the same scores bit for bit whenever it reports `max_price_error == 0` and
//!   `max_size_error == 0`: its tick then decodes to the very same f64s (docs/session.md).
//! - **Bad books** are skipped and counted per feed (score NaN, signal 0, outside the feed's
//!   OFI and windows), as `Engine::run` does with `OnBad::Skip`.
//! - **Backpressure**: nothing is dropped. When the caller stops polling, the output ring
//!   fills and the worker waits; then the input ring fills, and a push waits at most
//!   [`SessionOptions::push_timeout`] before it fails with [`Error::Backpressure`] saying why.
//! - **Close** drains: every pushed book is scored, the worker is joined (a panic becomes
//!   [`Error::WorkerPanicked`]), and the signals not yet polled stay readable by `poll`.
//!   Dropping a session closes it.
//! - **Latency**: each [`Signal`] carries its push and emit times on the session's clock (the
//!   engine's fenced TSC reads) and the receive time the caller gave with the push
//!   ([`Session::now_ns`] is that clock); `poll` records push → emit and receive → emit in
//!   hdrhistograms that [`Session::stats`] summarises.
//!
//! Each side holds its own lock (push: the input, poll: the output), so one thread may push
//! while another polls; the worker shares nothing with them but the rings and three flags.

mod feeds;
pub mod lane;
mod options;
mod record;
mod stats;
mod worker;

pub use options::SessionOptions;
pub use record::{Book, Signal, SIGNAL_FIELD_OFFSETS, SIGNAL_SIZE};
pub use stats::{FeedStats, SessionStats, SkipCount};

// The engine's pieces a session shares, imported in one place.
use crate::clock::stamp_after;
use crate::engine::{backoff, panic_message, Engine, LatencySummary, Spin};
use crate::engine::{new_histogram, record, summarize};
use crate::weights::Weights;

use crate::error::{Error, Result};
use crate::pin::{self, PinReport};
use crate::ring::{Consumer, PushError, RingBuffer};
use feeds::{check_book, Feeds};
use lane::Sender;
use record::{Out, Update, NO_RECV};
use stats::Polled;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use worker::{Shared, Worker};

/// How often a waiting push or close calls the caller's `poll` (Ctrl-C checks).
const POLL_EVERY: Duration = Duration::from_millis(50);
/// Signals taken off the output ring at a time.
const POLL_BATCH: usize = 64;

/// A live session: see the module docs. Built by [`Engine::session`].
pub struct Session {
    input: Mutex<Input>,
    output: Mutex<OutputSide>,
    worker: Mutex<Reaped>,
    shared: Arc<Shared>,
    clock: quanta::Clock,
    /// Raw clock reading at the start: the session's times are ns since it.
    origin: u64,
    push_timeout: Duration,
    capacity: usize,
    out_capacity: usize,
    pin: PinReport,
    caller_pinned: Option<bool>,
    worker_pinned: bool,
}

/// The pushing side.
struct Input {
    /// `None` once closed.
    tx: Option<Sender<Update>>,
    feeds: Feeds,
    /// Pushes that found the ring full.
    waits: u64,
}

/// The polling side.
struct OutputSide {
    rx: Consumer<Out>,
    /// Signals taken off the ring while closing, for `poll`.
    held: VecDeque<Out>,
    polled: Polled,
}

/// The worker's thread, until joined, and how it ended.
struct Reaped {
    handle: Option<JoinHandle<()>>,
    panic: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// Starts a live session with this engine's model: one worker thread, pinned (best
    /// effort) to the second of the session's cores, that scores every book pushed until the
    /// session is closed. Feeds are added with [`Session::add_feed`].
    ///
    /// # Errors
    /// [`Error::Config`] when the model's windows are not ones a session can honour
    /// ([`SessionOptions::check_windows`]) or the thread cannot start;
    /// [`Error::Capacity`] / [`Error::RingAlloc`] for a ring size that is not a power of two
    /// or cannot be allocated.
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::engine::{Engine, EngineConfig};
    /// use lobflow_core::weights::Weights;
    /// use lobflow_core::session::SessionOptions;
    ///
    /// let mut coef = [0.0; 18];
    /// coef[1] = 1.0; // the spread
    /// let w = Weights { windows_ms: [10, 20, 50], threshold: 0.5, bias: 0.0, coef };
    /// let engine = Engine::new(w, EngineConfig { capacity: 1024, cores: Some([0, 1]) }).unwrap();
    /// let session = engine.session(&SessionOptions::default()).unwrap();
    /// let btc = session.add_feed("binance", "BTC-USDT").unwrap();
    /// let mut book = [1.0; 20];
    /// book[0] = 100.0; // bid_px_0
    /// book[10] = 101.0; // ask_px_0
    /// session.push(btc, 1_000, &book, None, &mut || true).unwrap();
    /// session.close(&mut || true).unwrap();
    /// let mut out = Vec::new();
    /// session.poll(&mut out, usize::MAX).unwrap();
    /// assert_eq!((out[0].score, out[0].signal), (1.0, 1));
    /// ```
    pub fn session(&self, opts: &SessionOptions) -> Result<Session> {
        Session::start(self.weights().clone(), self.config().cores, opts)
    }
}

impl Session {
    fn start(
        model: Weights,
        engine_cores: Option<[usize; 2]>,
        opts: &SessionOptions,
    ) -> Result<Self> {
        opts.check_windows(model.windows_ms)?;
        let clock = quanta::Clock::new();
        let origin = stamp_after(&clock);
        let (tx, rx) = lane::lane::<Update>(opts.capacity)?;
        let (out_tx, out_rx) = RingBuffer::<Out>::new(opts.out_capacity)?;
        let plan = pin::plan(opts.cores.or(engine_cores));
        // Unknown topology counts as shared: yielding is the safe choice there.
        let shared_core = plan.used[0] == plan.used[1] || plan.available.is_empty();
        let caller_pinned = opts.pin_caller.then(|| pin::pin_current(plan.used[0]));
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            model,
            clock: clock.clone(),
            shared: Arc::clone(&shared),
            shared_core,
            #[cfg(feature = "test-hooks")]
            panic_at_update: opts.panic_at_update,
        };
        let core = plan.used[1];
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("lobflow-session".into())
            .spawn(move || {
                let _ = ready_tx.send(pin::pin_current(core));
                worker.run(rx, out_tx);
            })
            .map_err(|e| Error::Config(format!("cannot start the session's worker: {e}")))?;
        // The pin's outcome, once: a worker that died before reporting it is reported by the
        // first push or poll.
        let worker_pinned = ready_rx.recv().unwrap_or(false);
        Ok(Self {
            input: Mutex::new(Input {
                tx: Some(tx),
                feeds: Feeds::default(),
                waits: 0,
            }),
            output: Mutex::new(OutputSide {
                rx: out_rx,
                held: VecDeque::new(),
                polled: Polled::new(),
            }),
            worker: Mutex::new(Reaped {
                handle: Some(handle),
                panic: None,
            }),
            shared,
            clock,
            origin,
            push_timeout: opts.push_timeout,
            capacity: opts.capacity,
            out_capacity: opts.out_capacity,
            pin: plan,
            caller_pinned,
            worker_pinned,
        })
    }

    /// Adds feed `(exchange, symbol)` and returns its id (0, 1, … in order of addition).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty name or a feed the session already has;
    /// [`Error::SessionClosed`] after close.
    pub fn add_feed(&self, exchange: &str, symbol: &str) -> Result<u32> {
        let mut input = lock(&self.input);
        if input.tx.is_none() {
            return Err(closed("no feed can be added"));
        }
        input.feeds.add(exchange, symbol)
    }

    /// The id of feed `(exchange, symbol)`, if the session has it.
    pub fn feed_id(&self, exchange: &str, symbol: &str) -> Option<u32> {
        lock(&self.input).feeds.id(exchange, symbol)
    }

    /// The session's clock: ns since it started, from the same fenced TSC reads that stamp
    /// pushes and emits. Stamp a frame's arrival with it and pass that as a push's `recv_ns`.
    pub fn now_ns(&self) -> u64 {
        self.clock
            .delta_as_nanos(self.origin, stamp_after(&self.clock))
    }

    /// Checks `book` (feed `feed`, time `ts` in ns since the Unix epoch) and queues it for the
    /// worker, without ever waiting: `Ok(false)` when the input ring is full or another thread
    /// is pushing, and then nothing was queued or counted. A book that breaks the contract is
    /// queued too, to be skipped (score NaN, signal 0) and counted.
    ///
    /// # Errors
    /// [`Error::UnknownFeed`], [`Error::SessionClosed`], [`Error::WorkerPanicked`] (the
    /// worker died: its panic), [`Error::Config`] for a `recv_ns` from 2^63 on.
    #[inline]
    pub fn try_push(&self, feed: u32, ts: i64, book: &Book, recv_ns: Option<u64>) -> Result<bool> {
        let mut input = match self.input.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Ok(false),
        };
        self.offer(&mut input, feed, ts, book, recv_ns)
    }

    /// [`Self::try_push`], waiting for room up to the session's push timeout. `poll` is called
    /// every 50 ms while it waits; returning false stops the wait with [`Error::Interrupted`].
    ///
    /// # Errors
    /// As [`Self::try_push`]; [`Error::Backpressure`] when the timeout passed (saying whether
    /// the output ring was full, i.e. the caller was not polling, or the worker was behind);
    /// [`Error::Interrupted`].
    pub fn push(
        &self,
        feed: u32,
        ts: i64,
        book: &Book,
        recv_ns: Option<u64>,
        poll: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        let mut input = lock(&self.input);
        self.push_locked(&mut input, feed, ts, book, recv_ns, poll)
    }

    /// Pushes books in order (`feeds[i]`, `ts[i]`, `books[i]`, `recv_ns[i]`), each as
    /// [`Self::push`] would, holding the input side throughout.
    ///
    /// # Errors
    /// [`Error::FeedShape`] when the slices' lengths differ and [`Error::UnknownFeed`] for an
    /// id the session does not have, both before anything is pushed; then as
    /// [`Self::push`], the books before the failing one having gone in (a backpressure
    /// error says how many).
    pub fn push_many(
        &self,
        feeds: &[u32],
        ts: &[i64],
        books: &[Book],
        recv_ns: Option<&[u64]>,
        poll: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        let n = feeds.len();
        if ts.len() != n || books.len() != n || recv_ns.is_some_and(|r| r.len() != n) {
            return Err(Error::FeedShape(format!(
                "push_many needs as many ts, books and recv_ns as feeds ({n}), got {}, {} and {}",
                ts.len(),
                books.len(),
                recv_ns.map_or_else(|| "none".into(), |r| r.len().to_string())
            )));
        }
        let mut input = lock(&self.input);
        if let Some(&bad) = feeds.iter().find(|&&f| f as usize >= input.feeds.len()) {
            input.feeds.get(bad)?;
        }
        for i in 0..n {
            let recv = recv_ns.map(|r| r[i]);
            self.push_locked(&mut input, feeds[i], ts[i], &books[i], recv, poll)
                .map_err(|e| match e {
                    Error::Backpressure { waited_ms, reason } => Error::Backpressure {
                        waited_ms,
                        reason: format!("{reason} ({i} of the {n} books of this batch went in)"),
                    },
                    other => other,
                })?;
        }
        Ok(())
    }

    fn push_locked(
        &self,
        input: &mut Input,
        feed: u32,
        ts: i64,
        book: &Book,
        recv_ns: Option<u64>,
        poll: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        if self.offer(input, feed, ts, book, recv_ns)? {
            return Ok(());
        }
        input.waits += 1;
        let started = Instant::now();
        let mut last_poll = started;
        let mut spins = 0u32;
        loop {
            // The worker frees slots within microseconds when it is merely behind: spin a
            // little, then sleep in short steps.
            if spins < 1024 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
            if self.offer(input, feed, ts, book, recv_ns)? {
                return Ok(());
            }
            let now = Instant::now();
            let waited = now - started;
            if waited >= self.push_timeout {
                return Err(self.backpressure(input, waited));
            }
            if now - last_poll >= POLL_EVERY {
                last_poll = now;
                if !poll() {
                    return Err(Error::Interrupted);
                }
            }
        }
    }

    /// Checks a book and pushes it once: true when it went in (and is counted).
    #[inline]
    fn offer(
        &self,
        input: &mut Input,
        feed: u32,
        ts: i64,
        book: &Book,
        recv_ns: Option<u64>,
    ) -> Result<bool> {
        let Input { tx, feeds, .. } = input;
        let Some(tx) = tx.as_mut() else {
            return Err(closed("no book can be pushed"));
        };
        // Acquire pairs with the worker's exit guard; a dead worker would never free a slot.
        if self.shared.exited.load(Ordering::Acquire) {
            return Err(self
                .failure()
                .unwrap_or_else(|| closed("its worker has stopped")));
        }
        let last_ts = feeds.get(feed)?.last_ts;
        let recv = match recv_ns {
            None => NO_RECV,
            Some(ns) if ns < 1 << 63 => ns,
            Some(ns) => {
                return Err(Error::Config(format!(
                    "recv_ns must be a time from now_ns() (below 2^63 ns), got {ns}"
                )))
            }
        };
        let bad = check_book(ts, book, last_ts);
        let mut update = Update::new(feed, ts, book, bad.is_some());
        update.recv_ns = recv;
        update.pushed_at = stamp_after(&self.clock);
        match tx.push(update) {
            Ok(()) => {
                feeds.commit(feed, ts, bad);
                Ok(true)
            }
            Err(PushError::Full(_)) => Ok(false),
        }
    }

    /// The error for a push that waited `waited` in vain, saying which side was full.
    #[cold]
    fn backpressure(&self, input: &Input, waited: Duration) -> Error {
        let reason = if self.shared.waiting_for_room.load(Ordering::Relaxed) {
            format!(
                "the session's output queue is full ({} signals not polled) and its worker \
                 waits for room: call poll() more often, or give the session a larger \
                 out_capacity",
                self.out_capacity
            )
        } else {
            let queued = input.tx.as_ref().map_or(0, |tx| tx.capacity() - tx.slots());
            format!(
                "the session's input ring is full ({queued} books queued) and its worker is not \
                 keeping up with the pushes"
            )
        };
        Error::Backpressure {
            waited_ms: waited.as_millis() as u64,
            reason,
        }
    }

    /// Appends up to `max` signals to `out`, oldest first, without waiting; returns how many.
    /// After close, the signals the session took off the ring while draining come first.
    ///
    /// # Errors
    /// [`Error::WorkerPanicked`] once nothing is left to read and the worker has died.
    pub fn poll(&self, out: &mut Vec<Signal>, max: usize) -> Result<usize> {
        let n = {
            let mut side = lock(&self.output);
            let side = &mut *side;
            let mut n = 0;
            while n < max {
                let Some(o) = side.held.pop_front() else {
                    break;
                };
                let s = Signal::from_out(&o, &self.clock, self.origin);
                side.polled.record(&s);
                out.push(s);
                n += 1;
            }
            let mut buf = [Out::default(); POLL_BATCH];
            while n < max {
                let want = (max - n).min(POLL_BATCH);
                let got = side.rx.pop_batch(&mut buf[..want]);
                for o in &buf[..got] {
                    let s = Signal::from_out(o, &self.clock, self.origin);
                    side.polled.record(&s);
                    out.push(s);
                }
                n += got;
                if got < want {
                    break;
                }
            }
            n
        };
        if n == 0 {
            if let Some(e) = self.failure() {
                return Err(e);
            }
        }
        Ok(n)
    }

    /// Closes the session: no more pushes; every pushed book is scored, the worker is joined,
    /// and the signals not yet polled stay readable by [`Self::poll`]. Closing again is a
    /// no-op. `poll` is called every 50 ms while it waits; returning false stops the worker
    /// without draining ([`Error::Interrupted`]).
    ///
    /// # Errors
    /// [`Error::WorkerPanicked`] when the worker died (its panic); [`Error::Interrupted`].
    pub fn close(&self, poll: &mut dyn FnMut() -> bool) -> Result<SessionStats> {
        // Dropping the sender closes the lane: the worker drains it and leaves.
        let closing = lock(&self.input).tx.take().is_some();
        let (mut interrupted, mut last_poll, mut spins) = (false, Instant::now(), 0u32);
        // Acquire pairs with the worker's exit guard.
        while !self.shared.exited.load(Ordering::Acquire) {
            // Take its outputs meanwhile, so that it never waits for room.
            self.hold_outputs();
            if spins < 256 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if last_poll.elapsed() >= POLL_EVERY {
                last_poll = Instant::now();
                if !interrupted && !poll() {
                    interrupted = true;
                    self.shared.stop.store(true, Ordering::Release);
                }
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let failure = self.failure();
        self.hold_outputs();
        if let Some(e) = failure {
            return Err(e);
        }
        if interrupted && closing {
            return Err(Error::Interrupted);
        }
        Ok(self.stats())
    }

    /// Moves whatever is in the output ring into the held queue.
    fn hold_outputs(&self) {
        let mut side = lock(&self.output);
        let side = &mut *side;
        while let Ok(o) = side.rx.pop() {
            side.held.push_back(o);
        }
    }

    /// The worker's panic, once it has exited (joining it the first time).
    fn failure(&self) -> Option<Error> {
        if !self.shared.exited.load(Ordering::Acquire) {
            return None;
        }
        let mut reaped = lock(&self.worker);
        if let Some(handle) = reaped.handle.take() {
            if let Err(p) = handle.join() {
                reaped.panic = Some(panic_message(&p));
            }
        }
        reaped
            .panic
            .as_ref()
            .map(|m| Error::WorkerPanicked(m.clone()))
    }

    /// The session's feeds, counts and latency percentiles so far.
    pub fn stats(&self) -> SessionStats {
        let input = lock(&self.input);
        let output = lock(&self.output);
        let slots = input.feeds.slots();
        let pushed = slots.iter().map(|s| s.pushed).sum::<u64>();
        let polled = output.polled.total();
        let (push_to_emit, recv_to_emit) = output.polled.latencies();
        SessionStats {
            feeds: output.polled.feed_stats(slots),
            pushed,
            skipped: slots.iter().map(|s| s.skipped).sum(),
            polled,
            pending: pushed - polled,
            push_waits: input.waits,
            push_to_emit,
            recv_to_emit,
            pin: self.pin.clone(),
            caller_pinned: self.caller_pinned,
            worker_pinned: self.worker_pinned,
            capacity: self.capacity,
            out_capacity: self.out_capacity,
            uptime_ns: self.now_ns(),
            closed: input.tx.is_none(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.close(&mut || true);
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("pin", &self.pin)
            .field("capacity", &self.capacity)
            .field("out_capacity", &self.out_capacity)
            .finish_non_exhaustive()
    }
}

fn closed(what: &str) -> Error {
    Error::SessionClosed(format!("the session is closed: {what}"))
}
