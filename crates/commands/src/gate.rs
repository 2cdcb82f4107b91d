//! The exclusion gate: what makes MULTI/EXEC and scripts atomic with respect to every other
//! client while ordinary commands still run in parallel on every I/O thread.
//!
//! Ordinary commands run *shared*: a connection holds a read share while it executes a run
//! of commands (never across an `.await`), one atomic add and one atomic subtract. A command
//! flagged `EXCLUSIVE` (EXEC, EVAL…) runs *exclusive*: it waits until no share is held,
//! and while it runs no other command starts (new shares wait). The per-shard locks still
//! serialise the storage itself; the gate only adds whole-command atomicity.
//!
//! Waiting never blocks a thread: both sides await a `Notify`. While an exclusive command
//! runs past `busy-reply-threshold` (a long script), waiting clients are answered `BUSY`
//! (see `busy_since`), and commands flagged `ALLOW_BUSY` (SCRIPT KILL…) skip the gate.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Notify;

const WRITER: usize = 1 << (usize::BITS - 2);

pub struct Gate {
    /// Number of shares held (low bits) | WRITER when an exclusive holder owns or awaits it.
    state: AtomicUsize,
    /// Woken when the exclusive holder leaves: shared waiters and exclusive claimants wait
    /// on it.
    released: Notify,
    /// Woken when the last share leaves while an exclusive claimant waits for the drain.
    /// Separate from `released`: a failed `try_shared` undoes its share and may notify
    /// here, and a shared waiter must not wake itself that way (it would spin without ever
    /// yielding, starving its I/O thread while a script runs).
    drained: Notify,
    /// When the current exclusive holder started a script (ms since `epoch`, 0 = none).
    script_since: AtomicU64,
    epoch: Instant,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: AtomicUsize::new(0),
            released: Notify::new(),
            drained: Notify::new(),
            script_since: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

/// A read share; dropping it releases the share.
pub struct Shared<'a>(&'a Gate);

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        self.0.release_shared();
    }
}

/// The exclusive hold; dropping it lets shared holders in again.
pub struct Exclusive<'a>(&'a Gate);

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.0.release_exclusive();
    }
}

impl Gate {
    /// Take a share if no exclusive holder owns or awaits the gate.
    #[inline]
    pub fn try_shared(&self) -> Option<Shared<'_>> {
        let s = self.state.fetch_add(1, Ordering::Acquire);
        if s & WRITER != 0 {
            self.release_shared();
            return None;
        }
        Some(Shared(self))
    }

    #[inline]
    fn release_shared(&self) {
        let prev = self.state.fetch_sub(1, Ordering::Release);
        if prev & WRITER != 0 && prev & !WRITER == 1 {
            // The last share left while an exclusive holder waits.
            self.drained.notify_waiters();
        }
    }

    /// Wait for a share.
    pub async fn shared(&self) -> Shared<'_> {
        loop {
            if let Some(g) = self.try_shared() {
                return g;
            }
            let n = self.released.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if let Some(g) = self.try_shared() {
                return g;
            }
            n.await;
        }
    }

    /// Wait until this caller holds the gate alone.
    pub async fn exclusive(&self) -> Exclusive<'_> {
        // First claim the WRITER bit (one exclusive holder at a time)…
        loop {
            let s = self.state.load(Ordering::Acquire);
            if s & WRITER == 0
                && self
                    .state
                    .compare_exchange(s, s | WRITER, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                break;
            }
            let n = self.released.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.state.load(Ordering::Acquire) & WRITER == 0 {
                continue;
            }
            n.await;
        }
        // …then wait for the shares held to drain (new ones back off when they see WRITER).
        loop {
            if self.state.load(Ordering::Acquire) & !WRITER == 0 {
                return Exclusive(self);
            }
            let n = self.drained.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.state.load(Ordering::Acquire) & !WRITER == 0 {
                return Exclusive(self);
            }
            n.await;
        }
    }

    fn release_exclusive(&self) {
        self.script_since.store(0, Ordering::Release);
        self.state.fetch_and(!WRITER, Ordering::Release);
        self.released.notify_waiters();
    }

    /// The exclusive holder says a script is running from now on (BUSY detection).
    pub fn mark_script_start(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.script_since.store(ms.max(1), Ordering::Release);
    }

    /// The script has ended (the exclusive hold may go on: a script inside EXEC, or an
    /// in-process caller that holds no gate).
    pub fn mark_script_end(&self) {
        self.script_since.store(0, Ordering::Release);
    }

    /// How long the running script has run, if one is running.
    pub fn busy_since(&self) -> Option<std::time::Duration> {
        let s = self.script_since.load(Ordering::Acquire);
        if s == 0 {
            return None;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        Some(std::time::Duration::from_millis(now.saturating_sub(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn shares_coexist_and_exclusive_waits_for_them() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let g = Arc::new(Gate::default());
            let a = g.try_shared().unwrap();
            let b = g.try_shared().unwrap();
            let g2 = g.clone();
            let ex = tokio::spawn(async move {
                let _x = g2.exclusive().await;
                g2.try_shared().is_none()
            });
            tokio::task::yield_now().await;
            // An exclusive holder is waiting: new shares back off.
            assert!(g.try_shared().is_none());
            drop(a);
            tokio::task::yield_now().await;
            assert!(!ex.is_finished());
            drop(b);
            assert!(ex.await.unwrap());
            // Released: shares are granted again.
            assert!(g.try_shared().is_some());
            let _s = g.shared().await;
        });
    }

    #[test]
    fn shared_waiter_yields_while_exclusive_is_held() {
        // A waiter for a share must stay pending (not spin) while an exclusive holder runs,
        // so its I/O thread can answer BUSY and serve other connections.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let g = Gate::default();
            let x = g.exclusive().await;
            let waited =
                tokio::time::timeout(std::time::Duration::from_millis(20), g.shared()).await;
            assert!(
                waited.is_err(),
                "a share was granted beside the exclusive holder"
            );
            drop(x);
            let _s = g.shared().await;
        });
    }

    /// An exclusive holder and a share waiter on one current-thread runtime: the waiter
    /// must yield so the holder can run and release (found by concurrent MULTI/EXEC clients).
    #[test]
    fn a_share_waiter_yields_to_the_exclusive_holder_on_its_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let g = Arc::new(Gate::default());
                let held = g.exclusive().await;
                let g1 = g.clone();
                let reader = tokio::spawn(async move {
                    let _s = g1.shared().await;
                });
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                drop(held);
                reader.await.unwrap();
            });
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("the share waiter let the exclusive holder release");
    }
}
