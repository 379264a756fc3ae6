//! Bybit v5 `orderbook.<depth>.<SYM>`: a snapshot resets the book, deltas apply in `u` order.
//!
//! A delta whose `u` is not the previous `u + 1` is a gap (the caller unsubscribes and
//! subscribes again for a fresh snapshot; `u == 1` comes with a snapshot when Bybit restarts).
//! Levels beyond the depth are dropped (Bybit sends their deletion too). Book time: `ts`;
//! seq: `u`.

use std::borrow::Cow;

use serde::Deserialize;

use super::wire::{ms_to_ns, pairs, Int, Pair};
use super::{refused, BookMachine, Event};

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    ts: Option<Int>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    u: Int,
    #[serde(borrow)]
    b: Vec<Pair<'a>>,
    #[serde(borrow)]
    a: Vec<Pair<'a>>,
}

pub(crate) fn frame(m: &mut BookMachine, conn: u32, text: &str, out: &mut Vec<Event>) {
    let f: Frame<'_> = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return refused(m, text, &e, data_key, out),
    };
    let Some(topic) = f.topic else {
        return out.push(Event::Control); // acks, pongs
    };
    let Some(feed) = m.feed_of(&topic) else {
        return;
    };
    let parsed = (|| {
        let data = f.data.ok_or("no data")?;
        let kind = f.kind.ok_or("no type")?;
        let snapshot = match &*kind {
            "snapshot" => true,
            "delta" => false,
            _ => return Ok(None),
        };
        let ts = ms_to_ns(f.ts.ok_or("no ts")?.0);
        let scales = m.scales(feed)?;
        let bids = pairs(&data.b, scales)?;
        let asks = pairs(&data.a, scales)?;
        Ok::<_, String>(Some((snapshot, data.u.0, ts, bids, asks)))
    })();
    let (snapshot, u, ts, bids, asks) = match parsed {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(why) => return out.push(Event::Malformed { feed: None, why }),
    };
    let depth = m.depth();
    let fb = m.book(conn, feed);
    if snapshot {
        fb.book.clear();
    } else {
        if !fb.synced {
            return; // deltas of a subscription being renewed
        }
        if u <= fb.pos {
            return out.push(Event::Stale { feed });
        }
        if u != fb.pos + 1 {
            let why = format!("u {}..{} missed", fb.pos + 1, u - 1);
            fb.reset();
            return out.push(Event::Gap {
                feed,
                why,
                checksum: false,
            });
        }
    }
    fb.book.apply(&bids, &asks);
    if let Some(depth) = depth {
        fb.book.bids.truncate(depth);
        fb.book.asks.truncate(depth);
    }
    fb.pos = u;
    if snapshot {
        fb.synced = true;
    }
    out.push(fb.report(feed, ts, Some(u), snapshot));
}

fn data_key(doc: &serde_json::Value) -> Option<Result<Vec<String>, ()>> {
    match doc.get("topic")? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Ok(vec![s.clone()])),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Some(Err(())),
        _ => Some(Ok(vec![])),
    }
}
