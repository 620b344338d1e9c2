//! Signals and the daemon's lifecycle. SIGHUP reloads (certificates, keys, CRLs, users; log
//! files reopened). SIGTERM and SIGINT stop gracefully: the listeners close at once, idle
//! sessions are told `421` and closed, and a session in the middle of a command (a
//! transfer) may finish it, within the grace period, before it gets its `421`. When the
//! last session has gone, or the grace period is over, the process exits; a second SIGTERM
//! or SIGINT exits at once. "At once" still lets every running transfer stop cleanly: the
//! stop raises the "cut" flag ([`Lifecycle::cut`]), which the transfer loops see within a
//! tick through [`crate::session::Session::control_check`]; each one then logs its
//! transfer (failed) and removes its temporary upload file before the process exits.
//!
//! Every session registers here ([`Lifecycle::register`]) with a shared handle on its
//! control socket (not a duplicate: one descriptor per session) and a small state, so the stop can reach the idle ones: it shuts the reading half
//! of their socket, which wakes the thread blocked reading a command. The state is changed
//! under one lock by both sides, so a session that has just read a command either runs it
//! before the stop looks (and is left to finish), or sees that it is closing and runs
//! nothing.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long running transfers may go on after SIGTERM, unless `--grace` says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a command.
    Idle,
    /// Running one.
    Busy,
    /// The stop reached it: run nothing more.
    Closing,
}

struct Slot {
    sock: Arc<TcpStream>,
    state: Arc<Mutex<State>>,
}

/// The sessions that are alive, and whether the server is stopping.
#[derive(Default)]
pub struct Lifecycle {
    stopping: AtomicBool,
    /// Stopping now: running transfers must end at their next check.
    cut: AtomicBool,
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, Slot>>,
}

/// A session's registration; dropping it (the session ended) removes it.
pub struct Activity {
    owner: Arc<Lifecycle>,
    id: u64,
    state: Arc<Mutex<State>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A session that panicked while holding a lock must not stop the others (or the stop).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Lifecycle {
    pub fn new() -> Arc<Lifecycle> {
        Arc::new(Lifecycle::default())
    }

    /// Registers a session by its control socket.
    pub fn register(self: &Arc<Self>, sock: &Arc<TcpStream>) -> io::Result<Activity> {
        let state = Arc::new(Mutex::new(State::Idle));
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            sock: Arc::clone(sock),
            state: Arc::clone(&state),
        };
        lock(&self.sessions).insert(id, slot);
        if self.stopping() {
            // Accepted just before the listeners closed: it gets its 421 at once.
            *lock(&state) = State::Closing;
        }
        Ok(Activity {
            owner: Arc::clone(self),
            id,
            state,
        })
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Tells every running transfer to stop now (grace over, or a second signal).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// Whether running transfers must stop now.
    pub fn cutting(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Sessions alive now.
    pub fn count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Starts the stop: every idle session is woken to close; busy ones are left to finish.
    /// Returns (idle sessions closed, busy sessions left running).
    pub fn stop(&self) -> (usize, usize) {
        self.stopping.store(true, Ordering::SeqCst);
        let sessions = lock(&self.sessions);
        let (mut idle, mut busy) = (0, 0);
        for slot in sessions.values() {
            let mut st = lock(&slot.state);
            match *st {
                State::Idle => {
                    *st = State::Closing;
                    // Wakes the read; the session can still write its 421.
                    let _ = slot.sock.shutdown(Shutdown::Read);
                    idle += 1;
                }
                State::Busy => busy += 1,
                State::Closing => {}
            }
        }
        (idle, busy)
    }
}

impl Activity {
    /// Before running a command: false if the server is stopping and the session must close
    /// instead.
    pub fn begin(&self) -> bool {
        let mut st = lock(&self.state);
        if *st == State::Closing {
            return false;
        }
        *st = State::Busy;
        true
    }

    /// After running a command: false if the server is stopping (the session closes now,
    /// its command done).
    pub fn end(&self) -> bool {
        let mut st = lock(&self.state);
        if self.owner.stopping() {
            *st = State::Closing;
            return false;
        }
        *st = State::Idle;
        true
    }

    /// The stop has reached this session.
    pub fn closing(&self) -> bool {
        *lock(&self.state) == State::Closing
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        lock(&self.owner.sessions).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn idle_sessions_are_woken_busy_ones_finish() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _c1 = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let s1 = Arc::new(l.accept().unwrap().0);
        let _c2 = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let s2 = Arc::new(l.accept().unwrap().0);
        let lc = Lifecycle::new();
        let a1 = lc.register(&s1).unwrap();
        let a2 = lc.register(&s2).unwrap();
        assert!(a2.begin());
        assert_eq!(lc.stop(), (1, 1));
        // The idle one reads end-of-file at once and may not start anything.
        let mut buf = [0u8; 1];
        assert_eq!((&*s1).read(&mut buf).unwrap(), 0);
        assert!(a1.closing() && !a1.begin());
        // The busy one finishes its command, then must close.
        assert!(!a2.end());
        assert_eq!(lc.count(), 2);
        drop(a1);
        drop(a2);
        assert_eq!(lc.count(), 0);
    }
}
