//! Moving bytes on an open data connection: downloads (zero-copy sendfile for plain TCP,
//! a buffer for TLS and ASCII), uploads, listings. Every loop is bounded by [`Bounds`]:
//! the stall limit, the bandwidth throttle and a byte budget (transfer quota, disk quota,
//! `max_upload_file_size`), and asks the control side between steps (ABOR, STAT).

use super::{ascii, splice, Ctl, TICK};
use crate::limits::bandwidth::Throttle;
use crate::tls::stream::Stream;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Bytes handed to sendfile at a time (bounded so ABOR is seen between chunks).
const SEND_CHUNK: usize = 8 << 20;
/// Buffer for uploads and buffered downloads.
const BUF_SIZE: usize = 256 << 10;
/// An upload's buffer to begin with.
const RECV_START: usize = 32 << 10;
/// A plain binary upload goes on by splice once this much has come (small files never
/// pay for a pipe).
const SPLICE_AFTER: u64 = 64 << 10;

/// What limits one transfer besides the client.
pub struct Bounds {
    /// No progress for this long ends the transfer.
    pub stall: Duration,
    pub throttle: Throttle,
    /// Most bytes this transfer may move on the data connection (None: no limit).
    pub budget: Option<u64>,
}

impl Bounds {
    pub fn unlimited(stall: Duration) -> Bounds {
        Bounds {
            stall,
            throttle: Throttle::unlimited(),
            budget: None,
        }
    }

    /// Bytes that may move now, at most `want`, after `done` have moved.
    fn step(&self, done: u64, want: usize) -> usize {
        let want = self.throttle.slice(want);
        match self.budget {
            Some(b) => want.min(usize::try_from(b.saturating_sub(done)).unwrap_or(want)),
            None => want,
        }
    }
}

/// How a transfer ended, with the bytes moved on the data connection.
#[derive(Debug)]
pub enum Outcome {
    Done(u64),
    /// ABOR on the control connection (or the client vanished).
    Aborted(u64),
    /// The data connection failed (client side): 426.
    Broken(u64, io::Error),
    /// Reading or writing the local file failed: 451.
    Local(u64, io::Error),
    /// No progress for the stall limit: 426.
    Stalled(u64),
    /// The byte budget ran out with data left: 552.
    OverBudget(u64),
}

impl Outcome {
    pub fn bytes(&self) -> u64 {
        match self {
            Outcome::Done(n)
            | Outcome::Aborted(n)
            | Outcome::Broken(n, _)
            | Outcome::Local(n, _)
            | Outcome::Stalled(n)
            | Outcome::OverBudget(n) => *n,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Progress bookkeeping shared by every loop: bytes moved, stall watch, control checks.
struct Progress<'a> {
    bounds: &'a Bounds,
    ctl: &'a mut dyn FnMut(u64) -> Ctl,
    moved: u64,
    last_progress: Instant,
    last_check: Instant,
}

impl<'a> Progress<'a> {
    fn new(bounds: &'a Bounds, ctl: &'a mut dyn FnMut(u64) -> Ctl) -> Progress<'a> {
        let now = Instant::now();
        Progress {
            bounds,
            ctl,
            moved: 0,
            last_progress: now,
            last_check: now,
        }
    }

    /// `n` bytes moved: pace to the bandwidth limit, and now and then ask the control side.
    fn advance(&mut self, n: usize) -> Option<Outcome> {
        self.moved += n as u64;
        self.last_progress = Instant::now();
        self.bounds.throttle.pace(self.moved);
        if self.last_check.elapsed() >= TICK {
            return self.check();
        }
        None
    }

    /// Nothing moved for a tick: ask the control side, and give up after the stall limit.
    fn idle(&mut self) -> Option<Outcome> {
        if let Some(end) = self.check() {
            return Some(end);
        }
        (self.last_progress.elapsed() >= self.bounds.stall).then_some(Outcome::Stalled(self.moved))
    }

    fn check(&mut self) -> Option<Outcome> {
        self.last_check = Instant::now();
        ((self.ctl)(self.moved) == Ctl::Abort).then_some(Outcome::Aborted(self.moved))
    }

    /// Of `n` bytes received, how many the budget lets through.
    fn allowed(&self, n: usize) -> usize {
        match self.bounds.budget {
            Some(b) => n.min(usize::try_from(b.saturating_sub(self.moved)).unwrap_or(n)),
            None => n,
        }
    }

    /// Bytes that may move next (None: the budget is spent).
    fn step(&self, want: usize) -> Option<usize> {
        match self.bounds.step(self.moved, want) {
            0 => None,
            n => Some(n),
        }
    }
}

/// RETR in binary: sendfile(2) where the system has it (zero-copy: the file's pages go to
/// the socket without passing through this process), a read/write loop elsewhere. The file
/// is sent from `offset` to its end; `expected` is what its size said was left when opened.
pub fn send_file(
    file: &File,
    mut offset: u64,
    expected: u64,
    out: &mut Stream,
    bounds: &Bounds,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let f = file;
    let mut p = Progress::new(bounds, ctl);
    let Stream::Plain(sock) = out else {
        // TLS records are made in this process: no zero-copy path.
        return copy_loop(f, offset, expected, out, p);
    };
    let sock: &TcpStream = sock;
    {
        let _cork = (expected > CORK_ABOVE).then(|| Cork::new(sock));
        let end = offset.saturating_add(expected);
        loop {
            // No further than the size known at open while short of it: asked for more than
            // the file holds, sendfile marks its last piece "more to come", which TCP holds
            // back (until the close, for an uncorked small file). Past it, the file may grow.
            let known = usize::try_from(end.saturating_sub(offset)).unwrap_or(SEND_CHUNK);
            let want = if known == 0 {
                SEND_CHUNK
            } else {
                known.min(SEND_CHUNK)
            };
            let Some(count) = p.step(want) else {
                return at_budget(f, offset, p.moved);
            };
            match sendfile(sock, file, &mut offset, count) {
                Some(Ok(0)) => return Outcome::Done(p.moved),
                Some(Ok(n)) => {
                    if let Some(end) = p.advance(n) {
                        return end;
                    }
                }
                Some(Err(e)) if is_timeout(&e) => {
                    if let Some(end) = p.idle() {
                        return end;
                    }
                }
                // No sendfile from this file or in this process: copy through a buffer.
                Some(Err(e)) if e.kind() == io::ErrorKind::Unsupported && p.moved == 0 => {
                    log::debug!("download: no sendfile here ({e}), copying");
                    break;
                }
                Some(Err(e)) => return Outcome::Broken(p.moved, e),
                None => break,
            }
        }
    }
    let left = expected.saturating_sub(p.moved);
    copy_loop(f, offset, left, out, p)
}

/// TCP_CORK for the length of a sendfile loop: the data socket has TCP_NODELAY (replies
/// and small files must not wait), which makes every piece sendfile hands to TCP leave at
/// once as its own segment; corked, the kernel sends full segments only. Measured on
/// loopback, 1 GiB: about 1,200-1,600 MB/s without, 1,700-2,300 MB/s with. Dropping it
/// uncorks, which sends the last partial segment.
struct Cork<'a>(&'a TcpStream);

/// A file of at most this much leaves in one sendfile call (the kernel moves 16 pages at a
/// time, marking all but the last "more to come"): corking it would cost two syscalls for
/// nothing.
const CORK_ABOVE: u64 = 64 * 1024;

impl<'a> Cork<'a> {
    fn new(sock: &'a TcpStream) -> Cork<'a> {
        set_cork(sock, true);
        Cork(sock)
    }
}

impl Drop for Cork<'_> {
    fn drop(&mut self) {
        set_cork(self.0, false);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_cork(sock: &TcpStream, on: bool) {
    // Only a hint: a failure leaves the socket as it was.
    let _ = socket2::SockRef::from(sock).set_tcp_cork(on);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_cork(_sock: &TcpStream, _on: bool) {}

/// The budget is spent: done if the file ends here too, over budget if not.
fn at_budget(f: &File, offset: u64, moved: u64) -> Outcome {
    match f.metadata() {
        Ok(m) if m.len() <= offset => Outcome::Done(moved),
        _ => Outcome::OverBudget(moved),
    }
}

/// One sendfile(2) call of at most `count` bytes from `offset`; None where the system has
/// no sendfile.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sendfile(
    sock: &TcpStream,
    file: &File,
    offset: &mut u64,
    count: usize,
) -> Option<io::Result<usize>> {
    use rustix::io::Errno;
    Some(
        rustix::fs::sendfile(sock, file, Some(offset), count).map_err(|e| match e {
            // This file system cannot (EINVAL), or a seccomp filter refuses it (EPERM).
            Errno::INVAL | Errno::NOSYS | Errno::PERM | Errno::OPNOTSUPP => {
                io::Error::new(io::ErrorKind::Unsupported, io::Error::from(e))
            }
            e => io::Error::from(e),
        }),
    )
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sendfile(
    _sock: &TcpStream,
    _file: &File,
    _offset: &mut u64,
    _count: usize,
) -> Option<io::Result<usize>> {
    None
}

/// The portable download path: read from `offset` (positional reads: no seek, whatever
/// the file's position), write to the stream. `left`: the bytes the file held past
/// `offset` when opened, which sizes the buffer (the file may have changed since: the
/// loop reads to its end).
fn copy_loop(f: &File, mut offset: u64, left: u64, out: &mut Stream, mut p: Progress) -> Outcome {
    // A small file gets a buffer its size (plus one byte to see the end in one read),
    // never zeroed: reads go into its spare capacity.
    let size = usize::try_from(left.saturating_add(1)).map_or(BUF_SIZE, |n| n.clamp(1, BUF_SIZE));
    let mut buf: Vec<u8> = Vec::with_capacity(size);
    loop {
        let cap = buf.capacity();
        let Some(want) = p.step(cap) else {
            return at_budget(f, offset, p.moved);
        };
        let got = match rustix::io::pread(f, &mut buf.spare_capacity_mut()[..want], offset) {
            Ok(([], _)) => return Outcome::Done(p.moved),
            Ok((got, _)) => got,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Outcome::Local(p.moved, e.into()),
        };
        let n = got.len();
        offset += n as u64;
        if let Some(end) = write_all(out, got, &mut p) {
            return end;
        }
        // Full: the file has grown since it was opened (the buffer was its size and one
        // more byte).
        if n == cap && cap < BUF_SIZE {
            buf = Vec::with_capacity((cap * 2).min(BUF_SIZE));
        }
    }
}

/// RETR in ASCII: LF becomes CRLF on the way out.
/// `mid_line_end`: the file's position is at an LF whose CR was sent already (a REST
/// between the two), so its CR is left out.
pub fn send_file_ascii(
    mut f: &File,
    mut mid_line_end: bool,
    out: &mut Stream,
    bounds: &Bounds,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut p = Progress::new(bounds, ctl);
    let mut inbuf = vec![0u8; BUF_SIZE / 2];
    let mut converted = Vec::with_capacity(BUF_SIZE);
    loop {
        // The budget counts converted bytes; read at most half of what is left so the
        // conversion (at most doubling) cannot overshoot it by much.
        let Some(want) = p.step(inbuf.len() * 2).map(|w| (w / 2).max(1)) else {
            let pos = f.stream_position().unwrap_or(u64::MAX);
            return at_budget(f, pos, p.moved);
        };
        let cap = want.min(inbuf.len());
        let n = match f.read(&mut inbuf[..cap]) {
            Ok(0) => return Outcome::Done(p.moved),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Outcome::Local(p.moved, e),
        };
        converted.clear();
        ascii::lf_to_crlf(&inbuf[..n], &mut converted);
        let skip = usize::from(std::mem::take(&mut mid_line_end));
        if let Some(end) = write_all(out, converted.get(skip..).unwrap_or_default(), &mut p) {
            return end;
        }
    }
}

/// Listings made as they go: `next` appends the next piece to its buffer (false: no more),
/// and each piece is sent before the next is made, so the client reads the first lines
/// while the rest are still being looked up.
pub fn send_generated(
    out: &mut Stream,
    bounds: &Bounds,
    ctl: &mut dyn FnMut(u64) -> Ctl,
    next: &mut dyn FnMut(&mut String) -> bool,
) -> Outcome {
    let mut p = Progress::new(bounds, ctl);
    let mut piece = String::new();
    loop {
        piece.clear();
        if !next(&mut piece) {
            return Outcome::Done(p.moved);
        }
        if let Some(end) = write_all(out, piece.as_bytes(), &mut p) {
            return end;
        }
    }
}

/// Writes all of `buf` in throttle-sized slices, asking the control side whenever the
/// socket is not ready. Some(outcome) ends the transfer early.
fn write_all(out: &mut Stream, mut buf: &[u8], p: &mut Progress) -> Option<Outcome> {
    while !buf.is_empty() {
        let slice = p.bounds.throttle.slice(buf.len());
        match out.write(&buf[..slice]) {
            Ok(0) => {
                return Some(Outcome::Broken(
                    p.moved,
                    io::Error::new(io::ErrorKind::WriteZero, "data connection closed"),
                ))
            }
            Ok(n) => {
                buf = &buf[n..];
                if let Some(end) = p.advance(n) {
                    return Some(end);
                }
            }
            Err(e) if is_timeout(&e) => {
                if let Some(end) = p.idle() {
                    return Some(end);
                }
            }
            Err(e) => return Some(Outcome::Broken(p.moved, e)),
        }
    }
    None
}

/// STOR/APPE: everything until the client closes the data connection goes into `file`,
/// CRLF becoming LF in ASCII mode. The budget counts bytes received; one byte more than
/// it allows ends the upload as over budget, with exactly the allowed bytes written.
/// A plain binary upload past [`SPLICE_AFTER`] goes on by splice where the system has it
/// ([`splice::Pipe`]).
pub fn receive(
    inp: &mut Stream,
    file: &mut File,
    ascii: bool,
    bounds: &Bounds,
    ctl: &mut dyn FnMut(u64) -> Ctl,
) -> Outcome {
    let mut p = Progress::new(bounds, ctl);
    // Starts small (most uploads in a busy session are small files) and doubles while
    // reads fill it, up to BUF_SIZE. Never zeroed: reads go into its spare capacity.
    let mut buf: Vec<u8> = Vec::with_capacity(RECV_START);
    let mut conv = ascii::CrlfToLf::new();
    let mut converted = Vec::new();
    // Plain and binary: the socket the rest may be spliced from, once SPLICE_AFTER came.
    let mut splice_from = match &*inp {
        Stream::Plain(sock) if !ascii => Some(std::sync::Arc::clone(sock)),
        _ => None,
    };
    loop {
        let size = buf.capacity();
        // Ask for one byte past the budget: receiving it proves the upload is too big.
        let want = p.bounds.step(p.moved, size).saturating_add(1).min(size);
        match inp.read_more_into(&mut buf, want) {
            Ok([]) => return finish_upload(file, ascii, &mut conv, p.moved),
            Ok(got) => {
                let n = got.len();
                let allowed = p.allowed(n);
                let r = if ascii {
                    converted.clear();
                    conv.push(&got[..allowed], &mut converted);
                    file.write_all(&converted)
                } else {
                    file.write_all(&got[..allowed])
                };
                if let Err(e) = r {
                    return Outcome::Local(p.moved, e);
                }
                if allowed < n {
                    p.moved += allowed as u64;
                    return Outcome::OverBudget(p.moved);
                }
                if n == size && size < BUF_SIZE {
                    buf = Vec::with_capacity(size * 2);
                }
                if let Some(end) = p.advance(n) {
                    return end;
                }
                // Tried once: after splice_rest hands back (urgent data, no splice
                // here), the rest is copied, as a second pipe would meet the same.
                if let Some(sock) = splice_from.take_if(|_| p.moved >= SPLICE_AFTER) {
                    let spliced = splice::Pipe::new(file)
                        .and_then(|pipe| splice_rest(&sock, file, &pipe, &mut p));
                    if let Some(end) = spliced {
                        return end;
                    }
                }
            }
            // A TLS peer that closes TCP without close_notify: taken as the end, as most
            // servers do, since many FTP clients never send one on data connections.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                log::debug!("data connection closed without TLS close_notify");
                return finish_upload(file, ascii, &mut conv, p.moved);
            }
            Err(e) if is_timeout(&e) => {
                if let Some(end) = p.idle() {
                    return end;
                }
            }
            Err(e) => return Outcome::Broken(p.moved, e),
        }
    }
}

/// The rest of a plain binary upload through `pipe`, under the same bounds as the copy.
/// None: the upload goes on by copying (whatever the pipe held is in the file already),
/// because splice cannot work here, or it returned 0: the end, or TCP urgent data, which
/// splice stops at and a read skips, so the read decides.
fn splice_rest(
    sock: &TcpStream,
    file: &File,
    pipe: &splice::Pipe,
    p: &mut Progress,
) -> Option<Outcome> {
    let mut spliced = false;
    loop {
        let want = p
            .bounds
            .step(p.moved, pipe.size())
            .saturating_add(1)
            .min(pipe.size());
        match pipe.fill(sock, want) {
            Ok(0) => return None,
            Ok(n) => {
                if !spliced {
                    spliced = true;
                    log::debug!("upload: by splice after the first {} bytes", p.moved);
                }
                let allowed = p.allowed(n);
                let mut copy_on = false;
                match pipe.drain(file, allowed) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                        log::debug!("upload: no splice into this file ({e}), copying on");
                        let mut held = Vec::new();
                        let back = pipe.read_out(&mut held, allowed);
                        if let Err(e) = back.and_then(|()| (&*file).write_all(&held)) {
                            return Some(Outcome::Local(p.moved, e));
                        }
                        copy_on = true;
                    }
                    Err(e) => return Some(Outcome::Local(p.moved, e)),
                }
                if allowed < n {
                    p.moved += allowed as u64;
                    return Some(Outcome::OverBudget(p.moved));
                }
                if let Some(end) = p.advance(n) {
                    return Some(end);
                }
                if copy_on {
                    return None;
                }
            }
            Err(e) if is_timeout(&e) => {
                if let Some(end) = p.idle() {
                    return Some(end);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                log::debug!("upload: no splice from this socket ({e}), copying on");
                return None;
            }
            Err(e) => return Some(Outcome::Broken(p.moved, e)),
        }
    }
}

/// End of an upload's data: a CR held back by the ASCII conversion is written.
fn finish_upload(file: &mut File, ascii: bool, conv: &mut ascii::CrlfToLf, moved: u64) -> Outcome {
    if ascii {
        let mut tail = Vec::new();
        conv.finish(&mut tail);
        if let Err(e) = file.write_all(&tail) {
            return Outcome::Local(moved, e);
        }
    }
    Outcome::Done(moved)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::thread;

    fn pattern(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(seed) % 251) as u8)
            .collect()
    }

    /// copy_loop (the TLS and no-sendfile download path) on a loopback socket: opens
    /// `first` as a file, appends `more` after its size was taken (an upload still
    /// arriving), sends from `offset`, and returns the outcome and what the reader got.
    fn send_growing(
        first: &[u8],
        more: &[u8],
        offset: u64,
        budget: Option<u64>,
    ) -> (Outcome, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("growing");
        std::fs::write(&path, first).expect("write");
        let f = File::open(&path).expect("open");
        let left = f.metadata().expect("stat").len() - offset;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut w| w.write_all(more))
            .expect("append");

        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (sock, _) = l.accept().expect("accept");
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            (&client).read_to_end(&mut got).map(|_| got)
        });
        let mut out = Stream::Plain(Arc::new(sock));
        let bounds = Bounds {
            budget,
            ..Bounds::unlimited(Duration::from_secs(20))
        };
        let mut ctl = |_| Ctl::Go;
        let outcome = copy_loop(&f, offset, left, &mut out, Progress::new(&bounds, &mut ctl));
        drop(out);
        let got = reader.join().expect("reader").expect("read");
        (outcome, got)
    }

    #[test]
    fn a_download_sends_what_the_file_grew_by_since_it_was_opened() {
        // The buffer is sized for 1,000 bytes; 600 KiB more fill it again and again, so it
        // doubles up to its cap and the rest comes in full buffers.
        let first = pattern(1000, 7);
        let more = pattern(600 << 10, 13);
        let (outcome, got) = send_growing(&first, &more, 0, None);
        let whole = [first.as_slice(), more.as_slice()].concat();
        assert!(
            matches!(outcome, Outcome::Done(n) if n == whole.len() as u64),
            "{outcome:?}"
        );
        assert!(
            got == whole,
            "got {} bytes, want {}",
            got.len(),
            whole.len()
        );

        // Resumed (REST) past the middle of what was there.
        let (outcome, got) = send_growing(&first, &more, 600, None);
        assert!(
            matches!(outcome, Outcome::Done(n) if n == whole.len() as u64 - 600),
            "{outcome:?}"
        );
        assert!(got == whole[600..], "got {} bytes", got.len());
    }

    #[test]
    fn a_budget_stops_a_growing_download_exactly_and_says_so() {
        // A transfer quota of what the file held when opened: those bytes go, then 552.
        let first = pattern(5000, 7);
        let more = pattern(70_000, 11);
        let (outcome, got) = send_growing(&first, &more, 0, Some(5000));
        assert!(matches!(outcome, Outcome::OverBudget(5000)), "{outcome:?}");
        assert!(got == first, "got {} bytes", got.len());

        // Nothing appended: the same budget is exactly the file, which is done.
        let (outcome, got) = send_growing(&first, &[], 0, Some(5000));
        assert!(matches!(outcome, Outcome::Done(5000)), "{outcome:?}");
        assert!(got == first);
    }
}
