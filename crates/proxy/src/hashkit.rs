//! twemproxy's twelve key hash functions, reproduced bit for bit.
//!
//! A pool's `hash:` setting picks one of these; the distribution (see
//! [`crate::dist`]) then maps the 32-bit result onto a server. Anything that
//! differs from nutcracker by a single bit would send keys to a different
//! backend than the proxy we replace, so these functions copy twemproxy's
//! behaviour exactly, quirks included:
//!
//! * twemproxy is built on x86 where `char` is signed, and several functions
//!   widen `char` straight to an unsigned integer. Bytes >= 0x80 are therefore
//!   sign-extended (0xe9 becomes 0xffff_ffe9) in `one_at_a_time`, the four
//!   FNV variants and the last-byte case of `hsieh`.
//! * `crc16` keeps its state in 32 bits and never masks it, so the upper
//!   half carries shifted-out garbage; only the low 16 bits are a CRC.
//! * `crc32` is the libmemcached form `(~crc >> 16) & 0x7fff`; `crc32a` is the
//!   plain CRC-32.
//! * `fnv1_64` runs in 64 bits and truncates; `fnv1a_64` runs entirely in 32
//!   bits with the truncated 64-bit offset basis and prime.
//! * `murmur` is MurmurHash2 seeded with `0xdeadbeef * len`.
//! * `jenkins` is lookup3's `hashlittle` with an initial value of 13.
//!
//! Nothing here can panic: all arithmetic wraps and no slice index is out of
//! bounds.

use md5::{Digest, Md5};

/// A key hash function, as named by a pool's `hash:` setting.
// The variant names mirror twemproxy's config names (fnv1a_64, ...), where the
// digits after the underscore are the width, not a word boundary.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashKind {
    OneAtATime,
    Md5,
    Crc16,
    Crc32,
    Crc32a,
    Fnv1_64,
    Fnv1a_64,
    Fnv1_32,
    Fnv1a_32,
    Hsieh,
    Murmur,
    Jenkins,
}

/// Each kind with its config name, in twemproxy's declaration order.
const TABLE: [(HashKind, &str); 12] = [
    (HashKind::OneAtATime, "one_at_a_time"),
    (HashKind::Md5, "md5"),
    (HashKind::Crc16, "crc16"),
    (HashKind::Crc32, "crc32"),
    (HashKind::Crc32a, "crc32a"),
    (HashKind::Fnv1_64, "fnv1_64"),
    (HashKind::Fnv1a_64, "fnv1a_64"),
    (HashKind::Fnv1_32, "fnv1_32"),
    (HashKind::Fnv1a_32, "fnv1a_32"),
    (HashKind::Hsieh, "hsieh"),
    (HashKind::Murmur, "murmur"),
    (HashKind::Jenkins, "jenkins"),
];

impl HashKind {
    /// Every hash kind, in twemproxy's declaration order.
    pub const ALL: [HashKind; 12] = {
        let mut all = [HashKind::OneAtATime; 12];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    /// Parses twemproxy's config name ("one_at_a_time", "md5", "crc16",
    /// "crc32", "crc32a", "fnv1_64", "fnv1a_64", "fnv1_32", "fnv1a_32",
    /// "hsieh", "murmur", "jenkins"). Matching is exact, as in nutcracker.
    pub fn from_name(name: &str) -> Option<HashKind> {
        TABLE.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// twemproxy's config name for this hash.
    pub fn name(self) -> &'static str {
        // TABLE is in declaration order, so the discriminant is the index.
        TABLE[self as usize].1
    }

    /// The 32-bit value twemproxy's `hash_<name>()` returns for `key`.
    ///
    /// Note that nutcracker's dispatcher does not call the hash for an empty
    /// key (it uses 0 instead); see [`crate::dist::Continuum::pick_key`].
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashKind::OneAtATime => one_at_a_time(key),
            HashKind::Md5 => md5(key),
            HashKind::Crc16 => crc16(key),
            HashKind::Crc32 => crc32(key),
            HashKind::Crc32a => crc32a(key),
            HashKind::Fnv1_64 => fnv1_64(key),
            HashKind::Fnv1a_64 => fnv1a_64(key),
            HashKind::Fnv1_32 => fnv1_32(key),
            HashKind::Fnv1a_32 => fnv1a_32(key),
            HashKind::Hsieh => hsieh(key),
            HashKind::Murmur => murmur(key),
            HashKind::Jenkins => jenkins(key),
        }
    }
}

/// A key byte as twemproxy's `(uint32_t)key[i]` sees it: `char` is signed on
/// x86, so the conversion sign-extends.
#[inline]
fn signed(b: u8) -> u32 {
    b as i8 as u32
}

/// Same as [`signed`], widened to 64 bits for `fnv1_64`.
#[inline]
fn signed64(b: u8) -> u64 {
    b as i8 as u64
}

/// Little-endian 32-bit load; callers guarantee `bytes.len() >= at + 4`.
#[inline]
fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Little-endian 16-bit load widened to 32 bits (hsieh's `get16bits`).
#[inline]
fn le16(bytes: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

fn one_at_a_time(key: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &b in key {
        h = h.wrapping_add(signed(b));
        h = h.wrapping_add(h << 10);
        h ^= h >> 6;
    }
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h.wrapping_add(h << 15)
}

/// First four bytes of the MD5 digest, little-endian. Ketama's continuum
/// points use the same digest (see `dist.rs`), whatever the key hash is.
fn md5(key: &[u8]) -> u32 {
    let digest = Md5::digest(key);
    le32(&digest, 0)
}

/// CCITT/XMODEM table (polynomial 0x1021, MSB first), built at compile time.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc16(key: &[u8]) -> u32 {
    // The state is deliberately 32 bits wide and never masked: twemproxy's
    // `crc << 8` keeps the shifted-out bits, and they are part of the result.
    let mut crc: u32 = 0;
    for &b in key {
        let idx = ((crc >> 8) as u8 ^ b) as usize;
        crc = (crc << 8) ^ u32::from(CRC16_TABLE[idx]);
    }
    crc
}

/// Reflected CRC-32 table (polynomial 0xedb88320), built at compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Standard CRC-32 (as in zlib); both crc32 flavours start from it.
fn crc32_raw(key: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in key {
        crc = (crc >> 8) ^ CRC32_TABLE[((crc as u8) ^ b) as usize];
    }
    !crc
}

/// libmemcached's 15-bit variant: only bits 16..31 of the CRC survive.
fn crc32(key: &[u8]) -> u32 {
    (crc32_raw(key) >> 16) & 0x7fff
}

fn crc32a(key: &[u8]) -> u32 {
    crc32_raw(key)
}

const FNV_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_32_INIT: u32 = 0x811c_9dc5;
const FNV_32_PRIME: u32 = 0x0100_0193;

fn fnv1_64(key: &[u8]) -> u32 {
    let mut h = FNV_64_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_64_PRIME);
        h ^= signed64(b);
    }
    h as u32
}

fn fnv1a_64(key: &[u8]) -> u32 {
    // Despite the name, twemproxy computes this one in 32 bits using the
    // low halves of the 64-bit constants.
    let mut h = FNV_64_INIT as u32;
    for &b in key {
        h ^= signed(b);
        h = h.wrapping_mul(FNV_64_PRIME as u32);
    }
    h
}

fn fnv1_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_32_PRIME);
        h ^= signed(b);
    }
    h
}

fn fnv1a_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h ^= signed(b);
        h = h.wrapping_mul(FNV_32_PRIME);
    }
    h
}

/// Paul Hsieh's SuperFastHash, with twemproxy's signed read of the third
/// trailing byte.
fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let mut h: u32 = 0;
    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        h = h.wrapping_add(le16(block, 0));
        let tmp = (le16(block, 2) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h = h.wrapping_add(h >> 11);
    }
    match *blocks.remainder() {
        [b0, b1, b2] => {
            h = h.wrapping_add(u32::from(u16::from_le_bytes([b0, b1])));
            h ^= h << 16;
            h ^= signed(b2) << 18;
            h = h.wrapping_add(h >> 11);
        }
        [b0, b1] => {
            h = h.wrapping_add(u32::from(u16::from_le_bytes([b0, b1])));
            h ^= h << 11;
            h = h.wrapping_add(h >> 17);
        }
        [b0] => {
            h = h.wrapping_add(u32::from(b0));
            h ^= h << 10;
            h = h.wrapping_add(h >> 1);
        }
        _ => {}
    }
    h ^= h << 3;
    h = h.wrapping_add(h >> 5);
    h ^= h << 4;
    h = h.wrapping_add(h >> 17);
    h ^= h << 25;
    h.wrapping_add(h >> 6)
}

/// MurmurHash2 (32-bit) with twemproxy's length-derived seed.
fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // twemproxy truncates the length to 32 bits for the seed and initial
    // value; keys that long never reach a hash, but wrap rather than panic.
    let len = key.len() as u32;
    let mut h = 0xdead_beef_u32.wrapping_mul(len) ^ len;

    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        let mut k = le32(block, 0);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// Bob Jenkins' lookup3 `hashlittle` with initval 13. The C code picks an
/// aligned fast path depending on the key's address, but on little-endian
/// machines every path yields the same value as the bytewise one used here.
fn jenkins(key: &[u8]) -> u32 {
    #[inline]
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }

    #[inline]
    fn finish(mut a: u32, mut b: u32, mut c: u32) -> u32 {
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(14));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(11));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(25));
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(16));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(4));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(14));
        c ^= b;
        c.wrapping_sub(b.rotate_left(24))
    }

    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(13);
    let (mut a, mut b, mut c) = (init, init, init);

    // All but the last block (which may be a full 12 bytes) get mixed.
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(le32(rest, 0));
        b = b.wrapping_add(le32(rest, 4));
        c = c.wrapping_add(le32(rest, 8));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        // Zero-length input skips the final mix entirely.
        return c;
    }
    // Zero padding is what the C tail switch amounts to.
    let mut last = [0u8; 12];
    last[..rest.len()].copy_from_slice(rest);
    a = a.wrapping_add(le32(&last, 0));
    b = b.wrapping_add(le32(&last, 4));
    c = c.wrapping_add(le32(&last, 8));
    finish(a, b, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 bytes spread over the whole byte range (half of them >= 0x80).
    fn bin100() -> Vec<u8> {
        (0..100u32).map(|i| (i * 151 + 200) as u8).collect()
    }

    fn all256() -> Vec<u8> {
        (0..=255u8).collect()
    }

    fn keys() -> Vec<Vec<u8>> {
        vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"foo".to_vec(),
            b"hello world".to_vec(),
            b"\xff".to_vec(),
            b"ab\xe9".to_vec(),
            b"123456789".to_vec(),
            b"abcdefghijklm".to_vec(),
            bin100(),
            all256(),
        ]
    }

    // Golden vectors, one column per entry of `keys()`. They were produced by
    // compiling twemproxy's own src/hashkit/nc_*.c (commit 60aaf85) with gcc
    // on x86-64 (signed `char`) against a stub nc_core.h, and printing each
    // hash_<name>() for the same ten keys. The same harness also checked that
    // jenkins and murmur give identical results at every pointer alignment.
    const GOLDEN: [(HashKind, [u32; 10]); 12] = [
        (
            HashKind::OneAtATime,
            [
                0x00000000, 0xca2e9442, 0x238678dd, 0x3e4a5a57, 0xae65a494, 0x7c6c3def, 0xc66b58c5,
                0x6d99f6dc, 0x01fac085, 0xd4dded1e,
            ],
        ),
        (
            HashKind::Md5,
            [
                0xd98c1dd4, 0xb975c10c, 0xdb18bdac, 0xbb3bb65e, 0xd44f5900, 0x8c72c1c8, 0x94e7f925,
                0xd1bdae22, 0x95c12f7f, 0xdb65c8e2,
            ],
        ),
        (
            HashKind::Crc16,
            [
                0x00000000, 0x00007c87, 0x0c3caf96, 0xf2063be4, 0x00001ef0, 0x7c74ad14, 0x869031c3,
                0x72b79537, 0x4a02248d, 0xcd057e55,
            ],
        ),
        (
            HashKind::Crc32,
            [
                0x00000000, 0x000068b7, 0x00000c73, 0x00000d4a, 0x00007f00, 0x00003849, 0x00004bf4,
                0x00005df4, 0x000040aa, 0x00002905,
            ],
        ),
        (
            HashKind::Crc32a,
            [
                0x00000000, 0xe8b7be43, 0x8c736521, 0x0d4a1185, 0xff000000, 0x38492bfc, 0xcbf43926,
                0xddf46ea2, 0x40aab352, 0x29058c73,
            ],
        ),
        (
            HashKind::Fnv1_64,
            [
                0x84222325, 0x8601b7be, 0x6ba13533, 0xb1910e6f, 0x79fe4820, 0x94505241, 0x2bf916d6,
                0x3df1e6a2, 0x60ca7b75, 0x54b45925,
            ],
        ),
        (
            HashKind::Fnv1a_64,
            [
                0x84222325, 0x8601ec8c, 0xfed9d577, 0x023cd2e7, 0x79fe466e, 0xfabde399, 0x23c6cdfc,
                0x398bc308, 0x56e6b4a5, 0xc1dfa025,
            ],
        ),
        (
            HashKind::Fnv1_32,
            [
                0x811c9dc5, 0x050c5d7e, 0x408f5e13, 0x548da96f, 0xfaf3a2e0, 0xbc63d0c1, 0x24148816,
                0xe589b522, 0xdb590f15, 0x447241c5,
            ],
        ),
        (
            HashKind::Fnv1a_32,
            [
                0x811c9dc5, 0xe40c292c, 0xa9f37ed7, 0xd58b3fa7, 0xf9f3a14e, 0xb1b7c519, 0xbb86b11c,
                0x3b8356e8, 0x7f816745, 0xde0bd2c5,
            ],
        ),
        (
            HashKind::Hsieh,
            [
                0x00000000, 0x93642e87, 0x76d4d427, 0x4f799873, 0x02a6dba8, 0x125794e5, 0xe4fc1670,
                0x70ce5414, 0x8e7b8130, 0xa724b44f,
            ],
        ),
        (
            HashKind::Murmur,
            [
                0x00000000, 0x4b41757c, 0xc4e0338f, 0x5e19153b, 0xdb530a9c, 0x6baf059f, 0xb7760690,
                0x2987d8bb, 0xf989911e, 0xca2095c0,
            ],
        ),
        (
            HashKind::Jenkins,
            [
                0xdeadbefc, 0xe0a38690, 0x99f84f99, 0x153343fb, 0xe1964da8, 0x8927b2b4, 0x19777af6,
                0xb621e85f, 0x5bfe2629, 0x98c33fa6,
            ],
        ),
    ];

    #[test]
    fn golden_vectors_match_twemproxy() {
        let keys = keys();
        for (kind, expected) in GOLDEN {
            for (key, want) in keys.iter().zip(expected) {
                assert_eq!(kind.hash(key), want, "{} of {:02x?}", kind.name(), key);
            }
        }
    }

    #[test]
    fn golden_table_covers_every_kind() {
        let covered: Vec<HashKind> = GOLDEN.iter().map(|(k, _)| *k).collect();
        assert_eq!(covered, HashKind::ALL);
    }

    #[test]
    fn names_round_trip() {
        for kind in HashKind::ALL {
            assert_eq!(HashKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(HashKind::from_name("fnv1a_64"), Some(HashKind::Fnv1a_64));
        assert_eq!(HashKind::from_name("FNV1A_64"), None);
        assert_eq!(HashKind::from_name(""), None);
        assert_eq!(HashKind::from_name("crc32b"), None);
    }

    #[test]
    fn crc_tables_are_the_standard_ones() {
        // Spot checks against the literal tables in nc_crc16.c / nc_crc32.c.
        assert_eq!(CRC16_TABLE[1], 0x1021);
        assert_eq!(CRC16_TABLE[128], 0x9188);
        assert_eq!(CRC16_TABLE[255], 0x1ef0);
        assert_eq!(CRC32_TABLE[1], 0x77073096);
        assert_eq!(CRC32_TABLE[128], 0xedb88320);
        assert_eq!(CRC32_TABLE[255], 0x2d02ef8d);
    }

    #[test]
    fn every_length_and_byte_is_safe() {
        // Exercise every tail length of the block-based hashes with high
        // bytes; nothing may panic.
        let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
        for len in 0..=data.len() {
            for kind in HashKind::ALL {
                let _ = kind.hash(&data[..len]);
            }
        }
    }
}
