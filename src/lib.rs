//! feedcrawler: keeps a SQLite database of financial news up to date.
//!
//! The modules follow the data: [`config`] → [`fetch`] → [`charset`] →
//! [`sources`] (parse by source type) → [`normalize`] → [`dedup`] / [`merge`] →
//! [`store`]. [`crawl`] wires them together for one pass over the sources.
//! This crate holds no command-line code; `main.rs` does.

pub mod charset;
pub mod config;
pub mod crawl;
pub mod dates;
pub mod dedup;
pub mod fetch;
pub mod merge;
pub mod normalize;
pub mod sources;
pub mod store;

pub use crawl::{OnceReport, once};
