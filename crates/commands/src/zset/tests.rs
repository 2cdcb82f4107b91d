//! Tests of the sorted-set family: replies checked byte for byte against what Redis 7.0
//! answers (RESP2 and RESP3), both encodings (small thresholds force the large one).

use crate::config::Settings;
use crate::testing::TestCtx;
use std::sync::atomic::Ordering::Relaxed;

const NIL: &str = "$-1\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const RANGE_NOT_FLOAT: &str = "-ERR min or max is not a float\r\n";
const EMPTY: &str = "*0\r\n";

/// A RESP2 array of bulk strings.
fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&format!("${}\r\n{}\r\n", i.len(), i));
    }
    s
}

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// A context whose sorted sets convert to the large encoding past `entries` elements.
fn ctx_with(entries: i64) -> TestCtx {
    let s = Settings::default();
    s.zset_max_listpack_entries.store(entries as _, Relaxed);
    TestCtx::with_settings(s)
}

/// Both encodings: default thresholds, and thresholds of 0 (every set is a skip list).
fn both() -> [TestCtx; 2] {
    [TestCtx::new(), ctx_with(0)]
}

fn encoding(t: &TestCtx, k: &str) -> String {
    t.run(&["OBJECT", "ENCODING", k])
}

#[test]
fn zadd_basics_and_encodings() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["ZADD", "z", "1", "a", "2", "b"]), int(2));
    assert_eq!(t.run(&["ZADD", "z", "3", "a", "4", "c"]), int(1));
    assert_eq!(t.run(&["ZCARD", "z"]), int(3));
    assert_eq!(encoding(&t, "z"), "$8\r\nlistpack\r\n");
    assert_eq!(t.run(&["TYPE", "z"]), "+zset\r\n");
    assert_eq!(t.run(&["ZRANGE", "z", "0", "-1"]), arr(&["b", "a", "c"]));
    let t = ctx_with(2);
    t.run(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(encoding(&t, "z"), "$8\r\nlistpack\r\n");
    t.run(&["ZADD", "z", "3", "c"]);
    assert_eq!(encoding(&t, "z"), "$8\r\nskiplist\r\n");
    let t = TestCtx::new();
    t.run(&["ZADD", "z", "1", &"x".repeat(65)]);
    assert_eq!(encoding(&t, "z"), "$8\r\nskiplist\r\n");
}

#[test]
fn zadd_option_errors() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["ZADD", "z", "NX", "XX", "1", "a"]),
        "-ERR XX and NX options at the same time are not compatible\r\n"
    );
    for opts in [["GT", "LT"], ["NX", "GT"], ["LT", "NX"]] {
        assert_eq!(
            t.run(&["ZADD", "z", opts[0], opts[1], "1", "a"]),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
        );
    }
    assert_eq!(
        t.run(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "-ERR INCR option supports a single increment-element pair\r\n"
    );
    assert_eq!(t.run(&["ZADD", "z", "1", "a", "2"]), SYNTAX);
    assert_eq!(t.run(&["ZADD", "z", "NX", "1"]), SYNTAX);
    assert_eq!(
        t.run(&["ZADD", "z", "1"]),
        "-ERR wrong number of arguments for 'zadd' command\r\n"
    );
    assert_eq!(t.run(&["ZADD", "z", "nan", "a"]), NOT_FLOAT);
    assert_eq!(t.run(&["ZADD", "z", "1", "a", "x", "b"]), NOT_FLOAT);
    // Nothing was written by the failed commands.
    assert_eq!(t.run(&["EXISTS", "z"]), int(0));
    t.run(&["SET", "s", "v"]);
    assert_eq!(t.run(&["ZADD", "s", "1", "a"]), WRONGTYPE);
}

#[test]
fn zadd_nx_xx_gt_lt_ch_incr() {
    for t in both() {
        t.run(&["ZADD", "z", "10", "a"]);
        assert_eq!(t.run(&["ZADD", "z", "XX", "1", "new"]), int(0));
        assert_eq!(t.run(&["ZADD", "missing", "XX", "1", "a"]), int(0));
        assert_eq!(t.run(&["EXISTS", "missing"]), int(0));
        assert_eq!(
            t.run(&["ZADD", "z", "NX", "CH", "5", "a", "1", "b"]),
            int(1)
        );
        assert_eq!(t.run(&["ZSCORE", "z", "a"]), "$2\r\n10\r\n");
        // GT only raises, LT only lowers; CH counts changed scores.
        assert_eq!(t.run(&["ZADD", "z", "GT", "CH", "5", "a"]), int(0));
        assert_eq!(t.run(&["ZADD", "z", "GT", "CH", "20", "a"]), int(1));
        assert_eq!(t.run(&["ZADD", "z", "LT", "CH", "30", "a"]), int(0));
        assert_eq!(
            t.run(&["ZADD", "z", "LT", "CH", "0", "a", "7", "c"]),
            int(2)
        );
        // GT/LT still add new members unless XX.
        assert_eq!(
            t.run(&["ZADD", "z", "GT", "XX", "CH", "100", "a", "5", "d"]),
            int(1)
        );
        assert_eq!(t.run(&["ZSCORE", "z", "d"]), NIL);
        // INCR replies the new score, or null when an option refused the update.
        assert_eq!(t.run(&["ZADD", "z", "INCR", "1.5", "a"]), "$5\r\n101.5\r\n");
        assert_eq!(t.run(&["ZADD", "z", "INCR", "NX", "1", "a"]), NIL);
        assert_eq!(t.run(&["ZADD", "z", "INCR", "XX", "1", "zz"]), NIL);
        assert_eq!(t.run(&["ZADD", "z", "INCR", "GT", "-1", "a"]), NIL);
        assert_eq!(
            t.run(&["ZADD", "z", "INCR", "LT", "-1", "a"]),
            "$5\r\n100.5\r\n"
        );
        assert_eq!(t.run(&["ZADD", "z", "CH", "100.5", "a"]), int(0));
        t.resp3();
        assert_eq!(t.run(&["ZADD", "z", "INCR", "0.25", "a"]), ",100.75\r\n");
        assert_eq!(t.run(&["ZADD", "z", "INCR", "NX", "1", "a"]), "_\r\n");
    }
}

#[test]
fn inf_and_nan_scores() {
    for t in both() {
        assert_eq!(
            t.run(&["ZADD", "z", "+inf", "a", "-inf", "b", "inf", "c"]),
            int(3)
        );
        assert_eq!(t.run(&["ZSCORE", "z", "a"]), "$3\r\ninf\r\n");
        assert_eq!(t.run(&["ZSCORE", "z", "b"]), "$4\r\n-inf\r\n");
        assert_eq!(t.run(&["ZRANGE", "z", "0", "-1"]), arr(&["b", "a", "c"]));
        assert_eq!(
            t.run(&["ZINCRBY", "z", "-inf", "a"]),
            "-ERR resulting score is not a number (NaN)\r\n"
        );
        assert_eq!(
            t.run(&["ZADD", "z", "INCR", "-inf", "a"]),
            "-ERR resulting score is not a number (NaN)\r\n"
        );
        assert_eq!(t.run(&["ZSCORE", "z", "a"]), "$3\r\ninf\r\n");
        assert_eq!(t.run(&["ZINCRBY", "z", "1", "a"]), "$3\r\ninf\r\n");
        assert_eq!(t.run(&["ZCOUNT", "z", "inf", "+inf"]), int(2));
        assert_eq!(t.run(&["ZCOUNT", "z", "(inf", "+inf"]), int(0));
        assert_eq!(t.run(&["ZCOUNT", "z", "-inf", "(-inf"]), int(0));
        assert_eq!(t.run(&["ZCOUNT", "z", "-inf", "-inf"]), int(1));
        assert_eq!(t.run(&["ZCOUNT", "z", "a", "1"]), RANGE_NOT_FLOAT);
        assert_eq!(t.run(&["ZCOUNT", "z", "(nan", "1"]), RANGE_NOT_FLOAT);
        assert_eq!(t.run(&["ZINCRBY", "z", "x", "a"]), NOT_FLOAT);
    }
}

#[test]
fn zincrby_zrem_zscore_zmscore() {
    for t in both() {
        assert_eq!(t.run(&["ZINCRBY", "z", "2", "a"]), "$1\r\n2\r\n");
        assert_eq!(t.run(&["ZINCRBY", "z", "0.5", "a"]), "$3\r\n2.5\r\n");
        t.run(&["ZADD", "z", "1", "b", "3", "c"]);
        assert_eq!(
            t.run(&["ZMSCORE", "z", "a", "nope", "c"]),
            "*3\r\n$3\r\n2.5\r\n$-1\r\n$1\r\n3\r\n"
        );
        assert_eq!(t.run(&["ZMSCORE", "missing", "a"]), "*1\r\n$-1\r\n");
        assert_eq!(t.run(&["ZREM", "z", "a", "nope", "a"]), int(1));
        assert_eq!(t.run(&["ZREM", "missing", "a"]), int(0));
        assert_eq!(t.run(&["ZREM", "z", "b", "c"]), int(2));
        assert_eq!(t.run(&["EXISTS", "z"]), int(0));
        t.run(&["ZADD", "z", "1", "b"]);
        t.resp3();
        assert_eq!(t.run(&["ZSCORE", "z", "b"]), ",1\r\n");
        assert_eq!(t.run(&["ZSCORE", "z", "x"]), "_\r\n");
        assert_eq!(t.run(&["ZMSCORE", "z", "b", "x"]), "*2\r\n,1\r\n_\r\n");
        t.run(&["SET", "s", "v"]);
        for cmd in [
            &["ZSCORE", "s", "a"][..],
            &["ZMSCORE", "s", "a"],
            &["ZREM", "s", "a"],
            &["ZINCRBY", "s", "1", "a"],
            &["ZCARD", "s"],
            &["ZRANK", "s", "a"],
            &["ZRANGE", "s", "0", "1"],
            &["ZPOPMIN", "s"],
            &["ZRANDMEMBER", "s"],
            &["ZSCAN", "s", "0"],
            &["ZCOUNT", "s", "0", "1"],
            &["ZLEXCOUNT", "s", "-", "+"],
            &["ZREMRANGEBYRANK", "s", "0", "1"],
        ] {
            assert_eq!(t.run(cmd), WRONGTYPE, "{cmd:?}");
        }
    }
}

fn abcde(t: &TestCtx) {
    t.run(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ]);
}

#[test]
fn rank_ranges() {
    for t in both() {
        abcde(&t);
        assert_eq!(t.run(&["ZRANGE", "z", "1", "2"]), arr(&["b", "c"]));
        assert_eq!(t.run(&["ZRANGE", "z", "-2", "-1"]), arr(&["d", "e"]));
        assert_eq!(
            t.run(&["ZRANGE", "z", "-100", "100"]),
            arr(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(t.run(&["ZRANGE", "z", "3", "1"]), EMPTY);
        assert_eq!(t.run(&["ZRANGE", "z", "5", "10"]), EMPTY);
        assert_eq!(t.run(&["ZRANGE", "z", "0", "1", "REV"]), arr(&["e", "d"]));
        assert_eq!(t.run(&["ZREVRANGE", "z", "0", "1"]), arr(&["e", "d"]));
        assert_eq!(
            t.run(&["ZREVRANGE", "z", "-1", "-1", "WITHSCORES"]),
            arr(&["a", "1"])
        );
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "0", "WITHSCORES"]),
            arr(&["a", "1"])
        );
        assert_eq!(t.run(&["ZRANGE", "missing", "0", "-1"]), EMPTY);
        assert_eq!(
            t.run(&["ZRANGE", "z", "x", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
            "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
        );
        // Redis lets LIMIT x -1 through for rank ranges (it means "no limit").
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "0", "LIMIT", "3", "-1"]),
            arr(&["a"])
        );
        assert_eq!(t.run(&["ZRANGE", "z", "0", "1", "REV", "REV"]), SYNTAX);
        assert_eq!(t.run(&["ZREVRANGE", "z", "0", "1", "REV"]), SYNTAX);
        assert_eq!(t.run(&["ZRANK", "z", "c"]), int(2));
        assert_eq!(t.run(&["ZREVRANK", "z", "c"]), int(2));
        assert_eq!(t.run(&["ZREVRANK", "z", "e"]), int(0));
        assert_eq!(t.run(&["ZRANK", "z", "x"]), NIL);
        assert_eq!(t.run(&["ZRANK", "missing", "x"]), NIL);
        t.resp3();
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
            "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
        );
        assert_eq!(t.run(&["ZRANGE", "z", "0", "1"]), arr(&["a", "b"]));
    }
}

#[test]
fn score_ranges_with_limit_and_rev() {
    for t in both() {
        abcde(&t);
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "2", "4"]),
            arr(&["b", "c", "d"])
        );
        assert_eq!(t.run(&["ZRANGEBYSCORE", "z", "(2", "(4"]), arr(&["c"]));
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2"]),
            arr(&["b", "c"])
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "4", "10"]),
            arr(&["e"])
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "5", "10"]),
            EMPTY
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"]),
            EMPTY
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "3", "-1"]),
            arr(&["d", "e"])
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "0"]),
            EMPTY
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "(1", "2", "WITHSCORES"]),
            arr(&["b", "2"])
        );
        assert_eq!(t.run(&["ZRANGEBYSCORE", "z", "4", "2"]), EMPTY);
        // Reverse ranges take max first; exclusive bounds still apply to their own end.
        assert_eq!(
            t.run(&["ZREVRANGEBYSCORE", "z", "(4", "2"]),
            arr(&["c", "b"])
        );
        assert_eq!(
            t.run(&["ZREVRANGEBYSCORE", "z", "4", "(2"]),
            arr(&["d", "c"])
        );
        assert_eq!(
            t.run(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "2"]),
            arr(&["d", "c"])
        );
        assert_eq!(
            t.run(&["ZRANGE", "z", "(5", "(1", "BYSCORE", "REV", "LIMIT", "1", "1"]),
            arr(&["c"])
        );
        assert_eq!(t.run(&["ZRANGE", "z", "(1", "5", "BYSCORE", "REV"]), EMPTY);
        assert_eq!(
            t.run(&["ZRANGE", "z", "(1", "(5", "BYSCORE"]),
            arr(&["b", "c", "d"])
        );
        assert_eq!(t.run(&["ZRANGEBYSCORE", "z", "0", "1", "REV"]), SYNTAX);
        assert_eq!(t.run(&["ZRANGEBYSCORE", "z", "0", "1", "BYLEX"]), SYNTAX);
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYSCORE"]),
            SYNTAX
        );
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "0"]),
            SYNTAX
        );
        assert_eq!(t.run(&["ZRANGEBYSCORE", "z", "x", "1"]), RANGE_NOT_FLOAT);
        assert_eq!(t.run(&["ZCOUNT", "z", "(1", "3"]), int(2));
        assert_eq!(t.run(&["ZCOUNT", "missing", "0", "1"]), int(0));
        t.resp3();
        assert_eq!(
            t.run(&["ZREVRANGEBYSCORE", "z", "5", "(4", "WITHSCORES"]),
            "*1\r\n*2\r\n$1\r\ne\r\n,5\r\n"
        );
    }
}

#[test]
fn lex_ranges() {
    for t in both() {
        t.run(&[
            "ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ]);
        assert_eq!(
            t.run(&["ZRANGEBYLEX", "z", "-", "+"]),
            arr(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(t.run(&["ZRANGEBYLEX", "z", "[b", "(d"]), arr(&["b", "c"]));
        assert_eq!(
            t.run(&["ZRANGEBYLEX", "z", "(b", "[d", "LIMIT", "1", "5"]),
            arr(&["d"])
        );
        assert_eq!(
            t.run(&["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "0", "2"]),
            arr(&["e", "d"])
        );
        assert_eq!(
            t.run(&["ZREVRANGEBYLEX", "z", "(d", "[b"]),
            arr(&["c", "b"])
        );
        assert_eq!(
            t.run(&["ZRANGE", "z", "[d", "(b", "BYLEX", "REV"]),
            arr(&["d", "c"])
        );
        assert_eq!(t.run(&["ZRANGEBYLEX", "z", "+", "-"]), EMPTY);
        assert_eq!(t.run(&["ZRANGEBYLEX", "z", "[", "(b"]), arr(&["a"]));
        assert_eq!(t.run(&["ZLEXCOUNT", "z", "(a", "+"]), int(4));
        assert_eq!(
            t.run(&["ZRANGEBYLEX", "z", "a", "+"]),
            "-ERR min or max not valid string range item\r\n"
        );
        assert_eq!(
            t.run(&["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
            "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"
        );
        assert_eq!(t.run(&["ZREMRANGEBYLEX", "z", "[b", "[c"]), int(2));
        assert_eq!(t.run(&["ZRANGE", "z", "0", "-1"]), arr(&["a", "d", "e"]));
        assert_eq!(t.run(&["ZREMRANGEBYLEX", "z", "-", "+"]), int(3));
        assert_eq!(t.run(&["EXISTS", "z"]), int(0));
    }
}

#[test]
fn remrange_by_rank_and_score() {
    for t in both() {
        abcde(&t);
        assert_eq!(t.run(&["ZREMRANGEBYRANK", "z", "0", "-100"]), int(0));
        assert_eq!(t.run(&["ZREMRANGEBYRANK", "z", "-2", "-1"]), int(2));
        assert_eq!(t.run(&["ZREMRANGEBYSCORE", "z", "(1", "2"]), int(1));
        assert_eq!(t.run(&["ZRANGE", "z", "0", "-1"]), arr(&["a", "c"]));
        assert_eq!(t.run(&["ZREMRANGEBYSCORE", "z", "x", "2"]), RANGE_NOT_FLOAT);
        assert_eq!(
            t.run(&["ZREMRANGEBYRANK", "z", "0", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["ZREMRANGEBYRANK", "missing", "0", "1"]), int(0));
        assert_eq!(t.run(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"]), int(2));
        assert_eq!(t.run(&["EXISTS", "z"]), int(0));
    }
}

#[test]
fn zrangestore() {
    for t in both() {
        abcde(&t);
        t.run(&["SET", "dst", "string"]);
        t.run(&["EXPIRE", "dst", "100"]);
        assert_eq!(t.run(&["ZRANGESTORE", "dst", "z", "1", "2"]), int(2));
        assert_eq!(t.run(&["TTL", "dst"]), int(-1));
        assert_eq!(
            t.run(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
            arr(&["b", "2", "c", "3"])
        );
        assert_eq!(
            t.run(&[
                "ZRANGESTORE",
                "dst",
                "z",
                "5",
                "(2",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "2"
            ]),
            int(2)
        );
        assert_eq!(t.run(&["ZRANGE", "dst", "0", "-1"]), arr(&["d", "e"]));
        assert_eq!(
            t.run(&["ZRANGESTORE", "dst", "z", "[a", "[b", "BYLEX"]),
            int(2)
        );
        assert_eq!(
            t.run(&["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"]),
            SYNTAX
        );
        assert_eq!(t.run(&["ZRANGESTORE", "dst", "missing", "0", "-1"]), int(0));
        assert_eq!(t.run(&["EXISTS", "dst"]), int(0));
        assert_eq!(t.run(&["ZRANGESTORE", "dst", "z", "10", "20"]), int(0));
        assert_eq!(t.run(&["EXISTS", "dst"]), int(0));
        t.run(&["SET", "s", "v"]);
        assert_eq!(t.run(&["ZRANGESTORE", "dst", "s", "0", "1"]), WRONGTYPE);
    }
}

#[test]
fn pops() {
    for t in both() {
        abcde(&t);
        assert_eq!(t.run(&["ZPOPMIN", "z"]), arr(&["a", "1"]));
        assert_eq!(t.run(&["ZPOPMAX", "z", "2"]), arr(&["e", "5", "d", "4"]));
        assert_eq!(t.run(&["ZPOPMIN", "z", "0"]), EMPTY);
        assert_eq!(t.run(&["ZPOPMIN", "missing"]), EMPTY);
        assert_eq!(
            t.run(&["ZPOPMIN", "z", "-1"]),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert_eq!(t.run(&["ZPOPMIN", "z", "1", "2"]), SYNTAX);
        assert_eq!(
            t.run(&["ZPOPMIN", "z", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        t.resp3();
        assert_eq!(t.run(&["ZPOPMIN", "z"]), "*2\r\n$1\r\nb\r\n,2\r\n");
        assert_eq!(
            t.run(&["ZPOPMIN", "z", "5"]),
            "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"
        );
        assert_eq!(t.run(&["EXISTS", "z"]), int(0));
        t.run(&["SET", "s", "v"]);
        assert_eq!(t.run(&["ZPOPMIN", "s", "0"]), WRONGTYPE);
    }
}

#[test]
fn zmpop() {
    for t in both() {
        abcde(&t);
        assert_eq!(
            t.run(&["ZMPOP", "2", "missing", "z", "MAX", "COUNT", "2"]),
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\ne\r\n$1\r\n5\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n"
        );
        assert_eq!(
            t.run(&["ZMPOP", "1", "z", "min"]),
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(t.run(&["ZMPOP", "1", "missing", "MIN"]), "*-1\r\n");
        assert_eq!(
            t.run(&["ZMPOP", "0", "z", "MIN"]),
            "-ERR numkeys should be greater than 0\r\n"
        );
        assert_eq!(
            t.run(&["ZMPOP", "x", "z", "MIN"]),
            "-ERR numkeys should be greater than 0\r\n"
        );
        assert_eq!(t.run(&["ZMPOP", "5", "z", "MIN"]), SYNTAX);
        assert_eq!(t.run(&["ZMPOP", "1", "z", "MID"]), SYNTAX);
        assert_eq!(
            t.run(&["ZMPOP", "1", "z", "MIN", "COUNT", "0"]),
            "-ERR count should be greater than 0\r\n"
        );
        assert_eq!(
            t.run(&["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"]),
            SYNTAX
        );
        assert_eq!(t.run(&["ZMPOP", "1", "z", "MIN", "COUNT"]), SYNTAX);
        t.run(&["SET", "s", "v"]);
        assert_eq!(t.run(&["ZMPOP", "2", "s", "z", "MIN"]), WRONGTYPE);
        t.resp3();
        assert_eq!(
            t.run(&["ZMPOP", "1", "z", "MIN", "COUNT", "100"]),
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3\r\n"
        );
        assert_eq!(t.run(&["ZMPOP", "1", "z", "MIN"]), "_\r\n");
    }
}

#[test]
fn pop_core_is_reusable() {
    let t = TestCtx::new();
    abcde(&t);
    let mut sess = t.sess.lock();
    let mut buf = Vec::new();
    let ctx = crate::Ctx {
        srv: &t.srv,
        sess: &mut sess,
        out: protocol::Reply::new(&mut buf, false),
    };
    let r = super::pop_first_nonempty(&ctx, &[b"nope", b"z"], 2, true).unwrap();
    assert_eq!(
        r,
        Some(super::PopResult {
            key: b"z".to_vec(),
            items: vec![(b"e".to_vec(), 5.0), (b"d".to_vec(), 4.0)]
        })
    );
    assert_eq!(
        super::pop_first_nonempty(&ctx, &[b"nope"], 2, true).unwrap(),
        None
    );
}

#[test]
fn zrandmember() {
    for t in both() {
        abcde(&t);
        let one = t.run(&["ZRANDMEMBER", "z"]);
        assert!(["a", "b", "c", "d", "e"]
            .iter()
            .any(|m| one == format!("$1\r\n{m}\r\n")));
        assert_eq!(t.run(&["ZRANDMEMBER", "missing"]), NIL);
        assert_eq!(t.run(&["ZRANDMEMBER", "missing", "3"]), EMPTY);
        assert_eq!(t.run(&["ZRANDMEMBER", "z", "0"]), EMPTY);
        // count ≥ size: the whole set, in order.
        assert_eq!(
            t.run(&["ZRANDMEMBER", "z", "100"]),
            arr(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            t.run(&["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"]),
            arr(&["a", "1", "b", "2", "c", "3", "d", "4", "e", "5"])
        );
        // Positive count: distinct members.
        for _ in 0..20 {
            let r = t.run(&["ZRANDMEMBER", "z", "3"]);
            let lines: Vec<&str> = r
                .split("\r\n")
                .skip(2)
                .step_by(2)
                .filter(|s| !s.is_empty())
                .collect();
            let mut d = lines.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), 3, "{r}");
        }
        // Negative count: repeats allowed, exactly |count| items.
        let r = t.run(&["ZRANDMEMBER", "z", "-20"]);
        assert!(r.starts_with("*20\r\n"));
        let r = t.run(&["ZRANDMEMBER", "z", "-3", "WITHSCORES"]);
        assert!(r.starts_with("*6\r\n"));
        assert_eq!(t.run(&["ZRANDMEMBER", "z", "1", "x"]), SYNTAX);
        assert_eq!(t.run(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"]), SYNTAX);
        assert_eq!(
            t.run(&["ZRANDMEMBER", "z", "-9223372036854775808"]),
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
        );
        assert_eq!(
            t.run(&["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]),
            "-ERR value is out of range\r\n"
        );
        t.resp3();
        let r = t.run(&["ZRANDMEMBER", "z", "-2", "WITHSCORES"]);
        assert!(r.starts_with("*2\r\n*2\r\n$1\r\n"), "{r}");
    }
}

#[test]
fn zscan() {
    for t in both() {
        abcde(&t);
        t.run(&["ZADD", "z", "0.5", "other"]);
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let r = t.run(&["ZSCAN", "z", &cursor, "COUNT", "2"]);
            let parts: Vec<&str> = r.split("\r\n").collect();
            cursor = parts[2].to_string();
            let n: usize = parts[3][1..].parse().unwrap();
            for i in 0..n {
                seen.push(parts[5 + 2 * i].to_string());
            }
            if cursor == "0" {
                break;
            }
        }
        seen.sort();
        let mut want: Vec<String> = vec![
            "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "other", "0.5",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        want.sort();
        assert_eq!(seen, want);
        let r = t.run(&["ZSCAN", "z", "0", "MATCH", "o*", "COUNT", "100"]);
        assert_eq!(r, "*2\r\n$1\r\n0\r\n".to_string() + &arr(&["other", "0.5"]));
        assert_eq!(t.run(&["ZSCAN", "z", "x"]), "-ERR invalid cursor\r\n");
        assert_eq!(t.run(&["ZSCAN", "z", "0", "COUNT", "0"]), SYNTAX);
        assert_eq!(t.run(&["ZSCAN", "z", "0", "NOVALUES"]), SYNTAX);
        assert_eq!(t.run(&["ZSCAN", "missing", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
        // Scores stay bulk strings in RESP3, as Redis.
        t.resp3();
        assert_eq!(
            t.run(&["ZSCAN", "z", "0", "MATCH", "other", "COUNT", "100"]),
            "*2\r\n$1\r\n0\r\n".to_string() + &arr(&["other", "0.5"])
        );
    }
}

#[test]
fn union_inter_diff() {
    for t in both() {
        t.run(&["ZADD", "z1", "1", "a", "2", "b", "3", "c"]);
        t.run(&["ZADD", "z2", "10", "b", "20", "c", "30", "d"]);
        assert_eq!(
            t.run(&["ZUNION", "2", "z1", "z2", "WITHSCORES"]),
            arr(&["a", "1", "b", "12", "c", "23", "d", "30"])
        );
        assert_eq!(
            t.run(&[
                "ZUNION",
                "2",
                "z1",
                "z2",
                "WEIGHTS",
                "2",
                "0.5",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]),
            arr(&["a", "2", "b", "5", "c", "10", "d", "15"])
        );
        assert_eq!(
            t.run(&["ZINTER", "2", "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES"]),
            arr(&["b", "2", "c", "3"])
        );
        assert_eq!(t.run(&["ZINTER", "2", "z1", "z2"]), arr(&["b", "c"]));
        assert_eq!(t.run(&["ZINTER", "2", "z1", "missing"]), EMPTY);
        assert_eq!(
            t.run(&["ZDIFF", "2", "z1", "z2", "WITHSCORES"]),
            arr(&["a", "1"])
        );
        assert_eq!(t.run(&["ZDIFF", "2", "missing", "z2"]), EMPTY);
        assert_eq!(t.run(&["ZINTERCARD", "2", "z1", "z2"]), int(2));
        assert_eq!(
            t.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"]),
            int(1)
        );
        assert_eq!(
            t.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "0"]),
            int(2)
        );
        assert_eq!(
            t.run(&["ZINTERCARD", "1", "z1", "LIMIT", "-1"]),
            "-ERR LIMIT can't be negative\r\n"
        );
        assert_eq!(t.run(&["ZINTERCARD", "1", "z1", "WITHSCORES"]), SYNTAX);
        assert_eq!(
            t.run(&["ZINTERCARD", "0", "z1"]),
            "-ERR at least 1 input key is needed for 'zintercard' command\r\n"
        );
        assert_eq!(
            t.run(&["ZUNIONSTORE", "d", "0", "z1"]),
            "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"
        );
        assert_eq!(t.run(&["ZUNION", "3", "z1", "z2"]), SYNTAX);
        assert_eq!(t.run(&["ZUNION", "2", "z1", "z2", "WEIGHTS", "1"]), SYNTAX);
        assert_eq!(
            t.run(&["ZUNION", "1", "z1", "WEIGHTS", "x"]),
            "-ERR weight value is not a float\r\n"
        );
        assert_eq!(t.run(&["ZUNION", "1", "z1", "AGGREGATE", "AVG"]), SYNTAX);
        assert_eq!(t.run(&["ZDIFF", "1", "z1", "WEIGHTS", "1"]), SYNTAX);
        assert_eq!(
            t.run(&["ZUNIONSTORE", "d", "1", "z1", "WITHSCORES"]),
            SYNTAX
        );
        t.run(&["SET", "s", "v"]);
        // WRONGTYPE wins over option errors, as Redis checks inputs first.
        assert_eq!(t.run(&["ZUNION", "2", "z1", "s", "BOGUS"]), WRONGTYPE);
        // Stores replace the destination (TTL too) or delete it when empty.
        t.run(&["SET", "d", "x", "EX", "100"]);
        assert_eq!(t.run(&["ZUNIONSTORE", "d", "2", "z1", "z2"]), int(4));
        assert_eq!(t.run(&["TTL", "d"]), int(-1));
        assert_eq!(
            t.run(&["ZRANGE", "d", "0", "-1"]),
            arr(&["a", "b", "c", "d"])
        );
        assert_eq!(
            t.run(&["ZINTERSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "-1"]),
            int(2)
        );
        assert_eq!(
            t.run(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
            arr(&["c", "-17", "b", "-8"])
        );
        assert_eq!(t.run(&["ZDIFFSTORE", "d", "2", "z1", "z1"]), int(0));
        assert_eq!(t.run(&["EXISTS", "d"]), int(0));
        // The destination may be one of the inputs.
        assert_eq!(t.run(&["ZUNIONSTORE", "z1", "2", "z1", "z2"]), int(4));
        assert_eq!(t.run(&["ZSCORE", "z1", "c"]), "$2\r\n23\r\n");
        t.resp3();
        assert_eq!(
            t.run(&["ZINTER", "2", "z1", "z2", "WITHSCORES"]),
            "*3\r\n*2\r\n$1\r\nb\r\n,22\r\n*2\r\n$1\r\nc\r\n,43\r\n*2\r\n$1\r\nd\r\n,60\r\n"
        );
    }
}

#[test]
fn aggregate_with_inf_and_zero_weights() {
    for t in both() {
        t.run(&["ZADD", "inf", "+inf", "a", "-inf", "b"]);
        // inf × 0 is NaN, which Redis counts as 0.
        assert_eq!(
            t.run(&["ZUNION", "1", "inf", "WEIGHTS", "0", "WITHSCORES"]),
            arr(&["a", "0", "b", "0"])
        );
        // Only the first set's NaN becomes 0; later ones: SUM → NaN → 0, MIN/MAX keep.
        assert_eq!(
            t.run(&[
                "ZINTER",
                "2",
                "inf",
                "inf",
                "WEIGHTS",
                "0",
                "1",
                "WITHSCORES"
            ]),
            arr(&["b", "-inf", "a", "inf"])
        );
        assert_eq!(
            t.run(&[
                "ZINTER",
                "2",
                "inf",
                "inf",
                "WEIGHTS",
                "0",
                "1",
                "AGGREGATE",
                "MIN",
                "WITHSCORES"
            ]),
            arr(&["b", "-inf", "a", "0"])
        );
        assert_eq!(
            t.run(&[
                "ZINTER",
                "2",
                "inf",
                "inf",
                "WEIGHTS",
                "1",
                "0",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]),
            arr(&["b", "-inf", "a", "inf"])
        );
        // inf + -inf is NaN under SUM, which becomes 0.
        assert_eq!(
            t.run(&[
                "ZUNION",
                "2",
                "inf",
                "inf",
                "WEIGHTS",
                "1",
                "-1",
                "WITHSCORES"
            ]),
            arr(&["a", "0", "b", "0"])
        );
    }
}

#[test]
fn plain_sets_as_inputs() {
    let t = TestCtx::new();
    t.run(&["ZADD", "z", "5", "a", "6", "x"]);
    // A compact set blob, built directly: the set family owns SADD.
    let k = t.srv.ks.key(b"s");
    {
        let mut txn = t.srv.ks.txn1(0, &k);
        let blob = storage::types::compact::build([&b"a"[..], b"b"]);
        txn.put_entry(
            &k,
            storage::Entry::new_compact(b"s", storage::ObjType::Set, &blob, k.slot, 0),
            0,
        );
    }
    assert_eq!(
        t.run(&["ZUNION", "2", "z", "s", "WITHSCORES"]),
        arr(&["b", "1", "a", "6", "x", "6"])
    );
    assert_eq!(
        t.run(&["ZINTER", "2", "z", "s", "WITHSCORES"]),
        arr(&["a", "6"])
    );
    assert_eq!(
        t.run(&["ZDIFF", "2", "s", "z", "WITHSCORES"]),
        arr(&["b", "1"])
    );
}

#[test]
fn double_formatting() {
    let t = TestCtx::new();
    t.run(&[
        "ZADD",
        "z",
        "1e3",
        "a",
        "-0.25",
        "b",
        "12345678901234567890",
        "c",
    ]);
    assert_eq!(t.run(&["ZSCORE", "z", "a"]), "$4\r\n1000\r\n");
    assert_eq!(t.run(&["ZSCORE", "z", "b"]), "$5\r\n-0.25\r\n");
    // Redis 7.0's %.17g, as its ZSCORE answers.
    assert_eq!(
        t.run(&["ZSCORE", "z", "c"]),
        "$22\r\n1.2345678901234567e+19\r\n"
    );
}

#[test]
fn arity_and_table() {
    let t = TestCtx::new();
    // (command, an argument count it refuses)
    for (cmd, n) in [
        ("zscore", 2),
        ("zcard", 1),
        ("zrank", 4),
        ("zrangestore", 4),
        ("zmpop", 3),
    ] {
        let mut v = vec![cmd];
        v.extend(std::iter::repeat_n("x", n - 1));
        assert_eq!(
            t.run(&v),
            format!("-ERR wrong number of arguments for '{cmd}' command\r\n")
        );
    }
    assert!(
        t.run(&["COMMAND", "INFO", "zadd"]).contains("sorted_set")
            || t.run(&["COMMAND", "DOCS", "zadd"]).contains("sorted_set")
    );
}

#[test]
fn bzpop_forms_answer_at_once_when_data_or_denied() {
    let t = TestCtx::new();
    t.run(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        t.run(&["BZPOPMIN", "none", "z", "0"]),
        "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        t.run(&["BZPOPMAX", "z", "0"]),
        "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    t.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        t.run(&["BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"]),
        "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    t.run(&["SET", "s", "x"]);
    assert!(t.run(&["BZPOPMIN", "s", "0"]).starts_with("-WRONGTYPE"));
    assert_eq!(
        t.run(&["BZPOPMIN", "z", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        t.run(&["BZMPOP", "0", "0", "z", "MIN"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
}
