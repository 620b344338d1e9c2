//! A checked walk over the parsed JSON: every read names its key, so every error can say
//! `FILE: ftpd.bindings[0].port: ...`, and the keys nobody read are reported at the end.

use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// A startup error: the file, the key (dotted path) and what is wrong, on one line.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

pub type Result<T> = std::result::Result<T, ConfigError>;

/// Reads a JSON file; a syntax error names its line and column.
pub fn read_json(file: &Path, max_bytes: u64) -> Result<Value> {
    let err = |message: String| ConfigError {
        file: file.to_path_buf(),
        key: String::new(),
        message,
    };
    let meta = std::fs::metadata(file).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.len() > max_bytes {
        return Err(err(format!(
            "file is {} bytes, more than the {max_bytes} allowed",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(file).map_err(|e| err(format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "invalid JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            e
        ))
    })
}

/// One JSON object being read, with the path of keys that led to it.
pub struct Obj<'a> {
    file: &'a Path,
    path: String,
    map: Option<&'a Map<String, Value>>,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Obj<'a> {
    /// The top-level object of a file.
    pub fn root(file: &'a Path, value: &'a Value) -> Result<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj::new(file, String::new(), Some(map))),
            _ => Err(ConfigError {
                file: file.to_path_buf(),
                key: String::new(),
                message: "the top level must be a JSON object".into(),
            }),
        }
    }

    fn new(file: &'a Path, path: String, map: Option<&'a Map<String, Value>>) -> Obj<'a> {
        Obj {
            file,
            path,
            map,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// Dotted path of `key` inside this object.
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            key: self.key_path(key),
            message: message.into(),
        }
    }

    /// The raw value of `key`, marking it read. JSON `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.used.borrow_mut().insert(key.to_string());
        match self.map.and_then(|m| m.get(key)) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        matches!(self.map.and_then(|m| m.get(key)), Some(v) if !v.is_null())
    }

    /// A nested object; absent gives an empty one so defaults apply.
    pub fn obj(&self, key: &str) -> Result<Obj<'a>> {
        match self.get(key) {
            None => Ok(Obj::new(self.file, self.key_path(key), None)),
            Some(Value::Object(m)) => Ok(Obj::new(self.file, self.key_path(key), Some(m))),
            Some(_) => Err(self.error(key, "expected an object")),
        }
    }

    /// A list of objects, each read with its index in the path (`bindings[1]`).
    pub fn obj_list(&self, key: &str) -> Result<Vec<Obj<'a>>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(m) => Ok(Obj::new(
                        self.file,
                        format!("{}[{i}]", self.key_path(key)),
                        Some(m),
                    )),
                    _ => Err(self.error(&format!("{key}[{i}]"), "expected an object")),
                })
                .collect(),
            Some(_) => Err(self.error(key, "expected a list")),
        }
    }

    pub fn string(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.error(key, format!("expected a string, got {other}"))),
        }
    }

    pub fn string_list(&self, key: &str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(
                        &format!("{key}[{i}]"),
                        format!("expected a string, got {other}"),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(key, format!("expected a list of strings, got {other}"))),
        }
    }

    /// SFTPGo (Go/viper) accepts true/false; 0/1 and "true"/"false" are accepted too since
    /// environment-style configs write them that way.
    pub fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(false),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(true),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            Some(other) => Err(self.error(key, format!("expected true or false, got {other}"))),
        }
    }

    /// An integer within `min..=max`.
    pub fn int(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64> {
        let v = match self.get(key) {
            None => return Ok(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => v,
                None => {
                    return Err(self.error(key, format!("expected a whole number, got {n}")));
                }
            },
            Some(other) => {
                return Err(self.error(key, format!("expected a whole number, got {other}")))
            }
        };
        if v < min || v > max {
            return Err(self.error(key, format!("{v} is out of range {min} to {max}")));
        }
        Ok(v)
    }

    /// A number (fractions allowed) within `min..=max`.
    pub fn float(&self, key: &str, default: f64, min: f64, max: f64) -> Result<f64> {
        let v = match self.get(key) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(other) => return Err(self.error(key, format!("expected a number, got {other}"))),
        };
        if !(min..=max).contains(&v) {
            return Err(self.error(key, format!("{v} is out of range {min} to {max}")));
        }
        Ok(v)
    }

    /// Keys present in the file but never read: `(dotted key, known to SFTPGo)`.
    pub fn unread(&self, sftpgo_keys: &[&str]) -> Vec<(String, bool)> {
        let used = self.used.borrow();
        self.map
            .map(|m| {
                m.keys()
                    .filter(|k| !used.contains(*k))
                    .map(|k| (self.key_path(k), sftpgo_keys.contains(&k.as_str())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_and_key() {
        let v: Value = serde_json::from_str(r#"{"ftpd":{"bindings":[{"port":70000}]}}"#).unwrap();
        let file = Path::new("/etc/x.json");
        let root = Obj::root(file, &v).unwrap();
        let ftpd = root.obj("ftpd").unwrap();
        let b = ftpd.obj_list("bindings").unwrap();
        let e = b[0].int("port", 0, 0, 65535).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/x.json: ftpd.bindings[0].port: 70000 is out of range 0 to 65535"
        );
    }

    #[test]
    fn unread_keys_are_reported() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":2,"zz":3}"#).unwrap();
        let root = Obj::root(Path::new("f"), &v).unwrap();
        root.int("a", 0, 0, 9).unwrap();
        assert_eq!(
            root.unread(&["b"]),
            vec![("b".to_string(), true), ("zz".to_string(), false)]
        );
    }
}
