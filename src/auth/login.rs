//! The login decision for USER/PASS, in SFTPGo's order: user, status, expiration, password,
//! FTP not denied, IP filters. Home directory opening happens in the session.
//!
//! An unknown user costs the same bcrypt work as a known one (checked against a dummy hash),
//! so response time does not tell which user names exist; only after a correct password is
//! a more specific reason (disabled, expired, address) given.

use super::cache::PasswordCache;
use super::hash;
use super::users::{User, UserDb};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user, or no password set: the client sees the same as for a wrong password.
    BadCredentials,
    /// An existing user, wrong password (scored differently by the defender).
    WrongPassword,
    Disabled,
    Expired,
    ProtocolDenied,
    AddressDenied,
    /// The user may not log in this way (`filters.denied_login_methods`).
    MethodDenied(&'static str),
    /// The client certificate does not belong to this user.
    CertificateMismatch,
    /// `max_sessions` sessions are open already.
    TooManySessions(u32),
    /// The stored hash could not be read (logged, not shown).
    BadHash,
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoginError::BadCredentials | LoginError::WrongPassword => "Login incorrect",
            LoginError::Disabled => "Login refused: account disabled",
            LoginError::Expired => "Login refused: account expired",
            LoginError::ProtocolDenied => "Login refused: FTP is not allowed for this account",
            LoginError::AddressDenied => "Login refused: not allowed from this address",
            LoginError::MethodDenied(_) => {
                "Login refused: this login method is not allowed for this account"
            }
            LoginError::CertificateMismatch => {
                "Login refused: the TLS client certificate does not match this user"
            }
            LoginError::TooManySessions(_) => {
                "Login refused: too many open sessions for this account"
            }
            LoginError::BadHash => "Login incorrect",
        })
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash::hash_bcrypt(b"ferroftpd-dummy", 10).unwrap_or_default())
}

/// Checks a password login. `cache` (SFTPGo's `password_caching`) skips the slow hash for
/// a password that verified before against the same stored hash.
pub fn authenticate(
    db: &UserDb,
    cache: Option<&PasswordCache>,
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
    let cached = cache.is_some_and(|c| c.check(username, &user.password_hash, password.as_bytes()));
    if !cached {
        match hash::verify(&user.password_hash, password.as_bytes()) {
            Ok(true) => {
                if let Some(c) = cache {
                    c.remember(username, &user.password_hash, password.as_bytes());
                }
            }
            Ok(false) => return Err(LoginError::WrongPassword),
            Err(_) => return Err(LoginError::BadHash),
        }
    }
    check_account(&user, ip)?;
    Ok(user)
}

/// What must hold for a user whose identity is proven (by password or certificate).
pub fn check_account(user: &User, ip: IpAddr) -> Result<(), LoginError> {
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
    Ok(())
}

/// Whether a verified client certificate (DER) identifies `user`: a pinned certificate
/// (`tls_certs`), or a Common Name equal to the user name (`tls_username`).
pub fn certificate_matches(user: &User, der: &[u8], common_name: Option<&str>) -> bool {
    if !user.tls_certs.is_empty() {
        return user.tls_certs.iter().any(|c| c.as_slice() == der);
    }
    user.tls_username_cn && common_name == Some(user.username.as_str())
}
