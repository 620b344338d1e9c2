//! Listings: LIST and NLST (RFC 959 4.1.3) with `-a`/`-l` flags and wildcards on the last
//! path element, MLSD and MLST (RFC 3659 7), and STAT (RFC 959 4.1.3).

use crate::auth::permissions::{Perm, PermSet, Permissions};
use crate::data;
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use crate::util::glob::{has_wildcards, Pattern};
use crate::util::{numfmt, timefmt};
use crate::vfs::stat_ahead::StatAhead;
use crate::vfs::{path, Entry, Kind, Meta};
use std::io;
use std::time::{Instant, SystemTime};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// LIST: `ls -l` lines.
    Long,
    /// NLST: names only.
    Names,
}

/// Entries looked up and sent at a time: about 80 KiB of LIST lines, so the client reads
/// the first piece while the next ones are made.
const PIECE: usize = 1024;

/// Calls `each` with the indexes of the next piece of a listing's entries from `*at`, and
/// moves `*at` past them; false once there are none left.
fn next_piece(names: &crate::vfs::Names, at: &mut usize, each: impl FnMut(usize)) -> bool {
    let piece = (*at).min(names.len())..names.len().min(*at + PIECE);
    *at = piece.end;
    let more = !piece.is_empty();
    piece.for_each(each);
    more
}

/// What a LIST/NLST target turned out to be.
enum Listed {
    /// A file (or a pattern-less path that is not a directory): lists as itself.
    One(Entry),
    Dir(crate::vfs::Names),
}

/// Most entries one listing returns; a bound on what one command can make us build.
const MAX_ENTRIES: usize = 1_000_000;

/// What a LIST/NLST argument asks for once flags are taken off.
struct Target {
    /// The directory (or file) listed.
    dir: String,
    /// Wildcard on the last element, if any.
    pattern: Option<Pattern>,
    /// What the client typed before the last element, to prefix NLST names with.
    prefix: String,
    show_hidden: bool,
}

impl Session {
    pub(crate) fn cmd_list(&mut self, arg: Option<&str>, style: Style) -> io::Result<()> {
        let (flags, rest) = split_flags(arg.unwrap_or(""));
        let show_hidden = flags.contains('a');
        let target = match self.list_target(rest, show_hidden) {
            Ok(t) => t,
            Err(r) => return self.send(&r),
        };
        let now = timefmt::unix_seconds(SystemTime::now());
        let r = self.with_vfs(|v| {
            // A file lists as itself.
            if target.pattern.is_none() {
                let meta = v.stat(&target.dir)?;
                if meta.kind != Kind::Dir {
                    let name = if rest.is_empty() {
                        path::base_name(&target.dir).to_string()
                    } else {
                        rest.to_string()
                    };
                    return Ok(Listed::One(Entry { name, meta }));
                }
            }
            // With a pattern, most names are dropped after the reading: statting them
            // while reading would be work thrown away.
            let stat = style == Style::Long && target.pattern.is_none();
            v.open_listing(&target.dir, stat).map(Listed::Dir)
        });
        let Some(listed) = self.fs_take(r, &target.dir)? else {
            return Ok(());
        };
        let keep = |name: &str| {
            (target.show_hidden || !name.starts_with('.'))
                && target.pattern.as_ref().is_none_or(|p| p.matches(name))
        };
        let line = |out: &mut String, prefix: &str, name: &str, meta: Option<Meta>| {
            match style {
                Style::Long => match meta {
                    Some(m) => push_list_line(out, name, &m, now),
                    // Gone since the directory was read.
                    None => return,
                },
                Style::Names => {
                    out.push_str(prefix);
                    out.push_str(name);
                }
            }
            out.push_str("\r\n");
        };
        let verb = if style == Style::Long { "LIST" } else { "NLST" };
        let mut names = match listed {
            // A file named outright lists as named (no directory prefix: the name is
            // the path), a dot name too, as ls(1) does.
            Listed::One(e) => {
                let mut one = Some(e);
                return self.send_listing(verb, &target.dir, |out| match one.take() {
                    Some(e) => {
                        line(out, "", &e.name, Some(e.meta));
                        true
                    }
                    None => false,
                });
            }
            Listed::Dir(names) => names,
        };
        names.retain(keep);
        names.sort_by_name();
        names.truncate(MAX_ENTRIES);
        let mut at = 0;
        if style == Style::Names {
            // NLST needs no stat at all.
            return self.send_listing(verb, &target.dir, |out| {
                next_piece(&names, &mut at, |i| {
                    line(out, &target.prefix, &names.name(i), None)
                })
            });
        }
        std::thread::scope(|scope| {
            let mut ahead = StatAhead::start(scope, &names);
            self.send_listing(verb, &target.dir, |out| {
                next_piece(&names, &mut at, |i| {
                    line(out, &target.prefix, &names.name(i), ahead.meta(i))
                })
            })
        })
    }

    fn list_target(&self, arg: &str, show_hidden: bool) -> Result<Target, Reply> {
        if arg.is_empty() {
            return Ok(Target {
                dir: self.cwd.clone(),
                pattern: None,
                prefix: String::new(),
                show_hidden,
            });
        }
        let full = self.resolve(arg);
        let last = path::base_name(&full);
        let exists = self.with_vfs(|v| v.stat(&full).is_ok()).unwrap_or(false);
        let prefix_of = |a: &str| -> String {
            let a = a.trim_end_matches('/');
            match a.rfind('/') {
                Some(i) => a[..=i].to_string(),
                None => String::new(),
            }
        };
        if !exists && has_wildcards(last) {
            let pattern = Pattern::new(last)
                .map_err(|e| Reply::new(ReplyCode::ArgumentError, format!("Bad pattern: {e}")))?;
            return Ok(Target {
                dir: path::parent(&full).to_string(),
                pattern: Some(pattern),
                prefix: prefix_of(arg),
                show_hidden: show_hidden || last.starts_with('.'),
            });
        }
        Ok(Target {
            dir: full,
            pattern: None,
            prefix: format!("{}/", arg.trim_end_matches('/')),
            show_hidden,
        })
    }

    /// Sends a listing over a data connection, 150 to 226, made piece by piece by `next`
    /// (see [`data::transfer::send_generated`]).
    fn send_listing(
        &mut self,
        verb: &str,
        dir: &str,
        mut next: impl FnMut(&mut String) -> bool,
    ) -> io::Result<()> {
        if !self.transfer_ready()? {
            return Ok(());
        }
        let started = Instant::now();
        let text = format!("Opening data connection for {verb} {dir}");
        let Some(mut stream) = self.open_data(&text, verb, dir)? else {
            return Ok(());
        };
        let bounds = data::Bounds::unlimited(self.stall_limit());
        let outcome = {
            let mut ctl = |n| self.control_check(n);
            data::transfer::send_generated(&mut stream, &bounds, &mut ctl, &mut next)
        };
        let outcome = super::transfer::close_data(stream, outcome, true);
        self.end_transfer(verb, dir, &outcome, started)
    }

    pub(crate) fn cmd_mlsd(&mut self, arg: Option<&str>) -> io::Result<()> {
        let dir = self.resolve(arg.unwrap_or(""));
        let mask = self.mlst_facts;
        let r = self.with_vfs(|v| {
            let meta = v.stat(&dir)?;
            if meta.kind != Kind::Dir {
                return Ok(None);
            }
            let names = v.open_listing(&dir, true)?;
            let perms = v.permissions();
            // The parent's permissions are the same for every entry: looked up once; and
            // so are the subdirectories' own, unless a permission key lies below `dir`
            // (then the table goes along to look them up).
            let parent = perms.of_dir(&dir);
            let below = perms.has_entries_below(&dir).then(|| perms.clone());
            Ok(Some((names, parent, below)))
        });
        let Some(listed) = self.fs_take(r, &dir)? else {
            return Ok(());
        };
        // RFC 3659 7.1: MLSD of anything but a directory is 501.
        let Some((mut names, parent, below)) = listed else {
            return self.reply(ReplyCode::ArgumentError, format!("{dir}: Not a directory"));
        };
        names.truncate(MAX_ENTRIES);
        let mut at = 0;
        std::thread::scope(|scope| {
            let mut ahead = StatAhead::start(scope, &names);
            self.send_listing("MLSD", &dir, |out| {
                next_piece(&names, &mut at, |i| {
                    let Some(meta) = ahead.meta(i) else {
                        return;
                    };
                    let name = names.name(i);
                    let own = (meta.kind == Kind::Dir).then(|| match &below {
                        Some(perms) => perms.of_dir(&path::join(&dir, &name)),
                        None => parent,
                    });
                    push_facts(out, &meta, own, parent, false, mask);
                    out.push(' ');
                    out.push_str(&name);
                    out.push_str("\r\n");
                })
            })
        })
    }

    pub(crate) fn cmd_mlst(&mut self, arg: Option<&str>) -> io::Result<()> {
        let p = self.resolve(arg.unwrap_or(""));
        let mask = self.mlst_facts;
        let r = self.with_vfs(|v| v.stat(&p).map(|m| facts(&m, &p, v.permissions(), mask)));
        self.fs_result(r, &p, |f| {
            Reply::multi(
                ReplyCode::FileActionOk,
                vec![format!("Listing {p}"), format!("{f} {p}"), "End".into()],
            )
        })
    }

    pub(crate) fn cmd_stat(&mut self, arg: Option<&str>) -> io::Result<()> {
        let Some(arg) = arg else {
            let r = self.status_reply();
            return self.send(&r);
        };
        let (_, rest) = split_flags(arg);
        let p = self.resolve(rest);
        let now = SystemTime::now();
        let r = self.with_vfs(|v| {
            let meta = v.stat(&p)?;
            if meta.kind == Kind::Dir {
                let mut entries = v.list(&p)?;
                entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                Ok((true, entries))
            } else {
                let name = path::base_name(&p).to_string();
                Ok((false, vec![Entry { name, meta }]))
            }
        });
        self.fs_result(r, &p, |(is_dir, entries)| {
            let mut lines = vec![format!("Status of {p}:")];
            lines.extend(entries.iter().take(10_000).map(|e| list_line(e, now)));
            lines.push("End of status".into());
            let code = if is_dir {
                ReplyCode::DirectoryStatus
            } else {
                ReplyCode::FileStatus
            };
            Reply::multi(code, lines)
        })
    }

    /// STAT without an argument (RFC 959): the session's state; also served mid-transfer.
    pub fn status_reply(&self) -> Reply {
        let mut lines = vec![format!(
            "{} status:",
            self.server
                .config
                .ftpd
                .banner
                .first()
                .map(String::as_str)
                .unwrap_or("ferroftpd")
        )];
        lines.push(format!("Connected to {} from {}", self.local, self.peer));
        match self.logged_in() {
            Some(l) => lines.push(format!("Logged in as {}", l.user.username)),
            None => lines.push("Not logged in".into()),
        }
        match self.ctrl.tls() {
            Some(c) => lines.push(format!(
                "TLS: {}; data connections {}",
                crate::tls::describe(c),
                if self.data_tls() {
                    "protected"
                } else {
                    "clear"
                }
            )),
            None => lines.push("TLS: none".into()),
        }
        let t = if self.ascii_active() {
            "ASCII"
        } else {
            "BINARY"
        };
        lines.push(format!("TYPE: {t}; STRUcture: File; transfer MODE: Stream"));
        match &self.running {
            Some(r) => lines.push(format!(
                "Transfer in progress: {}, {} bytes",
                r.what, r.bytes
            )),
            None => lines.push("No data connection".into()),
        }
        lines.push(format!(
            "Session time {} s",
            self.started.elapsed().as_secs()
        ));
        lines.push("End of status".into());
        Reply::multi(ReplyCode::SystemStatus, lines)
    }
}

/// Splits leading `-x` option words off a LIST/NLST argument (`-la /dir` -> "la", "/dir").
fn split_flags(arg: &str) -> (String, &str) {
    let mut flags = String::new();
    let mut rest = arg.trim_start();
    while rest.starts_with('-') {
        let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        flags.push_str(&word[1..]);
        rest = tail.trim_start();
    }
    (flags, rest)
}

/// Bytes a listing line usually takes (LIST: about 72 for short names).
const LINE_GUESS: usize = 80;

/// One `ls -l` line. Owner and group are not the server's accounts: always "ftp".
pub fn list_line(e: &Entry, now: SystemTime) -> String {
    let mut s = String::with_capacity(LINE_GUESS);
    push_list_line(&mut s, &e.name, &e.meta, timefmt::unix_seconds(now));
    s
}

/// [`list_line`], appended to a listing's buffer (`now` in Unix seconds).
fn push_list_line(out: &mut String, name: &str, meta: &Meta, now: i64) {
    out.extend(mode_chars(meta));
    out.push_str("   1 ftp      ftp      ");
    numfmt::push_dec(out, meta.size, 12, b' ');
    out.push(' ');
    timefmt::write_ls_date(out, meta.mtime, now);
    out.push(' ');
    out.push_str(name);
}

#[cfg(test)]
fn mode_string(m: &Meta) -> String {
    mode_chars(m).iter().collect()
}

fn mode_chars(m: &Meta) -> [char; 10] {
    let t = match m.kind {
        Kind::Dir => 'd',
        Kind::File => '-',
        Kind::Link => 'l',
        Kind::Other => match m.mode & 0o170000 {
            0o010000 => 'p',
            0o140000 => 's',
            0o020000 => 'c',
            0o060000 => 'b',
            _ => '?',
        },
    };
    let mode = m.mode;
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    let special = |x: u32, s: u32, set: char, unset: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => set,
        (false, true) => unset,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
}

/// The facts we serve, in FEAT order (RFC 3659 7.5).
const FACTS: [&str; 5] = ["type", "size", "modify", "perm", "unique"];
/// Every fact selected (the default, RFC 3659 7.9).
pub const ALL_FACTS: u8 = 0b11111;

/// `OPTS MLST type;size;`: the known facts named (case-insensitive); unknown ones ignored.
pub fn select_facts(value: &str) -> u8 {
    value
        .split(';')
        .filter_map(|f| FACTS.iter().position(|k| k.eq_ignore_ascii_case(f.trim())))
        .fold(0u8, |m, i| m | 1 << i)
}

/// "type;size;" for the selected facts.
pub fn fact_list(mask: u8) -> String {
    FACTS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & 1 << i != 0)
        .map(|(_, f)| format!("{f};"))
        .collect()
}

/// FEAT's MLST line: every fact, the selected ones starred.
pub fn mlst_feat_line(mask: u8) -> String {
    let facts: String = FACTS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if mask & 1 << i != 0 {
                format!("{f}*;")
            } else {
                format!("{f};")
            }
        })
        .collect();
    format!("MLST {facts}")
}

/// RFC 3659 7.5 facts for one object at virtual path `p`, those selected by `mask`.
fn facts(m: &Meta, p: &str, perms: &Permissions, mask: u8) -> String {
    let own = (m.kind == Kind::Dir).then(|| perms.of_dir(p));
    let parent = perms.of_dir(path::parent(p));
    let mut out = String::with_capacity(LINE_GUESS);
    push_facts(&mut out, m, own, parent, p == "/", mask);
    out
}

/// The facts selected by `mask` (bit i = [`FACTS`]`[i]`), each ending in ';', appended to
/// `out`. `own`: a directory's own permissions; `parent`: those of the directory holding
/// the object; `root`: the object is "/" (which cannot be deleted or renamed).
fn push_facts(
    out: &mut String,
    m: &Meta,
    own: Option<PermSet>,
    parent: PermSet,
    root: bool,
    mask: u8,
) {
    let on = |i: u8| mask & 1 << i != 0;
    if on(0) {
        out.push_str(match m.kind {
            Kind::Dir => "type=dir;",
            Kind::File => "type=file;",
            Kind::Link | Kind::Other => "type=OS.unix=special;",
        });
    }
    if on(1) {
        out.push_str("size=");
        numfmt::push_dec(out, m.size, 0, b' ');
        out.push(';');
    }
    if on(2) {
        out.push_str("modify=");
        timefmt::write_mdtm(out, m.mtime);
        out.push(';');
    }
    if on(3) {
        out.push_str("perm=");
        match (m.kind, own) {
            (Kind::Dir, Some(own)) => {
                out.push('e');
                if own.has(Perm::List) {
                    out.push('l');
                }
                if own.has(Perm::Upload) {
                    out.push('c');
                }
                if own.has(Perm::CreateDirs) {
                    out.push('m');
                }
                if own.has(Perm::DeleteFiles) || own.has(Perm::DeleteDirs) {
                    out.push('p');
                }
                if parent.has(Perm::DeleteDirs) && !root {
                    out.push('d');
                }
                if parent.has(Perm::RenameDirs) && !root {
                    out.push('f');
                }
            }
            _ => {
                if parent.has(Perm::Overwrite) {
                    out.push_str("aw");
                }
                if parent.has(Perm::DeleteFiles) {
                    out.push('d');
                }
                if parent.has(Perm::RenameFiles) {
                    out.push('f');
                }
                if parent.has(Perm::Download) {
                    out.push('r');
                }
            }
        }
        out.push(';');
    }
    if on(4) {
        out.push_str("unique=");
        numfmt::push_hex(out, m.dev);
        out.push('g');
        numfmt::push_hex(out, m.ino);
        out.push(';');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: Kind, mode: u32) -> Meta {
        Meta {
            kind,
            size: 42,
            mtime: SystemTime::UNIX_EPOCH,
            mode,
            dev: 1,
            ino: 2,
        }
    }

    #[test]
    fn flags_split_off() {
        assert_eq!(split_flags("-la /x y"), ("la".to_string(), "/x y"));
        assert_eq!(split_flags("-a"), ("a".to_string(), ""));
        assert_eq!(split_flags("name"), (String::new(), "name"));
    }

    #[test]
    fn modes_like_ls() {
        assert_eq!(mode_string(&meta(Kind::Dir, 0o40755)), "drwxr-xr-x");
        assert_eq!(mode_string(&meta(Kind::File, 0o104755)), "-rwsr-xr-x");
        assert_eq!(mode_string(&meta(Kind::Dir, 0o41777)), "drwxrwxrwt");
        assert_eq!(mode_string(&meta(Kind::File, 0o100644)), "-rw-r--r--");
    }

    #[test]
    fn list_line_shape() {
        let e = Entry {
            name: "a b".into(),
            meta: meta(Kind::File, 0o100644),
        };
        let l = list_line(&e, SystemTime::UNIX_EPOCH);
        assert_eq!(
            l,
            "-rw-r--r--   1 ftp      ftp                42 Jan  1 00:00 a b"
        );
    }
}
