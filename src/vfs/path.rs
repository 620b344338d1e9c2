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

#[cfg(test)]
mod tests {
    use super::*;

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
