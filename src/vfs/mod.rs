//! The only code that touches users' files. Every operation takes a cleaned virtual path
//! ([`path`]), checks the user's permission for it (SFTPGo's rule: a file operation checks its
//! parent directory), and runs relative to a handle on the home directory (cap-std), so
//! neither `..` nor a symlink made on disk can lead outside the home.

pub mod path;

use crate::auth::permissions::{Perm, Permissions};
use cap_std::fs::{Dir, MetadataExt, OpenOptions};
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Why a file operation was refused; [`crate::cmd`] maps each to one reply.
#[derive(Debug)]
pub enum FsError {
    NotFound,
    /// The user lacks this permission (SFTPGo's name).
    Denied(&'static str),
    NotADirectory,
    IsADirectory,
    AlreadyExists,
    Io(io::Error),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound => write!(f, "No such file or directory"),
            FsError::Denied(p) => write!(f, "Permission denied ({p})"),
            FsError::NotADirectory => write!(f, "Not a directory"),
            FsError::IsADirectory => write!(f, "Is a directory"),
            FsError::AlreadyExists => write!(f, "File exists"),
            FsError::Io(e) => write!(f, "{}", io_text(e)),
        }
    }
}

/// Short, non-revealing text for an I/O error (no host paths).
fn io_text(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory",
        io::ErrorKind::PermissionDenied => "Permission denied",
        io::ErrorKind::AlreadyExists => "File exists",
        io::ErrorKind::DirectoryNotEmpty => "Directory not empty",
        io::ErrorKind::StorageFull => "No space left on device",
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename => "Invalid file name",
        _ => "Input/output error",
    }
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> FsError {
        match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            io::ErrorKind::NotADirectory => FsError::NotADirectory,
            io::ErrorKind::IsADirectory => FsError::IsADirectory,
            io::ErrorKind::AlreadyExists => FsError::AlreadyExists,
            _ => FsError::Io(e),
        }
    }
}

pub type FsResult<T> = Result<T, FsError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symlink that is broken or leads outside the home: shown, never followed.
    Link,
    Other,
}

/// What listings and stat-like commands show of a file.
#[derive(Clone, Debug)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    pub mtime: SystemTime,
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
}

impl Meta {
    fn from_cap(m: &cap_std::fs::Metadata) -> Meta {
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Link
        } else {
            Kind::Other
        };
        Meta {
            kind,
            size: m.len(),
            mtime: m
                .modified()
                .map(|t| t.into_std())
                .unwrap_or(SystemTime::UNIX_EPOCH),
            mode: m.mode(),
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

pub struct Entry {
    pub name: String,
    pub meta: Meta,
}

/// How an upload opens its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Truncate,
    Append,
    /// REST n then STOR: write from offset n without truncating.
    At(u64),
    /// STOU: the name must not exist yet.
    New,
}

/// One logged-in user's view of the filesystem.
pub struct Vfs {
    root: Dir,
    perms: Permissions,
}

impl Vfs {
    /// Opens (creating if missing, mode 0700) the user's home directory.
    pub fn open_home(home: &Path, perms: Permissions) -> io::Result<Vfs> {
        if !home.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(home)?;
        }
        let root = Dir::open_ambient_dir(home, cap_std::ambient_authority())?;
        Ok(Vfs { root, perms })
    }

    pub fn permissions(&self) -> &Permissions {
        &self.perms
    }

    fn check(&self, dir: &str, perm: Perm, name: &'static str) -> FsResult<()> {
        if self.perms.of_dir(dir).has(perm) {
            Ok(())
        } else {
            Err(FsError::Denied(name))
        }
    }

    /// Metadata, following symlinks that stay inside; needs `list` on the parent.
    pub fn stat(&self, p: &str) -> FsResult<Meta> {
        self.check(path::parent(p), Perm::List, "list")?;
        self.stat_unchecked(p)
    }

    fn stat_unchecked(&self, p: &str) -> FsResult<Meta> {
        Ok(Meta::from_cap(&self.root.metadata(path::relative(p))?))
    }

    /// For CWD: the directory must exist; no permission is needed to enter it.
    pub fn is_dir(&self, p: &str) -> FsResult<()> {
        match self.stat_unchecked(p)?.kind {
            Kind::Dir => Ok(()),
            _ => Err(FsError::NotADirectory),
        }
    }

    pub fn open_read(&self, p: &str) -> FsResult<std::fs::File> {
        self.check(path::parent(p), Perm::Download, "download")?;
        let f = self.root.open(path::relative(p))?;
        if f.metadata()?.is_dir() {
            return Err(FsError::IsADirectory);
        }
        Ok(f.into_std())
    }

    /// Checks what an upload to `p` needs: `upload` for a new file, `overwrite` for an
    /// existing one. Returns whether it exists.
    pub fn check_upload(&self, p: &str) -> FsResult<bool> {
        let dir = path::parent(p);
        match self.root.metadata(path::relative(p)) {
            Ok(m) if m.is_dir() => Err(FsError::IsADirectory),
            Ok(_) => self.check(dir, Perm::Overwrite, "overwrite").map(|_| true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.check(dir, Perm::Upload, "upload").map(|_| false)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn open_write(&self, p: &str, mode: WriteMode) -> FsResult<std::fs::File> {
        self.check_upload(p)?;
        self.open_write_unchecked(p, mode)
    }

    fn open_write_unchecked(&self, p: &str, mode: WriteMode) -> FsResult<std::fs::File> {
        let mut o = OpenOptions::new();
        o.write(true);
        match mode {
            WriteMode::Truncate => o.create(true).truncate(true),
            WriteMode::Append => o.create(true).append(true),
            WriteMode::At(_) => o.create(true),
            WriteMode::New => o.create_new(true),
        };
        let f = self.root.open_with(path::relative(p), &o)?.into_std();
        if let WriteMode::At(offset) = mode {
            use std::io::Seek;
            let mut f = f;
            f.seek(io::SeekFrom::Start(offset))?;
            return Ok(f);
        }
        Ok(f)
    }

    /// Atomic upload: a fresh hidden file beside the target (same directory, so the final
    /// rename cannot cross filesystems). Permissions are those of the target.
    pub fn open_temp(&self, target: &str) -> FsResult<(String, std::fs::File)> {
        self.check_upload(target)?;
        let name = format!(
            ".ferroftpd-upload.{}.{}",
            unique_token(),
            path::base_name(target)
        );
        let tmp = path::join(path::parent(target), &name);
        let f = self.open_write_unchecked(&tmp, WriteMode::New)?;
        Ok((tmp, f))
    }

    /// Moves a finished temporary upload into place.
    pub fn commit_temp(&self, tmp: &str, target: &str) -> FsResult<()> {
        self.root
            .rename(path::relative(tmp), &self.root, path::relative(target))?;
        Ok(())
    }

    /// Removes a temporary upload; errors are only logged by the caller.
    pub fn discard_temp(&self, tmp: &str) -> FsResult<()> {
        self.root.remove_file(path::relative(tmp))?;
        Ok(())
    }

    /// STOU: a name that did not exist, created empty; returns its path and file.
    pub fn create_unique(&self, dir: &str, hint: &str) -> FsResult<(String, std::fs::File)> {
        self.check(dir, Perm::Upload, "upload")?;
        let stem = if hint.is_empty() { "ftp" } else { hint };
        for attempt in 0..100u32 {
            let name = if attempt == 0 && !hint.is_empty() {
                stem.to_string()
            } else {
                format!("{stem}.{}", unique_token())
            };
            let p = path::join(dir, &name);
            match self.open_write_unchecked(&p, WriteMode::New) {
                Ok(f) => return Ok((p, f)),
                Err(FsError::AlreadyExists) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(FsError::AlreadyExists)
    }

    /// Directory entries, symlinks followed where they stay inside the home.
    pub fn list(&self, dir: &str) -> FsResult<Vec<Entry>> {
        self.check(dir, Perm::List, "list")?;
        let rel = path::relative(dir);
        let sub;
        let d = if rel == "." {
            &self.root
        } else {
            sub = self.root.open_dir(rel)?;
            &sub
        };
        let mut out = Vec::new();
        for entry in d.entries()? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut meta = match entry.metadata() {
                Ok(m) => Meta::from_cap(&m),
                Err(_) => continue,
            };
            if meta.kind == Kind::Link {
                if let Ok(m) = d.metadata(&name) {
                    meta = Meta::from_cap(&m);
                }
            }
            out.push(Entry { name, meta });
        }
        Ok(out)
    }

    pub fn mkdir(&self, p: &str) -> FsResult<()> {
        self.check(path::parent(p), Perm::CreateDirs, "create_dirs")?;
        self.root.create_dir(path::relative(p))?;
        Ok(())
    }

    pub fn rmdir(&self, p: &str) -> FsResult<()> {
        if p == "/" {
            return Err(FsError::Denied("delete_dirs"));
        }
        self.check(path::parent(p), Perm::DeleteDirs, "delete_dirs")?;
        let m = self.root.symlink_metadata(path::relative(p))?;
        if !m.is_dir() {
            return Err(FsError::NotADirectory);
        }
        self.root.remove_dir(path::relative(p))?;
        Ok(())
    }

    pub fn delete(&self, p: &str) -> FsResult<()> {
        self.check(path::parent(p), Perm::DeleteFiles, "delete_files")?;
        let m = self.root.symlink_metadata(path::relative(p))?;
        if m.is_dir() {
            return Err(FsError::IsADirectory);
        }
        self.root.remove_file(path::relative(p))?;
        Ok(())
    }

    /// RNFR's check: the source exists and may be renamed.
    pub fn check_rename_source(&self, from: &str) -> FsResult<()> {
        if from == "/" {
            return Err(FsError::Denied("rename"));
        }
        let m = self.root.symlink_metadata(path::relative(from))?;
        if m.is_dir() {
            self.check(path::parent(from), Perm::RenameDirs, "rename_dirs")
        } else {
            self.check(path::parent(from), Perm::RenameFiles, "rename_files")
        }
    }

    pub fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        self.check_rename_source(from)?;
        if to == "/" {
            return Err(FsError::Denied("rename"));
        }
        let is_dir = self.root.symlink_metadata(path::relative(from))?.is_dir();
        let (perm, name) = if is_dir {
            (Perm::RenameDirs, "rename_dirs")
        } else {
            (Perm::RenameFiles, "rename_files")
        };
        self.check(path::parent(to), perm, name)?;
        if let Ok(m) = self.root.symlink_metadata(path::relative(to)) {
            if !m.is_dir() {
                self.check(path::parent(to), Perm::Overwrite, "overwrite")?;
            }
        }
        self.root
            .rename(path::relative(from), &self.root, path::relative(to))?;
        Ok(())
    }

    pub fn set_mtime(&self, p: &str, t: SystemTime) -> FsResult<()> {
        use cap_fs_ext::{DirExt, SystemTimeSpec};
        self.check(path::parent(p), Perm::Chtimes, "chtimes")?;
        let spec = || SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t));
        self.root
            .set_times(path::relative(p), Some(spec()), Some(spec()))?;
        Ok(())
    }
}

/// Unique enough for temporary names: time, process and a counter (O_EXCL catches the rest).
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{:x}{:x}{:x}", t & 0xffff_ffff, std::process::id(), n)
}
