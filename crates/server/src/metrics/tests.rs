//! `/metrics` output: valid OpenMetrics text (checked by a small parser below), values
//! matching a known sequence of commands, histograms cumulative with `+Inf` = `_count`.

use super::*;
use commands::testing::TestCtx;
use std::collections::{BTreeMap, HashSet};

type Labels = BTreeMap<String, String>;

#[derive(Debug)]
struct Family {
    name: String,
    kind: String,
    samples: Vec<(String, Labels, f64)>,
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}")),
    }
}

/// `{k="v",…}` → labels; panics on anything the format does not allow.
fn parse_labels(s: &str) -> Labels {
    let mut out = Labels::new();
    let inner = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
    let mut rest = inner.unwrap_or_else(|| panic!("bad label set {s:?}"));
    while !rest.is_empty() {
        let (k, after) = rest.split_once("=\"").expect("label without =\"");
        assert!(valid_name(k) && !k.contains(':'), "bad label name {k:?}");
        let mut val = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (_, '\\') => match chars.next().expect("dangling escape").1 {
                    'n' => val.push('\n'),
                    c @ ('\\' | '"') => val.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break i,
                (_, '\n') => panic!("newline in label value"),
                (_, c) => val.push(c),
            }
        };
        assert!(out.insert(k.to_string(), val).is_none(), "label {k} twice");
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// Parse and validate OpenMetrics text as Prometheus would ingest it.
fn parse(text: &str) -> Vec<Family> {
    assert!(text.ends_with("# EOF\n"), "no EOF marker");
    let body = &text[..text.len() - "# EOF\n".len()];
    assert!(!body.contains("# EOF"), "EOF before the end");
    let mut fams: Vec<Family> = Vec::new();
    let mut seen = HashSet::new();
    for line in body.lines() {
        assert!(!line.is_empty(), "empty line");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP without text");
            assert!(valid_name(name), "bad family name {name}");
            assert!(seen.insert(name.to_string()), "family {name} twice");
            fams.push(Family {
                name: name.into(),
                kind: String::new(),
                samples: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE without type");
            let f = fams.last_mut().expect("TYPE before HELP");
            assert_eq!(f.name, name, "TYPE of another family");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            f.kind = kind.into();
        } else {
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let f = fams.last_mut().expect("sample before any family");
            assert!(!f.kind.is_empty(), "sample before TYPE");
            let (series, value) = line.rsplit_once(' ').expect("sample without value");
            let (name, labels) = match series.find('{') {
                Some(i) => (&series[..i], parse_labels(&series[i..])),
                None => (series, Labels::new()),
            };
            let suffix = name
                .strip_prefix(f.name.as_str())
                .unwrap_or_else(|| panic!("sample {name} outside family {}", f.name));
            let ok: &[&str] = match f.kind.as_str() {
                "counter" => &["_total"],
                "gauge" => &[""],
                _ => &["_bucket", "_sum", "_count"],
            };
            assert!(
                ok.contains(&suffix),
                "sample {name} in {} {}",
                f.kind,
                f.name
            );
            f.samples
                .push((name.to_string(), labels, parse_value(value)));
        }
    }
    // Histograms: per series, `le` increasing, counts cumulative, +Inf last and = _count.
    for f in fams.iter().filter(|f| f.kind == "histogram") {
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        let mut sums = BTreeMap::new();
        for (name, labels, v) in &f.samples {
            let mut l = labels.clone();
            if name.ends_with("_bucket") {
                let le = parse_value(&l.remove("le").expect("bucket without le"));
                series.entry(l).or_default().push((le, *v));
            } else if name.ends_with("_count") {
                counts.insert(l, *v);
            } else {
                sums.insert(l, *v);
            }
        }
        assert_eq!(series.len(), counts.len());
        assert_eq!(series.len(), sums.len());
        for (l, b) in &series {
            assert!(b.windows(2).all(|w| w[0].0 < w[1].0), "le not increasing");
            assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "not cumulative");
            let last = b.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "no +Inf bucket");
            assert_eq!(last.1, counts[l], "+Inf != _count for {l:?}");
            assert!(sums[l] >= 0.0);
        }
    }
    fams
}

fn value(fams: &[Family], sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    fams.iter()
        .flat_map(|f| &f.samples)
        .find(|(n, l, _)| n == sample && *l == want)
        .map(|s| s.2)
}

#[test]
fn parser_rejects_bad_text() {
    let bad = [
        "x 1\n# EOF\n",
        "# HELP a a\n# TYPE a counter\na 1\n# EOF\n",
        "# HELP a a\n# TYPE a gauge\na{x=\"1} 1\n# EOF\n",
        "# HELP a a\n# TYPE a gauge\na 1\n",
        "# HELP a a\n# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 0\n# EOF\n",
        "# HELP a a\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\na_count 1\na_sum 0\n# EOF\n",
    ];
    for b in bad {
        assert!(
            std::panic::catch_unwind(|| parse(b)).is_err(),
            "accepted {b:?}"
        );
    }
    parse("# HELP a a\n# TYPE a histogram\na_sum 0.5\na_count 2\na_bucket{le=\"1.0\"} 1\na_bucket{le=\"+Inf\"} 2\n# EOF\n");
}

#[test]
fn metrics_after_a_known_sequence() {
    let t = TestCtx::new();
    t.run(&["SET", "a", "1"]);
    t.run(&["SET", "b", "2", "EX", "100"]);
    t.run(&["GET", "a"]);
    t.run(&["GET", "nope"]);
    t.run(&["GET"]); // rejected: arity
    t.run(&["LPUSH", "l", "x"]);
    t.run(&["GET", "l"]); // failed: WRONGTYPE
    t.run(&["CLIENT", "LIST"]);
    t.srv.stats.doors.opened(commands::Door::Resp);
    t.srv.stats.doors.opened(commands::Door::Http);
    t.srv.stats.doors.opened(commands::Door::Http);
    t.srv.stats.doors.closed(commands::Door::Http);

    let text = render(&t.srv);
    if std::env::var_os("SHOW_METRICS").is_some() {
        println!("{text}");
    }
    let fams = parse(&text);
    let v = |s: &str, l: &[(&str, &str)]| {
        value(&fams, s, l).unwrap_or_else(|| panic!("no {s}{l:?} in\n{text}"))
    };

    // Every snapshot figure, counters with _total.
    assert_eq!(v("rcache_keys", &[]), 3.0);
    assert_eq!(v("rcache_expiring_keys", &[]), 1.0);
    // GET a and GET l (found, then WRONGTYPE) are hits, as in Redis.
    assert_eq!(v("rcache_hits_total", &[]), 2.0);
    assert_eq!(v("rcache_misses_total", &[]), 1.0);
    assert!(v("rcache_hit_ratio", &[]) > 0.0);
    assert_eq!(v("rcache_evictions_total", &[]), 0.0);
    assert!(v("rcache_used_memory_bytes", &[]) > 0.0);
    for s in &stats::snapshot(&t.srv).figures {
        if s.name == "connections" {
            continue;
        }
        let name = match s.kind {
            Kind::Counter => format!("rcache_{}_total", s.name),
            Kind::Gauge => format!("rcache_{}", s.name),
        };
        assert!(value(&fams, &name, &[]).is_some(), "{name} missing");
    }
    let kinds: BTreeMap<&str, &str> = fams
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str()))
        .collect();
    assert_eq!(kinds["rcache_hits"], "counter");
    assert_eq!(kinds["rcache_keys"], "gauge");
    assert_eq!(kinds["rcache_command_duration_seconds"], "histogram");

    // Doors.
    assert_eq!(v("rcache_connections", &[("door", "resp")]), 1.0);
    assert_eq!(v("rcache_connections", &[("door", "http")]), 1.0);
    assert_eq!(v("rcache_connections", &[("door", "memcache")]), 0.0);
    assert_eq!(
        v("rcache_connections_received_total", &[("door", "http")]),
        2.0
    );

    // Per command.
    let get = [("cmd", "get")];
    assert_eq!(v("rcache_commands_total", &get), 3.0);
    assert_eq!(v("rcache_commands_failed_total", &get), 1.0);
    assert_eq!(v("rcache_commands_rejected_total", &get), 1.0);
    assert_eq!(v("rcache_commands_total", &[("cmd", "set")]), 2.0);
    assert_eq!(v("rcache_commands_total", &[("cmd", "client|list")]), 1.0);
    assert_eq!(
        value(&fams, "rcache_commands_total", &[("cmd", "hset")]),
        None
    );
    assert_eq!(v("rcache_command_duration_seconds_count", &get), 3.0);
    assert!(v("rcache_command_duration_seconds_sum", &get) > 0.0);
    assert_eq!(
        v(
            "rcache_command_duration_seconds_bucket",
            &[("cmd", "get"), ("le", "+Inf")]
        ),
        3.0
    );
    // 22 bounds from 1 µs to 10 s, then +Inf.
    let les: Vec<f64> = fams
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|(n, l, _)| n.ends_with("_bucket") && l["cmd"] == "get")
        .map(|(_, l, _)| parse_value(&l["le"]))
        .collect();
    assert_eq!(les.len(), 23);
    assert_eq!(les[0], 1e-6);
    assert_eq!(les[21], 10.0);
}

#[test]
fn resetstat_clears_per_command_metrics() {
    let t = TestCtx::new();
    t.run(&["SET", "a", "1"]);
    t.run(&["CONFIG", "RESETSTAT"]);
    let fams = parse(&render(&t.srv));
    assert_eq!(
        value(&fams, "rcache_commands_total", &[("cmd", "set")]),
        None
    );
    assert_eq!(
        value(
            &fams,
            "rcache_commands_total",
            &[("cmd", "config|resetstat")]
        ),
        Some(1.0)
    );
}
