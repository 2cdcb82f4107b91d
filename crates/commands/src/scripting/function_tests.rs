//! Unit tests for functions: the shebang line, redis.register_function in both forms, the
//! load-time sandbox, FCALL/FCALL_RO, LIST/STATS/DELETE/FLUSH/DUMP/RESTORE and FUNCTION
//! KILL — every error in Redis's words, as Redis 7.0.15 answers them (the replies were
//! taken from it; `crates/rcache/tests/functions.rs` compares with a live one).

use super::engine::{IDLE, RUNNING, WROTE};
use super::functions::{parse_dump, parse_metadata, split_args, Meta};
use crate::testing::TestCtx;

/// FUNCTION LOAD of `code`, the raw reply.
fn load(t: &TestCtx, code: &str) -> String {
    t.run(&["FUNCTION", "LOAD", code])
}

fn load_ok(t: &TestCtx, code: &str) {
    let r = load(t, code);
    assert!(r.starts_with('$'), "{code}: {r}");
}

/// A library `lib` with one function `f` whose body is `body`.
fn lib(lib: &str, f: &str, body: &str) -> String {
    format!("#!lua name={lib}\nredis.register_function('{f}', function(keys, args) {body} end)")
}

fn err(msg: &str) -> String {
    format!("-{msg}\r\n")
}

#[test]
fn shebang_lines_as_redis_reads_them() {
    let meta = |c: &str| parse_metadata(c.as_bytes());
    assert_eq!(
        meta("#!lua name=mylib\nreturn 1"),
        Ok(Meta {
            engine: "lua".into(),
            name: "mylib".into(),
            body_at: 16
        })
    );
    assert_eq!(meta("#!LuA  Name=x_1  \n").unwrap().name, "x_1");
    assert_eq!(meta("#!lua name=\"quoted\"\n").unwrap().name, "quoted");
    let cases = [
        ("", "ERR Missing library metadata"),
        ("lua name=x\n", "ERR Missing library metadata"),
        (" #!lua name=x\n", "ERR Missing library metadata"),
        ("#!lua name=x", "ERR Invalid library metadata"),
        ("#!lua name=x\0\n", "ERR Invalid library metadata"),
        ("#!lua name=\"x\n", "ERR Invalid library metadata"),
        ("#!lua name=\"x\"y\n", "ERR Invalid library metadata"),
        (
            "#!lua name=a name=b\n",
            "ERR Invalid metadata value, name argument was given multiple times",
        ),
        ("#!lua foo=bar name=x\n", "ERR Invalid metadata value given: foo=bar"),
        ("#!lua\n", "ERR Library name was not given"),
        ("#!lua name=\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=a-b\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=\"a b\"\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#! name=x\n", "ERR Engine '' not found"),
        ("#!js name=x\n", "ERR Engine 'js' not found"),
        // The name is checked before the engine.
        ("#!js name=a-b\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
    ];
    for (code, want) in cases {
        assert_eq!(meta(code), Err(want.to_string()), "{code:?}");
    }
}

#[test]
fn split_args_is_sdssplitargs() {
    let s = |l: &str| {
        split_args(l.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        s("  a  b\tc "),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(s(""), Some(vec![]));
    assert_eq!(s("a\"b c\" d"), Some(vec!["ab c".into(), "d".into()]));
    assert_eq!(s("\"\\x41\\n\""), Some(vec!["A\n".into()]));
    assert_eq!(s("'it\\'s'"), Some(vec!["it's".into()]));
    assert_eq!(s("\"open"), None);
    assert_eq!(s("'open"), None);
    assert_eq!(s("\"a\"b"), None);
}

#[test]
fn load_and_call() {
    let t = TestCtx::new();
    assert_eq!(
        load(&t, &lib("test", "test", "return 'hello'")),
        "$4\r\ntest\r\n"
    );
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
    // Function names are found case-insensitively.
    assert_eq!(t.run(&["FCALL", "TEST", "0"]), "$5\r\nhello\r\n");
    // The callback gets the keys and the arguments; there are no KEYS/ARGV globals.
    load_ok(
        &t,
        &lib("kv", "kv", "return {keys[1], args[1], #keys, #args}"),
    );
    assert_eq!(
        t.run(&["FCALL", "kv", "1", "k", "a", "b"]),
        "*4\r\n$1\r\nk\r\n$1\r\na\r\n:1\r\n:2\r\n"
    );
    load_ok(&t, &lib("g", "g", "return KEYS"));
    assert_eq!(
        t.run(&["FCALL", "g", "0"]),
        err("ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS' script: g, on @user_function:2.")
    );
    // A function writes through redis.call; the whole runtime library is there.
    load_ok(
        &t,
        &lib(
            "w",
            "w",
            "redis.call('set', keys[1], args[1]) return string.upper(redis.call('get', keys[1]))",
        ),
    );
    assert_eq!(t.run(&["FCALL", "w", "1", "x", "foo"]), "$3\r\nFOO\r\n");
    assert_eq!(t.run(&["GET", "x"]), "$3\r\nfoo\r\n");
    // Local helpers of the library are shared by its functions.
    load_ok(
        &t,
        "#!lua name=shared\nlocal function add1(a) return a + 1 end\n\
         redis.register_function('f1', function() return add1(1) end)\n\
         redis.register_function('f2', function() return add1(2) end)",
    );
    assert_eq!(t.run(&["FCALL", "f1", "0"]), ":2\r\n");
    assert_eq!(t.run(&["FCALL", "f2", "0"]), ":3\r\n");
    // Errors carry the function's name and the line, as Redis's.
    load_ok(&t, &lib("e", "e", "error('oops')"));
    assert_eq!(
        t.run(&["FCALL", "e", "0"]),
        err("ERR user_function:2: oops script: e, on @user_function:2.")
    );
    load_ok(&t, &lib("c", "c", "return redis.call('nosuch')"));
    assert_eq!(
        t.run(&["FCALL", "c", "0"]),
        err("ERR Unknown Redis command called from script script: c, on @user_function:2.")
    );
    load_ok(&t, &lib("r", "r", "return {err='MY custom'}"));
    assert_eq!(t.run(&["FCALL", "r", "0"]), err("MY custom"));
    load_ok(&t, &lib("v", "v", "return redis.REDIS_VERSION_NUM"));
    assert_eq!(t.run(&["FCALL", "v", "0"]), ":458767\r\n");
    // register_function is gone at run time.
    load_ok(&t, &lib("rf", "rf", "return redis.register_function"));
    assert_eq!(t.run(&["FCALL", "rf", "0"]), "$-1\r\n");
    // Inside MULTI, FUNCTION LOAD and FCALL queue and run at EXEC.
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        t.run(&[
            "FUNCTION",
            "LOAD",
            &lib("m", "m", "return redis.call('incr', keys[1])")
        ]),
        "+QUEUED\r\n"
    );
    assert_eq!(t.run(&["FCALL", "m", "1", "cnt"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["FCALL", "m", "1", "cnt"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["EXEC"]), "*3\r\n$1\r\nm\r\n:1\r\n:2\r\n");
    // SCRIPT FLUSH and FLUSHALL leave functions alone.
    t.run(&["SCRIPT", "FLUSH"]);
    t.run(&["FLUSHALL"]);
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
}

#[test]
fn fcall_errors() {
    let t = TestCtx::new();
    load_ok(&t, &lib("test", "test", "return 1"));
    let cases: &[(&[&str], &str)] = &[
        (&["FCALL", "nope", "0"], "ERR Function not found"),
        (&["FCALL", "nope", "x"], "ERR Function not found"),
        (&["FCALL", "test", "x"], "ERR Bad number of keys provided"),
        (
            &["FCALL", "test", "-1", "k"],
            "ERR Number of keys can't be negative",
        ),
        (
            &["FCALL", "test", "10", "k"],
            "ERR Number of keys can't be greater than number of args",
        ),
        (
            &["FCALL", "test"],
            "ERR wrong number of arguments for 'fcall' command",
        ),
        (
            &["FCALL_RO", "test", "0"],
            "ERR Can not execute a script with write flag using *_ro command.",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(t.run(args), err(want), "{args:?}");
    }
}

#[test]
fn register_function_forms_and_flags() {
    let t = TestCtx::new();
    load_ok(
        &t,
        "#!lua name=lib\nredis.register_function{function_name='f', callback=function() return 1 end, \
         flags={'allow-oom', 'NO-WRITES', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}, description='d'}\n\
         redis.register_function{FUNCTION_NAME=7, Callback=function() return 7 end, description=5, flags={}}",
    );
    assert_eq!(t.run(&["FCALL", "7", "0"]), ":7\r\n");
    let list = t.run(&["FUNCTION", "LIST"]);
    assert_eq!(
        list,
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*2\r\n\
         *6\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n$1\r\nd\r\n$5\r\nflags\r\n\
         *5\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n+allow-cross-slot-keys\r\n\
         *6\r\n$4\r\nname\r\n$1\r\n7\r\n$11\r\ndescription\r\n$1\r\n5\r\n$5\r\nflags\r\n*0\r\n"
    );
    // Flags stop at the first hole; only the array part counts.
    load_ok(
        &t,
        "#!lua name=holes\nredis.register_function{function_name='h', callback=function() return 1 end, flags={'no-writes', nil, 'bogus'}}\n\
         redis.register_function{function_name='h2', callback=function() return 1 end, flags={x='bogus'}}",
    );
    let reg = |body: &str| load(&t, &format!("#!lua name=bad\n{body}"));
    let e = |m: &str| err(&format!("ERR Error registering functions: ERR {m}"));
    let cases = [
        ("redis.register_function()", "wrong number of arguments to redis.register_function"),
        ("redis.register_function('f', function() end, 'x')", "wrong number of arguments to redis.register_function"),
        ("redis.register_function('f1')", "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("redis.register_function(nil, function() end)", "first argument to redis.register_function must be a string"),
        ("redis.register_function('f', 'x')", "second argument to redis.register_function must be a function"),
        ("redis.register_function('f-1', function() end)", "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("redis.register_function('', function() end)", "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("redis.register_function('f', function() end) redis.register_function('f', function() end)", "Function already exists in the library"),
        ("redis.register_function{function_name='f', callback=function() end, flags={'bogus'}}", "unknown flag given"),
        ("redis.register_function{function_name='f', callback=function() end, flags={1}}", "unknown flag given"),
        ("redis.register_function{function_name='f', callback=function() end, flags={function() end}}", "unknown flag given"),
        ("redis.register_function{function_name='f', callback=function() end, flags='x'}", "flags argument to redis.register_function must be a table representing function flags"),
        ("redis.register_function{function_name=function() end, callback=function() end}", "function_name argument given to redis.register_function must be a string"),
        ("redis.register_function{function_name='f', callback='bad'}", "callback argument given to redis.register_function must be a function"),
        ("redis.register_function{function_name='f', callback=function() end, description=function() end}", "description argument given to redis.register_function must be a string"),
        ("redis.register_function{function_name='f', callback=function() end, some_unknown='u'}", "unknown argument given to redis.register_function"),
        ("redis.register_function{[1]=7, callback=function() end}", "unknown argument given to redis.register_function"),
        ("redis.register_function{[true]=7, callback=function() end}", "named argument key given to redis.register_function is not a string"),
        ("redis.register_function{callback=function() end}", "redis.register_function must get a function name argument"),
        ("redis.register_function{function_name='f'}", "redis.register_function must get a callback argument"),
    ];
    for (body, want) in cases {
        assert_eq!(reg(body), e(want), "{body}");
    }
    // At run time, a captured library API refuses to register.
    load_ok(
        &t,
        "#!lua name=sneaky\nlocal lib = redis\nlib.register_function('s', function() lib.register_function('t', function() end) end)",
    );
    assert_eq!(
        t.run(&["FCALL", "s", "0"]),
        err("ERR redis.register_function can only be called on FUNCTION LOAD command script: s, on @user_function:3.")
    );
}

#[test]
fn the_load_sandbox() {
    let t = TestCtx::new();
    let reg = |body: &str| load(&t, &format!("#!lua name=lib\n{body}"));
    let e = |m: &str| {
        err(&format!(
            "ERR Error registering functions: ERR user_function:2: {m}"
        ))
    };
    let nonexistent = |v: &str| {
        e(&format!(
            "Script attempted to access nonexistent global variable '{v}'"
        ))
    };
    assert_eq!(reg("a = 1"), e("Attempt to modify a readonly table"));
    assert_eq!(reg("return math.random()"), nonexistent("math"));
    assert_eq!(reg("return redis.call('ping')"), nonexistent("call"));
    assert_eq!(reg("return redis.setresp(3)"), nonexistent("setresp"));
    assert_eq!(reg("local x = redis.sha1hex"), nonexistent("sha1hex"));
    assert_eq!(reg("error('boom')"), nonexistent("error"));
    assert_eq!(reg("mt = getmetatable(_G)"), nonexistent("getmetatable"));
    assert_eq!(reg("return _G"), nonexistent("_G"));
    assert_eq!(reg("redis.math.random()"), nonexistent("math"));
    assert_eq!(
        reg("local r = redis r.x = 1"),
        e("Attempt to modify a readonly table")
    );
    // redis.log and the constants are there.
    load_ok(
        &t,
        "#!lua name=logs\nredis.log(redis.LOG_WARNING, 'loading')\nlocal n = redis.LOG_NOTICE\n\
         redis.register_function('n', function() return n end)",
    );
    assert_eq!(t.run(&["FCALL", "n", "0"]), ":2\r\n");
    // Compile errors, and a library that registers nothing.
    assert_eq!(
        reg("bad script"),
        err("ERR Error compiling function: user_function:2: '=' expected near 'script'")
    );
    assert_eq!(reg("local a = 1"), err("ERR No functions registered"));
    // Writing globals from a function at run time is refused too.
    load_ok(&t, &lib("g", "g", "x = 5"));
    assert_eq!(
        t.run(&["FCALL", "g", "0"]),
        err("ERR user_function:2: Attempt to modify a readonly table script: g, on @user_function:2.")
    );
}

#[test]
fn a_runaway_load_times_out() {
    let t = TestCtx::new();
    assert_eq!(
        load(
            &t,
            "#!lua name=lib\nlocal a = 1\nwhile true do a = a + 1 end"
        ),
        err("ERR Error registering functions: ERR FUNCTION LOAD timeout")
    );
    // The state is usable afterwards.
    load_ok(&t, &lib("ok", "ok", "return 1"));
    assert_eq!(t.run(&["FCALL", "ok", "0"]), ":1\r\n");
}

#[test]
fn libraries_replace_and_collide() {
    let t = TestCtx::new();
    load_ok(&t, &lib("test", "test", "return 'hello'"));
    assert_eq!(
        load(&t, &lib("test", "test", "return 'hello1'")),
        err("ERR Library 'test' already exists")
    );
    // Already-exists comes before compiling.
    assert_eq!(
        load(&t, "#!lua name=test\nbad script"),
        err("ERR Library 'test' already exists")
    );
    assert_eq!(
        t.run(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            &lib("test", "test", "return 'hello1'")
        ]),
        "$4\r\ntest\r\n"
    );
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$6\r\nhello1\r\n");
    // A failed REPLACE keeps the old library.
    assert!(t
        .run(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=test\nerror"])
        .starts_with("-ERR Error"));
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$6\r\nhello1\r\n");
    // A function name (any case) another library holds.
    assert_eq!(
        load(&t, &lib("other", "TEST", "return 1")),
        err("ERR Function TEST already exists")
    );
    assert_eq!(
        t.run(&["FUNCTION", "LOAD", "foo", &lib("x", "x", "return 1")]),
        err("ERR Unknown option given: foo")
    );
    assert_eq!(
        t.run(&["FUNCTION", "LOAD", "REPLACE"]),
        err("ERR Missing library metadata")
    );
    assert_eq!(
        t.run(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "replace",
            &lib("test", "test", "return 2")
        ]),
        "$4\r\ntest\r\n"
    );
    // One library may hold `ab` and `AB` (Redis counts both).
    load_ok(
        &t,
        "#!lua name=cases\nredis.register_function('ab', function() return 1 end)\n\
         redis.register_function('AB', function() return 2 end)",
    );
    assert!(t
        .run(&["FUNCTION", "STATS"])
        .contains("functions_count\r\n:3\r\n"));
    assert_eq!(t.run(&["FUNCTION", "DELETE", "test"]), "+OK\r\n");
    assert_eq!(
        t.run(&["FCALL", "test", "0"]),
        err("ERR Function not found")
    );
    assert_eq!(
        t.run(&["FUNCTION", "DELETE", "test"]),
        err("ERR Library not found")
    );
    assert_eq!(
        t.run(&["FUNCTION", "DELETE"]),
        err("ERR wrong number of arguments for 'function|delete' command")
    );
}

#[test]
fn list_stats_and_flush() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["FUNCTION", "LIST"]), "*0\r\n");
    let code = lib("library1", "f6", "return 7");
    load_ok(&t, &code);
    load_ok(&t, &lib("lib1", "f7", "return 7"));
    let one = |name: &str, f: &str| {
        format!(
            "$12\r\nlibrary_name\r\n${}\r\n{name}\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n\
             *6\r\n$4\r\nname\r\n${}\r\n{f}\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n",
            name.len(),
            f.len()
        )
    };
    assert_eq!(
        t.run(&["FUNCTION", "LIST", "libraryname", "library*"]),
        format!("*1\r\n*6\r\n{}", one("library1", "f6"))
    );
    assert_eq!(
        t.run(&["FUNCTION", "LIST", "LIBRARYNAME", "LIB1"]),
        format!("*1\r\n*6\r\n{}", one("lib1", "f7"))
    );
    assert_eq!(
        t.run(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "library1"]),
        format!(
            "*1\r\n*8\r\n{}$12\r\nlibrary_code\r\n${}\r\n{code}\r\n",
            one("library1", "f6"),
            code.len()
        )
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["FUNCTION", "LIST", "bad_argument"],
            "ERR Unknown argument bad_argument",
        ),
        (
            &["FUNCTION", "LIST", "libraryname"],
            "ERR library name argument was not given",
        ),
        (
            &["FUNCTION", "LIST", "withcode", "withcode"],
            "ERR Unknown argument withcode",
        ),
        (
            &[
                "FUNCTION",
                "LIST",
                "withcode",
                "libraryname",
                "foo",
                "libraryname",
                "foo",
            ],
            "ERR Unknown argument libraryname",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(t.run(args), err(want), "{args:?}");
    }
    assert_eq!(
        t.run(&["FUNCTION", "STATS"]),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n\
         $15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:2\r\n"
    );
    t.resp3();
    assert_eq!(
        t.run(&["FUNCTION", "STATS"]),
        "%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n\
         $15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:2\r\n"
    );
    assert_eq!(
        t.run(&["FUNCTION", "LIST", "LIBRARYNAME", "lib1"]),
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$4\r\nlib1\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n\
         %3\r\n$4\r\nname\r\n$2\r\nf7\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n"
    );
    assert_eq!(
        t.run(&["FUNCTION", "FLUSH", "bad_arg"]),
        err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    );
    assert_eq!(
        t.run(&["FUNCTION", "flush", "sync", "extra_arg"]),
        err("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.")
    );
    for mode in [
        &["FUNCTION", "FLUSH"][..],
        &["FUNCTION", "FLUSH", "ASYNC"],
        &["FUNCTION", "FLUSH", "sync"],
    ] {
        load_ok(&t, &lib("x", "x", "return 1"));
        assert_eq!(t.run(mode), "+OK\r\n");
        assert_eq!(t.run(&["FUNCTION", "LIST"]), "*0\r\n");
    }
    assert_eq!(
        t.run(&["FUNCTION", "NOPE"]),
        err("ERR unknown subcommand 'NOPE'. Try FUNCTION HELP.")
    );
    assert!(t
        .run(&["FUNCTION", "HELP"])
        .starts_with("*40\r\n+FUNCTION <subcommand>"));
}

#[test]
fn dump_and_restore() {
    let t = TestCtx::new();
    let empty = t.run_bytes(&[b"FUNCTION", b"DUMP"]);
    assert!(empty.starts_with(b"$10\r\n"), "{empty:?}");
    load_ok(&t, &lib("test", "test", "return 'hello'"));
    let payload = || {
        let r = t.run_bytes(&[b"FUNCTION", b"DUMP"]);
        let at = r.iter().position(|&c| c == b'\n').unwrap() + 1;
        r[at..r.len() - 2].to_vec()
    };
    let p = payload();
    assert_eq!(
        parse_dump(&p).unwrap(),
        vec![lib("test", "test", "return 'hello'").into_bytes()]
    );
    let restore = |extra: &[&[u8]]| {
        let mut a: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &p];
        a.extend_from_slice(extra);
        String::from_utf8_lossy(&t.run_bytes(&a)).into_owned()
    };
    t.run(&["FUNCTION", "DELETE", "test"]);
    assert_eq!(restore(&[]), "+OK\r\n");
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
    // APPEND (the default) refuses a library that is there; REPLACE replaces it.
    assert_eq!(
        restore(&[b"APPEND"]),
        err("ERR Library test already exists")
    );
    t.run(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        &lib("test", "test", "return 'hello1'"),
    ]);
    assert_eq!(restore(&[b"replace"]), "+OK\r\n");
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
    // FLUSH drops the others.
    load_ok(&t, &lib("other", "other", "return 1"));
    assert_eq!(restore(&[b"FLUSH"]), "+OK\r\n");
    assert_eq!(
        t.run(&["FCALL", "other", "0"]),
        err("ERR Function not found")
    );
    // A function another library holds refuses the whole payload, even with REPLACE.
    t.run(&["FUNCTION", "FLUSH"]);
    load_ok(&t, &lib("lib2", "test", "return 2"));
    assert_eq!(
        restore(&[b"REPLACE"]),
        err("ERR Function test already exists")
    );
    assert_eq!(t.run(&["FCALL", "test", "0"]), ":2\r\n");
    assert_eq!(
        restore(&[b"bad"]),
        err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    assert_eq!(
        restore(&[b"FLUSH", b"x"]),
        err(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."
        )
    );
    // Corrupt payloads, in Redis's words; nothing changes.
    let restore_raw = |p: &[u8]| {
        String::from_utf8_lossy(&t.run_bytes(&[b"FUNCTION", b"RESTORE", p])).into_owned()
    };
    assert_eq!(
        restore_raw(b"bad_payload"),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        restore_raw(b""),
        err("ERR DUMP payload version or checksum are wrong")
    );
    let mut flipped = p.clone();
    flipped[3] ^= 1;
    assert_eq!(
        restore_raw(&flipped),
        err("ERR DUMP payload version or checksum are wrong")
    );
    let frame = |body: &[u8]| {
        let mut out = body.to_vec();
        out.extend_from_slice(&storage::dump::VERSION.to_le_bytes());
        let crc = persist::snapshot::format::CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    };
    assert_eq!(
        restore_raw(&frame(b"\x00\x01x")),
        err("ERR given type is not a function")
    );
    assert_eq!(
        restore_raw(&frame(b"\xf5\x09abc")),
        err("ERR Failed loading library payload")
    );
    assert_eq!(
        restore_raw(&frame(b"\xf5")),
        err("ERR Failed loading library payload")
    );
    assert_eq!(
        restore_raw(&frame(b"\xf5\x03abc")),
        err("ERR Missing library metadata")
    );
    // A key's DUMP is not a function payload, nor the other way round.
    t.run(&["SET", "k", "v"]);
    let key_dump = t.run_bytes(&[b"DUMP", b"k"]);
    let at = key_dump.iter().position(|&c| c == b'\n').unwrap() + 1;
    assert_eq!(
        restore_raw(&key_dump[at..key_dump.len() - 2]),
        err("ERR given type is not a function")
    );
    assert_eq!(
        String::from_utf8_lossy(&t.run_bytes(&[b"RESTORE", b"k2", b"0", &p])),
        err("ERR Bad data format")
    );
    // Two libraries of one name in a payload.
    let code = lib("dup", "d1", "return 1");
    let mut body = Vec::new();
    for _ in 0..2 {
        body.push(0xf5);
        body.push(code.len() as u8);
        body.extend_from_slice(code.as_bytes());
    }
    assert_eq!(
        restore_raw(&frame(&body)),
        err("ERR Library 'dup' already exists")
    );
    assert_eq!(t.run(&["FCALL", "test", "0"]), ":2\r\n");
}

#[test]
fn read_only_functions_and_maxmemory() {
    let t = TestCtx::new();
    load_ok(
        &t,
        "#!lua name=test\n\
         redis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
         redis.register_function{function_name='rw', callback=function() return redis.call('set', 'x', 1) end, flags={'no-writes'}}\n\
         redis.register_function('w', function(keys) return redis.call('set', keys[1], '1') end)\n\
         redis.register_function{function_name='oom', callback=function(keys) return redis.call('set', keys[1], '1') end, flags={'allow-oom'}}",
    );
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["FCALL_RO", "ro", "1", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["FCALL", "ro", "1", "k"]), "$1\r\nv\r\n");
    let no_writes = err("ERR Write commands are not allowed from read-only scripts. script: rw, on @user_function:3.");
    assert_eq!(t.run(&["FCALL", "rw", "0"]), no_writes);
    assert_eq!(t.run(&["FCALL_RO", "rw", "0"]), no_writes);
    assert_eq!(t.run(&["EXISTS", "x"]), ":0\r\n");
    // Past maxmemory: a writing function is refused before it runs; `no-writes` and
    // `allow-oom` ones run, and `allow-oom` writes.
    assert_eq!(t.run(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
    assert_eq!(
        t.run(&["FCALL", "w", "1", "k"]),
        err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    assert_eq!(t.run(&["FCALL", "ro", "1", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["FCALL_RO", "ro", "1", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["FCALL", "oom", "1", "k2"]), "+OK\r\n");
    assert_eq!(t.run(&["GET", "k2"]), "$1\r\n1\r\n");
    // LOAD and RESTORE are denyoom.
    assert_eq!(
        load(&t, &lib("more", "more", "return 1")),
        err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    t.run(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(t.run(&["FCALL", "w", "1", "k"]), "+OK\r\n");
}

#[test]
fn kill_and_stats_while_a_function_runs() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["FUNCTION", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );
    load_ok(
        &t,
        &lib("spin", "spin", "local a = 1 while true do a = a + 1 end"),
    );
    let mut other = t.new_session();
    let reply = std::thread::scope(|sc| {
        let h = sc.spawn(|| t.run(&["FCALL", "spin", "0"]));
        while t.srv.scripting.run_state() != RUNNING {
            std::thread::yield_now();
        }
        let stats = t.run_as(&mut other, &["FUNCTION", "STATS"]);
        assert!(
            stats.starts_with(
                "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n\
                 *3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"
            ),
            "{stats}"
        );
        // SCRIPT KILL does not stop a function: Redis's BUSY words name FUNCTION KILL.
        assert_eq!(
            t.run_as(&mut other, &["SCRIPT", "KILL"]),
            err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
        );
        assert_eq!(t.run_as(&mut other, &["FUNCTION", "KILL"]), "+OK\r\n");
        h.join().unwrap()
    });
    assert_eq!(
        reply,
        err("ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    );
    assert_eq!(t.srv.scripting.run_state(), IDLE);
    assert!(t.srv.scripting.running().is_none());
    // FUNCTION KILL of an EVAL script: BUSY naming SCRIPT KILL; FUNCTION STATS too.
    let reply = std::thread::scope(|sc| {
        let h = sc.spawn(|| t.run(&["EVAL", "while true do end", "0"]));
        while t.srv.scripting.run_state() != RUNNING {
            std::thread::yield_now();
        }
        let busy = err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
        assert_eq!(t.run_as(&mut other, &["FUNCTION", "KILL"]), busy);
        assert_eq!(t.run_as(&mut other, &["FUNCTION", "STATS"]), busy);
        assert_eq!(t.run_as(&mut other, &["SCRIPT", "KILL"]), "+OK\r\n");
        h.join().unwrap()
    });
    assert!(reply.starts_with("-ERR Script killed by user"), "{reply}");
    // A function that wrote cannot be killed.
    let e = &t.srv.scripting;
    e.set_state_for_tests(WROTE);
    assert!(t
        .run(&["FUNCTION", "KILL"])
        .starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    e.set_state_for_tests(IDLE);
}

#[test]
fn changes_count_for_the_snapshot_policy() {
    let t = TestCtx::new();
    let changes = |t: &TestCtx| {
        let info = t.run(&["INFO", "persistence"]);
        let line = info
            .lines()
            .find(|l| l.starts_with("rdb_changes_since_last_save:"))
            .unwrap()
            .to_string();
        line["rdb_changes_since_last_save:".len()..]
            .parse::<u64>()
            .unwrap()
    };
    let before = changes(&t);
    load_ok(&t, &lib("a", "a", "return 1"));
    assert_eq!(changes(&t), before + 1);
    t.run(&["FUNCTION", "DELETE", "a"]);
    t.run(&["FUNCTION", "DELETE", "a"]);
    assert_eq!(changes(&t), before + 2);
    t.run(&["FUNCTION", "FLUSH"]);
    assert_eq!(changes(&t), before + 3);
}

#[test]
fn table_rows() {
    let t = TestCtx::new();
    let info = t.run(&["COMMAND", "INFO", "fcall", "fcall_ro"]);
    assert!(
        info.contains("movablekeys") && info.contains("readonly"),
        "{info}"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "FCALL", "test", "1", "x", "foo"]),
        "*1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        t.run(&["FUNCTION"]),
        err("ERR wrong number of arguments for 'function' command")
    );
}

/// A server whose snapshots go to a directory of its own (removed by the guard).
fn with_dir(tag: &str) -> (TestCtx, DirGuard) {
    let p = std::env::temp_dir().join(format!(
        "rcache-functions-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&p).unwrap();
    let s = crate::config::Settings::default();
    s.set("enable-debug-command", "yes", true).unwrap();
    s.set("dir", p.to_str().unwrap(), true).unwrap();
    s.set("save", "", true).unwrap();
    (TestCtx::with_settings(s), DirGuard(p))
}

struct DirGuard(std::path::PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn snapshots_and_debug_reload_keep_functions() {
    let (t, dir) = with_dir("reload");
    load_ok(&t, &lib("test", "test", "return 'hello'"));
    load_ok(
        &t,
        &lib("other", "other", "return redis.call('get', keys[1])"),
    );
    t.run(&["SET", "x", "1"]);
    assert_eq!(t.run(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
    assert_eq!(t.run(&["FCALL", "other", "1", "x"]), "$1\r\n1\r\n");
    assert!(t
        .run(&["FUNCTION", "STATS"])
        .contains(":2\r\n$15\r\nfunctions_count\r\n:2\r\n"));
    // NOSAVE brings back the file's libraries: one deleted since comes back, one loaded
    // since goes (the file's set replaces the loaded one).
    t.run(&["FUNCTION", "DELETE", "other"]);
    load_ok(&t, &lib("later", "later", "return 1"));
    assert_eq!(t.run(&["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(t.run(&["FCALL", "other", "1", "x"]), "$1\r\n1\r\n");
    assert_eq!(
        t.run(&["FCALL", "later", "0"]),
        err("ERR Function not found")
    );
    // NOFLUSH NOSAVE keeps what is loaded and puts the file's in beside (same names
    // replaced), as Redis's MERGE does.
    load_ok(&t, &lib("later", "later", "return 1"));
    t.run(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        &lib("test", "test", "return 'changed'"),
    ]);
    assert_eq!(t.run(&["DEBUG", "RELOAD", "NOFLUSH", "NOSAVE"]), "+OK\r\n");
    assert_eq!(t.run(&["FCALL", "later", "0"]), ":1\r\n");
    assert_eq!(t.run(&["FCALL", "test", "0"]), "$5\r\nhello\r\n");
    // The file itself holds them (SAVE writes them; a new server loads them first).
    assert_eq!(t.run(&["SAVE"]), "+OK\r\n");
    let path = dir.0.join("dump.rcsnap");
    let sum = persist::snapshot::inspect(&path, 0).unwrap();
    assert_eq!(sum.libraries.len(), 3);
    let fresh = TestCtx::new();
    persist::snapshot::load_with(&path, &fresh.srv.ks, &Default::default(), 0, 1, |libs| {
        crate::persistence::load_functions(&fresh.srv, libs, true)
    })
    .unwrap();
    assert_eq!(fresh.run(&["FCALL", "other", "1", "x"]), "$1\r\n1\r\n");
    assert_eq!(fresh.run(&["FCALL", "later", "0"]), ":1\r\n");
}
