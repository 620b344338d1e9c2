//! The defender (SFTPGo's `common.defender`): failed logins and other misbehaviour score
//! points against the source address; past `threshold` within `observation_time` the address
//! is banned for `ban_time`, longer each time (`ban_time_increment` percent), and its
//! connections are closed at accept. Addresses on the allow list are never banned.
//!
//! Memory is bounded: past `entries_hard_limit` hosts, the oldest are dropped down to
//! `entries_soft_limit`.

use crate::util::cidr::IpNet;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct DefenderConfig {
    pub enabled: bool,
    pub ban_time: Duration,
    /// Percent added to the ban time for each further ban of the same host.
    pub ban_time_increment: u32,
    pub threshold: u32,
    /// Login with a user name that does not exist.
    pub score_invalid: u32,
    /// Wrong password for an existing user.
    pub score_valid: u32,
    /// A connection or session limit was hit.
    pub score_limit_exceeded: u32,
    /// A connection closed without any login attempt.
    pub score_no_auth: u32,
    /// An unknown command (500) or an overlong line: a ferroftpd extension, as the issue
    /// asks that bad commands score too (SFTPGo has no such key).
    pub score_bad_command: u32,
    pub observation_time: Duration,
    pub entries_soft_limit: usize,
    pub entries_hard_limit: usize,
    pub login_delay_success: Duration,
    pub login_delay_failed: Duration,
    /// `common.allowlist`: never banned.
    pub allowlist: Vec<IpNet>,
}

impl Default for DefenderConfig {
    /// SFTPGo's defaults (disabled).
    fn default() -> Self {
        DefenderConfig {
            enabled: false,
            ban_time: Duration::from_secs(30 * 60),
            ban_time_increment: 50,
            threshold: 15,
            score_invalid: 2,
            score_valid: 1,
            score_limit_exceeded: 3,
            score_no_auth: 0,
            score_bad_command: 1,
            observation_time: Duration::from_secs(30 * 60),
            entries_soft_limit: 100,
            entries_hard_limit: 150,
            login_delay_success: Duration::ZERO,
            login_delay_failed: Duration::from_millis(1000),
            allowlist: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    InvalidUser,
    WrongPassword,
    LimitExceeded,
    NoAuth,
    BadCommand,
}

#[derive(Default)]
struct Host {
    /// (when, points) within the observation window.
    events: VecDeque<(Instant, u32)>,
    banned_until: Option<Instant>,
    bans: u32,
    last_seen: Option<Instant>,
}

pub struct Defender {
    cfg: DefenderConfig,
    /// The users file's safelist (`ip_lists` type 2 mode 1), replaced on reload.
    safelist: std::sync::RwLock<Vec<IpNet>>,
    hosts: Mutex<HashMap<IpAddr, Host>>,
}

impl Defender {
    pub fn new(cfg: DefenderConfig) -> Defender {
        Defender {
            cfg,
            safelist: std::sync::RwLock::new(Vec::new()),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &DefenderConfig {
        &self.cfg
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.cfg.allowlist.iter().any(|n| n.contains(ip))
            || self
                .safelist
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .any(|n| n.contains(ip))
    }

    /// Replaces the safelist from the users file (at start and on SIGHUP).
    pub fn set_safelist(&self, nets: Vec<IpNet>) {
        *self
            .safelist
            .write()
            .unwrap_or_else(PoisonError::into_inner) = nets;
    }

    /// The time left on a ban of `ip`, if banned now.
    pub fn banned(&self, ip: IpAddr) -> Option<Duration> {
        if !self.cfg.enabled {
            return None;
        }
        let ip = ip.to_canonical();
        let now = Instant::now();
        let hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        hosts
            .get(&ip)
            .and_then(|h| h.banned_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Scores `event` against `ip`. Returns the ban's length when this event starts one.
    pub fn record(&self, ip: IpAddr, event: Event) -> Option<Duration> {
        if !self.cfg.enabled {
            return None;
        }
        let ip = ip.to_canonical();
        if self.allowed(ip) {
            return None;
        }
        let points = match event {
            Event::InvalidUser => self.cfg.score_invalid,
            Event::WrongPassword => self.cfg.score_valid,
            Event::LimitExceeded => self.cfg.score_limit_exceeded,
            Event::NoAuth => self.cfg.score_no_auth,
            Event::BadCommand => self.cfg.score_bad_command,
        };
        if points == 0 {
            return None;
        }
        let now = Instant::now();
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if hosts.len() >= self.cfg.entries_hard_limit && !hosts.contains_key(&ip) {
            self.trim(&mut hosts, now);
        }
        let h = hosts.entry(ip).or_default();
        h.last_seen = Some(now);
        if h.banned_until.is_some_and(|u| u > now) {
            return None;
        }
        while h
            .events
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > self.cfg.observation_time)
        {
            h.events.pop_front();
        }
        h.events.push_back((now, points));
        let score: u32 = h.events.iter().map(|(_, p)| *p).sum();
        if score < self.cfg.threshold {
            return None;
        }
        let factor = 1.0 + f64::from(self.cfg.ban_time_increment) / 100.0 * f64::from(h.bans);
        let ban = self.cfg.ban_time.mul_f64(factor);
        h.bans += 1;
        h.banned_until = Some(now + ban);
        h.events.clear();
        Some(ban)
    }

    /// Drops expired entries, then the least recently seen, down to the soft limit.
    fn trim(&self, hosts: &mut HashMap<IpAddr, Host>, now: Instant) {
        hosts.retain(|_, h| {
            h.banned_until.is_some_and(|u| u > now)
                || h.last_seen
                    .is_some_and(|t| now.duration_since(t) <= self.cfg.observation_time)
        });
        if hosts.len() >= self.cfg.entries_soft_limit {
            let mut by_age: Vec<(IpAddr, Option<Instant>)> =
                hosts.iter().map(|(ip, h)| (*ip, h.last_seen)).collect();
            by_age.sort_by_key(|(_, t)| *t);
            let excess = hosts.len() + 1 - self.cfg.entries_soft_limit.max(1);
            for (ip, _) in by_age.into_iter().take(excess) {
                hosts.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DefenderConfig {
        DefenderConfig {
            enabled: true,
            threshold: 5,
            ban_time: Duration::from_secs(60),
            ..DefenderConfig::default()
        }
    }

    #[test]
    fn bans_past_threshold_and_grows() {
        let d = Defender::new(cfg());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(d.record(ip, Event::InvalidUser), None);
        assert_eq!(d.record(ip, Event::InvalidUser), None);
        assert_eq!(
            d.record(ip, Event::WrongPassword),
            Some(Duration::from_secs(60))
        );
        assert!(d.banned(ip).is_some());
        assert!(d.banned("192.0.2.2".parse().unwrap()).is_none());
    }

    #[test]
    fn bad_commands_score_and_zero_disables_them() {
        let d = Defender::new(cfg());
        let ip: IpAddr = "192.0.2.3".parse().unwrap();
        for _ in 0..4 {
            assert_eq!(d.record(ip, Event::BadCommand), None);
        }
        assert!(d.record(ip, Event::BadCommand).is_some());
        let off = Defender::new(DefenderConfig {
            score_bad_command: 0,
            ..cfg()
        });
        for _ in 0..20 {
            assert_eq!(off.record(ip, Event::BadCommand), None);
        }
    }

    #[test]
    fn allowlist_and_disabled_never_ban() {
        let mut c = cfg();
        c.allowlist = vec![IpNet::parse("192.0.2.0/24").unwrap()];
        let d = Defender::new(c);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(d.record(ip, Event::InvalidUser), None);
        }
        let off = Defender::new(DefenderConfig::default());
        for _ in 0..20 {
            assert_eq!(off.record(ip, Event::InvalidUser), None);
        }
        assert!(off.banned(ip).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = cfg();
        c.entries_soft_limit = 10;
        c.entries_hard_limit = 20;
        let d = Defender::new(c);
        for i in 0..200u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            d.record(ip, Event::WrongPassword);
        }
        let n = d.hosts.lock().unwrap().len();
        assert!(n <= 20, "{n}");
    }
}
