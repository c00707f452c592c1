//! Names made from Chinese text: the Jekyll category of an outlet (`证券日报网` →
//! `zhengquanribaowang`, CONTRACT §5) and the source names `import-opml` gives feeds.

use std::collections::BTreeMap;

use pinyin::ToPinyin;

/// Polyphonic characters whose first reading in the pinyin crate's data is not their most
/// common one (长: zhǎng first, but cháng in 长江, 长期, 长沙 and most text).
const READINGS: &[(char, &str)] = &[('长', "chang")];

/// Words of outlet names whose characters read differently together (行 is `xing` alone,
/// `hang` in a bank; 重 `zhong` alone, `chong` in 重庆): read as a word first.
const WORDS: &[(&str, &str)] = &[
    ("银行", "yinhang"),
    ("央行", "yanghang"),
    ("商行", "shanghang"),
    ("投行", "touhang"),
    ("行业", "hangye"),
    ("行情", "hangqing"),
    ("重庆", "chongqing"),
];

/// The toneless pinyin of `text`, syllables run together, lower case, `ü` written `v` (as
/// pinyin input methods and URLs do: 绿 → `lv`); characters that are not Chinese are
/// kept as they are (so `A股` → `Agu`). A polyphonic character takes its most common
/// reading: the first in the pinyin crate's data, except for [`READINGS`] and the few
/// [`WORDS`] of outlet names read as words (银行 → `yinhang`); `category_map` fixes any
/// other outlet whose name wants another reading.
pub fn pinyin(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let readings: Vec<Option<pinyin::Pinyin>> = text.to_pinyin().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if let Some((word, reading)) = WORDS.iter().find(|(w, _)| text[at..].starts_with(*w)) {
            out.push_str(reading);
            i += word.chars().count();
            continue;
        }
        let p = readings.get(i).copied().flatten();
        i += 1;
        if let Some((_, reading)) = READINGS.iter().find(|(k, _)| *k == c) {
            out.push_str(reading);
            continue;
        }
        match p {
            Some(p) => out.extend(p.plain().chars().map(|c| if c == 'ü' { 'v' } else { c })),
            None => out.push(c),
        }
    }
    out
}

/// The default Jekyll category of an article (CONTRACT §5): the source's category, else
/// `category_map[media]`, else the toneless pinyin of `media` made safe for a URL path
/// (lower case, runs of anything but `a-z0-9` as one `-`); empty when none of these is
/// known.
pub fn default_category(
    category: Option<&str>,
    media: Option<&str>,
    category_map: &BTreeMap<String, String>,
) -> String {
    if let Some(c) = category.map(str::trim).filter(|c| !c.is_empty()) {
        return c.to_owned();
    }
    let Some(media) = media.map(str::trim).filter(|m| !m.is_empty()) else {
        return String::new();
    };
    if let Some(mapped) = category_map.get(media) {
        return mapped.clone();
    }
    slug(media)
}

/// A name safe in a URL path and as a config source name: the pinyin of Chinese text,
/// lower-case ASCII letters and digits, and single `-` between runs of anything else;
/// `slug(slug(x)) == slug(x)`. Empty when nothing of `text` survives.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in pinyin(text).chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlets_as_in_the_reference_site() {
        assert_eq!(pinyin("证券日报网"), "zhengquanribaowang");
        assert_eq!(pinyin("中国证券网"), "zhongguozhengquanwang");
        // Polyphonic characters: 行 xíng/háng, 重 zhòng/chóng, 长 cháng/zhǎng — the most
        // common reading, written down from the Xiandai Hanyu Cidian's first entries.
        assert_eq!(pinyin("行"), "xing");
        assert_eq!(pinyin("重"), "zhong");
        assert_eq!(pinyin("长江商报"), "changjiangshangbao");
        assert_eq!(pinyin("中国银行"), "zhongguoyinhang");
        assert_eq!(pinyin("重庆晨报"), "chongqingchenbao");
        assert_eq!(pinyin("行"), "xing");
        assert_eq!(pinyin("绿色"), "lvse");
        assert_eq!(slug("A股 Daily!"), "agu-daily");
        assert_eq!(slug("Hacker News"), "hacker-news");
        assert_eq!(slug("--"), "");
        let s = slug("财经/股市 RSS 2.0");
        assert_eq!(s, "caijing-gushi-rss-2-0");
        assert_eq!(slug(&s), s);
    }

    #[test]
    fn category_precedence() {
        let mut map = BTreeMap::new();
        map.insert("东方财富网".to_owned(), "eastmoney".to_owned());
        assert_eq!(default_category(Some("hk"), Some("东方财富网"), &map), "hk");
        assert_eq!(default_category(None, Some("东方财富网"), &map), "eastmoney");
        assert_eq!(
            default_category(Some(" "), Some("证券日报网"), &map),
            "zhengquanribaowang"
        );
        assert_eq!(default_category(None, None, &map), "");
    }
}
