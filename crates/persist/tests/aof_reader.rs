//! The AOF pieces end to end: the command reader over random command streams split at
//! random points, cut at every length and with every byte flipped (never a panic, never
//! Corrupt for a mere cut); the manifest's render/parse round trip with hostile names; and
//! `check-aof` on real directories (snapshot or RESP base, two incr files) with torn tails,
//! open transactions and corruption, with and without `--fix`.

use persist::aof::check::{check, CheckOutcome};
use persist::aof::manifest::{self, FileKind, Manifest, ManifestEntry};
use persist::aof::reader::{encode, scan, Command, LogReader, ReadError};
use proptest::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A `Read` that hands out its bytes in pieces of the given sizes, in turn.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Every command of `r`, and how the reading ended.
fn read_all<R: Read>(r: R) -> (Vec<Command>, Result<(), ReadError>) {
    let mut rd = LogReader::new(r);
    let mut out = Vec::new();
    loop {
        match rd.next() {
            Ok(Some(c)) => out.push(c),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
    }
}

fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    // CR and LF often, so arguments hold the terminator's bytes.
    let byte = prop_oneof![3 => any::<u8>(), 1 => Just(b'\r'), 1 => Just(b'\n')];
    proptest::collection::vec(byte, 0..24)
}

fn commands_strategy() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    proptest::collection::vec(proptest::collection::vec(arg_strategy(), 1..=8), 1..8)
}

/// The stream, and each command's (offset, end).
fn encode_all(cmds: &[Vec<Vec<u8>>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    for c in cmds {
        let start = out.len() as u64;
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
        encode(&args, &mut out);
        spans.push((start, out.len() as u64));
    }
    (out, spans)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_split_reads_the_same_commands(
        cmds in commands_strategy(),
        sizes in proptest::collection::vec(1usize..20, 1..6),
        one_byte in any::<bool>(),
    ) {
        let (bytes, spans) = encode_all(&cmds);
        let sizes = if one_byte { vec![1] } else { sizes };
        let (got, end) = read_all(Chunked { data: &bytes, sizes, turn: 0 });
        prop_assert!(end.is_ok());
        prop_assert_eq!(got.len(), cmds.len());
        for ((c, want), span) in got.iter().zip(&cmds).zip(&spans) {
            prop_assert_eq!(&c.args, want);
            prop_assert_eq!((c.offset, c.end), *span);
        }
        let s = scan(&bytes[..], |_| Ok(()));
        prop_assert!(s.problem.is_none());
        prop_assert_eq!(s.good_end, bytes.len() as u64);
    }

    #[test]
    fn a_cut_is_a_clean_end_or_torn_never_corrupt(cmds in commands_strategy()) {
        let (bytes, spans) = encode_all(&cmds);
        for cut in 0..=bytes.len() {
            let cut64 = cut as u64;
            let (got, end) = read_all(&bytes[..cut]);
            let whole = spans.iter().take_while(|s| s.1 <= cut64).count();
            prop_assert_eq!(got.len(), whole, "cut at {}", cut);
            for (c, want) in got.iter().zip(&cmds) {
                prop_assert_eq!(&c.args, want);
            }
            let boundary = cut == 0 || spans.iter().any(|s| s.1 == cut64);
            match end {
                Ok(()) => prop_assert!(boundary, "clean end at {} inside a command", cut),
                Err(ReadError::Torn { offset, .. }) => {
                    prop_assert!(!boundary);
                    prop_assert_eq!(offset, spans[whole].0);
                }
                Err(e) => prop_assert!(false, "cut at {}: {}", cut, e),
            }
        }
    }

    #[test]
    fn a_flipped_byte_never_panics_or_hangs(cmds in commands_strategy(), mask in 1u8..) {
        let (bytes, _) = encode_all(&cmds);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            let (got, end) = read_all(&bad[..]);
            // Whatever was read is a chain of commands covering the file from its start.
            let mut at = 0;
            for c in &got {
                prop_assert_eq!(c.offset, at);
                prop_assert!(!c.args.is_empty() && c.end > c.offset);
                at = c.end;
            }
            match end {
                Ok(()) => prop_assert_eq!(at, bad.len() as u64),
                Err(ReadError::Torn { offset, .. }) => prop_assert_eq!(offset, at),
                Err(ReadError::Corrupt { offset, .. }) => {
                    prop_assert!(offset >= at && offset < bad.len() as u64)
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
            // `scan` agrees with the reader and never claims more than it read.
            let s = scan(&bad[..], |_| Ok(()));
            prop_assert!(s.safe_end <= s.good_end && s.good_end <= bad.len() as u64);
        }
    }

    #[test]
    fn manifest_round_trips(
        entries in proptest::collection::vec(
            ("[ -~]{1,12}|\\PC{1,6}|[\"'\\\\ \t\r\n#a]{1,6}", 1u64..1000, 0u8..3),
            0..6,
        )
    ) {
        let mut m = Manifest::default();
        let mut incr = 0;
        let mut base = false;
        for (name, seq, kind) in entries {
            if name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
                continue;
            }
            let kind = match kind {
                0 if !base => { base = true; FileKind::Base }
                1 => FileKind::History,
                _ => { incr += seq; FileKind::Incr }
            };
            let seq = if kind == FileKind::Incr { incr } else { seq };
            m.entries.push(ManifestEntry { name, seq, kind });
        }
        let text = m.render();
        prop_assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn manifest_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Manifest::parse(&bytes);
    }
}

#[test]
fn manifest_of_redis_7() {
    // As Redis 7.0 writes one after a rewrite.
    let text = b"file appendonly.aof.2.base.rdb seq 2 type b\n\
                 file appendonly.aof.1.incr.aof seq 1 type h\n\
                 file appendonly.aof.2.incr.aof seq 2 type i\n\
                 file appendonly.aof.3.incr.aof seq 3 type i\n";
    let m = Manifest::parse(text).unwrap();
    assert_eq!(m.base().unwrap().name, "appendonly.aof.2.base.rdb");
    let incrs: Vec<_> = m.incrs().map(|e| e.seq).collect();
    assert_eq!(incrs, [2, 3]);
    assert_eq!(m.render().as_bytes(), text);
    assert_eq!((m.next_seq_base(), m.next_seq_incr()), (3, 4));
}

// ---- check-aof ----

const PREFIX: &str = "appendonly.aof";

fn tmpdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "rcache-aof-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    let mut out = Vec::new();
    encode(&a, &mut out);
    out
}

fn cmds(list: &[&[&str]]) -> Vec<u8> {
    list.iter().flat_map(|c| cmd(c)).collect()
}

/// A snapshot holding one key, written by the real writer.
fn write_snapshot(path: &Path) {
    let ks = storage::Keyspace::new(
        16,
        Arc::new(storage::ManualClock::new(1_700_000_000_000)),
        Arc::new(storage::EvictionConfig::default()),
    );
    let rec = persist::Record {
        db: 0,
        key: b"k".to_vec(),
        value: storage::dump::Value::String(b"v".to_vec()),
        expire_at_ms: None,
        mc: None,
    };
    persist::record::insert(&ks, &storage::Limits::default(), &rec).unwrap();
    persist::snapshot::save(&ks, path, 1, 1).unwrap();
}

/// A directory: snapshot (or RESP) base, two incr files, a history entry; paths of the
/// two incr files.
fn aof_dir(tag: &str, snapshot_base: bool) -> (PathBuf, PathBuf, PathBuf) {
    let dir = tmpdir(tag);
    let base = if snapshot_base {
        let name = manifest::base_name(PREFIX, 1, "rcsnap");
        write_snapshot(&dir.join(&name));
        name
    } else {
        let name = manifest::base_name(PREFIX, 1, "aof");
        std::fs::write(dir.join(&name), cmds(&[&["SET", "k", "v"]])).unwrap();
        name
    };
    let (i1, i2) = (
        manifest::incr_name(PREFIX, 1),
        manifest::incr_name(PREFIX, 2),
    );
    let one = cmds(&[
        &["SELECT", "0"],
        &["SET", "a", "1"],
        &["MULTI"],
        &["INCR", "a"],
        &["EXEC"],
    ]);
    std::fs::write(dir.join(&i1), one).unwrap();
    std::fs::write(dir.join(&i2), cmds(&[&["SET", "b", "2"]])).unwrap();
    let m = Manifest {
        entries: vec![
            ManifestEntry {
                name: "appendonly.aof.0.base.rcsnap".into(),
                seq: 9,
                kind: FileKind::History,
            },
            ManifestEntry {
                name: base,
                seq: 1,
                kind: FileKind::Base,
            },
            ManifestEntry {
                name: i1.clone(),
                seq: 1,
                kind: FileKind::Incr,
            },
            ManifestEntry {
                name: i2.clone(),
                seq: 2,
                kind: FileKind::Incr,
            },
        ],
    };
    manifest::write_atomic(&dir, &manifest::manifest_name(PREFIX), &m).unwrap();
    (dir.clone(), dir.join(i1), dir.join(i2))
}

fn append(path: &Path, bytes: &[u8]) {
    let mut all = std::fs::read(path).unwrap();
    all.extend_from_slice(bytes);
    std::fs::write(path, all).unwrap();
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn assert_report(o: &CheckOutcome, needles: &[&str]) {
    for n in needles {
        assert!(o.report.contains(n), "no {n:?} in:\n{}", o.report);
    }
}

#[test]
fn a_sound_directory_is_valid_by_dir_or_manifest() {
    for snapshot_base in [true, false] {
        let (dir, _, _) = aof_dir("sound", snapshot_base);
        for path in [dir.clone(), dir.join("appendonly.aof.manifest")] {
            let o = check(&path, false);
            assert!(o.ok && !o.fixed, "{}", o.report);
            assert_report(
                &o,
                &[
                    "Start checking Multi Part AOF",
                    "BASE AOF appendonly.aof.1.base.",
                    "INCR AOF appendonly.aof.1.incr.aof is valid",
                    "AOF analyzed: filename=appendonly.aof.2.incr.aof, size=27, ok_up_to=27, \
                     ok_up_to_line=8, diff=0",
                    "All AOF files and manifest are valid",
                ],
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_torn_tail_in_the_last_incr_is_cut_by_fix() {
    let (dir, _, last) = aof_dir("torn", true);
    let good = len(&last);
    append(&last, b"*3\r\n$3\r\nSET\r\n$1\r\nc");
    let o = check(&dir, false);
    assert!(!o.ok && !o.fixed);
    assert_report(
        &o,
        &[
            "truncated command",
            "ok_up_to=27",
            "diff=18",
            "Use the --fix option",
        ],
    );
    assert_eq!(len(&last), good + 18, "nothing is cut without --fix");

    let o = check(&dir, true);
    assert!(o.ok && o.fixed, "{}", o.report);
    assert_report(
        &o,
        &[
            "with 18 bytes, to 27 bytes",
            "Successfully truncated AOF appendonly.aof.2.incr.aof",
        ],
    );
    assert_eq!(len(&last), good);
    let o = check(&dir, false);
    assert!(o.ok && !o.fixed, "{}", o.report);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_open_multi_at_the_end_is_cut_at_the_multi() {
    let (dir, _, last) = aof_dir("multi", false);
    let good = len(&last);
    append(&last, &cmds(&[&["MULTI"], &["SET", "c", "3"]]));
    let o = check(&dir, false);
    assert!(!o.ok);
    assert_report(&o, &["Reached EOF before reading EXEC for MULTI"]);
    let o = check(&dir, true);
    assert!(o.ok && o.fixed, "{}", o.report);
    assert_eq!(len(&last), good);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corruption_in_an_earlier_incr_is_refused_even_with_fix() {
    let (dir, first, last) = aof_dir("middle", true);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[30] = b'?';
    std::fs::write(&first, &bytes).unwrap();
    for fix in [false, true] {
        let o = check(&dir, fix);
        assert!(!o.ok && !o.fixed, "{}", o.report);
        assert_report(
            &o,
            &[
                "AOF appendonly.aof.1.incr.aof format error: offset 30",
                "it is not the last incr file",
            ],
        );
        // Stops at the first bad file, as redis-check-aof.
        assert!(!o.report.contains("appendonly.aof.2.incr.aof"));
    }
    assert_eq!(std::fs::read(&first).unwrap(), bytes);
    assert_eq!(len(&last), 27);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corruption_in_the_last_incr_is_cut_at_the_last_safe_offset() {
    let (dir, _, last) = aof_dir("lastmid", true);
    append(
        &last,
        &cmds(&[
            &["MULTI"],
            &["SET", "c", "3"],
            &["EXEC"],
            &["SET", "d", "4"],
        ]),
    );
    let mut bytes = std::fs::read(&last).unwrap();
    // Inside the transaction's SET: the whole transaction and what follows go.
    bytes[27 + 15 + 5] = b'!';
    std::fs::write(&last, &bytes).unwrap();
    let o = check(&dir, true);
    assert!(o.ok && o.fixed, "{}", o.report);
    assert_report(&o, &["in the middle of the file", "to 27 bytes"]);
    assert_eq!(len(&last), 27);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_base_or_a_missing_file_fails() {
    let (dir, first, _) = aof_dir("base", true);
    let base = dir.join(manifest::base_name(PREFIX, 1, "rcsnap"));
    let mut bytes = std::fs::read(&base).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&base, &bytes).unwrap();
    let o = check(&dir, true);
    assert!(!o.ok && !o.fixed);
    assert_report(&o, &["BASE AOF appendonly.aof.1.base.rcsnap is not valid"]);
    std::fs::remove_file(&base).unwrap();
    let o = check(&dir, false);
    assert!(!o.ok);
    assert_report(&o, &["Cannot open file"]);
    std::fs::remove_file(&first).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_manifest_or_no_manifest_fails() {
    let dir = tmpdir("nomanifest");
    let o = check(&dir, false);
    assert!(!o.ok);
    assert_report(&o, &["No AOF manifest"]);
    std::fs::write(dir.join("appendonly.aof.manifest"), "file a seq 1 type z\n").unwrap();
    let o = check(&dir, true);
    assert!(!o.ok);
    assert_report(
        &o,
        &["appendonly.aof.manifest", "line 1: Unknown AOF file type"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_single_aof_file_is_its_own_last_file() {
    let dir = tmpdir("single");
    let f = dir.join("appendonly.aof");
    let good = cmds(&[&["SET", "a", "1"], &["DEL", "a"]]);
    std::fs::write(&f, [&good[..], b"*2\r\n$3\r\nDEL"].concat()).unwrap();
    let o = check(&f, false);
    assert!(!o.ok);
    assert_report(&o, &["Start checking Old-Style AOF"]);
    let o = check(&f, true);
    assert!(o.ok && o.fixed, "{}", o.report);
    assert_eq!(std::fs::read(&f).unwrap(), good);
    // An empty file is fine, as redis-check-aof says.
    std::fs::write(&f, b"").unwrap();
    let o = check(&f, false);
    assert!(o.ok);
    assert_report(&o, &["is empty"]);
    std::fs::remove_dir_all(dir).unwrap();
}
