//! The WebSocket book machines: Binance diff frames applied to a 1000-level book, and the
//! levels' `BTreeMap` side against a sorted-`Vec` baseline on the same updates.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lobflow_core::books::levels::{Side, Update};
use lobflow_core::books::{BookMachine, Event, Protocol};

const LEVELS: u64 = 1000;
const TICK: u64 = 1;

/// Level updates spread over a deep bid side: a third deletions, the rest inserts or resizes.
fn updates(n: usize) -> Vec<Update> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..n)
        .map(|_| {
            let price = u128::from(10_000 + rng.u64(0..LEVELS * 2) * TICK);
            let size = if rng.u8(0..3) == 0 {
                0
            } else {
                u128::from(rng.u64(1..1_000_000))
            };
            Update {
                price,
                size,
                price_f: price as f64,
                size_f: size as f64,
            }
        })
        .collect()
}

/// A sorted-`Vec` side (best last), the layout of a bisect-kept list.
#[derive(Clone, Default)]
struct VecSide {
    levels: Vec<(u128, u128, f64, f64)>,
}

impl VecSide {
    fn set(&mut self, u: &Update) {
        match self.levels.binary_search_by_key(&u.price, |l| l.0) {
            Ok(i) if u.size == 0 => {
                self.levels.remove(i);
            }
            Ok(i) => self.levels[i] = (u.price, u.size, u.price_f, u.size_f),
            Err(_) if u.size == 0 => {}
            Err(i) => self
                .levels
                .insert(i, (u.price, u.size, u.price_f, u.size_f)),
        }
    }
}

fn sides(c: &mut Criterion) {
    let warm = updates(5_000);
    let run = updates(10_000);
    let mut tree = Side::new(true);
    let mut vec = VecSide::default();
    for u in &warm {
        tree.set(u);
        vec.set(u);
    }
    let mut g = c.benchmark_group("book_side_1000_levels");
    g.throughput(Throughput::Elements(run.len() as u64));
    g.bench_function("btreemap", |b| {
        b.iter_batched_ref(
            || tree.clone(),
            |side| run.iter().for_each(|u| side.set(black_box(u))),
            BatchSize::LargeInput,
        );
    });
    g.bench_function("sorted_vec", |b| {
        b.iter_batched_ref(
            || vec.clone(),
            |side| run.iter().for_each(|u| side.set(black_box(u))),
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

fn binance_frames(n: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(11);
    (0..n)
        .map(|i| {
            let level = |rng: &mut fastrand::Rng, base: u64| {
                let p = base + rng.u64(0..LEVELS);
                let q = if rng.u8(0..3) == 0 { 0 } else { rng.u64(1..100_000_000) };
                format!(r#"["{}.{:02}","{}.{:08}"]"#, p / 100, p % 100, q / 100_000_000, q % 100_000_000)
            };
            let bids: Vec<String> = (0..rng.usize(1..6)).map(|_| level(&mut rng, 5_000_000 - LEVELS)).collect();
            let asks: Vec<String> = (0..rng.usize(1..6)).map(|_| level(&mut rng, 5_000_001)).collect();
            let u = 1002 + i as u64;
            format!(
                r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1700000000000,"s":"BTCUSDT","U":{u},"u":{u},"b":[{}],"a":[{}]}}}}"#,
                bids.join(","),
                asks.join(",")
            )
        })
        .collect()
}

fn synced_machine() -> BookMachine {
    let mut m = BookMachine::new(
        Protocol::Binance,
        &["btcusdt@depth@100ms".to_owned()],
        &[Some((15, 15))],
        None,
    );
    let mut out = Vec::new();
    let first =
        r#"{"stream":"btcusdt@depth@100ms","data":{"E":1,"U":1000,"u":1001,"b":[],"a":[]}}"#;
    m.apply(1, first, &mut out);
    let side = |base: u64| {
        (0..LEVELS)
            .map(|i| format!(r#"["{}.{:02}","1.5"]"#, (base + i) / 100, (base + i) % 100))
            .collect::<Vec<_>>()
            .join(",")
    };
    let snap = format!(
        r#"{{"lastUpdateId":1000,"bids":[{}],"asks":[{}]}}"#,
        side(5_000_000 - LEVELS),
        side(5_000_001)
    );
    m.snapshot(1, 0, &snap, &mut out);
    assert!(m.synced(1, 0), "{out:?}");
    m
}

fn binance_apply(c: &mut Criterion) {
    let frames = binance_frames(2_000);
    let mut g = c.benchmark_group("binance_diff_frames");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("apply", |b| {
        b.iter_batched_ref(
            || (synced_machine(), Vec::<Event>::with_capacity(4)),
            |(m, out)| {
                for f in &frames {
                    out.clear();
                    m.apply(1, black_box(f), out);
                }
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, sides, binance_apply);
criterion_main!(benches);
