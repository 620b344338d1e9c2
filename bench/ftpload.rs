//! ftpload: the small-files scenario driven by a native client, one thread per session.
//!
//! Why: the harness's small-files client is Python. Measured here, it spends 0.24-0.26 ms
//! of CPU a file in plain mode and 2.5-3.4 ms over TLS, against 0.1-0.2 ms and 0.6 ms for
//! the fastest servers, so its figure says more about the client than the server. This
//! client does what the harness's does (PASV, STOR or RETR, the data connection's TLS
//! resuming the control connection's session, close_notify both ways, then the reply),
//! without an interpreter. `bench/small_native.py` runs it and writes the result; it goes
//! beside the harness's figure, never instead of it.
//!
//! usage: ftpload --port P [--host 127.0.0.1] [--user U --password P] [--tls none|explicit]
//!                [--cafile CERT] [--sessions 8] [--files 400] [--size 4096] [--dir /ftpbench]
//!                [--delete] [--tls-version 1.2]
//!        ftpload --bulk retr|stor --path /ftpbench/big.bin [--bytes 1073741824] (one session)
//! Every session logs in and makes its directory; then the tool prints `ready` and waits
//! for a line on stdin. It moves the files (each session uploads its files, then downloads
//! them), prints one JSON line (files, errors, its own CPU seconds, TLS data connections
//! and how many of them resumed), then with --delete deletes the files, and exits. The
//! names are the same from one run to the next, so a second run overwrites the first's
//! files, as the harness's repetitions do. Why not delete after every run: this machine's
//! ext4 has no journal, and without one a new inode skips every inode freed in the last
//! 60 s or more, one by one (ext4's recently_deleted()); creating 3,200 files right after
//! deleting 3,200 cost the server 3-5 times its CPU a file, in the file system. Bench tool only: it
//! trusts exactly the certificate in --cafile (pinned), as the harness's clients do.
//!
//! With --bulk the one session downloads --path, or uploads --bytes (a multiple of 1 MiB)
//! of pseudo-random data to it (deleted with --delete), in 256 KiB reads and 1 MiB writes
//! (over TLS, rustls takes 64 KiB of them at a time); the JSON line also gives the bytes
//! moved and the seconds the transfers took (`bench/bulk_native.py`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// Every socket wait is bounded: a server that stops answering fails the run.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

type Result<T> = std::result::Result<T, String>;

#[derive(Clone)]
struct Args {
    host: Ipv4Addr,
    port: u16,
    user: String,
    password: String,
    tls: Option<Arc<ClientCert>>,
    sessions: usize,
    files: usize,
    size: usize,
    dir: String,
    delete: bool,
    tls12: bool,
    bulk: Option<Bulk>,
    path: String,
    bytes: u64,
}

/// One large transfer instead of the small files (--bulk).
#[derive(Clone, Copy, PartialEq)]
enum Bulk {
    Retr,
    Stor,
}

/// The one certificate trusted (the harness's self-signed one is a CA certificate, which
/// webpki refuses as a server's own).
#[derive(Debug)]
struct ClientCert {
    der: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for ClientCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            msg,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            msg,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connection's byte stream, plain or TLS.
trait Stream: Read + Write + Send {
    /// Ends the stream: close_notify and the peer's, for TLS; then the socket closes.
    fn finish(&mut self);
    fn resumed(&self) -> bool;
}

impl Stream for TcpStream {
    fn finish(&mut self) {}
    fn resumed(&self) -> bool {
        false
    }
}

/// A socket read through a buffer: rustls asks for 4 KiB a read, so a bulk download would
/// otherwise make a syscall every 4 KiB. Capacity 0 (small files, the control) passes
/// every read straight through.
struct Sock(BufReader<TcpStream>);

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_mut().write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.get_mut().write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.get_mut().flush()
    }
}

impl Stream for StreamOwned<ClientConnection, Sock> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        // The peer's close_notify (or its EOF): like ftplib's unwrap(), tolerated if absent.
        let mut sink = [0u8; 4096];
        while matches!(self.read(&mut sink), Ok(n) if n > 0) {}
    }
    fn resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }
}

struct Session {
    ctl: BufReader<Box<dyn Stream>>,
    tls: Option<Arc<ClientConfig>>,
    host: Ipv4Addr,
    /// Read-ahead of TLS data connections (bulk only; see [`Sock`]).
    ahead: usize,
    data_conns: u64,
    resumed: u64,
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    // As curl and the harness: no Nagle, or a command after a handshake waits for an ACK.
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

fn wrap(
    cfg: &Arc<ClientConfig>,
    host: Ipv4Addr,
    sock: TcpStream,
    ahead: usize,
) -> Result<Box<dyn Stream>> {
    let name = ServerName::IpAddress(std::net::IpAddr::V4(host).into());
    let conn = ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
    let mut s = StreamOwned::new(conn, Sock(BufReader::with_capacity(ahead, sock)));
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(Box::new(s))
}

impl Session {
    fn open(a: &Args) -> Result<Session> {
        let sock = connect(SocketAddr::from((a.host, a.port)))?;
        // Until AUTH TLS, the replies come through a duplicate of the socket's descriptor
        // (closing it leaves the socket open); nothing follows the 234 before our hello.
        let dup = sock.try_clone().map_err(|e| e.to_string())?;
        let mut s = Session {
            ctl: BufReader::new(Box::new(dup)),
            tls: None,
            host: a.host,
            ahead: if a.bulk.is_some() { 256 << 10 } else { 0 },
            data_conns: 0,
            resumed: 0,
        };
        s.expect(2)?;
        if let Some(cert) = &a.tls {
            s.cmd("AUTH TLS", 2)?;
            let versions: &[&rustls::SupportedProtocolVersion] = if a.tls12 {
                &[&rustls::version::TLS12]
            } else {
                &[&rustls::version::TLS13, &rustls::version::TLS12]
            };
            let cfg = ClientConfig::builder_with_provider(cert.provider.clone())
                .with_protocol_versions(versions)
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(cert.clone())
                .with_no_client_auth();
            // One config, so one session cache, per session: its data connections resume
            // its control connection's session, as the harness's ftplib client does.
            let cfg = Arc::new(cfg);
            s.ctl = BufReader::new(wrap(&cfg, a.host, sock, 0)?);
            s.tls = Some(cfg);
            s.cmd("PBSZ 0", 2)?;
            s.cmd("PROT P", 2)?;
        }
        s.cmd(&format!("USER {}", a.user), 3)?;
        s.cmd(&format!("PASS {}", a.password), 2)?;
        s.cmd("TYPE I", 2)?;
        Ok(s)
    }

    /// Reads one reply (multi-line ones whole); Err unless its first digit is `want`.
    fn expect(&mut self, want: u8) -> Result<String> {
        let mut raw = Vec::new();
        let mut first: Option<String> = None;
        loop {
            raw.clear();
            let n = self
                .ctl
                .read_until(b'\n', &mut raw)
                .map_err(|e| format!("reading a reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the control connection".into());
            }
            // Replies need not be UTF-8 (a Latin-1 banner): only the code matters here.
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            let code = first
                .get_or_insert_with(|| line.clone())
                .get(..3)
                .map(str::to_owned);
            // The last line repeats the first's code, then a space or nothing.
            if code.is_some()
                && line.get(..3) == code.as_deref()
                && matches!(line.as_bytes().get(3), None | Some(b' '))
            {
                break;
            }
        }
        let first = first.unwrap_or_default();
        if first.as_bytes().first() == Some(&(b'0' + want)) {
            Ok(first)
        } else {
            Err(format!("unexpected reply: {first}"))
        }
    }

    fn send(&mut self, cmd: &str) -> Result<()> {
        let w = self.ctl.get_mut();
        w.write_all(format!("{cmd}\r\n").as_bytes())
            .and_then(|_| w.flush())
            .map_err(|e| format!("sending {cmd}: {e}"))
    }

    fn cmd(&mut self, cmd: &str, want: u8) -> Result<String> {
        self.send(cmd)?;
        self.expect(want)
    }

    /// PASV, the connection, the command and its 1xx reply, then TLS: ftplib's order.
    fn transfer(&mut self, cmd: &str) -> Result<Box<dyn Stream>> {
        let r = self.cmd("PASV", 2)?;
        let port = pasv_port(&r)?;
        let sock = connect(SocketAddr::from((self.host, port)))?;
        self.cmd(cmd, 1)?;
        match &self.tls {
            None => Ok(Box::new(sock)),
            Some(cfg) => {
                let s = wrap(cfg, self.host, sock, self.ahead)?;
                self.data_conns += 1;
                self.resumed += u64::from(s.resumed());
                Ok(s)
            }
        }
    }

    /// Uploads `payload` `times` times over, as one file.
    fn store(&mut self, name: &str, payload: &[u8], times: u64) -> Result<()> {
        let mut d = self.transfer(&format!("STOR {name}"))?;
        (0..times)
            .try_for_each(|_| d.write_all(payload))
            .and_then(|_| d.flush())
            .map_err(|e| format!("STOR {name}: {e}"))?;
        d.finish();
        drop(d);
        self.expect(2).map(|_| ())
    }

    fn fetch(&mut self, name: &str, buf: &mut [u8]) -> Result<usize> {
        let mut d = self.transfer(&format!("RETR {name}"))?;
        let mut got = 0;
        loop {
            match d.read(buf) {
                Ok(0) => break,
                Ok(n) => got += n,
                // EOF without close_notify: tolerated, the 226 is what counts.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(format!("RETR {name}: {e}")),
            }
        }
        d.finish();
        drop(d);
        self.expect(2)?;
        Ok(got)
    }
}

/// The port of a 227 reply: the last two of the first six numbers after the code, found
/// by scanning, as ftplib and RFC 1123 clients do (the parentheses are not required).
fn pasv_port(reply: &str) -> Result<u16> {
    let n: Vec<u16> = reply
        .get(3..)
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_digit())
        .filter(|x| !x.is_empty())
        .take(6)
        .map(|x| x.parse::<u16>().unwrap_or(u16::MAX))
        .collect();
    match n[..] {
        [_, _, _, _, hi @ 0..=255, lo @ 0..=255] => Ok(hi * 256 + lo),
        _ => Err(format!("bad PASV reply: {reply}")),
    }
}

/// The CPU time of this process's live threads, from the kernel's scheduler (ns figures;
/// /proc/self/stat counts in 10 ms ticks). Every session thread lives until it is read.
fn cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut ns = 0u64;
    for t in dir.flatten() {
        // A thread that cannot be read makes the figure unknown (NaN, null in the JSON).
        let Some(v) = std::fs::read_to_string(t.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        else {
            return f64::NAN;
        };
        ns += v;
    }
    ns as f64 / 1e9
}

struct Outcome {
    files: u64,
    bytes: u64,
    error: Option<String>,
    data_conns: u64,
    resumed: u64,
}

fn session(
    a: &Args,
    w: usize,
    login: &std::sync::mpsc::Sender<Result<()>>,
    start: &Barrier,
    done: &Barrier,
    results: &std::sync::mpsc::Sender<Outcome>,
) {
    let mut s = match Session::open(a) {
        Ok(s) => s,
        Err(e) => {
            let _ = login.send(Err(e));
            return;
        }
    };
    let dir = format!("{}/small-native", a.dir.trim_end_matches('/'));
    for d in [a.dir.as_str(), dir.as_str()] {
        let _ = s.cmd(&format!("MKD {d}"), 2); // there already, or made by another session
    }
    let _ = login.send(Ok(()));
    if let Some(kind) = a.bulk {
        return bulk(a, s, kind, start, done, results);
    }
    let payload: Vec<u8> = b"ftpbench".iter().copied().cycle().take(a.size).collect();
    let mut buf = vec![0u8; 1 << 16];
    let names: Vec<String> = (0..a.files)
        .map(|i| format!("{dir}/n{w:02}-{i:05}.bin"))
        .collect();
    start.wait();
    let mut files = 0u64;
    let mut error = None;
    for name in &names {
        if let Err(e) = s.store(name, &payload, 1) {
            error = Some(e);
            break;
        }
        files += 1;
    }
    if error.is_none() {
        for name in &names {
            match s.fetch(name, &mut buf) {
                Ok(n) if n == a.size => files += 1,
                Ok(n) => {
                    error = Some(format!("RETR {name}: {n} bytes of {}", a.size));
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    let _ = results.send(Outcome {
        files,
        bytes: files * a.size as u64,
        error,
        data_conns: s.data_conns,
        resumed: s.resumed,
    });
    // Outside the timed part: the files go, after the last repetition only (below).
    done.wait();
    if a.delete {
        for name in &names {
            let _ = s.cmd(&format!("DELE {name}"), 2);
        }
    }
    let _ = s.cmd("QUIT", 2);
}

/// The --bulk session's transfer, after the go: RETR of --path, or STOR of --bytes to it.
fn bulk(
    a: &Args,
    mut s: Session,
    kind: Bulk,
    start: &Barrier,
    done: &Barrier,
    results: &std::sync::mpsc::Sender<Outcome>,
) {
    const CHUNK: usize = 1 << 20;
    // xorshift: bytes no server or link could compress, made before the clock starts.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let payload: Vec<u8> = (0..CHUNK / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    let mut buf = vec![0u8; 256 << 10];
    start.wait();
    let r = match kind {
        Bulk::Retr => s.fetch(&a.path, &mut buf).map(|n| n as u64),
        Bulk::Stor => {
            let times = a.bytes / CHUNK as u64;
            s.store(&a.path, &payload, times)
                .map(|_| times * CHUNK as u64)
        }
    };
    let (bytes, error) = match r {
        Ok(n) => (n, None),
        Err(e) => (0, Some(e)),
    };
    let _ = results.send(Outcome {
        files: u64::from(error.is_none()),
        bytes,
        error,
        data_conns: s.data_conns,
        resumed: s.resumed,
    });
    done.wait();
    if a.delete && kind == Bulk::Stor {
        // A file left behind slows the next upload (bench/bulk_native.py): say so.
        if let Err(e) = s.cmd(&format!("DELE {}", a.path), 2) {
            eprintln!("ftpload: DELE {}: {e}", a.path);
        }
    }
    let _ = s.cmd("QUIT", 2);
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        host: Ipv4Addr::LOCALHOST,
        port: 0,
        user: "ftpbench".into(),
        password: "ftpbench".into(),
        tls: None,
        sessions: 8,
        files: 400,
        size: 4096,
        dir: "/ftpbench".into(),
        delete: false,
        tls12: false,
        bulk: None,
        path: String::new(),
        bytes: 1 << 30,
    };
    let mut tls = false;
    let mut cafile = None;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--delete" {
            a.delete = true;
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{k}: a value is missing"))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{k}: not a number: {v}"))
        };
        match k.as_str() {
            "--host" => a.host = v.parse().map_err(|_| format!("--host: not IPv4: {v}"))?,
            "--port" => a.port = v.parse().map_err(|_| format!("--port: {v}"))?,
            "--user" => a.user = v,
            "--password" => a.password = v,
            "--tls" => tls = v == "explicit",
            "--tls-version" => a.tls12 = v == "1.2",
            "--cafile" => cafile = Some(v),
            "--sessions" => a.sessions = num(&v)?,
            "--files" => a.files = num(&v)?,
            "--size" => a.size = num(&v)?,
            "--dir" => a.dir = v,
            "--bulk" => {
                a.bulk = Some(match v.as_str() {
                    "retr" => Bulk::Retr,
                    "stor" => Bulk::Stor,
                    _ => return Err(format!("--bulk: retr or stor, not {v}")),
                })
            }
            "--path" => a.path = v,
            "--bytes" => a.bytes = v.parse().map_err(|_| format!("--bytes: {v}"))?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if a.port == 0 || a.sessions == 0 {
        return Err("--port and at least one session are needed".into());
    }
    if a.bulk.is_some() {
        if a.path.is_empty() {
            return Err("--bulk needs --path".into());
        }
        if a.bytes == 0 || !a.bytes.is_multiple_of(1 << 20) {
            return Err(format!("--bytes: a multiple of 1 MiB, not {}", a.bytes));
        }
        a.sessions = 1;
    }
    if tls {
        let path = cafile.ok_or("--tls explicit needs --cafile")?;
        let der = CertificateDer::from_pem_file(&path).map_err(|e| format!("{path}: {e}"))?;
        // The groups the harness's client (OpenSSL 3.0) offers, X25519 first: rustls would
        // offer X25519MLKEM768 first, and a TLS 1.3 resumption makes a key exchange, so
        // servers with ML-KEM (rustls ones) would pay for it on every data connection and
        // the OpenSSL 3.0 ones would not. P-256 stays: vsftpd and pure-ftpd accept only it.
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        use rustls::crypto::aws_lc_rs::kx_group;
        provider.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
        let provider = Arc::new(provider);
        a.tls = Some(Arc::new(ClientCert { der, provider }));
    }
    Ok(a)
}

fn fail(msg: &str) -> ! {
    println!("{}", serde_json::json!({ "error": msg }));
    std::process::exit(1);
}

fn main() {
    let a = parse_args().unwrap_or_else(|e| fail(&e));
    let n = a.sessions;
    let start = Arc::new(Barrier::new(n + 1));
    let done = Arc::new(Barrier::new(n + 1));
    let (login_tx, login_rx) = std::sync::mpsc::channel();
    let (res_tx, res_rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..n)
        .map(|w| {
            let (a, start, done) = (a.clone(), start.clone(), done.clone());
            let (login, results) = (login_tx.clone(), res_tx.clone());
            std::thread::spawn(move || session(&a, w, &login, &start, &done, &results))
        })
        .collect();
    for _ in 0..n {
        match login_rx.recv_timeout(IO_TIMEOUT * 2) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => fail(&format!("login: {e}")),
            Err(_) => fail("a session did not log in"),
        }
    }
    println!("ready");
    let _ = io::stdout().flush();
    let mut line = String::new();
    // End of input is no go: an orphan whose runner died must not start a load.
    if !matches!(io::stdin().read_line(&mut line), Ok(n) if n > 0) {
        fail("no go on stdin");
    }
    let cpu0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    start.wait();
    let mut outcomes = Vec::new();
    for _ in 0..n {
        match res_rx.recv_timeout(Duration::from_secs(600)) {
            Ok(o) => outcomes.push(o),
            Err(_) => fail("a session did not finish within 600 s"),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    println!(
        "{}",
        serde_json::json!({
            "files": outcomes.iter().map(|o| o.files).sum::<u64>(),
            "bytes": outcomes.iter().map(|o| o.bytes).sum::<u64>(),
            "error": errors.first(),
            "client_cpu_s": (cpu * 1000.0).round() / 1000.0,
            "wall_s": (wall * 1e4).round() / 1e4,
            "tls_data_conns": outcomes.iter().map(|o| o.data_conns).sum::<u64>(),
            "tls_resumed": outcomes.iter().map(|o| o.resumed).sum::<u64>(),
        })
    );
    let _ = io::stdout().flush();
    done.wait();
    for t in threads {
        let _ = t.join();
    }
}
