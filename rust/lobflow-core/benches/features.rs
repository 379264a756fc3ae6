//! `FeatureState::update` alone, and with the scorer; `ScoreState::score`, the worker's per-tick
//! cost (the same score with the window weights folded into the windows' sums); and the batch
//! features of a whole table (`feature_columns::compute`) on one thread and on all of them.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lobflow_core::feature_columns;
use lobflow_core::features::FeatureState;
use lobflow_core::feed::Feed;
use lobflow_core::scoring::ScoreState;
use lobflow_core::weights::{Weights, N_FEATURES};
use std::hint::black_box;

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
    g.bench_function("score_state", |b| {
        b.iter_batched_ref(
            || ScoreState::new(&model),
            |st| {
                let mut acc = 0i64;
                for s in &data {
                    acc += i64::from(model.signal(st.score(s.ts, s.b, s.a, &s.bs, &s.asz)));
                }
                black_box(acc)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
    batch(crit, &data);
}

/// `feature_columns::compute` over 5·10^6 rows given as the 21 columns of a table.
fn batch(crit: &mut Criterion, data: &[Snap]) {
    // 5·10^6 rows: 40 MB columns, above the largest size glibc serves from its heap, so every
    // call faults in fresh output pages as a real table's does. (At 10^6 rows the timings
    // swung 2x with how the allocator happened to recycle the previous call's columns.)
    let reps = 50;
    let n = data.len() * reps;
    let rows = || (0..reps).flat_map(|_| data.iter());
    let mut ts = Vec::with_capacity(n);
    let mut t = 0u64;
    for s in rows() {
        t += s.ts % 5_000_000;
        ts.push(t as i64);
    }
    let cols: Vec<Vec<f64>> = (0..20)
        .map(|c| {
            rows()
                .map(|s| match c {
                    0..=4 => s.b - c as f64 * 0.01,
                    5..=9 => s.bs[c - 5],
                    10..=14 => s.a + (c - 10) as f64 * 0.01,
                    _ => s.asz[c - 15],
                })
                .collect()
        })
        .collect();
    let feed = Feed::new(&ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap();
    let mut g = crit.benchmark_group("feature_columns");
    g.throughput(Throughput::Elements(n as u64));
    for threads in [1, 0] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let name = if threads == 1 {
            "compute/1-thread".to_string()
        } else {
            format!("compute/{}-threads", pool.current_num_threads())
        };
        g.bench_function(name.clone(), |b| {
            b.iter(|| {
                pool.install(|| black_box(feature_columns::compute(&feed, [10, 20, 50]).unwrap()))
            });
        });
        // The same into columns already faulted in: the kernel without the OS's page work.
        let table = feature_columns::Table::from(&feed);
        let mut out: [Vec<f64>; N_FEATURES] = std::array::from_fn(|_| vec![1.0; n]);
        g.bench_function(format!("{name}/into-reused-columns"), |b| {
            b.iter(|| {
                let cols = out.each_mut().map(Vec::as_mut_slice);
                pool.install(|| {
                    feature_columns::compute_table_into(&table, None, [10, 20, 50], cols).unwrap();
                });
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
