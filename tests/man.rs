//! The manual pages and the shipped examples: they lint cleanly with mandoc, document every
//! configuration key and command line flag of notes/CONTRACT.md and every key the code
//! reads, list exactly the keys accepted with a warning as not implemented, and the example
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

// ---------------------------------------------------------------------------------------
// Every key the code reads is documented.
//
// The readers are the source files that walk JSON through `config::raw::Obj` (found by
// their `raw::` import, so a new reader module is scanned without being listed here). A key
// is read when it is the string literal given to an `Obj` method (`.string("KEY"`,
// `.int("KEY"`, ... , calls spread over several lines included) or to a local helper that
// takes `key: &str` (`minutes("ban_time", ..)`, `uint(&b, "upload_bandwidth")`). Unit-test
// modules are left out. Each key found, and each part of a dotted one, must be an
// `.It Cm` entry (or `.Ss`) of ferroftpd.json.5.
// ---------------------------------------------------------------------------------------

/// Readers whose keys are documented by a change still in progress. ACME (src/config/acme.rs,
/// src/acme/) documents its own section: remove these entries once ferroftpd.json.5 has it.
const NOT_SCANNED_YET: &[&str] = &[];

/// The `Obj` methods that take a key as their first argument.
const OBJ_METHODS: &[&str] = &[
    "string",
    "int",
    "float",
    "boolean",
    "obj",
    "obj_list",
    "string_list",
    "get",
    "has",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The source without its unit-test module and without `//` comment lines.
fn code_of(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The string literal at the start of `s` (after white space), if there is one.
fn leading_literal(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let body = s.strip_prefix('"')?;
    let end = body.find('"')?;
    Some(&body[..end])
}

/// Names of the closures and functions of `code` that take a `key: &str` parameter.
fn key_helpers(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in code.match_indices("key: &str") {
        let before = &code[..i];
        // `let NAME = |key: &str` or `fn NAME(... key: &str`: the nearest opener wins.
        let closure = before.rfind("let ").filter(|&p| before[p..].contains('|'));
        let function = before.rfind("fn ");
        let (start, skip) = match (closure, function) {
            (Some(c), Some(f)) if c > f => (c, 4),
            (Some(c), None) => (c, 4),
            (_, Some(f)) => (f, 3),
            (None, None) => continue,
        };
        let name: String = before[start + skip..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The keys `code` reads (see above).
fn keys_read(code: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for m in OBJ_METHODS {
        for (i, pat) in code.match_indices(&format!(".{m}(")) {
            if let Some(k) = leading_literal(&code[i + pat.len()..]) {
                keys.insert(k.to_string());
            }
        }
    }
    for helper in key_helpers(code) {
        for (i, pat) in code.match_indices(&format!("{helper}(")) {
            let prev = code[..i].chars().next_back().unwrap_or(' ');
            if prev.is_alphanumeric() || prev == '_' || prev == '.' || code[..i].ends_with("fn ") {
                continue;
            }
            let args = &code[i + pat.len()..];
            let literal = leading_literal(args).or_else(|| {
                // A first argument that is a plain value (`&b`, `u`), then the key.
                let comma = args.find(',')?;
                let first = &args[..comma];
                if first.contains(['(', '"', ')']) {
                    return None;
                }
                leading_literal(&args[comma + 1..])
            });
            if let Some(k) = literal {
                keys.insert(k.to_string());
            }
        }
    }
    keys
}

/// Every key the configuration and users-file readers read, with the file reading it.
fn keys_the_code_reads() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut readers = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = read(&rel);
        if !text.contains("raw::") || NOT_SCANNED_YET.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        for key in keys_read(&code_of(&text)) {
            found.push((key, rel.clone()));
        }
        readers.push(rel);
    }
    // The scan must see the readers it is about, or it would pass by finding nothing.
    for expected in [
        "src/config/mod.rs",
        "src/config/tls.rs",
        "src/config/defender.rs",
        "src/auth/users.rs",
        "src/auth/user_limits.rs",
        "src/auth/folders.rs",
    ] {
        assert!(
            readers.iter().any(|r| r == expected),
            "{expected} was not scanned as a reader (scanned: {readers:?})"
        );
    }
    found
}

#[test]
fn every_key_the_code_reads_is_in_the_config_page() {
    let found = keys_the_code_reads();
    let names: BTreeSet<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    // Keys read each way the scan knows (a method, a multi-line call, a closure, a helper
    // function with the key second): if one is missing, the scan is broken, not the page.
    for probe in [
        "idle_timeout",
        "bindings",
        "passive_ip_overrides",
        "min_tls_version",
        "ban_time",
        "threshold",
        "ca_certificates",
        "bcrypt_options",
        "cost",
        "uid",
        "quota_size",
        "upload_bandwidth",
        "allowed_ip",
        "allowed_patterns",
        "permissions",
    ] {
        assert!(
            names.contains(probe),
            "the source scan did not find {probe:?}; found {names:?}"
        );
    }
    assert!(names.len() > 80, "too few keys found: {names:?}");

    let documented = documented_keys();
    let missing: Vec<String> = found
        .iter()
        .filter(|(k, _)| !documented.contains(k))
        .map(|(k, file)| format!("{k} ({file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "keys read by the code without an `.It Cm KEY` entry in man/ferroftpd.json.5: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The NOT IMPLEMENTED YET section of ferroftpd.json.5 lists exactly the keys that are
// accepted with a warning: the SFTPGo keys (the `SFTPGO_*_KEYS` lists of src/config/mod.rs)
// that `ferroftpd -n` warns about when a configuration has them all, and the user filters
// of `FILTERS_NOT_ENFORCED` (src/auth/users.rs). The section has one `.It Cm SECTION` per
// group and one `.Cm key` line per key.
// ---------------------------------------------------------------------------------------

/// The string literals of `const NAME: &[&str] = &[...];` in `code`.
fn const_list(code: &str, name: &str) -> Vec<String> {
    let head = format!("const {name}: &[&str] = &[");
    let start = code
        .find(&head)
        .unwrap_or_else(|| panic!("no `{head}` found"))
        + head.len();
    let end = start + code[start..].find("];").expect("unterminated list");
    code[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `section.key` for each key of the NOT IMPLEMENTED YET section of ferroftpd.json.5.
fn not_implemented_in_page() -> BTreeSet<String> {
    let page = read("man/ferroftpd.json.5");
    let start = page
        .find(".Sh NOT IMPLEMENTED YET")
        .expect("man/ferroftpd.json.5 has no NOT IMPLEMENTED YET section");
    let body = &page[start + 1..];
    let body = &body[..body.find("\n.Sh ").unwrap_or(body.len())];
    let mut keys = BTreeSet::new();
    let mut group = String::new();
    for line in body.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [".It", "Cm", section, ..] => group = section.to_string(),
            [".Cm", key, ..] => {
                assert!(
                    !group.is_empty(),
                    "`{line}` comes before any `.It Cm SECTION`"
                );
                keys.insert(format!("{group}.{key}"));
            }
            _ => {}
        }
    }
    keys
}

#[test]
fn not_implemented_section_lists_exactly_the_warned_keys() {
    let code = code_of(&read("src/config/mod.rs"));
    let lists = [
        ("SFTPGO_COMMON_KEYS", "common"),
        ("SFTPGO_FTPD_KEYS", "ftpd"),
        ("SFTPGO_BINDING_KEYS", "binding"),
        ("SFTPGO_PROVIDER_KEYS", "data_provider"),
    ];
    // A valid configuration, then every SFTPGo key it lacks set to null (which reads as
    // absent, so defaults apply, but still counts as present for the unread-key warning).
    let mut config = serde_json::json!({
        "common": {},
        "ftpd": {"bindings": [{"address": "127.0.0.1", "port": 2121}]},
        "data_provider": {"driver": "memory", "name": "users.json"}
    });
    for (list, section) in lists {
        let keys = const_list(&code, list);
        assert!(!keys.is_empty(), "{list} is empty");
        let obj = match section {
            "binding" => &mut config["ftpd"]["bindings"][0],
            s => &mut config[s],
        };
        let obj = obj.as_object_mut().unwrap();
        for k in keys {
            obj.entry(k).or_insert(Value::Null);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ferroftpd.json");
    std::fs::write(&file, config.to_string()).unwrap();
    std::fs::write(dir.path().join("users.json"), r#"{"users": []}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferroftpd"))
        .args(["--check-config", "--config"])
        .arg(&file)
        .output()
        .expect("cannot run the ferroftpd binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferroftpd -n: {}\n{stderr}",
        out.status
    );
    let prefix = format!("{}: ", file.display());
    let mut warned: BTreeSet<String> = stderr
        .lines()
        .filter(|l| l.contains("an SFTPGo key ferroftpd does not implement yet"))
        .filter_map(|l| {
            let rest = &l[l.find(&prefix)? + prefix.len()..];
            let key = &rest[..rest.find(": ")?];
            Some(key.replace("ftpd.bindings[0].", "binding."))
        })
        .collect();
    assert!(
        warned.len() > 10,
        "too few SFTPGo keys warned about; stderr:\n{stderr}"
    );
    let users = code_of(&read("src/auth/users.rs"));
    for k in const_list(&users, "FILTERS_NOT_ENFORCED") {
        warned.insert(format!("filters.{k}"));
    }
    for k in const_list(&users, "NOT_ENFORCED") {
        warned.insert(format!("user.{k}"));
    }

    let listed = not_implemented_in_page();
    let unlisted: Vec<_> = warned.difference(&listed).collect();
    let implemented: Vec<_> = listed.difference(&warned).collect();
    assert!(
        unlisted.is_empty() && implemented.is_empty(),
        "NOT IMPLEMENTED YET in man/ferroftpd.json.5 (`.It Cm SECTION`, then `.Cm key` lines):\n\
         missing there, though only warned about: {unlisted:?}\n\
         listed there, though implemented: {implemented:?}"
    );
}

/// The source scan on the shapes of call it must see, and those it must not.
#[test]
fn source_scan_finds_every_call_shape() {
    let code = code_of(
        r#"
fn read(c: &Obj) -> Result<X> {
    let a = c.int("one_line", 0, 0, 9)?;
    let b = c
        .string_list(
            "multi_line",
        )?;
    let minutes = |key: &str, default: f64| -> Result<f64> { c.float(key, default, 0.0, 9.0) };
    let m = minutes("through_a_closure", 1.0)?;
    let u = uint(&c, "through_a_function")?;
    // c.int("in_a_comment", 0, 0, 9)
    let n = c.int(name, 0, 0, 9)?;
    Ok(X)
}
fn uint(o: &Obj, key: &str) -> Result<u64> { Ok(o.int(key, 0, 0, 9)? as u64) }
#[cfg(test)]
mod tests {
    fn t() { c.int("in_a_test", 0, 0, 9); }
}
"#,
    );
    let keys = keys_read(&code);
    let expected: BTreeSet<String> = [
        "one_line",
        "multi_line",
        "through_a_closure",
        "through_a_function",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys, expected);
}
