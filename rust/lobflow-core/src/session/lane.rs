//! A ring with an end: the sender closes it after its last push, and the receiver learns that
//! it has taken everything. A session's input runs through one, so that closing drains it.
//!
//! The protocol is one flag beside the [`crate::ring`]: the sender's pushes all come before
//! its `Release` store of the flag, so a receiver that has seen the flag (`Acquire`) and then
//! finds the ring empty has seen every push (the loom model in `tests/session_loom.rs`
//! checks it under every interleaving). The flag is read before the pop, never after: read
//! after an empty pop, it could be set by a sender that pushed in between, and the receiver
//! would stop with that last push still in the ring.

use crate::ring::{Consumer, PopError, Producer, PushError, RingBuffer};
use crate::sync::{Arc, AtomicUsize, Ordering};

/// Creates a lane of `capacity` slots and returns its two ends.
///
/// # Errors
/// As [`RingBuffer::new`]: [`crate::Error::Capacity`] unless `capacity` is a power of two
/// ≥ 2, [`crate::Error::RingAlloc`] when its slots cannot be allocated.
///
/// # Examples
/// ```
/// use lobflow_core::session::lane::{lane, Recv};
/// let (mut tx, mut rx) = lane::<u32>(4).unwrap();
/// tx.push(7).unwrap();
/// tx.close();
/// assert!(matches!(rx.pop(), Recv::Item(7)));
/// assert!(matches!(rx.pop(), Recv::Closed));
/// ```
pub fn lane<T>(capacity: usize) -> crate::Result<(Sender<T>, Receiver<T>)> {
    let (tx, rx) = RingBuffer::new(capacity)?;
    let closed = Arc::new(AtomicUsize::new(0));
    let sender = Sender {
        tx,
        closed: Arc::clone(&closed),
    };
    Ok((sender, Receiver { rx, closed }))
}

/// The writing end. Dropping it closes the lane, as [`Sender::close`] does.
pub struct Sender<T> {
    tx: Producer<T>,
    /// 1 once the sender is done: every push it made comes before this store.
    closed: Arc<AtomicUsize>,
}

/// The reading end.
pub struct Receiver<T> {
    rx: Consumer<T>,
    closed: Arc<AtomicUsize>,
}

/// What [`Receiver::pop`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv<T> {
    /// The oldest item.
    Item(T),
    /// Nothing now; the sender may push more.
    Empty,
    /// Nothing, ever again: the sender closed the lane and every item it pushed was taken.
    Closed,
}

/// The lane was closed and every item it carried has been taken ([`Receiver::pop_batch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained;

impl<T> Sender<T> {
    /// Appends `value`, or hands it back when the ring is full.
    ///
    /// # Errors
    /// [`PushError::Full`] when the receiver has not freed a slot yet.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.tx.push(value)
    }

    /// Free slots as seen now (a lower bound).
    pub fn slots(&self) -> usize {
        self.tx.slots()
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }

    /// Closes the lane: the receiver takes what was pushed, then sees [`Recv::Closed`].
    pub fn close(self) {
        drop(self);
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Release: every push above happens-before a receiver's Acquire load that sees 1.
        self.closed.store(1, Ordering::Release);
    }
}

impl<T> Receiver<T> {
    /// True once the sender has closed the lane, whether or not items remain.
    #[inline]
    fn sender_done(&self) -> bool {
        // Acquire pairs with the sender's Release store in `drop`: once 1 is seen, its last
        // tail store is visible to the pop that follows.
        self.closed.load(Ordering::Acquire) != 0
    }

    /// Takes the oldest item; [`Recv::Closed`] once the lane is closed and empty.
    #[inline]
    pub fn pop(&mut self) -> Recv<T> {
        let done = self.sender_done();
        match self.rx.pop() {
            Ok(v) => Recv::Item(v),
            Err(PopError::Empty) if done => Recv::Closed,
            Err(PopError::Empty) => Recv::Empty,
        }
    }

    /// Moves up to `out.len()` items into `out`, oldest first; `Ok(0)` when none is there now.
    ///
    /// # Errors
    /// [`Drained`] when the lane is closed and every item has been taken.
    #[inline]
    pub fn pop_batch(&mut self, out: &mut [T]) -> Result<usize, Drained>
    where
        T: Copy,
    {
        let done = self.sender_done();
        match self.rx.pop_batch(out) {
            0 if done && !out.is_empty() => Err(Drained),
            n => Ok(n),
        }
    }

    /// Hints the CPU to fetch the slot the next pop will read, for a receiver waiting on an
    /// empty lane ([`Consumer::prefetch_unpublished`]).
    #[inline]
    pub fn prefetch_unpublished(&self) {
        self.rx.prefetch_unpublished();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{lane, Drained, Recv};

    #[test]
    fn a_closed_lane_still_hands_over_what_was_pushed() {
        let (mut tx, mut rx) = lane::<u32>(4).unwrap();
        assert_eq!(rx.pop(), Recv::Empty);
        for v in 0..3 {
            tx.push(v).unwrap();
        }
        tx.close();
        let mut buf = [0u32; 2];
        assert_eq!(rx.pop_batch(&mut buf), Ok(2));
        assert_eq!(buf, [0, 1]);
        assert_eq!(rx.pop(), Recv::Item(2));
        assert_eq!(rx.pop(), Recv::Closed);
        assert_eq!(rx.pop_batch(&mut buf), Err(Drained));
    }

    #[test]
    fn dropping_the_sender_closes_and_a_full_lane_hands_the_value_back() {
        let (mut tx, mut rx) = lane::<u32>(2).unwrap();
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        assert!(tx.push(3).is_err());
        assert_eq!(tx.slots(), 0);
        assert_eq!(tx.capacity(), 2);
        drop(tx);
        assert_eq!(rx.pop(), Recv::Item(1));
        assert_eq!(rx.pop(), Recv::Item(2));
        assert_eq!(rx.pop(), Recv::Closed);
    }

    #[test]
    fn a_closing_sender_never_loses_its_last_push_across_threads() {
        // The stress twin of the loom model: many short lanes, each closed right after its
        // last push while the receiver spins; every item must arrive before `Closed`.
        let rounds = if cfg!(miri) { 20 } else { 2_000 };
        for round in 0..rounds {
            let (mut tx, mut rx) = lane::<usize>(4).unwrap();
            let n = 1 + round % 7;
            let sender = std::thread::spawn(move || {
                let mut i = 0;
                while i < n {
                    if tx.push(i).is_ok() {
                        i += 1;
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
            let mut got = Vec::new();
            loop {
                match rx.pop() {
                    Recv::Item(v) => got.push(v),
                    Recv::Empty => std::hint::spin_loop(),
                    Recv::Closed => break,
                }
            }
            sender.join().unwrap();
            assert_eq!(got, (0..n).collect::<Vec<_>>(), "round {round}");
        }
    }
}
