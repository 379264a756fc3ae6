//! `Engine::run` end to end (validation, encoding, ring, features, scorer) on 10^6 ticks.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lobflow_core::engine::{Engine, EngineConfig, RunOptions};
use lobflow_core::feed::Feed;
use lobflow_core::tick::L2Tick;
use lobflow_core::weights::{Weights, N_FEATURES};
use std::time::Duration;

fn columns(n: usize) -> (Vec<i64>, Vec<Vec<f64>>) {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = Vec::with_capacity(n);
    let mut cols: Vec<Vec<f64>> = (0..20).map(|_| Vec::with_capacity(n)).collect();
    let (mut t, mut mid) = (1_700_000_000_000_000_000i64, 9_000_000i64);
    for _ in 0..n {
        t += (next() % 5_000_000) as i64;
        mid += (next() % 3) as i64 - 1;
        ts.push(t);
        for k in 0..5 {
            cols[k].push((mid - 1 - k as i64) as f64 * 0.01);
            cols[5 + k].push((next() % 5000) as f64 / 1000.0);
            cols[10 + k].push((mid + 1 + k as i64) as f64 * 0.01);
            cols[15 + k].push((next() % 5000) as f64 / 1000.0);
        }
    }
    (ts, cols)
}

fn bench(crit: &mut Criterion) {
    let n = 1_000_000;
    let (ts, cols) = columns(n);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).expect("aligned");
    let weights = Weights {
        windows_ms: [10, 20, 50],
        threshold: 0.1,
        bias: 0.0,
        coef: [0.01; N_FEATURES],
    };
    let engine = Engine::new(
        weights,
        EngineConfig {
            capacity: 131_072,
            cores: Some([0, 1]),
        },
    )
    .expect("engine");
    let mut g = crit.benchmark_group("engine");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("run_flat_out_1M", |b| {
        b.iter(|| {
            engine
                .run(&feed, &RunOptions::default(), &mut || true)
                .expect("run")
        });
    });
    // The producer's work alone (validate + encode), one thread, no ring: flat out it takes
    // 64 rows at a time, column by column; row by row is its paced path and its fallback.
    let codec = feed.fit_codec();
    let sizes = feed.fit_size_codec();
    g.bench_function("producer_side_batched_1M", |b| {
        let mut batch = [L2Tick::default(); 64];
        b.iter(|| {
            let (mut acc, mut last) = (0.0f32, i64::MIN);
            for start in (0..feed.len()).step_by(64) {
                let len = 64.min(feed.len() - start);
                feed.prefetch_rows(start + 128..start + 128 + len);
                feed.encode_clean_rows(start, &mut batch[..len], &codec, &sizes, last)
                    .expect("a clean feed");
                last = feed.ts[start + len - 1];
                acc += batch[0].bid_px[0];
            }
            std::hint::black_box(acc)
        });
    });
    g.bench_function("producer_side_row_by_row_1M", |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            let mut last = i64::MIN;
            for i in 0..feed.len() {
                if feed.check_row(i, last).is_none() {
                    last = feed.ts[i];
                    acc += feed.encode_row(i, &codec, &sizes).0.bid_px[0];
                }
            }
            std::hint::black_box(acc)
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
