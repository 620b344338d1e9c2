//! A daemon started by hand, for the operations tests (lifecycle, privileges, logs, rc
//! scripts). Unlike tests/common's `Server` it keeps its `Child`, so a test can send signals
//! and read the exit status; it sets the environment (with or without
//! FERROFTPD_RUN_AS_ROOT) and the file modes a daemon that drops privileges needs. It is
//! killed by its PID on Drop; every wait has a deadline.
#![allow(dead_code)]

use crate::common::{self, Ctrl, PASS_HASH, SOON, STARTUP};
use serde_json::{json, Value};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// What to start.
pub struct Setup {
    pub config: Value,
    pub users: Vec<Value>,
    pub args: Vec<String>,
    /// Keep FERROFTPD_RUN_AS_ROOT (set by .cargo/config.toml) in the environment.
    pub root_env: bool,
    /// Make the tempdir traversable and the homes owned by this uid/gid (a daemon that
    /// drops to them must reach the homes).
    pub homes_owner: Option<(u32, u32)>,
    /// A command that runs the daemon: it is given the daemon's command line as its last
    /// arguments and must exec it (so the PID stays the daemon's).
    pub wrapper: Vec<String>,
}

impl Setup {
    pub fn new() -> Setup {
        Setup {
            config: common::base_config(),
            users: vec![common::user_json(common::USER)],
            args: Vec::new(),
            root_env: true,
            homes_owner: None,
            wrapper: Vec::new(),
        }
    }
    pub fn arg(mut self, a: &str) -> Setup {
        self.args.push(a.to_string());
        self
    }
    pub fn set(mut self, path: &str, v: impl Into<Value>) -> Setup {
        common::json_set(&mut self.config, path, v.into());
        self
    }
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
}

/// Is this test process root?
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Tests that need root fail loudly without it (CI runs as root), unless
/// FERROFTPD_SKIP_ROOT_TESTS=1 says a developer knowingly runs without.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("FERROFTPD_SKIP_ROOT_TESTS").is_some() {
        eprintln!("skipped: needs root (FERROFTPD_SKIP_ROOT_TESTS is set)");
        return false;
    }
    panic!("this test needs root (CI runs as root); set FERROFTPD_SKIP_ROOT_TESTS=1 to skip it");
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

impl Daemon {
    /// Writes the files and starts the daemon; panics with its log if it does not greet.
    pub fn start(setup: Setup) -> Daemon {
        let mut dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let mut users = setup.users.clone();
        for u in users.iter_mut() {
            let name = u["username"].as_str().unwrap().to_string();
            if u.get("home_dir").is_none() {
                u["home_dir"] = json!(root.join("homes").join(&name));
            }
            fs::create_dir_all(u["home_dir"].as_str().unwrap()).unwrap();
        }
        if let Some((uid, gid)) = setup.homes_owner {
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
            fs::set_permissions(root.join("homes"), fs::Permissions::from_mode(0o755)).unwrap();
            for u in &users {
                chown(Path::new(u["home_dir"].as_str().unwrap()), uid, gid);
            }
        }
        fs::write(
            root.join("users.json"),
            serde_json::to_vec_pretty(&json!({ "users": users })).unwrap(),
        )
        .unwrap();
        let config_path = root.join("ferroftpd.json");
        let log_path = root.join("ferroftpd.log");
        let mut config = setup.config.clone();
        for attempt in 0..5 {
            let port = common::free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
            common::json_set(&mut config, "/ftpd/bindings/0/port", json!(port));
            fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
            let mut cmd = match setup.wrapper.split_first() {
                Some((first, rest)) => {
                    let mut c = Command::new(first);
                    c.args(rest).arg(common::bin());
                    c
                }
                None => Command::new(common::bin()),
            };
            cmd.arg("--config")
                .arg(&config_path)
                .args(&setup.args)
                .current_dir("/")
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log_path).unwrap());
            if !setup.root_env {
                cmd.env_remove("FERROFTPD_RUN_AS_ROOT");
            }
            let child = cmd.spawn().unwrap();
            let mut d = Daemon {
                dir,
                child: Some(child),
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                config_path: config_path.clone(),
                log_path: log_path.clone(),
            };
            match d.wait_ready() {
                Ok(()) => return d,
                Err(log) if log.to_lowercase().contains("in use") && attempt < 4 => {
                    d.kill();
                    dir = std::mem::replace(&mut d.dir, tempfile::tempdir().unwrap());
                }
                Err(log) => panic!("ferroftpd did not start; its log:\n{log}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("exited with {st}\n{}", self.log()));
            }
            if let Ok(s) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)) {
                let mut c = Ctrl::from_stream(s);
                if c.try_reply().is_some_and(|r| r.code == 220) {
                    c.send("QUIT");
                    let _ = c.try_reply();
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("no greeting within {STARTUP:?}\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until the log has a line with every one of `parts`; returns it.
    pub fn wait_log_line(&self, parts: &[&str]) -> String {
        common::wait_until(SOON, || {
            self.log()
                .lines()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no log line with {parts:?}; log:\n{}", self.log()))
    }

    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("homes").join(user)
    }

    /// A control connection, greeting read.
    pub fn ctrl(&self) -> Ctrl {
        Ctrl::connect(self.addr)
    }

    /// A control connection logged in as the default user.
    pub fn login(&self) -> Ctrl {
        let mut c = self.ctrl();
        c.login(common::USER, common::PASS);
        c
    }

    /// Sends a signal by name (TERM, HUP, INT) with kill(1).
    pub fn signal(&self, sig: &str) {
        send_signal(self.pid(), sig);
    }

    /// Waits for the daemon to exit (panics after `limit`, killing it).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("already reaped");
        let st = common::wait_until(limit, || child.try_wait().unwrap());
        match st {
            Some(st) => {
                self.child = None;
                st
            }
            None => {
                self.kill();
                panic!(
                    "ferroftpd still running after {limit:?}; log:\n{}",
                    self.log()
                );
            }
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn send_signal(pid: u32, sig: &str) {
    let st = common::tool("kill", "procps or util-linux provides kill(1)")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -s {sig} {pid}: {st}");
}

/// Runs the daemon to completion with `args` (it must exit within [`SOON`]).
pub fn run_to_exit(args: &[&str], root_env: bool) -> Output {
    let mut cmd = Command::new(common::bin());
    cmd.args(args).current_dir("/").env_remove("RUST_LOG");
    if !root_env {
        cmd.env_remove("FERROFTPD_RUN_AS_ROOT");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if common::wait_until(SOON, || child.try_wait().unwrap()).is_none() {
        let _ = child.kill();
        panic!("ferroftpd {args:?} did not exit within {SOON:?}");
    }
    child.wait_with_output().unwrap()
}

/// A minimal config file and users file in `dir`, for runs that must fail at startup.
pub fn write_minimal(dir: &Path) -> PathBuf {
    let mut config = common::base_config();
    common::json_set(
        &mut config,
        "/ftpd/bindings/0/port",
        json!(common::free_port(IpAddr::V4(Ipv4Addr::LOCALHOST))),
    );
    let home = dir.join("home");
    fs::create_dir_all(&home).unwrap();
    let users = json!({"users": [{"username": "u", "password": PASS_HASH, "status": 1,
        "home_dir": home, "permissions": {"/": ["*"]}}]});
    fs::write(dir.join("users.json"), users.to_string()).unwrap();
    let path = dir.join("ferroftpd.json");
    fs::write(&path, config.to_string()).unwrap();
    path
}

/// Owner (uid, gid) of a file.
pub fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

/// The `Uid:`/`Gid:`/`Groups:`/`CapEff:` lines of /proc/PID/status, and those of every
/// thread (task) of the process.
pub fn credentials(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    for t in tasks {
        let status = fs::read_to_string(t.unwrap().path().join("status")).unwrap_or_default();
        for l in status.lines() {
            if ["Uid:", "Gid:", "Groups:", "CapEff:", "CapPrm:"]
                .iter()
                .any(|k| l.starts_with(k))
            {
                out.push(l.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
    }
    out
}
