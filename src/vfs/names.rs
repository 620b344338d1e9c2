//! A directory's entries for a listing: read in one readdir pass, kept by name, statted
//! one by one as the listing is sent ([`Names::meta`]), some of them while it is read
//! ([`super::stat_ahead::while_reading`]).
//!
//! The names live back to back in one buffer, each ended by a NUL so it goes to fstatat as
//! it is; an entry is three integers. A listing of any size makes a handful of
//! allocations, not a few per entry. On Linux the directory is read with getdents64 into
//! one reusable buffer ([`rustix::fs::RawDir`]); elsewhere through rustix's `Dir`, which
//! allocates each name before it is copied here.

use super::stat_ahead::Early;
use super::{Kind, Meta};
use cap_std::fs::Dir;
use std::borrow::Cow;
use std::ffi::{CStr, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

/// A directory's entries by name, not statted yet ([`super::Vfs::open_listing`]).
pub struct Names {
    /// The directory: stat calls and symlinks go through it.
    dir: Dir,
    /// Every name with its NUL, back to back.
    text: Vec<u8>,
    items: Vec<Item>,
    /// Virtual folders mounted here, statted when they were found.
    known: Vec<Meta>,
    /// What was statted while the directory was read, by reading order (`Item::seq`)
    /// ([`super::stat_ahead::while_reading`]).
    early: Early,
}

/// One entry: its name is `text[start..start + len]` (the NUL follows); `known` indexes
/// [`Names::known`] for a virtual folder, u32::MAX for an entry on disk; `seq` is its
/// number in reading order.
#[derive(Clone, Copy)]
struct Item {
    start: u32,
    len: u32,
    known: u32,
    seq: u32,
}

const ON_DISK: u32 = u32::MAX;
/// A directory at least this size (st_size) is big enough to stat while it is read from
/// the start (see [`super::stat_ahead::while_reading`]).
const BIG_DIR_BYTES: i64 = 64 << 10;

impl Item {
    /// This entry's name in `text` (empty if `text` is not the buffer it came from).
    fn name(self, text: &[u8]) -> &[u8] {
        let start = self.start as usize;
        text.get(start..start + self.len as usize).unwrap_or(&[])
    }

    /// The name with its NUL, as fstatat takes it.
    fn name_with_nul(self, text: &[u8]) -> Option<&[u8]> {
        let start = self.start as usize;
        text.get(start..=start + self.len as usize)
    }
}

impl Names {
    /// Reads directory `dir` (reopened here for reading, so with an offset of its own),
    /// keeping the names `keep` accepts; "." and ".." are never kept. With `stat`, a big
    /// directory's entries are statted by a helper thread as they are read.
    pub fn read(dir: Dir, mut keep: impl FnMut(&str) -> bool, stat: bool) -> io::Result<Names> {
        let (mut text, mut items) = (Vec::new(), Vec::new());
        // Keeps a name; `seen` (with `stat`) hands it to the helper as well.
        let mut read = |seen: &mut dyn FnMut(u32, &[u8])| {
            read_raw(&dir, |raw| {
                if raw == b"." || raw == b".." || !keep(&String::from_utf8_lossy(raw)) {
                    return Ok(());
                }
                push_name(&mut text, &mut items, raw, ON_DISK)?;
                if let Some(item) = items.last() {
                    seen(item.seq, text.get(item.start as usize..).unwrap_or(&[]));
                }
                Ok(())
            })
        };
        let mut early = Early::default();
        if stat {
            let stat_one = |name: &[u8]| stat_name(&dir, &dir, name);
            // A directory's size grows with its entries on most file systems (ext4: 4 KiB
            // blocks of about 150 short names). Only a hint: where it says nothing, the
            // helper starts after START_READING names; an ext4 directory that once was
            // big keeps its size, and costs a helper that finds little to do.
            let big = rustix::fs::fstat(&dir).is_ok_and(|st| st.st_size >= BIG_DIR_BYTES);
            ((), early) = super::stat_ahead::while_reading(big, &stat_one, read)?;
        } else {
            read(&mut |_, _| {})?;
        }
        Ok(Names {
            dir,
            text,
            items,
            known: Vec::new(),
            early,
        })
    }

    /// Adds a virtual folder mounted in this directory, with its metadata.
    pub fn push_known(&mut self, name: &str, meta: Meta) -> io::Result<()> {
        let at = u32::try_from(self.known.len()).map_err(|_| too_big())?;
        self.known.push(meta);
        push_name(&mut self.text, &mut self.items, name.as_bytes(), at)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entry `i`'s name ("" past the end); a name that is not UTF-8 is shown with U+FFFD
    /// where its bytes are not.
    pub fn name(&self, i: usize) -> Cow<'_, str> {
        match self.items.get(i) {
            Some(item) => String::from_utf8_lossy(item.name(&self.text)),
            None => Cow::Borrowed(""),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let text = &self.text;
        self.items
            .retain(|item| keep(&String::from_utf8_lossy(item.name(text))));
    }

    /// By name, byte by byte (for UTF-8 names, the order of `str`).
    pub fn sort_by_name(&mut self) {
        let text = &self.text;
        self.items
            .sort_unstable_by(|a, b| a.name(text).cmp(b.name(text)));
    }

    pub fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
    }

    /// The metadata of entry `i` (one stat), symlinks followed where they stay inside; None
    /// for an entry that vanished since the directory was read (or past the end).
    pub fn meta(&self, i: usize) -> Option<Meta> {
        self.meta_through(&self.dir, i)
    }

    /// A second handle on this directory with an open file description of its own, for a
    /// helper thread's stat calls: threads statting through one shared description bounce
    /// its reference count between cores on every call (8% of a big listing's time).
    pub fn own_handle(&self) -> io::Result<rustix::fd::OwnedFd> {
        open_for_reading(&self.dir)
    }

    /// As [`Names::meta`], the stat going through `dir`, a handle on this same directory.
    pub fn meta_through(&self, dir: &impl rustix::fd::AsFd, i: usize) -> Option<Meta> {
        let item = *self.items.get(i)?;
        if item.known != ON_DISK {
            return self.known.get(item.known as usize).cloned();
        }
        if let Some(early) = self.early.get(item.seq) {
            return early.clone();
        }
        stat_name(dir, &self.dir, item.name_with_nul(&self.text)?)
    }
}

/// The metadata of the entry named `name` (with its NUL) in directory `dir`, statted
/// through `fd`, a handle on `dir`; symlinks followed where they stay inside.
fn stat_name(fd: &impl rustix::fd::AsFd, dir: &Dir, name: &[u8]) -> Option<Meta> {
    let name = CStr::from_bytes_with_nul(name).ok()?;
    // The name is one component read from this very directory, and the stat does not
    // follow a symlink: it cannot leave the directory. Following is cap-std's, below.
    let st = rustix::fs::statat(fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
    let meta = meta_of(&st);
    if meta.kind == Kind::Link {
        if let Ok(m) = dir.metadata(OsStr::from_bytes(name.to_bytes())) {
            return Some(Meta::from_cap(&m));
        }
    }
    Some(meta)
}

impl Names {
    /// Every entry statted, in the current order.
    pub fn into_entries(self) -> Vec<super::Entry> {
        (0..self.len())
            .filter_map(|i| {
                let meta = self.meta(i)?;
                Some(super::Entry {
                    name: self.name(i).into_owned(),
                    meta,
                })
            })
            .collect()
    }
}

fn push_name(text: &mut Vec<u8>, items: &mut Vec<Item>, raw: &[u8], known: u32) -> io::Result<()> {
    let start = u32::try_from(text.len()).map_err(|_| too_big())?;
    let len = u32::try_from(raw.len()).map_err(|_| too_big())?;
    let seq = u32::try_from(items.len()).map_err(|_| too_big())?;
    text.extend_from_slice(raw);
    text.push(0);
    items.push(Item {
        start,
        len,
        known,
        seq,
    });
    Ok(())
}

fn too_big() -> io::Error {
    io::Error::other("directory too large to list")
}

// The stat fields' types differ between systems (st_mode is u16 on some BSDs, st_dev
// narrower than u64): conversions that are no-ops on Linux are needed there.
#[allow(clippy::useless_conversion)]
fn meta_of(st: &rustix::fs::Stat) -> Meta {
    let mode = u32::from(st.st_mode);
    // The S_IFMT values are the same on every Unix.
    let kind = match mode & 0o170000 {
        0o040000 => Kind::Dir,
        0o100000 => Kind::File,
        0o120000 => Kind::Link,
        _ => Kind::Other,
    };
    let secs = i64::try_from(st.st_mtime).unwrap_or(0);
    let nanos = u32::try_from(st.st_mtime_nsec)
        .unwrap_or(0)
        .min(999_999_999);
    let mtime = match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::new(s, nanos),
        Err(_) => SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
    };
    Meta {
        kind,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime,
        mode,
        dev: u64::try_from(st.st_dev).unwrap_or(0),
        ino: u64::try_from(st.st_ino).unwrap_or(0),
    }
}

/// Calls `each` with every name in `dir`, "." and ".." included: getdents64 into one
/// buffer, no allocation per entry.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_raw(dir: &Dir, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let fd = open_for_reading(dir)?;
    let mut buf: Vec<u8> = Vec::with_capacity(32 << 10);
    let mut entries = rustix::fs::RawDir::new(&fd, buf.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        each(entry.file_name().to_bytes())?;
    }
    Ok(())
}

/// As above, through rustix's portable `Dir`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_raw(dir: &Dir, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut d = rustix::fs::Dir::new(open_for_reading(dir)?)?;
    while let Some(entry) = d.read() {
        let entry = entry?;
        each(entry.file_name().to_bytes())?;
    }
    Ok(())
}

/// The directory itself ("."), opened for reading with an offset of its own: cap-std's
/// handles may be O_PATH (Linux), which cannot be read, and are shared.
fn open_for_reading(dir: &Dir) -> io::Result<rustix::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}
