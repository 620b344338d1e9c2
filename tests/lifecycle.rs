//! The daemon's lifecycle (ferroftpd(8) SIGNALS, EXIT STATUS, --pidfile): SIGTERM stops
//! accepting, closes idle sessions with 421 and lets a running transfer finish whole; the
//! grace period and a second signal bound the wait; SIGHUP reloads and says what changed;
//! the pidfile is written, locked and removed; exit codes are those documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod daemon;

use common::{random_bytes, Ctrl, SOON};
use daemon::{run_to_exit, Daemon, Setup};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Starts an upload of `bytes` and sends its first half; returns the data connection.
fn upload_half(c: &mut Ctrl, name: &str, bytes: &[u8]) -> TcpStream {
    let mut data = c.open_data();
    c.send(&format!("STOR {name}"));
    c.expect_prelim();
    data.write_all(&bytes[..bytes.len() / 2]).unwrap();
    data
}

#[test]
fn sigterm_lets_a_running_upload_finish_whole() {
    let mut d = Daemon::start(Setup::new().arg("--grace").arg("60"));
    let mut idle = d.login();
    let mut busy = d.login();
    let bytes = random_bytes(3 << 20, 7);
    let mut data = upload_half(&mut busy, "whole.bin", &bytes);

    d.signal("TERM");
    d.wait_log_line(&["stopping: no new connections", "1 busy session(s)"]);
    // The idle session is told, and closed.
    let r = idle.reply();
    assert_eq!(r.code, 421, "{r:?}");
    assert!(r.text().contains("shutting down"), "{r:?}");
    idle.expect_closed();
    // Nobody new gets in.
    let e = TcpStream::connect_timeout(&d.addr, Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");

    // The transfer in flight goes on to the end, and only then is the session closed.
    data.write_all(&bytes[bytes.len() / 2..]).unwrap();
    data.shutdown(Shutdown::Write).unwrap();
    let mut sink = Vec::new();
    let _ = data.read_to_end(&mut sink);
    busy.expect(226);
    busy.expect(421);
    busy.expect_closed();

    let st = d.wait_exit(SOON);
    assert!(st.success(), "exit status {st}; log:\n{}", d.log());
    assert_eq!(std::fs::read(d.home("u").join("whole.bin")).unwrap(), bytes);
    d.wait_log_line(&["stopped: every session has ended"]);
    d.wait_log_line(&["transfer STOR", "path=/whole.bin", "result=ok"]);
}

/// A daemon with upload_mode 1 (temporary upload files) and both transfer logs, in
/// `logs`.
fn start_logged(logs: &Path, grace: &str) -> Daemon {
    Daemon::start(
        Setup::new()
            .set("/common/upload_mode", 1)
            .arg(&format!("--grace={grace}"))
            .arg(&format!("--xferlog={}", logs.join("xferlog").display()))
            .arg(&format!("--json-log={}", logs.join("json").display())),
    )
}

/// After the daemon has exited: the cut upload of `name` was logged exactly once in each
/// log (failed, xferlog status `i`), and no temporary upload file stayed in the home.
fn assert_cut_transfer_logged_and_cleaned(d: &Daemon, logs: &Path, name: &str) {
    let path = format!("path=/{name}");
    let human: Vec<String> = d
        .log()
        .lines()
        .filter(|l| l.contains("transfer STOR") && l.contains(&path))
        .map(str::to_string)
        .collect();
    assert_eq!(human.len(), 1, "one human line; log:\n{}", d.log());
    assert!(human[0].contains("result=failed"), "{}", human[0]);
    let xfer = std::fs::read_to_string(logs.join("xferlog")).unwrap_or_default();
    let xfer: Vec<&str> = xfer.lines().collect();
    assert_eq!(xfer.len(), 1, "one xferlog line: {xfer:?}");
    let fields: Vec<&str> = xfer[0].split_whitespace().collect();
    assert_eq!(fields.last(), Some(&"i"), "incomplete: {}", xfer[0]);
    assert!(fields.contains(&format!("/{name}").as_str()), "{}", xfer[0]);
    let json = std::fs::read_to_string(logs.join("json")).unwrap_or_default();
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "transfer")
        .collect();
    assert_eq!(events.len(), 1, "one JSON transfer event: {json}");
    assert_eq!(events[0]["result"], "failed", "{}", events[0]);
    assert_eq!(events[0]["path"], format!("/{name}"), "{}", events[0]);
    let left = common::upload_temps(&d.home("u"));
    assert!(left.is_empty(), "temporary upload files left: {left:?}");
    assert!(!d.home("u").join(name).exists(), "the cut upload appeared");
}

#[test]
fn the_grace_period_cuts_a_stalled_transfer() {
    let logs = tempfile::tempdir().unwrap();
    let mut d = start_logged(logs.path(), "1");
    let mut c = d.login();
    let bytes = random_bytes(1 << 20, 8);
    let _data = upload_half(&mut c, "cut.bin", &bytes);
    d.signal("TERM");
    let st = d.wait_exit(SOON);
    assert!(st.success(), "exit status {st}; log:\n{}", d.log());
    d.wait_log_line(&["grace period over", "1 session(s) cut"]);
    assert_cut_transfer_logged_and_cleaned(&d, logs.path(), "cut.bin");
    // The client was told before the close.
    let r = c.reply();
    assert_eq!(r.code, 426, "{r:?}");
}

#[test]
fn a_second_signal_stops_at_once() {
    let logs = tempfile::tempdir().unwrap();
    let mut d = start_logged(logs.path(), "3600");
    let mut c = d.login();
    let bytes = random_bytes(1 << 20, 9);
    let _data = upload_half(&mut c, "again.bin", &bytes);
    d.signal("TERM");
    d.wait_log_line(&["stopping: no new connections"]);
    d.signal("INT");
    let st = d.wait_exit(SOON);
    assert!(st.success(), "exit status {st}; log:\n{}", d.log());
    d.wait_log_line(&["again: stopping now", "1 session(s) cut"]);
    assert_cut_transfer_logged_and_cleaned(&d, logs.path(), "again.bin");
}

#[test]
fn sigint_without_sessions_exits_zero() {
    let mut d = Daemon::start(Setup::new());
    d.signal("INT");
    assert!(d.wait_exit(SOON).success(), "log:\n{}", d.log());
    d.wait_log_line(&["stopped: every session has ended"]);
}

#[test]
fn pidfile_is_written_locked_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("ferroftpd.pid");
    let p = pidfile.to_str().unwrap();
    let mut d = Daemon::start(Setup::new().arg("--pidfile").arg(p));
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", d.pid())
    );
    // A second daemon with the same pidfile names the first and exits 1.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let cfg = daemon::write_minimal(&other);
    let out = run_to_exit(&["--config", cfg.to_str().unwrap(), "--pidfile", p], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("already running (pid {})", d.pid())),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", d.pid()),
        "the second start must leave the pidfile alone"
    );
    d.signal("TERM");
    assert!(d.wait_exit(SOON).success());
    assert!(!pidfile.exists(), "pidfile left behind");
}

#[test]
fn sighup_reloads_and_logs_what_changed() {
    let d = Daemon::start(Setup::new());
    let users_path = d.dir.path().join("users.json");
    let mut users: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&users_path).unwrap()).unwrap();
    let mut v = common::user_json("v");
    v["home_dir"] = serde_json::json!(d.dir.path().join("homes").join("v"));
    users["users"].as_array_mut().unwrap().push(v);
    std::fs::write(&users_path, users.to_string()).unwrap();
    d.signal("HUP");
    d.wait_log_line(&["reload: 2 user(s) loaded (added: v)"]);
    // The new user can log in at once; the daemon keeps serving.
    let mut c = d.ctrl();
    c.login("v", common::PASS);
    // A broken users file keeps the old users.
    std::fs::write(&users_path, "{not json").unwrap();
    d.signal("HUP");
    d.wait_log_line(&["reload: keeping the old users"]);
    let mut c = d.ctrl();
    c.login("v", common::PASS);
}

#[test]
fn exit_codes_are_the_documented_ones() {
    // 2: usage.
    let out = run_to_exit(&["--no-such-flag"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    // 1: configuration error, one line naming the file and the key.
    let dir = tempfile::tempdir().unwrap();
    let cfg = daemon::write_minimal(dir.path());
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    config["common"]["proxy_protocol"] = serde_json::json!(3);
    std::fs::write(&cfg, config.to_string()).unwrap();
    let out = run_to_exit(&["-n", "-c", cfg.to_str().unwrap()], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("common.proxy_protocol: 3 is out of range 0 to 2"),
        "{err}"
    );
    // 0: a valid configuration.
    config["common"]["proxy_protocol"] = serde_json::json!(0);
    std::fs::write(&cfg, config.to_string()).unwrap();
    let out = run_to_exit(&["-n", "-c", cfg.to_str().unwrap()], true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
