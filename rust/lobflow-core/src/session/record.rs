//! What crosses a session's two rings: a checked book on the way in, its score on the way out,
//! and the [`Signal`] the caller reads.

use std::mem::{offset_of, size_of};

/// A top-5 book in the contract's column order ([`crate::feed::BOOK_COLUMNS`]): bid prices,
/// bid sizes, ask prices, ask sizes, five each, best first.
pub type Book = [f64; 20];

/// The `recv_ns` of an update pushed without one.
pub(crate) const NO_RECV: u64 = u64::MAX;

/// A book on its way to the worker: what the score reads of it, as `Engine::run`'s worker
/// reads it. Level-0 prices and sizes are the caller's f64s (`Engine::run` decodes its
/// tick's to the same f64s wherever its replay reports `max_price_error == 0` and
/// `max_size_error == 0`); deeper sizes are the f32s its tick carries them as.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Update {
    /// Book time, ns since the Unix epoch.
    pub(crate) ts: i64,
    /// The feed's id.
    pub(crate) feed: u32,
    /// The book broke the contract: the worker emits NaN and 0 and leaves the feed's state.
    pub(crate) skipped: bool,
    /// `bid_px_0`, `ask_px_0`.
    pub(crate) px: [f64; 2],
    /// `bid_sz_0`, `ask_sz_0`.
    pub(crate) sz0: [f64; 2],
    /// `bid_sz_1..=4` and `ask_sz_1..=4`, as f32 (the 88-byte tick's deeper sizes).
    pub(crate) deep: [[f32; 4]; 2],
    /// Raw clock reading just before the push.
    pub(crate) pushed_at: u64,
    /// The caller's receive time, ns on the session's clock, or [`NO_RECV`].
    pub(crate) recv_ns: u64,
}

const _: () = assert!(size_of::<Update>() == 96);

impl Update {
    /// The update for `book`, skipped or not; deeper sizes go through `as f32`, as
    /// `Feed::encode_row` puts them into a tick, and a level-0 size of -0.0 becomes 0.0, as
    /// the tick gives it back.
    #[inline]
    pub(crate) fn new(feed: u32, ts: i64, book: &Book, skipped: bool) -> Self {
        let deep = |from: usize| std::array::from_fn(|k| book[from + k] as f32);
        Self {
            ts,
            feed,
            skipped,
            px: [book[0], book[10]],
            // `+ 0.0` turns -0.0 into 0.0 and leaves every other value as it is.
            sz0: [book[5] + 0.0, book[15] + 0.0],
            deep: [deep(6), deep(16)],
            pushed_at: 0,
            recv_ns: NO_RECV,
        }
    }

    /// The ten sizes as the score reads them, `(bid, ask)`.
    #[inline]
    pub(crate) fn sizes(&self) -> ([f64; 5], [f64; 5]) {
        let side = |s: usize| {
            let d = &self.deep[s];
            [
                self.sz0[s],
                f64::from(d[0]),
                f64::from(d[1]),
                f64::from(d[2]),
                f64::from(d[3]),
            ]
        };
        (side(0), side(1))
    }
}

/// A scored book on its way back, stamped with raw clock readings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Out {
    pub(crate) ts: i64,
    pub(crate) row: u64,
    pub(crate) score: f64,
    pub(crate) pushed_at: u64,
    pub(crate) emitted_at: u64,
    pub(crate) recv_ns: u64,
    pub(crate) feed: u32,
    pub(crate) signal: i8,
    pub(crate) skipped: bool,
}

/// One scored book as the caller reads it ([`crate::session::Session::poll`]). 56 bytes,
/// `#[repr(C)]`, mirrored by the Python package's `NumPy` dtype (`lobflow.SIGNAL_DTYPE`).
///
/// Times are ns on the session's clock ([`crate::session::Session::now_ns`]: since the
/// session started).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Signal {
    /// The book's time, ns since the Unix epoch, as pushed.
    pub ts: i64,
    /// The book's index among its feed's pushed books, from 0: its row in `Engine::run` over
    /// them.
    pub row: u64,
    /// The model's score; NaN for a skipped book.
    pub score: f64,
    /// When the book was pushed (just before it entered the ring).
    pub push_ns: u64,
    /// When its score became readable (just before it entered the output ring).
    pub emit_ns: u64,
    /// The caller's receive time given with the push, or -1.
    pub recv_ns: i64,
    /// The feed's id.
    pub feed: u32,
    /// -1, 0 or 1; 0 for a skipped book.
    pub signal: i8,
    /// 1 when the book broke the contract and was skipped, else 0.
    pub skipped: u8,
    /// Padding (zero), so that the type has no hidden bytes.
    pad: [u8; 2],
}

/// Size of [`Signal`] in bytes.
pub const SIGNAL_SIZE: usize = size_of::<Signal>();
const _: () = assert!(SIGNAL_SIZE == 56);

/// Byte offset of each field of [`Signal`], for the `NumPy` dtype mirror.
pub const SIGNAL_FIELD_OFFSETS: [(&str, usize); 9] = [
    ("ts", offset_of!(Signal, ts)),
    ("row", offset_of!(Signal, row)),
    ("score", offset_of!(Signal, score)),
    ("push_ns", offset_of!(Signal, push_ns)),
    ("emit_ns", offset_of!(Signal, emit_ns)),
    ("recv_ns", offset_of!(Signal, recv_ns)),
    ("feed", offset_of!(Signal, feed)),
    ("signal", offset_of!(Signal, signal)),
    ("skipped", offset_of!(Signal, skipped)),
];

impl Signal {
    /// `signals` as their bytes, in the `#[repr(C)]` layout ([`SIGNAL_FIELD_OFFSETS`], native
    /// byte order, the padding zero), for a binding to hand over as one buffer.
    pub fn to_bytes(signals: &[Signal]) -> Vec<u8> {
        let mut out = Vec::with_capacity(signals.len() * SIGNAL_SIZE);
        for s in signals {
            out.extend_from_slice(&s.ts.to_ne_bytes());
            out.extend_from_slice(&s.row.to_ne_bytes());
            out.extend_from_slice(&s.score.to_ne_bytes());
            out.extend_from_slice(&s.push_ns.to_ne_bytes());
            out.extend_from_slice(&s.emit_ns.to_ne_bytes());
            out.extend_from_slice(&s.recv_ns.to_ne_bytes());
            out.extend_from_slice(&s.feed.to_ne_bytes());
            out.extend_from_slice(&s.signal.to_ne_bytes());
            out.push(s.skipped);
            out.extend_from_slice(&s.pad);
        }
        out
    }

    /// The caller's view of `out`, its raw stamps turned into ns since `origin`.
    #[inline]
    pub(crate) fn from_out(out: &Out, clock: &quanta::Clock, origin: u64) -> Self {
        Self {
            ts: out.ts,
            row: out.row,
            score: out.score,
            push_ns: clock.delta_as_nanos(origin, out.pushed_at),
            emit_ns: clock.delta_as_nanos(origin, out.emitted_at),
            recv_ns: if out.recv_ns == NO_RECV {
                -1
            } else {
                out.recv_ns as i64
            },
            feed: out.feed,
            signal: out.signal,
            skipped: u8::from(out.skipped),
            pad: [0; 2],
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::{Book, Update};

    #[test]
    fn bytes_follow_the_layout() {
        let s = super::Signal {
            ts: -5,
            row: 7,
            score: 0.25,
            push_ns: 11,
            emit_ns: 13,
            recv_ns: -1,
            feed: 3,
            signal: -1,
            skipped: 1,
            pad: [0; 2],
        };
        let b = super::Signal::to_bytes(&[s, s]);
        assert_eq!(b.len(), 2 * super::SIGNAL_SIZE);
        let at = |name: &str| {
            super::SIGNAL_FIELD_OFFSETS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1
                + super::SIGNAL_SIZE
        };
        let word = |o: usize| <[u8; 8]>::try_from(&b[o..o + 8]).unwrap();
        assert_eq!(i64::from_ne_bytes(word(at("ts"))), -5);
        assert_eq!(f64::from_ne_bytes(word(at("score"))), 0.25);
        assert_eq!(u64::from_ne_bytes(word(at("emit_ns"))), 13);
        assert_eq!(b[at("signal")] as i8, -1);
        assert_eq!(b[at("skipped")], 1);
        let feed = <[u8; 4]>::try_from(&b[at("feed")..at("feed") + 4]).unwrap();
        assert_eq!(u32::from_ne_bytes(feed), 3);
    }

    #[test]
    fn an_update_carries_level_0_as_given_and_deeper_sizes_as_the_tick_does() {
        let mut book: Book = [0.0; 20];
        for (i, v) in book.iter_mut().enumerate() {
            *v = 0.1 * i as f64 + 1.0 / 3.0;
        }
        let u = Update::new(3, 42, &book, false);
        assert_eq!(u.px, [book[0], book[10]]);
        let (bid, ask) = u.sizes();
        assert_eq!(bid[0].to_bits(), book[5].to_bits());
        let mut negative_zero = book;
        negative_zero[5] = -0.0;
        let (bid, _) = Update::new(0, 0, &negative_zero, false).sizes();
        assert_eq!(bid[0].to_bits(), 0, "as the tick gives it back");
        assert_eq!(ask[0].to_bits(), book[15].to_bits());
        for k in 1..5 {
            assert_eq!(bid[k], f64::from(book[5 + k] as f32));
            assert_eq!(ask[k], f64::from(book[15 + k] as f32));
            assert_ne!(bid[k], book[5 + k], "1/3 is not an f32");
        }
    }
}
