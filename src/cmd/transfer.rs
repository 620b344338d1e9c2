//! File transfers and their settings: RETR STOR APPE STOU REST ABOR TYPE (RFC 959 4.1.3,
//! RFC 3659 5 for REST STREAM). Replies follow RFC 959: 150 before the data connection,
//! then 226 on success, 425 if it cannot be opened, 426 if it broke or was aborted, 451
//! on a local error.

use crate::command::TransferType;
use crate::config::UploadMode;
use crate::data::{self, Outcome};
use crate::reply::ReplyCode;
use crate::session::{Running, Session};
use crate::vfs::WriteMode;
use std::io::{self, Seek, SeekFrom};
use std::net::TcpStream;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Stor,
    Appe,
}

impl Session {
    /// TYPE A converts line endings unless the binding says `ignore_ascii_transfer_type`.
    pub(crate) fn ascii_active(&self) -> bool {
        self.ttype == TransferType::Ascii && !self.binding().ignore_ascii
    }

    pub(crate) fn cmd_type(&mut self, t: TransferType) -> io::Result<()> {
        self.ttype = t;
        let name = match t {
            TransferType::Ascii => "A",
            TransferType::Binary => "I",
        };
        self.reply(ReplyCode::Ok, format!("Type set to {name}"))
    }

    pub(crate) fn cmd_rest(&mut self, offset: u64) -> io::Result<()> {
        self.rest = offset;
        self.reply(
            ReplyCode::PendingFurtherInfo,
            format!("Restarting at {offset}. Send STOR or RETR"),
        )
    }

    /// ABOR with no transfer running (a running one is stopped by `control_check`).
    pub(crate) fn cmd_abor(&mut self) -> io::Result<()> {
        self.plan = data::Plan::None;
        self.rest = 0;
        self.reply(ReplyCode::TransferComplete, "No transfer to abort")
    }

    pub(crate) fn cmd_retr(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let offset = std::mem::take(&mut self.rest);
        if !self.has_plan() {
            return self.no_plan();
        }
        let r = self.with_vfs(|v| v.open_read(&path));
        let Some(mut file) = self.fs_take(r, &path)? else {
            return Ok(());
        };
        if offset > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                return self.reply(
                    ReplyCode::FileUnavailable,
                    format!("{path}: cannot seek: {e}"),
                );
            }
        }
        let ascii = self.ascii_active();
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let text = format!(
            "Opening {} mode data connection for {path} ({} bytes)",
            if ascii { "ASCII" } else { "BINARY" },
            size.saturating_sub(offset)
        );
        let started = Instant::now();
        let Some(sock) = self.open_data(&text, "RETR", &path)? else {
            return Ok(());
        };
        let stall = self.stall_limit();
        let outcome = {
            let mut ctl = |n| self.control_check(n);
            if ascii {
                data::send_file_ascii(&file, &sock, stall, &mut ctl)
            } else {
                data::send_file(&file, &sock, stall, &mut ctl)
            }
        };
        drop(sock);
        self.end_transfer("RETR", &path, &outcome, started)
    }

    pub(crate) fn cmd_store(&mut self, arg: &str, how: Store) -> io::Result<()> {
        let path = self.resolve(arg);
        let offset = std::mem::take(&mut self.rest);
        if !self.has_plan() {
            return self.no_plan();
        }
        let mode = match (how, offset) {
            (Store::Appe, _) => WriteMode::Append,
            (Store::Stor, 0) => WriteMode::Truncate,
            (Store::Stor, n) => WriteMode::At(n),
        };
        let atomic = self.server.config.common.upload_mode;
        // Resumes and appends write in place; only a whole new upload can be atomic.
        let use_temp = mode == WriteMode::Truncate && atomic != UploadMode::Standard;
        let opened = self.with_vfs(|v| {
            if use_temp {
                v.open_temp(&path).map(|(t, f)| (Some(t), f))
            } else {
                v.open_write(&path, mode).map(|f| (None, f))
            }
        });
        let Some((temp, file)) = self.fs_take(opened, &path)? else {
            return Ok(());
        };
        let verb = if how == Store::Appe { "APPE" } else { "STOR" };
        self.receive_into(verb, &path, temp, file)
    }

    pub(crate) fn cmd_stou(&mut self, hint: Option<&str>) -> io::Result<()> {
        self.rest = 0;
        if !self.has_plan() {
            return self.no_plan();
        }
        let dir = self.cwd.clone();
        let hint = hint.map(crate::vfs::path::base_name).unwrap_or("");
        let hint = hint.to_string();
        let r = self.with_vfs(|v| v.create_unique(&dir, &hint));
        match self.fs_take(r, &dir)? {
            Some((path, file)) => self.receive_into("STOU", &path, None, file),
            None => Ok(()),
        }
    }

    /// The data half of STOR/APPE/STOU: receive, then put an atomic upload into place (or
    /// discard it) before the final reply, so a 226 means the file is there.
    fn receive_into(
        &mut self,
        verb: &'static str,
        path: &str,
        temp: Option<String>,
        mut file: std::fs::File,
    ) -> io::Result<()> {
        let text = if verb == "STOU" {
            format!("FILE: {}", crate::vfs::path::base_name(path))
        } else {
            format!("Opening data connection for {path}")
        };
        let started = Instant::now();
        let sock = self.open_data(&text, verb, path)?;
        let outcome = match sock {
            Some(sock) => {
                let ascii = self.ascii_active();
                let stall = self.stall_limit();
                let mut ctl = |n| self.control_check(n);
                let o = data::receive(&sock, &mut file, ascii, stall, &mut ctl);
                drop(sock);
                Some(o)
            }
            None => None,
        };
        drop(file);
        let resume =
            self.server.config.common.upload_mode == crate::config::UploadMode::AtomicResume;
        if let Some(tmp) = temp {
            let keep = match &outcome {
                Some(Outcome::Done(_)) => true,
                Some(o) => resume && o.bytes() > 0,
                None => false,
            };
            let r = self.with_vfs(|v| {
                if keep {
                    v.commit_temp(&tmp, path)
                } else {
                    v.discard_temp(&tmp)
                }
            });
            if let Some(Err(e)) = r {
                log::error!(
                    "upload {path}: cannot {} temporary file: {e}",
                    if keep { "rename" } else { "remove" }
                );
                if outcome
                    .as_ref()
                    .is_some_and(|o| matches!(o, Outcome::Done(_)))
                {
                    return self.reply(
                        ReplyCode::LocalError,
                        format!("{path}: could not store the file"),
                    );
                }
            }
        }
        match outcome {
            Some(o) => self.end_transfer(verb, path, &o, started),
            None => Ok(()),
        }
    }

    fn has_plan(&self) -> bool {
        !matches!(self.plan, data::Plan::None)
    }

    fn no_plan(&mut self) -> io::Result<()> {
        self.reply(
            ReplyCode::CantOpenData,
            "Use PASV, EPSV, PORT or EPRT first",
        )
    }

    /// 150, then the data connection. On failure the 425 (or 426 for ABOR) is already sent
    /// and None returned.
    pub(crate) fn open_data(
        &mut self,
        text: &str,
        verb: &str,
        path: &str,
    ) -> io::Result<Option<TcpStream>> {
        let plan = std::mem::replace(&mut self.plan, data::Plan::None);
        self.reply(ReplyCode::OpeningData, text)?;
        let peer = data::Peer {
            ip: self.peer.ip(),
            local: self.local.ip(),
            check_ip: self.binding().passive_ip_check,
            port_20: !self.server.config.ftpd.active_transfers_port_non_20,
        };
        self.running = Some(Running {
            what: format!("{verb} {path}"),
            bytes: 0,
        });
        let r = {
            let mut ctl = |n| self.control_check(n);
            data::open(plan, &peer, &mut ctl)
        };
        match r {
            Ok(sock) => Ok(Some(sock)),
            Err(e) => {
                self.running = None;
                match e {
                    data::OpenError::Aborted => {
                        self.reply(ReplyCode::TransferAborted, "Transfer aborted")?;
                        self.reply(ReplyCode::TransferComplete, "ABOR successful")?;
                    }
                    data::OpenError::WrongPeer(ip) => {
                        log::warn!(
                            "data connection from {ip} refused: control connection is from {} (user={})",
                            self.peer.ip(),
                            self.username()
                        );
                        self.reply(
                            ReplyCode::CantOpenData,
                            "Data connection must come from the control connection's address",
                        )?;
                    }
                    data::OpenError::NoPlan => self.no_plan()?,
                    data::OpenError::Timeout => {
                        self.reply(ReplyCode::CantOpenData, "Data connection timed out")?
                    }
                    data::OpenError::Io(e) => self.reply(
                        ReplyCode::CantOpenData,
                        format!("Cannot open data connection: {e}"),
                    )?,
                }
                Ok(None)
            }
        }
    }

    /// The final reply of a transfer, and its log line.
    pub(crate) fn end_transfer(
        &mut self,
        verb: &str,
        path: &str,
        outcome: &Outcome,
        started: Instant,
    ) -> io::Result<()> {
        self.running = None;
        let secs = started.elapsed().as_secs_f64();
        let result = match outcome {
            Outcome::Done(_) => "ok",
            Outcome::Aborted(_) => "aborted",
            _ => "failed",
        };
        log::info!(
            "transfer {verb} user={} remote={} path={} bytes={} secs={secs:.3} result={result}",
            self.username(),
            self.peer,
            super::login::printable(path),
            outcome.bytes(),
        );
        if self.control_lost {
            return Ok(());
        }
        match outcome {
            Outcome::Done(_) => self.reply(ReplyCode::TransferComplete, "Transfer complete"),
            Outcome::Aborted(_) => {
                self.reply(ReplyCode::TransferAborted, "Transfer aborted")?;
                self.reply(ReplyCode::TransferComplete, "ABOR successful")
            }
            Outcome::Broken(_, e) => self.reply(
                ReplyCode::TransferAborted,
                format!("Data connection broken: {e}"),
            ),
            Outcome::Stalled(_) => {
                self.reply(ReplyCode::TransferAborted, "Data connection stalled")
            }
            Outcome::Local(_, e) => {
                log::error!("transfer {verb} {path}: local error: {e}");
                self.reply(
                    ReplyCode::LocalError,
                    "Local error while transferring the file",
                )
            }
        }
    }
}
