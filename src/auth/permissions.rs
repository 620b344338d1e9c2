//! SFTPGo's per-directory permissions: names, sets, and the "nearest listed ancestor wins"
//! lookup (`permissions` in the user object; keys may be `path.Match` globs).

use crate::util::glob::Pattern;

/// One permission; the set is a bit mask of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Perm {
    List = 1,
    Download = 1 << 1,
    Upload = 1 << 2,
    Overwrite = 1 << 3,
    DeleteFiles = 1 << 4,
    DeleteDirs = 1 << 5,
    RenameFiles = 1 << 6,
    RenameDirs = 1 << 7,
    CreateDirs = 1 << 8,
    CreateSymlinks = 1 << 9,
    Chmod = 1 << 10,
    Chown = 1 << 11,
    Chtimes = 1 << 12,
    Copy = 1 << 13,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermSet(u16);

impl PermSet {
    pub const ALL: PermSet = PermSet(u16::MAX);

    pub fn has(self, p: Perm) -> bool {
        self.0 & (p as u16) != 0
    }

    /// Parses SFTPGo's names; `delete` and `rename` stand for both their halves.
    pub fn parse(names: &[String]) -> Result<PermSet, String> {
        let mut bits = 0u16;
        for name in names {
            bits |= match name.as_str() {
                "*" => u16::MAX,
                "list" => Perm::List as u16,
                "download" => Perm::Download as u16,
                "upload" => Perm::Upload as u16,
                "overwrite" => Perm::Overwrite as u16,
                "delete" => Perm::DeleteFiles as u16 | Perm::DeleteDirs as u16,
                "delete_files" => Perm::DeleteFiles as u16,
                "delete_dirs" => Perm::DeleteDirs as u16,
                "rename" => Perm::RenameFiles as u16 | Perm::RenameDirs as u16,
                "rename_files" => Perm::RenameFiles as u16,
                "rename_dirs" => Perm::RenameDirs as u16,
                "create_dirs" => Perm::CreateDirs as u16,
                "create_symlinks" => Perm::CreateSymlinks as u16,
                "chmod" => Perm::Chmod as u16,
                "chown" => Perm::Chown as u16,
                "chtimes" => Perm::Chtimes as u16,
                "copy" => Perm::Copy as u16,
                other => return Err(format!("unknown permission {other:?}")),
            };
        }
        Ok(PermSet(bits))
    }
}

/// A user's permission map.
#[derive(Clone, Debug)]
pub struct Permissions {
    /// Exact directory keys, cleaned ("/a/b").
    exact: Vec<(String, PermSet)>,
    /// Keys with wildcards, matched component by component against a directory of the same depth.
    globs: Vec<(Vec<Pattern>, PermSet)>,
}

impl Permissions {
    pub fn new(entries: Vec<(String, PermSet)>) -> Result<Permissions, String> {
        let mut exact = Vec::new();
        let mut globs = Vec::new();
        let mut has_root = false;
        for (dir, set) in entries {
            let clean = crate::vfs::path::clean_absolute(&dir)
                .ok_or_else(|| format!("{dir:?} must be an absolute path"))?;
            if clean == "/" {
                has_root = true;
            }
            if crate::util::glob::has_wildcards(&clean) {
                let parts = clean
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .map(|p| Pattern::new(p).map_err(|e| format!("{dir:?}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                globs.push((parts, set));
            } else {
                exact.push((clean, set));
            }
        }
        if !has_root {
            return Err("must contain \"/\"".into());
        }
        Ok(Permissions { exact, globs })
    }

    /// Permissions of directory `dir` (a cleaned virtual path): the nearest listed ancestor.
    pub fn of_dir(&self, dir: &str) -> PermSet {
        let mut cur = dir;
        loop {
            if let Some((_, set)) = self.exact.iter().find(|(d, _)| d == cur) {
                return *set;
            }
            if let Some(set) = self.glob_match(cur) {
                return set;
            }
            if cur == "/" {
                return PermSet::default();
            }
            cur = crate::vfs::path::parent(cur);
        }
    }

    /// Whether some key names a directory strictly inside `dir` (a cleaned virtual path):
    /// then paths under `dir` do not all share `dir`'s permissions. Glob keys count when
    /// their leading components could match `dir`.
    pub fn has_entries_below(&self, dir: &str) -> bool {
        let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.exact
            .iter()
            .any(|(d, _)| d != "/" && d.starts_with(&prefix))
            || self.globs.iter().any(|(pats, _)| {
                pats.len() > parts.len() && pats.iter().zip(&parts).all(|(p, s)| p.matches(s))
            })
    }

    fn glob_match(&self, dir: &str) -> Option<PermSet> {
        let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        self.globs
            .iter()
            .find(|(pats, _)| {
                pats.len() == parts.len() && pats.iter().zip(&parts).all(|(p, s)| p.matches(s))
            })
            .map(|(_, set)| *set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(entries: &[(&str, &[&str])]) -> Permissions {
        Permissions::new(
            entries
                .iter()
                .map(|(d, names)| {
                    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
                    (d.to_string(), PermSet::parse(&names).unwrap())
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn nearest_ancestor_wins() {
        let p = perms(&[("/", &["*"]), ("/ro", &["list", "download"])]);
        assert!(p.of_dir("/").has(Perm::Upload));
        assert!(!p.of_dir("/ro").has(Perm::Upload));
        assert!(!p.of_dir("/ro/deep/er").has(Perm::Upload));
        assert!(p.of_dir("/ro/deep").has(Perm::Download));
        assert!(p.of_dir("/rox").has(Perm::Upload));
    }

    #[test]
    fn glob_keys() {
        let p = perms(&[("/", &["list"]), ("/pub*", &["*"])]);
        assert!(p.of_dir("/public").has(Perm::Upload));
        assert!(p.of_dir("/public/x").has(Perm::Upload));
        assert!(!p.of_dir("/other").has(Perm::Upload));
    }

    #[test]
    fn entries_below() {
        let p = perms(&[("/", &["*"]), ("/a/b", &["list"]), ("/g*/x", &["list"])]);
        assert!(p.has_entries_below("/"));
        assert!(p.has_entries_below("/a"));
        assert!(!p.has_entries_below("/a/b"));
        assert!(!p.has_entries_below("/ab"));
        assert!(p.has_entries_below("/go"));
        assert!(!p.has_entries_below("/h"));
        let root_only = perms(&[("/", &["*"])]);
        assert!(!root_only.has_entries_below("/"));
    }

    #[test]
    fn root_required_and_names_checked() {
        assert!(Permissions::new(vec![("/a".into(), PermSet::ALL)]).is_err());
        assert!(PermSet::parse(&["fly".into()]).is_err());
    }
}
