//! Command line and configuration: `--check-config` (exit 0/1, one-line errors naming the
//! file and the dotted key, warnings for unimplemented SFTPGo keys and unknown keys),
//! startup errors, usage errors, `hash-password`, password formats in the users file,
//! bindings (address forms, disabled bindings) and the startup log line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::{json, Value};

/// A tempdir holding ferroftpd.json (from `config`) and a valid users.json.
struct Files {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Files {
    fn new(config: &Value) -> Files {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("home")).unwrap();
        let path = dir.path().join("ferroftpd.json");
        fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let f = Files { dir, path };
        f.set_user(user_json(USER));
        f
    }
    fn with(path: &str, value: Value) -> Files {
        let mut c = base_config();
        json_set(&mut c, path, value);
        Files::new(&c)
    }
    fn raw(text: &str) -> Files {
        let f = Files::new(&base_config());
        fs::write(&f.path, text).unwrap();
        f
    }
    /// Replace users.json with one user; `home_dir` defaults to the tempdir's home.
    fn set_user(&self, mut user: Value) {
        if user.get("home_dir").is_none() {
            user["home_dir"] = json!(self.dir.path().join("home"));
        }
        fs::write(
            self.dir.path().join("users.json"),
            serde_json::to_vec(&json!({ "users": [user] })).unwrap(),
        )
        .unwrap();
    }
    fn p(&self) -> String {
        self.path.display().to_string()
    }
    fn check(&self) -> Output {
        daemon(&["--check-config", "--config", &self.p()])
    }
    /// The config must be refused with exactly one `ferroftpd: FILE: ...` line; returns it.
    fn error_line(&self) -> String {
        let out = self.check();
        one_error_line(&out)
    }
}

/// Run the daemon with `args` from "/" (so relative paths only work from the config dir).
fn daemon(args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir("/").env_remove("RUST_LOG");
    let scratch = tempfile::tempdir().unwrap();
    run_bounded(&mut cmd, scratch.path())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn one_error_line(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr:\n{err}");
    let l = lines(&err);
    assert_eq!(l.len(), 1, "exactly one line expected:\n{err}");
    assert!(l[0].starts_with("ferroftpd: "), "{err}");
    l[0].clone()
}

fn assert_clean_ok(out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    assert!(!err.contains("warning"), "unexpected warning:\n{err}");
}

fn warnings(out: &Output) -> Vec<String> {
    lines(&stderr(out))
        .into_iter()
        .filter(|l| l.starts_with("ferroftpd: warning: "))
        .collect()
}

/// The config passes with exactly one warning, `ferroftpd: warning: [FILE: ]KEY: message`.
fn assert_one_warning(f: &Files, key_and_message: &str) {
    let out = f.check();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let w = warnings(&out);
    let plain = format!("ferroftpd: warning: {key_and_message}");
    let with_file = format!("ferroftpd: warning: {}: {key_and_message}", f.p());
    assert!(
        w.len() == 1 && (w[0] == plain || w[0] == with_file),
        "expected one warning {plain:?}, got {w:?}"
    );
}

#[test]
fn check_config_accepts_a_good_file() {
    let f = Files::new(&base_config());
    assert_clean_ok(&f.check());
}

#[test]
fn check_config_accepts_the_contract_example() {
    let example = json!({
      "common": {"idle_timeout": 15, "upload_mode": 0, "max_total_connections": 0,
                 "max_per_host_connections": 20, "server_version": ""},
      "ftpd": {
        "bindings": [{"address": "127.0.0.1", "port": 2121, "force_passive_ip": "",
                      "passive_host": "", "passive_ip_overrides": [{"networks": ["10.0.0.0/8"], "ip": "192.0.2.1"}],
                      "passive_connections_security": 0, "active_connections_security": 0,
                      "ignore_ascii_transfer_type": 0, "debug": false, "tls_mode": 0}],
        "banner_file": "", "banner": "",
        "passive_port_range": {"start": 50000, "end": 50100},
        "disable_active_mode": false, "active_transfers_port_non_20": true
      },
      "data_provider": {"driver": "memory", "name": "users.json", "users_base_dir": "",
                        "password_hashing": {"bcrypt_options": {"cost": 10}}}
    });
    let f = Files::new(&example);
    assert_clean_ok(&f.check());
}

#[test]
fn short_flags_n_and_c() {
    let f = Files::new(&base_config());
    assert_clean_ok(&daemon(&["-n", "-c", &f.p()]));
}

#[test]
fn relative_users_file_is_found_from_the_config_dir() {
    // daemon() runs from "/", and the config says "name": "users.json".
    let f = Files::new(&base_config());
    assert_clean_ok(&f.check());
    fs::rename(
        f.dir.path().join("users.json"),
        f.dir.path().join("u2.json"),
    )
    .unwrap();
    assert_eq!(f.check().status.code(), Some(1));
}

#[test]
fn port_out_of_range_names_file_and_key() {
    let f = Files::with("/ftpd/bindings/0/port", json!(70000));
    assert_eq!(
        f.error_line(),
        format!(
            "ferroftpd: {}: ftpd.bindings[0].port: 70000 is out of range 0 to 65535",
            f.p()
        )
    );
}

#[test]
fn second_binding_error_names_its_index() {
    let f = Files::with(
        "/ftpd/bindings",
        json!([{"address": "127.0.0.1", "port": 2121}, {"address": "127.0.0.1", "port": 99999}]),
    );
    let l = f.error_line();
    assert!(
        l.starts_with(&format!("ferroftpd: {}: ftpd.bindings[1].port: ", f.p())),
        "{l}"
    );
}

#[test]
fn passive_range_start_greater_than_end() {
    let f = Files::with("/ftpd/passive_port_range", json!({"start": 9, "end": 5}));
    assert_eq!(
        f.error_line(),
        format!(
            "ferroftpd: {}: ftpd.passive_port_range: start 9 is greater than end 5",
            f.p()
        )
    );
}

#[test]
fn unreadable_users_file() {
    let f = Files::with("/data_provider/name", json!("missing-users.json"));
    let l = f.error_line();
    let users = f.dir.path().join("missing-users.json");
    assert!(l.contains("cannot read"), "{l}");
    assert!(
        l.contains(&format!("ferroftpd: {}: ", users.display()))
            || l.starts_with(&format!("ferroftpd: {}: data_provider.name: ", f.p())),
        "must name the file and the key: {l}"
    );
    assert!(l.contains("missing-users.json"), "{l}");
}

#[test]
fn malformed_json_gives_line_and_column() {
    let f = Files::raw("{\n  \"common\": {\n    \"idle_timeout\": ,\n  }\n}\n");
    let l = f.error_line();
    let prefix = format!("ferroftpd: {}: invalid JSON at line 3 column ", f.p());
    assert!(l.starts_with(&prefix), "{l}");
    let col = l[prefix.len()..].split(':').next().unwrap();
    assert!(col.parse::<u32>().is_ok(), "{l}");
}

#[test]
fn malformed_users_json_names_the_users_file() {
    let f = Files::new(&base_config());
    fs::write(f.dir.path().join("users.json"), "{\"users\": [\n{,}]}").unwrap();
    let l = f.error_line();
    assert!(l.contains("users.json"), "{l}");
    assert!(l.contains("line 2 column"), "{l}");
}

#[test]
fn unsupported_driver() {
    let f = Files::with("/data_provider/driver", json!("sqlite"));
    let l = f.error_line();
    assert!(
        l.starts_with(&format!(
            "ferroftpd: {}: data_provider.driver: \"sqlite\" is not supported",
            f.p()
        )),
        "{l}"
    );
}

#[test]
fn tls_mode_1_without_a_certificate_is_an_error() {
    let f = Files::with("/ftpd/bindings/0/tls_mode", json!(1));
    let l = f.error_line();
    assert!(
        l.starts_with(&format!(
            "ferroftpd: {}: ftpd.bindings[0].tls_mode: ",
            f.p()
        )),
        "{l}"
    );
}

#[test]
fn wrong_value_type_names_the_key() {
    let f = Files::with("/common/idle_timeout", json!("soon"));
    let l = f.error_line();
    assert!(l.contains("common.idle_timeout"), "{l}");
}

#[test]
fn bad_binding_address_names_the_key() {
    let f = Files::with("/ftpd/bindings/0/address", json!("not-an-address"));
    let l = f.error_line();
    assert!(
        l.starts_with(&format!("ferroftpd: {}: ftpd.bindings[0].address: ", f.p())),
        "{l}"
    );
}

#[test]
fn all_bindings_disabled_is_an_error() {
    let f = Files::with("/ftpd/bindings/0/port", json!(0));
    let l = f.error_line();
    assert!(l.contains("ftpd.bindings"), "{l}");
}

#[test]
fn a_disabled_binding_beside_an_enabled_one_is_fine() {
    let f = Files::with(
        "/ftpd/bindings",
        json!([{"address": "127.0.0.1", "port": 2121}, {"address": "127.0.0.1", "port": 0}]),
    );
    assert_clean_ok(&f.check());
}

#[test]
fn relative_home_dir_is_an_error() {
    let f = Files::new(&base_config());
    let mut user = user_json(USER);
    user["home_dir"] = json!("relative/home");
    f.set_user(user);
    let l = f.error_line();
    assert!(l.contains("home_dir"), "{l}");
}

#[test]
fn permissions_without_root_is_an_error() {
    let f = Files::new(&base_config());
    let mut user = user_json(USER);
    user["permissions"] = json!({"/sub": ["*"]});
    f.set_user(user);
    let l = f.error_line();
    assert!(l.contains("permissions"), "{l}");
}

#[test]
fn sftpgo_key_not_implemented_warns() {
    let f = Files::with("/common/post_connect_hook", json!("/bin/true"));
    assert_one_warning(
        &f,
        "common.post_connect_hook: an SFTPGo key ferroftpd does not implement yet; ignored",
    );
}

#[test]
fn unknown_key_warns_as_a_typo() {
    let f = Files::with("/common/idle_timout", json!(5));
    assert_one_warning(&f, "common.idle_timout: unknown key (a typo?); ignored");
}

#[test]
fn unknown_key_in_a_binding_warns_with_its_index() {
    let f = Files::with("/ftpd/bindings/0/adress", json!("127.0.0.1"));
    assert_one_warning(
        &f,
        "ftpd.bindings[0].adress: unknown key (a typo?); ignored",
    );
}

#[test]
fn non_ftp_sftpgo_sections_are_ignored_silently() {
    let mut c = base_config();
    for (k, v) in [
        ("sftpd", json!({"bindings": [{"port": 2022}]})),
        ("httpd", json!({"bindings": [{"port": 8080}]})),
        ("webdavd", json!({"bindings": [{"port": 0}]})),
        ("telemetry", json!({"bind_port": 0})),
        ("kms", json!({"secrets": {}})),
    ] {
        json_set(&mut c, &format!("/{k}"), v);
    }
    assert_clean_ok(&Files::new(&c).check());
}

#[test]
fn startup_with_a_bad_config_exits_1_with_the_same_line() {
    let f = Files::with("/ftpd/bindings/0/port", json!(70000));
    let out = daemon(&["--config", &f.p()]);
    let l = one_error_line(&out);
    assert!(l.contains("ftpd.bindings[0].port"), "{l}");
}

#[test]
fn missing_config_file_exits_1() {
    let out = daemon(&["--check-config", "--config", "/nonexistent/ferroftpd.json"]);
    let l = one_error_line(&out);
    assert!(l.contains("/nonexistent/ferroftpd.json"), "{l}");
}

#[test]
fn unknown_flag_is_a_usage_error_exit_2() {
    let out = daemon(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn version_flag() {
    let out = daemon(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn help_flag_documents_the_options() {
    let out = daemon(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--config", "--check-config", "hash-password"] {
        assert!(text.contains(opt), "--help lacks {opt}:\n{text}");
    }
}

/// Run `ferroftpd hash-password` with `password` on stdin; returns the hash.
fn hash_password(password: &str) -> String {
    let mut child = Command::new(bin())
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let l = lines(&text);
    assert_eq!(l.len(), 1, "{text}");
    l[0].clone()
}

/// A server whose user `u` has `password` as stored password; log in with `plain`.
fn login_with_stored(stored: &str, plain: &str) -> Server {
    let s = Server::start(ServerOpts::new().user_set(USER, "/password", stored));
    let mut ftp = s.suppaftp_as(USER, plain);
    ftp.pwd().unwrap();
    ftp.quit().unwrap();
    let mut c = s.ftp_raw();
    c.cmd("USER u", 331);
    c.cmd("PASS not-the-password", 530);
    s
}

#[test]
fn hash_password_output_verifies_via_login() {
    let h = hash_password("Hash-Me 42");
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    login_with_stored(&h, "Hash-Me 42");
}

#[test]
fn plain_text_password_is_hashed_at_load_with_a_warning() {
    let s = login_with_stored("plain-pw", "plain-pw");
    let log = s.log();
    assert!(log.contains("warning") || log.contains("WARN"), "{log}");
    assert!(!log.contains("plain-pw"), "password in the log:\n{log}");
}

fn openssl_passwd(flag: &str, pw: &str) -> String {
    let mut cmd = tool("openssl", "apt-get install -y openssl");
    cmd.args(["passwd", flag, "-salt", "s4ltS4lt", pw]);
    let scratch = tempfile::tempdir().unwrap();
    let out = run_bounded(&mut cmd, scratch.path());
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn md5crypt_password() {
    let h = openssl_passwd("-1", "md5-pw");
    assert!(h.starts_with("$1$"), "{h}");
    login_with_stored(&h, "md5-pw");
}

#[test]
fn sha256crypt_password() {
    let h = openssl_passwd("-5", "sha256-pw");
    assert!(h.starts_with("$5$"), "{h}");
    login_with_stored(&h, "sha256-pw");
}

#[test]
fn sha512crypt_password() {
    let h = openssl_passwd("-6", "sha512-pw");
    assert!(h.starts_with("$6$"), "{h}");
    login_with_stored(&h, "sha512-pw");
}

/// SFTPGo's PBKDF2 form, computed by Python's hashlib: `$pbkdf2-<algo>$<iterations>$<salt>$<b64 key>`
/// (`b64salt`: the salt is stored base64-encoded and used decoded).
fn python_pbkdf2(algo: &str, pw: &str, b64salt: bool) -> String {
    let script = format!(
        r#"import base64, hashlib
salt = b"s4ltS4ltS4lt"
key = base64.b64encode(hashlib.pbkdf2_hmac("{algo}", {pw:?}.encode(), salt, 1000)).decode()
if {b64}:
    print("$pbkdf2-b64salt-{algo}$1000$" + base64.b64encode(salt).decode() + "$" + key)
else:
    print("$pbkdf2-{algo}$1000$" + salt.decode() + "$" + key)
"#,
        b64 = if b64salt { "True" } else { "False" }
    );
    let mut cmd = tool("python3", "apt-get install -y python3");
    cmd.args(["-c", &script]);
    let scratch = tempfile::tempdir().unwrap();
    let out = run_bounded(&mut cmd, scratch.path());
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn pbkdf2_passwords_in_sftpgo_form() {
    for (algo, b64) in [
        ("sha256", false),
        ("sha512", false),
        ("sha1", false),
        ("sha256", true),
    ] {
        let pw = format!("pbkdf2-{algo}-pw");
        let h = python_pbkdf2(algo, &pw, b64);
        login_with_stored(&h, &pw);
    }
}

#[test]
fn argon2id_password() {
    // argon2-cffi's PasswordHasher(memory_cost=1024, time_cost=1, parallelism=2) of
    // "ferro secret", as SFTPGo stores argon2id (a vector of src/auth/hash.rs too).
    login_with_stored(
        "$argon2id$v=19$m=1024,t=1,p=2$iXqYpCaWP7e/tJkLRYoBdA$dcVJoI5TVD/6nhTvFmtJNprDXhhYl4/Zss0uSU28bcY",
        "ferro secret",
    );
}

#[test]
fn bcrypt_2y_password() {
    // htpasswd -nbBC 4 u secret, as written by Apache tools.
    login_with_stored(
        "$2y$04$xjkhUTi5XroCkP/mz.Cf8uLoujSl2h.2PMWruYmal4lHZjKLBuWxa",
        PASS,
    );
}

#[test]
fn startup_logs_listening_line() {
    let s = Server::start(ServerOpts::new());
    s.wait_log(&format!("listening on 127.0.0.1:{}", s.port()));
}

#[test]
fn empty_address_listens_on_all_interfaces() {
    let s = Server::start(ServerOpts::new().binding("address", ""));
    s.ftp_login().cmd("PWD", 257);
    // Reachable on another loopback address too.
    let other = std::net::SocketAddr::new("127.0.0.2".parse().unwrap(), s.port());
    Ctrl::connect(other);
}

#[test]
fn bracketed_ipv6_address_is_accepted() {
    let s = Server::start(ServerOpts::new().ipv6().binding("address", "[::1]"));
    s.ftp_login().cmd("PWD", 257);
    s.wait_log(&format!("listening on [::1]:{}", s.port()));
}

#[test]
fn server_version_and_debug_keys_are_accepted() {
    let s = Server::start(
        ServerOpts::new()
            .common("server_version", "x")
            .binding("debug", true),
    );
    s.ftp_login();
    // Only warnings about the configuration count (CI runs as root, which warns too).
    let log = s.log();
    let config_warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("warning") || l.contains("WARN"))
        .filter(|l| !l.contains("serving as root"))
        .collect();
    assert!(config_warnings.is_empty(), "{log}");
}

#[test]
fn debug_flag_logs_at_debug_level() {
    let s = Server::start(ServerOpts::new().arg("-d"));
    s.ftp_login().cmd("NOOP", 200);
    s.wait_log("DEBUG");
}

#[test]
fn info_is_the_default_level() {
    let s = Server::start(ServerOpts::new());
    s.ftp_login().cmd("NOOP", 200);
    s.wait_log("login user=u ");
    assert!(!s.log().contains("DEBUG"), "{}", s.log());
}

#[test]
fn default_config_path() {
    assert!(!std::path::Path::new("/usr/local/etc/ferroftpd/ferroftpd.json").exists());
    let out = daemon(&["-n"]);
    let l = one_error_line(&out);
    assert!(l.contains("/usr/local/etc/ferroftpd/ferroftpd.json"), "{l}");
}
