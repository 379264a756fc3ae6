//! Two real threads move many items through the ring; none may be lost, duplicated or reordered.

use lobflow_core::ring::{Producer, RingBuffer};
use std::thread;

/// Waits for the other side: a few spins, then give the core away. Pure spinning would turn an
/// oversubscribed machine (cargo runs tests in parallel: more spinning threads than cores) into
/// minutes of waiting for the partner thread to be scheduled.
fn wait(spins: &mut u32) {
    *spins += 1;
    if *spins % 64 == 0 {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// 10^8 in release builds (the Makefile runs this test with `--release`), fewer in debug.
const N: u64 = if cfg!(miri) {
    1_000
} else if cfg!(debug_assertions) {
    2_000_000
} else {
    100_000_000
};

#[test]
fn sequence_numbers_survive_in_order() {
    let (mut tx, mut rx) = RingBuffer::<u64>::new(1024).unwrap();
    let producer = thread::spawn(move || {
        let mut spins = 0;
        for i in 0..N {
            let mut v = i;
            loop {
                match tx.push(v) {
                    Ok(()) => break,
                    Err(lobflow_core::ring::PushError::Full(back)) => {
                        v = back;
                        wait(&mut spins);
                    }
                }
            }
        }
    });
    let mut expected = 0u64;
    let mut spins = 0;
    while expected < N {
        if let Ok(v) = rx.pop() {
            assert_eq!(v, expected, "lost, duplicated or reordered item");
            expected += 1;
        } else {
            wait(&mut spins);
        }
    }
    producer.join().unwrap();
    assert!(rx.pop().is_err(), "an extra item appeared");
}

/// An 88-byte payload, like `L2Tick`, checked field by field so torn writes would show.
#[derive(Clone, Copy)]
#[repr(C)]
struct Fat {
    words: [u64; 11],
}

#[test]
fn fat_items_are_never_torn() {
    let n = N / 10;
    let (mut tx, mut rx) = RingBuffer::<Fat>::new(64).unwrap();
    let producer = thread::spawn(move || {
        let mut spins = 0;
        for i in 0..n {
            let item = Fat { words: [i; 11] };
            while tx.push(item).is_err() {
                wait(&mut spins);
            }
        }
    });
    let mut expected = 0u64;
    while expected < n {
        if let Ok(item) = rx.pop() {
            assert!(
                item.words.iter().all(|&w| w == expected),
                "torn item at {expected}"
            );
            expected += 1;
        }
    }
    producer.join().unwrap();
}

/// Sends `make(0..n)` through `push` in batches of 37 (not a divisor of any capacity here:
/// batches straddle the wrap) while this thread pops batches of 64 and hands each item, in
/// order, to `check` with its sequence number.
fn batched<T: Copy + Send + 'static>(
    capacity: usize,
    n: u64,
    make: fn(u64) -> T,
    push: fn(&mut Producer<T>, &[T]) -> usize,
    check: impl Fn(u64, &T),
) {
    let (mut tx, mut rx) = RingBuffer::<T>::new(capacity).unwrap();
    let producer = thread::spawn(move || {
        let mut next = 0u64;
        let mut spins = 0;
        while next < n {
            let batch: Vec<T> = (next..n.min(next + 37)).map(make).collect();
            let mut sent = 0;
            while sent < batch.len() {
                let pushed = push(&mut tx, &batch[sent..]);
                if pushed == 0 {
                    wait(&mut spins);
                }
                sent += pushed;
            }
            next += batch.len() as u64;
        }
    });
    let mut expected = 0u64;
    let mut buf = vec![make(0); 64];
    let mut spins = 0;
    while expected < n {
        let got = rx.pop_batch(&mut buf);
        if got == 0 {
            wait(&mut spins);
        }
        for item in &buf[..got] {
            check(expected, item);
            expected += 1;
        }
    }
    producer.join().unwrap();
    assert_eq!(rx.pop_batch(&mut buf), 0, "an extra item appeared");
}

#[test]
fn batched_sequence_numbers_survive_in_order() {
    batched(
        1024,
        N,
        |i| i,
        Producer::push_batch,
        |expected, v| {
            assert_eq!(*v, expected, "lost, duplicated or reordered item");
        },
    );
}

/// 88-byte items in batches, copied a run of slots at a time: every word of every item
/// arrives whole and in place.
#[test]
fn fat_batches_are_never_torn() {
    type Push = fn(&mut Producer<Fat>, &[Fat]) -> usize;
    let make = |i| Fat { words: [i; 11] };
    let pushes: [(&str, Push); 1] = [("push_batch", Producer::push_batch)];
    for (name, push) in pushes {
        batched(256, N / 10, make, push, |expected, item| {
            assert!(
                item.words.iter().all(|&w| w == expected),
                "{name}: torn or misplaced item at {expected}"
            );
        });
    }
}
