//! The ACME files under `certs_path`, laid out as SFTPGo (lego) lays them out, so an SFTPGo
//! directory is taken over as it is: `<domain>.crt` (the chain) and `<domain>.key`, and per
//! CA `<host_port>/<email>.key` (the account key) and `<email>.json` (the account URL).
//!
//! Directories are made 0700 and files written 0600, each through a new file renamed into
//! place, so a reader (a SIGHUP reload, a concurrent `ferroftpd acme`) sees the old file or
//! the new one, never a half-written one. An exclusive lock (flock on `.ferroftpd-acme.lock`)
//! keeps two ferroftpd processes from ordering at the same time.

use crate::config::acme::Acme;
use base64ct::{Base64, Encoding};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = ".ferroftpd-acme.lock";

/// PEM text for DER bytes (64-column base64, as openssl writes it).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Creates `dir` (and its parents) with mode 0700 where missing.
pub fn ensure_dir(dir: &Path) -> Result<(), String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: cannot create the directory: {e}", dir.display()))
}

/// Writes `bytes` to `path` with mode 0600, replacing it atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = sibling(path, ".tmp");
    let write = || -> std::io::Result<()> {
        // A stale temporary file (a crash) may have any mode: start over.
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: cannot write: {e}", path.display())
    })
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Where the account of `acme.email` at `acme.ca_endpoint` lives (lego's layout: the CA's
/// host and port, ":" made "_").
pub struct AccountFiles {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub json: PathBuf,
}

impl AccountFiles {
    pub fn new(acme: &Acme) -> AccountFiles {
        let rest = acme
            .ca_endpoint
            .strip_prefix("https://")
            .unwrap_or(&acme.ca_endpoint);
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // An endpoint is the operator's, but a host is still not allowed to climb out.
        let host: String = host
            .chars()
            .map(|c| match c {
                ':' => '_',
                c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']') => c,
                _ => '_',
            })
            .collect();
        let host = if host.is_empty() || host.starts_with('.') {
            format!("_{host}")
        } else {
            host
        };
        let dir = acme.certs_path.join(host);
        let email: String = acme
            .email
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        AccountFiles {
            key: dir.join(format!("{email}.key")),
            json: dir.join(format!("{email}.json")),
            dir,
        }
    }
}

/// The exclusive ACME lock of a `certs_path`, released on drop (closing the file).
pub struct Lock(#[allow(dead_code)] fs::File);

impl Lock {
    /// Waits for the lock: another ferroftpd may be ordering (each order has timeouts).
    pub fn acquire(certs_path: &Path) -> Result<Lock, String> {
        let path = certs_path.join(LOCK_FILE);
        let f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| format!("{}: cannot lock: {e}", path.display()))?;
        Ok(Lock(f))
    }
}

/// Gives `certs_path` and the ACME files in it to `uid`/`gid`, so that the daemon can still
/// renew after dropping privileges. Only our own files: the directory, the lock, each
/// certificate pair and the account directory with its files.
pub fn give_to(acme: &Acme, uid: u32, gid: u32) -> Result<(), String> {
    let account = AccountFiles::new(acme);
    let mut paths = vec![
        acme.certs_path.clone(),
        acme.certs_path.join(LOCK_FILE),
        account.dir,
        account.key,
        account.json,
    ];
    for e in &acme.domains {
        let f = e.files(&acme.certs_path);
        paths.push(f.cert);
        paths.push(f.key);
    }
    for p in paths {
        match std::os::unix::fs::chown(&p, Some(uid), Some(gid)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: cannot give it to uid {uid}: {e}", p.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_0600_and_replaced_whole() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/b");
        ensure_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let p = dir.join("x.key");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!dir.join("x.key.tmp").exists());
    }

    #[test]
    fn pem_lines_are_64_columns() {
        let text = pem("TEST", &[7u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN TEST-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END TEST-----"));
    }

    #[test]
    fn account_files_follow_lego() {
        let (r, _) = {
            let v = serde_json::json!({"acme": {"domains": ["a.example"], "email": "me@x.org",
                "ca_endpoint": "https://127.0.0.1:14000/dir"}});
            let root = crate::config::raw::Obj::root(Path::new("/c/f.json"), &v).unwrap();
            let mut w = Vec::new();
            (crate::config::acme::read(&root, Path::new("/c"), &mut w), w)
        };
        let a = r.unwrap().unwrap();
        let f = AccountFiles::new(&a);
        assert_eq!(
            f.key,
            PathBuf::from("/c/certs/127.0.0.1_14000/me@x.org.key")
        );
        assert_eq!(
            f.json,
            PathBuf::from("/c/certs/127.0.0.1_14000/me@x.org.json")
        );
    }
}
