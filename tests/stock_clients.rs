//! The FTP clients an administrator finds already installed, beyond curl, lftp, ftplib and
//! suppaftp (tests/clients.rs): BusyBox's ftpget/ftpput (the client of most appliances),
//! tnftp (the BSD `ftp`), wget (plain, explicit FTPS, resume, recursive download through
//! LIST parsing) and rclone (Go's jlaffaye/ftp over explicit FTPS, several sessions at
//! once, MLSD and MFMT). Each drives the real daemon and is checked by the bytes on both
//! sides and, where the client prints them, by its reply codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod tls_support;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use tls_support::*;

fn data() -> Vec<u8> {
    random_bytes(300_000, 0xB5B0)
}

const NOTES: &str = "first line\nsecond line\n\nlast\n";

fn server() -> Server {
    Server::start(
        ServerOpts::new()
            .file("data.bin", data())
            .file("notes.txt", NOTES),
    )
}

/// Runs `cmd` in the scratch directory (as HOME too), bounded; it must succeed. Returns
/// its stdout and its stderr.
fn run_ok(what: &str, s: &Server, cmd: &mut Command, input: Option<&str>) -> (String, String) {
    cmd.env("HOME", s.local()).current_dir(s.local());
    let out = run_bounded_fed(cmd, s.dir.path(), input);
    assert_ok(what, format!("{cmd:?}"), &out, s);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both outputs in one, for clients that print the dialogue on either.
fn run_all(what: &str, s: &Server, cmd: &mut Command, input: Option<&str>) -> String {
    let (out, err) = run_ok(what, s, cmd, input);
    out + &err
}

/// The first `n` bytes of data() with every bit flipped: a partial file that a client
/// which downloads again from the start would overwrite, and one that resumes keeps.
fn foreign_prefix(n: usize) -> Vec<u8> {
    data()[..n].iter().map(|b| !b).collect()
}

/// What a resumed download of data() onto foreign_prefix(n) must leave.
fn resumed(n: usize) -> Vec<u8> {
    let mut v = foreign_prefix(n);
    v.extend_from_slice(&data()[n..]);
    v
}

/// The reply lines a client printed (`NNN text`) whose code is 4xx or 5xx.
fn error_replies(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| {
            let b = l.as_bytes();
            b.len() >= 4
                && matches!(b[0], b'4' | b'5')
                && b[1..3].iter().all(u8::is_ascii_digit)
                && matches!(b[3], b' ' | b'-')
        })
        .collect()
}

// ---------- BusyBox ----------

fn busybox(s: &Server, applet: &str, args: &[&str]) -> String {
    let mut cmd = tool(
        "busybox",
        ".ci/run installs it (apt-get install -y busybox)",
    );
    let port = s.port().to_string();
    cmd.args([
        applet,
        "-v",
        "-u",
        USER,
        "-p",
        PASS,
        "-P",
        &port,
        "127.0.0.1",
    ])
    .args(args);
    run_all(applet, s, &mut cmd, None)
}

#[test]
fn busybox_ftpput_and_ftpget() {
    let s = server();
    let up = random_bytes(150_000, 11);
    fs::write(s.local().join("up.bin"), &up).unwrap();
    busybox(&s, "ftpput", &["put.bin", "up.bin"]);
    assert!(fs::read(s.home().join("put.bin")).unwrap() == up);

    busybox(&s, "ftpget", &["got.bin", "data.bin"]);
    assert!(fs::read(s.local().join("got.bin")).unwrap() == data());
}

#[test]
fn busybox_ftpget_continues_a_partial_file() {
    let s = server();
    fs::write(s.local().join("part.bin"), foreign_prefix(100_000)).unwrap();
    busybox(&s, "ftpget", &["-c", "part.bin", "data.bin"]);
    assert!(fs::read(s.local().join("part.bin")).unwrap() == resumed(100_000));
}

// ---------- tnftp (BSD ftp) ----------

/// One tnftp session with `script` on its standard input, after logging in.
fn tnftp(s: &Server, script: &str) -> String {
    let mut cmd = tool("tnftp", ".ci/run installs it (apt-get install -y tnftp)");
    cmd.args(["-n", "-v", "-p", "127.0.0.1", &s.port().to_string()]);
    let input = format!("user {USER} {PASS}\n{script}\nquit\n");
    run_all("tnftp", s, &mut cmd, Some(&input))
}

#[test]
fn tnftp_session_without_an_error_reply() {
    let s = server();
    let up = random_bytes(120_000, 12);
    fs::write(s.local().join("up.bin"), &up).unwrap();
    fs::write(s.local().join("part.bin"), foreign_prefix(70_000)).unwrap();
    let out = tnftp(
        &s,
        "binary\nmkdir tn\ncd tn\nput up.bin\nls\nrename up.bin moved.bin\n\
         get moved.bin back.bin\ncd /\nreget data.bin part.bin\nsize data.bin\n\
         modtime data.bin\nascii\nget notes.txt notes-a.txt\nbinary\ndelete notes.txt\n\
         mkdir gone\nrmdir gone",
    );
    assert!(error_replies(&out).is_empty(), "error replies:\n{out}");
    // Every step left what it should, on both sides.
    assert!(fs::read(s.home().join("tn/moved.bin")).unwrap() == up);
    assert!(!s.home().join("tn/up.bin").exists());
    assert!(fs::read(s.local().join("back.bin")).unwrap() == up);
    assert!(fs::read(s.local().join("part.bin")).unwrap() == resumed(70_000));
    // TYPE A: CRLF on the wire (a byte more a line), LF again on the client's disk.
    assert_eq!(
        fs::read_to_string(s.local().join("notes-a.txt")).unwrap(),
        NOTES
    );
    let wire = NOTES.len() + NOTES.matches('\n').count();
    assert!(
        out.contains(&format!("{wire} bytes received")),
        "the TYPE A download is {wire} bytes on the wire:\n{out}"
    );
    assert!(!s.home().join("notes.txt").exists());
    assert!(!s.home().join("gone").exists());
    assert!(
        out.contains("up.bin"),
        "the listing names the upload:\n{out}"
    );
    assert!(out.contains("226"), "transfers complete:\n{out}");
}

// ---------- wget ----------

fn wget(s: &Server, args: &[&str]) -> String {
    let mut cmd = tool("wget", ".ci/run installs it (apt-get install -y wget)");
    cmd.args(["-nv", "--tries=1", "--timeout=30"]).args(args);
    run_all("wget", s, &mut cmd, None)
}

#[test]
fn wget_downloads_and_continues() {
    let s = server();
    wget(&s, &["-O", "got.bin", &s.url("data.bin")]);
    assert!(fs::read(s.local().join("got.bin")).unwrap() == data());

    fs::write(s.local().join("data.bin"), foreign_prefix(50_000)).unwrap();
    wget(&s, &["-c", &s.url("data.bin")]);
    assert!(fs::read(s.local().join("data.bin")).unwrap() == resumed(50_000));
}

#[test]
fn wget_mirrors_a_tree_from_its_listings() {
    let s = server();
    make_tree(&s.home().join("tree"));
    wget(&s, &["-r", "-nH", "-P", "dl", &s.url("tree/")]);
    assert_eq!(
        tree(&s.local().join("dl/tree")),
        tree(&s.home().join("tree"))
    );
}

#[test]
fn wget_over_explicit_ftps() {
    let pki = Pki::new("wget");
    // tls_mode 1: the control connection must be TLS, so a download proves wget used it.
    let s = Server::start(tls_opts(&pki, 1).file("data.bin", data()));
    let ca = format!("--ca-certificate={}", pki.ca_str());
    let url = s.url("data.bin").replacen("ftp://", "ftps://", 1);
    wget(&s, &[&ca, "-O", "got.bin", &url]);
    assert!(fs::read(s.local().join("got.bin")).unwrap() == data());
}

// ---------- rclone ----------

/// rclone with the PKI's CA as the only trusted root (Go reads SSL_CERT_FILE) and no
/// config file (an empty RCLONE_CONFIG: in memory only). Returns its stdout.
fn rclone(s: &Server, ca: &Path, args: &[&str]) -> String {
    let mut cmd = tool("rclone", ".ci/run installs it (apt-get install -y rclone)");
    cmd.args([
        "--retries",
        "1",
        "--low-level-retries",
        "1",
        "--contimeout",
        "20s",
    ])
    .args(args)
    .env("SSL_CERT_FILE", ca)
    .env("RCLONE_CONFIG", "");
    run_ok("rclone", s, &mut cmd, None).0
}

#[test]
fn rclone_over_explicit_ftps() {
    let pki = Pki::new("rclone");
    let s = Server::start(tls_opts(&pki, 1));
    let ca = pki.ca_pem.clone();
    let obscured = rclone(&s, &ca, &["obscure", PASS]);
    let remote = format!(
        ":ftp,host=127.0.0.1,port={},user={USER},pass={},explicit_tls=true:",
        s.port(),
        obscured.trim()
    );
    let at = |p: &str| format!("{remote}{p}");
    make_tree(&s.local().join("up"));
    let stamp = known_time();
    set_mtime(&s.local().join("up/x.txt"), stamp);

    rclone(&s, &ca, &["copy", "up", &at("rc")]);
    assert_eq!(tree(&s.home().join("rc")), tree(&s.local().join("up")));
    // rclone keeps modification times through MFMT.
    let got = fs::metadata(s.home().join("rc/x.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(got, stamp, "mtime of the uploaded x.txt");

    // Its listing (MLSD) agrees with the files: nothing differs.
    rclone(&s, &ca, &["check", "up", &at("rc")]);
    rclone(&s, &ca, &["copy", &at("rc"), "down"]);
    assert_eq!(tree(&s.local().join("down")), tree(&s.local().join("up")));

    rclone(&s, &ca, &["moveto", &at("rc/x.txt"), &at("rc/sub/x2.txt")]);
    assert_eq!(
        fs::read(s.home().join("rc/sub/x2.txt")).unwrap(),
        b"x file\n"
    );
    assert!(!s.home().join("rc/x.txt").exists());

    rclone(&s, &ca, &["purge", &at("rc")]);
    assert!(!s.home().join("rc").exists());
}
