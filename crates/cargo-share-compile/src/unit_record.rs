//! `UnitRecord`: what a compiled unit was built from (arguments with machine paths replaced,
//! source and `OUT_DIR` digests, externs), written next to its outputs by the wrapper and read
//! by the store's identity. `WRAPPER_ABI` versions the wrapper's rewriting.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::plan::WrapperPlan;
use crate::rustc_args::RustcArgs;

/// What the wrapper knows about one shared-library unit and the build driver does not: written
/// next to the unit's outputs as `<stem>.cargo-share-unit.json` once rustc succeeded, read by
/// `cargo_share::store::identity` to compute the unit's store identity.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct UnitRecord {
    pub crate_name: String,
    pub package: String,
    pub version: String,
    /// Every source file rustc read (from its dep-info), as normalized path and SHA-256.
    pub source_files: Vec<(String, String)>,
    /// Every file of the build script's `OUT_DIR` (generated code, bundled static libraries),
    /// as path relative to it and SHA-256.
    pub out_dir_files: Vec<(String, String)>,
    /// File stems (`libname-HASH`) of the crates passed with `--extern`.
    pub extern_stems: Vec<String>,
    /// The rustc arguments with every machine-specific path replaced by a placeholder.
    pub normalized_args: Vec<String>,
}

/// Suffix of the unit record file written next to a shared unit's outputs.
pub const UNIT_RECORD_SUFFIX: &str = ".cargo-share-unit.json";

impl UnitRecord {
    pub(crate) fn from_unit(
        rustc: &RustcArgs,
        plan: &WrapperPlan,
        manifest_dir: Option<&Path>,
    ) -> Self {
        let mut prefixes: Vec<(String, &str)> = vec![
            (plan.target_dir.display().to_string(), "/target"),
            (plan.cargo_home.display().to_string(), "/cargo"),
        ];
        if let Some(dir) = manifest_dir {
            prefixes.insert(0, (dir.display().to_string(), "/package"));
        }
        if let Ok(cwd) = std::env::current_dir() {
            prefixes.push((cwd.display().to_string(), "/cwd"));
        }
        let normalize = |arg: &str| -> String {
            let mut out = arg.to_string();
            for (from, to) in &prefixes {
                if !from.is_empty() {
                    out = out.replace(from.as_str(), to);
                }
            }
            out
        };
        let mut extern_stems = Vec::new();
        let mut normalized_args = Vec::new();
        let mut iter = rustc.args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                // Where outputs and diagnostics go does not shape the crate.
                "--out-dir" | "--error-format" | "--json" | "--diagnostic-width" | "--color" => {
                    iter.next();
                }
                "--extern" => {
                    if let Some(v) = iter.next() {
                        let (name, path) = v.split_once('=').unwrap_or((v, ""));
                        let stem = Path::new(path)
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        normalized_args.push(format!("--extern {name}={stem}"));
                        if !stem.is_empty() {
                            extern_stems.push(stem);
                        }
                    }
                }
                "-L" => {
                    // Search paths: only where to find things, which the extern stems and
                    // the OUT_DIR contents already identify.
                    iter.next();
                }
                a if a.starts_with("-Cincremental")
                    || a.starts_with("--error-format=")
                    || a.starts_with("--json=")
                    || a.starts_with("--diagnostic-width=")
                    || a.starts_with("--color=") => {}
                "-C" => {
                    if let Some(v) = iter.next() {
                        if !v.starts_with("incremental=") {
                            normalized_args.push(format!("-C{}", normalize(v)));
                        }
                    }
                }
                a => normalized_args.push(normalize(a)),
            }
        }
        // Added by the wrapper, not by Cargo, yet they shape the crate.
        normalized_args.extend(plan.binding_args());
        extern_stems.sort();
        extern_stems.dedup();
        let crate_name = rustc.value("--crate-name").unwrap_or_default().to_string();
        // rustc names the dep-info file after the crate, without the `lib` prefix.
        let dep_info = rustc.value("--out-dir").map(|d| {
            Path::new(d).join(format!(
                "{crate_name}{}.d",
                rustc.codegen("extra-filename").unwrap_or("")
            ))
        });
        let mut source_files: Vec<(String, String)> = dep_info
            .and_then(|d| std::fs::read_to_string(d).ok())
            .map(|text| dep_info_sources(&text))
            .unwrap_or_default()
            .into_iter()
            .map(|src| {
                let digest = crate::digest::file_sha256(Path::new(&src)).unwrap_or_default();
                (normalize(&src), digest)
            })
            .collect();
        source_files.sort();
        let out_dir_files = std::env::var_os("OUT_DIR")
            .map(|d| crate::digest::tree_sha256(Path::new(&d)))
            .unwrap_or_default();
        UnitRecord {
            crate_name,
            package: std::env::var("CARGO_PKG_NAME").unwrap_or_default(),
            version: std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
            source_files,
            out_dir_files,
            extern_stems,
            normalized_args,
        }
    }

    pub(crate) fn save_next_to_outputs(&self, rustc: &RustcArgs) -> Result<()> {
        let Some(out_dir) = rustc.value("--out-dir") else {
            return Ok(());
        };
        let stem = format!(
            "lib{}{}",
            self.crate_name,
            rustc.codegen("extra-filename").unwrap_or("")
        );
        let path = Path::new(out_dir).join(format!("{stem}{UNIT_RECORD_SUFFIX}"));
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// The source files of the first rule of a Makefile-style dep-info file (`out: src src ...`),
/// with `\ ` unescaped to a space. Paths are as rustc wrote them (relative to its working dir).
pub(crate) fn dep_info_sources(text: &str) -> Vec<String> {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    let Some(pos) = first.find(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = first[pos + 2..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Bumped whenever the wrapper changes how it rewrites units: builds from another wrapper
/// version are different builds.
pub const WRAPPER_ABI: &str = "wrapper-10";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_lists_sources_of_the_first_rule() {
        let text = "/t/libx-1.rmeta: src/lib.rs src/a\\ b.rs /t/out/gen.rs\n\nsrc/lib.rs:\n";
        assert_eq!(
            dep_info_sources(text),
            vec!["src/lib.rs", "src/a b.rs", "/t/out/gen.rs"]
        );
    }
}
