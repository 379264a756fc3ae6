//! Two real threads move many items through the ring; none may be lost, duplicated or reordered.

use lobflow_core::ring::RingBuffer;
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

#[test]
fn batched_sequence_numbers_survive_in_order() {
    let (mut tx, mut rx) = RingBuffer::<u64>::new(1024).unwrap();
    let producer = thread::spawn(move || {
        let mut next = 0u64;
        let mut batch = [0u64; 37]; // not a divisor of the capacity: batches straddle the wrap
        while next < N {
            let len = batch.len().min((N - next) as usize);
            for (k, b) in batch[..len].iter_mut().enumerate() {
                *b = next + k as u64;
            }
            let mut sent = 0;
            let mut spins = 0;
            while sent < len {
                let n = tx.push_batch(&batch[sent..len]);
                if n == 0 {
                    wait(&mut spins);
                }
                sent += n;
            }
            next += len as u64;
        }
    });
    let mut expected = 0u64;
    let mut buf = [0u64; 64];
    let mut spins = 0;
    while expected < N {
        let n = rx.pop_batch(&mut buf);
        if n == 0 {
            wait(&mut spins);
        }
        for v in &buf[..n] {
            assert_eq!(*v, expected, "lost, duplicated or reordered item");
            expected += 1;
        }
    }
    producer.join().unwrap();
}
