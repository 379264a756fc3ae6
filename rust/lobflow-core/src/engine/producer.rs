//! The producer thread: validates each feed row, encodes it into an `L2Tick`, (paces,) stamps
//! and pushes it into the ring.

use super::{backoff, Engine, RunCtx, Spin, BATCH, SKIPPED};
use crate::clock::{stamp_after, ticks_per_ns};
use crate::error::{Error, Result};
use crate::feed::{Feed, OnBad, ASK_PX, BID_PX, BOOK_COLUMNS};
use crate::ring::Producer;
use crate::tick::{L2Tick, PriceCodec};
use std::sync::atomic::{AtomicBool, Ordering};

/// Most ticks the producer keeps in flight (flat out): ~176 KB of slots, inside L2.
const AHEAD: usize = 2048;
/// How often (rows) the producer looks at the stop flag when it is not blocked.
const STOP_CHECK_EVERY: usize = 4096;
/// How often (spins of a `pause` each) a paced producer waiting for a tick's time looks at the
/// stop flag.
const STOP_CHECK_SPINS: u32 = 1024;
const PREFETCH_ROWS: usize = 2 * BATCH;

/// What the producer hands back.
pub(super) struct ProducerOut {
    /// Its end of the ring, moved back out: the threads own their ends (two ends left in
    /// one stack frame would share a cache line between the two cores).
    pub(super) tx: Producer<L2Tick>,
    pub(super) pinned: bool,
    pub(super) skipped: usize,
    pub(super) max_price_error: f64,
    pub(super) sizes_inexact: usize,
    pub(super) max_size_error: f64,
}

impl Engine {
    /// Producer loop: validate, encode, (pace,) stamp, push.
    pub(super) fn produce(
        &self,
        feed: &Feed<'_>,
        ctx: &RunCtx<'_>,
        mut tx: Producer<L2Tick>,
        pushed_at: &mut [u64],
    ) -> Result<ProducerOut> {
        let RunCtx {
            opts,
            codec,
            sizes,
            stop,
            every,
            shared_core,
        } = *ctx;
        let mut last_ts = i64::MIN;
        let mut skipped = 0;
        let mut max_err = 0.0f64;
        let (mut sizes_inexact, mut max_size_error) = (0, 0.0f64);
        let pace_start = self.clock.raw();
        let pace_ticks = opts.pace_ns.map(|ns| ticks_per_ns(&self.clock) * ns as f64);
        // Flat out, ticks cross the ring in batches (one index store per batch); paced, each
        // tick goes alone so that batching never adds to the measured latency.
        let batch_len = if pace_ticks.is_some() { 1 } else { BATCH };
        let mut batch = [L2Tick::default(); BATCH];
        let mut i = 0;
        'rows: while i < feed.len() {
            // Batches start at multiples of `batch_len`, so this lands once per 4096 rows.
            if i % STOP_CHECK_EVERY == 0 && stop.load(Ordering::Acquire) {
                break;
            }
            let len = batch_len.min(feed.len() - i);
            let clean = if pace_ticks.is_none() {
                feed.prefetch_rows(i + PREFETCH_ROWS..i + PREFETCH_ROWS + len);
                feed.encode_clean_rows(i, &mut batch[..len], codec, sizes, last_ts)
            } else {
                None
            };
            if let Some(enc) = clean {
                if !enc.prices_carried {
                    let rows = i..i + len;
                    let row = rows
                        .clone()
                        .zip(&batch[..len])
                        .find(|(r, t)| !carried_exactly(feed, codec, *r, t))
                        .map_or(i, |(r, _)| r);
                    return Err(price_not_carried(feed, codec, row, opts.on_bad));
                }
                max_err = max_err.max(enc.max_price_error);
                last_ts = feed.ts[i + len - 1];
                sizes_inexact += enc.sizes_inexact;
                max_size_error = max_size_error.max(enc.max_size_error);
            } else {
                // Some row is bad (or the run is paced): row by row, which names the bad row.
                for (r, slot) in batch[..len].iter_mut().enumerate() {
                    let row = i + r;
                    *slot = if let Some(bad) = feed.check_row(row, last_ts) {
                        if opts.on_bad == OnBad::Raise {
                            return Err(feed.first_bad_at(row, bad));
                        }
                        skipped += 1;
                        L2Tick {
                            ts: SKIPPED,
                            ..L2Tick::default()
                        }
                    } else {
                        last_ts = feed.ts[row];
                        let (t, err, inexact, size_err) = feed.encode_row(row, codec, sizes);
                        if !carried_exactly(feed, codec, row, &t) {
                            return Err(price_not_carried(feed, codec, row, opts.on_bad));
                        }
                        max_err = max_err.max(err);
                        sizes_inexact += inexact;
                        max_size_error = max_size_error.max(size_err);
                        t
                    };
                    if let Some(step) = pace_ticks {
                        // Saturating: a pace beyond the clock's range waits as long as it
                        // can (until a stop), where a wrapped sum would not wait at all.
                        let due = pace_start.saturating_add((step * row as f64) as u64);
                        let mut spins = 0u32;
                        while self.clock.raw() < due {
                            // A long pace must not outlast a stop: the check every 4096 rows
                            // above would come 4096 paces later (minutes at 50 ms).
                            spins = spins.wrapping_add(1);
                            if spins % STOP_CHECK_SPINS == 0 && stop.load(Ordering::Acquire) {
                                break 'rows;
                            }
                            std::hint::spin_loop();
                        }
                    }
                }
            }
            // `every` is a power of two: masks and shifts, not divisions. Flat out, `every` is
            // the batch length, so this is one stamp per batch.
            let mask = every as usize - 1;
            let mut row = (i + mask) & !mask;
            while row < i + len {
                pushed_at[row >> every.trailing_zeros()] = stamp_after(&self.clock);
                row += every as usize;
            }
            if !push_all(&mut tx, &batch[..len], stop, shared_core) {
                break; // stopped: the caller reports why
            }
            if pace_ticks.is_some() {
                tx.prefetch_for_write(1);
            }
            i += len;
        }
        Ok(ProducerOut {
            tx,
            pinned: false,
            skipped,
            max_price_error: max_err,
            sizes_inexact,
            max_size_error,
        })
    }
}

/// True when tick `t`, encoded from row `row`, holds the row's level-0 prices exactly.
fn carried_exactly(feed: &Feed<'_>, codec: &PriceCodec, row: usize, t: &L2Tick) -> bool {
    codec.carries(feed.cols[BID_PX][row], codec.decode(t.bid_px[0]))
        && codec.carries(feed.cols[ASK_PX][row], codec.decode(t.ask_px[0]))
}

/// The error for a level-0 price at `row` that the tick cannot carry exactly
/// (docs/tick-encoding.md). Stopping at the first bad row, a run reports that row instead if
/// there is one: it comes first in the feed's own terms, and its price may be what widened the
/// codec's range.
#[cold]
#[inline(never)] // the error path: kept out of the producer's loop
fn price_not_carried(feed: &Feed<'_>, codec: &PriceCodec, row: usize, on_bad: OnBad) -> Error {
    if on_bad == OnBad::Raise {
        if let Some((r, bad)) = feed.first_bad_row() {
            return feed.first_bad_at(r, bad);
        }
    }
    let (b, a) = (feed.cols[BID_PX][row], feed.cols[ASK_PX][row]);
    let (column, price) = if codec.carries(b, codec.decode(codec.encode(b))) {
        (BOOK_COLUMNS[ASK_PX], a)
    } else {
        (BOOK_COLUMNS[BID_PX], b)
    };
    let span = feed
        .price_extremes(on_bad == OnBad::Skip)
        .map_or_else(String::new, |(lo, hi)| {
            format!(
                " ({} at row {lo} to {} at row {hi})",
                feed.cols[BID_PX][lo], feed.cols[ASK_PX][hi]
            )
        });
    Error::Feed {
        column: column.to_string(),
        row,
        msg: format!(
            "price {price} is not carried exactly by the 88-byte tick: for this feed's range{span} \
             its price step is {:e}, the finest power of ten that keeps every price within 2^23 \
             steps of {}. Prices off any grid of that step (synthetic floats) must be rounded \
             to one; a feed on a finer grid than that step (an outlier that widens its range, \
             or too long a period) must lose the outlier or be split (docs/tick-encoding.md)",
            codec.quantum, codec.anchor
        ),
    }
}

/// Pushes every tick of `ticks`, waiting for room; false when the run was stopped.
///
/// It also waits while more than `AHEAD` ticks are in flight: a producer that runs a whole
/// 131 072-slot ring (11.5 MB) ahead of the worker makes every slot write and read a cache
/// miss, while a few thousand ticks stay in L2.
fn push_all(tx: &mut Producer<L2Tick>, ticks: &[L2Tick], stop: &AtomicBool, shared: bool) -> bool {
    let mut sent = 0;
    let mut spins = 0u32;
    while !tx.in_flight_at_most(AHEAD) {
        if !backoff(&mut spins, stop, shared, Spin::Pause) {
            return false;
        }
    }
    while sent < ticks.len() {
        let n = tx.push_batch(&ticks[sent..]);
        sent += n;
        if n == 0 && !backoff(&mut spins, stop, shared, Spin::Pause) {
            return false;
        }
    }
    true
}
