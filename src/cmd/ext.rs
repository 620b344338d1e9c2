//! Protocol extensions, each answered 502 and left out of FEAT until its SFTPGo key switches
//! it on (the gate is in the command table; [`Session::extension_off`] says which is off):
//! - `hash_support`: HASH and OPTS HASH (draft-bryan-ftpext-hash-02, sections 3 to 3.5), and
//!   the legacy XCRC, MD5, XMD5, XSHA, XSHA1, XSHA256, XSHA512 with their byte ranges (its
//!   appendix B);
//! - `combine_support`: COMB (GlobalSCAPE/Serv-U; SFTPGo's argument quoting);
//! - `enable_site`: SITE CHMOD, SYMLINK, MKDIR, RMDIR (RFC 959 4.1.3 leaves SITE to the
//!   server; SITE HELP is always served and lists what is on).
//!
//! AVBL (draft-peterson-streamlined-ftp-command-extensions 4; the seed spells it AVLB) is
//! always on. Every file operation here goes through [`crate::vfs`].

use crate::command::parse::{ByteRange, ParseError, SiteCmd};
use crate::command::table::Gate;
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use crate::util::digest::{self, Algo, DigestError};
use crate::vfs::FsError;
use std::io::{self, Seek};
use std::time::{Duration, Instant};

/// A digest still running after this long opens its reply and sends a line this often,
/// so neither the client nor a NAT box takes the silent control connection for dead
/// (draft-bryan-ftpext-hash 3: "a 213- line every 5-10 seconds").
const KEEPALIVE: Duration = Duration::from_secs(5);

/// How a digest is reported.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `213 SHA-256 0-<end> <hex> <path>` (draft 3).
    Hash,
    /// `250 <hex>` (the legacy commands, as SFTPGo answers them).
    Legacy,
}

/// Which piece of a long digest's reply is due.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// The first line, `213-Computing ...`.
    Opening,
    /// A progress line inside the open reply.
    Inner,
}

/// When a running digest owes the client a line (every [`KEEPALIVE`]), and whether its
/// reply has been opened (its final line must then be sent alone).
struct Keepalive {
    last: Instant,
    open: bool,
}

impl Keepalive {
    fn new(began: Instant) -> Keepalive {
        Keepalive {
            last: began,
            open: false,
        }
    }

    fn due(&mut self, now: Instant) -> Option<Piece> {
        if now.saturating_duration_since(self.last) < KEEPALIVE {
            return None;
        }
        self.last = now;
        if self.open {
            Some(Piece::Inner)
        } else {
            self.open = true;
            Some(Piece::Opening)
        }
    }
}

impl Session {
    /// Why a gate is closed in this configuration, or None when it is open.
    pub(crate) fn extension_off(&self, gate: Gate) -> Option<&'static str> {
        let ftpd = &self.server.config.ftpd;
        match gate {
            Gate::Hash if !ftpd.hash_support => Some("file hash support is disabled"),
            Gate::Comb if !ftpd.combine_support => Some("COMB support is disabled"),
            Gate::Active if ftpd.disable_active_mode => {
                Some("Active mode is disabled: use PASV or EPSV")
            }
            Gate::Tls if self.tls_context().is_none() => Some("TLS is not configured here"),
            _ => None,
        }
    }

    /// `OPTS HASH [name]` (draft 3.2): shows, or selects, the algorithm HASH uses.
    pub(crate) fn cmd_opts_hash(&mut self, value: &str) -> io::Result<()> {
        if let Some(why) = self.extension_off(Gate::Hash) {
            return self.reply(ReplyCode::NotImplemented, format!("OPTS HASH: {why}"));
        }
        let value = value.trim();
        if !value.is_empty() {
            match Algo::from_name(value) {
                Some(algo) => self.hash_algo = algo,
                None => {
                    return self.reply(
                        ReplyCode::ArgumentError,
                        "Unknown algorithm, current selection not changed",
                    )
                }
            }
        }
        let name = self.hash_algo.name();
        self.reply(ReplyCode::Ok, name)
    }

    /// HASH path (draft 3): the whole file with the selected algorithm.
    pub(crate) fn cmd_hash(&mut self, arg: &str) -> io::Result<()> {
        let algo = self.hash_algo;
        let whole = ByteRange {
            start: 0,
            end: None,
        };
        self.run_digest(algo, arg, whole, Form::Hash)
    }

    /// XCRC, MD5, XMD5, XSHA, XSHA1, XSHA256, XSHA512 path [start [end]].
    pub(crate) fn cmd_checksum(
        &mut self,
        algo: Algo,
        arg: &str,
        range: ByteRange,
    ) -> io::Result<()> {
        self.run_digest(algo, arg, range, Form::Legacy)
    }

    /// One pass over the file on this session's thread (other sessions have their own),
    /// reading only the bytes asked for. The reply is `Computing <ALGO> digest` then the
    /// result, as one multi-line reply; a digest still running after [`KEEPALIVE`] sends
    /// the first line then, and a progress line every [`KEEPALIVE`] after it.
    fn run_digest(
        &mut self,
        algo: Algo,
        arg: &str,
        range: ByteRange,
        form: Form,
    ) -> io::Result<()> {
        let path = self.resolve(arg);
        let opened = self.with_vfs(|v| v.open_regular(&path));
        let Some((mut file, size)) = self.digest_open(opened, &path)? else {
            return Ok(());
        };
        // Ranges past the end shrink to it, as a download of them would.
        let start = range.start.min(size);
        let end = range.end.map_or(size, |e| e.min(size)).max(start);
        if start > 0 {
            if let Err(e) = file.seek(io::SeekFrom::Start(start)) {
                let text = format!("{path}: {}", FsError::from(e));
                return self.reply(ReplyCode::LocalError, text);
            }
        }
        let code = match form {
            Form::Hash => ReplyCode::FileStatus,
            Form::Legacy => ReplyCode::FileActionOk,
        };
        let first = format!("Computing {algo} digest");
        let began = Instant::now();
        let mut keepalive = Keepalive::new(began);
        let result = {
            let mut progress = |done: u64| -> io::Result<()> {
                match keepalive.due(Instant::now()) {
                    None => Ok(()),
                    Some(Piece::Opening) => self.send(&Reply::opening(code, first.as_str())),
                    Some(Piece::Inner) => {
                        self.send(&Reply::inner(code, format!("{done} bytes hashed")))
                    }
                }
            };
            digest::digest(algo, &mut file, end - start, &mut progress)
        };
        let open = keepalive.open;
        let last_line = match result {
            Ok((hex, n)) => {
                log::debug!(
                    "{algo} user={} path={} bytes={n} secs={:.3}",
                    self.username(),
                    crate::log::printable(&path),
                    began.elapsed().as_secs_f64()
                );
                match form {
                    Form::Hash => format!("{algo} {start}-{} {hex} {arg}", start + n),
                    Form::Legacy => hex,
                }
            }
            // The control connection is gone: the session ends.
            Err(DigestError::Progress(e)) => return Err(e),
            Err(DigestError::Read(e)) => {
                let err = FsError::from(e);
                log::warn!("{algo} of {} failed: {err}", crate::log::printable(&path));
                let text = format!("{path}: {err}");
                if !open {
                    return self.reply(ReplyCode::LocalError, text);
                }
                // The reply already began with a success code and cannot change it: its
                // last line says so, and holds nothing a client could take for a digest.
                format!("Error: {text}")
            }
        };
        if open {
            self.reply(code, last_line)
        } else {
            self.send(&Reply::multi(code, vec![first, last_line]))
        }
    }

    /// The opened file, or None after the error reply: 553 for a directory or another
    /// non-file (draft 3.5: the hash of a directory is not defined), 550 otherwise.
    fn digest_open(
        &mut self,
        opened: Option<Result<(std::fs::File, u64), FsError>>,
        path: &str,
    ) -> io::Result<Option<(std::fs::File, u64)>> {
        match opened {
            Some(Err(FsError::IsADirectory | FsError::NotAFile)) => {
                let text = format!("{path}: not a regular file");
                self.reply(ReplyCode::NameNotAllowed, text)?;
                Ok(None)
            }
            other => self.fs_take(other, path),
        }
    }

    /// COMB target part...: see [`crate::vfs::Vfs::combine`]. A part that cannot be
    /// removed afterwards does not undo the combined target; the reply names it.
    pub(crate) fn cmd_comb(&mut self, target: &str, parts: &[String]) -> io::Result<()> {
        let target = self.resolve(target);
        let parts: Vec<String> = parts.iter().map(|p| self.resolve(p)).collect();
        let Some(r) = self.with_vfs(|v| v.combine(&target, &parts)) else {
            return self.reply(ReplyCode::NotLoggedIn, "Please log in with USER and PASS");
        };
        match r {
            Err((path, e)) => self.send(&super::fs_error(&e, &path)),
            Ok(left) if left.is_empty() => {
                log::info!(
                    "COMB user={} remote={} path={} parts={}",
                    self.username(),
                    self.peer,
                    crate::log::printable(&target),
                    parts.len()
                );
                let text = format!("COMB succeeded: {target} from {} parts", parts.len());
                self.reply(ReplyCode::FileActionOk, text)
            }
            Ok(left) => {
                let names: Vec<String> = left.iter().map(|(p, e)| format!("{p} ({e})")).collect();
                log::warn!(
                    "COMB {}: parts not removed: {}",
                    crate::log::printable(&target),
                    crate::log::printable(&names.join(", "))
                );
                let text = format!(
                    "COMB succeeded: {target}; not removed: {}",
                    names.join(", ")
                );
                self.reply(ReplyCode::FileActionOk, text)
            }
        }
    }

    /// AVBL [dir] (default: the current directory): `213 <bytes>`, the space this user may
    /// still use there.
    pub(crate) fn cmd_avbl(&mut self, arg: Option<&str>) -> io::Result<()> {
        let dir = match arg {
            Some(a) => self.resolve(a),
            None => self.cwd.clone(),
        };
        let r = self.logged_in().map(|l| {
            l.vfs
                .free_space(&dir)
                .map(|free| quota_room(self, l, &dir).map_or(free, |room| room.min(free)))
        });
        self.fs_result(r, &dir, |bytes| {
            Reply::new(ReplyCode::FileStatus, bytes.to_string())
        })
    }

    /// SITE: HELP always; the rest with `enable_site`, else 502.
    pub(crate) fn cmd_site(&mut self, sub: Result<SiteCmd, ParseError>) -> io::Result<()> {
        let on = self.server.config.ftpd.enable_site;
        match sub {
            Ok(SiteCmd::Help) => self.site_help(on),
            Ok(SiteCmd::Unknown(name)) => self.reply(
                ReplyCode::NotImplemented,
                format!("SITE {} not implemented", super::login::printable(&name)),
            ),
            sub if !on => {
                let name = match &sub {
                    Ok(SiteCmd::Chmod(..)) => "SITE CHMOD",
                    Ok(SiteCmd::Symlink(..)) => "SITE SYMLINK",
                    Ok(SiteCmd::Mkdir(_)) => "SITE MKDIR",
                    Ok(SiteCmd::Rmdir(_)) => "SITE RMDIR",
                    Err(ParseError::Argument(name, _)) => name,
                    _ => "SITE",
                };
                self.reply(
                    ReplyCode::NotImplemented,
                    format!("{name}: SITE commands are disabled"),
                )
            }
            Err(ParseError::Argument(name, why)) => {
                self.reply(ReplyCode::ArgumentError, format!("{name}: {why}"))
            }
            Err(_) => self.reply(ReplyCode::ArgumentError, "SITE: bad arguments"),
            Ok(SiteCmd::Chmod(mode, p)) => {
                let path = self.resolve(&p);
                let r = self.with_vfs(|v| v.chmod(&path, mode));
                self.fs_result(r, &path, |_| {
                    Reply::new(
                        ReplyCode::Ok,
                        format!("SITE CHMOD: mode of {path} set to {mode:03o}"),
                    )
                })
            }
            Ok(SiteCmd::Symlink(source, link)) => {
                let source = self.resolve(&source);
                let link = self.resolve(&link);
                let r = self.with_vfs(|v| v.symlink(&source, &link));
                self.fs_result(r, &link, |target| {
                    Reply::new(
                        ReplyCode::Ok,
                        format!("SITE SYMLINK: {link} -> {target} created"),
                    )
                })
            }
            Ok(SiteCmd::Mkdir(p)) => self.cmd_mkd(&p),
            Ok(SiteCmd::Rmdir(p)) => self.cmd_rmd(&p),
        }
    }

    fn site_help(&mut self, on: bool) -> io::Result<()> {
        let mut lines = vec!["SITE commands:".to_string()];
        if on {
            lines.extend(
                [
                    "CHMOD <sp> mode <sp> path (mode: octal, 000 to 777)",
                    "SYMLINK <sp> source <sp> link (\"quoted\" names may hold spaces)",
                    "MKDIR <sp> path",
                    "RMDIR <sp> path",
                ]
                .map(String::from),
            );
        }
        lines.push("HELP".into());
        lines.push("End".into());
        self.send(&Reply::multi(ReplyCode::Help, lines))
    }
}

/// How many more bytes the user may store under `dir` (None: no limit): the smallest of
/// what the disk quota, the upload transfer quota and `max_upload_file_size` leave. AVBL
/// answers the smaller of this and the free disk space.
pub(crate) fn quota_room(s: &Session, li: &crate::session::LoggedIn, dir: &str) -> Option<u64> {
    let user = &li.user;
    let ip = s.peer.ip();
    let (up, down) = s.server.usage.transferred(&user.username);
    let limits = &user.limits;
    [
        li.vfs.upload_room(dir, 0, 0),
        limits.transfer_quota(ip).remaining(true, up, down),
        (limits.max_upload_file_size > 0).then_some(limits.max_upload_file_size),
    ]
    .into_iter()
    .flatten()
    .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_opens_once_then_sends_progress() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(t0);
        assert_eq!(k.due(t0 + Duration::from_secs(1)), None);
        assert!(!k.open);
        assert_eq!(k.due(t0 + KEEPALIVE), Some(Piece::Opening));
        assert!(k.open);
        assert_eq!(k.due(t0 + KEEPALIVE + Duration::from_secs(1)), None);
        assert_eq!(k.due(t0 + KEEPALIVE * 2), Some(Piece::Inner));
        assert_eq!(k.due(t0 + KEEPALIVE * 3), Some(Piece::Inner));
    }
}
