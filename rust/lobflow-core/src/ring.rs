//! Lock-free single-producer single-consumer ring buffer (rtrb's API shape).
//!
//! Design:
//! - Capacity is a power of two so a slot index is `position & mask`; positions are free-running
//!   `usize` counters that never wrap in practice (2^64 items) and wrap correctly if they did,
//!   because only differences (`tail - head`) are used.
//! - `tail` (next slot to write) is stored only by the producer, `head` (next slot to read) only
//!   by the consumer. Each lives on its own cache line so the two cores do not false-share.
//! - The producer publishes a written slot with a `Release` store of `tail`; the consumer
//!   observes it with an `Acquire` load, which makes the slot's contents visible. Symmetrically
//!   the consumer releases a slot with a `Release` store of `head` and the producer acquires it
//!   before overwriting.
//! - Each side caches the last value it read of the other side's index and reloads it only when
//!   the cache says full (producer) or empty (consumer), so in steady state a push or pop touches
//!   no cache line the other core is writing.
//! - This file also holds the crate's two CPU hints for other modules (`prefetch_read`,
//!   `execution_fence`), so that `unsafe` stays here (and in `feature_columns/scatter.rs`,
//!   which says why).
//! - Slots are stored in cache-line-aligned blocks of eight, so that a batch of a multiple of
//!   eight slots never shares a cache line with the next batch, which the other core may be
//!   using (a plain boxed slice is aligned only to its item, 8 bytes for a tick). The
//!   property costs nothing.

use crate::sync::{Arc, AtomicUsize, Ordering, UnsafeCell};
use crossbeam_utils::CachePadded;
use std::mem::MaybeUninit;

/// The shared part of the ring: the slots and the two indices.
pub struct RingBuffer<T> {
    /// Next position the consumer will read. Written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Next position the producer will write. Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    mask: usize,
    blocks: Box<[Block<T>]>,
}

/// Slots per [`Block`].
const BLOCK: usize = 8;

/// Eight consecutive slots, starting on a cache line (eight 88-byte ticks are exactly 11 lines,
/// so a tick block has no padding and every batch of a multiple of eight slots starts on a line).
#[repr(C, align(64))]
struct Block<T>([UnsafeCell<MaybeUninit<T>>; BLOCK]);

impl<T> RingBuffer<T> {
    /// The slot of free-running position `pos`.
    #[inline]
    fn slot(&self, pos: usize) -> &UnsafeCell<MaybeUninit<T>> {
        let i = pos & self.mask;
        debug_assert!(i / BLOCK < self.blocks.len());
        // SAFETY: `i ≤ mask = capacity − 1`, and `new` made `capacity.div_ceil(BLOCK)` blocks,
        // so `i / BLOCK < blocks.len()`; `i % BLOCK < BLOCK` indexes inside a block. The
        // bounds check this skips sat on every push and pop.
        unsafe {
            self.blocks
                .get_unchecked(i / BLOCK)
                .0
                .get_unchecked(i % BLOCK)
        }
    }

    /// True when the slots follow one another with no gap from block to block (eight items
    /// fill a whole number of cache lines, as 88-byte ticks do), so that any run of positions
    /// that does not wrap is one array of `T` in memory.
    #[cfg(not(loom))]
    const SLOTS_CONTIGUOUS: bool =
        std::mem::size_of::<Block<T>>() == BLOCK * std::mem::size_of::<T>();

    /// Positions `pos..pos + n` (`n ≤ capacity`) as runs of slots that do not wrap, each
    /// `(its first item, its offset among the n, its length)`: one run, and a second, empty
    /// unless the positions wrap. Only where [`Self::SLOTS_CONTIGUOUS`], so that a run is
    /// `length` consecutive items of `T`, each aligned (the array starts on a line and slots
    /// are `size_of::<T>()` apart).
    #[cfg(not(loom))]
    #[inline]
    fn runs(&self, pos: usize, n: usize) -> [(*mut T, usize, usize); 2] {
        debug_assert!(Self::SLOTS_CONTIGUOUS && n <= self.mask + 1);
        // Every byte of the slot array is inside an `UnsafeCell` (no padding when contiguous),
        // so writing through pointers derived from `&self` is allowed; they come from the
        // whole array, not from one slot, so a run may reach past its first slot.
        // `UnsafeCell` (transparent) and `MaybeUninit<T>` both have `T`'s layout.
        let items = self.blocks.as_ptr().cast::<T>().cast_mut();
        let i = pos & self.mask;
        let first = n.min(self.mask + 1 - i);
        [(items.wrapping_add(i), 0, first), (items, first, n - first)]
    }

    /// Creates a ring of `capacity` slots and returns its two ends.
    ///
    /// # Errors
    /// [`crate::Error::Capacity`] unless `capacity` is a power of two ≥ 2;
    /// [`crate::Error::RingAlloc`] when the system will not give the memory for its slots.
    ///
    /// # Examples
    /// ```
    /// use lobflow_core::ring::RingBuffer;
    /// let (mut tx, mut rx) = RingBuffer::<u64>::new(4).unwrap();
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.pop().unwrap(), 7);
    /// assert!(RingBuffer::<u64>::new(6).is_err());
    /// ```
    #[allow(clippy::new_ret_no_self)] // rtrb's shape: the shared ring is only reachable via its ends
    pub fn new(capacity: usize) -> crate::Result<(Producer<T>, Consumer<T>)> {
        if capacity < 2 || !capacity.is_power_of_two() {
            return Err(crate::Error::Capacity { capacity });
        }
        // Zeroed rather than left uninitialised, so that every page of the slots is touched
        // here: an untouched 11.5 MB ring page-faults once every 46 ticks of its first lap,
        // inside the pushes of a run, where a paced run's ticks are timed.
        // Asked for fallibly first: an infallible allocation that fails aborts the process,
        // and a capacity is a user's number (2^40 slots asked for 97 TB). The slots are then
        // built by `collect`: built by `extend` into the reserved vector, the engine ran
        // measurably slower flat out, presumably from where the slots then landed relative to
        // the other buffers.
        let n_blocks = capacity.div_ceil(BLOCK);
        let bytes = n_blocks.saturating_mul(std::mem::size_of::<Block<T>>());
        // The allocator may grant what the machine cannot hold (overcommit): then zeroing the
        // slots below meets the OOM killer, which ends the process without a word.
        if let Some(available) = crate::memory::available_bytes() {
            if bytes as u64 > available {
                return Err(crate::Error::RingAlloc {
                    capacity,
                    bytes,
                    available: Some(available),
                });
            }
        }
        let mut probe: Vec<Block<T>> = Vec::new();
        probe
            .try_reserve_exact(n_blocks)
            .map_err(|_| crate::Error::RingAlloc {
                capacity,
                bytes,
                available: None,
            })?;
        drop(probe);
        let blocks = (0..n_blocks)
            .map(|_| {
                Block(std::array::from_fn(|_| {
                    UnsafeCell::new(MaybeUninit::zeroed())
                }))
            })
            .collect();
        let ring = Arc::new(RingBuffer {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            mask: capacity - 1,
            blocks,
        });
        let producer = Producer {
            ring: Arc::clone(&ring),
            tail: 0,
            cached_head: 0,
        };
        let consumer = Consumer {
            ring,
            head: 0,
            cached_tail: 0,
        };
        Ok((producer, consumer))
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Hints the CPU to bring the slot at `pos` into this core's L1, for writing (`WRITE`, a
    /// `prefetchw`: owned, so that a store to it does not wait) or for reading. A no-op off
    /// x86-64 and under loom.
    #[inline]
    fn prefetch_slot<const WRITE: bool>(&self, pos: usize) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        self.slot(pos).with(|p| {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0, _MM_HINT_T0};
            // One address per 64-byte line the slot can touch: its bytes 0, 64, … and its last
            // (an 88-byte slot straddles three lines when it starts past byte 40 of one).
            let size = std::mem::size_of::<T>();
            let offsets = (0..size)
                .step_by(64)
                .chain(std::iter::once(size.saturating_sub(1)));
            for q in offsets.map(|o| p.cast::<i8>().wrapping_add(o)) {
                // SAFETY: a prefetch is only a hint: it neither moves data into the program nor
                // faults, so it cannot race with the other side's access to the slot; `q`
                // points at a byte of a slot of this live ring.
                unsafe {
                    if WRITE {
                        _mm_prefetch::<_MM_HINT_ET0>(q);
                    } else {
                        _mm_prefetch::<_MM_HINT_T0>(q);
                    }
                }
            }
        });
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        let _ = pos;
    }
}

/// Hints the CPU to bring the line holding `p` into this core's L1 for reading; a no-op off
/// x86-64. Any address will do, even one past an allocation's end: a prefetch neither reads
/// into the program nor faults. (Here because the house rule keeps `unsafe` in this file;
/// the feed's producer uses it for the rows ahead.)
#[inline]
pub(crate) fn prefetch_read(p: *const i8) {
    // SAFETY: `prefetcht0` is a hint (SSE, in the x86-64 baseline): it never faults, moves
    // nothing into the program and writes nothing, whatever `p` is.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Waits until every earlier instruction has completed, loads included, and keeps later
/// ones from starting (`lfence`); a compiler fence only off x86-64. The engine brackets its
/// clock reads with it (`stamp_after`). (Here because the house rule keeps `unsafe` in this
/// file.)
#[inline]
pub(crate) fn execution_fence() {
    // SAFETY: `lfence` belongs to SSE2, which every x86-64 CPU has (it is in the target's
    // baseline); it reads and writes no memory, so it cannot break any Rust invariant.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_lfence();
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

impl<T> Drop for RingBuffer<T> {
    fn drop(&mut self) {
        // Both ends are gone (we hold the last Arc), so no other thread can touch the slots and
        // the indices are final: positions head..tail hold initialised items.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        let mut pos = head;
        while pos != tail {
            let slot = self.slot(pos);
            // SAFETY: positions in head..tail were written by the producer and not yet read by
            // the consumer; we are the only owner left, so each such slot is initialised and is
            // dropped here exactly once.
            slot.with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = pos.wrapping_add(1);
        }
    }
}

/// Error of [`Producer::push`]: the ring is full; the value is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError<T> {
    /// No free slot; retry later.
    Full(T),
}

/// Error of [`Consumer::pop`]: nothing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopError {
    /// No item available; retry later.
    Empty,
}

impl<T> std::fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ring buffer is full")
    }
}

impl std::fmt::Display for PopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ring buffer is empty")
    }
}

impl<T: std::fmt::Debug> std::error::Error for PushError<T> {}
impl std::error::Error for PopError {}

/// The writing end. Exactly one exists per ring.
pub struct Producer<T> {
    ring: Arc<RingBuffer<T>>,
    /// Local copy of `ring.tail`: only this side writes it, so it never needs reloading.
    tail: usize,
    /// Last observed `ring.head`; may be stale (too small), which is always safe.
    cached_head: usize,
}

/// The reading end. Exactly one exists per ring.
pub struct Consumer<T> {
    ring: Arc<RingBuffer<T>>,
    /// Local copy of `ring.head`: only this side writes it.
    head: usize,
    /// Last observed `ring.tail`; may be stale (too small), which is always safe.
    cached_tail: usize,
}

// SAFETY: a Producer only writes slots the consumer has released (ordered by the Acquire load
// of `head`) and publishes them with a Release store, so moving it to another thread is sound
// whenever the items themselves may move (`T: Send`).
// WARNING: cloning a Producer or handing out `&mut` to two threads would break the single-writer
// invariant; neither is possible through this API.
unsafe impl<T: Send> Send for Producer<T> {}
// SAFETY: symmetric to the Producer: the Consumer reads only slots published by the Release
// store of `tail` it has Acquire-loaded, and releases them with a Release store of `head`.
// WARNING: two consumers would read the same slot twice (a double drop); the API allows one.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Producer<T> {
    /// Appends `value`, or hands it back in [`PushError::Full`] when no slot is free.
    ///
    /// # Errors
    /// [`PushError::Full`] when the consumer has not yet freed a slot.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let cap = self.ring.mask + 1;
        if self.tail.wrapping_sub(self.cached_head) == cap {
            // Acquire pairs with the consumer's Release store of `head`: the consumer's reads
            // of the slot we are about to overwrite happen before our write.
            self.cached_head = self.ring.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.cached_head) == cap {
                return Err(PushError::Full(value));
            }
        }
        let slot = self.ring.slot(self.tail);
        // SAFETY: `tail - head < cap`, so the slot at `tail` is not in the consumer's readable
        // range head..tail; the consumer cannot read it until we publish `tail + 1` below, and
        // no other producer exists. Its previous item (if any) was moved out by `pop`.
        slot.with_mut(|p| unsafe { (*p).write(value) });
        self.tail = self.tail.wrapping_add(1);
        // Release publishes the write above to the consumer's Acquire load of `tail`.
        self.ring.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Appends as many of `items` as fit, in order, and publishes them with one store; returns
    /// how many were pushed. One index store per batch instead of per item is what keeps the
    /// `tail` cache line from bouncing between the cores once per item.
    #[inline]
    pub fn push_batch(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.free_for(items.len());
        // One copy per run, not a slot at a time: the slot loop's index arithmetic kept it from
        // becoming a memcpy. A single item (a paced run's every push) stays an inline copy,
        // not a call to memcpy.
        #[cfg(not(loom))]
        if RingBuffer::<T>::SLOTS_CONTIGUOUS && n > 1 {
            for (slots, at, len) in self.ring.runs(self.tail, n) {
                // SAFETY: the run's slots are free, as in the loop below, and `runs` makes
                // them `len` aligned items inside the slot array. `items` cannot overlap them:
                // the ring never lends out a reference to a slot.
                unsafe { std::ptr::copy_nonoverlapping(items.as_ptr().add(at), slots, len) };
            }
            self.publish(n);
            return n;
        }
        for (k, item) in items[..n].iter().enumerate() {
            let slot = self.ring.slot(self.tail.wrapping_add(k));
            // SAFETY: positions tail..tail+n are free (`free_for`), so the consumer neither
            // reads nor will read them before `publish` below; no other producer exists.
            slot.with_mut(|p| unsafe { (*p).write(*item) });
        }
        self.publish(n);
        n
    }

    /// How many of `want` slots are free from `tail` on (all of them if the cached `head`
    /// says so, else as of a fresh look at `head`).
    #[inline]
    fn free_for(&mut self, want: usize) -> usize {
        let cap = self.ring.mask + 1;
        let mut free = cap - self.tail.wrapping_sub(self.cached_head);
        if free < want {
            // Acquire pairs with the consumer's Release store of `head` (as in `push`).
            self.cached_head = self.ring.head.load(Ordering::Acquire);
            free = cap - self.tail.wrapping_sub(self.cached_head);
        }
        free.min(want)
    }

    /// Publishes the `n` slots from `tail` on, written by the caller.
    #[inline]
    fn publish(&mut self, n: usize) {
        if n > 0 {
            self.tail = self.tail.wrapping_add(n);
            // Release publishes all n writes before it at once.
            self.ring.tail.store(self.tail, Ordering::Release);
        }
    }

    /// True when at most `limit` pushed items are still unread. Looks at the consumer's
    /// `head` only when the cached copy says more are in flight, so a producer that checks
    /// this once per batch does not pull the consumer's cache line over every time.
    #[inline]
    pub fn in_flight_at_most(&mut self, limit: usize) -> bool {
        if self.tail.wrapping_sub(self.cached_head) <= limit {
            return true;
        }
        // Acquire pairs with the consumer's Release store of `head` (as in `push`).
        self.cached_head = self.ring.head.load(Ordering::Acquire);
        self.tail.wrapping_sub(self.cached_head) <= limit
    }

    /// Hints the CPU to fetch, ready for writing, the slots the next `n` pushes will fill (as
    /// far as they are known to be free), so that a producer that waits between pushes (a
    /// paced feed) takes the cache misses of a slot last used one lap ago while it waits,
    /// not between its timestamp and its publish.
    #[inline]
    pub fn prefetch_for_write(&self, n: usize) {
        let free = self.ring.mask + 1 - self.tail.wrapping_sub(self.cached_head);
        for k in 0..n.min(free) {
            self.ring.prefetch_slot::<true>(self.tail.wrapping_add(k));
        }
    }

    /// Free slots as seen now (a lower bound: the consumer may free more at any time).
    pub fn slots(&self) -> usize {
        let head = self.ring.head.load(Ordering::Acquire);
        self.ring.capacity() - self.tail.wrapping_sub(head)
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True when the consumer has been dropped (nobody will ever free a slot again).
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.ring) < 2
    }
}

impl<T> Consumer<T> {
    /// Removes the oldest item, or returns [`PopError::Empty`].
    ///
    /// # Errors
    /// [`PopError::Empty`] when the producer has not published anything new.
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        if self.head == self.cached_tail {
            // Acquire pairs with the producer's Release store of `tail`: the slot's contents
            // written before that store are visible after this load.
            self.cached_tail = self.ring.tail.load(Ordering::Acquire);
            if self.head == self.cached_tail {
                return Err(PopError::Empty);
            }
        }
        let slot = self.ring.slot(self.head);
        // SAFETY: `head < tail` (as Acquire-loaded), so the producer initialised this slot and
        // its write happens-before this read; the producer will not touch it again until we
        // publish `head + 1` below. Reading moves the item out, leaving the slot logically
        // uninitialised, which is what every later index says about it.
        let value = slot.with(|p| unsafe { (*p).assume_init_read() });
        self.head = self.head.wrapping_add(1);
        // Release orders our read of the slot before the producer's reuse of it.
        self.ring.head.store(self.head, Ordering::Release);
        Ok(value)
    }

    /// Moves up to `out.len()` items into `out`, oldest first, and frees their slots with one
    /// store; returns how many were read.
    #[inline]
    pub fn pop_batch(&mut self, out: &mut [T]) -> usize
    where
        T: Copy,
    {
        self.pop_at_least(out, 1)
    }

    /// Moves exactly `out.len()` items into `out` and returns true, or moves nothing and returns
    /// false while fewer are available.
    ///
    /// A consumer that keeps up with its producer and takes whatever is there ends up taking one
    /// or two items at a time, and every take moves the `head` and `tail` cache lines between
    /// the cores again; waiting for a whole batch keeps that at one round trip per batch.
    #[inline]
    pub fn pop_exact(&mut self, out: &mut [T]) -> bool
    where
        T: Copy,
    {
        out.is_empty() || self.pop_at_least(out, out.len()) == out.len()
    }

    /// Hints the CPU to start fetching the next `n` published items (as last seen; no index is
    /// loaded) into this core's cache, so that the next pop finds them there instead of
    /// waiting on one cross-core transfer after another. A hint only: no memory is read, so
    /// it cannot observe a slot the producer is writing.
    #[inline]
    pub fn prefetch(&self, n: usize) {
        for k in 0..n.min(self.cached_tail.wrapping_sub(self.head)) {
            self.ring.prefetch_slot::<false>(self.head.wrapping_add(k));
        }
    }

    /// Hints the CPU to fetch the slot the next pop will read, *whether or not it has been
    /// published*: for a consumer that waits on an empty ring. Called on every turn of the
    /// wait, it keeps asking for the slot's lines, so the request that follows the
    /// producer's write brings them over alongside the new `tail`, instead of the pop
    /// fetching them only after it has seen `tail`: one cross-core transfer instead of two
    /// in a row. A hint only: no memory is read into the program, so it cannot observe
    /// a half-written slot; the pop still reads the slot only after its Acquire of `tail`.
    /// Not for a consumer that keeps up with a fast producer: it would pull lines the
    /// producer is still writing.
    #[inline]
    pub fn prefetch_unpublished(&self) {
        self.ring.prefetch_slot::<false>(self.head);
    }

    #[inline]
    fn pop_at_least(&mut self, out: &mut [T], min: usize) -> usize
    where
        T: Copy,
    {
        let mut avail = self.cached_tail.wrapping_sub(self.head);
        if avail < out.len() {
            // Acquire pairs with the producer's Release store of `tail` (as in `pop`).
            self.cached_tail = self.ring.tail.load(Ordering::Acquire);
            avail = self.cached_tail.wrapping_sub(self.head);
        }
        if avail < min {
            return 0;
        }
        let n = avail.min(out.len());
        // As in `Producer::push_batch`: whole runs, but a single item inline.
        #[cfg(not(loom))]
        if RingBuffer::<T>::SLOTS_CONTIGUOUS && n > 1 {
            for (slots, at, len) in self.ring.runs(self.head, n) {
                // SAFETY: the run's slots are published and not yet freed, as in the loop
                // below, and `runs` makes them `len` aligned items inside the slot array.
                // `out` cannot overlap them: the ring never lends out a reference to a slot.
                unsafe { std::ptr::copy_nonoverlapping(slots, out.as_mut_ptr().add(at), len) };
            }
            self.free(n);
            return n;
        }
        for (k, dst) in out[..n].iter_mut().enumerate() {
            let slot = self.ring.slot(self.head.wrapping_add(k));
            // SAFETY: positions head..head+n are below the Acquire-loaded `tail`, so the
            // producer initialised them and its writes happen-before these reads; it will not
            // reuse them until the Release store below frees them.
            *dst = slot.with(|p| unsafe { (*p).assume_init_read() });
        }
        self.free(n);
        n
    }

    /// Frees the `n` slots from `head` on, read by the caller.
    #[inline]
    fn free(&mut self, n: usize) {
        if n > 0 {
            self.head = self.head.wrapping_add(n);
            // Release orders the reads before it ahead of the producer's reuse of the slots.
            self.ring.head.store(self.head, Ordering::Release);
        }
    }

    /// Items available now (a lower bound: the producer may publish more at any time).
    pub fn slots(&self) -> usize {
        let tail = self.ring.tail.load(Ordering::Acquire);
        tail.wrapping_sub(self.head)
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True when the producer has been dropped (no new items will arrive).
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.ring) < 2
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomic;

    #[test]
    fn capacity_must_be_power_of_two() {
        for bad in [0, 1, 3, 6, 100, 131_071] {
            let err = RingBuffer::<u8>::new(bad).err().expect("must fail");
            assert!(err.to_string().contains(&bad.to_string()));
        }
        for good in [2, 4, 131_072] {
            let (p, c) = RingBuffer::<u8>::new(good).unwrap();
            assert_eq!(p.capacity(), good);
            assert_eq!(c.capacity(), good);
        }
    }

    #[test]
    #[cfg(not(miri))] // Miri reports the huge allocation itself as unsupported
    fn a_ring_too_large_to_allocate_is_an_error_not_an_abort() {
        let err = RingBuffer::<crate::tick::L2Tick>::new(1 << 40)
            .err()
            .expect("refused");
        assert!(matches!(err, crate::Error::RingAlloc { capacity, .. } if capacity == 1 << 40));
        assert!(err.to_string().contains("96757023244288 bytes"), "{err}");
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_ring_larger_than_the_free_memory_is_refused_before_it_is_touched() {
        // Overcommit grants such a ring (below RAM plus swap); zeroing it would meet the OOM
        // killer. The check must refuse it first, naming what was available.
        let available = crate::memory::available_bytes().expect("Linux has /proc/meminfo");
        let slots =
            usize::try_from(available / std::mem::size_of::<crate::tick::L2Tick>() as u64 + 1)
                .expect("fits");
        let err = RingBuffer::<crate::tick::L2Tick>::new(slots.next_power_of_two())
            .err()
            .expect("refused");
        assert!(
            matches!(
                err,
                crate::Error::RingAlloc {
                    available: Some(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("bytes of memory available"),
            "{err}"
        );
    }

    #[test]
    fn full_and_empty_edges_and_wraparound() {
        let (mut p, mut c) = RingBuffer::<u32>::new(4).unwrap();
        assert_eq!(c.pop(), Err(PopError::Empty));
        for round in 0..10u32 {
            for i in 0..4 {
                p.push(round * 10 + i).unwrap();
            }
            assert_eq!(p.push(99), Err(PushError::Full(99)));
            assert_eq!(p.slots(), 0);
            assert_eq!(c.slots(), 4);
            for i in 0..4 {
                assert_eq!(c.pop(), Ok(round * 10 + i));
            }
            assert_eq!(c.pop(), Err(PopError::Empty));
        }
    }

    #[test]
    fn batches_wrap_fill_and_drain_in_order() {
        /// Runs of 5 pushed and of 3 popped through 8 slots, with items made by `make`: they
        /// wrap at every offset. 88-byte items take the whole-run copies, `u32`s (a block of
        /// eight is padded to a line) the slot-by-slot path.
        fn check<T: Copy + PartialEq + std::fmt::Debug>(make: impl Fn(u32) -> T) {
            let (mut p, mut c) = RingBuffer::<T>::new(8).unwrap();
            let mut next = 0u32;
            let mut expect = 0u32;
            let mut out = [make(0); 5];
            for _ in 0..20 {
                let items: Vec<T> = (next..next + 5).map(&make).collect();
                let pushed = p.push_batch(&items);
                next += pushed as u32;
                assert!(pushed <= 5);
                let got = c.pop_batch(&mut out[..3]);
                for v in &out[..got] {
                    assert_eq!(*v, make(expect));
                    expect += 1;
                }
            }
            let fill = vec![make(1); 9];
            assert_eq!(p.push_batch(&fill), 8 - (next - expect) as usize);
            assert_eq!(c.pop_batch(&mut []), 0);
        }
        const {
            assert!(RingBuffer::<crate::tick::L2Tick>::SLOTS_CONTIGUOUS);
            assert!(RingBuffer::<[u64; 11]>::SLOTS_CONTIGUOUS);
            assert!(!RingBuffer::<u32>::SLOTS_CONTIGUOUS);
        }
        check(|i| std::array::from_fn::<u64, 11, _>(|w| u64::from(i) << 8 | w as u64));
        check(|i| i);
    }

    #[test]
    fn exact_pops_take_all_or_nothing_and_in_flight_counts_unread() {
        let (mut p, mut c) = RingBuffer::<u32>::new(8).unwrap();
        let mut out = [0u32; 4];
        assert_eq!(p.push_batch(&[1, 2, 3]), 3);
        assert!(p.in_flight_at_most(3));
        assert!(!p.in_flight_at_most(2));
        c.prefetch(8); // hints: change nothing
        c.prefetch_unpublished();
        p.prefetch_for_write(8);
        assert!(!c.pop_exact(&mut out));
        assert_eq!(c.slots(), 3, "a refused exact pop must not take anything");
        assert_eq!(p.push_batch(&[4, 5]), 2);
        assert!(c.pop_exact(&mut out));
        assert_eq!(out, [1, 2, 3, 4]);
        assert!(p.in_flight_at_most(1));
        assert!(c.pop_exact(&mut out[..1]));
        assert_eq!(out[0], 5);
        assert!(c.pop_exact(&mut []));
        assert!(!c.pop_exact(&mut out[..1]));
    }

    #[test]
    fn abandonment_is_seen_by_both_sides() {
        let (p, c) = RingBuffer::<u8>::new(2).unwrap();
        assert!(!p.is_abandoned());
        drop(c);
        assert!(p.is_abandoned());
        let (p, c) = RingBuffer::<u8>::new(2).unwrap();
        drop(p);
        assert!(c.is_abandoned());
    }

    struct Counted<'a>(&'a StdAtomic);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn leftover_items_drop_exactly_once() {
        let drops = StdAtomic::new(0);
        {
            let (mut p, mut c) = RingBuffer::new(8).unwrap();
            for _ in 0..8 {
                assert!(p.push(Counted(&drops)).is_ok());
            }
            drop(c.pop().unwrap()); // one popped and dropped by the caller
            assert!(p.push(Counted(&drops)).is_ok()); // wraps into the freed slot
        }
        assert_eq!(drops.load(std::sync::atomic::Ordering::Relaxed), 9);
    }
}
