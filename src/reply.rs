//! FTP replies (RFC 959 section 4.2): codes named by meaning, and their wire form.
//!
//! Every reply the server sends goes through [`Reply`]; no handler writes a bare number.

use std::fmt;

/// Reply codes, named by what they mean (RFC 959 4.2.1, RFC 2228, RFC 2428, RFC 3659).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyCode {
    /// 150: file status okay; about to open data connection.
    OpeningData = 150,
    /// 200: command okay.
    Ok = 200,
    /// 202: command not implemented, superfluous at this site.
    Superfluous = 202,
    /// 211: system status, or FEAT.
    SystemStatus = 211,
    /// 212: directory status.
    DirectoryStatus = 212,
    /// 213: file status (SIZE, MDTM, MFMT, STAT of a file).
    FileStatus = 213,
    /// 214: help message.
    Help = 214,
    /// 215: NAME system type.
    SystemType = 215,
    /// 220: service ready for new user.
    ServiceReady = 220,
    /// 221: service closing control connection.
    Goodbye = 221,
    /// 226: closing data connection; requested file action successful.
    TransferComplete = 226,
    /// 227: entering passive mode (h1,h2,h3,h4,p1,p2).
    EnteringPassive = 227,
    /// 229: entering extended passive mode (|||port|).
    EnteringExtendedPassive = 229,
    /// 230: user logged in, proceed.
    LoggedIn = 230,
    /// 232: user logged in, authorized by security data exchange (RFC 2228).
    LoggedInBySecurityData = 232,
    /// 234: security data exchange complete: AUTH accepted (RFC 2228).
    AuthOk = 234,
    /// 250: requested file action okay, completed.
    FileActionOk = 250,
    /// 257: "PATHNAME" created / is the current directory.
    PathCreated = 257,
    /// 331: user name okay, need password.
    NeedPassword = 331,
    /// 350: requested file action pending further information (REST, RNFR).
    PendingFurtherInfo = 350,
    /// 421: service not available, closing control connection.
    ServiceUnavailable = 421,
    /// 425: can't open data connection.
    CantOpenData = 425,
    /// 426: connection closed; transfer aborted.
    TransferAborted = 426,
    /// 450: requested file action not taken (file unavailable, busy).
    FileBusy = 450,
    /// 451: requested action aborted: local error in processing.
    LocalError = 451,
    /// 452: insufficient storage space in system.
    InsufficientStorage = 452,
    /// 500: syntax error, command unrecognized (also: line too long).
    SyntaxError = 500,
    /// 501: syntax error in parameters or arguments.
    ArgumentError = 501,
    /// 502: command not implemented.
    NotImplemented = 502,
    /// 503: bad sequence of commands.
    BadSequence = 503,
    /// 504: command not implemented for that parameter.
    ParameterNotImplemented = 504,
    /// 522: network protocol not supported (RFC 2428 EPRT).
    ProtocolNotSupported = 522,
    /// 521: data connection cannot be opened with this PROT setting (RFC 4217).
    DataProtectionRequired = 521,
    /// 530: not logged in.
    NotLoggedIn = 530,
    /// 534: request denied for policy reasons (RFC 2228).
    PolicyDenied = 534,
    /// 536: requested PROT level not supported by mechanism (RFC 2228).
    ProtLevelNotSupported = 536,
    /// 550: requested action not taken; file unavailable (not found, no access).
    FileUnavailable = 550,
    /// 552: requested file action aborted; exceeded storage allocation.
    ExceededStorage = 552,
    /// 553: requested action not taken; file name not allowed.
    NameNotAllowed = 553,
    /// 554: requested action not taken: invalid REST parameter (RFC 3659 5).
    InvalidRestart = 554,
}

impl ReplyCode {
    pub fn number(self) -> u16 {
        self as u16
    }
}

/// One reply: a code and one or more lines of text.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: ReplyCode,
    /// First line of text; for multi-line replies the lines after it, the last one closing.
    lines: Vec<String>,
    part: Part,
}

/// Which piece of a reply this is: whole, or the start or middle of a multi-line reply
/// whose end is sent later (a long HASH sends `213-` lines while it works,
/// draft-bryan-ftpext-hash 3; its final `213 ` line is then an ordinary one-line reply).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    Opening,
    Inner,
}

impl Reply {
    pub fn new(code: ReplyCode, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
            part: Part::Whole,
        }
    }

    /// The first line of a multi-line reply that stays open: `CODE-text`. The caller must
    /// end it with a one-line reply of the same code.
    pub fn opening(code: ReplyCode, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
            part: Part::Opening,
        }
    }

    /// A middle line of a reply begun with [`Reply::opening`]: sent indented, so it can never
    /// read as the end.
    pub fn inner(code: ReplyCode, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
            part: Part::Inner,
        }
    }

    /// A multi-line reply (RFC 959 4.2): `lines[0]` opens with `CODE-`, the inner lines are
    /// sent with a leading space so none can be mistaken for the end, the last closes with
    /// `CODE `.
    pub fn multi(code: ReplyCode, lines: Vec<String>) -> Reply {
        let lines = if lines.is_empty() {
            vec![String::from("End")]
        } else {
            lines
        };
        Reply {
            code,
            lines,
            part: Part::Whole,
        }
    }

    /// The bytes to put on the wire. CR and LF inside texts are replaced, so a file name
    /// cannot inject a reply line.
    pub fn to_wire(&self) -> Vec<u8> {
        // Reply codes have three digits (RFC 959 4.2).
        let c = self.code.number();
        let code = [c / 100 % 10, c / 10 % 10, c % 10].map(|d| b'0' + d as u8);
        let n = self.lines.len();
        // One allocation: code, separator, text and CRLF for each line.
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.len() + 6).sum());
        for (i, line) in self.lines.iter().enumerate() {
            let last = i + 1 == n;
            let lead = match self.part {
                Part::Opening => Some(b'-'),
                Part::Inner => None,
                Part::Whole if last => Some(b' '),
                Part::Whole if i == 0 => Some(b'-'),
                Part::Whole => None,
            };
            match lead {
                Some(sep) => {
                    out.extend_from_slice(&code);
                    out.push(sep);
                }
                None => out.push(b' '),
            }
            // CR and LF become spaces: a file name cannot end the line early.
            out.extend(
                line.bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl fmt::Debug for Reply {
    // Listings and long texts stay out of debug logs: code and first line only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        if self.lines.len() > 1 {
            write!(
                f,
                "{} {} (+{} lines)",
                self.code.number(),
                first,
                self.lines.len() - 1
            )
        } else {
            write!(f, "{} {}", self.code.number(), first)
        }
    }
}

/// RFC 959 quoting of a path in 257 replies: embedded quotes are doubled.
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line() {
        let r = Reply::new(ReplyCode::Ok, "fine");
        assert_eq!(r.to_wire(), b"200 fine\r\n");
    }

    #[test]
    fn multi_line_inner_lines_are_indented() {
        let r = Reply::multi(
            ReplyCode::SystemStatus,
            vec!["Features:".into(), "UTF8".into(), "End".into()],
        );
        assert_eq!(r.to_wire(), b"211-Features:\r\n UTF8\r\n211 End\r\n");
    }

    #[test]
    fn newlines_cannot_inject_replies() {
        let r = Reply::new(ReplyCode::FileUnavailable, "a\r\n200 fake");
        assert_eq!(r.to_wire(), b"550 a  200 fake\r\n");
    }

    #[test]
    fn open_reply_in_pieces() {
        let mut wire = Reply::opening(ReplyCode::FileStatus, "Computing").to_wire();
        wire.extend(Reply::inner(ReplyCode::FileStatus, "213 not the end").to_wire());
        wire.extend(Reply::new(ReplyCode::FileStatus, "done").to_wire());
        assert_eq!(wire, b"213-Computing\r\n 213 not the end\r\n213 done\r\n");
    }

    #[test]
    fn quotes_doubled() {
        assert_eq!(quote_path("/a\"b"), "\"/a\"\"b\"");
    }
}
