//! USER, PASS, REIN (RFC 959 4.1.1). QUIT is in the dispatcher.

use crate::auth::login::{authenticate, LoginError};
use crate::command::parse::Secret;
use crate::command::TransferType;
use crate::data;
use crate::reply::ReplyCode;
use crate::session::{Auth, Flow, LoggedIn, Session};
use crate::vfs::Vfs;
use std::io;

impl Session {
    pub(crate) fn cmd_user(&mut self, name: String) -> io::Result<()> {
        // A new USER starts a new login (RFC 959 allows changing user).
        self.reset_state();
        let text = format!("Password required for {}", printable(&name));
        self.auth = Auth::UserGiven(name);
        self.reply(ReplyCode::NeedPassword, text)
    }

    pub(crate) fn cmd_pass(&mut self, secret: Secret) -> io::Result<Flow> {
        let name = match &self.auth {
            Auth::UserGiven(n) => n.clone(),
            Auth::LoggedIn(_) => {
                self.reply(ReplyCode::BadSequence, "Already logged in")?;
                return Ok(Flow::Continue);
            }
            Auth::None => {
                self.reply(ReplyCode::BadSequence, "Login with USER first")?;
                return Ok(Flow::Continue);
            }
        };
        let users = self.server.users();
        let result = authenticate(&users, &name, &secret.0, self.peer.ip());
        drop(secret);
        let user = match result {
            Ok(u) => u,
            Err(e) => return self.login_failed(&name, e),
        };
        let vfs = match Vfs::open_home(&user.home_dir, user.permissions.clone()) {
            Ok(v) => v,
            Err(e) => {
                log::error!(
                    "login failed user={} remote={} reason=\"home {}: {e}\"",
                    printable(&name),
                    self.peer,
                    user.home_dir.display()
                );
                self.auth = Auth::None;
                self.reply(
                    ReplyCode::NotLoggedIn,
                    "Login refused: home directory unavailable",
                )?;
                return Ok(Flow::Continue);
            }
        };
        let start = user.start_directory.clone();
        self.cwd = if start != "/" && vfs.is_dir(&start).is_ok() {
            start
        } else {
            "/".into()
        };
        log::info!("login user={} remote={}", printable(&name), self.peer);
        self.auth = Auth::LoggedIn(Box::new(LoggedIn { user, vfs }));
        self.failed_logins = 0;
        self.reply(
            ReplyCode::LoggedIn,
            format!("User {} logged in", printable(&name)),
        )?;
        Ok(Flow::Continue)
    }

    fn login_failed(&mut self, name: &str, e: LoginError) -> io::Result<Flow> {
        self.failed_logins += 1;
        let reason = match e {
            LoginError::BadHash => "stored password hash unreadable".to_string(),
            _ => e.to_string(),
        };
        log::warn!(
            "login failed user={} remote={} reason=\"{reason}\"",
            printable(name),
            self.peer
        );
        self.auth = Auth::None;
        self.reply(ReplyCode::NotLoggedIn, e.to_string())?;
        if self.failed_logins >= crate::session::MAX_LOGIN_FAILURES {
            self.reply(
                ReplyCode::ServiceUnavailable,
                "Too many failed logins: closing",
            )?;
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    pub(crate) fn cmd_rein(&mut self) -> io::Result<()> {
        self.reset_state();
        self.auth = Auth::None;
        self.reply(ReplyCode::ServiceReady, "Service ready for new user")
    }

    /// Everything a login carries, back to defaults.
    fn reset_state(&mut self) {
        self.auth = Auth::None;
        self.cwd = "/".into();
        self.ttype = TransferType::Binary;
        self.rest = 0;
        self.rnfr = None;
        self.plan = data::Plan::None;
        self.epsv_all = false;
    }
}

/// A client string made safe for replies and logs: control characters escaped, bounded.
pub fn printable(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(128) {
        if c.is_control() || c == '"' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
