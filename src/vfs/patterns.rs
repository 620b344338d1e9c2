//! SFTPGo's `filters.file_patterns`: shell patterns on file names per directory. The entry
//! of the nearest listed ancestor directory applies; names are compared lower-cased; a name
//! matching an allowed pattern passes, else one matching a denied pattern is refused, and
//! with allowed patterns listed anything not matching them is refused. Policy 1 also hides
//! refused names (listed nowhere, "not found" everywhere).

use crate::util::glob::Pattern;
use crate::vfs::path;

#[derive(Clone, Debug)]
pub struct Rule {
    /// Cleaned virtual directory the rule is for.
    pub dir: String,
    pub allowed: Vec<Pattern>,
    pub denied: Vec<Pattern>,
    /// `deny_policy` 1: refused names are hidden.
    pub hide: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused,
    /// Refused and hidden (deny_policy 1).
    Hidden,
}

#[derive(Clone, Debug, Default)]
pub struct FilePatterns {
    rules: Vec<Rule>,
}

impl FilePatterns {
    pub fn new(rules: Vec<Rule>) -> FilePatterns {
        FilePatterns { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The verdict for the object at virtual path `p` (its name, under its directory's rule).
    pub fn verdict(&self, p: &str) -> Verdict {
        if self.rules.is_empty() || p == "/" {
            return Verdict::Allowed;
        }
        let name = path::base_name(p).to_lowercase();
        let mut dir = path::parent(p);
        let rule = loop {
            if let Some(r) = self.rules.iter().find(|r| r.dir == dir) {
                break r;
            }
            if dir == "/" {
                return Verdict::Allowed;
            }
            dir = path::parent(dir);
        };
        if rule.allowed.iter().any(|pat| pat.matches(&name)) {
            return Verdict::Allowed;
        }
        let refused = rule.denied.iter().any(|pat| pat.matches(&name)) || !rule.allowed.is_empty();
        match (refused, rule.hide) {
            (false, _) => Verdict::Allowed,
            (true, false) => Verdict::Refused,
            (true, true) => Verdict::Hidden,
        }
    }

    /// Whether some component of `p` is hidden (a hidden directory hides what is in it).
    pub fn hidden_on_path(&self, p: &str) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        let mut cur = p;
        while cur != "/" {
            if self.verdict(cur) == Verdict::Hidden {
                return true;
            }
            cur = path::parent(cur);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(dir: &str, allowed: &[&str], denied: &[&str], hide: bool) -> Rule {
        Rule {
            dir: dir.into(),
            allowed: allowed.iter().map(|p| Pattern::new(p).unwrap()).collect(),
            denied: denied.iter().map(|p| Pattern::new(p).unwrap()).collect(),
            hide,
        }
    }

    #[test]
    fn nearest_rule_allowed_before_denied() {
        let f = FilePatterns::new(vec![
            rule("/", &[], &["*.exe"], false),
            rule("/pics", &["*.jpg"], &[], true),
        ]);
        assert_eq!(f.verdict("/a.EXE"), Verdict::Refused);
        assert_eq!(f.verdict("/a.txt"), Verdict::Allowed);
        assert_eq!(f.verdict("/pics/x.JPG"), Verdict::Allowed);
        assert_eq!(f.verdict("/pics/x.png"), Verdict::Hidden);
        assert_eq!(f.verdict("/pics/sub/x.png"), Verdict::Hidden);
        assert!(f.hidden_on_path("/pics/x.png"));
        assert!(!f.hidden_on_path("/pics/x.jpg"));
    }
}
