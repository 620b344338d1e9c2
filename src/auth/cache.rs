//! The password cache (SFTPGo's `password_caching`): a password that verified once is
//! remembered, as a salted SHA-256, so repeated logins skip the slow hash (bcrypt costs
//! tens of milliseconds by design). An entry is bound to the stored hash it was checked
//! against, so a changed password in the users file invalidates it.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// More entries than this and the cache starts over (bounded memory, whatever happens).
const MAX_ENTRIES: usize = 65_536;

pub struct PasswordCache {
    salt: [u8; 16],
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// Digest of the stored hash the password was verified against.
    stored: [u8; 32],
    /// Salted digest of the password itself.
    password: [u8; 32],
}

impl PasswordCache {
    /// `salt` must be random (process-wide), so the digests are useless outside this process.
    pub fn new(salt: [u8; 16]) -> PasswordCache {
        PasswordCache {
            salt,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        h.finalize().into()
    }

    /// True if `password` was verified before for this user against this very stored hash.
    pub fn check(&self, username: &str, stored_hash: &str, password: &[u8]) -> bool {
        let stored = self.digest(&[stored_hash.as_bytes()]);
        let pw = self.digest(&[username.as_bytes(), password]);
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(username) {
            Some(e) => ct_eq(&e.stored, &stored) & ct_eq(&e.password, &pw),
            None => false,
        }
    }

    /// Remembers a password that just verified.
    pub fn remember(&self, username: &str, stored_hash: &str, password: &[u8]) {
        let entry = Entry {
            stored: self.digest(&[stored_hash.as_bytes()]),
            password: self.digest(&[username.as_bytes(), password]),
        };
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES && !map.contains_key(username) {
            map.clear();
        }
        map.insert(username.to_string(), entry);
    }

    /// Forgets a user's entry (a failed login with a different password).
    pub fn forget(&self, username: &str) {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(username);
    }
}

/// Constant-time equality of two digests.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_invalidates_on_hash_change() {
        let c = PasswordCache::new([7; 16]);
        assert!(!c.check("u", "$2a$old", b"pw"));
        c.remember("u", "$2a$old", b"pw");
        assert!(c.check("u", "$2a$old", b"pw"));
        assert!(!c.check("u", "$2a$old", b"other"));
        assert!(
            !c.check("u", "$2a$new", b"pw"),
            "a new stored hash must not match"
        );
        assert!(!c.check("v", "$2a$old", b"pw"));
        c.forget("u");
        assert!(!c.check("u", "$2a$old", b"pw"));
    }
}
