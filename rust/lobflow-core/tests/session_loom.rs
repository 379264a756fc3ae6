//! loom model check of a session's close handshake (`session::lane`): under every
//! interleaving of a sender that pushes and then closes and a receiver that spins, the
//! receiver takes every item, in order, before it is told the lane is closed.
#![cfg(loom)]

use lobflow_core::session::lane::{lane, Drained, Recv};
use loom::thread;

/// Pushes `0..n`, waiting whenever the ring is full, then closes.
fn send_then_close(n: usize) -> impl FnOnce() {
    let (mut tx, rx) = lane::<usize>(2).unwrap();
    let sender = move || {
        let mut i = 0;
        while i < n {
            if tx.push(i).is_ok() {
                i += 1;
            } else {
                thread::yield_now();
            }
        }
        tx.close();
    };
    let handle = thread::spawn(sender);
    let mut rx = rx;
    move || {
        let mut expected = 0;
        loop {
            match rx.pop() {
                Recv::Item(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                Recv::Empty => thread::yield_now(),
                Recv::Closed => break,
            }
        }
        assert_eq!(expected, n, "closed before every item was taken");
        handle.join().unwrap();
    }
}

#[test]
fn every_item_arrives_before_closed_across_full_and_empty() {
    // Three items through two slots: the sender meets a full ring, the receiver an empty one.
    loom::model(|| send_then_close(3)());
}

#[test]
fn closing_an_empty_lane_is_seen() {
    loom::model(|| send_then_close(0)());
}

#[test]
fn batches_arrive_before_drained() {
    loom::model(|| {
        let (mut tx, mut rx) = lane::<usize>(2).unwrap();
        let sender = thread::spawn(move || {
            for i in 0..3 {
                while tx.push(i).is_err() {
                    thread::yield_now();
                }
            }
            // Dropped here: dropping the sender closes the lane too.
        });
        let mut buf = [0usize; 2];
        let mut expected = 0;
        loop {
            match rx.pop_batch(&mut buf) {
                Ok(0) => thread::yield_now(),
                Ok(n) => {
                    for v in &buf[..n] {
                        assert_eq!(*v, expected);
                        expected += 1;
                    }
                }
                Err(Drained) => break,
            }
        }
        assert_eq!(expected, 3);
        sender.join().unwrap();
    });
}
