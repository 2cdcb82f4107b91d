//! The clock that times every command (`execute_in`): the CPU's time-stamp counter where it
//! ticks at a constant rate on every core (an invariant TSC, as Redis's monotonic clock uses
//! on x86), else `std::time::Instant`.
//!
//! Why: two `Instant` reads per command measured 36 ns on the 2-core target (a vDSO
//! `clock_gettime` each), 5% of a pipelined GET/SET run; two `rdtsc` reads measured 14 ns.
//! Ticks are turned into nanoseconds once per command with a factor calibrated against
//! `Instant` when the first server starts.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A point in time, in the clock's own units.
#[derive(Clone, Copy, Debug)]
pub struct Stamp(u64);

/// Nanoseconds per tick, as a 32.32 fixed-point factor; `None` = the TSC is not usable.
static NS_PER_TICK: OnceLock<Option<u64>> = OnceLock::new();
/// The `Instant` that `Stamp`s count from when the TSC is not used.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Decide once which clock to use (and calibrate the TSC). Called when a server's
/// statistics are created, so no command pays for it.
pub fn init() {
    EPOCH.get_or_init(Instant::now);
    NS_PER_TICK.get_or_init(calibrate);
}

#[cfg(target_arch = "x86_64")]
fn calibrate() -> Option<u64> {
    use std::arch::x86_64::{__cpuid, _rdtsc};
    // CPUID 0x8000_0007 EDX bit 8: invariant TSC (constant rate, ticks in every C-state);
    // leaf 0x8000_0000 tells whether that extended leaf exists.
    let invariant =
        __cpuid(0x8000_0000).eax >= 0x8000_0007 && (__cpuid(0x8000_0007).edx >> 8) & 1 == 1;
    if !invariant {
        return None;
    }
    // Spin ~2 ms against Instant; good to well under 1%.
    let (t0, c0) = (Instant::now(), unsafe { _rdtsc() });
    while t0.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    // SAFETY: RDTSC has no preconditions on x86_64.
    let (ns, ticks) = (t0.elapsed().as_nanos() as u64, unsafe { _rdtsc() } - c0);
    (ticks > 0).then(|| (((ns as u128) << 32) / ticks as u128) as u64)
}

#[cfg(not(target_arch = "x86_64"))]
fn calibrate() -> Option<u64> {
    None
}

/// Now.
#[inline(always)]
pub fn now() -> Stamp {
    #[cfg(target_arch = "x86_64")]
    if matches!(NS_PER_TICK.get(), Some(Some(_))) {
        // SAFETY: RDTSC has no preconditions on x86_64.
        return Stamp(unsafe { std::arch::x86_64::_rdtsc() });
    }
    Stamp(EPOCH.get().map_or(0, |e| e.elapsed().as_nanos() as u64))
}

/// Nanoseconds from `start` to now.
#[inline(always)]
pub fn nanos_since(start: Stamp) -> u64 {
    let end = now().0.saturating_sub(start.0);
    match NS_PER_TICK.get() {
        Some(Some(f)) => ((end as u128 * *f as u128) >> 32) as u64,
        _ => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_known_wait_roughly() {
        init();
        let s = now();
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(5) {
            std::hint::spin_loop();
        }
        let ns = nanos_since(s);
        // Loose bounds: a descheduled test thread only makes it longer.
        assert!(ns >= 4_000_000, "{ns} ns");
        assert!(ns < 5_000_000_000, "{ns} ns");
    }
}
