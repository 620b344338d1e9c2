//! The manual pages and the shipped examples: they lint cleanly with mandoc, document every
//! configuration key and command line flag of notes/CONTRACT.md, and the example
//! configuration in etc/ passes `ferroftpd -n` without a warning.
//!
//! Keys are "documented" when ferroftpd.json.5 has them as `.It Cm key` (any part of a
//! dotted path such as `.It Cm passive_ip_overrides[].ip` counts) or as `.Ss key`; flags
//! when ferroftpd.8 has them as `Fl`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test: failing loudly is the point

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGES: [&str; 2] = ["man/ferroftpd.8", "man/ferroftpd.json.5"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path: PathBuf = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn mandoc_lint_is_clean() {
    let out = Command::new("mandoc")
        .args(["-Tlint", "-Wwarning"])
        .args(PAGES)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run mandoc ({e}): install it (apt-get install mandoc; .ci/run does)")
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "mandoc -Tlint -Wwarning ({}):\n{report}",
        out.status
    );
}

/// The first ```json block of the contract: the reference configuration.
fn contract_config() -> Value {
    let contract = read("notes/CONTRACT.md");
    let start = contract
        .find("```json\n")
        .expect("notes/CONTRACT.md has no ```json block")
        + "```json\n".len();
    let len = contract[start..]
        .find("\n```")
        .expect("the ```json block of notes/CONTRACT.md is not closed");
    serde_json::from_str(&contract[start..start + len])
        .unwrap_or_else(|e| panic!("the ```json block of notes/CONTRACT.md: {e}"))
}

fn collect_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                keys.insert(k.clone());
                collect_keys(v, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        _ => {}
    }
}

/// Keys documented in ferroftpd.json.5 (see the module doc).
fn documented_keys() -> BTreeSet<String> {
    let split = |s: &str| -> Vec<String> {
        s.split(['.', '[', ']', ' '])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut keys = BTreeSet::new();
    for line in read("man/ferroftpd.json.5").lines() {
        if let Some(rest) = line.strip_prefix(".Ss ") {
            keys.extend(split(rest));
        } else if let Some(rest) = line.strip_prefix(".It ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            for pair in words.windows(2) {
                if pair[0] == "Cm" {
                    keys.extend(split(pair[1]));
                }
            }
        }
    }
    keys
}

#[test]
fn every_contract_config_key_is_in_the_config_page() {
    let mut keys = BTreeSet::new();
    collect_keys(&contract_config(), &mut keys);
    assert!(
        keys.len() > 20,
        "too few keys found in the contract: {keys:?}"
    );
    let documented = documented_keys();
    let missing: Vec<_> = keys.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys of notes/CONTRACT.md without an `.It Cm KEY` entry in man/ferroftpd.json.5: {missing:?}"
    );
}

#[test]
fn every_key_of_the_example_config_is_in_the_config_page() {
    let example: Value = serde_json::from_str(&read("etc/ferroftpd.json"))
        .unwrap_or_else(|e| panic!("etc/ferroftpd.json: {e}"));
    let mut keys = BTreeSet::new();
    collect_keys(&example, &mut keys);
    let documented = documented_keys();
    let missing: Vec<_> = keys.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "undocumented keys in etc/ferroftpd.json: {missing:?}"
    );
}

/// Flags named in the contract's "Command line" section (`-c`, `--config`, ...), and the
/// `hash-password` subcommand, appear in ferroftpd.8.
#[test]
fn every_contract_flag_is_in_the_daemon_page() {
    let contract = read("notes/CONTRACT.md");
    let section = contract
        .split("\n## ")
        .find(|s| s.starts_with("Command line"))
        .expect("notes/CONTRACT.md has no '## Command line' section");
    let flags: BTreeSet<&str> = section
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let rest = w.trim_start_matches('-');
            w.starts_with('-') && w.len() - rest.len() <= 2 && rest.starts_with(char::is_alphabetic)
        })
        .collect();
    assert!(
        flags.contains("--config") && flags.contains("-n"),
        "{flags:?}"
    );

    let page = read("man/ferroftpd.8");
    // `-c` is written `Fl c`, `--config` is `Fl -config`; `-dn` in SYNOPSIS counts for -d, -n.
    let mut in_page = BTreeSet::new();
    for line in page.lines().filter(|l| l.starts_with('.')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            if pair[0] == "Fl" {
                let w = pair[1];
                if w.starts_with('-') {
                    in_page.insert(format!("-{w}"));
                } else {
                    in_page.extend(w.chars().map(|c| format!("-{c}")));
                }
            }
        }
    }
    let missing: Vec<_> = flags.iter().filter(|f| !in_page.contains(**f)).collect();
    assert!(
        missing.is_empty(),
        "flags of notes/CONTRACT.md missing from man/ferroftpd.8: {missing:?}"
    );
    assert!(
        page.contains("Cm hash-password"),
        "man/ferroftpd.8 does not document hash-password"
    );
}

/// The configuration `make install` ships is valid and warns about nothing.
#[test]
fn example_config_passes_check_config() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroftpd"))
        .args(["--check-config", "--config"])
        .arg(root().join("etc/ferroftpd.json"))
        .output()
        .expect("cannot run the ferroftpd binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferroftpd -n etc/ferroftpd.json: {}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("warning"),
        "ferroftpd -n etc/ferroftpd.json warns:\n{stderr}"
    );
}
