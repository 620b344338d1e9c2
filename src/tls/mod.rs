//! FTPS (RFC 4217) with rustls: one `ServerConfig` per binding, shared by the control and the
//! data connections of its sessions, rebuilt on SIGHUP ([`TlsContext::reload`]).
//!
//! Session reuse: every control connection gets a random token, set as the resumption data
//! of the sessions it makes (tickets or, in TLS 1.2, session IDs). Its data connections use
//! a configuration of their own ([`TlsContext::config_pair`]) whose ticketer and session
//! cache resume only sessions that carry this token, so "this data connection resumed
//! *this* control connection's session" holds exactly, in TLS 1.2 as in 1.3, and a session
//! from another control connection (another user) starts a full handshake, which
//! `tls_session_reuse` 1 refuses.
//!
//! Cipher suites are chosen much as Go's crypto/tls (and so SFTPGo) chooses them: in the
//! server's order, AES-GCM first (AES-128 before AES-256) when this machine has AES
//! instructions and the client lists an AES-GCM suite before ChaCha20, ChaCha20 first
//! otherwise ([`Choice`]). OpenSSL clients list AES-256 first; AES-128's key schedule
//! hashes with SHA-256 and its records cost less: measured with ftplib, a process per
//! session, 4 KiB files, the client's CPU per file fell from 0.84 to 0.81 ms and files/s
//! rose 3%. A machine without AES instructions (a small appliance) serves ChaCha20.
//!
//! Control connections never resume: their client certificate is then always checked by a
//! full handshake against the CAs and CRLs in force, so a certificate revoked and reloaded
//! by SIGHUP cannot come back through an old session.

pub mod cert;
pub mod stream;

use crate::config::tls::{BindingTls, ClientAuth, GlobalTls, MinVersion, SessionReuse};
use rustls::crypto::CryptoProvider;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
    WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use std::fmt;
use std::io;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Bytes of the per-control-connection reuse token.
pub const TOKEN_LEN: usize = 16;

/// A binding's TLS state.
pub struct TlsContext {
    settings: BindingTls,
    global: GlobalTls,
    provider: Arc<CryptoProvider>,
    /// Kept across reloads so tickets issued before a reload still resume after it.
    ticketer: Arc<dyn ProducesTickets>,
    sessions: Arc<dyn StoresServerSessions + Send + Sync>,
    current: RwLock<Configs>,
}

/// The configuration in force: one for control connections, and its twin for data
/// connections, which issues one session ticket instead of four. A data connection resumes
/// the control connection's session and lasts one transfer: OpenSSL and GnuTLS clients
/// (curl, ftplib, lftp) resume every data connection from the control connection's
/// session, so tickets sent there are made, encrypted and parsed for nothing on every small
/// transfer; clients that use a ticket once (rustls) need one back to resume the next.
#[derive(Clone)]
struct Configs {
    control: Choice,
    data: Choice,
}

impl Configs {
    fn new(configs: Choice) -> Configs {
        let data = configs.map(|c| c.send_tls13_tickets = c.send_tls13_tickets.min(1));
        let control = configs.map(|c| {
            c.ticketer = Arc::new(IssueOnly(Arc::clone(&c.ticketer)));
            c.session_storage = Arc::new(IssueOnly(Arc::clone(&c.session_storage)));
        });
        Configs { control, data }
    }
}

/// A binding's configuration in the two orders of cipher suites (see the module doc); the
/// ClientHello decides which one a connection uses ([`accept`]).
#[derive(Clone)]
pub struct Choice {
    aes_first: Arc<ServerConfig>,
    chacha_first: Arc<ServerConfig>,
    /// This machine has AES (and carry-less multiply) instructions.
    aes_here: bool,
}

impl Choice {
    /// The same change made to both configurations.
    fn map(&self, change: impl Fn(&mut ServerConfig)) -> Choice {
        let mut aes_first = (*self.aes_first).clone();
        let mut chacha_first = (*self.chacha_first).clone();
        change(&mut aes_first);
        change(&mut chacha_first);
        Choice {
            aes_first: Arc::new(aes_first),
            chacha_first: Arc::new(chacha_first),
            aes_here: self.aes_here,
        }
    }

    /// AES-GCM first if this machine has AES instructions and the first suite the client
    /// lists that this binding supports is AES-GCM. Go's `aesgcmPreferred` looks at the
    /// first suite Go knows, CBC ones included; a client listing a CBC suite first is
    /// the only one that could be answered differently.
    fn pick(&self, hello: &rustls::server::ClientHello<'_>) -> &Arc<ServerConfig> {
        let ours = &self.aes_first.crypto_provider().cipher_suites;
        let first = hello
            .cipher_suites()
            .iter()
            .find(|c| ours.iter().any(|s| s.suite() == **c));
        if self.aes_here && first.is_some_and(|c| bulk(*c) != Bulk::ChaCha) {
            &self.aes_first
        } else {
            &self.chacha_first
        }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Bulk {
    Aes128,
    Aes256,
    ChaCha,
}

/// The cipher of one of the suites rustls offers (the AES-256 suites and any other fall
/// in the last arm).
fn bulk(suite: rustls::CipherSuite) -> Bulk {
    use rustls::CipherSuite as S;
    match suite {
        S::TLS13_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => Bulk::ChaCha,
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => Bulk::Aes128,
        _ => Bulk::Aes256,
    }
}

/// Whether this machine runs AES-GCM in hardware (as Go's `hasAESGCMHardwareSupport`).
fn aes_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// `provider` with its suites in one of the two orders; among suites of the same cipher
/// the order stays (TLS 1.3 before 1.2, ECDSA before RSA). rustls keeps only the suites
/// of the version and key in use before it applies the order.
fn ordered(provider: &CryptoProvider, aes_first: bool) -> Arc<CryptoProvider> {
    let mut p = provider.clone();
    p.cipher_suites
        .sort_by_key(|s| match (bulk(s.suite()), aes_first) {
            (b, true) => b,
            (Bulk::ChaCha, false) => Bulk::Aes128,
            (Bulk::Aes128, false) => Bulk::Aes256,
            (Bulk::Aes256, false) => Bulk::ChaCha,
        });
    Arc::new(p)
}

/// Reads a connection's ClientHello from `sock`, picks the configuration for it (see
/// [`Choice`]) and starts the server side, tagged with `token` so that tickets it issues
/// identify this control session (from then on: see `OnlyToken::encrypt`). The handshake
/// goes on at the stream's next I/O. Socket timeouts make each read return; `deadline`
/// bounds the whole. Cost: a handshake touches 8 KiB more stack than one started by
/// `ServerConnection::new` (rustls' own frames; tests/stack.rs, release build).
pub fn accept(
    choice: &Choice,
    token: &[u8],
    sock: &mut (impl io::Read + io::Write),
    deadline: Instant,
) -> io::Result<ServerConnection> {
    let mut acceptor = rustls::server::Acceptor::default();
    loop {
        stream::check_deadline(deadline, "TLS handshake")?;
        match acceptor.read_tls(sock) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the TLS ClientHello",
                ))
            }
            Ok(_) => {}
            Err(e) if stream::is_retry(&e) => continue,
            Err(e) => return Err(e),
        }
        let accepted = match acceptor.accept() {
            Ok(None) => continue,
            Ok(Some(accepted)) => accepted,
            Err((e, alert)) => return Err(refuse(e, alert, sock)),
        };
        let config = Arc::clone(choice.pick(&accepted.client_hello()));
        return match accepted.into_connection(config) {
            Ok(mut conn) => {
                conn.set_resumption_data(token);
                Ok(conn)
            }
            Err((e, alert)) => Err(refuse(e, alert, sock)),
        };
    }
}

/// Sends the alert (the client learns why; a write that fails changes nothing).
fn refuse(
    e: rustls::Error,
    mut alert: rustls::server::AcceptedAlert,
    sock: &mut impl io::Write,
) -> io::Error {
    let _ = alert.write_all(sock);
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl TlsContext {
    /// Loads the binding's certificate, key, CAs and CRLs. Errors name the file.
    pub fn load(settings: &BindingTls, global: &GlobalTls) -> Result<TlsContext, String> {
        let provider = Arc::new(provider_for(settings)?);
        let ticketer: Arc<dyn ProducesTickets> = match settings.session_reuse {
            SessionReuse::Disabled => Arc::new(NoTickets),
            _ => rustls::crypto::aws_lc_rs::Ticketer::new()
                .map_err(|e| format!("cannot make a session ticketer: {e}"))?,
        };
        // Tickets off: no session IDs either, so nothing resumes.
        let sessions: Arc<dyn StoresServerSessions + Send + Sync> = match settings.session_reuse {
            SessionReuse::Disabled => Arc::new(NoServerSessionStorage {}),
            _ => ServerSessionMemoryCache::new(4096),
        };
        let configs = build(settings, global, &provider, &ticketer, &sessions)?;
        Ok(TlsContext {
            settings: settings.clone(),
            global: global.clone(),
            provider,
            ticketer,
            sessions,
            current: RwLock::new(Configs::new(configs)),
        })
    }

    /// Re-reads certificate, key, CAs and CRLs; on any error the old material stays.
    pub fn reload(&self) -> Result<(), String> {
        let configs = Configs::new(build(
            &self.settings,
            &self.global,
            &self.provider,
            &self.ticketer,
            &self.sessions,
        )?);
        match self.current.write() {
            Ok(mut c) => *c = configs,
            Err(poisoned) => *poisoned.into_inner() = configs,
        }
        Ok(())
    }

    /// The configurations new control connections use now.
    pub fn config(&self) -> Choice {
        self.current().control
    }

    /// The configurations a new control connection, tagged with `token`, and its data
    /// connections use now (the data one issues fewer session tickets; see `Configs`).
    /// With `tls_session_reuse` 1 the data one resumes only sessions carrying `token`.
    pub fn config_pair(&self, token: &[u8; TOKEN_LEN]) -> (Choice, Choice) {
        let c = self.current();
        if self.settings.session_reuse != SessionReuse::Required {
            return (c.control, c.data);
        }
        let data = c.data.map(|d| {
            d.ticketer = Arc::new(OnlyToken {
                inner: Arc::clone(&d.ticketer),
                token: *token,
            });
            d.session_storage = Arc::new(OnlyToken {
                inner: Arc::clone(&d.session_storage),
                token: *token,
            });
        });
        (c.control, data)
    }

    fn current(&self) -> Configs {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn settings(&self) -> &BindingTls {
        &self.settings
    }

    /// A fresh random token for a control connection.
    pub fn new_token(&self) -> Result<[u8; TOKEN_LEN], String> {
        let mut t = [0u8; TOKEN_LEN];
        self.provider
            .secure_random
            .fill(&mut t)
            .map_err(|_| "no randomness".to_string())?;
        Ok(t)
    }
}

/// `tls_session_reuse` 1 holds when the data connection resumed a session carrying `token`.
/// TLS 1.3 hands the token back; rustls does not in TLS 1.2, where the data configuration's
/// `OnlyToken` ticketer and cache resumed nothing else.
pub fn resumed_from(conn: &ServerConnection, token: &[u8]) -> bool {
    conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
        && conn.received_resumption_data().is_none_or(|d| d == token)
}

/// "TLSv1_3 TLS13_AES_256_GCM_SHA384" for STAT and logs.
pub fn describe(conn: &rustls::CommonState) -> String {
    let v = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "-".into());
    let s = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "-".into());
    format!("{v} {s}")
}

fn provider_for(settings: &BindingTls) -> Result<CryptoProvider, String> {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    if !settings.cipher_suites.is_empty() {
        // TLS 1.3 suites stay (not configurable, as in SFTPGo); TLS 1.2 ones are filtered.
        p.cipher_suites.retain(|s| {
            s.version() == &rustls::version::TLS13
                || settings
                    .cipher_suites
                    .iter()
                    .any(|n| *n == format!("{:?}", s.suite()))
        });
    }
    Ok(p)
}

/// The binding's configuration in both orders of cipher suites; certificate, key, CAs and
/// CRLs are read once for the two.
fn build(
    settings: &BindingTls,
    global: &GlobalTls,
    provider: &Arc<CryptoProvider>,
    ticketer: &Arc<dyn ProducesTickets>,
    sessions: &Arc<dyn StoresServerSessions + Send + Sync>,
) -> Result<Choice, String> {
    let files = settings
        .cert
        .as_ref()
        .ok_or_else(|| "no certificate configured".to_string())?;
    let key = Arc::new(cert::load_certified_key(files, provider)?);
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        MinVersion::Tls13 => &[&rustls::version::TLS13],
        MinVersion::Tls12 => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let verifier = match settings.client_auth {
        ClientAuth::None => None,
        auth => {
            let mut roots = RootCertStore::empty();
            for path in &global.ca_certificates {
                for c in cert::load_certs(path)? {
                    roots.add(c).map_err(|e| {
                        format!("{}: not a usable CA certificate: {e}", path.display())
                    })?;
                }
            }
            let mut crls = Vec::new();
            for path in &global.ca_revocation_lists {
                crls.extend(cert::load_crls(path)?);
            }
            let mut v =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
                    .with_crls(crls)
                    // A CA without a configured CRL is not an error: revocation is checked
                    // where a list exists.
                    .allow_unknown_revocation_status();
            if auth == ClientAuth::Optional {
                v = v.allow_unauthenticated();
            }
            Some(
                v.build()
                    .map_err(|e| format!("client certificate verifier: {e}"))?,
            )
        }
    };
    let make = |aes_first: bool| -> Result<Arc<ServerConfig>, String> {
        let builder = ServerConfig::builder_with_provider(ordered(provider, aes_first))
            .with_protocol_versions(versions)
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match &verifier {
            None => builder.with_no_client_auth(),
            Some(v) => builder.with_client_cert_verifier(Arc::clone(v)),
        };
        let mut config = builder.with_cert_resolver(Arc::new(cert::Fixed(Arc::clone(&key))));
        // The server's order, not the client's: see `Choice`.
        config.ignore_client_order = true;
        config.ticketer = Arc::clone(ticketer);
        config.session_storage =
            Arc::clone(sessions) as Arc<dyn StoresServerSessions + Send + Sync>;
        config.send_tls13_tickets = match settings.session_reuse {
            SessionReuse::Disabled => 0,
            // One ticket per expected data connection burst; clients keep the newest.
            _ => 4,
        };
        // FTP runs no ALPN; clients like curl send none.
        Ok(Arc::new(config))
    };
    Ok(Choice {
        aes_first: make(true)?,
        chacha_first: make(false)?,
        aes_here: aes_here(),
    })
}

/// Tickets off (`tls_session_reuse` 2).
#[derive(Debug)]
struct NoTickets;

impl ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// The control connections' ticketer and session cache: they issue sessions (for the data
/// connections to resume) but never resume one themselves; see the module notes.
struct IssueOnly<T: ?Sized>(Arc<T>);

impl<T: ?Sized> fmt::Debug for IssueOnly<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssueOnly")
    }
}

impl ProducesTickets for IssueOnly<dyn ProducesTickets> {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.encrypt(plain)
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

impl StoresServerSessions for IssueOnly<dyn StoresServerSessions> {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.put(key, value)
    }
    fn get(&self, _key: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn take(&self, _key: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}

/// One session's data connections' ticketer and session cache under `tls_session_reuse` 1:
/// a session resumes only if it was made with this control connection's token (its
/// resumption data, inside the encrypted ticket or the cached value), whatever the TLS
/// version.
struct OnlyToken<T: ?Sized> {
    inner: Arc<T>,
    token: [u8; TOKEN_LEN],
}

impl<T: ?Sized> OnlyToken<T> {
    fn carries_token(&self, session: Vec<u8>) -> Option<Vec<u8>> {
        session
            .windows(TOKEN_LEN)
            .any(|w| w == self.token)
            .then_some(session)
    }
}

impl<T: ?Sized> fmt::Debug for OnlyToken<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnlyToken")
    }
}

impl ProducesTickets for OnlyToken<dyn ProducesTickets> {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }
    /// A TLS 1.2 handshake that resumes issues its new ticket while the ClientHello is
    /// answered, before the connection can be given its token ([`accept`]): such a ticket
    /// gets the token appended inside the encryption, and loses it again in `decrypt`.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        if self.carries_token(plain.to_vec()).is_some() {
            return self.inner.encrypt(plain);
        }
        let mut tagged = plain.to_vec();
        tagged.extend_from_slice(&self.token);
        self.inner.encrypt(&tagged)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let mut plain = self.inner.decrypt(cipher)?;
        if plain.ends_with(&self.token) {
            plain.truncate(plain.len() - TOKEN_LEN);
            return Some(plain);
        }
        self.carries_token(plain)
    }
}

impl StoresServerSessions for OnlyToken<dyn StoresServerSessions> {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.carries_token(self.inner.get(key)?)
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        // A session of another control connection stays in the cache for its owner.
        self.carries_token(self.inner.get(key)?)?;
        self.inner.take(key)
    }
    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}
