//! UTC civil time without any crate: conversion between Unix seconds and
//! year/month/day/hour/min/sec (Howard Hinnant's `days_from_civil` /
//! `civil_from_days`, proleptic Gregorian calendar), plus the text forms the
//! server needs: RFC 3659 section 2.3 `time-val` (MDTM, MFMT, MLSD `modify=`)
//! and the `ls -l` date column used by LIST.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;

/// `ls` switches from "HH:MM" to the year for files older than about six months.
const RECENT_SECS: i64 = 180 * SECS_PER_DAY;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a valid date. i128 so that no i64 year can overflow.
fn days_from_civil(year: i64, month: u32, day: u32) -> i128 {
    // The algorithm counts years from March so the leap day is the year's last day.
    let y = i128::from(year) - i128::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i128::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11], March = 0
    let doy = (153 * mp + 2) / 5 + i128::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01. Cannot overflow for
/// any `days` derived from an i64 second count (|days| < 2^47).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are range-bounded above, so the casts are lossless.
    (year, month as u32, day as u32)
}

/// Civil UTC time of a Unix timestamp (negative = before 1970).
pub fn civil_from_unix(secs: i64) -> Civil {
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    // rem_euclid keeps the time of day in [0, 86399] for negative timestamps too.
    let tod = secs.rem_euclid(SECS_PER_DAY) as u32;
    Civil {
        year,
        month,
        day,
        hour: tod / 3600,
        min: tod / 60 % 60,
        sec: tod % 60,
    }
}

/// Unix timestamp of a civil UTC time. None if any field is out of range
/// (leap second 60 included) or the result does not fit in an i64.
pub fn unix_from_civil(c: &Civil) -> Option<i64> {
    if !(1..=12).contains(&c.month)
        || c.day < 1
        || c.day > days_in_month(c.year, c.month)
        || c.hour >= 24
        || c.min >= 60
        || c.sec >= 60
    {
        return None;
    }
    let secs = days_from_civil(c.year, c.month, c.day) * i128::from(SECS_PER_DAY)
        + i128::from(c.hour * 3600 + c.min * 60 + c.sec);
    i64::try_from(secs).ok()
}

/// Whole Unix seconds of `t`, rounded down (so 0.5 s before the epoch is -1),
/// saturating at the i64 range.
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let s = if d.subsec_nanos() > 0 {
                whole.saturating_add(1)
            } else {
                whole
            };
            // s <= i64::MAX, so -s cannot overflow.
            -s
        }
    }
}

/// SystemTime of a Unix timestamp, None if the platform cannot represent it.
fn system_time_from_unix(secs: i64) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// RFC 3659 time-val "YYYYMMDDHHMMSS" (MDTM, MLSD Modify=) from a SystemTime, UTC, fraction dropped; times before 1970 allowed (negative), years outside 0..=9999 clamp.
pub fn mdtm(t: SystemTime) -> String {
    let mut s = String::with_capacity(14);
    write_mdtm(&mut s, t);
    s
}

/// [`mdtm`], appended to `out` (listings build one buffer, not a string per entry).
pub fn write_mdtm(out: &mut String, t: SystemTime) {
    let c = civil_from_unix(unix_secs(t));
    // time-val has exactly four year digits; clamp rather than emit something unparsable.
    if c.year < 0 {
        out.push_str("00000101000000");
        return;
    }
    if c.year > 9999 {
        out.push_str("99991231235959");
        return;
    }
    use crate::util::numfmt::push_dec;
    // year is 0..=9999 here.
    push_dec(out, c.year.unsigned_abs(), 4, b'0');
    for v in [c.month, c.day, c.hour, c.min, c.sec] {
        push_dec(out, u64::from(v), 2, b'0');
    }
}

/// Parse RFC 3659 time-val "YYYYMMDDHHMMSS" with optional ".sss" fraction (fraction ignored), UTC, for MFMT. None if malformed.
pub fn parse_mdtm(s: &str) -> Option<SystemTime> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    // time-val = 14DIGIT [ "." 1*DIGIT ]
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let field = |from: usize, to: usize| main.get(from..to)?.parse::<u32>().ok();
    let c = Civil {
        year: i64::from(field(0, 4)?),
        month: field(4, 6)?,
        day: field(6, 8)?,
        hour: field(8, 10)?,
        min: field(10, 12)?,
        sec: field(12, 14)?,
    };
    system_time_from_unix(unix_from_civil(&c)?)
}

/// ls -l style date column for LIST: "Jan _2 15:04" (day space-padded to 2, e.g. "Mar  5 09:07") if `t` is within 180 days before `now` or in the future relative to now, otherwise "Jan _2  2006" (two spaces before the year). UTC.
pub fn ls_date(t: SystemTime, now: SystemTime) -> String {
    let mut s = String::with_capacity(12);
    write_ls_date(&mut s, t, unix_secs(now));
    s
}

/// [`ls_date`], appended to `out`; `now` in Unix seconds (a listing reads the clock once).
pub fn write_ls_date(out: &mut String, t: SystemTime, now: i64) {
    use crate::util::numfmt::push_dec;
    let ts = unix_secs(t);
    let c = civil_from_unix(ts);
    let mon = MONTHS
        .get(c.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("???");
    out.push_str(mon);
    out.push(' ');
    push_dec(out, u64::from(c.day), 2, b' ');
    out.push(' ');
    if ts >= now.saturating_sub(RECENT_SECS) {
        push_dec(out, u64::from(c.hour), 2, b'0');
        out.push(':');
        push_dec(out, u64::from(c.min), 2, b'0');
    } else if let Ok(year) = u64::try_from(c.year) {
        push_dec(out, year, 5, b' ');
    } else {
        // Before year 0: rare enough for the formatting machinery.
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(out, "{:>5}", c.year);
    }
}

/// Unix seconds of `t` (for [`write_ls_date`]'s `now`).
pub fn unix_seconds(t: SystemTime) -> i64 {
    unix_secs(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            min,
            sec,
        }
    }

    fn at(secs: i64) -> SystemTime {
        match system_time_from_unix(secs) {
            Some(t) => t,
            None => panic!("unrepresentable {secs}"),
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(civil_from_unix(0), civil(1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(951_782_400), civil(2000, 2, 29, 0, 0, 0));
        assert_eq!(
            civil_from_unix(253_402_300_799),
            civil(9999, 12, 31, 23, 59, 59)
        );
        assert_eq!(civil_from_unix(-1), civil(1969, 12, 31, 23, 59, 59));
        assert_eq!(civil_from_unix(-86_400), civil(1969, 12, 31, 0, 0, 0));
        // 1900-01-01 00:00:00 UTC
        assert_eq!(civil_from_unix(-2_208_988_800), civil(1900, 1, 1, 0, 0, 0));
        // 1234567890 is 2009-02-13 23:31:30 UTC
        assert_eq!(
            civil_from_unix(1_234_567_890),
            civil(2009, 2, 13, 23, 31, 30)
        );
        // 0000-01-01 (proleptic Gregorian, astronomical year 0)
        assert_eq!(civil_from_unix(-62_167_219_200), civil(0, 1, 1, 0, 0, 0));
    }

    #[test]
    fn inverse_known_values() {
        assert_eq!(unix_from_civil(&civil(1970, 1, 1, 0, 0, 0)), Some(0));
        assert_eq!(
            unix_from_civil(&civil(2000, 2, 29, 0, 0, 0)),
            Some(951_782_400)
        );
        assert_eq!(
            unix_from_civil(&civil(9999, 12, 31, 23, 59, 59)),
            Some(253_402_300_799)
        );
        assert_eq!(unix_from_civil(&civil(1969, 12, 31, 23, 59, 59)), Some(-1));
    }

    #[test]
    fn round_trips() {
        let mut s: i64 = -70_000_000_000;
        while s < 260_000_000_000 {
            let c = civil_from_unix(s);
            assert_eq!(unix_from_civil(&c), Some(s), "{c:?}");
            s += 7_777_777; // odd step so times of day vary
        }
        for s in [-1, 0, 1, 86_399, 86_400, i64::MAX, i64::MIN] {
            assert_eq!(unix_from_civil(&civil_from_unix(s)), Some(s));
        }
        // Every day across several leap cycles, including 1900 and 2100 (not leap).
        for d in -30_000..60_000 {
            let c = civil_from_unix(d * SECS_PER_DAY);
            assert_eq!(unix_from_civil(&c), Some(d * SECS_PER_DAY));
        }
    }

    #[test]
    fn invalid_fields() {
        assert_eq!(unix_from_civil(&civil(2001, 2, 29, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(1900, 2, 29, 0, 0, 0)), None);
        assert!(unix_from_civil(&civil(2000, 2, 29, 0, 0, 0)).is_some());
        assert!(unix_from_civil(&civil(2024, 2, 29, 0, 0, 0)).is_some());
        assert_eq!(unix_from_civil(&civil(2021, 4, 31, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 0, 1, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 13, 1, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 1, 0, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 1, 1, 24, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 1, 1, 0, 60, 0)), None);
        assert_eq!(unix_from_civil(&civil(2021, 1, 1, 0, 0, 60)), None);
        assert_eq!(unix_from_civil(&civil(i64::MAX, 1, 1, 0, 0, 0)), None);
        assert_eq!(unix_from_civil(&civil(i64::MIN, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn mdtm_format() {
        assert_eq!(mdtm(UNIX_EPOCH), "19700101000000");
        assert_eq!(mdtm(at(951_782_400)), "20000229000000");
        assert_eq!(mdtm(at(1_234_567_890)), "20090213233130");
        assert_eq!(mdtm(at(253_402_300_799)), "99991231235959");
        assert_eq!(mdtm(at(-1)), "19691231235959");
        // Fractions are dropped: toward the earlier second, also before 1970.
        let later = UNIX_EPOCH + Duration::from_millis(1_999);
        assert_eq!(mdtm(later), "19700101000001");
        if let Some(t) = UNIX_EPOCH.checked_sub(Duration::from_millis(500)) {
            assert_eq!(mdtm(t), "19691231235959");
        }
        // Clamped outside 0..=9999.
        assert_eq!(mdtm(at(253_402_300_800)), "99991231235959");
        if let Some(t) = UNIX_EPOCH.checked_sub(Duration::from_secs(62_167_219_201)) {
            assert_eq!(mdtm(t), "00000101000000");
        }
    }

    #[test]
    fn parse_mdtm_values() {
        assert_eq!(parse_mdtm("19700101000000"), Some(UNIX_EPOCH));
        assert_eq!(parse_mdtm("20000229000000"), Some(at(951_782_400)));
        assert_eq!(parse_mdtm("20090213233130.123"), Some(at(1_234_567_890)));
        assert_eq!(parse_mdtm("20090213233130.9"), Some(at(1_234_567_890)));
        assert_eq!(parse_mdtm("19691231235959"), Some(at(-1)));
        assert_eq!(parse_mdtm("99991231235959"), Some(at(253_402_300_799)));
        for s in [
            "2009021323313",
            "200902132331300",
            "2009021323313x",
            "+0090213233130",
            "20090213233130.",
            "20090213233130.1a",
            "20090213233130.1.2",
            "20010229000000",
            "20091301000000",
            "20090100000000",
            "20090101240000",
            "20090101006000",
            "20090101000060",
            " 20090101000000",
            "",
            "２0090101000000",
        ] {
            assert_eq!(parse_mdtm(s), None, "{s:?}");
        }
    }

    #[test]
    fn mdtm_round_trip() {
        for s in [
            0,
            1,
            -1,
            951_782_400,
            1_700_000_000,
            253_402_300_799,
            -2_208_988_800,
        ] {
            let text = mdtm(at(s));
            assert_eq!(parse_mdtm(&text), Some(at(s)), "{text}");
        }
    }

    #[test]
    fn ls_date_recent_and_old() {
        // 2024-03-05 09:07:30 UTC
        let t = 1_709_629_650;
        assert_eq!(civil_from_unix(t), civil(2024, 3, 5, 9, 7, 30));
        assert_eq!(ls_date(at(t), at(t)), "Mar  5 09:07");
        assert_eq!(ls_date(at(t), at(t + 100 * SECS_PER_DAY)), "Mar  5 09:07");
        // Exactly 180 days old still shows the time; one second more shows the year.
        assert_eq!(ls_date(at(t), at(t + RECENT_SECS)), "Mar  5 09:07");
        assert_eq!(ls_date(at(t), at(t + RECENT_SECS + 1)), "Mar  5  2024");
        // Future timestamps show the time.
        assert_eq!(ls_date(at(t), at(t - 1000 * SECS_PER_DAY)), "Mar  5 09:07");
        // Two-digit day, old.
        assert_eq!(
            ls_date(at(1_234_567_890), at(1_700_000_000)),
            "Feb 13  2009"
        );
        assert_eq!(ls_date(UNIX_EPOCH, at(1_700_000_000)), "Jan  1  1970");
        assert_eq!(ls_date(at(-1), at(1_700_000_000)), "Dec 31  1969");
    }
}
