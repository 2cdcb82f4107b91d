//! The DUMP/RESTORE payload: one value, type-tagged, versioned and checksummed. rcache's own
//! format (not Redis's RDB encoding), laid out the way Redis lays its payload out so tools
//! that only move payloads between DUMP and RESTORE work unchanged:
//!
//! ```text
//! tag: u8 | body | version: u16 LE | crc64: u64 LE (CRC-64/Redis over everything before it)
//!
//! body by tag (lengths and counts are LEB128 varints):
//!   0x00 string       len bytes
//!   0x01 list         count (len bytes)*
//!   0x02 set          count (len bytes)*
//!   0x03 zset         count (len bytes score: f64 LE)*
//!   0x04 hash         count (len field len value)*
//!   0x06 stream       entries, stream fields and consumer groups (`types::stream::value`)
//!   0x11 list, 0x12 set, 0x13 zset, 0x14 hash: the compact blob (`types::compact`) as a
//!        small collection's entry holds it; read back with one copy after `types::checked`
//! ```
//! Tags 0–4 are `ObjType`'s numbers. The compact tags are what snapshots write for small
//! collections (loading then skips rebuilding them element by element); DUMP writes tags 0–4
//! only, so its payloads stay readable by every rcache's RESTORE, and RESTORE reads all nine.
//! The version is `VERSION` (a Redis payload, whose version is an RDB version ≤ 11, is
//! rejected by the version check here; RESTORE then reads it with
//! `persist::rdb::decode_dump_payload`). Decoding checks every length
//! against the bytes left before allocating, so a hostile payload can neither panic nor make
//! us allocate more than its own size. Snapshots reuse `Value`, `Tag` and the body codec.

use crate::entry::ObjType;
use crate::types::checked::{self, CompactRef};
use crate::types::stream::value::StreamValue;

/// Payload format version. Never reuse a number for a different layout.
pub const VERSION: u16 = 0x7201;

/// The byte before a body (in a DUMP payload, and a snapshot record's type byte): the
/// value's type and how its body is laid out. Explicit and never reused; a reader refuses a
/// tag it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// Element by element (the `ObjType` numbers).
    String = 0x00,
    List = 0x01,
    Set = 0x02,
    ZSet = 0x03,
    Hash = 0x04,
    Stream = 0x06,
    /// A small collection's compact blob, as its entry holds it.
    ListCompact = 0x11,
    SetCompact = 0x12,
    ZSetCompact = 0x13,
    HashCompact = 0x14,
}

impl Tag {
    pub fn from_u8(b: u8) -> Option<Tag> {
        Some(match b {
            0x00 => Tag::String,
            0x01 => Tag::List,
            0x02 => Tag::Set,
            0x03 => Tag::ZSet,
            0x04 => Tag::Hash,
            0x06 => Tag::Stream,
            0x11 => Tag::ListCompact,
            0x12 => Tag::SetCompact,
            0x13 => Tag::ZSetCompact,
            0x14 => Tag::HashCompact,
            _ => return None,
        })
    }

    /// The type of value the tag introduces.
    pub fn obj_type(self) -> ObjType {
        match self {
            Tag::String => ObjType::String,
            Tag::List | Tag::ListCompact => ObjType::List,
            Tag::Set | Tag::SetCompact => ObjType::Set,
            Tag::ZSet | Tag::ZSetCompact => ObjType::ZSet,
            Tag::Hash | Tag::HashCompact => ObjType::Hash,
            Tag::Stream => ObjType::Stream,
        }
    }

    /// The element-by-element tag of a type.
    pub fn elements(ty: ObjType) -> Tag {
        match ty {
            ObjType::String => Tag::String,
            ObjType::List => Tag::List,
            ObjType::Set => Tag::Set,
            ObjType::ZSet => Tag::ZSet,
            ObjType::Hash => Tag::Hash,
            ObjType::Stream => Tag::Stream,
        }
    }

    /// The compact-blob tag of a collection type (`None` for a string).
    pub fn compact(ty: ObjType) -> Option<Tag> {
        Some(match ty {
            ObjType::String | ObjType::Stream => return None,
            ObjType::List => Tag::ListCompact,
            ObjType::Set => Tag::SetCompact,
            ObjType::ZSet => Tag::ZSetCompact,
            ObjType::Hash => Tag::HashCompact,
        })
    }

    pub fn is_compact(self) -> bool {
        self as u8 >= 0x11
    }
}

const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// A value in owned, encoding-independent form.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<StreamValue>),
}

impl Value {
    /// The value with its unordered parts sorted (set members, hash fields, sorted-set
    /// members by name), so two values holding the same data compare equal whatever order
    /// an encoding kept them in. Lists and strings are returned as they are.
    pub fn canonical(&self) -> Value {
        match self {
            Value::Set(m) => {
                let mut m = m.clone();
                m.sort();
                Value::Set(m)
            }
            Value::Hash(h) => {
                let mut h = h.clone();
                h.sort();
                Value::Hash(h)
            }
            Value::ZSet(z) => {
                let mut z = z.clone();
                z.sort_by(|a, b| a.0.cmp(&b.0));
                Value::ZSet(z)
            }
            Value::String(_) | Value::List(_) | Value::Stream(_) => self.clone(),
        }
    }

    pub fn obj_type(&self) -> ObjType {
        match self {
            Value::String(_) => ObjType::String,
            Value::List(_) => ObjType::List,
            Value::Set(_) => ObjType::Set,
            Value::ZSet(_) => ObjType::ZSet,
            Value::Hash(_) => ObjType::Hash,
            Value::Stream(_) => ObjType::Stream,
        }
    }
}

/// A value borrowed from the bytes it was decoded from (`decode_body_ref`): one `Vec` of
/// slices per collection instead of one allocation per element, or a checked compact blob
/// that an entry takes as it is, for loaders that build entries straight away.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRef<'a> {
    String(&'a [u8]),
    List(Vec<&'a [u8]>),
    Set(Vec<&'a [u8]>),
    ZSet(Vec<(&'a [u8], f64)>),
    Hash(Vec<(&'a [u8], &'a [u8])>),
    /// A stream (decoded to its owned form: streams are rebuilt block by block anyway).
    Stream(Box<StreamValue>),
    /// A collection in its compact encoding (tags 0x11–0x14), already checked.
    Compact(CompactRef<'a>),
}

impl ValueRef<'_> {
    pub fn to_owned(&self) -> Value {
        let v = |x: &[&[u8]]| x.iter().map(|b| b.to_vec()).collect();
        match self {
            ValueRef::String(s) => Value::String(s.to_vec()),
            ValueRef::List(x) => Value::List(v(x)),
            ValueRef::Set(x) => Value::Set(v(x)),
            ValueRef::ZSet(x) => Value::ZSet(x.iter().map(|(m, s)| (m.to_vec(), *s)).collect()),
            ValueRef::Hash(x) => {
                Value::Hash(x.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
            }
            ValueRef::Compact(c) => c.to_value(),
            ValueRef::Stream(s) => Value::Stream(s.clone()),
        }
    }

    pub fn obj_type(&self) -> ObjType {
        match self {
            ValueRef::String(_) => ObjType::String,
            ValueRef::List(_) => ObjType::List,
            ValueRef::Set(_) => ObjType::Set,
            ValueRef::ZSet(_) => ObjType::ZSet,
            ValueRef::Hash(_) => ObjType::Hash,
            ValueRef::Stream(_) => ObjType::Stream,
            ValueRef::Compact(c) => c.obj_type(),
        }
    }

    /// A collection with no elements (which cannot exist: Redis deletes emptied keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            ValueRef::String(_) | ValueRef::Stream(_) => false,
            ValueRef::List(v) | ValueRef::Set(v) => v.is_empty(),
            ValueRef::ZSet(v) => v.is_empty(),
            ValueRef::Hash(v) => v.is_empty(),
            ValueRef::Compact(c) => c.elements() == 0,
        }
    }
}

impl Value {
    /// This value borrowed (`ValueRef`), for code written once over borrowed values.
    pub fn as_ref(&self) -> ValueRef<'_> {
        fn v(x: &[Vec<u8>]) -> Vec<&[u8]> {
            x.iter().map(Vec::as_slice).collect()
        }
        match self {
            Value::String(s) => ValueRef::String(s),
            Value::List(x) => ValueRef::List(v(x)),
            Value::Set(x) => ValueRef::Set(v(x)),
            Value::ZSet(x) => ValueRef::ZSet(x.iter().map(|(m, s)| (m.as_slice(), *s)).collect()),
            Value::Hash(x) => ValueRef::Hash(
                x.iter()
                    .map(|(f, v)| (f.as_slice(), v.as_slice()))
                    .collect(),
            ),
            Value::Stream(s) => ValueRef::Stream(s.clone()),
        }
    }
}

/// Why a payload was refused; the two cases Redis distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpError {
    /// Too short, wrong version or wrong checksum.
    VersionOrChecksum,
    /// Checksum fine but the body does not decode.
    BadFormat,
}

pub(crate) fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Encode a value's body, element by element (no tag, version or checksum); its tag is
/// `v.obj_type()`'s number.
pub fn encode_body(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => put_bytes(out, s),
        Value::List(items) | Value::Set(items) => {
            put_len(out, items.len());
            for i in items {
                put_bytes(out, i);
            }
        }
        Value::ZSet(items) => {
            put_len(out, items.len());
            for (m, s) in items {
                put_bytes(out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        Value::Hash(items) => {
            put_len(out, items.len());
            for (f, v) in items {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
        Value::Stream(s) => s.encode(out),
    }
}

/// The full DUMP payload of a value (element by element: tags 0–4).
pub fn encode(v: &Value) -> Vec<u8> {
    let mut body = Vec::new();
    encode_body(v, &mut body);
    payload(Tag::elements(v.obj_type()), &body)
}

pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

/// Why a body does not decode, in the words "expected …" completes.
pub(crate) type Why = &'static str;

impl<'a> Reader<'a> {
    /// A full 64-bit varint (up to 10 bytes): stream IDs, times and counters.
    pub(crate) fn u64(&mut self) -> Result<u64, Why> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self
                .b
                .get(self.pos)
                .ok_or("a number, found the end of the body")?;
            self.pos += 1;
            if shift > 63 || (shift == 63 && byte > 1) {
                return Err("a number of at most 64 bits");
            }
            n |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
        }
    }
    pub(crate) fn len(&mut self) -> Result<usize, Why> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self
                .b
                .get(self.pos)
                .ok_or("a length or count, found the end of the body")?;
            self.pos += 1;
            if shift > 56 {
                return Err("a length or count of at most 9 varint bytes");
            }
            n |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        usize::try_from(n).map_err(|_| "a length that fits in memory")
    }
    pub(crate) fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Why> {
        let n = self.len()?;
        if n > self.left() {
            return Err("an element whose bytes fit in the body");
        }
        let v = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(v)
    }
    fn f64(&mut self) -> Result<f64, Why> {
        if self.left() < 8 {
            return Err("an 8-byte score, found the end of the body");
        }
        let v = f64::from_le_bytes(self.b[self.pos..self.pos + 8].try_into().unwrap());
        self.pos += 8;
        Ok(v)
    }
    /// A count, bounded by what the bytes left could hold (each item ≥ `min_item` bytes).
    pub(crate) fn count(&mut self, min_item: usize) -> Result<usize, Why> {
        let n = self.len()?;
        if n > self.left() / min_item {
            return Err("an element count the body's bytes can hold");
        }
        Ok(n)
    }
}

/// Decode a body of tag `tag`; the whole slice must be consumed.
pub fn decode_body(tag: u8, body: &[u8]) -> Result<Value, DumpError> {
    decode_body_ref(tag, body).map(|v| v.to_owned())
}

/// `decode_body`, borrowing from `body` (`ValueRef`).
pub fn decode_body_ref(tag: u8, body: &[u8]) -> Result<ValueRef<'_>, DumpError> {
    decode_body_why(tag, body).map_err(|_| DumpError::BadFormat)
}

/// `decode_body_ref`, saying what was expected where it fails (the snapshot reader's
/// errors).
pub fn decode_body_why(tag: u8, body: &[u8]) -> Result<ValueRef<'_>, Why> {
    let tag = Tag::from_u8(tag).ok_or("a known value tag")?;
    if tag.is_compact() {
        return checked::check(tag.obj_type(), body).map(ValueRef::Compact);
    }
    let mut r = Reader { b: body, pos: 0 };
    let v = match tag.obj_type() {
        ObjType::String => ValueRef::String(r.bytes()?),
        t @ (ObjType::List | ObjType::Set) => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.bytes()?);
            }
            if t == ObjType::List {
                ValueRef::List(items)
            } else {
                ValueRef::Set(items)
            }
        }
        ObjType::ZSet => {
            let n = r.count(9)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.bytes()?;
                let s = r.f64()?;
                if s.is_nan() {
                    return Err("a score that is a number (not NaN)");
                }
                items.push((m, s));
            }
            ValueRef::ZSet(items)
        }
        ObjType::Hash => {
            let n = r.count(2)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let f = r.bytes()?;
                let v = r.bytes()?;
                items.push((f, v));
            }
            ValueRef::Hash(items)
        }
        ObjType::Stream => ValueRef::Stream(Box::new(crate::types::stream::value::decode(&mut r)?)),
    };
    if r.left() != 0 {
        return Err("the end of the body after its last element");
    }
    Ok(v)
}

/// Check a payload's version and checksum (Redis's `verifyDumpPayload`).
pub fn verify(p: &[u8]) -> Result<(), DumpError> {
    if p.len() < 11 {
        return Err(DumpError::VersionOrChecksum);
    }
    let (data, crc) = p.split_at(p.len() - 8);
    let ver = u16::from_le_bytes(data[data.len() - 2..].try_into().unwrap());
    if ver != VERSION || CRC.checksum(data) != u64::from_le_bytes(crc.try_into().unwrap()) {
        return Err(DumpError::VersionOrChecksum);
    }
    Ok(())
}

/// Decode a DUMP payload.
pub fn decode(p: &[u8]) -> Result<Value, DumpError> {
    decode_ref(p).map(|v| v.to_owned())
}

/// Decode a DUMP payload, borrowing from it (RESTORE: a compact body becomes the entry's
/// value with one copy).
pub fn decode_ref(p: &[u8]) -> Result<ValueRef<'_>, DumpError> {
    verify(p)?;
    decode_body_ref(p[0], &p[1..p.len() - 10])
}

/// A DUMP payload around a body already encoded with `tag` (tests, tools).
pub fn payload(tag: Tag, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 11);
    out.push(tag as u8);
    out.extend_from_slice(body);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    fn value() -> impl Strategy<Value = Value> {
        let items = || proptest::collection::vec(bytes(), 0..20);
        prop_oneof![
            bytes().prop_map(Value::String),
            items().prop_map(Value::List),
            items().prop_map(Value::Set),
            proptest::collection::vec(
                (bytes(), any::<f64>().prop_filter("nan", |f| !f.is_nan())),
                0..20
            )
            .prop_map(Value::ZSet),
            proptest::collection::vec((bytes(), bytes()), 0..20).prop_map(Value::Hash),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(v in value()) {
            let p = encode(&v);
            prop_assert_eq!(decode(&p).unwrap(), v);
        }

        #[test]
        fn any_flip_is_refused(v in value(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut p = encode(&v);
            let i = at.index(p.len());
            p[i] ^= 1 << bit;
            prop_assert!(decode(&p).is_err());
        }

        #[test]
        fn garbage_never_panics(
            p in proptest::collection::vec(any::<u8>(), 0..64),
            ty in prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15]),
        ) {
            let _ = decode(&p);
            if let Ok(v) = decode_body_ref(ty, &p) {
                // Whatever decodes can be built into an entry and read back unchanged.
                let lim = crate::Limits::default();
                let e = crate::types::generic::from_value_ref(b"k", 0, 0, &v, &lim);
                if matches!(v, ValueRef::Compact(_)) {
                    prop_assert_eq!(
                        crate::types::generic::to_value(&e).canonical(),
                        v.to_owned().canonical()
                    );
                }
            }
        }

        /// A small collection's compact blob, as its entry holds it, is a payload RESTORE
        /// reads back to the same value (tags 0x11–0x14); any flipped bit is refused.
        #[test]
        fn compact_payloads_round_trip(v in value(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let lim = crate::Limits::default();
            let e = crate::types::generic::from_value(b"k", 0, 0, &v, &lim);
            let tag = crate::types::generic::body_tag(&e, true);
            let mut body = Vec::new();
            crate::types::generic::write_body(&e, tag, &mut body);
            let p = payload(tag, &body);
            let want = crate::types::generic::to_value(&e);
            prop_assert_eq!(decode(&p).unwrap(), want.clone());
            prop_assert_eq!(tag.is_compact(), e.enc() == crate::Enc::Compact);
            // The element-by-element body of the same entry decodes to the same value.
            let elements = Tag::elements(e.obj_type());
            let mut body = Vec::new();
            crate::types::generic::write_body(&e, elements, &mut body);
            prop_assert_eq!(decode(&payload(elements, &body)).unwrap(), want);
            let mut bad = p.clone();
            let i = at.index(bad.len());
            bad[i] ^= 1 << bit;
            prop_assert!(decode(&bad).is_err());
        }

        /// A compact body cut short anywhere is refused, checksum or not.
        #[test]
        fn truncated_compact_bodies_are_refused(v in value(), at in any::<prop::sample::Index>()) {
            let lim = crate::Limits::default();
            let e = crate::types::generic::from_value(b"k", 0, 0, &v, &lim);
            let tag = crate::types::generic::body_tag(&e, true);
            prop_assume!(tag.is_compact());
            let body = e.value();
            let cut = at.index(body.len());
            prop_assert_eq!(
                decode(&payload(tag, &body[..cut])),
                Err(DumpError::BadFormat)
            );
        }
    }

    #[test]
    fn compact_payload_with_a_good_checksum_but_a_bad_blob_is_bad_format() {
        let blob = crate::types::compact::build([&b"a"[..], b"b", b"a"]);
        let p = payload(Tag::SetCompact, &blob);
        assert!(verify(&p).is_ok());
        assert_eq!(decode(&p), Err(DumpError::BadFormat));
        assert_eq!(
            decode_body_why(Tag::SetCompact as u8, &blob),
            Err("set members that are distinct (a member repeats)")
        );
        // As a list the same blob is fine.
        assert_eq!(
            decode(&payload(Tag::ListCompact, &blob)).unwrap(),
            Value::List(vec![b"a".to_vec(), b"b".to_vec(), b"a".to_vec()])
        );
        assert!(decode(&payload(Tag::ListCompact, &blob[..blob.len() - 1])).is_err());
    }

    #[test]
    fn tags_are_explicit() {
        for b in 0..=255u8 {
            if let Some(t) = Tag::from_u8(b) {
                assert_eq!(t as u8, b);
                assert_eq!(t.is_compact(), b >= 0x11);
                if !t.is_compact() {
                    assert_eq!(t as u8, t.obj_type() as u8);
                    assert_eq!(Tag::elements(t.obj_type()), t);
                } else {
                    assert_eq!(Tag::compact(t.obj_type()), Some(t));
                }
            }
        }
        assert_eq!(Tag::compact(ObjType::String), None);
    }

    #[test]
    fn golden_string_payload() {
        let p = encode(&Value::String(b"hi".to_vec()));
        assert_eq!(&p[..5], &[0, 2, b'h', b'i', 0x01]);
        assert_eq!(p[5], 0x72);
        assert_eq!(decode(&p[..p.len() - 1]), Err(DumpError::VersionOrChecksum));
    }

    #[test]
    fn lying_count_is_refused_without_allocating() {
        // A list claiming 2^60 items in a 12-byte body.
        let mut body = vec![];
        put_len(&mut body, 1 << 60);
        assert_eq!(decode_body(1, &body), Err(DumpError::BadFormat));
    }
}
