//! `Entry`: one key and its value in a single heap allocation.
//!
//! Layout (little-endian), inside a `ThinVec<u8>` (a one-pointer vector whose length and
//! capacity live in the allocation):
//! ```text
//! 0      8      12     16       20     22    23    24
//! expire | lru  | klen | volidx | slot | type | enc | key bytes | value bytes
//! ```
//! * `expire`: absolute ms since the epoch, 0 = no TTL.
//! * `lru`: LRU clock (seconds) or, under an LFU policy, minutes<<8 | log counter (as Redis).
//! * `volidx`: position in the shard's volatile-key list, `NO_VOL` when the key has no TTL.
//! * `slot`: the hash slot, computed once when the key is created.
//! * `type`: the Redis type (`ObjType`); `enc`: how the value bytes are laid out (`Enc`):
//!   a string's bytes, a small collection's compact blob (`types::compact`), or, for a large
//!   collection, an 8-byte pointer to a boxed `types::Collection` that this entry owns.
//!
//! **memcached metadata** (`Enc::Meta`). A string written through the memcached door carries
//! a 16-byte prefix between key and value: client flags (u32), CAS unique (u64, 0 = none
//! stamped yet) and memcached's item bits (u32: fetched, stale, win token sent). `value()`
//! skips it (the offset is computed without a branch from the `enc` byte), so every RESP
//! string path sees only the user's bytes, and plain strings (`Enc::Raw`) pay nothing. A
//! write that replaces the value (`set_value`: SET, INCR…) drops the prefix (flags back to
//! 0); an in-place edit (`append`, `value_mut`, `resize_value`: APPEND, SETRANGE, SETBIT)
//! keeps the flags and clears the CAS, so the next `gets` stamps a new one and a client's
//! old CAS no longer matches (memcached: any modification changes the CAS). CAS values come
//! from one process-wide counter (`next_cas`).
//!
//! The table holds only the 8-byte pointer, so a 16-byte key with a 100-byte value costs one
//! 160-byte allocation plus about 20 bytes of index: less than Redis's dictEntry + robj + two
//! sds strings + bucket (≈200 bytes for the same pair).

use crate::types::Collection;
use thin_vec::ThinVec;

pub const HDR: usize = 24;
pub const NO_VOL: u32 = u32::MAX;
const O_EXPIRE: usize = 0;
const O_LRU: usize = 8;
const O_KLEN: usize = 12;
const O_VOL: usize = 16;
const O_SLOT: usize = 20;
const O_TYPE: usize = 22;
const O_ENC: usize = 23;

/// Bytes of index structures per entry beyond its allocation (table pointer, index slot,
/// allocator rounding), used by memory accounting.
pub const TABLE_OVERHEAD: usize = 16;

/// The Redis type of a value. Wire/on-disk values are explicit and never reused (they are
/// Redis's own OBJ_* numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ObjType {
    String = 0,
    List = 1,
    Set = 2,
    ZSet = 3,
    Hash = 4,
    /// Redis's OBJ_STREAM (5 is Redis's module type, which rcache has not).
    Stream = 6,
}

impl ObjType {
    /// The name TYPE and SCAN TYPE use.
    pub fn name(self) -> &'static str {
        match self {
            ObjType::String => "string",
            ObjType::List => "list",
            ObjType::Set => "set",
            ObjType::ZSet => "zset",
            ObjType::Hash => "hash",
            ObjType::Stream => "stream",
        }
    }

    pub fn from_u8(b: u8) -> Option<ObjType> {
        Some(match b {
            0 => ObjType::String,
            1 => ObjType::List,
            2 => ObjType::Set,
            3 => ObjType::ZSet,
            4 => ObjType::Hash,
            6 => ObjType::Stream,
            _ => return None,
        })
    }
}

/// How an entry's value bytes are laid out. Explicit values, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Enc {
    /// A string's bytes.
    Raw = 0,
    /// A small collection's compact blob (`types::compact`), stored inline.
    Compact = 1,
    /// An 8-byte pointer to a `Box<Collection>` owned by the entry.
    Boxed = 2,
    /// A string with a memcached prefix (`McMeta`, `META_LEN` bytes) before its bytes.
    Meta = 3,
}

/// Bytes of the memcached prefix of an `Enc::Meta` string: flags u32, cas u64, bits u32.
pub const META_LEN: usize = 16;

/// memcached's per-item data, kept only for strings written through the memcached door.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct McMeta {
    /// The client's 32-bit opaque flags.
    pub flags: u32,
    /// The CAS unique; 0 = none stamped yet (the next `gets` stamps one).
    pub cas: u64,
    /// `MC_FETCHED` | `MC_STALE` | `MC_WIN_SENT`.
    pub bits: u32,
}

/// The item was read since it was stored (meta `h`).
pub const MC_FETCHED: u32 = 1;
/// Marked stale by `md … I` or `ms … I` (meta `X`).
pub const MC_STALE: u32 = 2;
/// A client was handed the win token to recache it (meta `W` sent; others see `Z`).
pub const MC_WIN_SENT: u32 = 4;

static CAS_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh CAS unique, never 0, never handed out twice in this process.
pub fn next_cas() -> u64 {
    CAS_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What a write does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Remove any TTL (plain SET).
    Clear,
    /// Keep the TTL the key had (KEEPTTL, APPEND, INCR…).
    Keep,
    /// Expire at this absolute time in ms.
    At(u64),
}

pub struct Entry(ThinVec<u8>);

// SAFETY: the only non-byte content is the owned `Box<Collection>` behind an `Enc::Boxed`
// pointer, and `Collection` is Send + Sync; the entry owns it exclusively.
unsafe impl Send for Entry {}
unsafe impl Sync for Entry {}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.enc() == Enc::Boxed {
            drop(self.take_box());
        }
    }
}

/// Append bytes with one memcpy. (`ThinVec::extend_from_slice` copies element by element,
/// which profiled at 20% of a 1000-byte SET.)
#[inline]
fn push_slice(v: &mut ThinVec<u8>, s: &[u8]) {
    v.reserve(s.len());
    let len = v.len();
    // SAFETY: `reserve` guaranteed capacity for `len + s.len()` bytes; the source and the
    // vector's spare capacity cannot overlap; every byte up to the new length is written.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), v.as_mut_ptr().add(len), s.len());
        v.set_len(len + s.len());
    }
}

/// Grow or shrink to `new_len`, zero-filling growth with one memset.
fn resize_zeroed(v: &mut ThinVec<u8>, new_len: usize) {
    let len = v.len();
    if new_len <= len {
        v.truncate(new_len);
        return;
    }
    v.reserve(new_len - len);
    // SAFETY: capacity reserved above; the bytes from len to new_len are initialised by
    // write_bytes before the length covers them.
    unsafe {
        std::ptr::write_bytes(v.as_mut_ptr().add(len), 0, new_len - len);
        v.set_len(new_len);
    }
}

impl Entry {
    /// A new string entry.
    pub fn new_string(key: &[u8], value: &[u8], slot: u16, lru: u32) -> Entry {
        let mut v: ThinVec<u8> = ThinVec::with_capacity(HDR + key.len() + value.len());
        push_slice(&mut v, &[0u8; HDR]);
        push_slice(&mut v, key);
        push_slice(&mut v, value);
        let mut e = Entry(v);
        e.put_u32(O_LRU, lru);
        e.put_u32(O_KLEN, key.len() as u32);
        e.put_u32(O_VOL, NO_VOL);
        e.0[O_SLOT..O_SLOT + 2].copy_from_slice(&slot.to_le_bytes());
        e.0[O_TYPE] = ObjType::String as u8;
        e
    }

    /// A small collection stored inline as a compact blob (`types::compact`).
    pub fn new_compact(key: &[u8], ty: ObjType, blob: &[u8], slot: u16, lru: u32) -> Entry {
        let mut e = Entry::new_string(key, blob, slot, lru);
        e.0[O_TYPE] = ty as u8;
        e.0[O_ENC] = Enc::Compact as u8;
        e
    }

    /// A large collection, boxed; the entry owns it.
    pub fn new_boxed(key: &[u8], c: Box<Collection>, slot: u16, lru: u32) -> Entry {
        let ty = c.obj_type();
        let mut e = Entry::new_string(key, &[], slot, lru);
        e.set_boxed(c);
        e.0[O_TYPE] = ty as u8;
        e
    }

    /// A copy of this entry under another key (RENAME, COPY, MOVE), without TTL bookkeeping.
    /// A boxed collection is deep-copied.
    pub fn clone_as(&self, key: &[u8], slot: u16) -> Entry {
        if let Some(c) = self.collection() {
            let mut e = Entry::new_boxed(key, Box::new(c.clone()), slot, self.lru());
            e.0[O_TYPE] = self.0[O_TYPE];
            return e;
        }
        // The raw value area: a memcached prefix travels with the bytes (flags survive
        // RENAME/COPY); the copy's CAS is cleared, as it is a new item.
        let raw = &self.0[HDR + self.key_len()..];
        let mut e = Entry::new_string(key, raw, slot, self.lru());
        e.0[O_TYPE] = self.0[O_TYPE];
        e.0[O_ENC] = self.0[O_ENC];
        e.clear_cas();
        e
    }

    /// A new string written through the memcached door, with its metadata.
    pub fn new_string_meta(key: &[u8], value: &[u8], meta: McMeta, slot: u16, lru: u32) -> Entry {
        let mut v: ThinVec<u8> = ThinVec::with_capacity(HDR + key.len() + META_LEN + value.len());
        push_slice(&mut v, &[0u8; HDR]);
        push_slice(&mut v, key);
        push_slice(&mut v, &meta_bytes(meta));
        push_slice(&mut v, value);
        let mut e = Entry(v);
        e.put_u32(O_LRU, lru);
        e.put_u32(O_KLEN, key.len() as u32);
        e.put_u32(O_VOL, NO_VOL);
        e.0[O_SLOT..O_SLOT + 2].copy_from_slice(&slot.to_le_bytes());
        e.0[O_TYPE] = ObjType::String as u8;
        e.0[O_ENC] = Enc::Meta as u8;
        e
    }

    /// The memcached metadata: all zeros for an entry that has none (written through
    /// another door, or not a string).
    #[inline]
    pub fn mc_meta(&self) -> McMeta {
        if self.enc() != Enc::Meta {
            return McMeta::default();
        }
        let b = HDR + self.key_len();
        McMeta {
            flags: self.get_u32(b),
            cas: u64::from_le_bytes(self.0[b + 4..b + 12].try_into().unwrap()),
            bits: self.get_u32(b + 12),
        }
    }

    /// Store memcached metadata on a string, adding the prefix if it had none (a string
    /// set through RESP, now given a CAS). Not for collections.
    pub fn set_mc_meta(&mut self, meta: McMeta) {
        debug_assert_eq!(self.obj_type(), ObjType::String);
        let b = HDR + self.key_len();
        if self.enc() != Enc::Meta {
            let len = self.0.len();
            resize_zeroed(&mut self.0, len + META_LEN);
            self.0.copy_within(b..len, b + META_LEN);
            self.0[O_ENC] = Enc::Meta as u8;
        }
        self.0[b..b + META_LEN].copy_from_slice(&meta_bytes(meta));
    }

    /// Replace the value (of whatever type) with a memcached string.
    pub fn set_value_meta(&mut self, value: &[u8], meta: McMeta) {
        if self.enc() == Enc::Boxed {
            drop(self.take_box());
        }
        self.0[O_TYPE] = ObjType::String as u8;
        self.0[O_ENC] = Enc::Meta as u8;
        let base = HDR + self.key_len();
        self.0.truncate(base);
        self.0.reserve(META_LEN + value.len());
        push_slice(&mut self.0, &meta_bytes(meta));
        push_slice(&mut self.0, value);
        self.shrink_if_loose();
    }

    /// An in-place change of the value: a stored CAS no longer holds (flags stay).
    #[inline]
    fn clear_cas(&mut self) {
        if self.enc() == Enc::Meta {
            let b = HDR + self.key_len() + 4;
            self.0[b..b + 8].fill(0);
        }
    }

    /// Where the value bytes start: after the key, and after the memcached prefix when
    /// there is one. Branch-free, as every string read goes through it.
    #[inline]
    fn vbase(&self) -> usize {
        HDR + self.key_len() + META_LEN * usize::from(self.0[O_ENC] == Enc::Meta as u8)
    }

    #[inline]
    pub fn enc(&self) -> Enc {
        match self.0[O_ENC] {
            1 => Enc::Compact,
            2 => Enc::Boxed,
            3 => Enc::Meta,
            _ => Enc::Raw,
        }
    }

    /// The boxed collection, when this entry holds one.
    #[inline]
    pub fn collection(&self) -> Option<&Collection> {
        if self.enc() != Enc::Boxed {
            return None;
        }
        let p = self.box_ptr();
        // SAFETY: an Enc::Boxed entry's value is a pointer from Box::into_raw that this entry
        // owns; it is freed only by take_box, which also clears the encoding.
        Some(unsafe { &*p })
    }

    /// The boxed collection, mutably. Whoever changes it must keep its `mem_usage` true.
    #[inline]
    pub fn collection_mut(&mut self) -> Option<&mut Collection> {
        if self.enc() != Enc::Boxed {
            return None;
        }
        let p = self.box_ptr();
        // SAFETY: as in `collection`; `&mut self` makes the access exclusive.
        Some(unsafe { &mut *p })
    }

    fn box_ptr(&self) -> *mut Collection {
        let v = self.value();
        usize::from_le_bytes(v[..8].try_into().unwrap()) as *mut Collection
    }

    /// Take the boxed collection out, leaving an empty raw value.
    fn take_box(&mut self) -> Box<Collection> {
        debug_assert_eq!(self.enc(), Enc::Boxed);
        let p = self.box_ptr();
        self.0[O_ENC] = Enc::Raw as u8;
        let base = HDR + self.key_len();
        self.0.truncate(base);
        // SAFETY: see `collection`; the encoding was cleared above, so it is freed once.
        unsafe { Box::from_raw(p) }
    }

    /// Store a boxed collection as this entry's value (dropping whatever value it had).
    pub fn set_boxed(&mut self, c: Box<Collection>) {
        if self.enc() == Enc::Boxed {
            drop(self.take_box());
        }
        self.0[O_TYPE] = c.obj_type() as u8;
        let p = Box::into_raw(c) as usize;
        let base = HDR + self.key_len();
        self.0.truncate(base);
        push_slice(&mut self.0, &p.to_le_bytes());
        self.0[O_ENC] = Enc::Boxed as u8;
        self.shrink_if_loose();
    }

    /// Store a compact blob as this entry's value, of type `ty` (dropping any boxed value).
    pub fn set_compact(&mut self, ty: ObjType, blob: &[u8]) {
        if self.enc() == Enc::Boxed {
            drop(self.take_box());
        }
        let base = HDR + self.key_len();
        self.0.truncate(base);
        push_slice(&mut self.0, blob);
        self.0[O_TYPE] = ty as u8;
        self.0[O_ENC] = Enc::Compact as u8;
        self.shrink_if_loose();
    }

    /// Replace bytes `range` of the value with `with` (compact blobs edited in place).
    pub fn splice_value(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        let base = self.vbase();
        let (start, end) = (base + range.start, base + range.end);
        let len = self.0.len();
        assert!(start <= end && end <= len);
        let removed = end - start;
        if with.len() > removed {
            let grow = with.len() - removed;
            // Compact blobs grow a few bytes per write: grow to the allocator's size class,
            // not by doubling, or a small collection could hold twice its size.
            self.reserve_value_exact(grow);
            resize_zeroed(&mut self.0, len + grow);
            self.0.copy_within(end..len, end + grow);
        } else if with.len() < removed {
            let shrink = removed - with.len();
            self.0.copy_within(end..len, end - shrink);
            self.0.truncate(len - shrink);
        }
        self.0[start..start + with.len()].copy_from_slice(with);
    }

    #[inline]
    fn get_u32(&self, o: usize) -> u32 {
        u32::from_le_bytes(self.0[o..o + 4].try_into().unwrap())
    }
    #[inline]
    fn put_u32(&mut self, o: usize, v: u32) {
        self.0[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[inline]
    pub fn key_len(&self) -> usize {
        self.get_u32(O_KLEN) as usize
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.0[HDR..HDR + self.key_len()]
    }

    /// The string value (never the memcached prefix).
    #[inline]
    pub fn value(&self) -> &[u8] {
        &self.0[self.vbase()..]
    }

    #[inline]
    pub fn value_len(&self) -> usize {
        self.0.len() - self.vbase()
    }

    pub fn obj_type(&self) -> ObjType {
        ObjType::from_u8(self.0[O_TYPE]).unwrap_or(ObjType::String)
    }

    /// Expiry time in ms since the epoch, 0 when the key has no TTL.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        u64::from_le_bytes(self.0[O_EXPIRE..O_EXPIRE + 8].try_into().unwrap())
    }

    #[inline]
    pub(crate) fn set_expire_raw(&mut self, at: u64) {
        self.0[O_EXPIRE..O_EXPIRE + 8].copy_from_slice(&at.to_le_bytes());
    }

    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        let at = self.expire_at();
        at != 0 && at <= now
    }

    #[inline]
    pub fn lru(&self) -> u32 {
        self.get_u32(O_LRU)
    }
    #[inline]
    pub(crate) fn set_lru(&mut self, v: u32) {
        self.put_u32(O_LRU, v);
    }

    #[inline]
    pub(crate) fn vol_idx(&self) -> u32 {
        self.get_u32(O_VOL)
    }
    #[inline]
    pub(crate) fn set_vol_idx(&mut self, v: u32) {
        self.put_u32(O_VOL, v);
    }

    #[inline]
    pub fn slot(&self) -> u16 {
        u16::from_le_bytes(self.0[O_SLOT..O_SLOT + 2].try_into().unwrap())
    }

    /// Make the value this string (whatever type it had), keeping key and header.
    /// Reallocates to the exact size when the old allocation would waste more than half.
    pub fn set_value(&mut self, value: &[u8]) {
        if self.enc() == Enc::Boxed {
            drop(self.take_box());
        }
        self.0[O_TYPE] = ObjType::String as u8;
        self.0[O_ENC] = Enc::Raw as u8;
        let base = HDR + self.key_len();
        self.0.truncate(base);
        push_slice(&mut self.0, value);
        self.shrink_if_loose();
    }

    /// Make room for `more` value bytes, up to the allocator's size class rather than by
    /// doubling: a compact collection grows by a few bytes per write, and doubling would
    /// let it hold up to twice its size (Redis's listpacks grow exactly too).
    pub fn reserve_value_exact(&mut self, more: usize) {
        let need = self.0.len() + more;
        if need > self.0.capacity() {
            let target = alloc_class(16 + need) - 16;
            self.0.reserve_exact(target - self.0.len());
        }
    }

    /// Append to the value, growing geometrically (APPEND in a loop is amortised O(1)).
    /// Clears a memcached CAS.
    pub fn append(&mut self, more: &[u8]) {
        self.clear_cas();
        push_slice(&mut self.0, more);
    }

    /// Resize the value to `len` bytes, zero-filling growth (SETRANGE, SETBIT). Clears a
    /// memcached CAS.
    pub fn resize_value(&mut self, len: usize) {
        self.clear_cas();
        let base = self.vbase();
        resize_zeroed(&mut self.0, base + len);
    }

    /// Mutable view of the value bytes. Clears a memcached CAS: the caller changes them.
    pub fn value_mut(&mut self) -> &mut [u8] {
        self.clear_cas();
        let base = self.vbase();
        &mut self.0[base..]
    }

    /// Give back capacity beyond the allocator size class the bytes need (a compact collection
    /// after a write reserved more than it used). Strings are left alone: APPEND relies on
    /// geometric growth.
    pub fn fit(&mut self) {
        if self.enc() == Enc::Compact
            && alloc_class(16 + self.0.capacity()) > alloc_class(16 + self.0.len())
        {
            self.0.shrink_to_fit();
        }
    }

    fn shrink_if_loose(&mut self) {
        if self.0.capacity() > 2 * self.0.len() + 64 {
            self.0.shrink_to_fit();
        }
    }

    /// Bytes this entry accounts for: its allocation (ThinVec header + capacity, rounded up
    /// to the allocator's size class) plus the per-entry index overhead.
    #[inline]
    pub fn mem_usage(&self) -> usize {
        let own = alloc_class(16 + self.0.capacity()) + TABLE_OVERHEAD;
        match self.collection() {
            Some(c) => own + c.mem_usage(),
            None => own,
        }
    }
}

/// The prefix bytes of `Enc::Meta` (little-endian).
fn meta_bytes(m: McMeta) -> [u8; META_LEN] {
    let mut b = [0u8; META_LEN];
    b[..4].copy_from_slice(&m.flags.to_le_bytes());
    b[4..12].copy_from_slice(&m.cas.to_le_bytes());
    b[12..].copy_from_slice(&m.bits.to_le_bytes());
    b
}

/// The size an allocator with jemalloc's size classes really reserves for `n` bytes: 16-byte
/// steps up to 128, then four classes per doubling (160, 192, 224, 256, 320, …, 1024, 1280…).
/// Accounting by class rather than by request keeps `used_memory` close to what the process
/// really holds (a 1040-byte entry occupies 1280 bytes).
#[inline]
pub fn alloc_class(n: usize) -> usize {
    if n <= 128 {
        return (n.max(1) + 15) & !15;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = 1usize << (lg - 2);
    (n + step - 1) & !(step - 1)
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value_len())
            .field("expire_at", &self.expire_at())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_roundtrip() {
        let mut e = Entry::new_string(b"key", b"value", 1234, 77);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), b"value");
        assert_eq!(e.slot(), 1234);
        assert_eq!(e.lru(), 77);
        assert_eq!(e.expire_at(), 0);
        assert_eq!(e.vol_idx(), NO_VOL);
        e.set_expire_raw(99);
        assert!(e.is_expired(99) && !e.is_expired(98));
        e.append(b"++");
        assert_eq!(e.value(), b"value++");
        e.resize_value(10);
        assert_eq!(e.value(), b"value++\0\0\0");
        e.set_value(b"");
        assert_eq!(e.value(), b"");
        assert_eq!(e.key(), b"key");
        let c = e.clone_as(b"other", 5);
        assert_eq!((c.key(), c.value(), c.slot()), (&b"other"[..], &b""[..], 5));
    }

    #[test]
    fn memcached_meta_is_invisible_to_value() {
        let m = McMeta {
            flags: 7,
            cas: 42,
            bits: MC_FETCHED,
        };
        let mut e = Entry::new_string_meta(b"key", b"value", m, 3, 0);
        assert_eq!(
            (e.key(), e.value(), e.value_len()),
            (&b"key"[..], &b"value"[..], 5)
        );
        assert_eq!(e.enc(), Enc::Meta);
        assert_eq!(e.mc_meta(), m);
        // In-place edits keep the flags and clear the CAS.
        e.append(b"!");
        assert_eq!(e.value(), b"value!");
        assert_eq!(e.mc_meta().cas, 0);
        assert_eq!(e.mc_meta().flags, 7);
        e.set_mc_meta(McMeta { cas: 9, ..m });
        e.value_mut()[0] = b'V';
        assert_eq!((e.value(), e.mc_meta().cas), (&b"Value!"[..], 0));
        e.resize_value(2);
        assert_eq!(e.value(), b"Va");
        // A copy keeps flags, not the CAS.
        e.set_mc_meta(McMeta { cas: 9, ..m });
        let c = e.clone_as(b"other", 1);
        assert_eq!(
            (c.value(), c.mc_meta().flags, c.mc_meta().cas),
            (&b"Va"[..], 7, 0)
        );
        // A whole new value drops the prefix.
        e.set_value(b"plain");
        assert_eq!(
            (e.enc(), e.value(), e.mc_meta()),
            (Enc::Raw, &b"plain"[..], McMeta::default())
        );
        // A plain string can be given a CAS.
        e.set_mc_meta(McMeta {
            cas: 5,
            ..Default::default()
        });
        assert_eq!((e.value(), e.mc_meta().cas), (&b"plain"[..], 5));
        e.set_value_meta(b"new", m);
        assert_eq!((e.value(), e.mc_meta()), (&b"new"[..], m));
        assert!(next_cas() < next_cas());
    }

    #[test]
    fn size_classes_match_jemalloc() {
        for (n, c) in [
            (1, 16),
            (16, 16),
            (17, 32),
            (128, 128),
            (129, 160),
            (152, 160),
            (256, 256),
            (257, 320),
            (1024, 1024),
            (1040, 1280),
            (4097, 5120),
        ] {
            assert_eq!(alloc_class(n), c, "{n}");
        }
    }

    #[test]
    fn big_value_shrinks_after_overwrite() {
        let mut e = Entry::new_string(b"k", &vec![1u8; 100_000], 0, 0);
        let big = e.mem_usage();
        e.set_value(b"small");
        assert!(e.mem_usage() < big / 100);
    }
}
