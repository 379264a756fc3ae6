//! A live session's scores against `Engine::run` over each feed's pushed books: bit for bit,
//! on interleaved feeds at three price scales with bad books of every kind among them.
#![cfg(target_os = "linux")]
#![allow(clippy::float_cmp)] // bit-for-bit is the point

use lobflow_core::engine::{Engine, EngineConfig, RunOptions};
use lobflow_core::feed::{Feed, OnBad};
use lobflow_core::session::{Book, SessionOptions, Signal};
use lobflow_core::weights::{Weights, N_FEATURES};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated feed: its books in push order (times in ns), some of them bad.
struct GenFeed {
    ts: Vec<i64>,
    books: Vec<Book>,
}

/// A feed on a decimal grid of `10^-decimals` around `base` ticks of it: prices are the f64s
/// of their decimals (`k / 10^d`, as a parser gives them), level-0 sizes the f64s of 4-decimal
/// numbers, deeper sizes a third of that (no f32 holds them). About one book in 25 is bad.
fn gen_feed(rng: &mut Rng, n: usize, base: i64, decimals: i32) -> GenFeed {
    let scale = 10f64.powi(decimals);
    let (mut ts, mut books) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut t, mut mid) = (1_700_000_000_000_000_000i64, base);
    for _ in 0..n {
        t += match rng.below(10) {
            0 | 1 => 0,
            2 => 3_000_000_000,
            _ => rng.below(20_000_000) as i64,
        };
        mid += rng.below(3) as i64 - 1;
        let half = 1 + rng.below(3) as i64;
        let mut b: Book = [0.0; 20];
        for k in 0..5 {
            b[k] = (mid - half - k as i64) as f64 / scale;
            b[10 + k] = (mid + half + k as i64) as f64 / scale;
            let lots = |r: &mut Rng| (r.below(50_000) as f64) / 1e4;
            b[5 + k] = if k == 0 { lots(rng) } else { lots(rng) / 3.0 };
            b[15 + k] = if k == 0 { lots(rng) } else { lots(rng) / 3.0 };
        }
        if rng.below(20) == 0 {
            b[4] = f64::NAN; // an empty deep level: fine
            b[9] = 0.0;
        }
        let mut row_ts = t;
        match rng.below(25) {
            0 => b[10] = b[0],                     // locked
            1 => b[10] = b[0] - 1.0 / scale,       // crossed
            2 => b[0] = f64::NAN,                  // NaN price
            3 => b[17] = -1.0,                     // negative size
            4 => b[5] = f64::INFINITY,             // infinite size
            5 => row_ts = t - 1_000_000_000,       // time goes back
            6 if rng.below(4) == 0 => row_ts = -5, // negative time
            _ => {}
        }
        ts.push(row_ts);
        books.push(b);
    }
    GenFeed { ts, books }
}

fn model() -> Weights {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let coef = std::array::from_fn(|_| (rng.below(2001) as f64 - 1000.0) / 5000.0);
    Weights {
        windows_ms: [10, 20, 50],
        threshold: 0.05,
        bias: 0.01,
        coef,
    }
}

/// `Engine::run` over one feed's books, skipping bad ones.
fn replay(engine: &Engine, feed: &GenFeed) -> lobflow_core::engine::RunOutput {
    let cols: Vec<Vec<f64>> = (0..20)
        .map(|c| feed.books.iter().map(|b| b[c]).collect())
        .collect();
    let f = Feed::new(&feed.ts, std::array::from_fn(|c| cols[c].as_slice())).unwrap();
    let opts = RunOptions {
        on_bad: OnBad::Skip,
        ..RunOptions::default()
    };
    engine.run(&f, &opts, &mut || true).unwrap()
}

#[test]
fn interleaved_feeds_with_bad_books_score_as_engine_run_bit_for_bit() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    // BTC and ETH on cents, a token on 10^-8, and a coin on whole units.
    let scales = [
        (9_000_000, 2),
        (250_000, 2),
        (1_234, 8),
        (600, 0),
        (9_000_050, 2),
    ];
    let feeds: Vec<GenFeed> = scales
        .iter()
        .enumerate()
        .map(|(i, &(base, d))| gen_feed(&mut rng, 2_000 + 500 * i, base, d))
        .collect();
    let engine = Engine::new(
        model(),
        EngineConfig {
            capacity: 4096,
            cores: Some([0, 1]),
        },
    )
    .unwrap();
    // Small rings, so that pushes wait for the worker and polls for the pushes.
    let opts = SessionOptions {
        capacity: 64,
        out_capacity: 128,
        ..SessionOptions::default()
    };
    let session = engine.session(&opts).unwrap();
    let ids: Vec<u32> = (0..feeds.len())
        .map(|i| session.add_feed("sim", &format!("F{i}")).unwrap())
        .collect();
    // Interleave: each step pushes the next book of a random feed that has one left.
    let mut next = vec![0usize; feeds.len()];
    let mut got: Vec<Vec<Signal>> = vec![Vec::new(); feeds.len()];
    let mut out = Vec::new();
    let total: usize = feeds.iter().map(|f| f.ts.len()).sum();
    for _ in 0..total {
        let mut f = rng.below(feeds.len() as u64) as usize;
        while next[f] == feeds[f].ts.len() {
            f = (f + 1) % feeds.len();
        }
        let r = next[f];
        next[f] += 1;
        session
            .push(
                ids[f],
                feeds[f].ts[r],
                &feeds[f].books[r],
                None,
                &mut || true,
            )
            .unwrap();
        if rng.below(16) == 0 {
            session.poll(&mut out, usize::MAX).unwrap();
        }
    }
    let stats = session.close(&mut || true).unwrap();
    session.poll(&mut out, usize::MAX).unwrap();
    assert_eq!(out.len(), total);
    for s in out {
        got[s.feed as usize].push(s);
    }
    for (i, feed) in feeds.iter().enumerate() {
        let want = replay(&engine, feed);
        // The rule under which parity is promised: the replay's tick carried every level-0
        // price and size exactly.
        assert_eq!(want.max_price_error, 0.0, "feed {i}");
        assert_eq!(want.max_size_error, 0.0, "feed {i}");
        let rows = &got[i];
        assert_eq!(rows.len(), feed.ts.len(), "feed {i}");
        let mut skipped = 0;
        for (r, s) in rows.iter().enumerate() {
            assert_eq!(s.row, r as u64, "feed {i}: signals in push order");
            assert_eq!(s.ts, feed.ts[r]);
            assert_eq!(
                s.score.to_bits(),
                want.scores[r].to_bits(),
                "feed {i} row {r}: {} against {}",
                s.score,
                want.scores[r]
            );
            assert_eq!(s.signal, want.signals[r], "feed {i} row {r}");
            assert_eq!(s.skipped == 1, want.scores[r].is_nan(), "feed {i} row {r}");
            skipped += usize::from(s.skipped);
        }
        assert_eq!(skipped, want.skipped, "feed {i}");
        assert!(skipped > 10, "feed {i}: the generator made bad books");
        assert_eq!(stats.feeds[i].skipped, skipped as u64);
        let signals = rows.iter().filter(|s| s.signal != 0).count();
        assert!(signals > rows.len() / 10, "feed {i}: the model signals");
    }
    assert_eq!(N_FEATURES, 18);
}
