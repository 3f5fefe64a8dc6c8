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
        let closure = crate::elf::library_closure(&path, &[lib_dir.to_path_buf()])
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
