//! Integration-test harness: runs the built `ferroftpd` on loopback with a tempdir config
//! and users file, and drives it with real clients (raw control connections, curl, lftp,
//! Python's ftplib, the suppaftp crate).
//!
//! Every server gets a fresh free port (bound and dropped, startup retried on "address in
//! use"), an ephemeral passive port range, and is killed by PID on Drop. Waits are
//! deadlines, never fixed sleeps; a missing client tool fails the test loudly.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use suppaftp::types::FileType;
use suppaftp::FtpStream;

/// The default user every server has.
pub const USER: &str = "u";
/// Its password.
pub const PASS: &str = "secret";
/// bcrypt (cost 4, fast) of [`PASS`].
pub const PASS_HASH: &str = "$2a$04$xjkhUTi5XroCkP/mz.Cf8uLoujSl2h.2PMWruYmal4lHZjKLBuWxa";

/// How long the daemon may take to greet after it is started.
pub const STARTUP: Duration = Duration::from_secs(10);
/// How long any single reply or data read may take before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Generous deadline for things that happen "soon" (log lines, file cleanup).
pub const SOON: Duration = Duration::from_secs(10);
/// Upper bound for a client tool run.
pub const TOOL_LIMIT: Duration = Duration::from_secs(120);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Path of the daemon binary cargo built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferroftpd")
}

/// A users-file entry for `name` with the test password and full permissions.
/// `home_dir` is filled in by [`Server::start`] when absent.
pub fn user_json(name: &str) -> Value {
    json!({
        "username": name,
        "password": PASS_HASH,
        "status": 1,
        "permissions": {"/": ["*"]},
        "expiration_date": 0,
        "filters": {"allowed_ip": [], "denied_ip": []}
    })
}

/// A minimal valid config; the binding port is set by [`Server::start`].
pub fn base_config() -> Value {
    json!({
        "common": {"idle_timeout": 15, "upload_mode": 0, "max_total_connections": 0,
                   "max_per_host_connections": 20},
        "ftpd": {
            "bindings": [{"address": "127.0.0.1", "port": 2121}],
            "passive_port_range": {"start": 0, "end": 0}
        },
        "data_provider": {"driver": "memory", "name": "users.json"}
    })
}

/// Set `value` at a JSON-pointer `path` ("/ftpd/bindings/0/port", `~1` for '/'),
/// creating objects on the way.
pub fn json_set(root: &mut Value, path: &str, value: Value) {
    let mut cur = root;
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (last, dirs) = parts.split_last().unwrap();
    for p in dirs {
        cur = match cur {
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            Value::Object(o) => o.entry(p.clone()).or_insert_with(|| json!({})),
            other => panic!("json_set: {path}: {other} is not a container"),
        };
    }
    match cur {
        Value::Array(a) => a[last.parse::<usize>().unwrap()] = value,
        Value::Object(o) => {
            o.insert(last.clone(), value);
        }
        other => panic!("json_set: {path}: {other} is not a container"),
    }
}

/// What to start: the config, the users, and files to place in homes.
pub struct ServerOpts {
    pub config: Value,
    pub users: Vec<Value>,
    files: Vec<(String, String, Vec<u8>)>,
    dirs: Vec<(String, String)>,
    skip_homes: Vec<String>,
    extra: Vec<(String, Vec<u8>)>,
    args: Vec<String>,
    ipv6: bool,
    wrapper: Vec<String>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerOpts {
    pub fn new() -> Self {
        ServerOpts {
            config: base_config(),
            users: vec![user_json(USER)],
            files: Vec::new(),
            dirs: Vec::new(),
            skip_homes: Vec::new(),
            extra: Vec::new(),
            args: Vec::new(),
            ipv6: false,
            wrapper: Vec::new(),
        }
    }
    /// Set any config key by path, e.g. `set("/ftpd/banner", "hi")`.
    pub fn set(mut self, path: &str, value: impl Into<Value>) -> Self {
        json_set(&mut self.config, path, value.into());
        self
    }
    pub fn common(self, key: &str, value: impl Into<Value>) -> Self {
        self.set(&format!("/common/{key}"), value)
    }
    pub fn ftpd(self, key: &str, value: impl Into<Value>) -> Self {
        self.set(&format!("/ftpd/{key}"), value)
    }
    pub fn binding(self, key: &str, value: impl Into<Value>) -> Self {
        self.set(&format!("/ftpd/bindings/0/{key}"), value)
    }
    /// Listen on ::1 instead of 127.0.0.1.
    pub fn ipv6(mut self) -> Self {
        self.ipv6 = true;
        self.binding("address", "::1")
    }
    /// Add a user (see [`user_json`]).
    pub fn user(mut self, user: Value) -> Self {
        self.users.push(user);
        self
    }
    /// Set a key of the user called `name` (path relative to the user object).
    pub fn user_set(mut self, name: &str, path: &str, value: impl Into<Value>) -> Self {
        let u = self
            .users
            .iter_mut()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("no user {name}"));
        json_set(u, path, value.into());
        self
    }
    /// Set the default user's permissions for virtual directory `dir`.
    pub fn perm(self, dir: &str, perms: &[&str]) -> Self {
        let key = format!("/permissions/{}", dir.replace('~', "~0").replace('/', "~1"));
        self.user_set(USER, &key, json!(perms))
    }
    /// Do not create this user's home before starting (the daemon creates it at login).
    pub fn no_home(mut self, name: &str) -> Self {
        self.skip_homes.push(name.to_string());
        self
    }
    /// A file in the default user's home (parents created).
    pub fn file(self, rel: &str, content: impl AsRef<[u8]>) -> Self {
        self.user_file(USER, rel, content)
    }
    pub fn user_file(mut self, user: &str, rel: &str, content: impl AsRef<[u8]>) -> Self {
        self.files
            .push((user.into(), rel.into(), content.as_ref().to_vec()));
        self
    }
    /// An extra command-line argument for the daemon (after `--config FILE`).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }
    /// A file beside the config file (for relative paths like `banner_file`).
    pub fn config_dir_file(mut self, rel: &str, content: impl AsRef<[u8]>) -> Self {
        self.extra.push((rel.into(), content.as_ref().to_vec()));
        self
    }
    /// Run the daemon through this command, given the daemon's command line as its last
    /// arguments; it must exec it (the PID stays the daemon's).
    pub fn wrapped(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|a| a.to_string()).collect();
        self
    }
    /// A directory in the default user's home.
    pub fn dir(mut self, rel: &str) -> Self {
        self.dirs.push((USER.into(), rel.into()));
        self
    }
}

/// A running daemon. Killed on Drop.
pub struct Server {
    pub dir: tempfile::TempDir,
    child: Child,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
    pub users_path: PathBuf,
    pub log_path: PathBuf,
}

fn ip_v4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn ip_v6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::LOCALHOST)
}

/// A port that was free a moment ago.
/// A port free now, and not handed out before by this test process: the kernel may give
/// a just-released port again, and two picks for one test (a server and its helper)
/// would then collide.
pub fn free_port(ip: IpAddr) -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh free port in 1000 tries ({} given)", given.len());
}

/// Poll `f` until it returns Some or `limit` passes.
pub fn wait_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

enum Startup {
    Ready,
    AddrInUse,
}

impl Server {
    /// Start a server with the default options.
    pub fn default_started() -> Server {
        Server::start(ServerOpts::new())
    }

    pub fn start(opts: ServerOpts) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("local")).unwrap();
        for (rel, content) in &opts.extra {
            fs::write(root.join(rel), content).unwrap();
        }
        let mut users = opts.users.clone();
        for u in users.iter_mut() {
            let name = u["username"].as_str().unwrap().to_string();
            if u.get("home_dir").is_none() {
                u["home_dir"] = json!(root.join("homes").join(&name));
            }
            if !opts.skip_homes.contains(&name) {
                fs::create_dir_all(u["home_dir"].as_str().unwrap()).unwrap();
            }
        }
        let home_of = |name: &str| -> PathBuf {
            let u = users.iter().find(|u| u["username"] == name).unwrap();
            PathBuf::from(u["home_dir"].as_str().unwrap())
        };
        for (user, rel) in &opts.dirs {
            fs::create_dir_all(home_of(user).join(rel)).unwrap();
        }
        for (user, rel, content) in &opts.files {
            let p = home_of(user).join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, content).unwrap();
        }
        let users_path = root.join("users.json");
        fs::write(
            &users_path,
            serde_json::to_vec_pretty(&json!({ "users": users })).unwrap(),
        )
        .unwrap();
        let config_path = root.join("ferroftpd.json");
        let log_path = root.join("ferroftpd.log");
        let ip = if opts.ipv6 { ip_v6() } else { ip_v4() };
        let mut config = opts.config.clone();
        for attempt in 0..5 {
            let port = free_port(ip);
            json_set(&mut config, "/ftpd/bindings/0/port", json!(port));
            fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
            let log = fs::File::create(&log_path).unwrap();
            let out = fs::File::create(root.join("ferroftpd.stdout")).unwrap();
            let mut cmd = match opts.wrapper.split_first() {
                Some((first, rest)) => {
                    let mut c = Command::new(first);
                    c.args(rest).arg(bin());
                    c
                }
                None => Command::new(bin()),
            };
            let mut child = cmd
                .arg("--config")
                .arg(&config_path)
                .args(&opts.args)
                .current_dir("/")
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(log)
                .spawn()
                .unwrap();
            let addr = SocketAddr::new(ip, port);
            match wait_ready(&mut child, addr, &log_path) {
                Startup::Ready => {
                    return Server {
                        dir,
                        child,
                        addr,
                        config_path,
                        users_path,
                        log_path,
                    }
                }
                Startup::AddrInUse => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("port {port} taken, retry {attempt}");
                }
            }
        }
        panic!("ferroftpd: could not find a free port in 5 attempts");
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// Host part for URLs: `127.0.0.1` or `[::1]`.
    pub fn host(&self) -> String {
        match self.addr.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        }
    }
    /// Home of the default user.
    pub fn home(&self) -> PathBuf {
        self.home_of(USER)
    }
    pub fn home_of(&self, name: &str) -> PathBuf {
        self.dir.path().join("homes").join(name)
    }
    /// Scratch directory for client-side files (the tools' working directory).
    pub fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }
    /// Everything the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
    /// Wait until the log contains `needle`; returns the log (panics on timeout).
    pub fn wait_log(&self, needle: &str) -> String {
        wait_until(SOON, || {
            let l = self.log();
            l.contains(needle).then_some(l)
        })
        .unwrap_or_else(|| panic!("log never contained {needle:?}; log:\n{}", self.log()))
    }
    /// Wait until the log has a line containing every one of `parts`; returns that line.
    pub fn wait_log_line(&self, parts: &[&str]) -> String {
        wait_until(SOON, || {
            self.log()
                .lines()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no log line with {parts:?}; log:\n{}", self.log()))
    }
    /// `ftp://u:secret@host:port/path`
    pub fn url(&self, path: &str) -> String {
        format!(
            "ftp://{USER}:{PASS}@{}:{}/{}",
            self.host(),
            self.port(),
            path.trim_start_matches('/')
        )
    }

    /// A raw control connection with the greeting read (220 checked).
    pub fn ftp_raw(&self) -> Ctrl {
        Ctrl::connect(self.addr)
    }
    /// A raw control connection logged in as the default user.
    pub fn ftp_login(&self) -> Ctrl {
        let mut c = self.ftp_raw();
        c.login(USER, PASS);
        c
    }
    /// A suppaftp client logged in as the default user, in TYPE I.
    pub fn suppaftp(&self) -> FtpStream {
        self.suppaftp_as(USER, PASS)
    }
    pub fn suppaftp_as(&self, user: &str, pass: &str) -> FtpStream {
        let s = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut ftp = FtpStream::connect_with_stream(s).unwrap();
        ftp.login(user, pass).unwrap();
        ftp.transfer_type(FileType::Binary).unwrap();
        ftp
    }

    /// Run curl (`-sS`, bounded) in the local scratch dir.
    pub fn curl(&self, args: &[&str]) -> Output {
        let mut cmd = tool("curl", "apt-get install -y curl");
        cmd.args(["-sS", "-g", "--max-time", "60"])
            .args(args)
            .current_dir(self.local());
        run_bounded(&mut cmd, self.dir.path())
    }
    /// curl that must succeed; returns stdout.
    pub fn curl_ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.curl(args);
        assert_ok("curl", args.join(" "), &out, self);
        out.stdout
    }

    /// Run an lftp script (after `open`), bounded, in the local scratch dir.
    pub fn lftp(&self, script: &str) -> Output {
        let open = format!(
            "set cmd:fail-exit yes; set net:max-retries 2; set net:timeout 20; \
             set net:reconnect-interval-base 1; set ftp:ssl-allow no; set xfer:clobber on; \
             set cmd:interactive no; open -u {USER},{PASS} -p {} {}; {script}",
            self.port(),
            self.addr.ip()
        );
        let mut cmd = tool("lftp", ".ci/run installs it (apt-get install -y lftp)");
        cmd.arg("-c")
            .arg(open)
            .env("HOME", self.local())
            .current_dir(self.local());
        run_bounded(&mut cmd, self.dir.path())
    }
    /// lftp that must succeed; returns stdout as text.
    pub fn lftp_ok(&self, script: &str) -> String {
        let out = self.lftp(script);
        assert_ok("lftp", script.to_string(), &out, self);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a Python 3 script using ftplib. The prelude defines HOST, PORT, USER, PASSWD,
    /// HOME (server home of USER), LOCAL and `login()` returning a logged-in `ftplib.FTP`.
    pub fn python(&self, script: &str) -> Output {
        let path = self.write_python(script);
        let mut cmd = tool("python3", "apt-get install -y python3");
        cmd.arg(&path).current_dir(self.local());
        run_bounded(&mut cmd, self.dir.path())
    }
    fn write_python(&self, script: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.path().join(format!("script{n}.py"));
        let prelude = format!(
            "import ftplib, io, os, sys, socket, time\n\
             HOST = {host:?}\nPORT = {port}\nUSER = {USER:?}\nPASSWD = {PASS:?}\n\
             HOME = {home:?}\nLOCAL = {local:?}\n\
             def login(host=HOST):\n    ftp = ftplib.FTP()\n    ftp.connect(host, PORT, timeout=30)\n    \
             ftp.login(USER, PASSWD)\n    return ftp\n",
            host = self.addr.ip().to_string(),
            port = self.port(),
            home = self.home().display().to_string(),
            local = self.local().display().to_string(),
        );
        fs::write(&path, format!("{prelude}\n{script}\n")).unwrap();
        path
    }
    /// Start a Python script (same prelude as [`Server::python`]) in the background.
    pub fn python_spawn(&self, script: &str) -> KillOnDrop {
        let path = self.write_python(script);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let child = tool("python3", "apt-get install -y python3")
            .arg(&path)
            .current_dir(self.local())
            .stdin(Stdio::null())
            .stdout(fs::File::create(self.dir.path().join(format!("bg{n}.out"))).unwrap())
            .stderr(fs::File::create(self.dir.path().join(format!("bg{n}.err"))).unwrap())
            .spawn()
            .unwrap();
        KillOnDrop(child)
    }
    /// Python that must succeed; returns stdout as text.
    pub fn python_ok(&self, script: &str) -> String {
        let out = self.python(script);
        assert_ok("python3", script.to_string(), &out, self);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (by its PID) when dropped.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// SIGKILL it now and reap it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_ready(child: &mut Child, addr: SocketAddr, log: &Path) -> Startup {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = fs::read_to_string(log).unwrap_or_default();
            if text.to_lowercase().contains("in use") {
                return Startup::AddrInUse;
            }
            panic!("ferroftpd exited at startup with {status}; stderr:\n{text}");
        }
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut greeted = false;
            for _ in 0..100 {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.starts_with("220 ") => {
                        greeted = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
            if greeted {
                let _ = (&s).write_all(b"QUIT\r\n");
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
                return Startup::Ready;
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ferroftpd did not greet with 220 on {addr} within {STARTUP:?}; stderr:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Is `name` an executable on PATH?
pub fn have_tool(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// A Command for `name`, or a loud failure telling how to get it.
pub fn tool(name: &str, hint: &str) -> Command {
    assert!(have_tool(name), "{name} not found: {hint}");
    Command::new(name)
}

/// Run a command with stdout/stderr captured to files, killed after [`TOOL_LIMIT`].
pub fn run_bounded(cmd: &mut Command, scratch: &Path) -> Output {
    run_bounded_fed(cmd, scratch, None)
}

/// [`run_bounded`] with `input` as the command's standard input (clients scripted there).
pub fn run_bounded_fed(cmd: &mut Command, scratch: &Path, input: Option<&str>) -> Output {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_p = scratch.join(format!("tool{n}.out"));
    let err_p = scratch.join(format!("tool{n}.err"));
    let stdin = match input {
        Some(text) => {
            let in_p = scratch.join(format!("tool{n}.in"));
            fs::write(&in_p, text).unwrap();
            Stdio::from(fs::File::open(&in_p).unwrap())
        }
        None => Stdio::null(),
    };
    let mut child = cmd
        .stdin(stdin)
        .stdout(fs::File::create(&out_p).unwrap())
        .stderr(fs::File::create(&err_p).unwrap())
        .spawn()
        .unwrap();
    let status = match wait_until(TOOL_LIMIT, || child.try_wait().unwrap()) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{:?} still running after {TOOL_LIMIT:?}; stderr:\n{}",
                cmd,
                fs::read_to_string(&err_p).unwrap_or_default()
            );
        }
    };
    Output {
        status,
        stdout: fs::read(&out_p).unwrap(),
        stderr: fs::read(&err_p).unwrap(),
    }
}

/// `out` must be a success; else the tool's output and the daemon's log, for the failure.
pub fn assert_ok(what: &str, args: String, out: &Output, server: &Server) {
    assert!(
        out.status.success(),
        "{what} {args}\nexited {}\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}

/// One FTP reply: its code and every line (CRLF stripped).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with '\n'.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
    /// The first line.
    pub fn first(&self) -> &str {
        &self.lines[0]
    }
    pub fn is_multiline(&self) -> bool {
        self.lines.len() > 1
    }
}

/// A raw control connection: exact bytes in and out.
pub struct Ctrl {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub greeting: Reply,
    last: String,
}

impl Ctrl {
    /// Connect and read the 220 greeting.
    pub fn connect(addr: SocketAddr) -> Ctrl {
        let mut c = Ctrl::connect_no_greeting(addr);
        let g = c.reply();
        assert_eq!(g.code, 220, "greeting: {g:?}");
        c.greeting = g;
        c
    }
    /// Connect without reading anything.
    pub fn connect_no_greeting(addr: SocketAddr) -> Ctrl {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
        Ctrl::from_stream(stream)
    }
    pub fn from_stream(stream: TcpStream) -> Ctrl {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Ctrl {
            stream,
            reader,
            greeting: Reply {
                code: 0,
                lines: Vec::new(),
            },
            last: String::from("(connect)"),
        }
    }
    /// Send one command line (CRLF appended).
    pub fn send(&mut self, line: &str) {
        self.last = line.chars().take(80).collect();
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }
    /// Send raw bytes as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.last = format!("<{} raw bytes>", bytes.len());
        self.stream.write_all(bytes).unwrap();
    }
    /// Read one line with its CRLF checked; None on EOF.
    fn line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                let s = String::from_utf8_lossy(&buf).into_owned();
                assert!(
                    s.ends_with("\r\n"),
                    "reply line to {:?} not CRLF-terminated: {s:?}",
                    self.last
                );
                Some(s.trim_end_matches("\r\n").to_string())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no reply to {:?} within {IO_TIMEOUT:?}: {e}", self.last),
        }
    }
    /// Read one (possibly multi-line) reply; None if the connection closed first.
    pub fn try_reply(&mut self) -> Option<Reply> {
        let first = self.line()?;
        let code: u16 = first
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad reply line to {:?}: {first:?}", self.last));
        let mut lines = vec![first.clone()];
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            for _ in 0..100_000 {
                let l = self
                    .line()
                    .unwrap_or_else(|| panic!("EOF inside multi-line reply: {lines:?}"));
                let done = l.starts_with(&end) || l == end.trim_end();
                lines.push(l);
                if done {
                    return Some(Reply { code, lines });
                }
            }
            panic!("multi-line reply never ended");
        } else {
            assert!(
                first.len() == 3 || first.as_bytes()[3] == b' ',
                "reply to {:?} lacks the space after the code: {first:?}",
                self.last
            );
        }
        Some(Reply { code, lines })
    }
    /// Read one reply; panics on EOF.
    pub fn reply(&mut self) -> Reply {
        let last = self.last.clone();
        self.try_reply()
            .unwrap_or_else(|| panic!("connection closed instead of a reply to {last:?}"))
    }
    /// Read one reply and check its code; returns its text.
    pub fn expect(&mut self, code: u16) -> String {
        let r = self.reply();
        assert_eq!(r.code, code, "reply to {:?}: {:?}", self.last, r.lines);
        r.text()
    }
    /// Send a command and check the reply code; returns the reply text.
    pub fn cmd(&mut self, line: &str, code: u16) -> String {
        self.send(line);
        self.expect(code)
    }
    /// Send a command and return the reply.
    pub fn ask(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }
    /// Send a command and return its final reply, skipping a 150/125 preliminary one.
    pub fn ask_final(&mut self, line: &str) -> Reply {
        let r = self.ask(line);
        if r.code == 150 || r.code == 125 {
            self.reply()
        } else {
            r
        }
    }
    pub fn login(&mut self, user: &str, pass: &str) {
        self.cmd(&format!("USER {user}"), 331);
        self.cmd(&format!("PASS {pass}"), 230);
    }
    /// True when the server closes the connection (EOF or reset) within [`IO_TIMEOUT`],
    /// with no further reply; panics if a reply arrives instead.
    pub fn expect_closed(&mut self) {
        if let Some(r) = self.try_reply() {
            panic!(
                "expected the connection to close after {:?}, got {r:?}",
                self.last
            );
        }
    }
    /// Peer address of the control connection as the client sees it.
    pub fn peer_ip(&self) -> IpAddr {
        self.stream.peer_addr().unwrap().ip()
    }

    /// PASV: parse the 227 reply into an address.
    pub fn pasv(&mut self) -> SocketAddr {
        let t = self.cmd("PASV", 227);
        parse_227(&t)
    }
    /// EPSV: parse the 229 reply; the host is the control peer.
    pub fn epsv(&mut self) -> SocketAddr {
        let t = self.cmd("EPSV", 229);
        SocketAddr::new(self.peer_ip(), parse_229(&t))
    }
    /// Passive data connection: PASV on IPv4, EPSV on IPv6.
    pub fn open_data(&mut self) -> TcpStream {
        let addr = match self.peer_ip() {
            IpAddr::V4(_) => self.pasv(),
            IpAddr::V6(_) => self.epsv(),
        };
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }
    /// Expect a preliminary 150 (or 125); returns its text.
    pub fn expect_prelim(&mut self) -> Reply {
        let r = self.reply();
        assert!(
            r.code == 150 || r.code == 125,
            "expected 150 to {:?}, got {:?}",
            self.last,
            r.lines
        );
        r
    }
    /// Run a download-type command (RETR, LIST, NLST, MLSD) over `data`;
    /// Err(reply) when the server refuses it or the final reply is not 226.
    pub fn get_over(&mut self, mut data: TcpStream, line: &str) -> Result<Vec<u8>, Reply> {
        self.send(line);
        let r = self.reply();
        if r.code != 150 && r.code != 125 {
            return Err(r);
        }
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).unwrap();
        let done = self.reply();
        if done.code != 226 {
            return Err(done);
        }
        Ok(buf)
    }
    /// Download-type command over a fresh passive connection.
    pub fn try_get(&mut self, line: &str) -> Result<Vec<u8>, Reply> {
        let data = self.open_data();
        self.get_over(data, line)
    }
    /// Download-type command that must succeed.
    pub fn get(&mut self, line: &str) -> Vec<u8> {
        self.try_get(line)
            .unwrap_or_else(|r| panic!("{line} failed: {:?}", r.lines))
    }
    /// Listing command as text.
    pub fn list(&mut self, line: &str) -> String {
        String::from_utf8(self.get(line)).unwrap()
    }
    /// Upload-type command (STOR, APPE, STOU) over `data`; returns (150 reply, 226 reply)
    /// or Err with the refusing reply.
    pub fn put_over(
        &mut self,
        mut data: TcpStream,
        line: &str,
        bytes: &[u8],
    ) -> Result<(Reply, Reply), Reply> {
        self.send(line);
        let r = self.reply();
        if r.code != 150 && r.code != 125 {
            return Err(r);
        }
        data.write_all(bytes).unwrap();
        data.shutdown(Shutdown::Write).unwrap();
        // Drain until the server closes its side, then the final reply.
        let mut sink = Vec::new();
        let _ = data.read_to_end(&mut sink);
        drop(data);
        let done = self.reply();
        if done.code != 226 {
            return Err(done);
        }
        Ok((r, done))
    }
    pub fn try_put(&mut self, line: &str, bytes: &[u8]) -> Result<(Reply, Reply), Reply> {
        let data = self.open_data();
        self.put_over(data, line, bytes)
    }
    /// Upload-type command that must succeed; returns the 150 reply's text.
    pub fn put(&mut self, line: &str, bytes: &[u8]) -> String {
        self.try_put(line, bytes)
            .unwrap_or_else(|r| panic!("{line} failed: {:?}", r.lines))
            .0
            .text()
    }
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` -> address.
pub fn parse_227(text: &str) -> SocketAddr {
    let inner = text
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("227 without (h1,...,p2): {text:?}"));
    let n: Vec<u16> = inner
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    assert_eq!(n.len(), 6, "227 numbers: {text:?}");
    let ip = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
    SocketAddr::new(IpAddr::V4(ip), n[4] * 256 + n[5])
}

/// `229 Entering Extended Passive Mode (|||port|)` -> port.
pub fn parse_229(text: &str) -> u16 {
    let inner = text
        .split_once("(|||")
        .and_then(|(_, r)| r.split_once("|)"))
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("229 without (|||port|): {text:?}"));
    inner.parse().unwrap()
}

/// `h1,h2,h3,h4,p1,p2` for PORT.
pub fn port_arg(addr: SocketAddr) -> String {
    let IpAddr::V4(ip) = addr.ip() else {
        panic!("PORT needs IPv4")
    };
    let o = ip.octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        addr.port() / 256,
        addr.port() % 256
    )
}

/// `|1|ip|port|` or `|2|ip|port|` for EPRT.
pub fn eprt_arg(addr: SocketAddr) -> String {
    let fam = if addr.is_ipv4() { 1 } else { 2 };
    format!("|{fam}|{}|{}|", addr.ip(), addr.port())
}

/// Accept one connection on `l` within [`IO_TIMEOUT`], or None.
pub fn accept_within(l: &TcpListener, limit: Duration) -> Option<TcpStream> {
    l.set_nonblocking(true).unwrap();
    let s = wait_until(limit, || match l.accept() {
        Ok((s, _)) => Some(s),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) => panic!("accept: {e}"),
    })?;
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    Some(s)
}

/// Every file under `root` as (relative path, content), sorted.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A small tree: x.txt, sub/y.bin, sub/deeper/z.txt.
pub fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("x.txt"), "x file\n").unwrap();
    fs::write(root.join("sub/y.bin"), random_bytes(50_000, 7)).unwrap();
    fs::write(root.join("sub/deeper/z.txt"), "z").unwrap();
}

/// Deterministic pseudo-random bytes (xorshift), distinct per seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// 2020-01-02 03:04:05 UTC.
pub fn known_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_934_245)
}

/// Set a file's mtime.
pub fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Names of the entries of a directory on disk, sorted.
pub fn dir_names(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Prefix of upload_mode 1 temporary files.
pub const UPLOAD_TEMP_PREFIX: &str = ".ferroftpd-upload.";

/// Names of upload_mode 1 temporary files in `dir`.
pub fn upload_temps(dir: &Path) -> Vec<String> {
    dir_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(UPLOAD_TEMP_PREFIX))
        .collect()
}

/// Lines of a listing, CRLF or LF, empty ones dropped.
pub fn lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Sorted lines.
pub fn sorted_lines(text: &str) -> Vec<String> {
    let mut v = lines(text);
    v.sort();
    v
}
