//! What to bench (`BenchOptions`) and what one built variant leaves for the measurements.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::measure::bench::model::*;
use cargo_share_core::build::{BuildOptions, Layout};

/// What to bench and how.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The programs and the shared builds' options (unification of the per-crate build).
    pub build: BuildOptions,
    /// The shared layouts to build and measure, each against static and each other.
    pub layouts: Vec<Layout>,
    /// Where builds, stripped copies and the corpus go. Kept, so a later run can `--reuse`.
    pub work_dir: PathBuf,
    /// Start-up runs per program and variant.
    pub runs: usize,
    /// Reuse builds found in the work directory (build times are then not reported).
    pub reuse: bool,
    pub html: Option<PathBuf>,
    /// Measure the update cost of a fix to this crate (rebuilds every variant once more).
    pub update_crate: Option<String>,
    /// `--startup-args PROGRAM=ARGS`: the start-up invocation of a program (else `--version`,
    /// or `--help` when `--version` fails).
    pub startup_args: BTreeMap<String, Vec<String>>,
}

/// One built variant, before measuring: where its binaries and libraries are.
pub(crate) struct BuiltVariant {
    pub(crate) figures: Variant,
    /// program -> stripped binary to run.
    pub(crate) binaries: BTreeMap<String, PathBuf>,
    /// program -> unstripped binaries (for the symbol tables).
    pub(crate) unstripped: BTreeMap<String, Vec<PathBuf>>,
    /// program -> the library files it loads (shared variants).
    pub(crate) needs: BTreeMap<String, Vec<String>>,
}

/// `--startup-args PROGRAM=ARGS` values, by program.
pub fn parse_startup_args(values: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for v in values {
        let Some((program, args)) = v.split_once('=') else {
            bail!("--startup-args {v}: expected PROGRAM=ARGS, for example --startup-args 'mytool=list --all'");
        };
        out.insert(
            program.to_string(),
            args.split_whitespace().map(String::from).collect(),
        );
    }
    Ok(out)
}
