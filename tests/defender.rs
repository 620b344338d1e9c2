//! The defender (issue 5, notes/CONTRACT.md "Accounts and limits": `common.defender`,
//! `common.allowlist`): failed logins score against the source address; past the threshold
//! the failing session gets 530 then `421 Too many failed logins: closing`, and new
//! connections from that address get `421 Access denied: banned client IP` and are closed,
//! until `ban_time` has passed. Another address is not affected, allow-listed addresses are
//! never banned, bans survive SIGHUP, and each ban is logged (`ban remote=IP for Ns`).
//!
//! The servers use ban_time 0.05 minutes (3 s), threshold 3, score_invalid 2 (unknown user),
//! score_valid 1 (wrong password), no login delays. Clients come from 127.0.0.1 and
//! 127.0.0.2 (client sockets bound to it); waits are deadlines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod limits_support;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use limits_support::*;
use serde_json::json;

const BANNED: &str = "421 Access denied: banned client IP";
const CLOSING: &str = "421 Too many failed logins: closing";
/// How long a 3 s ban may take to lift, at most.
const UNBAN_LIMIT: Duration = Duration::from_secs(20);

fn defender_opts() -> ServerOpts {
    ServerOpts::new().common(
        "defender",
        json!({
            "enabled": true,
            "driver": "memory",
            "ban_time": 0.05,
            "ban_time_increment": 100,
            "threshold": 3,
            "score_invalid": 2,
            "score_valid": 1,
            "score_limit_exceeded": 2,
            "score_no_auth": 0,
            "observation_time": 5,
            "entries_soft_limit": 100,
            "entries_hard_limit": 150,
            "login_delay": {"success": 0, "password_failed": 0}
        }),
    )
}

/// One failed login on `c` that must not end the session.
fn fail_once(c: &mut Ctrl, user: &str) {
    let r = pass_reply(c, user, "wrong-password");
    assert_eq!(r.code, 530, "failed login of {user}: {:?}", r.lines);
    c.cmd("NOOP", 200);
}

/// Two unknown-user failures from `from` (2 + 2 points, past the threshold of 3): the
/// second gets 530, then 421 and the connection closes.
fn ban_from(s: &Server, from: IpAddr) {
    let mut c = ctrl_from(from, s.addr);
    fail_once(&mut c, "nobody");
    c.cmd("USER nobody", 331);
    c.send("PASS wrong-password");
    let r = c.reply();
    assert_eq!(r.code, 530, "the failing PASS itself: {:?}", r.lines);
    let r = c.reply();
    assert_eq!(
        r.first(),
        CLOSING,
        "after the failure that bans: {:?}",
        r.lines
    );
    c.expect_closed();
}

/// What a new connection from `from` gets first: Some(reply) (and for 421 the connection
/// must close right after), or panics on an immediate close without a reply.
fn first_reply_from(s: &Server, from: IpAddr) -> Reply {
    let mut c = raw_from(from, s.addr);
    let r = c
        .try_reply()
        .unwrap_or_else(|| panic!("connection from {from} closed without a reply"));
    if r.code == 421 {
        c.expect_closed();
    }
    r
}

fn assert_banned(s: &Server, from: IpAddr) {
    let r = first_reply_from(s, from);
    assert_eq!(
        r.first(),
        BANNED,
        "a new connection from banned {from}: {:?}",
        r.lines
    );
}

fn assert_welcome(s: &Server, from: IpAddr) -> Ctrl {
    let mut c = ctrl_from(from, s.addr);
    let r = pass_reply(&mut c, USER, PASS);
    assert_eq!(
        r.code,
        230,
        "login from {from}: {:?}; log:\n{}",
        r.lines,
        s.log()
    );
    c
}

#[test]
fn failed_logins_past_the_threshold_ban_the_address() {
    let s = Server::start(defender_opts());
    ban_from(&s, LOCAL_IP);
    assert_banned(&s, LOCAL_IP);
    assert_banned(&s, LOCAL_IP);
    s.wait_log_line(&["ban remote=127.0.0.1 for 3s"]);
}

#[test]
fn wrong_passwords_score_less_than_unknown_users() {
    let s = Server::start(defender_opts());
    // Two wrong passwords of a known user: 1 + 1 points, under the threshold.
    let mut c = s.ftp_raw();
    fail_once(&mut c, USER);
    fail_once(&mut c, USER);
    c.cmd("QUIT", 221);
    c.expect_closed();
    let r = first_reply_from(&s, LOCAL_IP);
    assert_eq!(r.code, 220, "2 points of 3: not banned yet: {:?}", r.lines);
    // An unknown user adds 2: past the threshold at once.
    let mut c = s.ftp_raw();
    c.cmd("USER nobody", 331);
    c.send("PASS wrong-password");
    assert_eq!(c.reply().code, 530);
    assert_eq!(c.reply().first(), CLOSING);
    c.expect_closed();
    assert_banned(&s, LOCAL_IP);
}

#[test]
fn a_banned_address_does_not_affect_another_one() {
    let s = Server::start(defender_opts().file("a.txt", "A"));
    ban_from(&s, LOCAL_IP);
    assert_banned(&s, LOCAL_IP);
    let mut c = assert_welcome(&s, OTHER_IP);
    let d = open_data_from(&mut c, OTHER_IP);
    assert_eq!(c.get_over(d, "RETR a.txt").unwrap(), b"A");
    // Failures from the other address start from zero there.
    fail_once(&mut c, USER);
    assert_eq!(pass_reply(&mut c, USER, PASS).code, 230);
    assert_banned(&s, LOCAL_IP);
}

#[test]
fn allowlisted_addresses_are_never_banned() {
    let s = Server::start(defender_opts().common("allowlist", json!(["127.0.0.1/32"])));
    for _ in 0..4 {
        let mut c = s.ftp_raw();
        fail_once(&mut c, "nobody");
        fail_once(&mut c, "nobody");
        c.cmd("QUIT", 221);
    }
    let r = first_reply_from(&s, LOCAL_IP);
    assert_eq!(r.code, 220, "allow-listed 127.0.0.1: {:?}", r.lines);
    assert_welcome(&s, LOCAL_IP);
    // The defender is on: the same failures ban 127.0.0.2.
    ban_from(&s, OTHER_IP);
    assert_banned(&s, OTHER_IP);
    assert_welcome(&s, LOCAL_IP);
}

#[test]
fn a_ban_lifts_after_ban_time_and_grows_the_next_time() {
    let s = Server::start(defender_opts());
    ban_from(&s, LOCAL_IP);
    assert_banned(&s, LOCAL_IP);
    wait_until(UNBAN_LIMIT, || {
        (first_reply_from(&s, LOCAL_IP).code == 220).then_some(())
    })
    .unwrap_or_else(|| panic!("still banned after {UNBAN_LIMIT:?}; log:\n{}", s.log()));
    // A real client logs in again.
    let out = s.python_ok("ftp = login()\nprint(ftp.pwd())\nftp.quit()");
    assert_eq!(lines(&out), ["/"]);
    // ban_time_increment 100%: the second ban lasts 6 s.
    ban_from(&s, LOCAL_IP);
    assert_banned(&s, LOCAL_IP);
    s.wait_log_line(&["ban remote=127.0.0.1 for 6s"]);
}

#[test]
fn bans_survive_sighup() {
    let s = Server::start(defender_opts());
    ban_from(&s, LOCAL_IP);
    sighup(&s);
    assert_banned(&s, LOCAL_IP);
    assert_welcome(&s, OTHER_IP);
}

#[test]
fn failed_logins_with_the_defender_off_never_ban() {
    let s = Server::default_started();
    for _ in 0..4 {
        let mut c = s.ftp_raw();
        fail_once(&mut c, "nobody");
        fail_once(&mut c, "nobody");
        c.cmd("QUIT", 221);
    }
    let r = first_reply_from(&s, LOCAL_IP);
    assert_eq!(r.code, 220, "{:?}", r.lines);
    assert!(!s.log().contains("ban remote="), "{}", s.log());
}

/// The defender with `key` set to `value` (the other scores as in [`defender_opts`]).
fn defender_with(key: &str, value: u32) -> ServerOpts {
    let opts = defender_opts();
    opts.set(&format!("/common/defender/{key}"), value)
}

const BAD_CLOSING: &str = "421 Too many bad commands: closing";

#[test]
fn unknown_commands_and_overlong_lines_ban_at_the_threshold() {
    let s = Server::start(defender_with("score_bad_command", 1));
    // Three unknown verbs (1 point each, threshold 3): the third is answered 500, then 421.
    let mut c = ctrl_from(LOCAL_IP, s.addr);
    c.cmd("XYZZY", 500);
    c.cmd("PLUGH", 500);
    c.send("FROBOZZ");
    assert_eq!(c.reply().code, 500);
    assert_eq!(c.reply().first(), BAD_CLOSING);
    c.expect_closed();
    assert_banned(&s, LOCAL_IP);
    s.wait_log_line(&["ban remote=127.0.0.1 for 3s", "bad commands"]);
    // Overlong lines score the same, logged in or not.
    let mut c = assert_welcome(&s, OTHER_IP);
    let long = "X".repeat(5000);
    c.cmd(&long, 500);
    c.cmd(&long, 500);
    c.cmd("NOOP", 200);
    c.send("BOGUS");
    assert_eq!(c.reply().code, 500);
    assert_eq!(c.reply().first(), BAD_CLOSING);
    c.expect_closed();
    assert_banned(&s, OTHER_IP);
}

#[test]
fn clnt_and_host_are_known_verbs_and_never_score() {
    // Some clients name themselves (CLNT) or their host (HOST, RFC 7151) before USER: known
    // verbs (200 and 502), not bad commands, however often (threshold 3, 1 point each).
    let s = Server::start(defender_with("score_bad_command", 1));
    let mut c = ctrl_from(LOCAL_IP, s.addr);
    for _ in 0..4 {
        assert_eq!(c.cmd("CLNT someclient 1.0", 200), "200 Good to know");
        c.cmd("HOST ftp.example.com", 502);
    }
    c.cmd("NOOP", 200);
    c.cmd("QUIT", 221);
    let r = first_reply_from(&s, LOCAL_IP);
    assert_eq!(r.code, 220, "{:?}", r.lines);
}

/// A server with the bad-command score at 1 (threshold 3) and a 64 MiB file, big.bin.
fn server_with_big_file() -> Server {
    let s = Server::start(defender_with("score_bad_command", 1));
    std::fs::File::create(s.home().join("big.bin"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    s
}

/// ftplib: RETR big.bin, and while the client reads nothing for 0.5 s (the server,
/// blocked, checks the control connection every 0.1 s), `lines` on the control
/// connection; then the data, drained, and the next `replies` control lines printed.
fn lines_during_retr(s: &Server, lines: &str, replies: usize) -> Vec<String> {
    let out = s.python_ok(&format!(
        "ftp = login()\n\
         ftp.voidcmd('TYPE I')\n\
         conn = ftp.transfercmd('RETR big.bin')\n\
         ftp.sock.sendall({lines})\n\
         time.sleep(0.5)\n\
         while conn.recv(1 << 16):\n\
         \x20   pass\n\
         conn.close()\n\
         ftp.sock.settimeout(5)\n\
         for _ in range({replies}):\n\
         \x20   print(ftp.getline())\n"
    ));
    out.lines().map(str::to_string).collect()
}

#[test]
fn overlong_lines_during_a_transfer_score_once_each() {
    // Two overlong lines during a RETR: 2 points of 3, each answered 500 after the 226
    // and not scored again then (4 points would ban). A third bad command bans.
    let s = server_with_big_file();
    let got = lines_during_retr(
        &s,
        "b'X' * 5000 + b'\\r\\n' + b'Y' * 5000 + b'\\r\\nNOOP\\r\\nBOGUS\\r\\n'",
        5,
    );
    assert!(got[0].starts_with("226 "), "{got:?}");
    assert_eq!(
        got[1..],
        [
            "500 Line too long",
            "500 Line too long",
            "200 NOOP ok",
            "500 Unknown command \"BOGUS\""
        ],
        "{got:?}"
    );
    // (BOGUS made 3: the session is closed, the address banned.)
    assert_banned(&s, LOCAL_IP);
    // With 16 lines queued first, the server reads no more during the transfer: the three
    // overlong lines wait in the socket, and are read, answered and scored after the 16
    // NOOPs. The third bans.
    let s = server_with_big_file();
    let got = lines_during_retr(&s, "b'NOOP\\r\\n' * 16 + (b'X' * 5000 + b'\\r\\n') * 3", 21);
    assert!(got[0].starts_with("226 "), "{got:?}");
    assert!(got[1..17].iter().all(|l| l == "200 NOOP ok"), "{got:?}");
    assert!(
        got[17..20].iter().all(|l| l == "500 Line too long"),
        "{got:?}"
    );
    assert_eq!(got[20], BAD_CLOSING, "{got:?}");
    assert_banned(&s, LOCAL_IP);
}

#[test]
fn score_bad_command_0_never_bans() {
    let s = Server::start(defender_with("score_bad_command", 0));
    let mut c = s.ftp_raw();
    for _ in 0..10 {
        c.cmd("XYZZY", 500);
    }
    c.cmd("QUIT", 221);
    let r = first_reply_from(&s, LOCAL_IP);
    assert_eq!(r.code, 220, "{:?}", r.lines);
}

#[test]
fn sessions_that_never_log_in_ban_with_score_no_auth() {
    let s = Server::start(defender_with("score_no_auth", 1));
    // Each session that ends without a login scores 1 as its thread ends (threshold 3; the
    // harness's readiness probe may already have scored one): sessions that only QUIT
    // get the address banned after at most three.
    let mut sessions = 0;
    wait_until(SOON, || {
        let r = first_reply_from(&s, LOCAL_IP);
        if r.first() == BANNED {
            return Some(());
        }
        assert_eq!(r.code, 220, "{:?}", r.lines);
        sessions += 1;
        None
    })
    .unwrap_or_else(|| {
        panic!(
            "not banned after {sessions} sessions without login; log:\n{}",
            s.log()
        )
    });
    assert!(sessions <= 3, "banned only after {sessions} sessions");
    s.wait_log_line(&["ban remote=127.0.0.1", "connections without a login"]);
    // A client that logs in is not scored this way.
    let mut c = assert_welcome(&s, OTHER_IP);
    c.cmd("QUIT", 221);
    let r = first_reply_from(&s, OTHER_IP);
    assert_eq!(r.code, 220, "{:?}", r.lines);
}
