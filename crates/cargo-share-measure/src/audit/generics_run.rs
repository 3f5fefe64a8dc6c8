//! `cargo share analyze --generics`, in order: build the set (grouped, as `build` does) unless
//! `--from` names files already built, find the repeated instances, and write the JSON record
//! and the tables.

use std::path::PathBuf;

use anyhow::Result;

use crate::audit::generics::{analyze_generics, GenericsReport};
use crate::audit::report::shorten;
use cargo_share_core::build::BuildOptions;
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::{human_bytes, Shell};

/// Instance and crate rows shown in the tables (all are in `--json`).
const TABLE_ROWS: usize = 25;

/// Where the set is built when no `--from` is given.
pub(crate) const GENERICS_OUT: &str = "analyze-generics";

/// `from`: files or directories built already; empty: build `build`'s programs into
/// `CACHE/analyze-generics` first.
pub fn generics(build: &BuildOptions, from: &[PathBuf], shell: &Shell) -> Result<GenericsReport> {
    let paths = if from.is_empty() {
        let cache = match &build.cache_dir {
            Some(c) => c.clone(),
            None => cargo_share_core::build::default_cache_dir()?,
        };
        let out = cache.join(GENERICS_OUT);
        cargo_share_core::build::build(build, &out, shell)?.complete()?;
        vec![out.join("bin"), out.join("lib")]
    } else {
        from.to_vec()
    };
    let report = analyze_generics(&paths, shell)?;
    shell.message(&Message::GenericsAnalysis(Report::of(&report)));
    print_tables(&report, shell);
    Ok(report)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn print_tables(r: &GenericsReport, shell: &Shell) {
    shell.result(format!(
        "{:<60} {:>6} {:>10} {:>10}  {}",
        "instance compiled into two or more files", "copies", "per copy", "saving", "crate"
    ));
    for i in r.instances.iter().take(TABLE_ROWS) {
        shell.result(format!(
            "{:<60} {:>6} {:>10} {:>10}  {}",
            shorten(&i.name, 60),
            i.copies,
            human_bytes(i.bytes),
            human_bytes(i.saving_bytes),
            i.defining_crate
        ));
    }
    if r.instances.len() > TABLE_ROWS {
        shell.result(format!(
            "... {} more (--json)",
            r.instances.len() - TABLE_ROWS
        ));
    }
    shell.result("");
    shell.result(format!(
        "{:<32} {:>10} {:>10} {:>10}",
        "defining crate", "instances", "generic", "saving"
    ));
    for c in r.by_crate.iter().take(TABLE_ROWS) {
        shell.result(format!(
            "{:<32} {:>10} {:>10} {:>10}",
            shorten(&c.name, 32),
            c.instances,
            c.generic_instances,
            human_bytes(c.saving_bytes)
        ));
    }
    shell.result("");
    shell.result(format!(
        "{} files: {} of Rust functions; {} instances are compiled into two or more files ({} \
         generic, {} inline); one copy of each would save {} ({}), {} of it generic",
        r.files.len(),
        human_bytes(r.function_bytes),
        r.repeated_instances,
        r.repeated_generic_instances,
        r.repeated_instances - r.repeated_generic_instances,
        human_bytes(r.saving_bytes),
        percent(r.saving_bytes, r.function_bytes),
        human_bytes(r.generic_saving_bytes)
    ));
}
