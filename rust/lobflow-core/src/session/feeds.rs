//! A session's feeds on the caller's side: their names, the time of each one's last valid
//! book (the contract's "time must not go back" is per feed), and what was pushed and skipped.

use crate::error::{Error, Result};
use crate::feed::{Bad, Feed};
use crate::session::record::Book;

/// Checks one book against the rules `Engine::run` applies to a feed row
/// ([`Feed::check_row`], on a one-row view of the book), `last_ts` being the time of the
/// feed's last valid book (`i64::MIN` before the first).
#[inline]
pub(crate) fn check_book(ts: i64, book: &Book, last_ts: i64) -> Option<Bad> {
    let ts = [ts];
    let one_row = Feed {
        ts: &ts,
        cols: std::array::from_fn(|c| std::slice::from_ref(&book[c])),
    };
    one_row.check_row(0, last_ts)
}

/// One feed's record on the caller's side.
#[derive(Clone, Debug)]
pub(crate) struct FeedSlot {
    pub(crate) exchange: String,
    pub(crate) symbol: String,
    /// The last valid book's time (`i64::MIN` before the first).
    pub(crate) last_ts: i64,
    /// Books pushed, skipped ones included: the next book's row.
    pub(crate) pushed: u64,
    /// Books skipped.
    pub(crate) skipped: u64,
    /// How many books were skipped for each reason, in order of first sight.
    pub(crate) reasons: Vec<(Bad, u64)>,
    /// The last skipped book: its row, why, and the feed's last valid time then.
    pub(crate) last_bad: Option<(u64, Bad, i64)>,
}

impl FeedSlot {
    /// A sentence on the last skipped book, naming the feed, its row and column.
    pub(crate) fn last_bad_message(&self) -> Option<String> {
        let (row, bad, prev) = self.last_bad?;
        let what = match bad.column {
            None if prev != i64::MIN && bad.why.starts_with("timestamp decreases") => format!(
                "{} (the feed's last valid book was at {prev} ns; one far ahead makes every \
                 later book go back)",
                bad.why
            ),
            _ => bad.why.to_string(),
        };
        Some(format!(
            "feed ({}, {}) row {row}, column `{}`: {what}",
            self.exchange,
            self.symbol,
            bad.column_name()
        ))
    }
}

/// The feeds of a session, by id (their index).
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    slots: Vec<FeedSlot>,
}

impl Feeds {
    /// Adds feed `(exchange, symbol)` and returns its id.
    pub(crate) fn add(&mut self, exchange: &str, symbol: &str) -> Result<u32> {
        if exchange.is_empty() || symbol.is_empty() {
            return Err(Error::Config(format!(
                "a feed needs an exchange and a symbol, got ({exchange:?}, {symbol:?})"
            )));
        }
        if let Some(id) = self.id(exchange, symbol) {
            return Err(Error::Config(format!(
                "feed ({exchange}, {symbol}) is already feed {id} of this session"
            )));
        }
        let id = u32::try_from(self.slots.len())
            .map_err(|_| Error::Config("a session holds at most 2^32 feeds".into()))?;
        self.slots.push(FeedSlot {
            exchange: exchange.to_string(),
            symbol: symbol.to_string(),
            last_ts: i64::MIN,
            pushed: 0,
            skipped: 0,
            reasons: Vec::new(),
            last_bad: None,
        });
        Ok(id)
    }

    /// The id of feed `(exchange, symbol)`, if the session has it.
    pub(crate) fn id(&self, exchange: &str, symbol: &str) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.exchange == exchange && s.symbol == symbol)
            .map(|i| i as u32)
    }

    /// Feed `id`'s record.
    ///
    /// # Errors
    /// [`Error::UnknownFeed`] when the session has no feed `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Result<&FeedSlot> {
        self.slots.get(id as usize).ok_or(Error::UnknownFeed {
            id: u64::from(id),
            feeds: self.slots.len(),
        })
    }

    /// Records that a book of feed `id` at `ts` went into the ring, `bad` saying why it was
    /// skipped if it was.
    #[inline]
    pub(crate) fn commit(&mut self, id: u32, ts: i64, bad: Option<Bad>) {
        let slot = &mut self.slots[id as usize];
        let row = slot.pushed;
        slot.pushed += 1;
        match bad {
            None => slot.last_ts = ts,
            Some(bad) => {
                slot.skipped += 1;
                slot.last_bad = Some((row, bad, slot.last_ts));
                match slot.reasons.iter_mut().find(|(b, _)| *b == bad) {
                    Some((_, n)) => *n += 1,
                    None => slot.reasons.push((bad, 1)),
                }
            }
        }
    }

    /// Every feed's record, by id.
    pub(crate) fn slots(&self) -> &[FeedSlot] {
        &self.slots
    }

    /// Number of feeds.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::{check_book, Feeds};
    use crate::error::Error;
    use crate::session::record::Book;

    fn book() -> Book {
        let mut b = [1.0; 20];
        for k in 0..5 {
            b[k] = 100.0 - k as f64;
            b[10 + k] = 101.0 + k as f64;
        }
        b
    }

    #[test]
    fn the_rules_are_the_feed_rows_rules() {
        assert_eq!(check_book(5, &book(), 5), None, "equal times are fine");
        let cases: [(usize, f64, &str); 5] = [
            (0, f64::NAN, "bid_px_0"),
            (10, 99.0, "ask_px_0"),  // crossed
            (10, 100.0, "ask_px_0"), // locked
            (7, -1.0, "bid_sz_2"),
            (19, f64::INFINITY, "ask_sz_4"),
        ];
        for (col, v, name) in cases {
            let mut b = book();
            b[col] = v;
            assert_eq!(check_book(5, &b, 0).unwrap().column_name(), name);
        }
        assert_eq!(check_book(4, &book(), 5).unwrap().column_name(), "ts");
        assert_eq!(
            check_book(-1, &book(), i64::MIN).unwrap().column_name(),
            "ts"
        );
        // Deeper prices feed nothing and may be empty.
        let mut b = book();
        b[4] = f64::NAN;
        assert_eq!(check_book(5, &b, 0), None);
    }

    #[test]
    fn feeds_are_named_once_and_skips_are_counted_by_reason() {
        let mut feeds = Feeds::default();
        assert_eq!(feeds.add("binance", "BTC-USDT").unwrap(), 0);
        assert_eq!(feeds.add("bybit", "BTC-USDT").unwrap(), 1);
        assert!(feeds.add("binance", "BTC-USDT").is_err());
        assert!(feeds.add("", "BTC-USDT").is_err());
        assert_eq!(feeds.id("bybit", "BTC-USDT"), Some(1));
        assert!(matches!(
            feeds.get(2),
            Err(Error::UnknownFeed { id: 2, feeds: 2 })
        ));
        let mut b = book();
        b[10] = 99.0;
        let crossed = check_book(10, &b, i64::MIN);
        feeds.commit(1, 10, None);
        feeds.commit(1, 11, crossed);
        feeds.commit(1, 12, crossed);
        feeds.commit(1, 9, check_book(9, &book(), 10));
        let slot = feeds.get(1).unwrap();
        assert_eq!((slot.pushed, slot.skipped, slot.last_ts), (4, 3, 10));
        assert_eq!(slot.reasons.len(), 2);
        assert_eq!(slot.reasons[0].1, 2);
        let msg = slot.last_bad_message().unwrap();
        assert!(
            msg.contains("(bybit, BTC-USDT) row 3, column `ts`"),
            "{msg}"
        );
        assert!(msg.contains("at 10 ns"), "{msg}");
        assert_eq!(feeds.get(0).unwrap().pushed, 0);
    }
}
