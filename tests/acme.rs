//! ACME (ferroftpd.json(5) `acme`, ferroftpd(8) `acme`; src/acme): against Pebble, Let's
//! Encrypt's test CA, on loopback. The daemon obtains its certificate at start through a
//! real HTTP-01 or TLS-ALPN-01 validation and serves it (the chain verifies against Pebble's
//! root, with rustls and with curl); `ferroftpd acme` issues once and exits; a renewal
//! forced by a `renew_days` longer than the certificate's life is served to new
//! connections by the same process; with Pebble gone a renewal fails, the old certificate
//! stays in service, and the retries back off; a validation that fails is an error with
//! the CA's reason and leaves nothing behind. Files are 0600, directories 0700.
//!
//! Needs `pebble` (Debian's package, which .ci/run installs): without it these tests fail
//! and say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acme_support;
mod common;

use acme_support::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

fn set(config: &mut serde_json::Value, path: &str, v: serde_json::Value) {
    common::json_set(config, path, v);
}

/// Checks the layout and the modes of what ACME wrote.
fn assert_files(setup: &Setup, pebble: &Pebble) {
    let host = pebble
        .directory
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .replace(':', "_");
    let account = setup.certs().join(host);
    assert_eq!(mode(&setup.certs()), 0o700, "certs directory");
    assert_eq!(mode(&account), 0o700, "account directory");
    for f in [
        setup.cert(),
        setup.key(),
        account.join(format!("{EMAIL}.key")),
        account.join(format!("{EMAIL}.json")),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(account.join(format!("{EMAIL}.json"))).unwrap()).unwrap();
    assert!(
        json["registration"]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:")),
        "{json}"
    );
    // No staged or temporary file is left behind.
    let leftovers: Vec<String> = fs::read_dir(setup.certs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".new") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `ferroftpd acme` obtains the one certificate, and its files are as they should be.
fn issue_once(setup: &Setup, pebble: &Pebble) {
    let out = setup.run(&["acme"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 certificate(s) obtained"),
        "{stdout}\n{stderr}"
    );
    assert_files(setup, pebble);
}

#[test]
fn first_certificate_is_obtained_at_start_through_http01_and_served() {
    let pebble = Pebble::start(Validation::Real);
    let setup = Setup::new(config(&pebble));
    let d = Daemon::start(setup, &[], true);
    assert_eq!(
        d.count(&["acme: no usable certificate for ftp.acme.test"]),
        1,
        "{}",
        d.log()
    );
    assert_eq!(
        d.count(&["acme: certificate for ftp.acme.test obtained"]),
        1
    );
    assert_files(&d.setup, &pebble);

    // The served chain verifies against Pebble's root, for the configured name.
    let root = pebble.write_root(d.setup.dir.path());
    let served = served_certificate(d.addr, &root).unwrap();
    assert_eq!(served, file_leaf(&d.setup.cert()));

    // A real client agrees: curl, TLS required, over the control and data connections.
    let out = common::tool("curl", "apt-get install -y curl")
        .args(["-sS", "--max-time", "60", "--ssl-reqd", "--cacert"])
        .arg(&root)
        .args([
            "--resolve",
            &format!("{DOMAIN}:{}:127.0.0.1", d.addr.port()),
            &format!(
                "ftp://{}:{}@{DOMAIN}:{}/",
                common::USER,
                common::PASS,
                d.addr.port()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );

    // The renewal thread runs, and finds nothing to do (Pebble's certificates last years).
    d.wait_count(&["acme: renewal thread started"], 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(d.count(&["obtained from"]), 1, "{}", d.log());
    assert_eq!(d.count(&["ERROR", "acme"]), 0, "{}", d.log());
}

#[test]
fn tls_alpn01_alone_obtains_the_certificate() {
    let pebble = Pebble::start(Validation::Real);
    let mut c = config(&pebble);
    set(&mut c, "/acme/http01_challenge/port", json!(0));
    set(
        &mut c,
        "/acme/tls_alpn01_challenge/port",
        json!(pebble.tls_port),
    );
    // Two names in one certificate (SFTPGo's comma-separated entry), RSA keys.
    set(
        &mut c,
        "/acme/domains",
        json!([format!("{DOMAIN},www.{DOMAIN}")]),
    );
    set(&mut c, "/acme/key_type", json!("2048"));
    let setup = Setup::new(c);
    let files = (
        setup.certs().join(format!("{DOMAIN}_www.{DOMAIN}.crt")),
        setup.certs().join(format!("{DOMAIN}_www.{DOMAIN}.key")),
    );
    let d = Daemon::start(setup, &[], true);
    assert_eq!(mode(&files.0), 0o600);
    assert_eq!(mode(&files.1), 0o600);
    let key = fs::read_to_string(&files.1).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    let root = pebble.write_root(d.setup.dir.path());
    let served = served_certificate(d.addr, &root).unwrap();
    let (_, x) = x509_parser::parse_x509_certificate(&served).unwrap();
    let names: Vec<String> = x
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.contains(&format!("www.{DOMAIN}"))),
        "{names:?}"
    );
    assert_eq!(
        x.public_key().algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.1",
        "an RSA key"
    );
}

#[test]
fn acme_subcommand_issues_once_and_exits() {
    let pebble = Pebble::start(Validation::AlwaysValid);
    let setup = Setup::new(config(&pebble));

    // Before the first issuance the configuration still checks, and says why TLS waits.
    let out = setup.run(&["--check-config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("obtained when the daemon starts"), "{err}");

    issue_once(&setup, &pebble);
    let first = fs::read(setup.cert()).unwrap();

    // Again: nothing is due, nothing changes.
    let out = setup.run(&["acme"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not due for renewal"), "{stderr}");
    assert_eq!(fs::read(setup.cert()).unwrap(), first);

    // The daemon then starts on that certificate without ordering one.
    let d = Daemon::start(setup, &[], true);
    assert_eq!(
        d.count(&["acme: certificate for ftp.acme.test valid until"]),
        1
    );
    assert_eq!(d.count(&["obtained from"]), 0, "{}", d.log());
    drop(d);

    // Without the CA, `acme` fails with the reason and a non-zero status.
    let mut pebble = pebble;
    let mut c = config(&pebble);
    set(&mut c, "/acme/renew_days", json!(36500));
    let setup = Setup::new(c);
    pebble.stop();
    let out = setup.run(&["acme"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot obtain a certificate for ftp.acme.test")
            && stderr.contains(&pebble.directory),
        "{stderr}"
    );
}

#[test]
fn a_failed_validation_is_a_clear_error_and_leaves_nothing_behind() {
    // Pebble checks HTTP-01 at its http_port, where nothing listens: the daemon's
    // challenge responder is on another port. The authorization fails for real.
    let pebble = Pebble::start(Validation::Real);
    let mut c = config(&pebble);
    let elsewhere = port();
    set(&mut c, "/acme/http01_challenge/port", json!(elsewhere));
    let setup = Setup::new(c);
    // (What Pebble found there is its own words: "connection refused" usually.)
    let reason = |stderr: &str| {
        stderr.contains("cannot obtain a certificate for ftp.acme.test")
            && stderr.contains("http-01 failed")
            && stderr.contains(&format!(
                ":{}/.well-known/acme-challenge/",
                pebble.http_port
            ))
    };

    // `ferroftpd acme`: status 1 and the CA's reason.
    let out = setup.run(&["acme"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(reason(&stderr), "{stderr}");

    // The daemon: a startup error with the same reason; it never serves.
    let out = setup.run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(reason(&stderr), "{stderr}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", setup.port)).is_err());

    // Nothing half-done is left: no certificate or key, the challenge port is free, and
    // with the right port the next run (same account, same lock) obtains one.
    assert!(!setup.cert().exists() && !setup.key().exists());
    std::net::TcpListener::bind(("127.0.0.1", elsewhere)).expect("challenge port still bound");
    let mut c: serde_json::Value =
        serde_json::from_slice(&fs::read(&setup.config_path).unwrap()).unwrap();
    set(
        &mut c,
        "/acme/http01_challenge/port",
        json!(pebble.http_port),
    );
    fs::write(&setup.config_path, c.to_string()).unwrap();
    issue_once(&setup, &pebble);
}

#[test]
fn renewal_forced_by_renew_days_is_served_without_restart() {
    let pebble = Pebble::start(Validation::AlwaysValid);
    let mut c = config(&pebble);
    // Longer than the certificates live: every check renews.
    set(&mut c, "/acme/renew_days", json!(36500));
    let setup = Setup::new(c);
    let mut d = Daemon::start(setup, &[], true);
    let pid = d.pid();
    let root = pebble.write_root(d.setup.dir.path());
    let first = serial(&served_certificate(d.addr, &root).unwrap());

    d.wait_count(
        &["acme: renewing the certificate for ftp.acme.test (expires on"],
        1,
    );
    d.wait_count(&["reload: binding", "TLS material reloaded"], 1);
    let renewed = common::wait_until(RENEWAL, || {
        let s = serial(&served_certificate(d.addr, &root).ok()?);
        (s != first).then_some(s)
    });
    assert!(
        renewed.is_some(),
        "still serving {first} after renewals; log:\n{}",
        d.log()
    );
    assert!(d.alive());
    assert_eq!(d.pid(), pid, "same process");
    assert_files(&d.setup, &pebble);
}

#[test]
fn failed_renewal_keeps_the_old_certificate_and_backs_off() {
    let mut pebble = Pebble::start(Validation::AlwaysValid);
    let mut c = config(&pebble);
    set(&mut c, "/acme/renew_days", json!(36500));
    let setup = Setup::new(c);
    let d = Daemon::start(setup, &[], true);
    let root = pebble.write_root(d.setup.dir.path());
    d.wait_count(&["reload: binding", "TLS material reloaded"], 1);

    pebble.stop();
    d.wait_count(
        &[
            "renewal of ftp.acme.test failed, keeping the current certificate",
            "retrying in 1s (attempt 1)",
        ],
        1,
    );
    // Whatever was last obtained before the CA went away stays on disk and in service.
    let on_disk = fs::read(d.setup.cert()).unwrap();
    let key_on_disk = fs::read(d.setup.key()).unwrap();
    d.wait_count(&["retrying in 2s (attempt 2)"], 1);
    d.wait_count(&["retrying in 4s (attempt 3)"], 1);
    let line = d
        .log()
        .lines()
        .find(|l| l.contains("attempt 1"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("ERROR") && line.contains(&pebble.directory),
        "the log says why: {line}"
    );
    assert_eq!(fs::read(d.setup.cert()).unwrap(), on_disk);
    assert_eq!(fs::read(d.setup.key()).unwrap(), key_on_disk);
    let served = served_certificate(d.addr, &root).unwrap();
    assert_eq!(served, file_leaf(&d.setup.cert()));
    assert_files(&d.setup, &pebble);
}

#[test]
fn after_a_privilege_drop_renewals_still_write_their_files() {
    if !is_root() {
        assert!(
            std::env::var_os("FERROFTPD_SKIP_ROOT_TESTS").is_some(),
            "this test needs root (CI runs as root); set FERROFTPD_SKIP_ROOT_TESTS=1 to skip it"
        );
        return;
    }
    const NOBODY: u32 = 65534;
    let pebble = Pebble::start(Validation::AlwaysValid);
    let mut c = config(&pebble);
    set(&mut c, "/acme/renew_days", json!(36500));
    let setup = Setup::new(c);
    let d = Daemon::start(setup, &["--user", "nobody", "--group", "65534"], false);
    d.wait_count(&["privileges dropped to user nobody"], 1);
    // Renewed after the drop, as nobody, into nobody's files.
    d.wait_count(&["acme: certificate for ftp.acme.test obtained"], 3);
    assert_eq!(d.count(&["ERROR", "acme"]), 0, "{}", d.log());
    use std::os::unix::fs::MetadataExt;
    for f in [d.setup.certs(), d.setup.cert(), d.setup.key()] {
        let m = fs::metadata(&f).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", f.display());
    }
    assert_files(&d.setup, &pebble);
    let root = pebble.write_root(d.setup.dir.path());
    served_certificate(d.addr, &root).unwrap();
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
