//! One control connection, on its own thread: greeting, then read a line, parse it, gate it
//! (login), dispatch it, reply, until QUIT, a timeout or the peer leaves.
//!
//! Transfers run on this same thread; between chunks they call [`Session::control_check`],
//! which serves ABOR and STAT at once and queues any other command for afterwards
//! (RFC 959 commands are served in order).

pub mod stream;

use crate::auth::users::User;
use crate::command::{parse, Command, ParseError, TransferType};
use crate::config::tls::TlsMode;
use crate::config::Binding;
use crate::data::{self, Ctl};
use crate::reply::{Reply, ReplyCode};
use crate::server::Server;
use crate::vfs::Vfs;
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::{ControlStream, ReadError};

/// SFTPGo closes sessions that have not logged in after 2 minutes.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a client that has not logged in may wait between commands: the login limit
/// holds even with the idle timeout off (0), or a connection that never logs in would hold
/// its thread for ever.
fn login_limit(idle: Option<Duration>) -> Duration {
    idle.map_or(LOGIN_TIMEOUT, |d| d.min(LOGIN_TIMEOUT))
}

/// The control connection's TLS handshake (implicit TLS, or after `AUTH TLS`) must be done
/// within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Stack of the short-lived thread that runs a control connection's TLS handshake (see
/// [`Session::start_tls_aside`]); the deepest handshake is measured in tests/stack.rs. It
/// must stay smaller than [`crate::listener::WORKER_STACK`]: the C library keeps the stacks
/// of ended threads for reuse and hands one out only to a thread asking for at most its
/// size, so a session thread never inherits a handshake's touched stack pages.
pub const HANDSHAKE_STACK: usize = 192 << 10;
const _: () = assert!(HANDSHAKE_STACK < crate::listener::WORKER_STACK);
/// A transfer with no progress for this long ends, whatever `idle_timeout` says.
const MIN_STALL: Duration = Duration::from_secs(60);
/// RFC 959 lets a client retry PASS; after this many failures the connection is closed.
pub const MAX_LOGIN_FAILURES: u32 = 3;
/// Lines kept while a transfer runs. Once this many wait, the control connection is not
/// read until the transfer ends: the rest stay in the socket (TCP holds back a client
/// that sends on), so every line is still answered, in order.
const MAX_PENDING: usize = 16;

/// A line that came during a transfer ([`Session::control_check`]).
enum Kept {
    Line(String),
    /// Overlong: answered 500 later, but scored by the defender when it came.
    TooLong,
    /// Not UTF-8: answered 501 later.
    NotUtf8,
}

pub enum Auth {
    None,
    UserGiven(String),
    LoggedIn(Box<LoggedIn>),
}

pub struct LoggedIn {
    pub user: Arc<User>,
    pub vfs: Vfs,
    /// Counts this session against the user's `max_sessions`.
    pub _session: crate::limits::usage::SessionGuard,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// What STAT shows while a transfer runs.
pub struct Running {
    pub what: String,
    pub bytes: u64,
}

pub struct Session {
    pub server: Arc<Server>,
    binding: usize,
    pub ctrl: ControlStream,
    /// Peer and local addresses, IPv4-mapped forms unwrapped.
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub auth: Auth,
    pub cwd: String,
    pub ttype: TransferType,
    pub rest: u64,
    pub rnfr: Option<String>,
    pub plan: data::Plan,
    pub epsv_all: bool,
    pub failed_logins: u32,
    pub started: Instant,
    /// Lines that came during a transfer, answered after it in order, as they would be
    /// between transfers.
    pending: VecDeque<Kept>,
    pub control_lost: bool,
    /// An overlong line during a transfer was scored: a ban it started closes the session
    /// before the next line.
    ban_check_due: bool,
    pub running: Option<Running>,
    /// PROT P is in force.
    pub prot_private: bool,
    /// Set when TLS starts on the control connection: the reuse token and the binding's
    /// TLS configuration at that moment (data connections use the same one).
    pub tls: Option<TlsSession>,
    /// USER matched the client certificate; PASS then means TLSCertificate+password.
    pub cert_matched: bool,
    /// MLST/MLSD facts selected with OPTS MLST (bit i = `listing::FACTS[i]`).
    pub mlst_facts: u8,
    /// The algorithm HASH uses, chosen with OPTS HASH (draft-bryan-ftpext-hash 3.2).
    pub hash_algo: crate::util::digest::Algo,
    /// A login was tried (the defender scores sessions that never try).
    pub login_attempted: bool,
    /// This session's registration for the graceful stop (SIGTERM).
    pub activity: crate::signals::Activity,
    /// proxy_protocol 1 and a source not in proxy_allowed: a PROXY header it sends is
    /// refused (the connection closes) rather than read as commands.
    pub refuse_proxy_header: bool,
}

pub struct TlsSession {
    pub token: [u8; crate::tls::TOKEN_LEN],
    /// The data connections' configurations (fewer session tickets than the control
    /// connection's).
    pub data_config: crate::tls::Choice,
}

impl Session {
    pub fn new(server: Arc<Server>, binding: usize, sock: TcpStream) -> io::Result<Session> {
        let peer = canonical(sock.peer_addr()?);
        let local = canonical(sock.local_addr()?);
        let sock = Arc::new(sock);
        let activity = server.lifecycle.register(&sock)?;
        Ok(Session {
            server,
            binding,
            ctrl: ControlStream::new(sock)?,
            peer,
            local,
            auth: Auth::None,
            cwd: "/".into(),
            ttype: TransferType::Binary,
            rest: 0,
            rnfr: None,
            plan: data::Plan::None,
            epsv_all: false,
            failed_logins: 0,
            started: Instant::now(),
            pending: VecDeque::new(),
            ban_check_due: false,
            control_lost: false,
            running: None,
            prot_private: false,
            tls: None,
            cert_matched: false,
            mlst_facts: crate::cmd::ALL_FACTS,
            hash_algo: crate::util::digest::Algo::DEFAULT,
            login_attempted: false,
            activity,
            refuse_proxy_header: false,
        })
    }

    /// The client's first bytes are a PROXY header it may not send: log it, and the caller
    /// closes the connection without a reply (the header must not be taken as commands).
    fn forbidden_proxy_header(&mut self) -> bool {
        if !self.refuse_proxy_header {
            return false;
        }
        let wait = login_limit(self.server.config.common.idle_timeout);
        let refused = crate::proxy_proto::sends_header(self.ctrl.socket(), Instant::now() + wait);
        if refused {
            log::warn!(
                "PROXY header from {}, which is not in common.proxy_allowed: connection refused",
                self.peer
            );
        }
        refused
    }

    pub fn tls_context(&self) -> Option<&crate::tls::TlsContext> {
        self.server.tls.get(self.binding).and_then(Option::as_ref)
    }

    /// Starts TLS on the control connection (AUTH TLS, or implicit TLS before the greeting):
    /// reads the ClientHello and answers it. Err(Ok) for a setup error, Err(Err) for what
    /// the client sent or did.
    pub fn start_tls(&mut self, deadline: Instant) -> Result<(), Result<String, io::Error>> {
        let ctx = self
            .tls_context()
            .ok_or_else(|| Ok("TLS is not configured on this binding".to_string()))?;
        let token = ctx.new_token().map_err(Ok)?;
        let (config, data_config) = ctx.config_pair(&token);
        self.ctrl
            .start_tls(&config, &token, deadline)
            .map_err(Err)?;
        self.tls = Some(TlsSession { token, data_config });
        Ok(())
    }

    /// Starts TLS on the control connection and runs the handshake to its end, on a
    /// short-lived thread of its own; false (logged) if it failed.
    ///
    /// Why aside: the handshake is the deepest and most allocating thing a session does
    /// (key exchange, the certificate signature, transcript buffers). Run here, it would
    /// leave its stack pages touched and its freed heap blocks in this thread's malloc cache
    /// for the whole life of the session, about 22 KiB per idle TLS session (measured:
    /// 44.8 KiB per session with 1,000 idle TLS sessions, 20 KiB of it stack). The helper's
    /// stack goes back to the C library's cache when it ends, and its freed blocks to the
    /// shared heap, for the next one. The session keeps only what TLS needs from then on.
    pub fn start_tls_aside(&mut self) -> bool {
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let peer = self.peer;
        let run = |s: &mut Session| -> Result<(), Result<String, io::Error>> {
            s.start_tls(deadline)?;
            s.ctrl.handshake(deadline).map_err(Err)
        };
        let r = std::thread::scope(|scope| {
            let this = &mut *self;
            let helper = std::thread::Builder::new()
                .name(format!("tls {peer}"))
                .stack_size(HANDSHAKE_STACK)
                .spawn_scoped(scope, move || run(this));
            match helper {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(Ok("the TLS handshake thread failed".into()))),
                Err(e) => Err(Ok(format!("cannot start a TLS handshake thread: {e}"))),
            }
        });
        match r {
            Ok(()) => return true,
            Err(Ok(setup)) => log::error!("TLS for {peer}: {setup}"),
            // Bad or revoked client certificates and the like say why here.
            Err(Err(e)) => log::warn!("TLS error on control connection from {peer}: {e}"),
        }
        false
    }

    pub fn binding(&self) -> &Binding {
        // The index comes from the listener, which enumerated this very list.
        &self.server.config.ftpd.bindings[self.binding]
    }

    pub fn logged_in(&self) -> Option<&LoggedIn> {
        match &self.auth {
            Auth::LoggedIn(l) => Some(l),
            _ => None,
        }
    }

    pub fn username(&self) -> &str {
        match &self.auth {
            Auth::LoggedIn(l) => &l.user.username,
            Auth::UserGiven(u) => u,
            Auth::None => "-",
        }
    }

    pub fn reply(&mut self, code: ReplyCode, text: impl Into<String>) -> io::Result<()> {
        self.send(&Reply::new(code, text))
    }

    pub fn send(&mut self, r: &Reply) -> io::Result<()> {
        if self.binding().debug {
            // Debug escapes the text already; bounded like every client string.
            log::debug!(
                "{} <- {}",
                self.peer,
                crate::log::bounded(&format!("{r:?}"))
            );
        }
        self.ctrl.send(r)
    }

    /// Serves the connection until it ends.
    pub fn run(mut self) {
        if self.activity.closing() {
            // Accepted as the server began to stop.
            let _ = self.reply(ReplyCode::ServiceUnavailable, "Server shutting down");
            return;
        }
        let implicit = self.binding().tls.mode == TlsMode::Implicit;
        // With implicit TLS the client speaks first, so its first bytes come before the
        // handshake; otherwise after the greeting.
        if implicit && self.forbidden_proxy_header() {
            return;
        }
        if implicit && !self.start_tls_aside() {
            return;
        }
        let greeting = Reply::multi(
            ReplyCode::ServiceReady,
            self.server.config.ftpd.banner.clone(),
        );
        if self.send(&greeting).is_err() {
            return;
        }
        if !implicit && self.forbidden_proxy_header() {
            return;
        }
        loop {
            if std::mem::take(&mut self.ban_check_due)
                && !matches!(self.close_if_banned(), Ok(Flow::Continue))
            {
                break;
            }
            let (got, scored) = self.next_line();
            // RFC 959 4.1.3: RNTO must come right after RNFR; any other line forgets it,
            // one refused before it runs (unknown, malformed, overlong, not UTF-8) too.
            if !matches!(&got, Ok(l) if parse::split(l).0.eq_ignore_ascii_case("RNTO")) {
                self.rnfr = None;
            }
            let line = match got {
                Ok(line) => line,
                Err(ReadError::Timeout) => {
                    let _ = self.reply(
                        ReplyCode::ServiceUnavailable,
                        "Idle timeout: closing control connection",
                    );
                    log::info!(
                        "idle timeout user={} remote={}",
                        crate::log::printable(self.username()),
                        self.peer
                    );
                    break;
                }
                Err(ReadError::TooLong) => {
                    if self.reply(ReplyCode::SyntaxError, "Line too long").is_err() {
                        break;
                    }
                    // One kept from a transfer was scored when it came, and a ban that
                    // started was acted on at the top of this loop.
                    if scored {
                        continue;
                    }
                    match self.bad_command() {
                        Ok(Flow::Continue) => continue,
                        _ => break,
                    }
                }
                Err(ReadError::NotUtf8) => {
                    if self
                        .reply(ReplyCode::ArgumentError, "Command is not valid UTF-8")
                        .is_err()
                    {
                        break;
                    }
                    continue;
                }
                Err(ReadError::Closed) => {
                    if self.activity.closing() {
                        // The graceful stop woke this idle session.
                        let _ = self.reply(ReplyCode::ServiceUnavailable, "Server shutting down");
                    }
                    break;
                }
                Err(ReadError::Io(e)) => {
                    if self.activity.closing() {
                        // The stop woke it (TLS reads the cut as an unexpected end).
                        let _ = self.reply(ReplyCode::ServiceUnavailable, "Server shutting down");
                        break;
                    }
                    // TLS failures (bad or revoked client certificate...) say why here.
                    if self.tls.is_some() && e.kind() == io::ErrorKind::InvalidData {
                        log::warn!("TLS error on control connection from {}: {e}", self.peer);
                    }
                    break;
                }
            };
            if !self.activity.begin() {
                let _ = self.reply(ReplyCode::ServiceUnavailable, "Server shutting down");
                break;
            }
            let flow = self.handle_line(&line);
            // A command that started before SIGTERM (a transfer) has finished: now close.
            let go_on = self.activity.end();
            match flow {
                Ok(Flow::Continue) if !self.control_lost => {}
                _ => break,
            }
            if !go_on {
                let _ = self.reply(ReplyCode::ServiceUnavailable, "Server shutting down");
                break;
            }
        }
        if !self.login_attempted {
            let event = crate::limits::defender::Event::NoAuth;
            if let Some(ban) = self.server.defender.record(self.peer.ip(), event) {
                crate::log::ban(self.peer.ip(), ban, "connections without a login");
            }
        }
        log::debug!("session end remote={}", self.peer);
    }

    /// The next line: one kept during a transfer, else one read now. True with an
    /// overlong line scored by the defender already (when it came, during a transfer).
    fn next_line(&mut self) -> (Result<String, ReadError>, bool) {
        match self.pending.pop_front() {
            Some(Kept::Line(line)) => return (Ok(line), false),
            Some(Kept::TooLong) => return (Err(ReadError::TooLong), true),
            Some(Kept::NotUtf8) => return (Err(ReadError::NotUtf8), false),
            None => {}
        }
        let idle = self.server.config.common.idle_timeout;
        let limit = match &self.auth {
            Auth::LoggedIn(_) => idle,
            _ => Some(login_limit(idle)),
        };
        (
            self.ctrl.read_line(limit.map(|d| Instant::now() + d)),
            false,
        )
    }

    fn handle_line(&mut self, line: &str) -> io::Result<Flow> {
        if self.binding().debug {
            let shown = if parse::verb_of(line) == "PASS" {
                "PASS ****"
            } else {
                line
            };
            log::debug!("{} -> {}", self.peer, crate::log::printable(shown));
        }
        // Looked up once: for the gates below and for parsing.
        let row = crate::command::table::lookup(parse::split(line).0);
        // A command whose gate is closed (an extension switched off, TLS not configured,
        // active mode off) is 502 whatever its arguments (checked before parsing).
        if let Some(r) = row {
            if let Some(why) = self.extension_off(r.gate) {
                self.reply(ReplyCode::NotImplemented, format!("{}: {why}", r.name))?;
                return Ok(Flow::Continue);
            }
        }
        let cmd = match parse::parse_row(row, line) {
            Ok(cmd) => cmd,
            Err(e) => {
                let unknown = matches!(e, ParseError::Unknown(_));
                let r = parse_error_reply(e);
                self.send(&r)?;
                return if unknown {
                    self.bad_command()
                } else {
                    Ok(Flow::Continue)
                };
            }
        };
        let needs_login = row.map(|r| r.needs_login).unwrap_or(true);
        let stat_with_arg = matches!(cmd, Command::Stat(Some(_)));
        if (needs_login || stat_with_arg) && self.logged_in().is_none() {
            self.reply(ReplyCode::NotLoggedIn, "Please log in with USER and PASS")?;
            return Ok(Flow::Continue);
        }
        // tls_mode 1 and 3: no credentials in clear.
        let mode = self.binding().tls.mode;
        if matches!(cmd, Command::User(_) | Command::Pass(_) | Command::Acct)
            && matches!(mode, TlsMode::Explicit | TlsMode::ControlOnly)
            && self.tls.is_none()
        {
            self.reply(ReplyCode::NotLoggedIn, "TLS required: send AUTH TLS first")?;
            return Ok(Flow::Continue);
        }
        self.dispatch(cmd)
    }

    /// How long a transfer may go without progress.
    pub fn stall_limit(&self) -> Duration {
        self.server
            .config
            .common
            .idle_timeout
            .map(|d| d.max(MIN_STALL))
            .unwrap_or(Duration::from_secs(900))
    }

    /// False if the control connection is gone (or sent ABOR), waiting up to `wait` for its
    /// end to show.
    /// A line that arrives meanwhile is kept for later.
    pub fn control_alive(&mut self, wait: Duration) -> bool {
        // Gone, or ABOR right at the end: either way the upload is not to be kept.
        if self.control_check(0) == Ctl::Abort {
            return false;
        }
        // With the queue full nothing more is read, so nothing can show: taken as alive.
        if wait.is_zero() || self.pending_full() {
            return true;
        }
        match self.ctrl.read_line(Some(Instant::now() + wait)) {
            Ok(line) => {
                self.keep_for_later(Kept::Line(line));
                true
            }
            Err(ReadError::TooLong) => {
                self.keep_for_later(Kept::TooLong);
                true
            }
            Err(ReadError::NotUtf8) => {
                self.keep_for_later(Kept::NotUtf8);
                true
            }
            Err(ReadError::Timeout) => true,
            Err(ReadError::Closed) | Err(ReadError::Io(_)) => {
                self.control_lost = true;
                false
            }
        }
    }

    /// Keeps a line that came during a transfer, to answer after it (the callers read no
    /// more once [`Self::pending_full`]). An overlong line is scored now: a session that
    /// ends first (QUIT, a lost connection) would never answer it.
    fn keep_for_later(&mut self, line: Kept) {
        if matches!(line, Kept::TooLong) {
            self.score_bad_command();
            self.ban_check_due = true;
        }
        self.pending.push_back(line);
    }

    /// [`MAX_PENDING`] lines wait: the control connection is left unread until they are
    /// answered.
    fn pending_full(&self) -> bool {
        self.pending.len() >= MAX_PENDING
    }

    /// An unknown command or an overlong line was answered 500: the defender scores it
    /// (`score_bad_command`), and a ban it starts closes the session with 421.
    fn bad_command(&mut self) -> io::Result<Flow> {
        self.score_bad_command();
        self.close_if_banned()
    }

    /// Closes the session with 421 if the client's address is banned now.
    fn close_if_banned(&mut self) -> io::Result<Flow> {
        if self.server.defender.banned(self.peer.ip()).is_some() {
            self.reply(
                ReplyCode::ServiceUnavailable,
                "Too many bad commands: closing",
            )?;
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    /// Counts a bad command against the client's address; a ban it starts is logged.
    fn score_bad_command(&self) {
        let ip = self.peer.ip();
        if let Some(ban) = self
            .server
            .defender
            .record(ip, crate::limits::defender::Event::BadCommand)
        {
            crate::log::ban(ip, ban, "bad commands");
        }
    }

    /// Looks at the control connection during a transfer. ABOR stops it; STAT is answered;
    /// anything else is kept for later, QUIT too: answered in its turn after the lines
    /// before it (RFC 959 4.1.1: QUIT waits for the transfer's reply).
    pub fn control_check(&mut self, bytes: u64) -> Ctl {
        if let Some(r) = self.running.as_mut() {
            r.bytes = bytes;
        }
        // The daemon is stopping now: the transfer ends here, so that it is logged and
        // its temporary file removed before the process exits.
        if self.server.lifecycle.cutting() {
            return Ctl::Abort;
        }
        // Bounded: a client that never stops sending lines must not keep the transfer
        // from moving (nor its stall limit from ending it), nor grow the queue.
        for _ in 0..MAX_PENDING + 4 {
            if self.pending_full() {
                return Ctl::Go;
            }
            match self.ctrl.try_read_line() {
                Ok(None) => return Ctl::Go,
                Ok(Some(line)) => {
                    let verb = parse::verb_of(&line);
                    match verb.as_str() {
                        "ABOR" => return Ctl::Abort,
                        "STAT" if line.trim().len() == 4 => {
                            let r = self.status_reply();
                            if self.send(&r).is_err() {
                                self.control_lost = true;
                                return Ctl::Abort;
                            }
                        }
                        _ => self.keep_for_later(Kept::Line(line)),
                    }
                }
                Err(ReadError::TooLong) => self.keep_for_later(Kept::TooLong),
                Err(ReadError::NotUtf8) => self.keep_for_later(Kept::NotUtf8),
                Err(ReadError::Timeout) => return Ctl::Go,
                Err(ReadError::Closed) | Err(ReadError::Io(_)) => {
                    // Nobody is left to receive the data: stop, and fail an upload.
                    self.control_lost = true;
                    return Ctl::Abort;
                }
            }
        }
        Ctl::Go
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

fn parse_error_reply(e: ParseError) -> Reply {
    match e {
        ParseError::Unknown(v) => {
            Reply::new(ReplyCode::SyntaxError, format!("Unknown command {v:?}"))
        }
        ParseError::Argument(v, why) => Reply::new(ReplyCode::ArgumentError, format!("{v}: {why}")),
        ParseError::Unsupported(v, arg) => Reply::new(
            ReplyCode::ParameterNotImplemented,
            format!("{v} {arg} is not implemented"),
        ),
        ParseError::Protocol => Reply::new(
            ReplyCode::ProtocolNotSupported,
            "Network protocol not supported, use (1,2)",
        ),
        ParseError::ProtLevel => Reply::new(
            ReplyCode::ProtLevelNotSupported,
            "PROT level not supported by TLS: use P or C",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_limit_holds_with_the_idle_timeout_off() {
        assert_eq!(login_limit(None), LOGIN_TIMEOUT);
        assert_eq!(
            login_limit(Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(login_limit(Some(Duration::from_secs(900))), LOGIN_TIMEOUT);
    }
}
