//! The only code that touches users' files. Every operation takes a cleaned virtual path
//! ([`path`]), checks the user's permission for it (SFTPGo's rule: a file operation checks its
//! parent directory), and runs relative to a handle on the home directory (cap-std), so
//! neither `..` nor a symlink made on disk can lead outside the home.

pub mod names;
pub mod path;
pub mod patterns;
pub mod quota;
pub mod stat_ahead;

use crate::auth::permissions::{Perm, Permissions};
use cap_std::fs::{Dir, MetadataExt, OpenOptions};
pub use names::Names;
use patterns::{FilePatterns, Verdict};
use quota::Quota;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
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
    /// Neither a file nor a directory (a FIFO, a device): never opened for reading.
    NotAFile,
    /// A rule of ours refuses it; the text says which.
    Refused(&'static str),
    /// `filters.file_patterns` refuses this name.
    NameNotAllowed,
    /// A disk quota (`quota_files`) is reached.
    QuotaExceeded,
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
            FsError::NotAFile => write!(f, "Not a regular file"),
            FsError::Refused(why) => write!(f, "{why}"),
            FsError::NameNotAllowed => write!(f, "File name not allowed"),
            FsError::QuotaExceeded => write!(f, "Disk quota exceeded"),
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

/// What an upload's target is ([`Vfs::check_upload`]).
#[derive(Clone, Copy, Debug)]
pub struct UploadTarget {
    pub existed: bool,
    /// Its size, if it is a regular file.
    pub size: Option<u64>,
}

/// How an upload opens its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// STOR: the caller empties the file once the data connection is up, so a failed
    /// connection leaves it whole.
    Truncate,
    Append,
    /// REST n then STOR: write from offset n without truncating.
    At(u64),
    /// STOU: the name must not exist yet.
    New,
    /// An upload to a name that was not there: created (not opened), written from the
    /// offset (REST), whatever the command.
    NewAt(u64),
}

/// A handle on the home directory at `home`, shared with the other sessions that have the
/// same directory open now.
///
/// Every session needs its home open for its whole life (all file operations are relative
/// to it). One handle per directory rather than per session keeps a server with many
/// sessions of one account at one file descriptor per session, its control socket: the
/// descriptor limit (often 20,000 or less) would otherwise cap sessions at half of it.
/// A handle is reused only while the path still names the very same directory (device
/// and inode, checked at each login); a replaced or re-created home gets a new handle.
fn shared_home(home: &Path) -> io::Result<Arc<Dir>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Dir>>>> = OnceLock::new();
    /// Above this many entries, those whose sessions have all ended are dropped.
    const PRUNE_ABOVE: usize = 1024;
    let now = std::fs::metadata(home)?;
    let mut open = OPEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(dir) = open.get(home).and_then(Weak::upgrade) {
        let same = dir.dir_metadata().is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt as _;
            m.dev() == now.dev() && m.ino() == now.ino()
        });
        if same {
            return Ok(dir);
        }
    }
    let dir = Arc::new(Dir::open_ambient_dir(home, cap_std::ambient_authority())?);
    if open.len() >= PRUNE_ABOVE {
        open.retain(|_, d| d.strong_count() > 0);
    }
    open.insert(home.to_path_buf(), Arc::downgrade(&dir));
    Ok(dir)
}

/// A virtual folder: `vpath` shows another directory.
struct Mount {
    vpath: String,
    dir: Dir,
    quota: MountQuota,
}

enum MountQuota {
    /// Counted in the user's quota (SFTPGo's -1).
    User,
    /// Not counted anywhere (0).
    Unlimited,
    /// Its own quota.
    Own(Quota),
}

/// One logged-in user's view of the filesystem.
pub struct Vfs {
    /// The home directory; shared by the sessions that have it open (see [`shared_home`]).
    root: Arc<Dir>,
    /// Virtual folders, deepest first.
    mounts: Vec<Mount>,
    patterns: FilePatterns,
    /// The user's disk quota, when it has one.
    quota: Option<Quota>,
    perms: Permissions,
    /// SFTPGo's per-user uid/gid for what this user creates (only when running as root:
    /// see [`crate::privs`]).
    owner: Option<crate::privs::Owner>,
}

impl Vfs {
    /// Opens (creating if missing, mode 0700) the user's home directory.
    pub fn open_home(home: &Path, perms: Permissions) -> io::Result<Vfs> {
        Vfs::open_home_owned(home, perms, None)
    }

    /// [`Vfs::open_home`], with new files, directories (and a home created now) given to
    /// `owner`.
    pub fn open_home_owned(
        home: &Path,
        perms: Permissions,
        owner: Option<crate::privs::Owner>,
    ) -> io::Result<Vfs> {
        let created = !home.exists();
        if created {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(home)?;
        }
        let root = shared_home(home)?;
        let vfs = Vfs {
            root,
            mounts: Vec::new(),
            patterns: FilePatterns::default(),
            quota: None,
            perms,
            owner,
        };
        if created {
            vfs.give(&vfs.root);
        }
        Ok(vfs)
    }

    /// Gives something just created to the user's uid/gid, where set. A failure is logged
    /// and the operation stands, as in SFTPGo.
    fn give(&self, fd: impl std::os::fd::AsFd) {
        if let Some(owner) = self.owner {
            if let Err(e) = crate::privs::give_to(fd, owner) {
                log::warn!(
                    "cannot give a new file to uid {:?} gid {:?}: {e}",
                    owner.uid,
                    owner.gid
                );
            }
        }
    }

    /// The user's whole view: home, virtual folders, file patterns and disk quotas, with
    /// usage scanned at the first login and kept in `usage`.
    pub fn for_user(
        user: &crate::auth::users::User,
        usage: std::sync::Arc<crate::limits::usage::Usage>,
        owner: Option<crate::privs::Owner>,
    ) -> io::Result<Vfs> {
        let mut vfs = Vfs::open_home_owned(&user.home_dir, user.permissions.clone(), owner)?;
        vfs.patterns = user.patterns.clone();
        for f in &user.virtual_folders {
            if !f.mapped_path.exists() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&f.mapped_path)?;
            }
            let dir = Dir::open_ambient_dir(&f.mapped_path, cap_std::ambient_authority())?;
            let quota = if f.quota_size < 0 || f.quota_files < 0 {
                MountQuota::User
            } else if f.quota_size == 0 && f.quota_files == 0 {
                MountQuota::Unlimited
            } else {
                let q = Quota {
                    usage: std::sync::Arc::clone(&usage),
                    key: quota::folder_key(&f.name),
                    size: f.quota_size as u64,
                    files: f.quota_files as u64,
                };
                q.ensure_scanned(&[&dir]);
                MountQuota::Own(q)
            };
            vfs.mounts.push(Mount {
                vpath: f.virtual_path.clone(),
                dir,
                quota,
            });
        }
        vfs.mounts.sort_by_key(|m| std::cmp::Reverse(m.vpath.len()));
        let limits = &user.limits;
        if limits.has_disk_quota() {
            let q = Quota {
                usage,
                key: user.username.clone(),
                size: limits.quota_size,
                files: limits.quota_files,
            };
            let mut roots = vec![&*vfs.root];
            roots.extend(
                vfs.mounts
                    .iter()
                    .filter(|m| matches!(m.quota, MountQuota::User))
                    .map(|m| &m.dir),
            );
            q.ensure_scanned(&roots);
            vfs.quota = Some(q);
        }
        Ok(vfs)
    }

    /// The virtual folder holding `p`, if any (the deepest).
    fn mount_of(&self, p: &str) -> Option<&Mount> {
        self.mounts.iter().find(|m| {
            p == m.vpath
                || p.strip_prefix(m.vpath.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// The directory handle `p` lives under.
    fn dir(&self, p: &str) -> &Dir {
        self.mount_of(p).map(|m| &m.dir).unwrap_or(&*self.root)
    }

    /// `p` relative to [`Vfs::dir`] ("." for the handle's own directory).
    fn rel<'a>(&self, p: &'a str) -> &'a str {
        match self.mount_of(p) {
            Some(m) => {
                let r = p.get(m.vpath.len()..).unwrap_or("").trim_start_matches('/');
                if r.is_empty() {
                    "."
                } else {
                    r
                }
            }
            None => path::relative(p),
        }
    }

    fn is_mount_point(&self, p: &str) -> bool {
        self.mounts.iter().any(|m| m.vpath == p)
    }

    /// The disk quota `p` counts against.
    fn quota_for(&self, p: &str) -> Option<&Quota> {
        match self.mount_of(p).map(|m| &m.quota) {
            Some(MountQuota::Own(q)) => Some(q),
            Some(MountQuota::Unlimited) => None,
            Some(MountQuota::User) | None => self.quota.as_ref(),
        }
    }

    /// Bytes an upload to `p` may write from offset `start` into a file of `prior` bytes
    /// (None: no size quota).
    pub fn upload_room(&self, p: &str, start: u64, prior: u64) -> Option<u64> {
        self.quota_for(p)
            .and_then(Quota::room)
            .map(|r| r.saturating_add(prior.saturating_sub(start)))
    }

    /// After an upload to `p` ended: usage follows the file's new size; `prior` is what
    /// it was before (None: it did not exist).
    pub fn upload_done(&self, p: &str, prior: Option<u64>) {
        let Some(q) = self.quota_for(p) else { return };
        let now = self.stat_unchecked_size(p);
        let size = now.unwrap_or(0) as i64 - prior.unwrap_or(0) as i64;
        let files = i64::from(now.is_some()) - i64::from(prior.is_some());
        q.adjust(size, files);
    }

    /// Refuses a name `filters.file_patterns` refuses; a hidden one is "not found". The
    /// rule holds for where symlinks really lead too: a link is no way around a pattern.
    fn name_ok(&self, p: &str) -> FsResult<()> {
        if self.patterns.is_empty() {
            return Ok(());
        }
        self.name_rule(p)?;
        match self.real_elsewhere(p) {
            Some(real) => self.name_rule(&real),
            None => Ok(()),
        }
    }

    fn name_rule(&self, p: &str) -> FsResult<()> {
        if self.patterns.hidden_on_path(p) {
            return Err(FsError::NotFound);
        }
        match self.patterns.verdict(p) {
            Verdict::Allowed => Ok(()),
            Verdict::Refused => Err(FsError::NameNotAllowed),
            Verdict::Hidden => Err(FsError::NotFound),
        }
    }

    /// A hidden name does not exist for the client, nor does what a link to one names.
    fn visible(&self, p: &str) -> FsResult<()> {
        if self.patterns.is_empty() {
            return Ok(());
        }
        let hidden = |q: &str| self.patterns.hidden_on_path(q);
        if hidden(p) || self.real_elsewhere(p).is_some_and(|real| hidden(&real)) {
            return Err(FsError::NotFound);
        }
        Ok(())
    }

    /// Where `p` really is when symlinks on its path lead elsewhere in the home: its real
    /// path, or for a name not there yet (an upload, MKD) its directory's real path and
    /// the name. None when that is `p` itself or cannot be found (the operation then
    /// meets the error itself).
    fn real_elsewhere(&self, p: &str) -> Option<String> {
        let real = match self.real_path(p) {
            Ok(real) => real,
            Err(FsError::NotFound) if p != "/" => {
                path::join(&self.real_path(path::parent(p)).ok()?, path::base_name(p))
            }
            Err(_) => return None,
        };
        (real != p).then_some(real)
    }

    pub fn permissions(&self) -> &Permissions {
        &self.perms
    }

    /// `perm` on directory `dir`, and on where `dir` really is when a symlink on the way
    /// leads elsewhere in the home: a link an administrator made from a writable directory
    /// into a read-only one gives no write access there.
    fn check(&self, dir: &str, perm: Perm, name: &'static str) -> FsResult<()> {
        if !self.perms.of_dir(dir).has(perm) {
            return Err(FsError::Denied(name));
        }
        // With one permission set for the whole home, where a path leads changes nothing.
        if !self.perms.has_entries_below("/") {
            return Ok(());
        }
        match self.real_path(dir) {
            Ok(real) if real != dir && !self.perms.of_dir(&real).has(perm) => {
                Err(FsError::Denied(name))
            }
            Ok(_) => Ok(()),
            // The operation itself meets the missing directory and says so.
            Err(FsError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `perm` for an operation on `p` itself that follows a symlink at `p`: checked on
    /// `p`'s directory and, when `p` is a link, on the directory it really leads to: a
    /// link to a file in a read-only directory gives no write access to that file. (The
    /// patterns follow links in [`Vfs::name_ok`] and [`Vfs::visible`].)
    fn check_on(&self, p: &str, perm: Perm, name: &'static str) -> FsResult<()> {
        self.check(path::parent(p), perm, name)?;
        // With one permission set for the whole home, where a link leads changes nothing.
        if !self.perms.has_entries_below("/") || !self.is_link(p) {
            return Ok(());
        }
        match self.real_path(p) {
            Ok(real) if !self.perms.of_dir(path::parent(&real)).has(perm) => {
                Err(FsError::Denied(name))
            }
            // A link to nothing: the operation meets the missing file and says so.
            Ok(_) | Err(FsError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn is_link(&self, p: &str) -> bool {
        self.dir(p)
            .symlink_metadata(self.rel(p))
            .is_ok_and(|m| m.file_type().is_symlink())
    }

    /// Metadata, following symlinks that stay inside; needs `list` on the parent.
    pub fn stat(&self, p: &str) -> FsResult<Meta> {
        self.visible(p)?;
        self.check_on(p, Perm::List, "list")?;
        self.stat_unchecked(p)
    }

    fn stat_unchecked(&self, p: &str) -> FsResult<Meta> {
        Ok(Meta::from_cap(&self.dir(p).metadata(self.rel(p))?))
    }

    /// For CWD: the directory must exist; no permission is needed to enter it.
    pub fn is_dir(&self, p: &str) -> FsResult<()> {
        self.visible(p)?;
        match self.stat_unchecked(p)?.kind {
            Kind::Dir => Ok(()),
            _ => Err(FsError::NotADirectory),
        }
    }

    /// A regular file to download (a FIFO or device is refused, not waited on).
    pub fn open_read(&self, p: &str) -> FsResult<std::fs::File> {
        self.open_regular(p).map(|(f, _)| f)
    }

    /// Checks what an upload to `p` needs: `upload` for a new file, `overwrite` for an
    /// existing one. Returns what is there, which the upload's open then takes (one
    /// lookup of the target, not one per step: each costs a confined path resolution).
    pub fn check_upload(&self, p: &str) -> FsResult<UploadTarget> {
        // An upload's refused name is refused as such (553), hidden or not.
        if self.name_ok(p).is_err() {
            return Err(FsError::NameNotAllowed);
        }
        let dir = path::parent(p);
        match self.dir(p).metadata(self.rel(p)) {
            Ok(m) if m.is_dir() => Err(FsError::IsADirectory),
            Ok(m) => {
                self.check_on(p, Perm::Overwrite, "overwrite")?;
                Ok(UploadTarget {
                    existed: true,
                    size: m.is_file().then(|| m.len()),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.check(dir, Perm::Upload, "upload")?;
                // quota_files: a new file when the count is reached is refused up front.
                if self.quota_for(p).is_some_and(|q| !q.file_allowed()) {
                    return Err(FsError::QuotaExceeded);
                }
                Ok(UploadTarget {
                    existed: false,
                    size: None,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Opens an upload's target, as [`Vfs::check_upload`] found and allowed it.
    pub fn open_write(
        &self,
        p: &str,
        mode: WriteMode,
        found: UploadTarget,
    ) -> FsResult<std::fs::File> {
        // A name that was not there is created, never opened (O_EXCL): so not through a
        // link to a missing file, which would create it where the link leads, past the
        // checks; and not a file another session made meanwhile, which a failed upload
        // would then remove as its own.
        let mode = if found.existed || mode == WriteMode::New {
            mode
        } else {
            WriteMode::NewAt(match mode {
                WriteMode::At(n) => n,
                _ => 0,
            })
        };
        self.open_write_unchecked(p, mode).map_err(|e| match e {
            // O_EXCL met a link to a missing file (see above): say so, not "File exists".
            FsError::AlreadyExists if !found.existed && self.is_link(p) => {
                FsError::Refused("a symbolic link to a missing file is not written through")
            }
            e => e,
        })
    }

    fn open_write_unchecked(&self, p: &str, mode: WriteMode) -> FsResult<std::fs::File> {
        use cap_std::fs::OpenOptionsExt;
        let mut o = OpenOptions::new();
        o.write(true);
        match mode {
            WriteMode::Truncate => o.create(true),
            WriteMode::Append => o.create(true).append(true),
            WriteMode::At(_) => o.create(true),
            WriteMode::New | WriteMode::NewAt(_) => o.create_new(true),
        };
        // Non-blocking, then checked: opening a FIFO for writing would wait for a reader.
        o.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let f = self.dir(p).open_with(self.rel(p), &o)?;
        if !f.metadata()?.is_file() {
            return Err(FsError::NotAFile);
        }
        // O_NONBLOCK stays: it changes nothing for a regular file.
        let f = f.into_std();
        if matches!(mode, WriteMode::New | WriteMode::NewAt(_)) {
            self.give(&f);
        }
        if let WriteMode::At(offset) | WriteMode::NewAt(offset) = mode {
            use std::io::Seek;
            let mut f = f;
            f.seek(io::SeekFrom::Start(offset))?;
            return Ok(f);
        }
        Ok(f)
    }

    /// The size of the file at `p`, if it is one (no permission needed: used for
    /// bookkeeping of an upload the caller checks itself).
    pub fn stat_unchecked_size(&self, p: &str) -> Option<u64> {
        self.dir(p)
            .metadata(self.rel(p))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Removes the file an upload of this session just created, when a limit refused it
    /// (the user's delete permission is not the question here).
    pub fn remove_own_upload(&self, p: &str) -> FsResult<()> {
        self.dir(p).remove_file(self.rel(p))?;
        Ok(())
    }

    /// Atomic upload: a fresh hidden file beside the target (same directory, so the final
    /// rename cannot cross filesystems), once [`Vfs::check_upload`] has allowed the target.
    pub fn open_temp(&self, target: &str) -> FsResult<(String, std::fs::File)> {
        let tmp = temp_beside(UPLOAD_TEMP_PREFIX, target);
        let f = self.open_write_unchecked(&tmp, WriteMode::New)?;
        Ok((tmp, f))
    }

    /// Moves a finished temporary upload into place.
    pub fn commit_temp(&self, tmp: &str, target: &str) -> FsResult<()> {
        self.dir(tmp)
            .rename(self.rel(tmp), self.dir(target), self.rel(target))?;
        Ok(())
    }

    /// Removes a temporary upload; errors are only logged by the caller.
    pub fn discard_temp(&self, tmp: &str) -> FsResult<()> {
        self.dir(tmp).remove_file(self.rel(tmp))?;
        Ok(())
    }

    /// STOU: a name that did not exist, created empty; returns its path and file.
    pub fn create_unique(&self, dir: &str, hint: &str) -> FsResult<(String, std::fs::File)> {
        self.check(dir, Perm::Upload, "upload")?;
        if self.quota_for(dir).is_some_and(|q| !q.file_allowed()) {
            return Err(FsError::QuotaExceeded);
        }
        let stem = if hint.is_empty() { "ftp" } else { hint };
        for attempt in 0..100u32 {
            let name = if attempt == 0 && !hint.is_empty() {
                stem.to_string()
            } else {
                let token = unique_token();
                format!(
                    "{}.{token}",
                    cut(stem, NAME_MAX.saturating_sub(token.len() + 1))
                )
            };
            let p = path::join(dir, &name);
            if self.name_ok(&p).is_err() {
                return Err(FsError::NameNotAllowed);
            }
            match self.open_write_unchecked(&p, WriteMode::New) {
                Ok(f) => return Ok((p, f)),
                Err(FsError::AlreadyExists) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(FsError::AlreadyExists)
    }

    /// Directory entries, symlinks followed where they stay inside the home; virtual
    /// folders below `dir` appear as directories, names hidden by file patterns do not.
    pub fn list(&self, dir: &str) -> FsResult<Vec<Entry>> {
        Ok(self.open_listing(dir, true)?.into_entries())
    }

    /// The names in directory `dir`, as [`Vfs::list`] has them, read in one readdir pass and
    /// not yet statted: a listing filters and sorts them, then stats them as it sends.
    /// With `stat` (the listing will stat them), a big directory's first entries are
    /// statted while it is read.
    pub fn open_listing(&self, dir: &str, stat: bool) -> FsResult<Names> {
        self.visible(dir)?;
        self.check(dir, Perm::List, "list")?;
        let rel = self.rel(dir);
        let d = if rel == "." {
            self.dir(dir).try_clone()?
        } else {
            self.dir(dir).open_dir(rel)?
        };
        let mounted: Vec<&Mount> = self
            .mounts
            .iter()
            .filter(|m| path::parent(&m.vpath) == dir)
            .collect();
        let mut names = Names::read(
            d,
            |name| {
                !mounted.iter().any(|m| path::base_name(&m.vpath) == name)
                    && (self.patterns.is_empty()
                        || self.patterns.verdict(&path::join(dir, name)) != Verdict::Hidden)
            },
            stat,
        )?;
        for m in mounted {
            if let Ok(md) = m.dir.dir_metadata() {
                names.push_known(path::base_name(&m.vpath), Meta::from_cap(&md))?;
            }
        }
        Ok(names)
    }

    pub fn mkdir(&self, p: &str) -> FsResult<()> {
        self.name_ok(p)?;
        self.check(path::parent(p), Perm::CreateDirs, "create_dirs")?;
        self.dir(p).create_dir(self.rel(p))?;
        if self.owner.is_some() {
            if let Ok(d) = self.dir(p).open_dir(self.rel(p)) {
                self.give(&d);
            }
        }
        Ok(())
    }

    pub fn rmdir(&self, p: &str) -> FsResult<()> {
        if p == "/" {
            return Err(FsError::Denied("delete_dirs"));
        }
        if self.is_mount_point(p) {
            return Err(FsError::Refused("a virtual folder cannot be removed"));
        }
        self.name_ok(p)?;
        self.check(path::parent(p), Perm::DeleteDirs, "delete_dirs")?;
        let m = self.dir(p).symlink_metadata(self.rel(p))?;
        if !m.is_dir() {
            return Err(FsError::NotADirectory);
        }
        self.dir(p).remove_dir(self.rel(p))?;
        Ok(())
    }

    pub fn delete(&self, p: &str) -> FsResult<()> {
        self.name_ok(p)?;
        self.check(path::parent(p), Perm::DeleteFiles, "delete_files")?;
        let m = self.dir(p).symlink_metadata(self.rel(p))?;
        if m.is_dir() {
            return Err(FsError::IsADirectory);
        }
        self.dir(p).remove_file(self.rel(p))?;
        if m.is_file() {
            if let Some(q) = self.quota_for(p) {
                q.adjust(-(m.len() as i64), -1);
            }
        }
        Ok(())
    }

    /// RNFR's check: the source exists and may be renamed.
    pub fn check_rename_source(&self, from: &str) -> FsResult<()> {
        if from == "/" {
            return Err(FsError::Denied("rename"));
        }
        if self.is_mount_point(from) {
            return Err(FsError::Refused("a virtual folder cannot be renamed"));
        }
        self.name_ok(from)?;
        let m = self.dir(from).symlink_metadata(self.rel(from))?;
        if m.is_dir() {
            self.check(path::parent(from), Perm::RenameDirs, "rename_dirs")
        } else {
            self.check(path::parent(from), Perm::RenameFiles, "rename_files")
        }
    }

    pub fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        self.check_rename_source(from)?;
        if to == "/" || self.is_mount_point(to) {
            return Err(FsError::Denied("rename"));
        }
        self.name_ok(to)?;
        // Each virtual folder is its own directory tree (often its own filesystem).
        if self.mount_of(from).map(|m| &m.vpath) != self.mount_of(to).map(|m| &m.vpath) {
            return Err(FsError::Refused(
                "renaming between the home and a virtual folder is not supported",
            ));
        }
        let is_dir = self.dir(from).symlink_metadata(self.rel(from))?.is_dir();
        let (perm, name) = if is_dir {
            (Perm::RenameDirs, "rename_dirs")
        } else {
            (Perm::RenameFiles, "rename_files")
        };
        self.check(path::parent(to), perm, name)?;
        let replaced = match self.dir(to).symlink_metadata(self.rel(to)) {
            Ok(m) if !m.is_dir() => {
                self.check(path::parent(to), Perm::Overwrite, "overwrite")?;
                m.is_file().then(|| m.len())
            }
            _ => None,
        };
        self.dir(from)
            .rename(self.rel(from), self.dir(to), self.rel(to))?;
        // A file renamed over another: the one replaced no longer counts.
        if let (Some(size), Some(q)) = (replaced, self.quota_for(to)) {
            q.adjust(-(size as i64), -1);
        }
        Ok(())
    }

    /// Refuses the home and a virtual folder's root (which other users may share), named
    /// directly or through a link: SITE CHMOD and MFMT leave them as they are, as RMD and
    /// RNFR do.
    fn not_a_root(&self, p: &str, why: &'static str) -> FsResult<()> {
        let real = match self.real_path(p) {
            Ok(real) => real,
            Err(FsError::NotFound) => p.to_string(),
            Err(e) => return Err(e),
        };
        if [p, real.as_str()]
            .iter()
            .any(|q| *q == "/" || self.is_mount_point(q))
        {
            return Err(FsError::Refused(why));
        }
        Ok(())
    }

    pub fn set_mtime(&self, p: &str, t: SystemTime) -> FsResult<()> {
        use cap_fs_ext::{DirExt, SystemTimeSpec};
        self.not_a_root(p, "the home and virtual folders keep their times")?;
        self.name_ok(p)?;
        self.check_on(p, Perm::Chtimes, "chtimes")?;
        let spec = || SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t));
        self.dir(p)
            .set_times(self.rel(p), Some(spec()), Some(spec()))?;
        Ok(())
    }
}

/// Prefix of COMB's temporary file, beside the target until it is renamed into place.
pub const COMB_TEMP_PREFIX: &str = ".ferroftpd-comb.";
/// Prefix of an atomic upload's temporary file.
const UPLOAD_TEMP_PREFIX: &str = ".ferroftpd-upload.";

/// COMB's outcome when the target is in place: the parts that could not be removed.
pub type Leftovers = Vec<(String, FsError)>;

/// Protocol extensions (draft-bryan-ftpext-hash, COMB, SITE CHMOD/SYMLINK, AVBL).
impl Vfs {
    /// For HASH and the checksum commands: a regular file the user may download, and its
    /// size. Opened non-blocking, so a FIFO cannot hang the session before it is refused.
    pub fn open_regular(&self, p: &str) -> FsResult<(std::fs::File, u64)> {
        self.name_ok(p)?;
        self.check_on(p, Perm::Download, "download")?;
        self.open_regular_unchecked(p)
    }

    /// The file an upload resumes, for reading where REST points in it (TYPE A: the stored
    /// offset of a converted one). The caller has checked the upload (`check_upload`):
    /// the bytes are read by the server only, never sent, so no download right is needed.
    pub fn open_resumed(&self, p: &str) -> FsResult<std::fs::File> {
        self.open_regular_unchecked(p).map(|(f, _)| f)
    }

    /// A regular file opened for reading (non-blocking, so a FIFO never waits for a
    /// writer), with its size; a directory or anything else is refused.
    fn open_regular_unchecked(&self, p: &str) -> FsResult<(std::fs::File, u64)> {
        use cap_std::fs::OpenOptionsExt;
        let mut o = OpenOptions::new();
        o.read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let f = self.dir(p).open_with(self.rel(p), &o)?;
        let m = f.metadata()?;
        if m.is_dir() {
            return Err(FsError::IsADirectory);
        }
        if !m.is_file() {
            return Err(FsError::NotAFile);
        }
        Ok((f.into_std(), m.len()))
    }

    /// SITE CHMOD: permission bits only (the caller's parser caps `mode` at 0o777, and it is
    /// masked again here: no set-id or sticky bits from a client). Needs `chmod` on the
    /// parent; the home directory itself is refused, as RMD refuses it.
    pub fn chmod(&self, p: &str, mode: u32) -> FsResult<()> {
        use cap_std::fs::PermissionsExt;
        self.not_a_root(p, "the home and virtual folders keep their mode")?;
        self.name_ok(p)?;
        self.check_on(p, Perm::Chmod, "chmod")?;
        self.dir(p).set_permissions(
            self.rel(p),
            cap_std::fs::Permissions::from_mode(mode & 0o777),
        )?;
        Ok(())
    }

    /// SITE SYMLINK: a new link `link` pointing at `source` (both cleaned virtual paths).
    /// Needs `create_symlinks` on the link's parent. The stored target is relative and
    /// computed from where the link's directory really is (symlinks in its path resolved,
    /// inside the home), so it never climbs above the home. Returns the stored target.
    pub fn symlink(&self, source: &str, link: &str) -> FsResult<String> {
        if source == "/" || link == "/" {
            return Err(FsError::Refused("the home directory cannot be linked"));
        }
        self.name_ok(link)?;
        // A link must not name what the patterns refuse or hide.
        self.name_ok(source)?;
        if self.mount_of(source).map(|m| &m.vpath) != self.mount_of(link).map(|m| &m.vpath) {
            return Err(FsError::Refused(
                "links between the home and a virtual folder are not supported",
            ));
        }
        self.check(path::parent(link), Perm::CreateSymlinks, "create_symlinks")?;
        // Paths through the link are checked against the link's directory: refuse a link
        // that would give the source's contents other permissions than they have.
        let p = &self.perms;
        if p.of_dir(path::parent(source)) != p.of_dir(path::parent(link))
            || p.of_dir(source) != p.of_dir(link)
            || p.has_entries_below(source)
            || p.has_entries_below(link)
        {
            return Err(FsError::Refused(
                "the link and its source must have the same permissions",
            ));
        }
        let dir = self.real_path(path::parent(link))?;
        // An existing source is named by its real place too; a missing one (a dangling link
        // is allowed, as in SFTPGo) by its virtual path, which is inside the home by
        // construction.
        let to = match self.real_path(source) {
            Ok(real) => real,
            Err(FsError::NotFound) => source.to_string(),
            Err(e) => return Err(e),
        };
        let target = path::link_target(&dir, &to);
        self.dir(link).symlink(&target, self.rel(link))?;
        Ok(target)
    }

    /// Where `p` really is below the home, as a "/"-rooted path: symlinks resolved, and
    /// an error (not a path) when one leads outside.
    fn real_path(&self, p: &str) -> FsResult<String> {
        let real = self.dir(p).canonicalize(self.rel(p))?;
        // Inside a virtual folder the real path is below the folder: name it from there.
        let mut out = self
            .mount_of(p)
            .map(|m| m.vpath.clone())
            .unwrap_or_default();
        for part in real.components() {
            match part {
                std::path::Component::Normal(name) => {
                    let name = name
                        .to_str()
                        .ok_or(FsError::Refused("a name on the path is not UTF-8"))?;
                    out.push('/');
                    out.push_str(name);
                }
                std::path::Component::CurDir => {}
                _ => return Err(FsError::Refused("the path leads outside the home")),
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(out)
    }

    /// COMB: `target` becomes its old content (if any) followed by every part in order,
    /// then the parts are removed. Every permission and part is checked before anything is
    /// written, and the result is built in a temporary file beside the target and renamed
    /// over it, so a refusal or failure leaves all files as they were. Needs upload (or
    /// overwrite) on the target, download and delete_files on each part. The error names
    /// the path it is about.
    pub fn combine(&self, target: &str, parts: &[String]) -> Result<Leftovers, (String, FsError)> {
        let found = self.check_upload(target).map_err(at(target))?;
        let (existed, prior) = (found.existed, found.size);
        for (i, part) in parts.iter().enumerate() {
            if part == target {
                return Err((
                    part.clone(),
                    FsError::Refused("a part cannot be the target"),
                ));
            }
            if parts.iter().take(i).any(|q| q == part) {
                return Err((part.clone(), FsError::Refused("a part is named twice")));
            }
            self.name_ok(part).map_err(at(part))?;
            let dir = path::parent(part);
            self.check_on(part, Perm::Download, "download")
                .map_err(at(part))?;
            self.check(dir, Perm::DeleteFiles, "delete_files")
                .map_err(at(part))?;
            let m = self.dir(part).metadata(self.rel(part)).map_err(at(part))?;
            if m.is_dir() {
                return Err((part.clone(), FsError::IsADirectory));
            }
            if !m.is_file() {
                return Err((part.clone(), FsError::NotAFile));
            }
        }
        let tmp = temp_beside(COMB_TEMP_PREFIX, target);
        let mut out = self
            .open_write_unchecked(&tmp, WriteMode::New)
            .map_err(at(target))?;
        let built = self.fill_combined(&mut out, &tmp, target, existed, parts);
        drop(out);
        if let Err(e) = built {
            if let Err(rm) = self.dir(&tmp).remove_file(self.rel(&tmp)) {
                log::warn!(
                    "COMB: cannot remove temporary file {}: {rm}",
                    crate::log::printable(&tmp)
                );
            }
            return Err(e);
        }
        self.upload_done(target, prior);
        let mut leftovers = Vec::new();
        for part in parts {
            let size = self.stat_unchecked_size(part).unwrap_or(0);
            match self.dir(part).remove_file(self.rel(part)) {
                Ok(()) => {
                    if let Some(q) = self.quota_for(part) {
                        q.adjust(-(size as i64), -1);
                    }
                }
                Err(e) => leftovers.push((part.clone(), FsError::from(e))),
            }
        }
        Ok(leftovers)
    }

    /// Writes COMB's result into `out` (the temporary file) and renames it over `target`.
    fn fill_combined(
        &self,
        out: &mut std::fs::File,
        tmp: &str,
        target: &str,
        existed: bool,
        parts: &[String],
    ) -> Result<(), (String, FsError)> {
        use std::os::unix::fs::PermissionsExt;
        if existed {
            let mut old = self
                .dir(target)
                .open(self.rel(target))
                .map_err(at(target))?;
            let mode = old.metadata().map_err(at(target))?.mode();
            io::copy(&mut old, out).map_err(at(target))?;
            // The combined file replaces the old one: keep its permission bits.
            out.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(at(target))?;
        }
        for part in parts {
            let mut f = self.dir(part).open(self.rel(part)).map_err(at(part))?;
            io::copy(&mut f, out).map_err(at(part))?;
        }
        // On disk before the rename, so a crash cannot leave a short target in place.
        out.sync_all().map_err(at(target))?;
        self.commit_temp(tmp, target)
            .map_err(|e| (target.to_string(), e))
    }

    /// AVBL: bytes an unprivileged user may still write on the filesystem holding `dir`
    /// (statvfs f_bavail * f_frsize). A file is refused with NotADirectory. No permission
    /// is needed, as for CWD.
    pub fn free_space(&self, dir: &str) -> FsResult<u64> {
        let rel = self.rel(dir);
        let st = if rel == "." {
            rustix::fs::fstatvfs(self.dir(dir))
        } else {
            let d = self.dir(dir).open_dir(rel)?;
            rustix::fs::fstatvfs(&d)
        }
        .map_err(io::Error::from)?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }
}

/// Tags an error with the path it is about (COMB reports which of its files failed).
fn at<E: Into<FsError>>(p: &str) -> impl FnOnce(E) -> (String, FsError) + '_ {
    move |e| (p.to_string(), e.into())
}

/// The longest file name (bytes) on Linux and the BSDs.
const NAME_MAX: usize = 255;

/// A temporary file's path beside `target`: `prefix`, a unique token, then as much of the
/// target's name as fits in a name, so that a long name still uploads.
fn temp_beside(prefix: &str, target: &str) -> String {
    let head = format!("{prefix}{}.", unique_token());
    let base = cut(path::base_name(target), NAME_MAX.saturating_sub(head.len()));
    path::join(path::parent(target), &format!("{head}{base}"))
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
