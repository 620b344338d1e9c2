//! Command handlers, one module per family, and the one mapping from file errors to replies.

mod dataconn;
mod ext;
mod files;
mod listing;
mod login;
mod misc;
mod tls;
mod transfer;

pub use listing::ALL_FACTS;

use crate::command::Command;
use crate::reply::{Reply, ReplyCode};
use crate::session::{Flow, Session};
use crate::vfs::{FsError, Vfs};
use std::io;

impl Session {
    /// Runs one parsed, gated command.
    pub fn dispatch(&mut self, cmd: Command) -> io::Result<Flow> {
        use Command as C;
        match cmd {
            C::User(name) => return self.cmd_user(name),
            C::Pass(secret) => return self.cmd_pass(secret),
            C::Acct => self.reply(ReplyCode::Superfluous, "ACCT not needed")?,
            C::Rein => {
                // draft-bryan-ftpext-hash 3.2: OPTS HASH holds until REIN.
                self.hash_algo = crate::util::digest::Algo::DEFAULT;
                self.cmd_rein()?
            }
            C::Quit => {
                self.reply(ReplyCode::Goodbye, "Goodbye")?;
                return Ok(Flow::Close);
            }
            C::Pwd => self.cmd_pwd()?,
            C::Cwd(p) => self.cmd_cwd(&p)?,
            C::Cdup => self.cmd_cwd("..")?,
            C::Mkd(p) => self.cmd_mkd(&p)?,
            C::Rmd(p) => self.cmd_rmd(&p)?,
            C::Dele(p) => self.cmd_dele(&p)?,
            C::Rnfr(p) => self.cmd_rnfr(&p)?,
            C::Rnto(p) => self.cmd_rnto(&p)?,
            C::Size(p) => self.cmd_size(&p)?,
            C::Mdtm(p) => self.cmd_mdtm(&p)?,
            C::Mfmt(t, p) => self.cmd_mfmt(t, &p)?,
            C::Retr(p) => self.cmd_retr(&p)?,
            C::Stor(p) => self.cmd_store(&p, transfer::Store::Stor)?,
            C::Appe(p) => self.cmd_store(&p, transfer::Store::Appe)?,
            C::Stou(p) => self.cmd_stou(p.as_deref())?,
            C::Rest(n) => self.cmd_rest(n)?,
            C::Abor => self.cmd_abor()?,
            C::Type(t) => self.cmd_type(t)?,
            C::ModeStream => self.reply(ReplyCode::Ok, "Mode set to S")?,
            C::StruFile => self.reply(ReplyCode::Ok, "Structure set to F")?,
            C::Allo => self.reply(ReplyCode::Superfluous, "No storage allocation necessary")?,
            C::List(a) => self.cmd_list(a.as_deref(), listing::Style::Long)?,
            C::Nlst(a) => self.cmd_list(a.as_deref(), listing::Style::Names)?,
            C::Mlsd(a) => self.cmd_mlsd(a.as_deref())?,
            C::Mlst(a) => self.cmd_mlst(a.as_deref())?,
            C::Stat(a) => self.cmd_stat(a.as_deref())?,
            C::Pasv => self.cmd_pasv()?,
            C::Epsv(a) => self.cmd_epsv(a)?,
            C::Port(addr) => self.cmd_port(addr, false)?,
            C::Eprt(addr) => self.cmd_port(addr, true)?,
            C::Syst => self.reply(ReplyCode::SystemType, "UNIX Type: L8")?,
            C::Noop => self.reply(ReplyCode::Ok, "NOOP ok")?,
            C::Clnt => self.reply(ReplyCode::Ok, "Good to know")?,
            C::Feat => self.cmd_feat()?,
            C::Help(a) => self.cmd_help(a.as_deref())?,
            C::Opts(a) => self.cmd_opts(&a)?,
            C::Site(sub) => self.cmd_site(sub)?,
            C::Hash(p) => self.cmd_hash(&p)?,
            C::Checksum(algo, p, range) => self.cmd_checksum(algo, &p, range)?,
            C::Comb(target, parts) => self.cmd_comb(&target, &parts)?,
            C::Avbl(dir) => self.cmd_avbl(dir.as_deref())?,
            C::AuthTls => self.cmd_auth()?,
            C::Pbsz(n) => self.cmd_pbsz(n)?,
            C::Prot(p) => self.cmd_prot(p)?,
            C::Ccc => self.cmd_ccc()?,
            C::Unimplemented(v) => {
                self.reply(ReplyCode::NotImplemented, format!("{v} not implemented"))?
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs `f` on the logged-in user's filesystem (None before login; the gate makes that
    /// unreachable for commands that need it, and this keeps it a reply, not a panic).
    pub(crate) fn with_vfs<T>(&self, f: impl FnOnce(&Vfs) -> T) -> Option<T> {
        self.logged_in().map(|l| f(&l.vfs))
    }

    pub(crate) fn resolve(&self, arg: &str) -> String {
        crate::vfs::path::resolve(&self.cwd, arg)
    }

    /// The value of a filesystem result, or None after sending its error reply.
    pub(crate) fn fs_take<T>(
        &mut self,
        r: Option<Result<T, FsError>>,
        path: &str,
    ) -> io::Result<Option<T>> {
        self.fs_take_with(r, path, fs_error)
    }

    /// [`Session::fs_take`] with a chosen error mapping (uploads: [`fs_error_upload`]).
    pub(crate) fn fs_take_with<T>(
        &mut self,
        r: Option<Result<T, FsError>>,
        path: &str,
        map: fn(&FsError, &str) -> Reply,
    ) -> io::Result<Option<T>> {
        match r {
            Some(Ok(v)) => Ok(Some(v)),
            None => {
                self.reply(ReplyCode::NotLoggedIn, "Please log in with USER and PASS")?;
                Ok(None)
            }
            Some(Err(e)) => {
                self.send(&map(&e, path))?;
                Ok(None)
            }
        }
    }

    /// Sends the reply for a filesystem result: `ok` on success, the error's 550 otherwise.
    pub(crate) fn fs_result<T>(
        &mut self,
        r: Option<Result<T, FsError>>,
        path: &str,
        ok: impl FnOnce(T) -> Reply,
    ) -> io::Result<()> {
        let reply = match r {
            None => Reply::new(ReplyCode::NotLoggedIn, "Please log in with USER and PASS"),
            Some(Ok(v)) => ok(v),
            Some(Err(e)) => fs_error(&e, path),
        };
        self.send(&reply)
    }
}

/// The single mapping from a refused file operation to its reply (RFC 959: 550 for
/// "file unavailable", which covers not found and no access).
pub fn fs_error(e: &FsError, path: &str) -> Reply {
    if let FsError::Io(io) = e {
        log::warn!("file error on {}: {io}", crate::log::printable(path));
    }
    let code = match e {
        FsError::QuotaExceeded => ReplyCode::ExceededStorage,
        _ => ReplyCode::FileUnavailable,
    };
    Reply::new(code, format!("{path}: {e}"))
}

/// For uploads a refused name is RFC 959's 553 (file name not allowed).
pub fn fs_error_upload(e: &FsError, path: &str) -> Reply {
    match e {
        FsError::NameNotAllowed => Reply::new(ReplyCode::NameNotAllowed, format!("{path}: {e}")),
        _ => fs_error(e, path),
    }
}
