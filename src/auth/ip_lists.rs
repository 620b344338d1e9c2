//! The dump's `ip_lists` (SFTPGo): per address or network, `type` 1 is the allow list
//! (enforced when `common.allowlist_status` is 1), `type` 2 the defender's list (`mode` 1:
//! never banned, `mode` 2: always refused), `type` 3 rate-limiter exemptions (no rate
//! limiter here: read and ignored). Only entries whose `protocols` include FTP (bit 2, or
//! 0 for all) apply.

use crate::config::raw::{ConfigError, Obj};
use crate::util::cidr::IpNet;
use std::net::IpAddr;

#[derive(Clone, Debug, Default)]
pub struct IpLists {
    pub allow: Vec<IpNet>,
    pub defender_safe: Vec<IpNet>,
    pub defender_block: Vec<IpNet>,
}

/// SFTPGo's protocol bit for FTP in `ip_lists[].protocols`.
const FTP: i64 = 2;

impl IpLists {
    pub fn read(root: &Obj) -> Result<IpLists, ConfigError> {
        let mut lists = IpLists::default();
        for e in root.obj_list("ip_lists")? {
            let net = e.string("ipornet", "")?;
            let net = IpNet::parse(&net).map_err(|m| e.error("ipornet", m))?;
            let protocols = e.int("protocols", 0, 0, 15)?;
            if protocols != 0 && protocols & FTP == 0 {
                continue;
            }
            match (e.int("type", 1, 1, 3)?, e.int("mode", 1, 1, 2)?) {
                (1, _) => lists.allow.push(net),
                (2, 1) => lists.defender_safe.push(net),
                (2, _) => lists.defender_block.push(net),
                _ => {}
            }
        }
        Ok(lists)
    }

    pub fn blocked(&self, ip: IpAddr) -> bool {
        self.defender_block.iter().any(|n| n.contains(ip))
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(ip))
    }

    pub fn safe(&self, ip: IpAddr) -> bool {
        self.defender_safe.iter().any(|n| n.contains(ip))
    }
}
