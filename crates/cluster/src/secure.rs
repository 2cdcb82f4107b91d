//! Gossip closed to strangers: chitchat's datagrams wrapped with an HMAC-SHA256 tag keyed by
//! the cluster secret, and dropped unread when the tag is wrong or the datagram is stale.
//!
//! ```text
//!  datagram = tag (32 B) | sent_at (u64 LE, unix ms) | chitchat envelope (its own encoding)
//!  tag      = HMAC-SHA256(secret, sent_at | envelope)
//! ```
//! A node without the secret can neither join (its datagrams are dropped) nor learn more
//! than what passes on the wire (the datagrams are authenticated, not encrypted), nor inject
//! state. A datagram older than `MAX_AGE` is dropped, which bounds replays of recorded
//! traffic to that window; gossip is idempotent, so a replay inside it changes nothing.
//!
//! chitchat fills a datagram up to the UDP limit; with the 40 bytes added here such a
//! datagram would not fit, so it is not sent (logged): chitchat sends partial deltas,
//! and the next round carries the rest. That only happens with very large cluster states.

use async_trait::async_trait;
use chitchat::transport::{Socket, Transport};
use chitchat::{ChitchatMessage, Deserializable, Serializable};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// Bytes added to each datagram: the tag and the time it was sent.
pub const OVERHEAD: usize = 32 + 8;
/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;
/// Datagrams older (or further in the future) than this are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// What the transport refused, for `/v1/cluster` and the metrics.
#[derive(Default, Debug)]
pub struct Refused {
    /// Datagrams whose tag did not match (a stranger, or a node with another secret).
    pub bad_tag: AtomicU64,
    /// Datagrams outside the time window (a replay, or a clock far off).
    pub stale: AtomicU64,
    /// Datagrams that authenticated but did not decode.
    pub malformed: AtomicU64,
}

/// UDP gossip authenticated with the cluster secret.
pub struct SecretTransport {
    secret: Arc<Vec<u8>>,
    refused: Arc<Refused>,
}

impl SecretTransport {
    pub fn new(secret: &[u8]) -> SecretTransport {
        SecretTransport {
            secret: Arc::new(secret.to_vec()),
            refused: Arc::default(),
        }
    }

    pub fn refused(&self) -> Arc<Refused> {
        self.refused.clone()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts a key of any length.
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Frame `envelope` for sending.
pub fn seal(secret: &[u8], sent_at: u64, envelope: &[u8]) -> Vec<u8> {
    let mut m = mac(secret);
    m.update(&sent_at.to_le_bytes());
    m.update(envelope);
    let tag = m.finalize().into_bytes();
    let mut out = Vec::with_capacity(OVERHEAD + envelope.len());
    out.extend_from_slice(&tag);
    out.extend_from_slice(&sent_at.to_le_bytes());
    out.extend_from_slice(envelope);
    out
}

/// Why a datagram was dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum Drop {
    BadTag,
    Stale,
}

/// Check a received datagram; the envelope's bytes if it is genuine and fresh.
pub fn open<'a>(secret: &[u8], now: u64, datagram: &'a [u8]) -> Result<&'a [u8], Drop> {
    if datagram.len() < OVERHEAD {
        return Err(Drop::BadTag);
    }
    let (tag, rest) = datagram.split_at(32);
    let mut m = mac(secret);
    m.update(rest);
    // Constant-time comparison.
    m.verify_slice(tag).map_err(|_| Drop::BadTag)?;
    let sent_at = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
    if now.abs_diff(sent_at) > MAX_AGE.as_millis() as u64 {
        return Err(Drop::Stale);
    }
    Ok(&rest[8..])
}

struct SecretSocket {
    socket: tokio::net::UdpSocket,
    secret: Arc<Vec<u8>>,
    refused: Arc<Refused>,
    buf: Box<[u8]>,
}

#[async_trait]
impl Transport for SecretTransport {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let socket = tokio::net::UdpSocket::bind(listen_addr)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot bind the cluster port {listen_addr}/UDP for gossip: {e}")
            })?;
        Ok(Box::new(SecretSocket {
            socket,
            secret: self.secret.clone(),
            refused: self.refused.clone(),
            buf: vec![0u8; MAX_DATAGRAM].into_boxed_slice(),
        }))
    }
}

#[async_trait]
impl Socket for SecretSocket {
    async fn send(&mut self, to: SocketAddr, msg: ChitchatMessage) -> anyhow::Result<()> {
        let body = msg.serialize_to_vec();
        let framed = seal(&self.secret, now_ms(), &body);
        if framed.len() > MAX_DATAGRAM {
            tracing::warn!(
                "gossip datagram of {} bytes does not fit UDP with its tag; not sent",
                framed.len()
            );
            return Ok(());
        }
        if let Err(e) = self.socket.send_to(&framed, to).await {
            // A peer that went away is not a broken transport.
            tracing::debug!("gossip to {to}: {e}");
        }
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<(SocketAddr, ChitchatMessage)> {
        loop {
            let (n, from) = match self.socket.recv_from(&mut self.buf).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!("gossip receive: {e}");
                    continue;
                }
            };
            let body = match open(&self.secret, now_ms(), &self.buf[..n]) {
                Ok(b) => b,
                Err(Drop::BadTag) => {
                    self.refused.bad_tag.fetch_add(1, Relaxed);
                    continue;
                }
                Err(Drop::Stale) => {
                    self.refused.stale.fetch_add(1, Relaxed);
                    continue;
                }
            };
            let mut cursor = body;
            match ChitchatMessage::deserialize(&mut cursor) {
                Ok(msg) => return Ok((from, msg)),
                Err(_) => {
                    self.refused.malformed.fetch_add(1, Relaxed);
                    continue;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_datagram_opens_with_the_secret_only() {
        let d = seal(b"s3cret", 1_000_000, b"hello");
        assert_eq!(open(b"s3cret", 1_000_000, &d), Ok(&b"hello"[..]));
        assert_eq!(open(b"other", 1_000_000, &d), Err(Drop::BadTag));
        let mut flipped = d.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(open(b"s3cret", 1_000_000, &flipped), Err(Drop::BadTag));
        assert_eq!(open(b"s3cret", 1_000_000, &d[..10]), Err(Drop::BadTag));
    }

    #[test]
    fn an_old_datagram_is_dropped() {
        let d = seal(b"k", 1_000_000, b"x");
        let late = 1_000_000 + MAX_AGE.as_millis() as u64 + 1;
        assert_eq!(open(b"k", late, &d), Err(Drop::Stale));
    }
}
