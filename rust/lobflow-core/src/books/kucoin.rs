//! KuCoin `/spotMarket/level2Depth5:<SYM>`: every message is a whole top-5 book.
//!
//! A message older than the book (by its `timestamp`) is stale. Book time: `timestamp`; no
//! sequence.

use std::borrow::Cow;

use serde::Deserialize;

use super::wire::{ms_to_ns, pairs, Int, Pair};
use super::{refused, BookMachine, Event};

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    timestamp: Int,
    #[serde(borrow)]
    bids: Vec<Pair<'a>>,
    #[serde(borrow)]
    asks: Vec<Pair<'a>>,
}

pub(crate) fn frame(m: &mut BookMachine, conn: u32, text: &str, out: &mut Vec<Event>) {
    let f: Frame<'_> = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return refused(m, text, &e, data_key, out),
    };
    if f.kind.as_deref() != Some("message") {
        return out.push(Event::Control); // welcome, ack, pong, error
    }
    let Some(feed) = f.topic.as_deref().and_then(|t| m.feed_of(t)) else {
        return;
    };
    let parsed = (|| {
        let data = f.data.ok_or("no data")?;
        let scales = m.scales(feed)?;
        Ok::<_, String>((
            ms_to_ns(data.timestamp.0),
            pairs(&data.bids, scales)?,
            pairs(&data.asks, scales)?,
        ))
    })();
    let (ts, bids, asks) = match parsed {
        Ok(p) => p,
        Err(why) => return out.push(Event::Malformed { feed: None, why }),
    };
    let fb = m.book(conn, feed);
    if ts < fb.pos {
        return out.push(Event::Stale { feed });
    }
    fb.book.clear();
    fb.book.apply(&bids, &asks);
    fb.pos = ts;
    fb.synced = true;
    out.push(fb.report(feed, ts, None, true));
}

fn data_key(doc: &serde_json::Value) -> Option<Result<Vec<String>, ()>> {
    if doc.get("type")?.as_str() != Some("message") {
        return None;
    }
    Some(match doc.get("topic") {
        Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
        Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => Err(()),
        _ => Ok(vec![]),
    })
}
