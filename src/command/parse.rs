//! The pure parser: one control line (CRLF already stripped, Telnet bytes removed) to a typed
//! [`Command`]. RFC 959 5.3: verbs are case-insensitive and separated from the argument by
//! one space; the argument is kept verbatim (file names may hold spaces). No I/O here, so
//! it can be tested and fuzzed on its own.

use super::table::{lookup, Arg, Row, Verb};
use crate::util::digest::Algo;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::SystemTime;

/// A password: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    Ascii,
    Binary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpsvArg {
    Any,
    V4,
    V6,
    All,
}

/// The byte range of a legacy checksum command (`XCRC file [start [end]]`): from `start`
/// (inclusive) to `end` (exclusive; None = the end of the file), as SFTPGo counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

/// A SITE subcommand (RFC 959 4.1.3 leaves them to the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteCmd {
    Help,
    /// CHMOD mode path: permission bits only (0 to 777 octal).
    Chmod(u32, String),
    /// SYMLINK source link: a new link named `link` pointing at `source`.
    Symlink(String, String),
    /// MKDIR path: MKD under another name.
    Mkdir(String),
    /// RMDIR path: RMD under another name.
    Rmdir(String),
    /// A subcommand we do not have (upper-cased, bounded).
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    User(String),
    Pass(Secret),
    Acct,
    Rein,
    Quit,
    Pwd,
    Cwd(String),
    Cdup,
    Mkd(String),
    Rmd(String),
    Dele(String),
    Rnfr(String),
    Rnto(String),
    Stor(String),
    Stou(Option<String>),
    Appe(String),
    Retr(String),
    List(Option<String>),
    Nlst(Option<String>),
    Stat(Option<String>),
    Syst,
    Noop,
    Clnt,
    Help(Option<String>),
    Type(TransferType),
    /// MODE S (the only one we serve).
    ModeStream,
    /// STRU F (the only one we serve).
    StruFile,
    Allo,
    Pasv,
    Port(SocketAddr),
    Abor,
    /// SITE's subcommand; a malformed one is reported only once SITE is known to be enabled
    /// (a disabled SITE CHMOD is 502 whatever its arguments).
    Site(Result<SiteCmd, ParseError>),
    Feat,
    Opts(String),
    Epsv(EpsvArg),
    Eprt(SocketAddr),
    Size(String),
    Mdtm(String),
    Rest(u64),
    Mlst(Option<String>),
    Mlsd(Option<String>),
    Mfmt(SystemTime, String),
    /// AUTH TLS (also SSL, TLS-C, TLS-P: all mean TLS on the control connection).
    AuthTls,
    Pbsz(u64),
    /// PROT P (true) or C (false).
    Prot(bool),
    Ccc,
    /// HASH path (draft-bryan-ftpext-hash 3): the whole argument is the path.
    Hash(String),
    /// XCRC/MD5/XMD5/XSHA/XSHA1/XSHA256/XSHA512 path `[start [end]]`.
    Checksum(Algo, String, ByteRange),
    /// COMB target part...: at least one part.
    Comb(String, Vec<String>),
    /// `AVBL [dir]`.
    Avbl(Option<String>),
    /// A verb in the table we do not serve (502).
    Unimplemented(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// 500: not a verb we know.
    Unknown(String),
    /// 501: the argument is missing, extra or malformed.
    Argument(&'static str, String),
    /// 504: a parameter value we do not implement (TYPE E, MODE B, STRU R).
    Unsupported(&'static str, String),
    /// 522: EPRT/EPSV naming a network protocol we do not serve (RFC 2428).
    Protocol,
    /// 536: PROT S or E, levels TLS does not offer (RFC 2228, RFC 4217 9).
    ProtLevel,
}

/// A line's verb as sent (the table ignores case) and its argument.
pub fn split(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

/// The verb of a line, upper-cased, for logs and gating even when parsing fails.
pub fn verb_of(line: &str) -> String {
    split(line).0.to_ascii_uppercase()
}

pub fn parse(line: &str) -> Result<Command, ParseError> {
    parse_row(lookup(split(line).0), line)
}

/// [`parse`], with the line's verb already looked up in the table (None: no verb we know),
/// so that a command is looked up once.
pub fn parse_row(row: Option<&'static Row>, line: &str) -> Result<Command, ParseError> {
    let (verb, arg) = split(line);
    let row = row.ok_or_else(|| ParseError::Unknown(verb.chars().take(32).collect()))?;
    let name = row.name;
    let arg_opt = (!arg.is_empty()).then(|| arg.to_string());
    match row.arg {
        Arg::Required if arg.trim().is_empty() => {
            return Err(ParseError::Argument(name, "an argument is required".into()))
        }
        Arg::None if !arg.trim().is_empty() => {
            return Err(ParseError::Argument(name, "takes no argument".into()))
        }
        _ => {}
    }
    let a = arg.to_string();
    Ok(match row.verb {
        Verb::User => Command::User(a),
        Verb::Pass => Command::Pass(Secret(a)),
        Verb::Acct => Command::Acct,
        Verb::Rein => Command::Rein,
        Verb::Quit => Command::Quit,
        Verb::Pwd => Command::Pwd,
        Verb::Cwd => Command::Cwd(a),
        Verb::Cdup => Command::Cdup,
        Verb::Mkd => Command::Mkd(a),
        Verb::Rmd => Command::Rmd(a),
        Verb::Dele => Command::Dele(a),
        Verb::Rnfr => Command::Rnfr(a),
        Verb::Rnto => Command::Rnto(a),
        Verb::Stor => Command::Stor(a),
        Verb::Stou => Command::Stou(arg_opt),
        Verb::Appe => Command::Appe(a),
        Verb::Retr => Command::Retr(a),
        Verb::List => Command::List(arg_opt),
        Verb::Nlst => Command::Nlst(arg_opt),
        Verb::Stat => Command::Stat(arg_opt),
        Verb::Syst => Command::Syst,
        Verb::Noop => Command::Noop,
        Verb::Clnt => Command::Clnt,
        Verb::Help => Command::Help(arg_opt),
        Verb::Type => Command::Type(parse_type(arg)?),
        Verb::Mode => match arg.trim().to_ascii_uppercase().as_str() {
            "S" => Command::ModeStream,
            "B" | "C" | "Z" => return Err(ParseError::Unsupported(name, a)),
            _ => return Err(ParseError::Argument(name, "unknown mode".into())),
        },
        Verb::Stru => match arg.trim().to_ascii_uppercase().as_str() {
            "F" => Command::StruFile,
            "R" | "P" => return Err(ParseError::Unsupported(name, a)),
            _ => return Err(ParseError::Argument(name, "unknown structure".into())),
        },
        Verb::Allo => Command::Allo,
        Verb::Pasv => Command::Pasv,
        Verb::Port => Command::Port(
            parse_port(arg)
                .ok_or_else(|| ParseError::Argument(name, "expected h1,h2,h3,h4,p1,p2".into()))?,
        ),
        Verb::Abor => Command::Abor,
        Verb::Site => Command::Site(parse_site(arg)),
        Verb::Feat => Command::Feat,
        Verb::Opts => Command::Opts(a),
        Verb::Epsv => Command::Epsv(match arg.trim().to_ascii_uppercase().as_str() {
            "" => EpsvArg::Any,
            "1" => EpsvArg::V4,
            "2" => EpsvArg::V6,
            "ALL" => EpsvArg::All,
            s if s.chars().all(|c| c.is_ascii_digit()) => return Err(ParseError::Protocol),
            _ => return Err(ParseError::Argument(name, "expected 1, 2 or ALL".into())),
        }),
        Verb::Eprt => Command::Eprt(parse_eprt(arg)?),
        Verb::Size => Command::Size(a),
        Verb::Mdtm => Command::Mdtm(a),
        Verb::Rest => Command::Rest(
            arg.trim()
                .parse::<u64>()
                .map_err(|_| ParseError::Argument(name, "expected a byte offset".into()))?,
        ),
        Verb::Mlst => Command::Mlst(arg_opt),
        Verb::Mlsd => Command::Mlsd(arg_opt),
        Verb::Mfmt => {
            let (time, path) = arg
                .split_once(' ')
                .ok_or_else(|| ParseError::Argument(name, "expected YYYYMMDDHHMMSS path".into()))?;
            let t = crate::util::timefmt::parse_mdtm(time)
                .ok_or_else(|| ParseError::Argument(name, format!("bad time {time:?}")))?;
            if path.is_empty() {
                return Err(ParseError::Argument(name, "expected a path".into()));
            }
            Command::Mfmt(t, path.to_string())
        }
        Verb::Auth => match arg.trim().to_ascii_uppercase().as_str() {
            "TLS" | "TLS-C" | "SSL" | "TLS-P" => Command::AuthTls,
            _ => return Err(ParseError::Unsupported(name, a)),
        },
        Verb::Pbsz => Command::Pbsz(
            arg.trim()
                .parse::<u64>()
                .map_err(|_| ParseError::Argument(name, "expected a number".into()))?,
        ),
        Verb::Prot => match arg.trim().to_ascii_uppercase().as_str() {
            "P" => Command::Prot(true),
            "C" => Command::Prot(false),
            // RFC 2228 PROT: a level TLS does not offer is 536, one not known at all 504.
            "S" | "E" => return Err(ParseError::ProtLevel),
            _ => return Err(ParseError::Unsupported(name, a)),
        },
        Verb::Ccc => Command::Ccc,
        Verb::Hash => Command::Hash(a),
        Verb::Checksum(algo) => {
            let (path, range) =
                parse_checksum(arg).map_err(|why| ParseError::Argument(name, why))?;
            Command::Checksum(algo, path, range)
        }
        Verb::Comb => {
            let mut names = split_quoted(arg).map_err(|why| ParseError::Argument(name, why))?;
            if names.len() < 2 {
                return Err(ParseError::Argument(
                    name,
                    "expected a target and at least one part".into(),
                ));
            }
            let target = names.remove(0);
            Command::Comb(target, names)
        }
        Verb::Avbl => Command::Avbl(arg_opt),
        Verb::Unimplemented => Command::Unimplemented(name),
    })
}

/// Splits an argument into names on spaces; a name in double quotes may hold spaces, and
/// `""` inside quotes is one quote (SFTPGo reads COMB this way, as CSV with a space
/// separator). Runs of spaces separate like one.
pub fn split_quoted(arg: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = arg.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let mut name = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted name is not closed".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        name.push('"');
                    }
                    Some('"') => break,
                    Some(c) => name.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(' ')) {
                return Err("a closing quote must be followed by a space".into());
            }
            if name.is_empty() {
                return Err("an empty name".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                if c == '"' {
                    return Err("a quote inside an unquoted name (quote the whole name)".into());
                }
                name.push(c);
                chars.next();
            }
        }
        out.push(name);
    }
}

/// `path [start [end]]`: up to two trailing decimal numbers are the range, the rest is the
/// path (quote it when it ends in a number: `"log 2" 0 10`).
fn parse_checksum(arg: &str) -> Result<(String, ByteRange), String> {
    let (path, numbers) = if arg.starts_with('"') {
        let names = split_quoted(arg)?;
        let mut it = names.into_iter();
        let path = it.next().ok_or("expected a file name")?;
        (path, it.collect::<Vec<_>>())
    } else {
        let mut rest = arg;
        let mut numbers = Vec::new();
        while numbers.len() < 2 {
            match rest.rsplit_once(' ') {
                Some((head, last))
                    if !last.is_empty()
                        && last.bytes().all(|b| b.is_ascii_digit())
                        && !head.trim_end_matches(' ').is_empty() =>
                {
                    numbers.insert(0, last.to_string());
                    rest = head.trim_end_matches(' ');
                }
                _ => break,
            }
        }
        (rest.to_string(), numbers)
    };
    if path.is_empty() {
        return Err("expected a file name".into());
    }
    let number = |s: &String| {
        s.parse::<u64>().map_err(|_| {
            format!(
                "{:?} is not a byte offset",
                s.chars().take(32).collect::<String>()
            )
        })
    };
    let range = match numbers.as_slice() {
        [] => ByteRange {
            start: 0,
            end: None,
        },
        [start] => ByteRange {
            start: number(start)?,
            end: None,
        },
        [start, end] => ByteRange {
            start: number(start)?,
            end: Some(number(end)?),
        },
        _ => return Err("expected file [start [end]]".into()),
    };
    if let Some(end) = range.end {
        if end < range.start {
            return Err(format!("end {end} is before start {}", range.start));
        }
    }
    Ok((path, range))
}

/// SITE's argument: subcommand (any case) and its own arguments.
fn parse_site(arg: &str) -> Result<SiteCmd, ParseError> {
    let arg = arg.trim_start_matches(' ');
    let (sub, rest) = arg.split_once(' ').unwrap_or((arg, ""));
    let upper = sub.to_ascii_uppercase();
    let path = |what: &'static str| {
        if rest.is_empty() {
            Err(ParseError::Argument(what, "expected a path".into()))
        } else {
            Ok(rest.to_string())
        }
    };
    Ok(match upper.as_str() {
        "HELP" => SiteCmd::Help,
        "CHMOD" => {
            let bad = || {
                ParseError::Argument(
                    "SITE CHMOD",
                    "expected an octal mode (000 to 777) and a path".into(),
                )
            };
            let (mode, p) = rest.split_once(' ').ok_or_else(bad)?;
            if mode.is_empty()
                || mode.len() > 4
                || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b))
            {
                return Err(bad());
            }
            let mode = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
            if mode > 0o777 {
                return Err(ParseError::Argument(
                    "SITE CHMOD",
                    "only the permission bits (000 to 777) may be set".into(),
                ));
            }
            if p.is_empty() {
                return Err(bad());
            }
            SiteCmd::Chmod(mode, p.to_string())
        }
        "SYMLINK" => {
            let names =
                split_quoted(rest).map_err(|why| ParseError::Argument("SITE SYMLINK", why))?;
            match <[String; 2]>::try_from(names) {
                Ok([source, link]) => SiteCmd::Symlink(source, link),
                Err(_) => {
                    return Err(ParseError::Argument(
                        "SITE SYMLINK",
                        "expected a source and a link name".into(),
                    ))
                }
            }
        }
        "MKDIR" => SiteCmd::Mkdir(path("SITE MKDIR")?),
        "RMDIR" => SiteCmd::Rmdir(path("SITE RMDIR")?),
        _ => SiteCmd::Unknown(upper.chars().take(32).collect()),
    })
}

/// RFC 959 TYPE: A [N], I, L 8 are served; E, A T, A C, L n (n != 8) are valid but not served.
fn parse_type(arg: &str) -> Result<TransferType, ParseError> {
    let up = arg.trim().to_ascii_uppercase();
    let parts: Vec<&str> = up.split_whitespace().collect();
    match parts.as_slice() {
        ["A"] | ["A", "N"] => Ok(TransferType::Ascii),
        ["I"] | ["L", "8"] | ["L8"] => Ok(TransferType::Binary),
        ["A", "T" | "C"] | ["E", ..] | ["L", _] => {
            Err(ParseError::Unsupported("TYPE", arg.to_string()))
        }
        _ => Err(ParseError::Argument("TYPE", "expected A, I or L 8".into())),
    }
}

/// RFC 959 PORT: h1,h2,h3,h4,p1,p2, each a decimal byte.
fn parse_port(arg: &str) -> Option<SocketAddr> {
    let nums: Vec<u8> = arg
        .trim()
        .split(',')
        .map(|s| s.trim().parse::<u8>().ok())
        .collect::<Option<Vec<u8>>>()?;
    match nums.as_slice() {
        [a, b, c, d, p1, p2] => Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)),
            u16::from(*p1) << 8 | u16::from(*p2),
        )),
        _ => None,
    }
}

/// RFC 2428 EPRT: <d>proto<d>address<d>port<d>, d any printable ASCII delimiter.
fn parse_eprt(arg: &str) -> Result<SocketAddr, ParseError> {
    let bad = || ParseError::Argument("EPRT", "expected |1|a.b.c.d|port| or |2|ipv6|port|".into());
    let arg = arg.trim();
    let d = arg
        .chars()
        .next()
        .filter(|c| c.is_ascii_graphic())
        .ok_or_else(bad)?;
    let parts: Vec<&str> = arg.split(d).collect();
    let [empty, proto, addr, port, end] = parts.as_slice() else {
        return Err(bad());
    };
    if !empty.is_empty() || !end.is_empty() {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    let ip: IpAddr = match *proto {
        "1" => IpAddr::V4(addr.parse().map_err(|_| bad())?),
        "2" => IpAddr::V6(addr.parse().map_err(|_| bad())?),
        _ => return Err(ParseError::Protocol),
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 959 5.3: command verbs are case-insensitive.
    #[test]
    fn verbs_ignore_case_aliases_map() {
        assert_eq!(parse("noop"), Ok(Command::Noop));
        assert_eq!(parse("xPwD"), Ok(Command::Pwd));
        assert_eq!(parse("CWD /a b"), Ok(Command::Cwd("/a b".into())));
    }

    #[test]
    fn unknown_verb_is_500_class() {
        assert_eq!(parse("FOO x"), Err(ParseError::Unknown("FOO".into())));
    }

    #[test]
    fn argument_shapes_are_enforced() {
        assert!(matches!(
            parse("RETR"),
            Err(ParseError::Argument("RETR", _))
        ));
        assert!(matches!(
            parse("PWD x"),
            Err(ParseError::Argument("PWD", _))
        ));
        assert_eq!(parse("LIST"), Ok(Command::List(None)));
    }

    #[test]
    fn type_values() {
        assert_eq!(parse("TYPE a n"), Ok(Command::Type(TransferType::Ascii)));
        assert_eq!(parse("TYPE L 8"), Ok(Command::Type(TransferType::Binary)));
        assert!(matches!(parse("TYPE E"), Err(ParseError::Unsupported(..))));
        assert!(matches!(parse("TYPE Q"), Err(ParseError::Argument(..))));
    }

    #[test]
    fn port_and_eprt() {
        assert_eq!(
            parse("PORT 127,0,0,1,4,1"),
            Ok(Command::Port("127.0.0.1:1025".parse().unwrap()))
        );
        assert!(parse("PORT 127,0,0,1,4").is_err());
        assert!(parse("PORT 256,0,0,1,4,1").is_err());
        assert_eq!(
            parse("EPRT |2|::1|5282|"),
            Ok(Command::Eprt("[::1]:5282".parse().unwrap()))
        );
        assert_eq!(
            parse("EPRT !1!10.0.0.1!21!"),
            Ok(Command::Eprt("10.0.0.1:21".parse().unwrap()))
        );
        assert_eq!(parse("EPRT |3|x|1|"), Err(ParseError::Protocol));
        assert!(parse("EPRT |1|::1|1|").is_err());
    }

    #[test]
    fn epsv_forms() {
        assert_eq!(parse("EPSV"), Ok(Command::Epsv(EpsvArg::Any)));
        assert_eq!(parse("EPSV all"), Ok(Command::Epsv(EpsvArg::All)));
        assert_eq!(parse("EPSV 3"), Err(ParseError::Protocol));
    }

    #[test]
    fn rest_and_mfmt() {
        assert_eq!(parse("REST 100"), Ok(Command::Rest(100)));
        assert!(parse("REST -1").is_err());
        assert!(matches!(parse("MFMT 20200101000000 a b"), Ok(Command::Mfmt(_, p)) if p == "a b"));
        assert!(parse("MFMT 2020 a").is_err());
    }

    #[test]
    fn password_is_not_printed() {
        let c = parse("PASS hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn quoted_names_split_like_sftpgo() {
        assert_eq!(
            split_quoted(r#"final7.log "6 6.log"  67.log"#),
            Ok(vec!["final7.log".into(), "6 6.log".into(), "67.log".into()])
        );
        assert_eq!(
            split_quoted(r#""a""b" c"#),
            Ok(vec![r#"a"b"#.into(), "c".into()])
        );
        assert!(split_quoted(r#""open"#).is_err());
        assert!(split_quoted(r#"a"b c"#).is_err());
        assert!(split_quoted(r#""a"b"#).is_err());
    }

    #[test]
    fn comb_needs_target_and_parts() {
        assert_eq!(
            parse("COMB t p1 p2"),
            Ok(Command::Comb("t".into(), vec!["p1".into(), "p2".into()]))
        );
        assert!(matches!(
            parse("COMB t"),
            Err(ParseError::Argument("COMB", _))
        ));
    }

    #[test]
    fn checksum_ranges() {
        let r = |start, end| ByteRange { start, end };
        assert_eq!(
            parse("XCRC my file.txt"),
            Ok(Command::Checksum(
                Algo::Crc32,
                "my file.txt".into(),
                r(0, None)
            ))
        );
        assert_eq!(
            parse("XSHA256 a 5"),
            Ok(Command::Checksum(Algo::Sha256, "a".into(), r(5, None)))
        );
        assert_eq!(
            parse("XMD5 a b 5 10"),
            Ok(Command::Checksum(Algo::Md5, "a b".into(), r(5, Some(10))))
        );
        assert_eq!(
            parse(r#"XSHA "log 2" 0 1"#),
            Ok(Command::Checksum(Algo::Sha1, "log 2".into(), r(0, Some(1))))
        );
        // A name that is only a number is the name, not a range.
        assert_eq!(
            parse("MD5 2024"),
            Ok(Command::Checksum(Algo::Md5, "2024".into(), r(0, None)))
        );
        assert!(parse("XCRC a 10 5").is_err());
        assert!(parse("XCRC a 99999999999999999999").is_err());
        assert!(parse(r#"XCRC "a" x"#).is_err());
    }

    #[test]
    fn site_subcommands() {
        assert_eq!(parse("SITE help"), Ok(Command::Site(Ok(SiteCmd::Help))));
        assert_eq!(
            parse("SITE CHMOD 0640 a b"),
            Ok(Command::Site(Ok(SiteCmd::Chmod(0o640, "a b".into()))))
        );
        assert!(matches!(
            parse("SITE CHMOD 4755 a"),
            Ok(Command::Site(Err(_)))
        ));
        assert!(matches!(parse("SITE CHMOD 9 a"), Ok(Command::Site(Err(_)))));
        assert!(matches!(parse("SITE CHMOD 644"), Ok(Command::Site(Err(_)))));
        assert_eq!(
            parse(r#"SITE SYMLINK "a b" c"#),
            Ok(Command::Site(Ok(SiteCmd::Symlink(
                "a b".into(),
                "c".into()
            ))))
        );
        assert!(matches!(parse("SITE SYMLINK a"), Ok(Command::Site(Err(_)))));
        assert_eq!(
            parse("SITE mkdir d"),
            Ok(Command::Site(Ok(SiteCmd::Mkdir("d".into()))))
        );
        assert_eq!(
            parse("SITE UTIME x"),
            Ok(Command::Site(Ok(SiteCmd::Unknown("UTIME".into()))))
        );
    }

    #[test]
    fn avbl_takes_both_spellings() {
        assert_eq!(parse("AVBL"), Ok(Command::Avbl(None)));
        assert_eq!(parse("avlb /d"), Ok(Command::Avbl(Some("/d".into()))));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            " ",
            "\u{0}",
            "EPRT ||||",
            "EPRT é",
            "PORT ,,,,,",
            "MFMT  ",
            "TYPE   ",
            "SITE \"",
            "SITE SYMLINK \"",
            "COMB \"\"",
            "XCRC \"",
            "XCRC  1 2",
            "SITE CHMOD  ",
        ] {
            let _ = parse(s);
        }
    }
}
