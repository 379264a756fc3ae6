//! Weights files (docs/weights-format.md, v1) and the linear scorer: `score = bias + w·x`.

use crate::error::{Error, Result};
use std::path::Path;

/// Number of contract features.
pub const N_FEATURES: usize = 18;

const HEADER: &str = "# lobflow-weights v1";

/// The 18 feature names in contract order for the given window lengths.
///
/// # Examples
/// ```
/// let names = lobflow_core::weights::feature_names([10, 20, 50]);
/// assert_eq!(names[9], "rolling_ofi_10ms");
/// assert_eq!(names.len(), 18);
/// ```
pub fn feature_names(windows_ms: [u64; 3]) -> Vec<String> {
    let mut names: Vec<String> = ["mid", "spread", "ofi", "microprice"]
        .iter()
        .map(ToString::to_string)
        .collect();
    names.extend((0..5).map(|k| format!("qi_{k}")));
    for base in ["ofi", "spread", "qi0"] {
        names.extend(windows_ms.iter().map(|w| format!("rolling_{base}_{w}ms")));
    }
    names
}

/// A baked linear model: the scaler is already folded into `coef` and `bias`.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// The three rolling-window lengths, ms, strictly ascending.
    pub windows_ms: [u64; 3],
    /// Signal threshold (≥ 0): +1 above it, −1 below its negative, else 0.
    pub threshold: f64,
    /// Intercept.
    pub bias: f64,
    /// One weight per feature, in contract order.
    pub coef: [f64; N_FEATURES],
}

/// A tiny cursor over the meaningful lines of a weights file, keeping 1-based line numbers.
struct Lines<'a> {
    source: &'a str,
    inner: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>,
    last_line: usize,
}

impl<'a> Lines<'a> {
    fn err(&self, line: usize, msg: impl Into<String>) -> Error {
        Error::WeightsFormat {
            path: self.source.to_string(),
            line,
            msg: msg.into(),
        }
    }

    /// Next non-comment, non-blank line as (line number, fields).
    fn next_fields(&mut self) -> Option<(usize, Vec<&'a str>)> {
        for (i, raw) in self.inner.by_ref() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            self.last_line = i + 1;
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            return Some((
                i + 1,
                t.split([' ', '\t']).filter(|f| !f.is_empty()).collect(),
            ));
        }
        None
    }

    /// The next line, which must be `key v1 .. vn`.
    fn expect(&mut self, key: &str, n: usize) -> Result<(usize, Vec<&'a str>)> {
        let Some((line, fields)) = self.next_fields() else {
            return Err(self.err(self.last_line + 1, format!("missing `{key}` line")));
        };
        if fields[0] != key {
            return Err(self.err(
                line,
                format!("expected `{key}` here, found `{}`", fields[0]),
            ));
        }
        if fields.len() != n + 1 {
            return Err(self.err(
                line,
                format!("`{key}` takes {n} number(s), found {}", fields.len() - 1),
            ));
        }
        Ok((line, fields[1..].to_vec()))
    }
}

fn parse_f64(lines: &Lines<'_>, line: usize, key: &str, text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(lines.err(line, format!("`{key}` must be finite, got {v}"))),
        Err(_) => Err(lines.err(line, format!("`{key}`: `{text}` is not a number"))),
    }
}

impl Weights {
    /// Parses weights-file text (docs/weights-format.md, v1); `source` names the file in
    /// error messages.
    ///
    /// # Errors
    /// [`Error::WeightsFormat`] with the 1-based line of the first problem: a missing or
    /// different first line, a missing, duplicated, unknown or out-of-order key, a wrong count
    /// of numbers, a value that is not a finite number, bad windows or a negative threshold.
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::weights::{feature_names, Weights};
    /// let mut text = String::from("# lobflow-weights v1\nwindows_ms 10 20 50\nthreshold 0.5\nbias 1\n");
    /// for name in feature_names([10, 20, 50]) { text += &format!("{name} 0.0\n"); }
    /// let w = Weights::parse(&text, "<doc>").unwrap();
    /// assert_eq!(w.signal(w.score(&[0.0; 18])), 1);
    /// ```
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut lines = Lines {
            source,
            inner: text.lines().enumerate().peekable(),
            last_line: 0,
        };
        let first = lines
            .inner
            .next()
            .map(|(_, l)| l.strip_suffix('\r').unwrap_or(l));
        if first.is_some_and(|l| l.starts_with('\u{feff}')) {
            // Editors on Windows add it unasked; "first line must be exactly …" of a line that
            // looks exactly right would leave the user guessing.
            return Err(lines.err(
                1,
                "file starts with a UTF-8 byte-order mark (U+FEFF): save it without one",
            ));
        }
        if first != Some(HEADER) {
            return Err(lines.err(1, format!("first line must be exactly `{HEADER}`")));
        }
        lines.last_line = 1;

        let (line, w) = lines.expect("windows_ms", 3)?;
        let mut windows_ms = [0u64; 3];
        for (slot, text) in windows_ms.iter_mut().zip(&w) {
            // At most i64::MAX: past 2^63 ns a window spans every timestamp anyway, and
            // Python's plugin arguments stop at int64.
            *slot = match text.parse::<u64>() {
                Ok(v) if v > 0 && i64::try_from(v).is_ok() => v,
                _ => {
                    return Err(lines.err(
                        line,
                        format!("`windows_ms`: `{text}` is not a positive integer below 2^63"),
                    ))
                }
            };
        }
        if !(windows_ms[0] < windows_ms[1] && windows_ms[1] < windows_ms[2]) {
            return Err(lines.err(line, "`windows_ms` must be strictly ascending"));
        }

        let (line, t) = lines.expect("threshold", 1)?;
        let threshold = parse_f64(&lines, line, "threshold", t[0])?;
        if threshold < 0.0 {
            return Err(lines.err(line, format!("`threshold` must be ≥ 0, got {threshold}")));
        }
        let (line, b) = lines.expect("bias", 1)?;
        let bias = parse_f64(&lines, line, "bias", b[0])?;

        let mut coef = [0.0; N_FEATURES];
        for (slot, name) in coef.iter_mut().zip(feature_names(windows_ms)) {
            let (line, v) = lines.expect(&name, 1)?;
            *slot = parse_f64(&lines, line, &name, v[0])?;
        }
        if let Some((line, fields)) = lines.next_fields() {
            return Err(lines.err(
                line,
                format!("unexpected `{}` after the last feature", fields[0]),
            ));
        }
        Ok(Self {
            windows_ms,
            threshold,
            bias,
            coef,
        })
    }

    /// Reads and parses a weights file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::WeightsFormat`] as in [`Self::parse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let source = path.display().to_string();
        Self::parse(utf8_text(&bytes, &source)?, &source)
    }

    /// Writes the file text; every number round-trips f64 exactly.
    pub fn to_text(&self, comments: &[String]) -> String {
        use std::fmt::Write as _;
        // Writing into a String cannot fail, so the fmt::Results below are always Ok.
        let mut out = format!("{HEADER}\n");
        for c in comments {
            for l in c.lines() {
                let _ = writeln!(out, "# {l}");
            }
        }
        let [a, b, c] = self.windows_ms;
        let _ = writeln!(out, "windows_ms {a} {b} {c}");
        let _ = writeln!(out, "threshold {:?}\nbias {:?}", self.threshold, self.bias);
        for (name, w) in self.feature_names().iter().zip(self.coef) {
            let _ = writeln!(out, "{name} {w:?}");
        }
        out
    }

    /// Feature names for this model's windows.
    pub fn feature_names(&self) -> Vec<String> {
        feature_names(self.windows_ms)
    }

    /// `bias + Σ coef[i]·x[i]` in f64.
    #[inline]
    pub fn score(&self, x: &[f64; N_FEATURES]) -> f64 {
        // Three independent sums: one chain of 18 dependent additions is ~70 cycles of latency
        // per tick, three chains of 6 are a third of that. (Any order is as valid as
        // scikit-learn's own, which differs from both.)
        let s = add_products3([0.0; 3], &self.coef, x);
        self.bias + (s[0] + s[1] + s[2])
    }

    /// −1, 0 or +1 by the threshold.
    #[inline]
    pub fn signal(&self, score: f64) -> i8 {
        if score > self.threshold {
            1
        } else if score < -self.threshold {
            -1
        } else {
            0
        }
    }
}

/// `bytes` as text, or [`Error::WeightsFormat`] at the line of the first byte that is not
/// UTF-8 (`read_to_string`'s own error names neither the line nor the byte). Python's
/// `Weights.load` calls it too, so both name a bad byte the same way.
///
/// # Errors
/// [`Error::WeightsFormat`] naming `source`, the line, the byte and its column.
pub fn utf8_text<'a>(bytes: &'a [u8], source: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Error::WeightsFormat {
            path: source.to_string(),
            line: bytes[..at].split(|&b| b == b'\n').count(),
            msg: format!(
                "not UTF-8 text: byte 0x{:02x} at column {}",
                bytes[at],
                at - line_start + 1
            ),
        }
    })
}

/// `sums` plus `Σ w[k]·x[k]`, term `k` going to sum `k % 3`: three independent chains of
/// additions instead of one (the lengths are multiples of 3; any rest is left out).
#[inline]
pub(crate) fn add_products3(mut sums: [f64; 3], w: &[f64], x: &[f64]) -> [f64; 3] {
    for (w, v) in w.chunks_exact(3).zip(x.chunks_exact(3)) {
        for j in 0..3 {
            sums[j] += w[j] * v[j];
        }
    }
    sums
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    fn good() -> String {
        let mut t =
            String::from("# lobflow-weights v1\r\n# trained on x\n\nwindows_ms\t10  20 50\n");
        t += "threshold 0.85\nbias -0.0123456789\n";
        for (i, n) in feature_names([10, 20, 50]).iter().enumerate() {
            let v = 0.5 * i as f64 - 1.25e-7;
            t = t + n + " " + &v.to_string() + "\n";
        }
        t
    }

    fn fails(text: &str, line: usize, needle: &str) {
        let err = Weights::parse(text, "w.txt").unwrap_err().to_string();
        assert!(err.starts_with(&format!("w.txt:{line}:")), "{err}");
        assert!(err.contains(needle), "{err}");
    }

    #[test]
    fn parses_and_round_trips() {
        let w = Weights::parse(&good(), "w.txt").unwrap();
        assert_eq!(w.windows_ms, [10, 20, 50]);
        assert_eq!(w.threshold, 0.85);
        assert_eq!(w.bias, -0.012_345_678_9);
        let again = Weights::parse(&w.to_text(&["a\nb".into()]), "x").unwrap();
        assert_eq!(again, w);
    }

    #[test]
    fn a_file_that_is_not_utf8_names_its_line() {
        let dir = std::env::temp_dir().join(format!("lobflow-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.txt");
        let mut bytes = good().into_bytes();
        // At the start of line 4, after the first three lines' newlines.
        let line4 = 1 + bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(2)
            .unwrap()
            .0;
        bytes.splice(line4..line4, *b"ab\xff");
        std::fs::write(&path, &bytes).unwrap();
        let err = Weights::from_path(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        let want = format!(
            "{}:4: not UTF-8 text: byte 0xff at column 3",
            path.display()
        );
        assert_eq!(err, want);
    }

    #[test]
    fn header_is_required() {
        fails(
            &good().replacen("# lobflow-weights v1", "# lobflow-weights v2", 1),
            1,
            "first line",
        );
        fails("", 1, "first line");
    }

    #[test]
    fn every_malformed_case_names_the_line() {
        let g = good();
        fails(
            &g.replace("windows_ms\t10  20 50", "windows_ms 10 20"),
            4,
            "3 number",
        );
        fails(
            &g.replace("windows_ms\t10  20 50", "windows_ms 20 10 50"),
            4,
            "ascending",
        );
        fails(
            &g.replace("windows_ms\t10  20 50", "windows_ms 0 10 50"),
            4,
            "positive",
        );
        fails(
            &g.replace(
                "windows_ms\t10  20 50",
                "windows_ms 10 20 9223372036854775808",
            ),
            4,
            "below 2^63",
        );
        fails(&format!("\u{feff}{g}"), 1, "byte-order mark");
        fails(&g.replace("threshold 0.85", "threshold -1"), 5, "≥ 0");
        fails(&g.replace("threshold 0.85", "threshold nan"), 5, "finite");
        fails(&g.replace("bias -0.0123456789", "bias inf"), 6, "finite");
        fails(
            &g.replace("bias -0.0123456789", "bias x1"),
            6,
            "not a number",
        );
        fails(&g.replace("bias -0.0123456789\n", ""), 6, "expected `bias`");
        // swapped feature lines
        let swapped = g
            .replace("mid ", "TMP ")
            .replace("spread ", "mid ")
            .replace("TMP ", "spread ");
        fails(&swapped, 7, "expected `mid`");
        // names that do not match the windows
        fails(
            &g.replace("rolling_ofi_10ms", "rolling_ofi_15ms"),
            16,
            "expected `rolling_ofi_10ms`",
        );
        // duplicated / unknown / trailing keys
        fails(&g.replace("spread ", "mid "), 8, "expected `spread`");
        fails(&format!("{g}extra 1\n"), 25, "unexpected `extra`");
        fails(&g.replace("qi_4 ", "qi_4 1 "), 15, "1 number(s), found 2");
        let truncated = g.lines().take(20).collect::<Vec<_>>().join("\n") + "\n";
        fails(&truncated, 21, "missing `rolling_spread_50ms`");
    }

    #[test]
    fn signal_respects_threshold() {
        let w = Weights::parse(&good(), "w").unwrap();
        assert_eq!(w.signal(0.85), 0);
        assert_eq!(w.signal(0.850_001), 1);
        assert_eq!(w.signal(-0.85), 0);
        assert_eq!(w.signal(-0.9), -1);
    }

    #[test]
    fn score_is_bias_plus_dot() {
        let w = Weights::parse(&good(), "w").unwrap();
        let x: [f64; N_FEATURES] = std::array::from_fn(|i| i as f64);
        let expect = w.bias + (0..18).map(|i| w.coef[i] * i as f64).sum::<f64>();
        assert!((w.score(&x) - expect).abs() < 1e-12);
    }
}
