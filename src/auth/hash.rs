//! Verifying the password hashes found in SFTPGo user dumps.
//!
//! This module owns one job: given the `password` field of an SFTPGo user (a
//! hash string) and the password a client sent, say whether they match, and at
//! load time say whether a stored hash is well-formed. It never stores, logs or
//! echoes a password, and its error messages name the format and the defect,
//! never the password nor the stored hash itself.
//!
//! Formats (SFTPGo's list):
//!
//! | prefix | format |
//! | --- | --- |
//! | `$2a$`, `$2b$`, `$2y$` | bcrypt (SFTPGo writes only `$2a$`; we read all three) |
//! | `$argon2id$` | Argon2id, PHC string |
//! | `$pbkdf2-sha1$`, `$pbkdf2-sha256$`, `$pbkdf2-sha512$` | SFTPGo's PBKDF2: `$pbkdf2-<algo>$<iterations>$<salt>$<std base64 key>`, salt used as the raw bytes of the string |
//! | `$pbkdf2-b64salt-sha256$` | as above, salt std-base64 encoded |
//! | `$1$`, `$apr1$` | md5crypt, Apache's variant |
//! | `$5$`, `$6$` | sha256crypt, sha512crypt (optional `rounds=N$`) |
//! | `{MD5}`, `{SHA256}`, `{SHA512}` | plain hex digest (either case) |
//! | `$y$` | yescrypt: recognised, but not supported ([`validate`] fails) |
//!
//! Every digest comparison is constant-time.

use std::fmt;
use std::str::FromStr;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64ct::{Base64, Base64ShaCrypt, Encoding};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// A stored password hash that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashError {
    /// The stored hash is malformed or of an unsupported format; the message
    /// names the format and what is wrong.
    Malformed(String),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::Malformed(msg) => write!(f, "malformed password hash: {msg}"),
        }
    }
}

impl std::error::Error for HashError {}

fn malformed(format: &str, what: impl fmt::Display) -> HashError {
    HashError::Malformed(format!("{format}: {what}"))
}

/// Prefixes SFTPGo treats as a hash (plus `$2b$`/`$2y$`, which we also read).
const PREFIXES: [&str; 16] = [
    "$2a$",
    "$2b$",
    "$2y$",
    "$argon2id$",
    "$pbkdf2-sha1$",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha512$",
    "$pbkdf2-b64salt-sha256$",
    "$1$",
    "$apr1$",
    "$5$",
    "$6$",
    "$y$",
    "{MD5}",
    "{SHA256}",
    "{SHA512}",
];

/// True if `stored` starts with a prefix SFTPGo recognises as a hash.
pub fn is_hashed(stored: &str) -> bool {
    PREFIXES.iter().any(|p| stored.starts_with(p))
}

/// Verify `candidate` against a stored hash. Err only when the stored hash is malformed.
///
/// A `stored` string that is not a hash at all (see [`is_hashed`]) is also an
/// error: plain-text passwords are the caller's business.
pub fn verify(stored: &str, candidate: &[u8]) -> Result<bool, HashError> {
    match parse(stored)? {
        Parsed::Bcrypt => bcrypt::verify(candidate, stored).map_err(|e| malformed("bcrypt", e)),
        Parsed::Argon2id(hash) => match Argon2::default().verify_password(candidate, &*hash) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(malformed("argon2id", e)),
        },
        Parsed::Pbkdf2 {
            prf,
            iterations,
            salt,
            expected,
        } => {
            let mut derived = vec![0u8; expected.len()];
            match prf {
                Prf::Sha1 => {
                    pbkdf2::pbkdf2_hmac::<Sha1>(candidate, &salt, iterations, &mut derived)
                }
                Prf::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<Sha256>(candidate, &salt, iterations, &mut derived)
                }
                Prf::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<Sha512>(candidate, &salt, iterations, &mut derived)
                }
            }
            Ok(ct_eq(&derived, &expected))
        }
        Parsed::Md5Crypt {
            magic,
            salt,
            expected,
        } => Ok(ct_eq(&md5_crypt(candidate, magic, salt), &expected)),
        Parsed::Sha256Crypt {
            rounds,
            salt,
            expected,
        } => {
            let params = sha_params(rounds, "sha256crypt")?;
            let raw = sha_crypt::sha256_crypt(candidate, salt, params);
            Ok(ct_eq(&transpose(&raw, &SHA256_ORDER), &expected))
        }
        Parsed::Sha512Crypt {
            rounds,
            salt,
            expected,
        } => {
            let params = sha_params(rounds, "sha512crypt")?;
            let raw = sha_crypt::sha512_crypt(candidate, salt, params);
            Ok(ct_eq(&transpose(&raw, &SHA512_ORDER), &expected))
        }
        Parsed::Digest { algo, expected } => {
            let got = match algo {
                DigestAlgo::Md5 => Md5::digest(candidate).to_vec(),
                DigestAlgo::Sha256 => Sha256::digest(candidate).to_vec(),
                DigestAlgo::Sha512 => Sha512::digest(candidate).to_vec(),
            };
            Ok(ct_eq(&got, &expected))
        }
    }
}

/// Check a stored hash is well-formed (used at load time so a bad hash is a startup error naming the user).
pub fn validate(stored: &str) -> Result<(), HashError> {
    parse(stored).map(|_| ())
}

/// bcrypt with cost `cost`, rendered with the `$2a$` prefix (SFTPGo reads only $2a$).
///
/// Passwords longer than 72 bytes are truncated to 72, as the bcrypt crate does.
pub fn hash_bcrypt(password: &[u8], cost: u32) -> Result<String, HashError> {
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| malformed("bcrypt", format_args!("cannot hash: {e}")))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[derive(Debug, Clone, Copy)]
enum Prf {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy)]
enum DigestAlgo {
    Md5,
    Sha256,
    Sha512,
}

/// A stored hash, parsed and checked, ready to verify against.
enum Parsed<'a> {
    Bcrypt,
    Argon2id(Box<PasswordHash>),
    Pbkdf2 {
        prf: Prf,
        iterations: u32,
        salt: Vec<u8>,
        expected: Vec<u8>,
    },
    Md5Crypt {
        magic: &'static str,
        salt: &'a [u8],
        expected: [u8; 16],
    },
    Sha256Crypt {
        rounds: u32,
        salt: &'a [u8],
        expected: [u8; 32],
    },
    Sha512Crypt {
        rounds: u32,
        salt: &'a [u8],
        expected: [u8; 64],
    },
    Digest {
        algo: DigestAlgo,
        expected: Vec<u8>,
    },
}

fn parse(stored: &str) -> Result<Parsed<'_>, HashError> {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        parse_bcrypt(stored)
    } else if stored.starts_with("$argon2id$") {
        parse_argon2id(stored)
    } else if let Some(rest) = stored.strip_prefix("$pbkdf2-sha1$") {
        parse_pbkdf2(rest, "pbkdf2-sha1", Prf::Sha1, false)
    } else if let Some(rest) = stored.strip_prefix("$pbkdf2-sha256$") {
        parse_pbkdf2(rest, "pbkdf2-sha256", Prf::Sha256, false)
    } else if let Some(rest) = stored.strip_prefix("$pbkdf2-sha512$") {
        parse_pbkdf2(rest, "pbkdf2-sha512", Prf::Sha512, false)
    } else if let Some(rest) = stored.strip_prefix("$pbkdf2-b64salt-sha256$") {
        parse_pbkdf2(rest, "pbkdf2-b64salt-sha256", Prf::Sha256, true)
    } else if let Some(rest) = stored.strip_prefix("$1$") {
        parse_md5_crypt(rest, "$1$", "md5crypt ($1$)")
    } else if let Some(rest) = stored.strip_prefix("$apr1$") {
        parse_md5_crypt(rest, "$apr1$", "apr1 md5crypt ($apr1$)")
    } else if let Some(rest) = stored.strip_prefix("$5$") {
        let (rounds, salt, expected) = parse_sha_crypt::<32>(rest, "sha256crypt ($5$)")?;
        Ok(Parsed::Sha256Crypt {
            rounds,
            salt,
            expected,
        })
    } else if let Some(rest) = stored.strip_prefix("$6$") {
        let (rounds, salt, expected) = parse_sha_crypt::<64>(rest, "sha512crypt ($6$)")?;
        Ok(Parsed::Sha512Crypt {
            rounds,
            salt,
            expected,
        })
    } else if stored.starts_with("$y$") {
        Err(malformed(
            "yescrypt ($y$)",
            "yescrypt hashes are not supported; set a bcrypt or argon2id hash instead",
        ))
    } else if let Some(rest) = stored.strip_prefix("{MD5}") {
        parse_digest(rest, "{MD5}", DigestAlgo::Md5, 16)
    } else if let Some(rest) = stored.strip_prefix("{SHA256}") {
        parse_digest(rest, "{SHA256}", DigestAlgo::Sha256, 32)
    } else if let Some(rest) = stored.strip_prefix("{SHA512}") {
        parse_digest(rest, "{SHA512}", DigestAlgo::Sha512, 64)
    } else {
        Err(HashError::Malformed(
            "not a recognised password hash format".to_owned(),
        ))
    }
}

fn parse_bcrypt(stored: &str) -> Result<Parsed<'_>, HashError> {
    let parts = bcrypt::HashParts::from_str(stored).map_err(|e| malformed("bcrypt", e))?;
    let cost = parts.get_cost();
    if !(4..=31).contains(&cost) {
        return Err(malformed(
            "bcrypt",
            format_args!("cost {cost} is outside 4..=31"),
        ));
    }
    Ok(Parsed::Bcrypt)
}

fn parse_argon2id(stored: &str) -> Result<Parsed<'_>, HashError> {
    const F: &str = "argon2id";
    let hash = PasswordHash::new(stored).map_err(|e| malformed(F, e))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(malformed(F, "algorithm is not argon2id"));
    }
    if let Some(v) = hash.version {
        argon2::Version::try_from(v)
            .map_err(|_| malformed(F, format_args!("unknown version v={v}")))?;
    }
    argon2::Params::try_from(&hash).map_err(|e| malformed(F, format_args!("parameters: {e}")))?;
    if hash.salt.is_none() {
        return Err(malformed(F, "salt is missing"));
    }
    if hash.hash.is_none() {
        return Err(malformed(F, "hash is missing"));
    }
    Ok(Parsed::Argon2id(Box::new(hash)))
}

/// `rest` is `<iterations>$<salt>$<base64 key>` (the prefix already removed).
fn parse_pbkdf2<'a>(
    rest: &'a str,
    format: &str,
    prf: Prf,
    b64_salt: bool,
) -> Result<Parsed<'a>, HashError> {
    let fields: Vec<&str> = rest.split('$').collect();
    let [iterations, salt, key] = fields[..] else {
        return Err(malformed(
            format,
            "expected $<iterations>$<salt>$<hash> after the prefix",
        ));
    };
    let iterations = parse_decimal(iterations)
        .filter(|&n| n > 0)
        .ok_or_else(|| malformed(format, "iterations must be a positive integer"))?;
    let salt = if b64_salt {
        Base64::decode_vec(salt)
            .map_err(|_| malformed(format, "salt is not valid standard base64"))?
    } else {
        salt.as_bytes().to_vec()
    };
    let expected = Base64::decode_vec(key)
        .map_err(|_| malformed(format, "hash is not valid standard base64"))?;
    if expected.is_empty() {
        return Err(malformed(format, "hash is empty"));
    }
    Ok(Parsed::Pbkdf2 {
        prf,
        iterations,
        salt,
        expected,
    })
}

/// Unsigned decimal digits only (no sign, no spaces), fitting in u32.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `rest` is `<salt>$<22 chars>`.
fn parse_md5_crypt<'a>(
    rest: &'a str,
    magic: &'static str,
    format: &str,
) -> Result<Parsed<'a>, HashError> {
    let (salt, hash) = rest
        .split_once('$')
        .ok_or_else(|| malformed(format, "expected <salt>$<hash> after the prefix"))?;
    if salt.len() > 8 {
        return Err(malformed(format, "salt is longer than 8 characters"));
    }
    let expected = decode_crypt_b64::<16>(hash, 22, format)?;
    Ok(Parsed::Md5Crypt {
        magic,
        salt: salt.as_bytes(),
        expected,
    })
}

/// Minimum and maximum `rounds=` of sha-crypt; out-of-range values are clamped
/// (Drepper's specification, glibc, OpenSSL).
const SHA_ROUNDS_MIN: u32 = 1_000;
const SHA_ROUNDS_MAX: u32 = 999_999_999;
const SHA_ROUNDS_DEFAULT: u32 = 5_000;

/// `rest` is `[rounds=N$]<salt>$<hash>`; returns (rounds, salt, transposed digest).
fn parse_sha_crypt<'a, const N: usize>(
    rest: &'a str,
    format: &str,
) -> Result<(u32, &'a [u8], [u8; N]), HashError> {
    let mut fields: Vec<&str> = rest.split('$').collect();
    let mut rounds = SHA_ROUNDS_DEFAULT;
    if let Some(r) = fields.first().and_then(|f| f.strip_prefix("rounds=")) {
        // Large values saturate, then clamp to the maximum.
        let n: u64 = if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
            r.parse().unwrap_or(u64::MAX)
        } else {
            return Err(malformed(format, "rounds= is not a decimal number"));
        };
        rounds = u32::try_from(n.clamp(u64::from(SHA_ROUNDS_MIN), u64::from(SHA_ROUNDS_MAX)))
            .unwrap_or(SHA_ROUNDS_MAX);
        fields.remove(0);
    }
    let [salt, hash] = fields[..] else {
        return Err(malformed(
            format,
            "expected [rounds=N$]<salt>$<hash> after the prefix",
        ));
    };
    if salt.len() > 16 {
        return Err(malformed(format, "salt is longer than 16 characters"));
    }
    let expected = decode_crypt_b64::<N>(hash, (N * 4).div_ceil(3), format)?;
    Ok((rounds, salt.as_bytes(), expected))
}

fn sha_params(rounds: u32, format: &str) -> Result<sha_crypt::Params, HashError> {
    sha_crypt::Params::new(rounds).map_err(|e| malformed(format, e))
}

/// Decode the hash part of an md5crypt/sha-crypt string (crypt's base64, as
/// written by glibc's `b64_from_24bit`, low bits first).
fn decode_crypt_b64<const N: usize>(
    hash: &str,
    chars: usize,
    format: &str,
) -> Result<[u8; N], HashError> {
    let bad = || {
        malformed(
            format,
            format_args!("hash must be {chars} characters of [./0-9A-Za-z]"),
        )
    };
    if hash.len() != chars {
        return Err(bad());
    }
    let mut out = [0u8; N];
    let decoded = Base64ShaCrypt::decode(hash, &mut out).map_err(|_| bad())?;
    if decoded.len() != N {
        return Err(bad());
    }
    Ok(out)
}

fn transpose<const N: usize>(raw: &[u8; N], order: &[usize; N]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, &i) in out.iter_mut().zip(order.iter()) {
        *o = raw[i];
    }
    out
}

/// Byte order in which glibc's md5crypt encodes the final digest.
const MD5_ORDER: [usize; 16] = [12, 6, 0, 13, 7, 1, 14, 8, 2, 15, 9, 3, 5, 10, 4, 11];

/// Byte order in which glibc's sha256crypt encodes the final digest.
const SHA256_ORDER: [usize; 32] = [
    20, 10, 0, 11, 1, 21, 2, 22, 12, 23, 13, 3, 14, 4, 24, 5, 25, 15, 26, 16, 6, 17, 7, 27, 8, 28,
    18, 29, 19, 9, 30, 31,
];

/// Byte order in which glibc's sha512crypt encodes the final digest.
const SHA512_ORDER: [usize; 64] = [
    42, 21, 0, 1, 43, 22, 23, 2, 44, 45, 24, 3, 4, 46, 25, 26, 5, 47, 48, 27, 6, 7, 49, 28, 29, 8,
    50, 51, 30, 9, 10, 52, 31, 32, 11, 53, 54, 33, 12, 13, 55, 34, 35, 14, 56, 57, 36, 15, 16, 58,
    37, 38, 17, 59, 60, 39, 18, 19, 61, 40, 41, 20, 62, 63,
];

/// Poul-Henning Kamp's md5crypt (`$1$`), or Apache's `$apr1$` (same
/// algorithm, other magic); returns the digest in encoding order.
fn md5_crypt(password: &[u8], magic: &str, salt: &[u8]) -> [u8; 16] {
    let alt = {
        let mut h = Md5::new();
        h.update(password);
        h.update(salt);
        h.update(password);
        h.finalize()
    };

    let mut h = Md5::new();
    h.update(password);
    h.update(magic.as_bytes());
    h.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        h.update(&alt[..n]);
        left -= n;
    }
    let first = &password[..password.len().min(1)];
    let mut i = password.len();
    while i > 0 {
        if i & 1 == 1 {
            h.update([0u8]);
        } else {
            h.update(first);
        }
        i >>= 1;
    }
    let mut fin: [u8; 16] = h.finalize().into();

    for round in 0..1000 {
        let mut h = Md5::new();
        if round & 1 == 1 {
            h.update(password);
        } else {
            h.update(fin);
        }
        if round % 3 != 0 {
            h.update(salt);
        }
        if round % 7 != 0 {
            h.update(password);
        }
        if round & 1 == 1 {
            h.update(fin);
        } else {
            h.update(password);
        }
        fin = h.finalize().into();
    }

    transpose(&fin, &MD5_ORDER)
}

/// `rest` is the hex digest after `{MD5}` etc.; either case is accepted.
fn parse_digest<'a>(
    rest: &str,
    format: &str,
    algo: DigestAlgo,
    len: usize,
) -> Result<Parsed<'a>, HashError> {
    let bad = || {
        malformed(
            format,
            format_args!("expected {} hexadecimal digits", len * 2),
        )
    };
    if rest.len() != len * 2 {
        return Err(bad());
    }
    let mut expected = Vec::with_capacity(len);
    for pair in rest.as_bytes().chunks_exact(2) {
        let hi = hex_value(pair[0]).ok_or_else(bad)?;
        let lo = hex_value(pair[1]).ok_or_else(bad)?;
        expected.push(hi << 4 | lo);
    }
    Ok(Parsed::Digest { algo, expected })
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const PW: &[u8] = b"ferro secret";
    const WRONG: &[u8] = b"ferro secreT";

    /// Right password verifies, wrong one does not, validate accepts.
    fn check(stored: &str) {
        assert!(is_hashed(stored), "{stored}");
        assert_eq!(validate(stored), Ok(()), "{stored}");
        assert_eq!(verify(stored, PW), Ok(true), "{stored}");
        assert_eq!(verify(stored, WRONG), Ok(false), "{stored}");
        assert_eq!(verify(stored, b""), Ok(false), "{stored}");
    }

    /// validate and verify both fail; the message names the format.
    fn check_malformed(stored: &str, format: &str) {
        let err = validate(stored).expect_err(stored);
        assert!(err.to_string().contains(format), "{stored}: {err}");
        assert!(!err.to_string().contains("ferro"), "{err}");
        assert!(verify(stored, PW).is_err(), "{stored}");
    }

    // bcrypt: $2a$ and $2b$ from python bcrypt 5.0 (hashpw, gensalt(prefix=...)),
    // $2y$ from Apache `htpasswd -nbB -C 4/5`.
    #[test]
    fn bcrypt_vectors() {
        check("$2a$04$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6y");
        check("$2b$05$tzKob4onnlVxbOCJ9IzMW.xH/DKjHRAawtwzavAbOCFFL7CkJ3Z46");
        check("$2y$04$97aeq4fg35u51zWuPYVIYuMimnnPxn/TmhYevZc2Iao2zzkSoM1.W");
        check("$2y$05$tN.adf6ZZEtaDzlMcvA6E.WIqpyHcuqa4VD87ikF7IFGPkDd2ykAq");
    }

    #[test]
    fn bcrypt_long_password_truncates_without_panic() {
        // python bcrypt: hashpw(b"x" * 72, gensalt(4, b"2a")).
        let stored = "$2a$04$5U090UUX17LZNfU2TXK.heG8g3gnYqtD0DurOx.DqvggnFiQNgT2i";
        assert_eq!(verify(stored, &[b'x'; 72]), Ok(true));
        assert_eq!(verify(stored, &[b'x'; 80]), Ok(true));
        assert_eq!(verify(stored, &[b'x'; 10_000]), Ok(true));
        assert_eq!(verify(stored, &[b'x'; 71]), Ok(false));
        let long = hash_bcrypt(&[b'y'; 100], 4).expect("hash");
        assert_eq!(verify(&long, &[b'y'; 100]), Ok(true));
    }

    #[test]
    fn bcrypt_malformed() {
        let good = "$2a$04$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6y";
        check_malformed(&good[..59], "bcrypt");
        check_malformed("$2a$", "bcrypt");
        check_malformed(
            "$2a$99$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6y",
            "bcrypt",
        );
        check_malformed(
            "$2a$03$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6y",
            "bcrypt",
        );
        check_malformed(
            "$2a$xx$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6y",
            "bcrypt",
        );
        check_malformed(
            "$2a$04$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODya!6y",
            "bcrypt",
        );
        // Multi-byte UTF-8 of the right byte length must not panic.
        check_malformed(
            "$2a$04$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE6é",
            "bcrypt",
        );
        check_malformed(
            "$2a$04$YJ1rzYnth0Fi.TTGThsZcu1FJ7UsqP9z62YU8lT/301I26ODyaE\u{e9}",
            "bcrypt",
        );
    }

    #[test]
    fn hash_bcrypt_renders_2a() {
        let h = hash_bcrypt(PW, 10).expect("hash");
        assert!(h.starts_with("$2a$10$"), "{h}");
        assert_eq!(h.len(), 60);
        assert_eq!(validate(&h), Ok(()));
        assert_eq!(verify(&h, PW), Ok(true));
        assert_eq!(verify(&h, WRONG), Ok(false));
        assert!(hash_bcrypt(PW, 3).is_err());
        assert!(hash_bcrypt(PW, 32).is_err());
    }

    // argon2id: python argon2-cffi 25.1 PasswordHasher (defaults; m=1024,t=1,p=2;
    // SFTPGo's defaults m=65536,t=1,p=2 with 16-byte salt, 32-byte key).
    #[test]
    fn argon2id_vectors() {
        check("$argon2id$v=19$m=1024,t=1,p=2$iXqYpCaWP7e/tJkLRYoBdA$dcVJoI5TVD/6nhTvFmtJNprDXhhYl4/Zss0uSU28bcY");
        // 64 MiB is slow in debug builds: one verification only.
        let sftpgo = "$argon2id$v=19$m=65536,t=1,p=2$b3E2D8NTo7q/0EDuBGrOJQ$+HxLPBjKdSx8ZFmEBP93ZPUs2p6dRi0z4uwiHn2ZTC8";
        assert!(is_hashed(sftpgo));
        assert_eq!(validate(sftpgo), Ok(()));
        assert_eq!(verify(sftpgo, PW), Ok(true));
        // argon2-cffi's own defaults: validated only.
        let cffi = "$argon2id$v=19$m=65536,t=3,p=4$FbkYcquBbxOd27MB14eihg$9LRrYxaDLLjuHW9ZbGz/8/A6TlUSHSIjcmuMHbAEJV0";
        assert_eq!(validate(cffi), Ok(()));
    }

    #[test]
    fn argon2_malformed_and_other_variants() {
        check_malformed(
            "$argon2id$v=19$m=1024,t=1,p=2$iXqYpCaWP7e/tJkLRYoBdA",
            "argon2id",
        );
        check_malformed(
            "$argon2id$v=19$m=1024,t=1,p=2$!!!$dcVJoI5TVD/6nhTvFmtJNprDXhhYl4/Zss0uSU28bcY",
            "argon2id",
        );
        check_malformed("$argon2id$v=19$m=1,t=1,p=2$iXqYpCaWP7e/tJkLRYoBdA$dcVJoI5TVD/6nhTvFmtJNprDXhhYl4/Zss0uSU28bcY", "argon2id");
        check_malformed("$argon2id$v=7$m=1024,t=1,p=2$iXqYpCaWP7e/tJkLRYoBdA$dcVJoI5TVD/6nhTvFmtJNprDXhhYl4/Zss0uSU28bcY", "argon2id");
        check_malformed("$argon2id$", "argon2id");
        // argon2i (argon2-cffi, type=I) is not an SFTPGo format.
        let argon2i = "$argon2i$v=19$m=512,t=2,p=1$hRom6+QtA+pfn4ljzxB7zQ$1TdP+mK2aEEqkrvAJZD8B/mmwOIm56LmmJUeyfaVS74";
        assert!(!is_hashed(argon2i));
        assert!(validate(argon2i).is_err());
    }

    // pbkdf2 in SFTPGo's format: python hashlib.pbkdf2_hmac + base64.b64encode.
    #[test]
    fn pbkdf2_vectors() {
        check("$pbkdf2-sha1$10000$s4ltStr1ng$/6B9pAu0tyaaGycpQP+nXVQHMFk=");
        check("$pbkdf2-sha256$10000$s4ltStr1ng$LY2lVNKkKeNnjf6KCYixBAln2BSu1A6AGaToOzhUvUw=");
        check("$pbkdf2-sha512$10000$s4ltStr1ng$7W4EckD6sLqTQY7CPfXaHDaXMH+DjOCFX1F9i1qPJrcI66IN6DaOjhML27T06B4/h68+1AiPxOpGKQRmMNdV+w==");
        // Salt is bytes 200..216, base64-encoded.
        check("$pbkdf2-b64salt-sha256$15000$yMnKy8zNzs/Q0dLT1NXW1w==$KI68UqcZMphdp4a0mQ0U2BYd4rMO0eSiTXWrUc9YQcQ=");
        // Key length follows the stored hash (20 bytes here).
        check("$pbkdf2-sha256$1000$shortkey$iYcMvFhorPg9Iyw06gOKt3b3dKk=");
    }

    #[test]
    fn pbkdf2_malformed() {
        let f = "pbkdf2-sha256";
        check_malformed("$pbkdf2-sha256$10000$s4ltStr1ng", f);
        check_malformed("$pbkdf2-sha256$10000$s4ltStr1ng$LY2l$extra", f);
        check_malformed(
            "$pbkdf2-sha256$0$s4ltStr1ng$LY2lVNKkKeNnjf6KCYixBAln2BSu1A6AGaToOzhUvUw=",
            f,
        );
        check_malformed(
            "$pbkdf2-sha256$-5$s4ltStr1ng$LY2lVNKkKeNnjf6KCYixBAln2BSu1A6AGaToOzhUvUw=",
            f,
        );
        check_malformed(
            "$pbkdf2-sha256$ten$s4ltStr1ng$LY2lVNKkKeNnjf6KCYixBAln2BSu1A6AGaToOzhUvUw=",
            f,
        );
        check_malformed(
            "$pbkdf2-sha256$10000$s4ltStr1ng$LY2lVNKkKeNnjf6KCYixBAln2BSu1A6AGaToOzhUvUw",
            f,
        );
        check_malformed("$pbkdf2-sha256$10000$s4ltStr1ng$", f);
        check_malformed("$pbkdf2-sha1$10000$s4ltStr1ng$*notbase64*", "pbkdf2-sha1");
        check_malformed("$pbkdf2-sha512$10000$s4ltStr1ng$", "pbkdf2-sha512");
        check_malformed(
            "$pbkdf2-b64salt-sha256$15000$not base64$KI68UqcZMphdp4a0mQ0U2BYd4rMO0eSiTXWrUc9YQcQ=",
            "pbkdf2-b64salt-sha256",
        );
    }

    // md5crypt: `openssl passwd -1` / `-apr1` (OpenSSL 3), python passlib
    // md5_crypt / apr_md5_crypt, and glibc/libxcrypt crypt(3) via python's crypt.
    #[test]
    fn md5crypt_vectors() {
        check("$1$Xy7pQ2ab$t4QsauKy.iBiaxTXXM/LL0");
        check("$1$PMA2N7MZ$kJ.FrdglDnXlj4FeV4ORx1");
        check("$1$pLsalt01$.vdN1H4RYFpqyrcW1MORF0");
        check("$apr1$Zk3mN9qr$n2z8aNkLQ4oqUUbk4Pm2h.");
        check("$apr1$Ia5E1btu$A8WNbi7gNs6lEORbZDHjQ1");
        check("$apr1$pLsalt02$aTOY3awTaLkNdehVtKCG1/");
        // `openssl passwd -1 -salt abc ''`: empty password.
        assert_eq!(verify("$1$abc$Or2rbeUYTvt12aiVzMuS/.", b""), Ok(true));
        assert_eq!(verify("$1$abc$Or2rbeUYTvt12aiVzMuS/.", b"x"), Ok(false));
        // crypt("pässwörd", "$1$utf8salt"): salt truncated to 8, UTF-8 password.
        let s = "$1$utf8salt$TONNqutvlabooa6YB37Tk1";
        assert_eq!(verify(s, "pässwörd".as_bytes()), Ok(true));
        assert_eq!(verify(s, b"passwort"), Ok(false));
        // Same salt and hash under the other magic does not verify.
        assert_eq!(
            verify("$apr1$Xy7pQ2ab$t4QsauKy.iBiaxTXXM/LL0", PW),
            Ok(false)
        );
    }

    #[test]
    fn md5crypt_malformed() {
        check_malformed("$1$Xy7pQ2ab", "md5crypt");
        check_malformed("$1$Xy7pQ2ab$t4QsauKy.iBiaxTXXM/LL", "md5crypt");
        check_malformed("$1$Xy7pQ2ab$t4QsauKy.iBiaxTXXM/LL0$", "md5crypt");
        check_malformed("$1$Xy7pQ2ab$t4QsauKy+iBiaxTXXM/LL0", "md5crypt");
        check_malformed("$1$Xy7pQ2abc$t4QsauKy.iBiaxTXXM/LL0", "md5crypt");
        check_malformed("$apr1$Zk3mN9qr$n2z8aNkLQ4oqUUbk4Pm2h", "apr1");
    }

    // sha-crypt: `openssl passwd -5` / `-6` (OpenSSL 3, with `rounds=` in -salt),
    // python passlib sha256_crypt / sha512_crypt, glibc/libxcrypt crypt(3).
    #[test]
    fn sha_crypt_vectors() {
        check("$5$Ab3dE6gH1jK2$cfkRVpmS26d0C3THcRDPIPmMQg1iqWsjEMyQVA8/I9/");
        check("$5$rounds=12000$Sa1tSa1t$ekc1PiwgqEcQS8RFYkoCWFIbkZyN24ycjncUCW/LxQB");
        check("$5$pLsalt03$V3sQvvEMHDwHMWcYgYfu63w0x6FC7nHA.z2YV.gTzs1");
        check("$5$rounds=20000$pLsalt05$BG/zCweONYFDYtblhKtA8I9GSfKK053zs/U7HdWkbf7");
        check("$6$Qw9eRt5yUi8o$lLfT07.TSMWNE6sfNWoTIYo/knnIkC.2U1puZSza6S0fAG/oRUxfmzZ9LuOh7tOijJsJiYIVNqdGrCclXUKAR1");
        check("$6$rounds=1000$shortsalt$1oPnWZaxnr.7YMN4Mwd7Fg8Iksegd0uy1zKx9gi58.0nisMfhMvPfhxbNQjimDau2c2W4H7ZobxkTj/moxakE1");
        check("$6$pLsalt04$83zNIsR9TX9..w7eMpdaaQ1R0.jyy1mL8f2pE3tId7N2CONWX5lcu09egJWH6I6kL7bU5IKfycUIwlCiD54FA1");
        // 16-character salts (openssl truncated a 21-character -salt; crypt(3) a 19).
        check("$6$abcdefghijklmnop$JdPGg3YeVy0IAp47y35npU1ifdiCAJRj5Og3L1Xd0A2Fe3kfPeCuYf5edihzgEWRRYSL6pVrde3sv4yqnm5sd.");
        check("$6$0123456789abcdef$dHPgyAnoftpYDg7RDnTxcnjBSZOKI7Myt.U9GPsGdj1GbxLY/ENUIo0QMDIS/f20RwO1WnvtmFTWaEqQinyoW0");
    }

    #[test]
    fn sha_crypt_rounds_clamped() {
        // `openssl passwd -5 -salt 'rounds=500$lowrounds'` printed rounds=1000;
        // the same hash written with rounds=500 must verify (clamped, as glibc).
        check("$5$rounds=1000$lowrounds$YzJS7VGETGhh63I2BQXKIBR80TY/oRbt9nDOzNZZ0p8");
        check("$5$rounds=500$lowrounds$YzJS7VGETGhh63I2BQXKIBR80TY/oRbt9nDOzNZZ0p8");
        // Explicit default rounds equals no rounds field.
        check("$5$rounds=5000$Ab3dE6gH1jK2$cfkRVpmS26d0C3THcRDPIPmMQg1iqWsjEMyQVA8/I9/");
    }

    #[test]
    fn sha_crypt_malformed() {
        check_malformed("$5$Ab3dE6gH1jK2", "sha256crypt");
        check_malformed(
            "$5$Ab3dE6gH1jK2$cfkRVpmS26d0C3THcRDPIPmMQg1iqWsjEMyQVA8/I9",
            "sha256crypt",
        );
        check_malformed(
            "$5$Ab3dE6gH1jK2$cfkRVpmS26d0C3THcRDPIPmMQg1iqWsjEMyQVA8/I9/x",
            "sha256crypt",
        );
        check_malformed(
            "$5$rounds=abc$Sa1tSa1t$ekc1PiwgqEcQS8RFYkoCWFIbkZyN24ycjncUCW/LxQB",
            "sha256crypt",
        );
        check_malformed(
            "$5$rounds=12000$ekc1PiwgqEcQS8RFYkoCWFIbkZyN24ycjncUCW/LxQB",
            "sha256crypt",
        );
        check_malformed(
            "$5$abcdefghijklmnopq$cfkRVpmS26d0C3THcRDPIPmMQg1iqWsjEMyQVA8/I9/",
            "sha256crypt",
        );
        check_malformed("$6$Qw9eRt5yUi8o$lLfT07.TSMWNE6sfNWoTIYo", "sha512crypt");
        check_malformed("$6$", "sha512crypt");
    }

    // {MD5}/{SHA256}/{SHA512}: python hashlib hexdigest.
    #[test]
    fn digest_vectors() {
        check("{MD5}aa64d0241fef49ad55d274fe284bb5d3");
        check("{MD5}AA64D0241FEF49AD55D274FE284BB5D3");
        check("{SHA256}6a127db093702ca970c726b7d303bf1de4e549e32a5efa6e421a648dc680cb51");
        check("{SHA256}6A127DB093702CA970C726B7D303BF1DE4E549E32A5EFA6E421A648DC680CB51");
        check("{SHA512}4b6212b724854d271d9fd3170fb3ad147567a10a7f5bcacfb400a72d7f04d7e7b98058c9339cf344ccd0983c139954cdc8621cb99b72e7d217f4e400acdce3c2");
    }

    #[test]
    fn digest_malformed() {
        check_malformed("{MD5}aa64d0241fef49ad55d274fe284bb5d", "{MD5}");
        check_malformed("{MD5}aa64d0241fef49ad55d274fe284bb5dz", "{MD5}");
        check_malformed("{MD5}", "{MD5}");
        check_malformed(
            "{SHA256}6a127db093702ca970c726b7d303bf1de4e549e32a5efa6e421a648dc680cb5",
            "{SHA256}",
        );
        check_malformed("{SHA512}4b6212b724854d271d9fd3170fb3ad14", "{SHA512}");
        // Multi-byte characters of the right byte length must not panic.
        check_malformed("{MD5}aa64d0241fef49ad55d274fe284bb5\u{e9}", "{MD5}");
    }

    #[test]
    fn yescrypt_recognised_but_unsupported() {
        // libxcrypt crypt(3) via python's crypt module.
        let y = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$OaVk6zXygumjuidANj7vI91HqUTBcR2tdJXUfGqgfJB";
        assert!(is_hashed(y));
        let err = validate(y).expect_err("yescrypt");
        assert!(err.to_string().contains("yescrypt"), "{err}");
        assert!(err.to_string().contains("not supported"), "{err}");
        assert!(verify(y, PW).is_err());
    }

    #[test]
    fn plain_text_is_not_hashed() {
        for s in [
            "",
            "ferro secret",
            "$2x$04$abc",
            "$argon2i$v=19",
            "{SHA1}abc",
            "$pbkdf2$1",
        ] {
            assert!(!is_hashed(s), "{s}");
            assert!(validate(s).is_err(), "{s}");
            assert!(verify(s, s.as_bytes()).is_err(), "{s}");
        }
    }

    #[test]
    fn error_display_names_format() {
        let e = validate("$1$x").expect_err("malformed");
        assert_eq!(
            e.to_string(),
            "malformed password hash: md5crypt ($1$): expected <salt>$<hash> after the prefix"
        );
        let _: &dyn std::error::Error = &e;
    }
}
