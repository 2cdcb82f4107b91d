//! Tests of the HLL format (hash, registers, sparse edits, promotion, estimator) and of
//! PFADD/PFCOUNT/PFMERGE/PFDEBUG through the in-process command runner. Byte equality
//! with a real Redis is checked in `crates/rcache/tests/hll.rs`.

use super::format::{self, Op, DENSE_LEN, HDR, REGISTERS};
use crate::testing::TestCtx;
use proptest::prelude::*;

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

fn value(t: &TestCtx, key: &str) -> Vec<u8> {
    let r = t.run_bytes(&[b"GET", key.as_bytes()]);
    // $<len>\r\n<bytes>\r\n
    let nl = r.iter().position(|&b| b == b'\n').unwrap();
    r[nl + 1..r.len() - 2].to_vec()
}

fn set_raw(t: &TestCtx, key: &str, v: &[u8]) {
    assert_eq!(t.run_bytes(&[b"SET", key.as_bytes(), v]), b"+OK\r\n");
}

/// Every register of a value, whatever its encoding.
fn registers(v: &[u8]) -> Vec<u8> {
    let d = format::to_dense(v).unwrap();
    (0..REGISTERS)
        .map(|i| format::dense_get(&d[HDR..], i))
        .collect()
}

/// A sparse value with exactly these registers (Redis-style edits, no size limit).
fn sparse_of(regs: &[u8]) -> Vec<u8> {
    let mut v = format::new_sparse();
    for (i, &r) in regs.iter().enumerate() {
        if r > 0 {
            format::raise(&mut v, i, r, u64::MAX).unwrap();
        }
    }
    v
}

#[test]
fn murmur_and_pattern_known_values() {
    // MurmurHash64A reference values (seed 0 and Redis's seed).
    assert_eq!(format::murmur64a(b"", 0), 0);
    let h = format::murmur64a(b"hello", 0xadc8_3b19);
    let (i, c) = format::pat_len(b"hello");
    assert_eq!(i as u64, h & (REGISTERS as u64 - 1));
    assert_eq!(c as u32, (h >> 14 | 1 << 50).trailing_zeros() + 1);
    // Every tail length goes through the byte-wise path.
    let all: Vec<u64> = (0..17)
        .map(|n| format::murmur64a(&b"abcdefghijklmnopq"[..n], 1))
        .collect();
    let mut uniq = all.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), all.len());
}

#[test]
fn dense_registers_are_independent() {
    let mut regs = vec![0u8; DENSE_LEN - HDR];
    for i in 0..REGISTERS {
        format::dense_set(&mut regs, i, (i * 7 % 64) as u8);
    }
    for i in 0..REGISTERS {
        assert_eq!(format::dense_get(&regs, i), (i * 7 % 64) as u8, "{i}");
    }
    // Register 0 is the low 6 bits of byte 0; register 1 starts at bit 6.
    let mut r = vec![0u8; 3];
    format::dense_set(&mut r, 1, 63);
    assert_eq!(r, [0xc0, 0x0f, 0]);
    assert!(super::selftest(3, 20_000, 3000).is_ok());
}

#[test]
fn new_value_layout() {
    let v = format::new_sparse();
    assert_eq!(&v, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    assert_eq!(format::cached(&v), Some(0));
    assert!(format::is_hll(&v));
    assert_eq!(format::histogram(&v).unwrap()[0], REGISTERS as u32);
}

#[test]
fn sparse_edits_split_and_merge() {
    let mut v = format::new_sparse();
    assert_eq!(format::raise(&mut v, 100, 3, 3000), Ok(true));
    assert_eq!(format::decode_text(&v), "Z:100 v:3,1 Z:16283");
    assert_eq!(format::raise(&mut v, 100, 2, 3000), Ok(false));
    assert_eq!(format::raise(&mut v, 101, 3, 3000), Ok(true));
    assert_eq!(format::decode_text(&v), "Z:100 v:3,2 Z:16282");
    assert_eq!(format::raise(&mut v, 0, 1, 3000), Ok(true));
    assert_eq!(format::raise(&mut v, 16383, 32, 3000), Ok(true));
    assert_eq!(format::decode_text(&v), "v:1,1 Z:99 v:3,2 Z:16281 v:32,1");
    // A value over 32 makes it dense, keeping every register.
    let before = registers(&v);
    assert_eq!(format::raise(&mut v, 5000, 33, 3000), Ok(true));
    assert!(format::is_dense(&v) && v.len() == DENSE_LEN);
    let mut want = before;
    want[5000] = 33;
    assert_eq!(registers(&v), want);
}

#[test]
fn sparse_size_limit_promotes() {
    let t = TestCtx::new();
    t.run(&["CONFIG", "SET", "hll-sparse-max-bytes", "100"]);
    let mut n = 0;
    while t.run(&["PFDEBUG", "ENCODING", "h"]) != "+dense\r\n" {
        t.run(&["PFADD", "h", &format!("e{n}")]);
        n += 1;
        let len = value(&t, "h").len();
        assert!(len <= 100 || len == DENSE_LEN, "{len}");
    }
    assert!(n > 10, "{n}");
    // With the default limit, a few hundred elements stay sparse.
    t.run(&["CONFIG", "SET", "hll-sparse-max-bytes", "3000"]);
    for i in 0..300 {
        t.run(&["PFADD", "s", &format!("e{i}")]);
    }
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "s"]), "+sparse\r\n");
    assert_eq!(t.run(&["PFDEBUG", "TODENSE", "s"]), int(1));
    assert_eq!(t.run(&["PFDEBUG", "TODENSE", "s"]), int(0));
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "s"]), "+dense\r\n");
    assert_eq!(
        t.run(&["PFDEBUG", "DECODE", "s"]),
        "-ERR HLL encoding is not sparse\r\n"
    );
}

#[test]
fn pfadd_return_values_and_ttl() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["PFADD", "h"]),
        int(1),
        "creating counts as a change"
    );
    assert_eq!(t.run(&["PFADD", "h"]), int(0));
    assert_eq!(t.run(&["PFCOUNT", "h"]), int(0));
    assert_eq!(t.run(&["PFADD", "h", "a", "b", "c"]), int(1));
    assert_eq!(t.run(&["PFADD", "h", "a", "b"]), int(0));
    assert_eq!(t.run(&["PFCOUNT", "h"]), int(3));
    // PFCOUNT cached 3 in the header; PFADD of a new element invalidates it.
    let v = value(&t, "h");
    assert_eq!(format::cached(&v), Some(3));
    assert_eq!(t.run(&["PFADD", "h", "d"]), int(1));
    assert_eq!(format::cached(&value(&t, "h")), None);
    assert_eq!(t.run(&["PFCOUNT", "h"]), int(4));
    // TTL kept.
    t.run(&["EXPIRE", "h", "100"]);
    t.run(&["PFADD", "h", "zz"]);
    assert_eq!(t.run(&["TTL", "h"]), int(100));
    t.run(&["PFMERGE", "h", "h"]);
    assert_eq!(t.run(&["TTL", "h"]), int(100));
}

#[test]
fn pfcount_error_stays_small_from_1_to_a_million() {
    let t = TestCtx::new();
    let mut added = 0u64;
    let mut worst: f64 = 0.0;
    for target in [1u64, 10, 100, 1000, 5000, 10_000, 100_000, 1_000_000] {
        let mut args: Vec<String> = vec!["PFADD".into(), "h".into()];
        while added < target {
            args.push(format!("element:{added}"));
            added += 1;
            if args.len() == 1002 || added == target {
                let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
                t.run(&a);
                args.truncate(2);
            }
        }
        let got: u64 = t.run(&["PFCOUNT", "h"])[1..].trim().parse().unwrap();
        let err = (got as f64 - target as f64).abs() / target as f64;
        worst = worst.max(err);
        assert!(err < 0.03, "{target}: estimated {got}");
    }
    assert!(worst > 0.0 || added == 0);
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "h"]), "+dense\r\n");
}

#[test]
fn pfcount_many_and_pfmerge() {
    let t = TestCtx::new();
    for i in 0..2000 {
        t.run(&["PFADD", "a", &format!("x{i}")]);
        t.run(&["PFADD", "b", &format!("x{}", i + 1000)]);
    }
    let union: i64 = t.run(&["PFCOUNT", "a", "b", "missing"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!((union - 3000).abs() < 90, "{union}");
    // Counting several keys caches nothing.
    assert_eq!(format::cached(&value(&t, "a")), None);
    assert_eq!(t.run(&["PFMERGE", "u", "a", "b"]), "+OK\r\n");
    assert_eq!(t.run(&["PFCOUNT", "u"]), int(union));
    // The same registers as the element-wise maximum.
    let (ra, rb) = (registers(&value(&t, "a")), registers(&value(&t, "b")));
    let want: Vec<u8> = ra.iter().zip(&rb).map(|(x, y)| *x.max(y)).collect();
    assert_eq!(registers(&value(&t, "u")), want);
    // Sparse inputs give a sparse result; a dense one a dense result.
    t.run(&["PFADD", "s1", "a"]);
    t.run(&["PFADD", "s2", "b"]);
    t.run(&["PFMERGE", "s3", "s1", "s2"]);
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "s3"]), "+sparse\r\n");
    assert_eq!(t.run(&["PFCOUNT", "s3"]), int(2));
    t.run(&["PFDEBUG", "TODENSE", "s2"]);
    t.run(&["PFMERGE", "d", "s1", "s2"]);
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "d"]), "+dense\r\n");
    // PFMERGE with only a destination creates an empty HLL.
    assert_eq!(t.run(&["PFMERGE", "empty"]), "+OK\r\n");
    assert_eq!(t.run(&["PFCOUNT", "empty"]), int(0));
    // GETREG returns every register.
    let r = t.run(&["PFDEBUG", "GETREG", "s1"]);
    assert!(r.starts_with("*16384\r\n"));
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "s1"]), "+dense\r\n");
}

#[test]
fn wrong_types_and_corruption() {
    let t = TestCtx::new();
    let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    let invalid = "-INVALIDOBJ Corrupted HLL object detected\r\n";
    t.run(&["SET", "s", "hello world, not an hll"]);
    t.run(&["RPUSH", "l", "a"]);
    for cmd in [
        &["PFADD", "s", "x"][..],
        &["PFCOUNT", "s"],
        &["PFCOUNT", "x", "s"],
        &["PFMERGE", "d", "s"],
        &["PFMERGE", "s"],
    ] {
        assert_eq!(t.run(cmd), not_hll, "{cmd:?}");
    }
    for cmd in [
        &["PFADD", "l", "x"][..],
        &["PFCOUNT", "l"],
        &["PFCOUNT", "x", "l"],
        &["PFMERGE", "d", "l"],
    ] {
        assert_eq!(t.run(cmd), wrongtype, "{cmd:?}");
    }
    assert_eq!(t.run(&["EXISTS", "d"]), int(0));
    // A dense value of the wrong length, an unknown encoding.
    let mut bad = format::new_sparse();
    bad[4] = 0;
    set_raw(&t, "b1", &bad);
    bad[4] = 2;
    set_raw(&t, "b2", &bad);
    assert_eq!(t.run(&["PFCOUNT", "b1"]), not_hll);
    assert_eq!(t.run(&["PFCOUNT", "b2"]), not_hll);
    // Sparse opcodes that do not cover 16384 registers.
    let mut short = format::new_sparse();
    short[HDR + 1] = 0xfe;
    format::invalidate(&mut short);
    set_raw(&t, "c", &short);
    assert_eq!(t.run(&["PFCOUNT", "c"]), invalid);
    assert_eq!(t.run(&["PFCOUNT", "c", "c"]), invalid);
    assert_eq!(t.run(&["PFMERGE", "d", "c"]), invalid);
    // PFADD walks the opcodes only up to the register it sets, as Redis's does (and the
    // integration test checks Redis answers the same): "x" lands before the gap.
    assert_eq!(t.run(&["PFADD", "c", "x"]), int(1));
    assert_eq!(t.run(&["PFCOUNT", "c"]), invalid);
    assert_eq!(t.run(&["PFDEBUG", "GETREG", "c"]), invalid);
    // A valid cache is returned without looking at the registers, as in Redis.
    let mut cachedbad = short.clone();
    format::set_cached(&mut cachedbad, 42);
    set_raw(&t, "c2", &cachedbad);
    assert_eq!(t.run(&["PFCOUNT", "c2"]), int(42));
    assert_eq!(
        t.run(&["PFDEBUG", "GETREG", "nosuch"]),
        "-ERR The specified key does not exist\r\n"
    );
    t.run(&["PFADD", "ok", "a"]);
    assert_eq!(
        t.run(&["PFDEBUG", "what", "ok"]),
        "-ERR Unknown PFDEBUG subcommand 'what'\r\n"
    );
    assert_eq!(
        t.run(&["PFADD"]),
        "-ERR wrong number of arguments for 'pfadd' command\r\n"
    );
}

#[test]
fn pfcount_cache_write_touches_watchers_resp3_shapes() {
    let t = TestCtx::new();
    t.run(&["PFADD", "h", "a"]);
    t.run(&["WATCH", "h"]);
    t.run(&["PFCOUNT", "h"]); // stores the cache: a change, as Redis signals it
    t.run(&["MULTI"]);
    t.run(&["PING"]);
    assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
    // A second PFCOUNT reads the cache and changes nothing.
    t.run(&["WATCH", "h"]);
    t.run(&["PFCOUNT", "h"]);
    t.run(&["MULTI"]);
    t.run(&["PING"]);
    assert_eq!(t.run(&["EXEC"]), "*1\r\n+PONG\r\n");
    t.run(&["HELLO", "3"]);
    assert_eq!(t.run(&["PFCOUNT", "h"]), int(1));
    assert_eq!(t.run(&["PFMERGE", "h2", "h"]), "+OK\r\n");
    assert_eq!(t.run(&["PFDEBUG", "ENCODING", "h2"]), "+sparse\r\n");
    let decoded = t.run(&["PFDEBUG", "DECODE", "h"]);
    assert!(decoded.contains("v:"), "{decoded}");
    assert_eq!(t.run(&["PFDEBUG", "DECODE", "h2"]), decoded);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Dense and sparse paths give the same registers and the same count.
    #[test]
    fn dense_and_sparse_agree(elems in prop::collection::vec(any::<u32>(), 0..600)) {
        let mut sparse = format::new_sparse();
        let mut dense = format::to_dense(&format::new_sparse()).unwrap();
        for e in &elems {
            let b = e.to_le_bytes();
            format::add(&mut sparse, &b, 3000).unwrap();
            format::add(&mut dense, &b, 3000).unwrap();
        }
        prop_assert!(format::is_dense(&dense));
        prop_assert_eq!(registers(&sparse), registers(&dense));
        let est = |v: &[u8]| format::estimate(&format::histogram(v).unwrap());
        prop_assert_eq!(est(&sparse), est(&dense));
        let mut max = Box::new([0u8; REGISTERS]);
        format::merge_into(&mut max, &sparse).unwrap();
        prop_assert_eq!(format::estimate(&format::raw_histogram(&max)), est(&dense));
    }

    /// The group-at-a-time dense unpacking (merge) and packing (PFMERGE) agree with the
    /// register-at-a-time accessors.
    #[test]
    fn dense_groups_agree_with_registers(sets in prop::collection::vec((0..REGISTERS, 0u8..64), 0..2000)) {
        let mut regs = Box::new([0u8; REGISTERS]);
        for (i, r) in sets {
            regs[i] = r;
        }
        let mut packed = vec![0u8; DENSE_LEN - HDR];
        format::pack_dense(&regs, &mut packed);
        for (i, &r) in regs.iter().enumerate() {
            prop_assert_eq!(format::dense_get(&packed, i), r);
        }
        let mut v = format::to_dense(&format::new_sparse()).unwrap();
        v[HDR..].copy_from_slice(&packed);
        let mut max = Box::new([0u8; REGISTERS]);
        format::merge_into(&mut max, &v).unwrap();
        prop_assert_eq!(&max[..], &regs[..]);
    }

    /// decode(encode(x)) == x: any registers (sparse-representable) survive the sparse
    /// encoding and the dense conversion; the opcodes stay within their limits.
    #[test]
    fn sparse_round_trip(sets in prop::collection::vec((0..REGISTERS, 1u8..=32), 0..300)) {
        let mut regs = vec![0u8; REGISTERS];
        for (i, r) in sets {
            regs[i] = regs[i].max(r);
        }
        let v = sparse_of(&regs);
        prop_assert!(!format::is_dense(&v));
        prop_assert_eq!(registers(&v), regs.clone());
        let total: usize = format::ops(&v).map(|(_, op)| op.span()).sum();
        prop_assert_eq!(total, REGISTERS);
        for (_, op) in format::ops(&v) {
            if let Op::Val(val, n) = op {
                prop_assert!((1..=32).contains(&val) && (1..=4).contains(&n));
            }
        }
        // Dense → registers → dense is the identity too.
        let d = format::to_dense(&v).unwrap();
        let mut d2 = vec![0u8; DENSE_LEN];
        d2[..HDR].copy_from_slice(&d[..HDR]);
        for (i, &r) in regs.iter().enumerate() {
            format::dense_set(&mut d2[HDR..], i, r);
        }
        prop_assert_eq!(d, d2);
    }
}
