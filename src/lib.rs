//! ferroftpd: an FTP server that reads SFTPGo's configuration keys and user dumps.
//!
//! # Design
//! Thread per connection, blocking I/O. [`listener`] polls every binding's listening socket
//! with one mio `Poll` and hands each accepted control connection to its own thread, which
//! runs a [`session::Session`]: read a line ([`session::stream`]), parse it into a typed
//! [`command::Command`] (the verbs are rows of [`command::table`]), gate it on login, run its
//! handler ([`cmd`]) and answer with a [`reply::Reply`]. Transfers run on the session's
//! thread ([`data`]); sockets carry short timeouts so the thread looks at the control
//! connection between chunks and ABOR works without a second thread. Passive ports come
//! from one allocator behind a mutex ([`data::passive`]).
//!
//! # Threat model
//! Clients are untrusted. Everything they send is bounded (line length, listing size,
//! glob pattern length, connections per address) and parsed before use. Files are reached
//! only through [`vfs`], which checks the user's per-directory permissions and opens paths
//! beneath a handle on the home directory, so `..` and symlinks cannot lead outside. Data
//! connections must come from (passive) or go to (active) the control peer's address,
//! which blocks FTP bounce and data theft. Passwords are never logged; unknown users cost
//! the same bcrypt work as known ones.
//!
//! Started as root, the daemon binds its ports and then becomes an unprivileged user for
//! good, before the first thread and the first client ([`privs`]); it will not serve as
//! root unless told. A client's address is only ever taken from a PROXY header sent by a
//! source the configuration trusts ([`proxy_proto`]), so a client cannot choose the address
//! that IP filters and the data-connection check see. Log lines escape client strings
//! ([`log`]).

pub mod acme;
pub mod auth;
pub mod cli;
pub mod cmd;
pub mod command;
pub mod config;
pub mod data;
pub mod limits;
pub mod listener;
pub mod log;
pub mod pidfile;
pub mod privs;
pub mod proxy_proto;
pub mod reply;
pub mod server;
pub mod session;
pub mod signals;
pub mod tls;
pub mod util;
pub mod vfs;

/// The version in greetings and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
