//! `export --format jsonl`: one JSON object per article, one per line (CONTRACT §5).
//!
//! Each object has every `articles` column under its own name, in table order (`tags`
//! as a JSON array, NULL as `null`), then `sources`: the names of the sources that saw
//! the article (`sightings`), sorted. Rows are written as they are read, so memory stays
//! flat whatever the number of articles (see README "Export" for the measured figure).

use indicatif::ProgressBar;

use super::{ExportError, Output, write_error};
use crate::store::{ArticleFilter, ArticleRecord, Cell, Reader};

/// Writes the articles that pass `filter` to `out`; returns how many.
pub fn export(
    reader: &Reader,
    filter: &ArticleFilter,
    out: &Output,
    progress: &ProgressBar,
) -> Result<u64, ExportError> {
    let path = match out {
        Output::Stdout => std::path::PathBuf::from("-"),
        Output::File(p) => p.clone(),
    };
    out.write_with(|w| {
        let mut n = 0u64;
        let mut line = Vec::with_capacity(16 * 1024);
        let walk = reader.for_each_article(filter, |a| -> Result<(), ExportError> {
            line.clear();
            write_record(&mut line, a);
            w.write_all(&line).map_err(|e| write_error(&path, e))?;
            n += 1;
            progress.inc(1);
            Ok(())
        });
        match walk {
            Ok(()) => Ok(n),
            Err(Ok(e)) => Err(e),
            Err(Err(e)) => Err(e.into()),
        }
    })
}

/// One article as one line of JSON, `\n` included.
pub fn write_record(line: &mut Vec<u8>, a: &ArticleRecord) {
    let json = |line: &mut Vec<u8>, v: &dyn erased::Json| v.write(line);
    line.push(b'{');
    for (name, cell) in a.columns.iter().zip(&a.values) {
        if super::INTERNAL_COLUMNS.contains(&name.as_str()) {
            continue;
        }
        json(line, &name.as_str());
        line.push(b':');
        match cell {
            Cell::Null => line.extend_from_slice(b"null"),
            Cell::Integer(n) => json(line, n),
            Cell::Real(x) => json(line, x),
            Cell::Text(s) if name == "tags" => {
                // Stored as a JSON array; written as one, not as a string holding one.
                match serde_json::from_str::<Vec<String>>(s) {
                    Ok(tags) => json(line, &tags),
                    Err(_) => json(line, &vec![s.clone()]),
                }
            }
            Cell::Text(s) => json(line, &s.as_str()),
        }
        // Every column is followed by one: `sources` always comes last.
        line.push(b',');
    }
    line.extend_from_slice(b"\"sources\":");
    json(line, &a.sources);
    line.extend_from_slice(b"}\n");
}

mod erased {
    /// A value serde_json writes into a byte buffer.
    pub trait Json {
        fn write(&self, out: &mut Vec<u8>);
    }

    impl<T: serde::Serialize> Json for T {
        fn write(&self, out: &mut Vec<u8>) {
            // Writing to a Vec never fails and these types always serialize; a failure
            // would mean a serde_json bug, and `null` keeps the line valid JSON then.
            if serde_json::to_writer(&mut *out, self).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }
}
