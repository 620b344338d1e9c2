//! Virtual paths: what a client names, cleaned into an absolute "/"-rooted path that can
//! never climb above "/" (RFC 959 pathnames; SFTPGo also reads `\` as `/`).
//!
//! Cleaning is lexical; the filesystem side ([`super::Vfs`]) then opens the result beneath
//! the home directory handle, which is what stops symlinks from leading outside.

/// Cleans an absolute path: `.` and empty parts dropped, `..` pops (never above "/").
/// None when `p` is not absolute.
pub fn clean_absolute(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = String::with_capacity(p.len());
    for part in &parts {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// The absolute virtual path a client argument names, from the current directory `cwd`.
pub fn resolve(cwd: &str, arg: &str) -> String {
    let arg = arg.replace('\\', "/");
    let joined = if arg.starts_with('/') {
        arg
    } else {
        format!("{cwd}/{arg}")
    };
    clean_absolute(&joined).unwrap_or_else(|| "/".to_string())
}

/// Parent of a cleaned path ("/" is its own parent).
pub fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// Last component of a cleaned path ("" for "/").
pub fn base_name(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// Joins a cleaned directory and a single name.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The path relative to the home directory handle ("." for the root).
pub fn relative(p: &str) -> &str {
    let r = p.trim_start_matches('/');
    if r.is_empty() {
        "."
    } else {
        r
    }
}

/// The relative symlink target that leads from directory `from_dir` to `to` (both cleaned
/// absolute paths): `..` once per component of `from_dir` below the common prefix, then the
/// rest of `to`. It climbs at most to "/", so a link holding it stays inside the tree.
pub fn link_target(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = from.len().saturating_sub(common);
    let parts: Vec<&str> = std::iter::repeat_n("..", ups)
        .chain(to.iter().skip(common).copied())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_relative_and_stay_below_root() {
        assert_eq!(link_target("/", "/a/b"), "a/b");
        assert_eq!(link_target("/c", "/a/b"), "../a/b");
        assert_eq!(link_target("/a/x/y", "/a/b"), "../../b");
        assert_eq!(link_target("/a", "/a/b"), "b");
        assert_eq!(link_target("/a/b", "/a"), "..");
        assert_eq!(link_target("/a", "/a"), ".");
        assert_eq!(link_target("/", "/etc/passwd"), "etc/passwd");
    }

    #[test]
    fn dot_dot_never_climbs_above_root() {
        assert_eq!(resolve("/", "../../etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/a/b", "../../../x"), "/x");
        assert_eq!(resolve("/a", "/../.."), "/");
        assert_eq!(resolve("/a", "b/./c//d/.."), "/a/b/c");
    }

    #[test]
    fn backslashes_are_separators() {
        assert_eq!(resolve("/", "a\\b"), "/a/b");
    }

    #[test]
    fn parent_base_relative() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(base_name("/a/b"), "b");
        assert_eq!(relative("/"), ".");
        assert_eq!(relative("/a/b"), "a/b");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
    }

    #[test]
    fn relative_input_is_not_absolute() {
        assert_eq!(clean_absolute("a/b"), None);
    }
}
