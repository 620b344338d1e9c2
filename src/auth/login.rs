//! The login decision for USER/PASS, in SFTPGo's order: user, status, expiration, password,
//! FTP not denied, IP filters. Home directory opening happens in the session.
//!
//! An unknown user costs the same bcrypt work as a known one (checked against a dummy hash),
//! so response time does not tell which user names exist; only after a correct password is
//! a more specific reason (disabled, expired, address) given.

use super::hash;
use super::users::{User, UserDb};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user, wrong password, or no password set: one answer for all.
    BadCredentials,
    Disabled,
    Expired,
    ProtocolDenied,
    AddressDenied,
    /// The stored hash could not be read (logged, not shown).
    BadHash,
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoginError::BadCredentials => "Login incorrect",
            LoginError::Disabled => "Login refused: account disabled",
            LoginError::Expired => "Login refused: account expired",
            LoginError::ProtocolDenied => "Login refused: FTP is not allowed for this account",
            LoginError::AddressDenied => "Login refused: not allowed from this address",
            LoginError::BadHash => "Login incorrect",
        })
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash::hash_bcrypt(b"ferroftpd-dummy", 10).unwrap_or_default())
}

pub fn authenticate(
    db: &UserDb,
    username: &str,
    password: &str,
    ip: IpAddr,
) -> Result<Arc<User>, LoginError> {
    let Some(user) = db.get(username) else {
        let _ = hash::verify(dummy_hash(), password.as_bytes());
        return Err(LoginError::BadCredentials);
    };
    if user.password_hash.is_empty() {
        let _ = hash::verify(dummy_hash(), password.as_bytes());
        return Err(LoginError::BadCredentials);
    }
    match hash::verify(&user.password_hash, password.as_bytes()) {
        Ok(true) => {}
        Ok(false) => return Err(LoginError::BadCredentials),
        Err(_) => return Err(LoginError::BadHash),
    }
    if !user.enabled {
        return Err(LoginError::Disabled);
    }
    if user.expired(SystemTime::now()) {
        return Err(LoginError::Expired);
    }
    if user.ftp_denied {
        return Err(LoginError::ProtocolDenied);
    }
    if !user.ip_allowed(ip.to_canonical()) {
        return Err(LoginError::AddressDenied);
    }
    Ok(user)
}
