//! Glob matching exactly as Redis's `stringmatchlen` (KEYS, SCAN MATCH, CONFIG GET):
//! `*` any run, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), `\x`
//! escapes; bytes, not characters.

/// Whether `s` matches `pat`.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    matches(pat, s, nocase, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn matches(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    // Redis caps recursion to avoid stack exhaustion on patterns like "*****…".
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if matches(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis treats the end as closing it.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            hit = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0], p[2]);
                        let mut c = s[0];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            hit = true;
                        }
                    } else if eq(p[0], s[0], nocase) {
                        hit = true;
                    }
                    p = &p[1..];
                }
                // p now at ']' (or empty); the loop below advances past it.
                let hit = if not { !hit } else { hit };
                if !hit {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Pattern ended inside the class.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    // An empty subject matches a pattern of only stars (Redis's KEYS/SCAN special-case "*").
    if s.is_empty() {
        while !p.is_empty() && p[0] == b'*' {
            p = &p[1..];
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match as g;

    #[test]
    fn redis_examples() {
        assert!(g(b"h?llo", b"hello", false));
        assert!(g(b"h?llo", b"hallo", false));
        assert!(g(b"h*llo", b"hllo", false));
        assert!(g(b"h*llo", b"heeeello", false));
        assert!(g(b"h[ae]llo", b"hello", false));
        assert!(!g(b"h[ae]llo", b"hillo", false));
        assert!(g(b"h[^e]llo", b"hallo", false));
        assert!(!g(b"h[^e]llo", b"hello", false));
        assert!(g(b"h[a-b]llo", b"hbllo", false));
        assert!(g(b"h[b-a]llo", b"hallo", false));
        assert!(g(b"*", b"", false));
        assert!(g(b"*", b"anything", false));
        assert!(!g(b"?", b"", false));
        assert!(g(b"a\\*b", b"a*b", false));
        assert!(!g(b"a\\*b", b"axb", false));
        assert!(g(b"MAX*", b"maxmemory", true));
        assert!(!g(b"MAX*", b"maxmemory", false));
        assert!(g(b"*memory*", b"maxmemory-policy", false));
        assert!(!g(b"a*b", b"acbd", false));
        assert!(g(b"a*b*", b"acbd", false));
        assert!(g(b"user:[0-9]*", b"user:42", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pat = [b'a', b'*'].repeat(30);
        let s = vec![b'a'; 60];
        let mut p2 = pat.clone();
        p2.push(b'b');
        assert!(!g(&p2, &s, false));
    }
}
