//! What a user's SFTPGo object says about how much it may do: sessions, disk quota,
//! bandwidth and transfer quotas (with their per-source overrides), upload size. Units are
//! SFTPGo's: bytes for quotas and file sizes, KB/s (1024) for bandwidth, MB (2^20) for
//! transfer quotas; 0 means unlimited everywhere.

use crate::config::raw::{ConfigError, Obj};
use crate::util::cidr::IpNet;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferQuota {
    pub upload_mb: u64,
    pub download_mb: u64,
    /// When set, counts both directions and the two above do not apply (SFTPGo).
    pub total_mb: u64,
}

impl TransferQuota {
    /// Bytes still allowed in one direction, given what was moved: None = unlimited.
    pub fn remaining(&self, upload: bool, uploaded: u64, downloaded: u64) -> Option<u64> {
        const MB: u64 = 1 << 20;
        if self.total_mb > 0 {
            return Some(
                self.total_mb
                    .saturating_mul(MB)
                    .saturating_sub(uploaded.saturating_add(downloaded)),
            );
        }
        let (limit, used) = if upload {
            (self.upload_mb, uploaded)
        } else {
            (self.download_mb, downloaded)
        };
        (limit > 0).then(|| limit.saturating_mul(MB).saturating_sub(used))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub max_sessions: u32,
    pub quota_size: u64,
    pub quota_files: u64,
    pub upload_kib: u64,
    pub download_kib: u64,
    /// `filters.bandwidth_limits`: (sources, upload KB/s, download KB/s); first match wins.
    pub bandwidth_by_source: Vec<(Vec<IpNet>, u64, u64)>,
    pub transfer: TransferQuota,
    /// `filters.data_transfer_limits`: first match wins.
    pub transfer_by_source: Vec<(Vec<IpNet>, TransferQuota)>,
    /// `filters.max_upload_file_size` in bytes.
    pub max_upload_file_size: u64,
}

impl Limits {
    /// (upload, download) KB/s for a client at `ip`.
    pub fn bandwidth(&self, ip: IpAddr) -> (u64, u64) {
        self.bandwidth_by_source
            .iter()
            .find(|(nets, _, _)| nets.iter().any(|n| n.contains(ip)))
            .map(|(_, up, down)| (*up, *down))
            .unwrap_or((self.upload_kib, self.download_kib))
    }

    pub fn transfer_quota(&self, ip: IpAddr) -> TransferQuota {
        self.transfer_by_source
            .iter()
            .find(|(nets, _)| nets.iter().any(|n| n.contains(ip)))
            .map(|(_, q)| *q)
            .unwrap_or(self.transfer)
    }

    pub fn has_disk_quota(&self) -> bool {
        self.quota_size > 0 || self.quota_files > 0
    }
}

fn uint(o: &Obj, key: &str) -> Result<u64, ConfigError> {
    // SFTPGo writes -1 in some places for "no limit" (virtual folder quotas): read as 0 here.
    Ok(o.int(key, 0, -1, i64::MAX)?.max(0) as u64)
}

fn sources(o: &Obj, who: &str) -> Result<Vec<IpNet>, ConfigError> {
    o.string_list("sources")?
        .iter()
        .map(|s| IpNet::parse(s).map_err(|m| o.error("sources", format!("{who}: {m}"))))
        .collect()
}

fn quota(o: &Obj) -> Result<TransferQuota, ConfigError> {
    Ok(TransferQuota {
        upload_mb: uint(o, "upload_data_transfer")?,
        download_mb: uint(o, "download_data_transfer")?,
        total_mb: uint(o, "total_data_transfer")?,
    })
}

/// Reads the limits of user object `u` (with its `filters` object).
pub fn read(u: &Obj, filters: &Obj, who: &str) -> Result<Limits, ConfigError> {
    let mut bandwidth_by_source = Vec::new();
    for b in filters.obj_list("bandwidth_limits")? {
        bandwidth_by_source.push((
            sources(&b, who)?,
            uint(&b, "upload_bandwidth")?,
            uint(&b, "download_bandwidth")?,
        ));
    }
    let mut transfer_by_source = Vec::new();
    for t in filters.obj_list("data_transfer_limits")? {
        transfer_by_source.push((sources(&t, who)?, quota(&t)?));
    }
    Ok(Limits {
        max_sessions: u.int("max_sessions", 0, 0, i64::from(u32::MAX))? as u32,
        quota_size: uint(u, "quota_size")?,
        quota_files: uint(u, "quota_files")?,
        upload_kib: uint(u, "upload_bandwidth")?,
        download_kib: uint(u, "download_bandwidth")?,
        bandwidth_by_source,
        transfer: quota(u)?,
        transfer_by_source,
        max_upload_file_size: uint(filters, "max_upload_file_size")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_overrides_directions() {
        let q = TransferQuota {
            upload_mb: 1,
            download_mb: 1,
            total_mb: 3,
        };
        assert_eq!(q.remaining(true, 2 << 20, 0), Some(1 << 20));
        let d = TransferQuota {
            download_mb: 2,
            ..Default::default()
        };
        assert_eq!(d.remaining(true, 99, 0), None);
        assert_eq!(d.remaining(false, 0, 3 << 20), Some(0));
    }

    #[test]
    fn a_huge_quota_is_as_good_as_unlimited_not_zero() {
        // MiB times 2^20 overflows u64 past 2^44 MiB: the budget saturates instead.
        let q = TransferQuota {
            total_mb: 1 << 50,
            ..Default::default()
        };
        assert_eq!(q.remaining(true, 5, 0), Some(u64::MAX - 5));
        let u = TransferQuota {
            upload_mb: u64::MAX,
            ..Default::default()
        };
        assert_eq!(u.remaining(true, 0, 0), Some(u64::MAX));
    }
}
