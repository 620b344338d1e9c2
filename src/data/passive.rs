//! Passive data connections (RFC 959 PASV, RFC 2428 EPSV): the shared port allocator and the
//! address a client is told to connect to.
//!
//! The allocator is one mutex-guarded bitmap over `passive_port_range`, locked only to pick
//! a port. A port stays leased until its [`PassiveListener`] is dropped, whatever the exit
//! path (transfer done, PASV replaced, session ended, thread panicked), so two waiting
//! sessions never hold the same port.

use crate::config::Binding;
use socket2::{Domain, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};

pub struct PortAllocator {
    range: Option<(u16, u16)>,
    state: Mutex<State>,
}

struct State {
    used: Vec<bool>,
    next: usize,
}

impl PortAllocator {
    pub fn new(range: Option<(u16, u16)>) -> Arc<PortAllocator> {
        let len = range.map(|(s, e)| usize::from(e - s) + 1).unwrap_or(0);
        Arc::new(PortAllocator {
            range,
            state: Mutex::new(State {
                used: vec![false; len],
                next: 0,
            }),
        })
    }

    /// Leases a free port from the range (None: the range is exhausted).
    fn lease(self: &Arc<Self>) -> Option<Lease> {
        let (start, _) = self.range?;
        // A panic elsewhere while holding the lock cannot corrupt a bitmap: keep serving.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let len = st.used.len();
        for i in 0..len {
            let idx = (st.next + i) % len;
            if !st.used[idx] {
                st.used[idx] = true;
                st.next = (idx + 1) % len;
                return Some(Lease {
                    alloc: Arc::clone(self),
                    port: start + idx as u16,
                });
            }
        }
        None
    }

    /// Number of ports leased now (for tests and STAT).
    pub fn in_use(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.used.iter().filter(|u| **u).count()
    }

    /// A listener on `ip`, on a leased port of the range or an ephemeral one.
    pub fn listen(self: &Arc<Self>, ip: IpAddr) -> io::Result<PassiveListener> {
        let sock = passive_socket(ip)?;
        let Some((start, end)) = self.range else {
            sock.bind(&SocketAddr::new(ip, 0).into())?;
            return Ok(PassiveListener {
                listener: listen(sock)?,
                lease: None,
            });
        };
        let tries = usize::from(end - start) + 1;
        let mut last_err = None;
        // Ports another program holds stay leased in `busy` while we try the others, so
        // the loop moves on; they are released when `busy` drops. A failed bind leaves the
        // socket unbound: the same socket tries the next port.
        let mut busy = Vec::new();
        for _ in 0..tries {
            let Some(lease) = self.lease() else { break };
            match sock.bind(&SocketAddr::new(ip, lease.port).into()) {
                Ok(()) => {
                    return Ok(PassiveListener {
                        listener: listen(sock)?,
                        lease: Some(lease),
                    })
                }
                // Another port cannot help with any other error (EADDRNOTAVAIL, EACCES).
                Err(e) if e.kind() != io::ErrorKind::AddrInUse => return Err(e),
                Err(e) => {
                    last_err = Some(e);
                    busy.push(lease);
                }
            }
        }
        drop(busy);
        Err(last_err.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                "every port of passive_port_range is in use",
            )
        }))
    }
}

struct Lease {
    alloc: Arc<PortAllocator>,
    port: u16,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((start, _)) = self.alloc.range {
            let mut st = self
                .alloc
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(u) = st.used.get_mut(usize::from(self.port - start)) {
                *u = false;
            }
        }
    }
}

/// An unbound, non-blocking stream socket for a passive listener: data::accept polls it
/// (the BSDs' accept has no timeout).
fn passive_socket(ip: IpAddr) -> io::Result<Socket> {
    let domain = Domain::for_address(SocketAddr::new(ip, 0));
    // SOCK_NONBLOCK at creation where there is one: two fcntl calls fewer per transfer.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    let sock = Socket::new(domain, Type::STREAM.nonblocking(), None)?;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    )))]
    let sock = {
        let s = Socket::new(domain, Type::STREAM, None)?;
        s.set_nonblocking(true)?;
        s
    };
    // A port just used by a finished transfer may sit in TIME_WAIT; that must not stop reuse.
    sock.set_reuse_address(true)?;
    if ip.is_ipv6() {
        sock.set_only_v6(false).ok();
    }
    Ok(sock)
}

fn listen(sock: Socket) -> io::Result<TcpListener> {
    sock.listen(8)?;
    Ok(sock.into())
}

/// A listening passive socket and its port lease.
pub struct PassiveListener {
    pub listener: TcpListener,
    lease: Option<Lease>,
}

impl PassiveListener {
    pub fn port(&self) -> io::Result<u16> {
        match &self.lease {
            Some(l) => Ok(l.port),
            None => Ok(self.listener.local_addr()?.port()),
        }
    }
}

/// The IPv4 address a PASV reply announces: a matching `passive_ip_overrides` entry, then
/// `force_passive_ip`, then `passive_host` (resolved now), then the control connection's
/// local address.
pub fn announced_ipv4(b: &Binding, client: IpAddr, local: IpAddr) -> Result<Ipv4Addr, String> {
    let local4 = || match local {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .ok_or_else(|| "PASV needs IPv4; use EPSV".to_string()),
    };
    if let Some(o) = b
        .passive_ip_overrides
        .iter()
        .find(|o| o.networks.iter().any(|n| n.contains(client)))
    {
        return match o.ip {
            Some(IpAddr::V4(v4)) => Ok(v4),
            Some(IpAddr::V6(_)) => {
                Err("passive_ip_overrides gives an IPv6 address; use EPSV".into())
            }
            None => local4(),
        };
    }
    if let Some(ip) = b.force_passive_ip {
        return Ok(ip);
    }
    if let Some(host) = &b.passive_host {
        return resolve_ipv4(host);
    }
    local4()
}

/// How long a PASV waits for `passive_host` to resolve (SFTPGo's bound too).
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `passive_host`'s first IPv4 address, looked up on a helper thread so that a resolver
/// that does not answer costs the session [`RESOLVE_TIMEOUT`], not its life (the C
/// library's lookup cannot be interrupted; the helper ends when it returns).
fn resolve_ipv4(host: &str) -> Result<Ipv4Addr, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let name = host.to_string();
    let spawned = std::thread::Builder::new()
        .name("passive_host".into())
        .stack_size(RESOLVER_STACK)
        .spawn(move || {
            let found = (name.as_str(), 0).to_socket_addrs().map(|addrs| {
                addrs
                    .filter_map(|a| match a.ip() {
                        IpAddr::V4(v4) => Some(v4),
                        IpAddr::V6(_) => None,
                    })
                    .next()
            });
            // The session may have given up waiting: nobody to tell then.
            let _ = tx.send(found);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot resolve passive_host {host:?}: {e}"));
    }
    match rx.recv_timeout(RESOLVE_TIMEOUT) {
        Ok(Ok(Some(v4))) => Ok(v4),
        Ok(Ok(None)) => Err(format!("passive_host {host:?} has no IPv4 address")),
        Ok(Err(e)) => Err(format!("cannot resolve passive_host {host:?}: {e}")),
        Err(_) => Err(format!(
            "passive_host {host:?} did not resolve within {} s",
            RESOLVE_TIMEOUT.as_secs()
        )),
    }
}

/// The resolver thread's stack: getaddrinfo and its NSS modules may use a good deal
/// (glibc uses alloca); untouched pages cost nothing, so this errs on the large side.
const RESOLVER_STACK: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_and_freed_on_drop() {
        let a = PortAllocator::new(Some((40000, 40002)));
        let l1 = a.lease().unwrap();
        let l2 = a.lease().unwrap();
        let l3 = a.lease().unwrap();
        assert!(a.lease().is_none());
        let mut ports = [l1.port, l2.port, l3.port];
        ports.sort_unstable();
        assert_eq!(ports, [40000, 40001, 40002]);
        drop(l2);
        assert_eq!(a.in_use(), 2);
        assert!(a.lease().is_some());
    }

    #[test]
    fn listen_skips_busy_ports_and_releases_them() {
        let blocker = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = blocker.local_addr().unwrap().port();
        let a = PortAllocator::new(Some((busy, busy.saturating_add(1))));
        let l = a.listen("127.0.0.1".parse().unwrap());
        if let Ok(l) = l {
            assert_ne!(l.port().unwrap(), busy);
            assert_eq!(a.in_use(), 1);
        } else {
            assert_eq!(a.in_use(), 0);
        }
    }
}
