//! One byte stream type for control and data connections: plain TCP, or TLS over TCP
//! (`rustls::StreamOwned`, which does no I/O of its own, so the handshake runs on the
//! session's thread at its first read or write, under the socket's timeouts).
//!
//! Bulk TLS on data connections is tuned for throughput. Writes go three full records
//! (48 KiB) at a time, sent in one `writev` as soon as they are encrypted, so the client
//! decrypts while the next ones are made. Three, not four: four
//! records with their headers (65,624 bytes) are just over loopback's segment size
//! (65,483), so each write went out as a full segment and a 141-byte one. Measured on
//! loopback, 1 GiB, the settings alternating, 6 downloads each (2026-12-04): 48 KiB
//! against 64 KiB gave the native client (bench/ftpload.rs) 2557-2665 MB/s against
//! 1484-1835, curl 1350-1936 against 564-1678, Python's ssl 2572-2744 against 1767-2254;
//! the medians of 32 KiB and 16 KiB were below 48's for each client, and four records
//! shrunk to fit one segment (rustls' `max_fragment_size`) did no better than three.
//! Earlier (2026-12-03) a record a write had cost the server 0.78-1.01 s of CPU a GiB
//! against 0.54-0.70 for 64 KiB, and 256 KiB lost the overlap. Uploads: rustls reads the
//! socket itself, into its own record buffer (about a record a read while data streams),
//! and [`Stream::read_more_into`] gathers what has come into one file write. A read-ahead
//! of up to 256 KiB, which rustls then copied from, cost a copy of every byte and left
//! the server idle more often: 1 GiB uploads over TLS with the native client, 12 rounds
//! in turn (2026-12-04), 1383 against 1645 MB/s, 0.705 against 0.620 s of CPU a GiB,
//! 65,678 reads a GiB without it. Control and data connections hold no buffer of ours.

use rustix::net::RecvFlags;
use rustls::{ServerConnection, StreamOwned};
use std::io::{self, BufRead, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// Most plaintext one TLS write takes: three records' worth (see the module doc).
const TLS_WRITE: usize = 48 << 10;
// Its records with their overhead (a 5-byte header, at most 24 bytes of nonce and tag: TLS
// 1.2's AES-GCM; TLS 1.3 adds 17) fit one loopback segment: MTU 65,536 less the IP and TCP
// headers with timestamps.
const _: () = assert!(TLS_WRITE / 16384 * (16384 + 5 + 24) <= 65_483);

/// The socket is shared (`Arc`) rather than duplicated where a second owner needs it (the
/// graceful stop holds each control socket): one file descriptor per connection.
pub enum Stream {
    Plain(Arc<TcpStream>),
    Tls(Box<StreamOwned<ServerConnection, TcpSock>>),
}

/// The TCP socket under TLS: reads go straight to the socket (rustls sizes them).
pub struct TcpSock {
    tcp: Arc<TcpStream>,
    /// Reads return WouldBlock rather than wait (recv with MSG_DONTWAIT), for
    /// [`Stream::read_now`] and [`Stream::read_more_into`]: one syscall, not two FIONBIO
    /// around the read.
    dont_wait: bool,
    /// An error a read that does not wait met, for the next read to report: the kernel
    /// reports a reset once, and rustls keeps no I/O error of its own.
    deferred: Option<io::Error>,
}

impl TcpSock {
    pub fn new(tcp: Arc<TcpStream>) -> TcpSock {
        TcpSock {
            tcp,
            dont_wait: false,
            deferred: None,
        }
    }
}

impl Read for TcpSock {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let flags = if self.dont_wait {
            RecvFlags::DONTWAIT
        } else {
            RecvFlags::empty()
        };
        Ok(rustix::net::recv(&*self.tcp, out, flags)?.0)
    }
}

impl Write for TcpSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.tcp).write(buf)
    }

    /// rustls hands over its queued records as one list: one `writev`.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self.tcp).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

impl Stream {
    /// A plain TCP connection.
    pub fn plain(tcp: TcpStream) -> Stream {
        Stream::Plain(Arc::new(tcp))
    }

    /// TLS on a control or data connection (the choice of configurations says which).
    /// Reads the ClientHello and starts the server side ([`super::accept`]);
    /// [`Stream::handshake`] finishes it. Bulk data goes through
    /// [`Stream::read_more_into`] and `write` (see the module doc).
    pub fn accept_tls(
        choice: &super::Choice,
        token: &[u8],
        tcp: Arc<TcpStream>,
        deadline: Instant,
    ) -> io::Result<Stream> {
        let mut sock = TcpSock::new(tcp);
        let conn = super::accept(choice, token, &mut sock, deadline)?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
    }

    /// Reads at least one byte (waiting, as `read` does; none: the end), then goes on
    /// from what is already here, without waiting: plaintext rustls has decrypted and
    /// records the socket holds (read with MSG_DONTWAIT). A TLS read returns one record
    /// (16 KiB) at most, so an upload would otherwise reach its file 16 KiB a write. Only
    /// the first read may wait; an error after it is left for the next read to report
    /// (rustls keeps a protocol error; a socket's is kept in [`TcpSock`]).
    ///
    /// What came, at most `want` bytes (and `buf`'s capacity), is the returned slice: use
    /// it, not `buf`, whose length afterwards is unspecified. The bytes go into `buf`'s
    /// spare capacity, which is not zeroed first: zeroing 32 KiB an upload was 40% of the
    /// instructions a small plain file cost, uploads and downloads averaged.
    pub fn read_more_into<'a>(
        &mut self,
        buf: &'a mut Vec<u8>,
        want: usize,
    ) -> io::Result<&'a [u8]> {
        buf.clear();
        let want = want.min(buf.capacity());
        let t = match self {
            Stream::Plain(s) => {
                let spare = &mut buf.spare_capacity_mut()[..want];
                let ((got, _), _) = rustix::net::recv(&**s, spare, RecvFlags::empty())?;
                return Ok(got);
            }
            Stream::Tls(t) => t,
        };
        // Waits as `read` does; nothing: the end. rustls's reader is a BufRead: the
        // loop copies its plaintext once, into `buf`, the chunk this waited for first.
        if t.fill_buf()?.is_empty() {
            return Ok(buf);
        }
        while buf.len() < want {
            let mut plain = t.conn.reader();
            if let Ok(chunk) = plain.fill_buf() {
                if !chunk.is_empty() {
                    let k = chunk.len().min(want - buf.len());
                    buf.extend_from_slice(&chunk[..k]);
                    plain.consume(k);
                    continue;
                }
            }
            // Nothing decrypted yet (WouldBlock), or the peer's close_notify (empty): more
            // from the socket if it holds any (nothing there, the end or an error: done for
            // now; the next read reports the end or the error).
            let more = match without_waiting(t, |t| t.conn.read_tls(&mut t.sock)) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) if is_retry(&e) => false,
                Err(e) => {
                    t.sock.deferred = Some(e);
                    false
                }
            };
            if !more
                || t.conn.process_new_packets().is_err()
                // Something to send first (a TLS 1.2 renegotiation's refusal): the next
                // read sends it.
                || t.conn.wants_write()
            {
                break;
            }
        }
        Ok(buf)
    }

    /// Reads what has already arrived, without waiting (WouldBlock: nothing has): recv
    /// with MSG_DONTWAIT, one syscall; under TLS, rustls's reads of the socket use it.
    pub fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => Ok(rustix::net::recv(&**s, buf, RecvFlags::DONTWAIT)?.0),
            Stream::Tls(t) => without_waiting(t, |t| t.read(buf)),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock.tcp,
        }
    }

    /// The shared socket (see [`Stream`]).
    pub fn shared_tcp(&self) -> &Arc<TcpStream> {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock.tcp,
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
            check_deadline(deadline, "TLS handshake")?;
            match t.conn.complete_io(&mut t.sock) {
                Ok(_) => {}
                Err(e) if is_retry(&e) => {}
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
                Err(e) if is_retry(&e) => check_deadline(deadline, "TLS close")?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// "`what` timed out" once `deadline` has passed. Loops check it on every pass, not only
/// when a read times out: a peer sending a byte at a time never lets a read time out.
pub(crate) fn check_deadline(deadline: Instant, what: &str) -> io::Result<()> {
    if Instant::now() >= deadline {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} timed out"),
        ));
    }
    Ok(())
}

/// `f` with the socket's reads not waiting (MSG_DONTWAIT), as [`TcpSock::dont_wait`] says.
fn without_waiting<T>(
    t: &mut StreamOwned<ServerConnection, TcpSock>,
    f: impl FnOnce(&mut StreamOwned<ServerConnection, TcpSock>) -> T,
) -> T {
    t.sock.dont_wait = true;
    let r = f(t);
    t.sock.dont_wait = false;
    r
}

pub(crate) fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).write(buf),
            // Three records at a time, one loopback segment: they go out as soon as they
            // are made, so the peer decrypts them while the next are encrypted (module doc).
            Stream::Tls(t) => {
                let n = t.write(&buf[..buf.len().min(TLS_WRITE)])?;
                // rustls takes nothing while its queue holds its limit (64 KiB), which a
                // send that timed out after a few bytes of three records can leave: the
                // socket is blocked, not closed, so this is a timeout, not the end.
                if n == 0 && !buf.is_empty() && t.conn.wants_write() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => (&**s).flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}
