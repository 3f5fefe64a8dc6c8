//! The figures of `scripts/package-sizes.sh`: the packages `cargo share package --format deb`
//! wrote (a repository directory before a body-only fix in a shared crate, and the same
//! directory after it) against static packages of the same programs as `cargo-deb` makes them
//! (one package each, the stripped binary in `/usr/bin`), written by
//! `cargo_share::package::run::static_package`, so with the same archive and compression code.
//!
//! `cargo run --release --example package_sizes -- SHARED_BEFORE SHARED_AFTER STATIC_BEFORE
//! STATIC_AFTER PROGRAM...` (the static arguments are directories holding the binaries; the
//! program's version is read from nothing: every static package is version 0). Prints a
//! Markdown table and one JSON line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_share::package::run::static_package;

/// The `.deb` files of a directory: file name -> size.
fn debs(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".deb") {
            out.insert(name, e.metadata()?.len());
        }
    }
    Ok(out)
}

/// Each program's static package: program -> its bytes.
fn static_debs(dir: &Path, programs: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    programs
        .iter()
        .map(|p| {
            let deb = static_package(p, "0", &dir.join(p), "Measure <measure@example.org>", 0)?;
            Ok((p.clone(), deb))
        })
        .collect()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        anyhow::bail!(
            "usage: package_sizes SHARED_BEFORE SHARED_AFTER STATIC_BEFORE STATIC_AFTER PROGRAM..."
        );
    }
    let dirs: Vec<PathBuf> = args[..4].iter().map(PathBuf::from).collect();
    let programs = args[4..].to_vec();
    let (before, after) = (debs(&dirs[0])?, debs(&dirs[1])?);
    let shared_all: u64 = before.values().sum();
    let new: Vec<(&String, &u64)> = after
        .iter()
        .filter(|(name, _)| !before.contains_key(*name))
        .collect();
    let shared_fix: u64 = new.iter().map(|(_, size)| **size).sum();
    let (static_before, static_after) = (
        static_debs(&dirs[2], &programs)?,
        static_debs(&dirs[3], &programs)?,
    );
    let static_all: u64 = static_before.values().map(|d| d.len() as u64).sum();
    // A static package changes when its stripped binary does (the same version and date).
    let changed: Vec<&String> = programs
        .iter()
        .filter(|p| static_before[*p] != static_after[*p])
        .collect();
    let static_fix: u64 = changed.iter().map(|p| static_after[*p].len() as u64).sum();
    let ratio = |s: u64, t: u64| format!("{:.2}x", s as f64 / t as f64);
    println!("| figure | static packages | shared packages | shared / static |");
    println!("|---|---|---|---|");
    println!(
        "| bytes of all packages | {static_all} ({} packages) | {shared_all} ({} packages) | {} |",
        programs.len(),
        before.len(),
        ratio(shared_all, static_all)
    );
    println!(
        "| bytes an upgrade downloads for the fix | {static_fix} ({} packages) | {shared_fix} ({} packages) | {} |",
        changed.len(),
        new.len(),
        ratio(shared_fix, static_fix)
    );
    println!(
        "| the fix against all static packages | | | {} |",
        ratio(shared_fix, static_all)
    );
    let new_names: Vec<&String> = new.iter().map(|(n, _)| *n).collect();
    println!(
        "{}",
        serde_json::json!({
            "shared": {"all": shared_all, "packages": before.len(), "fix": shared_fix, "fix_packages": new_names},
            "static": {"all": static_all, "fix": static_fix, "fix_packages": changed},
        })
    );
    Ok(())
}
