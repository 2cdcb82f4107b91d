//! [`Pool`]: a fixed number of connections to one server, each shared (and automatically
//! pipelined) by every caller that gets it, reconnected when it breaks.
//!
//! Picking: starting from a rotating slot (round-robin), the pool takes the first live
//! connection with nothing in flight, else the least loaded one. A slot that is empty (not
//! yet connected) or whose connection closed is reconnected when the rotation reaches it,
//! by one caller while the others for that slot wait — so after a server restart or a
//! `CLIENT KILL` the pool heals on its next requests without the caller doing anything.
//! Requests already outstanding on the broken connection fail with [`Error::Io`]; the pool
//! does not resend them (they may have run). [`Pool::cmd`] resends only a request that
//! failed with [`Error::Closed`], which was never written.

use crate::config::{Config, Proto};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::value::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

struct Slot {
    conn: Mutex<Option<Connection>>,
    /// Held while (re)connecting this slot, so one caller connects and the rest wait.
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Connection> {
        self.conn
            .lock()
            .unwrap()
            .as_ref()
            .filter(|c| !c.is_closed())
            .cloned()
    }
}

struct PoolInner {
    cfg: Config,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

/// A pool of connections to one server. Cheap to clone (clones share the connections).
///
/// ```no_run
/// # async fn demo() -> rcache_client::Result<()> {
/// use rcache_client::{Config, Pool, Proto};
///
/// let pool = Pool::new("127.0.0.1:6379", Proto::Resp2, 4);
/// pool.cmd(["SET", "k", "v"]).await?;
/// let conn = pool.get().await?; // a live connection, for typed helpers and pipelines
/// assert_eq!(conn.get("k").await?, Some(b"v".to_vec()));
///
/// // With a password, a database and a 500 ms request timeout:
/// let cfg = Config::new("127.0.0.1:6379", Proto::Resp3)
///     .with_password("secret")
///     .with_db(1)
///     .with_timeout(Some(std::time::Duration::from_millis(500)));
/// let pool = Pool::with_config(cfg, 8);
/// pool.connect_all().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl Pool {
    /// A pool of `size` connections to `addr` (at least 1). Connections are opened on
    /// first use; [`connect_all`](Pool::connect_all) opens them up front.
    pub fn new(addr: impl Into<String>, proto: Proto, size: usize) -> Pool {
        Pool::with_config(Config::new(addr, proto), size)
    }

    /// A pool whose connections use `cfg` (AUTH, db, timeouts).
    pub fn with_config(cfg: Config, size: usize) -> Pool {
        let slots = (0..size.max(1))
            .map(|_| Slot {
                conn: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            })
            .collect();
        Pool {
            inner: Arc::new(PoolInner {
                cfg,
                slots,
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// The configuration connections are made with.
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// How many connections the pool keeps.
    pub fn size(&self) -> usize {
        self.inner.slots.len()
    }

    /// Open every connection now (the first error is returned).
    pub async fn connect_all(&self) -> Result<()> {
        for i in 0..self.inner.slots.len() {
            self.slot_conn(i).await?;
        }
        Ok(())
    }

    /// A live connection: the least loaded one, reconnecting a broken or empty slot the
    /// rotation reaches. The handle may be kept and shared; if it breaks, ask again.
    pub async fn get(&self) -> Result<Connection> {
        let n = self.inner.slots.len();
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed) % n;
        // The rotation's own slot is healed first, so every slot is refilled in turn.
        let mut best = match self.inner.slots[start].live() {
            Some(c) => c,
            None => return self.slot_conn(start).await,
        };
        if best.in_flight() == 0 {
            return Ok(best);
        }
        for k in 1..n {
            if let Some(c) = self.inner.slots[(start + k) % n].live() {
                if c.in_flight() < best.in_flight() {
                    best = c;
                    if best.in_flight() == 0 {
                        break;
                    }
                }
            }
        }
        Ok(best)
    }

    async fn slot_conn(&self, i: usize) -> Result<Connection> {
        let slot = &self.inner.slots[i];
        if let Some(c) = slot.live() {
            return Ok(c);
        }
        let _guard = slot.connecting.lock().await;
        // Another caller may have reconnected it while this one waited.
        if let Some(c) = slot.live() {
            return Ok(c);
        }
        let c = Connection::connect(&self.inner.cfg).await?;
        *slot.conn.lock().unwrap() = Some(c.clone());
        Ok(c)
    }

    /// Run any command on a pooled connection. A request that never left (the connection
    /// was found closed) is retried once on a fresh connection.
    pub async fn cmd<I, A>(&self, args: I) -> Result<Value>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<A> = args.into_iter().collect();
        match self.get().await?.cmd(&args).await {
            Err(Error::Closed) => self.get().await?.cmd(&args).await,
            r => r,
        }
    }

    /// Run a batch on one pooled connection: `f` fills the pipeline.
    ///
    /// ```no_run
    /// # async fn demo(pool: rcache_client::Pool) -> rcache_client::Result<()> {
    /// let replies = pool.pipeline(|p| { p.set("a", "1").get("a"); }).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pipeline(&self, f: impl FnOnce(&mut Pipeline<'_>)) -> Result<Vec<Value>> {
        let conn = self.get().await?;
        let mut p = conn.pipe();
        f(&mut p);
        p.query().await
    }
}
