//! The accept loop: every binding's listener in one mio poll; each accepted control
//! connection is counted against the connection caps and handed, as a blocking std
//! `TcpStream`, to a worker thread named after its peer.

use crate::server::Server;
use crate::session::Session;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// Worker stack: sessions do not recurse; bcrypt and listings use the heap.
const WORKER_STACK: usize = 256 << 10;

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

/// Serves until SIGTERM or SIGINT. SIGHUP reloads TLS material and users.
pub fn run(server: Arc<Server>, mut listeners: Vec<TcpListener>) -> io::Result<()> {
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
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == SIGNALS {
                for sig in signals.pending() {
                    if sig == SIGHUP {
                        log::info!("SIGHUP: reloading");
                        server.reload();
                    } else {
                        log::info!("signal {sig}: stopping");
                        return Ok(());
                    }
                }
                continue;
            }
            let idx = ev.token().0;
            let Some(listener) = listeners.get(idx) else {
                continue;
            };
            accept_ready(&server, idx, listener);
        }
    }
}

fn accept_ready(server: &Arc<Server>, binding: usize, listener: &TcpListener) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let std_stream = TcpStream::from(std::os::fd::OwnedFd::from(stream));
                hand_off(server, binding, std_stream, peer);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: log and let the poll wake us again.
                log::error!("accept: {e}");
                return;
            }
        }
    }
}

fn hand_off(server: &Arc<Server>, binding: usize, mut stream: TcpStream, peer: SocketAddr) {
    // BSD accept() passes O_NONBLOCK on to the new socket; sessions use blocking I/O.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let guard = match server.connections.acquire(peer.ip()) {
        Ok(g) => g,
        Err(refusal) => {
            log::warn!("connection from {peer} refused: {refusal:?}");
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
            return;
        }
    };
    let srv = Arc::clone(server);
    let spawned = std::thread::Builder::new()
        .name(format!("ftp {peer}"))
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let _guard = guard;
            match Session::new(srv, binding, stream) {
                Ok(s) => s.run(),
                Err(e) => log::warn!("session setup for {peer}: {e}"),
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start a thread for {peer}: {e}");
    }
}
