//! Update cost: every build again with a patched copy of one crate; the stripped files whose
//! bytes change are what a fix ships.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::{self};
use crate::measure::bench::disk::stripped_copy;
use crate::measure::bench::model::*;
use crate::measure::bench::options::BenchOptions;
use crate::measure::bench::shared_variant::{shared_dir_name, shared_options};
use crate::measure::bench::static_build::static_cargo_build;
use crate::resolve::graph;
use crate::shell::Shell;
use crate::source::{self};
use crate::toolchain::Toolchain;

/// Update cost: the bytes shipped when `crate_name` gets a fix. A copy of each version the
/// programs lock gets one more public function (the crate keeps its stable identity,
/// `compile::stable_id`, so only files holding its code or inlining from it should change); then
/// every variant is rebuilt with the copies patched
/// in, and each stripped output file that differs from (or did not exist in) the original build
/// counts as shipped. Static: each program with its own lock, in its own target directory; the
/// shared layouts: one `cargo share build` each.
pub(crate) fn update_cost(
    options: &BenchOptions,
    crate_name: &str,
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<UpdateCost> {
    let work = &options.work_dir;
    let cache = work.join("cache");
    let update = work.join("update");
    if update.exists() {
        std::fs::remove_dir_all(&update)?;
    }
    // The versions the programs lock, and patched copies of each.
    let mut programs = Vec::new();
    let mut copies: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in &options.build.programs {
        let manifest = source.manifest(&cache, shell)?;
        let md = graph::load_metadata(&manifest, true, &toolchain.host, &[])?;
        let mut versions = Vec::new();
        for pkg in md.packages.iter().filter(|p| {
            p.name.as_str() == crate_name && p.source.as_ref().is_some_and(|s| s.is_crates_io())
        }) {
            versions.push(pkg.version.to_string());
            if copies.contains_key(&pkg.version.to_string()) {
                continue;
            }
            let from = pkg
                .manifest_path
                .parent()
                .context("a manifest without a directory")?;
            let to = update
                .join("src")
                .join(format!("{crate_name}-{}", pkg.version));
            source::copy_tree(from.as_std_path(), &to, &[".git", "target"])?;
            let lib = pkg
                .targets
                .iter()
                .find(|t| t.is_lib())
                .context("the updated crate has no library target")?;
            let rel = lib
                .src_path
                .strip_prefix(from)
                .context("library outside its package")?;
            let file = to.join(rel.as_std_path());
            let mut text = std::fs::read_to_string(&file)?;
            text.push_str("\n/// Added by cargo-share bench: the \"fix\" whose shipping cost is measured.\n#[doc(hidden)]\npub fn cargo_share_bench_update() -> u32 {\n    1\n}\n");
            std::fs::write(&file, text)?;
            copies.insert(pkg.version.to_string(), to);
        }
        for pkg in graph::program_packages(&md) {
            programs.push((manifest.clone(), pkg.clone(), versions.clone()));
        }
    }
    if copies.is_empty() {
        bail!("no program of the set uses `{crate_name}`: choose another with --update-crate");
    }
    shell.status(
        "Updating",
        format!(
            "{crate_name} {} (a patched copy) in every build",
            copies.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    );
    let mut cost = UpdateCost {
        crate_name: crate_name.to_string(),
        per_variant: Vec::new(),
    };
    // Static: each program that locks the crate, in a copy of its workspace (the patch rewrites
    // the lock), reusing its target directory.
    let (mut files, mut bytes) = (0usize, 0u64);
    let names: Vec<String> = programs
        .iter()
        .map(|(_, p, _)| p.name.to_string())
        .collect();
    let features = options.build.features.bind(&names)?;
    for (manifest, pkg, versions) in &programs {
        let Some(version) = versions.first() else {
            continue;
        };
        let root = manifest
            .parent()
            .context("a manifest without a directory")?;
        let copy = update.join("static").join(pkg.name.as_str());
        source::copy_tree(root, &copy, &[".git", "target"])?;
        let patches = [build::CratePatch {
            name: crate_name.to_string(),
            path: copies[version].clone(),
        }];
        shell.status(
            "Building",
            format!("{} v{} (static, updated)", pkg.name, pkg.version),
        );
        let member = pkg
            .manifest_path
            .as_std_path()
            .strip_prefix(root)
            .context("a program outside its workspace")?;
        let exes = static_cargo_build(
            &copy.join(manifest.file_name().unwrap_or_default()),
            &copy.join(member),
            pkg,
            &work.join("static-target").join(pkg.name.as_str()),
            &patches,
            &features.cargo_args(&[pkg.name.as_str()]),
            shell,
        )?;
        for exe in exes {
            let name = exe.file_name().unwrap_or_default();
            let (changed, size) = shipped(
                &exe,
                &update.join("stripped/static/bin").join(name),
                &work.join("stripped/static/bin").join(name),
                false,
            )?;
            files += changed;
            bytes += size;
        }
    }
    cost.per_variant.push(("static".into(), files, bytes));
    // Shared layouts.
    for &layout in &options.layouts {
        let (mut build, name) = shared_options(options, layout);
        build.patches = copies
            .values()
            .map(|path| build::CratePatch {
                name: crate_name.to_string(),
                path: path.clone(),
            })
            .collect();
        shell.status("Building", format!("the set ({name}, updated)"));
        let dir = shared_dir_name(layout, options.build.binding);
        let out = update.join(&dir);
        let report = build::build(&build, &out, shell)?.complete()?;
        let (mut files, mut bytes) = (0usize, 0u64);
        let before = work.join("stripped").join(&dir);
        let after = update.join("stripped").join(&dir);
        for file in report.libraries.keys() {
            let (c, b) = shipped(
                &out.join("lib").join(file),
                &after.join("lib").join(file),
                &before.join("lib").join(file),
                true,
            )?;
            files += c;
            bytes += b;
        }
        for p in &report.programs {
            for bin in &p.binaries {
                let name = bin.file_name().unwrap_or_default();
                let (c, b) = shipped(
                    bin,
                    &after.join("bin").join(name),
                    &before.join("bin").join(name),
                    false,
                )?;
                files += c;
                bytes += b;
            }
        }
        cost.per_variant.push((name, files, bytes));
    }
    Ok(cost)
}

/// Strip `built` into `stripped` and compare with the original build's stripped file: (1, size)
/// if it must be shipped, (0, 0) if byte-identical.
fn shipped(built: &Path, stripped: &Path, original: &Path, library: bool) -> Result<(usize, u64)> {
    let size = stripped_copy(built, stripped, library)?;
    let same = std::fs::read(original).ok() == Some(std::fs::read(stripped)?);
    Ok(if same { (0, 0) } else { (1, size) })
}
