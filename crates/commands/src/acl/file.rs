//! The ACL file (`aclfile`): one `user <name> <rules…>` line per user, the format of
//! ACL LIST, written by ACL SAVE and read by ACL LOAD and at start-up.
//!
//! Loading is all or nothing, as Redis's `ACLLoadFromFile`: every line is checked, each
//! problem is reported (`<file>:<line>: …`), and if there is any the users stay as they
//! were. A file without a `default` user gets a fresh one (`on nopass ~* &* +@all`), so
//! `requirepass` does not survive a load that does not mention `default`. Saving writes a
//! temporary file beside the target and renames it over, so a crash never leaves half a
//! file.

use super::rules::{has_spaces, merge_selector_args, RuleError, User};
use super::store::Users;
use std::path::Path;
use std::sync::Arc;

/// Parse an ACL file's text. `shown` is the file name as configured (in messages).
/// Err: Redis's error text, every problem in one line.
pub fn parse(shown: &str, text: &[u8], pubsub_all: bool) -> Result<Users, String> {
    let mut users = Users::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = trim(line, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        // Redis splits on single spaces: two spaces make an empty (ignored) argument.
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{shown}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{shown}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, pubsub_all);
        let ops = match merge_selector_args(argv[2..].iter().copied()) {
            Ok(ops) => ops,
            Err(_) => {
                errors.push_str(&format!(
                    "{shown}:{n}: Unmatched parenthesis in selector definition."
                ));
                continue;
            }
        };
        let mut syntax_error = false;
        for op in &ops {
            let op = trim(op, b"\t\r\n");
            if let Err(e) = u.apply(op, pubsub_all) {
                if e == RuleError::Unknown {
                    errors.push_str(&format!(
                        "{shown}:{n}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.message()
                    ));
                } else if !syntax_error {
                    // Only the first: later rules may fail because of it.
                    errors.push_str(&format!("{shown}:{n}: {}. ", e.message()));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.into(), Arc::new(u));
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default"[..].into())
        .or_insert_with(|| Arc::new(User::new_default()));
    Ok(users)
}

/// Read and parse the file at `path`; `shown` names it in messages.
pub fn load(path: &Path, shown: &str, pubsub_all: bool) -> Result<Users, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{shown}': {}",
            os_error(&e)
        )
    })?;
    parse(shown, &text, pubsub_all)
}

/// The file's text for these users: `user <name> <rules>` lines, by name.
pub fn render<'a>(users: impl IntoIterator<Item = &'a Arc<User>>) -> Vec<u8> {
    let mut out = Vec::new();
    for u in users {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(&u.name);
        out.push(b' ');
        out.extend_from_slice(u.describe().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Write `text` to `path` through a temporary file and a rename.
pub fn save(path: &Path, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}-{stamp}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// An I/O error as C's `strerror` words it ("No such file or directory").
fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn trim<'a>(mut b: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = b {
        if !set.contains(first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !set.contains(last) {
            break;
        }
        b = rest;
    }
    b
}
