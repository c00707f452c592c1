//! CONTRACT §6: when two copies of one article meet (same `dedup_key`), which copy's
//! field wins. Pure: the stored copy and the incoming one in, the merged copy out.

use crate::normalize::{Article, MediaRank};

/// What a merge changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeEffect {
    /// The content's hash changed: a new revision.
    pub content_changed: bool,
    /// Any stored column changed (beyond `last_seen_at`).
    pub changed: bool,
}

/// Merges `incoming` into `stored` field by field.
pub fn merge(stored: &mut Article, incoming: &Article) -> MergeEffect {
    let mut effect = MergeEffect::default();
    let mut set = |changed: bool| effect.changed |= changed;

    // Content: a higher rank replaces whatever its length; an equal rank only when longer.
    let mut content_replaced = false;
    if let Some(new) = &incoming.content {
        let replace = match &stored.content {
            None => true,
            Some(old) => {
                new.rank > old.rank
                    || (new.rank == old.rank
                        && (incoming.replaces_content || new.text.chars().count() > old.text.chars().count()))
            }
        };
        if replace {
            let hash_changed = stored.content.as_ref().is_none_or(|old| old.hash != new.hash);
            let rank_changed = stored.content.as_ref().is_none_or(|old| old.rank != new.rank);
            if hash_changed || rank_changed {
                effect.content_changed = hash_changed && stored.content.is_some();
                stored.content = Some(new.clone());
                content_replaced = hash_changed;
                set(true);
            }
        }
    }

    if stored.summary.is_none() && incoming.summary.is_some() {
        stored.summary.clone_from(&incoming.summary);
        set(true);
    }

    // Published time: only a strictly more precise copy replaces it, offset and all.
    if let Some(new) = incoming.published
        && stored.published.is_none_or(|old| new.precision > old.precision)
    {
        stored.published = Some(new);
        set(true);
    }

    // Title: the first stays, unless it was cut short and the new one completes it.
    if stored.title.is_empty() && !incoming.title.is_empty() {
        stored.title.clone_from(&incoming.title);
        set(true);
    } else if let Some(stem) = stored
        .title
        .strip_suffix('…')
        .or_else(|| stored.title.strip_suffix("..."))
        && incoming.title.len() > stored.title.len()
        && incoming.title.starts_with(stem.trim_end())
    {
        stored.title.clone_from(&incoming.title);
        set(true);
    }

    // Media: the source line of the stored content beats every other source of the name.
    if let Some((name, rank)) = &incoming.media {
        let replace = match &stored.media {
            None => true,
            Some((old_name, old_rank)) => {
                (*rank > *old_rank)
                    || (content_replaced && *rank == MediaRank::ContentLine && name != old_name)
            }
        };
        if replace {
            stored.media = Some((name.clone(), *rank));
            set(true);
        }
    }

    // url: the first publisher URL; share_url: the first share link; never replaced.
    if stored.url.is_none() && incoming.url.is_some() {
        stored.url.clone_from(&incoming.url);
        set(true);
    }
    if stored.share_url.is_none() && incoming.share_url.is_some() {
        stored.share_url.clone_from(&incoming.share_url);
        set(true);
    }
    if stored.info_code.is_none() && incoming.info_code.is_some() {
        stored.info_code.clone_from(&incoming.info_code);
        set(true);
    }
    if stored.category.is_none() && incoming.category.is_some() {
        stored.category.clone_from(&incoming.category);
        set(true);
    }
    for tag in &incoming.tags {
        if !stored.tags.contains(tag) {
            stored.tags.push(tag.clone());
            set(true);
        }
    }
    if stored.author.is_none() && incoming.author.is_some() {
        stored.author.clone_from(&incoming.author);
        set(true);
    }
    if stored.language.is_none() && incoming.language.is_some() {
        stored.language.clone_from(&incoming.language);
        set(true);
    }
    if let Some(new) = incoming.updated_at
        && stored.updated_at.is_none_or(|old| new > old)
    {
        stored.updated_at = Some(new);
        set(true);
    }
    effect
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::{self, Precision};
    use crate::normalize::content_from_html;
    use crate::sources::ContentRank;

    fn article(title: &str) -> Article {
        Article {
            dedup_key: "info:NW1".into(),
            info_code: Some("NW1".into()),
            title: title.into(),
            url: None,
            share_url: None,
            published: None,
            updated_at: None,
            author: None,
            media: None,
            category: None,
            tags: vec![],
            summary: None,
            content: None,
            language: None,
            entry_guid: None,
            entry_url: None,
            replaces_content: false,
        }
    }

    fn at(raw: &str) -> Option<dates::ParsedDate> {
        dates::parse(raw, chrono_tz::Asia::Shanghai, chrono::Utc::now())
    }

    #[test]
    fn higher_rank_content_replaces_and_counts_a_revision() {
        let mut stored = article("标题");
        stored.content = content_from_html(
            "<p>很长很长的摘要文字，比全文还长的摘要</p>",
            ContentRank::Summary,
        );
        let mut full = article("标题");
        full.content = content_from_html("<p>全文</p>", ContentRank::Full);
        let effect = merge(&mut stored, &full);
        assert!(effect.content_changed);
        assert_eq!(stored.content.as_ref().map(|c| c.text.as_str()), Some("全文"));
        let mut summary = article("标题");
        summary.content = content_from_html("<p>更长更长更长更长更长更长的摘要</p>", ContentRank::Summary);
        assert_eq!(merge(&mut stored, &summary), MergeEffect::default());
    }

    #[test]
    fn identical_copy_changes_nothing() {
        let mut stored = article("标题");
        stored.content = content_from_html("<p>正文</p>", ContentRank::Feed);
        stored.tags = vec!["a".into()];
        let copy = stored.clone();
        assert_eq!(merge(&mut stored, &copy), MergeEffect::default());
    }

    #[test]
    fn only_a_more_precise_time_replaces() {
        let mut stored = article("标题");
        stored.published = at("2022-04-19 12:22");
        let mut precise = article("标题");
        precise.published = at("Tue, 19 Apr 2022 12:22:44 +0800");
        merge(&mut stored, &precise);
        assert_eq!(
            stored.published.map(|p| p.precision),
            Some(Precision::OffsetSeconds)
        );
        let mut vague = article("标题");
        vague.published = at("2022-04-20");
        merge(&mut stored, &vague);
        assert_eq!(
            stored.published.map(|p| dates::format_utc(p.utc)).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
    }

    #[test]
    fn truncated_title_is_completed_and_first_urls_stay() {
        let mut stored = article("工信部明确表态…");
        stored.share_url = Some("http://share/?infoCode=NW1".into());
        let mut full = article("工信部明确表态 二季度工业经济稳增长有四大举措！");
        full.url = Some("http://finance.eastmoney.com/a/1.html".into());
        full.share_url = Some("http://other/?infoCode=NW1".into());
        merge(&mut stored, &full);
        assert_eq!(stored.title, "工信部明确表态 二季度工业经济稳增长有四大举措！");
        assert_eq!(
            stored.url.as_deref(),
            Some("http://finance.eastmoney.com/a/1.html")
        );
        assert_eq!(stored.share_url.as_deref(), Some("http://share/?infoCode=NW1"));
    }

    #[test]
    fn content_line_media_beats_a_field() {
        let mut stored = article("标题");
        stored.media = Some(("东方财富网".into(), MediaRank::Field));
        let mut line = article("标题");
        line.media = Some(("证券日报网".into(), MediaRank::ContentLine));
        merge(&mut stored, &line);
        assert_eq!(stored.media, Some(("证券日报网".into(), MediaRank::ContentLine)));
    }
}
