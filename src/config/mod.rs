//! The configuration: SFTPGo's `ftpd`, `common`, `data_provider` and `acme` sections, read
//! from one JSON file into a checked [`Config`]. Defaults are SFTPGo's and live in this file
//! only.
//!
//! Keys SFTPGo has but ferroftpd does not implement yet are accepted with a warning naming
//! them; keys nobody knows are warned about as likely typos; sections that are not about FTP
//! (`sftpd`, `httpd`, ...) are ignored so an SFTPGo `sftpgo.json` works unchanged.

pub mod acme;
pub mod defender;
pub mod raw;
pub mod tls;

use crate::util::cidr::IpNet;
use raw::{ConfigError, Obj, Result};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG: &str = "/usr/local/etc/ferroftpd/ferroftpd.json";

/// SFTPGo's limit for the memory provider's dump file.
pub const MAX_USERS_FILE: u64 = 20 * 1024 * 1024;
const MAX_CONFIG_FILE: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub ftpd: Ftpd,
    pub common: Common,
    pub provider: Provider,
    /// `acme`: None when no domain is configured.
    pub acme: Option<acme::Acme>,
}

#[derive(Debug, Clone)]
pub struct Ftpd {
    pub bindings: Vec<Binding>,
    /// Greeting lines (220); from `banner_file`, else `banner`, else our name.
    pub banner: Vec<String>,
    /// `passive_port_range`; None = any ephemeral port.
    pub passive_ports: Option<(u16, u16)>,
    pub disable_active_mode: bool,
    pub active_transfers_port_non_20: bool,
    /// Global certificate and CA files.
    pub tls: tls::GlobalTls,
    /// `enable_site`: SITE CHMOD, SYMLINK, MKDIR and RMDIR (SITE HELP is always on).
    pub enable_site: bool,
    /// `hash_support` > 0: HASH, OPTS HASH and the legacy checksum commands.
    pub hash_support: bool,
    /// `combine_support` > 0: COMB.
    pub combine_support: bool,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub addr: SocketAddr,
    /// `address` as written, for logs.
    pub name: String,
    pub force_passive_ip: Option<Ipv4Addr>,
    pub passive_host: Option<String>,
    pub passive_ip_overrides: Vec<PassiveOverride>,
    /// `passive_connections_security` 0: the data peer must be the control peer.
    pub passive_ip_check: bool,
    /// `active_connections_security` 0: PORT/EPRT may only name the control peer.
    pub active_ip_check: bool,
    pub ignore_ascii: bool,
    pub debug: bool,
    pub tls: tls::BindingTls,
    /// `apply_proxy_config`: `common.proxy_protocol` applies to this binding's control and
    /// passive data connections.
    pub apply_proxy: bool,
}

#[derive(Debug, Clone)]
pub struct PassiveOverride {
    pub networks: Vec<IpNet>,
    /// None: the local address of the control connection.
    pub ip: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// Write the target in place.
    Standard,
    /// Write a temporary file beside the target, rename on success, delete on failure.
    Atomic,
    /// Like Atomic, but a failed upload's partial file is renamed into place for resuming.
    AtomicResume,
}

#[derive(Debug, Clone)]
pub struct Common {
    /// None: no idle limit.
    pub idle_timeout: Option<Duration>,
    pub upload_mode: UploadMode,
    /// 0 = unlimited.
    pub max_total_connections: u32,
    /// 0 = unlimited.
    pub max_per_host_connections: u32,
    /// `defender` and `allowlist`.
    pub defender: crate::limits::defender::DefenderConfig,
    /// `allowlist_status` 1: only addresses on the dump's allow list (`ip_lists` type 1).
    pub allowlist_only: bool,
    /// `proxy_protocol`, `proxy_allowed`, `proxy_skipped`.
    pub proxy: crate::proxy_proto::ProxyConfig,
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub users_file: PathBuf,
    pub users_base_dir: Option<PathBuf>,
    /// bcrypt cost used to hash plain-text passwords found in the dump.
    pub bcrypt_cost: u32,
    /// `password_caching`: remember verified passwords (as salted digests).
    pub password_caching: bool,
}

/// Sections of an SFTPGo configuration that are not about FTP: ignored.
const OTHER_SECTIONS: &[&str] = &[
    "sftpd",
    "webdavd",
    "httpd",
    "http",
    "telemetry",
    "command",
    "kms",
    "mfa",
    "smtp",
    "plugins",
];

const SFTPGO_FTPD_KEYS: &[&str] = &[
    "bindings",
    "banner",
    "banner_file",
    "active_transfers_port_non_20",
    "passive_port_range",
    "disable_active_mode",
    "enable_site",
    "hash_support",
    "combine_support",
    "certificate_file",
    "certificate_key_file",
    "ca_certificates",
    "ca_revocation_lists",
];

const SFTPGO_BINDING_KEYS: &[&str] = &[
    "address",
    "port",
    "apply_proxy_config",
    "tls_mode",
    "tls_session_reuse",
    "certificate_file",
    "certificate_key_file",
    "min_tls_version",
    "force_passive_ip",
    "passive_ip_overrides",
    "passive_host",
    "client_auth_type",
    "tls_cipher_suites",
    "passive_connections_security",
    "active_connections_security",
    "ignore_ascii_transfer_type",
    "debug",
];

const SFTPGO_COMMON_KEYS: &[&str] = &[
    "idle_timeout",
    "upload_mode",
    "actions",
    "setstat_mode",
    "rename_mode",
    "resume_max_size",
    "temp_path",
    "proxy_protocol",
    "proxy_allowed",
    "proxy_skipped",
    "startup_hook",
    "post_connect_hook",
    "post_disconnect_hook",
    "data_retention_hook",
    "max_total_connections",
    "max_per_host_connections",
    "allowlist_status",
    "allow_self_connections",
    "defender",
    "rate_limiters",
    "umask",
    "server_version",
    "metadata",
    "event_manager",
    "tz",
    "symlink_mode",
];

const SFTPGO_PROVIDER_KEYS: &[&str] = &[
    "driver",
    "name",
    "host",
    "port",
    "username",
    "password",
    "sslmode",
    "disable_sni",
    "target_session_attrs",
    "root_cert",
    "client_cert",
    "client_key",
    "connection_string",
    "sql_tables_prefix",
    "track_quota",
    "delayed_quota_update",
    "pool_size",
    "users_base_dir",
    "actions",
    "external_auth_hook",
    "external_auth_scope",
    "pre_login_hook",
    "post_login_hook",
    "post_login_scope",
    "check_password_hook",
    "check_password_scope",
    "password_hashing",
    "password_validation",
    "password_caching",
    "update_mode",
    "create_default_admin",
    "naming_rules",
    "is_shared",
    "node",
    "backups_path",
];

impl Config {
    /// Reads and checks the file. Warnings (unimplemented or unknown keys) are returned so
    /// the caller decides where they go.
    pub fn load(file: &Path) -> std::result::Result<(Config, Vec<String>), ConfigError> {
        let value = raw::read_json(file, MAX_CONFIG_FILE)?;
        let root = Obj::root(file, &value)?;
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut warnings = Vec::new();

        let common_obj = root.obj("common")?;
        let common = read_common(&common_obj)?;
        // Before ftpd: the ACME pair replaces the global certificate (as in SFTPGo).
        let acme = acme::read(&root, &dir, &mut warnings)?;
        let ftpd_obj = root.obj("ftpd")?;
        let acme_pair = acme.as_ref().and_then(acme::Acme::served);
        let ftpd = read_ftpd(&ftpd_obj, &common_obj, &dir, acme_pair, &mut warnings)?;
        if let Some(a) = &acme {
            let ports: Vec<u16> = ftpd.bindings.iter().map(|b| b.addr.port()).collect();
            acme::check_ports(a, &ports, file)?;
        }
        let provider_obj = root.obj("data_provider")?;
        let provider = read_provider(&provider_obj, &dir)?;

        if common.proxy.mode == crate::proxy_proto::Mode::Optional
            && common.proxy.allowed.is_empty()
        {
            warnings.push(format!(
                "{}: common.proxy_allowed: empty, so proxy_protocol 1 never uses a PROXY header",
                file.display()
            ));
        }
        for (obj, known) in [
            (&common_obj, SFTPGO_COMMON_KEYS),
            (&ftpd_obj, SFTPGO_FTPD_KEYS),
            (&provider_obj, SFTPGO_PROVIDER_KEYS),
        ] {
            push_unread(obj, known, &mut warnings);
        }
        for (key, _) in root.unread(&[]) {
            if !OTHER_SECTIONS.contains(&key.as_str()) {
                warnings.push(format!(
                    "{}: {key}: unknown section, ignored",
                    file.display()
                ));
            }
        }
        Ok((
            Config {
                file: file.to_path_buf(),
                ftpd,
                common,
                provider,
                acme,
            },
            warnings,
        ))
    }
}

fn push_unread(obj: &Obj, known: &[&str], warnings: &mut Vec<String>) {
    for (key, is_sftpgo) in obj.unread(known) {
        let what = if is_sftpgo {
            "an SFTPGo key ferroftpd does not implement yet; ignored"
        } else {
            "unknown key (a typo?); ignored"
        };
        warnings.push(format!("{}: {key}: {what}", obj.file().display()));
    }
}

fn read_common(c: &Obj) -> Result<Common> {
    // SFTPGo's unit is whole minutes; fractions are accepted so tests can use seconds.
    let idle = c.float("idle_timeout", 15.0, 0.0, 525_600.0)?;
    let upload_mode = match c.int("upload_mode", 0, 0, 31)? {
        m if m & 2 != 0 => UploadMode::AtomicResume,
        m if m & 1 != 0 => UploadMode::Atomic,
        _ => UploadMode::Standard,
    };
    Ok(Common {
        idle_timeout: (idle > 0.0).then(|| Duration::from_secs_f64(idle * 60.0)),
        upload_mode,
        max_total_connections: c.int("max_total_connections", 0, 0, u32::MAX as i64)? as u32,
        max_per_host_connections: c.int("max_per_host_connections", 20, 0, u32::MAX as i64)? as u32,
        defender: defender::read(c)?,
        allowlist_only: c.int("allowlist_status", 0, 0, 1)? == 1,
        proxy: read_proxy(c)?,
    })
}

/// `proxy_protocol` 0-2 with its source lists (IPs or CIDRs). Mode 2 with no allowed source
/// would refuse every connection: a startup error rather than a server nobody can reach.
fn read_proxy(c: &Obj) -> Result<crate::proxy_proto::ProxyConfig> {
    use crate::proxy_proto::{Mode, ProxyConfig};
    let mode = match c.int("proxy_protocol", 0, 0, 2)? {
        1 => Mode::Optional,
        2 => Mode::Required,
        _ => Mode::Off,
    };
    let nets = |key: &str| -> Result<Vec<IpNet>> {
        c.string_list(key)?
            .iter()
            .enumerate()
            .map(|(i, n)| IpNet::parse(n).map_err(|m| c.error(&format!("{key}[{i}]"), m)))
            .collect()
    };
    let allowed = nets("proxy_allowed")?;
    let skipped = nets("proxy_skipped")?;
    if mode == Mode::Required && allowed.is_empty() {
        return Err(c.error(
            "proxy_allowed",
            "is empty, and proxy_protocol 2 refuses every source not listed here: nobody could connect",
        ));
    }
    Ok(ProxyConfig {
        mode,
        allowed,
        skipped,
    })
}

fn read_ftpd(
    f: &Obj,
    common: &Obj,
    dir: &Path,
    acme_pair: Option<tls::CertFiles>,
    warnings: &mut Vec<String>,
) -> Result<Ftpd> {
    let mut global_tls = tls::read_global(f, dir)?;
    if let Some(pair) = acme_pair {
        if global_tls.cert.is_some() {
            warnings.push(format!(
                "{}: ftpd.certificate_file: replaced by the ACME certificate ({})",
                f.file().display(),
                pair.cert.display()
            ));
        }
        global_tls.cert = Some(pair);
    }
    let mut bindings = Vec::new();
    for b in f.obj_list("bindings")? {
        if let Some(binding) = read_binding(&b, dir, &global_tls, warnings)? {
            bindings.push(binding);
        }
        push_unread(&b, SFTPGO_BINDING_KEYS, warnings);
    }
    if bindings.is_empty() {
        return Err(f.error(
            "bindings",
            "no binding with a port other than 0: FTP would not listen anywhere",
        ));
    }
    for (i, a) in bindings.iter().enumerate() {
        if bindings[..i].iter().any(|b| b.addr == a.addr) {
            return Err(f.error("bindings", format!("{} is listed twice", a.addr)));
        }
    }

    let range = f.obj("passive_port_range")?;
    let start = range.int("start", 50000, 0, 65535)? as u16;
    let end = range.int("end", 50100, 0, 65535)? as u16;
    push_unread(&range, &["start", "end"], warnings);
    let passive_ports = if start == 0 {
        None
    } else if start > end {
        return Err(f.error(
            "passive_port_range",
            format!("start {start} is greater than end {end}"),
        ));
    } else {
        Some((start, end))
    };

    let version = crate::VERSION;
    let mut banner = vec![if common.string("server_version", "")? == "short" {
        "ferroftpd".to_string()
    } else {
        format!("ferroftpd {version}")
    }];
    let legacy = f.string("banner", "")?;
    if !legacy.is_empty() {
        banner = legacy.lines().map(|l| l.trim_end().to_string()).collect();
    }
    let banner_file = f.string("banner_file", "")?;
    if !banner_file.is_empty() {
        let path = dir.join(&banner_file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            f.error(
                "banner_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.trim_end().chars().take(200).collect())
            .take(50)
            .collect();
        if !lines.is_empty() {
            banner = lines;
        }
    }

    Ok(Ftpd {
        bindings,
        banner,
        passive_ports,
        disable_active_mode: f.boolean("disable_active_mode", false)?,
        active_transfers_port_non_20: f.boolean("active_transfers_port_non_20", true)?,
        tls: global_tls,
        enable_site: f.boolean("enable_site", false)?,
        // SFTPGo has these two as ints, switched on by any value above 0.
        hash_support: f.int("hash_support", 0, 0, i64::from(i32::MAX))? > 0,
        combine_support: f.int("combine_support", 0, 0, i64::from(i32::MAX))? > 0,
    })
}

fn read_binding(
    b: &Obj,
    dir: &Path,
    global_tls: &tls::GlobalTls,
    warnings: &mut Vec<String>,
) -> Result<Option<Binding>> {
    let port = b.int("port", 0, 0, 65535)? as u16;
    let address = b.string("address", "")?;
    // Read every key even for a disabled binding, so typos there are reported too.
    let force = b.string("force_passive_ip", "")?;
    let passive_host = b.string("passive_host", "")?;
    let pcs = b.int("passive_connections_security", 0, 0, 1)?;
    let acs = b.int("active_connections_security", 0, 0, 1)?;
    let ignore_ascii = b.int("ignore_ascii_transfer_type", 0, 0, 1)? == 1;
    let debug = b.boolean("debug", false)?;
    let apply_proxy = b.boolean("apply_proxy_config", true)?;
    let overrides = b
        .obj_list("passive_ip_overrides")?
        .iter()
        .map(read_override)
        .collect::<Result<Vec<_>>>()?;
    let name = if address.is_empty() {
        format!("*:{port}")
    } else {
        format!("{address}:{port}")
    };
    let tls = tls::read_binding(b, dir, global_tls, &name, warnings)?;
    if port == 0 {
        return Ok(None);
    }
    let ip = parse_listen_address(&address).map_err(|m| b.error("address", m))?;
    let force_passive_ip = if force.is_empty() {
        None
    } else {
        Some(force.parse::<Ipv4Addr>().map_err(|_| {
            b.error(
                "force_passive_ip",
                format!("{force:?} is not an IPv4 address (PASV carries IPv4 only)"),
            )
        })?)
    };
    Ok(Some(Binding {
        addr: SocketAddr::new(ip, port),
        name,
        force_passive_ip,
        passive_host: (!passive_host.is_empty()).then_some(passive_host),
        passive_ip_overrides: overrides,
        passive_ip_check: pcs == 0,
        active_ip_check: acs == 0,
        ignore_ascii,
        debug,
        tls,
        apply_proxy,
    }))
}

fn read_override(o: &Obj) -> Result<PassiveOverride> {
    let networks = o
        .string_list("networks")?
        .iter()
        .map(|n| IpNet::parse(n).map_err(|m| o.error("networks", m)))
        .collect::<Result<Vec<_>>>()?;
    if networks.is_empty() {
        return Err(o.error("networks", "must list at least one network"));
    }
    let ip = o.string("ip", "")?;
    let ip = if ip.is_empty() {
        None
    } else {
        Some(
            ip.parse::<IpAddr>()
                .map_err(|_| o.error("ip", format!("{ip:?} is not an IP address")))?,
        )
    };
    Ok(PassiveOverride { networks, ip })
}

/// "" = every interface (IPv6 and IPv4 where the system allows both on one socket);
/// "[::1]" and "::1" are both accepted; a host name is resolved once, at start.
fn parse_listen_address(address: &str) -> std::result::Result<IpAddr, String> {
    if address.is_empty() {
        return Ok(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    }
    let bare = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    (bare, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .map(|sa| sa.ip())
        .ok_or_else(|| format!("{address:?} is neither an IP address nor a resolvable host"))
}

fn read_provider(p: &Obj, dir: &Path) -> Result<Provider> {
    let driver = p.string("driver", "sqlite")?;
    if driver != "memory" {
        return Err(p.error(
            "driver",
            format!("{driver:?} is not supported: ferroftpd reads users from a JSON dump with \"driver\": \"memory\""),
        ));
    }
    let name = p.string("name", "")?;
    if name.is_empty() {
        return Err(p.error("name", "must name the users file (an SFTPGo dump)"));
    }
    let base = p.string("users_base_dir", "")?;
    let hashing = p.obj("password_hashing")?;
    let bcrypt = hashing.obj("bcrypt_options")?;
    let cost = bcrypt.int("cost", 10, 4, 31)? as u32;
    Ok(Provider {
        users_file: dir.join(name),
        users_base_dir: (!base.is_empty()).then(|| PathBuf::from(base)),
        bcrypt_cost: cost,
        password_caching: p.boolean("password_caching", true)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(json: &str) -> std::result::Result<(Config, Vec<String>), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, json).unwrap();
        Config::load(&file)
    }

    const MIN: &str = r#""data_provider":{"driver":"memory","name":"users.json"}"#;

    #[test]
    fn minimal_config_gets_sftpgo_defaults() {
        let (c, w) = load(&format!(
            r#"{{"ftpd":{{"bindings":[{{"port":2121}}]}},{MIN}}}"#
        ))
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.ftpd.passive_ports, Some((50000, 50100)));
        assert_eq!(c.common.max_per_host_connections, 20);
        assert_eq!(c.common.idle_timeout, Some(Duration::from_secs(900)));
        assert!(c.ftpd.bindings[0].passive_ip_check);
        assert!(c.ftpd.active_transfers_port_non_20);
    }

    #[test]
    fn extension_switches() {
        let (c, w) = load(&format!(
            r#"{{"ftpd":{{"bindings":[{{"port":21}}],"hash_support":1,"combine_support":2,"enable_site":true}},{MIN}}}"#
        ))
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert!(c.ftpd.hash_support && c.ftpd.combine_support && c.ftpd.enable_site);
        let (c, _) = load(&format!(
            r#"{{"ftpd":{{"bindings":[{{"port":21}}]}},{MIN}}}"#
        ))
        .unwrap();
        assert!(!c.ftpd.hash_support && !c.ftpd.combine_support && !c.ftpd.enable_site);
        let e = load(&format!(
            r#"{{"ftpd":{{"bindings":[{{"port":21}}],"hash_support":-1}},{MIN}}}"#
        ))
        .unwrap_err();
        assert!(e.to_string().contains("ftpd.hash_support"), "{e}");
    }

    #[test]
    fn start_after_end_names_the_key() {
        let e = load(&format!(
            r#"{{"ftpd":{{"bindings":[{{"port":21}}],"passive_port_range":{{"start":9,"end":5}}}},{MIN}}}"#
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("ftpd.passive_port_range: start 9 is greater than end 5"),
            "{e}"
        );
    }

    #[test]
    fn sftpgo_keys_warn_unknown_keys_warn_differently() {
        let (_, w) = load(&format!(
            r#"{{"common":{{"startup_hook":""}},"ftpd":{{"bindings":[{{"port":21}}],"hsah":2}},"sftpd":{{}},{MIN}}}"#
        ))
        .unwrap();
        assert!(
            w.iter()
                .any(|l| l.contains("common.startup_hook: an SFTPGo key")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|l| l.contains("ftpd.hsah: unknown key")),
            "{w:?}"
        );
        assert!(!w.iter().any(|l| l.contains("sftpd")), "{w:?}");
    }
}
