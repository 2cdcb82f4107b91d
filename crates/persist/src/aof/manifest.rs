//! Redis 7's AOF manifest: the file that says which base and incremental files make up the
//! log, and in which order. Parsing, rendering, the file names, and the atomic rewrite.
//!
//! ```text
//! # comment lines (a '#' in the first column) and blank lines are skipped
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type h
//! file "name with spaces" seq 2 type i
//! ```
//! Each line is words split as Redis's `sdssplitargs` splits them (double quotes with
//! `\n \r \t \a \b \" \\ \xHH` escapes, single quotes with `\'`); key/value pairs in any
//! order, keys case-insensitive, unknown keys ignored (Redis keeps them for forward
//! compatibility), at least `file`, `seq`, `type`. We write exactly Redis's order, quoting a
//! name as Redis's `sdscatrepr` does when it needs it, so Redis reads our manifests and we
//! read its.

use std::borrow::Cow;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Redis's `AOF_MANIFEST_LINE_MAX_LEN`: a line, its `\n` included, fits in this many bytes.
pub const MAX_LINE: usize = 1024;

/// What a listed file is for. The letters are on disk (Redis's `AOF_FILE_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `b`: the snapshot the log starts from (at most one).
    Base,
    /// `h`: replaced by a rewrite and awaiting deletion; never loaded.
    History,
    /// `i`: commands appended after the base, loaded in manifest order.
    Incr,
}

impl FileKind {
    pub fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }

    fn from_word(w: &[u8]) -> Option<FileKind> {
        match w {
            b"b" => Some(FileKind::Base),
            b"h" => Some(FileKind::History),
            b"i" => Some(FileKind::Incr),
            _ => None,
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// A file name inside the AOF directory (never a path).
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// A whole manifest, entries in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
}

/// Why a manifest was refused, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub line: usize,
    pub problem: Problem,
}

/// What was wrong with a line. The texts follow Redis's own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The line (with its `\n`) is longer than [`MAX_LINE`].
    TooLong,
    /// An unterminated quote, or a closing quote not followed by a space.
    BadQuoting,
    /// Not an even number of words, at least six.
    BadFormat,
    /// One of `file`, `seq`, `type` is absent.
    Missing(&'static str),
    /// A key given twice on one line.
    Repeated(&'static str),
    /// `seq` is not a decimal number ≥ 1.
    BadSeq(String),
    /// `type` is not `b`, `h` or `i`.
    UnknownType(String),
    /// The name is empty, `.`/`..`, holds `/`, `\` or NUL, or is not UTF-8.
    BadName(String),
    /// A second `type b` line.
    DuplicateBase,
    /// An incr file whose seq is not above the previous incr file's.
    NonMonotonic { seq: u64, prev: u64 },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        let fmt_err = "Invalid AOF manifest file format";
        match &self.problem {
            Problem::TooLong => write!(
                f,
                "The AOF manifest file contains too long line (over {MAX_LINE} bytes)"
            ),
            Problem::BadQuoting => write!(f, "{fmt_err} (unbalanced quotes)"),
            Problem::BadFormat => {
                write!(f, "{fmt_err} (expected `file <name> seq <n> type <b|h|i>`)")
            }
            Problem::Missing(k) => write!(f, "{fmt_err} (no `{k}`)"),
            Problem::Repeated(k) => write!(f, "{fmt_err} (`{k}` given twice)"),
            Problem::BadSeq(s) => {
                write!(f, "{fmt_err} (seq {s:?} is not a number from 1 up)")
            }
            Problem::UnknownType(t) => write!(f, "Unknown AOF file type {t:?}"),
            Problem::BadName(n) => {
                write!(f, "File can't be a path, just a filename (found {n:?})")
            }
            Problem::DuplicateBase => write!(f, "Found duplicate base file information"),
            Problem::NonMonotonic { seq, prev } => write!(
                f,
                "Found a non-monotonic sequence number ({seq} after {prev})"
            ),
        }
    }
}

impl std::error::Error for ManifestError {}

/// Reading the manifest file failed: the path, and why.
#[derive(Debug)]
pub enum ManifestReadError {
    Io { path: PathBuf, err: io::Error },
    Parse { path: PathBuf, err: ManifestError },
}

impl fmt::Display for ManifestReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestReadError::Io { path, err } => {
                write!(f, "can't read the AOF manifest {}: {err}", path.display())
            }
            ManifestReadError::Parse { path, err } => {
                write!(f, "bad AOF manifest {}: {err}", path.display())
            }
        }
    }
}

impl std::error::Error for ManifestReadError {}

/// `appendonly.aof.1.base.rcsnap`: the base file of sequence `seq` (`ext` `rcsnap`, or
/// `rdb`/`aof` in a directory Redis made).
pub fn base_name(prefix: &str, seq: u64, ext: &str) -> String {
    format!("{prefix}.{seq}.base.{ext}")
}

/// `appendonly.aof.1.incr.aof`: the incremental file of sequence `seq`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// `appendonly.aof.manifest`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

impl Manifest {
    /// Parse a manifest's bytes. Empty text is an empty manifest (Redis refuses an empty
    /// file; we accept it so `parse(render(m)) == m` holds for every `m`).
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut prev_incr = 0u64;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let err = |problem| ManifestError { line, problem };
            if raw.len() >= MAX_LINE {
                return Err(err(Problem::TooLong));
            }
            if raw.first() == Some(&b'#') {
                continue;
            }
            let words = split_args(raw).ok_or(err(Problem::BadQuoting))?;
            if words.is_empty() {
                continue;
            }
            let e = entry(&words).map_err(err)?;
            match e.kind {
                FileKind::Base if m.base().is_some() => return Err(err(Problem::DuplicateBase)),
                FileKind::Incr if e.seq <= prev_incr => {
                    return Err(err(Problem::NonMonotonic {
                        seq: e.seq,
                        prev: prev_incr,
                    }))
                }
                FileKind::Incr => prev_incr = e.seq,
                FileKind::Base | FileKind::History => {}
            }
            m.entries.push(e);
        }
        Ok(m)
    }

    /// The manifest's text, one `file <name> seq <n> type <t>` line per entry. A name whose
    /// quoted form pushes its line past [`MAX_LINE`] renders, but cannot be read back (by
    /// us or Redis): keep names short.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&e.name),
                e.seq,
                e.kind.letter()
            ));
        }
        out
    }

    pub fn base(&self) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.kind == FileKind::Base)
    }

    /// The incr files, in load order.
    pub fn incrs(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(|e| e.kind == FileKind::Incr)
    }

    pub fn history(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(|e| e.kind == FileKind::History)
    }

    /// The incr file appends go to.
    pub fn last_incr(&self) -> Option<&ManifestEntry> {
        self.incrs().last()
    }

    /// The seq for a new base: one above any seen. History entries count too (we cannot
    /// tell an old base from an old incr), so a new file never takes the name of one
    /// awaiting deletion, which would then delete it.
    pub fn next_seq_base(&self) -> u64 {
        self.next_seq(FileKind::Base)
    }

    /// The seq for a new incr file; as [`Manifest::next_seq_base`].
    pub fn next_seq_incr(&self) -> u64 {
        self.next_seq(FileKind::Incr)
    }

    fn next_seq(&self, kind: FileKind) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == kind || e.kind == FileKind::History)
            .map(|e| e.seq)
            .max()
            .unwrap_or(0)
            .saturating_add(1)
    }
}

/// One line's words into an entry.
fn entry(words: &[Vec<u8>]) -> Result<ManifestEntry, Problem> {
    if words.len() < 6 || !words.len().is_multiple_of(2) {
        return Err(Problem::BadFormat);
    }
    let (mut name, mut seq, mut kind) = (None, None, None);
    for pair in words.chunks_exact(2) {
        let (k, v) = (&pair[0], &pair[1]);
        let slot: (&'static str, &mut Option<&Vec<u8>>) = if k.eq_ignore_ascii_case(b"file") {
            ("file", &mut name)
        } else if k.eq_ignore_ascii_case(b"seq") {
            ("seq", &mut seq)
        } else if k.eq_ignore_ascii_case(b"type") {
            ("type", &mut kind)
        } else {
            continue;
        };
        if slot.1.replace(v).is_some() {
            return Err(Problem::Repeated(slot.0));
        }
    }
    let name = name.ok_or(Problem::Missing("file"))?;
    let seq = seq.ok_or(Problem::Missing("seq"))?;
    let kind = kind.ok_or(Problem::Missing("type"))?;
    let shown = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let name = String::from_utf8(name.clone()).map_err(|_| Problem::BadName(shown(name)))?;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Problem::BadName(name));
    }
    let seq = std::str::from_utf8(seq)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| Problem::BadSeq(shown(seq)))?;
    let kind = FileKind::from_word(kind).ok_or_else(|| Problem::UnknownType(shown(kind)))?;
    Ok(ManifestEntry { name, seq, kind })
}

/// Does `b` need quoting? Redis's `sdsneedsrepr` (anything not printable ASCII, spaces,
/// `"` and `\`), plus `'`: Redis writes a name holding `'` bare, and its own splitter then
/// reads that as an opening single quote; quoted, both read it back.
fn needs_quoting(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'"' | b'\\' | b'\'')
}

/// A name as the manifest holds it: bare if it can be, else `sdscatrepr`-quoted.
pub fn quote(name: &str) -> Cow<'_, str> {
    if !name.is_empty() && !name.bytes().any(needs_quoting) {
        return Cow::Borrowed(name);
    }
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for b in name.bytes() {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    Cow::Owned(s)
}

/// Split a line into words as Redis's `sdssplitargs` does (the inverse of [`quote`]).
/// `None` for an unterminated quote or a closing quote glued to the next word.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |p: usize| line.get(p).copied();
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while at(p).is_some_and(is_c_space) {
            p += 1;
        }
        if p >= line.len() {
            return Some(words);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = at(p);
            if inq {
                match c? {
                    b'\\' if at(p + 1) == Some(b'x') => {
                        match (at(p + 2).and_then(hex), at(p + 3).and_then(hex)) {
                            (Some(h), Some(l)) => {
                                cur.push(h << 4 | l);
                                p += 3;
                            }
                            _ => {
                                cur.push(b'x');
                                p += 1;
                            }
                        }
                    }
                    b'\\' if at(p + 1).is_some() => {
                        p += 1;
                        cur.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => {
                        if at(p + 1).is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else if insq {
                match c? {
                    b'\\' if at(p + 1) == Some(b'\'') => {
                        p += 1;
                        cur.push(b'\'');
                    }
                    b'\'' => {
                        if at(p + 1).is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(other) => cur.push(other),
                }
            }
            p += 1;
        }
        words.push(cur);
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Replace `dir/name` with `m` so a crash leaves the old manifest or the new one, never a
/// mix: write `temp-<name>`, fsync it, rename it over `name`, fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, m: &Manifest) -> io::Result<()> {
    let tmp = dir.join(format!("temp-{name}"));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(m.render().as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        // Gone already if the rename happened; nothing more to do either way.
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Read and parse `dir/name`; `Ok(None)` if there is no such file (no AOF yet).
pub fn read(dir: &Path, name: &str) -> Result<Option<Manifest>, ManifestReadError> {
    let path = dir.join(name);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(ManifestReadError::Io { path, err }),
    };
    Manifest::parse(&text)
        .map(Some)
        .map_err(|err| ManifestReadError::Parse { path, err })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> (usize, Problem) {
        let e = Manifest::parse(text.as_bytes()).unwrap_err();
        (e.line, e.problem)
    }

    #[test]
    fn redis_example_line() {
        let m = Manifest::parse(b"file appendonly.aof.1.base.rdb seq 1 type b\n").unwrap();
        assert_eq!(
            m.entries,
            vec![ManifestEntry {
                name: "appendonly.aof.1.base.rdb".into(),
                seq: 1,
                kind: FileKind::Base
            }]
        );
        assert_eq!(m.render(), "file appendonly.aof.1.base.rdb seq 1 type b\n");
    }

    #[test]
    fn keys_in_any_order_case_insensitive_unknown_ignored_comments_blank() {
        let text = "# written by hand\n\n  \r\ntype i SEQ 3 File a.aof\r\n\
                    file b.aof seq 4 type i future 1\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        let got: Vec<_> = m.incrs().map(|e| (e.name.as_str(), e.seq)).collect();
        assert_eq!(got, [("a.aof", 3), ("b.aof", 4)]);
        assert_eq!(m.last_incr().unwrap().name, "b.aof");
        // No final newline is fine.
        assert!(Manifest::parse(b"file x seq 1 type h").is_ok());
    }

    #[test]
    fn refusals_name_the_line_and_the_problem() {
        let ok = "file a seq 1 type b\n";
        assert_eq!(
            problem(&format!("{ok}file a seq 1\n")).1,
            Problem::BadFormat
        );
        assert_eq!(problem("file a seq 1 type\n").1, Problem::BadFormat);
        assert_eq!(problem("file a seq 1 kind i\n").1, Problem::Missing("type"));
        assert_eq!(problem("name a seq 1 type i\n").1, Problem::Missing("file"));
        assert_eq!(problem("file a x 1 type i\n").1, Problem::Missing("seq"));
        assert_eq!(problem("file a seq 1 type i seq\n").1, Problem::BadFormat);
        assert_eq!(
            problem("file a seq 1 type i seq 2 x y\n").1,
            Problem::Repeated("seq")
        );
        assert_eq!(
            problem(&format!("{ok}file a seq 1 type x\n")),
            (2, Problem::UnknownType("x".into()))
        );
        assert_eq!(
            problem("file a seq 1 type base\n").1,
            Problem::UnknownType("base".into())
        );
        for bad in ["0", "-1", "+1", "1x", "", "99999999999999999999"] {
            assert_eq!(
                problem(&format!("file a seq \"{bad}\" type i\n")).1,
                Problem::BadSeq(bad.into()),
                "{bad}"
            );
        }
        assert_eq!(
            problem(&format!("{ok}\n# c\nfile b seq 2 type b\n")),
            (4, Problem::DuplicateBase)
        );
        for name in [
            "a/b",
            "\"\"",
            "..",
            ".",
            "a\\\\b",
            "\"a\\x00\"",
            "\"\\xff\"",
        ] {
            assert!(
                matches!(
                    problem(&format!("file {name} seq 1 type i\n")).1,
                    Problem::BadName(_)
                ),
                "{name}"
            );
        }
        assert_eq!(
            problem("file a seq 2 type i\nfile b seq 5 type h\nfile c seq 2 type i\n"),
            (3, Problem::NonMonotonic { seq: 2, prev: 2 })
        );
        let long = format!("file {} seq 1 type i\n", "n".repeat(1006));
        assert_eq!(problem(&format!("{ok}{long}")), (2, Problem::TooLong));
        let fits = format!("file {} seq 1 type i\n", "n".repeat(1005));
        assert_eq!(fits.len(), MAX_LINE);
        assert!(Manifest::parse(fits.as_bytes()).is_ok());
        assert_eq!(problem("file \"a seq 1 type i\n").1, Problem::BadQuoting);
        assert_eq!(problem("file \"a\"b seq 1 type i\n").1, Problem::BadQuoting);
        assert_eq!(problem("file it's seq 1 type i\n").1, Problem::BadQuoting);
    }

    #[test]
    fn error_text_is_redis_like() {
        let e = Manifest::parse(b"file a seq 1 type b\nfile b seq 1 type b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: Found duplicate base file information"
        );
        let e = Manifest::parse(b"file a/b seq 1 type b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: File can't be a path, just a filename (found \"a/b\")"
        );
    }

    #[test]
    fn quoting_matches_sdscatrepr() {
        assert_eq!(
            quote("appendonly.aof.1.incr.aof"),
            "appendonly.aof.1.incr.aof"
        );
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("q\"\\\n\r\t\x07\x08"), r#""q\"\\\n\r\t\a\b""#);
        assert_eq!(quote("é"), "\"\\xc3\\xa9\"");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(
            split_args(b"  a \"b c\" 'd\\'e' \"\\x41\\q\"").unwrap(),
            [&b"a"[..], b"b c", b"d'e", b"Aq"]
        );
    }

    #[test]
    fn names_and_next_seqs() {
        assert_eq!(
            base_name("appendonly.aof", 1, "rcsnap"),
            "appendonly.aof.1.base.rcsnap"
        );
        assert_eq!(incr_name("appendonly.aof", 1), "appendonly.aof.1.incr.aof");
        assert_eq!(manifest_name("appendonly.aof"), "appendonly.aof.manifest");
        let empty = Manifest::default();
        assert_eq!((empty.next_seq_base(), empty.next_seq_incr()), (1, 1));
        let m = Manifest::parse(
            b"file b2 seq 2 type b\nfile b1 seq 1 type h\nfile i4 seq 4 type h\n\
              file i5 seq 5 type i\n",
        )
        .unwrap();
        assert_eq!(m.base().unwrap().name, "b2");
        assert_eq!(m.history().count(), 2);
        assert_eq!((m.next_seq_base(), m.next_seq_incr()), (5, 6));
    }

    #[test]
    fn write_atomic_then_read() {
        let dir = std::env::temp_dir().join(format!("rcache-manifest-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert!(read(&dir, "m.manifest").unwrap().is_none());
        let m = Manifest::parse(b"file \"a b\" seq 1 type b\nfile c seq 1 type i\n").unwrap();
        write_atomic(&dir, "m.manifest", &m).unwrap();
        assert_eq!(read(&dir, "m.manifest").unwrap(), Some(m));
        assert!(!dir.join("temp-m.manifest").exists());
        fs::write(dir.join("bad.manifest"), "file a seq 0 type i\n").unwrap();
        let e = read(&dir, "bad.manifest").unwrap_err().to_string();
        assert!(e.contains("bad.manifest") && e.contains("line 1"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
