//! ACME (RFC 8555): certificates issued at start and renewed from a background thread, with
//! SFTPGo's `acme` keys ([`crate::config::acme`]).
//!
//! The flow for one certificate ([`obtain`]): take the lock of `certs_path`, load or make
//! the account key, register (or find) the account, order the names, answer each pending
//! authorization with the first challenge type offered that is configured (HTTP-01,
//! TLS-ALPN-01: lego's choice, hence SFTPGo's), wait for it, make a new key of `key_type`
//! and a CSR, finalize, wait, download the chain, check that it goes with the key, and only
//! then replace `<domain>.key` and `<domain>.crt` (0600).
//!
//! The daemon calls [`at_start`] before it serves: a certificate that is missing, expired,
//! unreadable or not for the configured names is obtained then, and failing that for the
//! served certificate is a startup error. Then [`spawn_renewal`] checks every
//! `check_interval_seconds` (12 hours) and renews a certificate once fewer than
//! `renew_days` days are left; a new certificate is put in force by the callback (the same
//! TLS reload SIGHUP does), so new connections get it without a restart. A failed renewal
//! keeps the current certificate, logs why and tries again after a doubling delay.
//! `ferroftpd acme` is [`run_once`].

pub mod challenge;
pub mod client;
pub mod store;

use crate::config::acme::{Acme, Entry, KeyType};
use crate::config::tls::CertFiles;
use aws_lc_rs::encoding::AsDer;
use client::{AccountKey, Authorization, Challenge, Client};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long one order may take, every wait included.
const ORDER_DEADLINE: Duration = Duration::from_secs(300);
/// The first retry after a failed renewal comes after at most this long.
const RETRY_FIRST: Duration = Duration::from_secs(300);
/// Retries are at least this far apart once they have doubled a few times.
const RETRY_CAP_MIN: Duration = Duration::from_secs(3600);

/// What is on disk for one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Valid and more than `renew_days` from its end.
    Fresh { not_after: SystemTime },
    /// Valid, but its renewal is due.
    Due { not_after: SystemTime },
    /// Missing, unreadable, not matching its key, not for the configured names, expired.
    Unusable(String),
}

/// "2026-05-01 12:00:00 UTC" for logs.
pub fn fmt_time(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let c = crate::util::timefmt::civil_from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.min, c.sec
    )
}

fn unix(secs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
    }
}

/// Reads and checks the pair of `entry`: it loads as the TLS code loads it, its key goes
/// with its certificate, it names every configured name and it is within its validity.
/// Returns its end.
fn check_files(files: &CertFiles, names: &[String], now: SystemTime) -> Result<SystemTime, String> {
    if !files.cert.exists() {
        return Err(format!("{} is not there", files.cert.display()));
    }
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let ck = crate::tls::cert::load_certified_key(files, &provider)?;
    let leaf = ck
        .cert
        .first()
        .ok_or_else(|| format!("{}: no certificate", files.cert.display()))?;
    let (_, x) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    let mut sans: Vec<String> = Vec::new();
    if let Ok(Some(ext)) = x.subject_alternative_name() {
        for n in &ext.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                sans.push(d.to_ascii_lowercase());
            }
        }
    }
    if let Some(missing) = names.iter().find(|n| !sans.contains(n)) {
        return Err(format!(
            "{}: not for {missing} (names: {})",
            files.cert.display(),
            sans.join(", ")
        ));
    }
    let not_before = unix(x.validity().not_before.timestamp());
    let not_after = unix(x.validity().not_after.timestamp());
    if now >= not_after {
        return Err(format!(
            "{}: expired on {}",
            files.cert.display(),
            fmt_time(not_after)
        ));
    }
    if now < not_before {
        return Err(format!(
            "{}: not valid before {}",
            files.cert.display(),
            fmt_time(not_before)
        ));
    }
    Ok(not_after)
}

/// The state of `entry`'s certificate at `now`. Renewal is due once no more than
/// `renew_days` whole days are left (SFTPGo's rule).
pub fn state(acme: &Acme, entry: &Entry, now: SystemTime) -> State {
    let files = entry.files(&acme.certs_path);
    match check_files(&files, &entry.names, now) {
        Err(why) => State::Unusable(why),
        Ok(not_after) => {
            let left = not_after
                .duration_since(now)
                .map(|d| d.as_secs() / 86_400)
                .unwrap_or(0);
            if left > u64::from(acme.renew_days) {
                State::Fresh { not_after }
            } else {
                State::Due { not_after }
            }
        }
    }
}

/// The CA certificates trusted for the ACME server (None: the compiled-in public roots).
fn roots(acme: &Acme) -> Result<Option<Vec<rustls::pki_types::CertificateDer<'static>>>, String> {
    if acme.ca_certificates.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for p in &acme.ca_certificates {
        all.extend(
            crate::tls::cert::load_certs(p).map_err(|e| format!("acme.ca_certificates: {e}"))?,
        );
    }
    Ok(Some(all))
}

/// The account key from its file, or a new one saved there (0600).
fn account_key(path: &Path) -> Result<AccountKey, String> {
    match std::fs::read(path) {
        Ok(pem) => AccountKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, der) = AccountKey::generate()?;
            store::write_private(path, store::pem("PRIVATE KEY", &der).as_bytes())?;
            log::info!("acme: new account key {}", path.display());
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// A new private key of `kind` (PEM, PKCS#8) and a CSR (DER) for `names`.
fn key_and_csr(kind: KeyType, names: &[String]) -> Result<(String, Vec<u8>), String> {
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
    };
    let failed = |_| format!("cannot generate a {} key", kind.name());
    let rsa = |size: KeySize| -> Result<Vec<u8>, String> {
        let k = aws_lc_rs::rsa::KeyPair::generate(size).map_err(failed)?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&k).map_err(failed)?;
        Ok(der.as_ref().to_vec())
    };
    let ec = |alg| -> Result<Vec<u8>, String> {
        let k = EcdsaKeyPair::generate(alg).map_err(failed)?;
        Ok(k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec())
    };
    let (der, sig_alg) = match kind {
        KeyType::Rsa2048 => (rsa(KeySize::Rsa2048)?, &rcgen::PKCS_RSA_SHA256),
        KeyType::Rsa3072 => (rsa(KeySize::Rsa3072)?, &rcgen::PKCS_RSA_SHA256),
        KeyType::Rsa4096 => (rsa(KeySize::Rsa4096)?, &rcgen::PKCS_RSA_SHA256),
        KeyType::Rsa8192 => (rsa(KeySize::Rsa8192)?, &rcgen::PKCS_RSA_SHA256),
        KeyType::P256 => (
            ec(&ECDSA_P256_SHA256_ASN1_SIGNING)?,
            &rcgen::PKCS_ECDSA_P256_SHA256,
        ),
        KeyType::P384 => (
            ec(&ECDSA_P384_SHA384_ASN1_SIGNING)?,
            &rcgen::PKCS_ECDSA_P384_SHA384,
        ),
    };
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.clone());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, sig_alg)
        .map_err(|e| format!("{} key: {e}", kind.name()))?;
    let mut params =
        rcgen::CertificateParams::new(names.to_vec()).map_err(|e| format!("CSR: {e}"))?;
    // The CA takes the names from the SANs; the subject is the first name, as lego does.
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR: {e}"))?;
    Ok((store::pem("PRIVATE KEY", &der), csr.der().as_ref().to_vec()))
}

/// What was done to answer one challenge, undone once its authorization is settled.
enum Presented {
    Http(String),
    File(std::path::PathBuf),
    Alpn(String),
}

/// The challenge responders of one order, started on first use, stopped on drop.
struct Solver<'a> {
    acme: &'a Acme,
    thumbprint: String,
    http: Option<challenge::HttpResponder>,
    alpn: Option<challenge::AlpnResponder>,
}

impl Solver<'_> {
    /// The first challenge, in the server's order, whose type is configured.
    fn pick<'c>(&self, authz: &'c Authorization) -> Option<&'c Challenge> {
        authz.challenges.iter().find(|c| match c.kind.as_str() {
            "http-01" => self.acme.http01.is_some(),
            "tls-alpn-01" => self.acme.tls_alpn01_port.is_some(),
            _ => false,
        })
    }

    fn present(&mut self, domain: &str, ch: &Challenge) -> Result<Presented, String> {
        if !challenge::token_ok(&ch.token) {
            return Err(format!("{}: the server sent an unusable token", ch.url));
        }
        let key_auth = format!("{}.{}", ch.token, self.thumbprint);
        match ch.kind.as_str() {
            "http-01" => {
                let h = self
                    .acme
                    .http01
                    .as_ref()
                    .ok_or_else(|| "HTTP-01 is not configured".to_string())?;
                if let Some(root) = &h.webroot {
                    let path = challenge::Webroot::new(root).put(&ch.token, &key_auth)?;
                    return Ok(Presented::File(path));
                }
                let r = match self.http.take() {
                    Some(r) => r,
                    None => challenge::HttpResponder::start(h.port, &h.proxy_header)
                        .map_err(|e| format!("HTTP-01 (acme.http01_challenge.port): {e}"))?,
                };
                r.add(&ch.token, domain, &key_auth);
                self.http = Some(r);
                Ok(Presented::Http(ch.token.clone()))
            }
            _ => {
                let port = self
                    .acme
                    .tls_alpn01_port
                    .ok_or_else(|| "TLS-ALPN-01 is not configured".to_string())?;
                let r = match self.alpn.take() {
                    Some(r) => r,
                    None => challenge::AlpnResponder::start(port).map_err(|e| {
                        format!("TLS-ALPN-01 (acme.tls_alpn01_challenge.port): {e}")
                    })?,
                };
                let added = r.add(domain, &key_auth);
                self.alpn = Some(r);
                added?;
                Ok(Presented::Alpn(domain.to_string()))
            }
        }
    }

    fn clean(&self, p: Presented) {
        match p {
            Presented::Http(token) => {
                if let Some(r) = &self.http {
                    r.remove(&token);
                }
            }
            Presented::File(path) => {
                let _ = std::fs::remove_file(path);
            }
            Presented::Alpn(domain) => {
                if let Some(r) = &self.alpn {
                    r.remove(&domain);
                }
            }
        }
    }
}

/// Settles one authorization: nothing if already valid, else its challenge answered and
/// waited for.
fn authorize(
    c: &mut Client,
    solver: &mut Solver<'_>,
    url: &str,
    deadline: Instant,
) -> Result<(), String> {
    let authz = c.authorization(url)?;
    let domain = authz.identifier.value.to_ascii_lowercase();
    match authz.status.as_str() {
        "valid" => return Ok(()),
        "pending" => {}
        other => {
            return Err(format!(
                "{domain}: authorization is {other}: {}",
                authz.why()
            ))
        }
    }
    let ch = solver.pick(&authz).cloned().ok_or_else(|| {
        let offered: Vec<&str> = authz.challenges.iter().map(|c| c.kind.as_str()).collect();
        format!(
            "{domain}: the CA offers {} and none is configured",
            offered.join(", ")
        )
    })?;
    let presented = solver.present(&domain, &ch)?;
    log::debug!("acme: {domain}: answering {} at {}", ch.kind, ch.url);
    let settled = c
        .respond(&ch.url)
        .and_then(|()| c.wait_authorization(url, deadline));
    solver.clean(presented);
    let authz = settled?;
    if authz.status != "valid" {
        return Err(format!("{domain}: {} failed: {}", ch.kind, authz.why()));
    }
    Ok(())
}

/// Obtains a certificate for `entry` and stores it with its key; returns its end.
pub fn obtain(acme: &Acme, entry: &Entry) -> Result<SystemTime, String> {
    store::ensure_dir(&acme.certs_path)?;
    let _lock = store::Lock::acquire(&acme.certs_path)?;
    let deadline = Instant::now() + ORDER_DEADLINE;
    let account = store::AccountFiles::new(acme);
    store::ensure_dir(&account.dir)?;
    let key = account_key(&account.key)?;
    let mut c = Client::connect(&acme.ca_endpoint, roots(acme)?, key)?;
    let kid = c.account(&acme.email)?;
    // lego's account file, so SFTPGo finds the account too; ours is only informative.
    let saved = serde_json::json!({
        "email": acme.email,
        "registration": {"body": {"status": "valid", "contact": [format!("mailto:{}", acme.email)]}, "uri": kid},
    });
    store::write_private(&account.json, format!("{saved:#}\n").as_bytes())?;

    let (order_url, order) = c.new_order(&entry.names)?;
    let mut solver = Solver {
        acme,
        thumbprint: c.key().thumbprint()?,
        http: None,
        alpn: None,
    };
    for url in &order.authorizations {
        authorize(&mut c, &mut solver, url, deadline)?;
    }
    // The responders are no longer needed: free their ports now.
    drop(solver);
    let order = c.wait_order(&order_url, &["pending"], deadline)?;
    if order.status != "ready" {
        return Err(order_failure(&order));
    }
    let (key_pem, csr) = key_and_csr(acme.key_type, &entry.names)?;
    let order = c.finalize(&order.finalize, &csr)?;
    let order = if order.status == "valid" {
        order
    } else {
        c.wait_order(&order_url, &["ready", "processing"], deadline)?
    };
    let cert_url = match (order.status.as_str(), &order.certificate) {
        ("valid", Some(u)) => u.clone(),
        _ => return Err(order_failure(&order)),
    };
    let chain = c.certificate(&cert_url)?;

    // Check the pair before it replaces anything: written beside, then renamed in.
    let files = entry.files(&acme.certs_path);
    let staged = CertFiles {
        cert: files.cert.with_extension("crt.new"),
        key: files.key.with_extension("key.new"),
    };
    store::write_private(&staged.key, key_pem.as_bytes())?;
    store::write_private(&staged.cert, chain.as_bytes())?;
    let checked = check_files(&staged, &entry.names, SystemTime::now());
    let not_after = match checked {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&staged.key);
            let _ = std::fs::remove_file(&staged.cert);
            return Err(format!("the CA's certificate is not usable: {e}"));
        }
    };
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| format!("{}: {e}", to.display()))
    };
    rename(&staged.key, &files.key)?;
    rename(&staged.cert, &files.cert)?;
    log::info!(
        "acme: certificate for {} obtained from {}, valid until {}: {}",
        entry.names.join(", "),
        acme.ca_endpoint,
        fmt_time(not_after),
        files.cert.display()
    );
    Ok(not_after)
}

fn order_failure(order: &client::Order) -> String {
    match &order.error {
        Some(p) => format!("order is {}: {p}", order.status),
        None => format!("order is {}", order.status),
    }
}

/// Daemon start: every certificate that is not usable is obtained now. Failing that for
/// the served (first) one is an error; for the others it is logged and left to renewal.
pub fn at_start(acme: &Acme) -> Result<(), String> {
    for (i, entry) in acme.domains.iter().enumerate() {
        match state(acme, entry, SystemTime::now()) {
            State::Fresh { not_after } | State::Due { not_after } => log::info!(
                "acme: certificate for {} valid until {}",
                entry.names.join(", "),
                fmt_time(not_after)
            ),
            State::Unusable(why) => {
                log::info!(
                    "acme: no usable certificate for {} ({why}): ordering one from {}",
                    entry.names.join(", "),
                    acme.ca_endpoint
                );
                if let Err(e) = obtain(acme, entry) {
                    let msg = format!(
                        "acme: cannot obtain a certificate for {}: {e}",
                        entry.names.join(", ")
                    );
                    if i == 0 {
                        return Err(msg);
                    }
                    log::error!("{msg}; renewal will try again");
                }
            }
        }
    }
    Ok(())
}

/// `--check-config` before the first start: the ACME pair may not exist yet, and is
/// obtained only when the daemon starts. The bindings that would serve it are checked
/// without it; returns the note saying so.
pub fn pending_for_check(config: &mut crate::config::Config) -> Option<String> {
    let served = config.acme.as_ref()?.served()?;
    if served.cert.exists() && served.key.exists() {
        return None;
    }
    for b in &mut config.ftpd.bindings {
        if b.tls.cert.as_ref() == Some(&served) {
            b.tls.cert = None;
        }
    }
    Some(format!(
        "acme: {} is not there yet: it is obtained when the daemon starts",
        served.cert.display()
    ))
}

/// `ferroftpd acme`: obtains or renews, once, every certificate that needs it. Returns how
/// many were obtained; the first error stops.
pub fn run_once(acme: &Acme) -> Result<usize, String> {
    let mut n = 0;
    for entry in &acme.domains {
        match state(acme, entry, SystemTime::now()) {
            State::Fresh { not_after } => log::info!(
                "acme: certificate for {} valid until {}, not due for renewal (renew_days {})",
                entry.names.join(", "),
                fmt_time(not_after),
                acme.renew_days
            ),
            s => {
                match s {
                    State::Due { not_after } => log::info!(
                        "acme: certificate for {} expires on {}: renewing",
                        entry.names.join(", "),
                        fmt_time(not_after)
                    ),
                    _ => log::info!(
                        "acme: no usable certificate for {}: ordering one",
                        entry.names.join(", ")
                    ),
                }
                obtain(acme, entry).map_err(|e| {
                    format!(
                        "acme: cannot obtain a certificate for {}: {e}",
                        entry.names.join(", ")
                    )
                })?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The wait after `failures` failed rounds in a row: from `min(interval, 5 min)`, doubling,
/// up to `max(interval, 1 h)`.
pub fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let first = interval.min(RETRY_FIRST);
    let cap = interval.max(RETRY_CAP_MIN);
    let factor = 1u32 << failures.saturating_sub(1).min(20);
    first.saturating_mul(factor).min(cap)
}

/// Size and modification time of the served files, to notice a replacement made by
/// someone else (`ferroftpd acme` from a script, a copy).
fn stamp(files: &CertFiles) -> Option<[(u64, SystemTime); 2]> {
    let one = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

/// One renewal round: renews what is due or unusable. Returns (whether the served pair
/// changed, the first error).
fn renew_round(acme: &Acme) -> (bool, Option<String>) {
    let mut served_changed = false;
    let mut failure = None;
    for (i, entry) in acme.domains.iter().enumerate() {
        let why = match state(acme, entry, SystemTime::now()) {
            State::Fresh { .. } => continue,
            State::Due { not_after } => format!("expires on {}", fmt_time(not_after)),
            State::Unusable(why) => why,
        };
        log::info!(
            "acme: renewing the certificate for {} ({why})",
            entry.names.join(", ")
        );
        match obtain(acme, entry) {
            Ok(_) => served_changed |= i == 0,
            Err(e) => {
                let keeping = match state(acme, entry, SystemTime::now()) {
                    State::Unusable(_) => "no usable certificate to keep".to_string(),
                    State::Fresh { not_after } | State::Due { not_after } => format!(
                        "keeping the current certificate (valid until {})",
                        fmt_time(not_after)
                    ),
                };
                let msg = format!(
                    "renewal of {} failed, {keeping}: {e}",
                    entry.names.join(", ")
                );
                failure.get_or_insert(msg);
            }
        }
    }
    (served_changed, failure)
}

/// Starts the renewal thread. `reload` puts new files in force (the SIGHUP TLS reload); it
/// runs after a renewal of the served certificate, or when its files changed otherwise.
pub fn spawn_renewal(
    acme: Acme,
    reload: impl Fn() + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("acme-renewal".into())
        .spawn(move || {
            let served = acme.served();
            let mut seen = served.as_ref().and_then(stamp);
            let mut failures = 0u32;
            log::info!(
                "acme: renewal thread started: checks every {}s, renews {} day(s) before expiry",
                acme.check_interval.as_secs(),
                acme.renew_days
            );
            loop {
                let (renewed, failure) = renew_round(&acme);
                let now_stamp = served.as_ref().and_then(stamp);
                if renewed || now_stamp != seen {
                    if !renewed {
                        log::info!("acme: the certificate files changed: reloading");
                    }
                    reload();
                    seen = now_stamp;
                }
                let wait = match failure {
                    None => {
                        failures = 0;
                        acme.check_interval
                    }
                    Some(msg) => {
                        failures = failures.saturating_add(1);
                        let d = retry_delay(acme.check_interval, failures);
                        log::error!(
                            "acme: {msg}; retrying in {}s (attempt {failures})",
                            d.as_secs()
                        );
                        d
                    }
                };
                std::thread::sleep(wait);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_doubles_from_the_interval_or_five_minutes() {
        let s = Duration::from_secs;
        assert_eq!(retry_delay(s(1), 1), s(1));
        assert_eq!(retry_delay(s(1), 2), s(2));
        assert_eq!(retry_delay(s(1), 4), s(8));
        assert_eq!(retry_delay(s(1), 30), s(3600));
        assert_eq!(retry_delay(s(43200), 1), s(300));
        assert_eq!(retry_delay(s(43200), 3), s(1200));
        assert_eq!(retry_delay(s(43200), 99), s(43200));
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(
            fmt_time(UNIX_EPOCH + Duration::from_secs(86_400 + 61)),
            "1970-01-02 00:01:01 UTC"
        );
    }

    #[test]
    fn csr_keys_of_each_kind() {
        for kind in [KeyType::P256, KeyType::P384, KeyType::Rsa2048] {
            let names = vec!["a.example".to_string(), "b.example".to_string()];
            let (pem, csr) = key_and_csr(kind, &names).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            use x509_parser::prelude::FromDer;
            let (_, req) =
                x509_parser::certification_request::X509CertificationRequest::from_der(&csr)
                    .unwrap();
            assert_eq!(
                req.certification_request_info.subject.to_string(),
                "CN=a.example"
            );
        }
    }

    #[test]
    fn state_of_files_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let v = serde_json::json!({"acme": {"domains": ["a.example"], "email": "a@b.c",
            "certs_path": d.path(), "renew_days": 30}});
        let root = crate::config::raw::Obj::root(Path::new("/c/f.json"), &v).unwrap();
        let acme = crate::config::acme::read(&root, Path::new("/c"), &mut Vec::new())
            .unwrap()
            .unwrap();
        let entry = &acme.domains[0];
        assert!(matches!(
            state(&acme, entry, SystemTime::now()),
            State::Unusable(_)
        ));

        // A self-signed pair valid 2020..2040 for a.example.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let cert = p.self_signed(&key).unwrap();
        let files = entry.files(&acme.certs_path);
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        let end = unix(
            crate::util::timefmt::unix_from_civil(&crate::util::timefmt::Civil {
                year: 2040,
                month: 1,
                day: 1,
                hour: 0,
                min: 0,
                sec: 0,
            })
            .unwrap(),
        );
        let day = Duration::from_secs(86_400);
        assert_eq!(
            state(&acme, entry, end - day * 31),
            State::Fresh { not_after: end }
        );
        assert_eq!(
            state(&acme, entry, end - day * 30),
            State::Due { not_after: end }
        );
        assert!(matches!(state(&acme, entry, end), State::Unusable(w) if w.contains("expired")));

        // Another name configured: the certificate does not do.
        let mut other = entry.clone();
        other.names.push("b.example".into());
        assert!(
            matches!(state(&acme, &other, end - day * 100), State::Unusable(w) if w.contains("b.example"))
        );
    }
}
