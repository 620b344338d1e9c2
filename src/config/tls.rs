//! FTPS settings (RFC 4217) from SFTPGo's keys: the global certificate and CA files in
//! `ftpd`, and per binding `tls_mode`, certificate override, `min_tls_version`,
//! `tls_cipher_suites`, `client_auth_type`, `tls_session_reuse`.

use super::raw::{Obj, Result};
use std::path::{Path, PathBuf};

/// `tls_mode`: what a binding requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// 0: cleartext; `AUTH TLS` is offered when a certificate exists.
    Optional,
    /// 1: explicit TLS required on control and data connections.
    Explicit,
    /// 2: implicit TLS: TLS from the first byte, data always protected.
    Implicit,
    /// 3: TLS required on the control connection only; data stays clear.
    ControlOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// 1: a verified client certificate is required for the handshake.
    Required,
    /// 2: a certificate is verified if the client sends one.
    Optional,
}

/// `tls_session_reuse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionReuse {
    /// 0: not checked.
    NotChecked,
    /// 1: a TLS data connection must resume the control connection's session (tickets).
    Required,
    /// 2: session tickets disabled.
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MinVersion {
    Tls12,
    Tls13,
}

/// A certificate chain and its key, as file paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug)]
pub struct BindingTls {
    pub mode: TlsMode,
    /// The binding's own pair, else the global one; None: no TLS possible.
    pub cert: Option<CertFiles>,
    pub min_version: MinVersion,
    /// Suite names as configured (Go's names); empty = rustls' defaults.
    pub cipher_suites: Vec<String>,
    pub client_auth: ClientAuth,
    pub session_reuse: SessionReuse,
}

impl BindingTls {
    /// True where `AUTH TLS`, `PBSZ` and `PROT` apply (FEAT lists them only then).
    pub fn available(&self) -> bool {
        self.cert.is_some()
    }
}

/// The `ftpd`-level TLS keys.
#[derive(Clone, Debug, Default)]
pub struct GlobalTls {
    pub cert: Option<CertFiles>,
    pub ca_certificates: Vec<PathBuf>,
    pub ca_revocation_lists: Vec<PathBuf>,
}

/// Go's cipher-suite names that rustls implements (TLS 1.2 ECDHE AEAD suites; TLS 1.3
/// suites are not configurable in SFTPGo either). Each maps to the IANA name rustls uses.
pub const SUITES: &[(&str, &str)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// Go's TLS 1.3 suite names: valid in SFTPGo's list, but never configurable.
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

fn file_pair(o: &Obj, dir: &Path) -> Result<Option<CertFiles>> {
    let cert = o.string("certificate_file", "")?;
    let key = o.string("certificate_key_file", "")?;
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(CertFiles {
            cert: dir.join(cert),
            key: dir.join(key),
        })),
        (false, true) => Err(o.error("certificate_key_file", "is required with certificate_file")),
        (true, false) => Err(o.error("certificate_file", "is required with certificate_key_file")),
    }
}

pub fn read_global(f: &Obj, dir: &Path) -> Result<GlobalTls> {
    let list = |key: &str| -> Result<Vec<PathBuf>> {
        Ok(f.string_list(key)?.iter().map(|p| dir.join(p)).collect())
    };
    Ok(GlobalTls {
        cert: file_pair(f, dir)?,
        ca_certificates: list("ca_certificates")?,
        ca_revocation_lists: list("ca_revocation_lists")?,
    })
}

/// Reads a binding's TLS keys. `warnings` gets SFTPGo values we accept with a changed meaning.
pub fn read_binding(
    b: &Obj,
    dir: &Path,
    global: &GlobalTls,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<BindingTls> {
    let mode = match b.int("tls_mode", 0, 0, 3)? {
        1 => TlsMode::Explicit,
        2 => TlsMode::Implicit,
        3 => TlsMode::ControlOnly,
        _ => TlsMode::Optional,
    };
    let cert = file_pair(b, dir)?.or_else(|| global.cert.clone());
    if mode != TlsMode::Optional && cert.is_none() {
        return Err(b.error(
            "tls_mode",
            format!("binding {name}: TLS is required but no certificate_file/certificate_key_file is set (binding or ftpd)"),
        ));
    }
    let min_version = match b.int("min_tls_version", 12, 0, 13)? {
        13 => MinVersion::Tls13,
        12 => MinVersion::Tls12,
        v @ (10 | 11) => {
            warnings.push(format!(
                "{}: {}: {v} means TLS 1.2 here (rustls speaks TLS 1.2 and 1.3 only)",
                b.file().display(),
                b.key_path("min_tls_version")
            ));
            MinVersion::Tls12
        }
        v => {
            return Err(b.error(
                "min_tls_version",
                format!("{v} is not one of 10, 11, 12, 13"),
            ));
        }
    };
    let mut cipher_suites = Vec::new();
    let mut unknown = Vec::new();
    let mut tls13 = Vec::new();
    for s in b.string_list("tls_cipher_suites")? {
        match SUITES.iter().find(|(go, _)| *go == s) {
            Some((_, iana)) => cipher_suites.push(iana.to_string()),
            None if TLS13_SUITES.contains(&s.as_str()) => tls13.push(s),
            None => unknown.push(s),
        }
    }
    if !tls13.is_empty() {
        // Go knows these names but does not let them be chosen, so SFTPGo configs may list
        // them: accepted, and said to have no effect.
        warnings.push(format!(
            "{}: {}: {}: TLS 1.3 suites are not configurable (all of them stay on); ignored",
            b.file().display(),
            b.key_path("tls_cipher_suites"),
            tls13.join(", ")
        ));
    }
    if !unknown.is_empty() {
        return Err(b.error(
            "tls_cipher_suites",
            format!(
                "not supported: {} (supported: {})",
                unknown.join(", "),
                SUITES
                    .iter()
                    .map(|(g, _)| *g)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let client_auth = match b.int("client_auth_type", 0, 0, 2)? {
        1 => ClientAuth::Required,
        2 => ClientAuth::Optional,
        _ => ClientAuth::None,
    };
    if client_auth != ClientAuth::None && global.ca_certificates.is_empty() {
        return Err(b.error(
            "client_auth_type",
            format!("binding {name}: client certificates need ftpd.ca_certificates"),
        ));
    }
    let session_reuse = match b.int("tls_session_reuse", 0, 0, 2)? {
        1 => SessionReuse::Required,
        2 => SessionReuse::Disabled,
        _ => SessionReuse::NotChecked,
    };
    if session_reuse == SessionReuse::Required && mode == TlsMode::Implicit {
        return Err(b.error(
            "tls_session_reuse",
            format!("binding {name}: 1 (required) is for explicit TLS, not implicit (tls_mode 2)"),
        ));
    }
    Ok(BindingTls {
        mode,
        cert,
        min_version,
        cipher_suites,
        client_auth,
        session_reuse,
    })
}
