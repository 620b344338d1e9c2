//! FTPS (RFC 4217, issue 3 of notes/CONTRACT.md): tls_mode 0-3 with their allowed and
//! refused paths (AUTH, PBSZ, PROT, CCC, 521/530/534), implicit TLS, tls_session_reuse
//! against clients that resume (curl, lftp, rustls) and one that does not (Python's
//! ftplib.FTP_TLS), min_tls_version and tls_cipher_suites, client certificates (CommonName,
//! pinning, TLSCertificate+password, revoked/expired/unknown CA), filters.ftp_security,
//! SIGHUP reloads of certificates, keys and CRLs, STAT and FEAT, and `-n` startup errors.
//! Each behaviour is checked with a real client where one can express it, and over a raw
//! rustls connection where the exact reply code matters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod tls_support;

use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use rustls::HandshakeKind;
use serde_json::json;
use tls_support::*;

const HELLO: &[u8] = b"hello over tls\n";

fn data() -> Vec<u8> {
    random_bytes(300_000, 0xF7F5)
}

/// A server in `tls_mode` `mode` with a.txt and data.bin in the default home.
fn server(pki: &Pki, mode: u8) -> Server {
    Server::start(served(tls_opts(pki, mode)))
}

fn served(opts: ServerOpts) -> ServerOpts {
    opts.file("a.txt", HELLO).file("data.bin", data())
}

fn client(pki: &Pki) -> ClientTls {
    ClientTls::new(&pki.ca_pem)
}

/// A raw session: AUTH TLS, login as the default user, PBSZ 0 / PROT P.
fn tls_session(s: &Server, pki: &Pki) -> TlsCtrl {
    let mut t = TlsCtrl::connect(s.addr, &client(pki));
    t.auth();
    t.login(USER, PASS);
    t.prot_p();
    t
}

/// The FEAT reply's feature lines, trimmed.
fn features(feat: &str) -> Vec<String> {
    feat.lines()
        .filter(|l| l.starts_with(' '))
        .map(|l| l.trim().to_string())
        .collect()
}

/// FEAT must (or must not) list `AUTH TLS`, and `PBSZ` and `PROT`.
fn assert_feat(feat: &str, auth_tls: bool, pbsz_prot: bool) {
    let f = features(feat);
    assert_eq!(
        f.iter().any(|l| l == "AUTH TLS"),
        auth_tls,
        "AUTH TLS in FEAT should be {auth_tls}: {feat}"
    );
    assert!(
        !f.iter().any(|l| l.starts_with("AUTH") && l != "AUTH TLS"),
        "unexpected AUTH line in FEAT: {feat}"
    );
    for k in ["PBSZ", "PROT"] {
        assert_eq!(
            f.iter().any(|l| l == k),
            pbsz_prot,
            "{k} in FEAT should be {pbsz_prot}: {feat}"
        );
    }
}

fn local_file(s: &Server, name: &str, bytes: &[u8]) -> String {
    let p = s.local().join(name);
    fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

fn local_path(s: &Server, name: &str) -> String {
    s.local().join(name).to_str().unwrap().to_string()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The STAT line that describes TLS.
fn stat_tls_line(stat: &str) -> String {
    stat.lines()
        .map(|l| l.trim_start_matches("211-").trim())
        .find(|l| l.starts_with("TLS:"))
        .unwrap_or_else(|| panic!("no TLS: line in STAT: {stat}"))
        .to_string()
}

/// Lower-cased, with spaces and underscores removed ("UnknownIssuer" ~ "unknown issuer").
fn squash(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .collect()
}

/// The daemon's `TLS error on control connection from IP:PORT: ...` line for `local`,
/// which must name the reason `why` (compared squashed).
fn assert_tls_error_logged(s: &Server, local: SocketAddr, why: &str) {
    let line = s.wait_log_line(&[&format!("TLS error on control connection from {local}:")]);
    assert!(
        squash(&line).contains(&squash(why)),
        "the TLS error line should name {why:?}: {line}"
    );
}

/// curl's exit status must be `code` (e.g. 35 handshake failed, 60 certificate not
/// trusted, 64 TLS required but refused, 67 login denied).
fn assert_curl_exit(what: &str, out: &std::process::Output, code: i32, s: &Server) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: curl exit status\nstderr:\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

fn tls_error_lines(s: &Server) -> Vec<String> {
    s.log()
        .lines()
        .filter(|l| l.contains("TLS error on control connection from 127.0.0.1:"))
        .map(str::to_string)
        .collect()
}

/// Runs `run` (a client that the daemon must refuse in the TLS handshake), checks that
/// it failed and that a new `TLS error on control connection` line names `why`.
fn assert_refused_in_handshake(
    s: &Server,
    what: &str,
    why: &str,
    run: impl FnOnce() -> std::process::Output,
) {
    let before = tls_error_lines(s).len();
    let out = run();
    assert_failure(what, &out, s);
    wait_until(SOON, || {
        tls_error_lines(s)
            .iter()
            .skip(before)
            .any(|l| squash(l).contains(&squash(why)))
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{what}: no new TLS error line naming {why:?}; log:\n{}",
            s.log()
        )
    });
}

fn implicit_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

// ---------------------------------------------------------------------------------------
// No certificate
// ---------------------------------------------------------------------------------------

#[test]
fn without_certificate_tls_commands_are_502_and_feat_lists_none() {
    let s = Server::start(served(ServerOpts::new()));
    let mut c = s.ftp_raw();
    assert_feat(&c.cmd("FEAT", 211), false, false);
    for cmd in ["AUTH TLS", "AUTH SSL", "PBSZ 0", "PROT P", "CCC"] {
        c.cmd(cmd, 502);
    }
    c.login(USER, PASS);
    // Whatever the arguments: no 536/504/501 for a level or a form.
    for cmd in [
        "AUTH TLS", "PBSZ 0", "PROT P", "PROT C", "PROT S", "PROT X", "AUTH", "CCC",
    ] {
        c.cmd(cmd, 502);
    }
    assert_feat(&c.cmd("FEAT", 211), false, false);
    assert_eq!(stat_tls_line(&c.cmd("STAT", 211)), "TLS: none");
    assert_eq!(c.get("RETR a.txt"), HELLO);
    // A client that insists on TLS gets nowhere.
    let out = s.curl(&["--ssl-reqd", &s.url("a.txt")]);
    assert_curl_exit("curl --ssl-reqd without a server certificate", &out, 64, &s);
}

// ---------------------------------------------------------------------------------------
// tls_mode 0: AUTH optional
// ---------------------------------------------------------------------------------------

#[test]
fn mode0_clear_login_still_works_and_tls_is_offered() {
    let pki = Pki::new("m0");
    let s = server(&pki, 0);
    let mut c = s.ftp_raw();
    assert_feat(&c.cmd("FEAT", 211), true, true);
    c.cmd("PBSZ 0", 503);
    c.cmd("PROT P", 503);
    c.cmd("AUTH GSSAPI", 504);
    c.cmd("CCC", 534);
    c.login(USER, PASS);
    assert_eq!(stat_tls_line(&c.cmd("STAT", 211)), "TLS: none");
    assert_eq!(c.get("RETR data.bin"), data());
    c.cmd("AUTH TLS", 503);
    s.wait_log_line(&["login user=u", "method=password", "tls=\"none\""]);
    // Real clients, both ways.
    assert_eq!(s.curl_ok(&[&s.url("a.txt")]), HELLO);
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("data.bin")]);
    assert_success("curl --ssl-reqd download (mode 0)", &out, &s);
    assert_eq!(out.stdout, data());
    let up = local_file(&s, "up.bin", &random_bytes(70_000, 3));
    let out = curl_tls(&s, &pki.ca_pem, &["-T", &up, &s.url("up_curl.bin")]);
    assert_success("curl --ssl-reqd upload (mode 0)", &out, &s);
    assert_eq!(
        fs::read(s.home().join("up_curl.bin")).unwrap(),
        random_bytes(70_000, 3)
    );
}

#[test]
fn mode0_auth_tls_pbsz_prot_and_protected_transfers() {
    let pki = Pki::new("m0raw");
    let s = server(&pki, 0);
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.cmd("AUTH TLS", 503);
    assert_feat(&t.cmd("FEAT", 211), true, true);
    t.login(USER, PASS);
    // RFC 2228: levels TLS lacks are 536, a level not known at all 504.
    t.cmd("PROT S", 536);
    t.cmd("PROT E", 536);
    t.cmd("PROT X", 504);
    t.prot_p();
    assert_eq!(t.get("RETR data.bin"), data());
    let up = random_bytes(123_457, 9);
    t.put("STOR up.bin", &up);
    assert_eq!(fs::read(s.home().join("up.bin")).unwrap(), up);
    assert!(String::from_utf8(t.get("NLST")).unwrap().contains("up.bin"));
    // PROT C: data in clear again on this mode.
    t.prot_c();
    assert_eq!(t.get("RETR a.txt"), HELLO);
    t.prot_p();
    let suite = t.tls().unwrap().negotiated_cipher_suite().unwrap().suite();
    assert_eq!(
        stat_tls_line(&t.cmd("STAT", 211)),
        format!("TLS: TLSv1_3 {suite:?}; data connections protected")
    );
    t.cmd("CCC", 534);
    t.cmd("NOOP", 200);
    s.wait_log_line(&[
        "login user=u",
        &format!("remote={}", t.local),
        "method=password",
        "tls=\"TLSv1_3 TLS13_",
    ]);
}

#[test]
fn mode0_auth_accepts_ssl_tls_c_and_tls_p() {
    let pki = Pki::new("mechs");
    let s = server(&pki, 0);
    for mech in ["TLS", "SSL", "TLS-C", "TLS-P", "tls"] {
        let mut t = TlsCtrl::connect(s.addr, &client(&pki));
        t.try_auth_with(mech)
            .unwrap_or_else(|e| panic!("AUTH {mech}: {e}"));
        t.login(USER, PASS);
        t.prot_p();
        assert_eq!(t.get("RETR a.txt"), HELLO, "after AUTH {mech}");
    }
}

// ---------------------------------------------------------------------------------------
// tls_mode 1: explicit TLS required
// ---------------------------------------------------------------------------------------

#[test]
fn mode1_refuses_clear_login_prot_c_and_unprotected_transfers() {
    let pki = Pki::new("m1");
    let s = server(&pki, 1);
    let mut c = s.ftp_raw();
    assert_feat(&c.cmd("FEAT", 211), true, true);
    let r = c.cmd("USER u", 530);
    assert!(r.contains("TLS required"), "USER before AUTH: {r}");
    c.cmd("PASS secret", 530);
    c.cmd("CCC", 534);

    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.login(USER, PASS);
    t.cmd("PROT C", 534);
    t.cmd("PBSZ 0", 200);
    // Each must be refused before any 150; a 150 means data went out in clear.
    let mut got = Vec::new();
    for cmd in [
        "RETR a.txt",
        "LIST",
        "NLST",
        "MLSD",
        "STOR x.bin",
        "APPE x.bin",
        "STOU",
    ] {
        let mut data = t.open_data();
        let r = t.ask(cmd);
        if r.code == 150 || r.code == 125 {
            if ["STOR", "APPE", "STOU"].iter().any(|v| cmd.starts_with(v)) {
                data.shutdown(std::net::Shutdown::Write).unwrap();
            }
            let mut clear = Vec::new();
            let _ = data.read_to_end(&mut clear);
            let done = t.reply();
            got.push(format!(
                "{cmd}: {:?}, then {:?} ({} bytes in clear)",
                r.lines,
                done.lines,
                clear.len()
            ));
        } else if r.code != 521 {
            got.push(format!("{cmd}: {:?}", r.lines));
        }
    }
    assert!(
        got.is_empty(),
        "transfers before PROT P not refused with 521:\n{}",
        got.join("\n")
    );
    assert!(!s.home().join("x.bin").exists());
    t.cmd("CCC", 534);
    t.prot_p();
    assert_eq!(t.get("RETR data.bin"), data());
    t.put("STOR x.bin", b"now protected");
    assert_eq!(fs::read(s.home().join("x.bin")).unwrap(), b"now protected");
    let stat = t.cmd("STAT", 211);
    assert!(
        stat_tls_line(&stat).ends_with("data connections protected"),
        "{stat}"
    );
}

#[test]
fn mode1_curl_requires_tls_and_transfers_with_it() {
    let pki = Pki::new("m1curl");
    let s = server(&pki, 1);
    let out = s.curl(&[&s.url("a.txt")]);
    assert_curl_exit("curl without TLS on tls_mode 1", &out, 67, &s);
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("data.bin")]);
    assert_success("curl --ssl-reqd download (mode 1)", &out, &s);
    assert_eq!(out.stdout, data());
    let up = local_file(&s, "up.bin", &random_bytes(90_000, 5));
    let out = curl_tls(&s, &pki.ca_pem, &["-T", &up, &s.url("up.bin")]);
    assert_success("curl --ssl-reqd upload (mode 1)", &out, &s);
    assert_eq!(
        fs::read(s.home().join("up.bin")).unwrap(),
        random_bytes(90_000, 5)
    );
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("")]);
    assert_success("curl --ssl-reqd listing (mode 1)", &out, &s);
    assert!(stdout(&out).contains("data.bin"), "{}", stdout(&out));
}

#[test]
fn mode1_lftp_transfers_with_tls() {
    let pki = Pki::new("m1lftp");
    let s = server(&pki, 1);
    local_file(&s, "up.bin", &random_bytes(80_000, 8));
    let out = lftp_tls(
        &s,
        s.port(),
        USER,
        PASS,
        &lftp_ftps_settings(&pki.ca_pem, true),
        "get data.bin -o dl.bin; put up.bin -o up_lftp.bin; cls -1",
    );
    assert_success("lftp FTPS (mode 1)", &out, &s);
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
    assert_eq!(
        fs::read(s.home().join("up_lftp.bin")).unwrap(),
        random_bytes(80_000, 8)
    );
    assert!(stdout(&out).contains("up_lftp.bin"), "{}", stdout(&out));
}

#[test]
fn mode1_python_ftp_tls_transfers_and_clear_login_is_530() {
    let pki = Pki::new("m1py");
    let s = server(&pki, 1);
    let out = python_tls(
        &s,
        &pki.ca_pem,
        "try:\n    login()\n    print('clear login accepted')\n\
         except ftplib.error_perm as e:\n    print('clear', e)\n\
         ftp = tls_login()\n\
         buf = io.BytesIO()\nftp.retrbinary('RETR data.bin', buf.write)\n\
         open(os.path.join(LOCAL, 'dl.bin'), 'wb').write(buf.getvalue())\n\
         print(ftp.storbinary('STOR py.bin', io.BytesIO(b'from python' * 1000)))\n\
         ftp.quit()",
    );
    assert_success("python FTP_TLS (mode 1)", &out, &s);
    let text = stdout(&out);
    assert!(text.contains("clear 530"), "{text}");
    assert!(text.contains("226"), "{text}");
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
    assert_eq!(
        fs::read(s.home().join("py.bin")).unwrap(),
        b"from python".repeat(1000)
    );
}

// ---------------------------------------------------------------------------------------
// tls_mode 2: implicit TLS
// ---------------------------------------------------------------------------------------

/// Binding 0 clear (for the harness), binding 1 implicit TLS; returns the server and the
/// implicit port.
fn implicit_server(pki: &Pki) -> (Server, u16) {
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let s = Server::start(served(with_implicit_binding(
        tls_opts(pki, 0),
        port,
        json!({}),
    )));
    (s, port)
}

#[test]
fn a_binding_certificate_overrides_the_global_one() {
    let pki = Pki::new("override");
    let own = pki.server_cert("own", "binding server");
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let s = Server::start(served(with_implicit_binding(
        tls_opts(&pki, 0),
        port,
        json!({"certificate_file": own.cert_str(), "certificate_key_file": own.key_str()}),
    )));
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    assert_eq!(
        t.server_certificate(),
        pki.server.der,
        "binding 0: the global pair"
    );
    let mut t = TlsCtrl::connect_implicit(implicit_addr(port), &client(&pki));
    assert_eq!(t.server_certificate(), own.der, "binding 1: its own pair");
    t.login(USER, PASS);
    t.protected = true;
    assert_eq!(t.get("RETR a.txt"), HELLO);
}

#[test]
fn mode2_implicit_raw_session() {
    let pki = Pki::new("m2");
    let (s, port) = implicit_server(&pki);
    // Data connections are TLS even without PBSZ/PROT.
    let mut t = TlsCtrl::connect_implicit(implicit_addr(port), &client(&pki));
    t.login(USER, PASS);
    t.protected = true;
    assert_eq!(t.get("RETR a.txt"), HELLO);
    assert!(t.last_data_handshake.is_some());

    let mut t = TlsCtrl::connect_implicit(implicit_addr(port), &client(&pki));
    assert_eq!(t.server_certificate(), pki.server.der);
    assert_feat(&t.cmd("FEAT", 211), false, true);
    t.cmd("AUTH TLS", 503);
    t.login(USER, PASS);
    t.cmd("PROT C", 534);
    t.prot_p();
    assert_eq!(t.get("RETR data.bin"), data());
    t.put("STOR imp.bin", b"implicit upload");
    let names = String::from_utf8(t.get("NLST")).unwrap();
    assert!(names.contains("imp.bin"), "{names}");
    let list = String::from_utf8(t.get("LIST")).unwrap();
    assert!(list.contains("data.bin"), "{list}");
    assert_eq!(
        fs::read(s.home().join("imp.bin")).unwrap(),
        b"implicit upload"
    );
    let stat = t.cmd("STAT", 211);
    let line = stat_tls_line(&stat);
    assert!(
        line.starts_with("TLS: TLSv1_3 TLS13_") && line.ends_with("data connections protected"),
        "{stat}"
    );
    s.wait_log_line(&[
        "login user=u",
        &format!("remote={}", t.local),
        "tls=\"TLSv1_3",
    ]);
}

#[test]
fn mode2_implicit_sends_nothing_in_clear() {
    let pki = Pki::new("m2clear");
    let (_s, port) = implicit_server(&pki);
    let mut c = Ctrl::connect_no_greeting(implicit_addr(port));
    c.send("USER u");
    let mut got = Vec::new();
    let _ = c.stream.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"220") && !got.windows(3).any(|w| w == b"331"),
        "implicit TLS binding answered in clear: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn mode2_implicit_with_curl_ftps_url() {
    let pki = Pki::new("m2curl");
    let (s, port) = implicit_server(&pki);
    let url = |p: &str| format!("ftps://{USER}:{PASS}@127.0.0.1:{port}/{p}");
    let out = s.curl(&["--cacert", pki.ca_str(), &url("data.bin")]);
    assert_success("curl ftps:// download", &out, &s);
    assert_eq!(out.stdout, data());
    let up = local_file(&s, "up.bin", &random_bytes(60_000, 11));
    let out = s.curl(&["--cacert", pki.ca_str(), "-T", &up, &url("up_ftps.bin")]);
    assert_success("curl ftps:// upload", &out, &s);
    assert_eq!(
        fs::read(s.home().join("up_ftps.bin")).unwrap(),
        random_bytes(60_000, 11)
    );
}

#[test]
fn mode2_implicit_with_python() {
    let pki = Pki::new("m2py");
    let (s, port) = implicit_server(&pki);
    let out = python_tls(
        &s,
        &pki.ca_pem,
        &format!(
            "ftp = tls_login(port={port}, implicit=True)\n\
             print(ftp.getwelcome())\n\
             buf = io.BytesIO()\nftp.retrbinary('RETR data.bin', buf.write)\n\
             open(os.path.join(LOCAL, 'dl.bin'), 'wb').write(buf.getvalue())\n\
             print(ftp.storbinary('STOR py_imp.bin', io.BytesIO(b'implicit python')))\n\
             ftp.quit()"
        ),
    );
    assert_success("python implicit FTP_TLS", &out, &s);
    assert!(stdout(&out).starts_with("220"), "{}", stdout(&out));
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
    assert_eq!(
        fs::read(s.home().join("py_imp.bin")).unwrap(),
        b"implicit python"
    );
}

// ---------------------------------------------------------------------------------------
// tls_mode 3: TLS on the control connection only
// ---------------------------------------------------------------------------------------

#[test]
fn mode3_control_only_data_in_clear() {
    let pki = Pki::new("m3");
    let s = server(&pki, 3);
    let mut c = s.ftp_raw();
    let r = c.cmd("USER u", 530);
    assert!(r.contains("TLS required"), "{r}");
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.login(USER, PASS);
    t.cmd("PBSZ 0", 200);
    t.cmd("PROT P", 534);
    t.cmd("CCC", 534);
    // Data connections stay clear: a plain read gets the file's bytes.
    assert!(!t.protected);
    assert_eq!(t.get("RETR data.bin"), data());
    t.put("STOR clear.bin", b"clear data");
    assert_eq!(fs::read(s.home().join("clear.bin")).unwrap(), b"clear data");
    let stat = t.cmd("STAT", 211);
    assert!(stat_tls_line(&stat).starts_with("TLS: TLSv1_3"), "{stat}");
}

#[test]
fn mode3_curl_ftp_ssl_control_and_lftp() {
    let pki = Pki::new("m3clients");
    let s = server(&pki, 3);
    let out = s.curl(&[
        "--ftp-ssl-control",
        "--cacert",
        pki.ca_str(),
        &s.url("data.bin"),
    ]);
    assert_success("curl --ftp-ssl-control download", &out, &s);
    assert_eq!(out.stdout, data());
    let up = local_file(&s, "up.bin", b"control only upload");
    let out = s.curl(&[
        "--ftp-ssl-control",
        "--cacert",
        pki.ca_str(),
        "-T",
        &up,
        &s.url("up3.bin"),
    ]);
    assert_success("curl --ftp-ssl-control upload", &out, &s);
    assert_eq!(
        fs::read(s.home().join("up3.bin")).unwrap(),
        b"control only upload"
    );
    let out = lftp_tls(
        &s,
        s.port(),
        USER,
        PASS,
        &lftp_ftps_settings(&pki.ca_pem, false),
        "get data.bin -o dl.bin; put up.bin -o up3_lftp.bin",
    );
    assert_success("lftp with clear data (mode 3)", &out, &s);
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
    assert_eq!(
        fs::read(s.home().join("up3_lftp.bin")).unwrap(),
        b"control only upload"
    );
}

// ---------------------------------------------------------------------------------------
// tls_session_reuse
// ---------------------------------------------------------------------------------------

fn reuse_server(pki: &Pki, reuse: u8) -> Server {
    Server::start(served(tls_opts(pki, 1).binding("tls_session_reuse", reuse)))
}

/// Python's FTP_TLS (no session reuse on data connections): RETR and STOR; prints
/// `RETR <reply or bytes>` and `STOR <reply>`.
const PY_NO_REUSE: &str = r#"
def attempt(label, fn):
    try:
        print(label, 'ok', fn())
    except ftplib.Error as e:
        print(label, 'reply', e)
    except (ssl.SSLError, OSError) as e:
        # The data connection broke; the control reply says why.
        try:
            print(label, 'reply', ftp.getresp())
        except ftplib.Error as e2:
            print(label, 'reply', e2)

ftp = tls_login()
buf = io.BytesIO()
attempt('RETR', lambda: (ftp.retrbinary('RETR data.bin', buf.write), len(buf.getvalue())))
attempt('STOR', lambda: ftp.storbinary('STOR py.bin', io.BytesIO(b'python upload')))
ftp.quit()
"#;

/// [`PY_NO_REUSE`]'s RETR got 226 and every byte of data.bin.
fn assert_python_retr_ok(text: &str) {
    let line = text
        .lines()
        .find(|l| l.starts_with("RETR "))
        .unwrap_or_else(|| panic!("no RETR line:\n{text}"));
    let size = format!(", {})", data().len());
    assert!(
        line.starts_with("RETR ok ('226") && line.ends_with(&size),
        "RETR should give 226 and {} bytes: {line}",
        data().len()
    );
}

#[test]
fn reuse_required_rustls_resuming_client_works_fresh_session_gets_425() {
    let pki = Pki::new("reuse1raw");
    let s = reuse_server(&pki, 1);
    let mut t = tls_session(&s, &pki);
    // Several transfers: later data connections resume tickets issued on earlier ones.
    for _ in 0..3 {
        assert_eq!(t.get("RETR data.bin"), data());
        assert_eq!(t.last_data_handshake, Some(HandshakeKind::Resumed));
    }
    t.put("STOR r.bin", b"resumed upload");
    assert_eq!(fs::read(s.home().join("r.bin")).unwrap(), b"resumed upload");
    // The same session with a data connection that does not resume.
    t.set_data_tls(&client(&pki).no_resumption());
    let r = t.try_get("RETR a.txt").unwrap_err();
    assert!(t.last_prelim.is_some(), "425 must follow the 150: {r:?}");
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text().contains("reuse"), "{r:?}");
    let r = t.try_put("STOR fresh.bin", b"x").unwrap_err();
    assert_eq!(r.code, 425, "{r:?}");
    // The session goes on with resuming data connections.
    t.reset_data_tls();
    assert_eq!(t.get("RETR a.txt"), HELLO);
}

#[test]
fn reuse_required_a_ticket_of_another_control_session_is_not_enough() {
    let pki = Pki::new("reuse1other");
    let s = reuse_server(&pki, 1);
    let a = tls_session(&s, &pki);
    let mut b = tls_session(&s, &pki);
    // b's data connections resume with tickets that a's control connection was issued.
    b.set_data_config_of(&a);
    let r = b.try_get("RETR a.txt").unwrap_err();
    // b's data configuration resumes only b's sessions: a's ticket gets a full handshake.
    assert_eq!(b.last_data_handshake, Some(HandshakeKind::Full));
    assert!(b.last_prelim.is_some(), "425 must follow the 150: {r:?}");
    assert_eq!(r.code, 425, "{r:?}");
}

#[test]
fn reuse_required_tls12_resuming_client_works_fresh_session_gets_425() {
    // rustls hands no resumption data back in TLS 1.2; the session must still be this
    // control connection's own.
    let pki = Pki::new("reuse1tls12");
    let s = reuse_server(&pki, 1);
    let mut t = TlsCtrl::connect(s.addr, &client(&pki).tls12_only());
    t.auth();
    t.login(USER, PASS);
    t.prot_p();
    for _ in 0..3 {
        assert_eq!(t.get("RETR data.bin"), data());
        assert_eq!(t.last_data_handshake, Some(HandshakeKind::Resumed));
    }
    t.put("STOR r12.bin", b"resumed upload, TLS 1.2");
    assert_eq!(
        fs::read(s.home().join("r12.bin")).unwrap(),
        b"resumed upload, TLS 1.2"
    );
    t.set_data_tls(&client(&pki).tls12_only().no_resumption());
    let r = t.try_get("RETR a.txt").unwrap_err();
    assert_eq!(r.code, 425, "{r:?}");
    // Another control connection's TLS 1.2 session does not pass either.
    let mut other = TlsCtrl::connect(s.addr, &client(&pki).tls12_only());
    other.auth();
    t.set_data_config_of(&other);
    let r = t.try_get("RETR a.txt").unwrap_err();
    assert_eq!(r.code, 425, "{r:?}");
    t.reset_data_tls();
    assert_eq!(t.get("RETR a.txt"), HELLO);
}

/// Python's FTP_TLS patched the way FileZilla-style clients behave: every data connection
/// resumes the control connection's session. `TLS12` caps both at TLS 1.2.
const PY_REUSE: &str = r#"
class Reusing(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size

if TLS12:
    CTX.maximum_version = ssl.TLSVersion.TLSv1_2
ftp = Reusing(context=CTX, timeout=20)
ftp.connect(HOST, PORT)
ftp.auth()
ftp.login(USER, PASSWD)
ftp.prot_p()
buf = io.BytesIO()
print('RETR', ftp.retrbinary('RETR data.bin', buf.write), len(buf.getvalue()))
print('STOR', ftp.storbinary('STOR pyreuse.bin', io.BytesIO(b'python reusing upload')))
print('VERSION', ftp.sock.version())
ftp.quit()
"#;

#[test]
fn reuse_required_python_resuming_sessions_succeed_in_tls12_and_tls13() {
    let pki = Pki::new("reuse1pyreuse");
    let s = reuse_server(&pki, 1);
    for (tls12, version) in [(true, "TLSv1.2"), (false, "TLSv1.3")] {
        let script = format!(
            "TLS12 = {}\n{PY_REUSE}",
            if tls12 { "True" } else { "False" }
        );
        let out = python_tls(&s, &pki.ca_pem, &script);
        assert_success(&format!("python resuming FTP_TLS ({version})"), &out, &s);
        let text = stdout(&out);
        assert!(
            text.lines()
                .any(|l| l.starts_with("RETR 226") && l.ends_with(&format!(" {}", data().len()))),
            "{text}"
        );
        assert!(text.lines().any(|l| l.starts_with("STOR 226")), "{text}");
        assert!(text.contains(&format!("VERSION {version}")), "{text}");
        assert_eq!(
            fs::read(s.home().join("pyreuse.bin")).unwrap(),
            b"python reusing upload"
        );
        fs::remove_file(s.home().join("pyreuse.bin")).unwrap();
    }
}

#[test]
fn reuse_required_curl_succeeds() {
    let pki = Pki::new("reuse1curl");
    let s = reuse_server(&pki, 1);
    let up = local_file(&s, "up.bin", &random_bytes(40_000, 21));
    // Two downloads and an upload in one curl run: one control connection, three data ones.
    let out = curl_tls(
        &s,
        &pki.ca_pem,
        &[
            &s.url("data.bin"),
            "-o",
            &local_path(&s, "dl1.bin"),
            &s.url("a.txt"),
            "-o",
            &local_path(&s, "dl2.txt"),
        ],
    );
    assert_success("curl downloads with tls_session_reuse 1", &out, &s);
    assert_eq!(fs::read(s.local().join("dl1.bin")).unwrap(), data());
    assert_eq!(fs::read(s.local().join("dl2.txt")).unwrap(), HELLO);
    let out = curl_tls(&s, &pki.ca_pem, &["-T", &up, &s.url("up_curl.bin")]);
    assert_success("curl upload with tls_session_reuse 1", &out, &s);
    assert_eq!(
        fs::read(s.home().join("up_curl.bin")).unwrap(),
        random_bytes(40_000, 21)
    );
}

#[test]
fn reuse_required_lftp_succeeds() {
    let pki = Pki::new("reuse1lftp");
    let s = reuse_server(&pki, 1);
    local_file(&s, "up.bin", &random_bytes(40_000, 22));
    let out = lftp_tls(
        &s,
        s.port(),
        USER,
        PASS,
        &lftp_ftps_settings(&pki.ca_pem, true),
        "get data.bin -o dl.bin; put up.bin -o up_lftp.bin; get a.txt -o a.txt; cls -1",
    );
    assert_success("lftp with tls_session_reuse 1", &out, &s);
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
    assert_eq!(fs::read(s.local().join("a.txt")).unwrap(), HELLO);
    assert_eq!(
        fs::read(s.home().join("up_lftp.bin")).unwrap(),
        random_bytes(40_000, 22)
    );
    assert!(stdout(&out).contains("up_lftp.bin"), "{}", stdout(&out));
}

#[test]
fn reuse_required_lftp_over_tls12_succeeds() {
    // GnuTLS, as FileZilla uses it, held to TLS 1.2: it resumes with a ticket, which must
    // count as this control session's own.
    let pki = Pki::new("reuse1lftp12");
    let s = reuse_server(&pki, 1);
    local_file(&s, "up.bin", &random_bytes(30_000, 23));
    let settings = format!(
        "{}; set ssl:priority NORMAL:-VERS-TLS1.3",
        lftp_ftps_settings(&pki.ca_pem, true)
    );
    let out = lftp_tls(
        &s,
        s.port(),
        USER,
        PASS,
        &settings,
        "get data.bin -o dl12.bin; put up.bin -o up12.bin; quote STAT",
    );
    assert_success("lftp over TLS 1.2 with tls_session_reuse 1", &out, &s);
    assert_eq!(fs::read(s.local().join("dl12.bin")).unwrap(), data());
    assert_eq!(
        fs::read(s.home().join("up12.bin")).unwrap(),
        random_bytes(30_000, 23)
    );
    assert!(stdout(&out).contains("TLSv1_2"), "{}", stdout(&out));
}

#[test]
fn reuse_required_python_ftp_tls_gets_425() {
    let pki = Pki::new("reuse1py");
    let s = reuse_server(&pki, 1);
    let out = python_tls(&s, &pki.ca_pem, PY_NO_REUSE);
    assert_success("python FTP_TLS with tls_session_reuse 1", &out, &s);
    let text = stdout(&out);
    assert!(text.contains("RETR reply 425"), "{text}");
    assert!(text.contains("STOR reply 425"), "{text}");
    assert!(
        !s.home().join("py.bin").exists() || fs::read(s.home().join("py.bin")).unwrap().is_empty()
    );
}

#[test]
fn reuse_not_checked_python_ftp_tls_succeeds() {
    let pki = Pki::new("reuse0");
    let s = reuse_server(&pki, 0);
    let out = python_tls(&s, &pki.ca_pem, PY_NO_REUSE);
    assert_success("python FTP_TLS with tls_session_reuse 0", &out, &s);
    let text = stdout(&out);
    assert_python_retr_ok(&text);
    assert!(text.contains("STOR ok 226"), "{text}");
    assert_eq!(fs::read(s.home().join("py.bin")).unwrap(), b"python upload");
    let mut t = tls_session(&s, &pki);
    t.set_data_tls(&client(&pki).no_resumption());
    assert_eq!(t.get("RETR data.bin"), data());
}

#[test]
fn reuse_tickets_off_python_and_curl_succeed() {
    let pki = Pki::new("reuse2");
    let s = reuse_server(&pki, 2);
    let out = python_tls(&s, &pki.ca_pem, PY_NO_REUSE);
    assert_success("python FTP_TLS with tls_session_reuse 2", &out, &s);
    let text = stdout(&out);
    assert_python_retr_ok(&text);
    assert!(text.contains("STOR ok 226"), "{text}");
    assert_eq!(fs::read(s.home().join("py.bin")).unwrap(), b"python upload");
    let up = local_file(&s, "up.bin", b"curl with tickets off");
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("data.bin")]);
    assert_success("curl download with tls_session_reuse 2", &out, &s);
    assert_eq!(out.stdout, data());
    let out = curl_tls(&s, &pki.ca_pem, &["-T", &up, &s.url("c.bin")]);
    assert_success("curl upload with tls_session_reuse 2", &out, &s);
    assert_eq!(
        fs::read(s.home().join("c.bin")).unwrap(),
        b"curl with tickets off"
    );
    let out = lftp_tls(
        &s,
        s.port(),
        USER,
        PASS,
        &lftp_ftps_settings(&pki.ca_pem, true),
        "get data.bin -o dl.bin",
    );
    assert_success("lftp with tls_session_reuse 2", &out, &s);
    assert_eq!(fs::read(s.local().join("dl.bin")).unwrap(), data());
}

// ---------------------------------------------------------------------------------------
// Versions and cipher suites
// ---------------------------------------------------------------------------------------

#[test]
fn min_tls_13_refuses_tls12_clients() {
    let pki = Pki::new("tls13");
    let s = Server::start(served(tls_opts(&pki, 1).binding("min_tls_version", 13)));
    let out = curl_tls(&s, &pki.ca_pem, &["--tls-max", "1.2", &s.url("a.txt")]);
    assert_curl_exit(
        "curl --tls-max 1.2 against min_tls_version 13",
        &out,
        35,
        &s,
    );
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("a.txt")]);
    assert_success("default curl against min_tls_version 13", &out, &s);
    assert_eq!(out.stdout, HELLO);
    s.wait_log_line(&["login user=u", "tls=\"TLSv1_3"]);
    let mut t = TlsCtrl::connect(s.addr, &client(&pki).tls12_only());
    assert!(
        t.try_auth_with("TLS").is_err(),
        "a TLS 1.2-only rustls client completed a handshake"
    );
}

#[test]
fn tls12_with_configured_cipher_suite() {
    let pki = Pki::new("suites");
    let s = Server::start(served(tls_opts(&pki, 1).binding(
        "tls_cipher_suites",
        json!(["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]),
    )));
    let out = curl_tls(&s, &pki.ca_pem, &["--tls-max", "1.2", &s.url("data.bin")]);
    assert_success("curl --tls-max 1.2 with a configured suite", &out, &s);
    assert_eq!(out.stdout, data());
    s.wait_log_line(&[
        "login user=u",
        "tls=\"TLSv1_2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\"",
    ]);
    let mut t = TlsCtrl::connect(s.addr, &client(&pki).tls12_only());
    t.auth();
    t.login(USER, PASS);
    t.prot_p();
    assert_eq!(t.get("RETR a.txt"), HELLO);
    let stat = t.cmd("STAT", 211);
    assert_eq!(
        stat_tls_line(&stat),
        "TLS: TLSv1_2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384; data connections protected"
    );
}

#[test]
fn cipher_suites_are_chosen_as_go_and_sftpgo_choose_them() {
    // The server's order: AES-128-GCM first when this machine has AES instructions and
    // the client lists AES-GCM before ChaCha20 (curl's OpenSSL lists AES-256 first),
    // ChaCha20 first when the client does. Data connections follow the same rule and
    // still resume (tls_session_reuse 1).
    let pki = Pki::new("order");
    let s = Server::start(served(tls_opts(&pki, 1).binding("tls_session_reuse", 1)));
    // The server's own test (tls::aes_here).
    #[cfg(target_arch = "x86_64")]
    let aes_here = std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(target_arch = "aarch64")]
    let aes_here = std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull");
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let aes_here = false;
    let cases: [(&[&str], &str); 4] = [
        (
            &[],
            if aes_here {
                "TLSv1_3 TLS13_AES_128_GCM_SHA256"
            } else {
                "TLSv1_3 TLS13_CHACHA20_POLY1305_SHA256"
            },
        ),
        (
            &[
                "--tls13-ciphers",
                "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            ],
            "TLSv1_3 TLS13_CHACHA20_POLY1305_SHA256",
        ),
        (
            &["--tls-max", "1.2"],
            if aes_here {
                "TLSv1_2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            } else {
                "TLSv1_2 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            },
        ),
        (
            &[
                "--tls-max",
                "1.2",
                "--ciphers",
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384",
            ],
            "TLSv1_2 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
    ];
    let url = s.url("data.bin");
    for (args, suite) in cases {
        let mut all = args.to_vec();
        all.push(&url);
        let out = curl_tls(&s, &pki.ca_pem, &all);
        assert_success(&format!("curl {args:?}"), &out, &s);
        assert_eq!(out.stdout, data(), "curl {args:?}");
        s.wait_log_line(&["login user=u", &format!("tls=\"{suite}\"")]);
    }
}

#[test]
fn a_client_hello_sent_a_byte_at_a_time_ends_at_the_handshake_deadline() {
    // Every byte arrives before a read times out (100 ms), so only a deadline checked on
    // each pass ends it: 10 s for the control connection's handshake (the whole drip of a
    // 2 KiB ClientHello, a byte every 20 ms, would take over 40 s).
    let pki = Pki::new("drip");
    let s = server(&pki, 1);
    let out = s.python_ok(
        "c = socket.create_connection((HOST, PORT), timeout=30)\n\
         f = c.makefile('rb')\n\
         f.readline()\n\
         c.sendall(b'AUTH TLS\\r\\n')\n\
         print(f.readline()[:3].decode())\n\
         c.settimeout(None)\n\
         c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
         hello = b'\\x16\\x03\\x01\\x08\\x00\\x01\\x00\\x07\\xfc\\x03\\x03' + b'\\x00' * 2038\n\
         t = time.monotonic()\n\
         closed = False\n\
         for b in hello:\n\
         \x20   try:\n\
         \x20       c.sendall(bytes([b]))\n\
         \x20       if c.recv(1, socket.MSG_DONTWAIT) == b'':\n\
         \x20           closed = True\n\
         \x20           break\n\
         \x20   except BlockingIOError:\n\
         \x20       pass\n\
         \x20   except OSError:\n\
         \x20       closed = True\n\
         \x20       break\n\
         \x20   time.sleep(0.02)\n\
         print(closed, round(time.monotonic() - t))",
    );
    let got: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(got.len(), 3, "{out}");
    assert_eq!((got[0], got[1]), ("234", "True"), "{out}");
    let secs: u64 = got[2].parse().unwrap();
    assert!((9..=13).contains(&secs), "closed after {secs} s: {out}");
    // The daemon goes on serving.
    let out = curl_tls(&s, &pki.ca_pem, &[&s.url("a.txt")]);
    assert_success("curl after the drip", &out, &s);
    assert_eq!(out.stdout, HELLO);
}

// ---------------------------------------------------------------------------------------
// Client certificates
// ---------------------------------------------------------------------------------------

struct Certs {
    pki: Pki,
    alice: CertFiles,
    bob: CertFiles,
    carol: CertFiles,
    carol_other: CertFiles,
    dave: CertFiles,
    erin: CertFiles,
    revoked: CertFiles,
    expired: CertFiles,
    foreign: CertFiles,
    crl: PathBuf,
}

fn certs() -> Certs {
    let pki = Pki::new("clients");
    let alice = pki.client("alice", "alice");
    let bob = pki.client("bob", "bob");
    let carol = pki.client("carol", "carol");
    let carol_other = pki.client("carol-other", "carol");
    let dave = pki.client("dave", "dave");
    let erin = pki.client("erin", "erin");
    let revoked = pki.client("revoked", "alice");
    let expired = pki.client_expired("expired", "alice");
    let foreign = pki.client_other_ca("foreign", "alice");
    let crl = pki.write_crl("crl.pem", &[&revoked]);
    Certs {
        pki,
        alice,
        bob,
        carol,
        carol_other,
        dave,
        erin,
        revoked,
        expired,
        foreign,
        crl,
    }
}

/// Users: alice (CommonName, every method), bob (CommonName, TLSCertificate+password
/// only), carol (pinned to `carol.pem`), dave (no certificate filters), erin (CommonName,
/// password denied). Each has `<name>.txt` in its home.
fn cert_server(c: &Certs, mode: u8, auth: u8) -> Server {
    Server::start(cert_opts(c, mode, auth))
}

/// [`cert_server`]'s options.
fn cert_opts(c: &Certs, mode: u8, auth: u8) -> ServerOpts {
    let mut opts = with_client_auth(tls_opts(&c.pki, mode), &c.pki, auth, &[&c.crl])
        .user(user_with_filters(
            "alice",
            json!({"tls_username": "CommonName"}),
        ))
        .user(user_with_filters(
            "bob",
            json!({"tls_username": "CommonName",
                   "denied_login_methods": ["password", "TLSCertificate"]}),
        ))
        .user(user_with_filters(
            "carol",
            json!({"tls_certs": [c.carol.pem()]}),
        ))
        .user(user_json("dave"))
        .user(user_with_filters(
            "erin",
            json!({"tls_username": "CommonName", "denied_login_methods": ["password"]}),
        ));
    for u in ["alice", "bob", "carol", "dave", "erin"] {
        opts = opts.user_file(u, &format!("{u}.txt"), format!("file of {u}"));
    }
    opts
}

/// AUTH TLS with `cert` presented.
fn cert_session(s: &Server, c: &Certs, cert: &CertFiles) -> TlsCtrl {
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki).cert(cert));
    t.auth();
    t
}

/// curl with `--cert/--key` of `cert` as `user:pass`, downloading `<user>.txt`.
fn curl_with_cert(
    s: &Server,
    c: &Certs,
    cert: &CertFiles,
    user: &str,
    pass: &str,
) -> std::process::Output {
    curl_tls(
        s,
        &c.pki.ca_pem,
        &[
            "--cert",
            cert.cert_str(),
            "--key",
            cert.key_str(),
            &url_for(s.port(), user, pass, &format!("{user}.txt")),
        ],
    )
}

#[test]
fn cert_common_name_logs_in_with_232_without_password() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let mut t = cert_session(&s, &c, &c.alice);
    let r = t.cmd("USER alice", 232);
    assert!(r.starts_with("232 "), "{r}");
    t.prot_p();
    assert_eq!(t.get("RETR alice.txt"), b"file of alice");
    t.cmd("PWD", 257);
    s.wait_log_line(&[
        "login user=alice",
        &format!("remote={}", t.local),
        "method=TLSCertificate tls=\"TLSv1_3",
    ]);
    // curl with an empty password.
    let out = curl_with_cert(&s, &c, &c.alice, "alice", "");
    assert_success("curl --cert alice -u alice:", &out, &s);
    assert_eq!(out.stdout, b"file of alice");
    let n = s
        .log()
        .lines()
        .filter(|l| l.contains("login user=alice") && l.contains("method=TLSCertificate tls="))
        .count();
    assert_eq!(n, 2, "log:\n{}", s.log());
    // lftp with ssl:cert-file/ssl:key-file: USER gets 232, no PASS.
    let settings = format!(
        "{}; {}",
        lftp_ftps_settings(&c.pki.ca_pem, true),
        lftp_cert_settings(&c.alice)
    );
    let out = lftp_tls(
        &s,
        s.port(),
        "alice",
        "unused",
        &settings,
        "get alice.txt -o a.txt",
    );
    assert_success("lftp with alice's certificate", &out, &s);
    assert_eq!(fs::read(s.local().join("a.txt")).unwrap(), b"file of alice");
    s.wait_log_line(&["login user=alice", "method=TLSCertificate tls="]);
    let n = s
        .log()
        .lines()
        .filter(|l| l.contains("login user=alice") && l.contains("method=TLSCertificate tls="))
        .count();
    assert_eq!(n, 3, "log:\n{}", s.log());
}

#[test]
fn cert_plus_password_only_needs_the_right_password() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let mut t = cert_session(&s, &c, &c.bob);
    t.cmd("USER bob", 331);
    t.cmd("PASS wrong", 530);
    t.cmd("USER bob", 331);
    t.cmd("PASS secret", 230);
    t.prot_p();
    assert_eq!(t.get("RETR bob.txt"), b"file of bob");
    s.wait_log_line(&[
        "login user=bob",
        &format!("remote={}", t.local),
        "method=TLSCertificate+password",
    ]);
    let out = curl_with_cert(&s, &c, &c.bob, "bob", PASS);
    assert_success("curl --cert bob -u bob:secret", &out, &s);
    assert_eq!(out.stdout, b"file of bob");
    let out = curl_with_cert(&s, &c, &c.bob, "bob", "wrong");
    assert_curl_exit("curl --cert bob with a wrong password", &out, 67, &s);
    let out = curl_with_cert(&s, &c, &c.bob, "bob", "");
    assert_curl_exit("curl --cert bob without a password", &out, 67, &s);
    let settings = format!(
        "{}; {}",
        lftp_ftps_settings(&c.pki.ca_pem, true),
        lftp_cert_settings(&c.bob)
    );
    let out = lftp_tls(&s, s.port(), "bob", PASS, &settings, "get bob.txt -o b.txt");
    assert_success("lftp with bob's certificate and password", &out, &s);
    assert_eq!(fs::read(s.local().join("b.txt")).unwrap(), b"file of bob");
}

#[test]
fn cert_common_name_mismatch_is_530_and_plain_users_ignore_the_cert() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let mut t = cert_session(&s, &c, &c.alice);
    t.cmd("USER bob", 530);
    s.wait_log_line(&[
        "login failed user=bob",
        &format!("remote={}", t.local),
        "client certificate (CN \\\"alice\\\") does not match",
    ]);
    t.cmd("USER erin", 530);
    // dave has no certificate filters: alice's certificate changes nothing.
    t.cmd("USER dave", 331);
    t.cmd("PASS secret", 230);
    s.wait_log_line(&[
        "login user=dave",
        &format!("remote={}", t.local),
        "method=password",
    ]);
    let out = curl_with_cert(&s, &c, &c.alice, "bob", PASS);
    assert_curl_exit("curl --cert alice as bob", &out, 67, &s);
    // dave's own certificate logs nobody else in either.
    let mut t = cert_session(&s, &c, &c.dave);
    t.cmd("USER alice", 530);
}

#[test]
fn cert_pinning_accepts_only_the_pinned_certificate() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let mut t = cert_session(&s, &c, &c.carol);
    t.cmd("USER carol", 232);
    t.prot_p();
    assert_eq!(t.get("RETR carol.txt"), b"file of carol");
    // Same CA, same CN, another certificate.
    let mut t = cert_session(&s, &c, &c.carol_other);
    t.cmd("USER carol", 530);
    let out = curl_with_cert(&s, &c, &c.carol, "carol", "");
    assert_success("curl with carol's pinned certificate", &out, &s);
    assert_eq!(out.stdout, b"file of carol");
    let out = curl_with_cert(&s, &c, &c.carol_other, "carol", "");
    assert_curl_exit("curl with another certificate for CN carol", &out, 67, &s);
}

#[test]
fn cert_required_refuses_missing_revoked_expired_and_unknown_ca() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let cases: [(&str, Option<&CertFiles>, &str); 4] = [
        ("no certificate", None, "no certificates"),
        ("revoked", Some(&c.revoked), "revoked"),
        ("expired", Some(&c.expired), "expired"),
        ("unknown CA", Some(&c.foreign), "UnknownIssuer"),
    ];
    for (what, cert, why) in cases {
        let tls = match cert {
            Some(cert) => client(&c.pki).cert(cert),
            None => client(&c.pki),
        };
        let (err, local) = expect_tls_refused(s.addr, &tls, "USER alice");
        eprintln!("{what}: client saw {err}");
        assert_tls_error_logged(&s, local, why);
        let curl_what = format!("curl with the {what} certificate");
        assert_refused_in_handshake(&s, &curl_what, why, || match cert {
            Some(cert) => curl_with_cert(&s, &c, cert, "alice", ""),
            None => curl_tls(
                &s,
                &c.pki.ca_pem,
                &[&url_for(s.port(), "dave", PASS, "dave.txt")],
            ),
        });
    }
    // A good one still works.
    let out = curl_with_cert(&s, &c, &c.alice, "alice", "");
    assert_success("curl with a valid certificate", &out, &s);
}

#[test]
fn cert_optional_password_logins_and_certificate_logins_coexist() {
    let c = certs();
    let s = cert_server(&c, 0, 2);
    // No certificate: plain password users log in; password-denied users cannot.
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki));
    t.auth();
    t.login("dave", PASS);
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki));
    t.auth();
    t.cmd("USER erin", 331);
    t.cmd("PASS secret", 530);
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki));
    t.auth();
    t.login("alice", PASS);
    s.wait_log_line(&[
        "login user=alice",
        &format!("remote={}", t.local),
        "method=password",
    ]);
    // With a certificate: 232.
    let mut t = cert_session(&s, &c, &c.erin);
    t.cmd("USER erin", 232);
    let out = curl_with_cert(&s, &c, &c.alice, "alice", "");
    assert_success("curl --cert alice with client_auth_type 2", &out, &s);
    assert_eq!(out.stdout, b"file of alice");
    // A revoked certificate never logs in by certificate.
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki).cert(&c.revoked));
    if t.try_auth_with("TLS").is_ok() {
        t.send_lenient("USER alice");
        if let Ok(r) = t.try_reply() {
            assert_ne!(r.code, 232, "revoked certificate logged in: {r:?}");
            assert_ne!(r.code, 230, "revoked certificate logged in: {r:?}");
        }
    }
}

#[test]
fn ftp_security_user_needs_tls_on_a_mode0_binding() {
    let pki = Pki::new("ftpsec");
    let s = Server::start(
        served(tls_opts(&pki, 0))
            .user(user_with_filters("frank", json!({"ftp_security": 1})))
            .user_file("frank", "f.txt", "frank's"),
    );
    let mut c = s.ftp_raw();
    let r = c.cmd("USER frank", 530);
    assert!(r.contains("TLS required for this user"), "{r}");
    c.login(USER, PASS);
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.login("frank", PASS);
    t.prot_p();
    assert_eq!(t.get("RETR f.txt"), b"frank's");
    let out = s.curl(&[&url_for(s.port(), "frank", PASS, "f.txt")]);
    assert_curl_exit("curl in clear as an ftp_security user", &out, 67, &s);
    let out = curl_tls(
        &s,
        &pki.ca_pem,
        &[&url_for(s.port(), "frank", PASS, "f.txt")],
    );
    assert_success("curl --ssl-reqd as an ftp_security user", &out, &s);
    assert_eq!(out.stdout, b"frank's");
}

// ---------------------------------------------------------------------------------------
// SIGHUP
// ---------------------------------------------------------------------------------------

/// A server whose certificate files are `live.pem`/`live.key` in `first`'s directory,
/// holding `first`'s server certificate.
fn live_server(first: &Pki) -> (Server, PathBuf, PathBuf) {
    let cert = first.path("live.pem");
    let key = first.path("live.key");
    install_pair(&first.server, &cert, &key);
    let s = Server::start(served(
        ServerOpts::new()
            .ftpd("certificate_file", cert.to_str().unwrap())
            .ftpd("certificate_key_file", key.to_str().unwrap())
            .binding("tls_mode", 1),
    ));
    (s, cert, key)
}

fn presented_certificate(s: &Server, ca: &Pki) -> Vec<u8> {
    let mut t = TlsCtrl::connect(s.addr, &client(ca));
    t.auth();
    t.server_certificate()
}

fn openssl_subject(s: &Server, ca: &Pki) -> String {
    let mut cmd = tool("openssl", "apt-get install -y openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{}", s.port()),
        "-starttls",
        "ftp",
        "-CAfile",
        ca.ca_str(),
    ]);
    let out = run_bounded(&mut cmd, s.dir.path());
    let text = stdout(&out);
    assert!(
        text.contains("Verify return code: 0"),
        "openssl s_client did not verify the server with {}:\n{text}\n{}",
        ca.ca_str(),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or_else(|| panic!("no subject= line:\n{text}"))
        .to_string()
}

#[test]
fn sighup_serves_a_replaced_certificate_to_new_connections() {
    let first = Pki::new("first");
    let second = Pki::new("second");
    let (s, cert, key) = live_server(&first);
    assert_eq!(presented_certificate(&s, &first), first.server.der);
    assert!(openssl_subject(&s, &first).contains("first server"));
    // A session open across the reload keeps working.
    let mut old = tls_session(&s, &first);

    install_pair(&second.server, &cert, &key);
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("TLS material reloaded")),
        "{lines:?}"
    );
    assert_eq!(presented_certificate(&s, &second), second.server.der);
    assert!(openssl_subject(&s, &second).contains("second server"));
    let out = curl_tls(&s, &second.ca_pem, &[&s.url("a.txt")]);
    assert_success("curl trusting the new CA after SIGHUP", &out, &s);
    assert_eq!(out.stdout, HELLO);
    let out = curl_tls(&s, &first.ca_pem, &[&s.url("a.txt")]);
    assert_curl_exit("curl trusting only the old CA after SIGHUP", &out, 60, &s);
    assert_eq!(old.get("RETR a.txt"), HELLO);
}

#[test]
fn sighup_with_a_broken_key_keeps_the_old_certificate() {
    let first = Pki::new("keep");
    let second = Pki::new("broken");
    let (s, cert, key) = live_server(&first);
    fs::copy(&second.server.cert, &cert).unwrap();
    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let lines = sighup(&s);
    let line = lines
        .iter()
        .find(|l| l.contains("keeping the old TLS material"))
        .unwrap_or_else(|| panic!("no 'keeping the old TLS material' line: {lines:?}"));
    assert!(
        line.contains(&format!("reload: binding 127.0.0.1:{}", s.port())),
        "{line}"
    );
    assert!(
        line.contains(key.to_str().unwrap()),
        "the line should name the key file: {line}"
    );
    assert_eq!(presented_certificate(&s, &first), first.server.der);
    let out = curl_tls(&s, &first.ca_pem, &[&s.url("data.bin")]);
    assert_success(
        "curl with the old certificate after a failed reload",
        &out,
        &s,
    );
    assert_eq!(out.stdout, data());
    // Fixed files load on the next SIGHUP.
    install_pair(&second.server, &cert, &key);
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("TLS material reloaded")),
        "{lines:?}"
    );
    assert_eq!(presented_certificate(&s, &second), second.server.der);
}

#[test]
fn sighup_reloads_the_crl() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let mut t = cert_session(&s, &c, &c.alice);
    t.cmd("USER alice", 232);
    let out = curl_with_cert(&s, &c, &c.alice, "alice", "");
    assert_success("curl --cert alice before the CRL lists it", &out, &s);

    c.pki.write_crl("crl.pem", &[&c.revoked, &c.alice]);
    assert_eq!(c.crl, c.pki.path("crl.pem"));
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("TLS material reloaded")),
        "{lines:?}"
    );
    let (_, local) = expect_tls_refused(s.addr, &client(&c.pki).cert(&c.alice), "USER alice");
    assert_tls_error_logged(&s, local, "revoked");
    assert_refused_in_handshake(
        &s,
        "curl --cert alice after the CRL lists it",
        "revoked",
        || curl_with_cert(&s, &c, &c.alice, "alice", ""),
    );
    // Other certificates are unaffected.
    let mut t = cert_session(&s, &c, &c.carol);
    t.cmd("USER carol", 232);
}

#[test]
fn a_revoked_certificate_cannot_come_back_through_an_old_session() {
    let c = certs();
    let s = cert_server(&c, 1, 1);
    let tls = client(&c.pki).cert(&c.alice);
    let mut t = TlsCtrl::connect(s.addr, &tls);
    t.auth();
    t.cmd("USER alice", 232);
    // The 232 was read through TLS, so the session tickets sent after the handshake are in.
    let tickets = t.client_config();
    t.cmd("QUIT", 221);
    // Control connections never resume: each one is a full handshake, certificate checked.
    let mut again = TlsCtrl::connect_with(s.addr, &tls, Arc::clone(&tickets));
    again.auth();
    assert_eq!(
        again.tls().and_then(|c| c.handshake_kind()),
        Some(HandshakeKind::Full)
    );
    again.cmd("USER alice", 232);
    again.cmd("QUIT", 221);

    c.pki.write_crl("crl.pem", &[&c.revoked, &c.alice]);
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("TLS material reloaded")),
        "{lines:?}"
    );
    let mut late = TlsCtrl::connect_with(s.addr, &tls, tickets);
    let local = late.local;
    match late.try_auth_with("TLS") {
        Err(_) => {}
        Ok(()) => {
            late.send_lenient("USER alice");
            let r = late.try_reply();
            assert!(r.is_err(), "a revoked certificate logged in again: {r:?}");
        }
    }
    assert_tls_error_logged(&s, local, "revoked");
}

#[test]
fn sighup_reloads_the_ca_certificates() {
    let c = certs();
    // The clients' CA file, apart from the one the clients trust the server with.
    let client_ca = c.pki.path("client-ca.pem");
    fs::copy(&c.pki.ca_pem, &client_ca).unwrap();
    let s = Server::start(
        cert_opts(&c, 1, 1).ftpd("ca_certificates", json!([client_ca.to_str().unwrap()])),
    );
    let mut t = cert_session(&s, &c, &c.alice);
    t.cmd("USER alice", 232);
    // A new CA replaces the old one in the same file: the old CA's clients are refused,
    // the new one's log in.
    let other = Pki::new("newca");
    let alice2 = other.client("alice2", "alice");
    fs::copy(&other.ca_pem, &client_ca).unwrap();
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("TLS material reloaded")),
        "{lines:?}"
    );
    let (_, local) = expect_tls_refused(s.addr, &client(&c.pki).cert(&c.alice), "USER alice");
    assert_tls_error_logged(&s, local, "UnknownIssuer");
    let mut t = TlsCtrl::connect(s.addr, &client(&c.pki).cert(&alice2));
    t.auth();
    t.cmd("USER alice", 232);
}

#[test]
fn sighup_reloads_the_users_file_and_keeps_it_when_broken() {
    let pki = Pki::new("users");
    let s = server(&pki, 1);
    let mut users: serde_json::Value =
        serde_json::from_slice(&fs::read(&s.users_path).unwrap()).unwrap();
    let mut newbie = user_json("newbie");
    newbie["home_dir"] = json!(s.home_of("newbie"));
    users["users"].as_array_mut().unwrap().push(newbie);
    fs::write(&s.users_path, serde_json::to_vec(&users).unwrap()).unwrap();
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("reload: 2 user(s) loaded")),
        "{lines:?}"
    );
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.login("newbie", PASS);
    // A users file that does not parse keeps the users loaded before.
    fs::write(&s.users_path, "{\"users\": [").unwrap();
    let lines = sighup(&s);
    assert!(
        lines.iter().any(|l| l.contains("keeping the old users")),
        "{lines:?}"
    );
    let mut t = TlsCtrl::connect(s.addr, &client(&pki));
    t.auth();
    t.login("newbie", PASS);
}

// ---------------------------------------------------------------------------------------
// ferroftpd -n: startup errors
// ---------------------------------------------------------------------------------------

fn tls_config(pki: &Pki) -> serde_json::Value {
    let mut c = base_config();
    json_set(
        &mut c,
        "/ftpd/certificate_file",
        json!(pki.server.cert_str()),
    );
    json_set(
        &mut c,
        "/ftpd/certificate_key_file",
        json!(pki.server.key_str()),
    );
    c
}

/// `-n` must fail with exit 1 and one stderr line containing every one of `parts`.
fn assert_check_fails(config: &serde_json::Value, parts: &[&str]) {
    let (out, path, _dir) = check_config(config);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    let path = path.display().to_string();
    assert!(
        err.lines().any(|l| l.starts_with("ferroftpd: ")
            && l.contains(&path)
            && parts.iter().all(|p| l.contains(p))),
        "no line naming {path} and {parts:?}:\n{err}"
    );
}

#[test]
fn check_config_accepts_a_tls_config() {
    let pki = Pki::new("check");
    let mut c = tls_config(&pki);
    json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(1));
    json_set(&mut c, "/ftpd/bindings/0/tls_session_reuse", json!(1));
    json_set(&mut c, "/ftpd/bindings/0/min_tls_version", json!(13));
    let (out, _, _dir) = check_config(&c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_tls_mode_without_certificate_names_the_binding() {
    for mode in [1, 2, 3] {
        let mut c = base_config();
        json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(mode));
        assert_check_fails(&c, &["ftpd.bindings[0].tls_mode", "127.0.0.1:2121"]);
    }
}

#[test]
fn check_config_unknown_cipher_suite_is_named() {
    let pki = Pki::new("suite");
    let mut c = tls_config(&pki);
    json_set(
        &mut c,
        "/ftpd/bindings/0/tls_cipher_suites",
        json!([
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_RC4_128_SHA"
        ]),
    );
    assert_check_fails(&c, &["tls_cipher_suites", "TLS_RSA_WITH_RC4_128_SHA"]);
}

#[test]
fn check_config_tls13_suite_names_are_a_warning() {
    // Go knows the TLS 1.3 names, so an SFTPGo config may list them; they change nothing.
    let pki = Pki::new("suite13");
    let mut c = tls_config(&pki);
    json_set(
        &mut c,
        "/ftpd/bindings/0/tls_cipher_suites",
        json!([
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        ]),
    );
    let (out, _, _dir) = check_config(&c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("ferroftpd: warning: ")
            && l.contains("tls_cipher_suites")
            && l.contains("TLS_AES_128_GCM_SHA256")),
        "{err}"
    );
}

#[test]
fn check_config_missing_key_file_is_named() {
    let pki = Pki::new("nokey");
    let mut c = tls_config(&pki);
    let missing = pki.path("missing.key");
    json_set(
        &mut c,
        "/ftpd/certificate_key_file",
        json!(missing.to_str().unwrap()),
    );
    json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(1));
    assert_check_fails(&c, &[missing.to_str().unwrap()]);
    // Also with tls_mode 0: a configured certificate must load.
    json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(0));
    assert_check_fails(&c, &[missing.to_str().unwrap()]);
}

#[test]
fn check_config_session_reuse_1_with_implicit_tls_is_refused() {
    let pki = Pki::new("reuse-implicit");
    let mut c = tls_config(&pki);
    json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(2));
    json_set(&mut c, "/ftpd/bindings/0/tls_session_reuse", json!(1));
    assert_check_fails(&c, &["ftpd.bindings[0].tls_session_reuse"]);
}

#[test]
fn check_config_client_auth_needs_ca_certificates() {
    let pki = Pki::new("noca");
    let mut c = tls_config(&pki);
    json_set(&mut c, "/ftpd/bindings/0/tls_mode", json!(1));
    json_set(&mut c, "/ftpd/bindings/0/client_auth_type", json!(1));
    assert_check_fails(&c, &["client_auth_type"]);
}

#[test]
fn check_config_min_tls_10_is_a_warning() {
    let pki = Pki::new("tls10");
    let mut c = tls_config(&pki);
    json_set(&mut c, "/ftpd/bindings/0/min_tls_version", json!(10));
    let (out, _, _dir) = check_config(&c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("ferroftpd: warning: ") && l.contains("min_tls_version")),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Key and CRL formats
// ---------------------------------------------------------------------------------------

#[test]
fn server_keys_rsa_and_ecdsa_in_pkcs1_pkcs8_and_sec1() {
    let pki = Pki::new("keys");
    let rsa = pki.server_cert_rsa("rsa", "keys rsa server");
    let ec = pki.server.clone();
    let cases = [
        ("RSA PKCS#8", rsa.clone(), "BEGIN PRIVATE KEY"),
        (
            "RSA PKCS#1",
            traditional_key(&rsa, "rsa-pkcs1.key"),
            "BEGIN RSA PRIVATE KEY",
        ),
        ("ECDSA PKCS#8", ec.clone(), "BEGIN PRIVATE KEY"),
        (
            "ECDSA SEC1",
            traditional_key(&ec, "ec-sec1.key"),
            "BEGIN EC PRIVATE KEY",
        ),
    ];
    for (what, pair, header) in cases {
        let key_text = fs::read_to_string(&pair.key).unwrap();
        assert!(key_text.contains(header), "{what}: {key_text}");
        let s = Server::start(served(
            ServerOpts::new()
                .ftpd("certificate_file", pair.cert_str())
                .ftpd("certificate_key_file", pair.key_str())
                .binding("tls_mode", 1),
        ));
        assert_eq!(presented_certificate(&s, &pki), pair.der, "{what}");
        let out = curl_tls(&s, &pki.ca_pem, &[&s.url("data.bin")]);
        assert_success(&format!("curl with a {what} server key"), &out, &s);
        assert_eq!(out.stdout, data(), "{what}");
    }
}

#[test]
fn crl_in_der_form_revokes() {
    let c = certs();
    let der = c.pki.write_crl_der("crl.der", &[&c.revoked]);
    let s = Server::start(
        with_client_auth(tls_opts(&c.pki, 1), &c.pki, 1, &[&der]).user(user_with_filters(
            "alice",
            json!({"tls_username": "CommonName"}),
        )),
    );
    let (_, local) = expect_tls_refused(s.addr, &client(&c.pki).cert(&c.revoked), "USER alice");
    assert_tls_error_logged(&s, local, "revoked");
    let mut t = cert_session(&s, &c, &c.alice);
    t.cmd("USER alice", 232);
}

#[test]
fn big_tls_uploads_arrive_whole_and_a_size_limit_cuts_them_exactly() {
    // An upload over TLS is read many records at a time (`Stream::read_more_into`): a few MB
    // through curl and Python's FTP_TLS arrive byte for byte, and `max_upload_file_size`
    // still stops one at exactly its limit.
    let pki = Pki::new("bigup");
    let s = Server::start(served(tls_opts(&pki, 0)).user_set(
        USER,
        "/filters/max_upload_file_size",
        3_000_000,
    ));
    let big = random_bytes(2_999_999, 21);
    let up = local_file(&s, "big.bin", &big);
    let out = curl_tls(&s, &pki.ca_pem, &["-T", &up, &s.url("big_curl.bin")]);
    assert_success("curl --ssl-reqd upload of 2,999,999 bytes", &out, &s);
    assert!(fs::read(s.home().join("big_curl.bin")).unwrap() == big);
    let out = python_tls(
        &s,
        &pki.ca_pem,
        "ftp = tls_login()\n\
         data = open(os.path.join(LOCAL, 'big.bin'), 'rb').read()\n\
         print(ftp.storbinary('STOR big_py.bin', io.BytesIO(data), blocksize=1 << 20))\n\
         try:\n    ftp.storbinary('STOR over.bin', io.BytesIO(data + b'xy'), blocksize=1 << 20)\n\
         except ftplib.error_perm as e:\n    print('over', e)\n\
         ftp.quit()",
    );
    assert_success("python FTP_TLS uploads", &out, &s);
    let text = stdout(&out);
    assert!(text.contains("226"), "{text}");
    assert!(text.contains("over 552"), "{text}");
    assert!(fs::read(s.home().join("big_py.bin")).unwrap() == big);
    let line = s.wait_log_line(&["STOR", "/over.bin", "result=failed"]);
    assert!(line.contains(" bytes=3000000 "), "{line}");
}

/// A TLS upload cut by a TCP reset (Python's FTP_TLS closing the data connection with
/// SO_LINGER 0, no close_notify) fails, and with atomic uploads the target keeps what it
/// held. The kernel reports a reset once: whichever read meets it, the waiting one or one
/// of `Stream::read_more_into`'s that do not wait (kept in `TcpSock` for the next read),
/// taken as the end it would make a cut upload a 226 that replaces the target. Here it
/// is usually the waiting read.
#[test]
fn tls_upload_cut_by_a_reset_fails_and_keeps_the_target() {
    let pki = Pki::new("tlsrst");
    let s = Server::start(
        tls_opts(&pki, 0)
            .common("upload_mode", 1)
            .file("t.bin", "original"),
    );
    let out = python_tls(
        &s,
        &pki.ca_pem,
        "import socket, struct\n\
         ftp = tls_login()\n\
         ftp.voidcmd('TYPE I')\n\
         conn = ftp.transfercmd('STOR t.bin')\n\
         conn.sendall(b'x' * (16 << 20))\n\
         conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         conn.close()\n\
         try:\n    print('REPLY', ftp.getresp())\n\
         except ftplib.all_errors as e:\n    print('REPLY', e)\n\
         ftp.quit()",
    );
    assert_success("python FTP_TLS upload cut by a reset", &out, &s);
    let text = stdout(&out);
    let reply = text
        .lines()
        .find_map(|l| l.strip_prefix("REPLY "))
        .unwrap_or_default();
    assert!(
        reply.starts_with("426") || reply.starts_with("451"),
        "{text}\n{}",
        s.log()
    );
    s.wait_log_line(&["STOR", "/t.bin", "result=failed"]);
    assert_eq!(fs::read(s.home().join("t.bin")).unwrap(), b"original");
}

/// STAT and ABOR during transfers with a TLS control connection: the server looks for them
/// between chunks, every tick, without waiting (rustls reading the socket with
/// MSG_DONTWAIT), here with Python's FTP_TLS. The download goes on for 256 MiB first, past
/// at least one look: a look that waited for a command would stall it (checked: with the
/// flag a no-op, the client times out). Then the client stops
/// reading (or, uploading, stops sending): STAT shows the transfer and its bytes, ABOR ends
/// it with 426 then 226, and the session goes on. The cut upload keeps what came.
#[test]
fn python_stat_and_abor_during_tls_transfers() {
    let pki = Pki::new("tlsabor");
    let s = server(&pki, 1);
    // Sparse: far more than any socket buffers hold, so the download cannot end first.
    fs::File::create(s.home().join("big.bin"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = python_tls(
        &s,
        &pki.ca_pem,
        "ftp = tls_login()\n\
         ftp.voidcmd('TYPE I')\n\
         def stat_then_abor(label):\n\
         \x20   ftp.putcmd('STAT')\n\
         \x20   stat = ftp.getmultiline()\n\
         \x20   busy = [l.strip() for l in stat.split('\\n') if 'Transfer in progress' in l]\n\
         \x20   print(label, 'STAT', stat[:3], busy)\n\
         \x20   ftp.putcmd('ABOR')\n\
         \x20   print(label, 'ABOR', ftp.getmultiline()[:3], ftp.getmultiline()[:3])\n\
         conn = ftp.transfercmd('RETR big.bin')\n\
         got = 0\n\
         while got < (256 << 20):\n\
         \x20   b = conn.recv(min(1 << 20, (256 << 20) - got))\n\
         \x20   if not b:\n\
         \x20       break\n\
         \x20   got += len(b)\n\
         print('GOT', got)\n\
         stat_then_abor('RETR')\n\
         conn.close()\n\
         conn = ftp.transfercmd('STOR cut.bin')\n\
         conn.sendall(b'u' * 300000)\n\
         stat_then_abor('STOR')\n\
         conn.close()\n\
         print('PWD', ftp.pwd())\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR a.txt', buf.write)\n\
         print('A', len(buf.getvalue()))\n\
         ftp.quit()",
    );
    assert_success("python FTP_TLS STAT and ABOR", &out, &s);
    let text = stdout(&out);
    for want in [
        "GOT 268435456",
        "RETR ABOR 426 226",
        "STOR ABOR 426 226",
        "PWD /",
    ] {
        assert!(text.lines().any(|l| l == want), "{want}:\n{text}");
    }
    assert!(
        text.lines().any(|l| l == format!("A {}", HELLO.len())),
        "{text}"
    );
    // "LABEL STAT 211 ['Transfer in progress: VERB /path, N bytes']": N.
    let stat_bytes = |label: &str, path: &str| -> u64 {
        let head = format!("{label} STAT 211 ['Transfer in progress: {label} {path}, ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("{head}:\n{text}"));
        line[head.len()..]
            .trim_end_matches(" bytes']")
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    assert!(stat_bytes("RETR", "/big.bin") >= 256 << 20, "{text}");
    // The upload kept what came: at least what STAT counted, at most what was sent.
    let counted = stat_bytes("STOR", "/cut.bin");
    let cut = fs::read(s.home().join("cut.bin")).unwrap();
    assert!(
        counted > 0 && counted as usize <= cut.len() && cut.len() <= 300_000,
        "STAT counted {counted}, the file has {}",
        cut.len()
    );
    assert!(cut.iter().all(|&b| b == b'u'));
}

/// A TLS download to a client that stops reading for a while, three times: the server's
/// sends time out (the socket's timeout is a tick), some after part of a record, and each
/// must count as a stall to wait out, not as the end (checked: taken as the end, this
/// fails). Every byte arrives, in order (Python's FTP_TLS, hashed as it reads), and the
/// reply is 226.
#[test]
fn python_tls_download_survives_a_reader_that_pauses() {
    let pki = Pki::new("tlspause");
    let body = random_bytes(24 << 20, 0x9A05E);
    let s = Server::start(tls_opts(&pki, 1).file("pausing.bin", &body));
    let out = python_tls(
        &s,
        &pki.ca_pem,
        "import hashlib, time\n\
         ftp = tls_login()\n\
         h = hashlib.sha256()\n\
         got = [0]\n\
         pauses = [1 << 20, 8 << 20, 16 << 20]\n\
         def take(b):\n\
         \x20   h.update(b)\n\
         \x20   got[0] += len(b)\n\
         \x20   while pauses and got[0] >= pauses[0]:\n\
         \x20       pauses.pop(0)\n\
         \x20       time.sleep(0.6)\n\
         print('REPLY', ftp.retrbinary('RETR pausing.bin', take, blocksize=65536)[:3])\n\
         print('GOT', got[0], h.hexdigest())\n\
         ftp.quit()",
    );
    assert_success("python FTP_TLS pausing reader", &out, &s);
    let text = stdout(&out);
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(text.lines().any(|l| l == "REPLY 226"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == format!("GOT {} {want}", body.len())),
        "{text}"
    );
}

/// A file that grows during a TLS download (an upload still arriving) is sent to its
/// end, not to the size it had when opened: the client appends 1 MiB while the server is
/// held back by the full socket, well before it reaches the end of the 24 MiB.
#[test]
fn python_tls_download_of_a_growing_file_gets_what_it_grew_by() {
    let pki = Pki::new("tlsgrow");
    let body = random_bytes(24 << 20, 0x6A0E);
    let extra = random_bytes(1 << 20, 0x6A0F);
    let s = Server::start(tls_opts(&pki, 1).file("growing.bin", &body));
    let path = s.home().join("growing.bin");
    let path = path.to_str().unwrap();
    let extra_path = s.local().join("extra.part");
    fs::write(&extra_path, &extra).unwrap();
    let script = format!(
        "import hashlib\n\
         ftp = tls_login()\n\
         h = hashlib.sha256()\n\
         got = [0]\n\
         def take(b):\n\
         \x20   if got[0] < (1 << 20) <= got[0] + len(b):\n\
         \x20       with open({path:?}, 'ab') as f, open({extra:?}, 'rb') as e:\n\
         \x20           f.write(e.read())\n\
         \x20   h.update(b)\n\
         \x20   got[0] += len(b)\n\
         print('REPLY', ftp.retrbinary('RETR growing.bin', take, blocksize=65536)[:3])\n\
         print('GOT', got[0], h.hexdigest())\n\
         ftp.quit()",
        extra = extra_path.to_str().unwrap(),
    );
    let out = python_tls(&s, &pki.ca_pem, &script);
    assert_success("python FTP_TLS growing file", &out, &s);
    let text = stdout(&out);
    use sha2::Digest;
    let whole = [body.as_slice(), extra.as_slice()].concat();
    let want: String = sha2::Sha256::digest(&whole)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(text.lines().any(|l| l == "REPLY 226"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == format!("GOT {} {want}", whole.len())),
        "{text}"
    );
}

/// A resumed TLS download (curl `-C -`, REST then RETR): the file is read from the offset
/// (positional reads, whatever the file's position) and the joined file is whole.
#[test]
fn curl_resumes_a_tls_download() {
    let pki = Pki::new("tlsrest");
    let s = server(&pki, 1);
    let full = data();
    fs::write(s.local().join("part.bin"), &full[..123_457]).unwrap();
    let out = curl_tls(
        &s,
        &pki.ca_pem,
        &["-v", "-C", "-", "-o", "part.bin", &s.url("data.bin")],
    );
    assert_success("curl -C - over TLS", &out, &s);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("REST 123457"), "curl did not resume: {err}");
    assert!(fs::read(s.local().join("part.bin")).unwrap() == full);
}
