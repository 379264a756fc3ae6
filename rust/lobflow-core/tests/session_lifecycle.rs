//! A live session's life: close drains, a worker panic becomes an error, a caller that stops
//! polling gets a backpressure error (and can recover), bad ids and late pushes are errors,
//! one thread pushes while another polls.
#![cfg(target_os = "linux")]

use lobflow_core::engine::{Engine, EngineConfig};
use lobflow_core::session::{Book, Session, SessionOptions, Signal};
use lobflow_core::weights::Weights;
use lobflow_core::Error;
use std::time::Duration;

fn engine() -> Engine {
    let mut coef = [0.0; 18];
    coef[1] = 1.0; // the spread
    coef[2] = 0.1; // OFI
    let w = Weights {
        windows_ms: [10, 20, 50],
        threshold: 0.5,
        bias: 0.0,
        coef,
    };
    Engine::new(
        w,
        EngineConfig {
            capacity: 1024,
            cores: Some([0, 1]),
        },
    )
    .unwrap()
}

fn book(i: u64) -> Book {
    let mut b = [1.0; 20];
    for k in 0..5 {
        b[k] = 100.0 - k as f64 + (i % 3) as f64;
        b[10 + k] = 101.0 + k as f64 + (i % 3) as f64;
    }
    b[5] = (i % 7) as f64;
    b
}

fn start(opts: &SessionOptions) -> (Session, u32) {
    let s = engine().session(opts).unwrap();
    let id = s.add_feed("sim", "BTC-USDT").unwrap();
    (s, id)
}

fn poll_all(s: &Session) -> Vec<Signal> {
    let mut out = Vec::new();
    s.poll(&mut out, usize::MAX).unwrap();
    out
}

#[test]
fn close_drains_every_pushed_book_and_keeps_them_for_poll() {
    let (s, id) = start(&SessionOptions::default());
    for i in 0..5_000u64 {
        s.push(
            id,
            i as i64 * 1_000,
            &book(i),
            Some(s.now_ns()),
            &mut || true,
        )
        .unwrap();
    }
    let stats = s.close(&mut || true).unwrap();
    assert!(stats.closed);
    assert_eq!(
        (stats.pushed, stats.polled, stats.pending),
        (5_000, 0, 5_000)
    );
    let out = poll_all(&s);
    assert_eq!(out.len(), 5_000);
    assert!(out.iter().enumerate().all(|(i, o)| o.row == i as u64));
    assert!(out
        .iter()
        .all(|o| o.recv_ns >= 0 && o.recv_ns as u64 <= o.push_ns && o.push_ns <= o.emit_ns));
    let stats = s.stats();
    assert_eq!((stats.polled, stats.pending), (5_000, 0));
    assert_eq!(stats.push_to_emit.count, 5_000);
    assert_eq!(stats.recv_to_emit.count, 5_000);
    // Each book was received before it was pushed.
    assert!(stats.recv_to_emit.p50_ns >= stats.push_to_emit.p50_ns);
    // Closed: no more books or feeds, and closing again is fine.
    let err = s.push(id, 0, &book(0), None, &mut || true).unwrap_err();
    assert!(matches!(err, Error::SessionClosed(_)), "{err}");
    assert!(s.try_push(id, 0, &book(0), None).is_err());
    assert!(matches!(
        s.add_feed("sim", "ETH-USDT"),
        Err(Error::SessionClosed(_))
    ));
    assert!(s.close(&mut || true).is_ok());
    assert!(poll_all(&s).is_empty());
}

#[test]
#[cfg(feature = "test-hooks")]
fn a_worker_panic_is_an_error_not_a_hang() {
    let (s, id) = start(&SessionOptions {
        panic_at_update: Some(3),
        ..SessionOptions::default()
    });
    // Pushes go on until the session sees the worker gone; then they fail with its panic.
    let mut err = None;
    for i in 0..1_000_000u64 {
        if let Err(e) = s.push(id, i as i64, &book(i), None, &mut || true) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("a push saw the dead worker");
    assert!(
        matches!(&err, Error::WorkerPanicked(m) if m.contains("injected")),
        "{err}"
    );
    // What it published before dying is still there (books 0-2, less any that shared the
    // fatal book's batch); then poll and close report the panic.
    let mut out = Vec::new();
    if let Ok(n) = s.poll(&mut out, usize::MAX) {
        assert!((1..=3).contains(&n));
    }
    assert!(out.len() <= 3);
    assert!(matches!(
        s.poll(&mut out, usize::MAX),
        Err(Error::WorkerPanicked(_))
    ));
    assert!(matches!(
        s.close(&mut || true),
        Err(Error::WorkerPanicked(_))
    ));
}

#[test]
fn a_caller_that_stops_polling_gets_a_backpressure_error_and_can_recover() {
    let (s, id) = start(&SessionOptions {
        capacity: 4,
        out_capacity: 4,
        push_timeout: Duration::from_millis(50),
        ..SessionOptions::default()
    });
    // 4 signals fill the output ring, the worker holds up to a batch, 4 more books fill the
    // input ring: a few more pushes, and one must time out.
    let mut pushed = 0u64;
    let err = loop {
        match s.push(id, pushed as i64, &book(pushed), None, &mut || true) {
            Ok(()) => pushed += 1,
            Err(e) => break e,
        }
        assert!(pushed < 100, "never pushed back");
    };
    assert!(
        matches!(&err, Error::Backpressure { reason, .. } if reason.contains("call poll()")),
        "{err}"
    );
    assert!(err.to_string().contains("output queue is full"), "{err}");
    // The failed push went nowhere; polling makes room again.
    let stats = s.stats();
    assert_eq!(stats.pushed, pushed);
    assert!(stats.push_waits >= 1);
    let mut out = poll_all(&s);
    s.push(id, pushed as i64, &book(pushed), None, &mut || true)
        .unwrap();
    s.close(&mut || true).unwrap();
    s.poll(&mut out, usize::MAX).unwrap();
    assert_eq!(out.len() as u64, pushed + 1);
    assert!(out.iter().enumerate().all(|(i, o)| o.row == i as u64));
}

#[test]
fn a_waiting_push_stops_when_asked() {
    let (s, id) = start(&SessionOptions {
        capacity: 2,
        out_capacity: 2,
        push_timeout: Duration::from_secs(3600),
        ..SessionOptions::default()
    });
    let mut asked = 0;
    let mut interrupted = None;
    for i in 0..100u64 {
        let mut poll = || {
            asked += 1;
            false
        };
        if let Err(e) = s.push(id, i as i64, &book(i), None, &mut poll) {
            interrupted = Some(e);
            break;
        }
    }
    assert!(matches!(interrupted, Some(Error::Interrupted)));
    assert_eq!(asked, 1);
}

#[test]
fn unknown_feeds_bad_values_and_unhonoured_windows_are_errors() {
    let (s, id) = start(&SessionOptions::default());
    let err = s.push(id + 1, 0, &book(0), None, &mut || true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown feed id 1: this session has 1 feeds (ids 0..1)"
    );
    assert!(matches!(
        s.try_push(7, 0, &book(0), None),
        Err(Error::UnknownFeed { id: 7, .. })
    ));
    assert!(
        s.add_feed("sim", "BTC-USDT").is_err(),
        "a feed is added once"
    );
    assert_eq!(s.feed_id("sim", "BTC-USDT"), Some(id));
    assert!(matches!(
        s.push(id, 0, &book(0), Some(1 << 63), &mut || true),
        Err(Error::Config(_))
    ));
    let err = s
        .push_many(&[id, 9], &[0, 1], &[book(0), book(1)], None, &mut || true)
        .unwrap_err();
    assert!(matches!(err, Error::UnknownFeed { id: 9, .. }), "{err}");
    assert_eq!(s.stats().pushed, 0, "nothing of a bad batch went in");
    let too_long = SessionOptions {
        max_window_ms: 20,
        ..SessionOptions::default()
    };
    let err = engine().session(&too_long).unwrap_err();
    assert!(err.to_string().contains("longest window is 50 ms"), "{err}");
    let odd_ring = SessionOptions {
        capacity: 1000,
        ..SessionOptions::default()
    };
    assert!(matches!(
        engine().session(&odd_ring),
        Err(Error::Capacity { capacity: 1000 })
    ));
}

#[test]
fn bad_books_are_skipped_counted_and_named() {
    let s = engine().session(&SessionOptions::default()).unwrap();
    let a = s.add_feed("sim", "A").unwrap();
    let b = s.add_feed("sim", "B").unwrap();
    let mut crossed = book(0);
    crossed[10] = crossed[0];
    s.push(a, 100, &book(0), None, &mut || true).unwrap();
    s.push(a, 50, &book(1), None, &mut || true).unwrap(); // back in time for A...
    s.push(b, 50, &book(1), None, &mut || true).unwrap(); // ...not for B
    s.push(b, 60, &crossed, None, &mut || true).unwrap();
    s.push(a, 100, &crossed, None, &mut || true).unwrap();
    s.close(&mut || true).unwrap();
    let out = poll_all(&s);
    let skipped: Vec<(u32, u64)> = out
        .iter()
        .filter(|o| o.skipped == 1)
        .map(|o| (o.feed, o.row))
        .collect();
    assert_eq!(skipped, vec![(a, 1), (b, 1), (a, 2)]);
    assert!(out
        .iter()
        .all(|o| (o.skipped == 1) == (o.score.is_nan() && o.signal == 0)));
    let stats = s.stats();
    let fa = &stats.feeds[a as usize];
    assert_eq!((fa.pushed, fa.skipped, fa.polled), (3, 2, 3));
    assert_eq!(fa.skip_reasons.len(), 2);
    assert_eq!(fa.skip_reasons[0].column, "ts");
    assert!(fa
        .last_bad
        .as_deref()
        .unwrap()
        .contains("feed (sim, A) row 2, column `ask_px_0`"));
    assert_eq!(stats.skipped, 3);
}

#[test]
fn one_thread_pushes_while_another_polls() {
    let s = engine().session(&SessionOptions::default()).unwrap();
    let ids: Vec<u32> = (0..4)
        .map(|i| s.add_feed("sim", &format!("F{i}")).unwrap())
        .collect();
    let n = 50_000u64;
    let out = std::thread::scope(|scope| {
        let poller = scope.spawn(|| {
            let mut out = Vec::new();
            while (out.len() as u64) < n {
                if s.poll(&mut out, 1024).unwrap() == 0 {
                    std::thread::yield_now();
                }
            }
            out
        });
        for i in 0..n {
            let id = ids[(i % 4) as usize];
            s.push(id, i as i64, &book(i), None, &mut || true).unwrap();
        }
        poller.join().unwrap()
    });
    let mut rows = [0u64; 4];
    for o in &out {
        assert_eq!(o.row, rows[o.feed as usize]);
        rows[o.feed as usize] += 1;
    }
    assert_eq!(rows, [n / 4; 4]);
    drop(s); // closes and joins
}

#[test]
fn dropping_an_open_session_joins_its_worker() {
    let (s, id) = start(&SessionOptions {
        out_capacity: 2,
        ..SessionOptions::default()
    });
    for i in 0..10u64 {
        s.push(id, i as i64, &book(i), None, &mut || true).unwrap();
    }
    // The worker waits for room in the output ring; dropping must still drain and join.
    drop(s);
}
