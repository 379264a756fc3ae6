//! Kraken v2 `book` channel: apply, truncate to the depth, check the CRC32.
//!
//! Each message's levels are applied in order (qty 0 deletes), the book is truncated to the
//! subscribed depth, and the CRC32 of the top 10 asks (low to high) then bids (high to low),
//! each price and qty formatted to the pair's precisions with `.` and leading zeros removed,
//! must match the message's; a mismatch is a gap (the caller resubscribes). Formatting a value
//! to its precision and removing `.` and the leading zeros leaves exactly the decimal digits of
//! its units at that precision, so the checksum is computed from the units. Prices and sizes
//! are JSON numbers, taken as their exact text. Book time: the RFC 3339 `timestamp`; no
//! sequence.

use std::borrow::Cow;

use serde::Deserialize;

use super::wire::{self, number_text, Int, PriceQty};
use super::{refused, BookMachine, Event, Update};

/// Levels per side the checksum covers, whatever the subscribed depth.
pub const CHECKSUM_LEVELS: usize = 10;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(borrow)]
    bids: Vec<PriceQty<'a>>,
    #[serde(borrow)]
    asks: Vec<PriceQty<'a>>,
    checksum: Int,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
}

/// One entry, parsed.
struct Parsed {
    feed: usize,
    bids: Vec<Update>,
    asks: Vec<Update>,
    checksum: i64,
    ts: i64,
}

pub(crate) fn frame(m: &mut BookMachine, conn: u32, text: &str, out: &mut Vec<Event>) {
    let f: Frame<'_> = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return refused(m, text, &e, data_key, out),
    };
    if f.channel.as_deref() != Some("book") {
        return out.push(Event::Control); // status, heartbeat, pong, acks
    }
    let snapshot = f.kind.as_deref() == Some("snapshot");
    let Some(data) = f.data else {
        return out.push(Event::Malformed {
            feed: None,
            why: "no data".to_owned(),
        });
    };
    let mut entries = Vec::with_capacity(data.len());
    for e in &data {
        let Some(feed) = m.feed_of(&e.symbol) else {
            continue;
        };
        match parse(m, feed, e) {
            Ok(p) => entries.push(p),
            Err(why) => return out.push(Event::Malformed { feed: None, why }),
        }
    }
    let depth = m.depth();
    for p in entries {
        let fb = m.book(conn, p.feed);
        if !snapshot && !fb.synced {
            continue; // updates of a subscription being renewed
        }
        if snapshot {
            fb.book.clear();
        }
        fb.book.apply(&p.bids, &p.asks);
        if let Some(depth) = depth {
            fb.book.bids.truncate(depth);
            fb.book.asks.truncate(depth);
        }
        let crc = checksum(fb.book.asks.best(), fb.book.bids.best());
        if i64::from(crc) != p.checksum {
            fb.reset();
            out.push(Event::Gap {
                feed: p.feed,
                why: "checksum mismatch".to_owned(),
                checksum: true,
            });
            continue;
        }
        fb.pos = p.ts;
        if snapshot {
            fb.synced = true;
        }
        out.push(fb.report(p.feed, p.ts, None, snapshot));
    }
}

fn parse(m: &BookMachine, feed: usize, e: &Entry<'_>) -> Result<Parsed, String> {
    let scales = m.scales(feed)?;
    let levels = |side: &[PriceQty<'_>]| -> Result<Vec<Update>, String> {
        side.iter()
            .map(|l| wire::update(number_text(l.price)?, number_text(l.qty)?, scales))
            .collect()
    };
    Ok(Parsed {
        feed,
        bids: levels(&e.bids)?,
        asks: levels(&e.asks)?,
        checksum: e.checksum.0,
        ts: rfc3339_ns(&e.timestamp)?,
    })
}

fn data_key(doc: &serde_json::Value) -> Option<Result<Vec<String>, ()>> {
    if doc.get("channel")?.as_str() != Some("book") {
        return None;
    }
    let Some(entries) = doc.get("data").and_then(serde_json::Value::as_array) else {
        return Some(Err(()));
    };
    let mut keys = Vec::new();
    for e in entries {
        match e.get("symbol") {
            Some(serde_json::Value::String(s)) => keys.push(s.clone()),
            Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) | None => {
                return Some(Err(()))
            }
            Some(_) => {}
        }
    }
    Some(Ok(keys))
}

/// Kraken's v2 CRC32 of a book's levels given best first as (price, qty) units at the pair's
/// precisions: the top [`CHECKSUM_LEVELS`] asks, then bids, each as the decimal digits of its
/// price units followed by those of its qty units.
///
/// # Examples
/// ```
/// use lobflow_core::books::kraken_checksum;
/// // The docs' MATIC/USD snapshot (precisions 4 and 8), one level a side.
/// let crc = kraken_checksum([(5668, 441_079_769_741)].into_iter(), [(5666, 483_175_496_356)].into_iter());
/// assert_eq!(crc, crc32fast::hash(b"56684410797697415666483175496356"));
/// ```
pub fn checksum(
    asks: impl Iterator<Item = (u128, u128)>,
    bids: impl Iterator<Item = (u128, u128)>,
) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = [0u8; 40];
    for (p, q) in asks.take(CHECKSUM_LEVELS).chain(bids.take(CHECKSUM_LEVELS)) {
        h.update(digits(p, &mut buf));
        h.update(digits(q, &mut buf));
    }
    h.finalize()
}

/// The decimal digits of `n` (by 64-bit division where it fits: 128-bit division by 10 is a
/// library call, and the checksum formats 40 numbers a message).
fn digits(n: u128, buf: &mut [u8; 40]) -> &[u8] {
    let mut i = buf.len();
    let mut wide = n;
    while wide > u128::from(u64::MAX) {
        i -= 1;
        buf[i] = b'0' + (wide % 10) as u8;
        wide /= 10;
    }
    let mut narrow = wide as u64;
    loop {
        i -= 1;
        buf[i] = b'0' + (narrow % 10) as u8;
        narrow /= 10;
        if narrow == 0 {
            return &buf[i..];
        }
    }
}

/// `2023-10-06T17:35:55.440295Z` as ns since the epoch (fraction digits past 9 are dropped).
///
/// # Errors
/// A message naming the text when it is not `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
///
/// # Examples
/// ```
/// use lobflow_core::books::rfc3339_ns;
/// assert_eq!(rfc3339_ns("2023-10-06T17:35:55.440295Z"), Ok(1_696_613_755_440_295_000));
/// ```
pub fn rfc3339_ns(text: &str) -> Result<i64, String> {
    let bad = || format!("timestamp {text:?} is not RFC 3339 UTC");
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[bytes.len() - 1] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let field = &bytes[r];
        if !field.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(field.iter().fold(0, |n, &c| n * 10 + i64::from(c - b'0')))
    };
    if bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    let rest = &bytes[19..bytes.len() - 1];
    let mut frac_ns = 0;
    if !rest.is_empty() {
        if rest[0] != b'.' || !rest[1..].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        for i in 0..9 {
            frac_ns = frac_ns * 10 + rest.get(1 + i).map_or(0, |&c| i64::from(c - b'0'));
        }
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(secs * 1_000_000_000 + frac_ns)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_small_and_wide_numbers() {
        let mut buf = [0u8; 40];
        for n in [
            0u128,
            7,
            10,
            452_852,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            assert_eq!(digits(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
