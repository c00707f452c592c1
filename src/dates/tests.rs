//! Unit tests for date parsing and formatting.

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

/// Found by `tests/properties.rs` (dates_arbitrary): `0001-01-01T00:00:60Z` parsed as a
/// chrono leap second, and `format_utc` wrote it back as `…:60Z`, which no form here reads
/// back as the same instant (and most database readers reject).
#[test]
fn a_leap_second_is_the_last_second_of_its_minute() {
    expect(
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:59Z",
        "2016-12-31T23:59:59+00:00",
        OffsetSeconds,
    );
    let p = p("2016-12-31T23:59:60.5+08:00").unwrap();
    assert_eq!(p.utc.nanosecond(), 500_000_000);
    assert_eq!(format_utc(p.utc), "2016-12-31T15:59:59Z");
    assert_eq!(
        parse(&format_utc(p.utc), Shanghai, now()).map(|r| r.utc),
        Some(p.utc.with_nanosecond(0).unwrap())
    );
}

/// Real feeds (ROME's and feed-rs's test suites) write one-digit seconds and cut offset
/// minutes; values written by hand.
#[test]
fn one_digit_seconds_and_short_offset_minutes() {
    expect(
        "2006-01-17T12:35:9+01:00",
        "2006-01-17T11:35:09Z",
        "2006-01-17T12:35:09+01:00",
        OffsetSeconds,
    );
    expect(
        "2017-06-13T03:18:00+00:0",
        "2017-06-13T03:18:00Z",
        "2017-06-13T03:18:00+00:00",
        OffsetSeconds,
    );
    expect(
        "2022-04-19T12:22:44+08:00",
        "2022-04-19T04:22:44Z",
        "2022-04-19T12:22:44+08:00",
        OffsetSeconds,
    );
    assert_eq!(show("2022-04-19T12:22:44+08:75"), None);
}
