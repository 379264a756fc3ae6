//! What the venues' frames share on the wire: integer fields, `[price, size]` pairs, numbers
//! as text, and turning them into exact level updates.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::decimal::{self, DecimalError};
use super::levels::Update;

/// An integer field as Python's `int()` reads it from JSON: a number or a string of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer (or a string of one) in the int64 range")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom("integer out of the int64 range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                v.parse()
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v:?} is not an int64")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `[price, size]` pair of decimal strings (Binance, Bybit, KuCoin).
pub(crate) type Pair<'a> = (&'a str, &'a str);

/// A level the venue sends as `{"price": number, "qty": number}` (Kraken v2).
#[derive(Deserialize)]
pub(crate) struct PriceQty<'a> {
    #[serde(borrow)]
    pub price: &'a RawValue,
    #[serde(borrow)]
    pub qty: &'a RawValue,
}

/// The exact text of a JSON number (or of a string holding one).
pub(crate) fn number_text(raw: &RawValue) -> Result<&str, String> {
    let t = raw.get();
    match t.as_bytes().first() {
        Some(b'"') if t.len() >= 2 && !t.contains('\\') => Ok(&t[1..t.len() - 1]),
        Some(b'-' | b'0'..=b'9') => Ok(t),
        _ => Err(format!("{t} is not a number")),
    }
}

/// A price: `units` at `scale`, > 0.
pub(crate) fn price(text: &str, scale: u32) -> Result<decimal::Decimal, String> {
    let d = decimal::parse(text, scale).map_err(|e| bad(text, e))?;
    if d.units == 0 || d.negative {
        return Err(format!("price {text:?} is not > 0"));
    }
    Ok(d)
}

/// A size: `units` at `scale`, >= 0 (0 deletes a level).
pub(crate) fn size(text: &str, scale: u32) -> Result<decimal::Decimal, String> {
    let d = decimal::parse(text, scale).map_err(|e| bad(text, e))?;
    if d.negative {
        return Err(format!("size {text:?} is negative"));
    }
    Ok(d)
}

fn bad(text: &str, e: DecimalError) -> String {
    format!("{text:?} {e}")
}

/// One level update from a price and a size text.
pub(crate) fn update(p: &str, q: &str, scales: (u32, u32)) -> Result<Update, String> {
    let p = price(p, scales.0)?;
    let q = size(q, scales.1)?;
    Ok(Update {
        price: p.units,
        size: q.units,
        price_f: p.value,
        size_f: q.value,
    })
}

/// `[price, size]` pairs as level updates, into `out` (cleared first).
pub(crate) fn pairs(levels: &[Pair<'_>], scales: (u32, u32)) -> Result<Vec<Update>, String> {
    levels.iter().map(|(p, q)| update(p, q, scales)).collect()
}

/// Milliseconds to nanoseconds (saturating: an absurd time is rejected as a bad book time).
pub(crate) fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_come_as_numbers_or_digit_strings() {
        let v: Vec<Int> = serde_json::from_str(r#"[1, "22", -3, 9223372036854775807]"#).unwrap();
        assert_eq!(v, [Int(1), Int(22), Int(-3), Int(i64::MAX)]);
        for bad in ["1.5", "\"x\"", "true", "null", "9223372036854775808"] {
            assert!(serde_json::from_str::<Int>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        let l: PriceQty<'_> = serde_json::from_str(r#"{"price": 0.5660, "qty": "1e-05"}"#).unwrap();
        assert_eq!(number_text(l.price), Ok("0.5660"));
        assert_eq!(number_text(l.qty), Ok("1e-05"));
        let t: PriceQty<'_> = serde_json::from_str(r#"{"price": true, "qty": null}"#).unwrap();
        assert!(number_text(t.price).is_err());
        assert!(number_text(t.qty).is_err());
    }

    #[test]
    fn prices_must_be_positive_sizes_not_negative() {
        assert!(update("0", "1", (8, 8)).is_err());
        assert!(update("-1", "1", (8, 8)).is_err());
        assert!(update("1", "-1", (8, 8)).is_err());
        assert!(update("1", "0.123", (8, 2)).is_err());
        assert_eq!(update("1.5", "0", (8, 8)).unwrap().size, 0);
    }
}
