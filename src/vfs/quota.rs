//! Disk quotas (`quota_size` bytes, `quota_files` files) of a user or a virtual folder with
//! its own quota: usage is scanned once (at the first login), kept in [`Usage`] across
//! sessions, and adjusted by every upload, delete, overwrite and rename over a file.

use crate::limits::usage::{Disk, Usage};
use cap_std::fs::Dir;
use std::sync::Arc;

/// One quota and where its usage is kept.
#[derive(Clone)]
pub struct Quota {
    pub usage: Arc<Usage>,
    /// The key in `usage`: the user name, or a folder's reserved key.
    pub key: String,
    pub size: u64,
    pub files: u64,
}

/// The key a folder with its own quota keeps its usage under (no user name has a NUL).
pub fn folder_key(name: &str) -> String {
    format!("\0folder:{name}")
}

impl Quota {
    pub fn used(&self) -> Disk {
        self.usage.disk(&self.key).unwrap_or_default()
    }

    /// Scans `roots` once for this key if nobody did yet.
    pub fn ensure_scanned(&self, roots: &[&Dir]) {
        if self.usage.disk(&self.key).is_some() {
            return;
        }
        let mut total = Disk::default();
        for d in roots {
            let t = scan(d);
            total.size += t.size;
            total.files += t.files;
        }
        self.usage.init_disk(&self.key, total);
    }

    /// Bytes that may still be written (None: no size quota).
    pub fn room(&self) -> Option<u64> {
        (self.size > 0).then(|| self.size.saturating_sub(self.used().size))
    }

    /// Whether one more file is allowed.
    pub fn file_allowed(&self) -> bool {
        self.files == 0 || self.used().files < self.files
    }

    pub fn adjust(&self, size: i64, files: i64) {
        self.usage.adjust_disk(&self.key, size, files);
    }
}

/// Sizes and counts the regular files below `d` (symlinks not followed, bounded depth).
pub fn scan(d: &Dir) -> Disk {
    const MAX_DEPTH: usize = 64;
    let mut total = Disk::default();
    let mut stack: Vec<(Dir, usize)> = match d.try_clone() {
        Ok(c) => vec![(c, 0)],
        Err(_) => return total,
    };
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = dir.entries() else { continue };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_file() {
                if let Ok(m) = entry.metadata() {
                    total.size += m.len();
                    total.files += 1;
                }
            } else if ft.is_dir() && depth < MAX_DEPTH {
                if let Ok(sub) = entry.open_dir() {
                    stack.push((sub, depth + 1));
                }
            }
        }
    }
    total
}
