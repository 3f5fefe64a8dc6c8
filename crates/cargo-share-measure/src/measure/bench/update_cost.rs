//! Update cost: every build again with a fixed copy of one crate, once per kind of fix; the
//! stripped files whose bytes change are what a fix ships.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::measure::bench::disk::stripped_copy;
use crate::measure::bench::model::*;
use crate::measure::bench::options::BenchOptions;
use crate::measure::bench::shared_variant::{shared_dir_name, shared_options};
use crate::measure::bench::static_build::static_cargo_build;
use crate::measure::bench::update_fix;
use cargo_share_compile::toolchain::Toolchain;
use cargo_share_core::build::{self, Layout};
use cargo_share_core::resolve::graph;
use cargo_share_core::shell::Shell;
use cargo_share_core::source::{self};

/// Update cost: the bytes shipped when `crate_name` gets a fix, for each kind of fix
/// ([`update_fix`]: a body-only fix and an inlined-or-generic one, chosen among the functions the
/// build holds). For each, a copy of every version the programs lock gets the fix (the crate keeps
/// its stable identity, `compile::stable_id`, so only files holding the changed code should
/// change); then every variant is rebuilt with the copies patched in, and each stripped output
/// file that differs from (or did not exist in) the original build counts as shipped. Static:
/// each program with its own lock, in its own target directory; the shared layouts: one
/// `cargo share build` each. A kind with no function to fix is returned as a reason, not measured.
pub(crate) fn update_cost(
    options: &BenchOptions,
    crate_name: &str,
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<(UpdateCost, Vec<String>)> {
    let work = &options.work_dir;
    let cache = work.join("cache");
    let update = work.join("update");
    if update.exists() {
        std::fs::remove_dir_all(&update)?;
    }
    // The programs, the versions of the crate they lock, and where each version's source is.
    let mut programs = Vec::new();
    let mut originals: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut lib_dir_in_crate = PathBuf::new();
    for source in &options.build.programs {
        let manifest = source.manifest(&cache, shell)?;
        let md = graph::load_metadata(&manifest, true, &toolchain.host, &[])?;
        let mut versions = Vec::new();
        for pkg in md.packages.iter().filter(|p| {
            p.name.as_str() == crate_name && p.source.as_ref().is_some_and(|s| s.is_crates_io())
        }) {
            versions.push(pkg.version.to_string());
            let from = pkg
                .manifest_path
                .parent()
                .context("a manifest without a directory")?;
            let lib = pkg
                .targets
                .iter()
                .find(|t| t.is_lib())
                .context("the updated crate has no library target")?;
            let rel = lib
                .src_path
                .strip_prefix(from)
                .context("library outside its package")?;
            lib_dir_in_crate = rel
                .parent()
                .map(|p| p.as_std_path().to_path_buf())
                .unwrap_or_default();
            originals.insert(pkg.version.to_string(), from.as_std_path().to_path_buf());
        }
        for pkg in graph::program_packages(&md) {
            programs.push((manifest.clone(), pkg.clone(), versions.clone()));
        }
    }
    let Some(first) = originals.values().next() else {
        bail!("no program of the set uses `{crate_name}`: choose another with --update-crate");
    };
    // The fixes, chosen from what the first shared layout's build holds.
    let layout = options
        .layouts
        .first()
        .context("the update cost needs a shared layout")?;
    let built = work.join(shared_dir_name(*layout, options.build.binding));
    let mut objects = Vec::new();
    for dir in [built.join("bin"), built.join("lib")] {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_file() {
                objects.push(path);
            }
        }
    }
    objects.sort();
    let sites = update_fix::choose(crate_name, first, &first.join(&lib_dir_in_crate), &objects)?;
    let mut cost = UpdateCost {
        crate_name: crate_name.to_string(),
        fixes: Vec::new(),
    };
    let mut missing = Vec::new();
    for (kind, site) in sites {
        let site = match site {
            Ok(site) => site,
            Err(e) => {
                missing.push(format!("update cost, {} fix: {e:#}", kind.label()));
                continue;
            }
        };
        let dir = update.join(kind.label());
        let mut copies = BTreeMap::new();
        for (version, from) in &originals {
            let to = dir.join("src").join(format!("{crate_name}-{version}"));
            source::copy_tree(from, &to, &[".git", "target"])?;
            site.apply(&to)?;
            copies.insert(version.clone(), to);
        }
        shell.status(
            "Updating",
            format!(
                "{crate_name} {}: a {} fix in `{}` ({})",
                copies.keys().cloned().collect::<Vec<_>>().join(", "),
                kind.label(),
                site.function,
                site.source()
            ),
        );
        let per_variant = ship_fix(options, crate_name, &programs, &copies, &dir, shell)?;
        cost.fixes.push(FixCost {
            kind: kind.label().to_string(),
            function: site.function.clone(),
            source: site.source(),
            per_variant,
        });
    }
    Ok((cost, missing))
}

/// A program of the set: its workspace manifest, its package, the versions of the crate it locks.
type ProgramUse = (PathBuf, cargo_metadata::Package, Vec<String>);

/// Rebuild every variant with the fixed `copies` patched in (outputs under `dir`) and count what
/// each ships against the original builds.
fn ship_fix(
    options: &BenchOptions,
    crate_name: &str,
    programs: &[ProgramUse],
    copies: &BTreeMap<String, PathBuf>,
    dir: &Path,
    shell: &Shell,
) -> Result<Vec<ShippedFiles>> {
    let mut out = vec![ship_static(
        options, crate_name, programs, copies, dir, shell,
    )?];
    for &layout in &options.layouts {
        out.push(ship_shared(
            options, layout, crate_name, copies, dir, shell,
        )?);
    }
    Ok(out)
}

/// Static: each program that locks the crate, in a copy of its workspace (the patch rewrites
/// the lock), reusing its target directory. The others ship nothing.
fn ship_static(
    options: &BenchOptions,
    crate_name: &str,
    programs: &[ProgramUse],
    copies: &BTreeMap<String, PathBuf>,
    dir: &Path,
    shell: &Shell,
) -> Result<ShippedFiles> {
    let work = &options.work_dir;
    let (mut files, mut bytes) = (0usize, 0u64);
    let names: Vec<String> = programs
        .iter()
        .map(|(_, p, _)| p.name.to_string())
        .collect();
    let features = options.build.features.bind(&names)?;
    for (manifest, pkg, versions) in programs {
        let Some(version) = versions.first() else {
            continue;
        };
        let root = manifest
            .parent()
            .context("a manifest without a directory")?;
        let copy = dir.join("static").join(pkg.name.as_str());
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
                &dir.join("stripped/static/bin").join(name),
                &work.join("stripped/static/bin").join(name),
                false,
            )?;
            files += changed;
            bytes += size;
        }
    }
    let total = std::fs::read_dir(work.join("stripped/static/bin"))?.count();
    Ok(ShippedFiles {
        variant: "static".into(),
        files,
        bytes,
        total_files: total,
        identical_files: total.saturating_sub(files),
    })
}

/// A shared layout: the set built again with every fixed copy patched in; each library and
/// binary that changed is shipped.
fn ship_shared(
    options: &BenchOptions,
    layout: Layout,
    crate_name: &str,
    copies: &BTreeMap<String, PathBuf>,
    dir: &Path,
    shell: &Shell,
) -> Result<ShippedFiles> {
    let work = &options.work_dir;
    let (mut build, name) = shared_options(options, layout);
    build.patches = copies
        .values()
        .map(|path| build::CratePatch {
            name: crate_name.to_string(),
            path: path.clone(),
        })
        .collect();
    shell.status("Building", format!("the set ({name}, updated)"));
    let variant_dir = shared_dir_name(layout, options.build.binding);
    let built = dir.join(&variant_dir);
    let report = build::build(&build, &built, shell)?.complete()?;
    let (mut files, mut bytes, mut total) = (0usize, 0u64, 0usize);
    let before = work.join("stripped").join(&variant_dir);
    let after = dir.join("stripped").join(&variant_dir);
    for file in report.libraries.keys() {
        let (c, b) = shipped(
            &built.join("lib").join(file),
            &after.join("lib").join(file),
            &before.join("lib").join(file),
            true,
        )?;
        files += c;
        bytes += b;
        total += 1;
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
            total += 1;
        }
    }
    Ok(ShippedFiles {
        variant: name,
        files,
        bytes,
        total_files: total,
        identical_files: total - files,
    })
}

/// Strip `built` into `stripped` and compare with the original build's stripped file: (1, size)
/// if it must be shipped, (0, 0) if byte-identical.
fn shipped(built: &Path, stripped: &Path, original: &Path, library: bool) -> Result<(usize, u64)> {
    let size = stripped_copy(built, stripped, library)?;
    let same = std::fs::read(original).ok() == Some(std::fs::read(stripped)?);
    Ok(if same { (0, 0) } else { (1, size) })
}
