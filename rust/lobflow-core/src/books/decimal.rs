//! Exact decimal text → integer units of `10^-scale`, and the correctly rounded `f64` of it.
//!
//! A book keys its levels by the integer number of `10^-scale` in the decimal the venue sent,
//! so `"60650.00000000"` and `"60650"` are one level and no two prices collide as float keys
//! can. The row's floats come from the same parse: the decimal's significant digits and
//! exponent give the `f64` by one exact IEEE operation when both are exactly representable
//! (Clinger's fast path: at most 2^53 and `10^±22`), which is correctly rounded and so equals
//! Python's `float(text)`; any other value goes through `str::parse::<f64>`, correctly rounded
//! too.

/// Why a text is not a usable decimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a decimal number (`1.5`, `-2`, `1e-05`, `.5`, `5.` are).
    NotANumber,
    /// Non-zero digits beyond the scale: it cannot be held exactly.
    TooManyDecimals,
    /// Its units do not fit in 128 bits.
    OutOfRange,
}

impl std::fmt::Display for DecimalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "is not a decimal number",
            Self::TooManyDecimals => "has more decimals than its scale",
            Self::OutOfRange => "is out of range",
        })
    }
}

/// One parsed decimal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decimal {
    /// Its magnitude in units of `10^-scale`.
    pub units: u128,
    /// Whether it had a minus sign (and is not zero).
    pub negative: bool,
    /// Its correctly rounded `f64` (signed).
    pub value: f64,
}

/// Powers of ten exactly representable as `f64`.
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
/// Exponents beyond this are out of range whatever the digits (keeps the arithmetic small).
const MAX_EXP: i32 = 10_000;

/// Parse `text` (`"0.5660"`, `"45285"`, `"1e-05"`, `"+2"`) at `scale` decimals.
///
/// # Errors
/// [`DecimalError`] when `text` is not a decimal, has non-zero digits beyond `scale`
/// decimals, or its units do not fit in a `u128`.
///
/// # Examples
/// ```
/// use lobflow_core::books::decimal::parse;
/// let d = parse("45285.20", 1).unwrap();
/// assert_eq!((d.units, d.value), (452_852, 45285.2));
/// assert_eq!(parse("5e-05", 8).unwrap().units, 5000);
/// assert!(parse("0.123", 2).is_err());
/// ```
pub fn parse(text: &str, scale: u32) -> Result<Decimal, DecimalError> {
    let Parts { mant, e, negative } = parts(text)?;
    if mant == 0 {
        let value = if negative { -0.0 } else { 0.0 };
        return Ok(Decimal {
            units: 0,
            negative: false,
            value,
        });
    }
    let shift = i32::try_from(scale).map_err(|_| DecimalError::OutOfRange)? + e;
    if shift < 0 {
        // `mant` has no trailing zeros: a non-zero digit lies beyond the scale.
        return Err(DecimalError::TooManyDecimals);
    }
    let units = scale_up(mant, shift)?;
    let magnitude = to_f64(mant, e, text)?;
    Ok(Decimal {
        units,
        negative,
        value: if negative { -magnitude } else { magnitude },
    })
}

/// A decimal as `mant * 10^e`, `mant` without trailing zeros.
struct Parts {
    mant: u128,
    e: i32,
    negative: bool,
}

fn parts(text: &str) -> Result<Parts, DecimalError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = b.first() {
        if c == b'+' || c == b'-' {
            negative = c == b'-';
            i = 1;
        }
    }
    // Significant digits without their trailing zeros (`mant`), how many zeros are pending
    // after them, how many digits came after the point, and whether any digit came at all.
    let mut mant: u128 = 0;
    let mut zeros: i32 = 0;
    let mut frac: i32 = 0;
    let mut digits = false;
    let mut point = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            digits = true;
            if point {
                frac += 1;
            }
            if c == b'0' {
                if mant != 0 {
                    zeros += 1;
                }
            } else {
                mant = scale_up(mant, zeros + 1)?
                    .checked_add(u128::from(c - b'0'))
                    .ok_or(DecimalError::OutOfRange)?;
                zeros = 0;
            }
        } else if c == b'.' && !point {
            point = true;
        } else {
            break;
        }
        i += 1;
    }
    if !digits {
        return Err(DecimalError::NotANumber);
    }
    let mut exp: i32 = 0;
    if i < b.len() {
        if b[i] != b'e' && b[i] != b'E' {
            return Err(DecimalError::NotANumber);
        }
        i += 1;
        let mut exp_negative = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            exp_negative = b[i] == b'-';
            i += 1;
        }
        if i == b.len() {
            return Err(DecimalError::NotANumber);
        }
        while i < b.len() {
            let c = b[i];
            if !c.is_ascii_digit() {
                return Err(DecimalError::NotANumber);
            }
            exp = (exp * 10 + i32::from(c - b'0')).min(MAX_EXP);
            i += 1;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    Ok(Parts {
        mant,
        e: zeros - frac + exp,
        negative,
    })
}

/// `n * 10^k`, or `OutOfRange`.
fn scale_up(n: u128, k: i32) -> Result<u128, DecimalError> {
    if n == 0 {
        return Ok(0);
    }
    let k = u32::try_from(k).map_err(|_| DecimalError::OutOfRange)?;
    10u128
        .checked_pow(k)
        .and_then(|p| n.checked_mul(p))
        .ok_or(DecimalError::OutOfRange)
}

/// The correctly rounded `f64` of `mant * 10^e` (`text` is the same number, for the slow path).
fn to_f64(mant: u128, e: i32, text: &str) -> Result<f64, DecimalError> {
    if mant <= 1 << 53 && (-22..=22).contains(&e) {
        let m = mant as f64; // exact: at most 2^53
        let p = POW10_F64[e.unsigned_abs() as usize]; // exact: at most 10^22
        return Ok(if e < 0 { m / p } else { m * p });
    }
    text.trim_start_matches('+')
        .parse::<f64>()
        .map(f64::abs)
        .map_err(|_| DecimalError::NotANumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str, scale: u32) -> Result<u128, DecimalError> {
        parse(text, scale).map(|d| d.units)
    }

    #[test]
    fn units_at_a_scale_are_exact() {
        assert_eq!(units("45285.2", 1), Ok(452_852));
        assert_eq!(units("0.566", 4), Ok(5660));
        assert_eq!(units("0.00100000", 8), Ok(100_000));
        assert_eq!(units("30000", 2), Ok(3_000_000));
        assert_eq!(units("5e-05", 8), Ok(5000));
        assert_eq!(units("1E+3", 0), Ok(1000));
        assert_eq!(units(".5", 1), Ok(5));
        assert_eq!(units("5.", 0), Ok(5));
        assert_eq!(units("60650.00000000", 15), Ok(60_650 * 10u128.pow(15)));
        assert_eq!(units("0.00000000", 15), Ok(0));
        assert_eq!(units("-0", 3), Ok(0));
        assert!(!parse("-0", 3).unwrap().negative);
        assert!(parse("-1.5", 3).unwrap().negative);
    }

    #[test]
    fn bad_text_and_extra_decimals_are_errors() {
        for bad in [
            "", ".", "-", "+", "1..2", "1.2.3", "abc", "1e", "1e+", "NaN", "inf", " 1",
        ] {
            assert_eq!(parse(bad, 8), Err(DecimalError::NotANumber), "{bad:?}");
        }
        assert_eq!(units("0.123", 2), Err(DecimalError::TooManyDecimals));
        assert_eq!(units("1e-3", 2), Err(DecimalError::TooManyDecimals));
        assert_eq!(units("0.1200", 2), Ok(12));
        assert_eq!(units("1e39", 0), Err(DecimalError::OutOfRange));
        assert_eq!(units("1e400", 0), Err(DecimalError::OutOfRange));
        assert_eq!(units("1e-400", 0), Err(DecimalError::TooManyDecimals));
        assert_eq!(units("0e400", 0), Ok(0));
    }

    #[test]
    fn floats_are_correctly_rounded() {
        for text in [
            "0.5666",
            "4831.75496356",
            "30247.20",
            "0.1",
            "0.3",
            "67996.6",
            "1e-05",
            "123456789012345678901234567890",
            "9007199254740993",
            "0.000000000000000000000000123",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "+7.5",
        ] {
            let want: f64 = text.trim_start_matches('+').parse().unwrap();
            let p = parts(text).unwrap();
            let got = to_f64(p.mant, p.e, text).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
        assert_eq!(parse("0.1", 1).unwrap().value.to_bits(), 0.1f64.to_bits());
        assert_eq!(
            parse("-2.5", 1).unwrap().value.to_bits(),
            (-2.5f64).to_bits()
        );
    }
}
