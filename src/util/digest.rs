//! File digests for HASH (draft-bryan-ftpext-hash-02) and the legacy XCRC, MD5, XMD5, XSHA,
//! XSHA1, XSHA256 and XSHA512 commands (its appendix B): the algorithm names, the FEAT line,
//! and one streaming pass over a reader. Nothing here opens a file: the caller gets the
//! reader from the vfs, which checked the user's right to download it.

use std::fmt;
use std::io::{self, Read};

/// Read size of one hashing step: large enough for disk throughput, small enough that the
/// caller's keep-alive check runs often.
const CHUNK: usize = 256 * 1024;

/// A hash algorithm HASH can select (draft 3.1 names them as IANA's "Hash Function Textual
/// Names"; CRC32 is not in that registry and is spelled as SFTPGo and FileZilla spell it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Sha1,
    Sha256,
    Sha512,
    Md5,
    Crc32,
}

impl Algo {
    /// Every algorithm, in the order FEAT lists them.
    pub const ALL: [Algo; 5] = [
        Algo::Sha1,
        Algo::Sha256,
        Algo::Sha512,
        Algo::Md5,
        Algo::Crc32,
    ];

    /// Selected until OPTS HASH changes it. Draft 5: nothing weaker than SHA-1 by default;
    /// SHA-256 is SFTPGo's default too.
    pub const DEFAULT: Algo = Algo::Sha256;

    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha1 => "SHA-1",
            Algo::Sha256 => "SHA-256",
            Algo::Sha512 => "SHA-512",
            Algo::Md5 => "MD5",
            Algo::Crc32 => "CRC32",
        }
    }

    /// The algorithm an `OPTS HASH` argument names; draft 3.1: compared case-insensitively.
    pub fn from_name(name: &str) -> Option<Algo> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// FEAT's line (draft 3.1): every algorithm, the selected one starred, e.g.
/// `HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32`.
pub fn feat_line(selected: Algo) -> String {
    let list: Vec<String> = Algo::ALL
        .iter()
        .map(|a| {
            if *a == selected {
                format!("{a}*")
            } else {
                a.to_string()
            }
        })
        .collect();
    format!("HASH {}", list.join(";"))
}

enum State {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

/// One running digest.
pub struct Hasher(State);

impl Hasher {
    pub fn new(algo: Algo) -> Hasher {
        use sha2::Digest;
        Hasher(match algo {
            Algo::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algo::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => State::Sha512(sha2::Sha512::new()),
            Algo::Md5 => State::Md5(md5::Md5::new()),
            Algo::Crc32 => State::Crc32(crc32fast::Hasher::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match &mut self.0 {
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
            State::Md5(h) => h.update(data),
            State::Crc32(h) => h.update(data),
        }
    }

    /// The digest in lower-case hex (draft 3: "SHOULD be encoded in lowercase"); CRC32 as
    /// eight digits, big-endian, the way every XCRC implementation prints it.
    pub fn finish(self) -> String {
        use sha2::Digest;
        match self.0 {
            State::Sha1(h) => hex(&h.finalize()),
            State::Sha256(h) => hex(&h.finalize()),
            State::Sha512(h) => hex(&h.finalize()),
            State::Md5(h) => hex(&h.finalize()),
            State::Crc32(h) => format!("{:08x}", h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Why [`digest`] stopped.
#[derive(Debug)]
pub enum DigestError {
    /// Reading the input failed.
    Read(io::Error),
    /// The caller's progress callback failed (the control connection is gone).
    Progress(io::Error),
}

/// Hashes at most `limit` bytes of `input` in one pass, `CHUNK` bytes at a time, calling
/// `progress` with the running byte count after each chunk (the caller's chance to keep
/// the control connection alive). Returns the hex digest and the bytes hashed (fewer than
/// `limit` when the input ends first).
pub fn digest(
    algo: Algo,
    input: &mut impl Read,
    limit: u64,
    progress: &mut dyn FnMut(u64) -> io::Result<()>,
) -> Result<(String, u64), DigestError> {
    let mut hasher = Hasher::new(algo);
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < limit {
        let want = usize::try_from(limit - done).map_or(CHUNK, |left| left.min(CHUNK));
        let Some(slot) = buf.get_mut(..want) else {
            break;
        };
        let n = match input.read(slot) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DigestError::Read(e)),
        };
        if let Some(read) = slot.get(..n) {
            hasher.update(read);
        }
        done += n as u64;
        progress(done).map_err(DigestError::Progress)?;
    }
    Ok((hasher.finish(), done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(algo: Algo, data: &[u8]) -> String {
        digest(algo, &mut &data[..], u64::MAX, &mut |_| Ok(()))
            .unwrap()
            .0
    }

    // Known answers: FIPS 180 "abc", RFC 1321 "abc", and the CRC-32/ISO-HDLC check value.
    #[test]
    fn known_answers() {
        assert_eq!(
            of(Algo::Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            of(Algo::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(of(Algo::Sha512, b"abc").starts_with("ddaf35a193617aba"));
        assert_eq!(of(Algo::Md5, b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(of(Algo::Crc32, b"123456789"), "cbf43926");
        assert_eq!(of(Algo::Crc32, b""), "00000000");
    }

    #[test]
    fn limit_is_respected_across_chunks() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| i as u8).collect();
        let limit = CHUNK as u64 + 5;
        let (d, n) = digest(Algo::Md5, &mut &data[..], limit, &mut |_| Ok(())).unwrap();
        assert_eq!(n, limit);
        assert_eq!(d, of(Algo::Md5, &data[..CHUNK + 5]));
    }

    #[test]
    fn names_and_feat() {
        assert_eq!(Algo::from_name("sha-512"), Some(Algo::Sha512));
        assert_eq!(Algo::from_name("CRC-37"), None);
        assert_eq!(
            feat_line(Algo::Sha256),
            "HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32"
        );
    }

    #[test]
    fn progress_failure_stops() {
        let data = vec![0u8; CHUNK * 3];
        let r = digest(Algo::Sha1, &mut &data[..], u64::MAX, &mut |_| {
            Err(io::Error::other("gone"))
        });
        assert!(matches!(r, Err(DigestError::Progress(_))));
    }
}
