//! RFC 2822 / RFC 822 and their relatives (Java's `Date.toString`, asctime, RFC 850),
//! tokenised by hand without regex; also the named-zone table.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::{OffsetName, Tz};

use super::{
    ParsedDate, Precision, fixed_of, fraction_nanos, from_naive, from_offset, numeric_offset, precision_of,
};

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
pub(super) fn parse_rfc2822(s: &str, tz: Tz) -> Option<ParsedDate> {
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
