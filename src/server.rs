//! What every session shares: the checked configuration, the users, the passive port
//! allocator and the connection counters.

use crate::auth::users::UserDb;
use crate::config::Config;
use crate::data::passive::PortAllocator;
use crate::limits::connections::Connections;
use crate::tls::TlsContext;
use std::sync::{Arc, RwLock};

pub struct Server {
    pub config: Config,
    users: RwLock<Arc<UserDb>>,
    pub ports: Arc<PortAllocator>,
    pub connections: Arc<Connections>,
    /// Per binding (same order as the config's): TLS where a certificate is configured.
    pub tls: Vec<Option<TlsContext>>,
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
        Ok(Arc::new(Server {
            config,
            users: RwLock::new(Arc::new(users)),
            ports,
            connections,
            tls,
        }))
    }

    /// SIGHUP: certificates, keys, CAs and CRLs of every binding, then the users file. What
    /// fails to load keeps its old version; each outcome is logged.
    pub fn reload(&self) {
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
        match UserDb::load(&self.config.provider) {
            Ok((users, warnings)) => {
                for w in warnings {
                    log::warn!("{w}");
                }
                log::info!("reload: {} user(s) loaded", users.len());
                match self.users.write() {
                    Ok(mut u) => *u = Arc::new(users),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(users),
                }
            }
            Err(e) => log::error!("reload: keeping the old users: {e}"),
        }
    }

    /// The current users (a snapshot: a reload swaps the whole set).
    pub fn users(&self) -> Arc<UserDb> {
        match self.users.read() {
            Ok(u) => Arc::clone(&u),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}
