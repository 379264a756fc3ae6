//! The worker thread: pops ticks, decodes them, computes the features and the score, and
//! writes each row's outputs (timing the sampled ticks).

use super::{backoff, Engine, RunCtx, Spin, BATCH, SKIPPED};
use crate::clock::stamp_after;
use crate::features::FeatureState;
use crate::ring::Consumer;
use crate::scoring::ScoreState;
use crate::tick::L2Tick;
use crate::weights::N_FEATURES;

/// What the worker hands back.
pub(super) struct WorkerOut {
    /// Its end of the ring, moved back out as the producer's is.
    pub(super) rx: Consumer<L2Tick>,
    pub(super) pinned: bool,
    pub(super) scores: Vec<f64>,
    pub(super) signals: Vec<i8>,
    pub(super) features: Option<Vec<f64>>,
}

impl Engine {
    /// Worker loop: pop, decode, features, score, emit (and time sampled ticks).
    pub(super) fn work(
        &self,
        n: usize,
        ctx: &RunCtx<'_>,
        mut rx: Consumer<L2Tick>,
        emitted_at: &mut [u64],
    ) -> Option<WorkerOut> {
        let RunCtx {
            opts,
            codec,
            sizes,
            stop,
            every,
            shared_core,
        } = *ctx;
        #[cfg(feature = "test-hooks")]
        assert!(!opts.panic_in_worker, "injected worker panic");
        let model = &self.weights;
        // The score comes from its own state whether or not the features are recorded, so a
        // run's scores are the same bit for bit either way; recording adds a second pass of
        // the windows over the same ticks.
        let mut score_state = ScoreState::new(model);
        let mut recorder = opts
            .record_features
            .then(|| FeatureState::new(model.windows_ms));
        // Zeroed, so no pass fills them before the first tick (fresh pages come zeroed); every
        // row is written below, skipped rows with NaN.
        let mut scores = vec![0.0; n];
        let mut signals = vec![0i8; n];
        let mut features = opts.record_features.then(|| vec![0.0; n * N_FEATURES]);
        let mut buf = [L2Tick::default(); BATCH];
        // Paced, the producer pushes ticks one by one, and so they are taken. A ring smaller
        // than a batch can never hold a whole one: waiting for it would wait forever.
        let (batch_len, spin) = if opts.pace_ns.is_some() {
            // Paced, every tick is timed: its outputs' pages are touched now, not as a page
            // fault inside one tick in 512.
            touch_pages(&mut scores);
            touch_pages(&mut signals);
            if let Some(out) = features.as_mut() {
                touch_pages(out);
            }
            (1, Spin::Tight)
        } else {
            (BATCH.min(self.config.capacity), Spin::Pause)
        };
        let (mut have, mut next) = (0usize, 0usize);
        for i in 0..n {
            if next == have {
                let mut spins = 0u32;
                let want = batch_len.min(n - i);
                loop {
                    // Whole batches only (the producer pushes exactly n ticks, so the last,
                    // shorter one comes too): see `Consumer::pop_exact`.
                    if rx.pop_exact(&mut buf[..want]) {
                        have = want;
                        // The next batch is usually published already: its cross-core
                        // transfers then overlap this batch's arithmetic.
                        rx.prefetch(BATCH);
                        break;
                    }
                    if batch_len == 1 {
                        // Paced, the worker waits for each tick on an empty ring.
                        rx.prefetch_unpublished();
                    }
                    if !backoff(&mut spins, stop, shared_core, spin) {
                        return None;
                    }
                }
                next = 0;
            }
            let tick = buf[next];
            next += 1;
            if tick.ts == SKIPPED {
                scores[i] = f64::NAN;
                if let Some(out) = features.as_mut() {
                    out[i * N_FEATURES..(i + 1) * N_FEATURES].fill(f64::NAN);
                }
            } else {
                let mut bid_sz = tick.bid_sz.map(f64::from);
                let mut ask_sz = tick.ask_sz.map(f64::from);
                bid_sz[0] = sizes.decode(tick.bid_sz[0]);
                ask_sz[0] = sizes.decode(tick.ask_sz[0]);
                let b = codec.decode(tick.bid_px[0]);
                let a = codec.decode(tick.ask_px[0]);
                let score = score_state.score(tick.ts, b, a, &bid_sz, &ask_sz);
                scores[i] = score;
                signals[i] = model.signal(score);
                if let (Some(out), Some(state)) = (features.as_mut(), recorder.as_mut()) {
                    let f = state.update(tick.ts, b, a, &bid_sz, &ask_sz);
                    out[i * N_FEATURES..(i + 1) * N_FEATURES].copy_from_slice(&f);
                }
            }
            // A skipped row is not a tick→signal latency: left unstamped, it is not counted
            // (an all-bad feed would otherwise report latencies for rows nothing scored).
            if i & (every as usize - 1) == 0 && tick.ts != SKIPPED {
                emitted_at[i >> every.trailing_zeros()] = stamp_after(&self.clock);
            }
        }
        Some(WorkerOut {
            rx,
            pinned: false,
            scores,
            signals,
            features,
        })
    }
}

/// Writes one zero per 4 KiB page of zero-filled `v`, faulting every page in (a write, not a
/// read: a read would map the shared zero page and fault again on the first real write). The
/// zero passes through `black_box` so that the store into calloc'd memory is not elided.
fn touch_pages<T: Copy + Default>(v: &mut [T]) {
    let step = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for x in v.iter_mut().step_by(step) {
        *x = std::hint::black_box(T::default());
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::touch_pages;

    /// Minor page faults of the calling thread so far (field 10 of its `stat`).
    fn minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces; the fields after its `)` do not.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(7).unwrap().parse().unwrap()
    }

    fn faults_writing_all(touch: bool) -> u64 {
        // 64 MiB of fresh, untouched zero pages: above glibc's largest mmap threshold
        // (32 MiB), so always a new mapping. A smaller block can come from the heap, already
        // faulted in, once an earlier test in the process has freed a large one (glibc then
        // raises its threshold), and the control would then not fault.
        let mut v = vec![0.0f64; 1 << 23];
        if touch {
            touch_pages(&mut v);
        }
        let before = minor_faults();
        for (i, x) in v.iter_mut().enumerate() {
            *x = i as f64;
        }
        let after = minor_faults();
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, &x)| x.to_bits() == (i as f64).to_bits()));
        after - before
    }

    #[test]
    fn touched_pages_do_not_fault_when_written() {
        assert!(
            faults_writing_all(false) > 1_000,
            "the untouched control must fault"
        );
        assert!(faults_writing_all(true) < 16);
    }
}
