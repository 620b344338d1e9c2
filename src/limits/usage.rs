//! What each user has used, shared by all of the user's sessions and kept in memory (as
//! SFTPGo's memory provider does, it starts again at restart): open sessions, bytes moved
//! (transfer quotas) and, once scanned, disk usage (size quota and file count).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub size: u64,
    pub files: u64,
}

#[derive(Default)]
struct UserUsage {
    sessions: u32,
    uploaded: u64,
    downloaded: u64,
    disk: Option<Disk>,
}

#[derive(Default)]
pub struct Usage {
    users: Mutex<HashMap<String, UserUsage>>,
}

/// One open session of a user; dropping it closes the count.
pub struct SessionGuard {
    usage: Arc<Usage>,
    user: String,
}

impl Usage {
    pub fn new() -> Arc<Usage> {
        Arc::new(Usage::default())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, UserUsage>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a new session; Err(open) when `max` (0 = unlimited) are open already.
    pub fn open_session(self: &Arc<Self>, user: &str, max: u32) -> Result<SessionGuard, u32> {
        let mut map = self.lock();
        let u = map.entry(user.to_string()).or_default();
        if max > 0 && u.sessions >= max {
            return Err(u.sessions);
        }
        u.sessions += 1;
        Ok(SessionGuard {
            usage: Arc::clone(self),
            user: user.to_string(),
        })
    }

    /// (uploaded, downloaded) bytes so far.
    pub fn transferred(&self, user: &str) -> (u64, u64) {
        self.lock()
            .get(user)
            .map(|u| (u.uploaded, u.downloaded))
            .unwrap_or((0, 0))
    }

    pub fn add_transferred(&self, user: &str, up: u64, down: u64) {
        let mut map = self.lock();
        let u = map.entry(user.to_string()).or_default();
        u.uploaded = u.uploaded.saturating_add(up);
        u.downloaded = u.downloaded.saturating_add(down);
    }

    pub fn disk(&self, user: &str) -> Option<Disk> {
        self.lock().get(user).and_then(|u| u.disk)
    }

    /// Records a scan's result unless another session recorded one first.
    pub fn init_disk(&self, user: &str, disk: Disk) {
        let mut map = self.lock();
        let u = map.entry(user.to_string()).or_default();
        u.disk.get_or_insert(disk);
    }

    /// Applies a change in bytes and files (an upload, delete, overwrite...).
    pub fn adjust_disk(&self, user: &str, size: i64, files: i64) {
        let mut map = self.lock();
        if let Some(d) = map.get_mut(user).and_then(|u| u.disk.as_mut()) {
            d.size = d.size.saturating_add_signed(size);
            d.files = d.files.saturating_add_signed(files);
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut map = self.usage.lock();
        if let Some(u) = map.get_mut(&self.user) {
            u.sessions = u.sessions.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_capped_and_released() {
        let u = Usage::new();
        let a = u.open_session("x", 2).unwrap();
        let _b = u.open_session("x", 2).unwrap();
        assert_eq!(u.open_session("x", 2).err(), Some(2));
        drop(a);
        assert!(u.open_session("x", 2).is_ok());
        assert!(u.open_session("y", 0).is_ok());
    }

    #[test]
    fn transfers_and_disk() {
        let u = Usage::new();
        u.add_transferred("x", 5, 7);
        assert_eq!(u.transferred("x"), (5, 7));
        u.adjust_disk("x", 10, 1);
        assert_eq!(u.disk("x"), None, "no adjustment before a scan");
        u.init_disk(
            "x",
            Disk {
                size: 100,
                files: 2,
            },
        );
        u.adjust_disk("x", -40, -1);
        assert_eq!(u.disk("x"), Some(Disk { size: 60, files: 1 }));
    }
}
