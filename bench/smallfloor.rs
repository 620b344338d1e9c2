//! smallfloor: the least an FTP server can do for the small-files scenario, as a floor.
//!
//! Why: in the small-files scenario most of a server's CPU is the kernel's (measured for
//! ferroftpd: about 80%): a TCP connection set up and torn down per file, three replies,
//! a file created or truncated. This server does only what FTP requires of any server for
//! each file, with a thread per connection and blocking sockets: PASV (a listener on the
//! next port of a range, as the servers measured have one), the command, 150, accept, the bytes (read and write for STOR, sendfile
//! for RETR), close, 226. No login check, no path confinement, no permissions, quotas,
//! timeouts, logs or ABOR: nothing a real server may leave out. `bench/small_native.py
//! --floor` runs it with the native client: its files/s is the most any server reaches
//! with that client on the machine, its CPU a file the least.
//!
//! usage: smallfloor --port P --root DIR [--pasv 16000-17999]  (127.0.0.1; runs until killed)
//! Not port 0 for PASV: with tens of thousands of sockets in TIME_WAIT, as this scenario
//! leaves, the kernel's search for a free ephemeral port cost 3.7 ms of CPU a file.
//! Plain FTP only. Bench tool: never expose it; it serves DIR to anyone on loopback.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Control connections' reads are bounded; accept and the data connections are not
/// (bench/small_native.py kills the server by its PID when the run ends).
const IO_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let mut port = None;
    let mut root = None;
    let mut range = (16000u16, 17999u16);
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
            _ => {}
        }
    }
    let (Some(port), Some(root)) = (port, root) else {
        eprintln!("usage: smallfloor --port P --root DIR");
        std::process::exit(2);
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
        let (root, ports) = (root.clone(), ports.clone());
        std::thread::spawn(move || {
            let _ = session(conn, &root, &ports);
        });
    }
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

fn session(ctl: TcpStream, root: &Path, ports: &Ports) -> io::Result<()> {
    ctl.set_nodelay(true)?;
    ctl.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut out = ctl.try_clone()?;
    let mut lines = BufReader::new(ctl);
    out.write_all(b"220 floor\r\n")?;
    let mut pasv: Option<TcpListener> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let path = root.join(arg.trim_start_matches('/'));
        match verb {
            "USER" => out.write_all(b"331 any password\r\n")?,
            "PASS" => out.write_all(b"230 in\r\n")?,
            "TYPE" => out.write_all(b"200 ok\r\n")?,
            "MKD" => {
                let _ = std::fs::create_dir(&path);
                out.write_all(b"257 made\r\n")?;
            }
            "DELE" => {
                let _ = std::fs::remove_file(&path);
                out.write_all(b"250 gone\r\n")?;
            }
            "QUIT" => return out.write_all(b"221 bye\r\n"),
            "PASV" => {
                let l = ports.listen()?;
                let p = l.local_addr()?.port();
                pasv = Some(l);
                let reply = format!("227 passive (127,0,0,1,{},{})\r\n", p >> 8, p & 255);
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
                let (data, _) = l.accept()?;
                drop(l);
                if verb == "STOR" {
                    receive(data, file)?;
                } else {
                    send(data, &file)?;
                }
                out.write_all(b"226 done\r\n")?;
            }
            _ => out.write_all(b"502 no\r\n")?,
        }
    }
}

fn receive(mut data: TcpStream, mut file: File) -> io::Result<()> {
    let mut buf = [0u8; 32 << 10];
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        file.write_all(&buf[..n])?;
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send(mut data: TcpStream, mut file: &File) -> io::Result<()> {
    io::copy(&mut file, &mut data).map(|_| ())
}

/// As ferroftpd sends a plain download: sendfile(2), until it returns 0.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send(data: TcpStream, file: &File) -> io::Result<()> {
    loop {
        match rustix::fs::sendfile(&data, file, None, 1 << 20) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
