//! `FeatureState::update` alone, and with the scorer: the worker's per-tick cost.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lobflow_core::features::FeatureState;
use lobflow_core::scorer::{Weights, N_FEATURES};

struct Snap {
    ts: u64,
    b: f64,
    a: f64,
    bs: [f64; 5],
    asz: [f64; 5],
}

fn snaps(n: usize) -> Vec<Snap> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut mid = 9_000_000i64;
    (0..n)
        .map(|_| {
            ts += next() % 5_000_000;
            mid += (next() % 3) as i64 - 1;
            let sz = |r: u64| (r % 5000) as f64 / 1000.0;
            Snap {
                ts,
                b: (mid - 1) as f64 * 0.01,
                a: (mid + 1) as f64 * 0.01,
                bs: std::array::from_fn(|_| sz(next())),
                asz: std::array::from_fn(|_| sz(next())),
            }
        })
        .collect()
}

fn bench(crit: &mut Criterion) {
    let n = 100_000;
    let data = snaps(n);
    let model = Weights {
        windows_ms: [10, 20, 50],
        threshold: 0.1,
        bias: 0.0,
        coef: [0.01; N_FEATURES],
    };
    let mut g = crit.benchmark_group("features");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("update", |b| {
        b.iter_batched_ref(
            || FeatureState::new([10, 20, 50]),
            |st| {
                for s in &data {
                    black_box(st.update(s.ts, s.b, s.a, &s.bs, &s.asz));
                }
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("update+score", |b| {
        b.iter_batched_ref(
            || FeatureState::new([10, 20, 50]),
            |st| {
                let mut acc = 0i64;
                for s in &data {
                    let f = st.update(s.ts, s.b, s.a, &s.bs, &s.asz);
                    acc += i64::from(model.signal(model.score(&f)));
                }
                black_box(acc)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
