//! Human log lines to the local syslog daemon: RFC 3164 datagrams on its Unix socket
//! (`/dev/log`, or `/var/run/log` on FreeBSD), as the C library's syslog(3) sends them.
//!
//! The timestamp is left out on purpose: RFC 3164 (4.3.2) lets the receiver add it, and
//! syslogd, rsyslog and syslog-ng all do, in the host's time zone, which this process does
//! not know (it has no time zone database and wants none). A datagram is
//! `<PRI>ferroftpd[PID]: message`.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The socket syslogd listens on.
#[cfg(target_os = "freebsd")]
pub const DEFAULT_SOCKET: &str = "/var/run/log";
#[cfg(not(target_os = "freebsd"))]
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// Longer messages are cut: syslog daemons drop or split what exceeds their buffer
/// (rsyslog's default is 8 KiB; RFC 3164 allowed 1 KiB).
const MAX_MESSAGE: usize = 2048;

/// The facilities an FTP daemon may log under (syslog(3) numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// LOG_FTP, as ftpd(8) uses: FreeBSD's syslog.conf sends `ftp.info` to
    /// /var/log/xferlog, and Linux syslog daemons log it with everything else.
    pub const FTP: Facility = Facility(11);

    /// `user`, `daemon`, `auth`, `authpriv`, `ftp`, `local0` ... `local7`.
    pub fn parse(name: &str) -> Result<Facility, String> {
        let code = match name {
            "user" => 1,
            "daemon" => 3,
            "auth" => 4,
            "authpriv" => 10,
            "ftp" => 11,
            _ => match name.strip_prefix("local").and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 0..=7) if name.len() == 6 => 16 + n,
                _ => {
                    return Err(format!(
                        "unknown syslog facility {name:?}: use user, daemon, auth, authpriv, ftp or local0 to local7"
                    ))
                }
            },
        };
        Ok(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

/// syslog(3) severities for the `log` crate's levels.
fn severity(level: ::log::Level) -> u8 {
    match level {
        ::log::Level::Error => 3,
        ::log::Level::Warn => 4,
        ::log::Level::Info => 6,
        ::log::Level::Debug | ::log::Level::Trace => 7,
    }
}

/// One datagram, without its trailing newline; control characters escaped so one message
/// stays one line, and bounded.
pub fn format(facility: Facility, level: ::log::Level, pid: u32, message: &str) -> String {
    let pri = u16::from(facility.code()) * 8 + u16::from(severity(level));
    let mut out = format!("<{pri}>ferroftpd[{pid}]: ");
    if !super::push_escaped(&mut out, message.chars(), MAX_MESSAGE, char::is_control) {
        out.push_str("...");
    }
    out
}

/// The connection to syslogd, made at startup (before any privilege drop) and made again if
/// syslogd restarts.
pub struct Syslog {
    path: PathBuf,
    facility: Facility,
    sock: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    pub fn connect(path: &Path, facility: Facility) -> io::Result<Syslog> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(path)?;
        Ok(Syslog {
            path: path.to_path_buf(),
            facility,
            sock: Mutex::new(Some(sock)),
        })
    }

    /// Sends one message; if syslogd went away, reconnects once. A message that still
    /// cannot go is written to stderr, the last place left.
    pub fn send(&self, level: ::log::Level, message: &str) {
        let line = format(self.facility, level, std::process::id(), message);
        let mut guard = self.sock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = guard.as_ref() {
            if s.send(line.as_bytes()).is_ok() {
                return;
            }
        }
        *guard = UnixDatagram::unbound()
            .and_then(|s| s.connect(&self.path).map(|()| s))
            .ok();
        let sent = guard
            .as_ref()
            .is_some_and(|s| s.send(line.as_bytes()).is_ok());
        if !sent {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_priorities() {
        assert_eq!(Facility::parse("ftp").unwrap().code(), 11);
        assert_eq!(Facility::parse("local7").unwrap().code(), 23);
        assert!(Facility::parse("local8").is_err());
        assert!(Facility::parse("local07").is_err());
        assert!(Facility::parse("kern").is_err());
        // ftp.info = 11 * 8 + 6
        assert_eq!(
            format(Facility::FTP, ::log::Level::Info, 42, "a\nb"),
            "<94>ferroftpd[42]: a\\nb"
        );
        let long = format(Facility::FTP, ::log::Level::Error, 1, &"x".repeat(5000));
        assert!(long.len() < MAX_MESSAGE + 40 && long.ends_with("..."));
        // Cut between characters and between escapes, never inside one: 2048 bytes fall
        // inside an `é` after the `x`, and inside a 6-byte `\u{1b}`.
        let wide = format(
            Facility::FTP,
            ::log::Level::Error,
            1,
            &format!("x{}", "é".repeat(3000)),
        );
        assert!(
            wide.len() <= MAX_MESSAGE + 30 && wide.ends_with("é..."),
            "{wide}"
        );
        let escapes = format(
            Facility::FTP,
            ::log::Level::Error,
            1,
            &"\u{1b}".repeat(1000),
        );
        assert!(escapes.ends_with("\\u{1b}..."), "{escapes}");
        assert!(!escapes.chars().any(char::is_control));
        assert_eq!(
            format(Facility::FTP, ::log::Level::Info, 1, "é"),
            "<94>ferroftpd[1]: é"
        );
    }

    #[test]
    fn datagrams_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let s = Syslog::connect(&path, Facility::parse("local3").unwrap()).unwrap();
        s.send(::log::Level::Warn, "hello");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            text,
            format!("<156>ferroftpd[{}]: hello", std::process::id())
        );
    }
}
