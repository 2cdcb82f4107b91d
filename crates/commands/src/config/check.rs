//! How a setting's value is checked and normalised, exactly as Redis 7.0 does it, with
//! Redis's error words (they follow `CONFIG SET failed (possibly related to argument 'x') - `).
//! Every value goes through its row's `Check` first, whether it comes from CONFIG SET, the
//! TOML file or a flag; what comes out is the text CONFIG GET reports.

/// Largest values of C's types, the bounds Redis gives its numeric settings.
pub const I32: i128 = i32::MAX as i128;
pub const I64: i128 = i64::MAX as i128;
pub const U32: i128 = u32::MAX as i128;
pub const U64: i128 = u64::MAX as i128;

/// The syntax of a setting's value.
#[derive(Clone, Copy)]
pub enum Check {
    /// `yes`/`no`, any case; reported lower-case.
    Bool,
    /// An integer as Redis's `string2ll` reads it (no sign but `-`, no spaces, no leading
    /// zeros), within `[min, max]`.
    Int(i128, i128),
    /// A memory value (`100`, `1k`, `1kb`, `2GB` …) within `[min, max]`; reported in bytes.
    Mem(i128, i128),
    /// One of these words, any case; reported as written here.
    Enum(&'static [&'static str]),
    /// Any text.
    Text,
    /// A syntax of its own: returns the value to store.
    Custom(fn(&str) -> Result<String, String>),
}

impl Check {
    /// The normalised value, or Redis's complaint.
    pub fn apply(&self, v: &str) -> Result<String, String> {
        match *self {
            Check::Bool => yes_no(v).map(|b| if b { "yes" } else { "no" }.to_string()),
            Check::Int(min, max) => {
                let n = string2ll(v).ok_or("argument couldn't be parsed into an integer")?;
                in_range(n.into(), min, max)
            }
            Check::Mem(min, max) => {
                let n = memtoull(v).ok_or("argument must be a memory value")?;
                in_range(n.into(), min, max)
            }
            Check::Enum(words) => one_of(v, words).map(str::to_string),
            Check::Text => Ok(v.to_string()),
            Check::Custom(f) => f(v),
        }
    }
}

fn in_range(n: i128, min: i128, max: i128) -> Result<String, String> {
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n.to_string())
}

pub fn yes_no(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn one_of(v: &str, words: &[&'static str]) -> Result<&'static str, String> {
    words
        .iter()
        .find(|w| w.eq_ignore_ascii_case(v))
        .copied()
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                words.join(", ")
            )
        })
}

/// Redis's `string2ll`: an optional `-`, then digits without leading zeros ("0" itself
/// aside), fitting an i64. Stricter than Rust's parse ("+1", "01", "-0" are refused).
pub fn string2ll(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let b = digits.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b[0] == b'0' && (b.len() > 1 || digits.len() != s.len()) {
        return None;
    }
    s.parse().ok()
}

/// Redis's `memtoull`: digits and an optional unit (b, k, kb, m, mb, g, gb; any case). As
/// in Redis, no digits reads as 0 and too many digits saturate (C's `strtoull`).
pub fn memtoull(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let n = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    Some(n.wrapping_mul(mul))
}

/// Redis's multi-argument settings split their value on single spaces: "" is no
/// arguments, and two spaces in a row make an empty argument.
fn args(v: &str) -> Vec<&str> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(' ').collect()
    }
}

/// C's `strtoll` over a whole argument: leading white space, an optional sign, digits
/// (saturating on overflow). `None` when no digits or anything after them; as in C, an
/// empty argument reads as 0.
fn strtoll_whole(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let signed = if neg {
        format!("-{digits}")
    } else {
        digits.to_string()
    };
    Some(
        signed
            .parse::<i64>()
            .unwrap_or(if neg { i64::MIN } else { i64::MAX }),
    )
}

/// `save "<seconds> <changes> …"`: pairs, seconds ≥ 1, changes ≥ 0; "" is no snapshots.
pub fn save(v: &str) -> Result<String, String> {
    let a = args(v);
    let bad = || "Invalid save parameters".to_string();
    if a.len() % 2 == 1 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for pair in a.chunks(2) {
        let secs = strtoll_whole(pair[0]).filter(|&s| s >= 1).ok_or_else(bad)?;
        let changes = strtoll_whole(pair[1]).filter(|&c| c >= 0).ok_or_else(bad)?;
        // Redis keeps the changes in a C int.
        out.push(format!("{secs} {}", changes as i32));
    }
    Ok(out.join(" "))
}

/// The event classes of `notify-keyspace-events`, in the order Redis reports them; `A` is
/// the first ten (`g$lshzxetd`).
const EVENT_CLASSES: &str = "g$lshzxetdn";
const KEY_CLASSES: &str = "KEm";

/// `notify-keyspace-events`: letters of `Ag$lshzxeKEtmdn` (case matters), normalised the
/// way Redis's `keyspaceEventsFlagsToString` does (all of `g$lshzxetd` reads `A`, and then
/// `n` is not shown; `K`, `E`, `m` last).
pub fn keyspace_events(v: &str) -> Result<String, String> {
    let mut set = [false; 14];
    let all = "g$lshzxetd";
    for c in v.chars() {
        if c == 'A' {
            for a in all.chars() {
                set[class_index(a).unwrap_or_default()] = true;
            }
        } else {
            let i = class_index(c).ok_or_else(|| {
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
            })?;
            set[i] = true;
        }
    }
    let mut out = String::new();
    if all.chars().all(|c| set[class_index(c).unwrap_or_default()]) {
        out.push('A');
        // Kept for the flags (`notify::display` drops it, as Redis's CONFIG GET does).
        if set[class_index('n').unwrap_or_default()] {
            out.push('n');
        }
    } else {
        out.extend(
            EVENT_CLASSES
                .chars()
                .filter(|&c| set[class_index(c).unwrap_or_default()]),
        );
    }
    out.extend(
        KEY_CLASSES
            .chars()
            .filter(|&c| set[class_index(c).unwrap_or_default()]),
    );
    Ok(out)
}

fn class_index(c: char) -> Option<usize> {
    EVENT_CLASSES
        .chars()
        .chain(KEY_CLASSES.chars())
        .position(|x| x == c)
}

/// `latency-tracking-info-percentiles "50 99 99.9"`: numbers in [0, 100], each reported
/// as C's `%f` without trailing zeros.
pub fn percentiles(v: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for a in args(v) {
        let p: f64 = a
            .parse()
            .map_err(|_| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(fmt_percentile(p));
    }
    Ok(out.join(" "))
}

/// C's `%f` with the trailing zeros (and a bare point) dropped: 99.9, 12.345679, 50.
pub fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `oom-score-adj-values "<normal> <replica> <bg-child>"`: three integers in ±2000.
pub fn oom_values(v: &str) -> Result<String, String> {
    let a = args(v);
    if a.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for x in a {
        match strtoll_whole(x) {
            Some(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out.join(" "))
}

/// `shutdown-on-sigint`/`shutdown-on-sigterm`: `default`, or flags from save, nosave,
/// now, force (not both save and nosave), reported in that order.
pub fn shutdown_flags(v: &str) -> Result<String, String> {
    const WORDS: [&str; 5] = ["default", "save", "nosave", "now", "force"];
    let mut set = [false; 5];
    let a = args(v);
    if a.is_empty() {
        one_of(v, &WORDS)?;
    }
    for w in a {
        let w = one_of(w, &WORDS)?;
        set[WORDS.iter().position(|x| *x == w).unwrap_or_default()] = true;
    }
    if set[1] && set[2] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let on: Vec<&str> = (1..5).filter(|&i| set[i]).map(|i| WORDS[i]).collect();
    Ok(if on.is_empty() {
        "default".into()
    } else {
        on.join(" ")
    })
}

/// `proc-title-template`: `{name}` variables Redis knows, `{{` for a brace; must not
/// come out empty.
pub fn proc_title(v: &str) -> Result<String, String> {
    let bad = || "template format is invalid or contains unknown variables".to_string();
    let mut produced = false;
    let mut rest = v;
    while let Some(open) = rest.find('{') {
        produced |= open > 0;
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(bad());
        }
        if let Some(r) = after.strip_prefix('{') {
            produced = true;
            rest = r;
            continue;
        }
        let close = after.find('}').ok_or_else(bad)?;
        match &after[..close] {
            // Empty in the check Redis runs ({title} is given no text, a lone server has no mode).
            "title" | "server-mode" => {}
            "listen-addr" | "port" | "tls-port" | "unixsocket" | "config-file" => produced = true,
            _ => return Err(bad()),
        }
        rest = &after[close + 1..];
    }
    if !produced && rest.is_empty() {
        return Err(bad());
    }
    Ok(v.to_string())
}

/// `cluster-announce-hostname`: letters, digits, `-` and `.` only (or empty).
pub fn hostname(v: &str) -> Result<String, String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Ok(v.to_string())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
    }
}

/// `maxmemory-clients`: a memory value, or a percentage of maxmemory (`10%`, at most 100).
pub fn mem_or_percent(v: &str) -> Result<String, String> {
    if let Some(n) = memtoull(v) {
        return in_range(n.into(), 0, I64);
    }
    if let Some(p) = v.strip_suffix('%').filter(|p| !p.is_empty()) {
        if let Some(n) = string2ll(p).filter(|n| *n >= 0) {
            if n > 100 {
                return Err("percentage argument must be less or equal to 100".into());
            }
            return Ok(format!("{n}%"));
        }
    }
    Err("argument must be a memory or percent value".into())
}

/// `repl-backlog-size`: a memory value of at least 1, which Redis raises to its 16kb minimum.
pub fn backlog_size(v: &str) -> Result<String, String> {
    let n: i128 = Check::Mem(1, I64).apply(v)?.parse().unwrap_or_default();
    Ok(n.max(16 * 1024).to_string())
}

/// `replicaof "<host> <port>"` or `"no one"`; reported as "" when not a replica, and ""
/// reads back as "no one" (so a reported value can be set again).
pub fn replicaof(v: &str) -> Result<String, String> {
    let a: Vec<&str> = v.split_whitespace().collect();
    if a.is_empty() {
        return Ok(String::new());
    }
    if a.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if a[0].eq_ignore_ascii_case("no") && a[1].eq_ignore_ascii_case("one") {
        return Ok(String::new());
    }
    match a[1].parse::<i64>() {
        Ok(p) if (0..=65535).contains(&p) => Ok(format!("{} {p}", a[0])),
        _ => Err("Invalid master port".into()),
    }
}

/// `unixsocketperm`: an octal number up to 777.
pub fn octal_perm(v: &str) -> Result<String, String> {
    let n = i64::from_str_radix(v, 8)
        .ok()
        .filter(|_| !v.is_empty() && !v.starts_with('+'))
        .ok_or("argument couldn't be parsed as an octal number")?;
    if !(0..=0o777).contains(&n) {
        return Err("argument must be between 0 and 777 inclusive".into());
    }
    Ok(format!("{n:o}"))
}

/// A file name that must not be a path (`dbfilename`, `appendfilename`).
pub fn file_name(what: &str, v: &str, empty_ok: bool) -> Result<String, String> {
    if v.contains('/') {
        return Err(format!("{what} can't be a path, just a filename"));
    }
    if v.is_empty() && !empty_ok {
        return Err(format!("{what} can't be empty"));
    }
    Ok(v.to_string())
}

/// `appenddirname`: a directory name, not a path, not empty.
pub fn dir_name(v: &str) -> Result<String, String> {
    if v.contains('/') {
        return Err("appenddirname can't be a path, just a dirname".into());
    }
    if v.is_empty() {
        return Err("appenddirname can't be empty".into());
    }
    Ok(v.to_string())
}

/// One class of `client-output-buffer-limit`: which class, hard, soft, seconds.
pub type ObufClass = (&'static str, u64, u64, u64);

/// `client-output-buffer-limit "<class> <hard> <soft> <seconds> …"`: every group is checked
/// before any is taken (Redis applies all or none). `slave` is `replica`.
pub fn obuf_limits(v: &str) -> Result<Vec<ObufClass>, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if !parts.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for c in parts.chunks(4) {
        let class = match c[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "replica" | "slave" => "replica",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        // Redis keeps the seconds in a C int.
        let secs = strtoll_whole(c[3]).map(|s| s as i32).filter(|&s| s >= 0);
        match (memtoull(c[1]), memtoull(c[2]), secs) {
            (Some(h), Some(s), Some(t)) => out.push((class, h, s, t as u64)),
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit \
                            configuration."
                        .into(),
                )
            }
        }
    }
    Ok(out)
}

pub fn obuf_check(v: &str) -> Result<String, String> {
    obuf_limits(v).map(|_| v.to_string())
}

/// A front door's port: 0-65535 (0 picks a free one) or `off`.
pub fn door_port(v: &str) -> Result<String, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "off" | "no" | "-1" => Ok("off".into()),
        t => t
            .parse::<u16>()
            .map(|p| p.to_string())
            .map_err(|_| "port must be 0-65535 or off".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_redis_reads_them() {
        assert_eq!(string2ll("0"), Some(0));
        assert_eq!(string2ll("-12"), Some(-12));
        for bad in [
            "",
            "+1",
            " 1",
            "01",
            "-0",
            "1.5",
            "0x10",
            "99999999999999999999",
            "-",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
        assert_eq!(memtoull("007"), Some(7));
        assert_eq!(memtoull("1KB"), Some(1024));
        assert_eq!(memtoull("1k"), Some(1000));
        assert_eq!(memtoull("2gb"), Some(2 << 30));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        for bad in ["-1", " 1", "+1", "1.5", "10%", "abc", "1tb"] {
            assert_eq!(memtoull(bad), None, "{bad:?}");
        }
        let timeout = Check::Int(0, I32);
        assert_eq!(timeout.apply("30"), Ok("30".into()));
        assert_eq!(
            timeout.apply("-1"),
            Err("argument must be between 0 and 2147483647 inclusive".into())
        );
        assert_eq!(
            timeout.apply("1k"),
            Err("argument couldn't be parsed into an integer".into())
        );
        let value = Check::Mem(0, I64);
        assert_eq!(value.apply("1kb"), Ok("1024".into()));
        assert_eq!(value.apply(""), Ok("0".into()));
        // Saturated past i64: out of range for a signed setting, as in Redis.
        assert_eq!(
            value.apply("99999999999999999999"),
            Err("argument must be between 0 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(
            Check::Mem(0, U64).apply("99999999999999999999"),
            Ok("18446744073709551615".into())
        );
        assert_eq!(
            value.apply("abc"),
            Err("argument must be a memory value".into())
        );
    }

    #[test]
    fn words() {
        assert_eq!(Check::Bool.apply("YES"), Ok("yes".into()));
        assert_eq!(
            Check::Bool.apply("maybe"),
            Err("argument must be 'yes' or 'no'".into())
        );
        let e = Check::Enum(&["everysec", "always", "no"]);
        assert_eq!(e.apply("ALWAYS"), Ok("always".into()));
        assert_eq!(
            e.apply("sometimes"),
            Err("argument(s) must be one of the following: everysec, always, no".into())
        );
    }

    /// Each answer below is Redis 7.0.15's to the same CONFIG SET then CONFIG GET.
    #[test]
    fn keyspace_events_normalise_like_redis() {
        for (set, get) in [
            ("KEA", "AKE"),
            ("Kx", "xK"),
            ("", ""),
            ("A", "A"),
            ("Am", "Am"),
            ("An", "An"),
            ("g$lshzxetd", "A"),
            ("g$lshzxet", "g$lshzxet"),
            ("KEAmn", "AnKEm"),
            ("EK", "KE"),
            ("KK", "K"),
            ("nmE", "nEm"),
            ("Kl$", "$lK"),
        ] {
            assert_eq!(keyspace_events(set), Ok(get.to_string()), "{set:?}");
        }
        for bad in ["k", "b", "KEA1"] {
            assert_eq!(
                keyspace_events(bad),
                Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
            );
        }
    }

    #[test]
    fn multi_argument_settings() {
        assert_eq!(save(""), Ok("".into()));
        assert_eq!(save("3600 1 300 100"), Ok("3600 1 300 100".into()));
        assert_eq!(save("60 "), Ok("60 0".into()));
        for bad in ["3600 1 300", "  ", "60 abc", "-1 5", "0 0", "   60   10  "] {
            assert_eq!(save(bad), Err("Invalid save parameters".into()), "{bad:?}");
        }
        assert_eq!(
            percentiles("0 100 55.55 12.3456789 0.1"),
            Ok("0 100 55.55 12.345679 0.1".into())
        );
        assert_eq!(percentiles(""), Ok("".into()));
        assert!(percentiles("  50   99 ")
            .unwrap_err()
            .starts_with("Invalid"));
        assert!(percentiles("101").unwrap_err().contains("[0.0,100.0]"));
        assert_eq!(oom_values("-1000 -5 1000"), Ok("-1000 -5 1000".into()));
        assert_eq!(oom_values("0 200"), Err("wrong number of arguments".into()));
        assert!(oom_values("0 200 2001")
            .unwrap_err()
            .contains("-2000 and 2000"));
        assert_eq!(shutdown_flags("now nosave"), Ok("nosave now".into()));
        assert_eq!(
            shutdown_flags("force save now"),
            Ok("save now force".into())
        );
        assert_eq!(shutdown_flags("default now"), Ok("now".into()));
        assert_eq!(shutdown_flags("NOW"), Ok("now".into()));
        assert!(shutdown_flags("save nosave")
            .unwrap_err()
            .contains("SAVE and NOSAVE"));
        assert!(shutdown_flags("")
            .unwrap_err()
            .contains("one of the following"));
        assert!(shutdown_flags("now  save")
            .unwrap_err()
            .contains("one of the following"));
        assert_eq!(mem_or_percent("10%"), Ok("10%".into()));
        assert_eq!(mem_or_percent("1mb"), Ok("1048576".into()));
        assert!(mem_or_percent("1000%")
            .unwrap_err()
            .contains("less or equal to 100"));
        assert!(mem_or_percent("-1")
            .unwrap_err()
            .contains("memory or percent"));
        assert_eq!(backlog_size("1kb"), Ok("16384".into()));
        assert_eq!(backlog_size("1mb"), Ok("1048576".into()));
        assert!(backlog_size("0").unwrap_err().contains("between 1 and"));
        assert_eq!(replicaof("no one"), Ok("".into()));
        assert_eq!(replicaof("localhost 1"), Ok("localhost 1".into()));
        assert_eq!(replicaof("maybe"), Err("wrong number of arguments".into()));
        assert_eq!(octal_perm("700"), Ok("700".into()));
        assert!(octal_perm("99999").unwrap_err().contains("octal"));
        assert!(octal_perm("1000")
            .unwrap_err()
            .contains("between 0 and 777"));
        assert!(proc_title("{title} {listen-addr} {server-mode}").is_ok());
        assert!(proc_title("{foo}").is_err());
        assert!(proc_title("").is_err());
        assert!(proc_title("{title}").is_err());
        assert!(proc_title("x {{ y").is_ok());
        assert!(hostname("a_b").is_err());
        assert!(hostname("node-1.example").is_ok());
        assert!(obuf_limits("normal 1 2 x")
            .unwrap_err()
            .contains("hard, soft"));
        assert!(obuf_limits("master 1 2 3")
            .unwrap_err()
            .contains("client class"));
        assert_eq!(obuf_limits(""), Ok(vec![]));
        assert_eq!(
            obuf_limits("slave 1kb 2 3"),
            Ok(vec![("replica", 1024, 2, 3)])
        );
    }
}
