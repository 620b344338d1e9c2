//! The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) in front of control
//! and passive data connections: which sources may send a header (`common.proxy_protocol`,
//! `proxy_allowed`, `proxy_skipped`), and a bounded reader for the header itself, so that
//! the real client's address drives IP filters, limits, logs and the data-connection check.
//!
//! Policy (mode 1 and 2 as in SFTPGo; where SFTPGo reads and ignores a header from a source
//! that is not allowed, ferroftpd refuses it, so a forged client address is never quietly
//! accepted):
//! - mode 0, or a source in `proxy_skipped`: no PROXY protocol at all.
//! - mode 1: a source in `proxy_allowed` may send a header (it is used) or not (a plain
//!   connection); any other source is served plain, and a header it sends is refused.
//! - mode 2: a source in `proxy_allowed` must send a header; any other source is refused.
//!
//! Bounds: the header must be complete within [`HEADER_TIMEOUT`] (SFTPGo's 10 s). Version 1
//! is at most [`V1_MAX`] bytes and is read one byte at a time, so nothing after its CRLF is
//! consumed; version 2 is its 16-byte fixed part plus the length it announces, at most
//! [`V2_MAX_BODY`], read exactly. Detection only peeks, so bytes that are not a header stay
//! in the socket for the session (or the upload) that follows.

use crate::util::cidr::IpNet;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The whole header must have arrived within this (SFTPGo's timeout).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Mode 1, allowed source: how long to wait for a header before taking the connection as
/// plain. A proxy sends its header as soon as it has connected, so this only delays plain
/// FTP clients on the proxy's own address, which wait for the greeting before speaking.
pub const OPTIONAL_WAIT: Duration = Duration::from_secs(3);
/// The longest version 1 header, CRLF included (proxy-protocol.txt 2.1).
pub const V1_MAX: usize = 107;
/// The longest version 2 address block and TLVs accepted. Addresses take at most 216 bytes
/// (AF_UNIX); the rest leaves room for the TLVs a proxy may add (unique id, TLS details).
pub const V2_MAX_BODY: usize = 2048;

const V1_SIG: &[u8] = b"PROXY ";
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// How often detection looks again when only part of a signature has arrived.
const PREFIX_POLL: Duration = Duration::from_millis(10);
/// The longest single wait for header bytes: between waits the caller may stop it.
const SLICE: Duration = Duration::from_millis(100);

/// `common.proxy_protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// 1: a header is used where an allowed source sends one.
    Optional,
    /// 2: allowed sources must send one; others are refused.
    Required,
}

/// `common.proxy_protocol`, `proxy_allowed` and `proxy_skipped`.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub mode: Mode,
    pub allowed: Vec<IpNet>,
    pub skipped: Vec<IpNet>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: Mode::Off,
            allowed: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// What to do with one connection, from its source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// No PROXY protocol (mode 0, or a skipped source).
    Plain,
    /// Mode 1, a source not allowed: served plain, but a header it sends is refused.
    PlainRefuseHeader,
    /// Mode 1, an allowed source: a header is used if one comes first.
    Optional,
    /// Mode 2, an allowed source: a header must come first.
    Required,
    /// Mode 2, any other source: refused without reading anything.
    Refuse,
}

impl ProxyConfig {
    pub fn policy(&self, source: IpAddr) -> Policy {
        let source = source.to_canonical();
        let within = |nets: &[IpNet]| nets.iter().any(|n| n.contains(source));
        match self.mode {
            Mode::Off => Policy::Plain,
            _ if within(&self.skipped) => Policy::Plain,
            Mode::Optional if within(&self.allowed) => Policy::Optional,
            Mode::Optional => Policy::PlainRefuseHeader,
            Mode::Required if within(&self.allowed) => Policy::Required,
            Mode::Required => Policy::Refuse,
        }
    }
}

/// The policy for a connection from `source` to binding number `binding`: Plain unless the
/// binding applies the proxy configuration (`apply_proxy_config`, default true).
pub fn binding_policy(config: &crate::config::Config, binding: usize, source: IpAddr) -> Policy {
    match config.ftpd.bindings.get(binding) {
        Some(b) if b.apply_proxy => config.common.proxy.policy(source),
        _ => Policy::Plain,
    }
}

/// What a header said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The client's address and the address it connected to (on the proxy).
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// v2 LOCAL (the proxy's own health check), v1 UNKNOWN, or an address family that is not
    /// IP: the connection's own addresses stand.
    Local,
}

impl Header {
    /// The client address this header gives, if any.
    pub fn source(&self) -> Option<SocketAddr> {
        match self {
            Header::Proxied { source, .. } => {
                Some(SocketAddr::new(source.ip().to_canonical(), source.port()))
            }
            Header::Local => None,
        }
    }
}

#[derive(Debug)]
pub enum ProxyError {
    /// Mode 2 and the source is not in `proxy_allowed`.
    NotAllowed,
    /// Mode 2 and the first bytes are not a header.
    Missing,
    /// The header did not complete within [`HEADER_TIMEOUT`].
    Timeout,
    Malformed(String),
    /// The peer closed the connection first.
    Closed,
    /// The caller asked to stop waiting (ABOR during a data connection's header).
    Stopped,
    Io(io::Error),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotAllowed => write!(
                f,
                "source not in common.proxy_allowed, and proxy_protocol 2 requires a header"
            ),
            ProxyError::Missing => write!(f, "no PROXY header, and proxy_protocol 2 requires one"),
            ProxyError::Timeout => write!(
                f,
                "PROXY header incomplete after {}s",
                HEADER_TIMEOUT.as_secs()
            ),
            ProxyError::Malformed(why) => write!(f, "malformed PROXY header: {why}"),
            ProxyError::Closed => write!(f, "closed before sending a PROXY header"),
            ProxyError::Stopped => write!(f, "stopped while waiting for a PROXY header"),
            ProxyError::Io(e) => write!(f, "reading the PROXY header: {e}"),
        }
    }
}

/// What the first bytes of a connection are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    V1,
    V2,
    /// Not a header.
    Other,
    /// A strict prefix of a signature: wait for more.
    Prefix,
}

fn classify(bytes: &[u8]) -> Start {
    let matches = |sig: &[u8]| {
        let n = bytes.len().min(sig.len());
        bytes.get(..n) == sig.get(..n)
    };
    if bytes.len() >= V1_SIG.len() && bytes.starts_with(V1_SIG) {
        Start::V1
    } else if bytes.len() >= V2_SIG.len() && bytes.starts_with(V2_SIG) {
        Start::V2
    } else if matches(V1_SIG) || matches(V2_SIG) {
        Start::Prefix
    } else {
        Start::Other
    }
}

/// A read timeout of a [`SLICE`] at most, towards `deadline` (std refuses a zero timeout).
/// False when the deadline has passed.
fn set_timeout(sock: &TcpStream, deadline: Instant) -> io::Result<bool> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(false);
    }
    sock.set_read_timeout(Some(left.clamp(Duration::from_millis(1), SLICE)))?;
    Ok(true)
}

/// A read timed out: go on waiting (Ok) while `deadline` is ahead and `stop` says no.
fn still_waiting(deadline: Instant, stop: &mut dyn FnMut() -> bool) -> Result<bool, ProxyError> {
    if Instant::now() >= deadline {
        return Ok(false);
    }
    if stop() {
        return Err(ProxyError::Stopped);
    }
    Ok(true)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Peeks at the first bytes until they tell what they are. `wait` bounds the wait for the
/// first byte (None when nothing came); once part of a signature is there, the rest has
/// until `deadline`.
fn detect(
    sock: &TcpStream,
    wait: Instant,
    deadline: Instant,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Option<Start>, ProxyError> {
    let mut buf = [0u8; V2_SIG.len()];
    let mut started = false;
    // Bounded: every turn either returns or waits a slice or PREFIX_POLL towards `deadline`.
    loop {
        let until = if started { deadline } else { wait };
        if !set_timeout(sock, until).map_err(ProxyError::Io)? {
            return if started {
                Err(ProxyError::Timeout)
            } else {
                Ok(None)
            };
        }
        match sock.peek(&mut buf) {
            Ok(0) => return Err(ProxyError::Closed),
            Ok(n) => match classify(&buf[..n]) {
                Start::Prefix => {
                    // Only a split segment gets here; the rest is on its way.
                    started = true;
                    std::thread::sleep(PREFIX_POLL);
                    if stop() {
                        return Err(ProxyError::Stopped);
                    }
                }
                other => return Ok(Some(other)),
            },
            Err(e) if is_timeout(&e) => {
                if still_waiting(until, stop)? {
                    continue;
                }
                if started {
                    return Err(ProxyError::Timeout);
                }
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ProxyError::Io(e)),
        }
    }
}

/// Reads exactly `buf.len()` bytes by `deadline`.
fn read_exact_by(
    sock: &TcpStream,
    buf: &mut [u8],
    deadline: Instant,
    stop: &mut dyn FnMut() -> bool,
) -> Result<(), ProxyError> {
    let mut got = 0;
    let mut s = sock;
    while got < buf.len() {
        if !set_timeout(sock, deadline).map_err(ProxyError::Io)? {
            return Err(ProxyError::Timeout);
        }
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err(ProxyError::Closed),
            Ok(n) => got += n,
            Err(e) if is_timeout(&e) => {
                if !still_waiting(deadline, stop)? {
                    return Err(ProxyError::Timeout);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ProxyError::Io(e)),
        }
    }
    Ok(())
}

/// Reads the header `policy` asks for. `Ok(None)`: no header, serve the connection as it
/// is. While it waits, `stop` is asked every [`SLICE`] whether to give up (a data
/// connection's session looks for ABOR). The socket's read timeout is cleared afterwards.
pub fn read_header(
    sock: &TcpStream,
    policy: Policy,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Option<Header>, ProxyError> {
    let r = read_header_inner(sock, policy, stop);
    let _ = sock.set_read_timeout(None);
    r
}

fn read_header_inner(
    sock: &TcpStream,
    policy: Policy,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Option<Header>, ProxyError> {
    let now = Instant::now();
    let deadline = now + HEADER_TIMEOUT;
    let wait = match policy {
        Policy::Plain | Policy::PlainRefuseHeader => return Ok(None),
        Policy::Refuse => return Err(ProxyError::NotAllowed),
        Policy::Optional => now + OPTIONAL_WAIT,
        Policy::Required => deadline,
    };
    let start = detect(sock, wait, deadline, stop)?;
    let required = policy == Policy::Required;
    match start {
        Some(Start::V1) => read_v1(sock, deadline, stop).map(Some),
        Some(Start::V2) => read_v2(sock, deadline, stop).map(Some),
        None if required => Err(ProxyError::Timeout),
        Some(_) if required => Err(ProxyError::Missing),
        _ => Ok(None),
    }
}

fn read_v1(
    sock: &TcpStream,
    deadline: Instant,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Header, ProxyError> {
    let mut line = Vec::with_capacity(V1_MAX);
    let mut byte = [0u8; 1];
    // One byte at a time: the header ends at CRLF and what follows is not ours to take.
    while line.len() < V1_MAX {
        read_exact_by(sock, &mut byte, deadline, stop)?;
        line.push(byte[0]);
        if line.ends_with(b"\r\n") {
            return parse_v1(&line).map_err(ProxyError::Malformed);
        }
    }
    Err(ProxyError::Malformed(format!(
        "version 1 header longer than {V1_MAX} bytes"
    )))
}

fn read_v2(
    sock: &TcpStream,
    deadline: Instant,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Header, ProxyError> {
    let mut fixed = [0u8; 16];
    read_exact_by(sock, &mut fixed, deadline, stop)?;
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > V2_MAX_BODY {
        return Err(ProxyError::Malformed(format!(
            "version 2 header announces {len} bytes, more than the {V2_MAX_BODY} accepted"
        )));
    }
    let mut body = vec![0u8; len];
    read_exact_by(sock, &mut body, deadline, stop)?;
    parse_v2(&fixed, &body).map_err(ProxyError::Malformed)
}

/// Parses a whole version 1 line, CRLF included:
/// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN...\r\n`.
pub fn parse_v1(line: &[u8]) -> Result<Header, String> {
    if line.len() > V1_MAX {
        return Err(format!("longer than {V1_MAX} bytes"));
    }
    let text = line
        .strip_suffix(b"\r\n")
        .ok_or("no CRLF at the end")?
        .strip_prefix(V1_SIG)
        .ok_or("does not start with \"PROXY \"")?;
    let text = std::str::from_utf8(text).map_err(|_| "not ASCII")?;
    if !text.is_ascii() {
        return Err("not ASCII".into());
    }
    if text == "UNKNOWN" || text.starts_with("UNKNOWN ") {
        return Ok(Header::Local);
    }
    let fields: Vec<&str> = text.split(' ').collect();
    let [proto, src, dst, sport, dport] = fields.as_slice() else {
        return Err(format!(
            "expected 6 fields separated by single spaces, got {}",
            fields.len() + 1
        ));
    };
    let v4 = match *proto {
        "TCP4" => true,
        "TCP6" => false,
        other => return Err(format!("unknown protocol {other:?}")),
    };
    let ip = |s: &str| -> Result<IpAddr, String> {
        let ip: IpAddr = if v4 {
            IpAddr::V4(
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("bad IPv4 address {s:?}"))?,
            )
        } else {
            IpAddr::V6(
                s.parse::<Ipv6Addr>()
                    .map_err(|_| format!("bad IPv6 address {s:?}"))?,
            )
        };
        Ok(ip)
    };
    let port = |s: &str| -> Result<u16, String> {
        // Digits only, no sign and no leading zero (the specification's form).
        let plain = !s.is_empty()
            && s.len() <= 5
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !plain {
            return Err(format!("bad port {s:?}"));
        }
        s.parse::<u16>().map_err(|_| format!("bad port {s:?}"))
    };
    Ok(Header::Proxied {
        source: SocketAddr::new(ip(src)?, port(sport)?),
        destination: SocketAddr::new(ip(dst)?, port(dport)?),
    })
}

/// Parses a version 2 header: the 16 fixed bytes and the `len` bytes that follow.
pub fn parse_v2(fixed: &[u8; 16], body: &[u8]) -> Result<Header, String> {
    if &fixed[..12] != V2_SIG {
        return Err("bad signature".into());
    }
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if body.len() != len {
        return Err(format!(
            "{} bytes after the fixed part, {len} announced",
            body.len()
        ));
    }
    let ver_cmd = fixed[12];
    if ver_cmd >> 4 != 2 {
        return Err(format!("version {} (only 2 exists)", ver_cmd >> 4));
    }
    match ver_cmd & 0x0f {
        0 => return Ok(Header::Local),
        1 => {}
        c => return Err(format!("unknown command {c}")),
    }
    let fam = fixed[13];
    let stream = fam & 0x0f == 1;
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*body.get(i)?, *body.get(i + 1)?])) };
    match fam >> 4 {
        // INET: 4 + 4 + 2 + 2 bytes.
        1 if stream => {
            let a = body.get(..12).ok_or("IPv4 addresses truncated")?;
            let src = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let dst = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
            let (sp, dp) = (u16_at(8), u16_at(10));
            let (Some(sp), Some(dp)) = (sp, dp) else {
                return Err("IPv4 ports truncated".into());
            };
            Ok(Header::Proxied {
                source: SocketAddr::new(IpAddr::V4(src), sp),
                destination: SocketAddr::new(IpAddr::V4(dst), dp),
            })
        }
        // INET6: 16 + 16 + 2 + 2 bytes.
        2 if stream => {
            let a = body.get(..36).ok_or("IPv6 addresses truncated")?;
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&a[..16]);
            d.copy_from_slice(&a[16..32]);
            let (Some(sp), Some(dp)) = (u16_at(32), u16_at(34)) else {
                return Err("IPv6 ports truncated".into());
            };
            Ok(Header::Proxied {
                source: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(s)), sp),
                destination: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(d)), dp),
            })
        }
        // UNSPEC, UNIX, or datagrams: the specification says to use the real connection.
        0..=3 => Ok(Header::Local),
        f => Err(format!("unknown address family {f}")),
    }
}

/// For [`Policy::PlainRefuseHeader`] control connections: waits (until `deadline`) for the
/// client's first bytes and tells whether they start a PROXY header, which that source may
/// not send. False when the bytes are something else, or when none came in time.
pub fn sends_header(sock: &TcpStream, deadline: Instant) -> bool {
    let header_deadline = deadline.max(Instant::now() + HEADER_TIMEOUT);
    let r = detect(sock, deadline, header_deadline, &mut || false);
    let _ = sock.set_read_timeout(None);
    // A truncated or slow signature is still an attempt at a header.
    matches!(
        r,
        Ok(Some(Start::V1 | Start::V2)) | Err(ProxyError::Timeout)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> ([u8; 16], Vec<u8>) {
        let mut f = [0u8; 16];
        f[..12].copy_from_slice(V2_SIG);
        f[12] = 0x20 | cmd;
        f[13] = fam;
        f[14..16].copy_from_slice(&(body.len() as u16).to_be_bytes());
        (f, body.to_vec())
    }

    #[test]
    fn v1_tcp4_tcp6_unknown() {
        let h = parse_v1(b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n").unwrap();
        assert_eq!(h.source(), Some("192.0.2.7:56324".parse().unwrap()));
        let h = parse_v1(b"PROXY TCP6 2001:db8::1 2001:db8::2 1024 2121\r\n").unwrap();
        assert_eq!(h.source(), Some("[2001:db8::1]:1024".parse().unwrap()));
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n").unwrap(), Header::Local);
        assert_eq!(
            parse_v1(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").unwrap(),
            Header::Local
        );
    }

    #[test]
    fn v1_refusals() {
        for bad in [
            &b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21"[..], // no CRLF
            b"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",     // 5 fields
            b"PROXY TCP4 192.0.2.7  198.51.100.1 56324 21\r\n", // double space
            b"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",     // family mismatch
            b"PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 21\r\n", // port range
            b"PROXY TCP4 192.0.2.7 198.51.100.1 021 21\r\n",   // leading zero
            b"PROXY TCP4 192.0.2.7 198.51.100.1 +21 21\r\n",
            b"PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.007 198.51.100.1 1 2\r\n",
            b"proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n",
        ] {
            assert!(parse_v1(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = format!("PROXY UNKNOWN {}\r\n", "x".repeat(100));
        assert!(parse_v1(long.as_bytes()).is_err());
    }

    #[test]
    fn v2_inet_inet6_local_and_refusals() {
        let mut b = vec![192, 0, 2, 7, 198, 51, 100, 1];
        b.extend_from_slice(&56324u16.to_be_bytes());
        b.extend_from_slice(&21u16.to_be_bytes());
        b.extend_from_slice(&[1, 0, 1, 0x42]); // a TLV, skipped
        let (f, body) = v2(1, 0x11, &b);
        assert_eq!(
            parse_v2(&f, &body).unwrap().source(),
            Some("192.0.2.7:56324".parse().unwrap())
        );
        let mut b6 = vec![0u8; 36];
        b6[0] = 0x20;
        b6[1] = 0x01;
        b6[15] = 1;
        b6[32..34].copy_from_slice(&1024u16.to_be_bytes());
        let (f, body) = v2(1, 0x21, &b6);
        assert_eq!(
            parse_v2(&f, &body).unwrap().source(),
            Some("[2001::1]:1024".parse().unwrap())
        );
        let (f, body) = v2(0, 0x00, &[]);
        assert_eq!(parse_v2(&f, &body).unwrap(), Header::Local);
        let (f, body) = v2(1, 0x11, &b[..10]);
        assert!(parse_v2(&f, &body).is_err(), "truncated");
        let (mut f, body) = v2(1, 0x11, &b);
        f[12] = 0x11;
        assert!(parse_v2(&f, &body).is_err(), "version 1 in a v2 header");
        let (mut f, body) = v2(1, 0x11, &b);
        f[0] = b'X';
        assert!(parse_v2(&f, &body).is_err(), "signature");
        let (f, body) = v2(7, 0x11, &b);
        assert!(parse_v2(&f, &body).is_err(), "command");
    }

    #[test]
    fn policy_follows_mode_allowed_and_skipped() {
        let cfg = |mode| ProxyConfig {
            mode,
            allowed: vec![IpNet::parse("10.0.0.0/8").unwrap()],
            skipped: vec![IpNet::parse("10.1.0.0/16").unwrap()],
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(cfg(Mode::Off).policy(ip("10.0.0.1")), Policy::Plain);
        assert_eq!(cfg(Mode::Optional).policy(ip("10.0.0.1")), Policy::Optional);
        assert_eq!(cfg(Mode::Optional).policy(ip("10.1.0.1")), Policy::Plain);
        assert_eq!(
            cfg(Mode::Optional).policy(ip("192.0.2.1")),
            Policy::PlainRefuseHeader
        );
        assert_eq!(cfg(Mode::Required).policy(ip("10.0.0.1")), Policy::Required);
        assert_eq!(
            cfg(Mode::Required).policy(ip("::ffff:10.0.0.1")),
            Policy::Required
        );
        assert_eq!(cfg(Mode::Required).policy(ip("10.1.2.3")), Policy::Plain);
        assert_eq!(cfg(Mode::Required).policy(ip("192.0.2.1")), Policy::Refuse);
    }

    #[test]
    fn classify_prefixes() {
        assert_eq!(classify(b"PRO"), Start::Prefix);
        assert_eq!(classify(b"PROXY "), Start::V1);
        assert_eq!(classify(b"PROXZ"), Start::Other);
        assert_eq!(classify(b"USER x"), Start::Other);
        assert_eq!(classify(b"\r\n\r\n"), Start::Prefix);
        assert_eq!(classify(V2_SIG), Start::V2);
    }

    /// A connected pair on loopback: (server side, client side).
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (s, c)
    }

    #[test]
    fn reader_takes_the_header_and_nothing_more() {
        let (s, mut c) = pair();
        c.write_all(b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\nUSER x\r\n")
            .unwrap();
        let h = read_header(&s, Policy::Required, &mut || false)
            .unwrap()
            .unwrap();
        assert_eq!(h.source(), Some("192.0.2.7:56324".parse().unwrap()));
        let mut rest = [0u8; 8];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"USER x\r\n");

        let (s, mut c) = pair();
        let (f, body) = v2(1, 0x11, &[192, 0, 2, 7, 198, 51, 100, 1, 0, 80, 0, 21]);
        c.write_all(&f).unwrap();
        c.write_all(&body).unwrap();
        c.write_all(b"DATA").unwrap();
        let h = read_header(&s, Policy::Optional, &mut || false)
            .unwrap()
            .unwrap();
        assert_eq!(h.source(), Some("192.0.2.7:80".parse().unwrap()));
        let mut rest = [0u8; 4];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"DATA");
    }

    #[test]
    fn optional_leaves_other_bytes_and_required_refuses_them() {
        let (s, mut c) = pair();
        c.write_all(b"upload bytes").unwrap();
        assert!(read_header(&s, Policy::Optional, &mut || false)
            .unwrap()
            .is_none());
        let mut rest = [0u8; 6];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"upload");

        let (s, mut c) = pair();
        c.write_all(b"USER x\r\n").unwrap();
        assert!(matches!(
            read_header(&s, Policy::Required, &mut || false),
            Err(ProxyError::Missing)
        ));
        assert!(matches!(
            read_header(&s, Policy::Refuse, &mut || false),
            Err(ProxyError::NotAllowed)
        ));
    }

    #[test]
    fn oversized_v2_and_endless_v1_are_refused() {
        let (s, mut c) = pair();
        let mut f = [0u8; 16];
        f[..12].copy_from_slice(V2_SIG);
        f[12] = 0x21;
        f[13] = 0x11;
        f[14..16].copy_from_slice(&60000u16.to_be_bytes());
        c.write_all(&f).unwrap();
        assert!(matches!(
            read_header(&s, Policy::Required, &mut || false),
            Err(ProxyError::Malformed(_))
        ));

        let (s, mut c) = pair();
        c.write_all(format!("PROXY {}", "1".repeat(200)).as_bytes())
            .unwrap();
        assert!(matches!(
            read_header(&s, Policy::Required, &mut || false),
            Err(ProxyError::Malformed(_))
        ));
    }

    #[test]
    fn sniffing_sees_a_late_header() {
        let (s, mut c) = pair();
        c.write_all(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n").unwrap();
        assert!(sends_header(&s, Instant::now() + Duration::from_secs(5)));
        let (s, mut c) = pair();
        c.write_all(b"USER u\r\n").unwrap();
        assert!(!sends_header(&s, Instant::now() + Duration::from_secs(5)));
    }
}
