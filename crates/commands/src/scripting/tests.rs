//! Unit tests for scripting: conversions both ways, the redis library, the sandbox, errors in
//! Redis's exact words (checked against Redis 7.0.15), the script cache and SCRIPT KILL.

use super::engine::{sha1_hex, IDLE, KILLED, RUNNING, WROTE};
use crate::testing::TestCtx;

fn eval(t: &TestCtx, script: &str) -> String {
    t.run(&["EVAL", script, "0"])
}

fn sha(script: &str) -> String {
    sha1_hex(script.as_bytes())
}

#[test]
fn lua_to_reply_conversions() {
    let t = TestCtx::new();
    assert_eq!(eval(&t, "return 1"), ":1\r\n");
    assert_eq!(eval(&t, "return 3.99"), ":3\r\n");
    assert_eq!(eval(&t, "return -3.99"), ":-3\r\n");
    assert_eq!(eval(&t, "return 'ciao'"), "$4\r\nciao\r\n");
    assert_eq!(eval(&t, "return true"), ":1\r\n");
    assert_eq!(eval(&t, "return false"), "$-1\r\n");
    assert_eq!(eval(&t, "return nil"), "$-1\r\n");
    assert_eq!(eval(&t, "return {1,2,nil,4}"), "*2\r\n:1\r\n:2\r\n");
    assert_eq!(
        eval(&t, "return {1,{ok='x'},{err='y'},false,true}"),
        "*5\r\n:1\r\n+x\r\n-y\r\n$-1\r\n:1\r\n"
    );
    assert_eq!(eval(&t, "return {1,2,3,x=4}"), "*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_eq!(eval(&t, "return {x=4}"), "*0\r\n");
    assert_eq!(eval(&t, "return {ok='FINE'}"), "+FINE\r\n");
    assert_eq!(eval(&t, "return {err='MYERR bad'}"), "-MYERR bad\r\n");
    assert_eq!(eval(&t, "return {err='bad'}"), "-bad\r\n");
    assert_eq!(eval(&t, "return {double=1.5}"), "$3\r\n1.5\r\n");
    assert_eq!(eval(&t, "return {map={a=1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&t, "return {set={a=true}}"), "*1\r\n$1\r\na\r\n");
    assert_eq!(eval(&t, "return {big_number='123'}"), "$3\r\n123\r\n");
    assert_eq!(eval(&t, "return function() end"), "$-1\r\n");
}

#[test]
fn lua_to_reply_resp3() {
    let t = TestCtx::new();
    t.resp3();
    assert_eq!(eval(&t, "return true"), ":1\r\n");
    assert_eq!(eval(&t, "return false"), "_\r\n");
    assert_eq!(eval(&t, "return nil"), "_\r\n");
    assert_eq!(eval(&t, "return {double=1.5}"), ",1.5\r\n");
    assert_eq!(eval(&t, "return {map={a=1}}"), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&t, "return {set={a=true}}"), "~1\r\n$1\r\na\r\n");
    assert_eq!(eval(&t, "return {big_number='123'}"), "(123\r\n");
}

#[test]
fn reply_to_lua_conversions() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "abc"]);
    assert_eq!(eval(&t, "return redis.call('ping')"), "+PONG\r\n");
    assert_eq!(eval(&t, "return redis.call('ping').ok"), "$4\r\nPONG\r\n");
    assert_eq!(eval(&t, "return redis.call('get','nokey')"), "$-1\r\n");
    assert_eq!(
        eval(&t, "return type(redis.call('get','nokey'))"),
        "$7\r\nboolean\r\n"
    );
    assert_eq!(
        eval(&t, "return type(redis.call('strlen','s'))"),
        "$6\r\nnumber\r\n"
    );
    assert_eq!(eval(&t, "return redis.call('get','s')"), "$3\r\nabc\r\n");
    assert_eq!(
        eval(&t, "return redis.call('mget','s','nokey')"),
        "*2\r\n$3\r\nabc\r\n$-1\r\n" // a nil reply is false in Lua: it does not end the array
    );
    assert_eq!(
        eval(
            &t,
            "local r = redis.pcall('incr','s'); return type(r) .. ':' .. r.err"
        ),
        "$49\r\ntable:ERR value is not an integer or out of range\r\n"
    );
    // Numbers as arguments are converted as Lua prints them.
    assert_eq!(
        eval(&t, "redis.call('set','k',1.5) return redis.call('get','k')"),
        "$3\r\n1.5\r\n"
    );
    assert_eq!(
        eval(&t, "redis.call('set','k',7) return redis.call('get','k')"),
        "$1\r\n7\r\n"
    );
}

#[test]
fn setresp_3_gives_resp3_values() {
    let t = TestCtx::new();
    t.run(&["SET", "n", "1"]);
    assert_eq!(
        eval(
            &t,
            "redis.setresp(3); return type(redis.call('get','nokey'))"
        ),
        "$3\r\nnil\r\n"
    );
    assert_eq!(
        eval(&t, "redis.setresp(3); return redis.call('get','nokey')"),
        "$-1\r\n"
    );
    assert_eq!(
        eval(&t, "redis.setresp(4)"),
        format!(
            "-ERR RESP version must be 2 or 3. script: {}, on @user_script:1.\r\n",
            sha("redis.setresp(4)")
        )
    );
    assert_eq!(
        eval(&t, "redis.setresp()"),
        format!(
            "-ERR redis.setresp() requires one argument. script: {}, on @user_script:1.\r\n",
            sha("redis.setresp()")
        )
    );
}

#[test]
fn keys_and_argv() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&[
            "EVAL",
            "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}",
            "2",
            "a",
            "b",
            "c",
            "d"
        ]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return #KEYS .. #ARGV", "0", "x"]),
        "$2\r\n01\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "KEYS[1] = 'x' return KEYS[1]", "0"]),
        "$1\r\nx\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1", "2", "a"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1", "abc"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return 1"]),
        "-ERR wrong number of arguments for 'eval' command\r\n"
    );
}

#[test]
fn call_errors_in_redis_words() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "abc"]);
    let cases = [
        (
            "return redis.call('incr','x','y')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('incr','s')",
            "ERR value is not an integer or out of range",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call(1)",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('set','k',{})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return redis.call('hello','3')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('eval','return 1','0')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('client','list')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('config','get','port')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('script','load','return 1')",
            "ERR This Redis command is not allowed from script",
        ),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='XX boom'})", "XX boom"),
        ("error()", "ERR nil"),
        (
            "x = 5",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "string.foo = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "redis.call = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "rawset(_G, 'x', 1)",
            "ERR Attempt to modify a readonly table",
        ),
        (
            "rawset(string, 'x', 1)",
            "ERR Attempt to modify a readonly table",
        ),
        (
            "setmetatable(_G, {})",
            "ERR Attempt to modify a readonly table",
        ),
        (
            "return y",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'y'",
        ),
        (
            "return os",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
        (
            "return io",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'io'",
        ),
        (
            "return loadfile",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'",
        ),
        (
            "return dofile",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'",
        ),
        (
            "return debug",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'debug'",
        ),
        (
            "return setfenv",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'setfenv'",
        ),
        ("redis.log(99,'hello')", "ERR Invalid debug level."),
        ("return redis.sha1hex()", "ERR wrong number of arguments"),
    ];
    for (script, err) in cases {
        assert_eq!(
            eval(&t, script),
            format!("-{err} script: {}, on @user_script:1.\r\n", sha(script)),
            "{script}"
        );
    }
    // The error's line is the user script's line that raised it.
    let s = "local a = 1\nlocal b = 2\nreturn redis.call('nosuch')";
    assert_eq!(
        eval(&t, s),
        format!(
            "-ERR Unknown Redis command called from script script: {}, on @user_script:3.\r\n",
            sha(s)
        )
    );
    // pcall returns the error without the script location.
    assert_eq!(
        eval(&t, "return redis.pcall('incr','s','z')"),
        "-ERR Wrong number of args calling Redis command from script\r\n"
    );
    assert_eq!(
        eval(&t, "return redis.pcall('nosuch')"),
        "-ERR Unknown Redis command called from script\r\n"
    );
    assert_eq!(
        eval(&t, "return redis.pcall('incr','s')"),
        "-ERR value is not an integer or out of range\r\n"
    );
    // Lua's pcall turns a caught error table into its message, as Redis 7's does.
    assert_eq!(
        eval(&t, "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), type(e), e}"),
        "*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        eval(&t, "local ok, e = pcall(error, {err='x'}) return e"),
        "$1\r\nx\r\n"
    );
    assert_eq!(
        eval(&t, "return {pcall(function() return 1, 2 end)}"),
        "*3\r\n:1\r\n:1\r\n:2\r\n"
    );
}

#[test]
fn compile_errors() {
    let t = TestCtx::new();
    assert_eq!(
        eval(&t, "this is bad"),
        "-ERR Error compiling script (new function): user_script:1: '=' expected near 'is'\r\n"
    );
    assert_eq!(
        t.run(&["SCRIPT", "LOAD", "this is bad"]),
        "-ERR Error compiling script (new function): user_script:1: '=' expected near 'is'\r\n"
    );
    // Bytecode is refused, through EVAL and through loadstring.
    assert!(eval(&t, "\x1bLua").starts_with("-ERR Error compiling script"));
    assert_eq!(
        eval(&t, "return loadstring(string.char(27) .. 'Lua')"),
        "$-1\r\n"
    );
    // loadstring'd code runs in the sandbox too.
    assert_eq!(eval(&t, "return loadstring('return 1 + 1')()"), ":2\r\n");
    let s = "loadstring('zz = 1')()";
    assert_eq!(
        eval(&t, s),
        format!("-ERR [string \"zz = 1\"]:1: Attempt to modify a readonly table script: {}, on zz = 1:1.\r\n", sha(s))
    );
}

#[test]
fn redis_library_helpers() {
    let t = TestCtx::new();
    assert_eq!(
        eval(&t, "return redis.sha1hex('')"),
        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"
    );
    assert_eq!(
        eval(&t, "return redis.sha1hex(12)"),
        "$40\r\n7b52009b64fd0a2a49e6d8a939753077792b0554\r\n"
    );
    assert_eq!(eval(&t, "return redis.error_reply('bad')"), "-ERR bad\r\n");
    assert_eq!(
        eval(&t, "return redis.error_reply('MY bad')"),
        "-MY bad\r\n"
    );
    assert_eq!(
        eval(&t, "return redis.error_reply('-FOO bar')"),
        "-FOO bar\r\n"
    );
    assert_eq!(eval(&t, "return redis.error_reply('')"), "-ERR \r\n");
    assert_eq!(
        eval(&t, "return redis.error_reply()"),
        "-ERR wrong number or type of arguments\r\n"
    );
    assert_eq!(
        eval(&t, "return redis.error_reply(12)"),
        "-ERR wrong number or type of arguments\r\n"
    );
    assert_eq!(eval(&t, "return redis.status_reply('HI')"), "+HI\r\n");
    assert_eq!(eval(&t, "return redis.status_reply('')"), "+\r\n");
    assert_eq!(
        eval(&t, "return 'x' .. redis.LOG_WARNING .. redis.LOG_NOTICE .. redis.LOG_VERBOSE .. redis.LOG_DEBUG"),
        "$5\r\nx3210\r\n"
    );
    assert_eq!(
        eval(&t, "redis.log(redis.LOG_WARNING, 'hello', 1) return 1"),
        ":1\r\n"
    );
    assert_eq!(eval(&t, "return redis.REDIS_VERSION"), "$6\r\n7.0.15\r\n");
    assert_eq!(eval(&t, "return redis.REDIS_VERSION_NUM"), ":458767\r\n");
    assert_eq!(eval(&t, "return redis.replicate_commands()"), ":1\r\n");
    assert_eq!(
        eval(
            &t,
            "return string.format('%d', 3) .. table.concat({1,2},',')"
        ),
        "$4\r\n31,2\r\n"
    );
    assert_eq!(
        eval(&t, "return math.floor(3.5) + tonumber('12')"),
        ":15\r\n"
    );
    assert_eq!(eval(&t, "return ('abc'):upper()"), "$3\r\nABC\r\n");
    assert_eq!(eval(&t, "return type(_G)"), "$5\r\ntable\r\n");
}

#[test]
fn read_only_scripts_refuse_writes() {
    let t = TestCtx::new();
    let s = "return redis.call('set','a','b')";
    assert_eq!(
        t.run(&["EVAL_RO", s, "0"]),
        format!("-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.\r\n", sha(s))
    );
    assert_eq!(t.run(&["EXISTS", "a"]), ":0\r\n");
    t.run(&["SET", "a", "1"]);
    assert_eq!(
        t.run(&["EVAL_RO", "return redis.call('get','a')", "0"]),
        "$1\r\n1\r\n"
    );
    t.run(&["SCRIPT", "LOAD", s]);
    assert!(t
        .run(&["EVALSHA_RO", &sha(s), "0"])
        .starts_with("-ERR Write commands are not allowed"));
    assert_eq!(t.run(&["EVALSHA", &sha(s), "0"]), "+OK\r\n");
}

#[test]
fn select_inside_a_script_does_not_leak() {
    let t = TestCtx::new();
    assert_eq!(
        eval(
            &t,
            "redis.call('select','3'); return redis.call('set','k','v')"
        ),
        "+OK\r\n"
    );
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
    t.run(&["SELECT", "3"]);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
    // The script starts in the caller's database.
    assert_eq!(eval(&t, "return redis.call('get','k')"), "$1\r\nv\r\n");
}

#[test]
fn read_compute_write() {
    let t = TestCtx::new();
    let s = "local v = tonumber(redis.call('get', KEYS[1]) or '0')
             if v >= tonumber(ARGV[1]) then return false end
             return redis.call('incr', KEYS[1])";
    for want in [":1\r\n", ":2\r\n", ":3\r\n", "$-1\r\n", "$-1\r\n"] {
        assert_eq!(t.run(&["EVAL", s, "1", "counter", "3"]), want);
    }
    assert_eq!(t.run(&["GET", "counter"]), "$1\r\n3\r\n");
}

#[test]
fn script_cache() {
    let t = TestCtx::new();
    let s = "return 1";
    let h = sha(s);
    assert_eq!(h, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    assert_eq!(
        t.run(&["EVALSHA", &h, "0"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        t.run(&["EVALSHA", "abc", "0"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(t.run(&["SCRIPT", "LOAD", s]), format!("$40\r\n{h}\r\n"));
    assert_eq!(t.run(&["EVALSHA", &h.to_uppercase(), "0"]), ":1\r\n");
    assert_eq!(
        t.run(&["SCRIPT", "EXISTS", &h, "abc"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    // EVAL caches what it runs.
    assert_eq!(eval(&t, "return 2"), ":2\r\n");
    assert_eq!(t.run(&["EVALSHA", &sha("return 2"), "0"]), ":2\r\n");
    assert_eq!(t.run(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(t.run(&["SCRIPT", "EXISTS", &h]), "*1\r\n:0\r\n");
    assert_eq!(t.run(&["SCRIPT", "FLUSH", "ASYNC"]), "+OK\r\n");
    assert_eq!(t.run(&["SCRIPT", "FLUSH", "sync"]), "+OK\r\n");
    for bad in [
        &["SCRIPT", "FLUSH", "xx"][..],
        &["SCRIPT", "FLUSH", "sync", "async"],
    ] {
        assert_eq!(
            t.run(bad),
            "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
        );
    }
    assert_eq!(
        t.run(&["SCRIPT", "EXISTS"]),
        "-ERR wrong number of arguments for 'script|exists' command\r\n"
    );
    assert_eq!(
        t.run(&["SCRIPT", "NOPE"]),
        "-ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.\r\n"
    );
    assert!(t
        .run(&["SCRIPT", "HELP"])
        .starts_with("*15\r\n+SCRIPT <subcommand>"));
}

#[test]
fn script_kill_states() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    let e = &t.srv.scripting;
    assert_eq!(e.run_state(), IDLE);
    // The states a running script passes through; the real race is exercised below and in
    // the integration test.
    e.set_state_for_tests(RUNNING);
    assert_eq!(t.run(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(e.run_state(), KILLED);
    e.set_state_for_tests(WROTE);
    assert!(t
        .run(&["SCRIPT", "KILL"])
        .starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    e.set_state_for_tests(IDLE);
}

/// Run `script` on this thread while another thread kills it as soon as it runs.
fn eval_killed(t: &TestCtx, script: &str) -> String {
    std::thread::scope(|sc| {
        sc.spawn(|| {
            while t.srv.scripting.run_state() != RUNNING {
                std::thread::yield_now();
            }
            assert!(t.srv.scripting.kill().is_ok());
        });
        eval(t, script)
    })
}

#[test]
fn killed_script_reports_redis_error() {
    let t = TestCtx::new();
    let s = "while true do end";
    assert_eq!(
        eval_killed(&t, s),
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.\r\n",
            sha(s)
        )
    );
    assert_eq!(t.srv.scripting.run_state(), IDLE);
    assert!(t.srv.gate.busy_since().is_none());
    assert_eq!(eval(&t, "return 1"), ":1\r\n");
}

#[test]
fn write_after_kill_is_refused() {
    let t = TestCtx::new();
    // The script swallows the kill with pcall, then tries to write: it is stopped there.
    let s = "pcall(function() while true do end end) return redis.pcall('set','k','v')";
    assert_eq!(
        eval_killed(&t, s),
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.\r\n",
            sha(s)
        )
    );
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
}

#[test]
fn table_rows() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["SCRIPT"]),
        "-ERR wrong number of arguments for 'script' command\r\n"
    );
    let info = t.run(&["COMMAND", "INFO", "eval"]);
    assert!(
        info.contains("noscript") && info.contains("movablekeys"),
        "{info}"
    );
}
