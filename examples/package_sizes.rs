//! The figures of `scripts/package-sizes.sh`: the packages `cargo share package --format deb`
//! wrote (a repository directory before a body-only fix in a shared crate, and the same
//! directory after it) against static packages of the same programs as `cargo-deb` makes them
//! (one package each, the stripped binary in `/usr/bin`), written by
//! `cargo_share_core::package::run::static_package`, so with the same archive and compression code.
//!
//! `cargo run --release --example package_sizes -- SHARED_BEFORE SHARED_AFTER STATIC_BEFORE
//! STATIC_AFTER PROGRAM...` (the static arguments are directories holding the binaries; the
//! program's version is read from nothing: every static package is version 0). Prints a
//! Markdown table and one JSON line.
//!
//! Both modes also give the bytes of every package had its `data.tar` been compressed with
//! `xz -6` instead of gzip, as `cargo-deb` and `dpkg-deb` do by default (the `xz` of XZ Utils,
//! run on each package's uncompressed `data.tar`; the control archive stays gzip).
//!
//! `... --example package_sizes -- --installed OUT_DIR STATIC_DIR PROGRAM_DIR...`: programs
//! already installed in a store (`STORE/programs/NAME-VERSION-ID`, each a `bin/` and a `lib/`)
//! packaged by `cargo_share_core::package::run::package_closures` into OUT_DIR, against the static
//! packages of the binaries of the same names in STATIC_DIR (`cargo install --root`'s `bin/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_share_core::layout::{closures_of_tree, ProgramClosure, ProgramFiles};
use cargo_share_core::package::run::{check, package_closures, static_package};
use cargo_share_core::package::{PackageArgs, PackageFormat, DEFAULT_PREFIX};
use cargo_share_core::shell::Shell;

/// The bytes of `deb` had its `data.tar` been compressed with `xz -6` (XZ Utils, one thread)
/// instead of gzip.
fn with_xz_data(deb: &[u8]) -> Result<u64> {
    use std::io::Write;
    let tar = cargo_share_core::package::deb::data_tar_of(deb)?;
    let gz = cargo_share_core::layout::gzip(&tar)?.len() as u64;
    let mut child = std::process::Command::new("xz")
        .args(["-6", "-T1", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running `xz` (XZ Utils); install xz-utils")?;
    let mut stdin = child.stdin.take().context("xz's input")?;
    let writer = std::thread::spawn(move || stdin.write_all(&tar));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to xz"))??;
    anyhow::ensure!(out.status.success(), "xz failed");
    Ok(deb.len() as u64 - gz + out.stdout.len() as u64)
}

/// The bytes of `debs` with `xz -6` data archives (`with_xz_data`), added up.
fn xz_total(debs: impl Iterator<Item = std::io::Result<Vec<u8>>>) -> Result<u64> {
    debs.map(|d| with_xz_data(&d?)).sum()
}

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

/// A store program directory's closure: its name and version from the directory's name
/// (`NAME-VERSION-ID`), its binaries from `bin/`.
fn installed_closure(dir: &Path) -> Result<ProgramClosure> {
    let base = dir
        .file_name()
        .context("a program directory")?
        .to_string_lossy();
    let (rest, _id) = base.rsplit_once('-').context("NAME-VERSION-ID")?;
    let (name, version) = rest.rsplit_once('-').context("NAME-VERSION-ID")?;
    let mut binaries: Vec<String> = std::fs::read_dir(dir.join("bin"))?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    binaries.sort();
    let files = ProgramFiles {
        name: name.to_string(),
        version: version.to_string(),
        binaries,
    };
    Ok(closures_of_tree(dir, &[files])?.remove(0))
}

/// Package installed programs and their static builds; print the sizes.
fn installed(args: &[String]) -> Result<()> {
    let (out, statics) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let mut closures: Vec<ProgramClosure> = args[2..]
        .iter()
        .map(|d| installed_closure(Path::new(d)))
        .collect::<Result<_>>()?;
    // Each program's `lib/` holds links to the same store files: one path per name.
    let mut first: BTreeMap<String, PathBuf> = BTreeMap::new();
    for c in &mut closures {
        for (name, path) in c.libraries.iter_mut() {
            let at = first.entry(name.clone()).or_insert_with(|| path.clone());
            anyhow::ensure!(
                std::fs::read(&*at)? == std::fs::read(&*path)?,
                "{name} differs between programs"
            );
            *path = at.clone();
        }
    }
    closures.sort_by(|a, b| a.name.cmp(&b.name));
    let pargs = PackageArgs {
        format: PackageFormat::Deb,
        out_dir: out.clone(),
        prefix: DEFAULT_PREFIX.to_string(),
        bin_dir: "usr/bin".to_string(),
        maintainer: Some("Measure <measure@example.org>".to_string()),
    };
    let shell = Shell::new(true, cargo_share_core::shell::MessageFormat::Human);
    let report = package_closures(&closures, &pargs, &check(&pargs)?, &shell)?;
    let shared: u64 = report.packages.iter().map(|p| p.size).sum();
    let shared_xz = xz_total(report.packages.iter().map(|p| std::fs::read(&p.file)))?;
    let (mut static_all, mut static_xz) = (0, 0);
    for c in &closures {
        for bin in c.binaries.keys() {
            let deb = static_package(
                bin,
                &c.version,
                &statics.join(bin),
                "Measure <measure@example.org>",
                0,
            )?;
            static_all += deb.len() as u64;
            static_xz += with_xz_data(&deb)?;
        }
    }
    println!(
        "| bytes of all packages | {static_all} ({} binaries) | {shared} ({} packages) | {:.2}x |",
        closures.iter().map(|c| c.binaries.len()).sum::<usize>(),
        report.packages.len(),
        shared as f64 / static_all as f64
    );
    println!(
        "| the same, data.tar as xz -6 | {static_xz} | {shared_xz} | {:.2}x |",
        shared_xz as f64 / static_xz as f64
    );
    for p in &report.packages {
        println!("{} {} {}", p.name, p.version, p.size);
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--installed") && args.len() > 3 {
        return installed(&args[1..]);
    }
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
    let read = |dir: &Path, n: &String| std::fs::read(dir.join(n));
    let shared_all_xz = xz_total(before.keys().map(|n| read(&dirs[0], n)))?;
    let shared_fix_xz = xz_total(new.iter().map(|(n, _)| read(&dirs[1], n)))?;
    let static_all_xz = xz_total(static_before.values().map(|d| Ok(d.clone())))?;
    let static_fix_xz = xz_total(changed.iter().map(|p| Ok(static_after[*p].clone())))?;
    println!(
        "| bytes of all packages, data.tar as xz -6 | {static_all_xz} | {shared_all_xz} | {} |",
        ratio(shared_all_xz, static_all_xz)
    );
    println!(
        "| bytes an upgrade downloads for the fix, xz -6 | {static_fix_xz} | {shared_fix_xz} | {}; {} of all static |",
        ratio(shared_fix_xz, static_fix_xz),
        ratio(shared_fix_xz, static_all_xz)
    );
    let new_names: Vec<&String> = new.iter().map(|(n, _)| *n).collect();
    println!(
        "{}",
        serde_json::json!({
            "shared": {"all": shared_all, "packages": before.len(), "fix": shared_fix, "fix_packages": new_names,
                       "all_xz": shared_all_xz, "fix_xz": shared_fix_xz},
            "static": {"all": static_all, "fix": static_fix, "fix_packages": changed,
                       "all_xz": static_all_xz, "fix_xz": static_fix_xz},
        })
    );
    Ok(())
}
