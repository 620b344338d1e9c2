//! File transfers and their settings: RETR STOR APPE STOU REST ABOR TYPE (RFC 959 4.1.3,
//! RFC 3659 5 for REST STREAM). Replies follow RFC 959: 150 before the data connection,
//! then 226 on success, 425 if it cannot be opened, 426 if it broke or was aborted, 451
//! on a local error.

use crate::command::TransferType;
use crate::config::UploadMode;
use crate::data::{self, ascii, Outcome};
use crate::limits::bandwidth::Throttle;
use crate::reply::ReplyCode;
use crate::session::{Running, Session};
use crate::tls::stream::Stream;
use crate::vfs::WriteMode;
use std::io::{self, Seek, SeekFrom};
use std::time::{Duration, Instant};

/// How long an atomic upload waits, after the data ends, to see whether the client vanished.
const ATOMIC_GRACE: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Stor,
    Appe,
}

/// The 426 of a transfer the daemon's stop cut (grace over, or a second signal).
const CUT_BY_STOP: &str = "Transfer cut: server shutting down";

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

    /// RETR or STOR after a REST past the end of the file (RFC 3659 5: 554); the REST is
    /// spent, as after any transfer command.
    fn rest_past_end(&mut self, offset: u64, path: &str) -> io::Result<()> {
        self.reply(
            ReplyCode::InvalidRestart,
            format!("REST {offset} is past the end of {path}"),
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
        if !self.transfer_ready()? {
            return Ok(());
        }
        let r = self.with_vfs(|v| v.open_regular(&path));
        let Some((mut file, size)) = self.fs_take(r, &path)? else {
            return Ok(());
        };
        let ascii = self.ascii_active();
        // Where the stored bytes to send start, and (TYPE A) whether the stream resumes
        // between the CR and LF of a line end.
        let (start, mid_line_end) = if offset == 0 {
            (0, false)
        } else if ascii {
            match ascii::stored_offset(&file, offset) {
                Ok(Some(at)) => at,
                Ok(None) => return self.rest_past_end(offset, &path),
                Err(e) => return self.reply(ReplyCode::LocalError, format!("{path}: {e}")),
            }
        } else if offset > size {
            return self.rest_past_end(offset, &path);
        } else {
            (offset, false)
        };
        if offset > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                return self.reply(
                    ReplyCode::FileUnavailable,
                    format!("{path}: cannot seek: {e}"),
                );
            }
        }
        let text = format!(
            "Opening {} mode data connection for {path} ({} bytes)",
            if ascii { "ASCII" } else { "BINARY" },
            size.saturating_sub(start)
        );
        let Some(bounds) = self.transfer_bounds(false, None)? else {
            return Ok(());
        };
        let started = Instant::now();
        let Some(mut stream) = self.open_data(&text, "RETR", &path)? else {
            return Ok(());
        };
        let outcome = {
            let mut ctl = |n| self.control_check(n);
            if ascii {
                data::transfer::send_file_ascii(&file, mid_line_end, &mut stream, &bounds, &mut ctl)
            } else {
                let left = size.saturating_sub(start);
                data::transfer::send_file(&file, start, left, &mut stream, &bounds, &mut ctl)
            }
        };
        let outcome = close_data(stream, outcome, true);
        self.account(0, outcome.bytes());
        self.end_transfer("RETR", &path, &outcome, started)
    }

    pub(crate) fn cmd_store(&mut self, arg: &str, how: Store) -> io::Result<()> {
        let path = self.resolve(arg);
        let offset = std::mem::take(&mut self.rest);
        if !self.transfer_ready()? {
            return Ok(());
        }
        let mode = match (how, offset) {
            (Store::Appe, _) => WriteMode::Append,
            (Store::Stor, 0) => WriteMode::Truncate,
            (Store::Stor, n) => WriteMode::At(n),
        };
        let atomic = self.server.config.common.upload_mode;
        // Resumes and appends write in place; only a whole new upload can be atomic.
        let use_temp = mode == WriteMode::Truncate && atomic != UploadMode::Standard;
        // Name, permission and file-count checks come first: their refusal is the answer.
        let checked = self.with_vfs(|v| v.check_upload(&path));
        let Some(found) = self.fs_take_with(checked, &path, super::fs_error_upload)? else {
            return Ok(());
        };
        // A resume continues the file's own bytes: from where REST points in them (TYPE A:
        // in their converted form, as a download would have sent them), never past them.
        let mode = match mode {
            WriteMode::At(n) => {
                let stored = match (found.size, self.ascii_active()) {
                    // Not there (or not a file): nothing to resume.
                    (None, _) => None,
                    (Some(size), false) => (n <= size).then_some(n),
                    (Some(_), true) => {
                        let r = self.with_vfs(|v| v.open_resumed(&path));
                        let Some(f) = self.fs_take_with(r, &path, super::fs_error_upload)? else {
                            return Ok(());
                        };
                        match ascii::stored_offset(&f, n) {
                            Ok(at) => at.map(|(at, _)| at),
                            Err(e) => {
                                return self.reply(ReplyCode::LocalError, format!("{path}: {e}"))
                            }
                        }
                    }
                };
                match stored {
                    Some(at) => WriteMode::At(at),
                    None => return self.rest_past_end(n, &path),
                }
            }
            mode => mode,
        };
        // The size before: what a failed append or resume is cut back to, and what an
        // overwrite frees in the disk quota.
        let prior_size = found.size;
        let prior = prior_size.unwrap_or(0);
        let start = match mode {
            WriteMode::Append => prior,
            WriteMode::At(n) | WriteMode::NewAt(n) => n,
            WriteMode::Truncate | WriteMode::New => 0,
        };
        let Some(bounds) = self.transfer_bounds(true, Some((&path, start, prior)))? else {
            return Ok(());
        };
        let opened = self.with_vfs(|v| {
            if use_temp {
                v.open_temp(&path).map(|(t, f)| (Some(t), f))
            } else {
                v.open_write(&path, mode, found).map(|f| (None, f))
            }
        });
        let Some((temp, file)) = self.fs_take_with(opened, &path, super::fs_error_upload)? else {
            return Ok(());
        };
        let verb = if how == Store::Appe { "APPE" } else { "STOR" };
        let up = Upload {
            verb,
            path: &path,
            temp,
            file,
            prior,
            existed: prior_size.is_some(),
            keep_prior: matches!(mode, WriteMode::Append | WriteMode::At(_)),
            bounds,
        };
        self.receive_into(up)
    }

    /// The limits of one transfer: bandwidth, and a byte budget from the transfer quota
    /// (and for uploads the size limit and disk quota). `upload` is Some((start, prior)):
    /// the offset the file is written from, and its size before. None after a refusal.
    fn transfer_bounds(
        &mut self,
        upload: bool,
        at: Option<(&str, u64, u64)>,
    ) -> io::Result<Option<data::Bounds>> {
        let Some(li) = self.logged_in() else {
            return Ok(None);
        };
        let limits = &li.user.limits;
        let name = li.user.username.clone();
        let ip = self.peer.ip();
        let (up_kib, down_kib) = limits.bandwidth(ip);
        let (uploaded, downloaded) = self.server.usage.transferred(&name);
        let mut budget = limits
            .transfer_quota(ip)
            .remaining(upload, uploaded, downloaded);
        if let (true, Some((path, start, prior))) = (upload, at) {
            let mut cap = |left: u64| budget = Some(budget.map_or(left, |b| b.min(left)));
            if limits.max_upload_file_size > 0 {
                cap(limits.max_upload_file_size.saturating_sub(start));
            }
            if let Some(room) = li.vfs.upload_room(path, start, prior) {
                cap(room);
            }
        }
        if budget == Some(0) {
            let (code, text) = if upload {
                (
                    ReplyCode::ExceededStorage,
                    "Upload refused: transfer quota or file size limit reached",
                )
            } else {
                (
                    ReplyCode::FileUnavailable,
                    "Download refused: transfer quota reached",
                )
            };
            self.plan = data::Plan::None;
            self.reply(code, text)?;
            return Ok(None);
        }
        Ok(Some(data::Bounds {
            stall: self.stall_limit(),
            throttle: Throttle::new(if upload { up_kib } else { down_kib }),
            budget,
        }))
    }

    /// Adds a transfer's bytes to the user's totals (transfer quotas).
    fn account(&self, up: u64, down: u64) {
        if let Some(li) = self.logged_in() {
            self.server
                .usage
                .add_transferred(&li.user.username, up, down);
        }
    }

    pub(crate) fn cmd_stou(&mut self, hint: Option<&str>) -> io::Result<()> {
        self.rest = 0;
        if !self.transfer_ready()? {
            return Ok(());
        }
        let dir = self.cwd.clone();
        let hint = hint.map(crate::vfs::path::base_name).unwrap_or("");
        let hint = hint.to_string();
        let Some(bounds) = self.transfer_bounds(true, Some((&dir, 0, 0)))? else {
            return Ok(());
        };
        let r = self.with_vfs(|v| v.create_unique(&dir, &hint));
        match self.fs_take_with(r, &dir, super::fs_error_upload)? {
            Some((path, file)) => self.receive_into(Upload {
                verb: "STOU",
                path: &path,
                temp: None,
                file,
                prior: 0,
                existed: false,
                keep_prior: false,
                bounds,
            }),
            None => Ok(()),
        }
    }

    /// The data half of STOR/APPE/STOU: receive, then put an atomic upload into place (or
    /// discard it) before the final reply, so a 226 means the file is there.
    fn receive_into(&mut self, up: Upload) -> io::Result<()> {
        let Upload {
            verb,
            path,
            temp,
            mut file,
            prior,
            existed,
            keep_prior,
            bounds,
        } = up;
        // A STOR over an existing file in place is emptied only once the data connection
        // is up, so a refused or failed connection (425, ABOR) leaves the file whole.
        let truncate = existed && !keep_prior && temp.is_none();
        let text = if verb == "STOU" {
            format!("FILE: {}", crate::vfs::path::base_name(path))
        } else {
            format!("Opening data connection for {path}")
        };
        let started = Instant::now();
        let stream = self.open_data(&text, verb, path)?;
        let mut outcome = match stream {
            Some(mut stream) => {
                let ascii = self.ascii_active();
                let emptied = if truncate { file.set_len(0) } else { Ok(()) };
                let o = match emptied {
                    Ok(()) => {
                        let mut ctl = |n| self.control_check(n);
                        data::transfer::receive(&mut stream, &mut file, ascii, &bounds, &mut ctl)
                    }
                    Err(e) => Outcome::Local(0, e),
                };
                Some(close_data(stream, o, false))
            }
            None => None,
        };
        // Over a limit, the upload must not stay, in part or whole: an append or resume is
        // cut back to what the file held before, a new file goes. With no data connection
        // a file the upload created goes too (atomic uploads below).
        let undo = match &outcome {
            Some(Outcome::OverBudget(_)) => Some(keep_prior && existed),
            None if !existed => Some(false),
            _ => None,
        };
        match (undo, &temp) {
            (Some(cut_back), None) => {
                let cleanup = if cut_back {
                    file.set_len(prior).map_err(crate::vfs::FsError::Io)
                } else {
                    drop(file);
                    self.with_vfs(|v| v.remove_own_upload(path))
                        .unwrap_or(Ok(()))
                };
                if let Err(e) = cleanup {
                    log::error!(
                        "upload {}: cannot undo it: {e}",
                        crate::log::printable(path)
                    );
                }
            }
            _ => drop(file),
        }
        if let Some(o) = &outcome {
            self.account(o.bytes(), 0);
        }
        // End of data is only success if the client is still there to hear about it: a
        // killed client closes both connections at once, in either order. An atomic upload
        // waits a moment for the control connection's end before putting the file in place.
        if let Some(Outcome::Done(n)) = outcome {
            let grace = if temp.is_some() {
                ATOMIC_GRACE
            } else {
                Duration::ZERO
            };
            if !self.control_alive(grace) {
                outcome = Some(Outcome::Aborted(n));
            }
        }
        let resume =
            self.server.config.common.upload_mode == crate::config::UploadMode::AtomicResume;
        if let Some(tmp) = temp {
            // upload_mode 2 keeps a cut upload for a resume, but never one cut by the disk
            // quota or a size limit: a resume could only fail again (SFTPGo removes the
            // partial file on a quota error whatever the mode).
            let keep = match &outcome {
                Some(Outcome::Done(_)) => true,
                Some(Outcome::OverBudget(_)) | None => false,
                Some(o) => resume && o.bytes() > 0,
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
                    "upload {}: cannot {} temporary file: {e}",
                    crate::log::printable(path),
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
        // Disk usage follows the file as it now is, whatever the outcome.
        let before = existed.then_some(prior);
        self.with_vfs(|v| v.upload_done(path, before));
        match outcome {
            Some(o) => self.end_transfer(verb, path, &o, started),
            None => Ok(()),
        }
    }

    /// Whether a transfer may start: a data connection was set up, and PROT allows it.
    /// Otherwise the refusal has been sent.
    pub(crate) fn transfer_ready(&mut self) -> io::Result<bool> {
        if matches!(self.plan, data::Plan::None) {
            self.reply(
                ReplyCode::CantOpenData,
                "Use PASV, EPSV, PORT or EPRT first",
            )?;
            return Ok(false);
        }
        self.data_protection_ok()
    }

    /// 150, then the data connection. On failure the 425 (or 426 for ABOR) is already sent
    /// and None returned.
    pub(crate) fn open_data(
        &mut self,
        text: &str,
        verb: &str,
        path: &str,
    ) -> io::Result<Option<Stream>> {
        // Every data connection passes here: the PROT rule is enforced at this one place
        // too, whatever the caller checked before.
        if !self.data_protection_ok()? {
            self.plan = data::Plan::None;
            return Ok(None);
        }
        let plan = std::mem::replace(&mut self.plan, data::Plan::None);
        self.reply(ReplyCode::OpeningData, text)?;
        let peer = data::Peer {
            ip: self.peer.ip(),
            local: self.local.ip(),
            check_ip: self.binding().passive_ip_check,
            port_20: !self.server.config.ftpd.active_transfers_port_non_20,
            proxy: (self.binding().apply_proxy
                && self.server.config.common.proxy.mode != crate::proxy_proto::Mode::Off)
                .then(|| self.server.config.common.proxy.clone()),
        };
        self.running = Some(Running {
            what: format!("{verb} {path}"),
            bytes: 0,
        });
        let r = {
            let mut ctl = |n| self.control_check(n);
            data::open(plan, &peer, &mut ctl)
        };
        let sock = match r {
            Ok(sock) => sock,
            Err(e) => {
                self.running = None;
                match e {
                    data::OpenError::Aborted if self.server.lifecycle.cutting() => {
                        self.reply(ReplyCode::TransferAborted, CUT_BY_STOP)?;
                    }
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
                    data::OpenError::Proxy(ip, why) => {
                        log::warn!(
                            "data connection from {ip} refused: {why} (user={})",
                            self.username()
                        );
                        self.reply(
                            ReplyCode::CantOpenData,
                            "Data connection refused: PROXY protocol",
                        )?;
                    }
                    data::OpenError::NoPlan => self.reply(
                        ReplyCode::CantOpenData,
                        "Use PASV, EPSV, PORT or EPRT first",
                    )?,
                    data::OpenError::Timeout => {
                        self.reply(ReplyCode::CantOpenData, "Data connection timed out")?
                    }
                    data::OpenError::Io(e) => self.reply(
                        ReplyCode::CantOpenData,
                        format!("Cannot open data connection: {e}"),
                    )?,
                }
                return Ok(None);
            }
        };
        if !self.data_tls() {
            return Ok(Some(Stream::plain(sock)));
        }
        match self.secure_data(sock) {
            Ok(stream) => Ok(Some(stream)),
            Err(why) => {
                self.running = None;
                log::warn!(
                    "data connection TLS for {} (user={}): {why}",
                    self.peer,
                    self.username()
                );
                self.reply(ReplyCode::CantOpenData, why)?;
                Ok(None)
            }
        }
    }

    /// TLS on a data connection, with the control session's configuration and token; with
    /// `tls_session_reuse` 1 the handshake must have resumed this control session.
    fn secure_data(&mut self, sock: std::net::TcpStream) -> Result<Stream, String> {
        let Some(tls) = &self.tls else {
            return Err("TLS is not on for this session".into());
        };
        let token = tls.token;
        let deadline = Instant::now() + data::CONNECT_TIMEOUT;
        let sock = std::sync::Arc::new(sock);
        let stream = Stream::accept_tls(&tls.data_config, &token, sock, deadline)
            .and_then(|mut s| s.handshake(deadline).map(|()| s))
            .map_err(|e| format!("TLS handshake on the data connection failed: {e}"))?;
        if self.binding().tls.session_reuse == crate::config::tls::SessionReuse::Required {
            let resumed = stream
                .tls()
                .is_some_and(|c| crate::tls::resumed_from(c, &token));
            if !resumed {
                return Err("TLS session reuse required: the data connection must resume the control connection's TLS session".into());
            }
        }
        Ok(stream)
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
        // Stopped by the daemon's stop (grace over, second signal), not by the client.
        let cut = matches!(outcome, Outcome::Aborted(_)) && self.server.lifecycle.cutting();
        use crate::log::Outcome as Logged;
        let result = match outcome {
            _ if cut => Logged::Failed("server shutting down".into()),
            Outcome::Done(_) => Logged::Ok,
            Outcome::Aborted(_) => Logged::Aborted,
            Outcome::Stalled(_) => Logged::Failed("stalled".into()),
            Outcome::OverBudget(_) => Logged::Failed("quota or size limit".into()),
            Outcome::Broken(_, e) => Logged::Failed(format!("data connection: {e}")),
            Outcome::Local(_, e) => Logged::Failed(format!("local: {e}")),
        };
        // The one record of this transfer: the human line, xferlog and JSON (crate::log).
        crate::log::transfer(&crate::log::Transfer {
            verb,
            user: self.username(),
            remote: self.peer,
            path,
            bytes: outcome.bytes(),
            secs,
            outcome: result,
            ascii: self.ascii_active(),
        });
        if self.control_lost {
            return Ok(());
        }
        match outcome {
            _ if cut => self.reply(ReplyCode::TransferAborted, CUT_BY_STOP),
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
            Outcome::OverBudget(_) => self.reply(
                ReplyCode::ExceededStorage,
                "Transfer stopped: quota or file size limit exceeded",
            ),
            Outcome::Local(_, e) => {
                log::error!(
                    "transfer {verb} {}: local error: {e}",
                    crate::log::printable(path)
                );
                self.reply(
                    ReplyCode::LocalError,
                    "Local error while transferring the file",
                )
            }
        }
    }
}

/// Ends a data connection: TLS gets its close_notify, then the socket closes. Only when
/// this side sent the data does a failed close_notify fail the transfer (the peer could not
/// tell a complete file from a cut one); after an upload the client may already be gone.
pub(crate) fn close_data(mut stream: Stream, outcome: Outcome, sending: bool) -> Outcome {
    let r = stream.finish(Instant::now() + data::TICK * 20);
    match (outcome, r) {
        (Outcome::Done(n), Err(e)) if sending => Outcome::Broken(n, e),
        (o, _) => o,
    }
}

/// An upload about to receive its data.
struct Upload<'a> {
    verb: &'static str,
    path: &'a str,
    /// The temporary file of an atomic upload.
    temp: Option<String>,
    file: std::fs::File,
    /// The target's size before the upload.
    prior: u64,
    /// Whether the target existed before (disk quota file count).
    existed: bool,
    /// Append or resume: on failure over a limit, cut back to `prior` rather than remove.
    keep_prior: bool,
    bounds: data::Bounds,
}
