//! Bad input at volume: four sessions at once send seeded random lines (every verb of the
//! command table and some unknown ones, arguments that are empty, huge, traversing,
//! numeric edge cases, with NUL, invalid UTF-8 or Telnet bytes), open the passive data
//! connections they are offered and close them at once. Every line must get one
//! well-formed reply, the daemon must keep serving a new login, nothing may appear
//! outside the home, and no thread may panic. Seeded, so a failure repeats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use common::*;

const SESSIONS: u64 = 4;
const LINES: usize = 400;

const VERBS: &[&str] = &[
    "USER", "PASS", "ACCT", "REIN", "QUIT", "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "MKD",
    "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "STOR", "STOU", "APPE", "RETR", "LIST", "NLST",
    "STAT", "SYST", "NOOP", "HELP", "TYPE", "MODE", "STRU", "ALLO", "PASV", "EPSV", "PORT", "EPRT",
    "ABOR", "SITE", "FEAT", "OPTS", "SIZE", "MDTM", "REST", "MLST", "MLSD", "MFMT", "AUTH", "PBSZ",
    "PROT", "CCC", "AVBL", "SMNT", "LANG", "HOST", "CLNT", "HASH", "XCRC", "XMD5", "XSHA", "XSHA1",
    "XSHA256", "XSHA512", "MD5", "COMB", "BOGUS", "",
];

const ARGS: &[&str] = &[
    "",
    " ",
    "/",
    "..",
    "../..",
    "../../../etc/passwd",
    "/etc/passwd",
    "a",
    "a b",
    "*",
    "-la",
    "%s%s%n",
    "\u{e9}t\u{e9}",
    "a\u{0}b",
    "e\u{1b}[2J",
    "f.txt",
    "d",
    "d/f.txt",
    "d/../../..",
    "0",
    "-1",
    "99999999999999999999",
    "18446744073709551616",
    "1,2,3,4,5,6",
    "127,0,0,1,0,0",
    "127,0,0,1,4,1",
    "|1|127.0.0.1|1025|",
    "|2|::1|65535|",
    "|||",
    "A",
    "I",
    "E",
    "L 8",
    "A N",
    "S",
    "F",
    "C",
    "P",
    "UTF8 ON",
    "MLST type;size;",
    "HASH SHA-256",
    "HASH BOGUS",
    "CHMOD 777 f.txt",
    "CHMOD 99999 f.txt",
    "SYMLINK f.txt l",
    "20200101000000 f.txt",
    "99999999999999 f.txt",
    "TLS",
    "f.txt 0 10",
    "f.txt 10 0",
    "\"f.txt\"",
    "~",
    ".",
    "//",
    "\\..\\..",
];

/// Lines that are not text: invalid UTF-8, NULs, Telnet IAC IP/DM before ABOR, bare LF,
/// and one longer than the 4096-byte limit.
fn raw_line(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => b"\xff\xfe\xfd\r\n".to_vec(),
        1 => b"\x00\x00\r\n".to_vec(),
        2 => b"MKD \xc3\x28\r\n".to_vec(),
        3 => b"\xff\xf4\xff\xf2ABOR\r\n".to_vec(),
        4 => b"NOOP\n".to_vec(),
        _ => {
            let mut l = b"NOOP ".to_vec();
            l.resize(9000, b'z');
            l.extend_from_slice(b"\r\n");
            l
        }
    }
}

/// xorshift64: the same lines for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// One random line, as bytes with its CRLF.
fn random_line(rng: &mut Rng) -> Vec<u8> {
    if rng.below(20) == 0 {
        return raw_line(rng);
    }
    let mut verb = rng.pick(VERBS);
    // Mostly stay logged in: a session that logs out only collects 530s.
    if matches!(verb, "QUIT" | "REIN" | "USER" | "PASS") && rng.below(10) != 0 {
        verb = "PWD";
    }
    let line = if rng.below(7) == 0 {
        verb.to_string()
    } else {
        format!("{verb} {}", rng.pick(ARGS))
    };
    format!("{line}\r\n").into_bytes()
}

/// The data port a 227 or 229 reply offers.
fn offered(r: &Reply, ctrl: SocketAddr) -> SocketAddr {
    let text = r.text();
    if r.code == 227 {
        parse_227(&text)
    } else {
        SocketAddr::new(ctrl.ip(), parse_229(&text))
    }
}

/// One session's lines; returns how many replies of each code it got.
fn session(s: &Server, seed: u64) -> BTreeMap<u16, usize> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut codes = BTreeMap::new();
    let mut c = s.ftp_login();
    for _ in 0..LINES {
        let line = random_line(&mut rng);
        c.send_bytes(&line);
        let mut r = match c.try_reply() {
            Some(r) => r,
            None => {
                // Closed (QUIT, REIN's limits, a 421): a new session goes on.
                c = s.ftp_login();
                continue;
            }
        };
        // A transfer's preliminary reply, then its final one.
        if matches!(r.code, 110 | 120 | 125 | 150) {
            r = c.reply();
        }
        *codes.entry(r.code).or_default() += 1;
        match r.code {
            227 | 229 => {
                // Connected and closed at once, sometimes after some bytes: the next data
                // command meets an empty upload or a peer that is gone.
                if let Ok(mut d) = TcpStream::connect(offered(&r, s.addr)) {
                    if rng.below(2) == 0 {
                        let _ = d.write_all(&b"some bytes\n".repeat(rng.below(400)));
                    }
                }
            }
            221 | 421 => c = s.ftp_login(),
            _ => {}
        }
    }
    codes
}

/// Every path under `dir` except those under `skip`.
fn paths_outside(dir: &Path, skip: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(skip) {
                continue;
            }
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn random_lines_from_four_sessions_each_get_a_reply() {
    let s = Server::start(
        ServerOpts::new()
            .file("f.txt", "some text\nmore\n")
            .file("d/f.txt", random_bytes(20_000, 5))
            .dir("e"),
    );
    let before = paths_outside(s.dir.path(), &s.home());
    let per_session: Vec<BTreeMap<u16, usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..SESSIONS)
            .map(|k| {
                let s = &s;
                scope.spawn(move || session(s, 0xF0F0 + k))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    for m in per_session {
        for (code, n) in m {
            *codes.entry(code).or_default() += n;
        }
    }
    // The run did reach the daemon's paths: transfers done, files made, bad input refused.
    for code in [226, 257, 500, 501, 550] {
        assert!(
            codes.get(&code).is_some_and(|&n| n > 0),
            "no {code}: {codes:?}"
        );
    }
    assert!(
        codes.keys().all(|&c| (200..600).contains(&c)),
        "a final reply out of range: {codes:?}"
    );
    // Still serving, nothing written beside the home, no panic.
    s.ftp_login().cmd("NOOP", 200);
    let after: Vec<String> = paths_outside(s.dir.path(), &s.home())
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(after.is_empty(), "new paths outside the home: {after:?}");
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
