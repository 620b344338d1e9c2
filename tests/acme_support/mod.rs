//! ACME test support: Let's Encrypt's test CA, Pebble (Debian's `pebble` package), run on
//! loopback with a configuration and an HTTPS certificate of our own, optionally with
//! `pebble-challtestsrv` as its DNS server (every name resolves to 127.0.0.1) so that real
//! HTTP-01 and TLS-ALPN-01 validations reach the daemon's responders; else in Pebble's
//! always-valid mode with a DNS server address nobody answers on, so nothing leaves the
//! host either way. Also: a daemon started by hand with an `acme` section (its first
//! certificate is obtained before it greets, so it gets longer than the usual harness),
//! `ferroftpd acme` runs, and an `AUTH TLS` handshake that verifies the served chain
//! against Pebble's root and returns the served certificate.
//!
//! A missing `pebble` fails the test, saying how to install it. Processes are killed by
//! their PID on drop.
#![allow(dead_code)]

use crate::common::{self, wait_until};
use serde_json::{json, Value};
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name every test certificate is for (resolved by pebble-challtestsrv, or not at all).
pub const DOMAIN: &str = "ftp.acme.test";
pub const EMAIL: &str = "admin@acme.test";
/// How long a daemon may take to obtain its first certificate and greet.
pub const ACME_STARTUP: Duration = Duration::from_secs(90);
/// Deadline for renewals and retries to show in the log.
pub const RENEWAL: Duration = Duration::from_secs(60);

fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

pub fn port() -> u16 {
    common::free_port(localhost())
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// How Pebble validates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// `PEBBLE_VA_ALWAYS_VALID=1`: no challenge is checked.
    AlwaysValid,
    /// Real HTTP-01 / TLS-ALPN-01 checks against `http_port` / `tls_port` on 127.0.0.1.
    Real,
}

/// A running Pebble (and pebble-challtestsrv for real validations).
pub struct Pebble {
    pub dir: tempfile::TempDir,
    pebble: Option<Child>,
    challtestsrv: Option<Child>,
    /// The ACME directory URL.
    pub directory: String,
    mgmt: SocketAddr,
    /// The CA of Pebble's own HTTPS certificate: `acme.ca_certificates`.
    pub https_ca: PathBuf,
    /// Where Pebble checks HTTP-01 and TLS-ALPN-01 (the daemon's challenge ports).
    pub http_port: u16,
    pub tls_port: u16,
    pub log_path: PathBuf,
}

impl Pebble {
    pub fn start(validation: Validation) -> Pebble {
        assert!(
            common::have_tool("pebble"),
            "pebble not found: the ACME tests need Let's Encrypt's test CA; install it with \
             `apt-get install -y pebble` (.ci/run does)"
        );
        let mut dir = tempfile::tempdir().unwrap();
        // Traversable and readable, so a daemon that dropped privileges reads the CA file.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let (https_ca, cert, key) = https_pki(dir.path());
        let (http_port, tls_port) = (port(), port());
        let log_path = dir.path().join("pebble.log");
        let mut challtestsrv = None;
        let dns = port();
        if validation == Validation::Real {
            assert!(
                common::have_tool("pebble-challtestsrv"),
                "pebble-challtestsrv not found: it comes with Debian's pebble package"
            );
            let child = Command::new("pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{}", port())])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .stdin(Stdio::null())
                .stdout(fs::File::create(dir.path().join("challtestsrv.log")).unwrap())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            challtestsrv = Some(child);
        }
        for attempt in 0..5 {
            let (listen, mgmt) = (port(), port());
            let config = json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{mgmt}"),
                "certificate": cert, "privateKey": key,
                "httpPort": http_port, "tlsPort": tls_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": false
            }});
            let config_path = dir.path().join("pebble-config.json");
            fs::write(&config_path, config.to_string()).unwrap();
            let mut cmd = Command::new("pebble");
            cmd.arg("-config")
                .arg(&config_path)
                // Without challtestsrv this address has no DNS server: no lookup leaves.
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(fs::File::create(&log_path).unwrap())
                .stderr(fs::File::create(dir.path().join("pebble.err")).unwrap());
            if validation == Validation::AlwaysValid {
                cmd.env("PEBBLE_VA_ALWAYS_VALID", "1");
            }
            let child = cmd.spawn().unwrap();
            let mut p = Pebble {
                pebble: Some(child),
                challtestsrv: None,
                directory: format!("https://127.0.0.1:{listen}/dir"),
                mgmt: SocketAddr::new(localhost(), mgmt),
                https_ca: https_ca.clone(),
                http_port,
                tls_port,
                log_path: log_path.clone(),
                dir,
            };
            let up = wait_until(Duration::from_secs(20), || {
                let exited = p.pebble.as_mut().and_then(|c| c.try_wait().ok().flatten());
                if exited.is_some() {
                    return Some(false);
                }
                let ok = [listen, mgmt].iter().all(|port| {
                    TcpStream::connect_timeout(
                        &SocketAddr::new(localhost(), *port),
                        Duration::from_millis(200),
                    )
                    .is_ok()
                });
                ok.then_some(true)
            });
            if up == Some(true) {
                p.challtestsrv = challtestsrv;
                if validation == Validation::Real {
                    p.wait_dns(dns);
                }
                return p;
            }
            let logs = p.logs();
            kill(&mut p.pebble);
            assert!(
                logs.contains("address already in use") && attempt < 4,
                "pebble did not start:\n{logs}"
            );
            dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
        }
        unreachable!("the loop returns or panics")
    }

    /// pebble-challtestsrv listens on its DNS port (TCP as well as UDP).
    fn wait_dns(&self, dns: u16) {
        let up = wait_until(Duration::from_secs(20), || {
            TcpStream::connect_timeout(
                &SocketAddr::new(localhost(), dns),
                Duration::from_millis(200),
            )
            .ok()
        });
        assert!(up.is_some(), "pebble-challtestsrv did not listen on {dns}");
    }

    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            fs::read_to_string(&self.log_path).unwrap_or_default(),
            fs::read_to_string(self.dir.path().join("pebble.err")).unwrap_or_default()
        )
    }

    /// Pebble's root CA (regenerated at each start), as PEM, from its management interface.
    pub fn root_pem(&self) -> String {
        let out = common::tool("curl", "apt-get install -y curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&self.https_ca)
            .arg(format!("https://{}/roots/0", self.mgmt))
            .output()
            .unwrap();
        let pem = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && pem.contains("BEGIN CERTIFICATE"),
            "fetching Pebble's root: {}\n{pem}",
            String::from_utf8_lossy(&out.stderr)
        );
        pem
    }

    /// Pebble's root written to `dir/pebble-root.pem`.
    pub fn write_root(&self, dir: &Path) -> PathBuf {
        let p = dir.join("pebble-root.pem");
        fs::write(&p, self.root_pem()).unwrap();
        p
    }

    /// Stops Pebble (by its PID): the CA is gone.
    pub fn stop(&mut self) {
        kill(&mut self.pebble);
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        kill(&mut self.pebble);
        kill(&mut self.challtestsrv);
    }
}

/// A CA and a certificate for 127.0.0.1 for Pebble's HTTPS: (CA file, cert file, key file).
fn https_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "pebble https test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let files = (
        dir.join("https-ca.pem"),
        dir.join("https-cert.pem"),
        dir.join("https-key.pem"),
    );
    fs::write(&files.0, issuer.pem()).unwrap();
    fs::write(&files.1, cert.pem()).unwrap();
    fs::write(&files.2, key.serialize_pem()).unwrap();
    fs::set_permissions(&files.0, fs::Permissions::from_mode(0o644)).unwrap();
    files
}

/// The daemon configuration: one binding (TLS optional), no passive range, and an `acme`
/// section for [`DOMAIN`] at `pebble` (P-256 keys, checks every second).
pub fn config(pebble: &Pebble) -> Value {
    let mut c = common::base_config();
    common::json_set(
        &mut c,
        "/acme",
        json!({
            "domains": [DOMAIN],
            "email": EMAIL,
            "key_type": "P256",
            "ca_endpoint": pebble.directory,
            "ca_certificates": [pebble.https_ca],
            "renew_days": 30,
            "check_interval_seconds": 1,
            "http01_challenge": {"port": pebble.http_port},
            "tls_alpn01_challenge": {"port": 0}
        }),
    );
    c
}

/// A config file, a users file and a home in a fresh directory (0755: a daemon that drops
/// privileges must reach its certs directory).
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub port: u16,
}

impl Setup {
    pub fn new(mut config: Value) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let mut user = common::user_json(common::USER);
        user["home_dir"] = json!(home);
        fs::write(
            dir.path().join("users.json"),
            json!({ "users": [user] }).to_string(),
        )
        .unwrap();
        let port = port();
        common::json_set(&mut config, "/ftpd/bindings/0/port", json!(port));
        let config_path = dir.path().join("ferroftpd.json");
        fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        Setup {
            dir,
            config_path,
            port,
        }
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
    pub fn cert(&self) -> PathBuf {
        self.certs().join(format!("{DOMAIN}.crt"))
    }
    pub fn key(&self) -> PathBuf {
        self.certs().join(format!("{DOMAIN}.key"))
    }

    /// Runs `ferroftpd ARGS --config FILE` to its end (bounded).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut child = Command::new(common::bin())
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .current_dir("/")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if wait_until(ACME_STARTUP, || child.try_wait().unwrap()).is_none() {
            let _ = child.kill();
        }
        child.wait_with_output().unwrap()
    }
}

/// A daemon with an `acme` section, killed by its PID on drop.
pub struct Daemon {
    pub setup: Setup,
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log_path: PathBuf,
}

impl Daemon {
    /// Starts it (extra arguments after `--config FILE`) and waits for its greeting, which
    /// comes once the first certificate is there.
    pub fn start(setup: Setup, args: &[&str], keep_root_env: bool) -> Daemon {
        let log_path = setup.dir.path().join("ferroftpd.log");
        let mut cmd = Command::new(common::bin());
        cmd.arg("--config")
            .arg(&setup.config_path)
            .args(args)
            .current_dir("/")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log_path).unwrap());
        if !keep_root_env {
            cmd.env_remove("FERROFTPD_RUN_AS_ROOT");
        }
        let child = cmd.spawn().unwrap();
        let addr = SocketAddr::new(localhost(), setup.port);
        let mut d = Daemon {
            setup,
            child: Some(child),
            addr,
            log_path,
        };
        let deadline = Instant::now() + ACME_STARTUP;
        loop {
            if let Some(st) = d.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("ferroftpd exited at startup with {st}; log:\n{}", d.log());
            }
            if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                let mut c = common::Ctrl::from_stream(s);
                if c.try_reply().is_some_and(|r| r.code == 220) {
                    c.send("QUIT");
                    let _ = c.try_reply();
                    return d;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ferroftpd did not greet within {ACME_STARTUP:?}; log:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// How many log lines contain every one of `parts`.
    pub fn count(&self, parts: &[&str]) -> usize {
        self.log()
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// Waits until at least `n` log lines contain every one of `parts`.
    pub fn wait_count(&self, parts: &[&str], n: usize) {
        let ok = wait_until(RENEWAL, || (self.count(parts) >= n).then_some(()));
        assert!(
            ok.is_some(),
            "fewer than {n} log lines with {parts:?} within {RENEWAL:?}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Connects, upgrades with `AUTH TLS` and completes the handshake for [`DOMAIN`], verifying
/// the chain against `root` (Pebble's root, PEM). Returns the served leaf (DER), or why the
/// handshake failed.
pub fn served_certificate(addr: SocketAddr, root: &Path) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(root).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut s = TcpStream::connect_timeout(&addr, common::IO_TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    let line = |s: &mut TcpStream| -> String {
        // Byte by byte: nothing after the reply may be read before the handshake.
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        while !out.ends_with(b"\r\n") {
            match s.read(&mut b) {
                Ok(1) => out.push(b[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let greeting = line(&mut s);
    assert!(greeting.starts_with("220 "), "greeting {greeting:?}");
    s.write_all(b"AUTH TLS\r\n").unwrap();
    let auth = line(&mut s);
    assert!(auth.starts_with("234 "), "AUTH TLS: {auth:?}");
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from(DOMAIN).unwrap())
            .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut s).map_err(|e| e.to_string())?;
    }
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or("no certificate")?;
    conn.send_close_notify();
    let _ = conn.complete_io(&mut s);
    Ok(leaf)
}

/// The leaf (first) certificate of a PEM file, DER.
pub fn file_leaf(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let c = CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap_or_else(|| panic!("{}: no certificate", path.display()))
        .unwrap();
    c.as_ref().to_vec()
}

/// The serial number of a DER certificate, hex.
pub fn serial(der: &[u8]) -> String {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    c.raw_serial_as_string()
}

/// Permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
