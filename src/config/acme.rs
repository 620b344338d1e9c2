//! The `acme` section (SFTPGo's keys and defaults): which names to certify, where the CA
//! is, which challenges to answer and where the files go. With `domains` empty ACME is off,
//! and nothing else in the section is checked, as in SFTPGo.
//!
//! Two keys are ferroftpd's own: `ca_certificates` (PEM files trusted for the ACME
//! server's HTTPS, for a private CA; empty means the compiled-in public roots) and
//! `check_interval_seconds` (how often the renewal thread looks; SFTPGo checks every 12
//! hours, and tests need seconds).

use super::raw::{Obj, Result};
use super::tls::CertFiles;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Let's Encrypt's production directory, SFTPGo's default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// SFTPGo's keys, for the "not implemented" / "unknown" warnings.
pub const SFTPGO_ACME_KEYS: &[&str] = &[
    "domains",
    "email",
    "key_type",
    "certs_path",
    "ca_endpoint",
    "renew_days",
    "http01_challenge",
    "tls_alpn01_challenge",
];

/// The certificate key's type (`key_type`): SFTPGo's (lego's) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    Rsa8192,
    P256,
    P384,
}

impl KeyType {
    pub const NAMES: &'static [(&'static str, KeyType)] = &[
        ("2048", KeyType::Rsa2048),
        ("3072", KeyType::Rsa3072),
        ("4096", KeyType::Rsa4096),
        ("8192", KeyType::Rsa8192),
        ("P256", KeyType::P256),
        ("P384", KeyType::P384),
    ];

    pub fn name(self) -> &'static str {
        KeyType::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// `http01_challenge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http01 {
    /// The responder's port while an order is pending (unused with `webroot`).
    pub port: u16,
    /// The request header naming the host instead of `Host` (behind a proxy), as lego's
    /// `SetProxyHeader`: `Forwarded` is parsed for its `host=`.
    pub proxy_header: String,
    /// Write the key authorization under `<webroot>/.well-known/acme-challenge/` for a web
    /// server to serve, instead of listening.
    pub webroot: Option<PathBuf>,
}

/// One certificate: SFTPGo's `domains` entry, names separated by commas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As written (trimmed): the file names come from it.
    pub raw: String,
    /// Its names, lower case, in order (the first is the subject).
    pub names: Vec<String>,
}

impl Entry {
    /// `<certs_path>/<entry>.crt|.key`, with ":", "*", ",", " " replaced by "_" (SFTPGo).
    pub fn files(&self, certs_path: &Path) -> CertFiles {
        let base: String = self
            .raw
            .chars()
            .map(|c| {
                if matches!(c, ':' | '*' | ',' | ' ') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        CertFiles {
            cert: certs_path.join(format!("{base}.crt")),
            key: certs_path.join(format!("{base}.key")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acme {
    /// Each entry is one certificate; the first one is served by FTPS.
    pub domains: Vec<Entry>,
    pub email: String,
    pub key_type: KeyType,
    /// Absolute (relative paths are under the config file's directory).
    pub certs_path: PathBuf,
    pub ca_endpoint: String,
    /// PEM files trusted for the ACME server; empty: the compiled-in public roots.
    pub ca_certificates: Vec<PathBuf>,
    pub renew_days: u32,
    /// None: HTTP-01 off (`port` 0 and no `webroot`).
    pub http01: Option<Http01>,
    /// None: TLS-ALPN-01 off (`port` 0, the default).
    pub tls_alpn01_port: Option<u16>,
    pub check_interval: Duration,
}

impl Acme {
    /// The pair FTPS serves: the first entry's files.
    pub fn served(&self) -> Option<CertFiles> {
        self.domains.first().map(|e| e.files(&self.certs_path))
    }

    /// Ports below 1024 the challenge responders listen on: after a privilege drop they
    /// need CAP_NET_BIND_SERVICE.
    pub fn privileged_ports(&self) -> Vec<u16> {
        let http = self
            .http01
            .as_ref()
            .filter(|h| h.webroot.is_none())
            .map(|h| h.port);
        http.into_iter()
            .chain(self.tls_alpn01_port)
            .filter(|p| *p < 1024)
            .collect()
    }
}

/// A challenge port that is also an FTP binding's port could never be bound during an
/// order: refused at startup, naming the key.
pub fn check_ports(
    acme: &Acme,
    ftp_ports: &[u16],
    file: &Path,
) -> std::result::Result<(), super::raw::ConfigError> {
    let http = acme
        .http01
        .as_ref()
        .filter(|h| h.webroot.is_none())
        .map(|h| ("acme.http01_challenge.port", h.port));
    let alpn = acme
        .tls_alpn01_port
        .map(|p| ("acme.tls_alpn01_challenge.port", p));
    for (key, port) in http.into_iter().chain(alpn) {
        if ftp_ports.contains(&port) {
            return Err(super::raw::ConfigError {
                file: file.to_path_buf(),
                key: key.to_string(),
                message: format!("{port} is also an ftpd binding's port"),
            });
        }
    }
    Ok(())
}

/// Reads `acme`; None when `domains` is empty (ACME off).
pub fn read(root: &Obj, dir: &Path, warnings: &mut Vec<String>) -> Result<Option<Acme>> {
    let a = root.obj("acme")?;
    let raw_domains = a.string_list("domains")?;
    let email = a.string("email", "")?.trim().to_string();
    let key_type_name = a.string("key_type", "4096")?;
    let certs_path = a.string("certs_path", "certs")?;
    let ca_endpoint = a.string("ca_endpoint", LETS_ENCRYPT)?;
    let ca_certificates = a.string_list("ca_certificates")?;
    let renew_days = a.int("renew_days", 30, 1, 36_500)? as u32;
    let check = a.int("check_interval_seconds", 12 * 3600, 1, 30 * 86_400)? as u64;
    let h = a.obj("http01_challenge")?;
    let http_port = h.int("port", 80, 0, 65535)? as u16;
    let proxy_header = h.string("proxy_header", "")?.trim().to_string();
    let webroot = h.string("webroot", "")?;
    let t = a.obj("tls_alpn01_challenge")?;
    let alpn_port = t.int("port", 0, 0, 65535)? as u16;
    for (obj, known) in [
        (&h, &["port", "proxy_header", "webroot"][..]),
        (&t, &["port"][..]),
        (&a, SFTPGO_ACME_KEYS),
    ] {
        super::push_unread(obj, known, warnings);
    }

    let mut domains: Vec<Entry> = Vec::new();
    for (i, d) in raw_domains.iter().enumerate() {
        let raw = d.trim();
        let names: Vec<String> = raw
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        // SFTPGo drops empty entries silently.
        if names.is_empty() {
            continue;
        }
        for n in &names {
            check_name(n).map_err(|m| a.error(&format!("domains[{i}]"), m))?;
        }
        if domains.iter().any(|e| e.raw == raw) {
            continue;
        }
        domains.push(Entry {
            raw: raw.to_string(),
            names,
        });
    }
    if domains.is_empty() {
        return Ok(None);
    }
    if !email_ok(&email) {
        return Err(a.error(
            "email",
            format!("{email:?} is not an e-mail address (the CA's contact for the account)"),
        ));
    }
    let key_type = KeyType::NAMES
        .iter()
        .find(|(n, _)| *n == key_type_name)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            a.error(
                "key_type",
                format!(
                    "{key_type_name:?} is not one of {}",
                    KeyType::NAMES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    if !ca_endpoint.starts_with("https://") || ca_endpoint.len() <= "https://".len() {
        return Err(a.error(
            "ca_endpoint",
            format!("{ca_endpoint:?} is not an https:// URL (ACME runs over HTTPS only)"),
        ));
    }
    if certs_path.trim().is_empty() {
        return Err(a.error("certs_path", "must name a directory"));
    }
    let webroot = if webroot.is_empty() {
        None
    } else {
        let p = PathBuf::from(&webroot);
        if !p.is_absolute() {
            return Err(h.error("webroot", format!("{webroot:?} must be an absolute path")));
        }
        if !p.is_dir() {
            return Err(h.error(
                "webroot",
                format!("{webroot:?} is not a directory (the web server's document root)"),
            ));
        }
        Some(p)
    };
    let http01 = (http_port > 0 || webroot.is_some()).then_some(Http01 {
        port: http_port,
        proxy_header,
        webroot,
    });
    let tls_alpn01_port = (alpn_port > 0).then_some(alpn_port);
    if http01.is_none() && tls_alpn01_port.is_none() {
        return Err(a.error(
            "http01_challenge",
            "no challenge type defined: set http01_challenge.port (or webroot) or tls_alpn01_challenge.port",
        ));
    }
    if let (Some(h1), Some(p)) = (&http01, tls_alpn01_port) {
        if h1.webroot.is_none() && h1.port == p {
            return Err(t.error(
                "port",
                format!("{p} is also http01_challenge.port: the two responders need two ports"),
            ));
        }
    }
    let ca_certificates = ca_certificates.iter().map(|p| dir.join(p)).collect();
    Ok(Some(Acme {
        domains,
        email,
        key_type,
        certs_path: dir.join(certs_path),
        ca_endpoint,
        ca_certificates,
        renew_days,
        http01,
        tls_alpn01_port,
        check_interval: Duration::from_secs(check),
    }))
}

/// A DNS name a CA can validate with HTTP-01 or TLS-ALPN-01: labels of letters, digits and
/// hyphens. Wildcards need DNS-01, which SFTPGo does not offer either.
fn check_name(n: &str) -> std::result::Result<(), String> {
    if n.starts_with("*.") {
        return Err(format!(
            "{n:?}: a wildcard needs the DNS-01 challenge, which is not supported (HTTP-01 and TLS-ALPN-01 only)"
        ));
    }
    let n = n.strip_suffix('.').unwrap_or(n);
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{n:?} is not a domain name"))
    }
}

/// Loose, like SFTPGo's check: one `@` with something on both sides and no spaces.
fn email_ok(e: &str) -> bool {
    match e.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && !host.is_empty()
                && !host.contains('@')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_json(v: serde_json::Value) -> (Result<Option<Acme>>, Vec<String>) {
        let file = Path::new("/etc/ferroftpd/f.json");
        let root = Obj::root(file, &v).unwrap();
        let mut w = Vec::new();
        let r = read(&root, Path::new("/etc/ferroftpd"), &mut w);
        (r, w)
    }

    #[test]
    fn off_without_domains_even_with_bad_keys() {
        let (r, _) = read_json(json!({"acme": {"email": "", "key_type": "bogus"}}));
        assert_eq!(r.unwrap(), None);
        let (r, _) = read_json(json!({"acme": {"domains": [" ", ""]}}));
        assert_eq!(r.unwrap(), None);
    }

    #[test]
    fn defaults_are_sftpgos() {
        let (r, w) = read_json(json!({"acme": {"domains": ["ftp.example.com"], "email": "a@b.c"}}));
        let a = r.unwrap().unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(a.key_type, KeyType::Rsa4096);
        assert_eq!(a.renew_days, 30);
        assert_eq!(a.ca_endpoint, LETS_ENCRYPT);
        assert_eq!(a.certs_path, PathBuf::from("/etc/ferroftpd/certs"));
        assert_eq!(a.http01.as_ref().map(|h| h.port), Some(80));
        assert_eq!(a.tls_alpn01_port, None);
        assert_eq!(a.check_interval, Duration::from_secs(43200));
        let files = a.served().unwrap();
        assert_eq!(
            files.cert,
            PathBuf::from("/etc/ferroftpd/certs/ftp.example.com.crt")
        );
        assert_eq!(
            files.key,
            PathBuf::from("/etc/ferroftpd/certs/ftp.example.com.key")
        );
    }

    #[test]
    fn entries_split_on_commas_and_name_files_like_sftpgo() {
        let (r, _) = read_json(json!({"acme": {
            "domains": ["Example.com, www.example.com", "ftp.example.org"],
            "email": "a@b.c", "key_type": "P256"}}));
        let a = r.unwrap().unwrap();
        assert_eq!(a.domains[0].names, ["example.com", "www.example.com"]);
        assert_eq!(
            a.served().unwrap().cert,
            PathBuf::from("/etc/ferroftpd/certs/Example.com__www.example.com.crt")
        );
        assert_eq!(a.domains.len(), 2);
        assert_eq!(a.key_type, KeyType::P256);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                json!({"domains": ["a.example"], "email": "nope"}),
                "acme.email",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "key_type": "1024"}),
                "acme.key_type",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "ca_endpoint": "http://x/dir"}),
                "acme.ca_endpoint",
            ),
            (
                json!({"domains": ["*.example.com"], "email": "a@b"}),
                "acme.domains[0]",
            ),
            (
                json!({"domains": ["a b.example"], "email": "a@b"}),
                "acme.domains[0]",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "http01_challenge": {"port": 0}}),
                "acme.http01_challenge",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "http01_challenge": {"webroot": "rel"}}),
                "acme.http01_challenge.webroot",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "renew_days": 0}),
                "acme.renew_days",
            ),
            (
                json!({"domains": ["a.example"], "email": "a@b", "tls_alpn01_challenge": {"port": 80}}),
                "acme.tls_alpn01_challenge.port",
            ),
        ];
        for (acme, key) in cases {
            let (r, _) = read_json(json!({ "acme": acme }));
            let e = r.unwrap_err().to_string();
            assert!(e.contains(&format!("{key}: ")), "{key}: {e}");
        }
    }

    #[test]
    fn the_acme_pair_replaces_the_global_one_for_bindings_without_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(
            &file,
            json!({
                "ftpd": {"certificate_file": "g.crt", "certificate_key_file": "g.key",
                         "bindings": [{"port": 2121, "tls_mode": 1},
                                      {"port": 2122, "certificate_file": "own.crt",
                                       "certificate_key_file": "own.key"}]},
                "data_provider": {"driver": "memory", "name": "users.json"},
                "acme": {"domains": ["ftp.example.com"], "email": "a@b",
                         "http01_challenge": {"port": 8080}}
            })
            .to_string(),
        )
        .unwrap();
        let (c, w) = crate::config::Config::load(&file).unwrap();
        let acme_pair = c.acme.as_ref().unwrap().served().unwrap();
        assert_eq!(acme_pair.cert, dir.path().join("certs/ftp.example.com.crt"));
        assert_eq!(c.ftpd.bindings[0].tls.cert.as_ref(), Some(&acme_pair));
        assert_eq!(
            c.ftpd.bindings[1].tls.cert.as_ref().map(|f| f.cert.clone()),
            Some(dir.path().join("own.crt"))
        );
        assert!(
            w.iter()
                .any(|l| l.contains("ftpd.certificate_file: replaced by the ACME certificate")),
            "{w:?}"
        );
        let e = std::fs::write(
            &file,
            json!({"ftpd": {"bindings": [{"port": 8080}]},
                   "data_provider": {"driver": "memory", "name": "users.json"},
                   "acme": {"domains": ["ftp.example.com"], "email": "a@b",
                            "http01_challenge": {"port": 8080}}})
            .to_string(),
        )
        .map(|()| crate::config::Config::load(&file).unwrap_err().to_string())
        .unwrap();
        assert!(
            e.contains("acme.http01_challenge.port: 8080 is also"),
            "{e}"
        );
    }

    #[test]
    fn challenge_ports_must_not_be_ftp_ports() {
        let (r, _) = read_json(json!({"acme": {"domains": ["a.example"], "email": "a@b",
            "http01_challenge": {"port": 2121}}}));
        let a = r.unwrap().unwrap();
        let f = Path::new("/f.json");
        let e = check_ports(&a, &[21, 2121], f).unwrap_err().to_string();
        assert!(e.contains("acme.http01_challenge.port: 2121"), "{e}");
        assert!(check_ports(&a, &[21], f).is_ok());
        assert_eq!(a.privileged_ports(), Vec::<u16>::new());
        let (r, _) = read_json(json!({"acme": {"domains": ["a.example"], "email": "a@b",
            "tls_alpn01_challenge": {"port": 443}}}));
        assert_eq!(r.unwrap().unwrap().privileged_ports(), vec![80, 443]);
    }

    #[test]
    fn extension_keys_and_typos() {
        let (r, w) = read_json(json!({"acme": {
            "domains": ["a.example"], "email": "a@b",
            "ca_certificates": ["pebble.pem"], "check_interval_seconds": 5,
            "http01_challenge": {"port": 0}, "tls_alpn01_challenge": {"port": 5001},
            "renew_dys": 3}}));
        let a = r.unwrap().unwrap();
        assert_eq!(
            a.ca_certificates,
            [PathBuf::from("/etc/ferroftpd/pebble.pem")]
        );
        assert_eq!(a.check_interval, Duration::from_secs(5));
        assert_eq!(a.http01, None);
        assert_eq!(a.tls_alpn01_port, Some(5001));
        assert!(
            w.iter().any(|l| l.contains("acme.renew_dys: unknown key")),
            "{w:?}"
        );
    }
}
