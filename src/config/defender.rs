//! `common.defender` (SFTPGo's keys and defaults) and `common.allowlist`.

use super::raw::{Obj, Result};
use crate::limits::defender::DefenderConfig;
use crate::util::cidr::IpNet;
use std::time::Duration;

pub fn read(common: &Obj) -> Result<DefenderConfig> {
    let d = common.obj("defender")?;
    let def = DefenderConfig::default();
    let minutes = |key: &str, default: Duration| -> Result<Duration> {
        let m = d.float(key, default.as_secs_f64() / 60.0, 0.0, 525_600.0)?;
        Ok(Duration::from_secs_f64(m * 60.0))
    };
    let score = |key: &str, default: u32| -> Result<u32> {
        Ok(d.int(key, i64::from(default), 0, 1_000_000)? as u32)
    };
    let delays = d.obj("login_delay")?;
    let allowlist = common
        .string_list("allowlist")?
        .iter()
        .map(|s| IpNet::parse(s).map_err(|m| common.error("allowlist", m)))
        .collect::<Result<Vec<_>>>()?;
    let driver = d.string("driver", "memory")?;
    if driver != "memory" {
        return Err(d.error(
            "driver",
            format!("{driver:?}: only \"memory\" is supported"),
        ));
    }
    let cfg = DefenderConfig {
        enabled: d.boolean("enabled", def.enabled)?,
        ban_time: minutes("ban_time", def.ban_time)?,
        ban_time_increment: score("ban_time_increment", def.ban_time_increment)?,
        threshold: score("threshold", def.threshold)?,
        score_invalid: score("score_invalid", def.score_invalid)?,
        score_valid: score("score_valid", def.score_valid)?,
        score_limit_exceeded: score("score_limit_exceeded", def.score_limit_exceeded)?,
        score_no_auth: score("score_no_auth", def.score_no_auth)?,
        score_bad_command: score("score_bad_command", def.score_bad_command)?,
        observation_time: minutes("observation_time", def.observation_time)?,
        entries_soft_limit: d.int("entries_soft_limit", 100, 1, 10_000_000)? as usize,
        entries_hard_limit: d.int("entries_hard_limit", 150, 1, 10_000_000)? as usize,
        login_delay_success: Duration::from_millis(delays.int("success", 0, 0, 60_000)? as u64),
        login_delay_failed: Duration::from_millis(
            delays.int("password_failed", 1000, 0, 60_000)? as u64
        ),
        allowlist,
    };
    if cfg.enabled {
        if cfg.entries_soft_limit >= cfg.entries_hard_limit {
            return Err(d.error(
                "entries_hard_limit",
                "must be greater than entries_soft_limit",
            ));
        }
        for (key, v) in [
            ("score_invalid", cfg.score_invalid),
            ("score_valid", cfg.score_valid),
            ("score_limit_exceeded", cfg.score_limit_exceeded),
            ("score_no_auth", cfg.score_no_auth),
            ("score_bad_command", cfg.score_bad_command),
        ] {
            if v >= cfg.threshold {
                return Err(d.error(
                    key,
                    format!("{v} must be below threshold {}", cfg.threshold),
                ));
            }
        }
        let total = cfg.score_invalid
            + cfg.score_valid
            + cfg.score_limit_exceeded
            + cfg.score_no_auth
            + cfg.score_bad_command;
        if total == 0 {
            return Err(d.error("threshold", "at least one score must be above 0"));
        }
    }
    Ok(cfg)
}
