//! The service files and `make install` (README "Running it for real"): the LSB init.d
//! script really starts, reloads, reports on and stops the daemon; the FreeBSD and OpenBSD
//! rc.d scripts parse and carry their rc.subr lines; the systemd unit passes
//! `systemd-analyze verify`; `make install` stages binary, pages, samples and scripts with
//! the install paths written in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{tool, wait_until, Ctrl, SOON};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Kills whatever the pidfile names when the test ends, however it ends.
struct PidGuard(PathBuf);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

#[test]
fn initd_script_starts_reloads_and_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let port = common::free_port("127.0.0.1".parse().unwrap());
    let mut config = common::base_config();
    common::json_set(&mut config, "/ftpd/bindings/0/port", port.into());
    std::fs::write(dir.path().join("ferroftpd.json"), config.to_string()).unwrap();
    let mut user = common::user_json(common::USER);
    user["home_dir"] = home.to_str().unwrap().into();
    std::fs::write(
        dir.path().join("users.json"),
        serde_json::json!({ "users": [user] }).to_string(),
    )
    .unwrap();
    let pidfile = dir.path().join("ferroftpd.pid");
    let log = dir.path().join("ferroftpd.log");
    let defaults = dir.path().join("default");
    std::fs::write(
        &defaults,
        format!(
            "DAEMON={}\nCONFIG={}\nPIDFILE={}\nLOGFILE={}\nDAEMON_ARGS=\"--run-as-root --grace 5\"\nSTOP_TIMEOUT=20\n",
            common::bin(),
            dir.path().join("ferroftpd.json").display(),
            pidfile.display(),
            log.display()
        ),
    )
    .unwrap();
    let _guard = PidGuard(pidfile.clone());
    let script = root().join("etc/init.d/ferroftpd");
    let initd = |action: &str| {
        run(tool("sh", "a POSIX shell")
            .arg(&script)
            .arg(action)
            .env("FERROFTPD_DEFAULTS", &defaults)
            .env_remove("FERROFTPD_RUN_AS_ROOT"))
    };

    assert_eq!(initd("status").status.code(), Some(3), "stopped at first");
    let out = initd("start");
    assert!(
        out.status.success(),
        "log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("pid {pid}")));
    // It serves.
    let mut c = Ctrl::connect(format!("127.0.0.1:{port}").parse().unwrap());
    c.login(common::USER, common::PASS);
    c.cmd("QUIT", 221);
    assert_eq!(initd("status").status.code(), Some(0));
    // A second start sees it running and starts nothing.
    assert!(initd("start").status.success());
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string()
    );
    assert!(initd("reload").status.success());
    wait_until(SOON, || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("SIGHUP: reloading"))
    })
    .expect("no reload in the log");
    assert!(initd("configtest").status.success());
    assert!(initd("stop").status.success());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .contains("zombie"),
        "still running after stop"
    );
    assert!(!pidfile.exists(), "pidfile left after a clean stop");
    assert_eq!(initd("status").status.code(), Some(3));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("stopped: every session has ended"));

    // A configuration error: start fails and says why.
    std::fs::write(dir.path().join("ferroftpd.json"), "{\"ftpd\": 5}").unwrap();
    let out = initd("start");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ftpd: expected an object"));
}

/// The init.d script with a stub daemon (its configtest passes, its start fails): what
/// `start` leaves in LOGDIR for `args`.
fn initd_logdir_after_start(args: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("stub");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let logdir = dir.path().join("logs");
    let defaults = dir.path().join("default");
    std::fs::write(
        &defaults,
        format!(
            "DAEMON={}\nPIDFILE={}\nLOGDIR={}\nDAEMON_ARGS=\"{args}\"\n",
            stub.display(),
            dir.path().join("pid").display(),
            logdir.display()
        ),
    )
    .unwrap();
    let out = run(tool("sh", "a POSIX shell")
        .arg(root().join("etc/init.d/ferroftpd"))
        .arg("start")
        .env("FERROFTPD_DEFAULTS", &defaults));
    // The stub exits at once: the start itself fails, after the log directory step.
    assert!(!out.status.success());
    (dir, logdir)
}

#[test]
fn initd_script_makes_the_log_directory_only_for_log_options() {
    let (_d, logdir) = initd_logdir_after_start("--syslog --user nobody");
    assert!(!logdir.exists(), "created without --xferlog/--json-log");
    if !daemon_is_root() {
        return;
    }
    for args in [
        "--user nobody --xferlog /x/xferlog",
        "--json-log=/x/j -u nobody",
        "--user=nobody --json-log /x/j",
    ] {
        let (_d, logdir) = initd_logdir_after_start(args);
        let meta =
            std::fs::metadata(&logdir).unwrap_or_else(|e| panic!("{args}: no log directory: {e}"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.uid(), 65534, "{args}: owned by nobody");
        assert_eq!(meta.mode() & 0o777, 0o750, "{args}");
    }
}

/// Is this test process root (chown needs it)?
fn daemon_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn rc_scripts_parse_and_have_their_rc_subr_lines() {
    for (script, lines) in [
        (
            "etc/rc.d/ferroftpd",
            &[
                ". /etc/rc.subr",
                "rcvar=\"ferroftpd_enable\"",
                ": ${ferroftpd_enable:=\"NO\"}",
                ": ${ferroftpd_config:=\"/usr/local/etc/ferroftpd/ferroftpd.json\"}",
                "load_rc_config $name",
                "pidfile=",
                "command=\"/usr/sbin/daemon\"",
                "extra_commands=\"configtest reload\"",
                "sig_reload=\"HUP\"",
                "ferroftpd_logdir ${rc_flags}",
                "install -d -o \"${_user}\" -m 0750 \"${ferroftpd_logdir}\"",
                "# PROVIDE: ferroftpd",
                "# KEYWORD: shutdown",
                "run_rc_command \"$1\"",
            ][..],
        ),
        (
            "etc/rc.d/ferroftpd.openbsd",
            &[
                "daemon=\"/usr/local/sbin/ferroftpd\"",
                "daemon_flags=",
                ". /etc/rc.d/rc.subr",
                "rc_bg=YES",
                "rc_reload=YES",
                "rc_configtest()",
                "daemon_timeout=35",
                "rc_pre()",
                "install -d -o \"${_user}\" -m 0750 \"/var/log/ferroftpd\"",
                "rc_cmd $1",
            ][..],
        ),
        (
            "etc/init.d/ferroftpd",
            &[
                "### BEGIN INIT INFO",
                "# Provides:          ferroftpd",
                "# Required-Start:    $network $remote_fs $syslog",
                "### END INIT INFO",
                "--pidfile \"$PIDFILE\"",
            ][..],
        ),
    ] {
        let out = run(tool("sh", "a POSIX shell")
            .arg("-n")
            .arg(root().join(script)));
        assert!(out.status.success(), "sh -n {script}");
        let text = read(script);
        for l in lines {
            assert!(text.contains(l), "{script} lacks {l:?}");
        }
        let mode = std::fs::metadata(root().join(script)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert!(
            mode.permissions().mode() & 0o111 != 0,
            "{script} is not executable"
        );
    }
}

#[test]
fn systemd_unit_verifies() {
    let unit = read("etc/systemd/ferroftpd.service");
    for key in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "--user ferroftpd",
        "ReadWritePaths=-/srv/ftp ",
        "log directories need their own ReadWritePaths",
    ] {
        assert!(unit.contains(key), "the unit lacks {key}");
    }
    // The installed binary's path and the man pages do not exist here: point at the built
    // binary, and leave Documentation out, so verify checks the directives themselves.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ferroftpd.service");
    let text: String = unit
        .replace("/usr/local/sbin/ferroftpd", common::bin())
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&copy, text).unwrap();
    let out = run(tool("systemd-analyze", ".ci/run installs systemd")
        .arg("verify")
        .arg(&copy));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn make_install_stages_everything_with_its_paths() {
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    let make = |target: &str| {
        run(tool("make", ".ci/run installs make")
            .arg("-s")
            .arg(target)
            .arg(format!("BIN={}", common::bin()))
            .arg(format!("DESTDIR={}", d.display()))
            .arg("PREFIX=/opt/ftp")
            .current_dir(root()))
    };
    assert!(make("install").status.success());
    for f in [
        "opt/ftp/sbin/ferroftpd",
        "opt/ftp/share/man/man8/ferroftpd.8",
        "opt/ftp/share/man/man5/ferroftpd.json.5",
        "opt/ftp/etc/ferroftpd/ferroftpd.json",
        "opt/ftp/etc/ferroftpd/ferroftpd.json.sample",
        "opt/ftp/etc/ferroftpd/users.json.sample",
        "opt/ftp/share/examples/ferroftpd/rc.d.freebsd",
        "opt/ftp/share/examples/ferroftpd/rc.d.openbsd",
        "opt/ftp/share/examples/ferroftpd/init.d.lsb",
        "opt/ftp/share/examples/ferroftpd/ferroftpd.service",
        "etc/init.d/ferroftpd",
        "etc/systemd/system/ferroftpd.service",
    ] {
        assert!(d.join(f).is_file(), "make install did not install {f}");
    }
    let initd = std::fs::read_to_string(d.join("etc/init.d/ferroftpd")).unwrap();
    assert!(initd.contains("DAEMON=/opt/ftp/sbin/ferroftpd"), "{initd}");
    assert!(initd.contains("CONFIG=/opt/ftp/etc/ferroftpd/ferroftpd.json"));
    let unit = std::fs::read_to_string(d.join("etc/systemd/system/ferroftpd.service")).unwrap();
    assert!(unit.contains(
        "ExecStart=/opt/ftp/sbin/ferroftpd --config /opt/ftp/etc/ferroftpd/ferroftpd.json"
    ));
    assert!(make("uninstall").status.success());
    for f in [
        "opt/ftp/sbin/ferroftpd",
        "etc/init.d/ferroftpd",
        "etc/systemd/system/ferroftpd.service",
        "opt/ftp/share/examples/ferroftpd",
    ] {
        assert!(!d.join(f).exists(), "make uninstall left {f}");
    }
    assert!(
        d.join("opt/ftp/etc/ferroftpd/ferroftpd.json").exists(),
        "the configuration stays"
    );
}
