//! Where log lines go, and the events an administrator reads: logins, failed logins (with
//! the reason), file transfers and bans. Each event is written once: one human line through
//! the `log` crate (to stderr, or to syslog with `--syslog`), plus a line in the transfer
//! log in xferlog format (`--xferlog`, transfers only) and in the JSON-lines log
//! (`--json-log`, every event), where those are configured.
//!
//! Global state: the `log` crate's logger is process-wide by design, and so are the two
//! log files here, set once by [`init`] at startup (before any privilege drop, so they may
//! live in root-owned directories) and reopened on SIGHUP by [`reopen`] for log rotation.
//! Each file sits behind a mutex and gets each line in one `write`, so lines of concurrent
//! sessions never interleave. Before `init` (unit tests, `-n`) events reach only the `log`
//! crate.

pub mod syslog;
pub mod xferlog;

use crate::util::timefmt::civil_from_unix;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the logs go (from the command line).
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Debug level (RUST_LOG, when set, wins).
    pub debug: bool,
    /// Human lines to syslog (socket, facility) instead of stderr.
    pub syslog: Option<(PathBuf, syslog::Facility)>,
    /// The xferlog-format transfer log.
    pub xferlog: Option<PathBuf>,
    /// The JSON-lines event log.
    pub json: Option<PathBuf>,
}

struct LogFile {
    path: PathBuf,
    file: File,
}

struct Files {
    xferlog: Option<Mutex<LogFile>>,
    json: Option<Mutex<LogFile>>,
}

static FILES: OnceLock<Files> = OnceLock::new();

/// Log files are readable by their owner and group only: they name users and addresses.
fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// Installs the logger and opens the log files. Errors name the file or the socket.
pub fn init(o: &Options) -> Result<(), String> {
    // rustls warns about client quirks (an IP address sent as SNI) on every connection.
    let level = if o.debug {
        "debug,rustls=info"
    } else {
        "info,rustls=error"
    };
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level));
    // env_logger's own layout, with control characters escaped: a client's bytes that reach
    // a message (a path, a name) can neither forge a line nor drive a terminal.
    builder.format(|buf, record| {
        let ts = buf.timestamp_millis();
        // The level coloured on a terminal, as env_logger's own format does.
        let style = buf.default_level_style(record.level());
        let msg = record.args().to_string();
        writeln!(
            buf,
            "[{ts} {style}{:<5}{style:#} {}] {}",
            record.level(),
            record.target(),
            controls_escaped(&msg)
        )
    });
    let open = |p: &Option<PathBuf>, what: &str| -> Result<Option<Mutex<LogFile>>, String> {
        match p {
            None => Ok(None),
            Some(path) => open_log(path)
                .map(|file| {
                    Some(Mutex::new(LogFile {
                        path: path.clone(),
                        file,
                    }))
                })
                .map_err(|e| format!("{what} {}: {e}", path.display())),
        }
    };
    let files = Files {
        xferlog: open(&o.xferlog, "--xferlog")?,
        json: open(&o.json, "--json-log")?,
    };
    let env = builder.build();
    // The filter lives in the logger; the max level only lets the macros skip work early.
    let max = env.filter();
    let logger: Box<dyn ::log::Log> = match &o.syslog {
        None => Box::new(env),
        Some((path, facility)) => Box::new(SyslogLogger {
            filter: env,
            out: syslog::Syslog::connect(path, *facility).map_err(|e| {
                format!("--syslog: cannot reach syslogd at {}: {e}", path.display())
            })?,
        }),
    };
    ::log::set_boxed_logger(logger).map_err(|e| format!("logger: {e}"))?;
    ::log::set_max_level(max);
    let _ = FILES.set(files);
    Ok(())
}

/// The `log` crate's records, filtered as on stderr (RUST_LOG, `-d`), as syslog messages.
struct SyslogLogger {
    filter: env_logger::Logger,
    out: syslog::Syslog,
}

impl ::log::Log for SyslogLogger {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &::log::Record<'_>) {
        if self.filter.matches(record) {
            self.out.send(record.level(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// SIGHUP: opens the log files again by name, so a rotated file is left alone. A file that
/// cannot be opened (after a privilege drop, a directory only root may write) keeps its old
/// handle, and the error says so.
pub fn reopen() {
    let Some(files) = FILES.get() else { return };
    for f in [&files.xferlog, &files.json].into_iter().flatten() {
        let mut lf = f.lock().unwrap_or_else(PoisonError::into_inner);
        match open_log(&lf.path) {
            Ok(file) => {
                lf.file = file;
                ::log::info!("reload: reopened {}", lf.path.display());
            }
            Err(e) => ::log::error!(
                "reload: cannot reopen {}: {e}; still writing to the old file",
                lf.path.display()
            ),
        }
    }
}

fn write_line(f: &Option<Mutex<LogFile>>, line: &str) {
    if let Some(f) = f {
        let mut lf = f.lock().unwrap_or_else(PoisonError::into_inner);
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if let Err(e) = lf.file.write_all(&bytes) {
            // Not through the log crate: that could be the very file failing.
            eprintln!("ferroftpd: writing {}: {e}", lf.path.display());
        }
    }
}

/// Builds the event only when the JSON log is on: most daemons run without it.
fn json(value: impl FnOnce() -> serde_json::Value) {
    if let Some(files) = FILES.get().filter(|f| f.json.is_some()) {
        write_line(&files.json, &value().to_string());
    }
}

/// RFC 3339 UTC with milliseconds, for the JSON log.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = civil_from_unix(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        d.subsec_millis()
    )
}

/// A client string for a human line: control characters, quotes and backslashes escaped
/// (so a typed `\u{1b}` reads `\\u{1b}`, not as an escaped ESC), bounded, so that a user
/// name or path cannot forge a line or a field.
pub fn printable(s: &str) -> String {
    let mut out = String::new();
    push_escaped(&mut out, s.chars().take(256), usize::MAX, |c| {
        c.is_control() || c == '"' || c == '\\'
    });
    out
}

/// `s` with each control character as its escape (`\u{1b}`, `\n`): one line, and no
/// terminal control codes. Borrowed when there are none, as in almost every message.
pub fn controls_escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_escaped(&mut out, s.chars(), usize::MAX, char::is_control);
    std::borrow::Cow::Owned(out)
}

/// Appends `chars` to `out`, those `escape` picks as their Rust escapes, stopping at the
/// first character once `max` bytes are appended (an escape is never cut); false if it
/// stopped early. The one escaping loop of the human log, stderr and syslog.
pub fn push_escaped(
    out: &mut String,
    chars: impl Iterator<Item = char>,
    max: usize,
    escape: impl Fn(char) -> bool,
) -> bool {
    let start = out.len();
    for c in chars {
        if out.len() - start >= max {
            return false;
        }
        if escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    true
}

/// A client string for JSON (which escapes by itself) or already escaped: only bounded.
pub fn bounded(s: &str) -> String {
    s.chars().take(256).collect()
}

/// A successful login.
pub fn login(user: &str, remote: SocketAddr, method: &str, tls: &str) {
    ::log::info!(
        "login user={} remote={remote} method={method} tls=\"{tls}\"",
        printable(user)
    );
    json(|| {
        serde_json::json!({
        "time": rfc3339(SystemTime::now()),
        "event": "login",
        "user": bounded(user),
        "remote": remote.to_string(),
        "method": method,
        "tls": tls,
        })
    });
}

/// A refused login, with the reason (for the administrator; the client got less).
pub fn login_failed(user: &str, remote: SocketAddr, reason: &str) {
    ::log::warn!(
        "login failed user={} remote={remote} reason=\"{}\"",
        printable(user),
        printable(reason)
    );
    json(|| {
        serde_json::json!({
        "time": rfc3339(SystemTime::now()),
        "event": "login_failed",
        "user": bounded(user),
        "remote": remote.to_string(),
        "reason": reason,
        })
    });
}

/// How a transfer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// ABOR, or the client went away.
    Aborted,
    Failed(String),
}

/// One finished transfer (files and listings; the xferlog takes files only).
#[derive(Clone, Debug)]
pub struct Transfer<'a> {
    /// RETR, STOR, APPE, STOU, LIST, NLST, MLSD.
    pub verb: &'a str,
    pub user: &'a str,
    pub remote: SocketAddr,
    /// As the user sees it.
    pub path: &'a str,
    /// On the data connection.
    pub bytes: u64,
    pub secs: f64,
    pub outcome: Outcome,
    /// TYPE A with conversion.
    pub ascii: bool,
}

pub fn transfer(t: &Transfer<'_>) {
    if ::log::log_enabled!(::log::Level::Info) {
        let result = match &t.outcome {
            Outcome::Ok => "ok".to_string(),
            Outcome::Aborted => "aborted".to_string(),
            Outcome::Failed(why) => format!("failed reason=\"{}\"", printable(why)),
        };
        ::log::info!(
            "transfer {} user={} remote={} path={} bytes={} secs={:.3} result={result}",
            t.verb,
            printable(t.user),
            t.remote,
            printable(t.path),
            t.bytes,
            t.secs,
        );
    }
    // Lines are made only for the logs that are on (most daemons run with neither).
    let Some(files) = FILES
        .get()
        .filter(|f| f.xferlog.is_some() || f.json.is_some())
    else {
        return;
    };
    let now = SystemTime::now();
    if let Some(line) = xferlog::line(t, now) {
        write_line(&files.xferlog, &line);
        if files.json.is_none() {
            return;
        }
        let (result, reason) = match &t.outcome {
            Outcome::Ok => ("ok", None),
            Outcome::Aborted => ("aborted", None),
            Outcome::Failed(why) => ("failed", Some(why.as_str())),
        };
        write_line(
            &files.json,
            &serde_json::json!({
                "time": rfc3339(now),
                "event": "transfer",
                "verb": t.verb,
                "direction": if t.verb == "RETR" { "download" } else { "upload" },
                "user": bounded(t.user),
                "remote": t.remote.to_string(),
                "path": bounded(t.path),
                "bytes": t.bytes,
                "secs": (t.secs * 1000.0).round() / 1000.0,
                "mode": if t.ascii { "ascii" } else { "binary" },
                "result": result,
                "reason": reason,
            })
            .to_string(),
        );
    }
}

/// An address banned (by the defender) for `duration`.
pub fn ban(ip: IpAddr, duration: Duration, reason: &str) {
    ::log::warn!(
        "ban remote={ip} for {}s reason=\"{}\"",
        duration.as_secs(),
        printable(reason)
    );
    json(|| {
        serde_json::json!({
        "time": rfc3339(SystemTime::now()),
        "event": "ban",
        "remote": ip.to_string(),
        "secs": duration.as_secs(),
        "reason": reason,
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_577_934_245_123);
        assert_eq!(rfc3339(t), "2020-01-02T03:04:05.123Z");
    }
}
