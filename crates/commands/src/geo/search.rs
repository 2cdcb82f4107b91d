//! GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the `_RO` forms: one
//! parser and one search, as Redis's `georadiusGeneric`.
//!
//! ```text
//!  source key (WRONGTYPE first) ─► centre + shape + options, in argument order
//!     ─► nine cells (area.rs) ─► each cell's score range [min, max) of the sorted set
//!     ─► decode, exact distance test ─► (COUNT … ANY: stop at COUNT found)
//!     ─► sort by distance (sort.rs) ─► reply, or store members by score or distance
//! ```
//!
//! Errors come in Redis's order: the key's type, then the centre and radius of the legacy
//! forms, then each option as it is read (an unknown FROMMEMBER member at its place), then
//! the checks of the whole request. A missing source key answers an empty array (or stores
//! nothing and deletes the destination) once the arguments have been read.

use super::area::{Query, Shape, Tester};
use super::{hash, parse_double, parse_lonlat, parse_unit, reply_distance, reply_position, sort};
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::zset::{read_zset, store_result};
use crate::Ctx;
use protocol::Args;
use storage::types::zset::{self, ZRef};

/// Which command is running (Redis's RADIUS_COORDS / RADIUS_MEMBER / GEOSEARCH flags).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// GEORADIUS (`ro`: GEORADIUS_RO, which takes no STORE).
    Radius { ro: bool },
    /// GEORADIUSBYMEMBER (`ro`: the `_RO` form).
    ByMember { ro: bool },
    /// GEOSEARCH (`store`: GEOSEARCHSTORE).
    Search { store: bool },
}

impl Kind {
    fn is_search(self) -> bool {
        matches!(self, Kind::Search { .. })
    }
    fn takes_store_key(self) -> bool {
        matches!(
            self,
            Kind::Radius { ro: false } | Kind::ByMember { ro: false }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// One point found: borrowed from the sorted set while its shard is locked.
#[derive(Clone, Copy)]
struct Found<'a> {
    member: &'a [u8],
    score: f64,
    lon: f64,
    lat: f64,
    /// Metres.
    dist: f64,
}

const NO_MEMBER: CmdError = CmdError::Static("ERR could not decode requested zset member");

/// `radius unit` → (radius, metres per unit).
fn parse_radius(r: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_double(r, CmdError::Static("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::Static("ERR radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// `width height unit` → (width, height, metres per unit).
fn parse_box(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = parse_double(w, CmdError::Static("ERR need numeric width"))?;
    let h = parse_double(h, CmdError::Static("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::Static("ERR height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

/// The position of `member` in the set (`ERR could not decode requested zset member`).
fn member_position(z: ZRef<'_>, member: &[u8]) -> Result<(f64, f64), CmdError> {
    z.score(member).map(hash::decode_score).ok_or(NO_MEMBER)
}

/// The STORE/STOREDIST key of GEORADIUS[BYMEMBER], found by walking the options as the
/// parser will (before the source is read, so its shard can be locked with the source's).
/// A request that turns out malformed fails in the real parse; locking one key too many
/// for it is harmless.
fn prescan_store_key(args: Args<'_>, base: usize) -> Option<&[u8]> {
    let rem = args.len().saturating_sub(base);
    let mut key = None;
    let mut i = 0;
    while i < rem {
        let a = args.get(base + i);
        if (eq_ic(a, "store") || eq_ic(a, "storedist")) && i + 1 < rem {
            key = Some(args.get(base + i + 1));
            i += 1;
        } else if eq_ic(a, "count") && i + 1 < rem {
            i += 1;
        } else if !["withdist", "withhash", "withcoord", "any", "asc", "desc"]
            .iter()
            .any(|w| eq_ic(a, w))
        {
            break;
        }
        i += 1;
    }
    key
}

/// Everything a request asks for, once parsed.
struct Request<'a> {
    query: Option<Query>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    order: Order,
    /// 0 = no limit.
    count: i64,
    store: Option<&'a [u8]>,
    storedist: bool,
}

/// Parse the request over the source `z` (`None`: missing key), in Redis's order.
fn parse<'a>(args: Args<'a>, kind: Kind, z: Option<ZRef<'_>>) -> Result<Request<'a>, CmdError> {
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let mut store = None;
    let base = match kind {
        Kind::Radius { .. } => {
            center = Some(parse_lonlat(args.get(2), args.get(3))?);
            let (r, conv) = parse_radius(args.get(4), args.get(5))?;
            shape = Some((Shape::Radius(r), conv));
            6
        }
        Kind::ByMember { .. } => {
            // Without a source the member and radius are not even read, as in Redis.
            if let Some(z) = z {
                center = Some(member_position(z, args.get(2))?);
                let (r, conv) = parse_radius(args.get(3), args.get(4))?;
                shape = Some((Shape::Radius(r), conv));
            }
            5
        }
        Kind::Search { store: false } => 2,
        Kind::Search { store: true } => {
            store = Some(args.get(1));
            3
        }
    };
    let search = kind.is_search();
    let mut req = Request {
        query: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        any: false,
        order: Order::None,
        count: 0,
        store,
        storedist: false,
    };
    let (mut frommember, mut fromlonlat, mut byradius, mut bybox) = (false, false, false, false);
    let rem = args.len().saturating_sub(base);
    let mut i = 0;
    while i < rem {
        let a = args.get(base + i);
        let arg = |k: usize| args.get(base + i + k);
        if eq_ic(a, "withdist") {
            req.withdist = true;
        } else if eq_ic(a, "withhash") {
            req.withhash = true;
        } else if eq_ic(a, "withcoord") {
            req.withcoord = true;
        } else if eq_ic(a, "any") {
            req.any = true;
        } else if eq_ic(a, "asc") {
            req.order = Order::Asc;
        } else if eq_ic(a, "desc") {
            req.order = Order::Desc;
        } else if eq_ic(a, "count") && i + 1 < rem {
            let n = parse_int(arg(1))?;
            if n <= 0 {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            req.count = n;
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist"))
            && i + 1 < rem
            && kind.takes_store_key()
        {
            req.store = Some(arg(1));
            req.storedist = eq_ic(a, "storedist");
            i += 1;
        } else if eq_ic(a, "storedist") && kind == (Kind::Search { store: true }) {
            req.storedist = true;
        } else if eq_ic(a, "frommember") && i + 1 < rem && search && !fromlonlat {
            // Without a source the member is not looked up; the reply is empty anyway.
            if let Some(z) = z {
                center = Some(member_position(z, arg(1))?);
            }
            frommember = true;
            i += 1;
        } else if eq_ic(a, "fromlonlat") && i + 2 < rem && search && !frommember {
            center = Some(parse_lonlat(arg(1), arg(2))?);
            fromlonlat = true;
            i += 2;
        } else if eq_ic(a, "byradius") && i + 2 < rem && search && !bybox {
            let (r, conv) = parse_radius(arg(1), arg(2))?;
            shape = Some((Shape::Radius(r), conv));
            byradius = true;
            i += 2;
        } else if eq_ic(a, "bybox") && i + 3 < rem && search && !byradius {
            let (w, h, conv) = parse_box(arg(1), arg(2), arg(3))?;
            shape = Some((
                Shape::Box {
                    width: w,
                    height: h,
                },
                conv,
            ));
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if req.store.is_some() && (req.withdist || req.withhash || req.withcoord) {
        let who = if kind == (Kind::Search { store: true }) {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::Msg(format!(
            "ERR {who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    // The command's name as the client spelled it, as Redis quotes it.
    let name = String::from_utf8_lossy(args.get(0));
    if search && !(frommember || fromlonlat) {
        return Err(CmdError::Msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(byradius || bybox) {
        return Err(CmdError::Msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if req.any && req.count == 0 {
        return Err(CmdError::Static(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    if let (Some((lon, lat)), Some((shape, conv))) = (center, shape) {
        req.query = Some(Query {
            lon,
            lat,
            shape,
            conv,
        });
    }
    Ok(req)
}

/// The points of `z` inside the query's shape, cell by cell in Redis's order, each cell in
/// score order; with `limit` > 0 (COUNT … ANY) stop once that many are found.
fn collect<'a>(z: ZRef<'a>, q: &Query, limit: usize, out: &mut Vec<Found<'a>>) {
    let cells = q.cells();
    let t = q.tester();
    // Redis skips a cell equal to the last one it scanned, comparing only once a
    // neighbour (not the centre) has been scanned.
    let mut last = 0usize;
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = *cell else { continue };
        if last != 0 && cells[last] == Some(cell) {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = hash::cell_scores(cell);
        scan_range(z, &t, min, max, limit, out);
        last = i;
    }
}

/// The points with `min <= score < max` that pass the shape test.
fn scan_range<'a>(
    z: ZRef<'a>,
    t: &Tester,
    min: f64,
    max: f64,
    limit: usize,
    out: &mut Vec<Found<'a>>,
) {
    let mut visit = |member: &'a [u8], score: f64| -> bool {
        if let Some((lon, lat, dist)) = t.test(score) {
            out.push(Found {
                member,
                score,
                lon,
                lat,
                dist,
            });
            if limit > 0 && out.len() >= limit {
                return false;
            }
        }
        true
    };
    match z {
        ZRef::Compact(blob) => {
            for p in zset::pairs(blob) {
                if p.score < min {
                    continue;
                }
                if p.score >= max || !visit(p.member, p.score) {
                    break;
                }
            }
        }
        ZRef::Big(_) => {
            let start = z.count_while(|_, s| s < min);
            let end = z.count_while(|_, s| s < max);
            let mut more = true;
            z.for_range(start, end, false, |m, s| {
                if more {
                    more = visit(m, s);
                }
            });
        }
    }
}

/// Run a geo search command.
fn run(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let src_at = if kind == (Kind::Search { store: true }) {
        2
    } else {
        1
    };
    let src = ctx.key(args.get(src_at));
    let dst_arg = match kind {
        Kind::Search { store: true } => Some(args.get(1)),
        Kind::Radius { ro: false } => prescan_store_key(args, 6),
        Kind::ByMember { ro: false } => prescan_store_key(args, 5),
        _ => None,
    };
    let dst_key = dst_arg.map(|d| ctx.key(d));
    let mut txn = match &dst_key {
        Some(d) => ctx.txn(&[src, *d]),
        None => ctx.txn1(&src),
    };
    let z = read_zset(&mut txn, &src)?;
    let req = parse(args, kind, z)?;
    let srv = ctx.srv;
    let db = ctx.sess.db;
    let (Some(z), Some(q)) = (z, req.query) else {
        // No source: an empty reply, or the destination deleted.
        match req.store {
            Some(d) => {
                let dk = ctx.key(d);
                txn.delete(&dk);
                ctx.out.int(0);
            }
            None => ctx.out.array_len(0),
        }
        return Ok(());
    };
    let mut order = req.order;
    if req.count != 0 && order == Order::None && !req.any {
        order = Order::Asc;
    }
    let mut found: Vec<Found<'_>> = Vec::new();
    let limit = if req.any { req.count as usize } else { 0 };
    collect(z, &q, limit, &mut found);
    if found.is_empty() && req.store.is_none() {
        ctx.out.array_len(0);
        return Ok(());
    }
    let total = found.len();
    let n = if req.count == 0 || (total as i64) < req.count {
        total
    } else {
        req.count as usize
    };
    let by_dist = |a: &Found<'_>, b: &Found<'_>| c_cmp(a.dist, b.dist);
    let by_dist_desc = |a: &Found<'_>, b: &Found<'_>| c_cmp(a.dist, b.dist).reverse();
    match (order, n == total) {
        (Order::None, _) => {}
        (Order::Asc, true) => sort::full(&mut found, by_dist),
        (Order::Desc, true) => sort::full(&mut found, by_dist_desc),
        (Order::Asc, false) => sort::partial(&mut found, n, by_dist),
        (Order::Desc, false) => sort::partial(&mut found, n, by_dist_desc),
    }
    let found = &found[..n];
    let Some(d) = req.store else {
        reply(ctx, &req, &q, found);
        return Ok(());
    };
    // Store: the members with their score (or distance in the unit), as a sorted set.
    let mut pairs: Vec<(Vec<u8>, f64)> = found
        .iter()
        .map(|f| {
            let s = if req.storedist {
                f.dist / q.conv
            } else {
                f.score
            };
            (f.member.to_vec(), s)
        })
        .collect();
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    pairs.dedup_by(|a, b| a.0 == b.0);
    let sorted: Vec<(&[u8], f64)> = pairs.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
    let dk = ctx.key(d);
    store_result(ctx, &mut txn, &dk, &sorted);
    if !sorted.is_empty() && kind != (Kind::Search { store: true }) {
        // STORE's key is not among GEORADIUS's fixed key positions: wake BZPOPMIN & co.
        crate::blocking::signal_written(srv, db, d);
    }
    drop(txn);
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's distance comparator: greater, equal (so -0 and 0 tie), else less.
fn c_cmp(a: f64, b: f64) -> std::cmp::Ordering {
    if a > b {
        std::cmp::Ordering::Greater
    } else if a == b {
        std::cmp::Ordering::Equal
    } else {
        std::cmp::Ordering::Less
    }
}

/// The reply of a search that stores nothing.
fn reply(ctx: &mut Ctx<'_>, req: &Request<'_>, q: &Query, found: &[Found<'_>]) {
    let extra = req.withdist as usize + req.withhash as usize + req.withcoord as usize;
    let out = &mut ctx.out;
    out.array_len(found.len());
    for f in found {
        if extra > 0 {
            out.array_len(extra + 1);
        }
        out.bulk(f.member);
        if req.withdist {
            reply_distance(out, f.dist / q.conv);
        }
        if req.withhash {
            out.int(f.score as i64);
        }
        if req.withcoord {
            reply_position(out, f.lon, f.lat);
        }
    }
}

/// GEORADIUS key longitude latitude radius unit [options] [STORE key] [STOREDIST key]
pub(super) fn georadius(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::Radius { ro: false })
}

/// GEORADIUS_RO key longitude latitude radius unit [options]
pub(super) fn georadius_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::Radius { ro: true })
}

/// GEORADIUSBYMEMBER key member radius unit [options] [STORE key] [STOREDIST key]
pub(super) fn georadiusbymember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::ByMember { ro: false })
}

/// GEORADIUSBYMEMBER_RO key member radius unit [options]
pub(super) fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::ByMember { ro: true })
}

/// GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat BYRADIUS r unit | BYBOX w h unit [options]
pub(super) fn geosearch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::Search { store: false })
}

/// GEOSEARCHSTORE dst src FROMMEMBER … | FROMLONLAT … BYRADIUS … | BYBOX … [options]
/// [STOREDIST]
pub(super) fn geosearchstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, Kind::Search { store: true })
}
