//! Command documentation derived from the table: COMMAND DOCS (the argument trees redis-cli
//! 7.2+ uses for its hints) and `docs/COMMANDS.md`.
//!
//! Each row's `syntax` (Redis docs style, after the command name) is parsed into Redis's
//! argument structure:
//! ```text
//!  syntax  := alt ('|' alt)*               several alternatives → oneof
//!  alt     := item+                        a token and several args → block with that token
//!  item    := WORD | '[' syntax ']'        optional
//!           | '<' syntax '>' | '(' syntax ')'   required group
//!           | '...'                        the item before repeats (flag multiple)
//!  WORD    := TOKEN (no lowercase: NX, LIB-NAME) | name (key, client-id, unix-time-seconds)
//! ```
//! `X [X ...]` and `a b [a b ...]` fold into one `multiple` argument (a block for several).
//! A token directly before a name or a required group becomes that argument's `token`.
//! Types are guessed from names: `key`/`*key`/`destination`/`source` → key (with
//! `key_spec_index` 0), `unix-time*` → unix-time, `pattern`, counts/indexes/ids → integer,
//! anything else string. Group names (Redis's `condition`, `expiration`…) are synthesised from
//! the members' tokens, with Redis's names for the common ones.

use crate::table::{flags, CommandSpec, CommandTable};
use protocol::Reply;

/// An argument's Redis doc type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Key,
    String,
    Integer,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::Key => "key",
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// One argument of COMMAND DOCS.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgDoc {
    pub name: String,
    pub typ: ArgType,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub args: Vec<ArgDoc>,
    /// The source words this argument came from (without its token), to recognise the
    /// `a b [a b ...]` repetition.
    src: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Word(String),
    Ellipsis,
    Group {
        optional: bool,
        alts: Vec<Vec<Item>>,
    },
}

impl Item {
    fn text(&self) -> String {
        match self {
            Item::Word(w) => w.clone(),
            Item::Ellipsis => "...".into(),
            Item::Group { optional, alts } => {
                let body: Vec<String> = alts.iter().map(|a| seq_text(a)).collect();
                let (o, c) = if *optional { ('[', ']') } else { ('<', '>') };
                format!("{o}{}{c}", body.join(" | "))
            }
        }
    }
}

fn seq_text(items: &[Item]) -> String {
    items.iter().map(Item::text).collect::<Vec<_>>().join(" ")
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

fn lex(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if "[]<>()|".contains(c) || c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parse alternatives until `close` (or the end). Unbalanced input is tolerated: a missing
/// closer ends the group at the end of the text.
fn parse_alts(toks: &[String], pos: &mut usize, close: Option<&str>) -> Vec<Vec<Item>> {
    let mut alts = vec![Vec::new()];
    while *pos < toks.len() {
        let t = toks[*pos].as_str();
        *pos += 1;
        match t {
            "|" => alts.push(Vec::new()),
            "[" | "<" | "(" => {
                let closer = match t {
                    "[" => "]",
                    "<" => ">",
                    _ => ")",
                };
                let inner = parse_alts(toks, pos, Some(closer));
                alts.last_mut().unwrap().push(Item::Group {
                    optional: t == "[",
                    alts: inner,
                });
            }
            "]" | ">" | ")" if Some(t) == close => return alts,
            "]" | ">" | ")" => {}
            "..." => alts.last_mut().unwrap().push(Item::Ellipsis),
            w => alts.last_mut().unwrap().push(Item::Word(w.to_string())),
        }
    }
    alts
}

fn guess_type(name: &str) -> ArgType {
    const INTEGERS: &[&str] = &[
        "seconds",
        "milliseconds",
        "count",
        "index",
        "index1",
        "index2",
        "offset",
        "start",
        "end",
        "timeout",
        "increment",
        "decrement",
        "numkeys",
        "cursor",
        "db",
        "port",
        "protover",
        "maxage",
        "samples",
        "bit",
        "len",
        "limit",
        "numreplicas",
        "id",
    ];
    if name == "key" || name.ends_with("key") || name == "destination" || name == "source" {
        ArgType::Key
    } else if name.starts_with("unix-time") {
        ArgType::UnixTime
    } else if name == "pattern" {
        ArgType::Pattern
    } else if INTEGERS.contains(&name) || name.ends_with("-id") {
        ArgType::Integer
    } else {
        ArgType::String
    }
}

fn leaf(name: &str, token: Option<String>) -> ArgDoc {
    ArgDoc {
        name: name.to_string(),
        typ: guess_type(name),
        token,
        optional: false,
        multiple: false,
        args: Vec::new(),
        src: name.to_string(),
    }
}

fn pure_token(t: &str) -> ArgDoc {
    ArgDoc {
        name: t.to_ascii_lowercase(),
        typ: ArgType::PureToken,
        token: Some(t.to_string()),
        optional: false,
        multiple: false,
        args: Vec::new(),
        src: t.to_string(),
    }
}

/// Redis's names for groups rcache would otherwise call by their members' tokens.
const GROUP_NAMES: &[(&str, &str)] = &[
    ("nx-xx", "condition"),
    ("ex-px-exat-pxat-keepttl", "expiration"),
    ("ex-px-exat-pxat-persist", "expiration"),
    ("key-value", "data"),
    ("async-sync", "flush-type"),
    ("nosave-save", "save-selector"),
    ("on-off", "enabled"),
    ("yes-no", "yes/no"),
];

fn group(typ: ArgType, token: Option<String>, args: Vec<ArgDoc>, src: String) -> ArgDoc {
    let name = match &token {
        Some(t) if typ == ArgType::Block => t.to_ascii_lowercase(),
        _ => {
            let joined = args
                .iter()
                .map(|a| match &a.token {
                    Some(t) => t.to_ascii_lowercase(),
                    None => a.name.clone(),
                })
                .collect::<Vec<_>>()
                .join("-");
            GROUP_NAMES
                .iter()
                .find(|(k, _)| *k == joined)
                .map(|(_, v)| v.to_string())
                .unwrap_or(joined)
        }
    };
    ArgDoc {
        name,
        typ,
        token,
        optional: false,
        multiple: false,
        args,
        src,
    }
}

fn alts_to_node(alts: &[Vec<Item>], src: String) -> ArgDoc {
    if alts.len() > 1 {
        let args = alts.iter().map(|a| alt_to_node(a)).collect();
        return group(ArgType::OneOf, None, args, src);
    }
    alt_to_node(&alts[0])
}

fn alt_to_node(items: &[Item]) -> ArgDoc {
    if let Some(Item::Word(t)) = items.first() {
        if is_token(t) {
            let rest = seq_to_nodes(&items[1..]);
            if rest.len() >= 2 {
                return group(ArgType::Block, Some(t.clone()), rest, seq_text(&items[1..]));
            }
        }
    }
    let mut nodes = seq_to_nodes(items);
    if nodes.len() == 1 {
        nodes.pop().unwrap()
    } else {
        group(ArgType::Block, None, nodes, seq_text(items))
    }
}

fn seq_to_nodes(items: &[Item]) -> Vec<ArgDoc> {
    let mut out: Vec<ArgDoc> = Vec::new();
    let mut pending: Option<String> = None;
    for (i, it) in items.iter().enumerate() {
        match it {
            Item::Word(w) if is_token(w) => {
                let takes_arg = match items.get(i + 1) {
                    Some(Item::Word(n)) => !is_token(n),
                    Some(Item::Group { optional, .. }) => !optional,
                    _ => false,
                };
                if takes_arg {
                    pending = Some(w.clone());
                } else {
                    out.push(pure_token(w));
                }
            }
            Item::Word(w) => out.push(leaf(w, pending.take())),
            Item::Ellipsis => {
                if let Some(last) = out.last_mut() {
                    last.multiple = true;
                }
            }
            Item::Group { optional, alts } => {
                // `a b [a b ...]`: the group repeats the arguments just before it.
                if *optional && alts.len() == 1 && alts[0].last() == Some(&Item::Ellipsis) {
                    let body = &alts[0][..alts[0].len() - 1];
                    let k = body.len();
                    if k > 0 && k <= out.len() {
                        let tail: Vec<&str> = out[out.len() - k..]
                            .iter()
                            .map(|a| a.src.as_str())
                            .collect();
                        if tail.join(" ") == seq_text(body) {
                            if k == 1 {
                                out.last_mut().unwrap().multiple = true;
                            } else {
                                let args = out.split_off(out.len() - k);
                                let src = seq_text(body);
                                let mut b = group(ArgType::Block, None, args, src);
                                b.multiple = true;
                                out.push(b);
                            }
                            continue;
                        }
                    }
                }
                let mut node = alts_to_node(alts, it.text());
                if *optional {
                    node.optional = true;
                } else if let Some(t) = pending.take() {
                    node.token = Some(t);
                }
                out.push(node);
            }
        }
    }
    out
}

/// The argument docs of a syntax string.
pub fn parse_syntax(syntax: &str) -> Vec<ArgDoc> {
    let toks = lex(syntax);
    let mut pos = 0;
    let alts = parse_alts(&toks, &mut pos, None);
    if alts.len() > 1 {
        vec![alts_to_node(&alts, syntax.to_string())]
    } else {
        seq_to_nodes(&alts[0])
    }
}

fn reply_arg(out: &mut Reply<'_>, a: &ArgDoc, has_key_spec: bool) {
    let key_spec = a.typ == ArgType::Key && has_key_spec;
    let mut flags: Vec<&str> = Vec::new();
    if a.optional {
        flags.push("optional");
    }
    if a.multiple {
        flags.push("multiple");
    }
    let n = 2
        + key_spec as usize
        + a.token.is_some() as usize
        + !flags.is_empty() as usize
        + !a.args.is_empty() as usize;
    out.map_len(n);
    out.bulk(b"name");
    out.bulk(a.name.as_bytes());
    out.bulk(b"type");
    out.bulk(a.typ.name().as_bytes());
    if key_spec {
        out.bulk(b"key_spec_index");
        out.int(0);
    }
    if let Some(t) = &a.token {
        out.bulk(b"token");
        out.bulk(t.as_bytes());
    }
    if !flags.is_empty() {
        out.bulk(b"flags");
        out.set_len(flags.len());
        for f in flags {
            out.simple(f);
        }
    }
    if !a.args.is_empty() {
        out.bulk(b"arguments");
        out.array_len(a.args.len());
        for c in &a.args {
            reply_arg(out, c, has_key_spec);
        }
    }
}

/// One command's COMMAND DOCS map: summary, since, group, arguments, subcommands.
pub fn reply_docs(out: &mut Reply<'_>, c: &CommandSpec) {
    let args = parse_syntax(c.syntax);
    let n = 3 + !args.is_empty() as usize + !c.subcommands.is_empty() as usize;
    out.map_len(n);
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !args.is_empty() {
        out.bulk(b"arguments");
        out.array_len(args.len());
        for a in &args {
            reply_arg(out, a, c.first_key > 0);
        }
    }
    if !c.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map_len(c.subcommands.len());
        for s in c.subcommands {
            out.bulk(s.name.as_bytes());
            reply_docs(out, s);
        }
    }
}

/// A command's full usage line: `SET key value …`, `CLIENT SETNAME connection-name`.
pub fn usage(c: &CommandSpec) -> String {
    let name = c.name.replace('|', " ").to_ascii_uppercase();
    if c.syntax.is_empty() {
        name
    } else {
        format!("{name} {}", c.syntax)
    }
}

/// The flag names of a row, COMMAND INFO's order.
pub fn flag_names(c: &CommandSpec) -> Vec<&'static str> {
    flags::NAMES
        .iter()
        .filter(|(f, _)| c.has(*f))
        .map(|(_, n)| *n)
        .collect()
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// docs/COMMANDS.md, rendered from the table: a section per group (in the order groups
/// first appear in `FAMILIES`), a row per command or subcommand, then what is not
/// supported.
pub fn commands_md(table: &CommandTable) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for fam in crate::FAMILIES {
        for c in fam.iter() {
            if !groups.contains(&c.group) {
                groups.push(c.group);
            }
        }
    }
    let rows: Vec<&CommandSpec> = table
        .all()
        .iter()
        .flat_map(|c| {
            if c.subcommands.is_empty() {
                vec![*c]
            } else {
                let mut s: Vec<&CommandSpec> = c.subcommands.iter().collect();
                s.sort_by_key(|s| s.name);
                s
            }
        })
        .collect();
    let mut out = String::from(
        "# rcache commands\n\n\
         <!-- Generated from the command table (crates/commands); do not edit by hand.\n     \
         Regenerate with: UPDATE_COMMANDS_MD=1 cargo test -p commands --lib commands_md_is_current -->\n\n",
    );
    out.push_str(&format!(
        "rcache answers {} commands ({} including subcommands) with Redis's syntax, replies and \
         errors. Flags are COMMAND INFO's.\n",
        table.all().len(),
        rows.len()
    ));
    for g in groups {
        out.push_str(&format!(
            "\n## {g}\n\n| Command | Syntax | Summary | Flags |\n|---|---|---|---|\n"
        ));
        for c in rows.iter().filter(|c| c.group == g) {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                c.name.replace('|', " ").to_ascii_uppercase(),
                md_escape(&usage(c)),
                md_escape(c.summary),
                flag_names(c).join(", ")
            ));
        }
    }
    out.push_str(
        "\n## Not supported, and differences from Redis 7.0\n\n\
         What is not part of this release answers \
         `ERR unknown command '<name>', with args beginning with: …` (or an unknown-subcommand \
         error), never a fake `OK`. Not supported, and where supported commands differ:\n\n\
         - Streams: XINFO's `radix-tree-nodes` is the number of entry blocks plus one (rcache \
         keeps blocks in a B-tree, not a radix tree); XREADGROUP's history reads are logged (Redis does not propagate them).\n\
         - Keyspace notifications: the `d` (module) class never fires; `keymiss` comes from \
         reads that find no key, as in Redis.\n\
         - SCRIPT DEBUG; `#!lua` shebang flags in EVAL scripts. The `cjson`, `cmsgpack`, \
         `struct` and `bit` libraries are Redis 7.0.15's (outputs and error words compared \
         with it), except: objects or maps nested more than ~2,000 levels deep (reachable \
         only after raising cjson's depth settings) stop with the nesting error where Redis \
         allows ~4,000; `pairs(cjson)` and the like see an empty read-only proxy, as for the \
         other libraries. Functions (FUNCTION, FCALL, \
         FCALL_RO) are supported, but FUNCTION DUMP's payload is rcache's own format: FUNCTION \
         RESTORE accepts what rcache's FUNCTION DUMP produced and refuses a Redis payload with \
         `ERR DUMP payload version or checksum are wrong`; FUNCTION LIST lists libraries and \
         functions by name (Redis: in hash order); FUNCTION FLUSH ASYNC frees at once; the \
         `allow-stale` flag is accepted with no effect (no replication), `allow-cross-slot-keys` \
         too (keys a function reaches are not checked against its declared slot).\n\
         - Sharded pub/sub in cluster mode (docs/CLUSTER.md): SSUBSCRIBE works on any node \
         and SPUBLISH reaches shard channel subscribers on every node (relayed as PUBLISH is), \
         its reply counting this node's receivers; only redirect mode answers MOVED for \
         another node's slot. A slot handed to another node does not unsubscribe its \
         channels' subscribers (Redis Cluster sends them `sunsubscribe`).\n\
         - Client features (docs/ARCHITECTURE.md, \"Client-side caching, pauses and MONITOR\"): \
         a collision among new BCAST prefixes past the first answers only the error \
         (Redis 7.0 answers the error and then OK); BCAST keys changed by one command on two \
         threads may come in two messages. CLIENT REPLY OFF also drops a client's own PUBLISH \
         echo. MONITOR shows memcached, binary-protocol and HTTP key requests in their own \
         words; there are no unix-socket clients. CLIENT PAUSE holds the memcached, binary and \
         HTTP doors' writes too. CLIENT NO-TOUCH is Redis 7.2's (7.0 lacks it); RESET turns it \
         off, as 7.2 does.\n\
         - Options newer than Redis 7.0: HSCAN NOVALUES, ZRANK/ZREVRANK WITHSCORE, hash-field TTLs.\n\
         - DUMP payloads are rcache's own format (cluster slot hand-offs rely on it): Redis's \
         RESTORE cannot read them. RESTORE reads both rcache's payloads and Redis's (RDB version \
         up to 11: Redis 7.0 and 7.2, every type and encoding but module values, which answer \
         `ERR Bad data format`), so keys move from Redis with DUMP/RESTORE; a Redis payload with \
         a wrong checksum or a newer version answers `ERR DUMP payload version or checksum are \
         wrong`, one with bytes after its value `ERR Bad data format` (Redis ignores them).\n\
         - ACL (docs/ACL.md): single commands in rule descriptions are listed by name \
         (Redis: hash order).\n\
         - Replication (REPLICAOF, SYNC; ROLE answers as a \
         master without replicas).\n\
         - DEBUG subcommands other than HELP, SLEEP, OBJECT, SET-ACTIVE-EXPIRE, ERROR, LOG and \
         RELOAD: they answer `ERR unknown subcommand or wrong number of arguments for '<sub>'. \
         Try DEBUG HELP.` DEBUG runs only as `enable-debug-command` allows (`no` by default, as \
         Redis; `local`: clients on 127.0.0.1/::1). DEBUG OBJECT's `serializedlength` is the \
         size of rcache's serialisation and lists no `ql_*` fields; DEBUG RELOAD verifies the \
         snapshot before it empties anything, and with NOFLUSH the file's keys replace existing \
         ones (MERGE or not).\n\
         - SLOWLOG leaves out blocking commands (Redis logs one when it is served), and logs \
         the commands a script calls under the calling client's address and name (Redis: \
         `?:0`, no name). LATENCY \
         records the events `command`, `fast-command` and `expire-cycle`; LATENCY HISTOGRAM's \
         bounds are rcache's latency buckets (1, 2, 3, 4, 5, 6, 8, 10, 13, 15, 20 … µs), not \
         powers of two.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    fn names(a: &[ArgDoc]) -> Vec<(String, &'static str, Option<String>, bool, bool)> {
        a.iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.typ.name(),
                    a.token.clone(),
                    a.optional,
                    a.multiple,
                )
            })
            .collect()
    }

    #[test]
    fn set_syntax_matches_redis_docs() {
        let a = parse_syntax(
            "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
        );
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            names(&a),
            vec![
                ("key".into(), "key", None, false, false),
                ("value".into(), "string", None, false, false),
                ("condition".into(), "oneof", None, true, false),
                ("get".into(), "pure-token", s("GET"), true, false),
                ("expiration".into(), "oneof", None, true, false),
            ]
        );
        assert_eq!(
            names(&a[2].args),
            vec![
                ("nx".into(), "pure-token", s("NX"), false, false),
                ("xx".into(), "pure-token", s("XX"), false, false),
            ]
        );
        assert_eq!(
            names(&a[4].args),
            vec![
                ("seconds".into(), "integer", s("EX"), false, false),
                ("milliseconds".into(), "integer", s("PX"), false, false),
                (
                    "unix-time-seconds".into(),
                    "unix-time",
                    s("EXAT"),
                    false,
                    false
                ),
                (
                    "unix-time-milliseconds".into(),
                    "unix-time",
                    s("PXAT"),
                    false,
                    false
                ),
                ("keepttl".into(), "pure-token", s("KEEPTTL"), false, false),
            ]
        );
    }

    #[test]
    fn repetition_blocks_and_tokens() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            names(&parse_syntax("key [key ...]")),
            vec![("key".into(), "key", None, false, true)]
        );
        assert_eq!(
            names(&parse_syntax("[section [section ...]]")),
            vec![("section".into(), "string", None, true, true)]
        );
        let mset = parse_syntax("key value [key value ...]");
        assert_eq!(
            names(&mset),
            vec![("data".into(), "block", None, false, true)]
        );
        assert_eq!(mset[0].args.len(), 2);
        let hello = parse_syntax("[protover [AUTH username password] [SETNAME clientname]]");
        assert_eq!(hello.len(), 1);
        assert_eq!((hello[0].typ, hello[0].optional), (ArgType::Block, true));
        assert_eq!(
            names(&hello[0].args),
            vec![
                ("protover".into(), "integer", None, false, false),
                ("auth".into(), "block", s("AUTH"), true, false),
                ("clientname".into(), "string", s("SETNAME"), true, false),
            ]
        );
        let list = parse_syntax(
            "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]",
        );
        assert_eq!(
            names(&list),
            vec![
                (
                    "normal-master-replica-pubsub".into(),
                    "oneof",
                    s("TYPE"),
                    true,
                    false
                ),
                ("client-id".into(), "integer", s("ID"), true, true),
            ]
        );
        let f = parse_syntax("[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]");
        assert_eq!(names(&f)[0].2, s("FILTERBY"));
        assert_eq!(f[0].args[2].typ, ArgType::Pattern);
        assert_eq!(parse_syntax(""), vec![]);
        // Unbalanced text does not panic.
        let _ = parse_syntax("[a <b | c");
        let _ = parse_syntax("a ] > ...");
    }

    #[test]
    fn every_row_parses_into_something_sensible() {
        for c in CommandTable::get().all() {
            for s in std::iter::once(*c).chain(c.subcommands.iter()) {
                let args = parse_syntax(s.syntax);
                assert_eq!(args.is_empty(), s.syntax.trim().is_empty(), "{}", s.name);
            }
        }
    }

    #[test]
    fn docs_reply_shape() {
        let t = TestCtx::new();
        let r = t.run(&["COMMAND", "DOCS", "memory|usage"]);
        assert_eq!(
            r,
            "*2\r\n$12\r\nmemory|usage\r\n*8\r\n$7\r\nsummary\r\n$36\r\nEstimates the memory usage of a key.\r\n$5\r\nsince\r\n$5\r\n4.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$9\r\narguments\r\n*2\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n*8\r\n$4\r\nname\r\n$5\r\ncount\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$7\r\nSAMPLES\r\n$5\r\nflags\r\n*1\r\n+optional\r\n"
        );
        assert_eq!(t.run(&["COMMAND", "DOCS", "nosuch"]), "*0\r\n");
        t.resp3();
        let r = t.run(&["COMMAND", "DOCS", "shutdown"]);
        assert!(r.starts_with("%1\r\n$8\r\nshutdown\r\n%4\r\n"), "{r}");
        assert!(r.contains("$5\r\nflags\r\n~1\r\n+optional\r\n"), "{r}");
        let r = t.run(&["COMMAND", "DOCS", "client"]);
        assert!(r.contains("$11\r\nsubcommands\r\n%"), "{r}");
        assert!(r.contains("$14\r\nclient|setname\r\n"), "{r}");
    }

    /// docs/COMMANDS.md is what the table says. `UPDATE_COMMANDS_MD=1` rewrites it.
    #[test]
    fn commands_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/COMMANDS.md");
        let want = commands_md(CommandTable::get());
        if std::env::var_os("UPDATE_COMMANDS_MD").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/COMMANDS.md is out of date with the command table; regenerate it with \
             UPDATE_COMMANDS_MD=1 cargo test -p commands --lib commands_md_is_current"
        );
    }
}
