//! Active expiry, after Redis's activeExpireCycle: keys with a TTL are sampled from each
//! shard's volatile list (20 a database a round); the shard is sampled again while more than
//! a quarter of a round had expired; the cycle stops when its time budget is spent, so a
//! burst of expirations is cleared over several cycles without stalling commands.

use crate::keyspace::Keyspace;
use crate::SHARDS;
use rand::Rng;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Keys sampled per database per round.
pub const SAMPLE: usize = 20;
/// Repeat a shard while more than this percentage of its sample had expired.
pub const REPEAT_PERCENT: usize = 25;

/// What one cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    pub sampled: usize,
    pub expired: usize,
    pub shards_visited: usize,
    /// The time budget ran out before every shard was visited.
    pub timed_out: bool,
}

impl Keyspace {
    /// Run one active-expiry cycle of at most `budget` wall time.
    pub fn active_expire_cycle(&self, budget: Duration) -> CycleStats {
        let start = Instant::now();
        let mut st = CycleStats::default();
        if self.watches.expiry_paused() {
            // CLIENT PAUSE keeps the dataset still (Redis skips the cycle too).
            return st;
        }
        let first = self.expire_cursor.load(Relaxed);
        for step in 0..SHARDS {
            let s = (first + step) % SHARDS;
            self.expire_cursor.store(s + 1, Relaxed);
            st.shards_visited += 1;
            loop {
                let now = self.now();
                let mut g = self.shard_lock(s);
                let mut sampled = 0;
                let mut expired = 0;
                let mut delta = 0;
                for db in 0..g.dbs.len() {
                    for _ in 0..SAMPLE {
                        let n = g.dbs[db].volatile.len();
                        if n == 0 {
                            break;
                        }
                        let r = g.rng.random_range(0..n);
                        let (hash, slot) = (g.dbs[db].volatile[r].hash, g.dbs[db].volatile[r].slot);
                        sampled += 1;
                        let key = g.dbs[db].volatile[r].key.clone();
                        // lookup() removes the key when its time has passed.
                        if g.lookup(db, hash, slot, &key, now, &mut delta).is_none() {
                            expired += 1;
                        }
                    }
                }
                drop(g);
                self.publish_delta(delta);
                st.sampled += sampled;
                st.expired += expired;
                if start.elapsed() >= budget {
                    st.timed_out = true;
                    return st;
                }
                if sampled == 0 || expired * 100 <= sampled * REPEAT_PERCENT {
                    break;
                }
            }
        }
        st
    }
}
