//! The optional protocol extensions against the real daemon: HASH and OPTS HASH
//! (draft-bryan-ftpext-hash-02) and the legacy XCRC/MD5/XMD5/XSHA/XSHA1/XSHA256/XSHA512 with
//! byte ranges, COMB, SITE CHMOD/SYMLINK/MKDIR/RMDIR, AVBL/AVLB, and FEAT/HELP for every
//! combination of `hash_support`, `combine_support` and `enable_site`.
//!
//! Digests are checked against ones this test computes itself (the sha1, sha2, md-5 and
//! crc32fast crates) and against Python's hashlib through ftplib; AVBL against statvfs(3).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: failing loudly is the point

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// The big test file: several MiB, not a multiple of any hash block or read chunk.
const BIG: usize = 5 * 1024 * 1024 + 12_345;

const ALGOS: [&str; 5] = ["SHA-1", "SHA-256", "SHA-512", "MD5", "CRC32"];
const LEGACY: [(&str, &str); 7] = [
    ("XCRC", "CRC32"),
    ("MD5", "MD5"),
    ("XMD5", "MD5"),
    ("XSHA", "SHA-1"),
    ("XSHA1", "SHA-1"),
    ("XSHA256", "SHA-256"),
    ("XSHA512", "SHA-512"),
];

fn opts(hash: bool, comb: bool, site: bool) -> ServerOpts {
    ServerOpts::new()
        .ftpd("hash_support", i32::from(hash))
        .ftpd("combine_support", i32::from(comb))
        .ftpd("enable_site", site)
}

fn all_on() -> ServerOpts {
    opts(true, true, true)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The test's own digest of `data` (lower-case hex, CRC32 as 8 digits).
fn expected(algo: &str, data: &[u8]) -> String {
    use sha2::Digest;
    match algo {
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        "MD5" => hex(&md5::Md5::digest(data)),
        "CRC32" => format!("{:08x}", crc32fast::hash(data)),
        other => panic!("no algorithm {other}"),
    }
}

/// The feature lines of FEAT, trimmed.
fn feat(c: &mut Ctrl) -> BTreeSet<String> {
    c.send("FEAT");
    let r = c.reply();
    assert_eq!(r.code, 211, "{r:?}");
    r.lines[1..r.lines.len() - 1]
        .iter()
        .map(|l| {
            assert!(l.starts_with(' '), "FEAT line without its space: {l:?}");
            l.trim().to_string()
        })
        .collect()
}

/// The words of the HELP listing.
fn help_words(c: &mut Ctrl) -> BTreeSet<String> {
    c.send("HELP");
    let r = c.reply();
    assert_eq!(r.code, 214, "{r:?}");
    r.lines[1..r.lines.len() - 1]
        .iter()
        .flat_map(|l| l.split_whitespace().map(str::to_string))
        .collect()
}

/// `HASH file` with the algorithm selected first: (start, end, hex, echoed path).
fn hash(c: &mut Ctrl, algo: &str, file: &str) -> (u64, u64, String, String) {
    assert_eq!(
        c.cmd(&format!("OPTS HASH {algo}"), 200),
        format!("200 {algo}")
    );
    let r = c.ask(&format!("HASH {file}"));
    assert_eq!(r.code, 213, "{r:?}");
    assert_eq!(r.first(), format!("213-Computing {algo} digest"), "{r:?}");
    let last = r.lines.last().unwrap();
    let rest = last
        .strip_prefix(&format!("213 {algo} "))
        .unwrap_or_else(|| panic!("{last:?}"));
    let (range, rest) = rest.split_once(' ').unwrap();
    let (digest, path) = rest.split_once(' ').unwrap();
    let (start, end) = range.split_once('-').unwrap();
    (
        start.parse().unwrap(),
        end.parse().unwrap(),
        digest.to_string(),
        path.to_string(),
    )
}

/// A legacy checksum command: the hex digest of its `250` reply.
fn legacy(c: &mut Ctrl, line: &str, algo: &str) -> String {
    let r = c.ask(line);
    assert_eq!(r.code, 250, "{line}: {r:?}");
    assert_eq!(r.first(), format!("250-Computing {algo} digest"), "{r:?}");
    r.lines
        .last()
        .unwrap()
        .strip_prefix("250 ")
        .unwrap()
        .to_string()
}

/// Whether `target`, a symlink's content, lexically stays inside its home when followed
/// from `link_dir` (both relative to the home).
fn stays_inside(link_dir: &Path, target: &Path) -> bool {
    let mut depth: i64 = link_dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn comb_temps(dir: &Path) -> Vec<String> {
    dir_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".ferroftpd-comb."))
        .collect()
}

// ---------------------------------------------------------------------------------------
// FEAT, HELP and the switches

#[test]
fn feat_help_and_502_follow_the_three_switches() {
    let hash_lines: Vec<&str> = vec![
        "HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32",
        "XCRC",
        "MD5",
        "XMD5",
        "XSHA",
        "XSHA1",
        "XSHA256",
        "XSHA512",
    ];
    let hash_verbs = [
        "HASH", "XCRC", "MD5", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512",
    ];
    for bits in 0..8u8 {
        let (hash, comb, site) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
        let s = Server::start(opts(hash, comb, site).file("f.txt", "x"));
        let mut c = s.ftp_login();
        let what = format!("hash={hash} comb={comb} site={site}");

        // FEAT: the extension lines are exactly those switched on; the rest are always there.
        let f = feat(&mut c);
        let ext: BTreeSet<String> = f
            .iter()
            .filter(|l| {
                let word = l.split(' ').next().unwrap();
                hash_verbs.contains(&word) || word == "COMB" || word == "SITE"
            })
            .cloned()
            .collect();
        let mut want: BTreeSet<String> = BTreeSet::new();
        if hash {
            want.extend(hash_lines.iter().map(|s| s.to_string()));
        }
        if comb {
            want.insert("COMB".into());
        }
        assert_eq!(ext, want, "{what}: FEAT {f:?}");
        let base: BTreeSet<String> = [
            "UTF8",
            "SIZE",
            "MDTM",
            "MFMT",
            "REST STREAM",
            "EPRT",
            "EPSV",
            "TVFS",
            "AVBL",
            "MLST type*;size*;modify*;perm*;unique*;",
        ]
        .iter()
        .map(|l| l.to_string())
        .collect();
        // Exactly: the base lines and the switched-on ones, nothing else.
        let rest: BTreeSet<String> = f.difference(&ext).cloned().collect();
        assert_eq!(rest, base, "{what}: FEAT {f:?}");
        // No certificate here: no RFC 4217 lines, and the seed's spelling is not advertised.
        for absent in ["AUTH TLS", "PBSZ", "PROT", "AVLB"] {
            assert!(!f.contains(absent), "{what}: FEAT has {absent}: {f:?}");
        }

        // HELP lists the enabled verbs only.
        let h = help_words(&mut c);
        for v in hash_verbs {
            assert_eq!(h.contains(v), hash, "{what}: HELP and {v}: {h:?}");
        }
        assert_eq!(h.contains("COMB"), comb, "{what}: HELP and COMB: {h:?}");
        for v in ["AVBL", "AVLB", "SITE", "FEAT", "RETR"] {
            assert!(h.contains(v), "{what}: HELP lacks {v}: {h:?}");
        }

        // SITE HELP lists what SITE can do here.
        let sh = c.cmd("SITE HELP", 214);
        for sub in ["CHMOD", "SYMLINK", "MKDIR", "RMDIR"] {
            assert_eq!(sh.contains(sub), site, "{what}: SITE HELP and {sub}: {sh}");
        }
        assert!(sh.contains("HELP"), "{sh}");

        // What is off is 502, whatever its arguments.
        if !hash {
            for line in [
                "HASH f.txt",
                "XCRC f.txt",
                "MD5 f.txt",
                "XMD5 f.txt 0 1",
                "XSHA f.txt",
                "XSHA1 f.txt",
                "XSHA256 f.txt 5 1",
                "XSHA512 f.txt",
                "OPTS HASH",
                "OPTS HASH MD5",
            ] {
                c.cmd(line, 502);
            }
        }
        if !comb {
            c.cmd("COMB f.txt a b", 502);
            c.cmd("COMB x", 502);
        }
        if !site {
            c.cmd("SITE CHMOD 600 f.txt", 502);
            c.cmd("SITE CHMOD 99999 f.txt", 502);
            c.cmd("SITE SYMLINK f.txt l", 502);
            c.cmd("SITE MKDIR d", 502);
            c.cmd("SITE RMDIR d", 502);
            assert_eq!(mode(&s.home().join("f.txt")) & 0o200, 0o200);
            assert!(!s.home().join("l").exists() && !s.home().join("d").exists());
        }
        // AVBL is always there.
        c.cmd("AVBL", 213);
    }
}

#[test]
fn opts_hash_selects_feat_marks_and_rein_resets() {
    let s = Server::start(all_on());
    let mut c = s.ftp_raw();
    // OPTS is served before login; the draft's own examples.
    assert_eq!(c.cmd("OPTS HASH", 200), "200 SHA-256");
    assert_eq!(c.cmd("OPTS HASH sha-512", 200), "200 SHA-512");
    assert_eq!(c.cmd("OPTS HASH", 200), "200 SHA-512");
    assert_eq!(
        c.cmd("OPTS HASH CRC-37", 501),
        "501 Unknown algorithm, current selection not changed"
    );
    assert_eq!(c.cmd("OPTS HASH", 200), "200 SHA-512");
    assert!(feat(&mut c).contains("HASH SHA-1;SHA-256;SHA-512*;MD5;CRC32"));
    c.cmd("OPTS HASH crc32", 200);
    assert!(feat(&mut c).contains("HASH SHA-1;SHA-256;SHA-512;MD5;CRC32*"));
    // Login needed for the hash itself.
    c.cmd("HASH x", 530);
    c.login(USER, PASS);
    c.cmd("REIN", 220);
    assert_eq!(c.cmd("OPTS HASH", 200), "200 SHA-256");
}

// ---------------------------------------------------------------------------------------
// HASH and the checksum commands

#[test]
fn hash_of_empty_one_byte_and_big_files_matches() {
    let big = random_bytes(BIG, 7);
    let s = Server::start(
        all_on()
            .file("empty", b"")
            .file("one", b"\x7f")
            .file("dir/big file.bin", &big),
    );
    let mut c = s.ftp_login();
    for (name, data) in [
        ("empty", &b""[..]),
        ("one", &b"\x7f"[..]),
        ("dir/big file.bin", &big[..]),
    ] {
        for algo in ALGOS {
            let (start, end, digest, path) = hash(&mut c, algo, name);
            assert_eq!((start, end), (0, data.len() as u64), "{algo} {name}");
            assert_eq!(digest, expected(algo, data), "{algo} {name}");
            assert_eq!(path, name);
        }
    }
    // From another directory, by a relative and an absolute name.
    c.cmd("CWD /dir", 250);
    let (_, _, d, p) = hash(&mut c, "MD5", "big file.bin");
    assert_eq!(
        (d.as_str(), p.as_str()),
        (expected("MD5", &big).as_str(), "big file.bin")
    );
    let (_, _, d, _) = hash(&mut c, "SHA-1", "/one");
    assert_eq!(d, expected("SHA-1", b"\x7f"));
}

#[test]
fn legacy_checksums_and_byte_ranges_match() {
    let big = random_bytes(BIG, 11);
    let s = Server::start(
        all_on()
            .file("empty", b"")
            .file("one", b"Z")
            .file("big.bin", &big)
            .file("a b 7", b"spaces and a number"),
    );
    let mut c = s.ftp_login();
    let n = big.len() as u64;
    for (verb, algo) in LEGACY {
        assert_eq!(
            legacy(&mut c, &format!("{verb} empty"), algo),
            expected(algo, b"")
        );
        assert_eq!(
            legacy(&mut c, &format!("{verb} one"), algo),
            expected(algo, b"Z")
        );
        assert_eq!(
            legacy(&mut c, &format!("{verb} one 0 1"), algo),
            expected(algo, b"Z")
        );
        assert_eq!(
            legacy(&mut c, &format!("{verb} one 1"), algo),
            expected(algo, b"")
        );
        assert_eq!(
            legacy(&mut c, &format!("{verb} big.bin"), algo),
            expected(algo, &big)
        );
        // start..end, end exclusive; start alone runs to the end; an end past the file
        // stops at its end.
        for (start, end) in [
            (0u64, 1u64),
            (1000, 2_000_000),
            (4096, n),
            (n - 10, n + 100),
            (123, 123),
        ] {
            let line = format!("{verb} big.bin {start} {end}");
            let want = &big[start as usize..end.min(n) as usize];
            assert_eq!(legacy(&mut c, &line, algo), expected(algo, want), "{line}");
        }
        let line = format!("{verb} big.bin 3000000");
        assert_eq!(
            legacy(&mut c, &line, algo),
            expected(algo, &big[3_000_000..]),
            "{line}"
        );
        // A name ending in a number is quoted.
        let line = format!("{verb} \"a b 7\" 4");
        assert_eq!(
            legacy(&mut c, &line, algo),
            expected(algo, &b"spaces and a number"[4..])
        );
    }
}

#[test]
fn hash_refusals() {
    let s = Server::start(
        all_on()
            .file("f.txt", "data")
            .file("nodl/secret", "s")
            .dir("sub")
            .perm("/nodl", &["list", "upload"]),
    );
    let mut c = s.ftp_login();
    assert!(c.cmd("HASH missing", 550).starts_with("550 "));
    c.cmd("XCRC missing 0 1", 550);
    // Draft 3.5: the hash of a directory is not defined (553).
    c.cmd("HASH sub", 553);
    c.cmd("XSHA256 /", 553);
    // Download permission is required.
    c.cmd("HASH nodl/secret", 550);
    c.cmd("XMD5 nodl/secret", 550);
    // Confinement: the name is resolved inside the home.
    c.cmd("HASH ../../../../etc/passwd", 550);
    // Bad ranges.
    c.cmd("XCRC f.txt 10 5", 501);
    c.cmd("XCRC f.txt 99999999999999999999", 501);
    c.cmd("HASH", 501);
    // The session goes on.
    let (_, end, d, _) = hash(&mut c, "CRC32", "f.txt");
    assert_eq!((end, d), (4, expected("CRC32", b"data")));
}

#[test]
fn python_ftplib_hashes_agree_with_hashlib() {
    let big = random_bytes(BIG, 3);
    let s = Server::start(all_on().file("big.bin", &big).file("one", "!"));
    let out = s.python_ok(
        r#"
import hashlib, zlib
ftp = login()
data = open(os.path.join(HOME, "big.bin"), "rb").read()
def local(algo, d):
    if algo == "CRC32":
        return "%08x" % (zlib.crc32(d) & 0xffffffff)
    return hashlib.new({"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512", "MD5": "md5"}[algo], d).hexdigest()
for algo in ["SHA-1", "SHA-256", "SHA-512", "MD5", "CRC32"]:
    assert ftp.sendcmd("OPTS HASH " + algo) == "200 " + algo
    resp = ftp.sendcmd("HASH big.bin")
    last = resp.splitlines()[-1]
    assert last == "213 %s 0-%d %s big.bin" % (algo, len(data), local(algo, data)), (algo, resp)
for verb, algo in [("XCRC", "CRC32"), ("MD5", "MD5"), ("XMD5", "MD5"), ("XSHA", "SHA-1"),
                   ("XSHA1", "SHA-1"), ("XSHA256", "SHA-256"), ("XSHA512", "SHA-512")]:
    resp = ftp.sendcmd("%s big.bin 17 1048593" % verb)
    assert resp.splitlines()[-1] == "250 " + local(algo, data[17:1048593]), (verb, resp)
try:
    ftp.sendcmd("HASH nothere")
    raise SystemExit("HASH of a missing file succeeded")
except ftplib.error_perm as e:
    assert str(e).startswith("550"), e
ftp.quit()
print("ok")
"#,
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn hashing_does_not_stall_other_sessions() {
    // Large enough that hashing it takes a while even in an optimised build (and, in a
    // debug build, past the 5 s after which a long digest sends keep-alive lines); sparse,
    // so it costs no disk.
    const SIZE: u64 = 96 << 20;
    let s = Server::start(all_on());
    let big = s.home().join("sparse.bin");
    fs::File::create(&big).unwrap().set_len(SIZE).unwrap();
    let mut busy = s.ftp_login();
    let mut other = s.ftp_login();
    busy.cmd("OPTS HASH SHA-512", 200);
    busy.send("HASH sparse.bin");
    // The other session is served while the first one hashes...
    other.cmd("NOOP", 200);
    other.cmd("PWD", 257);
    other.cmd("XCRC sparse.bin 0 1", 250);
    // ...and the first one has not finished its answer yet (nothing, or at most the
    // opening keep-alive line, has arrived).
    busy.stream.set_nonblocking(true).unwrap();
    let mut head = [0u8; 64];
    let pending = busy.stream.peek(&mut head);
    busy.stream.set_nonblocking(false).unwrap();
    match &pending {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok(n) => assert!(
            head[..*n].starts_with(b"213-Computing"),
            "HASH of {SIZE} bytes answered before another session's three commands: {:?}",
            String::from_utf8_lossy(&head[..*n])
        ),
        Err(e) => panic!("{e}"),
    }
    let r = busy.reply();
    assert_eq!(r.code, 213, "{r:?}");
    assert_eq!(r.first(), "213-Computing SHA-512 digest");
    // Keep-alive lines, if any, are indented progress lines inside the one reply.
    for l in &r.lines[1..r.lines.len() - 1] {
        let n = l
            .strip_prefix(' ')
            .and_then(|l| l.strip_suffix(" bytes hashed"))
            .unwrap_or_else(|| panic!("odd keep-alive line {l:?}"));
        assert!(n.parse::<u64>().unwrap() <= SIZE);
    }
    // Python's hashlib is quick here, where a debug-built digest would not be.
    let want = s.python_ok(&format!(
        "import hashlib\nprint(hashlib.sha512(bytes({SIZE})).hexdigest())"
    ));
    assert_eq!(
        r.lines.last().unwrap(),
        &format!("213 SHA-512 0-{SIZE} {} sparse.bin", want.trim())
    );
}

// ---------------------------------------------------------------------------------------
// COMB

#[test]
fn comb_joins_in_order_and_removes_the_parts() {
    let parts: Vec<Vec<u8>> = vec![
        random_bytes(3 * 1024 * 1024 + 1, 1),
        b"second part".to_vec(),
        Vec::new(),
        random_bytes(1, 4),
    ];
    let s = Server::start(
        all_on()
            .file("up/p1", &parts[0])
            .file("up/p 2", &parts[1])
            .file("up/p3", &parts[2])
            .file("up/p4", &parts[3]),
    );
    let mut c = s.ftp_login();
    c.cmd("CWD up", 250);
    let t = c.cmd(r#"COMB "../the result" p1 "p 2" p3 /up/p4"#, 250);
    assert!(t.contains("/the result"), "{t}");
    let got = fs::read(s.home().join("the result")).unwrap();
    assert_eq!(got, parts.concat());
    assert!(dir_names(&s.home().join("up")).is_empty());
    assert!(comb_temps(&s.home()).is_empty());
}

#[test]
fn comb_appends_to_an_existing_target_and_keeps_its_mode() {
    let s = Server::start(all_on().file("log", "old;").file("a", "a;").file("b", "b;"));
    fs::set_permissions(s.home().join("log"), fs::Permissions::from_mode(0o640)).unwrap();
    let mut c = s.ftp_login();
    c.cmd("COMB log a b", 250);
    assert_eq!(
        fs::read_to_string(s.home().join("log")).unwrap(),
        "old;a;b;"
    );
    assert_eq!(mode(&s.home().join("log")), 0o640);
    assert_eq!(dir_names(&s.home()), vec!["log"]);
}

#[test]
fn comb_with_a_missing_or_refused_part_changes_nothing() {
    let s = Server::start(
        all_on()
            .file("t", "T")
            .file("a", "A")
            .file("c", "C")
            .file("keep/k", "K")
            .file("ro/r", "R")
            .dir("d")
            .perm("/keep", &["list", "download", "upload"])
            .perm("/ro", &["list", "download", "delete_files"]),
    );
    let before = |s: &Server| {
        let mut v = Vec::new();
        for p in ["t", "a", "c", "keep/k", "ro/r"] {
            v.push((p, fs::read(s.home().join(p)).ok()));
        }
        v
    };
    let snapshot = before(&s);
    let mut c = s.ftp_login();
    // A missing part in the middle: nothing combined, nothing removed.
    c.cmd("COMB t a missing c", 550);
    // A new target: still nothing.
    c.cmd("COMB new a missing", 550);
    // A part the user may not delete.
    c.cmd("COMB t a keep/k", 550);
    // A target the user may not write.
    c.cmd("COMB ro/r a", 550);
    c.cmd("COMB ro/new a", 550);
    // A directory as a part, the target as a part, a part twice.
    c.cmd("COMB t a d", 550);
    c.cmd("COMB t a t", 550);
    c.cmd("COMB t a a", 550);
    // Outside the home is inside the home.
    c.cmd("COMB t ../../../../etc/passwd", 550);
    // Syntax.
    c.cmd("COMB t", 501);
    c.cmd(r#"COMB t "a"#, 501);
    assert_eq!(before(&s), snapshot);
    assert!(!s.home().join("new").exists() && !s.home().join("ro/new").exists());
    assert!(comb_temps(&s.home()).is_empty() && comb_temps(&s.home().join("ro")).is_empty());
}

#[test]
fn comb_through_curl_quote() {
    let s = Server::start(all_on().file("x1", "one,").file("x2", "two"));
    s.curl_ok(&["-Q", "COMB joined x1 x2", "-o", "/dev/null", &s.url("/")]);
    assert_eq!(
        fs::read_to_string(s.home().join("joined")).unwrap(),
        "one,two"
    );
    assert!(!s.home().join("x1").exists() && !s.home().join("x2").exists());
    // A failing COMB fails curl (quote commands must succeed).
    let out = s.curl(&["-Q", "COMB joined nope", "-o", "/dev/null", &s.url("/")]);
    assert!(!out.status.success());
    assert_eq!(
        fs::read_to_string(s.home().join("joined")).unwrap(),
        "one,two"
    );
}

// ---------------------------------------------------------------------------------------
// SITE

#[test]
fn site_chmod_sets_mode_bits() {
    let s = Server::start(
        all_on()
            .file("f.txt", "x")
            .file("locked/g", "y")
            .dir("d")
            .perm("/locked", &["list", "download", "upload"]),
    );
    let home = s.home();
    let mut c = s.ftp_login();
    c.cmd("SITE CHMOD 600 f.txt", 200);
    assert_eq!(mode(&home.join("f.txt")), 0o600);
    c.cmd("site chmod 0751 /d", 200);
    assert_eq!(mode(&home.join("d")), 0o751);
    // Only permission bits: set-id and sticky bits are refused, as is a bad mode.
    c.cmd("SITE CHMOD 4755 f.txt", 501);
    c.cmd("SITE CHMOD 999 f.txt", 501);
    c.cmd("SITE CHMOD rwx f.txt", 501);
    c.cmd("SITE CHMOD 644", 501);
    assert_eq!(mode(&home.join("f.txt")), 0o600);
    // Needs the chmod permission; a missing file is 550.
    let before = mode(&home.join("locked/g"));
    c.cmd("SITE CHMOD 777 locked/g", 550);
    assert_eq!(mode(&home.join("locked/g")), before);
    c.cmd("SITE CHMOD 644 nothere", 550);
    // The home itself is not changed.
    let home_mode = mode(&home);
    c.cmd("SITE CHMOD 000 /", 550);
    assert_eq!(mode(&home), home_mode);
    // A real client: curl's quote commands.
    s.curl_ok(&["-Q", "SITE CHMOD 640 f.txt", "-o", "/dev/null", &s.url("/")]);
    assert_eq!(mode(&home.join("f.txt")), 0o640);
}

#[test]
fn site_symlink_stores_a_relative_target_inside_the_home() {
    let s = Server::start(all_on().file("data/f.txt", "content").dir("links/deep"));
    let home = s.home();
    let mut c = s.ftp_login();

    c.cmd("SITE SYMLINK data/f.txt links/l", 200);
    let target = fs::read_link(home.join("links/l")).unwrap();
    assert_eq!(target, PathBuf::from("../data/f.txt"));
    assert_eq!(
        fs::canonicalize(home.join("links/l")).unwrap(),
        fs::canonicalize(home.join("data/f.txt")).unwrap()
    );
    // The link works through the daemon.
    assert_eq!(c.get("RETR links/l"), b"content");

    // From a subdirectory, with quoting.
    c.cmd("CWD /links/deep", 250);
    c.cmd(r#"SITE SYMLINK "../../data" "to data""#, 200);
    assert_eq!(
        fs::read_link(home.join("links/deep/to data")).unwrap(),
        PathBuf::from("../../data")
    );

    // Attempts to point outside end up inside: the cleaned virtual path is linked.
    c.cmd("CWD /", 250);
    c.cmd("SITE SYMLINK /../../etc/passwd x", 200);
    let t = fs::read_link(home.join("x")).unwrap();
    assert_eq!(t, PathBuf::from("etc/passwd"));
    assert!(stays_inside(Path::new(""), &t));
    c.cmd("CWD /links/deep", 250);
    c.cmd("SITE SYMLINK ../../../../../../etc/passwd y", 200);
    let t = fs::read_link(home.join("links/deep/y")).unwrap();
    assert_eq!(t, PathBuf::from("../../etc/passwd"));
    assert!(stays_inside(Path::new("links/deep"), &t));
    // Neither resolves to the real /etc/passwd.
    for l in ["x", "links/deep/y"] {
        if let Ok(real) = fs::canonicalize(home.join(l)) {
            assert!(
                real.starts_with(fs::canonicalize(&home).unwrap()),
                "{real:?}"
            );
        }
    }
}

#[test]
fn site_symlink_under_a_symlinked_directory_counts_real_depth() {
    let s = Server::start(all_on().file("f.txt", "F").dir("d1/d2"));
    let home = s.home();
    // Made on disk by the administrator: /d1/d2/up is the home itself.
    std::os::unix::fs::symlink("../..", home.join("d1/d2/up")).unwrap();
    let mut c = s.ftp_login();
    c.cmd("SITE SYMLINK /f.txt /d1/d2/up/l", 200);
    // The link really lives in the home: its target must not climb three levels from there.
    let t = fs::read_link(home.join("l")).unwrap();
    assert_eq!(t, PathBuf::from("f.txt"));
    assert_eq!(fs::read_to_string(home.join("l")).unwrap(), "F");
}

#[test]
fn site_chmod_and_mfmt_leave_the_home_as_it_is_through_a_link() {
    let s = Server::start(all_on().dir("d1/d2"));
    let home = s.home();
    // Made on disk by the administrator: /d1/d2/up is the home itself.
    std::os::unix::fs::symlink("../..", home.join("d1/d2/up")).unwrap();
    let before = fs::metadata(&home).unwrap();
    let mut c = s.ftp_login();
    c.cmd("SITE CHMOD 000 d1/d2/up", 550);
    c.cmd("SITE CHMOD 000 /", 550);
    c.cmd("MFMT 20010101000000 d1/d2/up", 550);
    c.cmd("MFMT 20010101000000 /", 550);
    let after = fs::metadata(&home).unwrap();
    assert_eq!(after.permissions().mode(), before.permissions().mode());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    // Its subdirectories are not the home.
    c.cmd("SITE CHMOD 700 d1/d2", 200);
    assert_eq!(mode(&home.join("d1/d2")), 0o700);
}

#[test]
fn site_symlink_refusals() {
    let s = Server::start(
        all_on()
            .file("f.txt", "x")
            .file("ro/secret", "s")
            .dir("nolinks")
            .perm("/nolinks", &["list", "download", "upload"])
            .perm("/ro", &["list", "download"]),
    );
    let home = s.home();
    let mut c = s.ftp_login();
    // No create_symlinks where the link would go.
    c.cmd("SITE SYMLINK /f.txt /nolinks/l", 550);
    assert!(fs::symlink_metadata(home.join("nolinks/l")).is_err());
    // A link must not give the source more rights than it has (here: writing into /ro).
    c.cmd("SITE SYMLINK /ro/secret /w", 550);
    c.cmd("SITE SYMLINK /ro /rodir", 550);
    assert!(fs::symlink_metadata(home.join("w")).is_err());
    assert!(fs::symlink_metadata(home.join("rodir")).is_err());
    // The home itself, an existing name, a missing directory, syntax.
    c.cmd("SITE SYMLINK / l", 550);
    c.cmd("SITE SYMLINK f.txt /", 550);
    c.cmd("SITE SYMLINK f.txt f.txt", 550);
    c.cmd("SITE SYMLINK f.txt nodir/l", 550);
    c.cmd("SITE SYMLINK f.txt", 501);
    c.cmd("SITE SYMLINK a b c", 501);
    assert_eq!(fs::read_to_string(home.join("f.txt")).unwrap(), "x");
}

#[test]
fn a_link_moved_elsewhere_keeps_its_targets_permissions() {
    // A relative link to a missing name, made where both ends had the same rights, then
    // renamed: it now leads into /ro, whose rights (list only) hold through it.
    let s = Server::start(
        all_on()
            .file("ro/secret", "S")
            .dir("a")
            .perm("/ro", &["list"]),
    );
    let home = s.home();
    let mut c = s.ftp_login();
    c.cmd("SITE SYMLINK /a/ro/secret /a/l", 200);
    c.cmd("RNFR /a/l", 350);
    c.cmd("RNTO /l", 250);
    assert_eq!(fs::read_to_string(home.join("l")).unwrap(), "S");
    let r = c.try_get("RETR l").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    for verb in ["STOR", "APPE"] {
        let r = c.try_put(&format!("{verb} l"), b"EVIL").unwrap_err();
        assert_eq!(r.code, 550, "{verb}: {r:?}");
    }
    c.cmd("SITE CHMOD 777 l", 550);
    assert_eq!(fs::read_to_string(home.join("ro/secret")).unwrap(), "S");
    // curl is refused the same way.
    let out = s.curl(&["-o", "-", &s.url("/l")]);
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
    // A link may not name what the file patterns refuse.
    let s = Server::start(all_on().file("f.secret", "S").user_set(
        USER,
        "/filters/file_patterns",
        serde_json::json!([{"path": "/", "denied_patterns": ["*.secret"]}]),
    ));
    let mut c = s.ftp_login();
    c.cmd("SITE SYMLINK f.secret open.txt", 550);
    assert!(fs::symlink_metadata(s.home().join("open.txt")).is_err());
}

#[test]
fn site_mkdir_and_rmdir_are_mkd_and_rmd() {
    let s = Server::start(all_on().dir("locked").perm("/locked", &["list"]));
    let mut c = s.ftp_login();
    let t = c.cmd("SITE MKDIR new dir", 257);
    assert!(t.contains("\"/new dir\""), "{t}");
    assert!(s.home().join("new dir").is_dir());
    c.cmd("SITE RMDIR new dir", 250);
    assert!(!s.home().join("new dir").exists());
    c.cmd("SITE MKDIR locked/x", 550);
    c.cmd("SITE RMDIR nothere", 550);
    c.cmd("SITE MKDIR", 501);
    c.cmd("SITE FROB x", 502);
}

// ---------------------------------------------------------------------------------------
// AVBL

fn free_bytes(p: &Path) -> u64 {
    let st = rustix::fs::statvfs(p).unwrap();
    st.f_bavail * st.f_frsize
}

fn within_one_percent(got: u64, want: u64) -> bool {
    let diff = got.abs_diff(want);
    diff <= want / 100 + 4096 * 16
}

#[test]
fn avbl_is_the_free_space_of_the_filesystem() {
    let s = Server::start(ServerOpts::new().file("f.txt", "x").dir("sub"));
    let mut c = s.ftp_login();
    for line in ["AVBL", "AVLB", "AVBL sub", "avbl /sub", "AVBL ."] {
        let t = c.cmd(line, 213);
        let got: u64 = t.strip_prefix("213 ").unwrap().parse().unwrap();
        let want = free_bytes(&s.home());
        assert!(
            within_one_percent(got, want),
            "{line}: {got} vs statvfs {want}"
        );
    }
    let t = c.cmd("AVBL f.txt", 550);
    assert!(t.to_lowercase().contains("not a directory"), "{t}");
    c.cmd("AVBL nothere", 550);
    // Python's ftplib, a real client.
    let out = s.python_ok(
        "ftp = login()\nr = ftp.sendcmd('AVBL')\nassert r.startswith('213 '), r\nprint(r[4:])\nftp.quit()",
    );
    let got: u64 = out.trim().parse().unwrap();
    assert!(within_one_percent(got, free_bytes(&s.home())));
}

#[test]
fn avbl_needs_login() {
    let s = Server::default_started();
    let mut c = s.ftp_raw();
    c.cmd("AVBL", 530);
}
