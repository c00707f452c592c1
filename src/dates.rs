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
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone,
    Timelike, Utc,
};
use chrono_tz::{OffsetName, Tz};
use regex::Regex;

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
    let local = DateTime::parse_from_rfc3339(s).ok()?;
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
            (?: : (\d{2}) (?: [.,] (\d{1,9}) | : (\d{1,3}) )? )?
        )?
        \ ? (Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
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
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
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

/// `今天 16:25`, `昨天09:10:05`, `前天`.
static RELATIVE_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(今天|今日|昨天|昨日|前天)(?: ?(\d{1,2}):(\d{2})(?::(\d{2}))?)?$").expect("static regex")
});

/// `5分钟前`, `3 小时前`, `10秒前`, `2天前`.
static RELATIVE_AGO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,4}) ?(秒|秒钟|分|分钟|小时|个小时|天)前$").expect("static regex"));

fn parse_relative(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    if matches!(s, "刚刚" | "刚才") {
        return ago(now, Duration::zero(), tz);
    }
    if let Some(caps) = RELATIVE_AGO.captures(s) {
        let n: i64 = caps.get(1)?.as_str().parse().ok()?;
        let unit = caps.get(2)?.as_str();
        return match unit {
            "秒" | "秒钟" => ago(now, Duration::seconds(n), tz),
            "分" | "分钟" => ago(now, Duration::minutes(n), tz),
            "小时" | "个小时" => ago(now, Duration::hours(n), tz),
            _ => {
                let date = now.with_timezone(&tz).date_naive() - Duration::days(n);
                from_naive(date.and_time(NaiveTime::MIN), tz, Precision::DateOnly)
            }
        };
    }
    let caps = RELATIVE_DAY.captures(s)?;
    let days_back = match caps.get(1)?.as_str() {
        "今天" | "今日" => 0,
        "昨天" | "昨日" => 1,
        _ => 2,
    };
    let date = now.with_timezone(&tz).date_naive() - Duration::days(days_back);
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let Some(hour) = num(2) else {
        return from_naive(date.and_time(NaiveTime::MIN), tz, Precision::DateOnly);
    };
    let second = num(4);
    let time = NaiveTime::from_hms_opt(hour, num(3)?, second.unwrap_or(0))?;
    from_naive(date.and_time(time), tz, precision_of(second.is_some(), false))
}

/// `now - back`, truncated to the minute, shown in `tz`; NaiveMinutes.
fn ago(now: DateTime<Utc>, back: Duration, tz: Tz) -> Option<ParsedDate> {
    let t = now.checked_sub_signed(back)?;
    let t = t.with_second(0)?.with_nanosecond(0)?;
    Some(ParsedDate {
        utc: t,
        local: t.with_timezone(&tz).fixed_offset(),
        precision: Precision::NaiveMinutes,
    })
}

/// `04-19 12:22`, `4/19 12:22:44`, `04月19日 12:22` — the year is implied.
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:[-/]| ?月 ?)(\d{1,2})(?: ?日)? ?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
        .expect("static regex")
});

fn parse_month_day(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    let caps = MONTH_DAY.captures(s)?;
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let second = num(5);
    let time = NaiveTime::from_hms_opt(num(3)?, num(4)?, second.unwrap_or(0))?;
    let precision = precision_of(second.is_some(), false);
    let year = now.with_timezone(&tz).year();
    let this_year = NaiveDate::from_ymd_opt(year, num(1)?, num(2)?)
        .and_then(|d| from_naive(d.and_time(time), tz, precision));
    match this_year {
        Some(p) if p.utc <= now + Duration::days(1) => Some(p),
        _ => {
            let date = NaiveDate::from_ymd_opt(year - 1, num(1)?, num(2)?)?;
            from_naive(date.and_time(time), tz, precision)
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `jan`, `January`, `Sept.` → 1..=12.
fn month_number(token: &str) -> Option<u32> {
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    if lower.len() < 3 || !lower.is_ascii() {
        return None;
    }
    let index = MONTHS.iter().position(|m| lower.starts_with(m))?;
    u32::try_from(index + 1).ok()
}

fn is_weekday(token: &str) -> bool {
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    lower.len() >= 3 && lower.is_ascii() && WEEKDAYS.iter().any(|d| lower.starts_with(d))
}

/// A zone read from the tokens after the time.
enum Zone {
    Fixed(FixedOffset),
    Named(String),
}

/// RFC 2822 and friends, tokenised by hand: the weekday is skipped unchecked; the month
/// is the month-name token; a 4-digit or > 31 number is the year, the first other number
/// the day; the token with `:` the time; what follows the time a zone.
fn parse_rfc2822(s: &str, tz: Tz) -> Option<ParsedDate> {
    let mut month = None;
    let mut numbers: Vec<&str> = Vec::with_capacity(2);
    let mut time: Option<Clock> = None;
    let mut zone: Option<Zone> = None;
    let mut pm: Option<bool> = None;
    let mut in_comment = false;
    for token in s.split([' ', ',']).filter(|t| !t.is_empty()) {
        if in_comment || token.starts_with('(') {
            in_comment = !token.ends_with(')');
            continue;
        }
        let first = token.as_bytes()[0];
        if first.is_ascii_digit() {
            if token.contains(':') {
                if time.is_some() {
                    return None;
                }
                let (t, rest) = split_time(token)?;
                time = Some(t);
                if !rest.is_empty() {
                    zone = Some(parse_zone_token(rest)?);
                }
            } else if token.bytes().all(|b| b.is_ascii_digit()) {
                numbers.push(token);
            } else {
                // `19-Apr-2022` (RFC 850) or similar.
                let mut parts = token.split('-');
                let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                month = Some(month_number(m)?);
                numbers.push(d);
                numbers.push(y);
            }
        } else if (first == b'+' || first == b'-') && time.is_some() {
            zone = Some(Zone::Fixed(numeric_offset(token)?));
        } else if first.is_ascii_alphabetic() {
            let lower = token.to_ascii_lowercase();
            if lower == "am" || lower == "pm" {
                pm = Some(lower == "pm");
            } else if time.is_some() && zone.is_none() && month_number(token).is_none() {
                zone = Some(parse_zone_token(token)?);
            } else if month.is_none()
                && let Some(m) = month_number(token)
            {
                month = Some(m);
            } else if !is_weekday(token) {
                return None;
            }
        } else {
            return None;
        }
    }
    let month = month?;
    let (day, year) = day_and_year(&numbers)?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(Clock {
        mut hour,
        minute,
        second,
        nanos,
    }) = time
    else {
        if zone.is_some() {
            return None;
        }
        return from_naive(date.and_time(NaiveTime::MIN), tz, Precision::DateOnly);
    };
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        Some(_) if hour > 12 => return None,
        _ => {}
    }
    let ndt = date.and_time(NaiveTime::from_hms_nano_opt(
        hour,
        minute,
        second.unwrap_or(0),
        nanos,
    )?);
    let offset = match zone {
        Some(Zone::Fixed(offset)) => Some(offset),
        Some(Zone::Named(name)) => named_offset(&name, ndt, tz),
        None => None,
    };
    match offset {
        Some(offset) => from_offset(ndt, offset, precision_of(second.is_some(), true)),
        None => from_naive(ndt, tz, precision_of(second.is_some(), false)),
    }
}

/// Day and year from the plain numbers of an RFC 2822-like date: a 4-digit (or > 31) one
/// is the year; otherwise day first. 2-digit years: < 50 → 20xx, else 19xx; 3-digit years
/// add 1900 (RFC 2822 §4.3).
fn day_and_year(numbers: &[&str]) -> Option<(u32, i32)> {
    let [a, b] = numbers else { return None };
    let is_year = |t: &str| t.len() >= 3 || t.parse::<u32>().is_ok_and(|n| n > 31);
    let (day, year) = if is_year(a) && !is_year(b) { (b, a) } else { (a, b) };
    if day.len() > 2 {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    let year_num: i32 = year.parse().ok()?;
    let year = match year.len() {
        1 | 2 if year_num < 50 => 2000 + year_num,
        1 | 2 => 1900 + year_num,
        3 => 1900 + year_num,
        4 => year_num,
        _ => return None,
    };
    Some((day, year))
}

/// A time of day as written: seconds optional.
struct Clock {
    hour: u32,
    minute: u32,
    second: Option<u32>,
    nanos: u32,
}

/// `12:22`, `12:22:44`, `12:22:44.123`, `12:22:44+0800` → the clock and the zone text.
fn split_time(token: &str) -> Option<(Clock, &str)> {
    let end = token
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(token.len());
    let (clock, rest) = token.split_at(end);
    let (clock, frac) = match clock.split_once('.') {
        Some((clock, frac)) if !frac.is_empty() && frac.len() <= 9 => (clock, Some(frac)),
        Some(_) => return None,
        None => (clock, None),
    };
    let mut parts = clock.split(':');
    let hour = two_digits(parts.next()?)?;
    let minute = two_digits(parts.next()?)?;
    let second = match parts.next() {
        Some(t) => Some(two_digits(t)?),
        None => None,
    };
    if parts.next().is_some() || (frac.is_some() && second.is_none()) {
        return None;
    }
    let nanos = match frac {
        Some(digits) => fraction_nanos(digits)?,
        None => 0,
    };
    Some((
        Clock {
            hour,
            minute,
            second,
            nanos,
        },
        rest,
    ))
}

fn two_digits(t: &str) -> Option<u32> {
    if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// `+0800`, `GMT`, `GMT+8`, `UTC+08:00`, `EST`, `CST`.
fn parse_zone_token(token: &str) -> Option<Zone> {
    if let Some(offset) = numeric_offset(token) {
        return Some(Zone::Fixed(offset));
    }
    let upper = token.to_ascii_uppercase();
    for prefix in ["GMT", "UTC", "UT"] {
        if let Some(rest) = upper.strip_prefix(prefix)
            && (rest.starts_with('+') || rest.starts_with('-'))
        {
            return numeric_offset(rest).map(Zone::Fixed);
        }
    }
    if upper.bytes().all(|b| b.is_ascii_alphabetic()) && upper.len() <= 5 {
        return Some(Zone::Named(upper));
    }
    None
}

/// The offset of a zone name: universal names; then `tz`'s own abbreviation at that date
/// (so `CST` is +08:00 in Asia/Shanghai); then RFC 822's US zones and a few unambiguous
/// others. `None` for names known to none (the time is then read as naive in `tz`).
fn named_offset(name: &str, ndt: NaiveDateTime, tz: Tz) -> Option<FixedOffset> {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600);
    if matches!(name, "GMT" | "UT" | "UTC" | "Z" | "UCT") {
        return hours(0);
    }
    if let Some(offset) = tz.offset_from_local_datetime(&ndt).earliest()
        && offset
            .abbreviation()
            .is_some_and(|abbr| abbr.eq_ignore_ascii_case(name))
    {
        return Some(fixed_of(&offset));
    }
    match name {
        "EST" => hours(-5),
        "EDT" => hours(-4),
        "CST" => hours(-6),
        "CDT" => hours(-5),
        "MST" => hours(-7),
        "MDT" => hours(-6),
        "PST" => hours(-8),
        "PDT" => hours(-7),
        "AKST" => hours(-9),
        "AKDT" => hours(-8),
        "HST" => hours(-10),
        "WET" => hours(0),
        "BST" | "CET" | "WEST" => hours(1),
        "CEST" | "EET" => hours(2),
        "EEST" | "MSK" => hours(3),
        "BJT" | "HKT" | "SGT" | "AWST" | "PHT" => hours(8),
        "JST" | "KST" => hours(9),
        "AEST" => hours(10),
        "AEDT" => hours(11),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{Chicago, New_York};
    use chrono_tz::Asia::Shanghai;

    fn now() -> DateTime<Utc> {
        // 2022-04-19 12:30:17 in Beijing.
        Utc.with_ymd_and_hms(2022, 4, 19, 4, 30, 17)
            .single()
            .unwrap_or_default()
    }

    fn p(raw: &str) -> Option<ParsedDate> {
        parse(raw, Shanghai, now())
    }

    /// (format_utc, format_local, precision) of a parse in Asia/Shanghai.
    fn show(raw: &str) -> Option<(String, String, Precision)> {
        p(raw).map(|d| (format_utc(d.utc), format_local(d.local), d.precision))
    }

    fn expect(raw: &str, utc: &str, local: &str, precision: Precision) {
        assert_eq!(
            show(raw),
            Some((utc.to_owned(), local.to_owned(), precision)),
            "{raw:?}"
        );
    }

    use Precision::*;

    #[test]
    fn rfc2822_with_offset() {
        expect(
            "Tue, 19 Apr 2022 12:22:44 +0800",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            OffsetSeconds,
        );
        expect(
            "Tue, 19 Apr 2022 04:22:44 GMT",
            "2022-04-19T04:22:44Z",
            "2022-04-19T04:22:44+00:00",
            OffsetSeconds,
        );
        expect(
            "Tue, 19 Apr 2022 04:22:44 Z",
            "2022-04-19T04:22:44Z",
            "2022-04-19T04:22:44+00:00",
            OffsetSeconds,
        );
        expect(
            "19 Apr 2022 04:22:44 UT",
            "2022-04-19T04:22:44Z",
            "2022-04-19T04:22:44+00:00",
            OffsetSeconds,
        );
        expect(
            "Tue, 19 Apr 2022 12:22 +0800",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            OffsetMinutes,
        );
    }

    #[test]
    fn rfc2822_leniencies() {
        let want = Some((
            "2022-04-19T04:22:44Z".to_owned(),
            "2022-04-19T12:22:44+08:00".to_owned(),
            OffsetSeconds,
        ));
        for raw in [
            "19 Apr 2022 12:22:44 +0800",      // no weekday
            "Mon, 19 Apr 2022 12:22:44 +0800", // wrong weekday
            "Tuesday, 19 April 2022 12:22:44 +0800",
            "Tue,19 Apr 2022 12:22:44 +08:00",
            "  Tue, 19  Apr\t2022 12:22:44 +0800 ", // whitespace
            "Tue, 19 Apr 22 12:22:44 +0800",        // 2-digit year
            "Tue, 19 Apr 2022 12:22:44 +0800 (CST)",
            "Tue, 19 Apr 2022 12:22:44 GMT+8",
            "Tue Apr 19 12:22:44 CST 2022", // Java Date.toString in China
            "Tue, 19 Apr 2022 12:22:44 CST",
            "Tue, 19 Apr 2022 12:22:44.000 +0800",
            "Tue, 19 Apr 2022 12:22:44 HKT",
            "19-Apr-2022 12:22:44 +0800",
        ] {
            assert_eq!(show(raw), want, "{raw:?}");
        }
        expect(
            "Sat, 2 Apr 2022 08:05:00 +0800",
            "2022-04-02T00:05:00Z",
            "2022-04-02T08:05:00+08:00",
            OffsetSeconds,
        );
        expect(
            "Tue, 19 Apr 2022 12:22:44",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
        expect(
            "Apr 19, 2022 12:22 PM",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "19 Apr 2022",
            "2022-04-18T16:00:00Z",
            "2022-04-19T00:00:00+08:00",
            DateOnly,
        );
        // 2-digit years ≥ 50 are 19xx.
        assert_eq!(
            p("Thu, 01 Jan 70 00:00:00 GMT").map(|d| d.utc.timestamp()),
            Some(0)
        );
    }

    #[test]
    fn us_zone_names() {
        // RFC 822 meanings when the source's timezone does not use the name itself.
        expect(
            "Tue, 19 Apr 2022 00:22:44 EDT",
            "2022-04-19T04:22:44Z",
            "2022-04-19T00:22:44-04:00",
            OffsetSeconds,
        );
        expect(
            "Tue, 18 Jan 2022 23:22:44 EST",
            "2022-01-19T04:22:44Z",
            "2022-01-18T23:22:44-05:00",
            OffsetSeconds,
        );
        expect(
            "Mon, 18 Apr 2022 21:22:44 PDT",
            "2022-04-19T04:22:44Z",
            "2022-04-18T21:22:44-07:00",
            OffsetSeconds,
        );
        // `CST` follows the source's timezone: China in Shanghai, US Central elsewhere.
        let cst = "Tue, 19 Apr 2022 12:22:44 CST";
        assert_eq!(
            p(cst).map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        for tz in [Chicago, New_York, Tz::UTC] {
            let d = parse(cst, tz, now());
            assert_eq!(
                d.map(|d| format_utc(d.utc)).as_deref(),
                Some("2022-04-19T18:22:44Z")
            );
            assert_eq!(
                d.map(|d| format_local(d.local)).as_deref(),
                Some("2022-04-19T12:22:44-06:00")
            );
        }
        // An unknown name: the time is read in the source's timezone.
        expect(
            "Tue, 19 Apr 2022 12:22:44 XYZ",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
    }

    #[test]
    fn rfc3339_and_iso() {
        for raw in [
            "2022-04-19T12:22:44+08:00",
            "2022-04-19 12:22:44+08:00",
            "2022-04-19T12:22:44+0800",
            "2022-04-19T12:22:44 +08:00",
            "2022-04-19T04:22:44Z",
            "2022-04-19T04:22:44z",
            "2022-04-19T04:22:44.000Z",
            "2022-04-19T12:22:44.123456+08:00",
            "2022-04-19T12:22:44+08",
        ] {
            let d = p(raw);
            assert_eq!(
                d.map(|d| format_utc(d.utc)).as_deref(),
                Some("2022-04-19T04:22:44Z"),
                "{raw}"
            );
            assert_eq!(d.map(|d| d.precision), Some(OffsetSeconds), "{raw}");
        }
        expect(
            "2022-04-19T12:22:44+08:00",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            OffsetSeconds,
        );
        expect(
            "2022-04-19T12:22+08:00",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            OffsetMinutes,
        );
        assert_eq!(
            p("2022-04-19T12:22:44.123456+08:00").map(|d| d.utc.timestamp_subsec_micros()),
            Some(123_456)
        );
    }

    #[test]
    fn naive_forms_read_in_tz() {
        expect(
            "2022-04-19 12:22:44",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
        expect(
            "2022-04-19T12:22:44",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
        expect(
            "2022-04-19 12:22",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "2022/04/19 12:22:44",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
        expect(
            "2022/4/9 8:05",
            "2022-04-09T00:05:00Z",
            "2022-04-09T08:05:00+08:00",
            NaiveMinutes,
        );
        expect(
            "2022-04-19",
            "2022-04-18T16:00:00Z",
            "2022-04-19T00:00:00+08:00",
            DateOnly,
        );
        let d = p("2022-04-19 12:22:44:123");
        assert_eq!(
            d.map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        assert_eq!(d.map(|d| d.utc.timestamp_subsec_millis()), Some(123));
        assert_eq!(d.map(|d| d.precision), Some(NaiveSeconds));
        // Another source timezone.
        let d = parse("2022-04-19 12:22:44", New_York, now());
        assert_eq!(
            d.map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-04-19T16:22:44Z")
        );
        assert_eq!(
            d.map(|d| format_local(d.local)).as_deref(),
            Some("2022-04-19T12:22:44-04:00")
        );
    }

    #[test]
    fn chinese_forms() {
        expect(
            "2022年04月19日 12:22",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "2022年04月19日 12:22:44",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            NaiveSeconds,
        );
        expect(
            "2022年04月19日12:22",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "2022年4月9日",
            "2022-04-08T16:00:00Z",
            "2022-04-09T00:00:00+08:00",
            DateOnly,
        );
        // Full-width digits, colon and space.
        expect(
            "２０２２年０４月１９日\u{3000}１２：２２",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "04-19 12:22",
            "2022-04-19T04:22:00Z",
            "2022-04-19T12:22:00+08:00",
            NaiveMinutes,
        );
        expect(
            "12月31日 23:59",
            "2021-12-31T15:59:00Z",
            "2021-12-31T23:59:00+08:00",
            NaiveMinutes,
        );
    }

    #[test]
    fn epoch_timestamps() {
        expect(
            "1650342164000",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            OffsetSeconds,
        );
        expect(
            "1650342164",
            "2022-04-19T04:22:44Z",
            "2022-04-19T12:22:44+08:00",
            OffsetSeconds,
        );
        assert_eq!(p("16503421640"), None);
    }

    #[test]
    fn relative_forms() {
        expect(
            "今天 16:25",
            "2022-04-19T08:25:00Z",
            "2022-04-19T16:25:00+08:00",
            NaiveMinutes,
        );
        expect(
            "昨天 09:10",
            "2022-04-18T01:10:00Z",
            "2022-04-18T09:10:00+08:00",
            NaiveMinutes,
        );
        expect(
            "前天 23:59:30",
            "2022-04-17T15:59:30Z",
            "2022-04-17T23:59:30+08:00",
            NaiveSeconds,
        );
        expect(
            "5分钟前",
            "2022-04-19T04:25:00Z",
            "2022-04-19T12:25:00+08:00",
            NaiveMinutes,
        );
        expect(
            "2 小时前",
            "2022-04-19T02:30:00Z",
            "2022-04-19T10:30:00+08:00",
            NaiveMinutes,
        );
        expect(
            "刚刚",
            "2022-04-19T04:30:00Z",
            "2022-04-19T12:30:00+08:00",
            NaiveMinutes,
        );
        expect(
            "3天前",
            "2022-04-15T16:00:00Z",
            "2022-04-16T00:00:00+08:00",
            DateOnly,
        );
        // "Today" is the date in the source's timezone, not in UTC: at 2022-04-18T20:00Z
        // it is already the 19th in Beijing.
        let evening = Utc
            .with_ymd_and_hms(2022, 4, 18, 20, 0, 0)
            .single()
            .unwrap_or_default();
        let d = parse("今天 16:25", Shanghai, evening);
        assert_eq!(
            d.map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-04-19T08:25:00Z")
        );
    }

    #[test]
    fn garbage_is_none() {
        for raw in [
            "",
            "   ",
            "garbage",
            "not a date at all",
            "2022-13-01",
            "2022-02-30 12:00",
            "2022-04-19 25:00",
            "Tue, 32 Apr 2022 12:22:44 +0800",
            "Foo, 19 Apr 2022 12:22:44 +0800",
            "12345",
            "今天 25:00",
            "很久以前",
            "19 Apr 2022 12:22:44 +9900",
            "Tue, 19 Apr 2022 12:22:44 +0800 extra words",
        ] {
            assert_eq!(p(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn precision_ordering() {
        assert!(DateOnly < NaiveMinutes);
        assert!(NaiveMinutes < OffsetMinutes);
        assert!(OffsetMinutes < NaiveSeconds);
        assert!(NaiveSeconds < OffsetSeconds);
        let mut all = [OffsetSeconds, DateOnly, NaiveSeconds, OffsetMinutes, NaiveMinutes];
        all.sort();
        assert_eq!(
            all,
            [DateOnly, NaiveMinutes, OffsetMinutes, NaiveSeconds, OffsetSeconds]
        );
    }

    #[test]
    fn dst_fold_and_gap() {
        // 2022-11-06 01:30 happens twice in New York: the earlier (EDT) instant is taken.
        let d = parse("2022-11-06 01:30", New_York, now());
        assert_eq!(
            d.map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-11-06T05:30:00Z")
        );
        // 2022-03-13 02:30 does not exist: read with the offset before the gap (EST).
        let d = parse("2022-03-13 02:30", New_York, now());
        assert_eq!(
            d.map(|d| format_utc(d.utc)).as_deref(),
            Some("2022-03-13T07:30:00Z")
        );
        assert_eq!(
            d.map(|d| format_local(d.local)).as_deref(),
            Some("2022-03-13T02:30:00-05:00")
        );
    }

    #[test]
    fn formats() {
        let t = Utc
            .with_ymd_and_hms(2022, 4, 19, 4, 22, 44)
            .single()
            .unwrap_or_default();
        assert_eq!(format_utc(t), "2022-04-19T04:22:44Z");
        let t = t + Duration::milliseconds(789);
        assert_eq!(format_utc(t), "2022-04-19T04:22:44Z");
        let local = t.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
        assert_eq!(format_local(local), "2022-04-19T12:22:44+08:00");
    }

    #[test]
    fn lenient_helper_is_a_fn_pointer() {
        let f: fn(&str) -> Option<DateTime<Utc>> = parse_utc_lenient;
        assert_eq!(
            f("2022-04-19 12:22:44").map(format_utc).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        assert_eq!(
            f("Tue, 19 Apr 2022 12:22:44 CST").map(format_utc).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        assert_eq!(f("nonsense"), None);
    }
}
