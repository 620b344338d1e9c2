//! Bounds a client cannot push past: idle and pre-login timeouts (421), connection caps
//! (max_total_connections, max_per_host_connections), over-long lines (500, no command
//! split), failed-login limit (421 + close), and the 20 s data connection timeout (425).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod daemon;

use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// Connect until the greeting is a 220 (a slot freed by a just-closed session may take a
/// moment to be released); panics if it never is.
fn connect_until_220(s: &Server) -> Ctrl {
    wait_until(SOON, || {
        let mut c = Ctrl::connect_no_greeting(s.addr);
        match c.try_reply() {
            Some(r) if r.code == 220 => {
                c.greeting = r;
                Some(c)
            }
            _ => None,
        }
    })
    .unwrap_or_else(|| panic!("no 220 within {SOON:?}"))
}

/// After a failed PASS that hits the limit: 421 (possibly after the 530 for that PASS),
/// then the connection closes.
fn expect_421_and_close(c: &mut Ctrl) {
    let r = c.reply();
    let r = if r.code == 530 { c.reply() } else { r };
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}

/// The next connection must get 421 and be closed.
fn assert_refused_421(s: &Server) {
    let mut c = Ctrl::connect_no_greeting(s.addr);
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}

#[test]
fn idle_session_gets_421_timeout_and_is_closed() {
    let s = Server::start(ServerOpts::new().common("idle_timeout", 0.05));
    let mut c = s.ftp_login();
    // Idle timeout is 3 s; the reply read timeout (30 s) is the deadline.
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    assert!(r.text().to_lowercase().contains("timeout"), "{r:?}");
    c.expect_closed();
}

#[test]
fn activity_keeps_an_idle_session_alive() {
    let s = Server::start(ServerOpts::new().common("idle_timeout", 0.05));
    let mut c = s.ftp_login();
    // 6 NOOPs 1 s apart span twice the idle timeout.
    for _ in 0..6 {
        std::thread::sleep(Duration::from_secs(1));
        c.cmd("NOOP", 200);
    }
}

#[test]
fn pre_login_session_times_out() {
    let s = Server::start(ServerOpts::new().common("idle_timeout", 0.05));
    let mut c = s.ftp_raw();
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}

#[test]
fn pre_login_session_times_out_with_the_idle_timeout_off() {
    // idle_timeout 0 turns off the idle limit of logged-in sessions only: a connection
    // that never logs in is closed after the 2-minute login limit (which takes that long).
    let s = Server::start(ServerOpts::new().common("idle_timeout", 0));
    let mut c = s.ftp_raw();
    c.stream
        .set_read_timeout(Some(Duration::from_secs(150)))
        .unwrap();
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}

#[test]
fn pre_login_session_after_user_times_out() {
    let s = Server::start(ServerOpts::new().common("idle_timeout", 0.05));
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}

#[test]
fn max_total_connections_refuses_with_421_others_work() {
    let s = Server::start(ServerOpts::new().common("max_total_connections", 2));
    let mut a = connect_until_220(&s);
    let mut b = connect_until_220(&s);
    assert_refused_421(&s);
    a.login(USER, PASS);
    b.cmd("NOOP", 200);
    a.cmd("QUIT", 221);
    drop(a);
    let mut c = connect_until_220(&s);
    c.login(USER, PASS);
    b.cmd("NOOP", 200);
}

#[test]
fn max_per_host_connections_refuses_with_421_others_work() {
    let s = Server::start(ServerOpts::new().common("max_per_host_connections", 2));
    let mut a = connect_until_220(&s);
    let mut b = connect_until_220(&s);
    assert_refused_421(&s);
    a.login(USER, PASS);
    b.login(USER, PASS);
    a.cmd("PWD", 257);
    drop(b);
    let mut c = connect_until_220(&s);
    c.cmd("NOOP", 200);
    a.cmd("NOOP", 200);
}

#[test]
fn line_longer_than_4096_is_500_and_session_continues() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_login();
    c.cmd(&format!("NOOP {}", "a".repeat(5000)), 500);
    c.cmd("NOOP", 200);
    c.cmd(&format!("CWD /{}", "b".repeat(70_000)), 500);
    c.cmd("PWD", 257);
}

#[test]
fn line_longer_than_4096_before_login() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_raw();
    c.cmd(&format!("USER {}", "u".repeat(5000)), 500);
    c.login(USER, PASS);
}

#[test]
fn over_long_line_is_refused_whole_not_split() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    // If the reader cut this at 4096 bytes, the tail would run as "DELE a.txt".
    let mut line = vec![b'X'; 4096];
    line.extend_from_slice(b"DELE a.txt\r\n");
    c.send_bytes(&line);
    c.expect(500);
    // The next reply must be NOOP's: no second reply from the tail.
    c.cmd("NOOP", 200);
    assert!(
        s.home().join("a.txt").exists(),
        "the tail of a long line ran"
    );
}

#[test]
fn long_line_under_the_limit_is_served() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_login();
    let arg = "n".repeat(4000);
    let r = c.ask(&format!("CWD {arg}"));
    assert_eq!(r.code, 550, "{r:?}");
}

#[test]
fn third_bad_password_gets_421_and_close() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    c.cmd("PASS bad1", 530);
    c.cmd("USER u", 331);
    c.cmd("PASS bad2", 530);
    c.cmd("USER u", 331);
    c.send("PASS bad3");
    expect_421_and_close(&mut c);
}

#[test]
fn bad_passwords_for_unknown_users_count_too() {
    let s = Server::start(ServerOpts::new());
    let mut c = s.ftp_raw();
    for i in 0..2 {
        c.cmd(&format!("USER ghost{i}"), 331);
        c.cmd("PASS nope", 530);
    }
    c.cmd("USER ghost2", 331);
    c.send("PASS nope");
    expect_421_and_close(&mut c);
}

#[test]
fn other_sessions_survive_a_421_close() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut good = s.ftp_login();
    let mut bad = s.ftp_raw();
    for _ in 0..2 {
        bad.cmd("USER u", 331);
        bad.cmd("PASS nope", 530);
    }
    bad.cmd("USER u", 331);
    bad.send("PASS nope");
    expect_421_and_close(&mut bad);
    assert_eq!(good.get("RETR a.txt"), b"hello");
}

#[test]
fn passive_data_connection_not_made_gives_425() {
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    c.pasv();
    // The contract's data timeout is 20 s; IO_TIMEOUT (30 s) bounds each reply.
    let r = c.ask_final("RETR a.txt");
    assert_eq!(r.code, 425, "{r:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn abor_ends_the_wait_for_a_passive_data_connection() {
    // While it waits for the client to connect, the session polls the listener a tick at
    // a time and looks at the control connection in between: ABOR ends the wait with 426
    // and 226, long before the 20 s bound, and the session goes on.
    let s = Server::start(ServerOpts::new().file("a.txt", "hello"));
    let mut c = s.ftp_login();
    c.pasv();
    c.send("RETR a.txt");
    c.expect_prelim();
    let asked = std::time::Instant::now();
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "ABOR answered after {:?}",
        asked.elapsed()
    );
    assert_eq!(c.get("RETR a.txt"), b"hello");
}

#[test]
fn passive_port_range_is_used() {
    let lo = free_port("127.0.0.1".parse().unwrap());
    let hi = lo.saturating_add(20);
    let s = Server::start(ServerOpts::new().ftpd(
        "passive_port_range",
        serde_json::json!({"start": lo, "end": hi}),
    ));
    let mut c = s.ftp_login();
    for _ in 0..3 {
        let a = c.pasv();
        assert!((lo..=hi).contains(&a.port()), "{a} outside {lo}-{hi}");
        let t = c.cmd("EPSV", 229);
        let p = parse_229(&t);
        assert!((lo..=hi).contains(&p), "{p} outside {lo}-{hi}");
    }
    let a = c.pasv();
    assert!((lo..=hi).contains(&a.port()), "{a} outside {lo}-{hi}");
    let d = TcpStream::connect(a).unwrap();
    assert_eq!(c.get_over(d, "NLST").unwrap(), b"");
}

#[test]
fn passive_ports_are_shared_across_sessions_and_freed_when_one_drops() {
    // Two ports for everyone: two sessions hold one each, a third is told to wait, and a
    // session that vanishes without QUIT gives its port back.
    // Two neighbouring ports free now (other tests take ports too: a busy one would be
    // skipped, which is right, but would leave this test one port short).
    let lo = wait_until(SOON, || {
        let lo = free_port("127.0.0.1".parse().unwrap());
        let next = std::net::TcpListener::bind(("127.0.0.1", lo.checked_add(1)?)).ok()?;
        drop(next);
        Some(lo)
    })
    .expect("two neighbouring free ports");
    let s = Server::start(ServerOpts::new().file("a.txt", "hello").ftpd(
        "passive_port_range",
        serde_json::json!({"start": lo, "end": lo + 1}),
    ));
    let mut a = s.ftp_login();
    let mut b = s.ftp_login();
    let mut c = s.ftp_login();
    let pa = a.pasv().port();
    let pb = b.pasv().port();
    assert_ne!(pa, pb, "two waiting sessions got the same port");
    for p in [pa, pb] {
        assert!((lo..=lo + 1).contains(&p), "{p} outside {lo}-{}", lo + 1);
    }
    let r = c.ask_final("PASV");
    assert_eq!(r.code, 425, "{r:?}");
    // A PASV again in the same session reuses its own port rather than leaking one.
    for _ in 0..3 {
        assert_eq!(a.pasv().port(), pa);
    }
    drop(a);
    let got = wait_until(SOON, || {
        let r = c.ask_final("PASV");
        (r.code == 227).then_some(r)
    });
    assert!(got.is_some(), "the dropped session's port never came back");
    assert_eq!(b.get("RETR a.txt"), b"hello");
}

#[test]
fn passive_host_is_resolved_at_each_pasv() {
    let s = Server::start(ServerOpts::new().binding("passive_host", "localhost"));
    let mut c = s.ftp_login();
    let t = c.cmd("PASV", 227);
    assert!(t.contains("(127,0,0,1,"), "{t}");
    let s = Server::start(ServerOpts::new().binding("passive_host", "no-such-host.invalid"));
    let mut c = s.ftp_login();
    let r = c.ask_final("PASV");
    assert_eq!(r.code, 425, "{r:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn a_passive_host_that_never_resolves_costs_its_pasv_5_s_not_the_session() {
    // The daemon runs in a mount namespace of its own where /etc/resolv.conf names a
    // loopback "DNS server" that takes every query and never answers (a UDP socket this
    // test holds and never reads), with a 30 s resolver timeout. PASV must give up after
    // its own 5 s bound with 425, the session must go on, and another client must be
    // served meanwhile. Needs root (port 53, mount namespaces), as CI has.
    if !daemon::require_root() {
        return;
    }
    let silent = std::net::UdpSocket::bind("127.0.0.77:53").expect("bind 127.0.0.77:53");
    let tmp = tempfile::tempdir().unwrap();
    let resolv = tmp.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.77\noptions timeout:30 attempts:1\n",
    )
    .unwrap();
    let unshare = tool("unshare", "apt-get install -y util-linux");
    let setup = daemon::Setup::new().set("/ftpd/bindings/0/passive_host", "slow.example.net");
    let setup = daemon::Setup {
        wrapper: vec![
            unshare.get_program().to_string_lossy().into_owned(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"".into(),
            resolv.to_string_lossy().into_owned(),
        ],
        ..setup
    };
    let d = daemon::Daemon::start(setup);
    let mut a = d.login();
    let asked = std::time::Instant::now();
    a.send("PASV");
    // Another session is served while the first waits for the resolver.
    std::thread::sleep(Duration::from_secs(1));
    let mut b = d.login();
    let quick = std::time::Instant::now();
    b.cmd("NOOP", 200);
    assert!(
        quick.elapsed() < Duration::from_secs(2),
        "{:?}",
        quick.elapsed()
    );
    let r = a.reply();
    let waited = asked.elapsed();
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text().contains("did not resolve within 5 s"), "{r:?}");
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(15),
        "PASV answered after {waited:?}"
    );
    a.cmd("NOOP", 200);
    // The query did reach the silent server: the resolver was asked, not bypassed.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    assert!(silent.recv_from(&mut buf).is_ok(), "no DNS query arrived");
}

#[test]
fn a_running_transfer_counts_as_activity() {
    // 40 KB at 8 KB/s takes about 5 s; the idle timeout is 3 s.
    let body = vec![b'x'; 40_000];
    let s = Server::start(
        ServerOpts::new()
            .common("idle_timeout", 0.05)
            .file("slow.bin", &body)
            .user_set(USER, "/download_bandwidth", 8),
    );
    let mut c = s.ftp_login();
    let started = std::time::Instant::now();
    assert_eq!(c.get("RETR slow.bin"), body);
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "the transfer was not slowed: {:?}",
        started.elapsed()
    );
    // Idle from now on: the timeout closes the session afterwards.
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    c.expect_closed();
}
