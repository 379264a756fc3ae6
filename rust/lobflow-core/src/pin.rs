//! Best-effort thread pinning: what was asked, what exists, what was used — always reported.

/// The design's cores, (producer, worker): on the machines lobflow is built for, two cores
/// of their own away from core 0, which takes most interrupts.
pub const DESIGN_CORES: [usize; 2] = [2, 4];

/// Outcome of planning where the producer and worker threads run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinReport {
    /// Cores asked for, (producer, worker); `None`: chosen automatically ([`auto_cores`]).
    pub requested: Option<[usize; 2]>,
    /// Cores chosen, (producer, worker).
    pub used: [usize; 2],
    /// Cores this process may run on.
    pub available: Vec<usize>,
    /// True when cores were asked for and `used` differs, or the OS did not list its cores.
    pub fell_back: bool,
    /// A sentence for the user when the plan cannot honour what was asked.
    pub note: Option<String>,
}

/// Core ids this process may run on (empty when the OS does not say).
pub fn available_cores() -> Vec<usize> {
    let mut ids: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// The cores a run uses when none are named: [`DESIGN_CORES`] where this process may run on
/// both, else the last two of its cores (the last one twice on a single core; `[0, 1]`,
/// unpinned, when the OS does not list them).
pub fn auto_cores(available: &[usize]) -> [usize; 2] {
    match available {
        [] => [0, 1],
        [only] => [*only, *only],
        _ if DESIGN_CORES.iter().all(|c| available.contains(c)) => DESIGN_CORES,
        [.., a, b] => [*a, *b],
    }
}

/// Plans the (producer, worker) cores against this machine's cores; `None` chooses them.
pub fn plan(requested: Option<[usize; 2]>) -> PinReport {
    plan_with(requested, &available_cores())
}

/// Plans against an explicit list of available cores. Named cores that exist are kept, the
/// others are replaced by existing ones, preferring two distinct cores, and the note says
/// so; unnamed ones are [`auto_cores`], with a note only when the OS did not list its cores.
pub fn plan_with(requested: Option<[usize; 2]>, available: &[usize]) -> PinReport {
    let Some(asked) = requested else {
        let note = available
            .is_empty()
            .then(|| "the OS did not list this process's cores; threads run unpinned".to_string());
        return PinReport {
            requested,
            used: auto_cores(available),
            available: available.to_vec(),
            fell_back: available.is_empty(),
            note,
        };
    };
    let mut used = asked;
    if !available.is_empty() {
        for i in 0..2 {
            if !available.contains(&used[i]) {
                let other = used[1 - i];
                used[i] = available
                    .iter()
                    .copied()
                    .find(|c| *c != other || available.len() == 1)
                    .unwrap_or(available[0]);
            }
        }
    }
    let fell_back = used != asked;
    let note = if available.is_empty() {
        Some(format!(
            "the OS did not list this process's cores; threads run unpinned (asked for {asked:?})"
        ))
    } else if fell_back {
        let shared = if used[0] == used[1] {
            " (both threads share one core: expect lower throughput)"
        } else {
            ""
        };
        Some(format!(
            "cores {} and {} requested but this process may run on cores {available:?}; \
             using {} and {}{shared}",
            asked[0], asked[1], used[0], used[1]
        ))
    } else {
        None
    };
    PinReport {
        requested,
        used,
        available: available.to_vec(),
        fell_back: fell_back || available.is_empty(),
        note,
    }
}

/// Pins the calling thread to `core`; false when the OS refused. Never panics.
pub fn pin_current(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // expected values are exact by construction
mod tests {
    use super::*;

    #[test]
    fn keeps_existing_cores() {
        let r = plan_with(Some([2, 4]), &[0, 1, 2, 3, 4, 5]);
        assert_eq!(r.used, [2, 4]);
        assert!(!r.fell_back);
        assert!(r.note.is_none());
    }

    #[test]
    fn falls_back_visibly_on_two_cores() {
        let r = plan_with(Some([2, 4]), &[0, 1]);
        assert_eq!(r.used, [0, 1]);
        assert!(r.fell_back);
        assert!(r.note.unwrap().contains("[0, 1]"));
    }

    #[test]
    fn keeps_the_valid_half_and_avoids_sharing() {
        assert_eq!(plan_with(Some([1, 4]), &[0, 1]).used, [1, 0]);
        assert_eq!(plan_with(Some([7, 0]), &[0, 1, 2]).used, [1, 0]);
    }

    #[test]
    fn one_core_is_shared_and_said() {
        let r = plan_with(Some([2, 4]), &[0]);
        assert_eq!(r.used, [0, 0]);
        assert!(r.note.unwrap().contains("share one core"));
    }

    #[test]
    fn unknown_topology_is_reported() {
        let r = plan_with(Some([2, 4]), &[]);
        assert!(r.fell_back);
        assert!(r.note.is_some());
    }

    #[test]
    fn this_machine_plans_without_panicking() {
        let r = plan(Some([2, 4]));
        assert!(r.available.is_empty() || r.available.contains(&r.used[0]));
    }

    #[test]
    fn automatic_cores_are_the_design_ones_where_they_exist_else_the_last_two() {
        for (available, want) in [
            (&[0, 1, 2, 3, 4, 5][..], [2, 4]),
            (&[0, 1][..], [0, 1]),
            (&[0, 1, 2, 3][..], [2, 3]),
            (&[3, 7, 9][..], [7, 9]),
            (&[5][..], [5, 5]),
        ] {
            let r = plan_with(None, available);
            assert_eq!(r.used, want, "{available:?}");
            assert!(
                r.note.is_none() && !r.fell_back,
                "no note when nothing was asked"
            );
            assert_eq!(r.requested, None);
        }
        let unknown = plan_with(None, &[]);
        assert!(unknown.fell_back && unknown.note.is_some());
    }
}
