//! Geo commands (Redis's `geo` group): GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms.
//!
//! A geo set is a sorted set whose scores are Redis's 52-bit interleaved geohash
//! (`geo/hash.rs`), so TYPE says `zset`, ZRANGE/ZSCORE/ZREM work on it, and a ZADD of the
//! scores Redis shows makes the same geo set here. Searches (`geo/search.rs`) scan the score
//! ranges of nine cells around the centre (`geo/area.rs`), keep the points inside the shape
//! by exact distance, and order them as Redis does (`geo/sort.rs`).
//!
//! ```text
//!  GEOADD key [NX|XX] [CH] lon lat member …  → score = geohash(lon, lat) → as ZADD
//!  GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat  BYRADIUS r unit | BYBOX w h unit
//!            [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
//!  GEOSEARCHSTORE dst src … [STOREDIST]      GEORADIUS … [STORE k] [STOREDIST k]
//! ```
//!
//! Replies as Redis 7.0 writes them: distances are bulk strings with 4 decimals in RESP2 and
//! RESP3 alike; coordinates are 17-decimal numbers with trailing zeros trimmed, bulk strings
//! in RESP2 and doubles in RESP3; hashes are integers. Errors use Redis's words.
//!
//! Persistence and routing: every write here replays from its own arguments (a search over
//! the same data finds the same members), so the append-only log records the commands as
//! sent. GEORADIUS's STORE/STOREDIST key is found by `cluster_cmd::key_positions` (cluster
//! routing, the proxy, COMMAND GETKEYS) and wakes clients blocked on it here;
//! GEOSEARCHSTORE's destination is a fixed key position.

mod area;
pub mod hash;
mod search;
mod sort;
#[cfg(test)]
mod tests;

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_float};
use crate::zset::{read_zset, write_zset_if};
use crate::{cmd, Ctx};
use protocol::{Args, Reply};
use storage::types::zset::{self, ZRef};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("geoadd", -5, WRITE | DENYOOM, 1, 1, 1, geoadd, "geo", "3.2.0",
        "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
        "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]"),
    cmd!("geodist", -4, READONLY, 1, 1, 1, geodist, "geo", "3.2.0",
        "Returns the distance between two members of a geospatial index.",
        "key member1 member2 [M | KM | FT | MI]"),
    cmd!("geohash", -2, READONLY, 1, 1, 1, geohash, "geo", "3.2.0",
        "Returns members from a geospatial index as geohash strings.", "key [member [member ...]]"),
    cmd!("geopos", -2, READONLY, 1, 1, 1, geopos, "geo", "3.2.0",
        "Returns the longitude and latitude of members from a geospatial index.",
        "key [member [member ...]]"),
    cmd!("georadius", -6, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, search::georadius, "geo", "3.2.0",
        "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    cmd!("georadius_ro", -6, READONLY, 1, 1, 1, search::georadius_ro, "geo", "3.2.10",
        "Returns members from a geospatial index that are within a distance from a coordinate.",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    cmd!("georadiusbymember", -5, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, search::georadiusbymember, "geo", "3.2.0",
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    cmd!("georadiusbymember_ro", -5, READONLY, 1, 1, 1, search::georadiusbymember_ro, "geo", "3.2.10",
        "Returns members from a geospatial index that are within a distance from a member.",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    cmd!("geosearch", -7, READONLY, 1, 1, 1, search::geosearch, "geo", "6.2.0",
        "Queries a geospatial index for members inside an area of a box or a circle.",
        "key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    cmd!("geosearchstore", -8, WRITE | DENYOOM, 1, 2, 1, search::geosearchstore, "geo", "6.2.0",
        "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
        "destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]"),
];

const BAD_UNIT: CmdError =
    CmdError::Static("ERR unsupported unit provided. please use M, KM, FT, MI");

/// A double as Redis's `getDoubleFromObject` reads it: also refused when the text
/// overflows to infinity or underflows to zero (strtod's ERANGE), which Rust's parser
/// would accept. `err` is the error to answer (Redis words it per argument).
fn parse_double(b: &[u8], err: CmdError) -> Result<f64, CmdError> {
    let v = parse_float(b).map_err(|_| err.clone())?;
    if v.is_infinite() && !b.iter().any(|c| c.eq_ignore_ascii_case(&b'i')) {
        return Err(err);
    }
    if v == 0.0 {
        let mantissa = b
            .split(|c| c.eq_ignore_ascii_case(&b'e'))
            .next()
            .unwrap_or(b);
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return Err(err);
        }
    }
    Ok(v)
}

/// `longitude latitude`, checked against the limits of the encoding.
pub(crate) fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = parse_double(lon, CmdError::NotFloat)?;
    let y = parse_double(lat, CmdError::NotFloat)?;
    #[allow(clippy::manual_range_contains)] // NaN-free here, but spelled as Redis tests it
    if x < hash::LON_MIN || x > hash::LON_MAX || y < hash::LAT_MIN || y > hash::LAT_MAX {
        return Err(CmdError::Msg(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok((x, y))
}

/// A unit's size in metres.
pub(crate) fn parse_unit(u: &[u8]) -> Result<f64, CmdError> {
    if eq_ic(u, "m") {
        Ok(1.0)
    } else if eq_ic(u, "km") {
        Ok(1000.0)
    } else if eq_ic(u, "ft") {
        Ok(0.3048)
    } else if eq_ic(u, "mi") {
        Ok(1609.34)
    } else {
        Err(BAD_UNIT)
    }
}

/// A distance as replies carry it: a bulk string with 4 decimals (RESP2 and RESP3).
fn reply_distance(out: &mut Reply<'_>, d: f64) {
    let mut buf = [0u8; 48];
    out.bulk(hash::fmt_distance(d, &mut buf));
}

/// A coordinate as replies carry it: a bulk string in RESP2, a double in RESP3.
fn reply_coord(out: &mut Reply<'_>, x: f64) {
    let mut buf = [0u8; 400];
    let s = hash::fmt_human(x, &mut buf);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s);
        out.raw(b"\r\n");
    } else {
        out.bulk(s);
    }
}

/// `[longitude, latitude]`.
fn reply_position(out: &mut Reply<'_>, lon: f64, lat: f64) {
    out.array_len(2);
    reply_coord(out, lon);
    reply_coord(out, lat);
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// As Redis: the option words, then every coordinate is checked before anything is written;
/// the reply counts added members (and, with CH, members whose position changed).
fn geoadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = args.len() - i;
    if !rest.is_multiple_of(3) || (xx && nx) || rest == 0 {
        return Err(CmdError::Syntax);
    }
    let n = rest / 3;
    // One score on the stack for the common single-member GEOADD.
    let mut one = [0f64; 1];
    let mut many = Vec::new();
    let scores: &mut [f64] = if n == 1 {
        &mut one
    } else {
        many.resize(n, 0.0);
        &mut many
    };
    for (j, s) in scores.iter_mut().enumerate() {
        let at = i + 3 * j;
        let (lon, lat) = parse_lonlat(args.get(at), args.get(at + 1))?;
        *s = hash::score_of(lon, lat) as f64;
    }
    let scores = &*scores;
    let limits = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let r = write_zset_if(
        ctx,
        &mut txn,
        &k,
        !xx,
        |e| {
            if e.enc() == storage::Enc::Compact {
                // Grow a small set once for the whole command.
                let more: usize = (0..n)
                    .map(|j| {
                        storage::types::compact::encoded_len(args.get(i + 3 * j + 2).len()) + 9
                    })
                    .sum();
                e.reserve_value_exact(more);
            }
            let (mut added, mut updated) = (0i64, 0i64);
            for (j, &score) in scores.iter().enumerate() {
                let m = args.get(i + 3 * j + 2);
                match ZRef::of(e).score(m) {
                    Some(_) if nx => {}
                    Some(cur) => {
                        if cur != score {
                            zset::set(e, m, score, &limits);
                            updated += 1;
                        }
                    }
                    None if xx => {}
                    None => {
                        zset::set(e, m, score, &limits);
                        added += 1;
                    }
                }
            }
            (added, updated)
        },
        |&(a, u)| a + u > 0,
    )?;
    let (added, updated) = r.unwrap_or((0, 0));
    ctx.out.int(if ch { added + updated } else { added });
    Ok(())
}

/// GEODIST key member1 member2 [M | KM | FT | MI] → the distance, or nil when the key or a
/// member is missing.
fn geodist(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let conv = match args.len() {
        4 => 1.0,
        5 => parse_unit(args.get(4))?,
        _ => return Err(CmdError::Syntax),
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(z) = read_zset(&mut txn, &k)? else {
        ctx.out.null();
        return Ok(());
    };
    match (z.score(args.get(2)), z.score(args.get(3))) {
        (Some(a), Some(b)) => {
            let (lon1, lat1) = hash::decode_score(a);
            let (lon2, lat2) = hash::decode_score(b);
            reply_distance(&mut ctx.out, hash::distance(lon1, lat1, lon2, lat2) / conv);
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...] → an 11-character geohash per member, nil when missing.
fn geohash(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let z = read_zset(&mut txn, &k)?;
    ctx.out.array_len(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.bulk(&hash::geohash_string(s)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...] → `[longitude, latitude]` per member, a null array when missing.
fn geopos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let z = read_zset(&mut txn, &k)?;
    ctx.out.array_len(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = hash::decode_score(s);
                reply_position(&mut ctx.out, lon, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}
