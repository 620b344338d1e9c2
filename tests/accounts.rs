//! Accounts (issue 5, notes/CONTRACT.md "Accounts and limits"): `max_sessions`, account state
//! (`status`, `expiration_date`, `filters.denied_protocols`), IP filters, `start_directory`,
//! the per-directory permissions the issue lists, `filters.file_patterns` (deny_policy 0 and
//! 1), virtual folders, and SIGHUP reloads of the users file (new, removed and changed users,
//! a broken file, changed passwords with and without the password cache).
//!
//! Clients: raw control connections (exact codes and texts), suppaftp, Python's ftplib, curl
//! and lftp; results are checked on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod limits_support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::*;
use limits_support::*;
use serde_json::{json, Value};

/// `ftp://NAME:PASS@127.0.0.1:PORT/path`
fn url_as(s: &Server, name: &str, pass: &str, path: &str) -> String {
    format!(
        "ftp://{name}:{pass}@{}:{}/{}",
        s.host(),
        s.port(),
        path.trim_start_matches('/')
    )
}

/// curl's exit code for "login denied".
const CURL_LOGIN_DENIED: i32 = 67;

fn curl_code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A login attempt on a fresh connection: the reply to PASS.
fn try_login(s: &Server, user: &str, pass: &str) -> Reply {
    let mut c = s.ftp_raw();
    pass_reply(&mut c, user, pass)
}

/// A new login of `user` must get 530; returns the reply text.
fn assert_login_refused(s: &Server, user: &str, pass: &str) -> String {
    let r = try_login(s, user, pass);
    assert_eq!(r.code, 530, "login of {user}: {:?}", r.lines);
    r.text()
}

/// A new login of `user` must get 230.
fn assert_login_ok(s: &Server, user: &str, pass: &str) -> Ctrl {
    let mut c = s.ftp_raw();
    let r = pass_reply(&mut c, user, pass);
    assert_eq!(
        r.code,
        230,
        "login of {user}: {:?}; log:\n{}",
        r.lines,
        s.log()
    );
    c
}

/// Either an immediate refusal with `code`, or the command was accepted at its first
/// step and refused at the second (RNFR 350 then RNTO `code`).
fn assert_rename_refused(c: &mut Ctrl, from: &str, to: &str) {
    let r = c.ask(&format!("RNFR {from}"));
    if r.code == 350 {
        c.cmd(&format!("RNTO {to}"), 550);
    } else {
        assert_eq!(r.code, 550, "RNFR {from}: {:?}", r.lines);
    }
}

/// An upload that must be refused with `code` (at once or after a 150); the file must not
/// be created.
fn assert_upload_refused(c: &mut Ctrl, line: &str, code: u16, disk: &Path) {
    let sent = stor(c, line, b"data");
    assert_eq!(sent.last.code, code, "{line}: {sent:?}");
    assert!(!disk.exists(), "{line}: {} was created", disk.display());
}

// ---------------------------------------------------------------------------------------
// max_sessions

#[test]
fn max_sessions_refuses_the_extra_login_until_one_quits() {
    let s = Server::start(ServerOpts::new().user_set(USER, "/max_sessions", 2));
    let mut first = s.suppaftp();
    let mut second = s.ftp_login();

    let mut refused = s.ftp_raw();
    let r = pass_reply(&mut refused, USER, PASS);
    assert_eq!(r.code, 530, "{:?}", r.lines);
    assert_eq!(
        r.first(),
        "530 Login refused: too many open sessions for this account"
    );
    // The refused connection stays open.
    refused.cmd("NOOP", 200);

    first.quit().unwrap();
    // The slot is free once the server has closed that session: poll with new connections.
    let mut third = wait_until(SOON, || {
        let mut c = s.ftp_raw();
        (pass_reply(&mut c, USER, PASS).code == 230).then_some(c)
    })
    .unwrap_or_else(|| panic!("no login after a session quit; log:\n{}", s.log()));
    third.cmd("PWD", 257);
    second.cmd("NOOP", 200);

    // Two open again: the next one is refused once more.
    let r = try_login(&s, USER, PASS);
    assert_eq!(r.code, 530, "{:?}", r.lines);
    assert!(
        r.first().contains("too many open sessions"),
        "{:?}",
        r.lines
    );
}

#[test]
fn max_sessions_counts_logged_in_sessions_of_that_user_only() {
    let s = Server::start(
        ServerOpts::new()
            .user(user_json("v"))
            .user_set(USER, "/max_sessions", 1)
            .user_set("v", "/max_sessions", 1),
    );
    // Connections that have not logged in do not count.
    let mut idle: Vec<Ctrl> = (0..3).map(|_| s.ftp_raw()).collect();
    let mut u = s.ftp_login();
    // Another user has a count of its own.
    let mut v = assert_login_ok(&s, "v", PASS);
    assert_login_refused(&s, USER, PASS);
    assert_login_refused(&s, "v", PASS);
    u.cmd("NOOP", 200);
    v.cmd("NOOP", 200);
    for c in idle.iter_mut() {
        c.cmd("NOOP", 200);
    }
}

// ---------------------------------------------------------------------------------------
// status, expiration_date, denied_protocols

#[test]
fn disabled_or_statusless_user_is_refused_after_a_correct_password() {
    let mut off = user_json("off");
    off["status"] = json!(0);
    let mut statusless = user_json("nostatus");
    statusless.as_object_mut().unwrap().remove("status");
    let s = Server::start(ServerOpts::new().user(off).user(statusless));
    for name in ["off", "nostatus"] {
        let text = assert_login_refused(&s, name, PASS);
        assert!(
            text.to_lowercase().contains("disabled"),
            "{name}: the 530 should give the reason: {text:?}"
        );
        // The password is checked first: a wrong one tells nothing about the account.
        let text = assert_login_refused(&s, name, "wrong");
        assert!(
            !text.to_lowercase().contains("disabled"),
            "{name}: a wrong password must not reveal the account state: {text:?}"
        );
    }
    assert_login_ok(&s, USER, PASS);
}

#[test]
fn expired_account_is_refused_and_a_future_date_is_fine() {
    let s = Server::start(
        ServerOpts::new()
            .user(user_json("old"))
            .user_set("old", "/expiration_date", epoch_ms(-3600))
            .user(user_json("later"))
            .user_set("later", "/expiration_date", epoch_ms(3600)),
    );
    let text = assert_login_refused(&s, "old", PASS);
    assert!(text.to_lowercase().contains("expired"), "{text:?}");
    let text = assert_login_refused(&s, "old", "wrong");
    assert!(!text.to_lowercase().contains("expired"), "{text:?}");
    // A real client sees a refused login too.
    let out = s.curl(&["--list-only", &url_as(&s, "old", PASS, "/")]);
    assert_eq!(curl_code(&out), CURL_LOGIN_DENIED, "curl: {out:?}");
    assert_login_ok(&s, "later", PASS);
    s.curl_ok(&["--list-only", &url_as(&s, "later", PASS, "/")]);
}

#[test]
fn denied_protocols_ftp_refuses_the_login_other_protocols_do_not() {
    let s = Server::start(
        ServerOpts::new()
            .user(user_json("noftp"))
            .user_set("noftp", "/filters/denied_protocols", json!(["SSH", "FTP"]))
            .user(user_json("nossh"))
            .user_set("nossh", "/filters/denied_protocols", json!(["SSH", "HTTP"])),
    );
    let text = assert_login_refused(&s, "noftp", PASS);
    assert!(text.contains("FTP"), "the reason should name FTP: {text:?}");
    let text = assert_login_refused(&s, "noftp", "wrong");
    assert!(
        !text.contains("FTP"),
        "a wrong password must not reveal the account state: {text:?}"
    );
    assert_login_ok(&s, "nossh", PASS);
}

// ---------------------------------------------------------------------------------------
// allowed_ip / denied_ip

fn login_from(s: &Server, from: std::net::IpAddr, user: &str) -> Reply {
    let mut c = ctrl_from(from, s.addr);
    pass_reply(&mut c, user, PASS)
}

#[test]
fn allowed_ip_refuses_every_other_address() {
    let s = Server::start(ServerOpts::new().user_set(
        USER,
        "/filters/allowed_ip",
        json!(["127.0.0.2/32"]),
    ));
    let r = login_from(&s, LOCAL_IP, USER);
    assert_eq!(r.code, 530, "from 127.0.0.1: {:?}", r.lines);
    // From the allowed address the session works, data connections included.
    let mut c = ctrl_from(OTHER_IP, s.addr);
    let r = pass_reply(&mut c, USER, PASS);
    assert_eq!(r.code, 230, "from 127.0.0.2: {:?}", r.lines);
    let data = open_data_from(&mut c, OTHER_IP);
    c.get_over(data, "NLST").unwrap();
}

#[test]
fn denied_ip_refuses_that_address_only() {
    let s = Server::start(ServerOpts::new().user_set(
        USER,
        "/filters/denied_ip",
        json!(["127.0.0.1/32"]),
    ));
    let r = login_from(&s, LOCAL_IP, USER);
    assert_eq!(r.code, 530, "from 127.0.0.1: {:?}", r.lines);
    let r = login_from(&s, OTHER_IP, USER);
    assert_eq!(r.code, 230, "from 127.0.0.2: {:?}", r.lines);
}

#[test]
fn an_address_in_both_lists_is_allowed() {
    // SFTPGo checks allowed_ip first (reference section 3).
    let s = Server::start(
        ServerOpts::new()
            .user_set(USER, "/filters/allowed_ip", json!(["127.0.0.1/32"]))
            .user_set(USER, "/filters/denied_ip", json!(["127.0.0.0/8"])),
    );
    let r = login_from(&s, LOCAL_IP, USER);
    assert_eq!(r.code, 230, "127.0.0.1 is in both lists: {:?}", r.lines);
    let r = login_from(&s, OTHER_IP, USER);
    assert_eq!(r.code, 530, "127.0.0.2 is only denied: {:?}", r.lines);
}

// ---------------------------------------------------------------------------------------
// start_directory

#[test]
fn start_directory_is_the_working_directory_after_login() {
    let s = Server::start(ServerOpts::new().dir("sub/dir").user_set(
        USER,
        "/filters/start_directory",
        "/sub/dir",
    ));
    let mut c = s.ftp_login();
    assert_eq!(
        c.cmd("PWD", 257),
        "257 \"/sub/dir\" is the current directory"
    );
    c.put("STOR rel.txt", b"relative");
    assert_eq!(
        fs::read(s.home().join("sub/dir/rel.txt")).unwrap(),
        b"relative"
    );
    c.cmd("CDUP", 250);
    assert_eq!(c.cmd("PWD", 257), "257 \"/sub\" is the current directory");
    // After REIN and a new login the start directory applies again.
    c.cmd("REIN", 220);
    c.login(USER, PASS);
    assert_eq!(
        c.cmd("PWD", 257),
        "257 \"/sub/dir\" is the current directory"
    );
    let out = s.python_ok("ftp = login()\nprint(ftp.pwd())\nftp.quit()");
    assert_eq!(lines(&out), ["/sub/dir"]);
}

#[test]
fn missing_start_directory_leaves_the_root() {
    let s = Server::start(ServerOpts::new().user_set(USER, "/filters/start_directory", "/nope"));
    let mut c = s.ftp_login();
    assert_eq!(c.cmd("PWD", 257), "257 \"/\" is the current directory");
}

// ---------------------------------------------------------------------------------------
// Per-directory permissions named by the issue

const BASE: &[&str] = &["list", "download", "upload", "create_dirs"];

fn perms(extra: &[&'static str]) -> Vec<&'static str> {
    BASE.iter().chain(extra).copied().collect()
}

#[test]
fn without_overwrite_an_existing_file_cannot_be_replaced() {
    let s = Server::start(
        ServerOpts::new()
            .file("d/old.txt", "original")
            .dir("o")
            .perm("/d", &perms(&[]))
            .perm("/o", &perms(&["overwrite"])),
    );
    let mut c = s.ftp_login();
    c.put("STOR /d/new.txt", b"new file is fine");
    let sent = stor(&mut c, "STOR /d/old.txt", b"replacement");
    assert_eq!(sent.last.code, 550, "{sent:?}");
    assert_eq!(fs::read(s.home().join("d/old.txt")).unwrap(), b"original");
    c.put("STOR /o/f.txt", b"one");
    c.put("STOR /o/f.txt", b"two");
    assert_eq!(fs::read(s.home().join("o/f.txt")).unwrap(), b"two");
}

#[test]
fn rename_files_and_rename_dirs_are_separate_permissions() {
    let s = Server::start(
        ServerOpts::new()
            .file("f/a.txt", "a")
            .dir("f/sub")
            .file("d/a.txt", "a")
            .dir("d/sub")
            .perm("/f", &perms(&["rename_files"]))
            .perm("/d", &perms(&["rename_dirs"])),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    c.cmd("RNFR /f/a.txt", 350);
    c.cmd("RNTO /f/b.txt", 250);
    assert!(h.join("f/b.txt").is_file());
    assert_rename_refused(&mut c, "/f/sub", "/f/sub2");
    assert!(h.join("f/sub").is_dir() && !h.join("f/sub2").exists());

    c.cmd("RNFR /d/sub", 350);
    c.cmd("RNTO /d/sub2", 250);
    assert!(h.join("d/sub2").is_dir());
    assert_rename_refused(&mut c, "/d/a.txt", "/d/b.txt");
    assert!(h.join("d/a.txt").is_file() && !h.join("d/b.txt").exists());
}

#[test]
fn delete_files_and_delete_dirs_are_separate_permissions() {
    let s = Server::start(
        ServerOpts::new()
            .file("f/a.txt", "a")
            .dir("f/sub")
            .file("d/a.txt", "a")
            .dir("d/sub")
            .perm("/f", &perms(&["delete_files"]))
            .perm("/d", &perms(&["delete_dirs"])),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    c.cmd("DELE /f/a.txt", 250);
    assert!(!h.join("f/a.txt").exists());
    c.cmd("RMD /f/sub", 550);
    assert!(h.join("f/sub").is_dir());
    c.cmd("RMD /d/sub", 250);
    assert!(!h.join("d/sub").exists());
    c.cmd("DELE /d/a.txt", 550);
    assert!(h.join("d/a.txt").is_file());
}

#[test]
fn create_symlinks_chmod_and_chtimes_are_checked() {
    let s = Server::start(
        ServerOpts::new()
            .ftpd("enable_site", true)
            .file("no/f.txt", "x")
            .file("yes/f.txt", "x")
            .perm("/no", &perms(&["overwrite", "delete", "rename"]))
            .perm(
                "/yes",
                &perms(&["overwrite", "create_symlinks", "chmod", "chtimes"]),
            ),
    );
    let h = s.home();
    fs::set_permissions(h.join("no/f.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    set_mtime(&h.join("no/f.txt"), known_time());
    let mut c = s.ftp_login();

    c.cmd("SITE SYMLINK /no/f.txt /no/l", 550);
    assert!(fs::symlink_metadata(h.join("no/l")).is_err());
    c.cmd("SITE CHMOD 600 /no/f.txt", 550);
    let mode = fs::metadata(h.join("no/f.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    c.cmd("MFMT 20010203040506 /no/f.txt", 550);
    assert_eq!(
        fs::metadata(h.join("no/f.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        known_time()
    );

    c.cmd("SITE SYMLINK /yes/f.txt /yes/l", 200);
    assert!(fs::symlink_metadata(h.join("yes/l"))
        .unwrap()
        .file_type()
        .is_symlink());
    c.cmd("SITE CHMOD 600 /yes/f.txt", 200);
    let mode = fs::metadata(h.join("yes/f.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    c.cmd("MFMT 20200102030405 /yes/f.txt", 213);
    assert_eq!(
        fs::metadata(h.join("yes/f.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        known_time()
    );
}

// ---------------------------------------------------------------------------------------
// filters.file_patterns

fn pattern(path: &str, allowed: &[&str], denied: &[&str], policy: u8) -> Value {
    json!({"path": path, "allowed_patterns": allowed, "denied_patterns": denied,
           "deny_policy": policy})
}

fn patterns_server(entries: Vec<Value>, opts: ServerOpts) -> Server {
    Server::start(opts.user_set(USER, "/filters/file_patterns", Value::Array(entries)))
}

#[test]
fn allowed_patterns_limit_uploads_case_insensitively() {
    let s = patterns_server(
        vec![pattern("/pics", &["*.jpg"], &[], 0)],
        ServerOpts::new().dir("pics"),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    c.put("STOR /pics/a.jpg", b"jpeg");
    c.put("STOR /pics/B.JPG", b"JPEG");
    assert!(h.join("pics/a.jpg").is_file() && h.join("pics/B.JPG").is_file());
    assert_upload_refused(&mut c, "STOR /pics/a.exe", 553, &h.join("pics/a.exe"));
    assert_upload_refused(
        &mut c,
        "STOR /pics/a.jpg.txt",
        553,
        &h.join("pics/a.jpg.txt"),
    );
    // No entry applies outside /pics.
    c.put("STOR /a.exe", b"exe");
    // A real client sees the 553 too.
    let out = s.python_ok(
        r#"
ftp = login()
try:
    ftp.storbinary('STOR /pics/py.png', io.BytesIO(b'png'))
    print('stored')
except ftplib.error_perm as e:
    print('refused', str(e)[:3])
ftp.quit()
"#,
    );
    assert_eq!(lines(&out), ["refused 553"]);
    assert!(!h.join("pics/py.png").exists());
}

#[test]
fn refused_names_cannot_be_downloaded_renamed_or_deleted_but_are_listed() {
    let s = patterns_server(
        vec![pattern("/docs", &[], &["*.txt"], 0)],
        ServerOpts::new()
            .file("docs/keep.txt", "keep")
            .file("docs/a.pdf", "pdf"),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    let r = c.try_get("RETR /docs/keep.txt").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    c.cmd("DELE /docs/keep.txt", 550);
    assert_rename_refused(&mut c, "/docs/keep.txt", "/docs/keep.pdf");
    // The new name counts as well.
    assert_rename_refused(&mut c, "/docs/a.pdf", "/docs/a.txt");
    assert_eq!(fs::read(h.join("docs/keep.txt")).unwrap(), b"keep");
    assert!(h.join("docs/a.pdf").is_file() && !h.join("docs/a.txt").exists());
    assert!(!h.join("docs/keep.pdf").exists());
    // deny_policy 0: still visible.
    let names = sorted_lines(&c.list("NLST /docs"));
    assert_eq!(names, ["/docs/a.pdf", "/docs/keep.txt"]);
    assert_eq!(c.get("RETR /docs/a.pdf"), b"pdf");
}

#[test]
fn allowed_patterns_are_checked_before_denied_ones() {
    let s = patterns_server(vec![pattern("/", &["*.jpg"], &["*"], 0)], ServerOpts::new());
    let h = s.home();
    let mut c = s.ftp_login();
    c.put("STOR a.jpg", b"jpeg");
    assert!(h.join("a.jpg").is_file());
    assert_upload_refused(&mut c, "STOR a.png", 553, &h.join("a.png"));
}

#[test]
fn the_nearest_ancestor_entry_applies_alone() {
    let s = patterns_server(
        vec![
            pattern("/", &[], &["*.exe"], 0),
            pattern("/tools", &[], &["*.bat"], 0),
        ],
        ServerOpts::new().dir("tools/bin").dir("other"),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    // /tools/bin has no entry: /tools's applies, and only it (exe allowed, bat refused).
    c.put("STOR /tools/bin/x.exe", b"exe");
    assert!(h.join("tools/bin/x.exe").is_file());
    assert_upload_refused(
        &mut c,
        "STOR /tools/bin/x.bat",
        553,
        &h.join("tools/bin/x.bat"),
    );
    assert_upload_refused(&mut c, "STOR /other/x.exe", 553, &h.join("other/x.exe"));
    c.put("STOR /other/x.bat", b"bat");
}

#[test]
fn a_link_to_a_hidden_directory_shows_nothing_of_it() {
    // An administrator's link `pub -> hid`: what is hidden stays hidden through the link,
    // and nothing can be written there by its other name.
    let s = patterns_server(
        vec![pattern("/", &[], &["hid"], 1)],
        ServerOpts::new().file("hid/x.txt", "hidden"),
    );
    let h = s.home();
    symlink("hid", h.join("pub")).unwrap();
    let mut c = s.ftp_login();
    let r = c.try_get("RETR pub/x.txt").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    let r = c.try_put("STOR pub/n.txt", b"EVIL").unwrap_err();
    assert!(matches!(r.code, 550 | 553), "{r:?}");
    match c.try_get("LIST pub") {
        Ok(b) => assert!(!String::from_utf8_lossy(&b).contains("x.txt")),
        Err(r) => assert_eq!(r.code, 550, "{r:?}"),
    }
    c.cmd("SIZE pub/x.txt", 550);
    c.cmd("MKD pub/d", 550);
    assert_eq!(dir_names(&h.join("hid")), ["x.txt"]);
    // curl, through the link, is refused too.
    let out = s.curl(&["-o", "-", &s.url("/pub/x.txt")]);
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
}

#[test]
fn deny_policy_1_hides_refused_names_as_not_found() {
    let s = patterns_server(
        vec![pattern("/hid", &[], &["*.secret"], 1)],
        ServerOpts::new()
            .file("hid/a.secret", "hidden")
            .file("hid/b.txt", "shown"),
    );
    let h = s.home();
    let mut c = s.ftp_login();
    let list = c.list("LIST -a /hid");
    assert!(list.contains("b.txt"), "{list}");
    assert!(
        !list.contains("a.secret"),
        "LIST shows a hidden name: {list}"
    );
    assert_eq!(sorted_lines(&c.list("NLST /hid")), ["/hid/b.txt"]);
    let mlsd = c.list("MLSD /hid");
    assert!(lines(&mlsd).iter().any(|l| l.ends_with(" b.txt")), "{mlsd}");
    assert!(
        !mlsd.contains("a.secret"),
        "MLSD shows a hidden name: {mlsd}"
    );

    // Not found: the same answers as for a name that does not exist.
    let hidden = c.ask("SIZE /hid/a.secret");
    let missing = c.ask("SIZE /hid/zz.secret");
    assert_eq!(hidden.code, 550, "{hidden:?}");
    assert_eq!(
        hidden.text().replace("a.secret", "N"),
        missing.text().replace("zz.secret", "N"),
        "a hidden file must look like a missing one"
    );
    let hidden = c.try_get("RETR /hid/a.secret").unwrap_err();
    let missing = c.try_get("RETR /hid/zz.secret").unwrap_err();
    assert_eq!(hidden.code, 550, "{hidden:?}");
    assert_eq!(
        hidden.text().replace("a.secret", "N"),
        missing.text().replace("zz.secret", "N"),
        "a hidden file must look like a missing one"
    );
    c.cmd("MLST /hid/a.secret", 550);
    c.cmd("DELE /hid/a.secret", 550);
    assert_eq!(fs::read(h.join("hid/a.secret")).unwrap(), b"hidden");
    assert_upload_refused(
        &mut c,
        "STOR /hid/new.secret",
        553,
        &h.join("hid/new.secret"),
    );
    assert_eq!(c.get("RETR /hid/b.txt"), b"shown");
}

// ---------------------------------------------------------------------------------------
// Virtual folders

/// A dump with user u (home `home/`) and virtual folder f1 (`f1/`) at /vdir, plus an
/// `outside/secret.txt` next to them.
fn folder_server() -> (Server, Dump) {
    let d = Dump::new();
    let home = d.mkdir("home");
    let f1 = d.mkdir("f1");
    d.mkdir("outside");
    fs::write(d.dir.path().join("outside/secret.txt"), "SECRET").unwrap();
    fs::write(f1.join("pre.txt"), "folder data").unwrap();
    fs::write(home.join("h.txt"), "home data").unwrap();
    let mut u = user_json(USER);
    u["home_dir"] = json!(home);
    u["virtual_folders"] =
        json!([{"name": "f1", "virtual_path": "/vdir", "quota_size": -1, "quota_files": -1}]);
    d.write(&[u], &[json!({"name": "f1", "mapped_path": f1})]);
    let s = Server::start(d.opts().ftpd("enable_site", true));
    (s, d)
}

#[test]
fn a_virtual_folders_own_mode_and_times_stay_as_they_are() {
    // The mapped directory may be shared with other users: like RMD and RNFR, SITE CHMOD
    // and MFMT refuse the folder itself, and still work inside it.
    let (s, d) = folder_server();
    let f1 = d.dir.path().join("f1");
    fs::set_permissions(&f1, fs::Permissions::from_mode(0o755)).unwrap();
    let mtime = fs::metadata(&f1).unwrap().modified().unwrap();
    let mut c = s.ftp_login();
    c.cmd("SITE CHMOD 700 /vdir", 550);
    c.cmd("MFMT 20010101000000 /vdir", 550);
    assert_eq!(
        fs::metadata(&f1).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(fs::metadata(&f1).unwrap().modified().unwrap(), mtime);
    c.cmd("SITE CHMOD 600 /vdir/pre.txt", 200);
    assert_eq!(
        fs::metadata(f1.join("pre.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn virtual_folder_is_listed_and_its_files_live_in_mapped_path() {
    let (s, d) = folder_server();
    let (home, f1) = (d.dir.path().join("home"), d.dir.path().join("f1"));
    let mut c = s.ftp_login();
    let list = c.list("LIST /");
    let line = lines(&list)
        .into_iter()
        .find(|l| l.ends_with(" vdir"))
        .unwrap_or_else(|| panic!("/vdir not in LIST /: {list}"));
    assert!(line.starts_with('d'), "{line}");
    let mlsd = c.list("MLSD /");
    let fact = lines(&mlsd)
        .into_iter()
        .find(|l| l.ends_with(" vdir"))
        .unwrap_or_else(|| panic!("/vdir not in MLSD /: {mlsd}"));
    assert!(fact.to_lowercase().contains("type=dir;"), "{fact}");

    assert_eq!(c.get("RETR /vdir/pre.txt"), b"folder data");
    c.put("STOR /vdir/up.txt", b"uploaded");
    assert_eq!(fs::read(f1.join("up.txt")).unwrap(), b"uploaded");
    assert!(!home.join("vdir/up.txt").exists());
    c.cmd("MKD /vdir/sub", 257);
    assert!(f1.join("sub").is_dir());
    c.cmd("CWD /vdir", 250);
    assert_eq!(c.cmd("PWD", 257), "257 \"/vdir\" is the current directory");
    assert_eq!(sorted_lines(&c.list("NLST")), ["pre.txt", "sub", "up.txt"]);
    c.cmd("DELE up.txt", 250);
    assert!(!f1.join("up.txt").exists());
    c.cmd("CDUP", 250);
    assert_eq!(c.cmd("PWD", 257), "257 \"/\" is the current directory");

    // lftp through the folder.
    let out = s.lftp_ok("cat /vdir/pre.txt");
    assert_eq!(out, "folder data");
}

#[test]
fn virtual_folder_is_confined_to_mapped_path() {
    let (s, d) = folder_server();
    let root = d.dir.path();
    symlink(root.join("outside/secret.txt"), root.join("f1/esc")).unwrap();
    symlink(root.join("home/h.txt"), root.join("f1/tohome")).unwrap();
    symlink("../outside", root.join("f1/escdir")).unwrap();
    let mut c = s.ftp_login();
    for path in ["/vdir/esc", "/vdir/tohome", "/vdir/escdir/secret.txt"] {
        match c.try_get(&format!("RETR {path}")) {
            Ok(b) => panic!("RETR {path} served {:?}", String::from_utf8_lossy(&b)),
            Err(r) => assert_eq!(r.code, 550, "RETR {path}: {r:?}"),
        }
    }
    // `..` works on virtual paths: from /vdir it reaches the home, never above it.
    c.cmd("CWD /vdir", 250);
    assert_eq!(c.get("RETR ../h.txt"), b"home data");
    let r = c.try_get("RETR ../../../outside/secret.txt").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
}

#[test]
fn rename_between_home_and_virtual_folder_is_refused() {
    let (s, d) = folder_server();
    let root = d.dir.path();
    let mut c = s.ftp_login();
    assert_rename_refused(&mut c, "/h.txt", "/vdir/h.txt");
    assert!(root.join("home/h.txt").is_file() && !root.join("f1/h.txt").exists());
    assert_rename_refused(&mut c, "/vdir/pre.txt", "/pre.txt");
    assert!(root.join("f1/pre.txt").is_file() && !root.join("home/pre.txt").exists());
    // Inside the folder, renames work.
    c.cmd("RNFR /vdir/pre.txt", 350);
    c.cmd("RNTO /vdir/renamed.txt", 250);
    assert!(root.join("f1/renamed.txt").is_file());
}

// ---------------------------------------------------------------------------------------
// SIGHUP reloads the users file

#[test]
fn sighup_adds_a_new_user() {
    let s = Server::default_started();
    let out = s.curl(&["--list-only", &url_as(&s, "v", PASS, "/")]);
    assert_eq!(
        curl_code(&out),
        CURL_LOGIN_DENIED,
        "v before the reload: {out:?}"
    );
    let home = s.dir.path().join("homes/v");
    edit_users(&s, |users| {
        let mut v = user_json("v");
        v["home_dir"] = json!(home);
        users.push(v);
    });
    sighup(&s);
    let mut c = assert_login_ok(&s, "v", PASS);
    c.put("STOR v.txt", b"v was here");
    assert_eq!(fs::read(home.join("v.txt")).unwrap(), b"v was here");
    assert_eq!(s.curl_ok(&[&url_as(&s, "v", PASS, "v.txt")]), b"v was here");
    assert_login_ok(&s, USER, PASS);
}

#[test]
fn sighup_removes_a_user() {
    let s = Server::start(ServerOpts::new().user(user_json("v")));
    assert_login_ok(&s, "v", PASS);
    edit_users(&s, |users| users.retain(|u| u["username"] != "v"));
    sighup(&s);
    assert_login_refused(&s, "v", PASS);
    let out = s.curl(&["--list-only", &url_as(&s, "v", PASS, "/")]);
    assert_eq!(curl_code(&out), CURL_LOGIN_DENIED, "{out:?}");
    assert_login_ok(&s, USER, PASS);
}

#[test]
fn sighup_applies_changed_permissions_to_new_sessions() {
    let s = Server::start(ServerOpts::new().file("a.txt", "A"));
    let mut before = s.ftp_login();
    before.put("STOR one.txt", b"1");
    edit_users(&s, |users| {
        user_mut(users, USER)["permissions"] = json!({"/": ["list", "download"]});
    });
    sighup(&s);
    let mut after = s.ftp_login();
    let sent = stor(&mut after, "STOR two.txt", b"2");
    assert_eq!(sent.last.code, 550, "{sent:?}");
    assert!(!s.home().join("two.txt").exists());
    assert_eq!(after.get("RETR a.txt"), b"A");
    after.cmd("DELE a.txt", 550);
    // And back: upload allowed again for the next session.
    edit_users(&s, |users| {
        user_mut(users, USER)["permissions"] = json!({"/": ["*"]});
    });
    sighup(&s);
    s.ftp_login().put("STOR three.txt", b"3");
    assert!(s.home().join("three.txt").is_file());
}

#[test]
fn a_broken_users_file_keeps_the_old_users() {
    let s = Server::start(ServerOpts::new().user(user_json("v")));
    fs::write(&s.users_path, "{\"users\": [ not json").unwrap();
    let lines = sighup(&s);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("reload: keeping the old users")),
        "{lines:?}"
    );
    assert_login_ok(&s, USER, PASS);
    assert_login_ok(&s, "v", PASS);
    // A user entry the loader refuses (relative home) keeps them as well.
    let mut bad = user_json("w");
    bad["home_dir"] = json!("relative/home");
    fs::write(
        &s.users_path,
        serde_json::to_vec(&json!({"users": [bad]})).unwrap(),
    )
    .unwrap();
    let lines = sighup(&s);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("reload: keeping the old users")),
        "{lines:?}"
    );
    assert_login_ok(&s, "v", PASS);
    assert_login_refused(&s, "w", PASS);
    // A good file afterwards loads.
    let mut w = user_json("w");
    w["home_dir"] = json!(s.dir.path().join("homes/w"));
    fs::write(
        &s.users_path,
        serde_json::to_vec(&json!({"users": [w]})).unwrap(),
    )
    .unwrap();
    sighup(&s);
    assert_login_ok(&s, "w", PASS);
    assert_login_refused(&s, "v", PASS);
}

fn changed_password_check(opts: ServerOpts) {
    let s = Server::start(opts);
    // Verified twice: with the cache on, the second one comes from it.
    assert_login_ok(&s, USER, PASS);
    assert_login_ok(&s, USER, PASS);
    let new_hash = hash_password("n3w-pass");
    edit_users(&s, |users| {
        user_mut(users, USER)["password"] = json!(new_hash);
    });
    sighup(&s);
    assert_login_refused(&s, USER, PASS);
    assert_login_ok(&s, USER, "n3w-pass");
    assert_login_ok(&s, USER, "n3w-pass");
    assert_login_refused(&s, USER, PASS);
    assert_login_refused(&s, USER, "n3w-pas");
    let out = s.curl(&["--list-only", &url_as(&s, USER, PASS, "/")]);
    assert_eq!(curl_code(&out), CURL_LOGIN_DENIED, "{out:?}");
    s.curl_ok(&["--list-only", &url_as(&s, USER, "n3w-pass", "/")]);
}

#[test]
fn changed_password_after_sighup_old_fails_new_works_with_the_cache() {
    changed_password_check(ServerOpts::new());
}

#[test]
fn changed_password_after_sighup_old_fails_new_works_without_the_cache() {
    changed_password_check(ServerOpts::new().set("/data_provider/password_caching", false));
}

#[test]
fn password_cache_never_accepts_a_wrong_password() {
    let s = Server::default_started();
    assert_login_ok(&s, USER, PASS);
    assert_login_ok(&s, USER, PASS);
    for wrong in ["secreT", "secret2", "secre"] {
        assert_login_refused(&s, USER, wrong);
    }
    assert_login_ok(&s, USER, PASS);
}

// ---------------------------------------------------------------------------------------
// The dump's ip_lists: checked at connect, before any greeting

/// Sets the users file's `ip_lists` and reloads it.
fn set_ip_lists(s: &Server, lists: Value) {
    let mut doc: Value = serde_json::from_slice(&fs::read(&s.users_path).unwrap()).unwrap();
    doc["ip_lists"] = lists;
    fs::write(&s.users_path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    sighup(s);
}

/// The first line a connection from `local` gets.
fn first_line_from(s: &Server, local: &str) -> String {
    let to: std::net::SocketAddr = format!("{}:{}", s.host(), s.port()).parse().unwrap();
    let mut c = raw_from(local.parse().unwrap(), to);
    c.reply().lines.join("\n")
}

#[test]
fn ip_lists_block_list_refuses_at_connect_and_other_addresses_still_work() {
    let s = Server::start(ServerOpts::new());
    set_ip_lists(
        &s,
        json!([{"ipornet": "127.0.0.2/32", "type": 2, "mode": 2, "protocols": 2}]),
    );
    let line = first_line_from(&s, "127.0.0.2");
    assert!(line.starts_with("421 "), "blocked address greeted: {line}");
    assert!(first_line_from(&s, "127.0.0.1").starts_with("220"));
    s.wait_log("connection from 127.0.0.2");
}

#[test]
fn ip_lists_entries_for_other_protocols_do_not_apply() {
    let s = Server::start(ServerOpts::new());
    // protocols 1 = SSH only.
    set_ip_lists(
        &s,
        json!([{"ipornet": "127.0.0.2/32", "type": 2, "mode": 2, "protocols": 1}]),
    );
    assert!(first_line_from(&s, "127.0.0.2").starts_with("220"));
}

#[test]
fn allowlist_status_admits_only_the_allow_list() {
    // The allow list must be in the dump from the start: the harness connects from
    // 127.0.0.1 to see the greeting.
    let d = Dump::new();
    let home = d.mkdir("home");
    let mut u = user_json(USER);
    u["home_dir"] = json!(home);
    d.write(&[u], &[]);
    let mut doc: Value = serde_json::from_slice(&fs::read(d.path()).unwrap()).unwrap();
    doc["ip_lists"] = json!([{"ipornet": "127.0.0.1/32", "type": 1, "mode": 1, "protocols": 0}]);
    fs::write(d.path(), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let s = Server::start(d.opts().common("allowlist_status", 1));
    assert!(first_line_from(&s, "127.0.0.1").starts_with("220"));
    let line = first_line_from(&s, "127.0.0.2");
    assert!(
        line.starts_with("421 "),
        "address off the allow list greeted: {line}"
    );
}

// ---------------------------------------------------------------------------------------
// Users this server cannot serve as SFTPGo would: loaded, warned about, refused

#[test]
fn users_on_other_storage_or_needing_a_password_change_cannot_log_in() {
    let s = Server::start(ServerOpts::new());
    edit_users(&s, |users| {
        let mut s3 = user_mut(users, USER).clone();
        s3["username"] = json!("ons3");
        s3["filesystem"] = json!({"provider": 1});
        let mut change = user_mut(users, USER).clone();
        change["username"] = json!("mustchange");
        change["filters"] = json!({"require_password_change": true});
        users.push(s3);
        users.push(change);
    });
    sighup(&s);
    s.wait_log("filesystem.provider 1 is not served");
    s.wait_log("require_password_change");
    assert_login_refused(&s, "ons3", PASS);
    assert_login_refused(&s, "mustchange", PASS);
    assert_login_ok(&s, USER, PASS);
}
