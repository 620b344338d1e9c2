//! The control connection's byte stream: the only code that reads command lines and writes
//! replies. Lines end at LF (a CR before it is dropped), are bounded in length so a client
//! cannot make us buffer without limit, and have Telnet IAC sequences removed (RFC 959 4.1.3:
//! ABOR may arrive after Telnet IP and Synch).

use crate::reply::Reply;
use crate::tls::stream::Stream;
use rustls::ServerConnection;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest command line accepted (RFC 959 sets none; 4 KiB is SFTPGo's bound too).
pub const MAX_LINE: usize = 4096;
/// Reads of 1 KiB one [`ControlStream::try_read_line`] makes at most: past an overlong line
/// (4 KiB) plus a few more, and bounded against a client that never stops sending.
const MAX_FILLS: usize = 16;

/// How long a reply write may block before the client is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

const IAC: u8 = 255;

#[derive(Debug)]
pub enum ReadError {
    /// Nothing arrived before the deadline.
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The line was longer than [`MAX_LINE`]; it has been discarded whole.
    TooLong,
    /// The line is not UTF-8 (RFC 2640 paths are UTF-8).
    NotUtf8,
    Io(io::Error),
}

pub struct ControlStream {
    io: Stream,
    buf: Vec<u8>,
    /// Skipping the rest of an over-long line until its LF.
    discarding: bool,
    /// The socket's read timeout as last set (None: unknown). Every command moves the idle
    /// deadline; this spares a setsockopt per command while the one set still fits.
    read_timeout: Option<Option<Duration>>,
}

impl ControlStream {
    /// `sock` may be shared (the graceful stop holds it too), never duplicated.
    pub fn new(sock: Arc<TcpStream>) -> io::Result<ControlStream> {
        sock.set_nodelay(true)?;
        sock.set_write_timeout(Some(WRITE_TIMEOUT))?;
        // Python's ftplib sends ABOR with MSG_OOB; without this its last byte would be
        // taken out of the stream and the line would never end.
        socket2::SockRef::from(&sock).set_out_of_band_inline(true)?;
        Ok(ControlStream {
            io: Stream::Plain(sock),
            buf: Vec::new(),
            discarding: false,
            read_timeout: None,
        })
    }

    /// The socket, for a caller that may change its read timeout: the one remembered here
    /// is forgotten, so the next read sets its own.
    pub fn socket(&mut self) -> &TcpStream {
        self.read_timeout = None;
        self.io.tcp()
    }

    /// The TLS state of the control connection, once `AUTH TLS` (or implicit TLS) started it.
    pub fn tls(&self) -> Option<&ServerConnection> {
        self.io.tls()
    }

    pub fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.io.write_all(&reply.to_wire())?;
        self.io.flush()
    }

    /// Switches to TLS (after `234`, or at once for implicit TLS). Anything the client sent
    /// in clear after AUTH is dropped: it must not be read as if it came over TLS.
    pub fn start_tls(
        &mut self,
        choice: &crate::tls::Choice,
        token: &[u8],
        deadline: Instant,
    ) -> io::Result<()> {
        let sock = Arc::clone(self.io.shared_tcp());
        self.read_timeout = None;
        sock.set_read_timeout(Some(crate::data::TICK))?;
        self.read_timeout = Some(Some(crate::data::TICK));
        self.io = Stream::accept_tls(choice, token, sock, deadline)?;
        self.buf = Vec::new();
        self.discarding = false;
        Ok(())
    }

    /// Runs the TLS handshake to its end, bounded by `deadline` (the socket's read timeout
    /// is the one `start_tls` set).
    pub fn handshake(&mut self, deadline: Instant) -> io::Result<()> {
        self.io.handshake(deadline)
    }

    /// Blocks until a full line arrives or `deadline` passes (None: no deadline).
    pub fn read_line(&mut self, deadline: Option<Instant>) -> Result<String, ReadError> {
        loop {
            if let Some(line) = self.take_line() {
                return line;
            }
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ReadError::Timeout);
                    }
                    Some(left)
                }
                None => None,
            };
            self.set_read_timeout(timeout)?;
            match self.fill(false) {
                // The timeout set may end a read a little before the deadline.
                Err(ReadError::Timeout) if deadline.is_some() => {}
                r => r?,
            }
        }
    }

    /// Sets the socket's read timeout to `want`, unless the one set already ends a read no
    /// later than `want` and at most 1/64 of it earlier (read_line then waits again).
    fn set_read_timeout(&mut self, want: Option<Duration>) -> Result<(), ReadError> {
        let fits = match (self.read_timeout, want) {
            (Some(None), None) => true,
            (Some(Some(set)), Some(want)) => set <= want && want - set <= want / 64,
            _ => false,
        };
        if !fits {
            self.read_timeout = None;
            self.io
                .tcp()
                .set_read_timeout(want)
                .map_err(ReadError::Io)?;
            self.read_timeout = Some(want);
        }
        Ok(())
    }

    /// A line if one is already complete or arrives without blocking (used between the
    /// chunks of a transfer to see ABOR and STAT). Reads what has arrived, up to
    /// [`MAX_FILLS`] reads, so that a line longer than one read is seen whole at one check
    /// rather than over several.
    pub fn try_read_line(&mut self) -> Result<Option<String>, ReadError> {
        if let Some(line) = self.take_line() {
            return line.map(Some);
        }
        self.fill_to_line()
    }

    /// Reads until a line is complete or nothing more has arrived, without blocking.
    fn fill_to_line(&mut self) -> Result<Option<String>, ReadError> {
        for _ in 0..MAX_FILLS {
            match self.fill(true) {
                Ok(()) => {
                    if let Some(line) = self.take_line() {
                        return line.map(Some);
                    }
                }
                Err(ReadError::Timeout) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Reads what is available into the buffer. `now_only`: nothing is waited for.
    fn fill(&mut self, now_only: bool) -> Result<(), ReadError> {
        let mut chunk = [0u8; 1024];
        let got = if now_only {
            self.io.read_now(&mut chunk)
        } else {
            self.io.read(&mut chunk)
        };
        match got {
            Ok(0) => Err(ReadError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(ReadError::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Takes one complete line out of the buffer, if there is one.
    fn take_line(&mut self) -> Option<Result<String, ReadError>> {
        let Some(pos) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > MAX_LINE {
                self.buf.clear();
                self.discarding = true;
            }
            return None;
        };
        let mut raw: Vec<u8> = self.buf.drain(..=pos).collect();
        raw.pop();
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        if self.buf.is_empty() {
            // Idle sessions keep no buffer.
            self.buf = Vec::new();
        }
        if std::mem::take(&mut self.discarding) || raw.len() > MAX_LINE {
            return Some(Err(ReadError::TooLong));
        }
        let clean = strip_telnet(&raw);
        Some(String::from_utf8(clean).map_err(|_| ReadError::NotUtf8))
    }
}

/// Removes Telnet commands (IAC x, IAC WILL/WONT/DO/DONT opt) and un-doubles IAC IAC.
fn strip_telnet(raw: &[u8]) -> Vec<u8> {
    if !raw.contains(&IAC) {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1)) {
            (IAC, Some(&IAC)) => {
                out.push(IAC);
                i += 2;
            }
            (IAC, Some(251..=254)) => i += 3,
            (IAC, _) => i += 2,
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telnet_ip_and_synch_before_abor() {
        assert_eq!(strip_telnet(b"\xff\xf4\xff\xf2ABOR"), b"ABOR");
        assert_eq!(strip_telnet(b"a\xff\xffb"), b"a\xffb");
        assert_eq!(strip_telnet(b"\xff\xfb\x01X"), b"X");
    }
}
