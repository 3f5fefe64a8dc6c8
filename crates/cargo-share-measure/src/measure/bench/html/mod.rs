//! The HTML report of `cargo share bench`: one self-contained HTML5 document (inline CSS, inline
//! SVG charts drawn here as strings, no JavaScript, nothing fetched) rendered from a
//! [`BenchReport`](crate::measure::bench::model::BenchReport).
//!
//! Sizes are shown in decimal megabytes (1 MB = 10^6 bytes) with one decimal, times in
//! milliseconds. Ratios compare a variant with the static one (the first variant with
//! `shared == false`). Every string taken from the report is HTML-escaped.

pub(crate) mod chart;
pub(crate) mod counters;
pub(crate) mod format;
pub(crate) mod growth;
pub(crate) mod page;

pub(crate) use page::render;
