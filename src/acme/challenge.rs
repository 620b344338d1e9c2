//! Answering the CA's challenges while an order is pending: HTTP-01 (a tiny blocking HTTP
//! responder on `http01_challenge.port`, or a file in `http01_challenge.webroot` for a web
//! server to serve) and TLS-ALPN-01 (RFC 8737: a TLS responder on
//! `tls_alpn01_challenge.port` that shows, to `acme-tls/1` clients only, a self-signed
//! certificate carrying the key authorization's digest).
//!
//! Each responder is one thread that handles one connection at a time with short timeouts
//! (the CA sends a handful of requests), polls a non-blocking listener so that stopping it
//! never depends on a connection arriving, and is joined when the responder is dropped: the
//! first certificate is obtained before the privilege drop, which needs a single thread.
//! Ports are bound only for the life of an order, so a web server may own port 80 otherwise.

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use std::collections::HashMap;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where HTTP-01 answers live, under the host's root.
pub const WELL_KNOWN: &str = "/.well-known/acme-challenge/";
/// The ALPN protocol of TLS-ALPN-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// Read/write limit of one challenge connection.
const CONN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an idle responder looks for a connection or for the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// Largest request head read.
const MAX_REQUEST: usize = 8192;

/// An ACME token is base64url (RFC 8555 section 8.1): anything else is refused before it
/// reaches a path or a table.
pub fn token_ok(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Binds every interface, IPv6 and IPv4 on one socket where the system allows, else IPv4.
fn bind_any(port: u16) -> Result<TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let v6 = || -> std::io::Result<TcpListener> {
        let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
        s.listen(64)?;
        Ok(s.into())
    };
    let v4 = || -> std::io::Result<TcpListener> {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
        s.listen(64)?;
        Ok(s.into())
    };
    let l = v6()
        .or_else(|_| v4())
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    l.set_nonblocking(true)
        .map_err(|e| format!("port {port}: {e}"))?;
    Ok(l)
}

/// The accept loop shared by both responders: `serve` runs for each connection, in turn.
fn spawn_loop(
    name: &str,
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    serve: impl Fn(TcpStream) + Send + 'static,
) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        // Accepted sockets may inherit O_NONBLOCK (BSD): make them blocking
                        // with deadlines.
                        if s.set_nonblocking(false).is_ok()
                            && s.set_read_timeout(Some(CONN_TIMEOUT)).is_ok()
                            && s.set_write_timeout(Some(CONN_TIMEOUT)).is_ok()
                        {
                            serve(s);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    // Out of descriptors and the like: do not spin.
                    Err(_) => std::thread::sleep(POLL * 5),
                }
            }
        })
        .map_err(|e| format!("cannot start the {name} thread: {e}"))
}

/// A running responder thread, stopped and joined on drop.
struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the HTTP-01 responder answers: token -> (domain, key authorization).
type Tokens = Arc<Mutex<HashMap<String, (String, String)>>>;

/// The HTTP-01 responder.
pub struct HttpResponder {
    tokens: Tokens,
    _running: Running,
}

impl HttpResponder {
    /// Listens on `port` (all interfaces). `proxy_header`: the header that names the host
    /// instead of `Host` ("" for `Host`).
    pub fn start(port: u16, proxy_header: &str) -> Result<HttpResponder, String> {
        let listener = bind_any(port)?;
        let tokens: Tokens = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let header = if proxy_header.is_empty() {
            "Host".to_string()
        } else {
            proxy_header.to_string()
        };
        let t = Arc::clone(&tokens);
        let thread = spawn_loop("acme-http01", listener, Arc::clone(&stop), move |s| {
            serve_http(s, &t, &header)
        })?;
        Ok(HttpResponder {
            tokens,
            _running: Running {
                stop,
                thread: Some(thread),
            },
        })
    }

    pub fn add(&self, token: &str, domain: &str, key_auth: &str) {
        let mut m = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(
            token.to_string(),
            (domain.to_string(), key_auth.to_string()),
        );
    }

    pub fn remove(&self, token: &str) {
        let mut m = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(token);
    }
}

/// The request head: method, path and the value of `header` (None if absent).
fn parse_request(head: &str, header: &str) -> Option<(String, String, Option<String>)> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    if !first.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let mut value = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case(header) && value.is_none() {
                value = Some(v.trim().to_string());
            }
        }
    }
    Some((method, path, value))
}

/// The host a header value names, port and trailing dot removed, lower case. `Forwarded`
/// (RFC 7239) carries it as `host=`, as lego reads it.
fn host_of(value: &str, header: &str) -> String {
    let mut v = value.trim();
    if header.eq_ignore_ascii_case("Forwarded") {
        let first = v.split(',').next().unwrap_or_default();
        v = first
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
            .map(|(_, h)| h.trim().trim_matches('"'))
            .unwrap_or_default();
    }
    let host = if let Some(rest) = v.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        v.rsplit_once(':').map(|(h, _)| h).unwrap_or(v)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn serve_http(mut s: TcpStream, tokens: &Tokens, header: &str) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    // The head only: challenge requests have no body.
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
        if buf.len() > MAX_REQUEST {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let answer = parse_request(&head, header).and_then(|(method, path, host)| {
        if method != "GET" && method != "HEAD" {
            return None;
        }
        let token = path.strip_prefix(WELL_KNOWN)?;
        let m = tokens.lock().unwrap_or_else(|p| p.into_inner());
        let (domain, key_auth) = m.get(token)?;
        let host = host.map(|h| host_of(&h, header)).unwrap_or_default();
        if host != *domain {
            log::warn!(
                "acme: HTTP-01 request for {domain}'s token names host {host:?} in {header}: not answered (behind a proxy, set acme.http01_challenge.proxy_header)"
            );
            return None;
        }
        Some((method == "HEAD", key_auth.clone()))
    });
    let reply = match answer {
        Some((head_only, body)) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            if head_only { "" } else { body.as_str() }
        ),
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    };
    let _ = s.write_all(reply.as_bytes());
    let _ = s.flush();
}

/// HTTP-01 through a web server's document root: the answer is a file it serves.
pub struct Webroot {
    dir: PathBuf,
}

impl Webroot {
    pub fn new(root: &Path) -> Webroot {
        Webroot {
            dir: root.join(WELL_KNOWN.trim_matches('/')),
        }
    }

    /// Writes the key authorization as `<token>` (readable by the web server). The token
    /// must have passed [`token_ok`].
    pub fn put(&self, token: &str, key_auth: &str) -> Result<PathBuf, String> {
        if !token_ok(token) {
            return Err(format!("refusing token {token:?}"));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.dir.join(token);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(key_auth.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// Challenge certificates by domain, shown only to `acme-tls/1` clients.
#[derive(Debug, Default)]
struct AlpnCerts(Mutex<HashMap<String, Arc<CertifiedKey>>>);

impl ResolvesServerCert for AlpnCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .is_some_and(|mut protos| protos.any(|p| p == ACME_TLS_ALPN));
        if !acme {
            return None;
        }
        let name = hello.server_name()?.to_ascii_lowercase();
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&name).cloned()
    }
}

/// The TLS-ALPN-01 responder.
pub struct AlpnResponder {
    certs: Arc<AlpnCerts>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    _running: Running,
}

impl AlpnResponder {
    pub fn start(port: u16) -> Result<AlpnResponder, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs = Arc::new(AlpnCerts::default());
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .map_err(|e| format!("TLS-ALPN-01: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certs) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        config.send_tls13_tickets = 0;
        let config = Arc::new(config);
        let listener = bind_any(port)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = spawn_loop("acme-tlsalpn01", listener, Arc::clone(&stop), move |s| {
            serve_alpn(s, &config)
        })?;
        Ok(AlpnResponder {
            certs,
            provider,
            _running: Running {
                stop,
                thread: Some(thread),
            },
        })
    }

    /// Shows, for `domain`, a certificate with the SHA-256 of `key_auth` in its critical
    /// acmeIdentifier extension.
    pub fn add(&self, domain: &str, key_auth: &str) -> Result<(), String> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_auth.as_bytes());
        let key = rcgen::KeyPair::generate().map_err(|e| format!("TLS-ALPN-01 key: {e}"))?;
        let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])
            .map_err(|e| format!("TLS-ALPN-01 certificate for {domain}: {e}"))?;
        params.custom_extensions =
            vec![rcgen::CustomExtension::new_acme_identifier(digest.as_ref())];
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("TLS-ALPN-01 certificate for {domain}: {e}"))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        // CertifiedKey::new, not from_der: the latter parses the certificate with webpki,
        // which refuses the critical acmeIdentifier extension this certificate is for.
        let signer = self
            .provider
            .key_provider
            .load_private_key(der)
            .map_err(|e| format!("TLS-ALPN-01 key for {domain}: {e}"))?;
        let ck = CertifiedKey::new(vec![cert.der().clone()], signer);
        let mut m = self.certs.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(domain.to_ascii_lowercase(), Arc::new(ck));
        Ok(())
    }

    pub fn remove(&self, domain: &str) {
        let mut m = self.certs.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&domain.to_ascii_lowercase());
    }
}

/// One TLS-ALPN-01 validation: the handshake is all the CA wants.
fn serve_alpn(mut s: TcpStream, config: &Arc<ServerConfig>) {
    let Ok(mut conn) = ServerConnection::new(Arc::clone(config)) else {
        return;
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut s).is_err() {
            return;
        }
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_only() {
        assert!(token_ok("abc-DEF_123"));
        assert!(!token_ok(""));
        assert!(!token_ok("../etc/passwd"));
        assert!(!token_ok("a/b"));
        assert!(!token_ok("a.b"));
    }

    #[test]
    fn hosts_from_headers() {
        assert_eq!(host_of("Example.COM:5002", "Host"), "example.com");
        assert_eq!(host_of("example.com.", "Host"), "example.com");
        assert_eq!(host_of("[::1]:80", "Host"), "::1");
        assert_eq!(
            host_of(
                "for=1.2.3.4;Host=\"ftp.example.com:80\";proto=http, for=5.6.7.8",
                "Forwarded"
            ),
            "ftp.example.com"
        );
        assert_eq!(host_of("x.example", "X-Forwarded-Host"), "x.example");
    }

    #[test]
    fn request_heads_parse() {
        let (m, p, h) = parse_request(
            "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nhost: a.example\r\n\r\n",
            "Host",
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), p.as_str(), h.as_deref()),
            ("GET", "/.well-known/acme-challenge/tok", Some("a.example"))
        );
        assert!(parse_request("GARBAGE\r\n\r\n", "Host").is_none());
    }

    fn get(port: u16, path: &str, host: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: t\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn http01_responder_answers_known_tokens_for_their_host_only() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = HttpResponder::start(port, "").unwrap();
        r.add("tok1", "a.example", "tok1.thumb");
        let ok = get(port, "/.well-known/acme-challenge/tok1", "a.example:5002");
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.ends_with("\r\n\r\ntok1.thumb"),
            "{ok}"
        );
        let wrong_host = get(port, "/.well-known/acme-challenge/tok1", "b.example");
        assert!(wrong_host.starts_with("HTTP/1.1 404"), "{wrong_host}");
        let unknown = get(port, "/.well-known/acme-challenge/nope", "a.example");
        assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
        r.remove("tok1");
        let gone = get(port, "/.well-known/acme-challenge/tok1", "a.example");
        assert!(gone.starts_with("HTTP/1.1 404"), "{gone}");
        drop(r);
        // Stopped and joined: the port is free again.
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn webroot_writes_the_answer_file() {
        let d = tempfile::tempdir().unwrap();
        let w = Webroot::new(d.path());
        let p = w.put("tok", "tok.thumb").unwrap();
        assert_eq!(p, d.path().join(".well-known/acme-challenge/tok"));
        assert_eq!(fs::read_to_string(&p).unwrap(), "tok.thumb");
        assert!(w.put("../x", "y").is_err());
    }

    #[test]
    fn tls_alpn01_shows_the_acme_certificate_to_acme_clients() {
        use rustls::pki_types::ServerName;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = AlpnResponder::start(port).unwrap();
        r.add("a.example", "tok.thumb").unwrap();

        #[derive(Debug)]
        struct AnyCert(Arc<rustls::crypto::CryptoProvider>);
        impl rustls::client::danger::ServerCertVerifier for AnyCert {
            fn verify_server_cert(
                &self,
                _: &rustls::pki_types::CertificateDer<'_>,
                _: &[rustls::pki_types::CertificateDer<'_>],
                _: &ServerName<'_>,
                _: &[u8],
                _: rustls::pki_types::UnixTime,
            ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            // webpki refuses the critical acmeIdentifier extension, so the signature check
            // (which parses the certificate with it) is skipped: this test reads the
            // certificate, and the CA checks the rest.
            fn verify_tls12_signature(
                &self,
                _: &[u8],
                _: &rustls::pki_types::CertificateDer<'_>,
                _: &rustls::DigitallySignedStruct,
            ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>
            {
                Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
            }
            fn verify_tls13_signature(
                &self,
                _: &[u8],
                _: &rustls::pki_types::CertificateDer<'_>,
                _: &rustls::DigitallySignedStruct,
            ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>
            {
                Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
            }
            fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
                self.0.signature_verification_algorithms.supported_schemes()
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let handshake = |alpn: bool| -> Result<Vec<u8>, rustls::Error> {
            let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(Arc::clone(&provider))))
                .with_no_client_auth();
            if alpn {
                cfg.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
            }
            let mut conn = rustls::ClientConnection::new(
                Arc::new(cfg),
                ServerName::try_from("a.example").unwrap(),
            )
            .unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            while conn.is_handshaking() {
                conn.complete_io(&mut s)
                    .map_err(|e| rustls::Error::General(e.to_string()))?;
            }
            Ok(conn.peer_certificates().unwrap()[0].as_ref().to_vec())
        };
        let der = handshake(true).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"tok.thumb");
        // DER OCTET STRING of 32 bytes.
        assert_eq!(&ext.value[2..], digest.as_ref());
        assert!(handshake(false).is_err(), "shown without acme-tls/1");
    }
}
