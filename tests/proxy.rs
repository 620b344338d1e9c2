//! The PROXY protocol (ferroftpd.json(5) proxy_protocol, proxy_allowed, proxy_skipped,
//! apply_proxy_config; src/proxy_proto.rs) on control and passive data connections: raw
//! version 1 and 2 headers, refused and skipped sources, the required mode, malformed and
//! slow headers, and a real HAProxy (`send-proxy` and `send-proxy-v2`) in front of the
//! control port and the passive range. The client address a header gives drives IP
//! filters, logs and the data-connection address check.
//!
//! Loopback addresses stand for hosts: 127.0.0.2 is the proxy (in `proxy_allowed`; HAProxy
//! listens and connects from there), 127.0.0.3 a client behind HAProxy, 127.0.0.4 a host
//! that is neither, and 127.0.0.1 the test harness, whose readiness probe is a plain
//! connection: it is in `proxy_skipped`, as a monitoring host would be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{parse_227, Ctrl, KillOnDrop, Server, ServerOpts, IO_TIMEOUT, PASS, USER};
use serde_json::json;
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const CLIENT: &str = "192.0.2.7";
/// The proxy's address (in proxy_allowed).
const PROXY: &str = "127.0.0.2";
/// A host neither allowed nor skipped.
const OUTSIDER: &str = "127.0.0.4";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A TCP connection from `src` (a loopback address other than 127.0.0.1 stands for another
/// host) to `dst`.
fn connect_from(src: IpAddr, dst: SocketAddr) -> TcpStream {
    let s = Socket::new(Domain::for_address(dst), Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::new(src, 0).into()).unwrap();
    s.connect_timeout(&dst.into(), IO_TIMEOUT).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let fam = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {fam} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

fn v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x21); // version 2, PROXY
    let mut body = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            h.push(0x11);
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            h.push(0x21);
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed families"),
    }
    body.extend_from_slice(&src.port().to_be_bytes());
    body.extend_from_slice(&dst.port().to_be_bytes());
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

/// A control connection that sends `header` first, greeting read.
fn ctrl_with(server: &Server, header: &[u8]) -> Ctrl {
    let mut s = connect_from(ip(PROXY), server.addr);
    s.write_all(header).unwrap();
    let mut c = Ctrl::from_stream(s);
    c.expect(220);
    c
}

/// Bytes read until the server closes (nothing at all expected from a refused header).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

fn proxied(mode: u8, allowed: &[&str]) -> ServerOpts {
    let mut client = common::user_json(USER);
    client["filters"]["allowed_ip"] = json!(["192.0.2.0/24", "2001:db8::/32", "127.0.0.3/32"]);
    let mut local = common::user_json("local");
    local["filters"]["allowed_ip"] = json!(["127.0.0.0/8"]);
    let mut o = ServerOpts::new()
        .common("proxy_protocol", mode)
        .common("proxy_allowed", json!(allowed))
        .common("proxy_skipped", json!(["127.0.0.1/32"]))
        .user(local)
        .file("f.txt", b"proxied file\n");
    o.users[0] = client;
    o
}

/// PASV, then a data connection from the proxy carrying `header` (nothing if empty).
fn data_with(c: &mut Ctrl, header: &[u8]) -> TcpStream {
    let addr = c.pasv();
    let mut s = connect_from(ip(PROXY), addr);
    if !header.is_empty() {
        s.write_all(header).unwrap();
    }
    s
}

#[test]
fn raw_v1_and_v2_headers_name_the_client() {
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let data_front: SocketAddr = "198.51.100.1:50000".parse().unwrap();
    type Header = fn(SocketAddr, SocketAddr) -> Vec<u8>;
    let versions: [(&str, Header); 2] = [("v1", v1), ("v2", v2)];
    for (n, (name, make)) in versions.into_iter().enumerate() {
        let client = SocketAddr::new(ip(CLIENT), 40000 + n as u16);
        let mut c = ctrl_with(&server, &make(client, front));
        c.login(USER, PASS);
        server.wait_log_line(&["login user=u", &format!("remote={client}")]);
        // The data connection's header names the same client: the address check passes.
        let data_client = SocketAddr::new(ip(CLIENT), 41000 + n as u16);
        let d = data_with(&mut c, &make(data_client, data_front));
        let got = c
            .get_over(d, "RETR f.txt")
            .unwrap_or_else(|r| panic!("{name}: {r:?}"));
        assert_eq!(got, b"proxied file\n", "{name}");
        let d = data_with(&mut c, &make(data_client, data_front));
        c.put_over(d, "STOR up.txt", name.as_bytes()).unwrap();
        assert_eq!(
            std::fs::read(server.home().join("up.txt")).unwrap(),
            name.as_bytes()
        );
        server.wait_log_line(&["transfer RETR", &format!("remote={client}"), "result=ok"]);
    }
    // IPv6 clients through an IPv4 proxy connection (v2 carries either family).
    let v6: SocketAddr = "[2001:db8::7]:40100".parse().unwrap();
    let mut c = ctrl_with(&server, &v2(v6, "[2001:db8::1]:21".parse().unwrap()));
    c.login(USER, PASS);
    server.wait_log_line(&["login user=u", "remote=[2001:db8::7]:40100"]);
    // The user's IP filter sees the client, not the proxy: "local" allows 127.0.0.0/8 only.
    let client = SocketAddr::new(ip(CLIENT), 40200);
    let mut c = ctrl_with(&server, &v1(client, front));
    c.cmd("USER local", 331);
    let t = c.cmd("PASS secret", 530);
    assert!(t.contains("address"), "{t}");
    server.wait_log_line(&["login failed user=local", "remote=192.0.2.7:40200"]);
}

#[test]
fn passive_data_connections_need_their_header_too() {
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let client = SocketAddr::new(ip(CLIENT), 40300);
    let mut c = ctrl_with(&server, &v2(client, front));
    c.login(USER, PASS);
    // No header (the upload's bytes come first): refused, 425, the session goes on.
    let d = data_with(&mut c, b"");
    c.send("STOR nohdr.txt");
    c.expect_prelim();
    let mut d2 = d;
    let _ = d2.write_all(b"some upload bytes");
    let t = c.expect(425);
    assert!(t.contains("PROXY"), "{t}");
    let _ = read_to_close(&mut d2);
    server.wait_log_line(&["data connection from 127.0.0.2 refused", "no PROXY header"]);
    // A header naming another client: the passive address check refuses it.
    let other = SocketAddr::new(ip("192.0.2.99"), 40301);
    let d = data_with(&mut c, &v1(other, front));
    c.send("RETR f.txt");
    c.expect_prelim();
    c.expect(425);
    drop(d);
    server.wait_log_line(&["data connection from 192.0.2.99 refused"]);
    assert!(
        !server.home().join("nohdr.txt").exists() || {
            std::fs::read(server.home().join("nohdr.txt"))
                .unwrap()
                .is_empty()
        }
    );
    c.cmd("NOOP", 200);
}

#[test]
fn abor_ends_the_wait_for_a_data_connections_header() {
    // A passive data connection from the proxy that has sent no header yet: the session
    // waits for it (up to 10 s) while looking at the control connection, so ABOR ends the
    // wait at once with 426 and 226, and the session goes on.
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let client = SocketAddr::new(ip(CLIENT), 40400);
    let mut c = ctrl_with(&server, &v2(client, front));
    c.login(USER, PASS);
    let d = data_with(&mut c, b"");
    c.send("RETR f.txt");
    c.expect_prelim();
    // The connection is already made: the server accepts it and waits for its header.
    std::thread::sleep(Duration::from_millis(300));
    let asked = std::time::Instant::now();
    c.send("ABOR");
    c.expect(426);
    c.expect(226);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "ABOR answered after {:?}",
        asked.elapsed()
    );
    drop(d);
    c.cmd("NOOP", 200);
}

#[test]
fn malformed_or_slow_headers_close_only_that_connection() {
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let mut good = ctrl_with(&server, &v1(SocketAddr::new(ip(CLIENT), 40400), front));
    good.login(USER, PASS);

    for bad in [
        &b"PROXY TCP4 not-an-address 198.51.100.1 1 21\r\n"[..],
        b"PROXY TCP4 192.0.2.7 198.51.100.1 99999 21\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04abcd", // v2 with a truncated address block
        b"USER u\r\n",                               // no header where one is required
    ] {
        let mut s = connect_from(ip(PROXY), server.addr);
        s.write_all(bad).unwrap();
        assert!(
            read_to_close(&mut s).is_empty(),
            "{:?}: no greeting, no reply",
            String::from_utf8_lossy(bad)
        );
    }
    server.wait_log_line(&["closed: malformed PROXY header"]);
    server.wait_log_line(&["closed: no PROXY header"]);

    // A header that never completes is given up after its time limit; meanwhile the server
    // serves others.
    let mut slow = connect_from(ip(PROXY), server.addr);
    slow.write_all(b"PROXY TCP4 192.0.2.7").unwrap();
    let mut other = ctrl_with(&server, &v2(SocketAddr::new(ip(CLIENT), 40401), front));
    other.login(USER, PASS);
    assert!(read_to_close(&mut slow).is_empty());
    server.wait_log_line(&["closed: PROXY header incomplete"]);
    good.cmd("NOOP", 200);
    other.cmd("NOOP", 200);
}

#[test]
fn sources_outside_proxy_allowed_are_refused_or_served_plain() {
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let header = v1(SocketAddr::new(ip(CLIENT), 40500), front);
    // Mode 2: only the proxy may connect; others get 421 without a greeting.
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let mut s = connect_from(ip(OUTSIDER), server.addr);
    let text = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(text.starts_with("421 "), "{text:?}");
    server.wait_log_line(&[
        "connection from 127.0.0.4:",
        "refused: not in common.proxy_allowed",
    ]);
    let mut s = connect_from(ip(OUTSIDER), server.addr);
    s.write_all(&header).unwrap();
    let text = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(text.starts_with("421 "), "a header does not help: {text:?}");
    drop(server);

    // Mode 1: others are served plain, and may not send a header.
    let server = Server::start(proxied(1, &["127.0.0.2/32"]));
    let mut c = Ctrl::from_stream(connect_from(ip(OUTSIDER), server.addr));
    c.expect(220);
    c.login("local", PASS);
    server.wait_log_line(&["login user=local", "remote=127.0.0.4:"]);
    let mut s = connect_from(ip(OUTSIDER), server.addr);
    s.write_all(&header).unwrap();
    let text = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(
        text.starts_with("220") && text.lines().count() == 1,
        "the greeting, then nothing: {text:?}"
    );
    server.wait_log_line(&[
        "PROXY header from 127.0.0.4:",
        "not in common.proxy_allowed",
    ]);
    assert!(!server.log().contains("remote=192.0.2.7"));
    drop(server);

    // proxy_skipped (127.0.0.1 here): no PROXY protocol at all, even in mode 2; a header
    // from there is not read as one, so it is an unknown command.
    let server = Server::start(proxied(2, &["127.0.0.2/32"]));
    let mut s = connect_from(ip("127.0.0.1"), server.addr);
    s.write_all(&header).unwrap();
    let mut c = Ctrl::from_stream(s);
    c.expect(220);
    c.expect(500);
    c.login("local", PASS);
    server.wait_log_line(&["login user=local", "remote=127.0.0.1:"]);
}

#[test]
fn optional_mode_takes_a_header_or_none() {
    let server = Server::start(proxied(1, &["127.0.0.2/32"]));
    let front: SocketAddr = "198.51.100.1:21".parse().unwrap();
    let mut c = ctrl_with(&server, &v2(SocketAddr::new(ip(CLIENT), 40600), front));
    c.login(USER, PASS);
    server.wait_log_line(&["login user=u", "remote=192.0.2.7:40600"]);
    // No header from the allowed source: a plain connection, greeted after a short wait.
    let mut c = Ctrl::from_stream(connect_from(ip(PROXY), server.addr));
    c.expect(220);
    c.login("local", PASS);
    server.wait_log_line(&["login user=local", "remote=127.0.0.2:"]);
    // Data connections likewise: with a header, or plain.
    let d = data_with(&mut c, b"");
    if let Err(r) = c.get_over(d, "LIST") {
        panic!("LIST over a plain data connection: {r:?}");
    }
}

#[test]
fn apply_proxy_config_false_leaves_a_binding_plain() {
    let server = Server::start(proxied(2, &["127.0.0.2/32"]).binding("apply_proxy_config", false));
    let mut c = Ctrl::from_stream(connect_from(ip(OUTSIDER), server.addr));
    c.expect(220);
    c.login("local", PASS);
    c.cmd("NOOP", 200);
}

// ---- Through HAProxy -------------------------------------------------------------------

/// `n` consecutive ports free on both 127.0.0.1 (ferroftpd's passive listeners) and
/// 127.0.0.2 (HAProxy's passive frontend).
fn free_range(n: u16) -> (u16, u16) {
    for attempt in 0..50u16 {
        // Spread the tries over 20000-59999, away from the ephemeral range's usual start.
        let seed = std::process::id() as u16 ^ attempt.wrapping_mul(7919);
        let start = 20000 + (seed % 40000);
        let all_free = (start..start + n).all(|p| {
            TcpListener::bind((Ipv4Addr::new(127, 0, 0, 1), p)).is_ok()
                && TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), p)).is_ok()
        });
        if all_free {
            return (start, start + n - 1);
        }
    }
    panic!("no free range of {n} ports on 127.0.0.1 and 127.0.0.2");
}

struct Haproxy {
    _child: KillOnDrop,
    ctrl_v2: SocketAddr,
    ctrl_v1: SocketAddr,
}

/// HAProxy on 127.0.0.2: two control frontends (send-proxy-v2 and send-proxy) and the
/// passive range (`pasv_send`: send-proxy or send-proxy-v2), all to ferroftpd on
/// 127.0.0.1, connecting from 127.0.0.2.
fn start_haproxy(server: &Server, range: (u16, u16), pasv_send: &str) -> Haproxy {
    let proxy_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let ctrl_v2 = SocketAddr::new(proxy_ip, common::free_port(proxy_ip));
    let ctrl_v1 = SocketAddr::new(proxy_ip, common::free_port(proxy_ip));
    let cfg = format!(
        "global\n    maxconn 200\n    nbthread 1\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\
         frontend ctrl_v2\n    bind {ctrl_v2}\n    default_backend ftp_v2\n\
         backend ftp_v2\n    server ftp 127.0.0.1:{port} send-proxy-v2 source 127.0.0.2\n\
         frontend ctrl_v1\n    bind {ctrl_v1}\n    default_backend ftp_v1\n\
         backend ftp_v1\n    server ftp 127.0.0.1:{port} send-proxy source 127.0.0.2\n\
         frontend pasv\n    bind 127.0.0.2:{}-{}\n    default_backend pasv\n\
         backend pasv\n    server ftp 127.0.0.1 {pasv_send} source 127.0.0.2\n",
        range.0,
        range.1,
        port = server.port(),
    );
    let path = server.dir.path().join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let check = common::tool(
        "haproxy",
        ".ci/run installs it (apt-get install -y haproxy)",
    )
    .arg("-c")
    .arg("-f")
    .arg(&path)
    .output()
    .unwrap();
    assert!(
        check.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let log = std::fs::File::create(server.dir.path().join("haproxy.log")).unwrap();
    let child = common::tool(
        "haproxy",
        ".ci/run installs it (apt-get install -y haproxy)",
    )
    .arg("-db")
    .arg("-f")
    .arg(&path)
    .stdin(std::process::Stdio::null())
    .stdout(log.try_clone().unwrap())
    .stderr(log)
    .spawn()
    .unwrap();
    let child = KillOnDrop(child);
    for front in [ctrl_v2, ctrl_v1] {
        let up = common::wait_until(common::STARTUP, || {
            TcpStream::connect_timeout(&front, Duration::from_millis(500)).ok()
        });
        assert!(
            up.is_some(),
            "haproxy is not listening on {front}; its log:\n{}",
            std::fs::read_to_string(server.dir.path().join("haproxy.log")).unwrap_or_default()
        );
    }
    Haproxy {
        _child: child,
        ctrl_v2,
        ctrl_v1,
    }
}

/// ferroftpd behind HAProxy on 127.0.0.2 (mode 2), passive ports `range`, with a user
/// `proxyhost` allowed from the proxy's address only.
fn behind_haproxy(range: (u16, u16)) -> Server {
    let mut proxy_host = common::user_json("proxyhost");
    proxy_host["filters"]["allowed_ip"] = json!(["127.0.0.2/32"]);
    let opts = proxied(2, &["127.0.0.2/32"])
        .user(proxy_host)
        .ftpd(
            "passive_port_range",
            json!({"start": range.0, "end": range.1}),
        )
        .binding("force_passive_ip", "127.0.0.2");
    Server::start(opts)
}

/// Through the HAProxy control frontend `front` from `client_ip`: the login, a PASV
/// download and an EPSV upload (both through the passive frontend) and the logs name the
/// client; a user allowed only from the proxy's address is refused.
fn session_through(server: &Server, name: &str, front: SocketAddr, client_ip: IpAddr) {
    {
        let mut c = Ctrl::from_stream(connect_from(client_ip, front));
        c.expect(220);
        c.login(USER, PASS);
        let mine = c.stream.local_addr().unwrap();
        server.wait_log_line(&["login user=u", &format!("remote={mine}")]);
        // PASV announces the proxy; the data connection goes through HAProxy's passive
        // frontend, which sends its own header naming 127.0.0.3.
        let t = c.cmd("PASV", 227);
        let addr = parse_227(&t);
        assert_eq!(addr.ip(), ip("127.0.0.2"), "{t}");
        let d = connect_from(client_ip, addr);
        let got = c
            .get_over(d, "RETR f.txt")
            .unwrap_or_else(|r| panic!("{name}: {r:?}"));
        assert_eq!(got, b"proxied file\n", "{name}");
        let t = c.cmd("EPSV", 229);
        let d = connect_from(
            client_ip,
            SocketAddr::new(ip("127.0.0.2"), common::parse_229(&t)),
        );
        let mut d = d;
        c.send("STOR via-haproxy.txt");
        c.expect_prelim();
        d.write_all(name.as_bytes()).unwrap();
        d.shutdown(Shutdown::Write).unwrap();
        let _ = read_to_close(&mut d);
        c.expect(226);
        assert_eq!(
            std::fs::read(server.home().join("via-haproxy.txt")).unwrap(),
            name.as_bytes()
        );
        server.wait_log_line(&["transfer STOR", &format!("remote={mine}"), "result=ok"]);
        // A user whose filter allows the proxy's address but not the client's is refused.
        let mut c = Ctrl::from_stream(connect_from(client_ip, front));
        c.expect(220);
        c.cmd("USER proxyhost", 331);
        c.cmd("PASS secret", 530);
    }
}

#[test]
fn through_haproxy_the_client_address_drives_filters_logs_and_data_checks() {
    let range = free_range(4);
    let server = behind_haproxy(range);
    let hap = start_haproxy(&server, range, "send-proxy");
    let client_ip = ip("127.0.0.3");
    for (name, front) in [("send-proxy-v2", hap.ctrl_v2), ("send-proxy", hap.ctrl_v1)] {
        session_through(&server, name, front, client_ip);
    }

    // A real client through HAProxy: curl, from 127.0.0.3, passive mode.
    let url = format!("ftp://{USER}:{PASS}@127.0.0.2:{}/f.txt", hap.ctrl_v2.port());
    let out = server.curl_ok(&["--interface", "127.0.0.3", &url]);
    assert_eq!(out, b"proxied file\n");
    server.wait_log_line(&["transfer RETR", "remote=127.0.0.3:", "result=ok"]);
    // Directly, not through the proxy, 127.0.0.3 is refused (mode 2).
    let mut s = connect_from(client_ip, server.addr);
    let text = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(text.starts_with("421 "), "{text:?}");
}

/// send-proxy-v2 on the passive ports as well as on the control port: the binary header
/// on data connections names the client too.
#[test]
fn through_haproxy_send_proxy_v2_on_control_and_passive_ports() {
    let range = free_range(4);
    let server = behind_haproxy(range);
    let hap = start_haproxy(&server, range, "send-proxy-v2");
    session_through(&server, "v2 everywhere", hap.ctrl_v2, ip("127.0.0.3"));
    let url = format!("ftp://{USER}:{PASS}@127.0.0.2:{}/f.txt", hap.ctrl_v2.port());
    let out = server.curl_ok(&["--interface", "127.0.0.3", &url]);
    assert_eq!(out, b"proxied file\n");
    server.wait_log_line(&["transfer RETR", "remote=127.0.0.3:", "result=ok"]);
}
