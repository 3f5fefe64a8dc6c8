//! `ProgramSource`: a program given as a local manifest or a crates.io package, and the
//! manifest it builds from (fetched first when it comes from crates.io).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::shell::Shell;
use crate::source::crate_spec::CrateSpec;
use crate::source::fetch::fetch_registry_crate;

/// A program named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramSource {
    /// `--manifest-path PATH`: a package or workspace manifest on disk.
    Path(PathBuf),
    /// `--crate NAME[@VERSION]`: a package from crates.io.
    Registry(CrateSpec),
}

impl ProgramSource {
    /// The program's manifest: the given file (or `DIR/Cargo.toml`), or the manifest of the
    /// crates.io package's private source copy in `cache` (fetched if needed).
    pub fn manifest(&self, cache: &Path, shell: &Shell) -> Result<PathBuf> {
        match self {
            ProgramSource::Path(p) => {
                let p = if p.is_dir() {
                    p.join("Cargo.toml")
                } else {
                    p.clone()
                };
                if !p.is_file() {
                    bail!(
                        "the program {}: no such file; give the path of its Cargo.toml or of \
                         the directory that holds it",
                        p.display()
                    );
                }
                p.canonicalize()
                    .with_context(|| format!("resolving the program path {}", p.display()))
            }
            ProgramSource::Registry(spec) => fetch_registry_crate(spec, cache, shell),
        }
    }
}
