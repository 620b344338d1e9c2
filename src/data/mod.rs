//! Data connections: setting one up (passive or active), checking its peer, and moving
//! bytes over it while the control connection stays responsive.
//!
//! Sockets get short send/receive timeouts: a blocked read or write returns every
//! [`TICK`] so the caller can look at the control connection (ABOR, STAT) without a second
//! thread, and the fast path pays nothing because a timeout only fires when idle.

pub mod active;
pub mod ascii;
pub mod passive;

use crate::tls::stream::Stream;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How often a blocked data operation returns to look at the control connection.
pub const TICK: Duration = Duration::from_millis(100);
/// How long to wait for the data connection to be made (SFTPGo's 20 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes handed to sendfile at a time (bounded so ABOR is seen between chunks).
const SEND_CHUNK: u64 = 8 << 20;
/// Buffer for uploads and converted (ASCII) downloads.
const BUF_SIZE: usize = 256 << 10;

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
    // accept() honours SO_RCVTIMEO on Linux and the BSDs: a bounded wait with no polling
    // delay when the client is already connecting.
    socket2::SockRef::from(&pl.listener)
        .set_read_timeout(Some(TICK))
        .map_err(OpenError::Io)?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match pl.listener.accept() {
            Ok((sock, addr)) => {
                let from = addr.ip().to_canonical();
                if peer.check_ip && from != peer.ip.to_canonical() {
                    // Stops data theft: the transfer fails instead of going to a stranger.
                    drop(sock);
                    return Err(OpenError::WrongPeer(from));
                }
                sock.set_nonblocking(false).map_err(OpenError::Io)?;
                return Ok(sock);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if ctl(0) == Ctl::Abort {
                    return Err(OpenError::Aborted);
                }
                if Instant::now() >= deadline {
                    return Err(OpenError::Timeout);
                }
            }
            Err(e) => return Err(OpenError::Io(e)),
        }
    }
}

/// How a transfer ended, with the bytes moved on the data connection.
#[derive(Debug)]
pub enum Outcome {
    Done(u64),
    /// ABOR on the control connection.
    Aborted(u64),
    /// The data connection failed (client side): 426.
    Broken(u64, io::Error),
    /// Reading or writing the local file failed: 451.
    Local(u64, io::Error),
    /// No progress for the stall limit: 426.
    Stalled(u64),
}

impl Outcome {
    pub fn bytes(&self) -> u64 {
        match self {
            Outcome::Done(n)
            | Outcome::Aborted(n)
            | Outcome::Broken(n, _)
            | Outcome::Local(n, _)
            | Outcome::Stalled(n) => *n,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Tracks progress so a transfer that stops moving is ended.
struct Watch {
    last: Instant,
    stall: Duration,
}

impl Watch {
    fn new(stall: Duration) -> Watch {
        Watch {
            last: Instant::now(),
            stall,
        }
    }
    fn progress(&mut self) {
        self.last = Instant::now();
    }
    fn stalled(&self) -> bool {
        self.last.elapsed() >= self.stall
    }
}

/// RETR in binary: sendfile(2) where the system has it (zero-copy: the file's pages go to
/// the socket without passing through this process), a read/write loop elsewhere.
pub fn send_file(
    file: &File,
    out: &mut Stream,
    stall: Duration,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut f = file;
    let mut offset = match f.stream_position() {
        Ok(p) => p,
        Err(e) => return Outcome::Local(0, e),
    };
    let Stream::Plain(sock) = out else {
        // TLS records are made in this process: no zero-copy path.
        return copy_loop(f, offset, out, Watch::new(stall), ctl);
    };
    let sock: &TcpStream = sock;
    let mut sent = 0u64;
    let mut watch = Watch::new(stall);
    let mut last_check = Instant::now();
    loop {
        match sendfile(sock, file, &mut offset) {
            Some(Ok(0)) => return Outcome::Done(sent),
            Some(Ok(n)) => {
                sent += n as u64;
                watch.progress();
                if last_check.elapsed() < TICK {
                    continue;
                }
                last_check = Instant::now();
            }
            Some(Err(e)) if is_timeout(&e) => {
                if watch.stalled() {
                    return Outcome::Stalled(sent);
                }
            }
            // This file system cannot sendfile: copy through a buffer instead.
            Some(Err(e)) if e.kind() == io::ErrorKind::InvalidInput && sent == 0 => break,
            Some(Err(e)) => return Outcome::Broken(sent, e),
            None => break,
        }
        if ctl(sent) == Ctl::Abort {
            return Outcome::Aborted(sent);
        }
    }
    copy_loop(f, offset, out, watch, ctl)
}

/// One sendfile(2) call of at most [`SEND_CHUNK`] bytes from `offset`; None where the
/// system has no sendfile.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sendfile(sock: &TcpStream, file: &File, offset: &mut u64) -> Option<io::Result<usize>> {
    Some(
        rustix::fs::sendfile(sock, file, Some(offset), SEND_CHUNK as usize)
            .map_err(io::Error::from),
    )
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sendfile(_sock: &TcpStream, _file: &File, _offset: &mut u64) -> Option<io::Result<usize>> {
    None
}

/// The portable download path: read from `offset`, write to the socket.
fn copy_loop(
    mut f: &File,
    offset: u64,
    out: &mut Stream,
    mut watch: Watch,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    if let Err(e) = f.seek(io::SeekFrom::Start(offset)) {
        return Outcome::Local(0, e);
    }
    let mut buf = vec![0u8; BUF_SIZE];
    let mut sent = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => return Outcome::Done(sent),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Outcome::Local(sent, e),
        };
        if let Some(end) = write_all(out, &buf[..n], &mut sent, &mut watch, ctl) {
            return end;
        }
    }
}

/// RETR in ASCII: LF becomes CRLF on the way out.
pub fn send_file_ascii(
    file: &File,
    out: &mut Stream,
    stall: Duration,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut f = file;
    let mut inbuf = vec![0u8; BUF_SIZE / 2];
    let mut converted = Vec::with_capacity(BUF_SIZE);
    let mut sent = 0u64;
    let mut watch = Watch::new(stall);
    loop {
        let n = match f.read(&mut inbuf) {
            Ok(0) => return Outcome::Done(sent),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Outcome::Local(sent, e),
        };
        converted.clear();
        ascii::lf_to_crlf(&inbuf[..n], &mut converted);
        if let Some(end) = write_all(out, &converted, &mut sent, &mut watch, ctl) {
            return end;
        }
    }
}

/// Listings and other in-memory data.
pub fn send_bytes(
    out: &mut Stream,
    data: &[u8],
    stall: Duration,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut sent = 0u64;
    let mut watch = Watch::new(stall);
    match write_all(out, data, &mut sent, &mut watch, ctl) {
        Some(end) => end,
        None => Outcome::Done(sent),
    }
}

/// Writes all of `buf`, asking `ctl` whenever the socket is not ready. Some(outcome) ends
/// the transfer early.
fn write_all(
    out: &mut Stream,
    mut buf: &[u8],
    sent: &mut u64,
    watch: &mut Watch,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Option<Outcome> {
    while !buf.is_empty() {
        match out.write(buf) {
            Ok(0) => {
                return Some(Outcome::Broken(
                    *sent,
                    io::Error::new(io::ErrorKind::WriteZero, "data connection closed"),
                ))
            }
            Ok(n) => {
                buf = &buf[n..];
                *sent += n as u64;
                watch.progress();
            }
            Err(e) if is_timeout(&e) => {
                if ctl(*sent) == Ctl::Abort {
                    return Some(Outcome::Aborted(*sent));
                }
                if watch.stalled() {
                    return Some(Outcome::Stalled(*sent));
                }
            }
            Err(e) => return Some(Outcome::Broken(*sent, e)),
        }
    }
    None
}

/// STOR/APPE: everything until the client closes the data connection goes into `file`,
/// CRLF becoming LF in ASCII mode.
pub fn receive(
    inp: &mut Stream,
    file: &mut File,
    ascii: bool,
    stall: Duration,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut conv = ascii::CrlfToLf::new();
    let mut converted = Vec::new();
    let mut received = 0u64;
    let mut watch = Watch::new(stall);
    let mut last_check = Instant::now();
    loop {
        match inp.read(&mut buf) {
            Ok(0) => {
                if ascii {
                    converted.clear();
                    conv.finish(&mut converted);
                    if let Err(e) = file.write_all(&converted) {
                        return Outcome::Local(received, e);
                    }
                }
                return Outcome::Done(received);
            }
            Ok(n) => {
                received += n as u64;
                watch.progress();
                let r = if ascii {
                    converted.clear();
                    conv.push(&buf[..n], &mut converted);
                    file.write_all(&converted)
                } else {
                    file.write_all(&buf[..n])
                };
                if let Err(e) = r {
                    return Outcome::Local(received, e);
                }
                // Between full-speed reads, look at the control connection now and then.
                if last_check.elapsed() >= TICK {
                    last_check = Instant::now();
                    if ctl(received) == Ctl::Abort {
                        return Outcome::Aborted(received);
                    }
                }
            }
            // A TLS peer that closes TCP without close_notify: taken as the end, as most
            // servers do, since many FTP clients never send one on data connections.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                log::debug!("data connection closed without TLS close_notify");
                if ascii {
                    converted.clear();
                    conv.finish(&mut converted);
                    if let Err(e) = file.write_all(&converted) {
                        return Outcome::Local(received, e);
                    }
                }
                return Outcome::Done(received);
            }
            Err(e) if is_timeout(&e) => {
                last_check = Instant::now();
                if ctl(received) == Ctl::Abort {
                    return Outcome::Aborted(received);
                }
                if watch.stalled() {
                    return Outcome::Stalled(received);
                }
            }
            Err(e) => return Outcome::Broken(received, e),
        }
    }
}
