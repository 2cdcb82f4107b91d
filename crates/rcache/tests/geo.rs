//! The geo commands against Debian's real `redis-server`: the same command sequences go to
//! both servers and every reply must be byte-identical, over RESP2 and RESP3. Thousands of
//! random points (clusters at one position for ties, points near the poles and the
//! antimeridian), then GEOSEARCH / GEORADIUS / GEORADIUSBYMEMBER (and `_RO`) with every
//! combination of shape, order, COUNT [ANY] and WITH* options, GEODIST in each unit,
//! GEOPOS, GEOHASH, the STORE forms compared by ZRANGE WITHSCORES, every error case, and
//! COMMAND GETKEYS. Also: a BZPOPMIN waiting on a STORE destination is woken, and the
//! writes replay from the append-only log.

use std::time::Duration;
use testkit::proxy::Backend;
use testkit::{wait_for, RawConn, RcacheProcess, TempDir, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// A connection to each server; `same` sends a command to both and checks the replies.
struct Both {
    redis: RawConn,
    ours: RawConn,
    sent: usize,
    /// Replies that were arrays of more than one element (searches that found something).
    found: usize,
}

impl Both {
    fn new(redis: &Backend, srv: &TestServer, resp3: bool) -> Both {
        let mut b = Both {
            redis: redis.conn(),
            ours: srv.raw(),
            sent: 0,
            found: 0,
        };
        if resp3 {
            // HELLO's own reply differs (server name, version): only the switch matters.
            b.redis.request(&["HELLO", "3"]);
            b.ours.request(&["HELLO", "3"]);
        }
        b
    }

    fn same<T: AsRef<[u8]>>(&mut self, args: &[T]) -> String {
        let theirs = self.redis.request(args);
        let ours = self.ours.request(args);
        self.sent += 1;
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        assert_eq!(ours, theirs, "replies differ for {shown:?}");
        if ours.starts_with('*') && !ours.starts_with("*0\r\n") && !ours.starts_with("*1\r\n") {
            self.found += 1;
        }
        ours
    }

    /// The sorted set at `key` on both servers: the same members with the same scores,
    /// byte for byte (both print scores with `%.17g`).
    fn same_zset(&mut self, key: &str) {
        let args = ["ZRANGE", key, "0", "-1", "WITHSCORES"];
        let (theirs, ours) = (self.redis.request(&args), self.ours.request(&args));
        self.sent += 1;
        assert_eq!(ours, theirs, "ZRANGE {key}");
        assert!(
            !pairs(&ours).is_empty() || ours.starts_with("*0"),
            "{ours:?}"
        );
    }

    fn same_s(&mut self, line: &str) -> String {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.same(&args)
    }
}

/// (member, score) pairs of a ZRANGE … WITHSCORES reply, RESP2 or RESP3.
fn pairs(reply: &str) -> Vec<(String, f64)> {
    tokens(reply)
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].parse().expect("a score")))
        .collect()
}

/// The strings and doubles of an array reply, flattened.
fn tokens(reply: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            tokens.push(lines.next().unwrap_or_default().to_string());
        } else if let Some(d) = l.strip_prefix(',') {
            tokens.push(d.to_string());
        } else {
            assert!(
                l.is_empty() || l.starts_with('*'),
                "unexpected {l:?} in {reply:?}"
            );
        }
    }
    tokens
}

fn start() -> Option<(Backend, TestServer)> {
    let redis = Backend::redis()?;
    Some((redis, TestServer::start()))
}

/// `n` members in batches: random points in a box, some stacked at one position (ties),
/// and some at the limits.
fn fill(b: &mut Both, rng: &mut Rng, key: &str, n: usize, lon: (f64, f64), lat: (f64, f64)) {
    let mut args: Vec<String> = vec!["GEOADD".into(), key.into()];
    let mut stack = (0.0, 0.0);
    for i in 0..n {
        let (x, y) = if i % 10 < 3 && i > 0 {
            // Three of every ten share the previous stacked position.
            stack
        } else {
            let p = (rng.range(lon.0, lon.1), rng.range(lat.0, lat.1));
            if i % 10 == 3 {
                stack = p;
            }
            p
        };
        args.extend([format!("{x:.6}"), format!("{y:.6}"), format!("m{i}")]);
        if args.len() >= 2 + 3 * 100 {
            b.same(&args);
            args.truncate(2);
        }
    }
    if args.len() > 2 {
        b.same(&args);
    }
}

const ORDERS: &[&str] = &["", "ASC", "DESC"];
const COUNTS: &[&str] = &[
    "",
    "COUNT 1",
    "COUNT 7",
    "COUNT 25",
    "COUNT 5 ANY",
    "COUNT 40 ANY",
];
const WITHS: &[&str] = &[
    "",
    "WITHDIST",
    "WITHCOORD",
    "WITHHASH",
    "WITHDIST WITHHASH WITHCOORD",
];
const UNITS: &[&str] = &["m", "km", "mi", "ft"];

/// A radius of about `km` kilometres written in `unit`.
fn in_unit(km: f64, unit: &str) -> String {
    let m = km * 1000.0;
    let v = match unit {
        "m" => m,
        "km" => km,
        "mi" => m / 1609.34,
        _ => m / 0.3048,
    };
    format!("{v:.3}")
}

fn searches(
    b: &mut Both,
    rng: &mut Rng,
    key: &str,
    lon: (f64, f64),
    lat: (f64, f64),
    rounds: usize,
) {
    for _ in 0..rounds {
        let (x, y) = (rng.range(lon.0, lon.1), rng.range(lat.0, lat.1));
        let unit = *rng.pick(UNITS);
        let km = rng.range(1.0, 400.0);
        let r = in_unit(km, unit);
        let (w, h) = (
            in_unit(rng.range(1.0, 800.0), unit),
            in_unit(rng.range(1.0, 800.0), unit),
        );
        let member = format!("m{}", rng.below(200));
        let order = *rng.pick(ORDERS);
        let count = *rng.pick(COUNTS);
        let with = *rng.pick(WITHS);
        let tail = format!("{order} {count} {with}");
        let from = if rng.below(3) == 0 {
            format!("FROMMEMBER {member}")
        } else {
            format!("FROMLONLAT {x:.5} {y:.5}")
        };
        let by = if rng.below(2) == 0 {
            format!("BYRADIUS {r} {unit}")
        } else {
            format!("BYBOX {w} {h} {unit}")
        };
        b.same_s(&format!("GEOSEARCH {key} {from} {by} {tail}"));
        b.same_s(&format!("GEORADIUS {key} {x:.5} {y:.5} {r} {unit} {tail}"));
        b.same_s(&format!(
            "GEORADIUS_RO {key} {x:.5} {y:.5} {r} {unit} {tail}"
        ));
        b.same_s(&format!(
            "GEORADIUSBYMEMBER {key} {member} {r} {unit} {tail}"
        ));
        b.same_s(&format!(
            "GEORADIUSBYMEMBER_RO {key} {member} {r} {unit} {tail}"
        ));
        // The STORE forms, compared by what they stored.
        let store_tail = format!("{order} {count}");
        let dist = if rng.below(2) == 0 { "STOREDIST" } else { "" };
        b.same_s(&format!(
            "GEOSEARCHSTORE dst {key} {from} {by} {store_tail} {dist}"
        ));
        b.same_zset("dst");
        let kw = if rng.below(2) == 0 {
            "STORE"
        } else {
            "STOREDIST"
        };
        b.same_s(&format!(
            "GEORADIUS {key} {x:.5} {y:.5} {r} {unit} {store_tail} {kw} dst2"
        ));
        b.same_zset("dst2");
        b.same_s(&format!(
            "GEORADIUSBYMEMBER {key} {member} {r} {unit} {store_tail} {kw} dst3"
        ));
        b.same_zset("dst3");
    }
}

fn points(b: &mut Both, rng: &mut Rng, key: &str, n: u64) {
    for _ in 0..100 {
        let (a, c) = (
            format!("m{}", rng.below(n + 5)),
            format!("m{}", rng.below(n + 5)),
        );
        b.same(&["GEODIST", key, &a, &c]);
        let unit = *rng.pick(&["m", "km", "mi", "ft", "M", "KM", "Mi", "fT"]);
        b.same(&["GEODIST", key, &a, &c, unit]);
        b.same(&["GEOPOS", key, &a, &c, "nosuch"]);
        b.same(&["GEOHASH", key, &a, &c, "nosuch"]);
    }
}

fn random_session(resp3: bool) {
    let Some((redis, srv)) = start() else { return };
    let mut b = Both::new(&redis, &srv, resp3);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ resp3 as u64);
    // A large set (skip list) over a region, and a small one (compact) across the globe.
    fill(&mut b, &mut rng, "big", 3000, (-10.0, 10.0), (35.0, 55.0));
    fill(
        &mut b,
        &mut rng,
        "small",
        100,
        (-180.0, 180.0),
        (-85.05, 85.05),
    );
    b.same_s("OBJECT ENCODING big");
    b.same_s("OBJECT ENCODING small");
    b.same_s("ZCARD big");
    searches(&mut b, &mut rng, "big", (-12.0, 12.0), (33.0, 57.0), 150);
    searches(
        &mut b,
        &mut rng,
        "small",
        (-180.0, 180.0),
        (-85.0, 85.0),
        100,
    );
    points(&mut b, &mut rng, "big", 3000);
    points(&mut b, &mut rng, "small", 100);
    // Near the poles and the antimeridian, and very large or zero radii.
    b.same_s("GEOADD edge 179.99 10 e1 -179.99 10 e2 180 85.05112878 top -180 -85.05112878 bottom 0 84.9 n1 90 -84.9 s1");
    for q in [
        "GEOSEARCH edge FROMLONLAT 180 10 BYRADIUS 50 km ASC WITHDIST WITHCOORD WITHHASH",
        "GEOSEARCH edge FROMLONLAT -180 10 BYBOX 100 100 km DESC WITHDIST",
        "GEOSEARCH edge FROMLONLAT 0 85 BYRADIUS 5000 km ASC WITHDIST",
        "GEOSEARCH edge FROMLONLAT 0 -85 BYRADIUS 20000 km ASC WITHDIST",
        "GEOSEARCH edge FROMLONLAT 0 0 BYRADIUS 30000 km DESC WITHDIST",
        "GEOSEARCH edge FROMMEMBER top BYRADIUS 0 m WITHDIST",
        "GEOSEARCH edge FROMMEMBER top BYBOX 0 0 m WITHCOORD",
        "GEOSEARCH edge FROMLONLAT 10 10 BYRADIUS inf km",
        "GEOSEARCH edge FROMLONLAT 10 10 BYBOX 1e300 1 m",
        "GEORADIUS edge 180 85.05112878 100 km WITHCOORD",
        "GEORADIUS edge -180 -85.05112878 1 m WITHCOORD WITHHASH",
        "GEOPOS edge top bottom e1 e2",
        "GEOHASH edge top bottom e1 e2 n1 s1",
    ] {
        b.same_s(q);
    }
    // Members whose scores were not made by GEOADD.
    b.same_s("ZADD odd -1 neg inf pinf -inf ninf 1.5 half 9007199254740993 big 1e30 huge");
    b.same_s("GEOPOS odd neg pinf ninf half big huge nosuch");
    b.same_s("GEOHASH odd neg pinf ninf half big huge");
    b.same_s("GEODIST odd neg half km");
    b.same_s("GEOSEARCH odd FROMLONLAT -179.99 -85 BYRADIUS 500 km WITHHASH");
    assert!(b.sent > 2000, "{} commands compared", b.sent);
    // Many searches found several members: the comparisons are not of empty replies.
    assert!(
        b.found > 800,
        "{} of {} replies found several",
        b.found,
        b.sent
    );
}

#[test]
fn random_points_and_searches_match_redis_resp2() {
    random_session(false);
}

#[test]
fn random_points_and_searches_match_redis_resp3() {
    random_session(true);
}

/// Members at the same position are at the same distance: which of them COUNT keeps and
/// in what order follows Redis's sorts exactly (its partial quicksort for COUNT, a stable
/// sort otherwise), in both encodings.
#[test]
fn ties_order_as_redis() {
    let Some((redis, srv)) = start() else { return };
    let mut b = Both::new(&redis, &srv, false);
    let mut rng = Rng(7);
    for (key, n) in [("tl", 90usize), ("ts", 40)] {
        let mut args: Vec<String> = vec!["GEOADD".into(), key.into()];
        for i in 0..n {
            // Four positions, members interleaved so set order differs from insertion.
            let (x, y) = [(2.0, 2.0), (2.001, 2.0), (2.0, 2.002), (1.999, 1.999)][i % 4];
            args.extend([
                format!("{x}"),
                format!("{y}"),
                format!("t{}", rng.below(1000)),
            ]);
        }
        b.same(&args);
        for count in 1..=n + 1 {
            for order in ["ASC", "DESC"] {
                let c = count.to_string();
                b.same(&[
                    "GEOSEARCH",
                    key,
                    "FROMLONLAT",
                    "2",
                    "2",
                    "BYRADIUS",
                    "10",
                    "km",
                    order,
                    "COUNT",
                    &c,
                    "WITHDIST",
                ]);
            }
            let c = count.to_string();
            b.same(&[
                "GEOSEARCH",
                key,
                "FROMLONLAT",
                "2",
                "2",
                "BYBOX",
                "10",
                "10",
                "km",
                "COUNT",
                &c,
                "ANY",
            ]);
        }
    }
}

/// GEOADD's options, and the same geo set through ZADD of Redis's scores.
#[test]
fn geoadd_and_zset_interchange() {
    let Some((redis, srv)) = start() else { return };
    for resp3 in [false, true] {
        let mut b = Both::new(&redis, &srv, resp3);
        b.same_s("FLUSHALL");
        for c in [
            "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
            "GEOADD Sicily NX 1 1 Palermo 2 2 new",
            "GEOADD Sicily XX CH 1 1 Palermo 3 3 newer",
            "GEOADD Sicily CH NX XX 1 1 a",
            "GEOADD Sicily CH 4 4 dup 5 5 dup",
            "GEOADD Sicily CH 5 5 dup 5 5 dup",
            "GEOADD nokey XX 1 1 a",
            "EXISTS nokey",
            "TYPE Sicily",
            "ZRANGE Sicily 0 -1 WITHSCORES",
            "ZSCORE Sicily Palermo",
            "GEOADD Sicily 13.361389 38.115556 Palermo",
            "ZREM Sicily new",
            "GEOPOS Sicily Palermo new",
            "ZADD copy 3479099956230698 Palermo 3479447370796909 Catania",
            "GEODIST copy Palermo Catania km",
            "GEOHASH copy Palermo Catania",
            "GEOSEARCH copy FROMMEMBER Palermo BYRADIUS 200 km ASC WITHDIST WITHHASH WITHCOORD",
        ] {
            b.same_s(c);
        }
    }
}

#[test]
fn errors_match_redis() {
    let Some((redis, srv)) = start() else { return };
    for resp3 in [false, true] {
        let mut b = Both::new(&redis, &srv, resp3);
        b.same_s("FLUSHALL");
        b.same_s("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania");
        b.same_s("SET s v");
        for c in [
            "GEOADD g 200 100 a",
            "GEOADD g 0 85.06 a",
            "GEOADD g abc 10 x",
            "GEOADD g 10 abc x",
            "GEOADD g 1e400 10 x",
            "GEOADD g 1e-400 10 x",
            "GEOADD g inf 10 x",
            "GEOADD g -inf -inf x",
            "GEOADD g nan 10 x",
            "GEOADD g nx xx 1 1 x",
            "GEOADD g 1 1 x 2",
            "GEOADD g gt 1 1 x",
            "GEOADD g ch ch ch",
            "GEOADD g 1 1",
            "GEOADD s 1 1 x",
            "GEOADD s 1000 1 x",
            "GEOADD g 1 1 a 1000 1 b",
            "EXISTS g a",
            "GEODIST g Palermo Catania yd",
            "GEODIST g Palermo Catania m x",
            "GEODIST g Palermo",
            "GEODIST s a b",
            "GEODIST nokey a b",
            "GEODIST g Palermo nosuch",
            "GEOPOS s a",
            "GEOPOS",
            "GEOHASH s a",
            "GEOHASH g",
            "GEOPOS g",
            "GEOSEARCH g FROMMEMBER nosuch BYRADIUS 1 km",
            "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 1 km",
            "GEOSEARCH g FROMLONLAT 15 37",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km ANY",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT 0",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT -1",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT x",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km COUNT",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS -1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS x km",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX x 1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 x km",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX -1 1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 -1 km",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 yd",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 yd",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km STORE x",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST",
            "GEOSEARCH g FROMLONLAT 1000 1 BYRADIUS 1 km",
            "GEOSEARCH g FROMLONLAT 15 BYRADIUS 1 km",
            "GEOSEARCH g FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 1 km",
            "GEOSEARCH g FROMLONLAT 1 1 FROMMEMBER Palermo BYRADIUS 1 km",
            "GEOSEARCH g FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 200 km ASC",
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km BYRADIUS 200 km ASC",
            "geosearch g BYRADIUS 1 km ASC ASC",
            "GeoSearch g FROMLONLAT 1 1 ASC ASC",
            "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1 km WITHDIST foo",
            "GEOSEARCH s FROMLONLAT 1 1 ASC ASC",
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km WITHDIST",
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km WITHHASH",
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km WITHCOORD",
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km STORE x",
            "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYRADIUS 1 km",
            "GEOSEARCHSTORE s g FROMLONLAT 15 37 BYRADIUS 1 km",
            "TYPE s",
            "GEORADIUS g 15 37 200 km STORE d WITHDIST",
            "GEORADIUS g 15 37 200 km STOREDIST d WITHCOORD",
            "GEORADIUS_RO g 15 37 200 km STORE d",
            "GEORADIUSBYMEMBER_RO g Palermo 200 km STOREDIST d",
            "GEORADIUS g 15 37 200 km COUNT",
            "GEORADIUS g 15 37 200 km STORE",
            "GEORADIUS g 15 37 200 km foo",
            "GEORADIUS g 15 37 200 km FROMMEMBER Palermo",
            "GEORADIUS g 15 37 200 yd",
            "GEORADIUS g 15 37 -1 km",
            "GEORADIUS g 15 37 200",
            "GEORADIUS g 1000 37 200 km",
            "GEORADIUS s 1000 37 x km",
            "GEORADIUSBYMEMBER g nosuch 200 km",
            "GEORADIUSBYMEMBER g Palermo x km",
            "GEORADIUSBYMEMBER nokey nosuch x km",
            "GEORADIUSBYMEMBER nokey nosuch x km STORE d",
            "GEORADIUSBYMEMBER nokey nosuch x km WITHDIST STORE d",
            "GEORADIUS nokey 1 1 x km",
            "GEORADIUS nokey 1000 1 1 km",
            "GEORADIUS nokey 1 1 1 km",
            "GEORADIUS nokey 1 1 1 km STORE s",
            "EXISTS s",
        ] {
            b.same_s(c);
        }
    }
}

#[test]
fn getkeys_match_redis() {
    let Some((redis, srv)) = start() else { return };
    let mut b = Both::new(&redis, &srv, false);
    for c in [
        "COMMAND GETKEYS GEOADD k 1 1 m",
        "COMMAND GETKEYS GEODIST k a b",
        "COMMAND GETKEYS GEOSEARCH k FROMMEMBER m BYRADIUS 1 km",
        "COMMAND GETKEYS GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km STORE d1",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km COUNT 5 STOREDIST d1",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km STORE d1 STOREDIST d2",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km STORE d1 STORE d2",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 km store",
        "COMMAND GETKEYS GEORADIUS src 1 2 3 STORE d",
        "COMMAND GETKEYS GEORADIUSBYMEMBER src m 3 km STOREDIST d1 ASC",
        "COMMAND GETKEYS GEORADIUSBYMEMBER src m 3 km STORE d1",
        "COMMAND GETKEYS GEORADIUS_RO src 1 2 3 km",
    ] {
        b.same_s(c);
    }
}

/// A client blocked in BZPOPMIN on a STORE destination is served by the store, as in Redis.
#[test]
fn store_wakes_a_blocked_bzpopmin() {
    let Some((redis, srv)) = start() else { return };
    for cmd in [
        "GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km ASC",
        "GEORADIUS g 15 37 200 km ASC STORE dst",
        "GEORADIUSBYMEMBER g Palermo 200 km STOREDIST dst",
    ] {
        let mut b = Both::new(&redis, &srv, false);
        b.same_s("FLUSHALL");
        b.same_s("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania");
        let (mut wr, mut wo) = (redis.conn(), srv.raw());
        wr.send_cmd(&["BZPOPMIN", "dst", "10"]);
        wo.send_cmd(&["BZPOPMIN", "dst", "10"]);
        // Both waiters are parked before the store.
        for c in [&mut b.redis, &mut b.ours] {
            wait_for("the waiter to block", Duration::from_secs(10), || {
                c.request(&["INFO", "clients"])
                    .contains("blocked_clients:1")
                    .then_some(())
            });
        }
        b.same_s(cmd);
        // [key, member, score]: the score compared as a number (see `same_zset`).
        let (r, o) = (wr.reply(), wo.reply());
        assert!(o.starts_with("*3\r\n"), "{cmd}: {o:?}");
        let (r, o) = (tokens(&r), tokens(&o));
        assert_eq!(o.len(), 3, "{cmd}");
        assert_eq!(r[..2], o[..2], "{cmd}");
        assert_eq!(
            r[2].parse::<f64>().unwrap(),
            o[2].parse::<f64>().unwrap(),
            "{cmd}"
        );
        b.same_zset("dst");
    }
}

/// GEOADD, GEOSEARCHSTORE and GEORADIUS … STORE replay from the append-only log to the
/// same data.
#[test]
fn geo_writes_replay_from_the_log() {
    let dir = TempDir::new("rcache-geo-aof");
    let args = [
        "--dir",
        &dir.path().display().to_string(),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]
    .map(String::from);
    let p = RcacheProcess::builder(BIN).args(args.clone()).start();
    let mut c = p.raw();
    let mut rng = Rng(42);
    let mut add = vec!["GEOADD".to_string(), "g".into()];
    for i in 0..500 {
        add.extend([
            format!("{:.6}", rng.range(-5.0, 5.0)),
            format!("{:.6}", rng.range(40.0, 50.0)),
            format!("p{i}"),
        ]);
    }
    assert_eq!(c.request(&add), ":500\r\n");
    for cmd in [
        "GEOSEARCHSTORE s1 g FROMLONLAT 0 45 BYRADIUS 150 km ASC COUNT 40",
        "GEOSEARCHSTORE s2 g FROMMEMBER p7 BYBOX 300 200 km STOREDIST",
        "GEORADIUS g 1 44 200 km STORE s3",
        "GEORADIUSBYMEMBER g p3 100 mi DESC COUNT 10 STOREDIST s4",
        "GEORADIUS g 1 44 200 km COUNT 3 ANY STORE s5",
        "GEOADD g XX CH 0 45 p1 0 45 nosuch",
        "GEOSEARCHSTORE s6 g FROMLONLAT 100 0 BYRADIUS 1 km",
    ] {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let r = c.request(&args);
        assert!(r.starts_with(':'), "{cmd}: {r}");
    }
    let keys = ["g", "s1", "s2", "s3", "s4", "s5", "s6"];
    let dump = |c: &mut RawConn| -> Vec<String> {
        keys.iter()
            .map(|k| c.request(&["ZRANGE", k, "0", "-1", "WITHSCORES"]))
            .collect()
    };
    let before = dump(&mut c);
    assert!(before[1].starts_with("*80\r\n"), "{}", before[1]);
    drop(c);
    p.sigkill();
    let p = RcacheProcess::builder(BIN).args(args).start();
    let mut c = p.raw();
    assert_eq!(dump(&mut c), before);
}
