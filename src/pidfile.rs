//! `--pidfile`: the daemon's process id, for rc scripts and `kill -HUP $(cat ...)`.
//!
//! Like BSD pidfile(3): the file is created (or reused) before the privilege drop, and
//! locked with flock(2) for the life of the process, so a second ferroftpd with the same
//! pidfile fails at startup naming the first, and a stale file from a crash never blocks a
//! start. At a clean stop the file is removed; if the drop left us unable to remove it (a
//! directory only root may write), it is emptied through the descriptor still open, and an
//! empty pidfile names no process to an rc script.

use rustix::fs::{flock, FlockOperation};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    /// Creates and locks `path`, and writes this process's id into it.
    pub fn create(path: &Path) -> Result<PidFile, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let err = |what: &str, e: &dyn std::fmt::Display| {
            format!("--pidfile {}: {what}: {e}", path.display())
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|e| err("cannot open", &e))?;
        if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            let mut text = String::new();
            let _ = (&file).take(32).read_to_string(&mut text);
            let holder = text.trim();
            return Err(if holder.is_empty() {
                err("locked by another process", &e)
            } else {
                format!(
                    "--pidfile {}: ferroftpd is already running (pid {holder})",
                    path.display()
                )
            });
        }
        file.set_len(0).map_err(|e| err("cannot empty", &e))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(|e| err("cannot write", &e))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if std::fs::remove_file(&self.path).is_err() {
            let _ = self.file.set_len(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_locked_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.pid");
        std::fs::write(&p, "999999\n").unwrap(); // stale, unlocked: reused
        let pf = PidFile::create(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        let second = PidFile::create(&p).err().unwrap();
        assert!(second.contains("already running"), "{second}");
        drop(pf);
        assert!(!p.exists());
    }
}
