//! Security: confinement to home_dir (`..`, absolute paths, symlinks to a file and to a
//! directory outside), FTP bounce (PORT/EPRT to another IP or a low port) and the passive
//! peer-IP match with their opt-outs, disable_active_mode, per-directory permissions, and
//! account state (disabled, expired, allowed_ip/denied_ip), login logging without passwords.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{symlink, FileTypeExt};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::json;
use socket2::{Domain, Socket, Type};

const SECRET: &[u8] = b"TOPSECRET";
/// Names that exist only outside the home; none may ever show up in a listing.
const OUTSIDE_NAMES: &[&str] = &[
    "secret.txt",
    "outside",
    "outside_secret.txt",
    "homes",
    "users.json",
    "ferroftpd.json",
];

/// Home with a.txt and d/; outside it secret.txt and outside/outside_secret.txt;
/// in the home link_file -> ../../secret.txt (absolute) and link_dir -> outside/.
fn escape_server() -> Server {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello").dir("d"));
    let root = s.dir.path();
    fs::write(root.join("secret.txt"), SECRET).unwrap();
    fs::create_dir(root.join("outside")).unwrap();
    fs::write(root.join("outside/outside_secret.txt"), SECRET).unwrap();
    symlink(root.join("secret.txt"), s.home().join("link_file")).unwrap();
    symlink(root.join("outside"), s.home().join("link_dir")).unwrap();
    symlink("../../secret.txt", s.home().join("rel_link")).unwrap();
    s
}

fn assert_nothing_outside(listing: &str) {
    for n in OUTSIDE_NAMES {
        assert!(!listing.contains(n), "{n} leaked in listing: {listing}");
    }
}

/// A listing command may be refused (550) or list nothing from outside.
fn assert_list_confined(c: &mut Ctrl, line: &str) {
    match c.try_get(line) {
        Ok(b) => assert_nothing_outside(&String::from_utf8_lossy(&b)),
        Err(r) => assert_eq!(r.code, 550, "{line}: {r:?}"),
    }
}

fn assert_retr_refused(c: &mut Ctrl, path: &str) {
    match c.try_get(&format!("RETR {path}")) {
        Ok(b) => panic!(
            "RETR {path} succeeded with {:?}",
            String::from_utf8_lossy(&b)
        ),
        Err(r) => assert_eq!(r.code, 550, "RETR {path}: {r:?}"),
    }
}

fn assert_stor_refused(c: &mut Ctrl, verb: &str, path: &str) {
    match c.try_put(&format!("{verb} {path}"), b"EVIL") {
        Ok(_) => panic!("{verb} {path} succeeded"),
        Err(r) => assert_eq!(r.code, 550, "{verb} {path}: {r:?}"),
    }
}

fn assert_secret_untouched(s: &Server) {
    let root = s.dir.path();
    assert_eq!(fs::read(root.join("secret.txt")).unwrap(), SECRET);
    assert_eq!(
        fs::read(root.join("outside/outside_secret.txt")).unwrap(),
        SECRET
    );
    assert_eq!(dir_names(&root.join("outside")), ["outside_secret.txt"]);
    for n in ["evil.txt", "evil", "moved.txt"] {
        assert!(!root.join(n).exists(), "{n} created outside the home");
        assert!(
            !root.join("homes").join(n).exists(),
            "{n} created outside the home"
        );
    }
}

// ---------- `..` and absolute paths ----------

#[test]
fn retr_dotdot_is_550() {
    let s = escape_server();
    let mut c = s.ftp_login();
    assert_retr_refused(&mut c, "../../secret.txt");
    assert_retr_refused(&mut c, "d/../../../secret.txt");
    c.cmd("CWD d", 250);
    assert_retr_refused(&mut c, "../../../secret.txt");
}

#[test]
fn retr_absolute_paths_are_550() {
    let s = escape_server();
    let mut c = s.ftp_login();
    let host_path = s.dir.path().join("secret.txt");
    assert_retr_refused(&mut c, host_path.to_str().unwrap());
    assert_retr_refused(&mut c, "/../../secret.txt");
    assert_retr_refused(&mut c, "/../../etc/passwd");
    assert_retr_refused(&mut c, "/etc/passwd");
    c.cmd("SIZE /etc/passwd", 550);
}

#[test]
fn absolute_virtual_paths_map_into_the_home() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("CWD d", 250);
    assert_eq!(c.get("RETR /a.txt"), b"hello");
}

#[test]
fn cwd_dotdot_stays_inside() {
    let s = escape_server();
    let mut c = s.ftp_login();
    for arg in ["..", "../..", "/../..", "d/../../.."] {
        let r = c.ask(&format!("CWD {arg}"));
        assert!(r.code == 250 || r.code == 550, "CWD {arg}: {r:?}");
        assert_eq!(
            c.cmd("PWD", 257),
            "257 \"/\" is the current directory",
            "after CWD {arg}"
        );
        assert_nothing_outside(&c.list("LIST -a"));
    }
    c.cmd(&format!("CWD {}", s.dir.path().display()), 550);
}

#[test]
fn list_dotdot_shows_nothing_outside() {
    let s = escape_server();
    let mut c = s.ftp_login();
    for line in [
        "LIST ../..",
        "LIST -a /../..",
        "NLST ../..",
        "MLSD ../..",
        "LIST ../../*",
        "NLST ../../*.txt",
    ] {
        assert_list_confined(&mut c, line);
    }
    assert_list_confined(&mut c, &format!("LIST {}", s.dir.path().display()));
    c.send("STAT ../..");
    let r = c.reply();
    assert_nothing_outside(&r.text());
}

/// Run an upload that may be refused or land inside the home, never outside.
fn try_stor_confined(c: &mut Ctrl, verb: &str, path: &str) {
    if let Err(r) = c.try_put(&format!("{verb} {path}"), b"EVIL") {
        assert_eq!(r.code, 550, "{verb} {path}: {r:?}");
    }
}

#[test]
fn stor_dotdot_never_writes_outside() {
    let s = escape_server();
    let mut c = s.ftp_login();
    try_stor_confined(&mut c, "STOR", "../../evil.txt");
    try_stor_confined(&mut c, "APPE", "../../evil.txt");
    try_stor_confined(&mut c, "STOR", "/../../evil.txt");
    assert_secret_untouched(&s);
}

#[test]
fn dotdot_beyond_the_root_is_clamped_to_the_home() {
    // `..` never climbs above "/": like a chroot, the path is clamped to the home's root.
    let s = escape_server();
    let mut c = s.ftp_login();
    c.put("STOR ../../evil.txt", b"EVIL");
    assert_eq!(fs::read(s.home().join("evil.txt")).unwrap(), b"EVIL");
    let r = c.cmd("MKD ../../evil", 257);
    assert!(r.contains("\"/evil\""), "{r}");
    assert!(s.home().join("evil").is_dir());
    c.cmd("RNFR a.txt", 350);
    c.cmd("RNTO ../../moved.txt", 250);
    assert!(s.home().join("moved.txt").is_file());
    assert_secret_untouched(&s);
}

#[test]
fn dele_dotdot_is_550() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("DELE ../../secret.txt", 550);
    c.cmd("DELE /../../secret.txt", 550);
    assert_secret_untouched(&s);
}

#[test]
fn mkd_rmd_dotdot_never_touch_outside() {
    let s = escape_server();
    let mut c = s.ftp_login();
    let r = c.ask("MKD ../../evil");
    assert!(r.code == 550 || r.code == 257, "{r:?}");
    c.cmd("RMD ../../outside", 550);
    assert_secret_untouched(&s);
}

#[test]
fn rename_never_moves_out_of_the_home() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("RNFR a.txt", 350);
    let r = c.ask("RNTO ../../moved.txt");
    assert!(r.code == 550 || r.code == 250, "{r:?}");
    c.cmd("RNFR ../../secret.txt", 550);
    assert_secret_untouched(&s);
}

// ---------- symlinks ----------

#[test]
fn symlink_to_outside_file_cannot_be_read() {
    let s = escape_server();
    let mut c = s.ftp_login();
    assert_retr_refused(&mut c, "link_file");
    assert_retr_refused(&mut c, "rel_link");
    c.cmd("SIZE link_file", 550);
    c.cmd("MDTM link_file", 550);
}

#[test]
fn symlink_to_outside_file_cannot_be_written() {
    let s = escape_server();
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "link_file");
    assert_stor_refused(&mut c, "APPE", "link_file");
    c.cmd("MFMT 20010101000000 link_file", 550);
    assert_secret_untouched(&s);
    let m = fs::metadata(s.dir.path().join("secret.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(m > SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000));
}

#[test]
fn symlink_to_outside_dir_cannot_be_entered() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("CWD link_dir", 550);
    assert!(c.cmd("PWD", 257).contains("\"/\""));
    // Lexically "link_dir/.." is "/": fine, as long as it is not the link's parent.
    let r = c.ask("CWD link_dir/..");
    assert!(r.code == 250 || r.code == 550, "{r:?}");
    assert!(c.cmd("PWD", 257).contains("\"/\""));
    assert_nothing_outside(&c.list("LIST -a"));
}

#[test]
fn symlink_to_outside_dir_cannot_be_listed() {
    let s = escape_server();
    let mut c = s.ftp_login();
    for line in [
        "LIST link_dir",
        "LIST -la link_dir/",
        "NLST link_dir",
        "MLSD link_dir",
    ] {
        assert_list_confined(&mut c, line);
    }
    c.send("STAT link_dir");
    assert_nothing_outside(&c.reply().text());
    c.cmd("MLST link_dir/outside_secret.txt", 550);
}

#[test]
fn symlink_to_outside_dir_cannot_be_read_through() {
    let s = escape_server();
    let mut c = s.ftp_login();
    assert_retr_refused(&mut c, "link_dir/outside_secret.txt");
    c.cmd("SIZE link_dir/outside_secret.txt", 550);
}

#[test]
fn symlink_to_outside_dir_cannot_be_written_through() {
    let s = escape_server();
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "link_dir/evil.txt");
    assert_stor_refused(&mut c, "STOR", "link_dir/outside_secret.txt");
    c.cmd("MKD link_dir/evil", 550);
    assert_secret_untouched(&s);
}

#[test]
fn symlink_to_outside_dir_cannot_delete_through() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("DELE link_dir/outside_secret.txt", 550);
    assert_secret_untouched(&s);
}

#[test]
fn symlink_to_outside_dir_cannot_rename_through() {
    let s = escape_server();
    let mut c = s.ftp_login();
    c.cmd("RNFR a.txt", 350);
    c.cmd("RNTO link_dir/moved.txt", 550);
    assert!(s.home().join("a.txt").exists());
    c.cmd("RNFR link_dir/outside_secret.txt", 550);
    assert_secret_untouched(&s);
}

#[test]
fn symlink_escapes_with_curl_are_refused() {
    let s = escape_server();
    let out = s.curl(&[&s.url("link_file")]);
    assert!(!out.status.success());
    assert!(!out.stdout.windows(SECRET.len()).any(|w| w == SECRET));
    let out = s.curl(&[&s.url("link_dir/outside_secret.txt")]);
    assert!(!out.status.success());
    assert!(!out.stdout.windows(SECRET.len()).any(|w| w == SECRET));
}

#[test]
fn symlink_inside_the_home_is_followed() {
    let s = escape_server();
    symlink("a.txt", s.home().join("inlink")).unwrap();
    let mut c = s.ftp_login();
    assert_eq!(c.get("RETR inlink"), b"hello");
}

// ---------- bounce (PORT/EPRT) and passive peer match ----------

#[test]
fn port_to_another_ip_is_501() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let other = l.local_addr().unwrap();
    let mut c = s.ftp_login();
    c.cmd(&format!("PORT {}", port_arg(other)), 501);
    c.cmd(&format!("EPRT {}", eprt_arg(other)), 501);
    let r = c.ask_final("RETR a.txt");
    assert_eq!(r.code, 425, "{r:?}");
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err(), "the server connected to 127.0.0.2");
}

#[test]
fn port_to_a_low_port_is_501() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_login();
    c.cmd("PORT 127,0,0,1,0,21", 501);
    c.cmd("PORT 127,0,0,1,3,255", 501);
    c.cmd("EPRT |1|127.0.0.1|1023|", 501);
}

#[test]
fn active_connections_security_1_allows_another_ip() {
    let s = Server::start(
        ServerOpts::new()
            .binding("active_connections_security", 1)
            .file("a.txt", "hello"),
    );
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    for cmd in [
        format!("PORT {}", port_arg(l.local_addr().unwrap())),
        format!("EPRT {}", eprt_arg(l.local_addr().unwrap())),
    ] {
        c.cmd(&cmd, 200);
        c.send("RETR a.txt");
        c.expect_prelim();
        let mut d = accept_within(&l, IO_TIMEOUT).expect("no connection to 127.0.0.2");
        let mut buf = Vec::new();
        d.read_to_end(&mut buf).unwrap();
        c.expect(226);
        assert_eq!(buf, b"hello");
    }
}

/// A TCP connection to `to` from the local address 127.0.0.2.
fn connect_from_127_0_0_2(to: SocketAddr) -> TcpStream {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let from: SocketAddr = "127.0.0.2:0".parse().unwrap();
    sock.bind(&from.into()).unwrap();
    sock.connect(&to.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Send RETR over a data connection from 127.0.0.2: must end in 425 with no file bytes.
fn assert_foreign_data_refused(c: &mut Ctrl, mut d: TcpStream) {
    let r = c.ask_final("RETR a.txt");
    assert_eq!(r.code, 425, "{r:?}");
    let mut buf = Vec::new();
    let _ = d.read_to_end(&mut buf);
    assert!(buf.is_empty(), "data leaked to 127.0.0.2: {buf:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn passive_connection_from_another_ip_is_refused() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    let addr = c.pasv();
    let d = connect_from_127_0_0_2(addr);
    assert_foreign_data_refused(&mut c, d);
}

#[test]
fn epsv_connection_from_another_ip_is_refused() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    let addr = c.epsv();
    let d = connect_from_127_0_0_2(addr);
    assert_foreign_data_refused(&mut c, d);
}

#[test]
fn passive_connections_security_1_allows_another_ip() {
    let s = Server::start(
        ServerOpts::new()
            .binding("passive_connections_security", 1)
            .file("a.txt", "hello"),
    );
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let addr = c.pasv();
    let d = connect_from_127_0_0_2(addr);
    assert_eq!(c.get_over(d, "RETR a.txt").unwrap(), b"hello");
}

#[test]
fn disable_active_mode_refuses_port_and_eprt() {
    let s = Server::start(ServerOpts::new().ftpd("disable_active_mode", true));
    let mut c = s.ftp_login();
    c.cmd("PORT 127,0,0,1,200,10", 502);
    c.cmd("EPRT |1|127.0.0.1|51210|", 502);
    c.cmd("PASV", 227);
    // FEAT lists what is served (RFC 2389 3): EPSV, not EPRT.
    c.send("FEAT");
    let feat = c.reply().lines;
    assert!(feat.iter().any(|l| l == " EPSV"), "{feat:?}");
    assert!(!feat.iter().any(|l| l.trim() == "EPRT"), "{feat:?}");
    // HELP says so too, and the refusal comes whatever the argument.
    assert!(c.cmd("HELP EPRT", 214).contains("not enabled here"));
    c.cmd("PORT nonsense", 502);
}

#[test]
fn disable_active_mode_curl_active_fails_passive_works() {
    let s = Server::start(
        ServerOpts::new()
            .ftpd("disable_active_mode", true)
            .file("a.txt", "hello"),
    );
    let out = s.curl(&["--ftp-port", "127.0.0.1", &s.url("a.txt")]);
    assert!(!out.status.success(), "active transfer went through");
    assert_eq!(s.curl_ok(&[&s.url("a.txt")]), b"hello");
}

// ---------- per-directory permissions ----------

fn ro_server() -> Server {
    Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .file("ro/f.txt", "readonly")
            .dir("ro/sub")
            .perm("/ro", &["list", "download"]),
    )
}

#[test]
fn read_only_dir_refuses_stor_appe_stou() {
    let s = ro_server();
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "ro/new.txt");
    assert_stor_refused(&mut c, "STOR", "ro/f.txt");
    assert_stor_refused(&mut c, "APPE", "ro/f.txt");
    assert_stor_refused(&mut c, "STOR", "ro/sub/new.txt");
    c.cmd("CWD ro", 250);
    let r = c.try_put("STOU", b"x").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(dir_names(&s.home().join("ro")), ["f.txt", "sub"]);
    assert_eq!(fs::read(s.home().join("ro/f.txt")).unwrap(), b"readonly");
}

#[test]
fn read_only_dir_refuses_dele() {
    let s = ro_server();
    let mut c = s.ftp_login();
    c.cmd("DELE ro/f.txt", 550);
    assert!(s.home().join("ro/f.txt").exists());
}

#[test]
fn read_only_dir_refuses_mkd_and_rmd() {
    let s = ro_server();
    let mut c = s.ftp_login();
    c.cmd("MKD ro/new", 550);
    c.cmd("RMD ro/sub", 550);
    assert!(!s.home().join("ro/new").exists());
    assert!(s.home().join("ro/sub").is_dir());
}

#[test]
fn read_only_dir_refuses_rename_from_and_into() {
    let s = ro_server();
    let mut c = s.ftp_login();
    c.cmd("RNFR ro/f.txt", 550);
    c.cmd("RNFR a.txt", 350);
    c.cmd("RNTO ro/a.txt", 550);
    assert!(s.home().join("ro/f.txt").exists());
    assert!(s.home().join("a.txt").exists());
}

#[test]
fn read_only_dir_refuses_mfmt() {
    let s = ro_server();
    let mut c = s.ftp_login();
    c.cmd("MFMT 20010101000000 ro/f.txt", 550);
}

#[test]
fn read_only_dir_allows_retr_and_list() {
    let s = ro_server();
    let mut c = s.ftp_login();
    assert_eq!(c.get("RETR ro/f.txt"), b"readonly");
    assert!(c.list("LIST ro").contains("f.txt"));
    // The rest of the home is untouched by the /ro rule.
    c.put("STOR ok.txt", b"ok");
    c.cmd("DELE ok.txt", 250);
}

#[test]
fn a_symlink_into_a_read_only_dir_gives_no_write_access_there() {
    // An administrator's link from the writable home into /ro: what it leads to keeps /ro's
    // permissions, whichever path names it.
    let s = ro_server();
    symlink("ro", s.home().join("relin")).unwrap();
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "relin/new.txt");
    assert_stor_refused(&mut c, "APPE", "relin/f.txt");
    c.cmd("DELE relin/f.txt", 550);
    c.cmd("MKD relin/new", 550);
    c.cmd("RMD relin/sub", 550);
    c.cmd("RNFR relin/f.txt", 550);
    c.cmd("MFMT 20010101000000 relin/f.txt", 550);
    assert_eq!(dir_names(&s.home().join("ro")), ["f.txt", "sub"]);
    assert_eq!(fs::read(s.home().join("ro/f.txt")).unwrap(), b"readonly");
    // What /ro allows still works through the link.
    assert_eq!(c.get("RETR relin/f.txt"), b"readonly");
    assert!(c.list("LIST relin").contains("f.txt"));
}

#[test]
fn a_symlink_to_a_file_keeps_the_rights_of_where_the_file_is() {
    // An administrator's links from the writable home to files in /ro (list, download)
    // and /closed (list): each file keeps its own directory's rights through the link.
    let s = Server::start(
        ServerOpts::new()
            .file("ro/f.txt", "readonly")
            .file("closed/secret.txt", "S")
            .perm("/ro", &["list", "download"])
            .perm("/closed", &["list"]),
    );
    let h = s.home();
    symlink("ro/f.txt", h.join("tofile")).unwrap();
    symlink("closed/secret.txt", h.join("tosecret")).unwrap();
    symlink("ro/none.txt", h.join("dangling")).unwrap();
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "tofile");
    assert_stor_refused(&mut c, "APPE", "tofile");
    // A link to a missing file would create it in /ro; the reply says why.
    let r = c.try_put("STOR dangling", b"EVIL").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    assert!(
        r.first().contains("symbolic link to a missing file"),
        "{r:?}"
    );
    c.cmd("MFMT 20010101000000 tofile", 550);
    assert_retr_refused(&mut c, "tosecret");
    assert_eq!(fs::read(h.join("ro/f.txt")).unwrap(), b"readonly");
    assert!(!h.join("ro/none.txt").exists());
    // What /ro allows still works through the link, with curl too.
    assert_eq!(c.get("RETR tofile"), b"readonly");
    assert_eq!(s.curl_ok(&["-o", "-", &s.url("/tofile")]), b"readonly");
    let out = s.curl(&["-o", "-", &s.url("/tosecret")]);
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
    // The link itself is the home's: deleting it leaves the file.
    c.cmd("DELE tofile", 250);
    assert_eq!(fs::read(h.join("ro/f.txt")).unwrap(), b"readonly");
}

#[test]
fn a_fifo_in_the_home_is_refused_without_hanging_the_session() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let fifo = s.home().join("ff");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) is needed");
    assert!(made.success());
    let mut c = s.ftp_login();
    // Each would block in open(2) for ever if the FIFO were opened like a file.
    let r = c.try_get("RETR ff").unwrap_err();
    assert!(matches!(r.code, 550 | 553), "RETR ff: {r:?}");
    match c.try_put("STOR ff", b"data") {
        Ok(_) => panic!("STOR onto a FIFO succeeded"),
        Err(r) => assert!(matches!(r.code, 550 | 553), "STOR ff: {r:?}"),
    }
    match c.try_put("APPE ff", b"data") {
        Ok(_) => panic!("APPE onto a FIFO succeeded"),
        Err(r) => assert!(matches!(r.code, 550 | 553), "APPE ff: {r:?}"),
    }
    // The session goes on.
    assert_eq!(c.get("RETR a.txt"), b"hello");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn nearest_listed_ancestor_wins() {
    let s = Server::start(
        ServerOpts::new()
            .dir("rw/deep")
            .perm("/", &["list", "download"])
            .perm("/rw", &["*"]),
    );
    let mut c = s.ftp_login();
    assert_stor_refused(&mut c, "STOR", "top.txt");
    c.put("STOR rw/x.txt", b"x");
    c.put("STOR rw/deep/y.txt", b"y");
    assert!(s.home().join("rw/deep/y.txt").exists());
    assert!(!s.home().join("top.txt").exists());
}

#[test]
fn upload_without_overwrite_cannot_replace() {
    let s = Server::start(
        ServerOpts::new()
            .file("old.txt", "old")
            .perm("/", &["list", "download", "upload"]),
    );
    let mut c = s.ftp_login();
    c.put("STOR new.txt", b"new");
    assert_stor_refused(&mut c, "STOR", "old.txt");
    assert_eq!(fs::read(s.home().join("old.txt")).unwrap(), b"old");
}

#[test]
fn no_list_permission_refuses_listings() {
    let s = Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .perm("/", &["download"]),
    );
    let mut c = s.ftp_login();
    for line in ["LIST", "NLST", "MLSD"] {
        let r = c.try_get(line).unwrap_err();
        assert_eq!(r.code, 550, "{line}: {r:?}");
    }
    assert_eq!(c.get("RETR a.txt"), b"hello");
}

#[test]
fn no_download_permission_refuses_retr() {
    let s = Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .perm("/", &["list"]),
    );
    let mut c = s.ftp_login();
    assert_retr_refused(&mut c, "a.txt");
    assert!(c.list("NLST").contains("a.txt"));
}

#[test]
fn delete_files_does_not_allow_rmd() {
    let s = Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .dir("e")
            .perm("/", &["list", "delete_files"]),
    );
    let mut c = s.ftp_login();
    c.cmd("DELE a.txt", 250);
    c.cmd("RMD e", 550);
    assert!(s.home().join("e").is_dir());
}

// ---------- accounts ----------

fn login_refused(s: &Server) -> String {
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    let t = c.cmd("PASS secret", 530);
    assert!(t.len() > 4, "530 without a reason: {t:?}");
    t
}

#[test]
fn disabled_user_is_refused() {
    let s = Server::start(ServerOpts::new().user_set(USER, "/status", 0));
    login_refused(&s);
    s.wait_log_line(&["login failed", "user=u", "reason="]);
}

#[test]
fn user_without_status_is_disabled() {
    let mut opts = ServerOpts::new();
    opts.users[0].as_object_mut().unwrap().remove("status");
    let s = Server::start(opts);
    login_refused(&s);
}

#[test]
fn expired_user_is_refused() {
    let s = Server::start(ServerOpts::new().user_set(USER, "/expiration_date", 1000));
    login_refused(&s);
}

#[test]
fn user_expiring_tomorrow_logs_in() {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 86_400_000;
    let s = Server::start(ServerOpts::new().user_set(USER, "/expiration_date", ms));
    s.ftp_login();
}

#[test]
fn allowed_ip_without_the_client_is_refused() {
    let s = Server::start(ServerOpts::new().user_set(
        USER,
        "/filters/allowed_ip",
        json!(["10.0.0.0/8"]),
    ));
    login_refused(&s);
}

#[test]
fn allowed_ip_with_the_client_logs_in() {
    let s = Server::start(ServerOpts::new().user_set(
        USER,
        "/filters/allowed_ip",
        json!(["127.0.0.0/8"]),
    ));
    s.ftp_login();
}

#[test]
fn denied_ip_with_the_client_is_refused() {
    let s = Server::start(ServerOpts::new().user_set(
        USER,
        "/filters/denied_ip",
        json!(["127.0.0.1/32"]),
    ));
    login_refused(&s);
}

#[test]
fn home_dir_is_created_at_login() {
    let s = Server::start(ServerOpts::new().no_home(USER));
    assert!(!s.home().exists());
    let mut c = s.ftp_login();
    assert!(s.home().is_dir());
    c.put("STOR x.txt", b"x");
    assert!(s.home().join("x.txt").exists());
}

#[test]
fn users_cannot_reach_each_other() {
    let s = Server::start(
        ServerOpts::new()
            .user(user_json("v"))
            .user_file("v", "v.txt", "v's"),
    );
    let mut c = s.ftp_login();
    assert_retr_refused(&mut c, "../v/v.txt");
    assert_list_confined(&mut c, "LIST ../v");
}

#[test]
fn logins_are_logged_without_passwords() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    c.cmd("PASS Wr0ng-Pa55", 530);
    c.login(USER, PASS);
    let port = c.stream.local_addr().unwrap().port();
    let ok = s.wait_log_line(&["login user=u "]);
    assert!(ok.contains(&format!("remote=127.0.0.1:{port}")), "{ok}");
    let bad = s.wait_log_line(&["login failed user=u "]);
    assert!(
        bad.contains("remote=127.0.0.1:") && bad.contains("reason="),
        "{bad}"
    );
    let log = s.log();
    assert!(!log.contains("Wr0ng-Pa55"), "password logged:\n{log}");
    assert!(!log.contains(PASS), "password logged:\n{log}");
}
