//! FTPS test support (RFC 4217), beside the plain harness in `tests/common`: a throw-away PKI
//! made with rcgen (CAs, server and client certificates, CRLs, written as PEM files), FTPS
//! config fragments, a raw control/data client over rustls (explicit `AUTH TLS` or implicit),
//! the TLS set-ups of the real clients (curl, lftp, Python's `ftplib.FTP_TLS`), SIGHUP and
//! `ferroftpd -n` runs.
//!
//! Everything works on the daemon started by `common::Server`; implicit TLS (tls_mode 2) is
//! a second binding of such a server, because the harness waits for a clear 220 greeting on
//! the first binding.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned};
use serde_json::{json, Value};

use crate::common::*;

// ---------------------------------------------------------------------------------------
// PKI
// ---------------------------------------------------------------------------------------

/// A certificate and its key as PEM files, plus what tests compare and revoke by.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
    pub serial: Vec<u8>,
}

impl CertFiles {
    pub fn cert_str(&self) -> &str {
        self.cert.to_str().unwrap()
    }
    pub fn key_str(&self) -> &str {
        self.key.to_str().unwrap()
    }
    /// The certificate as PEM text (for `filters.tls_certs`).
    pub fn pem(&self) -> String {
        fs::read_to_string(&self.cert).unwrap()
    }
}

/// A test PKI in its own temporary directory: a CA (`ca.pem`) with a server certificate for
/// 127.0.0.1 and localhost, a second unrelated CA, and client certificates and CRLs made on
/// demand. Every file path is absolute.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    other_ca: CertifiedIssuer<'static, KeyPair>,
    /// The CA that signs the server and the client certificates.
    pub ca_pem: PathBuf,
    /// A CA the daemon does not know.
    pub other_ca_pem: PathBuf,
    /// Server certificate (CN `<label> server`, SANs 127.0.0.1 and localhost) and key.
    pub server: CertFiles,
    serial: AtomicU64,
    crl_number: AtomicU64,
}

/// Valid from 2020 until far in the future.
fn long_validity(p: &mut CertificateParams) {
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(4000, 1, 1);
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    long_validity(&mut p);
    p
}

impl Pki {
    /// `label` goes into every subject, so two PKIs' certificates are told apart.
    pub fn new(label: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertifiedIssuer::self_signed(
            ca_params(&format!("{label} CA")),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let other_ca = CertifiedIssuer::self_signed(
            ca_params(&format!("{label} other CA")),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let ca_pem = dir.path().join("ca.pem");
        fs::write(&ca_pem, ca.pem()).unwrap();
        let other_ca_pem = dir.path().join("other-ca.pem");
        fs::write(&other_ca_pem, other_ca.pem()).unwrap();
        let mut pki = Pki {
            dir,
            ca,
            other_ca,
            ca_pem,
            other_ca_pem,
            server: CertFiles {
                cert: PathBuf::new(),
                key: PathBuf::new(),
                der: Vec::new(),
                serial: Vec::new(),
            },
            serial: AtomicU64::new(1),
            crl_number: AtomicU64::new(1),
        };
        pki.server = pki.server_cert("server", &format!("{label} server"));
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn ca_str(&self) -> &str {
        self.ca_pem.to_str().unwrap()
    }

    fn next_serial(&self) -> Vec<u8> {
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        // A leading 0x40 keeps the DER integer positive and minimal.
        vec![0x40, (n >> 8) as u8, n as u8]
    }

    fn issue(
        &self,
        file: &str,
        mut p: CertificateParams,
        by_other_ca: bool,
        validity: Option<(i32, i32)>,
        key: Option<KeyPair>,
    ) -> CertFiles {
        let serial = self.next_serial();
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        p.use_authority_key_identifier_extension = true;
        match validity {
            Some((from, until)) => {
                p.not_before = date_time_ymd(from, 1, 1);
                p.not_after = date_time_ymd(until, 1, 1);
            }
            None => long_validity(&mut p),
        }
        let key = key.unwrap_or_else(|| KeyPair::generate().unwrap());
        let issuer = if by_other_ca {
            &self.other_ca
        } else {
            &self.ca
        };
        let cert = p.signed_by(&key, issuer).unwrap();
        let files = CertFiles {
            cert: self.path(&format!("{file}.pem")),
            key: self.path(&format!("{file}.key")),
            der: cert.der().to_vec(),
            serial,
        };
        fs::write(&files.cert, cert.pem()).unwrap();
        fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    /// A server certificate signed by the CA for 127.0.0.1 and localhost, subject CN `cn`
    /// (ECDSA P-256 key in PKCS#8).
    pub fn server_cert(&self, file: &str, cn: &str) -> CertFiles {
        self.server_cert_with_key(file, cn, KeyPair::generate().unwrap())
    }
    /// Like [`Pki::server_cert`] with a 2048-bit RSA key (PKCS#8).
    pub fn server_cert_rsa(&self, file: &str, cn: &str) -> CertFiles {
        let key =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        self.server_cert_with_key(file, cn, key)
    }
    fn server_cert_with_key(&self, file: &str, cn: &str, key: KeyPair) -> CertFiles {
        let mut p =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(file, p, false, None, Some(key))
    }

    fn client_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p
    }

    /// A valid client certificate with Common Name `cn`, signed by the CA.
    pub fn client(&self, file: &str, cn: &str) -> CertFiles {
        self.issue(file, Pki::client_params(cn), false, None, None)
    }
    /// A client certificate of the CA that expired in 2001.
    pub fn client_expired(&self, file: &str, cn: &str) -> CertFiles {
        self.issue(
            file,
            Pki::client_params(cn),
            false,
            Some((2000, 2001)),
            None,
        )
    }
    /// A client certificate signed by the CA the daemon does not know.
    pub fn client_other_ca(&self, file: &str, cn: &str) -> CertFiles {
        self.issue(file, Pki::client_params(cn), true, None, None)
    }

    /// Writes a CRL of the CA (PEM) listing `revoked` to `file`, with a growing CRL number.
    pub fn write_crl(&self, file: &str, revoked: &[&CertFiles]) -> PathBuf {
        let crl = self.crl(revoked);
        let path = self.path(file);
        fs::write(&path, crl.pem().unwrap()).unwrap();
        path
    }
    /// [`Pki::write_crl`] in DER form.
    pub fn write_crl_der(&self, file: &str, revoked: &[&CertFiles]) -> PathBuf {
        let crl = self.crl(revoked);
        let path = self.path(file);
        fs::write(&path, crl.der()).unwrap();
        path
    }
    fn crl(&self, revoked: &[&CertFiles]) -> rcgen::CertificateRevocationList {
        let n = self.crl_number.fetch_add(1, Ordering::SeqCst);
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2021, 1, 1),
            next_update: date_time_ymd(4000, 1, 1),
            crl_number: SerialNumber::from(n),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|c| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&c.serial),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.ca).unwrap()
    }
}

/// The key of `from` rewritten by `openssl pkey -traditional` (PKCS#1 for RSA, SEC1 for
/// EC) into `file` beside it; returns the pair with that key.
pub fn traditional_key(from: &CertFiles, file: &str) -> CertFiles {
    let out_path = from.key.with_file_name(file);
    let mut cmd = tool("openssl", "apt-get install -y openssl");
    cmd.args(["pkey", "-traditional", "-in"])
        .arg(&from.key)
        .arg("-out")
        .arg(&out_path);
    let out = run_bounded(&mut cmd, from.key.parent().unwrap());
    assert!(
        out.status.success(),
        "openssl pkey -traditional: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    CertFiles {
        key: out_path,
        ..from.clone()
    }
}

/// Copies a certificate pair to `cert`/`key` (the files a config names), replacing them.
pub fn install_pair(from: &CertFiles, cert: &Path, key: &Path) {
    fs::copy(&from.cert, cert).unwrap();
    fs::copy(&from.key, key).unwrap();
}

// ---------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------

/// Server options with the PKI's server certificate as `ftpd.certificate_file`/
/// `certificate_key_file` and binding 0 in `tls_mode` `mode`.
pub fn tls_opts(pki: &Pki, mode: u8) -> ServerOpts {
    ServerOpts::new()
        .ftpd("certificate_file", pki.server.cert_str())
        .ftpd("certificate_key_file", pki.server.key_str())
        .binding("tls_mode", mode)
}

/// Adds client-certificate checking: `ca_certificates` = the PKI's CA, `client_auth_type`
/// `auth` on binding 0, and `ca_revocation_lists` = `crls`.
pub fn with_client_auth(opts: ServerOpts, pki: &Pki, auth: u8, crls: &[&Path]) -> ServerOpts {
    let crls: Vec<String> = crls
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    opts.ftpd("ca_certificates", json!([pki.ca_str()]))
        .ftpd("ca_revocation_lists", json!(crls))
        .binding("client_auth_type", auth)
}

/// Binding 0 as the harness needs it (clear greeting, `tls_mode` 0) plus binding 1 in
/// implicit TLS on `port` with `extra` keys. Returns the options (binding 1 is `port`).
pub fn with_implicit_binding(opts: ServerOpts, port: u16, extra: Value) -> ServerOpts {
    let mut b1 = json!({"address": "127.0.0.1", "port": port, "tls_mode": 2});
    if let (Some(o), Some(e)) = (b1.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    opts.ftpd(
        "bindings",
        json!([{"address": "127.0.0.1", "port": 2121, "tls_mode": 0}, b1]),
    )
}

/// A users-file entry like [`user_json`] with extra `filters` keys.
pub fn user_with_filters(name: &str, filters: Value) -> Value {
    let mut u = user_json(name);
    if let (Some(f), Some(extra)) = (u["filters"].as_object_mut(), filters.as_object()) {
        for (k, v) in extra {
            f.insert(k.clone(), v.clone());
        }
    }
    u
}

/// `ferroftpd -n --config FILE` on `config` (users: the default user) in a fresh
/// directory; returns the output. `ServerOpts` paths relative to that directory work.
pub fn check_config(config: &Value) -> (Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let mut u = user_json(USER);
    u["home_dir"] = json!(home);
    fs::write(
        dir.path().join("users.json"),
        serde_json::to_vec_pretty(&json!({"users": [u]})).unwrap(),
    )
    .unwrap();
    let path = dir.path().join("ferroftpd.json");
    fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("-n").arg("--config").arg(&path).current_dir("/");
    let out = run_bounded(&mut cmd, dir.path());
    (out, path, dir)
}

// ---------------------------------------------------------------------------------------
// Signals and logs
// ---------------------------------------------------------------------------------------

/// `kill -HUP <daemon pid>`, then wait for the users reload line that ends a reload (it is
/// logged after every binding's TLS outcome); returns the log lines of this reload.
pub fn sighup(s: &Server) -> Vec<String> {
    let before = s.log().lines().count();
    let done_before = reload_done_count(&s.log());
    let st = tool("kill", "procps (apt-get install -y procps)")
        .arg("-HUP")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -HUP {} failed", s.pid());
    wait_until(SOON, || {
        (reload_done_count(&s.log()) > done_before).then_some(())
    })
    .unwrap_or_else(|| panic!("no reload line after SIGHUP; log:\n{}", s.log()));
    s.log()
        .lines()
        .skip(before)
        .filter(|l| l.contains("reload:"))
        .map(str::to_string)
        .collect()
}

fn reload_done_count(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.contains("reload:")
                && (l.contains("user(s) loaded") || l.contains("keeping the old users"))
        })
        .count()
}

// ---------------------------------------------------------------------------------------
// rustls client
// ---------------------------------------------------------------------------------------

/// How a raw client speaks TLS.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// Trusted root (the PKI's CA file).
    pub ca: PathBuf,
    /// Client certificate to present.
    pub cert: Option<CertFiles>,
    /// Offer TLS 1.2 only.
    pub tls12_only: bool,
    /// Never resume sessions (like Python's ftplib on data connections).
    pub no_resumption: bool,
}

impl ClientTls {
    pub fn new(ca: &Path) -> ClientTls {
        ClientTls {
            ca: ca.to_path_buf(),
            ..ClientTls::default()
        }
    }
    pub fn cert(mut self, c: &CertFiles) -> ClientTls {
        self.cert = Some(c.clone());
        self
    }
    pub fn tls12_only(mut self) -> ClientTls {
        self.tls12_only = true;
        self
    }
    pub fn no_resumption(mut self) -> ClientTls {
        self.no_resumption = true;
        self
    }
    pub fn config(&self) -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let versions: &[&'static rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match &self.cert {
            Some(c) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_file(&c.key).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        if self.no_resumption {
            config.resumption = Resumption::disabled();
        }
        Arc::new(config)
    }
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("127.0.0.1").unwrap()
}

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A control or data stream: clear, or TLS over TCP.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
    /// Only while switching from one to the other.
    Gone,
}

impl Conn {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => &t.sock,
            Conn::Gone => panic!("stream gone"),
        }
    }
    pub fn tls(&self) -> Option<&ClientConnection> {
        match self {
            Conn::Tls(t) => Some(&t.conn),
            _ => None,
        }
    }
    /// Wraps a TCP stream in TLS and runs the handshake to its end.
    pub fn start_tls(tcp: TcpStream, config: &Arc<ClientConfig>) -> io::Result<Conn> {
        let conn = ClientConnection::new(Arc::clone(config), server_name())
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        let mut t = StreamOwned::new(conn, tcp);
        while t.conn.is_handshaking() {
            t.conn.complete_io(&mut t.sock)?;
        }
        Ok(Conn::Tls(Box::new(t)))
    }
    /// Ends the stream the way a good client does: close_notify (TLS), then FIN.
    pub fn finish(&mut self) {
        if let Conn::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.conn.complete_io(&mut t.sock);
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
            Conn::Gone => Err(io::Error::other("stream gone")),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
            Conn::Gone => Err(io::Error::other("stream gone")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
            Conn::Gone => Ok(()),
        }
    }
}

/// Reads one FTP reply (RFC 959 4.2: `ddd text` or `ddd-` ... `ddd text`) from `r`.
/// Ok(None) on a clean EOF before the reply; Err on an I/O or TLS error.
pub fn read_reply<R: BufRead>(r: &mut R, last: &str) -> io::Result<Option<Reply>> {
    fn line<R: BufRead>(r: &mut R, last: &str) -> io::Result<Option<String>> {
        let mut buf = Vec::new();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        let s = String::from_utf8_lossy(&buf).into_owned();
        assert!(
            s.ends_with("\r\n"),
            "reply line to {last:?} not CRLF-terminated: {s:?}"
        );
        Ok(Some(s.trim_end_matches("\r\n").to_string()))
    }
    let Some(first) = line(r, last)? else {
        return Ok(None);
    };
    let code: u16 = first
        .get(..3)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad reply line to {last:?}: {first:?}"));
    let mut lines = vec![first.clone()];
    if first.as_bytes().get(3) == Some(&b'-') {
        let end = format!("{code} ");
        loop {
            let l =
                line(r, last)?.unwrap_or_else(|| panic!("EOF inside multi-line reply: {lines:?}"));
            let done = l.starts_with(&end) || l == end.trim_end();
            lines.push(l);
            if done {
                return Ok(Some(Reply { code, lines }));
            }
            assert!(lines.len() < 100_000, "multi-line reply never ended");
        }
    }
    assert!(
        first.len() == 3 || first.as_bytes()[3] == b' ',
        "reply to {last:?} lacks the space after the code: {first:?}"
    );
    Ok(Some(Reply { code, lines }))
}

/// A raw FTP control connection that can switch to TLS (`AUTH TLS`) or start in it
/// (implicit), with passive data connections protected or not per `PROT`.
pub struct TlsCtrl {
    reader: BufReader<Conn>,
    pub addr: SocketAddr,
    /// The client's side of the control connection (the daemon logs it as `IP:PORT`).
    pub local: SocketAddr,
    config: Arc<ClientConfig>,
    data_config: Arc<ClientConfig>,
    pub greeting: Reply,
    /// PROT P is in force (set by [`TlsCtrl::prot`]).
    pub protected: bool,
    /// How the last TLS data connection's handshake went.
    pub last_data_handshake: Option<HandshakeKind>,
    /// The 150 of the last transfer, None when it was refused outright.
    pub last_prelim: Option<Reply>,
    last: String,
}

fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

impl TlsCtrl {
    fn new(conn: Conn, addr: SocketAddr, tls: &ClientTls) -> TlsCtrl {
        let local = conn.tcp().local_addr().unwrap();
        let config = tls.config();
        TlsCtrl {
            reader: BufReader::new(conn),
            addr,
            local,
            data_config: Arc::clone(&config),
            config,
            greeting: Reply {
                code: 0,
                lines: Vec::new(),
            },
            protected: false,
            last_data_handshake: None,
            last_prelim: None,
            last: "(connect)".into(),
        }
    }

    /// Clear connection; the 220 greeting is read and checked.
    pub fn connect(addr: SocketAddr, tls: &ClientTls) -> TlsCtrl {
        let mut c = TlsCtrl::new(Conn::Plain(tcp_connect(addr)), addr, tls);
        c.greeting = c.reply();
        assert_eq!(c.greeting.code, 220, "greeting: {:?}", c.greeting);
        c
    }

    /// Implicit TLS: the handshake first, then the 220 greeting inside TLS.
    pub fn try_connect_implicit(addr: SocketAddr, tls: &ClientTls) -> Result<TlsCtrl, String> {
        let config = tls.config();
        let conn = Conn::start_tls(tcp_connect(addr), &config).map_err(|e| e.to_string())?;
        let mut c = TlsCtrl::new(conn, addr, tls);
        c.config = Arc::clone(&config);
        c.data_config = config;
        c.greeting = c.try_reply()?;
        assert_eq!(c.greeting.code, 220, "greeting: {:?}", c.greeting);
        Ok(c)
    }
    pub fn connect_implicit(addr: SocketAddr, tls: &ClientTls) -> TlsCtrl {
        TlsCtrl::try_connect_implicit(addr, tls)
            .unwrap_or_else(|e| panic!("implicit TLS to {addr} failed: {e}"))
    }

    /// Clear connection whose TLS uses `config`, the configuration (and so the session
    /// tickets) of an earlier connection ([`TlsCtrl::client_config`]).
    pub fn connect_with(addr: SocketAddr, tls: &ClientTls, config: Arc<ClientConfig>) -> TlsCtrl {
        let mut c = TlsCtrl::connect(addr, tls);
        c.data_config = Arc::clone(&config);
        c.config = config;
        c
    }
    /// This connection's client configuration, with the sessions it was given.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// Data connections use `tls` from now on (e.g. one that never resumes).
    pub fn set_data_tls(&mut self, tls: &ClientTls) {
        self.data_config = tls.config();
    }

    /// Data connections use the control connection's configuration (and tickets) again.
    pub fn reset_data_tls(&mut self) {
        self.data_config = Arc::clone(&self.config);
    }
    /// Data connections resume with `other`'s tickets instead of this session's.
    pub fn set_data_config_of(&mut self, other: &TlsCtrl) {
        self.data_config = Arc::clone(&other.config);
    }

    pub fn send(&mut self, line: &str) {
        self.last = line.chars().take(80).collect();
        let w = self.reader.get_mut();
        w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        w.flush().unwrap();
    }
    /// Like [`TlsCtrl::send`] but a write error (the peer already hung up) is fine.
    pub fn send_lenient(&mut self, line: &str) {
        self.last = line.into();
        let w = self.reader.get_mut();
        let _ = w
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|_| w.flush());
    }
    /// The next reply, or Err(why) on EOF or an I/O/TLS error.
    pub fn try_reply(&mut self) -> Result<Reply, String> {
        match read_reply(&mut self.reader, &self.last) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(format!(
                "connection closed before a reply to {:?}",
                self.last
            )),
            Err(e) => Err(format!("error reading the reply to {:?}: {e}", self.last)),
        }
    }
    pub fn reply(&mut self) -> Reply {
        self.try_reply().unwrap_or_else(|e| panic!("{e}"))
    }
    pub fn expect(&mut self, code: u16) -> String {
        let r = self.reply();
        assert_eq!(r.code, code, "reply to {:?}: {:?}", self.last, r.lines);
        r.text()
    }
    pub fn cmd(&mut self, line: &str, code: u16) -> String {
        self.send(line);
        self.expect(code)
    }
    pub fn ask(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }
    pub fn login(&mut self, user: &str, pass: &str) {
        self.cmd(&format!("USER {user}"), 331);
        self.cmd(&format!("PASS {pass}"), 230);
    }

    /// `AUTH <mech>` -> 234, then the handshake. Err(why) when the handshake fails.
    pub fn try_auth_with(&mut self, mech: &str) -> Result<(), String> {
        self.cmd(&format!("AUTH {mech}"), 234);
        let old = std::mem::replace(&mut self.reader, BufReader::new(Conn::Gone));
        assert!(
            old.buffer().is_empty(),
            "bytes after 234 before the TLS handshake: {:?}",
            String::from_utf8_lossy(old.buffer())
        );
        let Conn::Plain(tcp) = old.into_inner() else {
            panic!("AUTH on a connection already in TLS")
        };
        let conn = Conn::start_tls(tcp, &self.config).map_err(|e| e.to_string())?;
        self.reader = BufReader::new(conn);
        Ok(())
    }
    /// `AUTH TLS` and a handshake that must succeed.
    pub fn auth(&mut self) {
        self.try_auth_with("TLS")
            .unwrap_or_else(|e| panic!("TLS handshake after AUTH TLS failed: {e}"));
    }
    /// `PBSZ 0` (must answer `200 PBSZ=0`) and `PROT P`.
    pub fn prot_p(&mut self) {
        let t = self.cmd("PBSZ 0", 200);
        assert!(t.contains("PBSZ=0"), "PBSZ reply: {t:?}");
        self.cmd("PROT P", 200);
        self.protected = true;
    }
    /// `PROT C` accepted: data in clear.
    pub fn prot_c(&mut self) {
        self.cmd("PROT C", 200);
        self.protected = false;
    }

    pub fn tls(&self) -> Option<&ClientConnection> {
        self.reader.get_ref().tls()
    }
    /// DER of the certificate the server presented.
    pub fn server_certificate(&self) -> Vec<u8> {
        let c = self.tls().expect("no TLS on the control connection");
        c.peer_certificates().unwrap()[0].as_ref().to_vec()
    }

    /// PASV: address of the data port.
    pub fn pasv(&mut self) -> SocketAddr {
        let t = self.cmd("PASV", 227);
        parse_227(&t)
    }
    /// A passive data connection (TCP only; TLS starts after the 150).
    pub fn open_data(&mut self) -> TcpStream {
        let a = self.pasv();
        tcp_connect(a)
    }
    /// Wraps a data connection in TLS when PROT P is in force; records the handshake kind.
    fn data_stream(&mut self, tcp: TcpStream) -> io::Result<Conn> {
        if !self.protected {
            return Ok(Conn::Plain(tcp));
        }
        let c = Conn::start_tls(tcp, &self.data_config)?;
        self.last_data_handshake = c.tls().and_then(|t| t.handshake_kind());
        Ok(c)
    }

    /// A download-type command (RETR, LIST, NLST, MLSD) over a fresh passive connection;
    /// Err(reply) on a refusal (no 150) or a final reply other than 226.
    pub fn try_get(&mut self, line: &str) -> Result<Vec<u8>, Reply> {
        let tcp = self.open_data();
        self.send(line);
        let r = self.reply();
        if r.code != 150 && r.code != 125 {
            self.last_prelim = None;
            return Err(r);
        }
        self.last_prelim = Some(r.clone());
        let mut buf = Vec::new();
        // A refused data connection (reuse check) ends with an error here; the control
        // reply says why.
        if let Ok(mut d) = self.data_stream(tcp) {
            let _ = d.read_to_end(&mut buf);
        }
        let done = self.reply();
        if done.code != 226 {
            return Err(done);
        }
        Ok(buf)
    }
    pub fn get(&mut self, line: &str) -> Vec<u8> {
        self.try_get(line)
            .unwrap_or_else(|r| panic!("{line} failed: {:?}", r.lines))
    }
    /// An upload-type command (STOR, APPE, STOU); Err(reply) as for [`TlsCtrl::try_get`].
    pub fn try_put(&mut self, line: &str, bytes: &[u8]) -> Result<Reply, Reply> {
        let tcp = self.open_data();
        self.send(line);
        let r = self.reply();
        if r.code != 150 && r.code != 125 {
            self.last_prelim = None;
            return Err(r);
        }
        self.last_prelim = Some(r.clone());
        if let Ok(mut d) = self.data_stream(tcp) {
            if d.write_all(bytes).and_then(|_| d.flush()).is_ok() {
                d.finish();
                let mut sink = Vec::new();
                let _ = d.read_to_end(&mut sink);
            }
        }
        let done = self.reply();
        if done.code != 226 {
            return Err(done);
        }
        Ok(done)
    }
    pub fn put(&mut self, line: &str, bytes: &[u8]) {
        if let Err(r) = self.try_put(line, bytes) {
            panic!("{line} failed: {:?}", r.lines);
        }
    }
}

/// A TLS connection attempt that the server must refuse: AUTH TLS (or implicit TLS), then
/// `probe`; returns the client-side error. Panics if `probe` gets a reply.
pub fn expect_tls_refused(addr: SocketAddr, tls: &ClientTls, probe: &str) -> (String, SocketAddr) {
    let mut c = TlsCtrl::connect(addr, tls);
    let local = c.local;
    if let Err(e) = c.try_auth_with("TLS") {
        return (e, local);
    }
    // TLS 1.3: the server judges the client certificate after the client's Finished, so
    // the refusal arrives as an alert on the next read.
    c.send_lenient(probe);
    match c.try_reply() {
        Ok(r) => panic!(
            "TLS with {:?} should have been refused; {probe} got {r:?}",
            tls.cert
        ),
        Err(e) => (e, local),
    }
}

// ---------------------------------------------------------------------------------------
// Real clients
// ---------------------------------------------------------------------------------------

/// Fails with the tool's output and the daemon log unless it exited 0.
pub fn assert_success(what: &str, out: &Output, s: &Server) {
    assert!(
        out.status.success(),
        "{what}\nexited {}\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

/// Fails unless the tool exited non-zero.
pub fn assert_failure(what: &str, out: &Output, s: &Server) {
    assert!(
        !out.status.success(),
        "{what} should have failed\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

/// curl with the PKI's CA trusted and `--ssl-reqd`, then `args`.
pub fn curl_tls(s: &Server, ca: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--ssl-reqd", "--cacert", ca.to_str().unwrap()];
    all.extend_from_slice(args);
    s.curl(&all)
}

/// `ftp://user:pass@127.0.0.1:port/path` (the user and password as given).
pub fn url_for(port: u16, user: &str, pass: &str, path: &str) -> String {
    format!(
        "ftp://{user}:{pass}@127.0.0.1:{port}/{}",
        path.trim_start_matches('/')
    )
}

/// lftp settings for explicit FTPS with `ca` trusted: TLS forced on control and data.
pub fn lftp_ftps_settings(ca: &Path, protect_data: bool) -> String {
    format!(
        "set ftp:ssl-allow yes; set ftp:ssl-force yes; set ftp:ssl-protect-data {}; \
         set ftp:ssl-protect-list {}; set ssl:ca-file {}; set ssl:verify-certificate yes; \
         set ssl:check-hostname yes",
        if protect_data { "yes" } else { "no" },
        if protect_data { "yes" } else { "no" },
        ca.display()
    )
}

/// lftp settings adding a client certificate.
pub fn lftp_cert_settings(c: &CertFiles) -> String {
    format!(
        "set ssl:cert-file {}; set ssl:key-file {}",
        c.cert.display(),
        c.key.display()
    )
}

/// Runs lftp against `127.0.0.1:port` as `user`/`pass` with `settings` (see
/// [`lftp_ftps_settings`]) in the server's scratch directory.
pub fn lftp_tls(
    s: &Server,
    port: u16,
    user: &str,
    pass: &str,
    settings: &str,
    script: &str,
) -> Output {
    let all = format!(
        "set cmd:fail-exit yes; set net:max-retries 2; set net:timeout 20; \
         set net:reconnect-interval-base 1; set xfer:clobber on; set cmd:interactive no; \
         {settings}; open -u {user},{pass} -p {port} 127.0.0.1; {script}"
    );
    let mut cmd = tool("lftp", ".ci/run installs it (apt-get install -y lftp)");
    cmd.arg("-c")
        .arg(all)
        .env("HOME", s.local())
        .current_dir(s.local());
    run_bounded(&mut cmd, s.dir.path())
}

/// Python with `ftplib.FTP_TLS`: the harness prelude plus CAFILE, CTX (an SSLContext that
/// trusts `ca` and checks the host name), `ImplicitFTP_TLS` (TLS from the first byte) and
/// `tls_login(port=PORT, implicit=False, user=USER, passwd=PASSWD)` returning a client
/// logged in with PROT P.
pub fn python_tls(s: &Server, ca: &Path, script: &str) -> Output {
    let prelude = format!(
        r#"import ssl
CAFILE = {ca:?}
CTX = ssl.create_default_context(cafile=CAFILE)

class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """Implicit FTPS: the control socket is wrapped as soon as it is connected."""
    def __init__(self, *args, **kwargs):
        self._sock = None
        super().__init__(*args, **kwargs)

    @property
    def sock(self):
        return self._sock

    @sock.setter
    def sock(self, value):
        if value is not None and not isinstance(value, ssl.SSLSocket):
            value = self.context.wrap_socket(value, server_hostname=self.host)
        self._sock = value

def tls_login(port=PORT, implicit=False, user=USER, passwd=PASSWD):
    cls = ImplicitFTP_TLS if implicit else ftplib.FTP_TLS
    ftp = cls(context=CTX)
    ftp.connect(HOST, port, timeout=30)
    ftp.login(user, passwd)
    ftp.prot_p()
    return ftp
"#,
        ca = ca.display().to_string()
    );
    s.python(&format!("{prelude}\n{script}"))
}
