//! Privileges (ferroftpd(8) --user, --group, --run-as-root; src/privs.rs): started as root,
//! the daemon refuses to serve as root unless told, and with --user it serves as that user
//! and group from the first client on, in every thread, with nothing kept but (on Linux, for
//! active transfers from port 20) CAP_NET_BIND_SERVICE. Uploads belong to the service user;
//! SFTPGo's per-user uid/gid are applied only when running as root, as SFTPGo does.
//!
//! These tests need root, as CI has; FERROFTPD_SKIP_ROOT_TESTS=1 skips them elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod daemon;

use common::{accept_within, port_arg, IO_TIMEOUT};
use daemon::{credentials, owner, require_root, run_to_exit, Daemon, Setup};
use serde_json::json;
use std::io::Read;
use std::net::TcpListener;

/// nobody / nogroup on Debian, FreeBSD and OpenBSD alike.
const NOBODY: u32 = 65534;

fn dropped(extra: &[&str]) -> Setup {
    let mut s = Setup::new();
    s.root_env = false;
    s.homes_owner = Some((NOBODY, NOBODY));
    s = s.arg("--user").arg("nobody").arg("--group").arg("65534");
    for a in extra {
        s = s.arg(a);
    }
    s
}

#[test]
fn root_is_refused_unless_asked_for() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = daemon::write_minimal(dir.path());
    let out = run_to_exit(&["--config", cfg.to_str().unwrap()], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("running as root") && err.contains("--user") && err.contains("--run-as-root"),
        "{err}"
    );
    // A check does not serve, so root is fine there.
    let out = run_to_exit(&["-n", "--config", cfg.to_str().unwrap()], false);
    assert_eq!(out.status.code(), Some(0));
    // --run-as-root is the explicit yes.
    let mut s = Setup::new().arg("--run-as-root");
    s.root_env = false;
    let d = Daemon::start(s);
    d.wait_log_line(&["serving as root, as asked"]);
}

#[test]
fn unknown_users_and_groups_stop_startup() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = daemon::write_minimal(dir.path());
    let cfg = cfg.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--user", "no-such-user-ferroftpd"],
            "--user no-such-user-ferroftpd: no such user",
        ),
        (
            vec!["--user", "nobody", "--group", "no-such-group-ferroftpd"],
            "no such group",
        ),
        (vec!["--user", "root"], "is root"),
        (vec!["--group", "nogroup"], "--group needs --user"),
    ] {
        let mut all = vec!["-c", cfg];
        all.extend(args.iter().copied());
        // -n checks them too, so rc scripts' configtest catches a typo.
        for check in [false, true] {
            let mut argv = all.clone();
            if check {
                argv.push("-n");
            }
            let out = run_to_exit(&argv, false);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{argv:?}: {err}");
            assert!(err.contains(needle), "{argv:?}: {err}");
        }
    }
}

#[test]
fn serves_as_the_configured_user_and_group_in_every_thread() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(dropped(&[]));
    d.wait_log_line(&["privileges dropped to user nobody (uid 65534, gid 65534)"]);
    // A session has its own thread by now: every thread must show the drop.
    let mut c = d.login();
    c.put("STOR up.txt", b"hello");
    c.cmd("MKD sub", 257);
    let creds = credentials(d.pid());
    assert!(
        creds.len() >= 2 * 5,
        "one process thread and a session: {creds:?}"
    );
    for l in &creds {
        match l.split_whitespace().next().unwrap() {
            "Uid:" | "Gid:" => assert_eq!(
                l.split_whitespace().skip(1).collect::<Vec<_>>(),
                ["65534"; 4],
                "{creds:?}"
            ),
            "Groups:" => assert_eq!(l, "Groups: 65534", "{creds:?}"),
            "CapEff:" | "CapPrm:" => {
                assert!(
                    l.ends_with("0000000000000000"),
                    "no capability kept: {creds:?}"
                )
            }
            _ => {}
        }
    }
    assert_eq!(owner(&d.home("u").join("up.txt")), (NOBODY, NOBODY));
    assert_eq!(owner(&d.home("u").join("sub")), (NOBODY, NOBODY));
}

#[test]
fn port_20_keeps_only_the_bind_capability() {
    if !require_root() {
        return;
    }
    let s = dropped(&[]).set("/ftpd/active_transfers_port_non_20", false);
    let d = Daemon::start(s);
    d.wait_log_line(&["keeping CAP_NET_BIND_SERVICE"]);
    std::fs::write(d.home("u").join("f.txt"), b"from port 20").unwrap();
    let mut c = d.login();
    for l in credentials(d.pid()) {
        if l.starts_with("CapEff:") || l.starts_with("CapPrm:") {
            // Bit 10 is CAP_NET_BIND_SERVICE, and it is the only one.
            assert!(l.ends_with("0000000000000400"), "{l}");
        }
        if l.starts_with("Uid:") {
            assert_eq!(l, "Uid: 65534 65534 65534 65534");
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    c.cmd(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    c.send("RETR f.txt");
    c.expect_prelim();
    let mut data = accept_within(&l, IO_TIMEOUT).expect("no active data connection");
    assert_eq!(data.peer_addr().unwrap().port(), 20, "not from port 20");
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from port 20");
    c.expect(226);
}

fn with_ids(name: &str, uid: u32, gid: u32) -> serde_json::Value {
    let mut u = common::user_json(name);
    u["uid"] = json!(uid);
    u["gid"] = json!(gid);
    u
}

#[test]
fn as_root_new_files_get_the_users_uid_and_gid() {
    if !require_root() {
        return;
    }
    let mut s = Setup::new().arg("--run-as-root");
    s.root_env = false;
    s.users = vec![with_ids("u", 4321, 8765), common::user_json("plain")];
    let mut half = common::user_json("half");
    half["uid"] = json!(4321);
    half["gid"] = json!(0); // 0 and below: left alone, as in SFTPGo
    s.users.push(half);
    let d = Daemon::start(s);
    let mut c = d.login();
    c.put("STOR a.txt", b"a");
    c.cmd("MKD dir", 257);
    c.put("STOR dir/b.txt", b"b");
    c.cmd("TYPE I", 200);
    let stou = c.put("STOU", b"c");
    let stou_name = stou.split("FILE: ").nth(1).unwrap().trim().to_string();
    for p in ["a.txt", "dir", "dir/b.txt", &stou_name] {
        assert_eq!(owner(&d.home("u").join(p)), (4321, 8765), "{p}");
    }
    let mut c = d.ctrl();
    c.login("plain", common::PASS);
    c.put("STOR p.txt", b"p");
    assert_eq!(owner(&d.home("plain").join("p.txt")), (0, 0));
    let mut c = d.ctrl();
    c.login("half", common::PASS);
    c.put("STOR h.txt", b"h");
    assert_eq!(owner(&d.home("half").join("h.txt")), (4321, 0));
}

#[test]
fn after_a_drop_per_user_ids_are_not_applied_and_the_log_says_so() {
    if !require_root() {
        return;
    }
    let mut s = dropped(&[]);
    s.users = vec![with_ids("u", 4321, 8765)];
    let d = Daemon::start(s);
    d.wait_log_line(&["users with uid/gid (u)", "--run-as-root"]);
    let mut c = d.login();
    c.put("STOR x.txt", b"x");
    assert_eq!(owner(&d.home("u").join("x.txt")), (NOBODY, NOBODY));
}

/// gid 1 on Debian, FreeBSD and OpenBSD alike (the group `daemon`).
const DAEMON_GID: u32 = 1;

#[test]
fn group_other_than_the_users_primary_one_is_the_one_in_force() {
    if !require_root() {
        return;
    }
    // uid 65534 with gid 1: a mix-up of the two ids (or the primary group kept instead of
    // --group) shows, which 65534/65534 could not.
    let mut s = Setup::new();
    s.root_env = false;
    s.homes_owner = Some((NOBODY, DAEMON_GID));
    let s = s.arg("--user").arg("nobody").arg("--group").arg("daemon");
    let d = Daemon::start(s);
    d.wait_log_line(&["privileges dropped to user nobody (uid 65534, gid 1)"]);
    let mut c = d.login();
    c.put("STOR g.txt", b"group");
    c.cmd("MKD gdir", 257);
    let creds = credentials(d.pid());
    for l in &creds {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f[0] {
            "Uid:" => assert_eq!(f[1..], ["65534"; 4], "{creds:?}"),
            "Gid:" => assert_eq!(f[1..], ["1"; 4], "{creds:?}"),
            "Groups:" => assert_eq!(l, "Groups: 1", "{creds:?}"),
            _ => {}
        }
    }
    assert_eq!(owner(&d.home("u").join("g.txt")), (NOBODY, DAEMON_GID));
    assert_eq!(owner(&d.home("u").join("gdir")), (NOBODY, DAEMON_GID));
}
