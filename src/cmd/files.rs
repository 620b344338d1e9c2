//! Directory and file commands: PWD CWD CDUP MKD RMD DELE RNFR RNTO (RFC 959 4.1.1-4.1.3),
//! SIZE MDTM (RFC 3659 4, 3), MFMT (draft-somers-ftp-mfxx).

use crate::reply::{quote_path, Reply, ReplyCode};
use crate::session::Session;
use crate::util::timefmt;
use crate::vfs::{FsError, Kind};
use std::io;
use std::time::SystemTime;

impl Session {
    pub(crate) fn cmd_pwd(&mut self) -> io::Result<()> {
        let text = format!("{} is the current directory", quote_path(&self.cwd));
        self.reply(ReplyCode::PathCreated, text)
    }

    pub(crate) fn cmd_cwd(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.is_dir(&path));
        if let Some(Ok(())) = r {
            self.cwd = path.clone();
        }
        self.fs_result(r, &path, |_| {
            Reply::new(
                ReplyCode::FileActionOk,
                format!("Directory changed to {path}"),
            )
        })
    }

    pub(crate) fn cmd_mkd(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.mkdir(&path));
        self.fs_result(r, &path, |_| {
            Reply::new(
                ReplyCode::PathCreated,
                format!("{} created", quote_path(&path)),
            )
        })
    }

    pub(crate) fn cmd_rmd(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.rmdir(&path));
        self.fs_result(r, &path, |_| {
            Reply::new(ReplyCode::FileActionOk, "Directory removed")
        })
    }

    pub(crate) fn cmd_dele(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.delete(&path));
        self.fs_result(r, &path, |_| {
            Reply::new(ReplyCode::FileActionOk, "File deleted")
        })
    }

    pub(crate) fn cmd_rnfr(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.check_rename_source(&path));
        self.rnfr = matches!(r, Some(Ok(()))).then(|| path.clone());
        self.fs_result(r, &path, |_| {
            Reply::new(ReplyCode::PendingFurtherInfo, "Ready for RNTO")
        })
    }

    pub(crate) fn cmd_rnto(&mut self, arg: &str) -> io::Result<()> {
        let Some(from) = self.rnfr.take() else {
            return self.reply(ReplyCode::BadSequence, "RNFR required first");
        };
        let to = self.resolve(arg);
        let r = self.with_vfs(|v| v.rename(&from, &to));
        self.fs_result(r, &to, |_| {
            Reply::new(ReplyCode::FileActionOk, "Rename successful")
        })
    }

    /// RFC 3659 4: the size as it would be transferred in the current TYPE.
    pub(crate) fn cmd_size(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let ascii = self.ascii_active();
        let r = self.with_vfs(|v| {
            let meta = v.stat(&path)?;
            if meta.kind != Kind::File {
                return Err(FsError::Denied("not a regular file"));
            }
            if !ascii {
                return Ok(meta.size);
            }
            let f = v.open_read(&path)?;
            ascii_size(f).map_err(FsError::Io)
        });
        self.fs_result(r, &path, |n| {
            Reply::new(ReplyCode::FileStatus, n.to_string())
        })
    }

    pub(crate) fn cmd_mdtm(&mut self, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.stat(&path));
        self.fs_result(r, &path, |m| {
            Reply::new(ReplyCode::FileStatus, timefmt::mdtm(m.mtime))
        })
    }

    pub(crate) fn cmd_mfmt(&mut self, t: SystemTime, arg: &str) -> io::Result<()> {
        let path = self.resolve(arg);
        let r = self.with_vfs(|v| v.set_mtime(&path, t));
        self.fs_result(r, &path, |_| {
            Reply::new(
                ReplyCode::FileStatus,
                format!("Modify={}; {arg}", timefmt::mdtm(t)),
            )
        })
    }
}

/// Bytes a file becomes with LF -> CRLF: one streaming read.
fn ascii_size(mut f: std::fs::File) -> io::Result<u64> {
    use std::io::Read;
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += crate::data::ascii::crlf_len(&buf[..n]);
    }
}
