//! The WebSocket book machines: one venue protocol's data frames → exact books → outcomes.
//!
//! A [`BookMachine`] serves one venue's stream of one collector: it takes each data frame's
//! text as read from a connection, parses it (serde with borrowed strings; numbers kept as
//! their exact text), applies the venue's sequence and gap rule (and Kraken's CRC32) to the
//! book of that (connection, feed), and reports what happened as [`Event`]s: the book's new
//! top 5 (or that it did not move), a stale frame, a gap and why, a malformed frame, a REST
//! snapshot needed (Binance), or that the frame is not data at all ([`Event::Control`]:
//! acks, pongs, errors, welcomes stay with the caller). The caller owns connections, resyncs
//! and which connection feeds each symbol's rows; the machine owns the books.
//!
//! Frames are validated whole before anything is applied: a malformed frame changes no book
//! (the next frame's sequence or checksum then tells whether it mattered).

pub mod decimal;
pub mod levels;
mod wire;

mod binance;
mod bybit;
mod kraken;
mod kucoin;

use std::collections::HashMap;

pub use kraken::{checksum as kraken_checksum, rfc3339_ns};
pub use levels::{Top, Update};

use levels::{Book, TopKey};

/// A venue's WebSocket book protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Binance spot diff-depth stream, synced from REST snapshots.
    Binance,
    /// Bybit v5 `orderbook.<depth>` snapshots and deltas.
    Bybit,
    /// Kraken v2 `book` channel with its CRC32.
    Kraken,
    /// KuCoin `level2Depth5`: every message a whole top 5.
    Kucoin,
}

impl Protocol {
    /// The protocol of a venue name (`"binance"`, `"bybit"`, `"kraken"`, `"kucoin"`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "binance" => Self::Binance,
            "bybit" => Self::Bybit,
            "kraken" => Self::Kraken,
            "kucoin" => Self::Kucoin,
            _ => return None,
        })
    }
}

/// What one frame (or REST snapshot) did to one feed's book.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Not a data frame: the caller parses it (acks, pongs, errors, welcome).
    Control,
    /// The book was applied and is synced: its top 5 may make a row.
    Book {
        /// The feed (index into the machine's keys).
        feed: usize,
        /// The venue's book time, ns.
        ts: i64,
        /// The venue's update id, if it has one.
        seq: Option<i64>,
        /// The new top 5, or `None` when it is the one last reported for this book.
        top: Option<Top>,
        /// Whether this frame (re)synced the book (a snapshot; every KuCoin message).
        synced: bool,
    },
    /// A frame older than the book already holds: ignored.
    Stale {
        /// The feed.
        feed: usize,
    },
    /// A detected gap: the book was cleared and writes nothing until it is synced again.
    Gap {
        /// The feed.
        feed: usize,
        /// What was missed.
        why: String,
        /// Whether a checksum mismatch found it.
        checksum: bool,
    },
    /// A frame (or snapshot) that is not what the venue documents; nothing was applied.
    Malformed {
        /// The feed, for a REST snapshot; `None` for a frame.
        feed: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// Binance: the book needs a (fresh) REST snapshot, answered through
    /// [`BookMachine::snapshot`].
    Fetch {
        /// The feed.
        feed: usize,
    },
}

/// One side's levels, best first, as (price units, size units).
pub type Levels = Vec<(u128, u128)>;

/// One feed's settings.
#[derive(Clone, Debug)]
struct Feed {
    /// (price, size) scales; `None` until known (Kraken's pair precisions).
    scales: Option<(u32, u32)>,
    stopped: bool,
}

/// One (connection, feed)'s book and its sync state.
#[derive(Debug)]
pub(crate) struct FeedBook {
    pub book: Book,
    pub synced: bool,
    /// How new the book is: the venue's update id, else its book time (ns); -1 before any.
    pub pos: i64,
    /// The top last reported for this book.
    last: Option<TopKey>,
    /// Binance's buffered events and snapshot while syncing.
    pub sync: Option<Box<binance::Sync>>,
}

impl Default for FeedBook {
    fn default() -> Self {
        Self {
            book: Book::new(),
            synced: false,
            pos: -1,
            last: None,
            sync: None,
        }
    }
}

impl FeedBook {
    /// Cleared, unsynced, nothing reported (after a gap).
    pub fn reset(&mut self) {
        self.book.clear();
        self.synced = false;
        self.last = None;
        self.sync = None;
    }

    /// The book's top as an event: `None` when it is the one last reported.
    pub fn report(&mut self, feed: usize, ts: i64, seq: Option<i64>, synced: bool) -> Event {
        let (top, key) = self.book.top();
        let top = if self.last == Some(key) {
            None
        } else {
            self.last = Some(key);
            Some(top)
        };
        Event::Book {
            feed,
            ts,
            seq,
            top,
            synced,
        }
    }
}

/// One venue's books for every (connection, feed) of a collector.
#[derive(Debug)]
pub struct BookMachine {
    protocol: Protocol,
    keys: HashMap<String, usize>,
    feeds: Vec<Feed>,
    depth: Option<usize>,
    books: HashMap<(u32, usize), FeedBook>,
}

impl BookMachine {
    /// A machine for `keys` (each feed's name as its frames carry it: Binance's stream name,
    /// Bybit's and KuCoin's topic, Kraken's symbol), with each feed's (price, size) scales
    /// (`None`: not known yet, see [`Self::set_scales`]) and the depth books are truncated to
    /// (Bybit, Kraken).
    ///
    /// # Panics
    /// When `scales` and `keys` differ in length.
    pub fn new(
        protocol: Protocol,
        keys: &[String],
        scales: &[Option<(u32, u32)>],
        depth: Option<usize>,
    ) -> Self {
        assert_eq!(keys.len(), scales.len(), "one scale per key");
        Self {
            protocol,
            keys: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect(),
            feeds: scales
                .iter()
                .map(|&scales| Feed {
                    scales,
                    stopped: false,
                })
                .collect(),
            depth,
            books: HashMap::new(),
        }
    }

    /// Apply one frame read from `conn`; what it did is appended to `out`.
    pub fn apply(&mut self, conn: u32, frame: &str, out: &mut Vec<Event>) {
        match self.protocol {
            Protocol::Binance => binance::frame(self, conn, frame, out),
            Protocol::Bybit => bybit::frame(self, conn, frame, out),
            Protocol::Kraken => kraken::frame(self, conn, frame, out),
            Protocol::Kucoin => kucoin::frame(self, conn, frame, out),
        }
    }

    /// Binance: a REST depth snapshot for `feed`'s book on `conn` (ignored if that book is
    /// synced or gone, and for other protocols).
    pub fn snapshot(&mut self, conn: u32, feed: usize, body: &str, out: &mut Vec<Event>) {
        if self.protocol == Protocol::Binance {
            binance::snapshot(self, conn, feed, body, out);
        }
    }

    /// `conn` closed: its books are dropped.
    pub fn close(&mut self, conn: u32) {
        self.books.retain(|&(c, _), _| c != conn);
    }

    /// `feed` stops (an unknown symbol): its books are dropped and its frames ignored.
    pub fn stop(&mut self, feed: usize) {
        if let Some(f) = self.feeds.get_mut(feed) {
            f.stopped = true;
        }
        self.books.retain(|&(_, f), _| f != feed);
    }

    /// A gap the caller found: `feed`'s book on `conn` is cleared and unsynced.
    pub fn reset(&mut self, conn: u32, feed: usize) {
        if let Some(fb) = self.books.get_mut(&(conn, feed)) {
            fb.reset();
        }
    }

    /// `feed`'s (price, size) scales, once known.
    pub fn set_scales(&mut self, feed: usize, price: u32, size: u32) {
        if let Some(f) = self.feeds.get_mut(feed) {
            f.scales = Some((price, size));
        }
    }

    /// How new `feed`'s book on `conn` is (update id, else book time ns); -1 if none.
    pub fn pos(&self, conn: u32, feed: usize) -> i64 {
        self.books.get(&(conn, feed)).map_or(-1, |fb| fb.pos)
    }

    /// Whether `feed`'s book on `conn` is synced.
    pub fn synced(&self, conn: u32, feed: usize) -> bool {
        self.books.get(&(conn, feed)).is_some_and(|fb| fb.synced)
    }

    /// The levels of `feed`'s book on `conn`, best first: (bids, asks) as (price, size) units.
    pub fn levels(&self, conn: u32, feed: usize) -> Option<(Levels, Levels)> {
        let fb = self.books.get(&(conn, feed))?;
        Some((fb.book.bids.best().collect(), fb.book.asks.best().collect()))
    }

    /// The feed a frame names, if it is collected (not stopped).
    pub(crate) fn feed_of(&self, key: &str) -> Option<usize> {
        let &feed = self.keys.get(key)?;
        (!self.feeds[feed].stopped).then_some(feed)
    }

    /// Whether a frame names a feed this machine collects.
    pub(crate) fn knows(&self, key: &str) -> bool {
        self.feed_of(key).is_some()
    }

    /// The feed's scales, or why there are none.
    pub(crate) fn scales(&self, feed: usize) -> Result<(u32, u32), String> {
        self.feeds[feed]
            .scales
            .ok_or_else(|| "the pair's precisions are not known yet".to_owned())
    }

    /// The book of (conn, feed), made on first use.
    pub(crate) fn book(&mut self, conn: u32, feed: usize) -> &mut FeedBook {
        self.books.entry((conn, feed)).or_default()
    }

    /// The depth books are truncated to, if any.
    pub(crate) fn depth(&self) -> Option<usize> {
        self.depth
    }
}

/// A frame the typed parse refused: not data (the caller's), a feed not collected (ignored),
/// or a malformed data frame. `data_key` tells from the parsed JSON whether it is a data
/// frame, and the feed key it names (`Err` when the key itself is not a string).
pub(crate) fn refused(
    m: &BookMachine,
    frame: &str,
    err: &serde_json::Error,
    data_key: impl Fn(&serde_json::Value) -> Option<Result<Vec<String>, ()>>,
    out: &mut Vec<Event>,
) {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(frame) else {
        out.push(Event::Control); // not JSON as serde reads it: the caller's parser decides
        return;
    };
    match data_key(&doc) {
        None => out.push(Event::Control),
        Some(Ok(keys)) if !keys.iter().any(|k| m.knows(k)) => {}
        Some(_) => out.push(Event::Malformed {
            feed: None,
            why: err.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
