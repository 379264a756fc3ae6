//! A table as polars holds it: 21 columns, each in one or more chunks (a Parquet file read
//! in row groups gives one chunk per group), borrowed without a copy.
//!
//! Runs copy the rows they need out of it into contiguous scratch, so chunk boundaries, which
//! need not line up between columns, never reach the feature code.

use crate::error::Result;
use crate::feed::{check_lengths, Feed};

/// One column as its chunks, in row order.
#[derive(Clone, Debug)]
pub struct Chunked<'a, T> {
    chunks: Vec<&'a [T]>,
    /// First row of each chunk, and the column's length last.
    starts: Vec<usize>,
}

impl<'a, T: Copy> Chunked<'a, T> {
    /// The column made of `chunks`, in order (empty chunks are allowed).
    pub fn new(chunks: Vec<&'a [T]>) -> Self {
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut at = 0;
        for c in &chunks {
            starts.push(at);
            at += c.len();
        }
        starts.push(at);
        Self { chunks, starts }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.starts[self.chunks.len()]
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole column when it is one chunk.
    pub(super) fn as_slice(&self) -> Option<&'a [T]> {
        match self.chunks.as_slice() {
            [one] => Some(one),
            [] => Some(&[]),
            _ => None,
        }
    }

    /// Rows `r` as one slice, when they lie inside one chunk (runs mostly do).
    pub(super) fn run_slice(&self, r: std::ops::Range<usize>) -> Option<&'a [T]> {
        if r.is_empty() {
            return Some(&[]);
        }
        let k = self.chunk_of(r.start);
        let at = self.starts[k];
        (r.end <= self.starts[k + 1]).then(|| &self.chunks[k][r.start - at..r.end - at])
    }

    /// The chunk holding `row` (the last one that starts at or before it).
    fn chunk_of(&self, row: usize) -> usize {
        self.starts[..self.chunks.len()]
            .partition_point(|&s| s <= row)
            .saturating_sub(1)
    }

    /// Appends rows `rows` (a range, or ascending row numbers) to `out`.
    pub(super) fn extend(&self, rows: &Rows<'_>, out: &mut Vec<T>) {
        match rows {
            Rows::Range(r) => {
                let mut row = r.start;
                while row < r.end {
                    let k = self.chunk_of(row);
                    let at = row - self.starts[k];
                    let take = (self.starts[k + 1] - row).min(r.end - row);
                    out.extend_from_slice(&self.chunks[k][at..at + take]);
                    row += take;
                }
            }
            Rows::Listed(list) => {
                if let Some(one) = self.as_slice() {
                    out.extend(list.iter().map(|&r| one[r as usize]));
                    return;
                }
                let mut k = list.first().map_or(0, |&r| self.chunk_of(r as usize));
                for &r in *list {
                    let r = r as usize;
                    while r >= self.starts[k + 1] {
                        k += 1;
                    }
                    out.push(self.chunks[k][r - self.starts[k]]);
                }
            }
        }
    }
}

/// Which rows of a table: a range, or row numbers in ascending order.
#[derive(Clone, Debug)]
pub(super) enum Rows<'a> {
    Range(std::ops::Range<usize>),
    Listed(&'a [u32]),
}

impl Rows<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Rows::Range(r) => r.len(),
            Rows::Listed(l) => l.len(),
        }
    }

    /// The table row of the `i`-th row here.
    pub(super) fn row(&self, i: usize) -> usize {
        match self {
            Rows::Range(r) => r.start + i,
            Rows::Listed(l) => l[i] as usize,
        }
    }

    /// The rows from the `range` of positions here.
    pub(super) fn sub(&self, range: std::ops::Range<usize>) -> Rows<'_> {
        match self {
            Rows::Range(r) => Rows::Range(r.start + range.start..r.start + range.end),
            Rows::Listed(l) => Rows::Listed(&l[range]),
        }
    }
}

/// `ts` and the 20 book columns of [`crate::feed::BOOK_COLUMNS`], each in chunks.
#[derive(Clone, Debug)]
pub struct Table<'a> {
    pub(super) ts: Chunked<'a, i64>,
    pub(super) cols: [Chunked<'a, f64>; 20],
}

impl<'a> Table<'a> {
    /// The table of these columns.
    ///
    /// # Errors
    /// [`crate::Error::FeedShape`] naming the first column whose length differs from `ts`.
    pub fn new(ts: Chunked<'a, i64>, cols: [Chunked<'a, f64>; 20]) -> Result<Self> {
        check_lengths(ts.len(), std::array::from_fn(|c| cols[c].len()))?;
        Ok(Self { ts, cols })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

impl<'a> From<&Feed<'a>> for Table<'a> {
    fn from(feed: &Feed<'a>) -> Self {
        Self {
            ts: Chunked::new(vec![feed.ts]),
            cols: feed.cols.map(|c| Chunked::new(vec![c])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_across_chunk_boundaries() {
        let (a, b, c): ([i64; 3], [i64; 0], [i64; 4]) = ([0, 1, 2], [], [3, 4, 5, 6]);
        let col = Chunked::new(vec![&a[..], &b[..], &c[..]]);
        assert_eq!(col.len(), 7);
        let mut out = Vec::new();
        col.extend(&Rows::Range(1..6), &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5]);
        out.clear();
        col.extend(&Rows::Listed(&[0, 2, 3, 6]), &mut out);
        assert_eq!(out, [0, 2, 3, 6]);
        out.clear();
        col.extend(&Rows::Range(3..3), &mut out);
        assert!(out.is_empty());
        assert_eq!(col.run_slice(3..6), Some(&c[..3]));
        assert_eq!(col.run_slice(1..3), Some(&a[1..]));
        assert_eq!(col.run_slice(2..4), None);
    }

    #[test]
    fn columns_must_be_as_long_as_ts() {
        let ts = [0_i64, 1];
        let long = [1.0; 2];
        let short = [1.0; 1];
        let mut cols: [Chunked<'_, f64>; 20] =
            std::array::from_fn(|_| Chunked::new(vec![&long[..]]));
        cols[13] = Chunked::new(vec![&short[..]]);
        let err = Table::new(Chunked::new(vec![&ts[..]]), cols).unwrap_err();
        assert!(err.to_string().contains("ask_px_3"), "{err}");
    }
}
