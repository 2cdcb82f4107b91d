//! Splitting of inline commands (`PING\r\n`, `set "a b" c`), with the quoting rules of Redis's
//! `sdssplitargs`: double quotes with `\n \r \t \b \a \\ \" \xHH` escapes, single quotes with
//! only `\'`, and a closing quote that must be followed by a space or the end of the line.

use std::ops::Range;

/// Error for a line whose quotes do not balance (Redis: "unbalanced quotes in request").
#[derive(Debug, PartialEq, Eq)]
pub struct Unbalanced;

/// Split `line` into arguments, appending their bytes to `scratch` and their ranges to `out`.
pub fn split_args(
    line: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<Range<usize>>,
) -> Result<(), Unbalanced> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = scratch.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(Unbalanced);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    scratch.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    scratch.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // A closing quote must be followed by a space or nothing.
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(Unbalanced);
                    }
                    i += 1;
                    break;
                } else {
                    scratch.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return Err(Unbalanced);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    scratch.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(Unbalanced);
                    }
                    i += 1;
                    break;
                } else {
                    scratch.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => scratch.push(c),
                }
                i += 1;
            }
        }
        out.push(start..scratch.len());
    }
}

/// C's isspace: the separators between inline arguments.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 11 | 12 | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<Vec<u8>>, Unbalanced> {
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        split_args(s.as_bytes(), &mut scratch, &mut out)?;
        Ok(out.into_iter().map(|r| scratch[r].to_vec()).collect())
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(
            split("set a b").unwrap(),
            vec![b"set".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            split("  set  \"a b\"  'c d' ").unwrap(),
            vec![b"set".to_vec(), b"a b".to_vec(), b"c d".to_vec()]
        );
        assert_eq!(
            split(r#"echo "\x41\n""#).unwrap(),
            vec![b"echo".to_vec(), b"A\n".to_vec()]
        );
        assert_eq!(
            split(r"echo 'it\'s'").unwrap(),
            vec![b"echo".to_vec(), b"it's".to_vec()]
        );
        assert_eq!(split("").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn unbalanced() {
        assert_eq!(split("set \"a b"), Err(Unbalanced));
        assert_eq!(split("set 'a"), Err(Unbalanced));
        assert_eq!(split("set \"a\"b"), Err(Unbalanced));
    }
}
