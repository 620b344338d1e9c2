//! One row per verb (OpenBSD ftpd's cmdtab, in Rust): name, aliases, argument shape, whether
//! it needs a login, its FEAT line and HELP text. The parser, the login gate, HELP, FEAT and
//! the 502 replies all read this table, so a new verb is one row plus its handler.

/// Every verb the server knows, implemented or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    User,
    Pass,
    Acct,
    Rein,
    Quit,
    Pwd,
    Cwd,
    Cdup,
    Mkd,
    Rmd,
    Dele,
    Rnfr,
    Rnto,
    Stor,
    Stou,
    Appe,
    Retr,
    List,
    Nlst,
    Stat,
    Syst,
    Noop,
    /// CLNT: the client names itself (noted and answered, as SFTPGo does).
    Clnt,
    Help,
    Type,
    Mode,
    Stru,
    Allo,
    Pasv,
    Port,
    Abor,
    Site,
    Feat,
    Opts,
    Epsv,
    Eprt,
    Size,
    Mdtm,
    Rest,
    Mlst,
    Mlsd,
    Mfmt,
    Auth,
    Pbsz,
    Prot,
    Ccc,
    /// HASH (draft-bryan-ftpext-hash): the session's selected algorithm.
    Hash,
    /// XCRC, MD5, XMD5, XSHA, XSHA1, XSHA256, XSHA512: one fixed algorithm each.
    Checksum(Algo),
    /// COMB: join uploaded parts into one file.
    Comb,
    /// AVBL (also spelled AVLB): available space.
    Avbl,
    /// Known verbs we answer 502 to (SMNT, LANG, ...).
    Unimplemented,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    None,
    Required,
    Optional,
}

/// A feature switch a verb depends on: off means 502 and no FEAT line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Always,
    /// The binding has a certificate (RFC 4217 commands).
    Tls,
    /// `ftpd.hash_support`: HASH and the legacy checksum commands.
    Hash,
    /// `ftpd.combine_support`: COMB.
    Comb,
    /// Active mode (PORT, EPRT): off with `ftpd.disable_active_mode`.
    Active,
}

pub struct Row {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub verb: Verb,
    pub arg: Arg,
    /// False for the verbs RFC 959 and common practice allow before login.
    pub needs_login: bool,
    /// The line FEAT advertises for this verb (RFC 2389), if any.
    pub feat: Option<&'static str>,
    pub help: &'static str,
    pub gate: Gate,
}

const fn row(
    name: &'static str,
    aliases: &'static [&'static str],
    verb: Verb,
    arg: Arg,
    needs_login: bool,
    feat: Option<&'static str>,
    help: &'static str,
) -> Row {
    Row {
        name,
        aliases,
        verb,
        arg,
        needs_login,
        feat,
        help,
        gate: Gate::Always,
    }
}

/// A row that exists only where TLS is configured.
const fn tls_row(
    name: &'static str,
    verb: Verb,
    arg: Arg,
    feat: Option<&'static str>,
    help: &'static str,
) -> Row {
    Row {
        name,
        aliases: &[],
        verb,
        arg,
        needs_login: false,
        feat,
        help,
        gate: Gate::Tls,
    }
}

/// A row that exists only where its extension (or active mode) is switched on; all need a
/// login.
const fn ext_row(
    gate: Gate,
    name: &'static str,
    verb: Verb,
    feat: Option<&'static str>,
    help: &'static str,
) -> Row {
    Row {
        name,
        aliases: &[],
        verb,
        arg: Arg::Required,
        needs_login: true,
        feat,
        help,
        gate,
    }
}

use crate::util::digest::Algo;
use Arg::{None as N, Optional as O, Required as R};
use Gate::{Active as GA, Comb as GC, Hash as GH};

#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    row("USER", &[], Verb::User, R, false, None, "USER <sp> username"),
    row("PASS", &[], Verb::Pass, O, false, None, "PASS [<sp> password]"),
    row("ACCT", &[], Verb::Acct, O, false, None, "ACCT <sp> account (not needed)"),
    row("REIN", &[], Verb::Rein, N, false, None, "REIN (reinitialize the session)"),
    row("QUIT", &[], Verb::Quit, N, false, None, "QUIT (end the session)"),
    row("PWD", &["XPWD"], Verb::Pwd, N, true, None, "PWD (print working directory)"),
    row("CWD", &["XCWD"], Verb::Cwd, R, true, None, "CWD <sp> path"),
    row("CDUP", &["XCUP"], Verb::Cdup, N, true, None, "CDUP (go to the parent directory)"),
    row("MKD", &["XMKD"], Verb::Mkd, R, true, None, "MKD <sp> path"),
    row("RMD", &["XRMD"], Verb::Rmd, R, true, None, "RMD <sp> path"),
    row("DELE", &[], Verb::Dele, R, true, None, "DELE <sp> file"),
    row("RNFR", &[], Verb::Rnfr, R, true, None, "RNFR <sp> path"),
    row("RNTO", &[], Verb::Rnto, R, true, None, "RNTO <sp> path"),
    row("STOR", &[], Verb::Stor, R, true, None, "STOR <sp> file"),
    row("STOU", &[], Verb::Stou, O, true, None, "STOU [<sp> name] (store under a unique name)"),
    row("APPE", &[], Verb::Appe, R, true, None, "APPE <sp> file"),
    row("RETR", &[], Verb::Retr, R, true, None, "RETR <sp> file"),
    row("LIST", &[], Verb::List, O, true, None, "LIST [<sp> [-a] [-l] path]"),
    row("NLST", &[], Verb::Nlst, O, true, None, "NLST [<sp> path]"),
    row("STAT", &[], Verb::Stat, O, false, None, "STAT [<sp> path]"),
    row("SYST", &[], Verb::Syst, N, false, None, "SYST (system type)"),
    row("NOOP", &[], Verb::Noop, N, false, None, "NOOP"),
    row("HELP", &[], Verb::Help, O, false, None, "HELP [<sp> command]"),
    row("TYPE", &[], Verb::Type, R, true, None, "TYPE <sp> { A [N] | I | L 8 }"),
    row("MODE", &[], Verb::Mode, R, true, None, "MODE <sp> S"),
    row("STRU", &[], Verb::Stru, R, true, None, "STRU <sp> F"),
    row("ALLO", &[], Verb::Allo, O, true, None, "ALLO <sp> size (not needed)"),
    row("PASV", &[], Verb::Pasv, N, true, None, "PASV (passive mode, IPv4)"),
    ext_row(GA, "PORT", Verb::Port, None, "PORT <sp> h1,h2,h3,h4,p1,p2"),
    row("ABOR", &[], Verb::Abor, N, true, None, "ABOR (abort the transfer)"),
    row("SITE", &[], Verb::Site, R, true, None, "SITE <sp> subcommand (SITE HELP lists them)"),
    row("FEAT", &[], Verb::Feat, N, false, None, "FEAT (list extensions)"),
    row("OPTS", &[], Verb::Opts, R, false, Some("UTF8"), "OPTS <sp> UTF8 ON | MLST facts"),
    row("EPSV", &[], Verb::Epsv, O, true, Some("EPSV"), "EPSV [<sp> 1 | 2 | ALL]"),
    ext_row(GA, "EPRT", Verb::Eprt, Some("EPRT"), "EPRT <sp> |af|address|port|"),
    row("SIZE", &[], Verb::Size, R, true, Some("SIZE"), "SIZE <sp> file"),
    row("MDTM", &[], Verb::Mdtm, R, true, Some("MDTM"), "MDTM <sp> file"),
    row("REST", &[], Verb::Rest, R, true, Some("REST STREAM"), "REST <sp> offset"),
    row("MLST", &[], Verb::Mlst, O, true, Some(MLST_FEAT), "MLST [<sp> path]"),
    row("MLSD", &[], Verb::Mlsd, O, true, None, "MLSD [<sp> dir]"),
    row("MFMT", &[], Verb::Mfmt, R, true, Some("MFMT"), "MFMT <sp> YYYYMMDDHHMMSS <sp> path"),
    tls_row("AUTH", Verb::Auth, R, Some("AUTH TLS"), "AUTH <sp> TLS"),
    tls_row("PBSZ", Verb::Pbsz, R, Some("PBSZ"), "PBSZ <sp> 0"),
    tls_row("PROT", Verb::Prot, R, Some("PROT"), "PROT <sp> P | C"),
    tls_row("CCC", Verb::Ccc, N, None, "CCC (refused: the control connection stays encrypted)"),
    ext_row(GH, "HASH", Verb::Hash, Some("HASH"), "HASH <sp> file (algorithm: OPTS HASH [name])"),
    ext_row(GH, "XCRC", Verb::Checksum(Algo::Crc32), Some("XCRC"), "XCRC <sp> file [<sp> start [<sp> end]]"),
    ext_row(GH, "MD5", Verb::Checksum(Algo::Md5), Some("MD5"), "MD5 <sp> file [<sp> start [<sp> end]]"),
    ext_row(GH, "XMD5", Verb::Checksum(Algo::Md5), Some("XMD5"), "XMD5 <sp> file [<sp> start [<sp> end]]"),
    ext_row(GH, "XSHA", Verb::Checksum(Algo::Sha1), Some("XSHA"), "XSHA <sp> file [<sp> start [<sp> end]] (SHA-1)"),
    ext_row(GH, "XSHA1", Verb::Checksum(Algo::Sha1), Some("XSHA1"), "XSHA1 <sp> file [<sp> start [<sp> end]]"),
    ext_row(GH, "XSHA256", Verb::Checksum(Algo::Sha256), Some("XSHA256"), "XSHA256 <sp> file [<sp> start [<sp> end]]"),
    ext_row(GH, "XSHA512", Verb::Checksum(Algo::Sha512), Some("XSHA512"), "XSHA512 <sp> file [<sp> start [<sp> end]]"),
    ext_row(GC, "COMB", Verb::Comb, Some("COMB"), "COMB <sp> target <sp> part [<sp> part ...] (\"quoted\" names may hold spaces)"),
    row("AVBL", &["AVLB"], Verb::Avbl, O, true, Some("AVBL"), "AVBL [<sp> dir] (available space in bytes)"),
    row("SMNT", &[], Verb::Unimplemented, O, true, None, "SMNT (not implemented)"),
    row("LANG", &[], Verb::Unimplemented, O, false, None, "LANG (not implemented)"),
    // RFC 7151: a server without virtual hosts may answer HOST 502; known, so never
    // scored by the defender as an unknown command.
    row("HOST", &[], Verb::Unimplemented, O, false, None, "HOST (not implemented: one site)"),
    row("CLNT", &[], Verb::Clnt, O, false, None, "CLNT <sp> client name"),
];

/// The MLST facts we serve (RFC 3659 7.8); all are on by default, hence the stars.
pub const MLST_FEAT: &str = "MLST type*;size*;modify*;perm*;unique*;";

/// Feature lines that belong to no single verb: "/"-rooted paths (RFC 3659 6).
pub const EXTRA_FEAT: &[&str] = &["TVFS"];

/// Finds the row for a verb or one of its aliases (case-insensitive, RFC 959 5.3).
pub fn lookup(verb: &str) -> Option<&'static Row> {
    static INDEX: std::sync::OnceLock<Vec<(u64, &'static Row)>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index: Vec<(u64, &'static Row)> = TABLE
            .iter()
            .flat_map(|r| {
                std::iter::once(&r.name)
                    .chain(r.aliases)
                    .map(move |n| (n, r))
            })
            .filter_map(|(name, r)| Some((key(name)?, r)))
            .collect();
        index.sort_unstable_by_key(|&(k, _)| k);
        index
    });
    let k = key(verb)?;
    let i = index.binary_search_by_key(&k, |&(k, _)| k).ok()?;
    Some(index[i].1)
}

/// A verb as one number, case folded, for the index above: every verb has 1 to 8 letters
/// or digits (a test checks the table); anything else is no verb (a NUL must not pad a
/// short one).
fn key(verb: &str) -> Option<u64> {
    if verb.is_empty() || verb.len() > 8 || !verb.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let mut k = [0u8; 8];
    k[..verb.len()].copy_from_slice(verb.as_bytes());
    Some(u64::from_be_bytes(k.map(|b| b.to_ascii_uppercase())))
}

/// The FEAT lines of the rows whose gate is open, sorted (RFC 2389 does not order them;
/// sorted is stable for tests).
pub fn feat_lines(open: impl Fn(&Row) -> bool) -> Vec<&'static str> {
    let mut lines: Vec<&str> = TABLE
        .iter()
        .filter(|r| open(r))
        .filter_map(|r| r.feat)
        .chain(EXTRA_FEAT.iter().copied())
        .collect();
    lines.sort_unstable();
    lines
}

/// Verbs HELP lists: the implemented ones whose gate is open, and their aliases.
pub fn help_verbs(open: impl Fn(&Row) -> bool) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|r| r.verb != Verb::Unimplemented && open(r))
        .flat_map(|r| std::iter::once(r.name).chain(r.aliases.iter().copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut all: Vec<&str> = TABLE
            .iter()
            .flat_map(|r| std::iter::once(r.name).chain(r.aliases.iter().copied()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn extensions_are_gated() {
        assert_eq!(lookup("avlb").map(|r| r.verb), Some(Verb::Avbl));
        for r in TABLE {
            let want = match r.verb {
                Verb::Hash | Verb::Checksum(_) => Gate::Hash,
                Verb::Comb => Gate::Comb,
                _ => continue,
            };
            assert_eq!(r.gate, want, "{}", r.name);
            assert!(r.feat.is_some() && r.needs_login, "{}", r.name);
        }
    }

    #[test]
    fn every_name_fits_the_index() {
        for r in TABLE {
            for name in std::iter::once(&r.name).chain(r.aliases) {
                assert!(key(name).is_some(), "{name}");
                assert_eq!(lookup(name).map(|f| f.verb), Some(r.verb), "{name}");
            }
        }
        // A NUL cannot make a short verb match a longer one.
        assert!(lookup("PWD\0").is_none());
        assert!(lookup("").is_none());
        assert!(lookup("RETRRETRR").is_none());
    }

    #[test]
    fn lookup_ignores_case_and_finds_aliases() {
        assert_eq!(lookup("xpwd").map(|r| r.verb), Some(Verb::Pwd));
        assert_eq!(lookup("Retr").map(|r| r.verb), Some(Verb::Retr));
        assert!(lookup("FOO").is_none());
    }
}
