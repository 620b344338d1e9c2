//! USER, PASS, REIN (RFC 959 4.1.1). QUIT is in the dispatcher.

use crate::auth::login::{authenticate, certificate_matches, check_account, LoginError};
use crate::auth::users::{LoginMethod, User};
use crate::command::parse::Secret;
use crate::command::TransferType;
use crate::config::tls::ClientAuth;
use crate::data;
use crate::limits::defender::Event;
use crate::reply::ReplyCode;
use crate::session::{Auth, Flow, LoggedIn, Session};
use crate::vfs::Vfs;
use std::io;
use std::sync::Arc;

impl Session {
    pub(crate) fn cmd_user(&mut self, name: String) -> io::Result<Flow> {
        // A new USER starts a new login (RFC 959 allows changing user).
        self.reset_state();
        let user = self.server.users().get(&name);
        if let Some(u) = &user {
            if u.tls_required && self.tls.is_none() {
                self.reply(
                    ReplyCode::NotLoggedIn,
                    "TLS required for this user: send AUTH TLS first",
                )?;
                return Ok(Flow::Continue);
            }
        }
        if let (Some(u), Some((der, cn))) = (&user, self.client_certificate()) {
            if u.uses_certificates() {
                if !certificate_matches(u, &der, cn.as_deref()) {
                    let why = format!(
                        "client certificate (CN {:?}) does not match",
                        cn.unwrap_or_default()
                    );
                    return self.login_refused(&name, LoginError::CertificateMismatch, Some(why));
                }
                if u.method_allowed(LoginMethod::TlsCertificate) {
                    return self.certificate_login(Arc::clone(u));
                }
                self.cert_matched = true;
            }
        }
        let text = format!("Password required for {}", printable(&name));
        self.auth = Auth::UserGiven(name);
        self.reply(ReplyCode::NeedPassword, text)?;
        Ok(Flow::Continue)
    }

    /// The verified client certificate of the control connection (DER and Common Name),
    /// where the binding asks for one.
    fn client_certificate(&self) -> Option<(Vec<u8>, Option<String>)> {
        if self.binding().tls.client_auth == ClientAuth::None {
            return None;
        }
        let cert = self.ctrl.tls()?.peer_certificates()?.first()?;
        Some((cert.as_ref().to_vec(), crate::tls::cert::common_name(cert)))
    }

    /// USER with a matching certificate and the TLSCertificate method allowed: 232.
    fn certificate_login(&mut self, user: Arc<User>) -> io::Result<Flow> {
        let name = user.username.clone();
        if let Err(e) = check_account(&user, self.peer.ip()) {
            return self.login_failed(&name, e);
        }
        self.complete_login(user, LoginMethod::TlsCertificate)
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
        let result = authenticate(
            &users,
            self.server.password_cache.as_ref(),
            &name,
            &secret.0,
            self.peer.ip(),
        );
        drop(secret);
        let user = match result {
            Ok(u) => u,
            Err(e) => return self.login_failed(&name, e),
        };
        let method = if self.cert_matched {
            LoginMethod::TlsCertificateAndPassword
        } else {
            LoginMethod::Password
        };
        if !user.method_allowed(method) {
            return self.login_failed(&name, LoginError::MethodDenied(method.name()));
        }
        self.complete_login(user, method)
    }

    /// Opens the home directory and enters the logged-in state.
    fn complete_login(&mut self, user: Arc<User>, method: LoginMethod) -> io::Result<Flow> {
        let name = user.username.clone();
        let session = match self
            .server
            .usage
            .open_session(&name, user.limits.max_sessions)
        {
            Ok(g) => g,
            Err(open) => {
                let ip = self.peer.ip();
                if let Some(ban) = self.server.defender.record(ip, Event::LimitExceeded) {
                    crate::log::ban(ip, ban, "too many sessions");
                }
                return self.login_failed(&name, LoginError::TooManySessions(open));
            }
        };
        // SFTPGo's uid/gid: new files go to them when this process may chown (root).
        let owner = crate::privs::Owner::for_user(user.uid, user.gid);
        let vfs = match Vfs::for_user(&user, std::sync::Arc::clone(&self.server.usage), owner) {
            Ok(v) => v,
            Err(e) => {
                let why = format!("home {}: {e}", user.home_dir.display());
                crate::log::login_failed(&name, self.peer, &why);
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
        let tls = self
            .ctrl
            .tls()
            .map(|c| crate::tls::describe(c))
            .unwrap_or_else(|| "none".into());
        crate::log::login(&name, self.peer, method.name(), &tls);
        self.auth = Auth::LoggedIn(Box::new(LoggedIn {
            user,
            vfs,
            _session: session,
        }));
        self.failed_logins = 0;
        self.login_attempted = true;
        if self.server.defender.config().enabled {
            std::thread::sleep(self.server.defender.config().login_delay_success);
        }
        let (code, text) = match method {
            LoginMethod::TlsCertificate => (
                ReplyCode::LoggedInBySecurityData,
                format!("User {} logged in with a TLS certificate", printable(&name)),
            ),
            _ => (
                ReplyCode::LoggedIn,
                format!("User {} logged in", printable(&name)),
            ),
        };
        self.reply(code, text)?;
        Ok(Flow::Continue)
    }

    fn login_failed(&mut self, name: &str, e: LoginError) -> io::Result<Flow> {
        self.login_refused(name, e, None)
    }

    /// A refused login: logged once (crate::log), with `detail` as the reason when given,
    /// then answered.
    fn login_refused(
        &mut self,
        name: &str,
        e: LoginError,
        detail: Option<String>,
    ) -> io::Result<Flow> {
        self.failed_logins += 1;
        let reason = match (&e, detail) {
            (_, Some(d)) => d,
            (LoginError::BadHash, None) => "stored password hash unreadable".to_string(),
            (LoginError::MethodDenied(m), None) => format!("login method {m} denied"),
            (_, None) => e.to_string(),
        };
        crate::log::login_failed(name, self.peer, &reason);
        self.auth = Auth::None;
        self.login_attempted = true;
        let event = match e {
            LoginError::WrongPassword => Some(Event::WrongPassword),
            LoginError::BadCredentials => Some(Event::InvalidUser),
            _ => None,
        };
        let defender = &self.server.defender;
        if let Some(ban) = event.and_then(|ev| defender.record(self.peer.ip(), ev)) {
            crate::log::ban(self.peer.ip(), ban, "failed logins");
        }
        if defender.config().enabled && event.is_some() {
            // Slows password guessing; only with the defender on, as in SFTPGo.
            std::thread::sleep(defender.config().login_delay_failed);
        }
        self.reply(ReplyCode::NotLoggedIn, e.to_string())?;
        if self.server.defender.banned(self.peer.ip()).is_some() {
            self.reply(
                ReplyCode::ServiceUnavailable,
                "Too many failed logins: closing",
            )?;
            return Ok(Flow::Close);
        }
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
        self.cert_matched = false;
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
