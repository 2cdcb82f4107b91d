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
        }
    }

    pub fn from_u8(b: u8) -> Option<ObjType> {
        Some(match b {
            0 => ObjType::String,
            1 => ObjType::List,
            2 => ObjType::Set,
            3 => ObjType::ZSet,
            4 => ObjType::Hash,
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
        let mut e = Entry::new_string(key, self.value(), slot, self.lru());
        e.0[O_TYPE] = self.0[O_TYPE];
        e.0[O_ENC] = self.0[O_ENC];
        e
    }

    #[inline]
    pub fn enc(&self) -> Enc {
        match self.0[O_ENC] {
            1 => Enc::Compact,
            2 => Enc::Boxed,
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
        let base = HDR + self.key_len();
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

    /// The string value.
    #[inline]
    pub fn value(&self) -> &[u8] {
        &self.0[HDR + self.key_len()..]
    }

    #[inline]
    pub fn value_len(&self) -> usize {
        self.0.len() - HDR - self.key_len()
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
    pub fn append(&mut self, more: &[u8]) {
        push_slice(&mut self.0, more);
    }

    /// Resize the value to `len` bytes, zero-filling growth (SETRANGE, SETBIT).
    pub fn resize_value(&mut self, len: usize) {
        let base = HDR + self.key_len();
        resize_zeroed(&mut self.0, base + len);
    }

    /// Mutable view of the value bytes.
    pub fn value_mut(&mut self) -> &mut [u8] {
        let base = HDR + self.key_len();
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
