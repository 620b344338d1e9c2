//! Bandwidth shaping (`upload_bandwidth`, `download_bandwidth`, KB/s with KB = 1024, and
//! per-source `filters.bandwidth_limits`), per transfer.
//!
//! Smooth rather than bursty: the transfer moves in slices of a twentieth of a second's
//! worth of bytes and sleeps after each slice until the elapsed time matches the bytes
//! sent, so the rate over any few hundred milliseconds stays close to the limit.

use std::time::{Duration, Instant};

/// Slices per second: the granularity of the shaping.
const SLICES_PER_SECOND: u64 = 20;

#[derive(Debug)]
pub struct Throttle {
    /// Bytes per second; 0 = unlimited.
    rate: u64,
    start: Instant,
}

impl Throttle {
    pub fn new(kib_per_second: u64) -> Throttle {
        Throttle {
            rate: kib_per_second.saturating_mul(1024),
            start: Instant::now(),
        }
    }

    pub fn unlimited() -> Throttle {
        Throttle::new(0)
    }

    pub fn is_limited(&self) -> bool {
        self.rate > 0
    }

    /// The most bytes to move before the next call to [`Throttle::pace`].
    pub fn slice(&self, default: usize) -> usize {
        if self.rate == 0 {
            return default;
        }
        let s = (self.rate / SLICES_PER_SECOND).max(512);
        default.min(usize::try_from(s).unwrap_or(default))
    }

    /// How long to wait now that `total` bytes have moved since the start.
    pub fn delay(&self, total: u64) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let due = Duration::from_secs_f64(total as f64 / self.rate as f64);
        due.saturating_sub(self.start.elapsed())
    }

    /// Sleeps until `total` bytes are within the rate.
    pub fn pace(&self, total: u64) {
        let d = self.delay(total);
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let t = Throttle::unlimited();
        assert_eq!(t.delay(u64::MAX / 2), Duration::ZERO);
        assert_eq!(t.slice(1 << 20), 1 << 20);
    }

    #[test]
    fn limited_slices_and_delays() {
        let t = Throttle::new(64);
        assert_eq!(t.slice(1 << 20), 64 * 1024 / 20);
        // 64 KiB at 64 KiB/s is due one second after the start.
        let d = t.delay(64 * 1024);
        assert!(
            d > Duration::from_millis(900) && d <= Duration::from_secs(1),
            "{d:?}"
        );
    }
}
