//! RFC 2428 (EPSV, EPRT, EPSV ALL) over 127.0.0.1 and ::1, with raw transcripts and real
//! clients (curl and ftplib over IPv6, suppaftp in extended passive mode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};

use common::*;
use suppaftp::types::Mode;

fn server() -> Server {
    Server::start(ServerOpts::new().file("a.txt", "hello"))
}

fn server6() -> Server {
    Server::start(ServerOpts::new().ipv6().file("a.txt", "hello"))
}

/// Run RETR with the server connecting to `l` (after a PORT/EPRT); returns the bytes.
fn retr_active(c: &mut Ctrl, l: &TcpListener, path: &str) -> Vec<u8> {
    c.send(&format!("RETR {path}"));
    c.expect_prelim();
    let mut d = accept_within(l, IO_TIMEOUT).expect("server never connected back");
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    c.expect(226);
    buf
}

#[test]
fn epsv_reply_format_and_transfer() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let t = c.cmd("EPSV", 229);
    assert!(
        t.starts_with("229 Entering Extended Passive Mode (|||") && t.ends_with("|)"),
        "{t}"
    );
    let port = parse_229(&t);
    let d = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(c.get_over(d, "RETR a.txt").unwrap(), b"hello");
}

#[test]
fn epsv_over_ipv6() {
    let s = server6();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let addr = c.epsv();
    let d = TcpStream::connect(addr).unwrap();
    assert_eq!(c.get_over(d, "RETR a.txt").unwrap(), b"hello");
    let list = c.list("LIST");
    assert!(list.contains("a.txt"), "{list}");
}

#[test]
fn pasv_on_ipv6_is_501_use_epsv() {
    let s = server6();
    let mut c = s.ftp_login();
    let t = c.cmd("PASV", 501);
    assert!(t.contains("EPSV"), "{t}");
}

#[test]
fn eprt_ipv4_transfer() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    c.cmd(&format!("EPRT {}", eprt_arg(l.local_addr().unwrap())), 200);
    assert_eq!(retr_active(&mut c, &l, "a.txt"), b"hello");
}

#[test]
fn eprt_ipv6_transfer() {
    let s = server6();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let l = TcpListener::bind("[::1]:0").unwrap();
    c.cmd(&format!("EPRT {}", eprt_arg(l.local_addr().unwrap())), 200);
    assert_eq!(retr_active(&mut c, &l, "a.txt"), b"hello");
}

#[test]
fn eprt_wrong_family_is_522() {
    let s = server();
    let mut c = s.ftp_login();
    let p = free_port("::1".parse().unwrap());
    c.cmd(&format!("EPRT |2|::1|{p}|"), 522);
    let s6 = server6();
    let mut c6 = s6.ftp_login();
    c6.cmd(&format!("EPRT |1|127.0.0.1|{p}|"), 522);
    c6.cmd("NOOP", 200);
}

#[test]
fn eprt_ipv6_to_another_address_is_501() {
    // The bounce check holds over IPv6 as over IPv4.
    let s = server6();
    let mut c = s.ftp_login();
    c.cmd("EPRT |2|::2|5000|", 501);
    c.cmd("EPRT |2|2001:db8::1|5000|", 501);
    c.cmd("NOOP", 200);
}

#[test]
fn eprt_bad_syntax_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("EPRT garbage", 501);
    c.cmd("EPRT |1|127.0.0.1|", 501);
    c.cmd("EPRT |1|not-an-ip|5000|", 501);
    c.cmd("EPRT |1|127.0.0.1|99999|", 501);
    c.cmd("EPRT", 501);
}

#[test]
fn eprt_low_port_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("EPRT |1|127.0.0.1|80|", 501);
}

#[test]
fn eprt_other_delimiter_accepted() {
    // RFC 2428 section 2: the delimiter is any char in the range 33-126, usually '|'.
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    c.cmd(&format!("EPRT !1!127.0.0.1!{p}!"), 200);
    assert_eq!(retr_active(&mut c, &l, "a.txt"), b"hello");
}

#[test]
fn epsv_all_refuses_pasv_port_eprt() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("EPSV ALL", 200);
    c.cmd("PASV", 503);
    c.cmd("PORT 127,0,0,1,200,10", 503);
    c.cmd("EPRT |1|127.0.0.1|51210|", 503);
    // EPSV itself keeps working.
    c.cmd("TYPE I", 200);
    let addr = c.epsv();
    let d = TcpStream::connect(addr).unwrap();
    assert_eq!(c.get_over(d, "RETR a.txt").unwrap(), b"hello");
}

#[test]
fn epsv_all_is_case_insensitive() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("epsv all", 200);
    c.cmd("PASV", 503);
}

#[test]
fn curl_over_ipv6_uses_epsv() {
    let s = server6();
    let out = s.curl(&["-v", &s.url("a.txt")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EPSV"), "{err}");
}

#[test]
fn curl_lists_over_ipv6() {
    let s = server6();
    let out = String::from_utf8(s.curl_ok(&[&s.url("")])).unwrap();
    assert!(out.contains("a.txt"), "{out}");
}

#[test]
fn ftplib_passive_over_ipv6() {
    let s = server6();
    let out = s.python_ok(
        "ftp = login()\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR a.txt', buf.write)\n\
         ftp.storbinary('STOR up6.txt', io.BytesIO(b'six'))\n\
         print(buf.getvalue().decode())\n\
         ftp.quit()",
    );
    assert_eq!(out.trim(), "hello");
    assert_eq!(fs::read(s.home().join("up6.txt")).unwrap(), b"six");
}

#[test]
fn ftplib_active_eprt_over_ipv6() {
    let s = server6();
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.set_pasv(False)\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR a.txt', buf.write)\n\
         print(buf.getvalue().decode())\n\
         ftp.quit()",
    );
    assert_eq!(out.trim(), "hello");
}

#[test]
fn suppaftp_extended_passive() {
    let s = server();
    let mut ftp = s.suppaftp();
    ftp.set_mode(Mode::ExtendedPassive);
    assert_eq!(ftp.retr_as_buffer("a.txt").unwrap().into_inner(), b"hello");
    ftp.put_file("e.txt", &mut &b"epsv"[..]).unwrap();
    assert_eq!(fs::read(s.home().join("e.txt")).unwrap(), b"epsv");
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_active_eprt_over_ipv6() {
    let s = server6();
    let mut ftp = s.suppaftp().active_mode(IO_TIMEOUT);
    assert_eq!(ftp.retr_as_buffer("a.txt").unwrap().into_inner(), b"hello");
    ftp.put_file("v6.txt", &mut &b"active six"[..]).unwrap();
    assert_eq!(fs::read(s.home().join("v6.txt")).unwrap(), b"active six");
    ftp.quit().unwrap();
}

#[test]
fn epsv_with_the_control_protocol_number() {
    // RFC 2428 section 3: "EPSV<space><net-prt>" asks for that network protocol.
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("EPSV 1", 229);
    let s6 = server6();
    let mut c6 = s6.ftp_login();
    c6.cmd("EPSV 2", 229);
}

#[test]
fn epsv_with_another_protocol_number_is_522() {
    // RFC 2428 section 3: an unsupported network protocol gets 522.
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("EPSV 2", 522);
    c.cmd("NOOP", 200);
}
