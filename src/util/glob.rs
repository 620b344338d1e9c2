//! Shell wildcard matching for FTP `LIST`/`NLST` arguments.
//!
//! RFC 959 4.1.3 leaves the interpretation of the pathname argument to the
//! server; like most servers we expand `*`, `?` and `[...]` in the last path
//! element only. This module owns compiling such a pattern and matching one
//! name against it. A leading `.` is not special here: whether hidden entries
//! are listed is the caller's decision.

use std::fmt;

/// Patterns longer than this (in chars) are refused, bounding the matcher's
/// O(name * pattern) worst case for client-supplied input.
const MAX_PATTERN_CHARS: usize = 255;

/// True if the string contains any of * ? [ (the characters that make an argument a pattern).
pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// One compiled pattern element.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*` (consecutive stars are collapsed into one at compile time).
    Star,
    /// `[...]`: inclusive char ranges, a single char being `(c, c)`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    /// Whether this single-char token accepts `c`. `Star` is handled by the matcher.
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            // Like fnmatch(FNM_PATHNAME): only a literal '/' matches '/'.
            Token::AnyChar => c != '/',
            Token::Class { negated, ranges } => {
                c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Token::Star => false,
        }
    }
}

/// A compiled shell wildcard pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    tokens: Vec<Token>,
}

/// Why a pattern could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobError {
    /// Malformed pattern; the text says what is wrong.
    Syntax(String),
    /// Pattern longer than 255 chars.
    TooComplex,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobError::Syntax(msg) => write!(f, "invalid pattern: {msg}"),
            GlobError::TooComplex => {
                write!(
                    f,
                    "pattern too complex (over {MAX_PATTERN_CHARS} characters)"
                )
            }
        }
    }
}

impl std::error::Error for GlobError {}

impl Pattern {
    /// Compiles `pat`: `*`, `?`, `[abc]`, `[a-c]`, `[^x]`/`[!x]`, and `\` escaping
    /// the next char. A `]` right after `[` (or after the negation mark) is a
    /// literal member, as in POSIX.
    pub fn new(pat: &str) -> Result<Pattern, GlobError> {
        let chars: Vec<char> = pat.chars().collect();
        if chars.len() > MAX_PATTERN_CHARS {
            return Err(GlobError::TooComplex);
        }
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            match c {
                '*' => {
                    // "**" means the same as "*"; collapsing keeps the matcher simple.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::AnyChar),
                '\\' => match chars.get(i) {
                    Some(&e) => {
                        i += 1;
                        tokens.push(Token::Literal(e));
                    }
                    None => return Err(GlobError::Syntax("trailing backslash".into())),
                },
                '[' => {
                    let (tok, next) = parse_class(&chars, i)?;
                    tokens.push(tok);
                    i = next;
                }
                _ => tokens.push(Token::Literal(c)),
            }
        }
        Ok(Pattern { tokens })
    }

    /// Whole-string, case-sensitive match of `name`, char by char.
    ///
    /// Iterative two-pointer matching with one saved star position: on a
    /// mismatch only the most recent `*` absorbs one more char, so the cost is
    /// O(name * pattern) at worst, never exponential.
    pub fn matches(&self, name: &str) -> bool {
        let toks = &self.tokens;
        let next_char = |at: usize| name.get(at..).and_then(|s| s.chars().next());
        // p: token index; n: byte index into name (always on a char boundary).
        let mut p = 0;
        let mut n = 0;
        // (token index after the last star, byte index where that star's match ends)
        let mut star: Option<(usize, usize)> = None;
        loop {
            let cur = next_char(n);
            match (toks.get(p), cur) {
                (Some(Token::Star), _) => {
                    if p + 1 == toks.len() {
                        // Trailing star: it takes the rest, provided no '/' is in it.
                        return !name.get(n..).unwrap_or("").contains('/');
                    }
                    p += 1;
                    star = Some((p, n));
                    continue;
                }
                (Some(tok), Some(c)) if tok.accepts(c) => {
                    p += 1;
                    n += c.len_utf8();
                    if c == '/' {
                        // A star can never cross a '/', so everything before it is
                        // settled; backtracking into it could only fail later.
                        star = None;
                    }
                    continue;
                }
                (None, None) => return true,
                _ => {}
            }
            // Mismatch: let the last star swallow one more char and retry after it.
            let Some((sp, sn)) = star else {
                return false;
            };
            match next_char(sn) {
                Some(c) if c != '/' => {
                    let grown = sn + c.len_utf8();
                    star = Some((sp, grown));
                    p = sp;
                    n = grown;
                }
                _ => return false,
            }
        }
    }
}

/// Parses a bracket expression; `i` is the index just after `[`. Returns the
/// token and the index just after the closing `]`.
fn parse_class(chars: &[char], mut i: usize) -> Result<(Token, usize), GlobError> {
    let unclosed = || GlobError::Syntax("unclosed '['".into());
    let mut negated = false;
    if matches!(chars.get(i), Some('!' | '^')) {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let &c = chars.get(i).ok_or_else(unclosed)?;
        i += 1;
        if c == ']' && !first {
            return Ok((Token::Class { negated, ranges }, i));
        }
        first = false;
        let lo = if c == '\\' {
            let &e = chars.get(i).ok_or_else(unclosed)?;
            i += 1;
            e
        } else {
            c
        };
        // "a-" followed by ']' is a literal '-' at the end, not a range.
        let is_range = chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']');
        if !is_range {
            ranges.push((lo, lo));
            continue;
        }
        i += 1;
        let &h = chars.get(i).ok_or_else(unclosed)?;
        i += 1;
        let hi = if h == '\\' {
            let &e = chars.get(i).ok_or_else(unclosed)?;
            i += 1;
            e
        } else {
            h
        };
        if hi < lo {
            return Err(GlobError::Syntax(format!("range '{lo}-{hi}' out of order")));
        }
        ranges.push((lo, hi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, name: &str) -> bool {
        match Pattern::new(pat) {
            Ok(p) => p.matches(name),
            Err(e) => panic!("pattern {pat:?} failed to compile: {e}"),
        }
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards("*.txt"));
        assert!(has_wildcards("a?c"));
        assert!(has_wildcards("[ab]"));
        assert!(!has_wildcards("plain.txt"));
        assert!(!has_wildcards(""));
        assert!(!has_wildcards("a]b-c\\d"));
    }

    #[test]
    fn literals_and_star() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abc", "ABC"));
        assert!(m("*", ""));
        assert!(m("*", "anything.txt"));
        assert!(m("*.txt", "a.txt"));
        assert!(m("*.txt", ".txt"));
        assert!(!m("*.txt", "a.txt.bak"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("**x", "abx"));
        assert!(m("*a*", "banana"));
    }

    #[test]
    fn question_mark() {
        assert!(m("?", "a"));
        assert!(!m("?", ""));
        assert!(!m("?", "ab"));
        assert!(m("a?c", "abc"));
        assert!(m("???", "héé"));
    }

    #[test]
    fn utf8_by_char() {
        assert!(m("?", "é"));
        assert!(m("*ß", "straß"));
        assert!(m("[é-ë]x", "êx"));
        assert!(m("日本*", "日本語.txt"));
        assert!(!m("??", "日"));
    }

    #[test]
    fn classes() {
        assert!(m("[abc]", "b"));
        assert!(!m("[abc]", "d"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[a-c]x", "dx"));
        assert!(m("[^a-c]", "d"));
        assert!(m("[!a-c]", "d"));
        assert!(!m("[!a-c]", "a"));
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(!m("[!]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("[a-]", "a"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-a]", "-"));
        assert!(m("file[0-9][0-9].log", "file42.log"));
        assert!(!m("file[0-9][0-9].log", "file4x.log"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("\\[x]", "[x]"));
        assert!(m("\\a", "a"));
    }

    #[test]
    fn slash_is_never_wild() {
        assert!(!m("*", "a/b"));
        assert!(!m("a?b", "a/b"));
        assert!(!m("a[/]b", "a/b"));
        assert!(!m("a[!x]b", "a/b"));
        assert!(m("*/*", "a/b"));
        assert!(m("a/*.txt", "a/x.txt"));
        assert!(!m("*.txt", "dir/x.txt"));
        assert!(!m("*/c", "a/b/c"));
        assert!(m("*/*/c", "a/b/c"));
        assert!(!m("*a*", "x/a/y"));
    }

    #[test]
    fn syntax_errors() {
        assert!(matches!(Pattern::new("["), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[abc"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[]"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[!]"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[a-"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[\\"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("abc\\"), Err(GlobError::Syntax(_))));
        assert!(matches!(Pattern::new("[z-a]"), Err(GlobError::Syntax(_))));
        let msg = match Pattern::new("x[") {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(msg.contains("unclosed"), "{msg}");
    }

    #[test]
    fn length_limit() {
        assert!(Pattern::new(&"a".repeat(255)).is_ok());
        assert_eq!(
            Pattern::new(&"a".repeat(256)).err(),
            Some(GlobError::TooComplex)
        );
        // The limit counts chars, not bytes.
        assert!(Pattern::new(&"é".repeat(255)).is_ok());
        assert!(GlobError::TooComplex.to_string().contains("255"));
    }

    #[test]
    fn pathological_is_fast() {
        // Exponential backtracking would never finish on these.
        let name = "a".repeat(50_000);
        assert!(!m("*a*a*a*a*a*a*a*a*b", &name));
        assert!(m("*a*a*a*a*a*a*a*a*", &name));
        let pat = "*?".repeat(120) + "b";
        assert!(!m(&pat, &name));
        let mut name_b = name.clone();
        name_b.push('b');
        assert!(m("*a*a*a*a*a*a*a*a*b", &name_b));
    }
}
