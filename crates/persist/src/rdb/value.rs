//! One value of each RDB type, decoded into `storage::dump::Value` (or stepped over, or
//! refused). Collections come out in file order; integers stored as integers come out as
//! their decimal text, which is how Redis itself hands them back.

use std::collections::HashSet;
use std::io::Read;

use storage::dump::Value;

use super::input::{Blob, Input};
use super::{intset, listpack, show, skip, stream, ty, ziplist, zipmap, Elem, RdbError};

/// Quicklist-2 node containers (`QUICKLIST_NODE_CONTAINER_*`).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// The old (type 3) text score's special lengths.
const SCORE_NAN: u8 = 253;
const SCORE_POS_INF: u8 = 254;
const SCORE_NEG_INF: u8 = 255;

/// The two packed element lists a value can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Packed {
    /// Before Redis 7.0: types 10, 12, 13 and type-14 quicklist nodes.
    Ziplist,
    /// Redis 7.0 on: types 16, 17, 20 and type-18 quicklist nodes.
    Listpack,
}

impl Packed {
    fn name(self) -> &'static str {
        match self {
            Packed::Ziplist => "ziplist",
            Packed::Listpack => "listpack",
        }
    }
}

/// A count is trusted for preallocation only up to this.
const PREALLOC_ITEMS: u64 = 1024;

pub(super) enum Decoded {
    Value(Value),
    /// An empty collection: Redis drops these on load.
    Empty,
    /// Stepped over; the kind for the summary.
    Skipped(String),
}

/// The value of type `t` (whose type byte was at `at`).
pub(super) fn read<R: Read>(inp: &mut Input<R>, t: u8, at: u64) -> Result<Decoded, RdbError> {
    let v = match t {
        ty::STRING => Value::String(inp.string("a string value")?),
        ty::LIST => {
            let n = inp.len("a list length")?;
            Value::List(strings(inp, n, "a list element")?)
        }
        ty::SET => {
            let n = inp.len("a set size")?;
            Value::Set(strings(inp, n, "a set member")?)
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = inp.len("a sorted set size")?;
            let mut items = Vec::with_capacity(n.min(PREALLOC_ITEMS) as usize);
            for _ in 0..n {
                let m = inp.string("a sorted set member")?;
                let score_at = inp.pos();
                let score = if t == ty::ZSET_2 {
                    f64::from_le_bytes(inp.array("an 8-byte binary score")?)
                } else {
                    text_score(inp)?
                };
                if score.is_nan() {
                    return Err(RdbError::new(score_at, "expected a score, found NaN"));
                }
                items.push((m, score));
            }
            Value::ZSet(items)
        }
        ty::HASH => {
            let n = inp.len("a hash size")?;
            let mut items = Vec::with_capacity(n.min(PREALLOC_ITEMS) as usize);
            for _ in 0..n {
                let f = inp.string("a hash field")?;
                let v = inp.string("a hash value")?;
                items.push((f, v));
            }
            Value::Hash(items)
        }
        ty::MODULE_PRE_GA => {
            return Err(RdbError::new(
                at,
                "expected a value type that can be loaded or skipped, found 6 (a module value \
                 in the Redis 4.0 release-candidate format: untagged, so its end cannot be \
                 found without the module)",
            ))
        }
        ty::MODULE_2 => {
            return Ok(Decoded::Skipped(format!(
                "module:{}",
                skip::module_value(inp)?
            )))
        }
        ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => {
            // Kept even when it has no entries, as Redis keeps empty streams.
            Value::Stream(Box::new(stream::read(inp, t)?))
        }
        ty::HASH_ZIPMAP => {
            let blob = inp.blob("a zipmap")?;
            let pairs = zipmap::parse(&blob.data).map_err(|b| blob.err("zipmap", b))?;
            Value::Hash(
                pairs
                    .into_iter()
                    .map(|(f, v)| (f.to_vec(), v.to_vec()))
                    .collect(),
            )
        }
        ty::LIST_ZIPLIST => {
            let blob = inp.blob("a list ziplist")?;
            Value::List(elems(&blob, Packed::Ziplist)?)
        }
        ty::SET_INTSET => {
            let blob = inp.blob("an intset")?;
            let ints = intset::parse(&blob.data).map_err(|b| blob.err("intset", b))?;
            Value::Set(
                ints.into_iter()
                    .map(|i| i.to_string().into_bytes())
                    .collect(),
            )
        }
        ty::SET_LISTPACK => {
            let blob = inp.blob("a set listpack")?;
            Value::Set(elems(&blob, Packed::Listpack)?)
        }
        ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
            let kind = if t == ty::ZSET_ZIPLIST {
                Packed::Ziplist
            } else {
                Packed::Listpack
            };
            let blob = inp.blob("a sorted set ziplist or listpack")?;
            let mut items = Vec::new();
            for (m, s) in pairs(&blob, kind)? {
                let score = elem_score(s).map_err(|what| blob_whole_err(&blob, kind, what))?;
                items.push((m, score));
            }
            Value::ZSet(items)
        }
        ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
            let kind = if t == ty::HASH_ZIPLIST {
                Packed::Ziplist
            } else {
                Packed::Listpack
            };
            let blob = inp.blob("a hash ziplist or listpack")?;
            Value::Hash(
                pairs(&blob, kind)?
                    .into_iter()
                    .map(|(f, v)| (f, v.to_vec()))
                    .collect(),
            )
        }
        ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => Value::List(quicklist(inp, t)?),
        8 | 22..=u8::MAX => return Err(unknown_type(t, at)),
    };
    if is_empty(&v) {
        return Ok(Decoded::Empty);
    }
    distinct(&v).map_err(|what| RdbError::new(at, what))?;
    Ok(Decoded::Value(v))
}

/// Refuse a type byte that is neither an opcode nor a known value type.
pub(super) fn check_type(t: u8, at: u64) -> Result<(), RdbError> {
    match t {
        ty::STRING
        | ty::LIST
        | ty::SET
        | ty::ZSET
        | ty::HASH
        | ty::ZSET_2
        | ty::MODULE_PRE_GA
        | ty::MODULE_2
        | ty::HASH_ZIPMAP
        | ty::LIST_ZIPLIST
        | ty::SET_INTSET
        | ty::ZSET_ZIPLIST
        | ty::HASH_ZIPLIST
        | ty::LIST_QUICKLIST
        | ty::STREAM_LISTPACKS
        | ty::HASH_LISTPACK
        | ty::ZSET_LISTPACK
        | ty::LIST_QUICKLIST_2
        | ty::STREAM_LISTPACKS_2
        | ty::SET_LISTPACK
        | ty::STREAM_LISTPACKS_3 => Ok(()),
        8 | 22..=u8::MAX => Err(unknown_type(t, at)),
    }
}

fn unknown_type(t: u8, at: u64) -> RdbError {
    RdbError::new(
        at,
        format!("expected an opcode (0xf5..=0xff) or a value type (0..=7, 9..=21), found {t}"),
    )
}

/// `n` strings in a row.
fn strings<R: Read>(inp: &mut Input<R>, n: u64, what: &str) -> Result<Vec<Vec<u8>>, RdbError> {
    let mut items = Vec::with_capacity(n.min(PREALLOC_ITEMS) as usize);
    for _ in 0..n {
        items.push(inp.string(what)?);
    }
    Ok(items)
}

/// A type-3 score: a length byte (or a special value) and the score as text.
fn text_score<R: Read>(inp: &mut Input<R>) -> Result<f64, RdbError> {
    let at = inp.pos();
    Ok(match inp.u8("the length of a text score")? {
        SCORE_NAN => f64::NAN,
        SCORE_POS_INF => f64::INFINITY,
        SCORE_NEG_INF => f64::NEG_INFINITY,
        n => {
            let text = inp.bytes(u64::from(n), "a text score")?;
            parse_score(&text).ok_or_else(|| {
                RdbError::new(
                    at,
                    format!("expected a score as text, found {}", show(&text)),
                )
            })?
        }
    })
}

/// A score stored as text, as Redis writes it (`%.17g`, "inf", "-inf").
fn parse_score(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.trim().parse::<f64>().ok()
}

/// A score stored in a listpack or ziplist entry: an integer, or text.
fn elem_score(e: Elem<'_>) -> Result<f64, String> {
    let v = match e {
        Elem::Int(i) => i as f64,
        Elem::Str(s) => {
            parse_score(s).ok_or_else(|| format!("expected a score, found {}", show(s)))?
        }
    };
    if v.is_nan() {
        return Err("expected a score, found NaN".into());
    }
    Ok(v)
}

/// An error about a blob's content as a whole (not one byte of it).
fn blob_whole_err(blob: &Blob, kind: Packed, what: String) -> RdbError {
    blob.err(kind.name(), super::Bad::new(0, what))
}

/// The elements of a ziplist or listpack blob.
fn parse_elems(blob: &Blob, kind: Packed) -> Result<Vec<Elem<'_>>, RdbError> {
    let parsed = match kind {
        Packed::Ziplist => ziplist::parse(&blob.data),
        Packed::Listpack => listpack::parse(&blob.data),
    };
    parsed.map_err(|b| blob.err(kind.name(), b))
}

fn elems(blob: &Blob, kind: Packed) -> Result<Vec<Vec<u8>>, RdbError> {
    Ok(parse_elems(blob, kind)?
        .into_iter()
        .map(Elem::to_vec)
        .collect())
}

/// Alternating elements as pairs (hash field/value, zset member/score).
fn pairs(blob: &Blob, kind: Packed) -> Result<Vec<(Vec<u8>, Elem<'_>)>, RdbError> {
    let items = parse_elems(blob, kind)?;
    if items.len() % 2 != 0 {
        return Err(blob_whole_err(
            blob,
            kind,
            format!(
                "expected an even number of entries (pairs), found {}",
                items.len()
            ),
        ));
    }
    Ok(items
        .chunks_exact(2)
        .map(|p| (p[0].to_vec(), p[1]))
        .collect())
}

/// A quicklist: nodes that are ziplists (type 14), or plain elements / listpacks (18).
fn quicklist<R: Read>(inp: &mut Input<R>, t: u8) -> Result<Vec<Vec<u8>>, RdbError> {
    let nodes = inp.len("a quicklist node count")?;
    let mut items = Vec::new();
    for _ in 0..nodes {
        let container_at = inp.pos();
        let container = if t == ty::LIST_QUICKLIST_2 {
            inp.len("a quicklist node container")?
        } else {
            CONTAINER_PACKED
        };
        let blob = inp.blob("a quicklist node")?;
        if blob.data.is_empty() {
            return Err(RdbError::new(
                blob.header_at,
                "expected a quicklist node, found an empty string",
            ));
        }
        match container {
            CONTAINER_PLAIN => items.push(blob.data),
            CONTAINER_PACKED => {
                // Redis skips empty nodes silently; an all-empty list becomes an empty key.
                let kind = if t == ty::LIST_QUICKLIST {
                    Packed::Ziplist
                } else {
                    Packed::Listpack
                };
                items.extend(elems(&blob, kind)?);
            }
            other => {
                return Err(RdbError::new(
                    container_at,
                    format!(
                        "expected a quicklist container 1 (plain) or 2 (packed), found {other}"
                    ),
                ))
            }
        }
    }
    Ok(items)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Stream(_) => false,
        Value::List(i) | Value::Set(i) => i.is_empty(),
        Value::ZSet(i) => i.is_empty(),
        Value::Hash(i) => i.is_empty(),
    }
}

/// Set members, zset members and hash fields must be distinct: Redis refuses duplicates
/// ("Duplicate set members detected"), and a keyspace cannot hold them.
fn distinct(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) | Value::List(_) | Value::Stream(_) => Ok(()),
        Value::Set(i) => first_repeat(i.iter().map(Vec::as_slice), i.len(), "set members"),
        Value::ZSet(i) => first_repeat(
            i.iter().map(|(m, _)| m.as_slice()),
            i.len(),
            "sorted set members",
        ),
        Value::Hash(i) => first_repeat(i.iter().map(|(f, _)| f.as_slice()), i.len(), "hash fields"),
    }
}

/// Most collections in a file are small (listpacks hold at most 128 by default): below
/// this size a pairwise scan is cheaper than building a hash set.
const SCAN_LIMIT: usize = 16;

fn first_repeat<'a>(
    names: impl Iterator<Item = &'a [u8]> + Clone,
    n: usize,
    what: &str,
) -> Result<(), String> {
    let repeat = |name: &[u8]| format!("expected distinct {what}, found {} twice", show(name));
    if n <= SCAN_LIMIT {
        for (k, a) in names.clone().enumerate() {
            if names.clone().skip(k + 1).any(|b| a == b) {
                return Err(repeat(a));
            }
        }
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(n);
    for name in names {
        if !seen.insert(name) {
            return Err(repeat(name));
        }
    }
    Ok(())
}
