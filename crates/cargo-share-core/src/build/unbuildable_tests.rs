//! Programs whose own test suite cannot build from their sources whatever the crate versions:
//! a module file or a file a test includes is missing, because the published package leaves it
//! out (dua-cli 3.0.0 declares `mod tests;` and ships no `tests.rs`).
//!
//! Such a program can never be proven under other versions, so an install that would move it
//! leaves it as it is. Finding that out costs a test build, and the set is then prepared again
//! without it, with every other moved program's suite run again under the new resolution. The
//! first time a moved program's tests fail to build with a missing file (rustc's `E0583`, or
//! `couldn't read` from `include_str!`/`include_bytes!`), that is recorded in
//! `CACHE/unbuildable-tests.json` under its name, version and the content of its sources (the
//! listing of its set copy: a local program whose missing file is added is another program),
//! and every later install leaves it before any test runs. Any other compiler error may come
//! from the new versions, and is not recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::resolve::set::workspace::copy_listing;
use cargo_share_compile::digest::sha256_hex;

const RECORD_FILE: &str = "unbuildable-tests.json";

/// A program's sources as its set copy holds them.
pub(crate) struct ProgramSources<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    /// Its copy in the set's workspace.
    pub(crate) copy: &'a Path,
}

impl ProgramSources<'_> {
    /// What its record is kept under: name, version and the listing of every file of its copy
    /// with its hash. None for a copy without a listing.
    fn key(&self) -> Option<String> {
        let listing = copy_listing(self.copy)?;
        Some(sha256_hex(
            format!("{}\n{}\n{listing}", self.name, self.version).as_bytes(),
        ))
    }
}

/// The first of a failed test build's compiler `errors` that says a source file is missing.
pub(crate) fn missing_file_error(errors: &[String]) -> Option<&str> {
    errors
        .iter()
        .map(String::as_str)
        .find(|e| e.contains("E0583") || e.contains("couldn't read"))
}

fn record_path(cache: &Path) -> PathBuf {
    cache.join(RECORD_FILE)
}

fn load(cache: &Path) -> BTreeMap<String, String> {
    std::fs::read(record_path(cache))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The error that kept `program`'s tests from building from these sources, if recorded.
pub(crate) fn recorded(cache: &Path, program: &ProgramSources) -> Option<String> {
    load(cache).remove(&program.key()?)
}

/// Record that `program`'s tests do not build from these sources (`error`, a missing file).
pub(crate) fn record(cache: &Path, program: &ProgramSources, error: &str) -> Result<()> {
    let Some(key) = program.key() else {
        return Ok(());
    };
    let mut all = load(cache);
    all.insert(key, error.to_string());
    let path = record_path(cache);
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    std::fs::write(&path, serde_json::to_vec_pretty(&all)?)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_file_is_an_error_of_the_sources() {
        let errors = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            missing_file_error(&errors(&[
                "error[E0425]: cannot find function `x` in this scope",
                "error[E0583]: file not found for module `tests`",
            ])),
            Some("error[E0583]: file not found for module `tests`")
        );
        assert!(missing_file_error(&errors(&[
            "error: couldn't read `tests/data/a.txt`: No such file or directory (os error 2)"
        ]))
        .is_some());
        // A function the new versions no longer have: the versions' doing, not recorded.
        assert_eq!(
            missing_file_error(&errors(&[
                "error[E0425]: cannot find function `not_in_shim` in crate `shim`"
            ])),
            None
        );
    }
}
