//! The ferroftpd binary: options, logging, configuration, ports, privileges, then the
//! accept loop. Exit status: 0 on success (a clean stop included), 1 on a configuration or
//! startup error, 2 on a usage error.
//!
//! The order matters: everything that needs root (log files and the syslog socket, the
//! listening ports, the pidfile) happens before the privilege drop, and the drop happens
//! before the first thread and the first client.

use ferroftpd::auth::users::UserDb;
use ferroftpd::cli::{self, Mode};
use ferroftpd::config::Config;
use ferroftpd::privs::{self, Plan};
use ferroftpd::{auth, listener, pidfile, server};
use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ferroftpd: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match opts.mode {
        Mode::Help => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Mode::Version => {
            println!("ferroftpd {}", ferroftpd::VERSION);
            return ExitCode::SUCCESS;
        }
        Mode::HashPassword => return hash_password(),
        Mode::Acme => return acme_once(&opts),
        Mode::Serve | Mode::CheckConfig => {}
    }
    let check_only = opts.mode == Mode::CheckConfig;
    // A check opens no log file and no syslog socket: it leaves nothing behind.
    let log_opts = if check_only {
        ferroftpd::log::Options {
            debug: opts.debug,
            ..Default::default()
        }
    } else {
        opts.log_options()
    };
    if let Err(e) = ferroftpd::log::init(&log_opts) {
        eprintln!("ferroftpd: {e}");
        return ExitCode::from(1);
    }
    let syslog = log_opts.syslog.is_some();

    let (mut config, users) = match load(&opts.config, check_only) {
        Ok(x) => x,
        Err(e) => {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    };
    let (bindings, nusers) = (config.ftpd.bindings.len(), users.len());
    // Decided before anything is bound, so a bad --user fails at once. A check does not
    // serve, so it does not mind root; it still checks --user and --group.
    let plan = match privs::plan(&privs::Request {
        user: opts.user.as_deref(),
        group: opts.group.as_deref(),
        run_as_root: check_only || opts.run_as_root || run_as_root_env(),
        port_20: !config.ftpd.active_transfers_port_non_20 || acme_bind_cap(&config),
    }) {
        Ok(p) => p,
        Err(e) => {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    };
    // ACME: a certificate is obtained now if none is usable, before the TLS material is
    // loaded and before the privilege drop, which needs a single thread: the order's
    // responder threads are joined before at_start returns.
    if check_only {
        if let Some(note) = ferroftpd::acme::pending_for_check(&mut config) {
            eprintln!("ferroftpd: note: {note}");
        }
    } else if let Some(acme) = &config.acme {
        if let Err(e) = ferroftpd::acme::at_start(acme) {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    }
    // Built before the check-only exit so certificates and keys are checked too.
    let server = match server::Server::new(config, users) {
        Ok(s) => s,
        Err(e) => {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    };
    if check_only {
        println!(
            "ferroftpd: {}: configuration OK ({bindings} binding(s), {nusers} user(s))",
            opts.config.display()
        );
        return ExitCode::SUCCESS;
    }
    let listeners = match listener::bind_all(&server) {
        Ok(l) => l,
        Err(e) => {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    };
    let pid_file = match opts.pidfile.as_deref().map(pidfile::PidFile::create) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            fatal(&e, syslog);
            return ExitCode::from(1);
        }
    };
    match &plan {
        Plan::Drop(t) => {
            // The renewal thread writes the ACME files as the service user.
            if let Some(acme) = &server.config.acme {
                if let Err(e) = ferroftpd::acme::store::give_to(acme, t.uid, t.gid) {
                    fatal(&format!("acme: {e}"), syslog);
                    return ExitCode::from(1);
                }
            }
            if let Err(e) = privs::drop_to(t) {
                fatal(&e, syslog);
                return ExitCode::from(1);
            }
            log::info!(
                "privileges dropped to user {} (uid {}, gid {}){}",
                t.user,
                t.uid,
                t.gid,
                match (
                    t.keep_port_20,
                    server.config.ftpd.active_transfers_port_non_20,
                ) {
                    (false, _) => "",
                    (true, false) =>
                        ", keeping CAP_NET_BIND_SERVICE for active transfers from port 20",
                    (true, true) => ", keeping CAP_NET_BIND_SERVICE for the ACME challenge port",
                }
            );
            warn_unowned(&server);
        }
        Plan::StayRoot => log::warn!("serving as root, as asked (--run-as-root)"),
        Plan::Stay => {}
    }
    if let Some(acme) = server.config.acme.clone() {
        let s = std::sync::Arc::clone(&server);
        if let Err(e) = ferroftpd::acme::spawn_renewal(acme, move || s.reload_tls()) {
            fatal(
                &format!("acme: cannot start the renewal thread: {e}"),
                syslog,
            );
            return ExitCode::from(1);
        }
    }
    let r = listener::run(server, listeners, opts.grace);
    drop(pid_file);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal(&format!("accept loop failed: {e}"), syslog);
            ExitCode::from(1)
        }
    }
}

/// A startup error: one line on stderr, and in syslog too when that is where the logs go
/// (under daemon(8) or an init script stderr is /dev/null).
fn fatal(e: &dyn std::fmt::Display, syslog: bool) {
    eprintln!("ferroftpd: {e}");
    if syslog {
        log::error!("{e}");
    }
}

/// A challenge port below 1024 (HTTP-01's default is 80) must still be bindable by the
/// renewal thread after a privilege drop: on Linux the drop keeps CAP_NET_BIND_SERVICE for
/// it, as for port 20. Elsewhere there is no such capability, and the startup log says so.
fn acme_bind_cap(config: &Config) -> bool {
    let low = config
        .acme
        .as_ref()
        .map(|a| a.privileged_ports())
        .unwrap_or_default();
    if low.is_empty() {
        return false;
    }
    if cfg!(any(target_os = "linux", target_os = "android")) {
        return true;
    }
    log::warn!(
        "acme: challenge port(s) {low:?} need root after a privilege drop on this system: renewals will fail to bind them; use http01_challenge.webroot, a port above 1023, or --run-as-root"
    );
    false
}

/// `ferroftpd acme`: obtains or renews, once, the ACME certificates that need it. With
/// `--user` (run as root) the files are given to that user, for the daemon that renews as
/// that user. Exit status 0 when each certificate was obtained or was not due, else 1.
fn acme_once(opts: &cli::Options) -> ExitCode {
    let log_opts = ferroftpd::log::Options {
        debug: opts.debug,
        ..Default::default()
    };
    if let Err(e) = ferroftpd::log::init(&log_opts) {
        eprintln!("ferroftpd: {e}");
        return ExitCode::from(1);
    }
    let (config, warnings) = match Config::load(&opts.config) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ferroftpd: {e}");
            return ExitCode::from(1);
        }
    };
    for w in &warnings {
        log::warn!("{w}");
    }
    let Some(acme) = &config.acme else {
        eprintln!(
            "ferroftpd: {}: acme.domains is empty: ACME is off, nothing to do",
            opts.config.display()
        );
        return ExitCode::from(1);
    };
    let owner = match opts.user.as_deref() {
        None => None,
        Some(user) => match privs::plan(&privs::Request {
            user: Some(user),
            group: opts.group.as_deref(),
            run_as_root: true,
            port_20: false,
        }) {
            Ok(Plan::Drop(t)) => Some((t.uid, t.gid)),
            Ok(_) => None,
            Err(e) => {
                eprintln!("ferroftpd: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let result = ferroftpd::acme::run_once(acme).and_then(|n| {
        if let Some((uid, gid)) = owner {
            ferroftpd::acme::store::give_to(acme, uid, gid)?;
        }
        Ok(n)
    });
    match result {
        Ok(n) => {
            println!(
                "ferroftpd: acme: {n} certificate(s) obtained, {} checked",
                acme.domains.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferroftpd: {e}");
            ExitCode::from(1)
        }
    }
}

/// `FERROFTPD_RUN_AS_ROOT=1` (or yes, true): `--run-as-root` for service managers and test
/// harnesses that cannot change the command line.
fn run_as_root_env() -> bool {
    std::env::var(privs::RUN_AS_ROOT_ENV)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "yes" | "true"))
}

/// After a drop, users with SFTPGo's uid/gid will not have their files chowned (SFTPGo
/// only chowns as root): say so once, naming them.
fn warn_unowned(server: &server::Server) {
    let users = server.users();
    let mut named: Vec<&str> = users
        .names()
        .filter(|n| {
            users
                .get(n)
                .is_some_and(|u| u.uid.is_some() || u.gid.is_some())
        })
        .collect();
    if named.is_empty() {
        return;
    }
    named.sort_unstable();
    log::warn!(
        "users with uid/gid ({}): their new files belong to the service user, since only root may give them away; run with --run-as-root to have them chowned",
        named.join(", ")
    );
}

/// Reads the configuration and the users; warnings go to stderr (check) or the log.
fn load(
    file: &std::path::Path,
    check_only: bool,
) -> Result<(Config, UserDb), Box<dyn std::error::Error>> {
    let (config, mut warnings) = Config::load(file)?;
    let (users, user_warnings) = UserDb::load(&config.provider)?;
    warnings.extend(user_warnings);
    for w in &warnings {
        if check_only {
            eprintln!("ferroftpd: warning: {w}");
        } else {
            log::warn!("{w}");
        }
    }
    Ok((config, users))
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
        eprintln!("ferroftpd: cannot read the password: {e}");
        return ExitCode::from(1);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("ferroftpd: empty password");
        return ExitCode::from(1);
    }
    match auth::hash::hash_bcrypt(password.as_bytes(), 10) {
        Ok(h) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferroftpd: {e}");
            ExitCode::from(1)
        }
    }
}
