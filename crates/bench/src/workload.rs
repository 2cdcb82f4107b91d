//! What a run does: the target, protocol, operation, key distribution, sizes, concurrency
//! and stop condition. Plain data, validated once (`Workload::validate`) so the engine's
//! hot loop never checks arguments.

use std::time::Duration;

/// The wire protocol spoken to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// RESP2 (Redis, rcache's main door).
    Resp,
    /// RESP3: `HELLO 3` first.
    Resp3,
    /// rcache's binary protocol (docs/PROTOCOL.md).
    Binary,
    /// HTTP/1.1 keep-alive on `/v1/keys/{key}` (docs/HTTP.md): GET and PUT.
    Http,
    /// memcached's text protocol: `get` and `set`.
    Memcache,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Resp => "resp",
            Proto::Resp3 => "resp3",
            Proto::Binary => "binary",
            Proto::Http => "http",
            Proto::Memcache => "memcache",
        }
    }
}

/// The operation each request performs.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Set,
    Get,
    /// GETs and SETs at random, `get`:`set` on average.
    Mixed {
        get: u32,
        set: u32,
    },
    Incr,
    Lpush,
    Hset,
    Zadd,
    /// A command template: each argument is literal text where `__key__` and `__data__`
    /// are replaced by the request's key and value.
    Template(Vec<String>),
}

impl Op {
    pub fn name(&self) -> String {
        match self {
            Op::Set => "set".into(),
            Op::Get => "get".into(),
            Op::Mixed { get, set } => format!("mixed {get}:{set}"),
            Op::Incr => "incr".into(),
            Op::Lpush => "lpush".into(),
            Op::Hset => "hset".into(),
            Op::Zadd => "zadd".into(),
            Op::Template(t) => t.join(" "),
        }
    }
}

/// How keys are chosen from `0..keyspace`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Each connection walks the keyspace in order (connection `c` of `C`: `c, c+C, …`), so
    /// `C` connections together cover it once per `keyspace` requests.
    Sequential,
    Uniform,
    /// Zipf with this exponent: key 0 is the most frequent.
    Zipf(f64),
    /// Normal around the middle of the keyspace, standard deviation keyspace/6 (99.7% of
    /// draws inside it; the rest clamped to the ends).
    Gaussian,
}

impl Dist {
    pub fn name(&self) -> String {
        match self {
            Dist::Sequential => "sequential".into(),
            Dist::Uniform => "uniform".into(),
            Dist::Zipf(s) => format!("zipf {s}"),
            Dist::Gaussian => "gaussian".into(),
        }
    }
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many requests (warm-up requests not included).
    Requests(u64),
    /// After this long: no request is sent after it, the ones in flight are waited for.
    Duration(Duration),
}

/// A named server address: `name=host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: String,
}

impl std::str::FromStr for Target {
    type Err = String;
    /// `name=host:port`, or `host:port` (named after itself).
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, addr) = match s.split_once('=') {
            Some((n, a)) => (n.to_string(), a.to_string()),
            None => (s.to_string(), s.to_string()),
        };
        let bad = || format!("'{s}' is not name=host:port");
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        if name.is_empty() || host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(Target { name, addr })
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct Workload {
    pub proto: Proto,
    pub op: Op,
    pub dist: Dist,
    pub keyspace: u64,
    /// Value sizes are drawn uniformly from `data_min..=data_max` (equal: fixed size).
    pub data_min: usize,
    pub data_max: usize,
    pub key_prefix: String,
    pub connections: usize,
    pub pipeline: usize,
    pub threads: usize,
    pub stop: Stop,
    pub warmup: Duration,
    /// Open loop: this many requests per second in total, latency measured from each
    /// request's intended send time. `None`: closed loop.
    pub rate: Option<f64>,
    /// A connection with requests in flight that receives nothing for this long is counted
    /// as timed out and closed.
    pub timeout: Duration,
    pub password: Option<String>,
    pub seed: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            proto: Proto::Resp,
            op: Op::Set,
            dist: Dist::Uniform,
            keyspace: 100_000,
            data_min: 100,
            data_max: 100,
            key_prefix: "key:".into(),
            connections: 50,
            pipeline: 1,
            threads: 2,
            stop: Stop::Requests(100_000),
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(10),
            password: None,
            seed: 1,
        }
    }
}

impl Workload {
    /// Reject combinations the engine cannot run, in words for a usage error.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 || self.pipeline == 0 || self.threads == 0 || self.keyspace == 0 {
            return Err("connections, pipeline, threads and keyspace must be at least 1".into());
        }
        if self.data_min > self.data_max {
            return Err(format!(
                "data size range {}-{} is empty",
                self.data_min, self.data_max
            ));
        }
        if let Op::Mixed { get, set } = self.op {
            if get + set == 0 {
                return Err("the get:set ratio needs at least one non-zero side".into());
            }
        }
        if let Dist::Zipf(s) = self.dist {
            if !(s > 0.0 && s.is_finite()) {
                return Err(format!("zipf exponent {s} must be a positive number"));
            }
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err(format!("rate {r} must be a positive number"));
            }
        }
        if let Stop::Requests(0) = self.stop {
            return Err("the request count must be at least 1".into());
        }
        if let Stop::Duration(d) = self.stop {
            if d.is_zero() {
                return Err("the duration must be positive".into());
            }
        }
        if let Op::Template(t) = &self.op {
            if t.is_empty() {
                return Err("the command template is empty".into());
            }
        }
        let supported = match self.proto {
            Proto::Resp | Proto::Resp3 | Proto::Binary => true,
            Proto::Http | Proto::Memcache => {
                matches!(self.op, Op::Get | Op::Set | Op::Mixed { .. })
            }
        };
        if !supported {
            return Err(format!(
                "--proto {} supports only the get, set and mixed operations, not {}",
                self.proto.name(),
                self.op.name()
            ));
        }
        if self.password.is_some() && self.proto == Proto::Memcache {
            return Err("--password is not supported with --proto memcache".into());
        }
        Ok(())
    }

    /// The workload that `--populate` runs first: SET every key of the keyspace once, in
    /// order, with the run's value sizes, deeply pipelined.
    pub fn populate(&self) -> Workload {
        Workload {
            op: Op::Set,
            dist: Dist::Sequential,
            connections: self.connections.min(16),
            pipeline: self.pipeline.max(32),
            threads: self.threads.min(self.connections.min(16)),
            stop: Stop::Requests(self.keyspace),
            warmup: Duration::ZERO,
            rate: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t: Target = "a=127.0.0.1:6379".parse().unwrap();
        assert_eq!((t.name.as_str(), t.addr.as_str()), ("a", "127.0.0.1:6379"));
        let t: Target = "localhost:1".parse().unwrap();
        assert_eq!(t.name, "localhost:1");
        assert!("a=b".parse::<Target>().is_err());
        assert!("=h:1".parse::<Target>().is_err());
        assert!("a=h:x".parse::<Target>().is_err());
    }

    #[test]
    fn validation_refuses_what_a_door_cannot_do() {
        let w = Workload {
            proto: Proto::Http,
            op: Op::Incr,
            ..Workload::default()
        };
        assert!(w.validate().unwrap_err().contains("http"));
        let w = Workload {
            connections: 0,
            ..Workload::default()
        };
        assert!(w.validate().is_err());
        assert!(Workload::default().validate().is_ok());
    }
}
