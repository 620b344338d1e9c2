//! Data connections: setting one up (passive or active), checking its peer, and moving
//! bytes over it while the control connection stays responsive.
//!
//! Sockets get short send/receive timeouts: a blocked read or write returns every
//! [`TICK`] so the caller can look at the control connection (ABOR, STAT) without a second
//! thread, and the fast path pays nothing because a timeout only fires when idle.

pub mod active;
pub mod ascii;
pub mod passive;
pub mod splice;
pub mod transfer;

pub use transfer::{Bounds, Outcome};

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How often a blocked data operation returns to look at the control connection.
pub const TICK: Duration = Duration::from_millis(100);
/// How long to wait for the data connection to be made (SFTPGo's 20 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What the session set up with PASV/EPSV or PORT/EPRT.
pub enum Plan {
    None,
    Passive(passive::PassiveListener),
    Active(SocketAddr),
}

/// How to check the data peer.
pub struct Peer {
    /// The control connection's peer address.
    pub ip: IpAddr,
    /// The control connection's local address (active dials leave from it).
    pub local: IpAddr,
    /// `passive_connections_security` 0.
    pub check_ip: bool,
    /// Dial active connections from port 20.
    pub port_20: bool,
    /// The PROXY protocol settings where the binding applies them (`apply_proxy_config`):
    /// a passive connection from a proxy then starts with a header naming the client, and
    /// that address is what `check_ip` compares.
    pub proxy: Option<crate::proxy_proto::ProxyConfig>,
}

/// The control side's verdict, asked between waits and chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctl {
    Go,
    Abort,
}

#[derive(Debug)]
pub enum OpenError {
    NoPlan,
    Timeout,
    /// A passive connection came from another address than the control peer.
    WrongPeer(IpAddr),
    /// A passive connection's PROXY header was refused, missing, malformed or too slow
    /// (from this address).
    Proxy(IpAddr, String),
    Aborted,
    Io(io::Error),
}

/// Makes the data connection of `plan`, asking `ctl` while waiting.
pub fn open(
    plan: Plan,
    peer: &Peer,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Result<TcpStream, OpenError> {
    let sock = match plan {
        Plan::None => return Err(OpenError::NoPlan),
        Plan::Active(target) => active::connect(target, peer.local, peer.port_20, CONNECT_TIMEOUT)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::TimedOut {
                    OpenError::Timeout
                } else {
                    OpenError::Io(e)
                }
            })?,
        Plan::Passive(pl) => accept(&pl, peer, ctl)?,
    };
    sock.set_nodelay(true).map_err(OpenError::Io)?;
    sock.set_read_timeout(Some(TICK)).map_err(OpenError::Io)?;
    sock.set_write_timeout(Some(TICK)).map_err(OpenError::Io)?;
    Ok(sock)
}

fn accept(
    pl: &passive::PassiveListener,
    peer: &Peer,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Result<TcpStream, OpenError> {
    // The listener is non-blocking: accept at once when the client is already connecting
    // (as most do before sending the command), else wait for it by poll(2) a TICK at a time.
    // Not SO_RCVTIMEO: accept() honours it on Linux, but not on the BSDs or macOS.
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match pl.listener.accept() {
            Ok((sock, addr)) => {
                // macOS's accept copies the listener's O_NONBLOCK (the accept4 std uses
                // elsewhere does not): the session's reads and writes must block.
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                sock.set_nonblocking(false).map_err(OpenError::Io)?;
                let mut from = addr.ip().to_canonical();
                if let Some(proxy) = &peer.proxy {
                    // Before the address check: through a proxy, the header says who it is.
                    let policy = match proxy.policy(from) {
                        // Data is not commands: a plain source's bytes are the file's.
                        crate::proxy_proto::Policy::PlainRefuseHeader => {
                            crate::proxy_proto::Policy::Plain
                        }
                        p => p,
                    };
                    // ABOR is seen while the header is awaited, as while the connection is.
                    let mut stop = || ctl(0) == Ctl::Abort;
                    match crate::proxy_proto::read_header(&sock, policy, &mut stop) {
                        Ok(h) => {
                            if let Some(client) = h.and_then(|h| h.source()) {
                                from = client.ip();
                            }
                        }
                        Err(crate::proxy_proto::ProxyError::Stopped) => {
                            return Err(OpenError::Aborted)
                        }
                        Err(e) => return Err(OpenError::Proxy(from, e.to_string())),
                    }
                }
                if peer.check_ip && from != peer.ip.to_canonical() {
                    // Stops data theft: the transfer fails instead of going to a stranger.
                    drop(sock);
                    return Err(OpenError::WrongPeer(from));
                }
                return Ok(sock);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || accept_retries(&e) => {
                // Checked before the wait, so that a connection the last wait saw is
                // still accepted.
                if ctl(0) == Ctl::Abort {
                    return Err(OpenError::Aborted);
                }
                if Instant::now() >= deadline {
                    return Err(OpenError::Timeout);
                }
                wait_readable(
                    &pl.listener,
                    deadline.saturating_duration_since(Instant::now()),
                )
                .map_err(OpenError::Io)?;
            }
            Err(e) => return Err(OpenError::Io(e)),
        }
    }
}

/// Errors accept(2) returns for one connection, not for the listener: a connection reset
/// before it was taken (ECONNABORTED), and the network errors Linux passes on, which its
/// manual says to retry like EAGAIN.
fn accept_retries(e: &io::Error) -> bool {
    use rustix::io::Errno;
    let Some(code) = e.raw_os_error() else {
        return false;
    };
    [
        Errno::CONNABORTED,
        Errno::INTR,
        Errno::PROTO,
        Errno::NETDOWN,
        Errno::NETUNREACH,
        Errno::HOSTUNREACH,
        Errno::HOSTDOWN,
        Errno::NOPROTOOPT,
        Errno::OPNOTSUPP,
    ]
    .iter()
    .any(|x| x.raw_os_error() == code)
}

/// Waits until `l` has a connection to accept, or `limit` passes.
fn wait_readable(l: &std::net::TcpListener, limit: Duration) -> io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    // Under a second, so the conversion cannot fail.
    let limit = Timespec::try_from(limit.min(TICK)).unwrap_or_default();
    match poll(&mut [PollFd::new(l, PollFlags::IN)], Some(&limit)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
