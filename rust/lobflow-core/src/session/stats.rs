//! What a session reports: per feed, books pushed, skipped (and why) and polled, the last
//! score; overall, push → emit and receive → emit latency percentiles (hdrhistogram).
//!
//! The latencies are recorded on the caller's side as `poll` hands each signal over, from the
//! stamps it carries: the worker's loop only stamps, and nothing is shared between the threads
//! but the rings.

use super::feeds::FeedSlot;
use super::record::Signal;
use super::{new_histogram, record, summarize, LatencySummary};
use crate::pin::PinReport;

/// How many books of a feed were skipped for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipCount {
    /// The contract column at fault (`ts` for time).
    pub column: &'static str,
    /// What was wrong.
    pub why: &'static str,
    /// Books skipped for it.
    pub count: u64,
}

/// One feed of a session.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedStats {
    /// The feed's exchange.
    pub exchange: String,
    /// The feed's symbol.
    pub symbol: String,
    /// Books pushed (skipped ones included).
    pub pushed: u64,
    /// Books that broke the contract and were skipped (score NaN, signal 0).
    pub skipped: u64,
    /// Skipped books by reason, in order of first sight.
    pub skip_reasons: Vec<SkipCount>,
    /// The last skipped book: feed, row, column and why.
    pub last_bad: Option<String>,
    /// Signals handed to the caller by `poll`.
    pub polled: u64,
    /// The last polled signal's book time, score and signal (of a scored book).
    pub last: Option<(i64, f64, i8)>,
}

/// A session's state and latencies ([`crate::session::Session::stats`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionStats {
    /// Each feed, by id.
    pub feeds: Vec<FeedStats>,
    /// Books pushed, all feeds.
    pub pushed: u64,
    /// Books skipped, all feeds.
    pub skipped: u64,
    /// Signals handed to the caller by `poll`, all feeds.
    pub polled: u64,
    /// Pushed books whose signals the caller has not polled yet (in either ring, being
    /// scored, or held by a closed session for `poll`).
    pub pending: u64,
    /// Pushes that found the input ring full and waited for room.
    pub push_waits: u64,
    /// Push → emit latency of the polled signals (scored and skipped alike).
    pub push_to_emit: LatencySummary,
    /// Receive → emit latency of the polled signals pushed with a receive time: wire to
    /// signal, where the caller stamps a frame's arrival with `now_ns`.
    pub recv_to_emit: LatencySummary,
    /// Where the caller and worker were asked to run and where they ran.
    pub pin: PinReport,
    /// Whether the OS accepted the caller's pin (`None`: not asked).
    pub caller_pinned: Option<bool>,
    /// Whether the OS accepted the worker's pin.
    pub worker_pinned: bool,
    /// Input ring capacity, books.
    pub capacity: usize,
    /// Output ring capacity, signals.
    pub out_capacity: usize,
    /// Time since the session started, ns.
    pub uptime_ns: u64,
    /// Whether the session is closed.
    pub closed: bool,
}

/// A feed's last scored book as polled: (time, score, signal).
type Last = Option<(i64, f64, i8)>;

/// What `poll` has handed over, per feed and overall, with the latency histograms.
pub(crate) struct Polled {
    /// Per feed: signals polled, and the last scored one.
    per_feed: Vec<(u64, Last)>,
    total: u64,
    push_to_emit: hdrhistogram::Histogram<u64>,
    recv_to_emit: hdrhistogram::Histogram<u64>,
}

impl Polled {
    pub(crate) fn new() -> Self {
        Self {
            per_feed: Vec::new(),
            total: 0,
            // Fixed size (1 ns to a minute, 3 significant digits), however long the session.
            push_to_emit: new_histogram(),
            recv_to_emit: new_histogram(),
        }
    }

    /// Accounts for `s`, handed to the caller.
    #[inline]
    pub(crate) fn record(&mut self, s: &Signal) {
        let f = s.feed as usize;
        if f >= self.per_feed.len() {
            self.per_feed.resize(f + 1, (0, None));
        }
        let slot = &mut self.per_feed[f];
        slot.0 += 1;
        if s.skipped == 0 {
            slot.1 = Some((s.ts, s.score, s.signal));
        }
        self.total += 1;
        record(&mut self.push_to_emit, s.emit_ns.saturating_sub(s.push_ns));
        // A receive time after the emit (a stamp from another clock) is not a latency.
        if let Ok(recv) = u64::try_from(s.recv_ns) {
            if recv <= s.emit_ns {
                record(&mut self.recv_to_emit, s.emit_ns - recv);
            }
        }
    }

    /// Signals handed over so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The per-feed stats of `slots` with what was polled of each.
    pub(crate) fn feed_stats(&self, slots: &[FeedSlot]) -> Vec<FeedStats> {
        slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (polled, last) = self.per_feed.get(i).copied().unwrap_or((0, None));
                FeedStats {
                    exchange: s.exchange.clone(),
                    symbol: s.symbol.clone(),
                    pushed: s.pushed,
                    skipped: s.skipped,
                    skip_reasons: s
                        .reasons
                        .iter()
                        .map(|(bad, count)| SkipCount {
                            column: bad.column_name(),
                            why: bad.why,
                            count: *count,
                        })
                        .collect(),
                    last_bad: s.last_bad_message(),
                    polled,
                    last,
                }
            })
            .collect()
    }

    /// The two latency summaries, (push → emit, receive → emit).
    pub(crate) fn latencies(&self) -> (LatencySummary, LatencySummary) {
        (
            summarize(&self.push_to_emit, 1),
            summarize(&self.recv_to_emit, 1),
        )
    }
}
