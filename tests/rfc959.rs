//! RFC 959 commands as the contract (notes/CONTRACT.md, "Replies") defines them: login,
//! the pre-login gate, navigation, file commands, TYPE/MODE/STRU, FEAT/HELP/SITE/OPTS/STAT,
//! REIN/QUIT, the transfer commands with PASV and PORT, REST and ABOR.
//! Raw transcripts check exact codes and the texts the contract fixes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Read;
use std::net::TcpListener;

use common::*;

/// A server whose home holds a.txt ("hello"), d/inner.txt and an empty dir e.
fn server() -> Server {
    Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .file("d/inner.txt", "inner")
            .dir("e"),
    )
}

#[test]
fn greeting_is_220_ferroftpd_and_version() {
    let s = server();
    let c = s.ftp_raw();
    assert_eq!(
        c.greeting.lines,
        vec![format!("220 ferroftpd {}", env!("CARGO_PKG_VERSION"))]
    );
}

#[test]
fn banner_is_a_multiline_220() {
    let s = Server::start(ServerOpts::new().ftpd("banner", "Welcome to the test\nSecond line"));
    let c = s.ftp_raw();
    let g = c.greeting.text();
    assert!(c.greeting.is_multiline(), "{g}");
    assert!(c.greeting.first().starts_with("220-"), "{g}");
    assert!(
        g.contains("Welcome to the test") && g.contains("Second line"),
        "{g}"
    );
}

#[test]
fn banner_file_relative_to_config_dir_is_shown() {
    let s = Server::start(
        ServerOpts::new()
            .config_dir_file("banner.txt", "From the banner file\nLine two\n")
            .ftpd("banner_file", "banner.txt"),
    );
    let c = s.ftp_raw();
    let g = c.greeting.text();
    assert!(c.greeting.first().starts_with("220-"), "{g}");
    assert!(
        g.contains("From the banner file") && g.contains("Line two"),
        "{g}"
    );
}

#[test]
fn user_then_pass_logs_in() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    c.cmd("PASS secret", 230);
    c.cmd("PWD", 257);
}

#[test]
fn unknown_user_gets_331_then_530() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("USER nobody", 331);
    c.cmd("PASS secret", 530);
}

#[test]
fn wrong_password_530_and_session_stays() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    c.cmd("PASS wrong", 530);
    c.cmd("NOOP", 200);
    c.login(USER, PASS);
}

#[test]
fn pass_without_user_is_503() {
    let s = server();
    let mut c = s.ftp_raw();
    let r = c.ask("PASS secret");
    assert!(r.code == 503 || r.code == 530, "{r:?}");
}

#[test]
fn commands_before_login_get_530() {
    let s = server();
    let mut c = s.ftp_raw();
    for line in [
        "PWD",
        "CWD /",
        "CDUP",
        "LIST",
        "NLST",
        "MLSD",
        "MLST a.txt",
        "RETR a.txt",
        "STOR x",
        "APPE x",
        "STOU",
        "DELE a.txt",
        "MKD x",
        "RMD e",
        "RNFR a.txt",
        "SIZE a.txt",
        "MDTM a.txt",
        "PASV",
        "EPSV",
        "PORT 127,0,0,1,200,10",
        "TYPE I",
        "REST 0",
        "STAT /",
        "SITE HELP",
    ] {
        c.cmd(line, 530);
    }
    assert!(s.home().join("a.txt").exists());
    assert!(!s.home().join("x").exists());
}

#[test]
fn pre_login_allowed_commands_are_served() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("FEAT", 211);
    c.cmd("SYST", 215);
    c.cmd("NOOP", 200);
    c.cmd("HELP", 214);
    c.cmd("OPTS UTF8 ON", 200);
    c.cmd("STAT", 211);
    c.cmd("ACCT x", 202);
    c.cmd("REIN", 220);
    c.login(USER, PASS);
}

#[test]
fn unknown_verb_is_500() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("FROB x", 500);
    c.cmd("NOOP", 200);
}

#[test]
fn smnt_is_502_not_implemented() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("SMNT /mnt", 502);
}

#[test]
fn missing_argument_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    for line in [
        "RETR", "STOR", "DELE", "MKD", "RMD", "RNFR", "TYPE", "MODE", "STRU", "PORT",
    ] {
        c.cmd(line, 501);
    }
    c.cmd("PORT 1,2,3", 501);
    c.cmd("REST abc", 501);
}

#[test]
fn verbs_are_case_insensitive() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("user u", 331);
    c.cmd("pass secret", 230);
    c.cmd("noop", 200);
    c.cmd("Pwd", 257);
}

#[test]
fn pwd_and_xpwd_reply_257_quoted() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(c.cmd("PWD", 257), "257 \"/\" is the current directory");
    c.cmd("CWD d", 250);
    assert_eq!(c.cmd("XPWD", 257), "257 \"/d\" is the current directory");
}

#[test]
fn cwd_and_xcwd_change_directory() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("CWD d", 250);
    assert!(c.cmd("PWD", 257).contains("\"/d\""));
    c.cmd("XCWD /e", 250);
    assert!(c.cmd("PWD", 257).contains("\"/e\""));
    c.cmd("CWD /", 250);
    assert!(c.cmd("PWD", 257).contains("\"/\""));
}

#[test]
fn cwd_to_missing_or_file_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("CWD nosuch", 550);
    c.cmd("CWD a.txt", 550);
    assert!(c.cmd("PWD", 257).contains("\"/\""));
}

#[test]
fn cdup_and_xcup_go_up_and_stay_at_root() {
    let s = Server::start(ServerOpts::new().dir("x/y"));
    let mut c = s.ftp_login();
    c.cmd("CWD /x/y", 250);
    c.cmd("CDUP", 250);
    assert!(c.cmd("PWD", 257).contains("\"/x\""));
    c.cmd("XCUP", 250);
    assert!(c.cmd("PWD", 257).contains("\"/\""));
    c.cmd("CDUP", 250);
    assert!(c.cmd("PWD", 257).contains("\"/\""));
}

#[test]
fn mkd_replies_257_path_created() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(c.cmd("MKD newdir", 257), "257 \"/newdir\" created");
    assert!(s.home().join("newdir").is_dir());
    c.cmd("CWD newdir", 250);
    assert_eq!(c.cmd("XMKD sub", 257), "257 \"/newdir/sub\" created");
    assert!(s.home().join("newdir/sub").is_dir());
}

#[test]
fn mkd_existing_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MKD e", 550);
}

#[test]
fn rmd_and_xrmd_remove_directories() {
    let s = Server::start(ServerOpts::new().dir("e1").dir("e2"));
    let mut c = s.ftp_login();
    c.cmd("RMD e1", 250);
    c.cmd("XRMD /e2", 250);
    assert!(!s.home().join("e1").exists());
    assert!(!s.home().join("e2").exists());
    c.cmd("RMD e1", 550);
}

#[test]
fn dele_removes_a_file() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("DELE a.txt", 250);
    assert!(!s.home().join("a.txt").exists());
    c.cmd("DELE a.txt", 550);
}

#[test]
fn rnfr_rnto_renames() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("RNFR a.txt", 350);
    c.cmd("RNTO d/b.txt", 250);
    assert!(!s.home().join("a.txt").exists());
    assert_eq!(fs::read(s.home().join("d/b.txt")).unwrap(), b"hello");
}

#[test]
fn rnfr_rnto_renames_a_directory() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("RNFR d", 350);
    c.cmd("RNTO d2", 250);
    assert!(s.home().join("d2/inner.txt").is_file());
}

#[test]
fn rnto_without_rnfr_is_503() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("RNTO b.txt", 503);
    // RNFR is consumed by the next command even when that is not RNTO.
    c.cmd("RNFR a.txt", 350);
    c.cmd("NOOP", 200);
    c.cmd("RNTO b.txt", 503);
    // Also when that command is refused before it runs: unknown, or badly formed.
    c.cmd("RNFR a.txt", 350);
    c.cmd("BOGUS", 500);
    c.cmd("RNTO b.txt", 503);
    c.cmd("RNFR a.txt", 350);
    c.cmd("REST x", 501);
    c.cmd("RNTO b.txt", 503);
    c.cmd("RNFR a.txt", 350);
    c.cmd(&"X".repeat(5000), 500);
    c.cmd("RNTO b.txt", 503);
    assert!(s.home().join("a.txt").exists());
    assert!(!s.home().join("b.txt").exists());
}

#[test]
fn rnfr_missing_file_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("RNFR nosuch", 550);
}

#[test]
fn type_accepted_forms_are_200() {
    let s = server();
    let mut c = s.ftp_login();
    for t in ["TYPE A", "TYPE A N", "TYPE I", "TYPE L 8", "type i"] {
        c.cmd(t, 200);
    }
}

#[test]
fn type_unsupported_forms_are_504() {
    let s = server();
    let mut c = s.ftp_login();
    for t in ["TYPE E", "TYPE A T", "TYPE L 7"] {
        c.cmd(t, 504);
    }
}

#[test]
fn type_garbage_is_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE X", 501);
    c.cmd("TYPE", 501);
}

#[test]
fn mode_s_only() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("MODE S", 200);
    c.cmd("MODE B", 504);
    c.cmd("MODE C", 504);
}

#[test]
fn stru_f_only() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("STRU F", 200);
    c.cmd("STRU R", 504);
    c.cmd("STRU P", 504);
}

#[test]
fn allo_and_acct_are_202() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("ALLO 1000", 202);
    c.cmd("ACCT anything", 202);
}

#[test]
fn syst_is_unix_type_l8() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(c.cmd("SYST", 215), "215 UNIX Type: L8");
}

#[test]
fn noop_is_200() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("NOOP", 200);
}

#[test]
fn feat_lists_the_contract_features() {
    let s = server();
    let mut c = s.ftp_raw();
    c.send("FEAT");
    let r = c.reply();
    assert_eq!(r.code, 211);
    assert_eq!(r.first(), "211-Features:", "{r:?}");
    assert_eq!(r.lines.last().unwrap(), "211 End", "{r:?}");
    for f in [
        " UTF8",
        " SIZE",
        " MDTM",
        " MFMT",
        " REST STREAM",
        " EPRT",
        " EPSV",
        " TVFS",
        " MLST type*;size*;modify*;perm*;unique*;",
    ] {
        assert!(r.lines.iter().any(|l| l == f), "FEAT lacks {f:?}: {r:?}");
    }
    // RFC 2389: feature lines start with a space.
    for l in &r.lines[1..r.lines.len() - 1] {
        assert!(l.starts_with(' '), "FEAT line without leading space: {l:?}");
    }
}

#[test]
fn help_lists_every_implemented_verb() {
    let s = server();
    let mut c = s.ftp_login();
    c.send("HELP");
    let r = c.reply();
    assert_eq!(r.code, 214);
    assert!(r.is_multiline(), "{r:?}");
    let words: Vec<String> = r
        .lines
        .iter()
        .flat_map(|l| l.split_whitespace().map(str::to_uppercase))
        .collect();
    for verb in [
        "USER", "PASS", "ACCT", "CWD", "XCWD", "CDUP", "XCUP", "REIN", "QUIT", "PORT", "PASV",
        "EPRT", "EPSV", "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO", "REST",
        "RNFR", "RNTO", "ABOR", "DELE", "RMD", "XRMD", "MKD", "XMKD", "PWD", "XPWD", "LIST",
        "NLST", "SITE", "SYST", "STAT", "HELP", "NOOP", "FEAT", "OPTS", "SIZE", "MDTM", "MFMT",
        "MLST", "MLSD",
    ] {
        assert!(words.iter().any(|w| w == verb), "HELP lacks {verb}: {r:?}");
    }
}

#[test]
fn help_verb_gives_syntax() {
    let s = server();
    let mut c = s.ftp_login();
    let t = c.cmd("HELP RETR", 214);
    assert!(t.starts_with("214 Syntax: "), "{t}");
    assert!(t.to_uppercase().contains("RETR"), "{t}");
}

#[test]
fn site_help_is_214_other_site_is_502() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("SITE HELP", 214);
    c.cmd("SITE CHMOD 644 a.txt", 502);
    c.cmd("SITE FROB", 502);
}

#[test]
fn opts_utf8_and_mlst_ok_others_501() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("OPTS UTF8 ON", 200);
    c.cmd("OPTS MLST type;size;modify;", 200);
    c.cmd("OPTS FROB ON", 501);
}

#[test]
fn stat_without_argument_shows_user_and_peer() {
    let s = server();
    let mut c = s.ftp_login();
    c.send("STAT");
    let r = c.reply();
    assert_eq!(r.code, 211);
    assert!(r.is_multiline(), "{r:?}");
    assert!(r.first().starts_with("211-"), "{r:?}");
    let t = r.text();
    assert!(t.contains("127.0.0.1"), "peer missing: {t}");
    assert!(
        r.lines[1..r.lines.len() - 1]
            .iter()
            .any(|l| l.split(|ch: char| !ch.is_alphanumeric()).any(|w| w == USER)),
        "user missing: {t}"
    );
}

#[test]
fn stat_file_is_213_with_a_list_line() {
    let s = server();
    let mut c = s.ftp_login();
    c.send("STAT a.txt");
    let r = c.reply();
    assert_eq!(r.code, 213, "{r:?}");
    assert!(r.is_multiline(), "{r:?}");
    let line = r
        .lines
        .iter()
        .find(|l| l.trim_start().starts_with("-r"))
        .unwrap_or_else(|| panic!("no LIST line: {r:?}"));
    assert_ls_line(line.trim_start(), '-', 5, "a.txt");
}

#[test]
fn stat_dir_is_212_listing_entries() {
    let s = server();
    let mut c = s.ftp_login();
    c.send("STAT d");
    let r = c.reply();
    assert_eq!(r.code, 212, "{r:?}");
    assert!(r.is_multiline(), "{r:?}");
    assert!(r.text().contains("inner.txt"), "{r:?}");
}

#[test]
fn rein_logs_out() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("REIN", 220);
    c.cmd("PWD", 530);
    c.login(USER, PASS);
    c.cmd("PWD", 257);
}

#[test]
fn quit_is_221_and_closes() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("QUIT", 221);
    c.expect_closed();
}

#[test]
fn quit_before_login_is_221() {
    let s = server();
    let mut c = s.ftp_raw();
    c.cmd("QUIT", 221);
    c.expect_closed();
}

#[test]
fn retr_replies_150_then_226_with_the_bytes() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    assert_eq!(c.get("RETR a.txt"), b"hello");
    assert_eq!(c.get("RETR /d/inner.txt"), b"inner");
}

#[test]
fn retr_missing_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    let r = c.try_get("RETR nosuch").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn retr_directory_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    let r = c.try_get("RETR d").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
}

#[test]
fn stor_creates_and_overwrites() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.put("STOR new.bin", b"\x00\x01binary\r\n\xff");
    assert_eq!(
        fs::read(s.home().join("new.bin")).unwrap(),
        b"\x00\x01binary\r\n\xff"
    );
    c.put("STOR a.txt", b"x");
    assert_eq!(fs::read(s.home().join("a.txt")).unwrap(), b"x");
}

#[test]
fn stor_into_missing_dir_is_550() {
    let s = server();
    let mut c = s.ftp_login();
    let r = c.try_put("STOR nodir/x.txt", b"x").unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
}

#[test]
fn appe_appends() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.put("APPE a.txt", b" world");
    assert_eq!(fs::read(s.home().join("a.txt")).unwrap(), b"hello world");
    c.put("APPE fresh.txt", b"new");
    assert_eq!(fs::read(s.home().join("fresh.txt")).unwrap(), b"new");
}

#[test]
fn stou_names_the_file_in_150() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let before = dir_names(&s.home());
    let text = c.put("STOU", b"unique data");
    let name = text
        .split("FILE: ")
        .nth(1)
        .unwrap_or_else(|| panic!("150 lacks FILE: {text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    assert!(!before.contains(&name), "STOU reused {name}");
    assert_eq!(fs::read(s.home().join(&name)).unwrap(), b"unique data");
    // A second STOU never overwrites the first.
    let text2 = c.put("STOU", b"other");
    assert!(!text2.contains(&format!("FILE: {name}")), "{text2}");
    assert_eq!(fs::read(s.home().join(&name)).unwrap(), b"unique data");
}

#[test]
fn stou_with_a_long_name_taken_makes_a_name_that_fits() {
    // The unique name is the hint cut to leave room for the token, never over 255 bytes.
    let s = server();
    let hint = "h".repeat(250);
    let mut c = s.ftp_login();
    c.put(&format!("STOU {hint}"), b"first");
    let text = c.put(&format!("STOU {hint}"), b"second");
    let name = text
        .split("FILE: ")
        .nth(1)
        .unwrap_or_else(|| panic!("150 lacks FILE: {text}"))
        .trim()
        .to_string();
    assert!(name != hint && name.len() <= 255, "{name}");
    assert_eq!(fs::read(s.home().join(&hint)).unwrap(), b"first");
    assert_eq!(fs::read(s.home().join(&name)).unwrap(), b"second");
}

#[test]
fn transfer_without_pasv_or_port_is_425() {
    let s = server();
    let mut c = s.ftp_login();
    let r = c.ask_final("LIST");
    assert_eq!(r.code, 425, "{r:?}");
    let r = c.ask_final("RETR a.txt");
    assert_eq!(r.code, 425, "{r:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn pasv_reply_format() {
    let s = server();
    let mut c = s.ftp_login();
    let t = c.cmd("PASV", 227);
    assert!(t.starts_with("227 Entering Passive Mode ("), "{t}");
    let a = parse_227(&t);
    assert_eq!(a.ip().to_string(), "127.0.0.1");
    assert_ne!(a.port(), 0);
}

#[test]
fn force_passive_ip_is_advertised_in_227() {
    let s = Server::start(ServerOpts::new().binding("force_passive_ip", "127.0.0.2"));
    let mut c = s.ftp_login();
    let a = parse_227(&c.cmd("PASV", 227));
    assert_eq!(a.ip().to_string(), "127.0.0.2");
}

#[test]
fn passive_ip_override_for_the_client_network() {
    let s = Server::start(ServerOpts::new().binding(
        "passive_ip_overrides",
        serde_json::json!([{"networks": ["127.0.0.0/8"], "ip": "127.0.0.3"}]),
    ));
    let mut c = s.ftp_login();
    let a = parse_227(&c.cmd("PASV", 227));
    assert_eq!(a.ip().to_string(), "127.0.0.3");
}

#[test]
fn passive_ip_override_for_another_network_is_not_used() {
    let s = Server::start(ServerOpts::new().binding(
        "passive_ip_overrides",
        serde_json::json!([{"networks": ["10.0.0.0/8"], "ip": "192.0.2.1"}]),
    ));
    let mut c = s.ftp_login();
    let a = parse_227(&c.cmd("PASV", 227));
    assert_eq!(a.ip().to_string(), "127.0.0.1");
}

#[test]
fn active_data_connection_source_port_is_not_20() {
    let s = Server::start(
        ServerOpts::new()
            .ftpd("active_transfers_port_non_20", true)
            .file("a.txt", "hello"),
    );
    let mut c = s.ftp_login();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    c.cmd(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    c.send("RETR a.txt");
    c.expect_prelim();
    let mut d = accept_within(&l, IO_TIMEOUT).expect("server never connected for PORT");
    assert_ne!(d.peer_addr().unwrap().port(), 20);
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    c.expect(226);
    assert_eq!(buf, b"hello");
}

#[test]
fn port_active_mode_retr_and_stor() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    c.cmd(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    c.send("RETR a.txt");
    c.expect_prelim();
    let mut d = accept_within(&l, IO_TIMEOUT).expect("server never connected for PORT");
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    c.expect(226);
    assert_eq!(buf, b"hello");
    c.cmd(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    c.send("STOR up.txt");
    c.expect_prelim();
    let mut d = accept_within(&l, IO_TIMEOUT).expect("server never connected for PORT");
    std::io::Write::write_all(&mut d, b"active upload").unwrap();
    drop(d);
    c.expect(226);
    assert_eq!(fs::read(s.home().join("up.txt")).unwrap(), b"active upload");
}

#[test]
fn port_to_a_closed_port_gives_425() {
    let s = server();
    let mut c = s.ftp_login();
    let closed = free_port("127.0.0.1".parse().unwrap());
    c.cmd(
        &format!("PORT 127,0,0,1,{},{}", closed / 256, closed % 256),
        200,
    );
    let r = c.ask_final("RETR a.txt");
    assert_eq!(r.code, 425, "{r:?}");
    c.cmd("NOOP", 200);
}

#[test]
fn rest_applies_to_the_next_retr_only() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("TYPE I", 200);
    c.cmd("REST 2", 350);
    assert_eq!(c.get("RETR a.txt"), b"llo");
    assert_eq!(c.get("RETR a.txt"), b"hello");
}

#[test]
fn abor_without_transfer_is_226() {
    let s = server();
    let mut c = s.ftp_login();
    c.cmd("ABOR", 226);
    c.cmd("NOOP", 200);
}

#[test]
fn list_lines_are_ls_style() {
    let s = server();
    set_mtime(&s.home().join("a.txt"), known_time());
    let mut c = s.ftp_login();
    let text = c.list("LIST");
    let ls = lines(&text);
    let a = ls.iter().find(|l| l.ends_with(" a.txt")).expect("a.txt");
    assert_ls_line(a, '-', 5, "a.txt");
    let f: Vec<&str> = a.split_whitespace().collect();
    assert_eq!(
        &f[5..7],
        ["Jan", "2"],
        "UTC date of 2020-01-02 03:04:05: {a}"
    );
    assert!(f[7] == "2020" || f[7] == "03:04", "{a}");
    let d = ls.iter().find(|l| l.ends_with(" d")).expect("d");
    assert!(d.starts_with('d'), "{d}");
    assert!(
        text.contains("\r\n"),
        "LIST lines must end in CRLF: {text:?}"
    );
}

#[test]
fn list_hides_dotfiles_unless_dash_a() {
    let s = Server::start(ServerOpts::new().file(".hidden", "h").file("shown", "s"));
    let mut c = s.ftp_login();
    let plain = c.list("LIST");
    assert!(
        plain.contains("shown") && !plain.contains(".hidden"),
        "{plain}"
    );
    let all = c.list("LIST -a");
    assert!(all.contains(".hidden") && all.contains("shown"), "{all}");
    let la = c.list("LIST -la");
    assert!(la.contains(".hidden"), "{la}");
}

#[test]
fn list_of_a_file_is_one_line() {
    let s = server();
    let mut c = s.ftp_login();
    let t = c.list("LIST a.txt");
    let ls = lines(&t);
    assert_eq!(ls.len(), 1, "{t}");
    assert_ls_line(&ls[0], '-', 5, "a.txt");
}

#[test]
fn list_of_a_dir_argument() {
    let s = server();
    let mut c = s.ftp_login();
    let t = c.list("LIST -l d");
    assert!(lines(&t).iter().any(|l| l.ends_with(" inner.txt")), "{t}");
}

#[test]
fn nlst_gives_names_and_dir_prefix() {
    let s = server();
    let mut c = s.ftp_login();
    assert_eq!(sorted_lines(&c.list("NLST")), ["a.txt", "d", "e"]);
    assert_eq!(sorted_lines(&c.list("NLST d")), ["d/inner.txt"]);
    assert_eq!(lines(&c.list("NLST e")), Vec::<String>::new());
}

#[test]
fn list_missing_path_is_550_or_empty() {
    let s = server();
    let mut c = s.ftp_login();
    match c.try_get("LIST nosuch") {
        Ok(b) => assert!(b.is_empty(), "{b:?}"),
        Err(r) => assert_eq!(r.code, 550, "{r:?}"),
    }
}

/// Check an `ls -l` style line: perms, links, owner, group, size, month, day, time|year, name.
fn assert_ls_line(line: &str, kind: char, size: u64, name: &str) {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(f.len() >= 9, "not an ls -l line: {line:?}");
    assert_eq!(f[0].len(), 10, "{line:?}");
    assert!(f[0].starts_with(kind), "{line:?}");
    assert!(
        f[0][1..].chars().all(|c| "rwx-sStT".contains(c)),
        "{line:?}"
    );
    assert!(f[1].parse::<u64>().is_ok(), "{line:?}");
    assert_eq!(f[4].parse::<u64>().ok(), Some(size), "{line:?}");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert!(months.contains(&f[5]), "{line:?}");
    assert!(f[6].parse::<u8>().is_ok(), "{line:?}");
    assert!(
        f[7].len() == 4 && f[7].parse::<u16>().is_ok()
            || f[7].len() == 5 && f[7].as_bytes()[2] == b':',
        "{line:?}"
    );
    assert!(line.ends_with(&format!(" {name}")), "{line:?}");
}
