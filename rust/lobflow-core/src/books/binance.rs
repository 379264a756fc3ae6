//! Binance's diff-depth stream and the documented local-book procedure.
//!
//! Buffer events, take a REST snapshot, fetch again while its `lastUpdateId` is below the
//! first buffered `U`, drop events with `u <= lastUpdateId`, check the first one spans
//! `lastUpdateId + 1`, then apply; once synced, an event with `u` at or below the book's id is
//! stale and one with `U` above the id + 1 a gap (the feed starts over). Book time: the event
//! time `E`; seq: `u`.

use std::borrow::Cow;

use serde::Deserialize;

use super::levels::Update;
use super::wire::{ms_to_ns, pairs, Int, Pair};
use super::{refused, BookMachine, Event, FeedBook};

/// Events buffered while a snapshot is fetched; more and the feed starts over.
pub const MAX_BUFFER: usize = 10_000;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Diff<'a>>,
}

#[derive(Deserialize)]
struct Diff<'a> {
    #[serde(rename = "E")]
    time: Int,
    #[serde(rename = "U")]
    first: Int,
    #[serde(rename = "u")]
    last: Int,
    #[serde(borrow)]
    b: Vec<Pair<'a>>,
    #[serde(borrow)]
    a: Vec<Pair<'a>>,
}

#[derive(Deserialize)]
struct Depth<'a> {
    #[serde(rename = "lastUpdateId")]
    last_id: Int,
    #[serde(borrow)]
    bids: Vec<Pair<'a>>,
    #[serde(borrow)]
    asks: Vec<Pair<'a>>,
}

/// One diff event, parsed.
#[derive(Debug)]
struct DiffEvent {
    first: i64,
    last: i64,
    time_ns: i64,
    bids: Vec<Update>,
    asks: Vec<Update>,
}

/// A REST snapshot, parsed.
#[derive(Debug)]
struct Snapshot {
    last_id: i64,
    bids: Vec<Update>,
    asks: Vec<Update>,
}

/// A book waiting for its snapshot: events buffered, the snapshot once it came.
#[derive(Debug, Default)]
pub(crate) struct Sync {
    buffer: Vec<DiffEvent>,
    snapshot: Option<Snapshot>,
}

pub(crate) fn frame(m: &mut BookMachine, conn: u32, text: &str, out: &mut Vec<Event>) {
    let f: Frame<'_> = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return refused(m, text, &e, data_key, out),
    };
    let Some(data) = f.data else {
        return out.push(Event::Control); // {"result": null, "id": 1}, errors
    };
    let Some(feed) = f.stream.as_deref().and_then(|s| m.feed_of(s)) else {
        return;
    };
    let ev = match m.scales(feed).and_then(|scales| {
        Ok(DiffEvent {
            first: data.first.0,
            last: data.last.0,
            time_ns: ms_to_ns(data.time.0),
            bids: pairs(&data.b, scales)?,
            asks: pairs(&data.a, scales)?,
        })
    }) {
        Ok(ev) => ev,
        Err(why) => return out.push(Event::Malformed { feed: None, why }),
    };
    let fb = m.book(conn, feed);
    if fb.synced {
        if ev.last <= fb.pos {
            return out.push(Event::Stale { feed });
        }
        if ev.first > fb.pos + 1 {
            let why = format!("update ids {}..{} missed", fb.pos + 1, ev.first - 1);
            fb.reset();
            // The first event of the next sync.
            fb.sync.get_or_insert_with(Box::default).buffer.push(ev);
            return out.push(Event::Gap {
                feed,
                why,
                checksum: false,
            });
        }
        apply(fb, feed, &ev, false, out);
        return;
    }
    let sync = fb.sync.get_or_insert_with(Box::default);
    sync.buffer.push(ev);
    if sync.buffer.len() > MAX_BUFFER {
        sync.buffer.drain(..sync.buffer.len() - 1);
        sync.snapshot = None;
    }
    try_sync(fb, feed, out);
    let waiting = fb.sync.as_ref().map_or(true, |s| s.snapshot.is_none());
    if !fb.synced && waiting && !matches!(out.last(), Some(Event::Fetch { .. })) {
        out.push(Event::Fetch { feed }); // at most one in flight: the caller's flag
    }
}

/// The frame's data key for [`refused`]: a frame with `data` names its stream.
fn data_key(doc: &serde_json::Value) -> Option<Result<Vec<String>, ()>> {
    let data = doc.get("data")?;
    if data.is_null() {
        return None;
    }
    Some(match doc.get("stream") {
        Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
        Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => Err(()),
        _ => Ok(vec![]),
    })
}

pub(crate) fn snapshot(
    m: &mut BookMachine,
    conn: u32,
    feed: usize,
    body: &str,
    out: &mut Vec<Event>,
) {
    let Ok(scales) = m.scales(feed) else { return };
    match m.books.get(&(conn, feed)) {
        Some(fb) if !fb.synced => {}
        _ => return,
    }
    let parsed = serde_json::from_str::<Depth<'_>>(body)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            Ok(Snapshot {
                last_id: d.last_id.0,
                bids: pairs(&d.bids, scales)?,
                asks: pairs(&d.asks, scales)?,
            })
        });
    let snap = match parsed {
        Ok(s) => s,
        Err(why) => {
            return out.push(Event::Malformed {
                feed: Some(feed),
                why,
            })
        }
    };
    let fb = m.book(conn, feed);
    fb.sync.get_or_insert_with(Box::default).snapshot = Some(snap);
    try_sync(fb, feed, out);
}

fn try_sync(fb: &mut FeedBook, feed: usize, out: &mut Vec<Event>) {
    let Some(sync) = fb.sync.as_mut() else { return };
    let (Some(snap), Some(first)) = (&sync.snapshot, sync.buffer.first()) else {
        return;
    };
    let last_id = snap.last_id;
    if last_id < first.first {
        sync.snapshot = None; // older than the stream: fetch again
        return out.push(Event::Fetch { feed });
    }
    sync.buffer.retain(|e| e.last > last_id);
    let Some(first) = sync.buffer.first() else {
        return; // the snapshot is newer than every buffered event: wait for the next
    };
    if !(first.first <= last_id + 1 && last_id < first.last) {
        sync.buffer.clear();
        sync.snapshot = None;
        return out.push(Event::Fetch { feed });
    }
    let sync = *fb.sync.take().expect("checked above");
    let snap = sync.snapshot.expect("checked above");
    fb.book.clear();
    fb.book.apply(&snap.bids, &snap.asks);
    fb.pos = last_id;
    let mut events = sync.buffer.into_iter();
    if let Some(e) = events.next() {
        apply(fb, feed, &e, true, out);
    }
    while let Some(e) = events.next() {
        if e.last <= fb.pos {
            out.push(Event::Stale { feed });
        } else if e.first > fb.pos + 1 {
            fb.reset();
            let mut rest = vec![e];
            rest.extend(events);
            fb.sync = Some(Box::new(Sync {
                buffer: rest,
                snapshot: None,
            }));
            return out.push(Event::Gap {
                feed,
                why: "update ids missed in the buffer".to_owned(),
                checksum: false,
            });
        } else {
            apply(fb, feed, &e, false, out);
        }
    }
}

fn apply(fb: &mut FeedBook, feed: usize, e: &DiffEvent, synced: bool, out: &mut Vec<Event>) {
    fb.book.apply(&e.bids, &e.asks);
    fb.pos = e.last;
    if synced {
        fb.synced = true;
    }
    out.push(fb.report(feed, e.time_ns, Some(e.last), synced));
}
