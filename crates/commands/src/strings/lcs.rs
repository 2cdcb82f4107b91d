//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
//! subsequence of two strings, by Redis's dynamic-programming table and its exact walk back
//! through it (so ties resolve, and IDX ranges come out, in the same order as Redis).
//!
//! Both values are copied out and the shard locks released before the O(n·m) work, so a
//! large LCS does not stall other clients of those shards.

use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::Args;
use storage::ObjType;

pub(super) fn lcs(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (a, b) = {
        let keys = [ctx.key(args.get(1)), ctx.key(args.get(2))];
        let mut txn = ctx.txn(&keys);
        let mut read = |i: usize| -> Result<Vec<u8>, CmdError> {
            match txn.get(&keys[i]) {
                None => Ok(Vec::new()),
                Some(e) if e.obj_type() != ObjType::String => Err(CmdError::Static(
                    "ERR The specified keys must contain string values",
                )),
                Some(e) => Ok(e.value().to_vec()),
            }
        };
        let a = read(0);
        let b = read(1);
        (a?, b?)
    };

    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0u64);
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if eq_ic(opt, "idx") {
            getidx = true;
        } else if eq_ic(opt, "len") {
            getlen = true;
        } else if eq_ic(opt, "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(opt, "minmatchlen") && j + 1 < args.len() {
            minmatchlen = parse_int(args.get(j + 1))?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::Static(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::Static("ERR String too long for LCS"));
    }

    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > super::max_string_len(ctx) {
        return Err(CmdError::Static(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        return Err(CmdError::Static(
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    table.resize(cells as usize, 0);
    let w = blen + 1;
    // table[i*w + j] = LCS length of a[..i] and b[..j].
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * w + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * w + j - 1] + 1
            } else {
                table[(i - 1) * w + j].max(table[i * w + j - 1])
            };
        }
    }
    let total = table[alen * w + blen];

    if getlen && !getidx {
        ctx.out.int(total as i64);
        return Ok(());
    }

    // Walk back from the end, collecting the LCS (backwards) and the matched ranges.
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    // (a_start, a_end, b_start, b_end, len) of each emitted range, in Redis's order.
    let mut ranges: Vec<[u64; 5]> = Vec::new();
    let mut cur: Option<[usize; 4]> = None;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(r) if r[0] == i && r[2] == j => {
                    r[0] -= 1;
                    r[2] -= 1;
                }
                Some(_) => emit = true,
            }
            if cur.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * w + j] > table[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit {
            if let Some(r) = cur.take() {
                let len = (r[1] - r[0] + 1) as u64;
                if minmatchlen == 0 || len >= minmatchlen {
                    ranges.push([r[0] as u64, r[1] as u64, r[2] as u64, r[3] as u64, len]);
                }
            }
        }
    }

    if !getidx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    let out = &mut ctx.out;
    out.map_len(2);
    out.bulk(b"matches");
    out.array_len(ranges.len());
    for r in &ranges {
        out.array_len(2 + withmatchlen as usize);
        out.array_len(2);
        out.int(r[0] as i64);
        out.int(r[1] as i64);
        out.array_len(2);
        out.int(r[2] as i64);
        out.int(r[3] as i64);
        if withmatchlen {
            out.int(r[4] as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    fn setup() -> TestCtx {
        let t = TestCtx::new();
        t.run(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
        t
    }

    #[test]
    fn string_and_len() {
        let t = setup();
        assert_eq!(t.run(&["LCS", "key1", "key2"]), "$6\r\nmytext\r\n");
        assert_eq!(t.run(&["LCS", "key1", "key2", "LEN"]), ":6\r\n");
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "WITHMATCHLEN"]),
            "$6\r\nmytext\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "LEN", "MINMATCHLEN", "-5"]),
            ":6\r\n"
        );
        assert_eq!(t.run(&["LCS", "key1", "nokey"]), "$0\r\n\r\n");
        assert_eq!(t.run(&["LCS", "nokey", "nokey2", "LEN"]), ":0\r\n");
        t.run(&["MSET", "x", "ABCBDAB", "y", "BDCABA"]);
        // Redis (7.0.15) answers BDAB for this classic pair, with these ranges.
        assert_eq!(t.run(&["LCS", "x", "y"]), "$4\r\nBDAB\r\n");
        assert_eq!(
            t.run(&["LCS", "x", "y", "IDX", "WITHMATCHLEN"]),
            "*4\r\n$7\r\nmatches\r\n*2\r\n\
             *3\r\n*2\r\n:5\r\n:6\r\n*2\r\n:3\r\n:4\r\n:2\r\n\
             *3\r\n*2\r\n:3\r\n:4\r\n*2\r\n:0\r\n:1\r\n:2\r\n\
             $3\r\nlen\r\n:4\r\n"
        );
        assert_eq!(t.run(&["LCS", "x", "x"]), "$7\r\nABCBDAB\r\n");
    }

    #[test]
    fn idx_output() {
        let t = setup();
        let full = "*4\r\n$7\r\nmatches\r\n*2\r\n\
            *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
            *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n\
            $3\r\nlen\r\n:6\r\n";
        assert_eq!(t.run(&["LCS", "key1", "key2", "IDX"]), full);
        assert_eq!(
            t.run(&[
                "LCS",
                "key1",
                "key2",
                "IDX",
                "MINMATCHLEN",
                "4",
                "WITHMATCHLEN"
            ]),
            "*4\r\n$7\r\nmatches\r\n*1\r\n\
             *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
             $3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1", "nokey", "IDX"]),
            "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
        );
        t.resp3();
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "idx", "minmatchlen", "3"]),
            "%2\r\n$7\r\nmatches\r\n*1\r\n\
             *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
             $3\r\nlen\r\n:6\r\n"
        );
    }

    #[test]
    fn errors() {
        let t = setup();
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "IDX", "LEN"]),
            "-ERR If you want both the length and indexes, please just use IDX.\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "FOO"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "MINMATCHLEN"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1", "key2", "MINMATCHLEN", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["LCS", "key1"]),
            "-ERR wrong number of arguments for 'lcs' command\r\n"
        );
    }

    #[test]
    fn transient_memory_is_bounded() {
        let t = setup();
        t.srv
            .settings
            .proto_max_bulk_len
            .store(1000, std::sync::atomic::Ordering::Relaxed);
        t.run(&["MSET", "a", &"x".repeat(20), "b", &"x".repeat(20)]);
        assert_eq!(
            t.run(&["LCS", "a", "b", "LEN"]),
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
    }
}
