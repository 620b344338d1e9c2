//! Active data connections (RFC 959 PORT, RFC 2428 EPRT): the server dials the client.
//!
//! The dial leaves from the control connection's local address, from port 20 only when
//! `active_transfers_port_non_20` is false (that needs privilege). Which targets are
//! acceptable is decided before, in [`check_target`]: with `active_connections_security` 0
//! only the control peer, and never a port below 1024. That is what stops the FTP bounce
//! attack (CERT CA-1997-27), where a client makes the server connect to a third host.

use socket2::{Domain, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// Why a PORT/EPRT target is refused.
pub fn check_target(target: SocketAddr, peer: IpAddr, ip_check: bool) -> Result<(), String> {
    if !ip_check {
        return Ok(());
    }
    if target.ip().to_canonical() != peer.to_canonical() {
        return Err("Address must be the one this control connection comes from".into());
    }
    if target.port() < 1024 {
        return Err("Port must be 1024 or above".into());
    }
    Ok(())
}

pub fn connect(
    target: SocketAddr,
    local: IpAddr,
    from_port_20: bool,
    timeout: Duration,
) -> io::Result<TcpStream> {
    // The family must match the target's; a v4 target from a v6 (mapped) local address
    // uses the v4 form.
    let local = match (target, local.to_canonical()) {
        (SocketAddr::V4(_), IpAddr::V4(l)) => IpAddr::V4(l),
        (SocketAddr::V6(_), IpAddr::V6(l)) => IpAddr::V6(l),
        (SocketAddr::V4(_), IpAddr::V6(_)) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        (SocketAddr::V6(_), IpAddr::V4(l)) => IpAddr::V6(l.to_ipv6_mapped()),
    };
    let sock = Socket::new(Domain::for_address(target), Type::STREAM, None)?;
    if from_port_20 {
        sock.set_reuse_address(true)?;
        sock.bind(&SocketAddr::new(local, 20).into())?;
    } else {
        sock.bind(&SocketAddr::new(local, 0).into())?;
    }
    sock.connect_timeout(&target.into(), timeout)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_targets_refused() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(check_target("127.0.0.1:5000".parse().unwrap(), peer, true).is_ok());
        assert!(check_target("[::ffff:127.0.0.1]:5000".parse().unwrap(), peer, true).is_ok());
        assert!(check_target("127.0.0.2:5000".parse().unwrap(), peer, true).is_err());
        assert!(check_target("127.0.0.1:25".parse().unwrap(), peer, true).is_err());
        assert!(check_target("10.1.1.1:25".parse().unwrap(), peer, false).is_ok());
    }
}
