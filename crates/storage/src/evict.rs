//! Eviction policy and the LRU/LFU clocks, after Redis's evict.c.
//!
//! The LRU clock is seconds since the epoch; the LFU field is `minutes<<8 | counter` with a
//! logarithmic counter (`lfu-log-factor`) that decays by one per `lfu-decay-time` minutes.
//! Eviction samples `maxmemory-samples` keys of one shard at a time (shards taken in rotation)
//! and removes the best candidate for the policy: approximate, like Redis, with no global list.

use rand::Rng;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

/// `maxmemory-policy`, Redis's eight names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction = 0,
    AllKeysLru = 1,
    VolatileLru = 2,
    AllKeysLfu = 3,
    VolatileLfu = 4,
    AllKeysRandom = 5,
    VolatileRandom = 6,
    VolatileTtl = 7,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::VolatileLru,
        Policy::AllKeysLfu,
        Policy::VolatileLfu,
        Policy::AllKeysRandom,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    fn from_u8(v: u8) -> Policy {
        Policy::ALL[v as usize & 7]
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether the policy only considers keys with a TTL.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// The memory settings, changeable at run time (CONFIG SET) without locking.
pub struct EvictionConfig {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    lfu_log_factor: AtomicU32,
    lfu_decay_time: AtomicU32,
}

impl Default for EvictionConfig {
    fn default() -> Self {
        EvictionConfig {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(Policy::NoEviction as u8),
            samples: AtomicU32::new(5),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
        }
    }
}

impl EvictionConfig {
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }
    pub fn set_maxmemory(&self, v: u64) {
        self.maxmemory.store(v, Relaxed)
    }
    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Relaxed))
    }
    pub fn set_policy(&self, p: Policy) {
        self.policy.store(p as u8, Relaxed)
    }
    pub fn samples(&self) -> u32 {
        self.samples.load(Relaxed)
    }
    pub fn set_samples(&self, v: u32) {
        self.samples.store(v.clamp(1, 64), Relaxed)
    }
    pub fn lfu_log_factor(&self) -> u32 {
        self.lfu_log_factor.load(Relaxed)
    }
    pub fn set_lfu_log_factor(&self, v: u32) {
        self.lfu_log_factor.store(v, Relaxed)
    }
    pub fn lfu_decay_time(&self) -> u32 {
        self.lfu_decay_time.load(Relaxed)
    }
    pub fn set_lfu_decay_time(&self, v: u32) {
        self.lfu_decay_time.store(v, Relaxed)
    }
}

/// A write was refused because memory is full and the policy frees nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oom;

pub const LFU_INIT_VAL: u32 = 5;

/// LRU clock: seconds since the epoch.
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

#[inline]
fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// The initial access field of a new key.
#[inline]
pub fn initial_lru(now_ms: u64, lfu: bool) -> u32 {
    if lfu {
        (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
    } else {
        lru_clock(now_ms)
    }
}

/// LFU counter after decay (Redis's LFUDecrAndReturn).
pub fn lfu_decayed(field: u32, now_ms: u64, decay_time: u32) -> u32 {
    let ldt = field >> 8;
    let counter = field & 255;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    // decay_time 0 = never decay.
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// The access field after one access (Redis's updateLFU / LRU clock refresh).
pub fn touched(
    field: u32,
    now_ms: u64,
    lfu: bool,
    cfg: &EvictionConfig,
    rng: &mut impl Rng,
) -> u32 {
    if !lfu {
        return lru_clock(now_ms);
    }
    let mut counter = lfu_decayed(field, now_ms, cfg.lfu_decay_time());
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * cfg.lfu_log_factor() as f64 + 1.0);
        if rng.random::<f64>() < p {
            counter += 1;
        }
    }
    (lfu_minutes(now_ms) << 8) | counter
}

/// Idle time in ms from an LRU field.
pub fn idle_ms(field: u32, now_ms: u64) -> u64 {
    (lru_clock(now_ms).saturating_sub(field) as u64) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn policy_names_roundtrip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name()), Some(p));
        }
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("lru"), None);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let cfg = EvictionConfig::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let now = 10 * 60_000;
        let mut f = initial_lru(now, true);
        for _ in 0..1000 {
            f = touched(f, now, true, &cfg, &mut rng);
        }
        let c = f & 255;
        assert!(c > 10 && c < 40, "counter {c}");
        // Ten minutes later with decay 1: ten lower.
        assert_eq!(lfu_decayed(f, now + 10 * 60_000, 1), c - 10);
    }
}
