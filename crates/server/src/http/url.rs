//! Percent-decoding of key paths and parsing of query strings. Keys are bytes: `%00`–`%FF`
//! address any byte, so every key RESP can write is reachable over HTTP. `+` is a plain
//! `+` in paths and a space in query values (form encoding).

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` escapes (borrowing when there are none). `None` for a `%` not followed by
/// two hex digits.
pub fn percent_decode(s: &[u8], plus_is_space: bool) -> Option<Cow<'_, [u8]>> {
    if !s.iter().any(|&b| b == b'%' || (plus_is_space && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

/// Percent-encode a key for a path segment (the `Location` header): unreserved characters
/// stay, everything else becomes `%XX`.
pub fn percent_encode(key: &[u8]) -> String {
    let mut s = String::with_capacity(key.len());
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-._~:@!$'()*,;=".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The `name[=value]` pairs of a query string, decoded. Err names the bad pair.
pub fn query_pairs(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (n, v) = part.split_once('=').unwrap_or((part, ""));
        let dec = |s: &str| {
            percent_decode(s.as_bytes(), true)
                .and_then(|c| String::from_utf8(c.into_owned()).ok())
                .ok_or_else(|| format!("invalid query parameter '{part}'"))
        };
        out.push((dec(n)?, dec(v)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_any_byte() {
        assert_eq!(&*percent_decode(b"plain", false).unwrap(), b"plain");
        assert!(matches!(
            percent_decode(b"plain", false),
            Some(Cow::Borrowed(_))
        ));
        assert_eq!(&*percent_decode(b"a%20b%2Fc", false).unwrap(), b"a b/c");
        assert_eq!(
            &*percent_decode(b"%00%ff%FE", false).unwrap(),
            &[0, 255, 254]
        );
        assert_eq!(&*percent_decode(b"a+b", false).unwrap(), b"a+b");
        assert_eq!(&*percent_decode(b"a+b", true).unwrap(), b"a b");
        assert!(percent_decode(b"%", false).is_none());
        assert!(percent_decode(b"%4", false).is_none());
        assert!(percent_decode(b"%zz", false).is_none());
    }

    #[test]
    fn encode_round_trips() {
        let key: Vec<u8> = (0..=255u8).collect();
        let enc = percent_encode(&key);
        assert_eq!(&*percent_decode(enc.as_bytes(), false).unwrap(), &key[..]);
        assert_eq!(percent_encode(b"user:1"), "user:1");
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            query_pairs("ttl=10&nx").unwrap(),
            vec![("ttl".into(), "10".into()), ("nx".into(), "".into())]
        );
        assert_eq!(query_pairs("").unwrap(), vec![]);
        assert_eq!(
            query_pairs("a=%31").unwrap(),
            vec![("a".into(), "1".into())]
        );
        assert!(query_pairs("a=%zz").is_err());
        assert!(query_pairs("a=%ff").is_err(), "not UTF-8");
    }
}
