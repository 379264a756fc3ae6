//! The SPSC ring against `rtrb` and crossbeam's `ArrayQueue` with 88-byte items, in one run:
//! two-thread throughput, round-trip latency over two queues, and the core-to-core floor.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lobflow_core::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Same shape as `L2Tick`: 4 × [f32; 5] + u64 = 88 bytes.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Item {
    px: [[f32; 5]; 4],
    ts: u64,
}
const _: () = assert!(std::mem::size_of::<Item>() == 88);

const CAP: usize = 131_072;
const N: u64 = 1_000_000;

/// The operations each queue offers to the benchmark loops.
trait Spsc: Send + 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn make(cap: usize) -> (Self::Tx, Self::Rx);
    fn push(tx: &mut Self::Tx, v: Item) -> Result<(), Item>;
    fn pop(rx: &mut Self::Rx) -> Option<Item>;
}

struct Ours;
impl Spsc for Ours {
    type Tx = lobflow_core::ring::Producer<Item>;
    type Rx = lobflow_core::ring::Consumer<Item>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        lobflow_core::ring::RingBuffer::new(cap).expect("power of two")
    }
    fn push(tx: &mut Self::Tx, v: Item) -> Result<(), Item> {
        tx.push(v)
            .map_err(|lobflow_core::ring::PushError::Full(v)| v)
    }
    fn pop(rx: &mut Self::Rx) -> Option<Item> {
        rx.pop().ok()
    }
}

struct Rtrb;
impl Spsc for Rtrb {
    type Tx = rtrb::Producer<Item>;
    type Rx = rtrb::Consumer<Item>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        rtrb::RingBuffer::new(cap)
    }
    fn push(tx: &mut Self::Tx, v: Item) -> Result<(), Item> {
        tx.push(v).map_err(|rtrb::PushError::Full(v)| v)
    }
    fn pop(rx: &mut Self::Rx) -> Option<Item> {
        rx.pop().ok()
    }
}

struct Crossbeam;
impl Spsc for Crossbeam {
    type Tx = Arc<crossbeam_queue::ArrayQueue<Item>>;
    type Rx = Arc<crossbeam_queue::ArrayQueue<Item>>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(crossbeam_queue::ArrayQueue::new(cap));
        (Arc::clone(&q), q)
    }
    fn push(tx: &mut Self::Tx, v: Item) -> Result<(), Item> {
        tx.push(v)
    }
    fn pop(rx: &mut Self::Rx) -> Option<Item> {
        rx.pop()
    }
}

/// The two cores, planned once before anything is pinned: `pin::plan` reads the calling
/// thread's affinity, so planning after pinning the main thread would see one core only.
fn cores() -> [usize; 2] {
    static CORES: std::sync::OnceLock<[usize; 2]> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| pin::plan([0, 1]).used)
}

/// One lap through every slot, so that no queue takes its page faults inside a timing
/// (lobflow's ring touches its pages when it is built; the others on first use).
fn warm<Q: Spsc>(tx: &mut Q::Tx, rx: &mut Q::Rx) {
    for _ in 0..CAP {
        assert!(Q::push(tx, Item::default()).is_ok(), "room for a whole lap");
    }
    for _ in 0..CAP {
        black_box(Q::pop(rx));
    }
}

/// Time for a producer thread to push `n` items that the consumer (this thread) pops.
fn throughput<Q: Spsc>(n: u64) -> Duration {
    let [c0, c1] = cores();
    let (mut tx, mut rx) = Q::make(CAP);
    warm::<Q>(&mut tx, &mut rx);
    let consumer = std::thread::spawn(move || {
        pin::pin_current(c1);
        let mut got = 0;
        while got < n {
            if let Some(v) = Q::pop(&mut rx) {
                black_box(v);
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    let t0 = Instant::now();
    let producer = std::thread::spawn(move || {
        pin::pin_current(c0);
        for i in 0..n {
            let mut v = Item {
                ts: i,
                ..Item::default()
            };
            while let Err(back) = Q::push(&mut tx, v) {
                v = back;
                std::hint::spin_loop();
            }
        }
    });
    producer.join().expect("producer");
    consumer.join().expect("consumer");
    t0.elapsed()
}

/// Time for `n` round trips: A pushes to B over one queue, B answers over another.
fn round_trip<Q: Spsc>(n: u64) -> Duration {
    let [c0, c1] = cores();
    let (mut to_b, mut at_b) = Q::make(CAP);
    let (mut to_a, mut at_a) = Q::make(CAP);
    warm::<Q>(&mut to_b, &mut at_b);
    warm::<Q>(&mut to_a, &mut at_a);
    let echo = std::thread::spawn(move || {
        pin::pin_current(c1);
        for _ in 0..n {
            let v = loop {
                if let Some(v) = Q::pop(&mut at_b) {
                    break v;
                }
                std::hint::spin_loop();
            };
            while Q::push(&mut to_a, v).is_err() {}
        }
    });
    let ping = std::thread::spawn(move || {
        pin::pin_current(c0);
        let t0 = Instant::now();
        for i in 0..n {
            let item = Item {
                ts: i,
                ..Item::default()
            };
            while Q::push(&mut to_b, item).is_err() {}
            while Q::pop(&mut at_a).is_none() {
                std::hint::spin_loop();
            }
        }
        t0.elapsed()
    });
    let el = ping.join().expect("ping");
    echo.join().expect("echo");
    el
}

/// The floor: one cache line bounced between the two cores.
fn atomic_round_trip(n: u64) -> Duration {
    let [c0, c1] = cores();
    let ball = Arc::new(AtomicU64::new(0));
    let b2 = Arc::clone(&ball);
    let echo = std::thread::spawn(move || {
        pin::pin_current(c1);
        for i in 0..n {
            while b2.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            b2.store(2 * i + 2, Ordering::Release);
        }
    });
    let ping = std::thread::spawn(move || {
        pin::pin_current(c0);
        let t0 = Instant::now();
        for i in 0..n {
            ball.store(2 * i + 1, Ordering::Release);
            while ball.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        t0.elapsed()
    });
    let el = ping.join().expect("ping");
    echo.join().expect("echo");
    el
}

fn bench(crit: &mut Criterion) {
    let mut g = crit.benchmark_group("spsc_throughput_88B");
    g.throughput(Throughput::Elements(N));
    g.bench_function("lobflow", |b| {
        b.iter_custom(|it| (0..it).map(|_| throughput::<Ours>(N)).sum());
    });
    g.bench_function("rtrb", |b| {
        b.iter_custom(|it| (0..it).map(|_| throughput::<Rtrb>(N)).sum());
    });
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|it| (0..it).map(|_| throughput::<Crossbeam>(N)).sum());
    });
    g.finish();

    let mut g = crit.benchmark_group("spsc_round_trip_88B");
    g.bench_function("lobflow", |b| b.iter_custom(round_trip::<Ours>));
    g.bench_function("rtrb", |b| b.iter_custom(round_trip::<Rtrb>));
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(round_trip::<Crossbeam>);
    });
    g.bench_function("atomic_ping_pong_floor", |b| {
        b.iter_custom(atomic_round_trip);
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
