//! The ferroftpd binary: options, configuration, then the accept loop. Exit status: 0 on
//! success, 1 on a configuration or startup error, 2 on a usage error.

use ferroftpd::auth::users::UserDb;
use ferroftpd::cli::{self, Mode};
use ferroftpd::config::Config;
use ferroftpd::{auth, listener, server};
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
        Mode::Serve | Mode::CheckConfig => {}
    }
    // rustls warns about client quirks (an IP address sent as SNI) on every connection.
    let level = if opts.debug {
        "debug,rustls=info"
    } else {
        "info,rustls=error"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();

    let check_only = opts.mode == Mode::CheckConfig;
    let (config, users) = match load(&opts.config, check_only) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ferroftpd: {e}");
            return ExitCode::from(1);
        }
    };
    let (bindings, nusers) = (config.ftpd.bindings.len(), users.len());
    // Built before the check-only exit so certificates and keys are checked too.
    let server = match server::Server::new(config, users) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ferroftpd: {e}");
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
            eprintln!("ferroftpd: {e}");
            return ExitCode::from(1);
        }
    };
    match listener::run(server, listeners) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferroftpd: accept loop failed: {e}");
            ExitCode::from(1)
        }
    }
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
