//! Each program's closure of files: its binaries and every library they load, transitively, that
//! the tree provides (libraries the system provides, libc and libgcc_s, are left to the system).
//!
//! The tree is what `cargo share build --out DIR` writes (`DIR/bin/BINARY`, `DIR/lib/FILE`) or a
//! store program directory (the same two folders): every binary and library names the libraries
//! the tree provides as `$ORIGIN/../lib/FILE` (`crate::build::lib_paths`), so `DT_NEEDED` read
//! from the files themselves is the closure, whatever built them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::{BuildOptions, BuildReport};
use crate::shell::Shell;

/// A program as the tree holds it: its name, version and binaries (file names in `bin/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramFiles {
    pub name: String,
    pub version: String,
    pub binaries: Vec<String>,
}

/// A program's closure: its binaries (file name -> path) and the libraries they load from the
/// tree's `lib/` (file name -> path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramClosure {
    pub name: String,
    pub version: String,
    pub binaries: BTreeMap<String, PathBuf>,
    pub libraries: BTreeMap<String, PathBuf>,
}

/// Build the programs of `opts` together into a scratch output under the cache (`what` names
/// it: `image-build-`, `package-build-`) and read each program's closure from it, sorted by
/// name. The scratch directory holds the files until it is dropped.
pub fn build_closures(
    opts: &BuildOptions,
    what: &str,
    shell: &Shell,
) -> Result<(tempfile::TempDir, Vec<ProgramClosure>)> {
    let cache = opts.cache()?;
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(what)
        .tempdir_in(&cache)
        .with_context(|| format!("creating a build directory in {}", cache.display()))?;
    let built = crate::build::build(opts, scratch.path(), shell)?.complete()?;
    let mut closures = closures_of_tree(&built.out, &program_files(&built))?;
    closures.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((scratch, closures))
}

/// The programs of a build as the output tree holds them (plugins are left out: they are
/// loaded by a program, not run).
pub(crate) fn program_files(built: &BuildReport) -> Vec<ProgramFiles> {
    built
        .programs
        .iter()
        .filter(|p| p.plugin_for.is_none())
        .map(|p| ProgramFiles {
            name: p.name.clone(),
            version: p.version.clone(),
            binaries: p
                .binaries
                .iter()
                .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
        })
        .collect()
}

/// The closure of each of `programs` in the tree `dir` (`dir/bin`, `dir/lib`).
pub fn closures_of_tree(dir: &Path, programs: &[ProgramFiles]) -> Result<Vec<ProgramClosure>> {
    let lib_dir = dir.join("lib");
    programs
        .iter()
        .map(|p| program_closure(dir, &lib_dir, p))
        .collect()
}

fn program_closure(dir: &Path, lib_dir: &Path, program: &ProgramFiles) -> Result<ProgramClosure> {
    if program.binaries.is_empty() {
        bail!(
            "{} v{} has no binary in {}: nothing to lay out",
            program.name,
            program.version,
            dir.join("bin").display()
        );
    }
    let mut binaries = BTreeMap::new();
    let mut libraries = BTreeMap::new();
    for bin in &program.binaries {
        let path = dir.join("bin").join(bin);
        if !path.is_file() {
            bail!(
                "{} v{}: its binary {} is missing; build it again",
                program.name,
                program.version,
                path.display()
            );
        }
        let closure = cargo_share_compile::elf::library_closure(&path, &[lib_dir.to_path_buf()])
            .with_context(|| format!("reading the libraries {} loads", path.display()))?;
        libraries.extend(closure);
        binaries.insert(bin.clone(), path);
    }
    Ok(ProgramClosure {
        name: program.name.clone(),
        version: program.version.clone(),
        binaries,
        libraries,
    })
}
