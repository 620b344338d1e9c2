//! smallfloor: the least an FTP server can do for the small-files scenario, as a floor.
//!
//! Why: in the small-files scenario most of a server's CPU is the kernel's (measured for
//! ferroftpd: about 80%): a TCP connection set up and torn down per file, three replies,
//! a file created or truncated. This server does only what FTP requires of any server for
//! each file, with a thread per connection and blocking sockets: PASV (a listener on the
//! next port of a range, as the servers measured have one), the command, 150, accept, the
//! bytes (read and write for STOR, sendfile for RETR), close, 226. No login check, no path
//! confinement, no permissions, quotas, timeouts, logs or ABOR: nothing a real server may
//! leave out.
//!
//! With `--cert` and `--key` it also takes explicit TLS (AUTH TLS, PBSZ, PROT P) with
//! ferroftpd's own TLS configuration and handshake (`ferroftpd::tls`): data connections
//! resume the control connection's session, and close with close_notify.
//!
//! It is the 1 GiB transfers' floor too (bench/bulk_rounds.py runs it among the servers): the
//! bytes of a plain upload past its first 64 KiB go by splice(2) into the file, through
//! ferroftpd's own `splice::Pipe` (one copy, the kernel's, into the page cache); a TLS
//! upload is written 256 KiB a write. A plain download goes by sendfile as ferroftpd sends
//! it (8 MiB calls, corked past 64 KiB), a TLS one 256 KiB a write. For curl and those
//! rounds' checks it also answers CWD, PWD, EPSV and SIZE.
//!
//! `bench/peers/floor.sh` starts it like a peer server, and `make bench` runs the
//! small-files clients against it (bench/run.sh): the harness's threads (ftpbench.py), a
//! process per session (small_mp.py) and the native client (small_native.py). With each
//! client its files/s is the most any server reaches on the machine, its CPU a file the
//! least.
//!
//! usage: smallfloor --port P --root DIR [--pasv 16000-17999] [--cert PEM --key PEM]
//! (127.0.0.1; runs until killed)
//! Not port 0 for PASV: with tens of thousands of sockets in TIME_WAIT, as this scenario
//! leaves, the kernel's search for a free ephemeral port cost 3.7 ms of CPU a file.
//! Bench tool: never expose it; it serves DIR to anyone on loopback.

use ferroftpd::config::tls::{
    BindingTls, CertFiles, ClientAuth, GlobalTls, MinVersion, SessionReuse, TlsMode,
};
use ferroftpd::tls::{Choice, TlsContext, TOKEN_LEN};
use rustls::{ServerConnection, StreamOwned};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Control connections' reads are bounded, and TLS data connections'; accept is not (the
/// caller stops the server by its PID when the run ends).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// ferroftpd's figures (src/data/transfer.rs): a plain upload goes on by splice once this
/// much has come, and a TLS upload is written this much a write.
const SPLICE_AFTER: usize = 64 << 10;
const WRITE: usize = 256 << 10;

fn main() {
    let mut port = None;
    let mut root = None;
    let mut range = (16000u16, 17999u16);
    let (mut cert, mut key) = (None, None);
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        match k.as_str() {
            "--port" => port = v.parse::<u16>().ok(),
            "--root" => root = Some(PathBuf::from(v)),
            "--pasv" => {
                if let Some((a, b)) = v.split_once('-') {
                    range = (a.parse().unwrap_or(range.0), b.parse().unwrap_or(range.1));
                }
            }
            "--cert" => cert = Some(v),
            "--key" => key = Some(v),
            _ => {}
        }
    }
    let (Some(port), Some(root)) = (port, root) else {
        eprintln!("usage: smallfloor --port P --root DIR [--pasv A-B] [--cert PEM --key PEM]");
        std::process::exit(2);
    };
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => match tls_configs(&cert, &key) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                eprintln!("smallfloor: {e}");
                std::process::exit(1);
            }
        },
        (None, None) => None,
        _ => {
            eprintln!("smallfloor: --cert and --key go together");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smallfloor: 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let ports = Arc::new(Ports {
        range,
        next: AtomicU32::new(0),
    });
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let (root, ports, tls) = (root.clone(), ports.clone(), tls.clone());
        std::thread::spawn(move || {
            let _ = session(conn, &root, &ports, tls.as_deref());
        });
    }
}

/// ferroftpd's own TLS configurations (`tls_mode` 0, default keys), for control and data
/// connections: the same suites in the same order, ticket key and ticket counts, so the
/// floor's TLS costs what ferroftpd's does and nothing else of ferroftpd runs.
struct Tls {
    control: Choice,
    data: Choice,
}

fn tls_configs(cert: &str, key: &str) -> Result<Tls, String> {
    let settings = BindingTls {
        mode: TlsMode::Optional,
        cert: Some(CertFiles {
            cert: cert.into(),
            key: key.into(),
        }),
        min_version: MinVersion::Tls12,
        cipher_suites: Vec::new(),
        client_auth: ClientAuth::None,
        session_reuse: SessionReuse::NotChecked,
    };
    let ctx = TlsContext::load(&settings, &GlobalTls::default())?;
    // The token tags sessions only where `tls_session_reuse` is 1: not here.
    let (control, data) = ctx.config_pair(&[0; TOKEN_LEN]);
    Ok(Tls { control, data })
}

/// The control connection, plain or TLS.
trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

/// A server side TLS stream over `sock` (which has a read timeout), its handshake done, as
/// ferroftpd starts one.
fn tls_over(
    choice: &Choice,
    mut sock: TcpStream,
) -> io::Result<StreamOwned<ServerConnection, TcpStream>> {
    let mut conn = ferroftpd::tls::accept(choice, &[], &mut sock, Instant::now() + IO_TIMEOUT)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    Ok(StreamOwned::new(conn, sock))
}

/// The passive range, taken in turn (std's bind sets SO_REUSEADDR: TIME_WAIT is no bar).
struct Ports {
    range: (u16, u16),
    next: AtomicU32,
}

impl Ports {
    fn listen(&self) -> io::Result<TcpListener> {
        let len = u32::from(self.range.1.saturating_sub(self.range.0)) + 1;
        let mut err = None;
        for _ in 0..len {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % len;
            match TcpListener::bind(("127.0.0.1", self.range.0 + i as u16)) {
                Ok(l) => return Ok(l),
                Err(e) => err = Some(e),
            }
        }
        Err(err.unwrap_or_else(|| io::Error::other("empty range")))
    }
}

fn session(ctl: TcpStream, root: &Path, ports: &Ports, tls: Option<&Tls>) -> io::Result<()> {
    ctl.set_nodelay(true)?;
    ctl.set_read_timeout(Some(IO_TIMEOUT))?;
    // Replies are written through the reader's stream: one stream, plain or TLS.
    let mut lines: BufReader<Box<dyn Conn>> = BufReader::new(Box::new(ctl.try_clone()?));
    lines.get_mut().write_all(b"220 floor\r\n")?;
    let mut pasv: Option<TcpListener> = None;
    let (mut prot_p, mut secure) = (false, false);
    // Under the root, unchecked (curl changes into the upload's folder first).
    let mut cwd = PathBuf::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let path = if arg.starts_with('/') {
            root.join(arg.trim_start_matches('/'))
        } else {
            root.join(&cwd).join(arg)
        };
        // Commands the client sent behind this one, already read.
        let pending = !lines.buffer().is_empty();
        let out = lines.get_mut();
        match verb {
            "AUTH" => {
                let Some(tls) = tls else {
                    out.write_all(b"502 no TLS\r\n")?;
                    continue;
                };
                if secure || pending {
                    // Again, or commands sent behind AUTH: they would be lost in the swap.
                    out.write_all(b"503 bad sequence\r\n")?;
                    continue;
                }
                out.write_all(b"234 go\r\n")?;
                let stream = tls_over(&tls.control, ctl.try_clone()?)?;
                lines = BufReader::new(Box::new(stream));
                secure = true;
            }
            // PBSZ and PROT only once the control connection is protected (RFC 4217).
            "PBSZ" | "PROT" if !secure => out.write_all(b"503 AUTH first\r\n")?,
            "PBSZ" => out.write_all(b"200 PBSZ=0\r\n")?,
            "PROT" => {
                prot_p = arg.eq_ignore_ascii_case("P");
                out.write_all(b"200 ok\r\n")?;
            }
            "USER" => out.write_all(b"331 any password\r\n")?,
            "PASS" => out.write_all(b"230 in\r\n")?,
            "TYPE" => out.write_all(b"200 ok\r\n")?,
            "PWD" => out.write_all(format!("257 \"/{}\"\r\n", cwd.display()).as_bytes())?,
            "CWD" => {
                cwd = path
                    .strip_prefix(root)
                    .unwrap_or(Path::new(""))
                    .to_path_buf();
                out.write_all(b"250 ok\r\n")?;
            }
            "SIZE" => match std::fs::metadata(&path) {
                Ok(m) => out.write_all(format!("213 {}\r\n", m.len()).as_bytes())?,
                Err(_) => out.write_all(b"550 no\r\n")?,
            },
            "MKD" => {
                let _ = std::fs::create_dir(&path);
                out.write_all(b"257 made\r\n")?;
            }
            "DELE" => {
                let _ = std::fs::remove_file(&path);
                out.write_all(b"250 gone\r\n")?;
            }
            "QUIT" => return out.write_all(b"221 bye\r\n"),
            "PASV" | "EPSV" => {
                let Ok(l) = ports.listen() else {
                    out.write_all(b"425 no passive port\r\n")?;
                    continue;
                };
                let p = l.local_addr()?.port();
                pasv = Some(l);
                let reply = if verb == "PASV" {
                    format!("227 passive (127,0,0,1,{},{})\r\n", p >> 8, p & 255)
                } else {
                    format!("229 passive (|||{p}|)\r\n")
                };
                out.write_all(reply.as_bytes())?;
            }
            "STOR" | "RETR" => {
                let Some(l) = pasv.take() else {
                    out.write_all(b"425 PASV first\r\n")?;
                    continue;
                };
                let file = if verb == "STOR" {
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(&path)
                } else {
                    File::open(&path)
                };
                let Ok(file) = file else {
                    out.write_all(b"550 no\r\n")?;
                    continue;
                };
                out.write_all(b"150 go\r\n")?;
                match transfer(l, verb == "STOR", file, tls.filter(|_| prot_p)) {
                    Ok(()) => out.write_all(b"226 done\r\n")?,
                    // A failed data connection fails the transfer, not the session.
                    Err(_) => out.write_all(b"426 transfer failed\r\n")?,
                }
            }
            _ => out.write_all(b"502 no\r\n")?,
        }
    }
}

/// The data connection of one STOR or RETR: accept, TLS if protected, the bytes, close.
fn transfer(l: TcpListener, stor: bool, file: File, tls: Option<&Tls>) -> io::Result<()> {
    let (data, _) = l.accept()?;
    drop(l);
    // A TLS transfer ends with small records (the last bytes, close_notify) that Nagle
    // would hold for the client's delayed ACK.
    data.set_nodelay(true)?;
    match tls {
        Some(tls) => {
            data.set_read_timeout(Some(IO_TIMEOUT))?;
            let data = tls_over(&tls.data, data)?;
            if stor {
                receive_tls(data, file)
            } else {
                send_tls(data, file)
            }
        }
        None if stor => receive(data, file),
        None => send(data, &file),
    }
}

/// A plain upload: copied until SPLICE_AFTER bytes came, then spliced from the socket
/// into the file through a pipe, as ferroftpd does. Where splice cannot go on (no pipe, a
/// refusal, or 0: the end, or TCP urgent data, which splice stops at and a read skips),
/// the rest is copied.
fn receive(mut data: TcpStream, mut file: File) -> io::Result<()> {
    let mut buf = [0u8; 32 << 10];
    let mut moved = 0;
    while moved < SPLICE_AFTER {
        let n = data.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        file.write_all(&buf[..n])?;
        moved += n;
    }
    if let Some(pipe) = ferroftpd::data::splice::Pipe::new(&file) {
        loop {
            let n = match pipe.fill(&data, pipe.size()) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Unsupported => break,
                Err(e) => return Err(e),
            };
            match pipe.drain(&file, n) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    let mut held = Vec::new();
                    pipe.read_out(&mut held, n)?;
                    file.write_all(&held)?;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    io::copy(&mut data, &mut file).map(|_| ())
}

/// Up to the client's close_notify, then ours; up to WRITE bytes gathered a write (the
/// buffer grows from 32 KiB while reads fill it, so a small file costs no large one). A TCP
/// close without close_notify ends the upload too, as in ferroftpd (many clients send none).
fn receive_tls(
    mut data: StreamOwned<ServerConnection, TcpStream>,
    mut file: File,
) -> io::Result<()> {
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let mut held = 0;
        let mut end = false;
        while held < buf.len() && !end {
            match data.read(&mut buf[held..]) {
                Ok(0) => end = true,
                Ok(n) => held += n,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return file.write_all(&buf[..held]);
                }
                Err(e) => return Err(e),
            }
        }
        file.write_all(&buf[..held])?;
        if end {
            data.conn.send_close_notify();
            return data.flush();
        }
        if buf.len() < WRITE {
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// The file, WRITE bytes a write (rustls makes them full records, sent in one socket write;
/// a small file is one read), then our close_notify. Closing does not wait for the
/// client's: as ferroftpd, the client has all it needs, and its close_notify can meet a
/// closed socket.
fn send_tls(mut data: StreamOwned<ServerConnection, TcpStream>, mut file: File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut buf = vec![0u8; (len as usize).clamp(1, WRITE)];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        data.write_all(&buf[..n])?;
    }
    data.conn.send_close_notify();
    data.flush()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send(mut data: TcpStream, mut file: &File) -> io::Result<()> {
    io::copy(&mut file, &mut data).map(|_| ())
}

/// As ferroftpd sends a plain download: sendfile(2) of at most 8 MiB a call and never past
/// the size known at open (asked for more, sendfile marks the last piece "more to come",
/// which TCP holds back), until it returns 0; under TCP_CORK past 64 KiB (the data socket
/// has TCP_NODELAY; corked, only full segments leave: measured in the 1 GiB rounds, 1 MiB
/// calls uncorked reached 65-75% of corked).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send(data: TcpStream, file: &File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let cork = len > 64 << 10;
    let sock = socket2::SockRef::from(&data);
    if cork {
        sock.set_tcp_cork(true)?;
    }
    let mut sent = 0u64;
    loop {
        let left = usize::try_from(len.saturating_sub(sent)).unwrap_or(usize::MAX);
        let want = if left == 0 {
            8 << 20
        } else {
            left.min(8 << 20)
        };
        match rustix::fs::sendfile(&data, file, None, want) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(e) => return Err(e.into()),
        }
    }
    if cork {
        sock.set_tcp_cork(false)?;
    }
    Ok(())
}
