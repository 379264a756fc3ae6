//! loom model check of the SPSC ring: every interleaving of a producer and a consumer under the
//! C11 memory model, with a capacity small enough that full and empty edges are both hit.
#![cfg(loom)]

use lobflow_core::ring::{PopError, RingBuffer};
use loom::thread;

#[test]
fn items_arrive_in_order_across_full_and_empty() {
    loom::model(|| {
        let (mut tx, mut rx) = RingBuffer::<usize>::new(2).unwrap();
        const N: usize = 3;
        let producer = thread::spawn(move || {
            let mut i = 0;
            while i < N {
                if tx.push(i).is_ok() {
                    i += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < N {
            match rx.pop() {
                Ok(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                Err(PopError::Empty) => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), Err(PopError::Empty));
    });
}

#[test]
fn leftovers_are_dropped_once_when_both_ends_go() {
    loom::model(|| {
        let (mut tx, rx) = RingBuffer::<loom::sync::Arc<()>>::new(2).unwrap();
        let token = loom::sync::Arc::new(());
        let t2 = token.clone();
        let producer = thread::spawn(move || {
            let _ = tx.push(t2);
        });
        let consumer = thread::spawn(move || drop(rx));
        producer.join().unwrap();
        consumer.join().unwrap();
        assert_eq!(loom::sync::Arc::strong_count(&token), 1);
    });
}

#[test]
fn batches_arrive_in_order_across_full_and_empty() {
    loom::model(|| {
        let (mut tx, mut rx) = RingBuffer::<usize>::new(2).unwrap();
        let producer = thread::spawn(move || {
            let items = [0usize, 1, 2];
            let mut sent = 0;
            while sent < items.len() {
                let n = tx.push_batch(&items[sent..]);
                if n == 0 {
                    thread::yield_now();
                }
                sent += n;
            }
        });
        let mut expected = 0;
        let mut buf = [0usize; 2];
        while expected < 3 {
            let n = rx.pop_batch(&mut buf);
            if n == 0 {
                thread::yield_now();
            }
            for v in &buf[..n] {
                assert_eq!(*v, expected);
                expected += 1;
            }
        }
        producer.join().unwrap();
    });
}

/// The engine's flat-out pattern: the producer waits until few items are in flight, then
/// pushes; the consumer takes whole batches only, the last one shorter.
#[test]
fn exact_batches_with_an_in_flight_cap_arrive_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = RingBuffer::<usize>::new(2).unwrap();
        let producer = thread::spawn(move || {
            let items = [0usize, 1, 2];
            let mut sent = 0;
            while sent < items.len() {
                if !tx.in_flight_at_most(1) {
                    thread::yield_now();
                    continue;
                }
                let n = tx.push_batch(&items[sent..]);
                if n == 0 {
                    thread::yield_now();
                }
                sent += n;
            }
        });
        let mut got = Vec::new();
        let mut buf = [0usize; 2];
        while got.len() < 3 {
            let want = 2.min(3 - got.len());
            if rx.pop_exact(&mut buf[..want]) {
                got.extend_from_slice(&buf[..want]);
            } else {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}
