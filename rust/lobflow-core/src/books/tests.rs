//! The book machines on the venues' own frames (`tests/collect/payloads`), and a property
//! test against a naive book.

#![allow(clippy::unreadable_literal)]

use super::*;
use proptest::prelude::*;

macro_rules! payload {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/collect/payloads/",
            $name
        ))
    };
}

const S15: Option<(u32, u32)> = Some((15, 15));

fn machine(
    p: Protocol,
    keys: &[&str],
    scales: Option<(u32, u32)>,
    depth: Option<usize>,
) -> BookMachine {
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    BookMachine::new(p, &keys, &vec![scales; keys.len()], depth)
}

fn run(m: &mut BookMachine, frame: &str) -> Vec<Event> {
    let mut out = Vec::new();
    m.apply(1, frame, &mut out);
    out
}

/// The row of a `Book` event: (ts, seq, bids as (px, sz), asks as (px, sz)).
type Row = (i64, Option<i64>, Vec<(f64, f64)>, Vec<(f64, f64)>);

fn row(e: &Event) -> Row {
    let Event::Book {
        ts,
        seq,
        top: Some(Top::Levels(r)),
        ..
    } = e
    else {
        panic!("not a new top: {e:?}")
    };
    let side = |o: usize| (0..5).map(|i| (r[o + i], r[o + 5 + i])).collect();
    (*ts, *seq, side(0), side(10))
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

// -- Kraken ------------------------------------------------------------------------------------

#[test]
fn kraken_checksum_vector_of_the_docs() {
    let doc: serde_json::Value =
        serde_json::from_str(payload!("ws/kraken_ws_v2_checksum_vector.json")).unwrap();
    let units = |key: &str| -> Vec<(u128, u128)> {
        doc[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let p = decimal::parse(l[0].as_str().unwrap(), 1).unwrap().units;
                let q = decimal::parse(l[1].as_str().unwrap(), 8).unwrap().units;
                (p, q)
            })
            .collect()
    };
    let crc = kraken_checksum(
        units("asks_low_to_high").into_iter(),
        units("bids_high_to_low").into_iter(),
    );
    assert_eq!(crc, 3_310_070_434);
    assert_eq!(doc["checksum"], 3_310_070_434u32);
}

#[test]
fn kraken_docs_snapshot_and_update_build_a_checked_book() {
    let mut m = machine(Protocol::Kraken, &["MATIC/USD"], Some((4, 8)), Some(10));
    let out = run(&mut m, payload!("ws/kraken_ws_v2_book_snapshot.doc.json"));
    assert!(
        matches!(out[..], [Event::Book { synced: true, .. }]),
        "{out:?}"
    );
    let (ts, seq, bids, asks) = row(&out[0]);
    assert_eq!(ts, rfc3339_ns("2023-10-06T17:35:55.440295Z").unwrap());
    assert_eq!(seq, None);
    assert_eq!(bids[0], (0.5666, 4831.75496356));
    assert_eq!(bids[4], (0.5662, 14006.65365711));
    assert_eq!(asks[0], (0.5668, 4410.79769741));
    assert_eq!(asks[2], (0.567, 49844.89424998));
    // The docs' update changes the 10th bid: the checksum holds, the top 5 does not move.
    let out = run(&mut m, payload!("ws/kraken_ws_v2_book_update.doc.json"));
    assert!(
        matches!(
            out[..],
            [Event::Book {
                top: None,
                synced: false,
                ..
            }]
        ),
        "{out:?}"
    );
}

#[test]
fn kraken_mismatch_is_a_gap_and_updates_wait_for_the_snapshot() {
    let mut m = machine(Protocol::Kraken, &["MATIC/USD"], Some((4, 8)), Some(10));
    run(&mut m, payload!("ws/kraken_ws_v2_book_snapshot.doc.json"));
    let update = payload!("ws/kraken_ws_v2_book_update.doc.json");
    let bad = update.replace("2114181697", "2114181698");
    let out = run(&mut m, &bad);
    assert!(
        matches!(out[..], [Event::Gap { checksum: true, .. }]),
        "{out:?}"
    );
    assert!(!m.synced(1, 0));
    assert!(run(&mut m, update).is_empty());
    let out = run(&mut m, payload!("ws/kraken_ws_v2_book_snapshot.doc.json"));
    assert!(
        matches!(
            out[..],
            [Event::Book {
                synced: true,
                top: Some(_),
                ..
            }]
        ),
        "{out:?}"
    );
}

#[test]
fn kraken_numbers_beyond_the_pairs_precision_are_malformed() {
    let mut m = machine(Protocol::Kraken, &["MATIC/USD"], Some((3, 8)), Some(10));
    let out = run(&mut m, payload!("ws/kraken_ws_v2_book_snapshot.doc.json"));
    assert!(
        matches!(&out[..], [Event::Malformed { feed: None, why }] if why.contains("0.5666")),
        "{out:?}"
    );
    let mut unknown = machine(Protocol::Kraken, &["MATIC/USD"], None, Some(10));
    let out = run(
        &mut unknown,
        payload!("ws/kraken_ws_v2_book_snapshot.doc.json"),
    );
    assert!(matches!(&out[..], [Event::Malformed { .. }]), "{out:?}");
}

#[test]
fn rfc3339_times() {
    assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(
        rfc3339_ns("2024-02-29T23:59:59.123456789123Z"),
        Ok(1_709_251_199_123_456_789)
    );
    for bad in [
        "2023-10-06T17:35:55",
        "2023-13-06T17:35:55Z",
        "2023-02-30T00:00:00Z",
        "x",
        "2023-10-06T17:35:55.4a5Z",
        "\u{0}rfc\u{0}",
    ] {
        assert!(rfc3339_ns(bad).is_err(), "{bad}");
    }
}

// -- Bybit -------------------------------------------------------------------------------------

fn bybit_snapshot(u: i64, ts: i64, best: &str) -> String {
    format!(
        r#"{{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":{ts},"data":{{"s":"BTCUSDT",
        "b":[["30247.20","{best}"],["30245.40","1"],["30242.10","1"],["30240.30","1"],["30240.00","1"],["30239.00","1"]],
        "a":[["30248.70","1"],["30249.30","1"],["30249.50","1"],["30249.60","1"],["30251.90","1"],["30252.20","1"]],
        "u":{u},"seq":1}},"cts":{ts}}}"#
    )
}

#[test]
fn bybit_docs_delta_on_its_snapshot_then_stale_and_gap() {
    let mut m = machine(Protocol::Bybit, &["orderbook.50.BTCUSDT"], S15, Some(50));
    let delta = payload!("ws/bybit_ws_orderbook_delta.json");
    let out = run(&mut m, &bybit_snapshot(177_400_506, 1_687_940_967_461, "1"));
    assert!(matches!(
        out[..],
        [Event::Book {
            synced: true,
            seq: Some(177_400_506),
            ..
        }]
    ));
    let out = run(&mut m, delta);
    let (ts, seq, bids, asks) = row(&out[0]);
    assert_eq!((ts, seq), (1_687_940_967_466_000_000, Some(177_400_507)));
    assert_eq!(
        bids,
        [
            (30247.2, 30.028),
            (30245.4, 0.224),
            (30242.1, 1.593),
            (30240.3, 1.305),
            (30239.0, 1.0)
        ]
    );
    assert_eq!(
        asks,
        [
            (30249.3, 0.892),
            (30249.5, 1.778),
            (30251.9, 2.947),
            (30252.2, 0.659),
            (30252.5, 4.591)
        ]
    );
    assert_eq!(run(&mut m, delta), [Event::Stale { feed: 0 }]);
    let jump = delta.replace("177400507", "177400509");
    let out = run(&mut m, &jump);
    assert!(
        matches!(&out[..], [Event::Gap { why, checksum: false, .. }] if why == "u 177400508..177400508 missed")
    );
    assert!(run(&mut m, &jump.replace("177400509", "177400510")).is_empty());
    let out = run(&mut m, &bybit_snapshot(1, 1_687_940_967_470, "2"));
    assert!(matches!(
        out[..],
        [Event::Book {
            synced: true,
            seq: Some(1),
            top: Some(_),
            ..
        }]
    ));
}

#[test]
fn bybit_control_frames_and_other_topics() {
    let mut m = machine(Protocol::Bybit, &["orderbook.50.BTCUSDT"], S15, Some(50));
    assert_eq!(
        run(&mut m, payload!("ws/bybit_ws_pong_spot.json")),
        [Event::Control]
    );
    assert_eq!(
        run(&mut m, payload!("ws/bybit_ws_subscribe_response_spot.json")),
        [Event::Control]
    );
    let other = bybit_snapshot(5, 1, "1").replace("orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT");
    assert!(run(&mut m, &other).is_empty());
    m.stop(0);
    assert!(run(&mut m, &bybit_snapshot(5, 1, "1")).is_empty());
}

// -- KuCoin ------------------------------------------------------------------------------------

#[test]
fn kucoin_docs_depth5_is_a_whole_book() {
    let mut m = machine(
        Protocol::Kucoin,
        &["/spotMarket/level2Depth5:BTC-USDT"],
        S15,
        None,
    );
    assert_eq!(
        run(&mut m, payload!("ws/kucoin_ws_welcome.doc.json")),
        [Event::Control]
    );
    let msg = payload!("ws/kucoin_ws_level2depth5.doc.json");
    let out = run(&mut m, msg);
    let (ts, seq, bids, asks) = row(&out[0]);
    assert_eq!((ts, seq), (1_729_822_226_746_000_000, None));
    assert_eq!(bids[0], (67996.6, 0.37969491));
    assert_eq!(asks[3], (67997.0, 0.11446863));
    // The same book with the asks listed backwards and a later time: no new top.
    let mut doc: serde_json::Value = serde_json::from_str(msg).unwrap();
    doc["data"]["asks"].as_array_mut().unwrap().reverse();
    doc["data"]["timestamp"] = 1_729_822_226_747u64.into();
    let out = run(&mut m, &doc.to_string());
    assert!(
        matches!(
            out[..],
            [Event::Book {
                top: None,
                synced: true,
                ..
            }]
        ),
        "{out:?}"
    );
    doc["data"]["timestamp"] = 1_729_822_226_740u64.into();
    assert_eq!(run(&mut m, &doc.to_string()), [Event::Stale { feed: 0 }]);
}

// -- Binance -----------------------------------------------------------------------------------

fn binance_ev(first: i64, last: i64, e_ms: i64, b: &str, a: &str) -> String {
    format!(
        r#"{{"stream":"bnbbtc@depth@100ms","data":{{"e":"depthUpdate","E":{e_ms},"s":"BNBBTC","U":{first},"u":{last},"b":{b},"a":{a}}}}}"#
    )
}

fn snapshot(m: &mut BookMachine, body: &str) -> Vec<Event> {
    let mut out = Vec::new();
    m.snapshot(1, 0, body, &mut out);
    out
}

#[test]
fn binance_docs_procedure_buffer_snapshot_refetch_apply_stale_gap() {
    let mut m = machine(Protocol::Binance, &["bnbbtc@depth@100ms"], S15, None);
    let doc = strip_comments(payload!("ws/binance_ws_diff_depth.doc.jsonc"));
    let frame = format!(r#"{{"stream":"bnbbtc@depth@100ms","data":{doc}}}"#);
    assert_eq!(run(&mut m, &frame), [Event::Fetch { feed: 0 }]);
    let snap = r#"{"lastUpdateId": 150, "bids": [["0.0023", "5"]], "asks": [["0.0027", "7"]]}"#;
    assert_eq!(snapshot(&mut m, snap), [Event::Fetch { feed: 0 }]); // older than the stream
    let out = snapshot(&mut m, &snap.replace("150", "158"));
    let (ts, seq, bids, asks) = row(&out[0]);
    assert_eq!((ts, seq), (1_672_515_782_136_000_000, Some(160)));
    assert_eq!(bids[..2], [(0.0024, 10.0), (0.0023, 5.0)]);
    assert_eq!(asks[..2], [(0.0026, 100.0), (0.0027, 7.0)]);
    let out = run(
        &mut m,
        &binance_ev(161, 162, 1, r#"[["0.0024","0"]]"#, "[]"),
    );
    assert_eq!(row(&out[0]).2[0], (0.0023, 5.0));
    assert_eq!(
        run(&mut m, &binance_ev(159, 161, 2, "[]", "[]")),
        [Event::Stale { feed: 0 }]
    );
    let out = run(
        &mut m,
        &binance_ev(170, 171, 3, r#"[["0.0025","2"]]"#, "[]"),
    );
    assert!(
        matches!(&out[..], [Event::Gap { why, .. }] if why == "update ids 163..169 missed"),
        "{out:?}"
    );
    assert_eq!(
        run(
            &mut m,
            &binance_ev(172, 173, 4, r#"[["0.0025","3"]]"#, "[]")
        ),
        [Event::Fetch { feed: 0 }]
    );
    let snap2 = r#"{"lastUpdateId": 171, "bids": [["0.0023", "5"], ["0.0025", "2"]], "asks": [["0.0027", "7"]]}"#;
    let out = snapshot(&mut m, snap2);
    let (_, seq, bids, _) = row(&out[0]);
    assert_eq!((seq, bids[0]), (Some(173), (0.0025, 3.0)));
    assert!(m.synced(1, 0));
}

#[test]
fn binance_real_rest_snapshot_syncs_a_book() {
    let mut m = machine(Protocol::Binance, &["btcusdt@depth@100ms"], S15, None);
    let ev = r#"{"stream":"btcusdt@depth@100ms","data":{"E":1,"U":14527958480,"u":14527958490,"b":[["60650.00000000","0.5"]],"a":[]}}"#;
    assert_eq!(run(&mut m, ev), [Event::Fetch { feed: 0 }]);
    let mut out = Vec::new();
    m.snapshot(1, 0, payload!("binance_depth_rest.json"), &mut out);
    let (_, seq, bids, asks) = row(&out[0]);
    assert_eq!(seq, Some(14_527_958_490));
    assert_eq!(bids[0], (60650.0, 0.5));
    assert_eq!(bids[1], (60648.08, 0.06346));
    assert_eq!(asks[0], (60650.01, 0.61982));
}

#[test]
fn binance_a_malformed_snapshot_is_the_feeds_and_the_next_frame_fetches_again() {
    let mut m = machine(Protocol::Binance, &["bnbbtc@depth@100ms"], S15, None);
    run(&mut m, &binance_ev(157, 160, 1, "[]", "[]"));
    let out = snapshot(
        &mut m,
        r#"{"lastUpdateId": 158, "bids": [["-1", "5"]], "asks": []}"#,
    );
    assert!(
        matches!(out[..], [Event::Malformed { feed: Some(0), .. }]),
        "{out:?}"
    );
    assert_eq!(
        run(&mut m, &binance_ev(161, 162, 1, "[]", "[]")),
        [Event::Fetch { feed: 0 }]
    );
}

// -- every venue -------------------------------------------------------------------------------

#[test]
fn malformed_frames_change_nothing_and_non_data_is_the_callers() {
    let cases = [
        (
            Protocol::Binance,
            "bnbbtc@depth@100ms",
            r#"{"stream":"bnbbtc@depth@100ms","data":{"E":1,"U":1,"u":2,"b":[["1","x"]],"a":[]}}"#,
        ),
        (
            Protocol::Bybit,
            "orderbook.50.BTCUSDT",
            r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"u":1,"b":[["1"]],"a":[]}}"#,
        ),
        (
            Protocol::Kraken,
            "BTC/USD",
            r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":0,"timestamp":"bad"}]}"#,
        ),
        (
            Protocol::Kucoin,
            "/spotMarket/level2Depth5:BTC-USDT",
            r#"{"type":"message","topic":"/spotMarket/level2Depth5:BTC-USDT","data":{"timestamp":"x","bids":[],"asks":[]}}"#,
        ),
    ];
    for (p, key, frame) in cases {
        let mut m = machine(p, &[key], Some((8, 8)), Some(10));
        let out = run(&mut m, frame);
        assert!(
            matches!(out[..], [Event::Malformed { feed: None, .. }]),
            "{p:?}: {out:?}"
        );
        assert!(!m.synced(1, 0));
        for text in ["{not json", "[]", "3", "\"x\"", "null"] {
            assert_eq!(run(&mut m, text), [Event::Control], "{p:?} {text}");
        }
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(run(&mut m, &deep), [Event::Control]);
    }
}

// -- the machine against a naive book ----------------------------------------------------------

/// A naive book: levels in a Vec, sorted on every read, floats from the decimal text.
#[derive(Default)]
struct Naive {
    bids: Vec<(u64, String)>,
    asks: Vec<(u64, String)>,
}

impl Naive {
    fn set(levels: &mut Vec<(u64, String)>, at: u64, qty: &str) {
        levels.retain(|(p, _)| *p != at);
        if qty.parse::<f64>().unwrap() != 0.0 {
            levels.push((at, qty.to_owned()));
        }
    }

    fn truncate(side: &mut Vec<(u64, String)>, bids: bool, depth: usize) {
        side.sort_by_key(|(p, _)| if bids { u64::MAX - p } else { *p });
        side.truncate(depth);
    }

    fn top(&self) -> Top {
        let mut b = self.bids.clone();
        let mut a = self.asks.clone();
        Self::truncate(&mut b, true, 5);
        Self::truncate(&mut a, false, 5);
        if b.is_empty() || a.is_empty() {
            return Top::Empty;
        }
        if b[0].0 >= a[0].0 {
            return Top::Crossed;
        }
        let mut row = [0.0; 20];
        for (s, side) in [b, a].iter().enumerate() {
            for i in 0..5 {
                let (p, q) = side
                    .get(i)
                    .map_or((side.last().unwrap().0, "0"), |(p, q)| (*p, q.as_str()));
                row[10 * s + i] = format!("{}.{:02}", p / 100, p % 100).parse().unwrap();
                row[10 * s + 5 + i] = q.parse().unwrap();
            }
        }
        Top::Levels(row)
    }
}

fn level() -> impl Strategy<Value = (u64, String)> {
    // Prices 0.01..=0.40 around a spread, sizes with up to 8 decimals, a third of them 0.
    (1u64..=40, prop_oneof![Just(0u64), 1u64..=10_000_000_000]).prop_map(|(p, q)| {
        let size = format!("{}.{:08}", q / 100_000_000, q % 100_000_000);
        (p, size)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

    #[test]
    fn random_deltas_give_the_naive_books_top(
        frames in prop::collection::vec(
            (prop::collection::vec(level(), 0..6), prop::collection::vec(level(), 0..6)), 1..40,
        )
    ) {
        let mut m = machine(Protocol::Bybit, &["orderbook.50.X"], Some((2, 8)), Some(8));
        let mut naive = Naive::default();
        let mut last = Top::Empty;
        for (u, (bids, asks)) in frames.iter().enumerate() {
            let fmt = |side: &[(u64, String)], shift: u64| side.iter()
                .map(|(p, q)| { let p = p + shift; format!(r#"["{}.{:02}","{q}"]"#, p / 100, p % 100) })
                .collect::<Vec<_>>().join(",");
            // Bids at 0.01..0.40, asks at 0.21..0.60: books cross now and then.
            let kind = if u == 0 { "snapshot" } else { "delta" };
            let frame = format!(
                r#"{{"topic":"orderbook.50.X","type":"{kind}","ts":{u},"data":{{"u":{},"b":[{}],"a":[{}]}}}}"#,
                u + 1, fmt(bids, 0), fmt(asks, 20),
            );
            for (p, q) in bids { Naive::set(&mut naive.bids, *p, q); }
            for (p, q) in asks { Naive::set(&mut naive.asks, p + 20, q); }
            Naive::truncate(&mut naive.bids, true, 8);
            Naive::truncate(&mut naive.asks, false, 8);
            let out = run(&mut m, &frame);
            let [Event::Book { top, .. }] = &out[..] else { panic!("{out:?}") };
            let want = naive.top();
            if let Some(t) = top {
                last = t.clone();
            }
            prop_assert_eq!(&last, &want);
        }
    }
}
