//! Command-line options, matching the SYNOPSIS of ferroftpd(8). Short flags may be grouped
//! (`-dn`); long options take their value as the next argument or after `=`.

use crate::log::syslog::Facility;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "usage: ferroftpd [-dn] [-c file] [-u user] [-g group] [--run-as-root]
                 [--pidfile file] [--grace seconds] [--syslog]
                 [--syslog-facility name] [--syslog-socket path]
                 [--xferlog file] [--json-log file]
       ferroftpd hash-password
       ferroftpd acme [-d] [-c file] [-u user] [-g group]
       ferroftpd --version

  -c, --config FILE        configuration file (default /usr/local/etc/ferroftpd/ferroftpd.json)
  -n, --check-config       check the configuration and the users file, then exit
  -d, --debug              log at debug level (RUST_LOG overrides)
  -u, --user USER          started as root: become USER once the ports are bound
  -g, --group GROUP        ... and GROUP (default: USER's primary group)
      --run-as-root        serve as root (also FERROFTPD_RUN_AS_ROOT=1)
      --pidfile FILE       write the process id to FILE, locked while running
      --grace SECONDS      after SIGTERM, let transfers finish this long (default 30)
      --syslog             log to syslog instead of standard error
      --syslog-facility F  user, daemon, auth, authpriv, ftp (default), local0..local7
      --syslog-socket PATH syslogd's socket (default /dev/log; /var/run/log on FreeBSD)
      --xferlog FILE       append a line per file transfer, in xferlog(5) format
      --json-log FILE      append logins, failed logins, transfers and bans as JSON lines
  -v, --version            print the version and exit
  -h, --help               print this help and exit
  hash-password            read a password on standard input, print its bcrypt hash
  acme                     obtain or renew the ACME certificates that need it, then exit";

/// The longest grace period `--grace` takes (an hour).
const MAX_GRACE: u64 = 3600;

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    CheckConfig,
    HashPassword,
    /// `acme`: obtain or renew the ACME certificates once.
    Acme,
    Version,
    Help,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub config: PathBuf,
    pub debug: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    pub run_as_root: bool,
    pub pidfile: Option<PathBuf>,
    pub grace: Duration,
    pub syslog: bool,
    pub syslog_facility: Facility,
    pub syslog_socket: PathBuf,
    pub xferlog: Option<PathBuf>,
    pub json_log: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Serve,
            config: PathBuf::from(crate::config::DEFAULT_CONFIG),
            debug: false,
            user: None,
            group: None,
            run_as_root: false,
            pidfile: None,
            grace: crate::signals::DEFAULT_GRACE,
            syslog: false,
            syslog_facility: Facility::FTP,
            syslog_socket: PathBuf::from(crate::log::syslog::DEFAULT_SOCKET),
            xferlog: None,
            json_log: None,
        }
    }
}

impl Options {
    /// Where the logs go.
    pub fn log_options(&self) -> crate::log::Options {
        crate::log::Options {
            debug: self.debug,
            syslog: self
                .syslog
                .then(|| (self.syslog_socket.clone(), self.syslog_facility)),
            xferlog: self.xferlog.clone(),
            json: self.json_log.clone(),
        }
    }
}

/// Parses argv (without the program name). Err is a usage message line.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // `--name=value` and `--name value` alike.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs {what}")),
            }
        };
        match name.as_str() {
            "-c" | "--config" => opts.config = PathBuf::from(value("a file name")?),
            "-u" | "--user" => opts.user = Some(value("a user name or uid")?),
            "-g" | "--group" => opts.group = Some(value("a group name or gid")?),
            "--pidfile" => opts.pidfile = Some(PathBuf::from(value("a file name")?)),
            "--grace" => {
                let v = value("a number of seconds")?;
                let secs = v
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= MAX_GRACE)
                    .ok_or_else(|| format!("--grace {v:?}: seconds from 0 to {MAX_GRACE}"))?;
                opts.grace = Duration::from_secs(secs);
            }
            "--syslog-facility" => {
                opts.syslog_facility = Facility::parse(&value("a facility")?)?;
                opts.syslog = true;
            }
            "--syslog-socket" => {
                opts.syslog_socket = PathBuf::from(value("a socket path")?);
                opts.syslog = true;
            }
            "--xferlog" => opts.xferlog = Some(PathBuf::from(value("a file name")?)),
            "--json-log" => opts.json_log = Some(PathBuf::from(value("a file name")?)),
            _ if inline.is_some() => return Err(format!("{name} takes no value")),
            "--syslog" => opts.syslog = true,
            "--run-as-root" => opts.run_as_root = true,
            "--check-config" => opts.mode = Mode::CheckConfig,
            "--debug" => opts.debug = true,
            "--version" => opts.mode = Mode::Version,
            "--help" => opts.mode = Mode::Help,
            "hash-password" => opts.mode = Mode::HashPassword,
            "acme" => opts.mode = Mode::Acme,
            // Grouped short flags without values: -d, -n, -v, -h.
            s if s.len() > 1
                && s.starts_with('-')
                && !s.starts_with("--")
                && s[1..].chars().all(|c| "dnvh".contains(c)) =>
            {
                for c in s[1..].chars() {
                    match c {
                        'd' => opts.debug = true,
                        'n' => opts.mode = Mode::CheckConfig,
                        'v' => opts.mode = Mode::Version,
                        _ => opts.mode = Mode::Help,
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Options, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn acme_subcommand() {
        let o = p(&["acme", "--config", "/x.json", "-u", "ftp"]).unwrap();
        assert_eq!(o.mode, Mode::Acme);
        assert_eq!(o.config, PathBuf::from("/x.json"));
        assert_eq!(o.user.as_deref(), Some("ftp"));
    }

    #[test]
    fn flags() {
        let o = p(&["-n", "--config", "/x.json", "-d"]).unwrap();
        assert_eq!(o.mode, Mode::CheckConfig);
        assert_eq!(o.config, PathBuf::from("/x.json"));
        assert!(o.debug);
        assert_eq!(p(&["--config=/y"]).unwrap().config, PathBuf::from("/y"));
        assert!(p(&["-c"]).is_err());
        assert!(p(&["-x"]).is_err());
        let o = p(&["-dn"]).unwrap();
        assert!(o.debug && o.mode == Mode::CheckConfig);
    }

    #[test]
    fn operations_flags() {
        let o = p(&[
            "-u",
            "ftp",
            "--group=ftp",
            "--pidfile",
            "/run/f.pid",
            "--grace",
            "5",
            "--syslog-facility",
            "local2",
            "--xferlog=/var/log/xferlog",
            "--json-log",
            "/var/log/f.json",
            "--run-as-root",
        ])
        .unwrap();
        assert_eq!(o.user.as_deref(), Some("ftp"));
        assert_eq!(o.group.as_deref(), Some("ftp"));
        assert_eq!(o.pidfile, Some(PathBuf::from("/run/f.pid")));
        assert_eq!(o.grace, Duration::from_secs(5));
        assert!(o.syslog && o.run_as_root);
        assert_eq!(o.syslog_facility.code(), 18);
        assert_eq!(o.xferlog, Some(PathBuf::from("/var/log/xferlog")));
        assert!(p(&["--grace", "-1"]).is_err());
        assert!(p(&["--grace", "99999"]).is_err());
        assert!(p(&["--syslog-facility", "kern"]).is_err());
        assert!(p(&["--syslog=yes"]).is_err());
        assert_eq!(p(&[]).unwrap().grace, crate::signals::DEFAULT_GRACE);
    }
}
