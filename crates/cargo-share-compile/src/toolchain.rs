//! The Rust toolchain a build uses: `rustc -vV`, the host triple, and the target libdir where
//! the toolchain's `libstd-<hash>.so` lives.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The machine and toolchain facts a build needs.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub host: String,
    /// The full `rustc -vV` output: part of every crate identity.
    pub version_text: String,
    /// `rustc --print target-libdir`: where `libstd-<hash>.so` lives.
    pub std_libdir: PathBuf,
}

impl Toolchain {
    pub fn detect() -> Result<Self> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let text = version_text(Path::new(&rustc))?;
        let host = text
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .context("`rustc -vV` printed no host triple")?
            .to_string();
        let libdir = Command::new(&rustc)
            .args(["--print", "target-libdir"])
            .output()
            .context("running `rustc --print target-libdir`")?;
        let std_libdir = PathBuf::from(String::from_utf8_lossy(&libdir.stdout).trim());
        Ok(Toolchain {
            host,
            version_text: text,
            std_libdir,
        })
    }
}

/// What `rustc -vV` prints for the compiler `rustc`: its version, commit and host, the identity
/// of a toolchain.
pub fn version_text(rustc: &Path) -> Result<String> {
    let vv = Command::new(rustc).arg("-vV").output().with_context(|| {
        format!(
            "running `{} -vV`: is a Rust toolchain installed and on PATH?",
            rustc.display()
        )
    })?;
    Ok(String::from_utf8_lossy(&vv.stdout).into_owned())
}

/// The `release: ` line of `rustc -vV` output (`1.95.0`): the compiler's version.
pub fn release_of(version_text: &str) -> Option<&str> {
    version_text
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
}

impl Toolchain {
    /// The toolchain's `libstd-<hash>.so`.
    pub fn libstd(&self) -> Option<PathBuf> {
        self.target_lib("libstd-", ".so")
    }

    /// The toolchain's `libpanic_abort-<hash>.rlib` (`compile::panic_abort`).
    pub fn panic_abort_rlib(&self) -> Option<PathBuf> {
        self.target_lib("libpanic_abort-", ".rlib")
    }

    /// The file of the target libdir named `PREFIX<hash>SUFFIX`.
    fn target_lib(&self, prefix: &str, suffix: &str) -> Option<PathBuf> {
        std::fs::read_dir(&self.std_libdir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                n.starts_with(prefix) && n.ends_with(suffix)
            })
    }
}

/// Whether `name` is a file name of the toolchain's shared libstd (`libstd-<hash>.so`), as the
/// toolchain and a build's `lib/` name it.
pub fn is_libstd_file(name: &str) -> bool {
    name.starts_with("libstd-") && name.ends_with(".so")
}
