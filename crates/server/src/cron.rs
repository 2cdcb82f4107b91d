//! Background work, `hz` times a second: the active expiry cycle (25% of each tick at most,
//! as Redis; off after DEBUG SET-ACTIVE-EXPIRE 0; its time feeds the latency monitor's
//! `expire-cycle` event), the instantaneous ops/sec sample and the peak-memory sample (INFO's
//! `used_memory_peak`).

use commands::ServerState;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(state: Arc<ServerState>) {
    let mut last_ops = state.stats.total_commands_processed.get();
    let mut last_t = Instant::now();
    loop {
        let hz = state.settings.hz.load(Relaxed).clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        // The cycle locks one shard at a time briefly; run it off the async workers' hot
        // path only when it has real work (it returns at once when nothing has a TTL).
        let st = state.clone();
        let budget = period / 4;
        // Expiring keys while EXEC or a script holds the gate would break their atomicity:
        // skip the tick then. DEBUG SET-ACTIVE-EXPIRE 0 turns the cycle off.
        if state.debug.active_expire() {
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(_share) = st.gate.try_shared() {
                    let started = Instant::now();
                    st.ks.active_expire_cycle(budget);
                    // "expired" notifications for what the cycle removed.
                    commands::notify::after_background(&st);
                    let ms = started.elapsed().as_millis() as u64;
                    commands::latency::note(&st, "expire-cycle", ms);
                }
            })
            .await;
        }
        // Counted whether the cycle ran or not: a test waits on it instead of sleeping.
        state.debug.expire_ticks.fetch_add(1, Relaxed);
        // The append-only log: `appendonly` / `appendfsync` changes, rewrites that are due.
        commands::aof::cron(&state);
        if commands::aof::needs_gate(&state) {
            let _alone = state.gate.exclusive().await;
            commands::aof::cron_exclusive(&state);
        }
        // A delayed memcached `flush_all` whose time has come.
        crate::memcache::flush_if_due(&state);
        // CLIENT PAUSE's end time; client-side caching's table limit and the BCAST
        // invalidations no batch of commands sent (active expiry's, HTTP writes').
        state.pause.cron(&state.ks);
        state.tracking.cron();
        state.stats.note_memory(state.ks.used_memory());
        let el = last_t.elapsed();
        if el >= Duration::from_secs(1) {
            // Once a second, as Redis's serverCron: the save policy (`save <seconds>
            // <changes>`) or a BGSAVE SCHEDULE. The snapshot's instant is taken holding the
            // gate alone, between commands.
            if commands::persistence::bgsave_due(&state) {
                let _alone = state.gate.exclusive().await;
                if let Err(e) = commands::persistence::bgsave_start(&state) {
                    tracing::warn!("scheduled background save: {e}");
                }
                state.persistence.scheduled.store(false, Relaxed);
            }
            let ops = state.stats.total_commands_processed.get();
            let rate = (ops.saturating_sub(last_ops)) as f64 / el.as_secs_f64();
            state
                .stats
                .instantaneous_ops_per_sec
                .store(rate as u64, Relaxed);
            last_ops = ops;
            last_t = Instant::now();
        }
    }
}
