//! Stat-ahead for big listings: a helper thread stats entries from the end of a
//! directory's list while the session's thread stats, formats and sends from the start.
//!
//! Why: LIST and MLSD need one stat per entry, and those stat calls are most of a big
//! listing's time (10,000 entries: 5.3 ms of readdir and fstatat alone on the project's
//! machine), while the client only reads. Only listings of at least [`MIN_ENTRIES`] get a
//! helper, at most one per session and for the length of one listing (a scoped thread,
//! joined before the listing's reply), so the thread-per-connection model is unchanged.
//!
//! The two threads take chunks of [`CHUNK`] entries, the session's from the front and the
//! helper's from the back, until they meet: the session's thread also formats and sends
//! every line, so a fixed split would leave the helper idle at the end. If the helper
//! cannot be started or fails, the session stats those entries itself.

use super::{Meta, Names};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{Scope, ScopedJoinHandle};

/// Listings smaller than this are statted by the session's thread alone: a thread start
/// (tens of microseconds) is worth it only against milliseconds of stat calls.
pub const MIN_ENTRIES: usize = 4096;
/// Entries a thread claims at a time (about 25 µs of stat calls).
const CHUNK: u64 = 64;
/// The helper's stack: it runs `Names::meta_through` only.
const STACK: usize = 128 << 10;

/// The entries not claimed yet, `front..back`, packed in one atomic (front in the low half).
struct Unclaimed(AtomicU64);

impl Unclaimed {
    /// Takes up to CHUNK entries from the front (`front`) or the back; the range taken,
    /// empty once the two ends have met.
    fn take(&self, front: bool) -> std::ops::Range<usize> {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (f, b) = (cur & 0xffff_ffff, cur >> 32);
            let (new, taken) = if front {
                let to = (f + CHUNK).min(b);
                ((b << 32) | to, f..to)
            } else {
                let from = b.saturating_sub(CHUNK).max(f);
                ((from << 32) | f, from..b)
            };
            if taken.is_empty() {
                return 0..0;
            }
            match self
                .0
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return taken.start as usize..taken.end as usize,
                Err(now) => cur = now,
            }
        }
    }

    /// Leaves nothing to take, so the helper stops after its current chunk.
    fn close(&self) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let b = cur >> 32;
            match self.0.compare_exchange_weak(
                cur,
                (b << 32) | b,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
}

/// The metadata of a listing's entries, by index, asked for in increasing order.
pub struct StatAhead<'scope, 'n> {
    names: &'n Names,
    /// Entries below this are the session's own (claimed, or all of them with no helper).
    mine: usize,
    unclaimed: Option<std::sync::Arc<Unclaimed>>,
    helper: Option<ScopedJoinHandle<'scope, Vec<Option<Meta>>>>,
    /// The helper's results, the last entry first.
    done: Option<Vec<Option<Meta>>>,
}

impl<'scope, 'n: 'scope> StatAhead<'scope, 'n> {
    /// Starts the helper if the listing is big enough.
    pub fn start<'env>(scope: &'scope Scope<'scope, 'env>, names: &'n Names) -> Self
    where
        'n: 'env,
    {
        let len = names.len();
        let mut ahead = StatAhead {
            names,
            mine: len,
            unclaimed: None,
            helper: None,
            done: None,
        };
        let Ok(len32) = u32::try_from(len) else {
            return ahead;
        };
        if len < MIN_ENTRIES {
            return ahead;
        }
        // A handle of its own: see `Names::own_handle`.
        let Ok(own) = names.own_handle() else {
            return ahead;
        };
        let unclaimed = std::sync::Arc::new(Unclaimed(AtomicU64::new(u64::from(len32) << 32)));
        let theirs = unclaimed.clone();
        let spawned = std::thread::Builder::new()
            .name("stat-ahead".into())
            .stack_size(STACK)
            .spawn_scoped(scope, move || {
                let mut got = Vec::with_capacity(len / 2);
                loop {
                    let chunk = theirs.take(false);
                    if chunk.is_empty() {
                        return got;
                    }
                    got.extend(chunk.rev().map(|i| names.meta_through(&own, i)));
                }
            });
        if let Ok(h) = spawned {
            ahead.mine = 0;
            ahead.unclaimed = Some(unclaimed);
            ahead.helper = Some(h);
        }
        ahead
    }

    /// The metadata of entry `i` (see [`Names::meta`]).
    pub fn meta(&mut self, i: usize) -> Option<Meta> {
        while i >= self.mine && self.done.is_none() {
            match self.unclaimed.as_ref().map(|u| u.take(true)) {
                Some(chunk) if !chunk.is_empty() => self.mine = chunk.end,
                // The rest is the helper's: wait for it.
                _ => {
                    let got = self.helper.take().and_then(|h| h.join().ok());
                    self.done = Some(got.unwrap_or_default());
                }
            }
        }
        if i < self.mine {
            return self.names.meta(i);
        }
        // The helper's results run from the last entry down.
        let back = self
            .names
            .len()
            .checked_sub(1)
            .and_then(|l| l.checked_sub(i));
        match (self.done.as_mut(), back) {
            (Some(d), Some(k)) if k < d.len() => d[k].take(),
            // The helper failed (or `i` is past the end): stat here.
            _ => self.names.meta(i),
        }
    }
}

impl Drop for StatAhead<'_, '_> {
    /// A listing that ends early (the client went away) does not keep the helper statting
    /// the rest; the scope joins it.
    fn drop(&mut self) {
        if let Some(u) = &self.unclaimed {
            u.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_take_every_entry_once() {
        for len in [0u64, 1, 63, 64, 65, 1000, 4097] {
            let u = Unclaimed(AtomicU64::new(len << 32));
            let mut seen = vec![0u8; len as usize];
            // Alternate unevenly, as two threads would.
            for step in 0.. {
                let r = u.take(step % 3 != 0);
                if r.is_empty() {
                    // Both ends see nothing left once they have met.
                    assert!(u.take(true).is_empty() && u.take(false).is_empty());
                    break;
                }
                r.for_each(|i| seen[i] += 1);
            }
            assert!(seen.iter().all(|&n| n == 1), "len {len}");
        }
    }

    #[test]
    fn closing_leaves_nothing_to_take() {
        let u = Unclaimed(AtomicU64::new(1000 << 32));
        assert_eq!(u.take(true), 0..64);
        assert_eq!(u.take(false), 936..1000);
        u.close();
        assert!(u.take(true).is_empty() && u.take(false).is_empty());
    }
}
