//! Zero-copy receive for plain binary uploads (Linux): splice(2) moves the socket's
//! buffers into a pipe by reference, and the kernel copies them from the pipe into the
//! file's page cache: one copy, instead of into this process and out again.
//! Elsewhere [`Pipe::new`] gives None and uploads go through a buffer.

use std::fs::File;
use std::io;
use std::net::TcpStream;

/// What a pipe asks for: 1 MiB, the default `fs.pipe-max-size` (256 slots of 4 KiB pages).
/// Refused (a user at or over `pipe-user-pages-soft`), the pipe keeps its default 16 slots,
/// or 2.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIPE_WANT: usize = 1 << 20;
/// Most bytes one splice into the file moves: as much as one write of the copy. The size
/// of a write sets the order of the page-cache folios it allocates, and the large free
/// blocks they come from are what a VM with free page reporting has handed back to its
/// host, each page then faulting on first write. On this project's VM, a bare receiver
/// writing 1 GiB 1 MiB a call was slow in 12 uploads of 20, 256 KiB a call in 2 of 20.
#[cfg(any(target_os = "linux", target_os = "android"))]
const FILE_PIECE: usize = 256 << 10;
/// Fewest slots worth a splice. A slot holds one piece of a received packet: from a real
/// network one segment (1,448 bytes) without GRO, a page or more with it, so 16 slots can
/// move as little as 23 KB a call, and 64 at least 93 KB. Fewer: the upload copies. On a
/// system with 64 KiB pages the 1 MiB pipe is 16 slots, so uploads copy there.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MIN_SLOTS: usize = 64;

/// A pipe between an upload's socket and its file.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub struct Pipe {
    /// The read end as a `File`, for `read_exact` on the way back to copying.
    read: File,
    write: std::os::fd::OwnedFd,
    /// The most bytes one [`Pipe::fill`] asks for (its capacity in bytes, if every slot
    /// held a full page).
    size: usize,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Pipe {
    /// A pipe for `file`, or None where the file cannot take one: opened for appending
    /// (splice refuses O_APPEND), or no pipe (of a useful size) to be had.
    pub fn new(file: &File) -> Option<Pipe> {
        use rustix::fs::OFlags;
        use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, PipeFlags};
        let flags = rustix::fs::fcntl_getfl(file).ok()?;
        if flags.contains(OFlags::APPEND) {
            return None;
        }
        let (read, write) = pipe_with(PipeFlags::CLOEXEC).ok()?;
        let size = fcntl_setpipe_size(&write, PIPE_WANT)
            .or_else(|_| fcntl_getpipe_size(&write))
            .ok()?;
        (size / rustix::param::page_size() >= MIN_SLOTS).then(|| Pipe {
            read: File::from(read),
            write,
            size,
        })
    }

    /// The most bytes one [`Pipe::fill`] asks for.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Socket to pipe, at most `len` bytes (no more than [`Pipe::size`], and only into an
    /// empty pipe, so it never waits for room). Waits for data as a read does, under the
    /// socket's receive timeout. 0 is the end of the upload or TCP urgent data (splice
    /// stops at it, a read skips it). Err(Unsupported): splice cannot work here (refused
    /// by a seccomp filter, or not in this kernel); an error takes nothing from the socket.
    pub fn fill(&self, sock: &TcpStream, len: usize) -> io::Result<usize> {
        use rustix::io::Errno;
        use rustix::pipe::{splice, SpliceFlags};
        match splice(sock, None, &self.write, None, len, SpliceFlags::empty()) {
            Ok(n) => Ok(n),
            Err(e @ (Errno::INVAL | Errno::NOSYS | Errno::PERM | Errno::OPNOTSUPP)) => Err(
                io::Error::new(io::ErrorKind::Unsupported, io::Error::from(e)),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// Pipe to file, exactly `n` bytes (all the pipe holds, or fewer over a budget: the
    /// rest is dropped with the pipe), [`FILE_PIECE`] a call. Err(Unsupported) from the first call: this file
    /// system has no splice, and the bytes are still in the pipe for [`Pipe::read_out`].
    pub fn drain(&self, file: &File, mut n: usize) -> io::Result<()> {
        use rustix::pipe::{splice, SpliceFlags};
        let mut first = true;
        while n > 0 {
            match splice(
                &self.read,
                None,
                file,
                None,
                n.min(FILE_PIECE),
                SpliceFlags::empty(),
            ) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    n -= k;
                    first = false;
                }
                // Linux 5.10 and later refuse before moving anything (EINVAL), and so
                // does a seccomp filter or a kernel without splice.
                Err(
                    e @ (rustix::io::Errno::INVAL
                    | rustix::io::Errno::NOSYS
                    | rustix::io::Errno::PERM
                    | rustix::io::Errno::OPNOTSUPP),
                ) if first => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        io::Error::from(e),
                    ))
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `n` bytes the pipe holds, appended to `buf` (the way back to copying).
    pub fn read_out(&self, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
        use std::io::Read;
        let start = buf.len();
        buf.resize(start + n, 0);
        (&self.read).read_exact(&mut buf[start..])
    }
}

/// No splice here: no pipe can be made ([`Pipe::new`] gives None), so none of the
/// methods can be called; they exist for the shared upload code to compile.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub enum Pipe {}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Pipe {
    pub fn new(_file: &File) -> Option<Pipe> {
        None
    }

    pub fn size(&self) -> usize {
        match *self {}
    }

    pub fn fill(&self, _sock: &TcpStream, _len: usize) -> io::Result<usize> {
        match *self {}
    }

    pub fn drain(&self, _file: &File, _n: usize) -> io::Result<()> {
        match *self {}
    }

    pub fn read_out(&self, _buf: &mut Vec<u8>, _n: usize) -> io::Result<()> {
        match *self {}
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn connected() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let out = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (inp, _) = l.accept().expect("accept");
        (out, inp)
    }

    #[test]
    fn bytes_go_from_the_socket_to_the_file() {
        let (mut out, inp) = connected();
        let dir = std::env::temp_dir().join(format!("ferroftpd-splice-{}", std::process::id()));
        let file = File::create(&dir).expect("create");
        let pipe = Pipe::new(&file).expect("pipe");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        out.write_all(&data).expect("send");
        drop(out);
        let mut got = 0;
        loop {
            let n = pipe.fill(&inp, pipe.size()).expect("fill");
            if n == 0 {
                break;
            }
            pipe.drain(&file, n).expect("drain");
            got += n;
        }
        assert_eq!(got, data.len());
        assert_eq!(std::fs::read(&dir).expect("read"), data);
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn a_file_that_takes_no_splice_gets_the_bytes_back() {
        // /dev/full has no splice_write: from Linux 5.10 the first drain says Unsupported
        // and the bytes are still in the pipe.
        let (mut out, inp) = connected();
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let pipe = Pipe::new(&full).expect("pipe");
        out.write_all(b"held in the pipe").expect("send");
        let n = pipe.fill(&inp, pipe.size()).expect("fill");
        assert_eq!(n, 16);
        let e = pipe.drain(&full, n).expect_err("/dev/full took a splice");
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let mut back = b"before:".to_vec();
        pipe.read_out(&mut back, n).expect("read_out");
        assert_eq!(back, b"before:held in the pipe");
    }

    #[test]
    fn an_append_only_file_gets_no_pipe() {
        let dir = std::env::temp_dir().join(format!("ferroftpd-splice-a-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&dir)
            .expect("open");
        assert!(Pipe::new(&file).is_none());
        let _ = std::fs::remove_file(&dir);
    }
}
