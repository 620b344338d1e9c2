//! The logs (ferroftpd(8) LOGS; src/log/): human lines to stderr or to syslog (RFC 3164
//! datagrams, facility and socket chosen on the command line), the transfer log in
//! wu-ftpd's xferlog format and the JSON-lines event log, each parsed back. Every login,
//! failed login (with its reason) and transfer is logged once; SIGHUP reopens the files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod daemon;

use common::{wait_until, Server, ServerOpts, PASS, SOON, USER};
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `path` has at least `n` lines.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    wait_until(SOON, || {
        let l = read_lines(path);
        (l.len() >= n).then_some(l)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} never had {n} lines: {:?}",
            path.display(),
            read_lines(path)
        )
    })
}

/// One xferlog line split into its fields (the date is five words).
struct Xfer {
    secs: u64,
    host: String,
    size: u64,
    file: String,
    kind: String,
    direction: String,
    user: String,
    status: String,
}

fn parse_xferlog(line: &str) -> Xfer {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 18, "5 date words and 13 fields: {line:?}");
    assert!(
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&f[0]),
        "{line}"
    );
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert!(months.contains(&f[1]), "{line}");
    assert!((1..=31).contains(&f[2].parse::<u32>().unwrap()), "{line}");
    assert_eq!(f[3].len(), 8, "{line}");
    assert!(f[4].parse::<u32>().unwrap() >= 2020, "{line}");
    // special-action-flag, access-mode, service, auth method, auth user id.
    assert_eq!(
        [f[10], f[12], f[14], f[15], f[16]],
        ["_", "r", "ftp", "0", "*"],
        "{line}"
    );
    Xfer {
        secs: f[5].parse().unwrap(),
        host: f[6].into(),
        size: f[7].parse().unwrap(),
        file: f[8].into(),
        kind: f[9].into(),
        direction: f[11].into(),
        user: f[13].into(),
        status: f[17].into(),
    }
}

#[test]
fn xferlog_and_json_lines_parse_back_and_events_are_logged_once() {
    let logs = tempfile::tempdir().unwrap();
    let xferlog = logs.path().join("xferlog");
    let json = logs.path().join("events.jsonl");
    let server = Server::start(
        ServerOpts::new()
            .arg("--xferlog")
            .arg(xferlog.to_str().unwrap())
            .arg(&format!("--json-log={}", json.display()))
            .file("down.txt", b"0123456789"),
    );
    let mut c = server.ftp_login();
    c.put("STOR up file.txt", b"hello");
    assert_eq!(c.get("RETR down.txt"), b"0123456789");
    c.cmd("TYPE A", 200);
    c.put("STOR ascii.txt", b"a\r\nb\r\n");
    c.list("LIST"); // a listing is not an xferlog transfer
    let mut bad = server.ftp_raw();
    bad.cmd(&format!("USER {USER}"), 331);
    bad.cmd("PASS wrong", 530);

    let lines = wait_lines(&xferlog, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let x: Vec<Xfer> = lines.iter().map(|l| parse_xferlog(l)).collect();
    for t in &x {
        assert!(t.secs >= 1);
        assert_eq!(
            (t.host.as_str(), t.user.as_str(), t.status.as_str()),
            ("127.0.0.1", USER, "c")
        );
    }
    assert_eq!(
        (
            x[0].file.as_str(),
            x[0].size,
            x[0].kind.as_str(),
            x[0].direction.as_str()
        ),
        ("/up_file.txt", 5, "b", "i"),
        "a space in a name becomes _"
    );
    assert_eq!(
        (
            x[1].file.as_str(),
            x[1].size,
            x[1].kind.as_str(),
            x[1].direction.as_str()
        ),
        ("/down.txt", 10, "b", "o")
    );
    assert_eq!(
        (
            x[2].file.as_str(),
            x[2].kind.as_str(),
            x[2].direction.as_str()
        ),
        ("/ascii.txt", "a", "i")
    );

    let events: Vec<Value> = wait_lines(&json, 5)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == kind).collect() };
    let logins = of("login");
    assert_eq!(logins.len(), 1, "{events:?}");
    assert_eq!(logins[0]["user"], USER);
    assert_eq!(logins[0]["method"], "password");
    assert!(logins[0]["remote"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(logins[0]["time"].as_str().unwrap().ends_with('Z'));
    let failed = wait_until(SOON, || {
        let l: Vec<Value> = read_lines(&json)
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["event"] == "login_failed")
            .collect();
        (!l.is_empty()).then_some(l)
    })
    .expect("no login_failed event");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["user"], USER);
    assert!(!failed[0]["reason"].as_str().unwrap().is_empty());
    let transfers = of("transfer");
    assert_eq!(transfers.len(), 3, "files only: {events:?}");
    let up = transfers[0];
    assert_eq!(
        (
            &up["verb"],
            &up["path"],
            &up["bytes"],
            &up["result"],
            &up["direction"],
            &up["mode"]
        ),
        (
            &Value::from("STOR"),
            &Value::from("/up file.txt"),
            &Value::from(5),
            &Value::from("ok"),
            &Value::from("upload"),
            &Value::from("binary")
        )
    );
    assert!(up["secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(transfers[1]["direction"], "download");
    assert_eq!(transfers[2]["mode"], "ascii");

    // The human log has each event once.
    server.wait_log_line(&["login failed user=u", "reason="]);
    let log = server.log();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("] login user=u "), 1, "{log}");
    assert_eq!(count("login failed user=u "), 1, "{log}");
    assert_eq!(count("transfer STOR user=u"), 2, "{log}");
    assert_eq!(count("transfer RETR user=u"), 1, "{log}");
}

#[test]
fn sighup_reopens_the_transfer_logs_after_rotation() {
    let logs = tempfile::tempdir().unwrap();
    let xferlog = logs.path().join("xferlog");
    let server = Server::start(ServerOpts::new().arg(&format!("--xferlog={}", xferlog.display())));
    let mut c = server.ftp_login();
    c.put("STOR one.txt", b"1");
    wait_lines(&xferlog, 1);
    let rotated = logs.path().join("xferlog.0");
    std::fs::rename(&xferlog, &rotated).unwrap();
    daemon::send_signal(server.pid(), "HUP");
    server.wait_log_line(&["reload: reopened", "xferlog"]);
    c.put("STOR two.txt", b"22");
    let new = wait_lines(&xferlog, 1);
    assert!(new[0].contains(" /two.txt "), "{new:?}");
    let old = read_lines(&rotated);
    assert!(old.len() == 1 && old[0].contains(" /one.txt "), "{old:?}");
}

#[test]
fn syslog_lines_parse_back() {
    let logs = tempfile::tempdir().unwrap();
    let sock_path = logs.path().join("log");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let server = Server::start(
        ServerOpts::new()
            .arg("--syslog-socket")
            .arg(sock_path.to_str().unwrap())
            .arg("--syslog-facility")
            .arg("local3"),
    );
    let mut c = server.ftp_login();
    c.put("STOR s.txt", b"syslog");
    let mut bad = server.ftp_raw();
    bad.cmd(&format!("USER {USER}"), 331);
    bad.cmd("PASS nope", 530);

    // (severity, message) of every datagram, until the three events are there.
    let prefix = format!("ferroftpd[{}]: ", server.pid());
    let mut got: Vec<(u32, String)> = Vec::new();
    let wanted = |got: &Vec<(u32, String)>| {
        [
            "listening on",
            "login user=u",
            "login failed user=u",
            "transfer STOR",
        ]
        .iter()
        .all(|w| got.iter().any(|(_, m)| m.starts_with(w)))
    };
    let mut buf = vec![0u8; 8192];
    wait_until(SOON, || {
        while let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8(buf[..n].to_vec()).unwrap();
            let (pri, rest) = text
                .strip_prefix('<')
                .and_then(|t| t.split_once('>'))
                .unwrap_or_else(|| panic!("no <PRI>: {text:?}"));
            let pri: u32 = pri.parse().unwrap();
            assert_eq!(pri / 8, 19, "facility local3: {text:?}");
            let msg = rest
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("no {prefix:?}: {text:?}"));
            assert!(!msg.contains('\n'), "{text:?}");
            got.push((pri % 8, msg.to_string()));
        }
        wanted(&got).then_some(())
    })
    .unwrap_or_else(|| panic!("missing syslog lines; got {got:?}"));
    let sev = |start: &str| {
        got.iter()
            .find(|(_, m)| m.starts_with(start))
            .map(|(s, _)| *s)
            .unwrap()
    };
    assert_eq!(sev("login user=u"), 6, "info");
    assert_eq!(sev("transfer STOR"), 6, "info");
    assert_eq!(sev("login failed user=u"), 4, "warning");
    let _ = PASS;
    // Nothing went to stderr.
    assert!(server.log().trim().is_empty(), "stderr: {}", server.log());
}

#[test]
fn a_ban_is_logged_once_in_both_logs() {
    let logs = tempfile::tempdir().unwrap();
    let json = logs.path().join("events.jsonl");
    let server = Server::start(
        ServerOpts::new()
            .arg(&format!("--json-log={}", json.display()))
            .common(
                "defender",
                serde_json::json!({"enabled": true, "ban_time": 0.05, "threshold": 3,
                    "score_invalid": 2, "score_valid": 1, "score_limit_exceeded": 1,
                    "login_delay": {"success": 0, "password_failed": 0}}),
            ),
    );
    // From 127.0.0.5, so the harness's own address is never banned.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(
        &"127.0.0.5:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    sock.connect(&server.addr.into()).unwrap();
    let mut c = common::Ctrl::from_stream(sock.into());
    c.expect(220);
    for _ in 0..2 {
        c.cmd("USER nobody", 331);
        c.cmd("PASS wrong", 530);
    }
    server.wait_log_line(&["ban remote=127.0.0.5 for 3s", "reason=\"failed logins\""]);
    let bans: Vec<Value> = wait_until(SOON, || {
        let b: Vec<Value> = read_lines(&json)
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["event"] == "ban")
            .collect();
        (!b.is_empty()).then_some(b)
    })
    .expect("no ban event in the JSON log");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(
        (&bans[0]["remote"], &bans[0]["secs"], &bans[0]["reason"]),
        (
            &Value::from("127.0.0.5"),
            &Value::from(3),
            &Value::from("failed logins")
        )
    );
    let log = server.log();
    assert_eq!(
        log.lines().filter(|l| l.contains("ban remote=")).count(),
        1,
        "{log}"
    );
}

/// An aborted transfer is logged once, as incomplete: xferlog completion status `i`, JSON
/// result `aborted`, for an upload and a download alike.
#[test]
fn aborted_transfers_have_xferlog_status_i() {
    use std::io::Write;
    let logs = tempfile::tempdir().unwrap();
    let xferlog = logs.path().join("xferlog");
    let json = logs.path().join("events.jsonl");
    let server = Server::start(
        ServerOpts::new()
            .arg(&format!("--xferlog={}", xferlog.display()))
            .arg(&format!("--json-log={}", json.display()))
            .file("big.bin", common::random_bytes(32 << 20, 3)),
    );
    let mut c = server.ftp_login();
    // An upload stopped by ABOR with its data connection still open.
    let mut data = c.open_data();
    c.send("STOR cut.bin");
    c.expect_prelim();
    data.write_all(&[7u8; 4096]).unwrap();
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    drop(data);
    // A download the client does not read, then aborts.
    let data = c.open_data();
    c.send("RETR big.bin");
    c.expect_prelim();
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    drop(data);

    let x: Vec<Xfer> = wait_lines(&xferlog, 2)
        .iter()
        .map(|l| parse_xferlog(l))
        .collect();
    assert_eq!(x.len(), 2);
    for (t, (file, dir)) in x.iter().zip([("/cut.bin", "i"), ("/big.bin", "o")]) {
        assert_eq!(
            (t.file.as_str(), t.direction.as_str(), t.status.as_str()),
            (file, dir, "i"),
            "an aborted transfer is incomplete"
        );
    }
    assert!(x[1].size < 32 << 20, "the download was cut");
    let results: Vec<Value> = wait_lines(&json, 3)
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "transfer")
        .map(|e| e["result"].clone())
        .collect();
    assert_eq!(results, [Value::from("aborted"), Value::from("aborted")]);
}

/// A client's bytes in a logged path or line reach stderr escaped and bounded: no raw
/// control character (a terminal escape, a NUL) and no 1,000-character name in the log.
#[test]
fn client_bytes_in_log_lines_are_escaped_and_bounded() {
    // -d and the binding's debug: every command line is logged too (the logger escapes).
    let s = Server::start(ServerOpts::new().arg("-d").binding("debug", true));
    let mut c = s.ftp_login();
    // A NUL makes the name invalid for the system (EINVAL): a file error, logged.
    c.cmd("MKD a\u{0}\u{1b}[2Jb", 550);
    let long = "n".repeat(1000);
    c.cmd(&format!("MKD {long}"), 550);
    c.cmd("NOOP \u{1b}]0;owned\u{7}", 501);
    let line = s.wait_log_line(&["file error on /a"]);
    assert!(line.contains(r"\u{0}\u{1b}[2Jb"), "{line}");
    s.wait_log_line(&["file error on /nnn"]);
    s.wait_log(r"NOOP \u{1b}]0;owned\u{7}");
    // A user who types the escape itself, backslash and all, is logged with the backslash
    // escaped: a raw ESC and a typed `\u{1b}` read differently.
    let mut t = s.ftp_raw();
    t.cmd("USER x\\u{1b}y\u{1b}z", 331);
    t.cmd("PASS wrong", 530);
    let line = s.wait_log_line(&["login failed user=x"]);
    assert!(line.contains(r"user=x\\u{1b}y\u{1b}z "), "{line}");
    let log = s.log();
    assert!(
        !log.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character in the log:\n{log:?}"
    );
    // The file error, the command line and the reply each name the long path, bounded.
    for l in log.lines() {
        assert!(l.len() < 400, "an unbounded line: {l}");
    }
}
