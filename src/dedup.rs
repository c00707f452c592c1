//! Article identity: the East Money infoCode and the `dedup_key` (CONTRACT §3, §6).
//!
//! `[dedup] info_code` patterns are tried on an item's guid, then its link, then its share
//! link; capture group 1 is the infoCode, and a bare 18-digit East Money id is the same
//! article as `bare_id_prefix` + id. Pure functions of strings and the config.

use sha2::{Digest, Sha256};
use url::Url;

use crate::config::DedupConfig;

/// An infoCode found in one of an item's identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoCodeMatch {
    /// The infoCode, always with its two-letter prefix (`NW202204192348095567`).
    pub info_code: String,
    /// Whether the code sat in the URL's query (`?infoCode=…`): such a URL is a share
    /// link, not the publisher's own article URL.
    pub in_query: bool,
}

/// Tries every pattern on `text`: the first pattern whose capture group 1 is an infoCode
/// (or a bare 18-digit id, prefixed with `bare_id_prefix`) wins. A capture that is neither —
/// a loose user pattern's `(.*)`, full-width or other non-ASCII digits — is no infoCode, and
/// the pattern's next match, then the next pattern, is tried.
pub fn info_code_in(config: &DedupConfig, text: &str) -> Option<InfoCodeMatch> {
    config.info_code.iter().find_map(|pattern| {
        pattern.captures_iter(text).find_map(|captures| {
            let group = captures.get(1)?;
            let info_code = normalize_info_code(config, group.as_str())?;
            let in_query = text
                .find('?')
                .is_some_and(|q| group.start() > q && !text[..q].is_empty());
            Some(InfoCodeMatch { info_code, in_query })
        })
    })
}

/// Whether `code` is an infoCode: two ASCII capital letters and 18 ASCII digits
/// (`NW202204192348095567`).
pub fn is_info_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 20
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..].iter().all(u8::is_ascii_digit)
}

/// An infoCode stated outright (a JSON `code` field): `NW…` kept, a bare 18-digit id
/// prefixed with `bare_id_prefix`; anything else — including a prefixed id that is no
/// infoCode because the prefix is not two capital letters — is not an infoCode.
pub fn normalize_info_code(config: &DedupConfig, code: &str) -> Option<String> {
    let code = code.trim();
    let bytes = code.as_bytes();
    let code = if bytes.len() == 18 && bytes.iter().all(u8::is_ascii_digit) {
        format!("{}{code}", config.bare_id_prefix)
    } else {
        code.to_owned()
    };
    is_info_code(&code).then_some(code)
}

/// The infoCode of an item: patterns on the guid, then the link, then the share link.
pub fn info_code_of(
    config: &DedupConfig,
    guid: Option<&str>,
    link: Option<&str>,
    share_link: Option<&str>,
) -> Option<String> {
    [guid, link, share_link]
        .into_iter()
        .flatten()
        .find_map(|text| info_code_in(config, text))
        .map(|m| m.info_code)
}

/// Whether `link` is a share link: a URL that names an article by an infoCode in its
/// query rather than being the publisher's page.
pub fn is_share_link(config: &DedupConfig, link: &str) -> bool {
    (link.starts_with("http://") || link.starts_with("https://"))
        && info_code_in(config, link).is_some_and(|m| m.in_query)
}

/// The `dedup_key` of CONTRACT §3: `info:<infoCode>`, else `url:<normalized url>`, else
/// `guid:<source>:<guid>`, else `hash:<sha256 of title + published>`.
pub fn dedup_key(
    info_code: Option<&str>,
    url: Option<&str>,
    source: &str,
    guid: Option<&str>,
    title: &str,
    published: Option<&str>,
) -> String {
    if let Some(code) = info_code {
        return format!("info:{code}");
    }
    if let Some(url) = url.and_then(normalize_url) {
        return format!("url:{url}");
    }
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return format!("guid:{source}:{guid}");
    }
    let mut hasher = Sha256::new();
    hasher.update(title.as_bytes());
    hasher.update(b"\n");
    hasher.update(published.unwrap_or("").as_bytes());
    format!("hash:{}", hex::encode(hasher.finalize()))
}

/// A URL in a stable form for comparison: lowercase scheme and host (the url crate's
/// parse does that), default port dropped, fragment and tracking parameters (`utm_*`,
/// `spm`) removed. None for anything that is not an absolute http(s) URL.
pub fn normalize_url(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.starts_with("utm_") && k != "spm")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_INFO_CODE_PATTERNS;

    fn config() -> DedupConfig {
        DedupConfig {
            info_code: DEFAULT_INFO_CODE_PATTERNS
                .iter()
                .filter_map(|p| regex::Regex::new(p).ok())
                .collect(),
            bare_id_prefix: "NW".to_owned(),
        }
    }

    #[test]
    fn finds_info_codes_in_every_known_form() {
        let c = config();
        let share = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
        assert_eq!(
            info_code_in(&c, share),
            Some(InfoCodeMatch {
                info_code: "NW202204192348095567".into(),
                in_query: true
            })
        );
        let lower = "https://emwap.eastmoney.com/share?infocode=NW202204192348095567&x=1";
        assert_eq!(
            info_code_of(&c, None, Some(lower), None).as_deref(),
            Some("NW202204192348095567")
        );
        assert_eq!(
            info_code_of(&c, Some("NW202204192348095567"), None, None).as_deref(),
            Some("NW202204192348095567")
        );
        let article = "http://finance.eastmoney.com/a/202204192348095567.html";
        assert_eq!(
            info_code_in(&c, article),
            Some(InfoCodeMatch {
                info_code: "NW202204192348095567".into(),
                in_query: false
            })
        );
        let news = "https://stock.eastmoney.com/news/1406,202204192348095567.html";
        assert_eq!(
            info_code_of(&c, Some("12345"), Some(news), None).as_deref(),
            Some("NW202204192348095567")
        );
        assert_eq!(
            info_code_of(&c, Some("12345"), Some("http://example.org/a"), None),
            None
        );
        assert!(is_share_link(&c, share));
        assert!(!is_share_link(&c, article));
    }

    #[test]
    fn dedup_key_prefers_info_code_then_url_then_guid_then_hash() {
        assert_eq!(
            dedup_key(Some("NW1"), Some("http://a/"), "s", Some("g"), "t", None),
            "info:NW1"
        );
        assert_eq!(
            dedup_key(
                None,
                Some("HTTP://Example.org:80/a?utm_source=x#top"),
                "s",
                Some("g"),
                "t",
                None
            ),
            "url:http://example.org/a"
        );
        assert_eq!(dedup_key(None, None, "s", Some("g"), "t", None), "guid:s:g");
        assert!(dedup_key(None, None, "s", None, "t", None).starts_with("hash:"));
    }

    /// Found by `tests/properties.rs` (random_strings_give_only_wellformed_codes): a loose
    /// `[dedup] info_code` pattern's capture, or the default patterns' `\d` matching
    /// full-width digits, became an "infoCode" (`""`, `abc`, 18 full-width digits).
    #[test]
    fn only_wellformed_info_codes_are_found() {
        let loose = |patterns: &[&str]| DedupConfig {
            info_code: patterns.iter().map(|p| regex::Regex::new(p).unwrap()).collect(),
            bare_id_prefix: "NW".to_owned(),
        };
        assert_eq!(info_code_in(&loose(&["(.*)"]), ""), None);
        assert_eq!(info_code_in(&loose(&["(.*)"]), "abc"), None);
        assert_eq!(info_code_in(&loose(&[r"(\d+)"]), "12345"), None);
        // The first capture that is an infoCode wins, also a later match of the same pattern.
        assert_eq!(
            info_code_in(&loose(&[r"id=(\w+)"]), "http://a/?id=abc&id=NW202204192348095567"),
            Some(InfoCodeMatch {
                info_code: "NW202204192348095567".into(),
                in_query: true
            })
        );
        let full_width = "http://finance.eastmoney.com/a/２０２２０４１９２３４８０９５５６７.html";
        assert_eq!(info_code_in(&config(), full_width), None);
        let bad_prefix = DedupConfig {
            bare_id_prefix: "nw".to_owned(),
            ..config()
        };
        assert_eq!(normalize_info_code(&bad_prefix, "202204192348095567"), None);
        assert_eq!(
            normalize_info_code(&config(), " 202204192348095567 ").as_deref(),
            Some("NW202204192348095567")
        );
        assert!(is_info_code("AN202204192348095567"));
    }

    /// Found by `tests/properties.rs` (info_codes_planted_are_found): the default share-link
    /// pattern read the first 18 of 19 digits, so `?infoCode=NW` + 19 digits named an
    /// article it is not.
    #[test]
    fn a_query_code_with_more_digits_is_no_info_code() {
        let c = config();
        let share = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=";
        assert_eq!(info_code_in(&c, &format!("{share}NW2022041923480955671")), None);
        assert_eq!(
            info_code_in(&c, &format!("{share}NW2022041923480955671&x=1")),
            None
        );
        for tail in ["", "&x=1", "#top", " ", "/"] {
            assert_eq!(
                info_code_in(&c, &format!("{share}NW202204192348095567{tail}")).map(|m| m.info_code),
                Some("NW202204192348095567".to_owned()),
                "{tail:?}"
            );
        }
        assert!(!is_info_code("NW20220419234809556"));
        assert!(!is_info_code("Nw202204192348095567"));
    }
}
