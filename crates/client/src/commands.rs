//! Typed helpers for the common commands, as methods on [`Connection`]. Each encodes one
//! frame and converts the reply to a Rust type; anything else goes through
//! [`Connection::cmd`]. On a binary connection GET, SET (with or without a TTL) and DEL use
//! the protocol's own opcodes; everything else travels in its COMMAND opcode.
//!
//! Keys, values, fields and members are anything `AsRef<[u8]>` (`&str`, `String`, `&[u8]`,
//! `Vec<u8>`); replies are owned byte vectors, since values need not be UTF-8.

use crate::codec;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::value::{conv, Value};

/// Build a request from a command name and its parts.
fn frame(proto: crate::Proto, args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 8).sum::<usize>());
    codec::encode_command(proto, args, &mut out);
    out
}

fn score_arg(score: f64) -> Result<String> {
    if score.is_nan() {
        return Err(Error::Protocol("a score must be a number, not NaN".into()));
    }
    Ok(score.to_string())
}

impl Connection {
    async fn run(&self, args: &[&[u8]]) -> Result<Value> {
        self.request(frame(self.proto(), args)).await
    }

    /// Run a command whose arguments are a fixed head followed by many items.
    /// `<cmd> key start stop [extra…]`: the index-range reads (LRANGE, ZRANGE).
    async fn range(
        &self,
        cmd: &[u8],
        key: &[u8],
        start: i64,
        stop: i64,
        extra: &[&[u8]],
    ) -> Result<Value> {
        let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
        let mut args: Vec<&[u8]> = vec![
            cmd,
            key,
            a.format(start).as_bytes(),
            b.format(stop).as_bytes(),
        ];
        args.extend_from_slice(extra);
        self.run(&args).await
    }

    async fn run_list<K: AsRef<[u8]>>(
        &self,
        head: &[&[u8]],
        items: impl IntoIterator<Item = K>,
    ) -> Result<Value> {
        let items: Vec<K> = items.into_iter().collect();
        let mut args: Vec<&[u8]> = Vec::with_capacity(head.len() + items.len());
        args.extend_from_slice(head);
        args.extend(items.iter().map(|k| k.as_ref()));
        self.run(&args).await
    }

    /// `PING` → `()` once the server answers PONG.
    pub async fn ping(&self) -> Result<()> {
        match self.run(&[b"PING"]).await? {
            v if v.as_bytes() == Some(b"PONG") => Ok(()),
            v => Err(crate::value::unexpected("PING", &v)),
        }
    }

    /// `GET key` → the value, or `None` when the key does not exist.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(key.as_ref().len() + 24);
        codec::encode_get(self.proto(), key.as_ref(), &mut out);
        conv::opt_bytes("GET", self.request(out).await?)
    }

    /// `SET key value`.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.set_with_ttl(key.as_ref(), value.as_ref(), None).await
    }

    /// `SET key value EX seconds`.
    pub async fn set_ex(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        seconds: u64,
    ) -> Result<()> {
        let ms = seconds
            .checked_mul(1000)
            .ok_or_else(|| Error::Protocol("invalid expire time in 'set' command".into()))?;
        self.set_with_ttl(key.as_ref(), value.as_ref(), Some(ms))
            .await
    }

    /// `SET key value PX milliseconds`.
    pub async fn set_px(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        milliseconds: u64,
    ) -> Result<()> {
        self.set_with_ttl(key.as_ref(), value.as_ref(), Some(milliseconds))
            .await
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl_ms: Option<u64>) -> Result<()> {
        let reply = if ttl_ms == Some(0) {
            // The binary SET reads a zero TTL as "none"; send the RESP spelling so every
            // transport answers Redis's "invalid expire time" error.
            self.run(&[b"SET", key, value, b"PX", b"0"]).await?
        } else {
            let mut out = Vec::with_capacity(key.len() + value.len() + 48);
            codec::encode_set(self.proto(), key, value, ttl_ms, &mut out);
            self.request(out).await?
        };
        conv::ok("SET", reply)
    }

    /// `SET key value NX` → true when the key was set (it did not exist).
    pub async fn set_nx(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        let v = self
            .run(&[b"SET", key.as_ref(), value.as_ref(), b"NX"])
            .await?;
        conv::boolean("SET NX", v)
    }

    /// `DEL key…` → how many keys were removed.
    pub async fn del<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<i64> {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut out = Vec::new();
        codec::encode_del(self.proto(), &keys, &mut out);
        conv::int("DEL", self.request(out).await?)
    }

    /// `EXISTS key…` → how many of the keys exist.
    pub async fn exists<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<i64> {
        conv::int("EXISTS", self.run_list(&[b"EXISTS"], keys).await?)
    }

    /// `INCR key` → the new value.
    pub async fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        conv::int("INCR", self.run(&[b"INCR", key.as_ref()]).await?)
    }

    /// `INCRBY key delta` → the new value.
    pub async fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let mut b = itoa::Buffer::new();
        let d = b.format(delta).as_bytes();
        conv::int("INCRBY", self.run(&[b"INCRBY", key.as_ref(), d]).await?)
    }

    /// `DECRBY key delta` → the new value.
    pub async fn decr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let mut b = itoa::Buffer::new();
        let d = b.format(delta).as_bytes();
        conv::int("DECRBY", self.run(&[b"DECRBY", key.as_ref(), d]).await?)
    }

    /// `EXPIRE key seconds` → true when the timeout was set (the key exists).
    pub async fn expire(&self, key: impl AsRef<[u8]>, seconds: i64) -> Result<bool> {
        let mut b = itoa::Buffer::new();
        let s = b.format(seconds).as_bytes();
        conv::boolean("EXPIRE", self.run(&[b"EXPIRE", key.as_ref(), s]).await?)
    }

    /// `PEXPIRE key milliseconds` → true when the timeout was set.
    pub async fn pexpire(&self, key: impl AsRef<[u8]>, milliseconds: i64) -> Result<bool> {
        let mut b = itoa::Buffer::new();
        let s = b.format(milliseconds).as_bytes();
        conv::boolean("PEXPIRE", self.run(&[b"PEXPIRE", key.as_ref(), s]).await?)
    }

    /// `TTL key` → seconds left; -1 without a timeout, -2 when the key does not exist
    /// (Redis's conventions).
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        conv::int("TTL", self.run(&[b"TTL", key.as_ref()]).await?)
    }

    /// `PTTL key` → milliseconds left (-1, -2 as [`ttl`](Connection::ttl)).
    pub async fn pttl(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        conv::int("PTTL", self.run(&[b"PTTL", key.as_ref()]).await?)
    }

    /// `MGET key…` → one entry per key, `None` where it does not exist.
    pub async fn mget<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        conv::opt_bytes_list("MGET", self.run_list(&[b"MGET"], keys).await?)
    }

    /// `MSET key value …`.
    pub async fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let pairs: Vec<(K, V)> = pairs.into_iter().collect();
        let mut args: Vec<&[u8]> = Vec::with_capacity(1 + 2 * pairs.len());
        args.push(b"MSET");
        for (k, v) in &pairs {
            args.push(k.as_ref());
            args.push(v.as_ref());
        }
        conv::ok("MSET", self.run(&args).await?)
    }

    /// `HSET key field value` → 1 when the field is new, 0 when it was updated.
    pub async fn hset(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        let v = self
            .run(&[b"HSET", key.as_ref(), field.as_ref(), value.as_ref()])
            .await?;
        conv::int("HSET", v)
    }

    /// `HSET key field value …` with many pairs → how many fields were new.
    pub async fn hset_many<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: impl IntoIterator<Item = (F, V)>,
    ) -> Result<i64> {
        let pairs: Vec<(F, V)> = pairs.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"HSET", key.as_ref()];
        for (f, v) in &pairs {
            args.push(f.as_ref());
            args.push(v.as_ref());
        }
        conv::int("HSET", self.run(&args).await?)
    }

    /// `HGET key field` → the value, or `None`.
    pub async fn hget(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        conv::opt_bytes(
            "HGET",
            self.run(&[b"HGET", key.as_ref(), field.as_ref()]).await?,
        )
    }

    /// `HGETALL key` → (field, value) pairs, in the server's order (a RESP3 map, or RESP2's
    /// flat array, both come back the same).
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<crate::BytesPair>> {
        conv::pairs("HGETALL", self.run(&[b"HGETALL", key.as_ref()]).await?)
    }

    /// `LPUSH key value…` → the list's new length.
    pub async fn lpush<V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        values: impl IntoIterator<Item = V>,
    ) -> Result<i64> {
        conv::int(
            "LPUSH",
            self.run_list(&[b"LPUSH", key.as_ref()], values).await?,
        )
    }

    /// `RPUSH key value…` → the list's new length.
    pub async fn rpush<V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        values: impl IntoIterator<Item = V>,
    ) -> Result<i64> {
        conv::int(
            "RPUSH",
            self.run_list(&[b"RPUSH", key.as_ref()], values).await?,
        )
    }

    /// `LRANGE key start stop` (inclusive, negative counts from the end).
    pub async fn lrange(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let v = self
            .range(b"LRANGE", key.as_ref(), start, stop, &[])
            .await?;
        conv::bytes_list("LRANGE", v)
    }

    /// `SADD key member…` → how many members were new.
    pub async fn sadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: impl IntoIterator<Item = M>,
    ) -> Result<i64> {
        conv::int(
            "SADD",
            self.run_list(&[b"SADD", key.as_ref()], members).await?,
        )
    }

    /// `SMEMBERS key` (in no particular order).
    pub async fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
        conv::bytes_list("SMEMBERS", self.run(&[b"SMEMBERS", key.as_ref()]).await?)
    }

    /// `ZADD key score member` → 1 when the member is new.
    pub async fn zadd(
        &self,
        key: impl AsRef<[u8]>,
        score: f64,
        member: impl AsRef<[u8]>,
    ) -> Result<i64> {
        self.zadd_many(key, [(score, member)]).await
    }

    /// `ZADD key score member …` → how many members were new.
    pub async fn zadd_many<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: impl IntoIterator<Item = (f64, M)>,
    ) -> Result<i64> {
        let members: Vec<(String, M)> = members
            .into_iter()
            .map(|(s, m)| Ok((score_arg(s)?, m)))
            .collect::<Result<_>>()?;
        let mut args: Vec<&[u8]> = vec![b"ZADD", key.as_ref()];
        for (s, m) in &members {
            args.push(s.as_bytes());
            args.push(m.as_ref());
        }
        conv::int("ZADD", self.run(&args).await?)
    }

    /// `ZRANGE key start stop` → members by rank.
    pub async fn zrange(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let v = self
            .range(b"ZRANGE", key.as_ref(), start, stop, &[])
            .await?;
        conv::bytes_list("ZRANGE", v)
    }

    /// `ZRANGE key start stop WITHSCORES` → (member, score) by rank. RESP2's flat array and
    /// RESP3's array of pairs come back the same.
    pub async fn zrange_withscores(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let v = self
            .range(b"ZRANGE", key.as_ref(), start, stop, &[b"WITHSCORES"])
            .await?;
        let items = conv::items("ZRANGE", v)?;
        let nested = items.iter().all(|i| matches!(i, Value::Array(_)));
        let flat: Vec<Value> = if nested && !items.is_empty() {
            items
                .into_iter()
                .flat_map(|i| i.into_items().unwrap_or_default())
                .collect()
        } else {
            items
        };
        let pairs = Value::Array(flat)
            .into_pairs()
            .ok_or_else(|| Error::Protocol("unexpected reply to ZRANGE WITHSCORES".into()))?;
        pairs
            .into_iter()
            .map(|(m, s)| match (s.as_f64(), m.into_bytes()) {
                (Some(s), Some(m)) => Ok((m, s)),
                _ => Err(Error::Protocol(
                    "unexpected reply to ZRANGE WITHSCORES".into(),
                )),
            })
            .collect()
    }

    /// `FLUSHDB`: remove every key of the selected database.
    pub async fn flushdb(&self) -> Result<()> {
        conv::ok("FLUSHDB", self.run(&[b"FLUSHDB"]).await?)
    }

    /// The binary STATUS opcode → the server's figures as a map (name → INT or DOUBLE).
    /// RESP has no such request: use `cmd(["INFO"])` there.
    pub async fn status(&self) -> Result<Value> {
        if self.proto() != crate::Proto::Binary {
            return Err(Error::Unsupported(
                "STATUS is a binary-protocol request; over RESP use INFO".into(),
            ));
        }
        let mut out = Vec::with_capacity(8);
        codec::encode_binary_op(protocol::binary::op::STATUS, &[], &mut out);
        self.request(out).await
    }
}
