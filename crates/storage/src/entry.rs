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
//!
//! The table holds only the 8-byte pointer, so a 16-byte key with a 100-byte value costs one
//! 160-byte allocation plus about 20 bytes of index: less than Redis's dictEntry + robj + two
//! sds strings + bucket (≈200 bytes for the same pair).

use thin_vec::ThinVec;

pub const HDR: usize = 24;
pub const NO_VOL: u32 = u32::MAX;
const O_EXPIRE: usize = 0;
const O_LRU: usize = 8;
const O_KLEN: usize = 12;
const O_VOL: usize = 16;
const O_SLOT: usize = 20;
const O_TYPE: usize = 22;

/// Bytes of index structures per entry beyond its allocation (table pointer, index slot,
/// allocator rounding), used by memory accounting.
pub const TABLE_OVERHEAD: usize = 16;

/// The Redis type of a value. Wire/on-disk values are explicit and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjType {
    String = 0,
}

impl ObjType {
    /// The name TYPE and SCAN TYPE use.
    pub fn name(self) -> &'static str {
        match self {
            ObjType::String => "string",
        }
    }
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

    /// A copy of this entry under another key (RENAME, COPY, MOVE), without TTL bookkeeping.
    pub fn clone_as(&self, key: &[u8], slot: u16) -> Entry {
        let mut e = Entry::new_string(key, self.value(), slot, self.lru());
        e.0[O_TYPE] = self.0[O_TYPE];
        e
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
        ObjType::String
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

    /// Replace the value, keeping key and header. Reallocates to the exact size when the old
    /// allocation would waste more than half.
    pub fn set_value(&mut self, value: &[u8]) {
        let base = HDR + self.key_len();
        self.0.truncate(base);
        push_slice(&mut self.0, value);
        self.shrink_if_loose();
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

    fn shrink_if_loose(&mut self) {
        if self.0.capacity() > 2 * self.0.len() + 64 {
            self.0.shrink_to_fit();
        }
    }

    /// Bytes this entry accounts for: its allocation (ThinVec header + capacity, rounded up
    /// to the allocator's size class) plus the per-entry index overhead.
    #[inline]
    pub fn mem_usage(&self) -> usize {
        alloc_class(16 + self.0.capacity()) + TABLE_OVERHEAD
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
