//! The transfer log in wu-ftpd's xferlog(5) format, which log analysers (webalizer,
//! AWStats, xferstats) read: one line per file transfer, fourteen space-separated fields:
//!
//! `current-time transfer-time remote-host file-size filename transfer-type
//! special-action-flag direction access-mode username service-name authentication-method
//! authenticated-user-id completion-status`
//!
//! Choices where the format leaves room: the time is UTC (this process has no time zone
//! database); transfer-time is whole seconds, at least 1, since analysers divide by it;
//! the filename is the path the user sees, with spaces as `_` and control characters as
//! `?` so that it stays one field; access-mode is `r` (a named, authenticated user);
//! authentication-method `0` and authenticated-user-id `*` (no RFC 1413 ident).

use super::{Outcome, Transfer};
use crate::util::timefmt::civil_from_unix;
use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// ctime(3)'s form without the newline: `Mon Nov 25 04:07:01 2026` (day padded to 2).
pub fn ctime(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let c = civil_from_unix(secs);
    // 1970-01-01 was a Thursday.
    let day = DAYS
        .get(secs.div_euclid(86_400).rem_euclid(7) as usize)
        .unwrap_or(&"Thu");
    let month = MONTHS
        .get((c.month as usize).wrapping_sub(1))
        .unwrap_or(&"Jan");
    format!(
        "{day} {month} {:>2} {:02}:{:02}:{:02} {}",
        c.day, c.hour, c.min, c.sec, c.year
    )
}

/// One field: no spaces, no control characters.
fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.chars()
        .map(|c| match c {
            ' ' => '_',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// The line for `t`, ended at `now`, without its newline; None for a verb that is not a
/// file transfer (listings are not xferlog material).
pub fn line(t: &Transfer, now: SystemTime) -> Option<String> {
    let direction = match t.verb {
        "RETR" => 'o',
        "STOR" | "APPE" | "STOU" => 'i',
        _ => return None,
    };
    let secs = (t.secs.round() as u64).max(1);
    let status = match t.outcome {
        Outcome::Ok => 'c',
        Outcome::Aborted | Outcome::Failed(_) => 'i',
    };
    Some(format!(
        "{} {secs} {} {} {} {} _ {direction} r {} ftp 0 * {status}",
        ctime(now),
        t.remote.ip(),
        t.bytes,
        field(t.path),
        if t.ascii { 'a' } else { 'b' },
        field(t.user),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ctime_matches_the_c_library() {
        // date -u -d @1577934245 +'%a %b %e %H:%M:%S %Y'
        let t = UNIX_EPOCH + Duration::from_secs(1_577_934_245);
        assert_eq!(ctime(t), "Thu Jan  2 03:04:05 2020");
        assert_eq!(ctime(UNIX_EPOCH), "Thu Jan  1 00:00:00 1970");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_579_621);
        assert_eq!(ctime(t), "Wed Nov 25 04:07:01 2026");
    }

    #[test]
    fn fourteen_fields() {
        let t = Transfer {
            verb: "STOR",
            user: "u",
            remote: "192.0.2.7:5041".parse().unwrap(),
            path: "/dir/a b\n.txt",
            bytes: 12345,
            secs: 0.2,
            outcome: Outcome::Aborted,
            ascii: false,
        };
        let l = line(&t, UNIX_EPOCH + Duration::from_secs(1_577_934_245)).unwrap();
        assert_eq!(
            l,
            "Thu Jan  2 03:04:05 2020 1 192.0.2.7 12345 /dir/a_b?.txt b _ i r u ftp 0 * i"
        );
        let fields: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(fields.len(), 18, "5 for the date, then 13: {l}");
        let list = Transfer { verb: "LIST", ..t };
        assert!(line(&list, SystemTime::now()).is_none());
    }
}
