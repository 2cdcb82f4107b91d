//! SORT and SORT_RO: sort a list, set or sorted set's elements numerically or
//! lexicographically, optionally by external weights (`BY pattern`, `nosort`), fetch
//! external values (`GET pattern`, `#` = the element), page (`LIMIT`), and store the result as
//! a list (`STORE`, SORT only). Semantics and words are Redis 7.0's:
//! * numeric sort parses each weight as a double ("ERR One or more scores can't be converted
//!   into double"); equal weights order by the element bytes, so the result is deterministic;
//! * a missing weight key counts as 0 (numeric) or sorts first (ALPHA);
//! * `pattern` replaces the first `*` with the element; `key->field` reads a hash field.
//!
//! Patterns may name any key, so a SORT with BY or GET patterns locks every shard of the
//! database for its duration (as a multi-key command would); without patterns it locks only
//! its key and destination.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use storage::types::generic;
use storage::{Entry, ObjType, Txn};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, sort, "generic", "1.0.0",
        "Sort the elements in a list, set or sorted set",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]"),
    cmd!("sort_ro", -2, READONLY | MOVABLE_KEYS, 1, 1, 1, sort_ro, "generic", "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]"),
];

struct Opts<'a> {
    by: Option<&'a [u8]>,
    nosort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

const BY_DENIED: &str = "ERR BY option of SORT denied due to insufficient ACL permissions.";
const GET_DENIED: &str = "ERR GET option of SORT denied due to insufficient ACL permissions.";

/// `may_read_all`: whether the user may read every key (`acl::may_read_every_key`), asked
/// at the first BY pattern or GET: Redis refuses those options to other users, as they
/// read keys the ACL check never saw.
fn parse<'a>(
    args: &Args<'a>,
    readonly: bool,
    may_read_all: &dyn Fn() -> bool,
) -> Result<Opts<'a>, CmdError> {
    let mut o = Opts {
        by: None,
        nosort: false,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let left = args.len() - i - 1;
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.limit = Some((parse_int(args.get(i + 1))?, parse_int(args.get(i + 2))?));
            i += 2;
        } else if eq_ic(a, "store") && left >= 1 && !readonly {
            o.store = Some(args.get(i + 1));
            i += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let p = args.get(i + 1);
            // A pattern without '*' cannot vary by element: Redis skips sorting then.
            if !p.contains(&b'*') {
                o.nosort = true;
            } else if !may_read_all() {
                return Err(CmdError::Static(BY_DENIED));
            }
            o.by = Some(p);
            i += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            // Even `GET #` (Redis refuses every GET).
            if !may_read_all() {
                return Err(CmdError::Static(GET_DENIED));
            }
            o.gets.push(args.get(i + 1));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Cluster mode, before a SORT is relayed to its key's owner (which runs it as the
/// trusted bus): the refusal of a BY pattern or GET this user may not use, if any.
pub(crate) fn acl_refusal(
    srv: &crate::ServerState,
    sess: &crate::clients::Session,
    args: Args<'_>,
) -> Result<(), String> {
    let readonly = args.get(0).eq_ignore_ascii_case(b"sort_ro");
    let may = std::cell::OnceCell::new();
    let may_read_all = || *may.get_or_init(|| crate::acl::may_read_every_key(srv, sess, args));
    match parse(&args, readonly, &may_read_all) {
        Err(CmdError::Static(m)) if m == BY_DENIED || m == GET_DENIED => Err(m.to_string()),
        _ => Ok(()),
    }
}

fn sort(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, true)
}

/// Look a pattern up for one element: `#` is the element itself; otherwise the first `*`
/// is replaced by the element and the key (or `key->field`) is read. None when missing or
/// of the wrong type.
fn lookup(
    txn: &mut Txn<'_>,
    ctx_ks: &storage::Keyspace,
    pat: &[u8],
    elem: &[u8],
) -> Option<Vec<u8>> {
    if pat == b"#" {
        return Some(elem.to_vec());
    }
    let star = pat.iter().position(|&c| c == b'*')?;
    // "->" after the star selects a hash field (Redis looks for the last "->").
    let arrow = pat
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&p| p > star && p + 2 < pat.len());
    let (key_pat, field) = match arrow {
        Some(p) => (&pat[..p], Some(&pat[p + 2..])),
        None => (pat, None),
    };
    let mut name = Vec::with_capacity(key_pat.len() + elem.len());
    name.extend_from_slice(&key_pat[..star]);
    name.extend_from_slice(elem);
    name.extend_from_slice(&key_pat[star + 1..]);
    let k = ctx_ks.key(&name);
    let e = txn.get(&k)?;
    match (field, e.obj_type()) {
        (None, ObjType::String) => Some(e.value().to_vec()),
        (Some(f), ObjType::Hash) => generic::hash_field(e, f),
        _ => None,
    }
}

fn run(ctx: &mut Ctx<'_>, args: Args<'_>, readonly: bool) -> CmdResult {
    let mut o = {
        let (srv, sess) = (ctx.srv, &*ctx.sess);
        let may = std::cell::OnceCell::new();
        let may_read_all = || *may.get_or_init(|| crate::acl::may_read_every_key(srv, sess, args));
        parse(&args, readonly, &may_read_all)?
    };
    let ks = &ctx.srv.ks;
    let key = ks.key(args.get(1));
    let dest = o.store.map(|d| ks.key(d));
    let patterns = (o.by.is_some() && !o.nosort) || o.gets.iter().any(|g| *g != b"#");
    let mut txn = if patterns {
        let mut t = ks.txn_all(ctx.sess.db);
        t.set_no_touch(ctx.sess.no_touch);
        t
    } else {
        match &dest {
            Some(d) => ctx.txn(&[key, *d]),
            None => ctx.txn1(&key),
        }
    };
    let (mut elems, is_zset) = match txn.get(&key) {
        None => (Vec::new(), false),
        Some(e) => match generic::sort_input(e) {
            Some(v) => (v, e.obj_type() == ObjType::ZSet),
            None => return Err(CmdError::WrongType),
        },
    };
    // Redis: BY nosort on a set with STORE sorts anyway (ALPHA): a set's order is chance,
    // and what is stored must be what the log's replay stores too.
    if o.nosort && dest.is_some() && txn.peek(&key).is_some_and(|e| e.obj_type() == ObjType::Set) {
        o.nosort = false;
        o.alpha = true;
        o.by = None;
    }
    // Weights, then sort (unless BY nosort; a sorted set keeps its own order then).
    if !o.nosort {
        let mut keyed: Vec<(Option<Vec<u8>>, f64, Vec<u8>)> = Vec::with_capacity(elems.len());
        for el in elems.drain(..) {
            let w = match o.by {
                Some(p) => lookup(&mut txn, ks, p, &el),
                None => Some(el.clone()),
            };
            let score = if o.alpha {
                0.0
            } else {
                match &w {
                    None => 0.0,
                    Some(b) => parse_weight(b)?,
                }
            };
            keyed.push((w, score, el));
        }
        keyed.sort_by(|a, b| {
            let c = if o.alpha {
                match (&a.0, &b.0) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
                // Equal weights: the element decides, so the order never depends on how a
                // set happens to iterate (what STORE writes must replay the same).
                .then_with(|| a.2.cmp(&b.2))
            } else {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.2.cmp(&b.2))
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
        elems = keyed.into_iter().map(|k| k.2).collect();
    } else if is_zset && o.desc {
        elems.reverse();
    }
    // LIMIT: a negative offset counts as 0, a negative count as "to the end".
    if let Some((off, count)) = o.limit {
        let start = (off.max(0) as usize).min(elems.len());
        let end = if count < 0 {
            elems.len()
        } else {
            start.saturating_add(count as usize).min(elems.len())
        };
        elems = elems[start..end].to_vec();
    }
    // The output rows: the elements themselves, or one value per GET pattern each.
    let mut rows: Vec<Option<Vec<u8>>> = Vec::new();
    if o.gets.is_empty() {
        rows.extend(elems.into_iter().map(Some));
    } else {
        for el in &elems {
            for g in &o.gets {
                rows.push(lookup(&mut txn, ks, g, el));
            }
        }
    }
    match dest {
        Some(d) => {
            let n = rows.len();
            txn.delete(&d);
            if n > 0 {
                let items: Vec<Vec<u8>> = rows.into_iter().map(Option::unwrap_or_default).collect();
                let v = storage::dump::Value::List(items);
                let limits = ctx.srv.settings.limits();
                let lru = txn.initial_lru();
                let e: Entry = generic::from_value(d.bytes, d.slot, lru, &v, &limits);
                txn.put_entry(&d, e, 0);
                // STORE is not among SORT's key positions: wake BLPOP & co. on it here.
                crate::blocking::signal_written(ctx.srv, ctx.sess.db, d.bytes);
            }
            drop(txn);
            ctx.out.int(n as i64);
        }
        None => {
            drop(txn);
            ctx.out.array_len(rows.len());
            for r in rows {
                match r {
                    Some(b) => ctx.out.bulk(&b),
                    None => ctx.out.null(),
                }
            }
        }
    }
    Ok(())
}

fn parse_weight(b: &[u8]) -> Result<f64, CmdError> {
    const E: CmdError = CmdError::Static("ERR One or more scores can't be converted into double");
    let s = std::str::from_utf8(b).map_err(|_| E)?;
    // strtod skips leading blanks and, like Rust's parser, rejects trailing junk.
    let v: f64 = s.trim_start().parse().map_err(|_| E)?;
    if v.is_nan() {
        return Err(E);
    }
    Ok(v)
}
