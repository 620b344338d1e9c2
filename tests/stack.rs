//! Thread stacks: the deepest things a session thread (or the TLS handshake helper) does,
//! measured, and shown to fit the stacks the daemon gives them with a 2x margin.
//!
//! Sessions run on threads of `listener::WORKER_STACK` bytes; a control connection's TLS
//! handshake runs on a helper of `session::HANDSHAKE_STACK` bytes. The deepest paths are the
//! password hashes (bcrypt, argon2id with SFTPGo's 64 MiB, PBKDF2, the crypt family) and
//! the server side of a TLS handshake (RSA-2048 and ECDSA signatures, and the hybrid
//! X25519MLKEM768 key exchange a modern client offers first).
//!
//! How deep: each path runs on a fresh thread whose stack nothing has touched before (its
//! size is above any stack made earlier in this process, so the C library cannot hand out a
//! cached one), then the thread reads its own stack mapping's resident size from
//! /proc/self/smaps: every page the path touched, thread start included. Guard pages: each
//! path then runs again on a thread with half the daemon's stack; going past it would hit
//! the guard page and kill this test process, so passing proves the margin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferroftpd::config::tls::{
    BindingTls, CertFiles, ClientAuth, GlobalTls, MinVersion, SessionReuse, TlsMode,
};
use ferroftpd::listener::WORKER_STACK;
use ferroftpd::session::HANDSHAKE_STACK;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The resident size, in bytes, of the mapping that holds `addr` (Linux).
fn rss_of_mapping(addr: usize) -> Option<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = (a..b).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(kib) = line.strip_prefix("Rss:") {
                return kib
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .map(|k| k * 1024);
            }
        }
    }
    None
}

/// Fresh stacks: each measuring thread asks for more than any stack made before (the test
/// harness's own threads have 2 MiB), so the C library maps a new, untouched one.
static NEXT_SIZE: AtomicUsize = AtomicUsize::new(8 << 20);

/// Bytes of stack `f` touches, thread start included.
fn stack_touched(f: impl FnOnce() + Send + 'static) -> usize {
    let size = NEXT_SIZE.fetch_add(1 << 20, Ordering::SeqCst);
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(move || {
            f();
            let here = 0u8;
            rss_of_mapping(std::ptr::addr_of!(here) as usize).expect("own stack in smaps")
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Runs `f` on a thread with `size` bytes of stack; an overflow hits the guard page and
/// kills the process (Rust prints "has overflowed its stack").
fn run_with_stack(size: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn hashes() -> Vec<(&'static str, String)> {
    vec![
        ("bcrypt cost 10", ferroftpd::auth::hash::hash_bcrypt(b"pw", 10).unwrap()),
        (
            "argon2id m=64MiB (SFTPGo default)",
            "$argon2id$v=19$m=65536,t=1,p=2$b3E2D8NTo7q/0EDuBGrOJQ$+HxLPBjKdSx8ZFmEBP93ZPUs2p6dRi0z4uwiHn2ZTC8".into(),
        ),
        (
            "pbkdf2-sha512 150000",
            "$pbkdf2-sha512$150000$saltsalt$dc19+VQ0gXvb7s4Ruv2mZ/WmFGfBLldlj3xUtX1CE97wzdVHS8oDpbnMmtbPA3riYHCZXa/UgMujTp6JGOaNMA==".into(),
        ),
        (
            "sha512-crypt",
            "$6$stacksalt$/zj9dibG9uB4Iwh1LjhmJOkrpQItfDwyLy8Zn9F6s1am3LZIB4RNuBox46wmWkGOLVoqDJpP4Zfh0NctSnKnx0".into(),
        ),
        ("sha256-crypt", "$5$stacksalt$FwiotKYudPSqAz5cq5r3ui8jGJou3UF.OSppGcfLLAA".into()),
        ("md5-crypt", "$1$stacksa$uHHp.6BrWXbEDysocwAoq/".into()),
    ]
}

/// A certificate and key for `localhost` in `dir`: RSA-2048 (the bench's kind) or ECDSA.
fn cert(dir: &std::path::Path, rsa: bool) -> CertFiles {
    let key = if rsa {
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap()
    } else {
        rcgen::KeyPair::generate().unwrap()
    };
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let c = params.self_signed(&key).unwrap();
    let name = if rsa { "rsa" } else { "ecdsa" };
    let files = CertFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, c.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// One TLS handshake and a few bytes each way; the server side runs in `on_server`'s
/// thread, the client here. `mlkem`: the client offers X25519MLKEM768 first (rustls'
/// default), else X25519 only (OpenSSL 3.0, as in the bench).
fn handshake(files: &CertFiles, mlkem: bool, on_server: fn(Box<dyn FnOnce() + Send>)) {
    let settings = BindingTls {
        mode: TlsMode::Optional,
        cert: Some(files.clone()),
        min_version: MinVersion::Tls12,
        cipher_suites: Vec::new(),
        client_auth: ClientAuth::None,
        session_reuse: SessionReuse::NotChecked,
    };
    let ctx = ferroftpd::tls::TlsContext::load(&settings, &GlobalTls::default()).unwrap();
    let config = ctx.config();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pem = std::fs::read(&files.cert).unwrap();
    let client = std::thread::spawn(move || {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile_certs(&pem) {
            roots.add(c).unwrap();
        }
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if !mlkem {
            provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let conn = rustls::ClientConnection::new(
            Arc::new(cfg),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut t = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
        t.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        t.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
    });
    let (sock, _) = listener.accept().unwrap();
    on_server(Box::new(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let sock = std::sync::Arc::new(sock);
        let mut s =
            ferroftpd::tls::stream::Stream::accept_tls(&config, b"token", sock, deadline).unwrap();
        s.handshake(deadline).unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        s.write_all(b"pong").unwrap();
        s.flush().unwrap();
    }));
    client.join().unwrap();
}

/// PEM certificates to DER (the test's own certificate; no extra crate).
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(Result::unwrap)
        .collect()
}

/// Measures the server side of a handshake (printed, then returned).
fn measure_handshake(files: &CertFiles, mlkem: bool) -> usize {
    static DEPTH: AtomicUsize = AtomicUsize::new(0);
    handshake(files, mlkem, |server| {
        DEPTH.store(stack_touched(server), Ordering::SeqCst);
    });
    DEPTH.load(Ordering::SeqCst)
}

#[test]
fn deepest_paths_fit_their_stacks_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut deepest_hash = 0;
    for (name, stored) in hashes() {
        let used = stack_touched(move || {
            let _ = ferroftpd::auth::hash::verify(&stored, b"pw");
        });
        eprintln!("stack touched by {name} verification: {} KiB", used / 1024);
        deepest_hash = deepest_hash.max(used);
    }
    let mut deepest_tls = 0;
    for (rsa, mlkem) in [(true, false), (true, true), (false, true)] {
        let files = cert(dir.path(), rsa);
        let used = measure_handshake(&files, mlkem);
        eprintln!(
            "stack touched by a server TLS handshake ({}, {}): {} KiB",
            if rsa { "RSA-2048" } else { "ECDSA P-256" },
            if mlkem { "X25519MLKEM768" } else { "X25519" },
            used / 1024
        );
        deepest_tls = deepest_tls.max(used);
    }
    eprintln!(
        "WORKER_STACK {} KiB, HANDSHAKE_STACK {} KiB",
        WORKER_STACK / 1024,
        HANDSHAKE_STACK / 1024
    );
    // Sessions verify passwords and run data connections' handshakes themselves; the
    // control connection's handshake runs on the helper.
    assert!(
        2 * deepest_hash.max(deepest_tls) <= WORKER_STACK,
        "a session's deepest path ({} KiB) needs a 2x margin in WORKER_STACK",
        deepest_hash.max(deepest_tls) / 1024
    );
    assert!(
        2 * deepest_tls <= HANDSHAKE_STACK,
        "the TLS handshake ({} KiB) needs a 2x margin in HANDSHAKE_STACK",
        deepest_tls / 1024
    );
}

#[test]
fn deepest_paths_run_on_half_stacks_guard_page() {
    let dir = tempfile::tempdir().unwrap();
    for (_, stored) in hashes() {
        run_with_stack(WORKER_STACK / 2, move || {
            let _ = ferroftpd::auth::hash::verify(&stored, b"pw");
        });
    }
    for (rsa, mlkem) in [(true, true), (false, true)] {
        let files = cert(dir.path(), rsa);
        handshake(&files, mlkem, |server| {
            run_with_stack(HANDSHAKE_STACK / 2, server)
        });
    }
}
