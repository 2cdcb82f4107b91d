//! Compiled glob patterns for ACL key (`~key:*`) and channel (`&news.*`) rules.
//!
//! A rule's pattern is compiled once, when the rule is set, into the cheapest test that
//! gives the same answer as Redis's `stringmatchlen` (`crate::glob`): `*` matches anything,
//! a pattern without special bytes is a byte comparison, and `prefix*` (the common
//! `~app:*` form) is a prefix comparison. Anything else runs the general matcher. No test
//! allocates, so checking a key on every GET/SET costs a comparison or two.

use crate::glob::glob_match;

/// How a compiled pattern is tested.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// `*` (or `**`…): every subject.
    Any,
    /// No special byte: the subject equals the pattern.
    Exact,
    /// `prefix*` with no special byte in `prefix` (stored without the stars).
    Prefix(Box<[u8]>),
    /// Anything else: Redis's glob matcher.
    Glob,
}

/// A glob pattern with its compiled test. `text` is the pattern as the rule gave it (what
/// ACL LIST, GETUSER and the ACL file show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: Box<[u8]>,
    kind: Kind,
}

/// Bytes the glob matcher gives a meaning to.
fn special(b: u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b'\\')
}

impl Glob {
    pub fn new(text: &[u8]) -> Glob {
        let stars = text.iter().rev().take_while(|&&b| b == b'*').count();
        let head = &text[..text.len() - stars];
        let kind = if head.iter().any(|&b| special(b)) {
            Kind::Glob
        } else if stars == 0 {
            Kind::Exact
        } else if head.is_empty() {
            Kind::Any
        } else {
            Kind::Prefix(head.into())
        };
        Glob {
            text: text.into(),
            kind,
        }
    }

    /// The pattern as written.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Whether `s` matches, exactly as `stringmatchlen(pattern, s, nocase = 0)`.
    #[inline]
    pub fn matches(&self, s: &[u8]) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact => *self.text == *s,
            Kind::Prefix(p) => s.starts_with(p),
            Kind::Glob => glob_match(&self.text, s, false),
        }
    }

    /// Whether this is the match-everything pattern `*` as Redis tests it (a literal
    /// comparison with "*", for the unrestricted-key-access question).
    pub fn is_star(&self) -> bool {
        &*self.text == b"*"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every compiled form answers as the general matcher does.
    #[test]
    fn compiled_forms_agree_with_glob() {
        let pats: &[&[u8]] = &[
            b"*",
            b"**",
            b"key:*",
            b"key:**",
            b"key",
            b"",
            b"k?y",
            b"k[ae]y:*",
            b"*:end",
            b"a\\*b",
            b"a*b*",
            b"\\*",
        ];
        let subjects: &[&[u8]] = &[
            b"", b"k", b"key", b"key:", b"key:1", b"kay:1", b"xkey:1", b"a*b", b"axb", b"ab", b"*",
            b"x:end", b"abz",
        ];
        for p in pats {
            let g = Glob::new(p);
            for s in subjects {
                assert_eq!(
                    g.matches(s),
                    glob_match(p, s, false),
                    "pattern {:?} subject {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(s)
                );
            }
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(Glob::new(b"*").kind, Kind::Any);
        assert_eq!(Glob::new(b"abc").kind, Kind::Exact);
        assert_eq!(Glob::new(b"app:*").kind, Kind::Prefix(b"app:"[..].into()));
        assert_eq!(Glob::new(b"a?*").kind, Kind::Glob);
        assert!(Glob::new(b"*").is_star());
        assert!(!Glob::new(b"**").is_star());
        assert_eq!(Glob::new(b"k[a]").text(), b"k[a]");
    }
}
