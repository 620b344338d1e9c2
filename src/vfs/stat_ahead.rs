//! Stat-ahead for big listings, in two parts:
//!
//! 1. While the directory is read ([`while_reading`]): from the start if the directory
//!    looks big, else once it has shown [`START_READING`] names, a helper thread stats the
//!    names read, a chunk at a time, as the session's thread goes on reading. It stops
//!    when the reading ends.
//! 2. While the listing is sent ([`StatAhead`]): a helper thread stats entries from the
//!    end of the listing while the session's thread stats, formats and sends from the
//!    start. Entries the first helper statted cost nothing here.
//!
//! Why: LIST and MLSD need one stat per entry, and those stat calls are most of a big
//! listing's time (10,000 entries: 5.3 ms of readdir and fstatat alone on the project's
//! machine, 1.7 ms of it readdir), while the client only reads. Each helper is a scoped
//! thread of one session, for part of one listing, joined before the listing's reply, so
//! the thread-per-connection model is unchanged.
//!
//! In part 2 the two threads take chunks of [`CHUNK`] entries, the session's from the
//! front and the helper's from the back, until they meet: the session's thread also
//! formats and sends every line, so a fixed split would leave the helper idle at the end.
//! If a helper cannot be started or fails, the session stats those entries itself.

use super::{Meta, Names};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{Scope, ScopedJoinHandle};

/// Listings smaller than this are statted by the session's thread alone: a thread start
/// (tens of microseconds) is worth it only against milliseconds of stat calls.
pub const MIN_ENTRIES: usize = 4096;
/// Entries a thread claims at a time (about 25 µs of stat calls).
const CHUNK: u64 = 64;
/// The helper's stack: it runs `Names::meta_through` (or `names::stat_name`) only.
const STACK: usize = 128 << 10;
/// Names read before the reading helper starts, unless the directory looks big from the
/// start (its size is only a hint). Below this, starting a thread late costs more than it
/// saves: a directory of 1,500 names listed about 5% slower with 1,024 here.
pub const START_READING: u32 = 4096;

/// What the reading helper statted: consecutive chunks of [`CHUNK`] entries in reading
/// order, the first chunk's first entry being number `from`. Kept as the helper made
/// them: a table of every entry would be fresh memory (page faults) on every listing.
#[derive(Default)]
pub struct Early {
    from: u32,
    chunks: Vec<Vec<Option<Meta>>>,
}

impl Early {
    /// Entry `seq` (in reading order): None if not statted, Some(None) if it was gone.
    pub fn get(&self, seq: u32) -> Option<&Option<Meta>> {
        let k = u64::from(seq.checked_sub(self.from)?);
        let chunk = self.chunks.get(usize::try_from(k / CHUNK).ok()?)?;
        chunk.get(usize::try_from(k % CHUNK).ok()?)
    }
}

/// Runs `read`, which calls its argument with each name kept (its number in reading
/// order, and the name with its NUL), while a helper thread stats the names given so far
/// through `stat`. The helper starts before the reading if `big` (a thread takes a while
/// to get going on an idle core), else at the first whole chunk after [`START_READING`]
/// names.
/// Returns what `read` returns and what the helper statted; names the helper had not
/// reached when the reading ended are left for the listing to stat.
pub fn while_reading<T>(
    big: bool,
    stat: &(dyn Fn(&[u8]) -> Option<Meta> + Sync),
    read: impl FnOnce(&mut dyn FnMut(u32, &[u8])) -> io::Result<T>,
) -> io::Result<(T, Early)> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Chunks of CHUNK names, each with its NUL, in reading order from `from`.
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<u8>>();
        let spawn = || {
            let (rx, stop) = (rx.clone(), &stop);
            std::thread::Builder::new()
                .name("stat-ahead".into())
                .stack_size(STACK)
                .spawn_scoped(scope, move || {
                    let mut chunks = Vec::new();
                    for names in rx {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        chunks.push(names.split_inclusive(|&b| b == 0).map(stat).collect());
                    }
                    chunks
                })
                .ok()
        };
        let from = if big { 0 } else { START_READING };
        let mut helper = if big { spawn() } else { None };
        // False once there is no helper to feed (it could not be started).
        let mut feeding = !big || helper.is_some();
        let (mut batch, mut count) = (Vec::new(), 0u64);
        let got = read(&mut |seq, name| {
            if seq < from || !feeding {
                return;
            }
            batch.extend_from_slice(name);
            count += 1;
            if count < CHUNK {
                return;
            }
            // Started at its first whole chunk: a directory that ends before has
            // nothing for it.
            if helper.is_none() {
                helper = spawn();
                feeding = helper.is_some();
            }
            if feeding {
                let _ = tx.send(std::mem::take(&mut batch));
            }
            count = 0;
        });
        // The helper stops after the chunk it is on; the rest is the listing's.
        stop.store(true, Ordering::Relaxed);
        drop(tx);
        let chunks = helper.and_then(|h| h.join().ok()).unwrap_or_default();
        got.map(|got| (got, Early { from, chunks }))
    })
}

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

    /// A Meta whose size is the number in `name` ("12" is 12), for telling entries apart.
    fn fake_stat(name: &[u8]) -> Option<Meta> {
        let text = std::str::from_utf8(name.strip_suffix(b"\0")?).ok()?;
        Some(Meta {
            kind: super::super::Kind::File,
            size: text.parse().ok()?,
            mtime: std::time::SystemTime::UNIX_EPOCH,
            mode: 0o100644,
            dev: 0,
            ino: 0,
        })
    }

    #[test]
    fn names_statted_while_reading_are_found_by_their_number() {
        let after = START_READING + 2000;
        for (big, len) in [(true, 3000u32), (false, after), (false, 1000), (true, 10)] {
            let done = std::sync::atomic::AtomicUsize::new(0);
            let stat = |name: &[u8]| {
                done.fetch_add(1, Ordering::Relaxed);
                fake_stat(name)
            };
            let (n, early) = while_reading(big, &stat, |seen| {
                for i in 0..len {
                    seen(i, format!("{i}\0").as_bytes());
                }
                // Give the helper time to stat what it was sent, so that the test sees
                // some of it (bounded: a helper that never runs fails below).
                let sent = (len - if big { 0 } else { START_READING.min(len) }) as usize
                    / CHUNK as usize
                    * CHUNK as usize;
                let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while done.load(Ordering::Relaxed) < sent && std::time::Instant::now() < until {
                    std::thread::yield_now();
                }
                Ok(len)
            })
            .unwrap();
            assert_eq!(n, len);
            let statted: Vec<u32> = (0..len + 100).filter(|&i| early.get(i).is_some()).collect();
            for &i in &statted {
                let meta = early.get(i).unwrap().as_ref().unwrap();
                assert_eq!(meta.size, u64::from(i), "entry {i}");
            }
            let first = if big { 0 } else { START_READING };
            // Whole chunks from `first`; a last part chunk is the listing's.
            let want = if len > first {
                (len - first) / CHUNK as u32 * CHUNK as u32
            } else {
                0
            };
            assert_eq!(statted.len() as u32, want, "big {big}, len {len}");
            assert_eq!(statted.first().copied(), (want > 0).then_some(first));
            assert!(early.get(first + want).is_none());
        }
    }

    #[test]
    fn a_failed_read_still_stops_the_helper() {
        let got = while_reading(true, &fake_stat, |seen| {
            for i in 0..500 {
                seen(i, format!("{i}\0").as_bytes());
            }
            Err::<(), _>(io::Error::other("gone"))
        });
        assert!(got.is_err());
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
