//! feedcrawler: keeps a SQLite database of financial news up to date.
//!
//! The modules follow the data: [`config`] → [`scheduler`] → [`admission`] / [`politeness`]
//! / [`fetch`] →
//! [`charset`] → [`sources`] (parse by source type) → [`normalize`] → [`dedup`] / [`merge`]
//! → [`store`]. [`crawl`] wires them together for one poll and for `once`; [`daemon`] runs
//! polls on the schedule, with [`service`] (signals, systemd) and [`metrics`] around it.
//! [`notify`] delivers the `[[notify]]` notifications the store queues with new articles.
//! This crate holds no command-line code; `main.rs` does.

pub mod admission;
pub mod charset;
pub mod config;
pub mod context;
pub mod cpu;
pub mod crawl;
pub mod daemon;
pub mod dates;
pub mod dedup;
pub mod export;
pub mod extract;
pub mod fetch;
pub mod filter;
pub mod html_bounds;
pub mod lease;
pub mod logging;
pub mod merge;
pub mod metrics;
pub mod normalize;
pub mod notify;
pub mod page_jobs;
pub mod pages;
pub mod politeness;
pub mod retention;
pub mod scheduler;
pub mod search;
pub mod service;
pub mod share;
pub mod sources;
pub mod store;
pub mod summary;

pub use crawl::{OnceReport, once};
