//! Redis's glob matching (`stringmatchlen`) over bytes, for SCAN MATCH and KEYS: `*`, `?`,
//! `[abc]`, `[^a-z]`, `[a\]]`, `\x`. The same rules as protocol/src/glob.ts.
//!
//! Iterative: on a mismatch it goes back to just after the last `*` and lets that star take one
//! more byte. Every other atom matches exactly one byte, so the last star is the only choice
//! worth revisiting, and the cost is O(pattern × key) at worst, with no recursion a crafted
//! pattern could deepen.

/// Does `key` match `pattern`?
pub fn matches(pattern: &[u8], key: &[u8]) -> bool {
    let (mut p, mut k) = (0, 0);
    // Where to resume after the last star: (pattern index after it, key index it covers up to).
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        let step = if p < pattern.len() { atom(pattern, p, key[k]) } else { Atom::Mismatch };
        match step {
            Atom::Star => {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                star = Some((p, k));
                continue;
            }
            Atom::Match(len) => {
                p += len;
                k += 1;
                continue;
            }
            Atom::Mismatch => {}
        }
        match star {
            Some((after, covered)) => {
                p = after;
                k = covered + 1;
                star = Some((after, covered + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

enum Atom {
    Star,
    /// Matched one key byte; the atom is this many pattern bytes long.
    Match(usize),
    Mismatch,
}

/// Matches the pattern atom at `p` against one key byte `c`.
fn atom(pattern: &[u8], p: usize, c: u8) -> Atom {
    let ok = |matched: bool, len: usize| if matched { Atom::Match(len) } else { Atom::Mismatch };
    match pattern[p] {
        b'*' => Atom::Star,
        b'?' => Atom::Match(1),
        b'\\' if p + 1 < pattern.len() => ok(pattern[p + 1] == c, 2),
        b'[' => {
            let mut j = p + 1;
            let negate = pattern.get(j) == Some(&b'^');
            if negate {
                j += 1;
            }
            let mut matched = false;
            while j < pattern.len() && pattern[j] != b']' {
                if pattern[j] == b'\\' && j + 1 < pattern.len() {
                    matched |= pattern[j + 1] == c;
                    j += 2;
                } else if j + 2 < pattern.len() && pattern[j + 1] == b'-' && pattern[j + 2] != b']' {
                    let (lo, hi) = (pattern[j].min(pattern[j + 2]), pattern[j].max(pattern[j + 2]));
                    matched |= (lo..=hi).contains(&c);
                    j += 3;
                } else {
                    matched |= pattern[j] == c;
                    j += 1;
                }
            }
            // An unclosed class ends with the pattern.
            ok(matched != negate, (j + 1).min(pattern.len()) - p)
        }
        literal => ok(literal == c, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        let yes = |p: &str, k: &str| assert!(matches(p.as_bytes(), k.as_bytes()), "{p} should match {k}");
        let no = |p: &str, k: &str| assert!(!matches(p.as_bytes(), k.as_bytes()), "{p} should not match {k}");
        yes("*", "");
        yes("*", "anything");
        no("", "a");
        yes("", "");
        yes("user:*", "user:42");
        no("user:*", "users:42");
        yes("h?llo", "hello");
        no("h?llo", "hllo");
        yes("h*llo", "hllo");
        yes("h*llo", "heeeello");
        no("h*llo", "heeeelloo");
        yes("h[ae]llo", "hallo");
        no("h[ae]llo", "hillo");
        yes("h[^e]llo", "hallo");
        no("h[^e]llo", "hello");
        yes("h[a-b]llo", "hbllo");
        yes("h[b-a]llo", "hbllo");
        no("h[a-b]llo", "hcllo");
        yes("a\\*b", "a*b");
        no("a\\*b", "axb");
        yes("[\\]]", "]");
        yes("*a*b*c*", "xxaxxbxxcxx");
        no("*a*b*c*", "xxaxxcxxbxx");
        yes("a*", "a");
        yes("**a**", "a");
        yes("[abc", "b");
    }

    #[test]
    fn binary_keys_and_no_blowup_on_many_stars() {
        assert!(matches(b"\x00*\xff", b"\x00abc\xff"));
        let key = vec![b'a'; 10_000];
        let mut pattern = b"*a".repeat(50);
        pattern.push(b'b');
        assert!(!matches(&pattern, &key));
    }

    #[test]
    fn agrees_with_a_recursive_reference_on_small_cases() {
        fn reference(p: &[u8], k: &[u8]) -> bool {
            match p.first() {
                None => k.is_empty(),
                Some(b'*') => (0..=k.len()).any(|i| reference(&p[1..], &k[i..])),
                Some(b'?') => !k.is_empty() && reference(&p[1..], &k[1..]),
                Some(&c) => !k.is_empty() && k[0] == c && reference(&p[1..], &k[1..]),
            }
        }
        let alphabet = [b'a', b'b', b'*', b'?'];
        let mut patterns = vec![vec![]];
        for _ in 0..4 {
            patterns = patterns.iter().flat_map(|p| alphabet.iter().map(move |&c| [p.clone(), vec![c]].concat())).chain(patterns.clone()).collect();
        }
        let keys: Vec<Vec<u8>> = (0..32u32).map(|n| (0..(n % 5)).map(|i| if n >> i & 1 == 1 { b'a' } else { b'b' }).collect()).collect();
        for p in &patterns {
            for k in &keys {
                assert_eq!(matches(p, k), reference(p, k), "{:?} vs {:?}", String::from_utf8_lossy(p), String::from_utf8_lossy(k));
            }
        }
    }
}
