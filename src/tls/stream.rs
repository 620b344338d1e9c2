//! One byte stream type for control and data connections: plain TCP, or TLS over TCP
//! (`rustls::StreamOwned`, which does no I/O of its own, so the handshake runs on the
//! session's thread at its first read or write, under the socket's timeouts).

use rustls::{ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }

    pub fn tls(&self) -> Option<&ServerConnection> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => Some(&t.conn),
        }
    }

    /// Runs the TLS handshake to its end (a no-op for plain TCP). Socket timeouts make each
    /// step return; `deadline` bounds the whole.
    pub fn handshake(&mut self, deadline: Instant) -> io::Result<()> {
        let Stream::Tls(t) = self else { return Ok(()) };
        while t.conn.is_handshaking() {
            match t.conn.complete_io(&mut t.sock) {
                Ok(_) => {}
                Err(e) if is_retry(&e) => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends what TLS still holds and a close_notify, so the peer can tell a complete
    /// transfer from a cut one.
    pub fn finish(&mut self, deadline: Instant) -> io::Result<()> {
        let Stream::Tls(t) = self else { return Ok(()) };
        t.conn.send_close_notify();
        while t.conn.wants_write() {
            match t.conn.write_tls(&mut t.sock) {
                Ok(_) => {}
                Err(e) if is_retry(&e) => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS close timed out",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}
