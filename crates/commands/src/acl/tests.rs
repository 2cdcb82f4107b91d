//! Unit tests of ACL users: the rule parser (every modifier and its errors), password
//! storage, the describer (ACL LIST / GETUSER shapes), and the check as `execute_in` runs
//! it (NOPERM words, MULTI, scripts, the log). Replies are Redis 7.0.15's, taken from a
//! real server; `crates/rcache/tests/acl.rs` compares with one live.

use super::rules::{hash_password, merge_selector_args, set_user, RuleError, User};
use crate::config::Settings;
use crate::testing::TestCtx;

fn user(rules: &[&str]) -> Result<User, String> {
    let args: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
    set_user(User::new(b"u", false), &args, false)
}

fn described(rules: &[&str]) -> String {
    user(rules).unwrap().describe()
}

fn err(rules: &[&str]) -> String {
    user(rules).unwrap_err()
}

#[test]
fn sha256_storage() {
    assert_eq!(
        hash_password(b"p1"),
        "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"
    );
    let u = user(&["on", ">p1", ">p2", ">p1"]).unwrap();
    assert_eq!(u.passwords.len(), 2, "a password is stored once");
    assert!(u.password_ok(b"p1") && u.password_ok(b"p2") && !u.password_ok(b"p3"));
    let u = user(&[
        "on",
        "#f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a",
    ])
    .unwrap();
    assert!(u.password_ok(b"p1"));
    // Off users never authenticate; nopass takes anything and drops the passwords.
    assert!(!user(&[">p1"]).unwrap().password_ok(b"p1"));
    let u = user(&["on", ">p1", "nopass"]).unwrap();
    assert!(u.passwords.is_empty() && u.password_ok(b"whatever"));
    let u = user(&["on", ">p1", "<p1"]).unwrap();
    assert!(u.passwords.is_empty() && !u.password_ok(b"p1"));
    let u = user(&[
        "on",
        ">p1",
        "!f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a",
    ])
    .unwrap();
    assert!(u.passwords.is_empty());
    let u = user(&["on", ">p1", "nopass", "resetpass"]).unwrap();
    assert!(!u.nopass && !u.password_ok(b"x"));
}

#[test]
fn every_modifier_described_as_redis() {
    // Redis 7.0.15's ACL LIST for the same rules.
    assert_eq!(
        described(&["on", ">p1", "~key:*", "+@read"]),
        "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~key:* resetchannels -@all +@read"
    );
    assert_eq!(
        described(&[
            "%R~r:*",
            "%W~w:*",
            "%RW~rw:*",
            "&chan*",
            "+get",
            "+set",
            "-@all",
            "+client|setname",
            "+select|0"
        ]),
        "off %R~r:* %W~w:* ~rw:* resetchannels &chan* -@all +client|setname +select|0"
    );
    assert_eq!(described(&[]), "off resetchannels -@all");
    assert_eq!(User::new_default().describe(), "on nopass ~* &* +@all");
    assert_eq!(
        described(&["allkeys", "allchannels", "allcommands"]),
        "off ~* &* +@all"
    );
    assert_eq!(
        described(&["~a", "resetkeys", "~b"]),
        "off ~b resetchannels -@all"
    );
    assert_eq!(
        described(&["&a", "resetchannels"]),
        "off resetchannels -@all"
    );
    assert_eq!(
        described(&["+@all", "nocommands"]),
        "off resetchannels -@all"
    );
    assert_eq!(
        described(&["%R~a", "%W~a"]),
        "off ~a resetchannels -@all",
        "a pattern given twice merges its permissions"
    );
    assert_eq!(described(&["%RW"]), "off ~ resetchannels -@all");
    assert_eq!(
        described(&["skip-sanitize-payload"]),
        "off skip-sanitize-payload resetchannels -@all"
    );
    assert_eq!(
        described(&["on", ">x", "~k", "&c", "+get", "reset"]),
        "off sanitize-payload resetchannels -@all"
    );
    // Categories and containers: `+client` allows every subcommand; `-client|kill`
    // removes one.
    assert_eq!(described(&["+@hash"]), "off resetchannels -@all +@hash");
    assert_eq!(
        described(&["+@all", "-@dangerous"]),
        "off resetchannels +@all -@dangerous"
    );
    let d = described(&["+client", "-client|kill"]);
    assert!(d.starts_with("off resetchannels -@all "), "{d}");
    assert!(d.contains("+client ") && d.ends_with("-client|kill"), "{d}");
    // Selectors.
    assert_eq!(
        described(&["~a", "(~b +get)", "(", "%R~c", "+@read", ")"]),
        "off ~a resetchannels -@all (~b resetchannels -@all +get) (%R~c resetchannels -@all +@read)"
    );
    assert_eq!(
        described(&["(~b +get)", "clearselectors"]),
        "off resetchannels -@all"
    );
}

#[test]
fn first_args_and_subcommands() {
    let u = user(&["+select|0", "+select|1", "+SELECT|0"]).unwrap();
    assert_eq!(u.describe(), "off resetchannels -@all +select|0 +select|1");
    // Allowing the command drops its first-args from the description.
    assert_eq!(
        described(&["+select|0", "+select"]),
        "off resetchannels -@all +select"
    );
}

#[test]
fn modifier_errors_in_redis_words() {
    let e = |r: &[&str], m: RuleError| {
        let op = r.last().unwrap();
        assert_eq!(
            err(r),
            format!("Error in ACL SETUSER modifier '{op}': {}", m.message()),
            "{r:?}"
        );
    };
    e(&["badrule"], RuleError::Syntax);
    e(&["+nosuch"], RuleError::Unknown);
    e(&["-nosuch"], RuleError::Unknown);
    e(&["+@nosuch"], RuleError::Unknown);
    e(&["+"], RuleError::Unknown);
    e(&["#abc"], RuleError::BadHash);
    e(&["!ABCDEF"], RuleError::BadHash);
    e(&["<nopw"], RuleError::NoSuchPassword);
    e(&["allkeys", "~b"], RuleError::KeysAfterAll);
    e(&["~*", "%R~b"], RuleError::KeysAfterAll);
    e(&["allchannels", "&x"], RuleError::ChannelsAfterAll);
    e(&["+select|0|1"], RuleError::Unknown);
    e(&["+client|setname|x"], RuleError::FirstArgOfSubcommand);
    e(&["+client|"], RuleError::Syntax);
    e(&["+client|nosuch"], RuleError::Unknown);
    e(&["-select|0"], RuleError::Unknown);
    e(&["%~x"], RuleError::Syntax);
    e(&["%RR~x"], RuleError::Syntax);
    e(&["%Rx~x"], RuleError::Syntax);
    e(&["~a\tb"], RuleError::Syntax);
    e(&["(~a +nosuch)"], RuleError::Unknown);
    assert_eq!(
        err(&["(~a", "+get"]),
        "Unmatched parenthesis in acl selector starting at '(~a'."
    );
    assert_eq!(
        merge_selector_args([&b"(a"[..], b"b", b"c)", b"d"]).unwrap(),
        vec![b"(a b c)".to_vec(), b"d".to_vec()]
    );
    // Keywords are case-insensitive.
    assert_eq!(
        described(&["ON", "NOPASS", "ALLKEYS"]),
        "on nopass ~* resetchannels -@all"
    );
}

/// A server with user `alice` (password `pw`) and a session authenticated as her.
fn with_alice(rules: &[&str]) -> TestCtx {
    let t = TestCtx::new();
    let mut cmd = vec!["ACL", "SETUSER", "alice", "on", ">pw"];
    cmd.extend_from_slice(rules);
    assert_eq!(t.run(&cmd), "+OK\r\n");
    assert_eq!(t.run(&["AUTH", "alice", "pw"]), "+OK\r\n");
    t
}

#[test]
fn noperm_words_and_log() {
    let t = with_alice(&["~key:*", "+@read", "+set", "%R~r:*"]);
    assert_eq!(t.run(&["GET", "key:1"]), "$-1\r\n");
    assert_eq!(
        t.run(&["GET", "other"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(t.run(&["SET", "key:1", "v"]), "+OK\r\n");
    // %R~ reads but does not write.
    assert_eq!(
        t.run(&["SET", "r:1", "v"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(t.run(&["GET", "r:1"]), "$-1\r\n");
    assert_eq!(
        t.run(&["FLUSHALL"]),
        "-NOPERM this user has no permissions to run the 'flushall' command\r\n"
    );
    assert_eq!(
        t.run(&["CLIENT", "SETNAME", "x"]),
        "-NOPERM this user has no permissions to run the 'client|setname' command\r\n"
    );
    // MGET: every key is checked.
    assert!(t.run(&["MGET", "key:1", "nope"]).starts_with("-NOPERM"));
    // AUTH, HELLO and QUIT need no permission.
    assert_eq!(t.run(&["AUTH", "alice", "pw"]), "+OK\r\n");
    t.sess.lock().acl = super::SessionAcl::default_user();
    // Newest first: MGET's key, CLIENT SETNAME, FLUSHALL, SET's key, GET's key.
    let log = t.run(&["ACL", "LOG"]);
    assert!(log.starts_with("*5\r\n*14\r\n$5\r\ncount\r\n:1\r\n$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$4\r\nnope\r\n$8\r\nusername\r\n$5\r\nalice\r\n"), "{log}");
    assert!(
        log.contains("$6\r\nobject\r\n$14\r\nclient|setname\r\n"),
        "{log}"
    );
    assert!(log.contains("cmd=client|setname user=alice"), "{log}");
    for object in ["$8\r\nflushall", "$3\r\nr:1", "$5\r\nother"] {
        assert!(
            log.contains(&format!("$6\r\nobject\r\n{object}\r\n")),
            "{log}"
        );
    }
    assert_eq!(t.run(&["ACL", "LOG", "RESET"]), "+OK\r\n");
    assert_eq!(t.run(&["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn log_groups_like_events() {
    let t = with_alice(&["+get"]);
    for _ in 0..3 {
        t.run(&["SET", "a", "b"]);
    }
    t.run(&["GET", "k"]);
    t.sess.lock().acl = super::SessionAcl::default_user();
    let log = t.run(&["ACL", "LOG", "5"]);
    assert!(log.starts_with("*2\r\n"), "{log}");
    assert!(
        log.contains("$5\r\ncount\r\n:3\r\n$6\r\nreason\r\n$7\r\ncommand"),
        "{log}"
    );
    assert_eq!(t.run(&["ACL", "LOG", "1"]).matches("count").count(), 1);
    assert_eq!(t.run(&["ACL", "LOG", "-5"]), "*0\r\n");
    assert_eq!(
        t.run(&["ACL", "LOG", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // acllog-max-len bounds it.
    t.run(&["CONFIG", "SET", "acllog-max-len", "1"]);
    t.run(&["AUTH", "alice", "bad"]);
    assert_eq!(t.srv.acl.log_len(), 1);
}

#[test]
fn multi_refuses_when_queued_and_exec_rechecks() {
    let t = with_alice(&["~*", "+@all", "-flushall"]);
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(
        t.run(&["FLUSHALL"]),
        "-NOPERM this user has no permissions to run the 'flushall' command\r\n"
    );
    assert_eq!(
        t.run(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Rules changed between queueing and EXEC.
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["GET", "a"]), "+QUEUED\r\n");
    let mut admin = t.new_session();
    assert_eq!(
        t.run_as(&mut admin, &["ACL", "SETUSER", "alice", "-set"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.run(&["EXEC"]),
        "*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n$-1\r\n"
    );
    let log = t.run_as(&mut admin, &["ACL", "LOG", "1"]);
    assert!(log.contains("$7\r\ncontext\r\n$5\r\nmulti\r\n"), "{log}");
}

#[test]
fn scripts_are_checked_as_their_caller() {
    let t = with_alice(&["~k*", "+@all", "-lpush"]);
    let r = t.run(&["EVAL", "return redis.call('lpush','k1','x')", "0"]);
    assert!(
        r.starts_with(
            "-ERR The user executing the script can't run this command or subcommand script:"
        ),
        "{r}"
    );
    let r = t.run(&["EVAL", "return redis.pcall('get','x')", "0"]);
    assert_eq!(
        r,
        "-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments\r\n"
    );
    assert_eq!(
        t.run(&["EVAL", "return redis.call('set','k1','v')", "0"]),
        "+OK\r\n"
    );
    // EVAL's own keys are checked before the script runs.
    assert_eq!(
        t.run(&["EVAL", "return 1", "1", "x"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    t.sess.lock().acl = super::SessionAcl::default_user();
    let log = t.run(&["ACL", "LOG", "3"]);
    assert!(log.contains("$7\r\ncontext\r\n$3\r\nlua\r\n"), "{log}");
}

#[test]
fn channels() {
    let t = with_alice(&["+@all", "resetchannels", "&news.*"]);
    assert_eq!(
        t.run(&["PUBLISH", "other", "x"]),
        "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
    );
    assert_eq!(t.run(&["PUBLISH", "news.a", "x"]), ":0\r\n");
    // PSUBSCRIBE patterns are compared literally with the user's.
    assert!(t.run(&["PSUBSCRIBE", "news.a"]).starts_with("-NOPERM"));
    assert!(t.run(&["PSUBSCRIBE", "news.*"]).starts_with("*3\r\n"));
    assert!(t.run(&["SUBSCRIBE", "x"]).starts_with("-NOPERM"));
    assert!(t.run(&["SUBSCRIBE", "news.b"]).starts_with("*3\r\n"));
}

#[test]
fn users_change_under_connected_clients() {
    let t = with_alice(&["~*", "+@all"]);
    let mut admin = t.new_session();
    assert_eq!(t.run(&["GET", "a"]), "$-1\r\n");
    t.run_as(&mut admin, &["ACL", "SETUSER", "alice", "-get"]);
    assert!(t.run(&["GET", "a"]).starts_with("-NOPERM"));
    // off and resetpass leave authenticated connections alone (Redis 7.0.15).
    t.run_as(
        &mut admin,
        &["ACL", "SETUSER", "alice", "+get", "off", "resetpass"],
    );
    assert_eq!(t.run(&["GET", "a"]), "$-1\r\n");
    assert!(!t.sess.lock().close);
    // A deleted user's clients are closed, and may do nothing meanwhile.
    assert_eq!(
        t.run_as(&mut admin, &["ACL", "DELUSER", "alice", "nosuch"]),
        ":1\r\n"
    );
    assert!(t.sess.lock().handle.is_killed());
    assert!(t.run(&["GET", "a"]).starts_with("-NOPERM"));
    assert!(t.sess.lock().close);
    assert_eq!(
        t.run_as(&mut admin, &["ACL", "DELUSER", "default"]),
        "-ERR The 'default' user cannot be removed\r\n"
    );
}

#[test]
fn requirepass_is_the_default_users_password() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["ACL", "GETUSER", "default"]),
        "*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n"
    );
    t.run(&["CONFIG", "SET", "requirepass", "p1"]);
    assert_eq!(
        t.run(&["ACL", "LIST"]),
        "*1\r\n$93\r\nuser default on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~* &* +@all\r\n"
    );
    // The connection that was open stays authenticated; a new one must AUTH.
    assert_eq!(t.run(&["PING"]), "+PONG\r\n");
    let mut s = t.new_session();
    s.authenticated = !t.srv.auth_required();
    assert_eq!(
        t.run_as(&mut s, &["PING"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(t.run_as(&mut s, &["AUTH", "p1"]), "+OK\r\n");
    // ACL SETUSER default changes the password too, CONFIG GET keeps what was set.
    t.run(&["ACL", "SETUSER", "default", "resetpass", ">p2"]);
    assert_eq!(
        t.run(&["CONFIG", "GET", "requirepass"]),
        "*2\r\n$11\r\nrequirepass\r\n$2\r\np1\r\n"
    );
    let mut s = t.new_session();
    s.authenticated = false;
    assert!(t.run_as(&mut s, &["AUTH", "p1"]).starts_with("-WRONGPASS"));
    assert_eq!(t.run_as(&mut s, &["AUTH", "p2"]), "+OK\r\n");
    // Back to no password: waiting connections need no AUTH any more.
    t.run(&["CONFIG", "SET", "requirepass", ""]);
    let mut s = t.new_session();
    s.authenticated = false;
    assert_eq!(t.run_as(&mut s, &["PING"]), "+PONG\r\n");
    assert!(t
        .run(&["AUTH", "x"])
        .starts_with("-ERR AUTH <password> called without"));
    // requirepass set at start-up.
    let st = Settings::default();
    st.set("requirepass", "p1", true).unwrap();
    let t = TestCtx::with_settings(st);
    assert!(t
        .run(&["ACL", "LIST"])
        .contains("#f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"));
}

#[test]
fn default_user_off_or_restricted() {
    let t = TestCtx::new();
    t.run(&["ACL", "SETUSER", "default", "off"]);
    assert!(t.srv.auth_required());
    let mut s = t.new_session();
    s.authenticated = !t.srv.auth_required();
    assert_eq!(
        t.run_as(&mut s, &["GET", "a"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(t
        .run_as(&mut s, &["AUTH", "default", "x"])
        .starts_with("-WRONGPASS"));
    t.run(&["ACL", "SETUSER", "default", "on", "-@all", "+ping"]);
    assert_eq!(t.run(&["PING"]), "+PONG\r\n");
    assert!(t.run(&["GET", "a"]).starts_with("-NOPERM"));
}

#[test]
fn acl_subcommands() {
    let t = TestCtx::new();
    let cats = t.run(&["ACL", "CAT"]);
    assert!(
        cats.starts_with("*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n"),
        "{cats}"
    );
    let read = t.run(&["ACL", "CAT", "READ"]);
    assert!(read.contains("$3\r\nget\r\n") && !read.contains("$3\r\nset\r\n"));
    let ss = t.run(&["ACL", "CAT", "sortedset"]);
    assert!(ss.contains("$4\r\nzadd\r\n"), "{ss}");
    assert_eq!(
        t.run(&["ACL", "CAT", "nope"]),
        "-ERR Unknown category 'nope'\r\n"
    );
    let p = t.run(&["ACL", "GENPASS"]);
    assert!(p.starts_with("$64\r\n"), "{p}");
    assert!(t.run(&["ACL", "GENPASS", "5"]).starts_with("$2\r\n"));
    assert_eq!(
        t.run(&["ACL", "GENPASS", "0"]),
        "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n"
    );
    assert_eq!(t.run(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    assert_eq!(t.run(&["ACL", "USERS"]), "*1\r\n$7\r\ndefault\r\n");
    assert_eq!(t.run(&["ACL", "GETUSER", "nobody"]), "$-1\r\n");
    assert_eq!(
        t.run(&["ACL", "SETUSER", "a b"]),
        "-ERR Usernames can't contain spaces or null characters\r\n"
    );
    assert!(t
        .run(&["ACL", "HELP"])
        .starts_with("*29\r\n+ACL <subcommand>"));
    assert_eq!(
        t.run(&["ACL", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try ACL HELP.\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "LOAD"]),
        format!("-{}\r\n", super::cmd::NO_FILE)
    );
    assert_eq!(
        t.run(&["ACL", "SAVE"]),
        format!("-{}\r\n", super::cmd::NO_FILE)
    );
    // DRYRUN
    t.run(&["ACL", "SETUSER", "bob", "~k*", "+get"]);
    assert_eq!(t.run(&["ACL", "DRYRUN", "bob", "get", "k1"]), "+OK\r\n");
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "bob", "get", "x"]),
        "$50\r\nThis user has no permissions to access the 'x' key\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "bob", "set", "k", "v"]),
        "$53\r\nThis user has no permissions to run the 'set' command\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "nobody", "get", "x"]),
        "-ERR User 'nobody' not found\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "bob", "nocmd"]),
        "-ERR Command 'nocmd' not found\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "bob", "get"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "bob", "client", "nosuch"]),
        "-ERR Command 'client' not found\r\n"
    );
    // GETUSER with selectors, RESP3.
    t.run(&["ACL", "SETUSER", "sel", "%R~a", "&c", "+get", "(~b +set)"]);
    t.resp3();
    assert_eq!(
        t.run(&["ACL", "GETUSER", "sel"]),
        "%6\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$4\r\n%R~a\r\n$8\r\nchannels\r\n$2\r\n&c\r\n$9\r\nselectors\r\n*1\r\n%3\r\n$8\r\ncommands\r\n$10\r\n-@all +set\r\n$4\r\nkeys\r\n$2\r\n~b\r\n$8\r\nchannels\r\n$0\r\n\r\n"
    );
    // The second selector allows SET on b.
    assert_eq!(t.run(&["ACL", "DRYRUN", "sel", "set", "b", "v"]), "+OK\r\n");
    assert_eq!(
        t.run(&["ACL", "DRYRUN", "sel", "set", "a", "v"]),
        "$50\r\nThis user has no permissions to access the 'a' key\r\n"
    );
    assert_eq!(t.run(&["ACL", "DELUSER", "bob", "sel", "x"]), ":2\r\n");
}

#[test]
fn acl_file_save_edit_load() {
    let dir = std::env::temp_dir().join(format!("rcache-acl-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("users.acl");
    let s = Settings::default();
    s.set("aclfile", path.to_str().unwrap(), true).unwrap();
    let t = TestCtx::with_settings(s);
    // A missing file stops the start-up.
    let e = super::load_at_startup(&t.srv).unwrap_err();
    assert!(e.contains("No such file or directory"), "{e}");
    t.run(&["ACL", "SETUSER", "bob", "on", ">pw", "~k*", "+get"]);
    assert_eq!(t.run(&["ACL", "SAVE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!(
            "user bob on #{} ~k* resetchannels -@all +get\nuser default on nopass ~* &* +@all\n",
            hash_password(b"pw")
        )
    );
    // Edited: bob gains SET, carol appears, default gets a password.
    std::fs::write(
        &path,
        format!(
            "user bob on #{} ~k* resetchannels -@all +get +set\n\nuser carol on nopass +@all ~*\nuser default on >s3 ~* &* +@all\n",
            hash_password(b"pw")
        ),
    )
    .unwrap();
    let mut bob = t.new_session();
    assert_eq!(t.run_as(&mut bob, &["AUTH", "bob", "pw"]), "+OK\r\n");
    assert_eq!(t.run(&["ACL", "LOAD"]), "+OK\r\n");
    assert_eq!(
        t.run(&["ACL", "USERS"]),
        "*3\r\n$3\r\nbob\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n"
    );
    assert!(
        bob.handle.is_killed(),
        "ACL LOAD disconnects the clients of replaced users"
    );
    assert!(t.srv.auth_required());
    // A broken file changes nothing, and says what is wrong where.
    std::fs::write(&path, "user x on +nosuch\nfoo bar\nuser x on\n").unwrap();
    let f = path.to_str().unwrap();
    assert_eq!(
        t.run(&["ACL", "LOAD"]),
        format!("-ERR {f}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. {f}:2 should start with user keyword followed by the username. WARNING: Duplicate user 'x' found on line 3. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n")
    );
    assert_eq!(
        t.run(&["ACL", "USERS"]),
        "*3\r\n$3\r\nbob\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n"
    );
    // Without a default user in the file, default is recreated open (requirepass is lost).
    std::fs::write(&path, "user bob on nopass\n").unwrap();
    assert_eq!(t.run(&["ACL", "LOAD"]), "+OK\r\n");
    assert!(!t.srv.auth_required());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn categories_of_every_command_are_known() {
    // Every row's categories are Redis's names, and every row has @fast or @slow, but
    // rcache's internal bus commands, which are in none.
    let ix = super::cats::index();
    for id in ix.walk() {
        let c = ix.cats(id);
        if ix.spec(id).name.starts_with("rcache.") {
            assert_eq!(c, 0);
            continue;
        }
        let fs = super::cats::category(b"fast").unwrap() | super::cats::category(b"slow").unwrap();
        assert!(c & fs != 0, "{}", ix.spec(id).name);
    }
    assert_eq!(ix.walk().count(), ix.len());
    let get = ix.id_of(b"GET").unwrap();
    assert_eq!(ix.spec(get).name, "get");
    let sub = ix.id_of(b"client|SETNAME").unwrap();
    assert_eq!(ix.spec(sub).name, "client|setname");
    assert_eq!(ix.parent(sub), ix.id_of(b"client"));
    assert!(ix.id_of(b"get|x").is_none());
}
