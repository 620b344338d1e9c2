//! Data transfers: ASCII conversion both ways (and ignore_ascii_transfer_type), resume
//! both ways (curl `-C -`, ftplib `rest=`), ABOR mid-transfer (ftplib, raw Telnet IP/Synch),
//! atomic uploads (upload_mode 1) on ABOR and on a killed client, wildcards in LIST/NLST,
//! transfer log lines, and 50 concurrent sessions checked by SHA-256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

use common::*;
use sha2::{Digest, Sha256};
use socket2::SockRef;

const BIG: u64 = 64 << 20;

/// A server with `big.bin`: a 64 MiB sparse file (fast to create, slow to send whole).
fn server_with_big(opts: ServerOpts) -> Server {
    let s = Server::start(opts.file("small.txt", "small"));
    fs::File::create(s.home().join("big.bin"))
        .unwrap()
        .set_len(BIG)
        .unwrap();
    s
}

// ---------- ASCII ----------

#[test]
fn ascii_download_converts_lf_to_crlf() {
    let s = Server::start(ServerOpts::new().file("lines.txt", "a\nb\n"));
    let mut c = s.ftp_login();
    c.cmd("TYPE A", 200);
    assert_eq!(c.get("RETR lines.txt"), b"a\r\nb\r\n");
    c.cmd("TYPE I", 200);
    assert_eq!(c.get("RETR lines.txt"), b"a\nb\n");
}

#[test]
fn ascii_download_with_ftplib_bytes() {
    let s = Server::start(ServerOpts::new().file("lines.txt", "one\ntwo\n"));
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE A')\n\
         with ftp.transfercmd('RETR lines.txt') as conn:\n\
         \x20   data = conn.makefile('rb').read()\n\
         ftp.voidresp()\n\
         print(repr(data))\n\
         ftp.quit()",
    );
    assert_eq!(out.trim(), r"b'one\r\ntwo\r\n'");
}

#[test]
fn ascii_upload_converts_crlf_to_lf() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_login();
    c.cmd("TYPE A", 200);
    c.put("STOR up.txt", b"a\r\nb\r\n");
    assert_eq!(fs::read(s.home().join("up.txt")).unwrap(), b"a\nb\n");
    c.cmd("TYPE I", 200);
    c.put("STOR bin.txt", b"a\r\nb\r\n");
    assert_eq!(fs::read(s.home().join("bin.txt")).unwrap(), b"a\r\nb\r\n");
}

#[test]
fn ascii_upload_with_ftplib_storlines() {
    let s = Server::start(ServerOpts::new());
    s.python_ok(
        "ftp = login()\n\
         ftp.storlines('STOR up.txt', io.BytesIO(b'first\\nsecond\\n'))\n\
         ftp.quit()",
    );
    assert_eq!(
        fs::read(s.home().join("up.txt")).unwrap(),
        b"first\nsecond\n"
    );
}

#[test]
fn ignore_ascii_transfer_type_keeps_bytes_both_ways() {
    let s = Server::start(
        ServerOpts::new()
            .binding("ignore_ascii_transfer_type", 1)
            .file("lines.txt", "a\nb\n"),
    );
    let mut c = s.ftp_login();
    c.cmd("TYPE A", 200);
    assert_eq!(c.get("RETR lines.txt"), b"a\nb\n");
    c.put("STOR up.txt", b"a\r\nb\r\n");
    assert_eq!(fs::read(s.home().join("up.txt")).unwrap(), b"a\r\nb\r\n");
}

#[test]
fn ignore_ascii_transfer_type_with_ftplib_storlines() {
    let s = Server::start(ServerOpts::new().binding("ignore_ascii_transfer_type", 1));
    s.python_ok(
        "ftp = login()\n\
         ftp.storlines('STOR up.txt', io.BytesIO(b'x\\ny\\n'))\n\
         ftp.quit()",
    );
    assert_eq!(fs::read(s.home().join("up.txt")).unwrap(), b"x\r\ny\r\n");
}

// ---------- resume ----------

fn resume_server(remote: &[u8]) -> Server {
    Server::start(ServerOpts::new().file("remote.bin", remote))
}

#[test]
fn curl_resumes_a_download() {
    let full = random_bytes(100_000, 1);
    let s = resume_server(&full);
    fs::write(s.local().join("part.bin"), &full[..30_000]).unwrap();
    let out = s.curl(&["-v", "-C", "-", "-o", "part.bin", &s.url("remote.bin")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("REST 30000"), "curl did not resume: {err}");
    assert!(fs::read(s.local().join("part.bin")).unwrap() == full);
}

#[test]
fn curl_resumes_an_upload() {
    let full = random_bytes(100_000, 2);
    let s = resume_server(&full[..30_000]);
    fs::write(s.local().join("full.bin"), &full).unwrap();
    let out = s.curl(&["-v", "-C", "-", "-T", "full.bin", &s.url("remote.bin")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("APPE remote.bin"),
        "curl did not resume: {err}"
    );
    assert!(fs::read(s.home().join("remote.bin")).unwrap() == full);
}

#[test]
fn ftplib_resumes_a_download_with_rest() {
    let full = random_bytes(100_000, 3);
    let s = resume_server(&full);
    s.python_ok(
        "ftp = login()\n\
         with open(os.path.join(LOCAL, 'tail.bin'), 'wb') as f:\n\
         \x20   ftp.retrbinary('RETR remote.bin', f.write, rest=30000)\n\
         ftp.quit()",
    );
    assert!(fs::read(s.local().join("tail.bin")).unwrap() == full[30_000..]);
}

#[test]
fn ftplib_resumes_an_upload_with_rest() {
    let full = random_bytes(100_000, 4);
    let s = resume_server(&full[..30_000]);
    fs::write(s.local().join("full.bin"), &full).unwrap();
    s.python_ok(
        "ftp = login()\n\
         with open(os.path.join(LOCAL, 'full.bin'), 'rb') as f:\n\
         \x20   f.seek(30000)\n\
         \x20   ftp.storbinary('STOR remote.bin', f, rest=30000)\n\
         ftp.quit()",
    );
    assert!(fs::read(s.home().join("remote.bin")).unwrap() == full);
}

#[test]
fn ascii_resumes_count_the_bytes_as_sent() {
    // REST counts bytes of the data stream (RFC 3659 5.1), so in TYPE A the converted
    // ones: "one\ntwo\n" is sent as "one\r\ntwo\r\n". ftplib resumes the download at
    // every offset, the one between a CR and its LF too, and gets the stream's rest.
    let s = Server::start(ServerOpts::new().file("lines.txt", "one\ntwo\n"));
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE A')\n\
         for n in range(11):\n\
         \x20   with ftp.transfercmd('RETR lines.txt', rest=n) as conn:\n\
         \x20       print(n, repr(conn.makefile('rb').read()))\n\
         \x20   ftp.voidresp()\n\
         ftp.quit()",
    );
    let stream = b"one\r\ntwo\r\n";
    let want: Vec<String> = (0..=10)
        .map(|n| format!("{n} {}", py_bytes(&stream[n..])))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
    // An ASCII upload resumed after the first two lines, as the client counted them
    // (10 bytes with CRLF), continues after the 8 stored ones.
    s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE A')\n\
         conn = ftp.transfercmd('STOR lines.txt', rest=10)\n\
         conn.sendall(b'three\\r\\n')\n\
         conn.close()\n\
         ftp.voidresp()\n\
         ftp.quit()",
    );
    assert_eq!(
        fs::read(s.home().join("lines.txt")).unwrap(),
        b"one\ntwo\nthree\n"
    );
}

/// Python's repr of bytes that are printable ASCII, CR or LF.
fn py_bytes(b: &[u8]) -> String {
    let inner: String = b
        .iter()
        .map(|&c| match c {
            b'\r' => "\\r".to_string(),
            b'\n' => "\\n".to_string(),
            c => (c as char).to_string(),
        })
        .collect();
    format!("b'{inner}'")
}

#[test]
fn rest_past_the_end_is_refused_with_554() {
    // RFC 3659 5: an invalid REST parameter is 554, at the RETR or STOR it applies to.
    // ftplib: a download past the end of a 30,000-byte file, then an upload (which would
    // leave a hole of zeros), then an upload resumed on a file that is not there; the
    // file is left as it was and the missing one is not made. At the very end, a
    // download sends nothing and succeeds.
    let full = random_bytes(30_000, 5);
    let s = resume_server(&full);
    let out = s.python_ok(
        "import ftplib\n\
         ftp = login()\n\
         for cmd, rest in (('RETR remote.bin', 30001), ('STOR remote.bin', 40000),\n\
         \x20                 ('STOR missing.bin', 10)):\n\
         \x20   try:\n\
         \x20       ftp.transfercmd(cmd, rest=rest).close()\n\
         \x20       print(cmd, 'accepted')\n\
         \x20   except ftplib.error_perm as e:\n\
         \x20       print(cmd, str(e))\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR remote.bin', buf.write, rest=30000)\n\
         print('at the end', len(buf.getvalue()))\n\
         ftp.quit()",
    );
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        [
            "RETR remote.bin 554 REST 30001 is past the end of /remote.bin",
            "STOR remote.bin 554 REST 40000 is past the end of /remote.bin",
            "STOR missing.bin 554 REST 10 is past the end of /missing.bin",
            "at the end 0",
        ],
        "{out}"
    );
    assert!(fs::read(s.home().join("remote.bin")).unwrap() == full);
    assert!(!s.home().join("missing.bin").exists());
}

// ---------- ABOR ----------

#[test]
fn ftplib_abort_mid_download_then_session_continues() {
    let s = server_with_big(ServerOpts::new());
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         conn = ftp.transfercmd('RETR big.bin')\n\
         got = 0\n\
         while got < (1 << 20):\n\
         \x20   b = conn.recv(65536)\n\
         \x20   if not b:\n\
         \x20       break\n\
         \x20   got += len(b)\n\
         resp = ftp.abort()\n\
         print('ABORT', resp[:3])\n\
         if resp[:3] == '426':\n\
         \x20   print('THEN', ftp.getresp()[:3])\n\
         conn.close()\n\
         print('PWD', ftp.pwd())\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR small.txt', buf.write)\n\
         print('SMALL', buf.getvalue().decode())\n\
         ftp.quit()",
    );
    assert_eq!(
        lines(&out),
        ["ABORT 426", "THEN 226", "PWD /", "SMALL small"],
        "{out}"
    );
    let line = s.wait_log_line(&["transfer RETR", "path=/big.bin", "result=aborted"]);
    assert!(line.contains("user=u "), "{line}");
}

#[test]
fn abor_with_telnet_ip_and_synch_mid_download() {
    let s = server_with_big(ServerOpts::new());
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let mut d = c.open_data();
    c.send("RETR big.bin");
    c.expect_prelim();
    let mut buf = vec![0u8; 65536];
    let mut got = 0;
    while got < 256 * 1024 {
        let n = d.read(&mut buf).unwrap();
        assert!(n > 0, "download ended early");
        got += n;
    }
    // BSD ftp(1): IAC IP, then IAC as urgent data (Synch), then DM and the command.
    c.send_bytes(&[0xff, 0xf4]);
    SockRef::from(&c.stream).send_out_of_band(&[0xff]).unwrap();
    c.send_bytes(b"\xf2ABOR\r\n");
    c.expect(426);
    c.expect(226);
    drop(d);
    c.cmd("NOOP", 200);
    assert_eq!(c.get("RETR small.txt"), b"small");
}

#[test]
fn abor_mid_download_plain() {
    let s = server_with_big(ServerOpts::new());
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let mut d = c.open_data();
    c.send("RETR big.bin");
    c.expect_prelim();
    let mut buf = vec![0u8; 65536];
    assert!(d.read(&mut buf).unwrap() > 0);
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    c.cmd("PWD", 257);
}

#[test]
fn suppaftp_abort_mid_download() {
    let s = server_with_big(ServerOpts::new());
    let mut ftp = s.suppaftp();
    let mut stream = ftp.retr_as_stream("big.bin").unwrap();
    let mut buf = vec![0u8; 65536];
    stream.read_exact(&mut buf).unwrap();
    ftp.abort(stream).unwrap();
    assert_eq!(
        ftp.retr_as_buffer("small.txt").unwrap().into_inner(),
        b"small"
    );
    ftp.quit().unwrap();
}

#[test]
fn a_stor_whose_data_connection_never_comes_changes_no_file() {
    // A 425 or an ABOR before the data connection means nothing was stored: the old file
    // stays whole (vsftpd and SFTPGo empty it first) and a new name is not left behind.
    let s = Server::start(ServerOpts::new().file("keep.txt", "precious"));
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         sk = socket.socket(); sk.bind(('127.0.0.1', 0)); closed = sk.getsockname()[1]; sk.close()\n\
         for verb, name in [('STOR', 'keep.txt'), ('STOR', 'new.txt'), ('APPE', 'app.txt')]:\n\
         \x20   ftp.sendport('127.0.0.1', closed)\n\
         \x20   print(ftp.sendcmd(verb + ' ' + name)[:3])\n\
         \x20   try:\n\
         \x20       ftp.getresp()\n\
         \x20       print('stored')\n\
         \x20   except ftplib.error_temp as e:\n\
         \x20       print(str(e)[:3])\n\
         ftp.sendcmd('PASV')\n\
         print(ftp.sendcmd('STOR keep.txt')[:3])\n\
         ftp.putcmd('ABOR')\n\
         print(ftp.getline()[:3], ftp.getline()[:3])\n\
         ftp.quit()",
    );
    assert_eq!(
        lines(&out),
        ["150", "425", "150", "425", "150", "425", "150", "426 226"]
    );
    assert_eq!(fs::read(s.home().join("keep.txt")).unwrap(), b"precious");
    assert!(!s.home().join("new.txt").exists());
    assert!(!s.home().join("app.txt").exists());
    // With the data connection, the same STOR replaces the file.
    let mut c = s.ftp_login();
    c.put("STOR keep.txt", b"new");
    assert_eq!(fs::read(s.home().join("keep.txt")).unwrap(), b"new");
}

// ---------- uploads by splice ----------

/// The daemon's debug line when an upload goes on by splice.
#[cfg(target_os = "linux")]
const SPLICED: &str = "upload: by splice after the first";

#[cfg(target_os = "linux")]
fn spliced(s: &Server) -> usize {
    s.log().matches(SPLICED).count()
}

/// Starts `STOR name` in TYPE I, sends `bytes` and waits until the file holds them all.
/// Returns the control and the (still open) data connection.
#[cfg(target_os = "linux")]
fn upload_in_part(s: &Server, name: &str, bytes: &[u8]) -> (Ctrl, TcpStream) {
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let mut d = c.open_data();
    c.send(&format!("STOR {name}"));
    c.expect_prelim();
    d.write_all(bytes).unwrap();
    let reached = wait_until(SOON, || {
        let n = fs::metadata(s.home().join(name)).map_or(0, |m| m.len());
        (n == bytes.len() as u64).then_some(())
    });
    assert!(
        reached.is_some(),
        "{} bytes never reached {name}",
        bytes.len()
    );
    (c, d)
}

#[test]
#[cfg(target_os = "linux")]
fn big_plain_binary_uploads_go_by_splice_and_arrive_whole() {
    // Past its first 64 KiB, a plain binary upload goes from the socket to the file by
    // splice(2) on Linux. Real clients: whole files, a resume at its offset, a size limit
    // reached while splicing, ABOR while splicing. An append (splice refuses O_APPEND)
    // and an ASCII upload (converted) are copied.
    let old = random_bytes(30_000, 40);
    let s = Server::start(
        ServerOpts::new()
            .arg("-d")
            .user_set(USER, "/filters/max_upload_file_size", 6_000_000)
            .file("resume.bin", &old)
            .file("app.bin", &old),
    );
    let h = s.home();

    let big = random_bytes(5 << 20, 41);
    fs::write(s.local().join("big.bin"), &big).unwrap();
    s.curl_ok(&["-T", "big.bin", &s.url("big.bin")]);
    assert!(fs::read(h.join("big.bin")).unwrap() == big, "curl -T");
    assert_eq!(
        spliced(&s),
        1,
        "curl's upload did not go by splice:\n{}",
        s.log()
    );
    // A small file: copied (no pipe for it).
    let small = random_bytes(60_000, 44);
    fs::write(s.local().join("small.bin"), &small).unwrap();
    s.curl_ok(&["-T", "small.bin", &s.url("small.bin")]);
    assert!(
        fs::read(h.join("small.bin")).unwrap() == small,
        "60,000 bytes"
    );
    assert_eq!(spliced(&s), 1, "a 60,000-byte upload went by splice");

    let more = random_bytes(3 << 20, 42);
    fs::write(s.local().join("more.bin"), &more).unwrap();
    s.python_ok(
        "ftp = login()\n\
         with open(os.path.join(LOCAL, 'more.bin'), 'rb') as f:\n\
         \x20   ftp.storbinary('STOR resume.bin', f, rest=30000)\n\
         ftp.quit()",
    );
    let now = fs::read(h.join("resume.bin")).unwrap();
    assert!(
        now[..30_000] == old[..] && now[30_000..] == more[..],
        "REST 30000 + STOR"
    );
    assert_eq!(spliced(&s), 2, "the resumed upload did not go by splice");

    // An append: copied, and whole.
    s.curl_ok(&["--append", "-T", "more.bin", &s.url("app.bin")]);
    let now = fs::read(h.join("app.bin")).unwrap();
    assert!(
        now[..30_000] == old[..] && now[30_000..] == more[..],
        "APPE"
    );
    assert_eq!(spliced(&s), 2, "an append went by splice");

    // ASCII: curl sends each LF as CRLF and the server turns it back, so no splice.
    let text = "line of text\n".repeat(20_000);
    fs::write(s.local().join("text.txt"), &text).unwrap();
    s.curl_ok(&["--use-ascii", "-T", "text.txt", &s.url("text.txt")]);
    let stored = fs::read(h.join("text.txt")).unwrap();
    assert!(
        stored == text.as_bytes(),
        "ASCII upload: {} bytes stored",
        stored.len()
    );
    assert_eq!(spliced(&s), 2, "an ASCII upload went by splice");

    // Past max_upload_file_size while splicing: cut at the exact byte, the new file gone.
    let out = s.python_ok(
        "ftp = login()\n\
         try:\n\
         \x20   ftp.storbinary('STOR over.bin', io.BytesIO(b'z' * 6_000_002), blocksize=1 << 20)\n\
         \x20   print('stored')\n\
         except ftplib.error_perm as e:\n\
         \x20   print(str(e)[:3])\n\
         ftp.quit()",
    );
    assert_eq!(out.trim(), "552");
    let line = s.wait_log_line(&["STOR", "/over.bin", "result=failed"]);
    assert!(line.contains(" bytes=6000000 "), "{line}");
    let gone = wait_until(SOON, || (!h.join("over.bin").exists()).then_some(()));
    assert!(gone.is_some(), "over.bin left behind");
    assert_eq!(
        spliced(&s),
        3,
        "the upload over the limit did not go by splice"
    );

    // ABOR while splicing (the client has stopped sending): 426 then 226, and the session
    // goes on.
    let part = random_bytes(1 << 20, 43);
    let (mut c, d) = upload_in_part(&s, "part.bin", &part);
    assert_eq!(spliced(&s), 4, "the aborted upload did not go by splice");
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    drop(d);
    assert!(fs::read(h.join("part.bin")).unwrap() == part);
    c.cmd("NOOP", 200);
}

#[test]
#[cfg(target_os = "linux")]
fn transfers_where_splice_and_sendfile_are_refused_are_copied_whole() {
    // A seccomp filter that makes splice(2) and sendfile(2) fail with EPERM, as a
    // container's or a service manager's policy may (tests/tools/deny_syscall.py). Past its
    // first 64 KiB each upload tries splice once, is refused, and goes on by copying; each
    // download tries sendfile once and is copied. Nothing is lost either way.
    let python = tool("python3", "apt-get install -y python3");
    let deny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/deny_syscall.py");
    let big = random_bytes(5 << 20, 47);
    let s = Server::start(
        ServerOpts::new()
            .arg("-d")
            .file("down.bin", &big)
            .wrapped(&[
                &python.get_program().to_string_lossy(),
                deny,
                "splice,sendfile",
            ]),
    );
    let h = s.home();
    fs::write(s.local().join("big.bin"), &big).unwrap();
    s.curl_ok(&["-T", "big.bin", &s.url("big.bin")]);
    assert!(fs::read(h.join("big.bin")).unwrap() == big, "curl -T");
    s.python_ok(
        "ftp = login()\n\
         with open(os.path.join(LOCAL, 'big.bin'), 'rb') as f:\n\
         \x20   ftp.storbinary('STOR py.bin', f, blocksize=1 << 20)\n\
         ftp.quit()",
    );
    assert!(fs::read(h.join("py.bin")).unwrap() == big, "ftplib");
    let got = s.curl_ok(&[&s.url("down.bin")]);
    assert!(got == big, "curl RETR: {} bytes", got.len());
    // A resumed download: copied from its offset.
    let got = s.curl_ok(&["-C", "1000000", &s.url("down.bin")]);
    assert!(
        got[..] == big[1_000_000..],
        "curl REST + RETR: {} bytes",
        got.len()
    );
    let log = s.log();
    let refused = |what: &str| log.matches(what).count();
    assert_eq!(
        refused("upload: no splice from this socket (Operation not permitted"),
        2,
        "splice was not tried and refused once per upload:\n{log}"
    );
    assert_eq!(
        refused("download: no sendfile here (Operation not permitted"),
        2,
        "sendfile was not tried and refused once per download:\n{log}"
    );
    assert_eq!(spliced(&s), 0, "an upload went by splice under the filter");
}

#[test]
#[cfg(target_os = "linux")]
fn urgent_data_does_not_end_a_spliced_upload() {
    // splice stops at TCP urgent data as at the end of the stream (it returns 0); a read
    // skips the urgent byte. An upload by splice must not end there with 226.
    let s = Server::start(ServerOpts::new().arg("-d"));
    let first = random_bytes(1 << 20, 45);
    let second = random_bytes(1 << 20, 46);
    let (mut c, mut d) = upload_in_part(&s, "urgent.bin", &first);
    assert_eq!(spliced(&s), 1, "the upload did not go by splice");
    SockRef::from(&d).send_out_of_band(b"!").unwrap();
    d.write_all(&second).unwrap();
    drop(d);
    c.expect(226);
    let got = fs::read(s.home().join("urgent.bin")).unwrap();
    assert!(
        got.len() == 2 << 20 && got[..1 << 20] == first[..] && got[1 << 20..] == second[..],
        "{} bytes stored, 2 MiB sent around the urgent byte",
        got.len()
    );
}

// ---------- upload_mode 1 (atomic) ----------

#[test]
fn atomic_upload_success_leaves_no_temp_file() {
    let s = atomic_server();
    let data = random_bytes(300_000, 5);
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.put("STOR t.bin", &data);
    c.put("STOR new.bin", b"fresh");
    assert!(fs::read(s.home().join("t.bin")).unwrap() == data);
    assert_eq!(fs::read(s.home().join("new.bin")).unwrap(), b"fresh");
    assert_eq!(upload_temps(&s.home()), Vec::<String>::new());
}

#[test]
fn atomic_upload_of_a_name_of_254_bytes() {
    // The temporary name keeps only as much of the target's name as fits in 255 bytes.
    let s = atomic_server();
    let name = format!("{}.bin", "é".repeat(125));
    assert_eq!(name.len(), 254);
    let mut c = s.ftp_login();
    c.put(&format!("STOR {name}"), b"long");
    assert_eq!(fs::read(s.home().join(&name)).unwrap(), b"long");
    assert_eq!(upload_temps(&s.home()), Vec::<String>::new());
}

/// Wait for the upload temp file of `name` in `dir` to appear with some bytes; returns it.
fn wait_for_temp(s: &Server, name: &str) -> String {
    wait_until(IO_TIMEOUT, || {
        upload_temps(&s.home()).into_iter().find(|t| {
            t.ends_with(&format!(".{name}"))
                && fs::metadata(s.home().join(t))
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "no {UPLOAD_TEMP_PREFIX}<random>.{name} with data in the home; entries: {:?}",
            dir_names(&s.home())
        )
    })
}

/// Start `STOR name` in upload_mode 1, send 1 MiB, and wait for its temp file to fill.
/// Returns the control and the (still open) data connection, and the temp file name.
fn start_atomic_upload(s: &Server, name: &str, seed: u64) -> (Ctrl, TcpStream, String) {
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let mut d = c.open_data();
    c.send(&format!("STOR {name}"));
    c.expect_prelim();
    d.write_all(&random_bytes(1 << 20, seed)).unwrap();
    let temp = wait_for_temp(s, name);
    assert_eq!(fs::read(s.home().join("t.bin")).unwrap(), b"original");
    (c, d, temp)
}

fn atomic_server() -> Server {
    Server::start(
        ServerOpts::new()
            .common("upload_mode", 1)
            .file("t.bin", "original"),
    )
}

/// After a failed upload: temp files are gone and `t.bin` still holds "original".
fn assert_target_intact(s: &Server) {
    let gone = wait_until(SOON, || upload_temps(&s.home()).is_empty().then_some(()));
    assert!(
        gone.is_some(),
        "temp file left behind: {:?}",
        dir_names(&s.home())
    );
    let now = fs::read(s.home().join("t.bin")).unwrap();
    assert!(
        now == b"original",
        "the target was replaced by {} bytes of a partial upload; daemon log:\n{}",
        now.len(),
        s.log()
    );
}

#[test]
fn atomic_upload_abor_keeps_the_old_target() {
    let s = atomic_server();
    let (mut c, d, temp) = start_atomic_upload(&s, "t.bin", 6);
    assert!(
        temp.len() > UPLOAD_TEMP_PREFIX.len() + ".t.bin".len(),
        "{temp}"
    );
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    drop(d);
    assert_target_intact(&s);
    c.cmd("NOOP", 200);
}

#[test]
fn atomic_upload_abor_of_a_new_file_creates_nothing() {
    let s = atomic_server();
    let (mut c, d, _) = start_atomic_upload(&s, "new.bin", 7);
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    drop(d);
    assert_target_intact(&s);
    assert!(!s.home().join("new.bin").exists());
}

#[test]
fn atomic_upload_killed_client_leaves_no_partial_target() {
    let s = atomic_server();
    let mut client = s.python_spawn(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         conn = ftp.transfercmd('STOR t.bin')\n\
         chunk = b'x' * 65536\n\
         for i in range(20000):\n\
         \x20   conn.sendall(chunk)\n\
         \x20   time.sleep(0.01)",
    );
    wait_for_temp(&s, "t.bin");
    assert_eq!(fs::read(s.home().join("t.bin")).unwrap(), b"original");
    client.kill();
    assert_target_intact(&s);
    let line = s.wait_log_line(&["transfer STOR", "path=/t.bin"]);
    assert!(!line.contains("result=ok"), "{line}");
}

#[test]
fn atomic_upload_data_reset_leaves_no_partial_target() {
    let s = atomic_server();
    let (mut c, d, _) = start_atomic_upload(&s, "t.bin", 8);
    // RST instead of FIN: SO_LINGER 0 then close.
    SockRef::from(&d)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(d);
    let r = c.reply();
    assert!(r.code == 426 || r.code == 451, "{r:?}");
    assert_target_intact(&s);
}

#[test]
fn atomic_upload_control_connection_lost_leaves_no_partial_target() {
    let s = atomic_server();
    let (c, d, _) = start_atomic_upload(&s, "t.bin", 9);
    drop(c);
    drop(d);
    assert_target_intact(&s);
}

// ---------- wildcards ----------

fn glob_server() -> Server {
    Server::start(
        ServerOpts::new()
            .file("a1.txt", "1")
            .file("a2.txt", "2")
            .file("b1.txt", "3")
            .file("c.log", "4")
            .file(".h.txt", "5")
            .file("sub/x.txt", "6")
            .file("sub/y.log", "7"),
    )
}

fn ftplib_nlst(s: &Server, pattern: &str) -> Vec<String> {
    let out = s.python_ok(&format!(
        "ftp = login()\nfor n in sorted(ftp.nlst({pattern:?})):\n    print(n)\nftp.quit()"
    ));
    lines(&out)
}

#[test]
fn nlst_star_matches_suffix() {
    let s = glob_server();
    assert_eq!(ftplib_nlst(&s, "*.txt"), ["a1.txt", "a2.txt", "b1.txt"]);
}

#[test]
fn nlst_question_mark_matches_one_char() {
    let s = glob_server();
    assert_eq!(ftplib_nlst(&s, "a?.txt"), ["a1.txt", "a2.txt"]);
}

#[test]
fn nlst_bracket_range() {
    let s = glob_server();
    assert_eq!(ftplib_nlst(&s, "[a-b]1.txt"), ["a1.txt", "b1.txt"]);
}

#[test]
fn nlst_bracket_negation() {
    let s = glob_server();
    assert_eq!(ftplib_nlst(&s, "[^a]*.txt"), ["b1.txt"]);
}

#[test]
fn nlst_pattern_in_a_subdir_keeps_the_prefix() {
    let s = glob_server();
    assert_eq!(ftplib_nlst(&s, "sub/*.txt"), ["sub/x.txt"]);
}

#[test]
fn nlst_no_match_is_an_empty_226() {
    let s = glob_server();
    let mut c = s.ftp_login();
    assert_eq!(c.get("NLST *.none"), b"");
    assert_eq!(ftplib_nlst(&s, "*.none"), Vec::<String>::new());
}

#[test]
fn list_with_a_pattern() {
    let s = glob_server();
    let mut c = s.ftp_login();
    let t = c.list("LIST *.log");
    let l = lines(&t);
    assert_eq!(l.len(), 1, "{t}");
    assert!(l[0].ends_with(" c.log"), "{t}");
    let t = c.list("LIST -l a*.txt");
    let mut names: Vec<String> = lines(&t)
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["a1.txt", "a2.txt"], "{t}");
}

#[test]
fn list_pattern_hides_dotfiles_unless_dash_a() {
    let s = glob_server();
    let mut c = s.ftp_login();
    assert!(!c.list("LIST *.txt").contains(".h.txt"));
    assert!(c.list("LIST -a *.txt").contains(".h.txt"));
}

// ---------- log lines ----------

#[test]
fn transfers_are_logged() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.get("RETR a.txt");
    c.put("STOR b.txt", b"12345678");
    let port = c.stream.local_addr().unwrap().port();
    let remote = format!("remote=127.0.0.1:{port} ");
    let r = s.wait_log_line(&["transfer RETR", "path=/a.txt"]);
    for part in ["user=u ", &remote, "bytes=5 ", "secs=", "result=ok"] {
        assert!(r.contains(part), "{part:?} missing in {r:?}");
    }
    let w = s.wait_log_line(&["transfer STOR", "path=/b.txt"]);
    for part in ["user=u ", &remote, "bytes=8 ", "result=ok"] {
        assert!(w.contains(part), "{part:?} missing in {w:?}");
    }
    let secs = r.split("secs=").nth(1).unwrap().split(' ').next().unwrap();
    let (i, f) = secs.split_once('.').unwrap();
    assert!(i.parse::<u64>().is_ok() && f.len() == 3, "secs=S.sss: {r}");
}

// ---------- concurrency ----------

#[test]
fn fifty_concurrent_sessions_upload_and_download() {
    let s = Server::start(
        ServerOpts::new()
            .common("max_per_host_connections", 100)
            .common("max_total_connections", 0),
    );
    thread::scope(|scope| {
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let data = random_bytes((1 << 20) + i as usize, 100 + i);
                    let name = format!("file{i}.bin");
                    let mut ftp = s.suppaftp();
                    ftp.put_file(&name, &mut &data[..]).unwrap();
                    let back = ftp.retr_as_buffer(&name).unwrap().into_inner();
                    ftp.quit().unwrap();
                    assert_eq!(Sha256::digest(&back), Sha256::digest(&data), "{name}");
                    let disk = fs::read(s.home().join(&name)).unwrap();
                    assert_eq!(Sha256::digest(&disk), Sha256::digest(&data), "{name}");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(dir_names(&s.home()).len(), 50);
}

#[test]
fn big_listings_arrive_whole_and_in_order() {
    // More entries than one piece of a listing (1,024): every line arrives, LIST and NLST
    // sorted, with files and directories told apart.
    let mut opts = ServerOpts::new();
    for i in 0..1500 {
        opts = opts.file(&format!("big/f{i:05}.txt"), format!("{i}"));
    }
    for i in 0..1000 {
        opts = opts.dir(&format!("big/d{i:05}"));
    }
    let s = Server::start(opts);
    let mut c = s.ftp_login();
    let list = c.list("LIST big");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2500, "{}", &list[..list.len().min(400)]);
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(lines.iter().filter(|l| l.starts_with('d')).count(), 1000);
    // Every file's own size (its number's digits), whichever thread statted it.
    for l in lines.iter().filter(|l| l.starts_with('-')) {
        let fields: Vec<&str> = l.split_whitespace().collect();
        let i: u64 = fields[fields.len() - 1][1..6].parse().unwrap();
        assert_eq!(fields[4], i.to_string().len().to_string(), "{l}");
    }
    let mlsd = c.list("MLSD big");
    assert_eq!(mlsd.lines().count(), 2500);
    for l in mlsd.lines().filter(|l| l.starts_with("type=file;")) {
        let name = l.rsplit(' ').next().unwrap();
        let i: u64 = name[1..6].parse().unwrap();
        let want = format!("size={};", i.to_string().len());
        assert!(l.contains(&want), "{l}");
    }
    assert_eq!(
        mlsd.lines().filter(|l| l.starts_with("type=dir;")).count(),
        1000
    );
    // curl's NLST (--list-only): names only.
    let out = s.curl_ok(&["--list-only", &s.url("big/")]);
    let nlst = String::from_utf8(out).unwrap();
    let names: Vec<&str> = nlst.lines().collect();
    assert_eq!(names.len(), 2500);
    assert_eq!(names.first(), Some(&"d00000"));
    assert_eq!(names.last(), Some(&"f01499.txt"));
}

#[test]
fn listings_statted_ahead_carry_every_entrys_own_facts() {
    // 5,000 entries: past the size where a helper thread stats from the end (4,096).
    // Every entry's size must be its own, from either thread, a symlink near the end
    // followed to its target, an entry removed before the listing simply absent.
    let mut opts = ServerOpts::new();
    for i in 0..5000 {
        opts = opts.file(&format!("many/f{i:05}"), "x".repeat(i % 97 + 1));
    }
    let s = Server::start(opts);
    let many = s.home().join("many");
    std::os::unix::fs::symlink("f00001", many.join("g-link")).unwrap();
    std::fs::create_dir(many.join("h-dir")).unwrap();
    std::fs::remove_file(many.join("f04000")).unwrap();
    // ftplib's MLSD: name, type and size of every entry.
    let out = s.python_ok(
        "ftp = login()\n\
         for name, facts in ftp.mlsd('many'):\n\
         \x20   print(name, facts['type'], facts.get('size', '-'))\n\
         ftp.quit()",
    );
    let mut seen = 0;
    for line in out.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [name, kind, size] = parts[..] else {
            panic!("odd MLSD line: {line}");
        };
        match name {
            "g-link" => assert_eq!((kind, size), ("file", "2")),
            "h-dir" => assert_eq!(kind, "dir"),
            _ => {
                let i: usize = name[1..].parse().unwrap();
                assert_eq!(
                    (kind, size),
                    ("file", (i % 97 + 1).to_string().as_str()),
                    "{line}"
                );
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 5001, "{}", &out[..out.len().min(300)]);
    assert!(!out.contains("f04000 "));
    // curl's LIST: the size column of every file line.
    let list = String::from_utf8(s.curl_ok(&[&s.url("many/")])).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 5001);
    for line in &lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let name = fields[fields.len() - 1];
        if let Some(i) = name.strip_prefix('f') {
            let i: usize = i.parse().unwrap();
            assert_eq!(fields[4], (i % 97 + 1).to_string(), "{line}");
        }
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with('d') && l.ends_with(" h-dir")));
    assert!(lines
        .iter()
        .any(|l| l.ends_with(" g-link") && l.split_whitespace().nth(4) == Some("2")));
    // A client that resets the data connection after a few lines: the listing ends early
    // (its helper told to stop), the session answers and lists again in full.
    let out = s.python_ok(
        "ftp = login()\n\
         host, port = ftplib.parse227(ftp.sendcmd('PASV'))\n\
         d = socket.socket()\n\
         d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n\
         d.connect((host, port))\n\
         ftp.putcmd('MLSD many')\n\
         print(ftp.getline()[:3])\n\
         print(len(d.recv(1000)) > 0)\n\
         d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\\x01\\0\\0\\0\\0\\0\\0\\0')\n\
         d.close()\n\
         print(ftp.getline()[:3])\n\
         print(ftp.sendcmd('NOOP')[:3])\n\
         print(len(list(ftp.mlsd('many'))))\n\
         ftp.quit()",
    );
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 5, "{out}");
    assert_eq!((got[0], got[1]), ("150", "True"), "{out}");
    assert!(got[2] == "426" || got[2] == "226", "{out}");
    assert_eq!((got[3], got[4]), ("200", "5001"), "{out}");
}

#[test]
fn a_name_that_is_not_utf8_is_listed_with_its_own_size() {
    // Names are kept as the bytes readdir gave and statted by them: the size shown is the
    // file's own (the test client reads the line as lossy UTF-8).
    use std::os::unix::ffi::OsStrExt;
    let s = Server::start(ServerOpts::new().file("plain.txt", "abc"));
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(s.home().join(raw), "12345").unwrap();
    let mut c = s.ftp_login();
    let list = c.list("LIST");
    assert!(
        list.lines()
            .any(|l| l.ends_with(" caf\u{fffd}.txt") && l.split_whitespace().nth(4) == Some("5")),
        "{list}"
    );
    let mlsd = c.list("MLSD");
    assert!(
        mlsd.lines()
            .any(|l| l.ends_with(" caf\u{fffd}.txt") && l.contains("size=5;")),
        "{mlsd}"
    );
    assert!(mlsd
        .lines()
        .any(|l| l.ends_with(" plain.txt") && l.contains("size=3;")));
    // The same through real clients: curl's LIST as bytes, ftplib's MLSD as text.
    let list = s.curl_ok(&[&s.url("")]);
    let list = String::from_utf8(list).expect("the listing is UTF-8");
    assert!(
        list.lines()
            .any(|l| l.ends_with(" caf\u{fffd}.txt") && l.split_whitespace().nth(4) == Some("5")),
        "{list}"
    );
    let out = s.python_ok(
        "ftp = login()\n\
         for name, facts in ftp.mlsd(''):\n\
         \x20   print(ascii(name), facts['size'])\n\
         ftp.quit()",
    );
    assert!(out.lines().any(|l| l == "'caf\\ufffd.txt' 5"), "{out}");
    assert!(out.lines().any(|l| l == "'plain.txt' 3"), "{out}");
}

/// ftplib: RETR big.bin, and while the client reads nothing for 0.5 s (the server,
/// blocked, reads the control connection at its checks, every 0.1 s), `lines` (a Python
/// bytes expression) on the control connection. Then the data, drained; returns what was
/// printed: its length, the next `replies` control lines (the first, checked here, the
/// transfer's 226), then what `then` (Python) prints.
fn lines_during_big_retr(s: &Server, lines: &str, replies: usize, then: &str) -> Vec<String> {
    let out = s.python_ok(&format!(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         conn = ftp.transfercmd('RETR big.bin')\n\
         ftp.sock.sendall({lines})\n\
         time.sleep(0.5)\n\
         n = 0\n\
         while True:\n\
         \x20   b = conn.recv(1 << 16)\n\
         \x20   if not b:\n\
         \x20       break\n\
         \x20   n += len(b)\n\
         conn.close()\n\
         print(n)\n\
         ftp.sock.settimeout(5)\n\
         for _ in range({replies}):\n\
         \x20   print(ftp.getline())\n\
         {then}"
    ));
    let got: Vec<String> = out.lines().map(str::to_string).collect();
    assert_eq!(got.len(), replies + 2, "{out}");
    assert_eq!(got[0], BIG.to_string(), "{out}");
    assert!(got[1].starts_with("226 "), "{out}");
    got
}

/// `then` for [`lines_during_big_retr`]: one more command, its reply printed, and QUIT.
fn then_cmd(cmd: &str) -> String {
    format!("print(ftp.sendcmd('{cmd}'))\nftp.quit()")
}

#[test]
fn lines_sent_during_a_transfer_are_answered_after_it_in_order() {
    // While a 64 MiB download runs: an overlong line, a CWD whose argument is not UTF-8
    // (Latin-1 é) and a NOOP. The data arrives whole; then 226, and the three answered in
    // the order sent, as between transfers; then the session goes on.
    let s = server_with_big(ServerOpts::new().dir("caf\u{e9}"));
    let got = lines_during_big_retr(
        &s,
        "b'X' * 5000 + b'\\r\\nCWD caf\\xe9\\r\\nNOOP\\r\\n'",
        4,
        &then_cmd("PWD"),
    );
    assert_eq!(got[2], "500 Line too long", "{got:?}");
    assert_eq!(got[3], "501 Command is not valid UTF-8", "{got:?}");
    assert!(got[4].starts_with("200 "), "{got:?}");
    // The CWD was refused, not read as some other name.
    assert!(got[5].starts_with("257 \"/\""), "{got:?}");
}

#[test]
fn more_lines_during_a_transfer_than_are_kept_are_all_answered() {
    // 40 MKD while a 64 MiB download runs, more than the 16 lines the server keeps during
    // a transfer: past 16 it leaves the rest in the socket. After the 226, all 40 are
    // answered in the order sent and every directory is made; then the session goes on.
    let s = server_with_big(ServerOpts::new());
    let got = lines_during_big_retr(
        &s,
        "b''.join(b'MKD d%02d\\r\\n' % i for i in range(40))",
        41,
        &then_cmd("NOOP"),
    );
    for i in 0..40 {
        assert!(
            got[2 + i].starts_with(&format!("257 \"/d{i:02}\"")),
            "line {i}: {got:?}"
        );
        assert!(s.home().join(format!("d{i:02}")).is_dir(), "d{i:02}");
    }
    assert!(got[42].starts_with("200 "), "{got:?}");
}

#[test]
fn quit_during_a_transfer_is_answered_in_its_turn() {
    // NOOP, QUIT, NOOP during a 64 MiB download: after the 226, the first NOOP is
    // answered, then QUIT with 221, and the connection is closed (the NOOP sent after
    // QUIT is not answered).
    let s = server_with_big(ServerOpts::new());
    let got = lines_during_big_retr(
        &s,
        "b'NOOP\\r\\nQUIT\\r\\nNOOP\\r\\n'",
        3,
        "try:\n\
         \x20   print(repr(ftp.sock.recv(100)))\n\
         except ConnectionResetError:\n\
         \x20   print(repr(b''))",
    );
    assert!(got[2].starts_with("200 "), "{got:?}");
    assert!(got[3].starts_with("221 "), "{got:?}");
    assert_eq!(got[4], "b''", "{got:?}");
}

#[test]
fn a_passive_port_another_program_holds_is_skipped() {
    // The range's first port is held by another program: the bind fails there and the
    // same socket takes the next port; PASV (raw) and EPSV (curl) both get it and work.
    let (blocker, busy) = loop {
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = b.local_addr().unwrap().port();
        // The next port must be free for the test to mean anything.
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            break (b, port);
        }
    };
    let range = serde_json::json!({"start": busy, "end": busy + 1});
    let s = Server::start(
        ServerOpts::new()
            .ftpd("passive_port_range", range)
            .file("a.txt", "hello"),
    );
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let addr = c.pasv();
    assert_eq!(addr.port(), busy + 1);
    let mut d = TcpStream::connect(addr).unwrap();
    c.send("RETR a.txt");
    c.expect_prelim();
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    c.expect(226);
    assert_eq!(got, b"hello");
    assert_eq!(s.curl_ok(&[&s.url("a.txt")]), b"hello");
    c.cmd("NOOP", 200);
    drop(blocker);
}
