//! Argument parsing helpers shared by the command families.

use crate::error::CmdError;
use protocol::Args;

/// An argument as a strict i64 (`ERR value is not an integer or out of range`).
pub fn parse_int(b: &[u8]) -> Result<i64, CmdError> {
    protocol::resp::parse_i64(b).ok_or(CmdError::NotInteger)
}

/// An argument as a non-negative integer that fits usize.
pub fn parse_uint(b: &[u8]) -> Result<u64, CmdError> {
    match parse_int(b)? {
        n if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::NotInteger),
    }
}

/// An argument as a float, as Redis's string2ld/strtod accepts it: decimal or exponent
/// notation, `inf`/`-inf`/`+inf`; no NaN, no spaces.
pub fn parse_float(b: &[u8]) -> Result<f64, CmdError> {
    let s = std::str::from_utf8(b).map_err(|_| CmdError::NotFloat)?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(CmdError::NotFloat);
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return Err(CmdError::NotFloat);
            }
            s.parse::<f64>().map_err(|_| CmdError::NotFloat)?
        }
    };
    if v.is_nan() {
        return Err(CmdError::NotFloat);
    }
    Ok(v)
}

/// Case-insensitive ASCII comparison of an argument with an option name.
#[inline]
pub fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Lossy UTF-8 for error messages and logs.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's memory sizes: `1k`=1000, `1kb`=1024, `1m`, `1mb`, `1g`, `1gb`, plain bytes.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.trim().to_ascii_lowercase();
    let (num, mul) = if let Some(n) = l.strip_suffix("gb") {
        (n, 1u64 << 30)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = l.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = l.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = l.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = l.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = l.strip_suffix('b') {
        (n, 1)
    } else {
        (l.as_str(), 1)
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Redis's `addReplySubcommandSyntaxError`: a known subcommand with arguments it does not
/// take (the subcommand's name cut at 128 characters, as Redis).
pub fn subcommand_syntax_error(args: Args<'_>) -> CmdError {
    let sub: String = lossy(args.get(1)).chars().take(128).collect();
    CmdError::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
        lossy(args.get(0)).to_ascii_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100mb"), Some(100 << 20));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float(b"1.5").unwrap(), 1.5);
        assert_eq!(parse_float(b"5.0e3").unwrap(), 5000.0);
        assert_eq!(parse_float(b"-inf").unwrap(), f64::NEG_INFINITY);
        for bad in [&b"nan"[..], b"", b" 1", b"1x", b"abc"] {
            assert!(parse_float(bad).is_err());
        }
    }
}
