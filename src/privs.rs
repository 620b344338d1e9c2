//! Privileges: started as root, ferroftpd binds its ports, then becomes the configured user
//! and group for good, before it serves anyone (OpenBSD tftpd's order: bind, setgroups,
//! setresgid, setresuid). It refuses to serve as root unless told to (`--run-as-root`, or
//! `FERROFTPD_RUN_AS_ROOT=1` in the environment), and it checks that the drop holds: root
//! cannot be taken back.
//!
//! The calls go through nix and so the C library, which applies setresuid and friends to
//! every thread of the process (the raw Linux system calls act on one thread only); on the
//! BSDs credentials belong to the process anyway. Linux capabilities are per thread, so the
//! one capability that may be kept (below) is set while the process still has one thread,
//! which [`drop_to`] checks.
//!
//! Port 20: active transfers from port 20 (`active_transfers_port_non_20` false) bind a
//! privileged port for every data connection, after the drop. On Linux the process keeps
//! CAP_NET_BIND_SERVICE for that, and nothing else; other systems have no such capability,
//! so there that setting needs `--run-as-root`, and says so at startup.
//!
//! Per-user `uid`/`gid` (SFTPGo's user fields): SFTPGo chowns new files and directories to
//! them when it runs as root, and ferroftpd does the same, only then ([`give_to`]). After a
//! drop it no longer runs as root, so new files belong to the service user. Keeping
//! CAP_CHOWN through the drop instead would undo it: a process that may chown any file can
//! take /etc/shadow. A server that must chown runs with `--run-as-root`, and the startup log
//! says which users are concerned when it does not.

use nix::unistd::{Gid, Group, Uid, User};
use std::os::fd::AsFd;

/// The environment's way of saying `--run-as-root` (for service managers and test harnesses
/// that cannot change the command line).
pub const RUN_AS_ROOT_ENV: &str = "FERROFTPD_RUN_AS_ROOT";

/// Who to become after binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// Keep CAP_NET_BIND_SERVICE (Linux) for active transfers from port 20.
    pub keep_port_20: bool,
}

/// What [`plan`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Not root, and not asked to change: nothing to do.
    Stay,
    /// Root, told to stay root.
    StayRoot,
    /// Drop to this user and group after binding.
    Drop(Target),
}

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub user: Option<&'a str>,
    pub group: Option<&'a str>,
    pub run_as_root: bool,
    /// The configuration wants active transfers from port 20.
    pub port_20: bool,
}

pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn lookup_user(name: &str) -> Result<(u32, Option<u32>), String> {
    if let Ok(uid) = name.parse::<u32>() {
        let gid = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.gid.as_raw());
        return Ok((uid, gid));
    }
    match User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), Some(u.gid.as_raw()))),
        Ok(None) => Err(format!("--user {name}: no such user")),
        Err(e) => Err(format!("--user {name}: cannot look it up: {e}")),
    }
}

fn lookup_group(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("--group {name}: no such group")),
        Err(e) => Err(format!("--group {name}: cannot look it up: {e}")),
    }
}

/// Decides, before anything is bound, what happens to privileges; errors say what to do.
/// The group defaults to the user's primary group.
pub fn plan(r: &Request<'_>) -> Result<Plan, String> {
    let root = running_as_root();
    let Some(user) = r.user else {
        if r.group.is_some() {
            return Err("--group needs --user".into());
        }
        if !root {
            return Ok(Plan::Stay);
        }
        if r.run_as_root {
            return Ok(Plan::StayRoot);
        }
        return Err(format!(
            "running as root: give --user (and --group) to drop privileges once the ports are bound, or --run-as-root (or {RUN_AS_ROOT_ENV}=1) to serve as root"
        ));
    };
    let (uid, primary) = lookup_user(user)?;
    let gid = match (r.group, primary) {
        (Some(g), _) => lookup_group(g)?,
        (None, Some(g)) => g,
        (None, None) => {
            return Err(format!(
            "--user {user}: not in the password database, so it has no primary group: give --group"
        ))
        }
    };
    if uid == 0 {
        return Err(format!(
            "--user {user} is root: that drops nothing; use --run-as-root to serve as root"
        ));
    }
    if !root {
        let (euid, egid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        if euid.as_raw() == uid && egid.as_raw() == gid {
            return Ok(Plan::Stay);
        }
        return Err(format!(
            "--user {user}: switching to uid {uid} gid {gid} needs root, and ferroftpd runs as uid {euid} gid {egid}"
        ));
    }
    if r.port_20 && !cfg!(any(target_os = "linux", target_os = "android")) {
        return Err(
            "ftpd.active_transfers_port_non_20 is false: binding port 20 for each active transfer needs root after the drop on this system; set it to true, or use --run-as-root".into(),
        );
    }
    Ok(Plan::Drop(Target {
        user: user.to_string(),
        uid,
        gid,
        keep_port_20: r.port_20,
    }))
}

/// Threads of this process (Linux): the drop must happen while there is one.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// Becomes `t` for good: supplementary groups (only `t.gid`), group, then user, each real,
/// effective and saved. Checks afterwards that root cannot be taken back.
pub fn drop_to(t: &Target) -> Result<(), String> {
    let uid = Uid::from_raw(t.uid);
    let gid = Gid::from_raw(t.gid);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if let Some(n) = thread_count().filter(|n| *n > 1) {
            return Err(format!(
                "privilege drop: {n} threads already run; it must happen before the first"
            ));
        }
        if t.keep_port_20 {
            // Capabilities survive setresuid only with KEEPCAPS (a per-thread flag: we
            // have one thread).
            rustix::thread::set_keep_capabilities(true)
                .map_err(|e| format!("privilege drop: PR_SET_KEEPCAPS: {e}"))?;
        }
    }
    nix::unistd::setgroups(&[gid]).map_err(|e| format!("privilege drop: setgroups: {e}"))?;
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| format!("privilege drop: setresgid({gid}): {e}"))?;
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| format!("privilege drop: setresuid({uid}): {e}"))?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if t.keep_port_20 {
        use rustix::thread::{CapabilitySet, CapabilitySets};
        let keep = CapabilitySet::NET_BIND_SERVICE;
        rustix::thread::set_capabilities(
            None,
            CapabilitySets {
                effective: keep,
                permitted: keep,
                inheritable: CapabilitySet::empty(),
            },
        )
        .map_err(|e| format!("privilege drop: keeping CAP_NET_BIND_SERVICE: {e}"))?;
        rustix::thread::set_keep_capabilities(false)
            .map_err(|e| format!("privilege drop: PR_SET_KEEPCAPS: {e}"))?;
    }
    // The drop must hold: no id left at 0, and no way back.
    let (euid, ruid) = (nix::unistd::geteuid(), nix::unistd::getuid());
    let (egid, rgid) = (nix::unistd::getegid(), nix::unistd::getgid());
    if euid != uid || ruid != uid || egid != gid || rgid != gid {
        return Err(format!(
            "privilege drop did not hold: uid {ruid}/{euid}, gid {rgid}/{egid}"
        ));
    }
    if nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        return Err("privilege drop did not hold: root could be taken back".into());
    }
    Ok(())
}

/// An owner for new files and directories: SFTPGo's per-user `uid`/`gid`, each applied only
/// when above 0 (as in SFTPGo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Owner {
    /// The owner to give `uid`/`gid` from the users file, if this process may (root).
    pub fn for_user(uid: Option<u32>, gid: Option<u32>) -> Option<Owner> {
        if uid.is_none() && gid.is_none() {
            return None;
        }
        running_as_root().then_some(Owner { uid, gid })
    }
}

/// Gives a newly created file or directory (an open handle, so no path can be raced) to
/// `owner`, as SFTPGo does after an upload or MKD.
pub fn give_to(fd: impl AsFd, owner: Owner) -> std::io::Result<()> {
    let uid = owner.uid.map(rustix::fs::Uid::from_raw);
    let gid = owner.gid.map(rustix::fs::Gid::from_raw);
    match rustix::fs::fchown(&fd, uid, gid) {
        // cap-std opens directories with O_PATH on Linux, which fchown refuses;
        // fchownat(fd, "", AT_EMPTY_PATH) accepts such a descriptor.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Err(rustix::io::Errno::BADF) => {
            rustix::fs::chownat(&fd, "", uid, gid, rustix::fs::AtFlags::EMPTY_PATH)
                .map_err(std::io::Error::from)
        }
        r => r.map_err(std::io::Error::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_needs_a_user_or_an_explicit_yes() {
        if !running_as_root() {
            assert_eq!(plan(&Request::default()).unwrap(), Plan::Stay);
            return;
        }
        assert!(plan(&Request::default())
            .unwrap_err()
            .contains("--run-as-root"));
        let yes = Request {
            run_as_root: true,
            ..Request::default()
        };
        assert_eq!(plan(&yes).unwrap(), Plan::StayRoot);
        let to_root = Request {
            user: Some("0"),
            group: Some("0"),
            ..Request::default()
        };
        assert!(plan(&to_root).unwrap_err().contains("is root"));
        let nobody = Request {
            user: Some("65534"),
            group: Some("65534"),
            ..Request::default()
        };
        match plan(&nobody).unwrap() {
            Plan::Drop(t) => assert_eq!((t.uid, t.gid), (65534, 65534)),
            other => panic!("{other:?}"),
        }
        let missing = Request {
            user: Some("no-such-user-ferroftpd"),
            ..Request::default()
        };
        assert!(plan(&missing).unwrap_err().contains("no such user"));
        let group_only = Request {
            group: Some("0"),
            ..Request::default()
        };
        assert!(plan(&group_only).is_err());
    }

    #[test]
    fn owner_only_for_positive_ids() {
        assert_eq!(Owner::for_user(None, None), None);
        if running_as_root() {
            assert_eq!(
                Owner::for_user(Some(5), None),
                Some(Owner {
                    uid: Some(5),
                    gid: None
                })
            );
        } else {
            assert_eq!(Owner::for_user(Some(5), None), None);
        }
    }
}
