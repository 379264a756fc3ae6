//! How much memory the system can still give, for refusing a ring that cannot fit up front.
//!
//! Under Linux's default overcommit a ring larger than the free memory but smaller than RAM
//! plus swap is granted, and zeroing its slots then meets the OOM killer, which ends the
//! interpreter without a word. The kernel's own estimate of what can be allocated without
//! swapping, `MemAvailable`, is what the ring is checked against.

/// Bytes the kernel estimates can be allocated without swapping (`MemAvailable` in
/// `/proc/meminfo`); `None` where that is not known (other systems, old kernels, sandboxes
/// without `/proc`).
pub fn available_bytes() -> Option<u64> {
    // Miri's isolation stops a run that opens a file.
    if cfg!(miri) {
        return None;
    }
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// The `MemAvailable:` line of a `/proc/meminfo` text, in bytes.
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line["MemAvailable:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available_in_bytes() {
        let text =
            "MemTotal:       24567452 kB\nMemFree:        1234 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        for odd in [
            "MemTotal: 5 kB\n",
            "MemAvailable: x kB\n",
            "MemAvailable: 5 MB\n",
            "",
        ] {
            assert_eq!(parse_mem_available(odd), None, "{odd:?}");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_machine_has_some() {
        assert!(available_bytes().is_some_and(|b| b > 0));
    }
}
