//! Relative and year-less forms: `刚刚`, `5分钟前`, `昨天 09:10`, `04-19 12:22` — resolved
//! against the caller's `now`.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use regex::Regex;

use super::{ParsedDate, Precision, from_naive, precision_of};

/// `今天 16:25`, `昨天09:10:05`, `前天`.
static RELATIVE_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(今天|今日|昨天|昨日|前天)(?: ?(\d{1,2}):(\d{2})(?::(\d{2}))?)?$").expect("static regex")
});

/// `5分钟前`, `3 小时前`, `10秒前`, `2天前`.
static RELATIVE_AGO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,4}) ?(秒|秒钟|分|分钟|小时|个小时|天)前$").expect("static regex"));

pub(super) fn parse_relative(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
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

pub(super) fn parse_month_day(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
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
