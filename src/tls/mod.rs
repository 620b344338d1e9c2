//! FTPS (RFC 4217) with rustls: one `ServerConfig` per binding, shared by the control and the
//! data connections of its sessions, rebuilt on SIGHUP ([`TlsContext::reload`]).
//!
//! Session reuse: every control connection gets a random token, set as the resumption data
//! of the tickets it is issued. A data connection that resumed with a ticket carries the
//! token back ([`rustls::ServerConnection::received_resumption_data`]), so "this data
//! connection resumed *this* control connection's session" is checked exactly, and a ticket
//! from another session (another user) does not pass.

pub mod cert;
pub mod stream;

use crate::config::tls::{BindingTls, ClientAuth, GlobalTls, MinVersion, SessionReuse};
use rustls::crypto::CryptoProvider;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
    WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig, ServerConnection};
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
    fn new(control: ServerConfig) -> Configs {
        let mut data = control.clone();
        data.send_tls13_tickets = data.send_tls13_tickets.min(1);
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
        // Reuse required: tickets only, so a resumed data connection always carries the
        // token; legacy TLS 1.2 session IDs are not resumable then.
        let sessions: Arc<dyn StoresServerSessions + Send + Sync> = match settings.session_reuse {
            SessionReuse::Required => Arc::new(NoServerSessionStorage {}),
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

    /// The configurations a new control connection and its data connections use now (the
    /// data one issues fewer session tickets; see [`Configs`]).
    pub fn config_pair(&self) -> (Arc<ServerConfig>, Arc<ServerConfig>) {
        let c = self.current();
        (c.control, c.data)
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

/// `tls_session_reuse` 1 holds when the data connection resumed a ticket carrying `token`.
pub fn resumed_from(conn: &ServerConnection, token: &[u8]) -> bool {
    conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
        && conn.received_resumption_data() == Some(token)
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
