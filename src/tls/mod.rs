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
use std::sync::{Arc, RwLock};

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
    control: Arc<ServerConfig>,
    data: Arc<ServerConfig>,
}

impl Configs {
    fn new(config: ServerConfig) -> Configs {
        let mut data = config.clone();
        data.send_tls13_tickets = data.send_tls13_tickets.min(1);
        let mut control = config;
        control.ticketer = Arc::new(IssueOnly(Arc::clone(&control.ticketer)));
        control.session_storage = Arc::new(IssueOnly(Arc::clone(&control.session_storage)));
        Configs {
            control: Arc::new(control),
            data: Arc::new(data),
        }
    }
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
        let config = build(settings, global, &provider, &ticketer, &sessions)?;
        Ok(TlsContext {
            settings: settings.clone(),
            global: global.clone(),
            provider,
            ticketer,
            sessions,
            current: RwLock::new(Configs::new(config)),
        })
    }

    /// Re-reads certificate, key, CAs and CRLs; on any error the old material stays.
    pub fn reload(&self) -> Result<(), String> {
        let config = build(
            &self.settings,
            &self.global,
            &self.provider,
            &self.ticketer,
            &self.sessions,
        )?;
        let configs = Configs::new(config);
        match self.current.write() {
            Ok(mut c) => *c = configs,
            Err(poisoned) => *poisoned.into_inner() = configs,
        }
        Ok(())
    }

    /// The configuration new control connections use now.
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current().control)
    }

    /// The configurations a new control connection, tagged with `token`, and its data
    /// connections use now (the data one issues fewer session tickets; see `Configs`).
    /// With `tls_session_reuse` 1 the data one resumes only sessions carrying `token`.
    pub fn config_pair(&self, token: &[u8; TOKEN_LEN]) -> (Arc<ServerConfig>, Arc<ServerConfig>) {
        let c = self.current();
        if self.settings.session_reuse != SessionReuse::Required {
            return (c.control, c.data);
        }
        let mut data = (*c.data).clone();
        data.ticketer = Arc::new(OnlyToken {
            inner: Arc::clone(&data.ticketer),
            token: *token,
        });
        data.session_storage = Arc::new(OnlyToken {
            inner: Arc::clone(&data.session_storage),
            token: *token,
        });
        (c.control, Arc::new(data))
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

/// A new server-side connection for `config`, tagged with `token` so that tickets it issues
/// identify this control session.
pub fn server_connection(
    config: &Arc<ServerConfig>,
    token: &[u8],
) -> Result<ServerConnection, rustls::Error> {
    let mut conn = ServerConnection::new(Arc::clone(config))?;
    conn.set_resumption_data(token);
    Ok(conn)
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

fn build(
    settings: &BindingTls,
    global: &GlobalTls,
    provider: &Arc<CryptoProvider>,
    ticketer: &Arc<dyn ProducesTickets>,
    sessions: &Arc<dyn StoresServerSessions + Send + Sync>,
) -> Result<ServerConfig, String> {
    let files = settings
        .cert
        .as_ref()
        .ok_or_else(|| "no certificate configured".to_string())?;
    let key = cert::load_certified_key(files, provider)?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        MinVersion::Tls13 => &[&rustls::version::TLS13],
        MinVersion::Tls12 => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
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
            let verifier = v
                .build()
                .map_err(|e| format!("client certificate verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(cert::Fixed(Arc::new(key))));
    config.ticketer = Arc::clone(ticketer);
    config.session_storage = Arc::clone(sessions) as Arc<dyn StoresServerSessions + Send + Sync>;
    config.send_tls13_tickets = match settings.session_reuse {
        SessionReuse::Disabled => 0,
        // One ticket per expected data connection burst; clients keep the newest.
        _ => 4,
    };
    // FTP runs no ALPN; clients like curl send none.
    Ok(config)
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
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.carries_token(self.inner.decrypt(cipher)?)
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
