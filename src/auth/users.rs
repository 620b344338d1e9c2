//! The users file: an SFTPGo dump (`{"users":[...]}`) read into checked [`User`]s.
//!
//! Field names and meanings are SFTPGo's. Plain-text passwords are hashed at load (with a
//! warning), as SFTPGo does. A bad entry is a startup error naming the file, the entry and
//! the field; fields that would restrict a user but are not enforced yet are warned about,
//! so an administrator never believes a limit holds when it does not.

use super::hash;
use super::permissions::{PermSet, Permissions};
use crate::config::raw::{self, ConfigError, Obj};
use crate::config::{Provider, MAX_USERS_FILE};
use crate::util::cidr::IpNet;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct User {
    pub username: String,
    /// A hash in one of the formats [`hash::verify`] reads; empty = password login impossible.
    pub password_hash: String,
    pub enabled: bool,
    pub expires: Option<SystemTime>,
    pub home_dir: PathBuf,
    pub permissions: Permissions,
    pub allowed_ip: Vec<IpNet>,
    pub denied_ip: Vec<IpNet>,
    /// `filters.denied_protocols` contains "FTP".
    pub ftp_denied: bool,
    /// `filters.start_directory`, cleaned; "/" when unset.
    pub start_directory: String,
    /// `filters.ftp_security` 1: this user must use TLS, whatever the binding allows.
    pub tls_required: bool,
    /// `filters.denied_login_methods` that apply to FTP.
    pub denied_methods: Vec<LoginMethod>,
    /// `filters.tls_certs`: DER of the client certificates allowed to log in as this user.
    pub tls_certs: Vec<Vec<u8>>,
    /// `filters.tls_username` "CommonName": the certificate's CN must be the user name.
    pub tls_username_cn: bool,
    pub limits: super::user_limits::Limits,
    /// SFTPGo's `uid`/`gid`: owner of new files when running as root (None: 0 or less, or
    /// past i32, as SFTPGo ignores those).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub virtual_folders: Vec<super::folders::FolderDef>,
    pub patterns: crate::vfs::patterns::FilePatterns,
}

/// SFTPGo's login methods that FTP uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMethod {
    Password,
    TlsCertificate,
    TlsCertificateAndPassword,
}

impl LoginMethod {
    pub fn name(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::TlsCertificate => "TLSCertificate",
            LoginMethod::TlsCertificateAndPassword => "TLSCertificate+password",
        }
    }
}

impl User {
    pub fn method_allowed(&self, m: LoginMethod) -> bool {
        !self.denied_methods.contains(&m)
    }

    /// Whether the user has any rule tying it to client certificates.
    pub fn uses_certificates(&self) -> bool {
        !self.tls_certs.is_empty() || self.tls_username_cn
    }

    /// SFTPGo's rule: the allowed list is checked first (an IP in both is allowed); when an
    /// allowed list exists, anything outside it is refused.
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        if self.allowed_ip.iter().any(|n| n.contains(ip)) {
            return true;
        }
        if !self.allowed_ip.is_empty() {
            return false;
        }
        !self.denied_ip.iter().any(|n| n.contains(ip))
    }

    pub fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|t| now >= t)
    }
}

#[derive(Debug, Default)]
pub struct UserDb {
    users: HashMap<String, Arc<User>>,
    /// The dump's `ip_lists`.
    pub ip_lists: super::ip_lists::IpLists,
}

impl UserDb {
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.get(name).cloned()
    }

    /// The user names, in no order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Reads the dump named by `data_provider.name`. Returns the users and warnings.
    pub fn load(p: &Provider) -> Result<(UserDb, Vec<String>), ConfigError> {
        let file = p.users_file.as_path();
        let value = raw::read_json(file, MAX_USERS_FILE)?;
        let root = Obj::root(file, &value)?;
        let mut warnings = Vec::new();
        let mut users = HashMap::new();
        let folders = super::folders::read_folders(&root)?;
        for (i, u) in root.obj_list("users")?.iter().enumerate() {
            let user = read_user(u, p, &folders, &mut warnings)?;
            if users.contains_key(&user.username) {
                return Err(root.error(
                    &format!("users[{i}].username"),
                    format!("{:?} appears twice", user.username),
                ));
            }
            users.insert(user.username.clone(), Arc::new(user));
        }
        let ip_lists = super::ip_lists::IpLists::read(&root)?;
        Ok((UserDb { users, ip_lists }, warnings))
    }
}

/// Restricting fields of an SFTPGo user that this version does not enforce yet.
const NOT_ENFORCED: &[&str] = &[];
const FILTERS_NOT_ENFORCED: &[&str] = &["access_time", "two_factor_protocols"];

fn read_user(
    u: &Obj,
    p: &Provider,
    folders: &HashMap<String, std::path::PathBuf>,
    warnings: &mut Vec<String>,
) -> Result<User, ConfigError> {
    let username = u.string("username", "")?;
    if username.trim().is_empty() {
        return Err(u.error("username", "is required"));
    }
    if username.contains(['/', '\\']) || username.chars().any(char::is_control) {
        return Err(u.error(
            "username",
            format!("{username:?} contains '/', '\\' or a control character"),
        ));
    }
    let who = format!("user {username:?}");
    let err = |key: &str, msg: String| u.error(key, format!("{who}: {msg}"));

    let mut password = u.string("password", "")?;
    if !password.is_empty() {
        if hash::is_hashed(&password) {
            hash::validate(&password).map_err(|e| err("password", e.to_string()))?;
        } else {
            warnings.push(format!(
                "{}: {who}: plain-text password hashed in memory; store a hash (ferroftpd hash-password)",
                u.file().display()
            ));
            password = hash::hash_bcrypt(password.as_bytes(), p.bcrypt_cost)
                .map_err(|e| err("password", e.to_string()))?;
        }
    }

    let status = u.int("status", 0, i64::MIN, i64::MAX)?;
    // Users this server cannot serve as SFTPGo would are loaded unable to log in, rather
    // than served differently (an S3 user from the local home_dir, say).
    let mut refuse = |why: &str| {
        warnings.push(format!(
            "{}: {who}: {why}: this user cannot log in",
            u.file().display()
        ));
    };
    let provider = u.obj("filesystem")?.int("provider", 0, 0, 99)?;
    let mut servable = true;
    if provider != 0 {
        refuse(&format!(
            "filesystem.provider {provider} is not served (only the local filesystem, 0)"
        ));
        servable = false;
    }
    if u.obj("filters")?
        .boolean("require_password_change", false)?
    {
        refuse("filters.require_password_change is set (SFTPGo refuses FTP logins then)");
        servable = false;
    }
    if u.obj("filters")?.boolean("is_anonymous", false)? {
        refuse("filters.is_anonymous is not supported");
        servable = false;
    }
    let owner_id = |key: &str| -> Result<Option<u32>, ConfigError> {
        let v = u.int(key, 0, i64::MIN, i64::MAX)?;
        Ok(u32::try_from(v)
            .ok()
            .filter(|id| *id > 0 && i32::try_from(*id).is_ok()))
    };
    let (uid, gid) = (owner_id("uid")?, owner_id("gid")?);
    let expiration_ms = u.int("expiration_date", 0, 0, i64::MAX)?;
    let home = u.string("home_dir", "")?;
    let home_dir = if home.is_empty() {
        match &p.users_base_dir {
            Some(base) => base.join(&username),
            None => {
                return Err(err(
                    "home_dir",
                    "is required (or set data_provider.users_base_dir)".into(),
                ))
            }
        }
    } else {
        PathBuf::from(&home)
    };
    if !home_dir.is_absolute() {
        return Err(err(
            "home_dir",
            format!("{home:?} must be an absolute path"),
        ));
    }

    let perms_obj = u.obj("permissions")?;
    let mut entries = Vec::new();
    if let Some(serde_json::Value::Object(map)) = u.get("permissions") {
        for dir in map.keys() {
            let names = perms_obj.string_list(dir)?;
            let set = PermSet::parse(&names).map_err(|m| err(&format!("permissions.{dir}"), m))?;
            entries.push((dir.clone(), set));
        }
    }
    let permissions = Permissions::new(entries).map_err(|m| err("permissions", m))?;

    let filters = u.obj("filters")?;
    let nets = |key: &str| -> Result<Vec<IpNet>, ConfigError> {
        filters
            .string_list(key)?
            .iter()
            .map(|s| IpNet::parse(s).map_err(|m| filters.error(key, format!("{who}: {m}"))))
            .collect()
    };
    let allowed_ip = nets("allowed_ip")?;
    let denied_ip = nets("denied_ip")?;
    let ftp_denied = filters
        .string_list("denied_protocols")?
        .iter()
        .any(|p| p == "FTP");
    let start = filters.string("start_directory", "")?;
    let start_directory = if start.is_empty() {
        "/".to_string()
    } else {
        crate::vfs::path::clean_absolute(&start)
            .ok_or_else(|| filters.error("start_directory", format!("{who}: must be absolute")))?
    };

    let tls_required = filters.int("ftp_security", 0, 0, 1)? == 1;
    let denied_methods = filters
        .string_list("denied_login_methods")?
        .iter()
        .filter_map(|m| match m.as_str() {
            "password" => Some(LoginMethod::Password),
            "TLSCertificate" => Some(LoginMethod::TlsCertificate),
            "TLSCertificate+password" => Some(LoginMethod::TlsCertificateAndPassword),
            _ => None, // SSH-only methods
        })
        .collect();
    let mut tls_certs = Vec::new();
    for (i, pem) in filters.string_list("tls_certs")?.iter().enumerate() {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            filters.error(
                &format!("tls_certs[{i}]"),
                format!("{who}: not a PEM certificate: {e}"),
            )
        })?;
        tls_certs.push(der.as_ref().to_vec());
    }
    let tls_username_cn = match filters.string("tls_username", "")?.as_str() {
        "CommonName" => true,
        "" | "None" => false,
        other => {
            return Err(filters.error(
                "tls_username",
                format!("{who}: {other:?} is not None or CommonName"),
            ))
        }
    };

    let limits = super::user_limits::read(u, &filters, &who)?;
    for key in NOT_ENFORCED {
        if u.int(key, 0, i64::MIN, i64::MAX).unwrap_or(1) != 0 {
            warnings.push(format!(
                "{}: {who}: {key} is not enforced by this version of ferroftpd",
                u.file().display()
            ));
        }
    }
    let virtual_folders = super::folders::read_virtual_folders(u, folders, &who)?;
    let patterns = super::folders::read_patterns(&filters, &who)?;
    for key in FILTERS_NOT_ENFORCED {
        let set = match filters.get(key) {
            None => false,
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            Some(serde_json::Value::Number(n)) => n.as_i64() != Some(0),
            Some(_) => true,
        };
        if set {
            warnings.push(format!(
                "{}: {who}: filters.{key} is not enforced by this version of ferroftpd",
                u.file().display()
            ));
        }
    }

    Ok(User {
        username,
        password_hash: password,
        enabled: status == 1 && servable,
        expires: (expiration_ms > 0)
            .then(|| UNIX_EPOCH + Duration::from_millis(expiration_ms as u64)),
        home_dir,
        permissions,
        allowed_ip,
        denied_ip,
        ftp_denied,
        start_directory,
        tls_required,
        denied_methods,
        tls_certs,
        tls_username_cn,
        limits,
        uid,
        gid,
        virtual_folders,
        patterns,
    })
}
