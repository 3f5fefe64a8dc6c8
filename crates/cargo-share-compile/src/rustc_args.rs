//! A rustc command line, read: its flags and values, and which kind of unit it compiles
//! (`UnitKind`), the decision every wrapper and linker step starts from.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::plan::WrapperPlan;

/// What kind of compilation one rustc invocation is, as far as sharing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum UnitKind {
    /// Not a crate compilation (version queries, Cargo's `___` probe, build-script probes).
    Passthrough,
    /// Compiled for the host: build scripts, proc-macros and what they depend on.
    Host,
    /// A target library crate turned into a shared dylib.
    SharedLib,
    /// A target library crate that stays static (a program's private crate).
    PrivateLib,
    /// A binary or test harness: linked against the shared dylibs.
    Executable,
    /// A plugin (`build --plugin-for`): a `dylib` or `cdylib` the program loads at run time,
    /// linked against the program's groups and libstd like an executable.
    Plugin,
}

/// A parsed view of the rustc command line that the wrapper cares about.
#[derive(Debug, Default)]
pub(crate) struct RustcArgs {
    pub(crate) args: Vec<String>,
}

impl RustcArgs {
    /// The value following `flag` (`--crate-name x`) or attached to it (`--crate-name=x`).
    pub(crate) fn values<'a>(&'a self, flag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut iter = self.args.iter().peekable();
        std::iter::from_fn(move || {
            while let Some(arg) = iter.next() {
                if arg == flag {
                    return iter.next().map(String::as_str);
                }
                if let Some(rest) = arg.strip_prefix(flag) {
                    if let Some(value) = rest.strip_prefix('=') {
                        return Some(value);
                    }
                }
            }
            None
        })
    }

    pub(crate) fn value<'a>(&'a self, flag: &'a str) -> Option<&'a str> {
        self.values(flag).next()
    }

    pub(crate) fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// `-C key=value` codegen options (either `-C key=v` or `-Ckey=v`).
    pub(crate) fn codegen(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        let mut found = None;
        let mut iter = self.args.iter();
        while let Some(arg) = iter.next() {
            let opt = if arg == "-C" {
                iter.next().map(String::as_str)
            } else {
                arg.strip_prefix("-C")
            };
            if let Some(v) = opt.and_then(|o| o.strip_prefix(prefix.as_str())) {
                found = Some(v);
            }
        }
        found
    }

    /// The crate root source file: the one positional `.rs` argument.
    pub(crate) fn source_file(&self) -> Option<&str> {
        let mut prev: Option<&str> = None;
        for arg in &self.args {
            let takes_value = prev.is_some_and(|p| {
                p.starts_with('-')
                    && !p.contains('=')
                    && p.len() > 1
                    && FLAGS_WITH_VALUE.contains(&p)
            });
            if !takes_value && arg.ends_with(".rs") && !arg.starts_with('-') {
                return Some(arg);
            }
            prev = Some(arg);
        }
        None
    }

    pub(crate) fn classify(&self, plan: &WrapperPlan, manifest_dir: Option<&Path>) -> UnitKind {
        let Some(name) = self.value("--crate-name") else {
            return UnitKind::Passthrough;
        };
        if name == "___" {
            return UnitKind::Passthrough;
        }
        let types: Vec<&str> = self.values("--crate-type").collect();
        if self.value("--target").is_none() || types.contains(&"proc-macro") {
            return UnitKind::Host;
        }
        if self.has("--test") || types.contains(&"bin") {
            return UnitKind::Executable;
        }
        if types.iter().any(|t| matches!(*t, "dylib" | "cdylib"))
            && manifest_dir.is_some_and(|d| plan.is_plugin(d))
        {
            return UnitKind::Plugin;
        }
        let is_lib =
            types.is_empty() || types.iter().any(|t| matches!(*t, "lib" | "rlib" | "dylib"));
        if is_lib && manifest_dir.is_some_and(|d| plan.is_shared(d)) {
            UnitKind::SharedLib
        } else {
            UnitKind::PrivateLib
        }
    }
}

/// rustc flags that take a separate value, so that value is not mistaken for the source file.
const FLAGS_WITH_VALUE: &[&str] = &[
    "--crate-name",
    "--edition",
    "--error-format",
    "--json",
    "--emit",
    "--crate-type",
    "--cfg",
    "--check-cfg",
    "--out-dir",
    "--target",
    "--cap-lints",
    "--extern",
    "-L",
    "-l",
    "-C",
    "-Z",
    "-o",
    "--remap-path-prefix",
    "--diagnostic-width",
    "--explain",
    "--print",
    "--sysroot",
];

/// Whether a crate root declares `#![no_std]` (directly or through `cfg_attr`).
///
/// A false positive only adds `--extern force:std`, which is harmless for a std crate; so a plain
/// text search over inner attributes is enough.
pub(crate) fn declares_no_std(source: &str) -> bool {
    source
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("#!["))
        .any(|l| l.contains("no_std"))
}

/// A unit's output directory and file stem (`NAME-HASH`, as Cargo's `-C extra-filename` makes
/// it), from its rustc command line.
pub(crate) fn unit_output(rustc: &RustcArgs) -> (PathBuf, String) {
    let out_dir = PathBuf::from(rustc.value("--out-dir").unwrap_or("."));
    let stem = format!(
        "{}{}",
        rustc.value("--crate-name").unwrap_or("crate"),
        rustc.codegen("extra-filename").unwrap_or("")
    );
    (out_dir, stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_std_detection_reads_inner_attributes_only() {
        assert!(declares_no_std("#![no_std]\nfn f() {}"));
        assert!(declares_no_std(
            "//! doc\n#![cfg_attr(not(feature = \"std\"), no_std)]"
        ));
        assert!(!declares_no_std("// this crate is not no_std\nfn f() {}"));
    }
}
