//! What every session shares: the checked configuration, the users, the passive port
//! allocator and the connection counters.

use crate::auth::cache::PasswordCache;
use crate::auth::users::UserDb;
use crate::config::Config;
use crate::data::passive::PortAllocator;
use crate::limits::connections::Connections;
use crate::limits::defender::Defender;
use crate::limits::usage::Usage;
use crate::tls::TlsContext;
use std::sync::{Arc, RwLock};

pub struct Server {
    pub config: Config,
    users: RwLock<Arc<UserDb>>,
    pub ports: Arc<PortAllocator>,
    pub connections: Arc<Connections>,
    /// Per binding (same order as the config's): TLS where a certificate is configured.
    pub tls: Vec<Option<TlsContext>>,
    pub password_cache: Option<PasswordCache>,
    /// Survives SIGHUP: bans are not forgotten by a reload.
    pub defender: Defender,
    /// Per-user sessions, bytes moved and disk usage, shared by all sessions.
    pub usage: Arc<Usage>,
    /// Live sessions and the graceful stop (SIGTERM).
    pub lifecycle: Arc<crate::signals::Lifecycle>,
}

impl Server {
    /// Loads each binding's TLS material; an error names the binding and the file.
    pub fn new(config: Config, users: UserDb) -> Result<Arc<Server>, String> {
        let mut tls = Vec::new();
        for b in &config.ftpd.bindings {
            tls.push(match &b.tls.cert {
                None => None,
                Some(_) => Some(TlsContext::load(&b.tls, &config.ftpd.tls).map_err(|e| {
                    format!("{}: ftpd binding {}: {e}", config.file.display(), b.name)
                })?),
            });
        }
        let ports = PortAllocator::new(config.ftpd.passive_ports);
        let connections = Connections::new(
            config.common.max_total_connections,
            config.common.max_per_host_connections,
        );
        let password_cache = if config.provider.password_caching {
            let mut salt = [0u8; 16];
            rustls::crypto::aws_lc_rs::default_provider()
                .secure_random
                .fill(&mut salt)
                .map_err(|_| "no randomness for the password cache".to_string())?;
            Some(PasswordCache::new(salt))
        } else {
            None
        };
        let defender = Defender::new(config.common.defender.clone());
        defender.set_safelist(users.ip_lists.defender_safe.clone());
        Ok(Arc::new(Server {
            config,
            users: RwLock::new(Arc::new(users)),
            ports,
            connections,
            tls,
            password_cache,
            defender,
            usage: Usage::new(),
            lifecycle: crate::signals::Lifecycle::new(),
        }))
    }

    /// SIGHUP: certificates, keys, CAs and CRLs of every binding, then the users file. What
    /// fails to load keeps its old version; each outcome is logged.
    pub fn reload(&self) {
        self.reload_tls();
        match UserDb::load(&self.config.provider) {
            Ok((users, warnings)) => {
                for w in warnings {
                    log::warn!("{w}");
                }
                let changes = user_changes(&self.users(), &users);
                log::info!("reload: {} user(s) loaded{changes}", users.len());
                self.defender
                    .set_safelist(users.ip_lists.defender_safe.clone());
                match self.users.write() {
                    Ok(mut u) => *u = Arc::new(users),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(users),
                }
            }
            Err(e) => log::error!("reload: keeping the old users: {e}"),
        }
    }

    /// Every binding's certificate, key, CAs and CRLs, read again and put in force for new
    /// connections: SIGHUP's TLS part, and what the ACME renewal thread calls after a new
    /// certificate. What fails to load keeps its old version; each outcome is logged.
    pub fn reload_tls(&self) {
        for (b, ctx) in self.config.ftpd.bindings.iter().zip(&self.tls) {
            if let Some(ctx) = ctx {
                match ctx.reload() {
                    Ok(()) => log::info!("reload: binding {}: TLS material reloaded", b.name),
                    Err(e) => log::error!(
                        "reload: binding {}: keeping the old TLS material: {e}",
                        b.name
                    ),
                }
            }
        }
    }

    /// SIGHUP as the accept loop sees it: the reload, and the log files reopened (rotation).
    pub fn reload_all(&self) {
        self.reload();
        crate::log::reopen();
    }

    /// Why a connection from `ip` is refused by the dump's IP lists, if it is: the
    /// defender's block list, or `allowlist_status` 1 and not on the allow list.
    pub fn ip_refusal(&self, ip: std::net::IpAddr) -> Option<&'static str> {
        let ip = ip.to_canonical();
        let users = self.users();
        if users.ip_lists.blocked(ip) {
            return Some("on the block list");
        }
        if self.config.common.allowlist_only && !users.ip_lists.allowed(ip) {
            return Some("not on the allow list");
        }
        None
    }

    /// The current users (a snapshot: a reload swaps the whole set).
    pub fn users(&self) -> Arc<UserDb> {
        match self.users.read() {
            Ok(u) => Arc::clone(&u),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// What a reload changed, for its log line: ` (added: a; removed: b; changed: c)`, or ""
/// when nothing did. A user counts as changed when any field differs (a plain-text password
/// in the file is hashed again at each load, so such a user always counts).
fn user_changes(old: &UserDb, new: &UserDb) -> String {
    const SHOWN: usize = 10;
    let list = |mut names: Vec<&str>| -> String {
        names.sort_unstable();
        let more = names.len().saturating_sub(SHOWN);
        let mut s = names
            .iter()
            .take(SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    };
    let added: Vec<&str> = new.names().filter(|n| old.get(n).is_none()).collect();
    let removed: Vec<&str> = old.names().filter(|n| new.get(n).is_none()).collect();
    let changed: Vec<&str> = new
        .names()
        .filter(|n| match (old.get(n), new.get(n)) {
            (Some(a), Some(b)) => format!("{a:?}") != format!("{b:?}"),
            _ => false,
        })
        .collect();
    let mut parts = Vec::new();
    for (what, names) in [("added", added), ("removed", removed), ("changed", changed)] {
        if !names.is_empty() {
            parts.push(format!("{what}: {}", list(names)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}
