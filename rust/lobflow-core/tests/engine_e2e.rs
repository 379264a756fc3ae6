//! The threaded engine against a direct float64 recomputation of `docs/feature-contract.md`.
#![allow(clippy::many_single_char_names)] // b, a, qb, qa: the contract's own notation

use lobflow_core::engine::{Engine, EngineConfig, RunOptions};
use lobflow_core::feed::{Feed, OnBad};
use lobflow_core::weights::{Weights, N_FEATURES};
use lobflow_core::Error;

/// xorshift64*: deterministic, dependency-free test randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Books with duplicate timestamps, bursts inside 10 ms, long gaps and empty levels, on a
/// price grid of `tick` around `base`.
fn books(n: usize, base: f64, tick: f64, seed: u64) -> (Vec<i64>, Vec<Vec<f64>>) {
    let mut r = Rng(seed);
    let mut ts = Vec::with_capacity(n);
    let mut cols: Vec<Vec<f64>> = (0..20).map(|_| Vec::with_capacity(n)).collect();
    let mut t: i64 = 1_700_000_000_000_000_000;
    let mut mid_ticks: i64 = (base / tick).round() as i64;
    for _ in 0..n {
        let u = r.unit();
        t += if u < 0.2 {
            0 // duplicate timestamp
        } else if u < 0.7 {
            (r.unit() * 3e6) as i64 // burst: < 3 ms
        } else if u < 0.97 {
            (r.unit() * 40e6) as i64
        } else {
            (r.unit() * 5e9) as i64 // long gap
        };
        ts.push(t);
        mid_ticks += (r.next() % 3) as i64 - 1;
        let half = 1 + (r.next() % 3) as i64;
        for k in 0..5 {
            let empty = r.unit() < 0.05;
            let sz = |r: &mut Rng| {
                if empty {
                    0.0
                } else {
                    (r.unit() * 50.0 * 1e3).round() / 1e3
                }
            };
            cols[k].push((mid_ticks - half - k as i64) as f64 * tick);
            cols[5 + k].push(sz(&mut r));
            cols[10 + k].push((mid_ticks + half + k as i64) as f64 * tick);
            cols[15 + k].push(sz(&mut r));
        }
    }
    (ts, cols)
}

/// `docs/feature-contract.md`, written out plainly: O(n · window) and no shared state with the engine.
fn reference(ts: &[i64], c: &[Vec<f64>], windows_ms: [u64; 3]) -> Vec<[f64; N_FEATURES]> {
    let n = ts.len();
    let mut out = vec![[0.0; N_FEATURES]; n];
    let mut ofi = vec![0.0; n];
    let mut spread = vec![0.0; n];
    let mut qi0 = vec![0.0; n];
    for i in 0..n {
        let (b, a, qb, qa) = (c[0][i], c[10][i], c[5][i], c[15][i]);
        let f = &mut out[i];
        f[0] = (b + a) / 2.0;
        f[1] = a - b;
        if i > 0 {
            let (pb, pa, pqb, pqa) = (c[0][i - 1], c[10][i - 1], c[5][i - 1], c[15][i - 1]);
            let ind = |x: bool| if x { 1.0 } else { 0.0 };
            f[2] = ind(b >= pb) * qb - ind(b <= pb) * pqb - ind(a <= pa) * qa + ind(a >= pa) * pqa;
        }
        f[3] = if qb + qa == 0.0 {
            f[0]
        } else {
            (b * qa + a * qb) / (qb + qa)
        };
        for k in 0..5 {
            let d = c[5 + k][i] + c[15 + k][i];
            f[4 + k] = if d == 0.0 {
                0.0
            } else {
                (c[5 + k][i] - c[15 + k][i]) / d
            };
        }
        ofi[i] = f[2];
        spread[i] = f[1];
        qi0[i] = f[4];
    }
    for i in 0..n {
        for (wi, w) in windows_ms.iter().enumerate() {
            let w_ns = (*w * 1_000_000) as i64;
            let members: Vec<usize> = (0..=i).filter(|&m| ts[m] > ts[i] - w_ns).collect();
            let mean =
                |v: &[f64]| members.iter().map(|&m| v[m]).sum::<f64>() / members.len() as f64;
            out[i][9 + wi] = mean(&ofi);
            out[i][12 + wi] = mean(&spread);
            out[i][15 + wi] = mean(&qi0);
        }
    }
    out
}

fn weights(threshold: f64, windows_ms: [u64; 3]) -> Weights {
    let mut coef = [0.0; N_FEATURES];
    // Scale-aware weights so that every feature moves the score.
    for (i, w) in coef.iter_mut().enumerate() {
        *w = if i % 2 == 0 { 0.3 } else { -0.2 } / (1.0 + i as f64);
    }
    coef[0] = 0.0; // mid is a level, not a signal
    coef[3] = 0.0;
    Weights {
        windows_ms,
        threshold,
        bias: 0.01,
        coef,
    }
}

fn run(
    ts: &[i64],
    cols: &[Vec<f64>],
    w: Weights,
    opts: &RunOptions,
) -> lobflow_core::Result<lobflow_core::engine::RunOutput> {
    let feed = Feed::new(ts, std::array::from_fn(|i| cols[i].as_slice()))?;
    let engine = Engine::new(
        w,
        EngineConfig {
            capacity: 1024,
            cores: Some([0, 1]),
        },
    )?;
    engine.run(&feed, opts, &mut || true)
}

/// The 3 000 rows lap the 1 024-slot ring almost three times.
fn check_parity(base: f64, tick: f64, windows_ms: [u64; 3]) {
    let (ts, cols) = books(3_000, base, tick, 7);
    let w = weights(0.05, windows_ms);
    let opts = RunOptions {
        record_features: true,
        ..RunOptions::default()
    };
    let out = run(&ts, &cols, w.clone(), &opts).unwrap();
    let got = out.features.unwrap();
    let want = reference(&ts, &cols, windows_ms);
    for j in 0..N_FEATURES {
        let scale = want
            .iter()
            .map(|f| f[j].abs())
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        for i in 0..ts.len() {
            let d = (got[i * N_FEATURES + j] - want[i][j]).abs();
            assert!(
                d <= 1e-6 * scale,
                "feature {j} row {i}: {} vs {} (scale {scale})",
                got[i * N_FEATURES + j],
                want[i][j]
            );
        }
    }
    let ref_scores: Vec<f64> = want.iter().map(|f| w.score(f)).collect();
    let mean = ref_scores.iter().sum::<f64>() / ref_scores.len() as f64;
    let std = (ref_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>()
        / ref_scores.len() as f64)
        .sqrt();
    let mut mixed = [0usize; 3];
    for (i, s) in ref_scores.iter().enumerate() {
        assert!((out.scores[i] - s).abs() <= 1e-6 * std, "score row {i}");
        if (s.abs() - w.threshold).abs() > 1e-6 * std {
            assert_eq!(out.signals[i], w.signal(*s), "signal row {i}");
        }
        mixed[(w.signal(*s) + 1) as usize] += 1;
    }
    assert!(
        mixed.iter().all(|&c| c > 0),
        "signals should be a mix: {mixed:?}"
    );
    assert!(out.max_price_error < 1e-9 * base);
}

#[test]
fn parity_at_btc_prices() {
    check_parity(90_000.0, 0.01, [10, 20, 50]);
}

#[test]
fn parity_at_tiny_prices() {
    check_parity(0.000_012_34, 1e-8, [10, 20, 50]);
}

#[test]
fn parity_with_long_windows() {
    check_parity(2_500.0, 0.01, [1000, 2000, 5000]);
}

#[test]
fn exact_spreads() {
    for (b, a, spread) in [
        (90_000.00, 90_000.01, 0.01),
        (0.000_012_34, 0.000_012_35, 1e-8),
    ] {
        let ts = vec![1, 2];
        let mut cols = vec![vec![1.0; 2]; 20];
        for k in 0..5 {
            cols[k] = vec![b - k as f64 * spread; 2];
            cols[10 + k] = vec![a + k as f64 * spread; 2];
        }
        let opts = RunOptions {
            record_features: true,
            ..RunOptions::default()
        };
        let out = run(&ts, &cols, weights(0.0, [10, 20, 50]), &opts).unwrap();
        let got = out.features.unwrap()[1];
        assert!(
            (got - spread).abs() <= 1e-9 * spread.max(1e-9),
            "{got} vs {spread}"
        );
    }
}

#[test]
fn bad_rows_raise_with_column_and_row() {
    let (ts, mut cols) = books(500, 100.0, 0.01, 3);
    cols[17][321] = -1.0;
    let err = run(
        &ts,
        &cols,
        weights(0.0, [10, 20, 50]),
        &RunOptions::default(),
    )
    .unwrap_err();
    match err {
        Error::Feed { column, row, .. } => {
            assert_eq!(column, "ask_sz_2");
            assert_eq!(row, 321);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn skipped_rows_stay_aligned_and_do_not_enter_state() {
    let (ts, cols) = books(400, 100.0, 0.01, 11);
    let mut bad = cols.clone();
    let mut bad_ts = ts.clone();
    bad[0][100] = f64::NAN;
    bad[0][200] = bad[10][200] + 1.0; // crossed
    bad_ts[300] = bad_ts[299] - 1; // goes back in time
    let opts = RunOptions {
        record_features: true,
        on_bad: OnBad::Skip,
        ..RunOptions::default()
    };
    let out = run(&bad_ts, &bad, weights(0.0, [10, 20, 50]), &opts).unwrap();
    assert_eq!(out.skipped, 3);
    assert_eq!(out.scores.len(), 400);
    // Removing the rows beforehand must give the same features for every kept row.
    let keep: Vec<usize> = (0..400).filter(|i| ![100, 200, 300].contains(i)).collect();
    let kts: Vec<i64> = keep.iter().map(|&i| ts[i]).collect();
    let kcols: Vec<Vec<f64>> = cols
        .iter()
        .map(|c| keep.iter().map(|&i| c[i]).collect())
        .collect();
    let clean = run(&kts, &kcols, weights(0.0, [10, 20, 50]), &opts).unwrap();
    for (j, &i) in keep.iter().enumerate() {
        assert_eq!(
            out.scores[i].to_bits(),
            clean.scores[j].to_bits(),
            "row {i}"
        );
    }
    for i in [100, 200, 300] {
        assert!(out.scores[i].is_nan());
        assert_eq!(out.signals[i], 0);
    }
}

#[test]
fn interrupt_stops_a_paced_run() {
    let (ts, cols) = books(200_000, 100.0, 0.01, 5);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    // The default ring: larger than the producer's lead, so nothing but the stop flag can end
    // the producer's wait for each tick.
    let engine = Engine::new(weights(0.0, [10, 20, 50]), EngineConfig::default()).unwrap();
    // 50 ms apart: a producer that looked at the stop flag only every 4096 rows would go on
    // for 200 s; the poll stops the run after a few calls (50 ms apart).
    let opts = RunOptions {
        pace_ns: Some(50_000_000),
        ..RunOptions::default()
    };
    let mut calls = 0;
    let t0 = std::time::Instant::now();
    let err = engine.run(&feed, &opts, &mut || {
        calls += 1;
        calls < 5
    });
    assert!(matches!(err, Err(Error::Interrupted)), "{err:?}");
    assert!(t0.elapsed().as_secs() < 10, "{:?}", t0.elapsed());
}

#[test]
fn a_paced_run_on_one_core_finishes_promptly() {
    let (ts, cols) = books(20, 100.0, 0.01, 5);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    let engine = Engine::new(
        weights(0.0, [10, 20, 50]),
        EngineConfig {
            capacity: 1024,
            cores: Some([0, 0]),
        },
    )
    .unwrap();
    let opts = RunOptions {
        pace_ns: Some(1_000),
        ..RunOptions::default()
    };
    // Two threads on one core yield to each other instead of spinning.
    let t0 = std::time::Instant::now();
    let out = engine.run(&feed, &opts, &mut || true).unwrap();
    assert!(t0.elapsed().as_secs() < 10, "{:?}", t0.elapsed());
    assert_eq!(out.scores.len(), 20);
}

#[cfg(feature = "test-hooks")]
#[test]
fn a_worker_panic_becomes_an_error_and_stops_the_producer() {
    // 10 000 rows lap the 1 024-slot ring: the producer fills it and waits on a worker that is
    // gone, until the panic's exit guard stops it.
    let (ts, cols) = books(10_000, 100.0, 0.01, 5);
    let opts = RunOptions {
        panic_in_worker: true,
        ..RunOptions::default()
    };
    let err = run(&ts, &cols, weights(0.0, [10, 20, 50]), &opts).unwrap_err();
    assert!(
        matches!(&err, Error::WorkerPanicked(m) if m.contains("injected worker panic")),
        "{err}"
    );
}

#[test]
fn fallback_is_reported_on_small_machines() {
    let (ts, cols) = books(100, 100.0, 0.01, 5);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    let engine = Engine::new(
        weights(0.0, [10, 20, 50]),
        EngineConfig {
            capacity: 1024,
            cores: Some([2, 4]),
        },
    )
    .unwrap();
    let out = engine
        .run(&feed, &RunOptions::default(), &mut || true)
        .unwrap();
    let has_4 = out.pin.available.contains(&4);
    assert_eq!(out.pin.fell_back, !has_4 || !out.pin.available.contains(&2));
    if out.pin.fell_back {
        assert!(out.pin.note.is_some());
    }
    assert_eq!(out.latency.sampled_every, 64);
    assert!(out.latency.count > 0);
}

#[test]
fn rings_smaller_than_a_batch_give_the_same_scores() {
    let (ts, cols) = books(5_000, 100.0, 0.01, 9);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    let w = weights(0.05, [10, 20, 50]);
    let scores = |capacity| {
        let engine = Engine::new(
            w.clone(),
            EngineConfig {
                capacity,
                cores: Some([0, 1]),
            },
        )
        .unwrap();
        let out = engine.run(&feed, &RunOptions::default(), &mut || true);
        out.unwrap().scores
    };
    let big = scores(1024);
    for capacity in [2, 16] {
        let small = scores(capacity);
        assert!(
            big.iter()
                .zip(&small)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "capacity {capacity} changed the scores"
        );
    }
}

/// One engine runs feed after feed on the ring its first run allocated, and from two threads
/// at once: each run's outputs are those of a fresh engine, bit for bit, whatever ran before
/// (a run that failed or was stopped in between included).
#[test]
fn an_engine_reused_gives_each_feed_what_a_fresh_one_gives() {
    let w = weights(0.05, [10, 20, 50]);
    let config = EngineConfig {
        capacity: 1024,
        cores: Some([0, 1]),
    };
    let feeds: Vec<_> = (0..3)
        .map(|seed| books(3_000 + 700 * seed as usize, 100.0, 0.01, 20 + seed))
        .collect();
    let mut broken = feeds[0].clone();
    broken.1[15][1_500] = f64::NAN; // ask_sz_0
    let scores = |engine: &Engine, (ts, cols): &(Vec<i64>, Vec<Vec<f64>>), poll: bool| {
        let feed = Feed::new(ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
        let out = engine.run(&feed, &RunOptions::default(), &mut || poll);
        out.map(|o| o.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>())
    };
    let fresh: Vec<_> = feeds
        .iter()
        .map(|f| scores(&Engine::new(w.clone(), config.clone()).unwrap(), f, true).unwrap())
        .collect();
    let engine = Engine::new(w, config).unwrap();
    for (i, f) in feeds.iter().enumerate() {
        assert_eq!(scores(&engine, f, true).unwrap(), fresh[i], "feed {i}");
        assert!(scores(&engine, &broken, true).is_err());
        assert_eq!(
            scores(&engine, f, true).unwrap(),
            fresh[i],
            "feed {i} after an error"
        );
    }
    let long = books(400_000, 100.0, 0.01, 7);
    assert!(matches!(
        scores(&engine, &long, false),
        Err(Error::Interrupted)
    ));
    std::thread::scope(|s| {
        let (engine, scores) = (&engine, &scores);
        let runs: Vec<_> = feeds
            .iter()
            .map(|f| s.spawn(move || scores(engine, f, true).unwrap()))
            .collect();
        for (i, r) in runs.into_iter().enumerate() {
            assert_eq!(r.join().unwrap(), fresh[i], "feed {i} beside the others");
        }
    });
}

#[test]
fn capacity_must_be_a_power_of_two() {
    let err = Engine::new(
        weights(0.0, [10, 20, 50]),
        EngineConfig {
            capacity: 1000,
            cores: Some([0, 1]),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("1000"));
}

#[test]
fn paced_runs_time_every_tick_and_flat_out_ones_a_sample() {
    let (ts, cols) = books(2_000, 100.0, 0.01, 6);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    let engine = Engine::new(weights(0.0, [10, 20, 50]), EngineConfig::default()).unwrap();
    let paced = RunOptions {
        pace_ns: Some(5_000),
        ..RunOptions::default()
    };
    let out = engine.run(&feed, &paced, &mut || true).unwrap();
    assert_eq!(out.latency.count, 2_000, "every paced tick is timed");
    assert_eq!(out.latency.sampled_every, 1);
    let flat = engine
        .run(&feed, &RunOptions::default(), &mut || true)
        .unwrap();
    assert_eq!(flat.latency.sampled_every, 64);
    assert!(flat.latency.count <= 2_000_u64.div_ceil(64));
    assert!(flat
        .scores
        .iter()
        .zip(&out.scores)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn a_pace_beyond_the_clocks_range_waits_until_stopped_instead_of_wrapping() {
    let (ts, cols) = books(3, 100.0, 0.01, 6);
    let feed = Feed::new(&ts, std::array::from_fn(|i| cols[i].as_slice())).unwrap();
    let engine = Engine::new(weights(0.0, [10, 20, 50]), EngineConfig::default()).unwrap();
    for pace in [1u64 << 62, (1u64 << 63) - 1, u64::MAX] {
        let opts = RunOptions {
            pace_ns: Some(pace),
            ..RunOptions::default()
        };
        let mut calls = 0;
        // A wrapped deadline would not wait at all and the run would end on its own.
        let err = engine.run(&feed, &opts, &mut || {
            calls += 1;
            calls < 3
        });
        assert!(matches!(err, Err(Error::Interrupted)), "{pace}: {err:?}");
    }
}

/// [`run`] with the weights most tests use.
fn standard(
    ts: &[i64],
    cols: &[Vec<f64>],
    opts: &RunOptions,
) -> lobflow_core::Result<lobflow_core::engine::RunOutput> {
    run(ts, cols, weights(0.0, [10, 20, 50]), opts)
}

/// `RunOptions` that raise or skip at bad rows, and record features.
fn recording(on_bad: OnBad) -> RunOptions {
    RunOptions {
        on_bad,
        record_features: true,
        ..RunOptions::default()
    }
}

/// The message of a feed error at `row` in one of `columns`, or a panic naming what came.
fn feed_error(
    out: lobflow_core::Result<lobflow_core::engine::RunOutput>,
    row: usize,
    columns: &[&str],
) -> String {
    match out {
        Err(Error::Feed {
            row: r,
            column: c,
            msg,
        }) if r == row && columns.contains(&c.as_str()) => msg,
        other => panic!(
            "expected a feed error at row {row} in {columns:?}, got {:?}",
            other.map(|o| o.n_rows)
        ),
    }
}

#[test]
fn an_outlier_price_that_would_coarsen_every_row_is_an_error_naming_it() {
    let (ts, mut cols) = books(2_000, 90_000.0, 0.01, 11);
    // A valid book, but 10^9 against 90 000 on a cent grid: more than 2^23 cents apart.
    cols[10][700] = 1e9;
    for on_bad in [OnBad::Raise, OnBad::Skip] {
        let msg = feed_error(
            standard(&ts, &cols, &recording(on_bad)),
            0,
            &["bid_px_0", "ask_px_0"],
        );
        assert!(msg.contains("at row 700") && msg.contains("2^23"), "{msg}");
    }
}

#[test]
fn prices_off_any_decimal_grid_are_an_error_not_rounded_features() {
    let (ts, mut cols) = books(500, 100.0, 0.01, 12);
    // Synthetic floats: every level-0 price a third of a cent off the grid, from row 3 on.
    for c in [0, 10] {
        for p in &mut cols[c][3..] {
            *p += 0.01 / 3.0;
        }
    }
    let msg = feed_error(
        standard(&ts, &cols, &RunOptions::default()),
        3,
        &["bid_px_0"],
    );
    assert!(msg.contains("not carried exactly"), "{msg}");
}

#[test]
fn a_skipped_row_does_not_coarsen_the_prices_of_the_others() {
    let (ts, mut cols) = books(2_000, 90_000.0, 0.01, 13);
    // Row 500 is bad (a negative size) and far away in price.
    cols[5][500] = -1.0;
    cols[10][500] = 1e9;
    // Flat out (fitted to every usable book, then again to the rows kept) and paced (fitted
    // to the rows kept at once).
    let paced = RunOptions {
        pace_ns: Some(1_000),
        ..recording(OnBad::Skip)
    };
    for opts in [recording(OnBad::Skip), paced] {
        let out = standard(&ts, &cols, &opts).unwrap();
        assert_eq!(out.skipped, 1);
        assert!(out.codec.quantum <= 0.01, "quantum {}", out.codec.quantum);
        let f = out.features.expect("recorded");
        for i in (0..2_000).filter(|&i| i != 500) {
            let spread = cols[10][i] - cols[0][i];
            assert!((f[i * N_FEATURES + 1] - spread).abs() < 1e-9, "row {i}");
        }
    }
    // Stopping at bad rows, the run names the bad row, not the prices it made inexact.
    let msg = feed_error(
        standard(&ts, &cols, &RunOptions::default()),
        500,
        &["bid_sz_0"],
    );
    assert!(msg.contains("negative"), "{msg}");
}

#[test]
fn a_skipped_row_leaves_the_same_outputs_flat_out_as_paced() {
    let (ts, mut cols) = books(2_000, 90_000.0, 0.01, 15);
    // Row 500 is bad and, at 0.0001, far below the rest: fitted with it the price step is a
    // cent, which still carries every kept price, but not as the kept rows' own fit does.
    cols[5][500] = -1.0;
    cols[0][500] = 0.0001;
    let paced = RunOptions {
        pace_ns: Some(0),
        ..recording(OnBad::Skip)
    };
    let flat = standard(&ts, &cols, &recording(OnBad::Skip)).unwrap();
    let paced = standard(&ts, &cols, &paced).unwrap();
    assert_eq!((flat.skipped, paced.skipped), (1, 1));
    assert_eq!(
        paced.latency.count, 1_999,
        "a skipped row is no tick→signal latency"
    );
    assert_eq!(flat.codec, paced.codec);
    assert!(flat.codec.quantum < 0.01, "quantum {}", flat.codec.quantum);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&flat.scores), bits(&paced.scores));
    assert_eq!(
        bits(flat.features.as_deref().unwrap()),
        bits(paced.features.as_deref().unwrap())
    );
}

#[test]
fn a_timestamp_going_back_names_the_row_before_it_too() {
    let (mut ts, cols) = books(300, 100.0, 0.01, 16);
    // A glitch far ahead at row 100: row 101 is the first to go back, and every later one.
    ts[100] += 1_000_000_000_000_000;
    let msg = feed_error(standard(&ts, &cols, &RunOptions::default()), 101, &["ts"]);
    let want = format!(
        "timestamp decreases: {} ns after row 100's {} ns",
        ts[101], ts[100]
    );
    assert!(msg.contains(&want), "{msg}");
    let out = standard(&ts, &cols, &recording(OnBad::Skip)).unwrap();
    assert_eq!(out.skipped, 199);
}

#[test]
fn sizes_beyond_what_a_tick_carries_are_bad_rows() {
    let (ts, mut cols) = books(300, 90_000.0, 0.01, 14);
    cols[17][120] = 1e39; // ask_sz_2: inf as an f32
    let msg = feed_error(
        standard(&ts, &cols, &RunOptions::default()),
        120,
        &["ask_sz_2"],
    );
    assert!(msg.contains("f32"), "{msg}");
    let out = standard(&ts, &cols, &recording(OnBad::Skip)).unwrap();
    assert_eq!(out.skipped, 1);
    // Nothing non-finite leaks into the rows after them (the windows' sums would keep it).
    assert!(out
        .scores
        .iter()
        .enumerate()
        .all(|(i, s)| s.is_finite() || i == 120));
}
