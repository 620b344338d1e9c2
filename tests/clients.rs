//! Full sessions with real clients: curl (list, upload, download, -Q, --ftp-create-dirs,
//! active mode, PASV, ranges, -I), lftp (ls, cls, put, get, rm, mkdir, mv, mirror both ways),
//! Python ftplib and the suppaftp crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use suppaftp::types::FileType;
use suppaftp::FtpStream;

fn server() -> Server {
    let s = Server::start(
        ServerOpts::new()
            .file("a.txt", "hello")
            .file("data.bin", random_bytes(200_000, 42))
            .file("d/inner.txt", "inner")
            .dir("e"),
    );
    set_mtime(&s.home().join("a.txt"), known_time());
    s
}

// ---------- curl ----------

#[test]
fn curl_lists_a_directory() {
    let s = server();
    let out = String::from_utf8(s.curl_ok(&[&s.url("")])).unwrap();
    for n in [" a.txt", " data.bin", " d", " e"] {
        assert!(out.lines().any(|l| l.ends_with(n)), "{n}: {out}");
    }
}

#[test]
fn curl_list_only_uses_nlst() {
    let s = server();
    let out = String::from_utf8(s.curl_ok(&["-l", &s.url("")])).unwrap();
    assert_eq!(sorted_lines(&out), ["a.txt", "d", "data.bin", "e"]);
}

#[test]
fn curl_downloads_a_file() {
    let s = server();
    s.curl_ok(&["-o", "got.bin", &s.url("data.bin")]);
    assert!(fs::read(s.local().join("got.bin")).unwrap() == random_bytes(200_000, 42));
}

#[test]
fn curl_downloads_from_a_subdir() {
    let s = server();
    assert_eq!(s.curl_ok(&[&s.url("d/inner.txt")]), b"inner");
    for method in ["nocwd", "singlecwd", "multicwd"] {
        let out = s.curl_ok(&["--ftp-method", method, &s.url("d/inner.txt")]);
        assert_eq!(out, b"inner", "--ftp-method {method}");
    }
}

#[test]
fn curl_uploads_with_t() {
    let s = server();
    let data = random_bytes(150_000, 1);
    fs::write(s.local().join("up.bin"), &data).unwrap();
    s.curl_ok(&["-T", "up.bin", &s.url("up.bin")]);
    assert!(fs::read(s.home().join("up.bin")).unwrap() == data);
}

#[test]
fn curl_uploads_into_a_dir_url() {
    let s = server();
    fs::write(s.local().join("named.txt"), "by name").unwrap();
    s.curl_ok(&["-T", "named.txt", &s.url("d/")]);
    assert_eq!(fs::read(s.home().join("d/named.txt")).unwrap(), b"by name");
}

#[test]
fn curl_appends() {
    let s = server();
    fs::write(s.local().join("more.txt"), " more").unwrap();
    s.curl_ok(&["--append", "-T", "more.txt", &s.url("a.txt")]);
    assert_eq!(fs::read(s.home().join("a.txt")).unwrap(), b"hello more");
}

#[test]
fn curl_quote_dele() {
    let s = server();
    let out = String::from_utf8(s.curl_ok(&["-Q", "DELE a.txt", &s.url("")])).unwrap();
    assert!(!s.home().join("a.txt").exists());
    assert!(!out.contains("a.txt"), "{out}");
}

#[test]
fn curl_quote_rename_after_transfer() {
    let s = server();
    s.curl_ok(&["-Q", "-RNFR a.txt", "-Q", "-RNTO b.txt", &s.url("")]);
    assert!(s.home().join("b.txt").exists() && !s.home().join("a.txt").exists());
}

#[test]
fn curl_ftp_create_dirs() {
    let s = server();
    fs::write(s.local().join("f.txt"), "deep").unwrap();
    s.curl_ok(&["--ftp-create-dirs", "-T", "f.txt", &s.url("n1/n2/n3/f.txt")]);
    assert_eq!(fs::read(s.home().join("n1/n2/n3/f.txt")).unwrap(), b"deep");
}

#[test]
fn curl_active_mode_with_ftp_port() {
    let s = server();
    let out = s.curl_ok(&["--ftp-port", "127.0.0.1", &s.url("data.bin")]);
    assert!(out == random_bytes(200_000, 42));
    fs::write(s.local().join("act.txt"), "active").unwrap();
    s.curl_ok(&[
        "--ftp-port",
        "127.0.0.1",
        "-T",
        "act.txt",
        &s.url("act.txt"),
    ]);
    assert_eq!(fs::read(s.home().join("act.txt")).unwrap(), b"active");
    let list = String::from_utf8(s.curl_ok(&["-P", "127.0.0.1", &s.url("")])).unwrap();
    assert!(list.contains("act.txt"), "{list}");
}

#[test]
fn curl_disable_epsv_uses_pasv() {
    let s = server();
    let out = s.curl(&["-v", "--disable-epsv", &s.url("a.txt")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(out.stdout, b"hello");
    assert!(err.contains("> PASV") && err.contains("< 227"), "{err}");
    assert!(!err.contains("> EPSV"), "{err}");
}

#[test]
fn curl_head_uses_size_and_mdtm() {
    let s = server();
    let out = String::from_utf8(s.curl_ok(&["-I", &s.url("a.txt")])).unwrap();
    assert!(out.contains("Content-Length: 5"), "{out}");
    assert!(
        out.contains("Last-Modified: Thu, 02 Jan 2020 03:04:05 GMT"),
        "{out}"
    );
}

#[test]
fn curl_range_download() {
    let s = server();
    assert_eq!(s.curl_ok(&["-r", "1-3", &s.url("a.txt")]), b"ell");
    let data = random_bytes(200_000, 42);
    let out = s.curl_ok(&["-r", "1000-1999", &s.url("data.bin")]);
    assert!(out == data[1000..2000]);
    // The session survives the early close; a later transfer works.
    assert_eq!(s.curl_ok(&[&s.url("a.txt")]), b"hello");
}

#[test]
fn curl_wrong_password_is_login_denied() {
    let s = server();
    let url = format!("ftp://u:bad@127.0.0.1:{}/", s.port());
    let out = s.curl(&[&url]);
    assert_eq!(out.status.code(), Some(67), "CURLE_LOGIN_DENIED expected");
}

#[test]
fn curl_missing_file_is_not_found() {
    let s = server();
    let out = s.curl(&[&s.url("nosuch.txt")]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "CURLE_REMOTE_FILE_NOT_FOUND expected"
    );
}

// ---------- lftp ----------

#[test]
fn lftp_ls() {
    let s = server();
    let out = s.lftp_ok("ls");
    for n in [" a.txt", " data.bin", " d", " e"] {
        assert!(out.lines().any(|l| l.ends_with(n)), "{n}: {out}");
    }
}

#[test]
fn lftp_cls() {
    let s = server();
    let out = s.lftp_ok("cls -1");
    assert_eq!(sorted_lines(&out), ["a.txt", "d/", "data.bin", "e/"]);
    let out = s.lftp_ok("cls -1 d");
    assert_eq!(lines(&out), ["d/inner.txt"]);
}

#[test]
fn lftp_put() {
    let s = server();
    let data = random_bytes(120_000, 3);
    fs::write(s.local().join("p.bin"), &data).unwrap();
    s.lftp_ok("put p.bin -o d/p.bin");
    assert!(fs::read(s.home().join("d/p.bin")).unwrap() == data);
}

#[test]
fn lftp_get() {
    let s = server();
    s.lftp_ok("get data.bin -o g.bin");
    assert!(fs::read(s.local().join("g.bin")).unwrap() == random_bytes(200_000, 42));
}

#[test]
fn lftp_cat() {
    let s = server();
    assert_eq!(s.lftp_ok("cat d/inner.txt"), "inner");
}

#[test]
fn lftp_rm() {
    let s = server();
    s.lftp_ok("rm a.txt");
    assert!(!s.home().join("a.txt").exists());
}

#[test]
fn lftp_mkdir_and_rmdir() {
    let s = server();
    s.lftp_ok("mkdir -p m1/m2");
    assert!(s.home().join("m1/m2").is_dir());
    s.lftp_ok("rmdir e");
    assert!(!s.home().join("e").exists());
}

#[test]
fn lftp_mv() {
    let s = server();
    s.lftp_ok("mv a.txt d/moved.txt");
    assert_eq!(fs::read(s.home().join("d/moved.txt")).unwrap(), b"hello");
    assert!(!s.home().join("a.txt").exists());
}

#[test]
fn lftp_mirror_down() {
    let s = server();
    make_tree(&s.home().join("tree"));
    s.lftp_ok("mirror tree dl");
    assert_eq!(tree(&s.local().join("dl")), tree(&s.home().join("tree")));
}

#[test]
fn lftp_mirror_up() {
    let s = server();
    make_tree(&s.local().join("up"));
    s.lftp_ok("mirror -R up remote_tree");
    assert_eq!(
        tree(&s.home().join("remote_tree")),
        tree(&s.local().join("up"))
    );
}

#[test]
fn lftp_resumes_a_get() {
    let s = server();
    let data = random_bytes(200_000, 42);
    fs::write(s.local().join("part.bin"), &data[..50_000]).unwrap();
    s.lftp_ok("get -c data.bin -o part.bin");
    assert!(fs::read(s.local().join("part.bin")).unwrap() == data);
}

// ---------- Python ftplib ----------

#[test]
fn ftplib_welcome_and_pwd() {
    let s = server();
    let out = s.python_ok("ftp = login()\nprint(ftp.getwelcome())\nprint(ftp.pwd())\nftp.quit()");
    let l = lines(&out);
    assert!(l[0].starts_with("220 ferroftpd "), "{out}");
    assert_eq!(l[1], "/");
}

#[test]
fn ftplib_storbinary_and_retrbinary() {
    let s = server();
    let data = random_bytes(300_000, 5);
    fs::write(s.local().join("in.bin"), &data).unwrap();
    s.python_ok(
        "ftp = login()\n\
         with open(os.path.join(LOCAL, 'in.bin'), 'rb') as f:\n\
         \x20   ftp.storbinary('STOR py.bin', f)\n\
         with open(os.path.join(LOCAL, 'out.bin'), 'wb') as f:\n\
         \x20   ftp.retrbinary('RETR py.bin', f.write)\n\
         ftp.quit()",
    );
    assert!(fs::read(s.home().join("py.bin")).unwrap() == data);
    assert!(fs::read(s.local().join("out.bin")).unwrap() == data);
}

#[test]
fn ftplib_nlst() {
    let s = server();
    let out = s.python_ok("ftp = login()\nprint('\\n'.join(sorted(ftp.nlst())))\nftp.quit()");
    assert_eq!(lines(&out), ["a.txt", "d", "data.bin", "e"]);
}

#[test]
fn ftplib_nlst_of_one_file_names_it_as_given() {
    let s = server();
    fs::write(s.home().join("d/.dot"), "x").unwrap();
    let out = s.python_ok(
        "ftp = login()\n\
         print(ftp.nlst('a.txt'))\n\
         print(ftp.nlst('/d/inner.txt'))\n\
         print(ftp.nlst('d/.dot'))\n\
         ftp.cwd('d')\n\
         print(ftp.nlst('.dot'))\n\
         ftp.cwd('/')\n\
         lines = []\n\
         ftp.retrlines('LIST ./a.txt', lines.append)\n\
         print(len(lines), lines[0].endswith(' ./a.txt'))\n\
         ftp.quit()",
    );
    assert_eq!(
        lines(&out),
        [
            "['a.txt']",
            "['/d/inner.txt']",
            "['d/.dot']",
            "['.dot']",
            "1 True"
        ]
    );
}

#[test]
fn ftplib_dir_lists() {
    let s = server();
    let out = s.python_ok("ftp = login()\nftp.dir('d')\nftp.quit()");
    let l = lines(&out);
    assert_eq!(l.len(), 1, "{out}");
    assert!(
        l[0].starts_with('-') && l[0].ends_with(" inner.txt"),
        "{out}"
    );
}

#[test]
fn ftplib_mlsd() {
    let s = server();
    let out = s.python_ok(
        "ftp = login()\n\
         for name, facts in sorted(ftp.mlsd()):\n\
         \x20   if facts['type'] in ('file', 'dir'):\n\
         \x20       print(name, facts['type'], facts.get('size', '-') if facts['type'] == 'file' else '-')\n\
         ftp.quit()",
    );
    assert_eq!(
        lines(&out),
        ["a.txt file 5", "d dir -", "data.bin file 200000", "e dir -"]
    );
}

#[test]
fn ftplib_rename_and_delete() {
    let s = server();
    s.python_ok(
        "ftp = login()\n\
         ftp.rename('a.txt', 'b.txt')\n\
         ftp.delete('d/inner.txt')\n\
         ftp.quit()",
    );
    assert!(s.home().join("b.txt").exists());
    assert!(!s.home().join("a.txt").exists());
    assert!(!s.home().join("d/inner.txt").exists());
}

#[test]
fn ftplib_size() {
    let s = server();
    let out = s
        .python_ok("ftp = login()\nftp.voidcmd('TYPE I')\nprint(ftp.size('data.bin'))\nftp.quit()");
    assert_eq!(out.trim(), "200000");
}

#[test]
fn ftplib_mkd_cwd_rmd() {
    let s = server();
    let out = s.python_ok(
        "ftp = login()\n\
         print(ftp.mkd('newdir'))\n\
         ftp.cwd('newdir')\n\
         print(ftp.pwd())\n\
         ftp.cwd('..')\n\
         ftp.rmd('newdir')\n\
         ftp.quit()",
    );
    assert_eq!(lines(&out), ["/newdir", "/newdir"]);
    assert!(!s.home().join("newdir").exists());
}

#[test]
fn ftplib_active_mode_port() {
    let s = server();
    let out = s.python_ok(
        "ftp = login()\n\
         ftp.set_pasv(False)\n\
         buf = io.BytesIO()\n\
         ftp.retrbinary('RETR a.txt', buf.write)\n\
         ftp.storbinary('STOR act.txt', io.BytesIO(b'port mode'))\n\
         print(buf.getvalue().decode())\n\
         print(sorted(ftp.nlst()))\n\
         ftp.quit()",
    );
    assert_eq!(
        lines(&out),
        ["hello", "['a.txt', 'act.txt', 'd', 'data.bin', 'e']"]
    );
    assert_eq!(fs::read(s.home().join("act.txt")).unwrap(), b"port mode");
}

#[test]
fn ftplib_wrong_password_raises_530() {
    let s = server();
    let out = s.python_ok(
        "ftp = ftplib.FTP()\n\
         ftp.connect(HOST, PORT, timeout=30)\n\
         try:\n\
         \x20   ftp.login(USER, 'wrong')\n\
         except ftplib.error_perm as e:\n\
         \x20   print(str(e)[:3])\n\
         ftp.login(USER, PASSWD)\n\
         print(ftp.pwd())",
    );
    assert_eq!(lines(&out), ["530", "/"]);
}

// ---------- suppaftp ----------

#[test]
fn suppaftp_put_and_get() {
    let s = server();
    let mut ftp = s.suppaftp();
    let data = random_bytes(250_000, 9);
    ftp.put_file("s.bin", &mut &data[..]).unwrap();
    assert!(fs::read(s.home().join("s.bin")).unwrap() == data);
    assert!(ftp.retr_as_buffer("s.bin").unwrap().into_inner() == data);
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_list_and_nlst() {
    let s = server();
    let mut ftp = s.suppaftp();
    let list = ftp.list(None).unwrap();
    assert!(list.iter().any(|l| l.ends_with(" a.txt")), "{list:?}");
    let parsed: Vec<suppaftp::list::File> = list.iter().map(|l| l.parse().unwrap()).collect();
    let a = parsed.iter().find(|f| f.name() == "a.txt").unwrap();
    assert_eq!(a.size(), 5);
    assert!(parsed
        .iter()
        .find(|f| f.name() == "d")
        .unwrap()
        .is_directory());
    let mut names = ftp.nlst(None).unwrap();
    names.sort();
    assert_eq!(names, ["a.txt", "d", "data.bin", "e"]);
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_mkdir_cwd_pwd_cdup_rmdir() {
    let s = server();
    let mut ftp = s.suppaftp();
    ftp.mkdir("sd").unwrap();
    ftp.cwd("sd").unwrap();
    assert_eq!(ftp.pwd().unwrap(), "/sd");
    ftp.cdup().unwrap();
    assert_eq!(ftp.pwd().unwrap(), "/");
    ftp.rmdir("sd").unwrap();
    assert!(!s.home().join("sd").exists());
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_rename_and_rm() {
    let s = server();
    let mut ftp = s.suppaftp();
    ftp.rename("a.txt", "r.txt").unwrap();
    ftp.rm("r.txt").unwrap();
    assert!(!s.home().join("a.txt").exists() && !s.home().join("r.txt").exists());
    assert!(ftp.rm("r.txt").is_err());
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_size_and_append() {
    let s = server();
    let mut ftp = s.suppaftp();
    assert_eq!(ftp.size("data.bin").unwrap(), 200_000);
    ftp.append_file("a.txt", &mut &b"+more"[..]).unwrap();
    assert_eq!(fs::read(s.home().join("a.txt")).unwrap(), b"hello+more");
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_active_mode() {
    let s = server();
    let mut ftp = s.suppaftp().active_mode(Duration::from_secs(30));
    assert_eq!(ftp.retr_as_buffer("a.txt").unwrap().into_inner(), b"hello");
    ftp.put_file("act.bin", &mut &b"act"[..]).unwrap();
    assert_eq!(fs::read(s.home().join("act.bin")).unwrap(), b"act");
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_feat() {
    let s = server();
    let mut ftp = s.suppaftp();
    let f = ftp.feat().unwrap();
    for k in [
        "UTF8", "SIZE", "MDTM", "MFMT", "REST", "EPRT", "EPSV", "TVFS", "MLST",
    ] {
        assert!(f.contains_key(k), "FEAT lacks {k}: {f:?}");
    }
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_ascii_put_converts() {
    let s = server();
    let mut ftp = s.suppaftp();
    ftp.transfer_type(FileType::Ascii(suppaftp::types::FormatControl::Default))
        .unwrap();
    // suppaftp sends LF as CRLF in TYPE A; the server stores LF.
    ftp.put_file("t.txt", &mut &b"l1\nl2\n"[..]).unwrap();
    assert_eq!(fs::read(s.home().join("t.txt")).unwrap(), b"l1\nl2\n");
    ftp.quit().unwrap();
}

#[test]
fn suppaftp_wrong_password() {
    let s = server();
    let mut ftp = FtpStream::connect(s.addr).unwrap();
    let err = ftp.login(USER, "wrong").unwrap_err();
    match err {
        suppaftp::FtpError::UnexpectedResponse(r) => assert_eq!(r.status.code(), 530),
        other => panic!("{other:?}"),
    }
    ftp.login(USER, PASS).unwrap();
    ftp.quit().unwrap();
}
