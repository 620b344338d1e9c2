//! `max_total_connections` and `max_per_host_connections`: counted at accept, released when
//! the session's guard drops (on every exit path, a panic included).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

pub struct Connections {
    max_total: u32,
    max_per_host: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: u32,
    per_host: HashMap<IpAddr, u32>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Total(u32),
    PerHost(u32),
}

/// One counted connection; dropping it releases the count.
pub struct Guard {
    owner: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    pub fn new(max_total: u32, max_per_host: u32) -> Arc<Connections> {
        Arc::new(Connections {
            max_total,
            max_per_host,
            state: Mutex::new(State::default()),
        })
    }

    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Guard, Refusal> {
        let ip = ip.to_canonical();
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.max_total > 0 && st.total >= self.max_total {
            return Err(Refusal::Total(self.max_total));
        }
        let host = st.per_host.get(&ip).copied().unwrap_or(0);
        if self.max_per_host > 0 && host >= self.max_per_host {
            return Err(Refusal::PerHost(self.max_per_host));
        }
        st.total += 1;
        st.per_host.insert(ip, host + 1);
        Ok(Guard {
            owner: Arc::clone(self),
            ip,
        })
    }

    pub fn total(&self) -> u32 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut st = self
            .owner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.total = st.total.saturating_sub(1);
        if let Some(n) = st.per_host.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                st.per_host.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_release() {
        let c = Connections::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let g1 = c.acquire(a).unwrap();
        let _g2 = c.acquire(a).unwrap();
        assert_eq!(c.acquire(a).err(), Some(Refusal::PerHost(2)));
        let _g3 = c.acquire(b).unwrap();
        assert_eq!(c.acquire(b).err(), Some(Refusal::Total(3)));
        drop(g1);
        let _g4 = c.acquire(a).unwrap();
        assert_eq!(c.total(), 3);
    }
}
