//! Every date form publishers write → an instant, the publisher's local reading of it,
//! and how precise it is (CONTRACT §3 time formats, §6 "Published time has a precision").
//! This module owns date parsing and the two textual forms the database stores. It never
//! does I/O, never logs and never reads the clock: relative forms (`5分钟前`, `昨天 09:10`)
//! resolve against the `now` the caller passes — the one exception is
//! [`parse_utc_lenient`], feed-rs's timestamp parser, which has no way to receive one.
//!
//! Accepted forms (after trimming, collapsing whitespace and folding full-width digits,
//! colons, dashes, slashes, plus signs and spaces to ASCII):
//!
//! * RFC 2822 / RFC 822 and their relatives, without regex: optional (and unchecked)
//!   weekday, 1- or 2-digit day, 2-, 3- or 4-digit year, `HH:MM[:SS]`, zone `+0800`,
//!   `+08:00`, `GMT`, `UT`, `UTC`, `Z`, `GMT+8`, a parenthesised comment, or a named zone;
//!   also `Tue Apr 19 12:22:44 CST 2022` (Java's `Date.toString`) and asctime.
//! * RFC 3339 / ISO 8601: `T` or space, `Z`, `+08:00`, `+0800`, `+08`, fractional
//!   seconds, no seconds; `YYYY-MM-DD HH:MM[:SS]`, `YYYY/MM/DD …`, `YYYY.MM.DD …`,
//!   a `HH:MM:SS:mmm` millisecond suffix, `YYYY-MM-DD` alone.
//! * `YYYY年MM月DD日 HH:MM[:SS]`, `YYYY年M月D日`; `MM-DD HH:MM` and `MM月DD日 HH:MM`
//!   (the year of `now`, or the year before if that would be more than a day ahead).
//! * Epoch seconds (10 digits) and milliseconds (13 digits): exact instants, so
//!   `OffsetSeconds`, with `local` in `tz`.
//! * `刚刚`, `N秒前`, `N分钟前`, `N小时前` (NaiveMinutes, truncated to the minute so that
//!   re-reading the same page within a minute gives the same instant), `N天前` (DateOnly),
//!   `今天|昨天|前天 HH:MM[:SS]` (Naive…), `今天|昨天|前天` alone (DateOnly).
//!
//! **Named zones.** An abbreviation that `tz` itself uses at that date is read as `tz`'s
//! offset: `CST` is China Standard Time (+08:00) for a source in Asia/Shanghai (Java on a
//! Chinese server prints exactly that), and US Central for one in America/Chicago.
//! Otherwise RFC 822's meanings apply (`EST` −5, `EDT` −4, `CST` −6, `CDT` −5, `MST` −7,
//! `MDT` −6, `PST` −8, `PDT` −7), plus a few unambiguous Asian and European ones (`HKT`,
//! `JST`, `KST`, `SGT`, `BJT`, `CET`, `CEST`, `BST`…). So with the crawler's default
//! Asia/Shanghai a US feed's `CST` reads as +08:00 unless the source sets its timezone;
//! the feedparser corpus' US names parse as RFC 822 says under any non-`CST` zone. An
//! unknown zone name is ignored and the time read as naive in `tz`.
//!
//! **Naive times** are read in `tz`; in a DST fold the earlier instant is taken, in a DST
//! gap the offset in force just before it. `local` always carries the offset the publisher
//! gave, or `tz`'s at that instant.

use std::sync::LazyLock;

use chrono::{
    DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use regex::Regex;

mod relative;
mod rfc2822;

use relative::{parse_month_day, parse_relative};
use rfc2822::parse_rfc2822;

/// How precise a publisher's timestamp is; CONTRACT §6: with seconds beats without; at
/// equal, explicit offset beats naive; a date alone is last. The derived order is that
/// ranking (`DateOnly` lowest, `OffsetSeconds` highest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// A calendar date without a time; the instant is local midnight.
    DateOnly,
    /// Hours and minutes read in the source's timezone (also every relative form).
    NaiveMinutes,
    /// Hours and minutes with an explicit offset or zone.
    OffsetMinutes,
    /// Seconds read in the source's timezone.
    NaiveSeconds,
    /// Seconds with an explicit offset or zone, or an epoch timestamp.
    OffsetSeconds,
}

/// A parsed publisher timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedDate {
    /// The instant.
    pub utc: DateTime<Utc>,
    /// The same instant as the publisher wrote it: their offset, or `tz`'s for naive times.
    pub local: DateTime<FixedOffset>,
    /// How precise the publisher's text was.
    pub precision: Precision,
}

/// Parses `raw` as publishers write it; naive times are read in `tz`; relative forms
/// resolve against `now`. `None` if unrecognised or not a real date.
pub fn parse(raw: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    let s = normalize(raw);
    if s.is_empty() {
        return None;
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() {
        parse_epoch(&s, tz)
            .or_else(|| parse_rfc3339(&s))
            .or_else(|| parse_numeric(&s, tz))
            .or_else(|| parse_relative(&s, tz, now))
            .or_else(|| parse_month_day(&s, tz, now))
            .or_else(|| parse_rfc2822(&s, tz))
    } else if first.is_ascii_alphabetic() {
        parse_rfc2822(&s, tz)
    } else {
        parse_relative(&s, tz, now)
    }
}

/// Like [`parse`] with Asia/Shanghai and the current time, returning the instant only: a
/// plain function, for feed-rs's `Builder::timestamp_parser` (which replaces feed-rs's own
/// RFC 2822/3339 parser, so it must accept those too — it does).
pub fn parse_utc_lenient(raw: &str) -> Option<DateTime<Utc>> {
    parse(raw, chrono_tz::Asia::Shanghai, Utc::now()).map(|p| p.utc)
}

/// `2022-04-19T04:22:44Z` — the database's time format (UTC, whole seconds, `Z`).
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2022-04-19T12:22:44+08:00` — publisher-local with its offset (whole seconds; UTC is
/// written `+00:00`).
pub fn format_local(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Trims, collapses runs of whitespace to one space and folds full-width forms to ASCII.
fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        let c = match c {
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            '\u{FF1A}' => ':',
            '\u{FF0D}' | '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{FF0F}' => '/',
            '\u{FF0B}' => '+',
            '\u{FF0C}' => ',',
            '\u{FF0E}' => '.',
            c => c,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// A naive local time read in `tz`: earliest instant of a fold, pre-gap offset in a gap.
fn from_naive(ndt: NaiveDateTime, tz: Tz, precision: Precision) -> Option<ParsedDate> {
    let local = match tz.from_local_datetime(&ndt).earliest() {
        Some(dt) => dt.fixed_offset(),
        None => {
            let before = tz.offset_from_utc_datetime(&(ndt - Duration::hours(12)));
            fixed_of(&before).from_local_datetime(&ndt).single()?
        }
    };
    Some(ParsedDate {
        utc: local.with_timezone(&Utc),
        local,
        precision,
    })
}

fn fixed_of(offset: &<Tz as TimeZone>::Offset) -> FixedOffset {
    chrono::Offset::fix(offset)
}

/// A time with an explicit offset.
fn from_offset(ndt: NaiveDateTime, offset: FixedOffset, precision: Precision) -> Option<ParsedDate> {
    let local = offset.from_local_datetime(&ndt).single()?;
    Some(ParsedDate {
        utc: local.with_timezone(&Utc),
        local,
        precision,
    })
}

/// An exact instant, shown in `tz`.
fn from_instant(utc: DateTime<Utc>, tz: Tz) -> ParsedDate {
    ParsedDate {
        utc,
        local: utc.with_timezone(&tz).fixed_offset(),
        precision: Precision::OffsetSeconds,
    }
}

fn precision_of(seconds: bool, offset: bool) -> Precision {
    match (seconds, offset) {
        (true, true) => Precision::OffsetSeconds,
        (true, false) => Precision::NaiveSeconds,
        (false, true) => Precision::OffsetMinutes,
        (false, false) => Precision::NaiveMinutes,
    }
}

/// 10 digits: epoch seconds; 13 digits: epoch milliseconds.
fn parse_epoch(s: &str, tz: Tz) -> Option<ParsedDate> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    let utc = match s.len() {
        10 => DateTime::from_timestamp(n, 0)?,
        13 => DateTime::from_timestamp_millis(n)?,
        _ => return None,
    };
    Some(from_instant(utc, tz))
}

/// Strict RFC 3339 through chrono (the common feed case, no regex).
fn parse_rfc3339(s: &str) -> Option<ParsedDate> {
    if s.len() < 20 {
        return None;
    }
    let mut local = DateTime::parse_from_rfc3339(s).ok()?;
    // chrono reads `:60` as a leap second (nanoseconds ≥ 10⁹), which `format_utc` writes
    // back as `:60` — a time the other forms here, and most readers of the database, reject.
    // It is read as the minute's last second.
    if local.nanosecond() >= 1_000_000_000 {
        local = local.with_nanosecond(local.nanosecond() - 1_000_000_000)?;
    }
    Some(ParsedDate {
        utc: local.with_timezone(&Utc),
        local,
        precision: Precision::OffsetSeconds,
    })
}

/// `YYYY-MM-DD[ T]HH:MM[:SS[.fff|:mmm]][zone]`, `/` or `.` separators, `年月日`.
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (\d{4}) (?:[-/.]|\ ?年\ ?) (\d{1,2}) (?:[-/.]|\ ?月\ ?) (\d{1,2}) (?:\ ?日)?
        (?: (?:[Tt]|\ )? (\d{1,2}) : (\d{2})
            (?: : (\d{1,2}) (?: [.,] (\d{1,9}) | : (\d{1,3}) )? )?
        )?
        \ ? (Z|z|UTC|GMT|[+-]\d{2}(?::\d{1,2}|\d{2})?)?
        $",
    )
    .expect("static regex")
});

fn parse_numeric(s: &str, tz: Tz) -> Option<ParsedDate> {
    let caps = NUMERIC.captures(s)?;
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let year = i32::try_from(num(1)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(2)?, num(3)?)?;
    let Some(hour) = num(4) else {
        // A date alone: local midnight; a zone after a bare date is ignored.
        return from_naive(date.and_time(NaiveTime::MIN), tz, Precision::DateOnly);
    };
    let second = num(6);
    let nanos = match (caps.get(7), caps.get(8)) {
        (Some(frac), _) => fraction_nanos(frac.as_str())?,
        (None, Some(ms)) => fraction_nanos(&format!("{:0>3}", ms.as_str()))?,
        (None, None) => 0,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, num(5)?, second.unwrap_or(0), nanos)?;
    let ndt = date.and_time(time);
    let precision = |offset| precision_of(second.is_some(), offset);
    match caps.get(9).map(|m| m.as_str()) {
        None => from_naive(ndt, tz, precision(false)),
        Some(zone) => from_offset(ndt, numeric_offset(zone)?, precision(true)),
    }
}

/// `123` → 123_000_000 ns; digits beyond nanoseconds are not accepted by the regex.
fn fraction_nanos(digits: &str) -> Option<u32> {
    let value: u32 = digits.parse().ok()?;
    Some(value * 10u32.pow(9 - u32::try_from(digits.len()).ok()?))
}

/// `Z`, `UTC`, `GMT`, `+08`, `+0800`, `+08:00`, `-05:00`.
fn numeric_offset(zone: &str) -> Option<FixedOffset> {
    if matches!(zone, "Z" | "z" | "UTC" | "GMT") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    // `+08:00`, and `+00:0` as some generators cut it: hours and minutes apart.
    if let Some((h, m)) = rest.split_once(':') {
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(h) || !all_digits(m) {
            return None;
        }
        let (hours, minutes) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
        if hours > 14 || minutes > 59 {
            return None;
        }
        return FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60));
    }
    let digits = rest;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 => (digits[..1].parse::<i32>().ok()?, digits[1..].parse::<i32>().ok()?),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests;
