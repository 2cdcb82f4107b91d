//! Server placement: twemproxy's `ketama`, `modula` and `random`
//! distributions.
//!
//! A [`Continuum`] is built from a pool's servers in config order and answers
//! "which server owns this key hash". It is rebuilt from scratch whenever
//! the set of live servers changes (ejection, retry, reload), exactly like
//! nutcracker's `*_update()` functions, so the same servers, weights and
//! liveness always give the same placement as nutcracker:
//!
//! * **ketama**: each live server gets `floor(w / W * 40 * n) * 4` points
//!   (`w` its weight, `W` the live total, `n` the number of live servers,
//!   computed in single precision as twemproxy does), four per MD5 digest of
//!   `"<name>-<i>"`. A key hash goes to the first point at or after it,
//!   wrapping around. The point hash is always MD5, whatever the pool's
//!   `hash:` is.
//! * **modula**: the live servers, each repeated `weight` times in
//!   twemproxy's server order (sorted by name length, then name bytes, not
//!   config order); a key hash `h` goes to slot `h % total_weight`.
//! * **random**: any live server, uniformly (weights are ignored).
//!
//! Dead servers are left out before building, so their keys move elsewhere
//! and come back when they do.

use std::cell::RefCell;

use md5::{Digest, Md5};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::hashkit::HashKind;

/// A pool's `distribution:` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistKind {
    Ketama,
    Modula,
    Random,
}

impl DistKind {
    /// Parses twemproxy's config name: "ketama", "modula" or "random".
    pub fn from_name(name: &str) -> Option<DistKind> {
        match name {
            "ketama" => Some(DistKind::Ketama),
            "modula" => Some(DistKind::Modula),
            "random" => Some(DistKind::Random),
            _ => None,
        }
    }

    /// twemproxy's config name for this distribution.
    pub fn name(self) -> &'static str {
        match self {
            DistKind::Ketama => "ketama",
            DistKind::Modula => "modula",
            DistKind::Random => "random",
        }
    }
}

/// One server as placement sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// The server's name as twemproxy knows it: the config line's name if it
    /// has one, otherwise [`default_name`] / [`default_unix_name`]. Ketama
    /// hashes it, and every distribution orders servers by it (which is
    /// what modula's slot layout follows), so it matters for all of them.
    pub name: &'a [u8],
    /// The config weight; twemproxy requires it to be at least 1.
    pub weight: u32,
    /// False while the server is ejected. With `auto_eject_hosts: false`
    /// every server counts as live.
    pub live: bool,
}

/// A built continuum; immutable and cheap to share.
#[derive(Clone, Debug)]
pub struct Continuum {
    kind: DistKind,
    nlive: usize,
    table: Table,
}

#[derive(Clone, Debug)]
enum Table {
    /// Points sorted by value; `servers[i]` owns `values[i]`. Kept as two
    /// arrays so the binary search only touches the values.
    Ketama { values: Vec<u32>, servers: Vec<u32> },
    /// Instead of materialising `weight` slots per server (which a large
    /// weight would blow up), keep each live server's exclusive end offset in
    /// the weight-expanded slot array; slot lookup is then a binary search.
    Modula { ends: Vec<u64>, servers: Vec<u32> },
    /// The live servers, one entry each.
    Random { servers: Vec<u32> },
}

/// Ketama points per server at equal weights; they come four per digest.
const KETAMA_POINTS_PER_SERVER: f32 = 160.0;
const KETAMA_POINTS_PER_HASH: u32 = 4;
/// twemproxy formats "<name>-<i>" into a 273-byte buffer, so the hashed
/// string is cut at 272 bytes (only matters for absurdly long names).
const KETAMA_MAX_HOSTLEN: usize = 272;

impl Continuum {
    /// Builds the placement for `members`, given in config order. Indices
    /// returned by [`pick`](Self::pick) refer to this slice.
    ///
    /// nutcracker does not keep config order: while validating the config
    /// it sorts each pool's servers by name (shorter names first, then
    /// bytewise) and builds every distribution over that sorted array. Only
    /// modula's slot layout (and ketama's order among equal points) can
    /// tell, but it does change which server a modula key lands on, so the
    /// same sort is applied here.
    pub fn build(kind: DistKind, members: &[Member]) -> Continuum {
        let mut live: Vec<(u32, &Member)> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.live)
            .map(|(i, m)| (i as u32, m))
            .collect();
        // Stable, so duplicate names (which twemproxy rejects) keep config
        // order rather than panicking or reordering arbitrarily.
        live.sort_by(|(_, a), (_, b)| twemproxy_name_order(a.name, b.name));
        let nlive = live.len();

        let table = match kind {
            DistKind::Ketama => ketama_table(&live),
            DistKind::Modula => {
                let mut ends = Vec::with_capacity(nlive);
                let mut servers = Vec::with_capacity(nlive);
                let mut end = 0u64;
                for &(i, m) in live.iter().filter(|(_, m)| m.weight > 0) {
                    end += u64::from(m.weight);
                    ends.push(end);
                    servers.push(i);
                }
                Table::Modula { ends, servers }
            }
            DistKind::Random => Table::Random {
                servers: live.iter().map(|&(i, _)| i).collect(),
            },
        };
        Continuum { kind, nlive, table }
    }

    /// Index (into the `members` slice given to [`build`](Self::build)) of
    /// the server for a key hash; `None` if no live server can take it.
    /// For random, any live server (the hash is ignored).
    pub fn pick(&self, hash: u32) -> Option<usize> {
        let server = match &self.table {
            Table::Ketama { values, servers } => {
                if values.is_empty() {
                    return None;
                }
                // First point at or after the hash, wrapping to the start.
                let at = values.partition_point(|&v| v < hash);
                servers[if at == values.len() { 0 } else { at }]
            }
            Table::Modula { ends, servers } => {
                let total = *ends.last()?;
                let slot = u64::from(hash) % total;
                servers[ends.partition_point(|&end| end <= slot)]
            }
            Table::Random { servers } => {
                if servers.is_empty() {
                    return None;
                }
                servers[random_below(servers.len())]
            }
        };
        Some(server as usize)
    }

    /// The server for `key` the way nutcracker's `server_pool_idx()` does it
    /// after hash-tag extraction: an empty key is never hashed but placed as
    /// hash 0, and random ignores the key.
    pub fn pick_key(&self, hash: HashKind, key: &[u8]) -> Option<usize> {
        let h = if key.is_empty() || self.kind == DistKind::Random {
            0
        } else {
            hash.hash(key)
        };
        self.pick(h)
    }

    /// The distribution this continuum was built for.
    pub fn kind(&self) -> DistKind {
        self.kind
    }

    /// How many members were live when it was built.
    pub fn live_count(&self) -> usize {
        self.nlive
    }
}

/// twemproxy's `string_compare`: a shorter string sorts first, equal
/// lengths compare bytewise.
fn twemproxy_name_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Builds ketama's sorted point table over the live `(index, member)` pairs,
/// given in twemproxy's server order.
fn ketama_table(live: &[(u32, &Member)]) -> Table {
    let nlive = live.len();
    // twemproxy sums weights in 32 bits; 64 keeps huge weights from wrapping
    // (identical for any total that fits in 32 bits).
    let total_weight: u64 = live.iter().map(|(_, m)| u64::from(m.weight)).sum();
    let mut points: Vec<(u32, u32)> = Vec::with_capacity(nlive * 160);
    let mut host = Vec::with_capacity(64);

    for &(index, member) in live {
        // The arithmetic is deliberately single precision, step by step, as
        // in nc_ketama.c; doing it in f64 rounds differently for some weight
        // mixes and changes the point count. The 1e-10 is added in double
        // precision there too (and is nearly always lost on the way back).
        let pct = member.weight as f32 / total_weight as f32;
        let scaled = pct * KETAMA_POINTS_PER_SERVER / 4.0 * nlive as f32;
        let scaled = (f64::from(scaled) + 0.000_000_000_1) as f32;
        let point_count = (scaled.floor() * 4.0) as u32;

        // snprintf("%.*s") stops at a NUL inside the name.
        let name = member.name.split(|&b| b == 0).next().unwrap_or(member.name);
        for digest_index in 0..point_count / KETAMA_POINTS_PER_HASH {
            host.clear();
            host.extend_from_slice(name);
            host.push(b'-');
            host.extend_from_slice(itoa::Buffer::new().format(digest_index).as_bytes());
            host.truncate(KETAMA_MAX_HOSTLEN);
            let digest = Md5::digest(&host);
            for word in digest.chunks_exact(4) {
                let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                points.push((value, index));
            }
        }
    }

    // Stable sort: equal values (vanishingly rare) keep insertion order,
    // which is what glibc's merge-sort qsort gives nutcracker.
    points.sort_by_key(|&(value, _)| value);
    let (values, servers) = points.into_iter().unzip();
    Table::Ketama { values, servers }
}

/// A uniform index below `n` (n > 0) from a per-thread generator.
fn random_below(n: usize) -> usize {
    thread_local! {
        static RNG: RefCell<SmallRng> = RefCell::new(
            SmallRng::try_from_os_rng().unwrap_or_else(|_| SmallRng::seed_from_u64(fallback_seed())),
        );
    }
    RNG.with(|rng| rng.borrow_mut().random_range(0..n))
}

/// Seed used only if the OS random source is unavailable.
fn fallback_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    nanos ^ (&local as *const u8 as u64)
}

/// twemproxy's placement name for a `host:port:weight` line without an
/// explicit name: `"host:port"`, or just `"host"` when the port is 11211
/// (libmemcached compatibility).
///
/// twemproxy uses the host and port text exactly as written in the config
/// (no resolution, no normalisation), so pass them unchanged: a port written
/// as `06379` hashes as `06379`.
pub fn default_name(host: &str, port: u16) -> String {
    if port == 11211 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// twemproxy's placement name for a unix socket line (`/path:weight`)
/// without an explicit name: the path followed by a colon, because the
/// config parser adds the separator even though there is no port.
pub fn default_unix_name(path: &str) -> String {
    format!("{path}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members<'a>(names: &'a [&'a str], weights: &[u32]) -> Vec<Member<'a>> {
        names
            .iter()
            .zip(weights)
            .map(|(n, &w)| Member {
                name: n.as_bytes(),
                weight: w,
                live: true,
            })
            .collect()
    }

    fn ketama_counts(c: &Continuum, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        if let Table::Ketama { servers, .. } = &c.table {
            for &s in servers {
                counts[s as usize] += 1;
            }
        }
        counts
    }

    #[test]
    fn names_round_trip() {
        for kind in [DistKind::Ketama, DistKind::Modula, DistKind::Random] {
            assert_eq!(DistKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(DistKind::from_name("Ketama"), None);
        assert_eq!(DistKind::from_name("vnode"), None);
    }

    #[test]
    fn default_names() {
        assert_eq!(default_name("127.0.0.1", 6379), "127.0.0.1:6379");
        assert_eq!(default_name("cache-1.local", 11211), "cache-1.local");
        assert_eq!(default_name("10.0.0.1", 11212), "10.0.0.1:11212");
        assert_eq!(default_unix_name("/tmp/redis.sock"), "/tmp/redis.sock:");
    }

    #[test]
    fn ketama_point_counts_match_twemproxy() {
        // Expected counts from nc_ketama.c's pointer_per_server expression
        // compiled with gcc on x86-64 (single-precision float arithmetic).
        let cases: &[(&[u32], &[usize])] = &[
            (&[1, 2, 3], &[80, 160, 240]),
            (&[1, 1, 1], &[160, 160, 160]),
            (&[3, 5, 7, 11], &[72, 120, 172, 268]),
            (&[100, 1], &[316, 0]),
            (&[2, 3], &[128, 192]),
            (&[1, 2], &[104, 212]),
            (&[1, 10, 100, 1000], &[0, 4, 56, 576]),
            (&[7; 6], &[160; 6]),
            (&[1; 13], &[160; 13]),
        ];
        let names: Vec<String> = (0..13).map(|i| format!("server{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for &(weights, want) in cases {
            let ms = members(&names[..weights.len()], weights);
            let c = Continuum::build(DistKind::Ketama, &ms);
            assert_eq!(ketama_counts(&c, weights.len()), want, "{weights:?}");
        }
    }

    #[test]
    fn ketama_points_are_md5_of_name_dash_index() {
        let ms = members(&["alpha"], &[1]);
        let c = Continuum::build(DistKind::Ketama, &ms);
        let Table::Ketama { values, .. } = &c.table else {
            panic!("not ketama");
        };
        assert_eq!(values.len(), 160);
        let d = Md5::digest(b"alpha-0");
        for w in d.chunks_exact(4) {
            let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            assert!(values.binary_search(&v).is_ok());
        }
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn ketama_wraps_and_hits_exact_points() {
        let ms = members(&["a:1", "b:2", "c:3"], &[1, 1, 1]);
        let c = Continuum::build(DistKind::Ketama, &ms);
        let Table::Ketama { values, servers } = &c.table else {
            panic!("not ketama");
        };
        let last = *values.last().unwrap();
        // Past the last point wraps to the first one.
        if last < u32::MAX {
            assert_eq!(c.pick(last + 1), Some(servers[0] as usize));
        }
        assert_eq!(c.pick(0), Some(servers[0] as usize));
        // A hash equal to a point belongs to that point.
        for i in [0, 17, values.len() - 1] {
            assert_eq!(c.pick(values[i]), Some(servers[i] as usize));
        }
    }

    /// Placements observed through the real nutcracker 0.5.0 (Debian build)
    /// in front of three or four redis-servers: keys were SET through each
    /// pool and located by SCANning the backends. A hand-run check did the
    /// same for 2,000 keys per pool across all twelve hashes; these few per
    /// pool stay as a regression guard.
    #[test]
    fn placements_match_real_nutcracker() {
        struct Case {
            hash: HashKind,
            dist: DistKind,
            servers: &'static [(&'static str, u32, bool)],
            keys: &'static [(&'static [u8], usize)],
        }
        const TCP_123: &[(&str, u32, bool)] = &[
            ("127.0.0.1:27001", 1, true),
            ("127.0.0.1:27002", 2, true),
            ("127.0.0.1:27003", 3, true),
        ];
        // Config order; nutcracker reorders these to beta, alpha, gamma,
        // which is what modula's slot layout follows.
        const NAMED_123: &[(&str, u32, bool)] =
            &[("alpha", 1, true), ("beta", 2, true), ("gamma", 3, true)];
        let cases = [
            Case {
                hash: HashKind::Md5,
                dist: DistKind::Ketama,
                servers: TCP_123,
                keys: &[
                    (b"p1:k0", 2),
                    (b"p1:user:59894:profile:2", 0),
                    (b"p1:object-3-3058289587925868472", 1),
                    (b"p1:k4", 1),
                    (b"p1:user:2547:profile:6", 0),
                    (b"p1:object-7-13556486299753642562", 2),
                ],
            },
            Case {
                hash: HashKind::Jenkins,
                dist: DistKind::Ketama,
                servers: TCP_123,
                // Empty keys are placed as hash 0, not jenkins("").
                keys: &[(b"", 2)],
            },
            Case {
                hash: HashKind::Murmur,
                dist: DistKind::Ketama,
                servers: &[("alpha", 3, true), ("beta", 1, true), ("gamma", 2, true)],
                keys: &[
                    (b"p22:k0", 0),
                    (b"p22:user:71200:profile:2", 2),
                    (b"p22:object-3-15361544788474494082", 0),
                    (b"p22:k4", 0),
                    (b"p22:user:40807:profile:6", 1),
                    (b"p22:object-7-5412900789437403674", 0),
                ],
            },
            Case {
                hash: HashKind::Md5,
                dist: DistKind::Modula,
                servers: NAMED_123,
                keys: &[
                    (b"p25:k0", 0),
                    (b"p25:user:84518:profile:2", 2),
                    (b"p25:object-3-8361399465295333174", 1),
                    (b"p25:k4", 1),
                    (b"p25:user:94673:profile:6", 2),
                    (b"p25:object-7-6030936260635867144", 2),
                ],
            },
            Case {
                hash: HashKind::Murmur,
                dist: DistKind::Modula,
                servers: NAMED_123,
                keys: &[
                    (b"p34:k0", 1),
                    (b"p34:user:97537:profile:2", 2),
                    (b"p34:object-3-5644387948391932219", 1),
                    (b"p34:k4", 0),
                    (b"p34:user:35412:profile:6", 2),
                ],
            },
            Case {
                // The 11211 server's name is just its host.
                hash: HashKind::Md5,
                dist: DistKind::Ketama,
                servers: &[
                    ("127.0.0.1:27001", 1, true),
                    ("127.0.0.1:27002", 1, true),
                    ("127.0.0.1", 2, true),
                ],
                keys: &[
                    (b"p48:k0", 0),
                    (b"p48:user:21280:profile:2", 0),
                    (b"p48:object-3-7664242153098434321", 2),
                    (b"p48:k4", 0),
                    (b"p48:user:49925:profile:6", 2),
                    (b"p48:object-7-14104347664939849207", 0),
                ],
            },
            Case {
                // Unnamed unix sockets are named "<path>:".
                hash: HashKind::Fnv1a_64,
                dist: DistKind::Ketama,
                servers: &[
                    ("/tmp/nv/27001.sock:", 1, true),
                    ("/tmp/nv/27002.sock:", 2, true),
                    ("/tmp/nv/27003.sock:", 1, true),
                ],
                keys: &[
                    (b"p49:k0", 2),
                    (b"p49:user:11174:profile:2", 0),
                    (b"p49:object-3-2198469874876287484", 1),
                    (b"p49:k4", 2),
                    (b"p49:user:98001:profile:6", 0),
                    (b"p49:object-7-12600594855724431454", 2),
                ],
            },
            Case {
                // s4 ejected (auto_eject_hosts, backend down).
                hash: HashKind::Md5,
                dist: DistKind::Ketama,
                servers: &[
                    ("s1", 1, true),
                    ("s2", 2, true),
                    ("s3", 1, true),
                    ("s4", 2, false),
                ],
                keys: &[
                    (b"p52:k0", 0),
                    (b"p52:user:33090:profile:2", 0),
                    (b"p52:object-3-11821511595362167491", 1),
                    (b"p52:k4", 1),
                    (b"p52:user:78110:profile:6", 2),
                ],
            },
            Case {
                hash: HashKind::Murmur,
                dist: DistKind::Modula,
                servers: &[
                    ("127.0.0.1:27001", 1, true),
                    ("127.0.0.1:27002", 2, true),
                    ("127.0.0.1:27003", 1, true),
                    ("127.0.0.1:27004", 2, false),
                ],
                keys: &[
                    (b"p53:k0", 0),
                    (b"p53:user:31220:profile:2", 1),
                    (b"p53:object-3-14199889703046874078", 1),
                    (b"p53:k4", 1),
                    (b"p53:user:41473:profile:6", 0),
                    (b"p53:object-7-14654233874218846824", 2),
                ],
            },
        ];
        for case in cases {
            let ms: Vec<Member> = case
                .servers
                .iter()
                .map(|&(name, weight, live)| Member {
                    name: name.as_bytes(),
                    weight,
                    live,
                })
                .collect();
            let c = Continuum::build(case.dist, &ms);
            for &(key, want) in case.keys {
                assert_eq!(
                    c.pick_key(case.hash, key),
                    Some(want),
                    "{}/{} key {:?}",
                    case.hash.name(),
                    case.dist.name(),
                    String::from_utf8_lossy(key)
                );
            }
        }
    }

    #[test]
    fn modula_follows_twemproxy_name_order() {
        // nutcracker sorts servers by (name length, name): "beta" < "alpha"
        // < "gamma", so the slots are [beta, beta, alpha, gamma x3].
        let ms = members(&["alpha", "beta", "gamma"], &[1, 2, 3]);
        let c = Continuum::build(DistKind::Modula, &ms);
        let expected = [1, 1, 0, 2, 2, 2];
        for h in 0..12u32 {
            assert_eq!(c.pick(h), Some(expected[(h % 6) as usize]));
        }
        assert_eq!(twemproxy_name_order(b"z", b"aa"), std::cmp::Ordering::Less);
    }

    #[test]
    fn distribution_follows_weights() {
        let names: Vec<String> = (0..4).map(|i| format!("10.0.0.{i}:6379")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let weights = [1, 2, 3, 4];
        let ms = members(&names, &weights);
        for kind in [DistKind::Ketama, DistKind::Modula] {
            let c = Continuum::build(kind, &ms);
            let mut counts = [0usize; 4];
            let n = 40_000;
            for i in 0..n {
                let key = format!("key:{i}");
                counts[c.pick(HashKind::Fnv1a_64.hash(key.as_bytes())).unwrap()] += 1;
            }
            for (count, w) in counts.iter().zip(weights) {
                let expected = n as f64 * w as f64 / 10.0;
                let ratio = *count as f64 / expected;
                assert!(
                    (0.8..1.2).contains(&ratio),
                    "{kind:?}: {counts:?} not proportional to {weights:?}"
                );
            }
        }
    }

    #[test]
    fn ketama_ejection_moves_only_the_ejected_servers_keys() {
        let names = ["alpha", "beta", "gamma", "delta", "epsilon"];
        let mut ms = members(&names, &[1; 5]);
        let before = Continuum::build(DistKind::Ketama, &ms);
        ms[2].live = false;
        let after = Continuum::build(DistKind::Ketama, &ms);
        assert_eq!(after.live_count(), 4);
        let mut moved = 0;
        for i in 0..20_000 {
            let h = HashKind::Md5.hash(format!("k{i}").as_bytes());
            let (b, a) = (before.pick(h).unwrap(), after.pick(h).unwrap());
            assert_ne!(a, 2, "ejected server still picked");
            if b != 2 {
                assert_eq!(a, b, "a key not on the ejected server moved");
            } else {
                moved += 1;
            }
        }
        assert!(moved > 2_000, "ejected server owned too few keys: {moved}");
    }

    #[test]
    fn modula_is_hash_mod_weight_expanded_slots() {
        let mut ms = members(&["a", "b", "c"], &[1, 2, 3]);
        let c = Continuum::build(DistKind::Modula, &ms);
        // Slots: [a, b, b, c, c, c].
        let expected = [0, 1, 1, 2, 2, 2];
        for h in 0..60u32 {
            assert_eq!(c.pick(h), Some(expected[(h % 6) as usize]));
        }
        assert_eq!(c.pick(u32::MAX), Some(expected[(u32::MAX % 6) as usize]));
        // With "b" ejected the slots become [a, c, c, c].
        ms[1].live = false;
        let c = Continuum::build(DistKind::Modula, &ms);
        let expected = [0, 2, 2, 2];
        for h in 0..40u32 {
            assert_eq!(c.pick(h), Some(expected[(h % 4) as usize]));
        }
    }

    #[test]
    fn random_picks_only_live_servers() {
        let mut ms = members(&["a", "b", "c"], &[1, 5, 1]);
        ms[0].live = false;
        let c = Continuum::build(DistKind::Random, &ms);
        let mut seen = [false; 3];
        for _ in 0..1_000 {
            seen[c.pick(0).unwrap()] = true;
        }
        assert_eq!(seen, [false, true, true]);
        assert_eq!(c.pick_key(HashKind::Md5, b"x").map(|i| i != 0), Some(true));
    }

    #[test]
    fn no_live_server_picks_nothing() {
        for kind in [DistKind::Ketama, DistKind::Modula, DistKind::Random] {
            let mut ms = members(&["a", "b"], &[1, 1]);
            for m in &mut ms {
                m.live = false;
            }
            let c = Continuum::build(kind, &ms);
            assert_eq!(c.pick(12345), None);
            assert_eq!(c.live_count(), 0);
            let empty = Continuum::build(kind, &[]);
            assert_eq!(empty.pick(0), None);
            assert_eq!(empty.pick_key(HashKind::Murmur, b"k"), None);
        }
    }

    #[test]
    fn empty_key_is_placed_as_hash_zero() {
        let ms = members(&["a", "b", "c"], &[1, 1, 1]);
        for kind in [DistKind::Ketama, DistKind::Modula] {
            let c = Continuum::build(kind, &ms);
            assert_eq!(c.pick_key(HashKind::Fnv1a_64, b""), c.pick(0));
            assert_eq!(
                c.pick_key(HashKind::Fnv1a_64, b"foo"),
                c.pick(HashKind::Fnv1a_64.hash(b"foo"))
            );
        }
    }

    #[test]
    fn odd_members_do_not_panic() {
        let long = "x".repeat(1000);
        let ms = [
            Member {
                name: long.as_bytes(),
                weight: u32::MAX,
                live: true,
            },
            Member {
                name: b"nul\0tail",
                weight: u32::MAX,
                live: true,
            },
            Member {
                name: b"",
                weight: 0,
                live: true,
            },
        ];
        for kind in [DistKind::Ketama, DistKind::Modula, DistKind::Random] {
            let c = Continuum::build(kind, &ms);
            for h in [0, 1, u32::MAX / 2, u32::MAX] {
                assert!(c.pick(h).is_some());
            }
        }
        let zero = [Member {
            name: b"z",
            weight: 0,
            live: true,
        }];
        assert_eq!(Continuum::build(DistKind::Modula, &zero).pick(7), None);
        assert_eq!(Continuum::build(DistKind::Ketama, &zero).pick(7), None);
    }
}
