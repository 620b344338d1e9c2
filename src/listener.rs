//! The accept loop: every binding's listener in one mio poll; each accepted control
//! connection is counted against the connection caps and handed, as a blocking std
//! `TcpStream`, to a worker thread named after its peer.

use crate::proxy_proto::Policy;
use crate::server::Server;
use crate::session::Session;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Session thread stack, set explicitly (the default is 2 MiB of address space). Sessions
/// do not recurse; the deepest paths are a password hash and a data connection's TLS
/// handshake, measured by tests/stack.rs: in a release build argon2id (SFTPGo's 64 MiB)
/// touches 20 KiB and a TLS 1.3 handshake with X25519MLKEM768 40 KiB (32 before the
/// ClientHello went through rustls' Acceptor, see tls::accept); unoptimised (the test
/// builds) 100 and 84 KiB. 256 KiB keeps a 2x margin for both; only the pages a session
/// touches are memory (about 12 KiB for an idle one).
pub const WORKER_STACK: usize = 256 << 10;

/// Binds every configured address. Errors name the binding.
pub fn bind_all(server: &Server) -> Result<Vec<TcpListener>, String> {
    server
        .config
        .ftpd
        .bindings
        .iter()
        .map(|b| {
            bind(b.addr).map_err(|e| {
                format!(
                    "{}: ftpd.bindings {}: cannot listen: {e}",
                    server.config.file.display(),
                    b.name
                )
            })
        })
        .collect()
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // "" binds [::]: take IPv4 too where the system allows one socket for both.
        let _ = sock.set_only_v6(!addr.ip().is_unspecified());
    }
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(TcpListener::from_std(sock.into()))
}

/// The poll token of the signal pipe (listeners use their binding index).
const SIGNALS: Token = Token(usize::MAX);

/// Serves until SIGTERM or SIGINT, then stops gracefully (see [`crate::signals`]): running
/// transfers get up to `grace` to finish. SIGHUP reloads TLS material and users and reopens
/// the log files.
pub fn run(
    server: Arc<Server>,
    mut listeners: Vec<TcpListener>,
    grace: Duration,
) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut poll = Poll::new()?;
    for (i, l) in listeners.iter_mut().enumerate() {
        poll.registry().register(l, Token(i), Interest::READABLE)?;
        log::info!("listening on {}", l.local_addr()?);
    }
    let mut signals = signal_hook_mio::v1_0::Signals::new([SIGHUP, SIGINT, SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    let mut events = Events::with_capacity(64);
    // Listeners whose accept failed (out of descriptors): the poll is edge-triggered and
    // would not report the connections still waiting, so they are retried on a timer.
    let mut retry: Vec<usize> = Vec::new();
    loop {
        let wait = (!retry.is_empty()).then_some(ACCEPT_RETRY);
        if let Err(e) = poll.poll(&mut events, wait) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for idx in std::mem::take(&mut retry) {
            if let Some(listener) = listeners.get(idx) {
                if !accept_ready(&server, idx, listener) {
                    retry.push(idx);
                }
            }
        }
        for ev in events.iter() {
            if ev.token() == SIGNALS {
                for sig in signals.pending() {
                    if sig == SIGHUP {
                        log::info!("SIGHUP: reloading");
                        server.reload_all();
                    } else {
                        // Closing the listeners stops accepting: new clients are refused
                        // by the system from now on.
                        for l in listeners.iter_mut() {
                            let _ = poll.registry().deregister(l);
                        }
                        listeners.clear();
                        return drain(&server, &mut poll, &mut signals, sig, grace);
                    }
                }
                continue;
            }
            let idx = ev.token().0;
            let Some(listener) = listeners.get(idx) else {
                continue;
            };
            if !accept_ready(&server, idx, listener) && !retry.contains(&idx) {
                retry.push(idx);
            }
        }
    }
}

/// The graceful stop: idle sessions close now, busy ones get until `grace` is over; a
/// second SIGTERM or SIGINT ends the wait.
fn drain(
    server: &Server,
    poll: &mut Poll,
    signals: &mut signal_hook_mio::v1_0::Signals,
    sig: i32,
    grace: Duration,
) -> io::Result<()> {
    let (idle, busy) = server.lifecycle.stop();
    log::info!(
        "signal {sig}: stopping: no new connections; {idle} idle session(s) closed, {busy} busy session(s) get up to {}s to finish",
        grace.as_secs()
    );
    let deadline = Instant::now() + grace;
    let mut events = Events::with_capacity(8);
    // Bounded by the deadline: each turn waits at most STOP_TICK.
    loop {
        let left = server.lifecycle.count();
        if left == 0 {
            log::info!("stopped: every session has ended");
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            log::warn!("stopped: grace period over, {left} session(s) cut");
            return cut(server);
        }
        match poll.poll(&mut events, Some(STOP_TICK.min(deadline - now))) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if events.iter().any(|e| e.token() == SIGNALS) {
            let again: Vec<i32> = signals
                .pending()
                .filter(|s| *s != signal_hook::consts::SIGHUP)
                .collect();
            if let Some(s) = again.first() {
                log::warn!("signal {s} again: stopping now, {left} session(s) cut");
                return cut(server);
            }
        }
    }
}

/// Stops the running transfers and waits (bounded) for their sessions to end, so that each
/// transfer is logged and its temporary upload file removed before the process exits.
fn cut(server: &Server) -> io::Result<()> {
    server.lifecycle.cut();
    let deadline = Instant::now() + CUT_WAIT;
    while server.lifecycle.count() > 0 {
        if Instant::now() >= deadline {
            log::warn!(
                "{} session(s) still running after {}s: exiting anyway",
                server.lifecycle.count(),
                CUT_WAIT.as_secs()
            );
            break;
        }
        std::thread::sleep(STOP_TICK / 4);
    }
    Ok(())
}

/// How long cut transfers get to clean up. A transfer loop looks at the flag every
/// `data::TICK` (100 ms) and a TLS data connection's close_notify waits at most 2 s.
const CUT_WAIT: Duration = Duration::from_secs(5);
/// How often the stop looks whether the last session has gone.
const STOP_TICK: Duration = Duration::from_millis(100);
/// How soon a listener whose accept failed is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Accepts every waiting connection; false if accept failed (EMFILE and friends), so the
/// caller tries again soon.
fn accept_ready(server: &Arc<Server>, binding: usize, listener: &TcpListener) -> bool {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let std_stream = TcpStream::from(std::os::fd::OwnedFd::from(stream));
                hand_off(server, binding, std_stream, peer);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::error!("accept: {e}");
                return false;
            }
        }
    }
}

fn hand_off(server: &Arc<Server>, binding: usize, mut stream: TcpStream, peer: SocketAddr) {
    // BSD accept() passes O_NONBLOCK on to the new socket; sessions use blocking I/O.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let policy = crate::proxy_proto::binding_policy(&server.config, binding, peer.ip());
    let guard = match policy {
        Policy::Refuse => {
            log::warn!(
                "connection from {peer} refused: not in common.proxy_allowed, and proxy_protocol 2 requires a PROXY header"
            );
            refuse(
                &mut stream,
                b"421 Connection refused: connect through the proxy\r\n",
            );
            return;
        }
        // The header is read on the session's thread, so a slow proxy never holds this
        // loop; the ban check and the connection limits then see the client's address.
        Policy::Optional | Policy::Required => None,
        Policy::Plain | Policy::PlainRefuseHeader => match admit(server, &mut stream, peer) {
            Some(g) => Some(g),
            None => return,
        },
    };
    spawn(server, binding, stream, peer, guard, policy);
}

/// Answers a refused connection with one line and closes it.
fn refuse(stream: &mut TcpStream, line: &[u8]) {
    // A fresh socket's send buffer is empty: this write cannot block for long.
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(line);
}

/// The ban check and the connection limits for a client at `peer` (its real address when it
/// came through a proxy); None when refused (the reply is sent).
fn admit(
    server: &Server,
    stream: &mut TcpStream,
    peer: SocketAddr,
) -> Option<crate::limits::connections::Guard> {
    if let Some(why) = server.ip_refusal(peer.ip()) {
        log::info!("connection from {peer} refused: {why}");
        let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(1)));
        let _ = stream.write_all(b"421 Access denied\r\n");
        return None;
    }
    if let Some(left) = server.defender.banned(peer.ip()) {
        log::info!(
            "connection from {peer} refused: banned for {}s more",
            left.as_secs()
        );
        let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(1)));
        let _ = stream.write_all(b"421 Access denied: banned client IP\r\n");
        return None;
    }
    let guard = match server.connections.acquire(peer.ip()) {
        Ok(g) => g,
        Err(refusal) => {
            log::warn!("connection from {peer} refused: {refusal:?}");
            let event = crate::limits::defender::Event::LimitExceeded;
            if let Some(ban) = server.defender.record(peer.ip(), event) {
                crate::log::ban(peer.ip(), ban, "connection limits exceeded");
            }
            let text = match refusal {
                crate::limits::connections::Refusal::Total(n) => {
                    format!("421 Too many connections ({n}): try again later\r\n")
                }
                crate::limits::connections::Refusal::PerHost(n) => {
                    format!("421 Too many connections from your address ({n}): try again later\r\n")
                }
            };
            // A fresh socket's send buffer is empty: this write cannot block for long.
            let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(1)));
            let _ = stream.write_all(text.as_bytes());
            return None;
        }
    };
    Some(guard)
}

/// Starts the session's thread. Without a `guard` yet, the thread first reads the PROXY
/// header `policy` asks for, then admits the client by the address it gives.
fn spawn(
    server: &Arc<Server>,
    binding: usize,
    mut stream: TcpStream,
    peer: SocketAddr,
    guard: Option<crate::limits::connections::Guard>,
    policy: Policy,
) {
    let srv = Arc::clone(server);
    let spawned = std::thread::Builder::new()
        .name(format!("ftp {peer}"))
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let (_guard, client) = match guard {
                Some(g) => (g, None),
                None => {
                    let client =
                        match crate::proxy_proto::read_header(&stream, policy, &mut || false) {
                            Ok(h) => h.and_then(|h| h.source()),
                            Err(e) => {
                                // Only this connection is closed; nothing is sent, as the bytes
                                // were not FTP and the proxy may not be either.
                                log::warn!("connection from {peer} closed: {e}");
                                return;
                            }
                        };
                    match admit(&srv, &mut stream, client.unwrap_or(peer)) {
                        Some(g) => (g, client),
                        None => return,
                    }
                }
            };
            let mut session = match Session::new(srv, binding, stream) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("session setup for {peer}: {e}");
                    return;
                }
            };
            if let Some(client) = client {
                log::debug!("PROXY header from {peer}: client {client}");
                session.peer = client;
            }
            session.refuse_proxy_header = policy == Policy::PlainRefuseHeader;
            session.run();
        });
    if let Err(e) = spawned {
        log::error!("cannot start a thread for {peer}: {e}");
    }
}
