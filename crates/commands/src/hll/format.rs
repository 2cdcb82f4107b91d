//! Redis's HyperLogLog value, byte for byte: the layout, the hash, the sparse and dense
//! register encodings and the cardinality estimator.
//!
//! ```text
//!  0      4     5        8                 16
//!  "HYLL" | enc | 0 0 0 | card (u64 LE)     | registers…
//!         0 = dense: 16384 × 6-bit registers, packed from each byte's low bit up (12288 B)
//!         1 = sparse: opcodes  00xxxxxx        ZERO  : 1..64 zero registers
//!                              01xxxxxx yyyyyyyy XZERO: 1..16384 zero registers
//!                              1vvvvvxx        VAL   : 1..4 registers of value 1..32
//!  card: the last PFCOUNT's answer; the top bit of byte 15 set = stale
//! ```
//!
//! Values are plain strings, so a client may GET one from Redis and SET it here (or the
//! reverse) and keep adding: everything that decides the bytes — the MurmurHash64A seed,
//! how a sparse opcode is split and when neighbours are merged, when the value turns dense
//! — follows Redis 7.0 so the two servers write the same bytes for the same additions.
//! Sparse values are not canonical (a run of equal registers may be cut in different
//! places depending on the order of additions), which is why the editing steps, not just
//! the meaning, are Redis's.

/// Register index bits: 2^14 registers, a standard error of 1.04/√16384 ≈ 0.81%.
pub const P: u32 = 14;
/// Hash bits left for the run of zeros once the index is taken.
pub const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
/// Header bytes before the registers.
pub const HDR: usize = 16;
/// The one valid length of a dense value.
pub const DENSE_LEN: usize = HDR + (REGISTERS * 6).div_ceil(8);
/// Encoding byte values (wire values, never reused).
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
/// Largest register value a sparse VAL opcode holds; a larger one makes the value dense.
pub const SPARSE_VAL_MAX: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
/// Redis's default `hll-sparse-max-bytes`.
pub const SPARSE_MAX_BYTES_DEFAULT: u64 = 3000;
const SEED: u64 = 0xadc8_3b19;
/// 0.5 / ln 2: the estimator's constant as m → ∞ (Ertl's α∞).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A value that claims to be an HLL but whose sparse opcodes do not add up to 16384
/// registers (Redis's `INVALIDOBJ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's `isHLLObjectOrReply` test (the type check aside): magic, a known encoding, and
/// the exact length for dense. Sparse opcodes are only checked when walked.
pub fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_LEN)
}

#[inline]
pub fn is_dense(v: &[u8]) -> bool {
    v[4] == DENSE
}

/// A new, empty HLL: sparse, one XZERO for all registers, cached cardinality 0 (valid).
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// The cached cardinality, if valid.
pub fn cached(v: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(v[8..16].try_into().ok()?);
    (v[15] & 0x80 == 0).then_some(card)
}

pub fn set_cached(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// MurmurHash2, 64-bit (Austin Appleby's MurmurHash64A), reading words little-endian as
/// Redis's endian-neutral variant does.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element updates and the value it offers: the low 14 hash bits pick the
/// register; the value is the position of the first 1 bit in the other 50, counting from
/// 1 (at most 51: a sentinel bit bounds the run).
#[inline]
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense registers ----

/// Register `i` of a dense register array (the 12288 bytes after the header).
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

#[inline]
pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let v = val as u16;
    regs[byte] = (regs[byte] & !((63u16 << fb) as u8)) | (v << fb) as u8;
    // A register starting at bit 3 or later spills into the next byte.
    if fb > 2 {
        let sh = 8 - fb;
        regs[byte + 1] = (regs[byte + 1] & !(63u8 >> sh)) | (val >> sh);
    }
}

/// Raise register `i` to `count` if lower; whether it changed.
#[inline]
pub fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

/// One decoded sparse opcode: the registers it covers, its value, its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    #[inline]
    pub fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    #[inline]
    pub fn bytes(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

/// The opcode at `v[p]`. A truncated XZERO reads its second byte as 0, as Redis does
/// (its strings carry a terminating zero byte).
#[inline]
pub fn op_at(v: &[u8], p: usize) -> Op {
    let b = v[p];
    match b & 0xc0 {
        0x00 => Op::Zero((b & 0x3f) as usize + 1),
        0x40 => {
            let lo = v.get(p + 1).copied().unwrap_or(0) as usize;
            Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1)
        }
        _ => Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1),
    }
}

#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    0x80 | (val - 1) << 2 | (len as u8 - 1)
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push(0x40 | (l >> 8) as u8);
    v.push((l & 0xff) as u8);
}

/// A zero run as Redis writes one after a split: ZERO up to 64, XZERO beyond.
fn push_zero_run(v: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push(len as u8 - 1);
    }
}

/// The opcodes of a sparse value, in order, with their byte offsets.
pub fn ops(v: &[u8]) -> impl Iterator<Item = (usize, Op)> + '_ {
    let mut p = HDR;
    std::iter::from_fn(move || {
        if p >= v.len() {
            return None;
        }
        let op = op_at(v, p);
        let at = p;
        p += op.bytes();
        Some((at, op))
    })
}

/// What setting a sparse register did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseSet {
    /// The register already held as much.
    Unchanged,
    Changed,
    /// The value must turn dense first (a value over 32, or the size limit).
    Promote,
}

/// Raise sparse register `index` to `count`, editing the opcodes in place as Redis's
/// `hllSparseSet` does: split the opcode covering it into at most three, then merge
/// equal VAL neighbours in a window of five opcodes from the one before. `max_bytes` is
/// `hll-sparse-max-bytes`: growth past it asks for promotion instead.
pub fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: u64,
) -> Result<SparseSet, Corrupt> {
    if count > SPARSE_VAL_MAX {
        return Ok(SparseSet::Promote);
    }
    // Find the opcode covering `index`.
    let (mut p, mut first, mut prev, mut found) = (HDR, 0usize, None, None);
    while p < v.len() {
        let op = op_at(v, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.bytes();
        first += op.span();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    // A truncated final XZERO: Redis would edit past its string's end; we refuse.
    if p + op.bytes() > v.len() {
        return Err(Corrupt);
    }
    let span = op.span();
    let simple = match op {
        Op::Val(old, _) if old >= count => return Ok(SparseSet::Unchanged),
        Op::Val(_, 1) | Op::Zero(1) => true,
        _ => false,
    };
    if simple {
        v[p] = val_op(count, 1);
    } else {
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zero_run(&mut seq, index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    push_zero_run(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        let old = op.bytes();
        if seq.len() > old && (v.len() + seq.len() - old) as u64 > max_bytes {
            return Ok(SparseSet::Promote);
        }
        v.splice(p..p + old, seq);
    }
    merge_neighbours(v, prev.unwrap_or(HDR));
    invalidate(v);
    Ok(SparseSet::Changed)
}

/// Merge adjacent VAL opcodes of equal value whose lengths fit one opcode, looking at
/// most five opcodes from `p` (Redis's window: a wider search would give other bytes).
fn merge_neighbours(v: &mut Vec<u8>, mut p: usize) {
    let mut budget = 5;
    while p < v.len() && budget > 0 {
        budget -= 1;
        match op_at(v, p) {
            Op::XZero(_) => p += 2,
            Op::Zero(_) => p += 1,
            Op::Val(v1, l1) => {
                if p + 1 < v.len() {
                    if let Op::Val(v2, l2) = op_at(v, p + 1) {
                        if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                            v[p + 1] = val_op(v1, l1 + l2);
                            v.remove(p);
                            // Stay: the merged opcode may merge with the next one too.
                            continue;
                        }
                    }
                }
                p += 1;
            }
        }
    }
}

/// The dense form of a value (a dense value is returned as is). The header — cached
/// cardinality and reserved bytes included — carries over, as in Redis.
pub fn to_dense(v: &[u8]) -> Result<Vec<u8>, Corrupt> {
    if is_dense(v) {
        return Ok(v.to_vec());
    }
    let mut d = vec![0u8; DENSE_LEN];
    d[..HDR].copy_from_slice(&v[..HDR]);
    d[4] = DENSE;
    let regs = &mut d[HDR..];
    let mut idx = 0;
    for (_, op) in ops(v) {
        match op {
            Op::Zero(n) | Op::XZero(n) => idx += n,
            Op::Val(val, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                for i in idx..idx + n {
                    dense_set(regs, i, val);
                }
                idx += n;
            }
        }
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(d)
}

/// Raise register `index` to `count` in a value of either encoding, promoting a sparse
/// value to dense when it must. Whether the register changed.
pub fn raise(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    if is_dense(v) {
        return Ok(dense_raise(&mut v[HDR..], index, count));
    }
    match sparse_set(v, index, count, max_bytes)? {
        SparseSet::Unchanged => Ok(false),
        SparseSet::Changed => Ok(true),
        SparseSet::Promote => {
            *v = to_dense(v)?;
            // Promotion only happens for a register that needs raising.
            Ok(dense_raise(&mut v[HDR..], index, count))
        }
    }
}

/// `raise` for an element.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: u64) -> Result<bool, Corrupt> {
    let (i, c) = pat_len(ele);
    raise(v, i, c, max_bytes)
}

// ---- estimation ----

/// How many registers hold each value (index = value, 0..=63).
pub type Histogram = [u32; 64];

/// The register histogram of a value; a sparse value whose runs do not cover exactly
/// 16384 registers is corrupt.
pub fn histogram(v: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u32; 64];
    if is_dense(v) {
        // Four 6-bit registers in every three bytes.
        for c in v[HDR..DENSE_LEN].chunks_exact(3) {
            let w = c[0] as u32 | (c[1] as u32) << 8 | (c[2] as u32) << 16;
            h[(w & 63) as usize] += 1;
            h[(w >> 6 & 63) as usize] += 1;
            h[(w >> 12 & 63) as usize] += 1;
            h[(w >> 18 & 63) as usize] += 1;
        }
        return Ok(h);
    }
    let mut idx = 0usize;
    for (_, op) in ops(v) {
        match op {
            Op::Zero(n) | Op::XZero(n) => h[0] += n as u32,
            Op::Val(val, n) => h[val as usize] += n as u32,
        }
        idx += op.span();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// The histogram of plain byte registers (PFCOUNT of several keys merges into these).
pub fn raw_histogram(regs: &[u8; REGISTERS]) -> Histogram {
    let mut h = [0u32; 64];
    for &r in regs.iter() {
        h[(r & 63) as usize] += 1;
    }
    h
}

/// Ertl's σ (arXiv:1702.01284), the correction for registers still at zero.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Ertl's τ, the correction for registers at the largest value the hash allows.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram: Ertl's improved estimator, which
/// Redis uses since 5.0, evaluated in the same order so the results agree to the unit.
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Fold a value's registers into `max` (each the larger of the two).
/// Write `regs` (one byte per register) as dense registers into `out` (the bytes after
/// the header), 4 registers per 3 bytes.
pub fn pack_dense(regs: &[u8; REGISTERS], out: &mut [u8]) {
    for (g, o) in regs.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let w = u32::from(g[0] & 63)
            | u32::from(g[1] & 63) << 6
            | u32::from(g[2] & 63) << 12
            | u32::from(g[3] & 63) << 18;
        o[0] = w as u8;
        o[1] = (w >> 8) as u8;
        o[2] = (w >> 16) as u8;
    }
}

pub fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), Corrupt> {
    if is_dense(v) {
        // Registers are 6-bit fields read least significant bit first, so every 3 bytes
        // hold exactly 4 registers: unpack a group at a time (one bounds check per group,
        // not two per register; PFMERGE and PFCOUNT of many keys spend their time here).
        let regs = &v[HDR..];
        for (m, g) in max.chunks_exact_mut(4).zip(regs.chunks_exact(3)) {
            let w = u32::from(g[0]) | u32::from(g[1]) << 8 | u32::from(g[2]) << 16;
            for (j, r) in m.iter_mut().enumerate() {
                *r = (*r).max(((w >> (6 * j)) & 63) as u8);
            }
        }
        return Ok(());
    }
    let mut i = 0;
    for (_, op) in ops(v) {
        match op {
            Op::Zero(n) | Op::XZero(n) => i += n,
            Op::Val(val, n) => {
                if i + n > REGISTERS {
                    break;
                }
                for m in &mut max[i..i + n] {
                    *m = (*m).max(val);
                }
                i += n;
            }
        }
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// PFDEBUG DECODE's text of a sparse value: `z:N` / `Z:N` / `v:value,len`.
pub fn decode_text(v: &[u8]) -> String {
    let mut s = String::new();
    for (_, op) in ops(v) {
        if !s.is_empty() {
            s.push(' ');
        }
        match op {
            Op::Zero(n) => s.push_str(&format!("z:{n}")),
            Op::XZero(n) => s.push_str(&format!("Z:{n}")),
            Op::Val(val, n) => s.push_str(&format!("v:{val},{n}")),
        }
    }
    s
}
