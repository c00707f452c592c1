//! Unit tests for charset detection and decoding.

use super::*;
use encoding_rs::{BIG5, EUC_KR, GB18030, WINDOWS_1252};
use std::path::PathBuf;

const CHINESE: &str = "国家统计局今天发布数据，一季度国内生产总值同比增长百分之四点八，工业经济运行总体平稳，\
    消费市场保持恢复态势，就业形势总体稳定。证券日报网记者注意到，多家机构认为稳增长政策将继续发力。";

fn gbk(s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = GBK.encode(s);
    assert!(!unmappable);
    bytes.into_owned()
}

fn rss(decl: &str) -> String {
    format!(
        "<?xml version=\"1.0\"{decl}?>\n<rss version=\"2.0\"><channel><title>财经</title>\
         <item><title>{CHINESE}</title><description>{CHINESE}</description></item></channel></rss>"
    )
}

fn corpus(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/feedparser/encoding"
    ))
    .join(name);
    // A missing fixture is a broken checkout, not a reason to skip the check.
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display())))
}

/// The `Header:` line of a feedparser test file, if any.
fn corpus_header(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes).replace('\0', "");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Header:"))
        .and_then(|h| h.trim().split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

#[test]
fn content_type_charset_forms() {
    assert_eq!(charset_from_content_type("text/xml; charset=GBK"), Some("GBK"));
    assert_eq!(
        charset_from_content_type("text/xml;charset = us-ascii"),
        Some("us-ascii")
    );
    assert_eq!(
        charset_from_content_type("application/rss+xml;charset= \"us-ascii\""),
        Some("us-ascii")
    );
    assert_eq!(
        charset_from_content_type("application/atom+xml; charset='gb2312'"),
        Some("gb2312")
    );
    assert_eq!(
        charset_from_content_type("text/html; q=1; CHARSET=utf-8"),
        Some("utf-8")
    );
    assert_eq!(charset_from_content_type("text/xml; charset:iso-8859-1"), None);
    assert_eq!(charset_from_content_type("text/xml;"), None);
    assert_eq!(charset_from_content_type("text/xml; qs=0.9"), None);
    assert_eq!(charset_from_content_type("text/xml; charset=\"\""), None);
    assert_eq!(charset_from_content_type("charset=gbk"), None);
}

#[test]
fn gbk_rss_named_only_in_content_type() {
    let body = gbk(&rss(""));
    let d = decode_xml(&body, Some("application/rss+xml; charset=gbk"));
    assert_eq!(d.encoding, GBK);
    assert_eq!(d.source, CharsetSource::Header);
    assert!(!d.had_errors);
    assert_eq!(d.text, rss(""));
}

#[test]
fn gbk_named_only_in_xml_declaration_is_rewritten() {
    let body = gbk(&rss(" encoding=\"gbk\""));
    let d = decode_xml(&body, Some("text/xml"));
    assert_eq!(d.encoding, GBK);
    assert_eq!(d.source, CharsetSource::Declaration);
    assert!(!d.had_errors);
    assert!(d.text.contains(CHINESE));
    assert!(d.text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(!d.text.to_ascii_lowercase().contains("gbk"));
}

#[test]
fn gb2312_single_quoted_declaration() {
    let body = gbk(&rss(" encoding='GB2312'"));
    let d = decode_xml(&body, None);
    assert_eq!(d.encoding, GBK);
    assert_eq!(d.source, CharsetSource::Declaration);
    assert!(d.text.starts_with("<?xml version=\"1.0\" encoding='UTF-8'?>"));
}

#[test]
fn gb18030_four_byte_sequences() {
    // U+20BB7 𠮷 and U+00E9 é need GB18030's four-byte form.
    let text = rss(" encoding=\"gb18030\"").replace("财经", "𠮷é财经");
    let (bytes, _, unmappable) = GB18030.encode(&text);
    assert!(!unmappable);
    let d = decode_xml(&bytes, None);
    assert_eq!(d.encoding, GB18030);
    assert_eq!(d.source, CharsetSource::Declaration);
    assert!(!d.had_errors);
    assert!(d.text.contains("𠮷é财经"));
    assert!(d.text.contains("encoding=\"UTF-8\""));
}

#[test]
fn big5_from_corpus_and_built() {
    if let Some(body) = corpus("big5.xml") {
        let d = decode_xml(&body, None);
        assert_eq!(d.encoding, BIG5);
        assert_eq!(d.source, CharsetSource::Declaration);
        assert!(!d.had_errors);
        assert!(d.text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }
    let text = "<?xml version=\"1.0\" encoding=\"big5\"?><rss><title>臺灣證券交易所公告</title></rss>";
    let (bytes, _, _) = BIG5.encode(text);
    let d = decode_xml(&bytes, None);
    assert_eq!(d.encoding, BIG5);
    assert!(d.text.contains("臺灣證券交易所公告"));
}

#[test]
fn utf8_bom_is_stripped() {
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(rss(" encoding=\"utf-8\"").as_bytes());
    let d = decode_xml(&body, Some("text/xml; charset=gbk"));
    assert_eq!(d.encoding, UTF_8);
    assert_eq!(d.source, CharsetSource::Bom);
    assert!(!d.had_errors);
    assert_eq!(d.text, rss(" encoding=\"utf-8\""));
    if let Some(body) = corpus("utf-8-bom.xml") {
        let d = decode_xml(&body, None);
        assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Bom));
        assert!(!d.text.starts_with('\u{FEFF}'));
    }
}

#[test]
fn utf16_with_bom_both_orders() {
    let text = rss(" encoding=\"utf-16\"");
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        le.extend_from_slice(&unit.to_le_bytes());
        be.extend_from_slice(&unit.to_be_bytes());
    }
    for (body, enc) in [(le, UTF_16LE), (be, UTF_16BE)] {
        let d = decode_xml(&body, None);
        assert_eq!(d.encoding, enc);
        assert_eq!(d.source, CharsetSource::Bom);
        assert!(!d.had_errors);
        assert!(!d.text.starts_with('\u{FEFF}'));
        assert!(d.text.contains(CHINESE));
        assert!(d.text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }
}

#[test]
fn header_overrides_declaration() {
    let text = rss(" encoding=\"utf-8\"");
    let body = gbk(&text);
    let d = decode_xml(&body, Some("application/atom+xml; charset='gb2312'"));
    assert_eq!(d.encoding, GBK);
    assert_eq!(d.source, CharsetSource::Header);
    assert!(!d.had_errors);
    assert_eq!(d.text, text);

    // feedparser: `charset = us-ascii` beats `encoding="iso-8859-1"`.
    if let Some(body) = corpus("http_text_xml_charset_overrides_encoding.xml") {
        let ct = corpus_header(&body);
        assert_eq!(ct.as_deref(), Some("text/xml;charset = us-ascii"));
        let d = decode_xml(&body, ct.as_deref());
        assert_eq!((d.encoding, d.source), (WINDOWS_1252, CharsetSource::Header));
        assert!(d.text.contains("encoding=\"UTF-8\""));
    }
    // `charset=windows-1252` beats `encoding='iso-8859-1'`: 0x93/0x94 are curly quotes.
    if let Some(body) = corpus("http_text_xml_charset_overrides_encoding_2.xml") {
        let d = decode_xml(&body, corpus_header(&body).as_deref());
        assert_eq!((d.encoding, d.source), (WINDOWS_1252, CharsetSource::Header));
        assert!(d.text.contains("This is a \u{a3}\u{201c}test.\u{201d}"));
        assert!(d.text.contains("encoding='UTF-8'"));
    }
}

#[test]
fn sniffed_gbk_without_any_signal() {
    let text = rss("");
    let d = decode_xml(&gbk(&text), None);
    assert_eq!(d.encoding, GBK);
    assert_eq!(d.source, CharsetSource::Sniffed);
    assert!(!d.had_errors);
    assert_eq!(d.text, text);

    let json = format!("cb({{\"title\":\"{CHINESE}\",\"code\":\"NW202204192348095567\"}});");
    let d = decode_text(&gbk(&json), Some("application/javascript"));
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Sniffed));
    assert_eq!(d.text, json);
}

#[test]
fn html_meta_charset_gbk() {
    let page = format!(
        "<!DOCTYPE html><html><head><META HTTP-EQUIV=\"Content-Type\" \
         content=\"text/html; charset=gb2312\"><title>新闻</title></head><body><p>{CHINESE}</p></body></html>"
    );
    let d = decode_html(&gbk(&page), Some("text/html"));
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Declaration));
    assert_eq!(d.text, page);

    let page = format!("<html><head><meta charset='gbk' /></head><body>{CHINESE}</body></html>");
    let d = decode_html(&gbk(&page), None);
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Declaration));
    assert_eq!(d.text, page);
}

#[test]
fn html_meta_utf16_means_utf8() {
    let page = format!("<html><head><meta charset=utf-16></head><body>{CHINESE}</body></html>");
    let d = decode_html(page.as_bytes(), None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Declaration));
    assert_eq!(d.text, page);
}

#[test]
fn bogus_header_falls_through_to_next_signal() {
    let body = gbk(&rss(" encoding=\"gbk\""));
    let d = decode_xml(&body, Some("text/xml; charset=x-no-such-thing"));
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Declaration));
    let d = decode_xml(&gbk(&rss("")), Some("text/xml; charset=iso-2022-kr"));
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Sniffed));
}

#[test]
fn bogus_declaration_is_rewritten() {
    let body = b"<?xml version=\"1.0\" encoding=\"bogus\"?>\n<rss></rss>";
    let d = decode_xml(body, None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Default));
    assert_eq!(d.text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss></rss>");
}

#[test]
fn valid_utf8_fast_path_keeps_text() {
    let text = rss(" encoding=\"UTF-8\"");
    let d = decode_xml(text.as_bytes(), Some("application/rss+xml; charset=utf-8"));
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Header));
    assert!(!d.had_errors);
    assert_eq!(d.text, text);
    let d = decode_xml(text.as_bytes(), None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Declaration));
    let d = decode_text(b"{\"a\":1}", None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Default));
    let d = decode_text("{\"a\":\"中文\"}".as_bytes(), None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Sniffed));
}

#[test]
fn declared_utf8_but_gbk_bytes_is_sniffed() {
    let body = gbk(&rss(" encoding=\"utf-8\""));
    let d = decode_xml(&body, Some("text/xml; charset=utf-8"));
    assert_eq!((d.encoding, d.source), (GBK, CharsetSource::Sniffed));
    assert!(d.had_errors);
    assert_eq!(d.text, rss(" encoding=\"utf-8\""));
}

#[test]
fn declared_utf8_with_a_stray_byte_stays_utf8() {
    let mut body = rss(" encoding=\"utf-8\"").into_bytes();
    body.insert(60, 0xFF);
    let d = decode_xml(&body, None);
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Declaration));
    assert!(d.had_errors);
    assert!(d.text.contains(CHINESE));
    assert!(d.text.contains('\u{FFFD}'));
}

#[test]
fn declared_gbk_but_utf8_bytes_is_utf8() {
    let text = rss(" encoding=\"utf-8\"");
    let d = decode_xml(text.as_bytes(), Some("text/xml; charset=GBK"));
    assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Sniffed));
    assert!(d.had_errors);
    assert_eq!(d.text, text);
}

#[test]
fn euc_kr_declared() {
    if let Some(body) = corpus("euc-kr.xml") {
        let d = decode_xml(&body, None);
        assert_eq!((d.encoding, d.source), (EUC_KR, CharsetSource::Declaration));
        assert!(d.text.contains("<title>\u{b144}</title>"));
    }
}

#[test]
fn invalid_bytes_after_bom_keep_bom_encoding() {
    if let Some(body) = corpus("bozo_invalid-bytes-with-bom.xml") {
        let d = decode_xml(&body, None);
        assert_eq!((d.encoding, d.source), (UTF_8, CharsetSource::Bom));
        assert!(d.had_errors);
    }
}

/// Every UTF-16/UTF-32 file of feedparser's corpus decodes to a feed that starts with
/// `<` and declares UTF-8.
#[test]
fn feedparser_wide_encodings() {
    let cases = [
        ("u16.xml", UTF_16BE),
        ("utf16.xml", UTF_16BE),
        ("utf_16.xml", UTF_16BE),
        ("utf-16be.xml", UTF_16BE),
        ("utf-16be-bom.xml", UTF_16BE),
        ("utf-16be-autodetect.xml", UTF_16BE),
        ("utf-16le.xml", UTF_16LE),
        ("utf-16le-bom.xml", UTF_16LE),
        ("utf-16le-autodetect.xml", UTF_16LE),
        ("utf-32be.xml", UTF_8),
        ("utf-32be-bom.xml", UTF_8),
        ("utf-32be-autodetect.xml", UTF_8),
        ("utf-32le.xml", UTF_8),
        ("utf-32le-bom.xml", UTF_8),
        ("utf-32le-autodetect.xml", UTF_8),
        ("utf_32.xml", UTF_8),
    ];
    for (name, enc) in cases {
        let Some(body) = corpus(name) else { continue };
        let d = decode_xml(&body, None);
        assert_eq!(d.encoding, enc, "{name}");
        assert!(!d.had_errors, "{name}");
        assert!(d.text.starts_with('<'), "{name}");
        assert!(!d.text.contains('\0'), "{name}");
        assert!(d.text.contains("</"), "{name}");
        if d.text.starts_with("<?xml") {
            assert!(
                d.text.contains("encoding=\"UTF-8\"") || !d.text.contains("encoding"),
                "{name}"
            );
        }
    }
}

/// Every feedparser file decodes without panicking; the `http_*` ones with their header.
#[test]
fn feedparser_corpus_never_panics() {
    let dir = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/feedparser/encoding"
    ))
    .expect("the feedparser fixtures are checked in");
    for entry in dir.flatten() {
        let Ok(body) = std::fs::read(entry.path()) else {
            continue;
        };
        let ct = corpus_header(&body);
        let d = decode_xml(&body, ct.as_deref());
        assert!(!d.text.starts_with('\u{FEFF}'));
        let _ = decode_html(&body, ct.as_deref());
        let _ = decode_text(&body, ct.as_deref());
    }
}

#[test]
fn utf16_header_without_nul_is_ignored() {
    let text = rss("");
    let d = decode_xml(text.as_bytes(), Some("text/xml; charset=utf-16"));
    assert_eq!(d.encoding, UTF_8);
    assert_eq!(d.text, text);
}

#[test]
fn empty_and_truncated_inputs() {
    assert_eq!(decode_xml(b"", None).text, "");
    assert_eq!(decode_html(b"", Some("text/html; charset=gbk")).text, "");
    assert_eq!(decode_text(&[0xFF, 0xFE, 0x00], None).encoding, UTF_16LE);
    let d = decode_xml(&[0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00], None);
    assert!(d.had_errors);
    assert_eq!(d.text, "\u{FFFD}");
}
