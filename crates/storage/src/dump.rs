//! The DUMP/RESTORE payload: one value, type-tagged, versioned and checksummed. rcache's own
//! format (not Redis's RDB encoding), laid out the way Redis lays its payload out so tools
//! that only move payloads between DUMP and RESTORE work unchanged:
//!
//! ```text
//! type: u8 | body | version: u16 LE | crc64: u64 LE (CRC-64/Redis over everything before it)
//!
//! body by type (lengths and counts are LEB128 varints):
//!   0 string  len bytes
//!   1 list    count (len bytes)*
//!   2 set     count (len bytes)*
//!   3 zset    count (len bytes score: f64 LE)*
//!   4 hash    count (len field len value)*
//! ```
//! The type numbers are `ObjType`'s; the version is `VERSION` (a Redis payload, whose version
//! is an RDB version ≤ 11, is rejected by the version check, as Redis rejects newer ones).
//! Decoding checks every length against the bytes left before allocating, so a hostile
//! payload can neither panic nor make us allocate more than its own size. Snapshots can reuse
//! `Value` and the body codec.

use crate::entry::ObjType;

/// Payload format version. Never reuse a number for a different layout.
pub const VERSION: u16 = 0x7201;

const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// A value in owned, encoding-independent form.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
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
            Value::String(_) | Value::List(_) => self.clone(),
        }
    }

    pub fn obj_type(&self) -> ObjType {
        match self {
            Value::String(_) => ObjType::String,
            Value::List(_) => ObjType::List,
            Value::Set(_) => ObjType::Set,
            Value::ZSet(_) => ObjType::ZSet,
            Value::Hash(_) => ObjType::Hash,
        }
    }
}

/// A value borrowed from the bytes it was decoded from (`decode_body_ref`): one `Vec` of
/// slices per collection instead of one allocation per element, for loaders that build
/// entries straight away.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRef<'a> {
    String(&'a [u8]),
    List(Vec<&'a [u8]>),
    Set(Vec<&'a [u8]>),
    ZSet(Vec<(&'a [u8], f64)>),
    Hash(Vec<(&'a [u8], &'a [u8])>),
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
        }
    }

    pub fn obj_type(&self) -> ObjType {
        match self {
            ValueRef::String(_) => ObjType::String,
            ValueRef::List(_) => ObjType::List,
            ValueRef::Set(_) => ObjType::Set,
            ValueRef::ZSet(_) => ObjType::ZSet,
            ValueRef::Hash(_) => ObjType::Hash,
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

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Encode a value's body (no type, version or checksum).
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
    }
}

/// The full DUMP payload of a value.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = vec![v.obj_type() as u8];
    encode_body(v, &mut out);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn len(&mut self) -> Result<usize, DumpError> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.pos).ok_or(DumpError::BadFormat)?;
            self.pos += 1;
            if shift > 56 {
                return Err(DumpError::BadFormat);
            }
            n |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        usize::try_from(n).map_err(|_| DumpError::BadFormat)
    }
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    fn bytes(&mut self) -> Result<&'a [u8], DumpError> {
        let n = self.len()?;
        if n > self.left() {
            return Err(DumpError::BadFormat);
        }
        let v = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(v)
    }
    fn f64(&mut self) -> Result<f64, DumpError> {
        if self.left() < 8 {
            return Err(DumpError::BadFormat);
        }
        let v = f64::from_le_bytes(self.b[self.pos..self.pos + 8].try_into().unwrap());
        self.pos += 8;
        Ok(v)
    }
    /// A count, bounded by what the bytes left could hold (each item ≥ `min_item` bytes).
    fn count(&mut self, min_item: usize) -> Result<usize, DumpError> {
        let n = self.len()?;
        if n > self.left() / min_item {
            return Err(DumpError::BadFormat);
        }
        Ok(n)
    }
}

/// Decode a body of type `ty`; the whole slice must be consumed.
pub fn decode_body(ty: u8, body: &[u8]) -> Result<Value, DumpError> {
    decode_body_ref(ty, body).map(|v| v.to_owned())
}

/// `decode_body`, borrowing from `body` (`ValueRef`).
pub fn decode_body_ref(ty: u8, body: &[u8]) -> Result<ValueRef<'_>, DumpError> {
    let mut r = Reader { b: body, pos: 0 };
    let v = match ObjType::from_u8(ty).ok_or(DumpError::BadFormat)? {
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
                    return Err(DumpError::BadFormat);
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
    };
    if r.left() != 0 {
        return Err(DumpError::BadFormat);
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
    verify(p)?;
    decode_body(p[0], &p[1..p.len() - 10])
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
        fn garbage_never_panics(p in proptest::collection::vec(any::<u8>(), 0..64), ty in 0u8..6) {
            let _ = decode(&p);
            let _ = decode_body(ty, &p);
        }
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
