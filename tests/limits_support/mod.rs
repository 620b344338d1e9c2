//! Helpers for the accounts, quotas and defender tests (issue 5) that the shared harness
//! (tests/common) does not offer: client sockets bound to another loopback address
//! (127.0.0.2), uploads and downloads that the server may cut short at a byte limit, a
//! watcher proving a file never appears, SIGHUP with a wait for the reload line, edits of
//! the users file, and users dumps with SFTPGo's top-level `folders` list.
//!
//! Everything builds on `crate::common`; the daemon is always started by
//! `common::Server::start` (a dump with folders is a second users file named by an absolute
//! `data_provider.name`).
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::common::*;

/// SFTPGo's MB for transfer quotas.
pub const MB: usize = 1 << 20;

/// The second loopback address tests use as "another client".
pub const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The address the harness's clients come from.
pub const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A TCP connection to `to` whose source address is `local` (port chosen by the system).
pub fn connect_from(local: IpAddr, to: SocketAddr) -> TcpStream {
    let sock = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP)).unwrap();
    sock.bind(&SockAddr::from(SocketAddr::new(local, 0)))
        .unwrap_or_else(|e| panic!("cannot bind a client socket to {local}: {e}"));
    sock.connect_timeout(&SockAddr::from(to), IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect from {local} to {to}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A raw control connection from `local`, nothing read yet.
pub fn raw_from(local: IpAddr, to: SocketAddr) -> Ctrl {
    Ctrl::from_stream(connect_from(local, to))
}

/// A raw control connection from `local` with its 220 greeting read.
pub fn ctrl_from(local: IpAddr, to: SocketAddr) -> Ctrl {
    let mut c = raw_from(local, to);
    let g = c.reply();
    assert_eq!(g.code, 220, "greeting for a client at {local}: {g:?}");
    c.greeting = g;
    c
}

/// USER then PASS; returns the reply to PASS (USER must get 331).
pub fn pass_reply(c: &mut Ctrl, user: &str, pass: &str) -> Reply {
    c.cmd(&format!("USER {user}"), 331);
    c.ask(&format!("PASS {pass}"))
}

/// A passive data connection whose source address is `local`.
pub fn open_data_from(c: &mut Ctrl, local: IpAddr) -> TcpStream {
    let addr = c.pasv();
    connect_from(local, addr)
}

/// A download that may be cut short: the bytes that arrived and the final reply.
/// Panics if the command is refused before a 150.
pub fn retr_over(c: &mut Ctrl, mut data: TcpStream, line: &str) -> (Vec<u8>, Reply) {
    c.send(line);
    let first = c.reply();
    assert!(
        first.code == 150 || first.code == 125,
        "{line}: expected 150, got {:?}",
        first.lines
    );
    let mut buf = Vec::new();
    let _ = data.read_to_end(&mut buf);
    (buf, c.reply())
}

/// [`retr_over`] on a fresh passive connection from 127.0.0.1.
pub fn retr(c: &mut Ctrl, line: &str) -> (Vec<u8>, Reply) {
    let data = c.open_data();
    retr_over(c, data, line)
}

/// How an upload went: the preliminary reply (None when the command was refused at once)
/// and the last reply.
#[derive(Debug)]
pub struct Sent {
    /// The command sent.
    pub line: String,
    pub prelim: Option<Reply>,
    pub last: Reply,
}

impl Sent {
    /// The final reply must be `code`, after a 150.
    pub fn expect_after_150(&self, code: u16) -> &Reply {
        assert!(
            self.prelim.is_some(),
            "{}: expected 150 then {code}, got only {:?}",
            self.line,
            self.last.lines
        );
        assert_eq!(
            self.last.code, code,
            "{}: final reply {:?}",
            self.line, self.last.lines
        );
        &self.last
    }
}

/// An upload the server may stop early: writes `bytes` (stopping quietly when the server
/// closes the data connection), then reads the final reply.
pub fn stor_over(c: &mut Ctrl, mut data: TcpStream, line: &str, bytes: &[u8]) -> Sent {
    c.send(line);
    let first = c.reply();
    if first.code != 150 && first.code != 125 {
        return Sent {
            line: line.to_string(),
            prelim: None,
            last: first,
        };
    }
    for chunk in bytes.chunks(64 << 10) {
        if data.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = data.shutdown(Shutdown::Write);
    let mut sink = Vec::new();
    let _ = data.read_to_end(&mut sink);
    drop(data);
    Sent {
        line: line.to_string(),
        prelim: Some(first),
        last: c.reply(),
    }
}

/// [`stor_over`] on a fresh passive connection from 127.0.0.1.
pub fn stor(c: &mut Ctrl, line: &str, bytes: &[u8]) -> Sent {
    let data = c.open_data();
    stor_over(c, data, line, bytes)
}

/// Sends an upload or download command after PASV and checks that it is refused at once
/// with `code` (no 150 first); returns the reply.
pub fn refused_up_front(c: &mut Ctrl, line: &str, code: u16) -> Reply {
    let _data_addr = c.pasv();
    let r = c.ask(line);
    assert_eq!(
        r.code, code,
        "{line}: expected an immediate {code} (no 150), got {:?}",
        r.lines
    );
    r
}

/// Waits until `path` does not exist.
pub fn assert_gone_soon(path: &Path, why: &str) {
    wait_until(SOON, || (!path.exists()).then_some(())).unwrap_or_else(|| {
        panic!(
            "{why}: {} still exists ({} bytes)",
            path.display(),
            fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        )
    });
}

/// Waits until `path` holds exactly `want`.
pub fn assert_content_soon(path: &Path, want: &[u8], why: &str) {
    let ok = wait_until(SOON, || {
        (fs::read(path).ok().as_deref() == Some(want)).then_some(())
    });
    if ok.is_none() {
        let got = fs::read(path);
        panic!(
            "{why}: {} should hold {} bytes, has {:?}{}",
            path.display(),
            want.len(),
            got.as_ref().map(|g| g.len()),
            match &got {
                Ok(g) if g.len() == want.len() => " (same length, other bytes)",
                _ => "",
            }
        );
    }
}

/// Watches a path from another thread until stopped: did it ever exist?
pub struct Watcher {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<bool>>,
}

impl Watcher {
    pub fn start(path: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let mut seen = false;
            while !flag.load(Ordering::SeqCst) {
                seen |= path.exists();
                thread::sleep(Duration::from_millis(1));
            }
            seen || path.exists()
        });
        Watcher {
            stop,
            handle: Some(handle),
        }
    }
    /// Stops watching; true if the path ever existed.
    pub fn seen(mut self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Names in `dir` starting with the upload_mode 1 temporary prefix.
pub fn temps_in(dir: &Path) -> Vec<String> {
    upload_temps(dir)
}

/// `kill -HUP` the daemon and wait for its users reload line (loaded or kept); returns the
/// `reload:` lines logged since.
pub fn sighup(s: &Server) -> Vec<String> {
    let before = s.log().lines().count();
    let done_before = reloads_done(&s.log());
    let st = tool("kill", "procps (apt-get install -y procps)")
        .arg("-HUP")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -HUP {} failed", s.pid());
    wait_until(SOON, || {
        (reloads_done(&s.log()) > done_before).then_some(())
    })
    .unwrap_or_else(|| panic!("no users reload line after SIGHUP; log:\n{}", s.log()));
    s.log()
        .lines()
        .skip(before)
        .filter(|l| l.contains("reload:"))
        .map(str::to_string)
        .collect()
}

fn reloads_done(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.contains("reload:")
                && (l.contains("user(s) loaded") || l.contains("keeping the old users"))
        })
        .count()
}

/// Rewrites the server's users file after `f` changed its `users` array.
pub fn edit_users(s: &Server, f: impl FnOnce(&mut Vec<Value>)) {
    let mut doc: Value = serde_json::from_slice(&fs::read(&s.users_path).unwrap()).unwrap();
    let users = doc["users"].as_array_mut().unwrap();
    f(users);
    fs::write(&s.users_path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// The users-file entry called `name`.
pub fn user_mut<'a>(users: &'a mut [Value], name: &str) -> &'a mut Value {
    users
        .iter_mut()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("no user {name} in the users file"))
}

/// A `$2a$` bcrypt hash of `password` made by `ferroftpd hash-password`.
pub fn hash_password(password: &str) -> String {
    let mut child = Command::new(bin())
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ferroftpd hash-password: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(h.starts_with("$2"), "hash-password printed {h:?}");
    h
}

/// Milliseconds since the epoch, shifted by `delta_secs`.
pub fn epoch_ms(delta_secs: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now + delta_secs * 1000
}

/// A users dump outside the harness's users.json, for what the harness cannot write: the
/// top-level `folders` list. Homes and folder roots live in its own tempdir.
pub struct Dump {
    pub dir: tempfile::TempDir,
}

impl Dump {
    pub fn new() -> Dump {
        Dump {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    /// An absolute path inside the dump's tempdir (created as a directory).
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("users-with-folders.json")
    }
    /// Writes `{"users": users, "folders": folders}`.
    pub fn write(&self, users: &[Value], folders: &[Value]) {
        fs::write(
            self.path(),
            serde_json::to_vec_pretty(&json!({"users": users, "folders": folders})).unwrap(),
        )
        .unwrap();
    }
    /// Options for a server reading this dump.
    pub fn opts(&self) -> ServerOpts {
        ServerOpts::new().set(
            "/data_provider/name",
            self.path().to_string_lossy().into_owned(),
        )
    }
}

/// The transfer log line of `verb` on `path` (waits for it).
pub fn transfer_line(s: &Server, verb: &str, path: &str) -> String {
    s.wait_log_line(&[&format!("transfer {verb} "), &format!("path={path} ")])
}
