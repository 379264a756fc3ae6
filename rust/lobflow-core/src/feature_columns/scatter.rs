//! The output columns, written by parallel runs through raw pointers, each run its own rows.
//!
//! The house rule keeps `unsafe` in `ring.rs`; this module is the one place it does not fit.
//! Runs on several threads write disjoint rows of the same 18 columns, and for interleaved
//! feeds those rows are listed, not contiguous: safe split borrows (`split_at_mut`,
//! `chunks_mut`) cannot hand them out, and writing each run into a buffer of its own to copy
//! in afterwards would move every output twice (1.44 GB at 10^7 rows). So the unsafe is kept
//! to these two functions, each with its contract stated and every write bounds-checked.

use std::marker::PhantomData;

use crate::weights::N_FEATURES;

pub(super) struct Scatter<'a> {
    cols: [*mut f64; N_FEATURES],
    len: usize,
    _borrow: PhantomData<&'a mut [f64]>,
}

// SAFETY: `Scatter` only writes through `rows_mut`/`write_rows`, whose contract is that no
// two threads touch the same element; the columns are borrowed mutably for `'a`, so nothing
// else reads or writes them meanwhile.
unsafe impl Sync for Scatter<'_> {}

impl<'a> Scatter<'a> {
    pub(super) fn new(cols: [&'a mut [f64]; N_FEATURES]) -> Self {
        let len = cols[0].len();
        assert!(cols.iter().all(|c| c.len() == len), "columns of one length");
        Self {
            cols: cols.map(<[f64]>::as_mut_ptr),
            len,
            _borrow: PhantomData,
        }
    }

    /// Rows `rows` of column `j`, to be written in place.
    ///
    /// # Safety
    /// While the slice lives, no other reference to any of those elements may exist, on any
    /// thread (other calls must ask for disjoint rows).
    #[allow(clippy::mut_from_ref)] // disjoint pieces of columns borrowed mutably in `new`
    pub(super) unsafe fn rows_mut(&self, j: usize, rows: std::ops::Range<usize>) -> &mut [f64] {
        assert!(
            rows.start <= rows.end && rows.end <= self.len,
            "rows past the end"
        );
        // SAFETY: the rows are in bounds (asserted) of a live column that `new` borrowed
        // mutably for as long as `self` lives, and by the caller's contract nothing else
        // refers to them meanwhile, so this is the only reference to them.
        unsafe { std::slice::from_raw_parts_mut(self.cols[j].add(rows.start), rows.len()) }
    }

    /// Writes `values[i]` at row `rows[i]` of column `j`.
    ///
    /// # Safety
    /// No other thread may write or read any of those elements meanwhile.
    pub(super) unsafe fn write_rows(&self, j: usize, rows: &[u32], values: &[f64]) {
        for (&r, &v) in rows.iter().zip(values) {
            let r = r as usize;
            assert!(r < self.len, "row {r} out of {}", self.len);
            // SAFETY: in bounds (asserted), a live mutably borrowed column, and by the
            // caller's contract no other thread writes this element.
            unsafe { self.cols[j].add(r).write(v) };
        }
    }
}
