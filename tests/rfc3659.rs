//! RFC 3659: SIZE, MDTM, MFMT (draft-somers-ftp-mfxx), REST STREAM for RETR and STOR,
//! MLST and MLSD (facts, OPTS MLST), TVFS paths; raw transcripts plus ftplib and suppaftp.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::time::{Duration, SystemTime};

use common::*;

fn server() -> Server {
    let s = Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .file("digits", "0123456789")
            .file("lines.txt", "a\nb\n")
            .file(".dot", "dot")
            .file("my file.txt", "spaced")
            .file("d/inner.txt", "inner"),
    );
    set_mtime(&s.home().join("a.txt"), known_time());
    s
}

/// Parse `fact=value;fact=value; name` into (facts with lower-case keys, name).
fn parse_facts(line: &str) -> (HashMap<String, String>, String) {
    let (facts, name) = line
        .split_once("; ")
        .unwrap_or_else(|| panic!("no '; ' before the name: {line:?}"));
    let map = facts
        .split(';')
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .unwrap_or_else(|| panic!("bad fact {f:?} in {line:?}"));
            (k.to_lowercase(), v.to_string())
        })
        .collect();
    (map, name.to_string())
}

/// MLST `path`: checks the 250- / fact line / 250 End shape, returns the fact line.
fn mlst(c: &mut Ctrl, arg: &str) -> String {
    c.send(format!("MLST {arg}").trim_end());
    let r = c.reply();
    assert_eq!(r.code, 250, "{r:?}");
    assert!(r.first().starts_with("250-"), "{r:?}");
    assert_eq!(r.lines.last().unwrap(), "250 End", "{r:?}");
    assert_eq!(r.lines.len(), 3, "one fact line expected: {r:?}");
    let fact = &r.lines[1];
    assert!(
        fact.starts_with(' ') && !fact.starts_with("  "),
        "fact line must start with exactly one space: {fact:?}"
    );
    fact[1..].to_string()
}

fn is_timestamp(v: &str) -> bool {
    let digits = v.split('.').next().unwrap();
    digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit())
}

#[test]
fn size_in_binary_is_the_byte_count() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    assert_eq!(c.cmd("SIZE a.txt", 213), "213 5");
    assert_eq!(c.cmd("SIZE /d/inner.txt", 213), "213 5");
}

#[test]
fn size_in_ascii_counts_crlf() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE A", 200);
    assert_eq!(c.cmd("SIZE lines.txt", 213), "213 6");
    c.cmd("TYPE I", 200);
    assert_eq!(c.cmd("SIZE lines.txt", 213), "213 4");
}

#[test]
fn size_missing_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("SIZE nosuch", 550);
}

#[test]
fn mdtm_is_utc_yyyymmddhhmmss() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(c.cmd("MDTM a.txt", 213), "213 20200102030405");
}

#[test]
fn mdtm_missing_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MDTM nosuch", 550);
}

#[test]
fn mfmt_sets_mtime_and_replies_modify() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(
        c.cmd("MFMT 20210304050607 a.txt", 213),
        "213 Modify=20210304050607; a.txt"
    );
    let m = fs::metadata(s.home().join("a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        m.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
        1_614_834_367
    );
    assert_eq!(c.cmd("MDTM a.txt", 213), "213 20210304050607");
}

#[test]
fn mfmt_on_a_name_with_spaces() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(
        c.cmd("MFMT 20210304050607 my file.txt", 213),
        "213 Modify=20210304050607; my file.txt"
    );
}

#[test]
fn mfmt_bad_time_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MFMT 2021 a.txt", 501);
    c.cmd("MFMT 20211304050607 a.txt", 501);
    c.cmd("MFMT a.txt", 501);
    assert_eq!(c.cmd("MDTM a.txt", 213), "213 20200102030405");
}

#[test]
fn mfmt_missing_file_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MFMT 20210304050607 nosuch", 550);
}

#[test]
fn rest_stream_retr_resumes_download() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.cmd("REST 4", 350);
    assert_eq!(c.get("RETR digits"), b"456789");
}

#[test]
fn rest_stream_stor_resumes_upload() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.cmd("REST 4", 350);
    c.put("STOR digits", b"abcdefghij");
    assert_eq!(
        fs::read(s.home().join("digits")).unwrap(),
        b"0123abcdefghij"
    );
    // REST was consumed: a plain STOR truncates again.
    c.put("STOR digits", b"xy");
    assert_eq!(fs::read(s.home().join("digits")).unwrap(), b"xy");
}

#[test]
fn rest_in_type_a_is_accepted() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE A", 200);
    c.cmd("REST 2", 350);
}

#[test]
fn rest_bad_argument_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("REST -1", 501);
    c.cmd("REST x", 501);
}

#[test]
fn suppaftp_resume_download() {
    let s = server();
    let mut ftp = s.suppaftp();
    ftp.resume_transfer(3).unwrap();
    assert_eq!(
        ftp.retr_as_buffer("digits").unwrap().into_inner(),
        b"3456789"
    );
    ftp.quit().unwrap();
}

#[test]
fn mlst_file_facts() {
    let s = server();
    let mut c = s.ftp_login();
    let line = mlst(&mut c, "a.txt");
    let (f, name) = parse_facts(&line);
    assert_eq!(name, "/a.txt", "{line}");
    assert_eq!(f.get("type").map(String::as_str), Some("file"), "{line}");
    assert_eq!(f.get("size").map(String::as_str), Some("5"), "{line}");
    assert_eq!(
        f.get("modify").map(|m| &m[..14]),
        Some("20200102030405"),
        "{line}"
    );
    assert!(f.contains_key("perm"), "{line}");
    assert!(f.contains_key("unique"), "{line}");
}

#[test]
fn mlst_without_argument_is_the_cwd() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("CWD d", 250);
    let line = mlst(&mut c, "");
    let (f, name) = parse_facts(&line);
    assert_eq!(name, "/d", "{line}");
    let t = f["type"].as_str();
    assert!(t == "dir" || t == "cdir", "{line}");
}

#[test]
fn mlst_dir_type() {
    let s = server();
    let mut c = s.ftp_login();
    let line = mlst(&mut c, "/d");
    let (f, name) = parse_facts(&line);
    assert_eq!(name, "/d");
    assert!(f["type"] == "dir" || f["type"] == "cdir", "{line}");
}

#[test]
fn mlst_missing_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MLST nosuch", 550);
}

#[test]
fn mlst_unique_is_stable_and_distinct() {
    let s = server();
    let mut c = s.ftp_login();
    let u1 = parse_facts(&mlst(&mut c, "a.txt")).0["unique"].clone();
    let u2 = parse_facts(&mlst(&mut c, "a.txt")).0["unique"].clone();
    let u3 = parse_facts(&mlst(&mut c, "digits")).0["unique"].clone();
    assert_eq!(u1, u2);
    assert_ne!(u1, u3);
}

#[test]
fn mlsd_lists_facts_and_dotfiles() {
    let s = server();
    let mut c = s.ftp_login();
    let text = c.list("MLSD");
    assert!(text.ends_with("\r\n"), "MLSD lines end in CRLF: {text:?}");
    let entries: HashMap<String, HashMap<String, String>> = lines(&text)
        .iter()
        .map(|l| {
            let (f, n) = parse_facts(l);
            (n, f)
        })
        .filter(|(_, f)| f["type"] != "cdir" && f["type"] != "pdir")
        .collect();
    let mut names: Vec<&String> = entries.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [".dot", "a.txt", "d", "digits", "lines.txt", "my file.txt"],
        "{text}"
    );
    let a = &entries["a.txt"];
    assert_eq!(a["type"], "file");
    assert_eq!(a["size"], "5");
    assert!(a["modify"].starts_with("20200102030405"), "{a:?}");
    assert!(a.contains_key("perm") && a.contains_key("unique"), "{a:?}");
    assert_eq!(entries["d"]["type"], "dir");
    for (n, f) in &entries {
        assert!(is_timestamp(&f["modify"]), "{n}: {f:?}");
    }
}

#[test]
fn mlsd_of_a_subdir() {
    let s = server();
    let mut c = s.ftp_login();
    let text = c.list("MLSD d");
    let names: Vec<String> = lines(&text)
        .iter()
        .map(|l| parse_facts(l))
        .filter(|(f, _)| f["type"] == "file")
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["inner.txt"], "{text}");
}

#[test]
fn mlsd_of_a_file_is_501_and_of_nothing_550() {
    // RFC 3659 7.1: MLSD lists a directory; named anything else, 501. ftplib, which sends
    // PASV first: the refusal comes before any data connection is used.
    let s = server();
    let out = s.python_ok(
        "import ftplib\n\
         ftp = login()\n\
         for name in ('a.txt', 'missing'):\n\
         \x20   try:\n\
         \x20       print(list(ftp.mlsd(name)))\n\
         \x20   except ftplib.error_perm as e:\n\
         \x20       print(str(e)[:4])\n\
         print(ftp.sendcmd('NOOP')[:4])\n\
         ftp.quit()",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["501 ", "550 ", "200 "],
        "{out}"
    );
}

#[test]
fn mlsd_perm_reflects_permissions() {
    let s = Server::start(
        ServerOpts::new()
            .file("rw.txt", "x")
            .file("ro/f.txt", "x")
            .perm("/ro", &["list", "download"]),
    );
    let mut c = s.ftp_login();
    let rw = parse_facts(&mlst(&mut c, "rw.txt")).0["perm"].clone();
    assert!(rw.contains('r') && rw.contains('w'), "rw.txt perm={rw}");
    let ro = parse_facts(&mlst(&mut c, "ro/f.txt")).0["perm"].clone();
    assert!(ro.contains('r'), "ro/f.txt perm={ro}");
    assert!(
        !ro.contains('w') && !ro.contains('d') && !ro.contains('f') && !ro.contains('a'),
        "ro/f.txt perm={ro}"
    );
}

#[test]
fn opts_mlst_selects_facts() {
    // RFC 3659 7.9: after OPTS MLST only the selected facts are returned.
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("OPTS MLST type;size;", 200);
    let (f, _) = parse_facts(&mlst(&mut c, "a.txt"));
    let mut keys: Vec<&String> = f.keys().collect();
    keys.sort();
    assert_eq!(keys, ["size", "type"]);
    c.send("FEAT");
    let feat = c.reply().text();
    assert!(
        feat.contains(" MLST type*;size*;modify;perm;unique;"),
        "FEAT must mark the selected facts: {feat}"
    );
}

#[test]
fn tvfs_paths_with_slashes() {
    let s = Server::start(ServerOpts::new().file("x/y/z.txt", "deep"));
    let mut c = s.ftp_login();
    c.cmd("CWD x/y", 250);
    assert!(c.cmd("PWD", 257).contains("\"/x/y\""));
    c.cmd("CWD /", 250);
    assert_eq!(c.cmd("SIZE x/y/z.txt", 213), "213 4");
    assert_eq!(c.cmd("SIZE /x/./y/../y/z.txt", 213), "213 4");
}

#[test]
fn ftplib_mlsd_and_size() {
    let s = server();
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         for name, facts in sorted(ftp.mlsd(facts=['type', 'size'])):\n\
         \x20   if facts['type'] == 'file':\n\
         \x20       print(name, facts['size'])\n\
         print('SIZE', ftp.size('a.txt'))\n\
         print('MDTM', ftp.voidcmd('MDTM a.txt'))\n\
         ftp.quit()",
    );
    let l = lines(&out);
    assert_eq!(
        l,
        [
            ".dot 3",
            "a.txt 5",
            "digits 10",
            "lines.txt 4",
            "my file.txt 6",
            "SIZE 5",
            "MDTM 213 20200102030405"
        ],
        "{out}"
    );
}

#[test]
fn suppaftp_mlsd_mlst_size_mdtm() {
    let s = server();
    let mut ftp = s.suppaftp();
    let mlsd = ftp.mlsd(None).unwrap();
    assert!(mlsd.iter().any(|l| l.ends_with("; a.txt")), "{mlsd:?}");
    let mlst = ftp.mlst(Some("a.txt")).unwrap();
    assert!(mlst.contains("type=file"), "{mlst}");
    assert_eq!(ftp.size("a.txt").unwrap(), 5);
    let t = ftp.mdtm("a.txt").unwrap();
    assert_eq!(t.and_utc().timestamp(), 1_577_934_245);
    ftp.quit().unwrap();
}

#[test]
fn mfmt_then_list_shows_new_date() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MFMT 20210304050607 digits", 213);
    let l = c.list("LIST digits");
    assert!(l.contains("Mar") && l.contains(" 4 "), "{l}");
    let m = fs::metadata(s.home().join("digits"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        m,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_614_834_367)
    );
}
