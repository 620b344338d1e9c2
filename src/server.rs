//! What every session shares: the checked configuration, the users, the passive port
//! allocator and the connection counters.

use crate::auth::users::UserDb;
use crate::config::Config;
use crate::data::passive::PortAllocator;
use crate::limits::connections::Connections;
use std::sync::{Arc, RwLock};

pub struct Server {
    pub config: Config,
    users: RwLock<Arc<UserDb>>,
    pub ports: Arc<PortAllocator>,
    pub connections: Arc<Connections>,
}

impl Server {
    pub fn new(config: Config, users: UserDb) -> Arc<Server> {
        let ports = PortAllocator::new(config.ftpd.passive_ports);
        let connections = Connections::new(
            config.common.max_total_connections,
            config.common.max_per_host_connections,
        );
        Arc::new(Server {
            config,
            users: RwLock::new(Arc::new(users)),
            ports,
            connections,
        })
    }

    /// The current users (a snapshot: a reload swaps the whole set).
    pub fn users(&self) -> Arc<UserDb> {
        match self.users.read() {
            Ok(u) => Arc::clone(&u),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}
