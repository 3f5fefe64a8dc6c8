//! cargo-share as the linker of shared library units: exporting bundled C libraries, and saving
//! a group's link so it can be redone exporting only what the set uses.
//!
//! ## Bundled C libraries
//!
//! A `-sys` crate whose build script bundles a static C library (`cargo:rustc-link-lib=static=git2`)
//! links that archive into its own dylib, but rustc's version script exports only Rust symbols,
//! so the C functions stay local and other crates that call them (git2 calling libgit2-sys's
//! `extern "C"` declarations) fail at link time with `undefined reference` (bat in
//! the book's docs/src/concepts/how-it-works.md, "The first prototype on the reference programs").
//! The fix has two halves:
//!
//! * the wrapper lists the archive's defined global symbols and passes them to the linker as
//!   `--undefined=SYM` so every member that defines one is pulled into the dylib;
//! * this module runs as the linker (`-C linker=cargo-share`) for that one unit and appends the
//!   same symbols to the `global:` list of the version script rustc generated, then runs the
//!   real linker.
//!
//! ## Trimmed groups
//!
//! A Rust dylib exports every reachable public item of every crate in it, and the linker keeps
//! all of that code, its data and its relocations. The programs of a set import a fraction of
//! it (16% in the book's docs/src/concepts/how-it-works.md, "Layouts compared"); every process that
//! loads a group still relocates all of it.
//! For each group (grouped layout) this module saves the link as rustc ran it (a recipe, with
//! rustc's temporary inputs copied); once every program of the set is linked, the build redoes
//! the link with a version script cut down to the symbols the set's files import
//! ([`relink_trimmed`](crate::saved_link::relink_trimmed)) and `--gc-sections` (rustc links dylibs without it), which drops what
//! nothing reaches. The trimmed file is the
//! run-time copy; the full one stays in Cargo's target directory for linking later builds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};

use crate::allocator;
use crate::import_order::link_with_imports_in_name_order;
use crate::panic_abort;
use crate::rustc_args::unit_output;
use crate::rustc_args::RustcArgs;
use crate::saved_link::{self, save_recipe};
use crate::version_script::{
    extend_version_script, global_names, linker_readable, version_script_arg,
};

/// Set for the linker run of a unit whose bundled C symbols must be exported: the symbol list.
pub(crate) const EXPORTS_ENV: &str = "CARGO_SHARE_EXPORT_SYMBOLS";
/// The linker rustc would have used (`cc` unless `-C linker` said otherwise).
pub(crate) const REAL_LINKER_ENV: &str = "CARGO_SHARE_REAL_LINKER";
/// Set for the linker run of a group (grouped layout): the directory where the link is saved so
/// that it can be redone with fewer exports ([`relink_trimmed`]).
pub(crate) const RELINK_ENV: &str = "CARGO_SHARE_RELINK_RECIPE";

/// The symbol list written for one unit.
#[derive(Debug)]
pub(crate) struct NativeExports {
    pub(crate) file: PathBuf,
    pub(crate) count: usize,
}

/// Static native libraries named on a rustc command line (`-l static=NAME`, with or without
/// modifiers), resolved against its `-L` search directories.
pub(crate) fn static_archives(rustc: &RustcArgs) -> Vec<PathBuf> {
    let dirs = search_dirs(rustc);
    let mut found = Vec::new();
    for lib in rustc.values("-l") {
        let Some((kind, name)) = lib.split_once('=') else {
            continue;
        };
        if kind.split(':').next() != Some("static") {
            continue;
        }
        let name = name.split(':').next().unwrap_or(name);
        let file = format!("lib{name}.a");
        if let Some(path) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) {
            found.push(path);
        }
    }
    found
}

/// Every static archive in the native search directories that dependencies' build scripts
/// added inside Cargo's target directory: what a group's members bundle. (System directories a
/// build script names are left alone: their archives are not bundled.)
pub(crate) fn dependency_archives(rustc: &RustcArgs, target_dir: &Path) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    for dir in search_dirs(rustc) {
        if !dir.starts_with(target_dir) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("lib") && name.ends_with(".a") && entry.path().is_file() {
                found.insert(entry.path());
            }
        }
    }
    found.into_iter().collect()
}

/// The `-L` directories of a rustc command line.
fn search_dirs(rustc: &RustcArgs) -> Vec<PathBuf> {
    rustc
        .values("-L")
        .map(|v| {
            let v = v.split_once('=').map_or(v, |(kind, path)| {
                if matches!(
                    kind,
                    "native" | "all" | "dependency" | "crate" | "framework"
                ) {
                    path
                } else {
                    v
                }
            });
            PathBuf::from(v)
        })
        .collect()
}

/// Every defined, global symbol of the members of a static archive.
pub(crate) fn archive_global_symbols(path: &Path) -> Result<BTreeSet<String>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let archive = ArchiveFile::parse(&*data)
        .with_context(|| format!("{} is not a static archive", path.display()))?;
    let mut symbols = BTreeSet::new();
    for member in archive.members() {
        let member = member?;
        let bytes = member.data(&*data)?;
        let Ok(obj) = object::File::parse(bytes) else {
            continue; // not an object file (e.g. a symbol table member)
        };
        for sym in obj.symbols() {
            if sym.is_global() && sym.is_definition() {
                if let Ok(name) = sym.name() {
                    if !name.is_empty() {
                        symbols.insert(name.to_string());
                    }
                }
            }
        }
    }
    Ok(symbols)
}

/// For a shared library unit that bundles static C archives (`archives`): write the symbol list next to the
/// unit's outputs and add `--undefined` for each symbol to the link. Returns `None` when the unit
/// bundles no static archive.
pub(crate) fn prepare_native_exports(
    rustc: &RustcArgs,
    archives: &[PathBuf],
    args: &mut Vec<String>,
) -> Result<Option<NativeExports>> {
    if archives.is_empty() {
        return Ok(None);
    }
    let mut symbols = BTreeSet::new();
    for archive in archives {
        symbols.extend(archive_global_symbols(archive)?);
    }
    if symbols.is_empty() {
        return Ok(None);
    }
    let (out_dir, stem) = unit_output(rustc);
    let list = out_dir.join(format!("{stem}.cargo-share-exports"));
    let undefined = out_dir.join(format!("{stem}.cargo-share-undefined"));
    let mut list_text = String::new();
    let mut undefined_text = String::new();
    for s in &symbols {
        list_text.push_str(s);
        list_text.push('\n');
        undefined_text.push_str(&format!("--undefined={s}\n"));
    }
    std::fs::write(&list, list_text).with_context(|| format!("writing {}", list.display()))?;
    std::fs::write(&undefined, undefined_text)
        .with_context(|| format!("writing {}", undefined.display()))?;
    args.push(format!("-Clink-arg=-Wl,@{}", undefined.display()));
    Ok(Some(NativeExports {
        file: list,
        count: symbols.len(),
    }))
}

/// Of `wanted`, the symbols some input of a link defines: a static archive or rlib on the
/// command line (read from its symbol index, or from its members when it has none), or an
/// object file. A group lists the bundled C libraries of everything it depends on, but only
/// those of its own members are linked into it: one that an earlier group holds is in that
/// group, and exporting it here would name a symbol the link does not define.
pub(crate) fn defined_by_link_inputs(
    args: &[String],
    wanted: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for arg in link_input_files(args) {
        if found.len() == wanted.len() {
            break;
        }
        let arg = arg.display().to_string();
        let arg = &arg;
        let path = Path::new(arg);
        let is_archive = arg.ends_with(".rlib") || arg.ends_with(".a");
        if !(is_archive || arg.ends_with(".o")) || !path.is_file() {
            continue;
        }
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        if is_archive {
            let Ok(archive) = ArchiveFile::parse(&*data) else {
                continue;
            };
            if let Ok(Some(index)) = archive.symbols() {
                for sym in index.flatten() {
                    if let Ok(name) = std::str::from_utf8(sym.name()) {
                        if wanted.contains(name) {
                            found.insert(name.to_string());
                        }
                    }
                }
                continue;
            }
            if let Ok(symbols) = archive_global_symbols(path) {
                found.extend(symbols.intersection(wanted).cloned());
            }
        } else if let Ok(obj) = object::File::parse(&*data) {
            for sym in obj.symbols() {
                if let Ok(name) = sym.name() {
                    if sym.is_global() && sym.is_definition() && wanted.contains(name) {
                        found.insert(name.to_string());
                    }
                }
            }
        }
    }
    found
}

/// The files a link reads: its path arguments, and each `-l NAME` (`-lNAME`, `-l:FILE`)
/// found as `libNAME.a` (or `FILE`) in its `-L` directories, as rustc names a crate's own static
/// native library.
fn link_input_files(args: &[String]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut names = Vec::new();
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let value = |flag: &str| -> Option<String> {
            if arg == flag {
                args.get(i + 1).cloned()
            } else {
                arg.strip_prefix(flag).map(String::from)
            }
        };
        if let Some(dir) = value("-L") {
            dirs.push(PathBuf::from(dir));
            i += usize::from(arg == "-L");
        } else if let Some(name) = value("-l") {
            names.push(name);
            i += usize::from(arg == "-l");
        } else if !arg.starts_with('-') {
            files.push(PathBuf::from(arg));
        }
        i += 1;
    }
    for name in names {
        let file = match name.strip_prefix(':') {
            Some(file) => file.to_string(),
            None => format!("lib{name}.a"),
        };
        files.extend(dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()));
    }
    files
}

/// Rewrite the `--undefined=SYM` argument file the wrapper added to this link
/// ([`prepare_native_exports`]) to name only the symbols in `keep`.
fn keep_undefined_flags(args: &[String], keep: &BTreeSet<String>) -> Result<()> {
    for arg in args {
        let Some(file) = arg.strip_prefix("-Wl,@") else {
            continue;
        };
        if !file.ends_with(".cargo-share-undefined") {
            continue;
        }
        let text: String = keep.iter().map(|s| format!("--undefined={s}\n")).collect();
        std::fs::write(file, text).with_context(|| format!("writing {file}"))?;
    }
    Ok(())
}

/// Whether this process was started as the linker of a unit (see [`run`]).
pub fn linker_mode() -> bool {
    std::env::var_os(REAL_LINKER_ENV).is_some()
        || std::env::var_os(EXPORTS_ENV).is_some()
        || std::env::var_os(RELINK_ENV).is_some()
        || std::env::var_os(allocator::EXPORT_ALLOCATOR_ENV).is_some()
        || std::env::var_os(panic_abort::PANIC_ABORT_ENV).is_some()
}

/// Entry point in linker mode: add the bundled C symbols to the version script
/// ([`EXPORTS_ENV`]), save the link for a later trimmed relink ([`RELINK_ENV`]), make an
/// executable export its allocator shim ([`allocator::EXPORT_ALLOCATOR_ENV`]) and, for a
/// `panic = "abort"` program, the aborting panic runtime ([`panic_abort::PANIC_ABORT_ENV`]),
/// then run the real linker.
pub fn run(mut args: Vec<String>) -> Result<i32> {
    let real = std::env::var(REAL_LINKER_ENV).unwrap_or_else(|_| "cc".into());
    // Kept until the link ends: patched copies of an executable's objects (only executables
    // need one).
    let mut scratch_dir = None;
    let panic_abort = std::env::var_os(panic_abort::PANIC_ABORT_ENV).map(PathBuf::from);
    if std::env::var_os(allocator::EXPORT_ALLOCATOR_ENV).is_some() || panic_abort.is_some() {
        let scratch = scratch_dir.insert(
            tempfile::Builder::new()
                .prefix("cargo-share-link-")
                .tempdir()
                .context("creating a scratch directory for the link")?,
        );
        let (mut expanded, from_file) = allocator::expand_argfile(&args)?;
        let mut changed = !allocator::export_allocator(&mut expanded, scratch.path())?.is_empty();
        if let Some(rlib) = &panic_abort {
            expanded.extend(panic_abort::abort_on_panic_args(rlib, scratch.path())?);
            changed = true;
        }
        if changed {
            args = if from_file {
                let file = scratch.path().join("link-args");
                allocator::write_argfile(&expanded, &file)?;
                vec![format!("@{}", file.display())]
            } else {
                expanded
            };
        }
    }
    let script = args.iter().find_map(|a| version_script_arg(a));
    if let Some(exports_file) = std::env::var_os(EXPORTS_ENV).map(PathBuf::from) {
        let symbols: Vec<String> = std::fs::read_to_string(&exports_file)
            .with_context(|| format!("reading {}", exports_file.display()))?
            .lines()
            .map(String::from)
            .collect();
        // Only what this link defines is exported (and pulled in with `--undefined`).
        let wanted: BTreeSet<String> = symbols.iter().cloned().collect();
        let (expanded, _) = allocator::expand_argfile(&args)?;
        let defined = defined_by_link_inputs(&expanded, &wanted);
        let symbols: Vec<String> = symbols
            .into_iter()
            .filter(|s| defined.contains(s))
            .collect();
        if defined.len() < wanted.len() {
            keep_undefined_flags(&expanded, &defined)?;
        }
        let Some(script) = script else {
            bail!(
                "cargo-share linker: rustc passed no version script, so the {} C symbols in {} \
                 cannot be exported",
                symbols.len(),
                exports_file.display()
            );
        };
        let text = std::fs::read_to_string(script)
            .with_context(|| format!("reading version script {script}"))?;
        std::fs::write(script, extend_version_script(&text, &symbols))
            .with_context(|| format!("writing version script {script}"))?;
    }
    let mut group_args = Vec::new();
    if let Some(dir) = std::env::var_os(RELINK_ENV).map(PathBuf::from) {
        save_recipe(&dir, &real, &args)
            .with_context(|| format!("saving the link of a group in {}", dir.display()))?;
        let exports = match script {
            Some(script) => global_names(
                &std::fs::read_to_string(script)
                    .with_context(|| format!("reading version script {script}"))?,
            ),
            None => Vec::new(),
        };
        group_args =
            saved_link::symbolic_binding_args(&dir, "interposable-full.dynlist", exports.iter())?;
    }
    if let Some(script) = script {
        // After the link is saved: the saved script keeps rustc's names as they are.
        let text = std::fs::read_to_string(script)
            .with_context(|| format!("reading version script {script}"))?;
        let (readable, rewritten) = linker_readable(&text);
        if rewritten > 0 {
            std::fs::write(script, readable)
                .with_context(|| format!("writing version script {script}"))?;
        }
    }
    let link = |extra: &[String]| -> Result<i32> {
        // Do not let the real linker see our own variables.
        let status = Command::new(&real)
            .args(&args)
            .args(&group_args)
            .args(extra)
            .env_remove(EXPORTS_ENV)
            .env_remove(REAL_LINKER_ENV)
            .env_remove(RELINK_ENV)
            .env_remove(allocator::EXPORT_ALLOCATOR_ENV)
            .env_remove(panic_abort::PANIC_ABORT_ENV)
            .status()
            .with_context(|| format!("running the linker `{real}`"))?;
        Ok(status.code().unwrap_or(1))
    };
    // The imports in name order, so that a library or program compiled again with the same
    // code links to the same bytes (`crate::import_order`).
    let (expanded, _) = allocator::expand_argfile(&args)?;
    match link_output(&expanded) {
        Some(output) => link_with_imports_in_name_order(&output, link),
        None => link(&[]),
    }
}

/// The output of a link (`-o FILE`).
fn link_output(args: &[String]) -> Option<PathBuf> {
    let at = args.iter().position(|a| a == "-o")?;
    args.get(at + 1).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_symbols_the_link_inputs_define_are_exported() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("own.c");
        std::fs::write(&c, "int own_add(int a, int b) { return a + b; }\n").unwrap();
        let obj = dir.path().join("own.o");
        let archive = dir.path().join("libown.a");
        let ok = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
        ok(Command::new("cc").arg("-c").arg(&c).arg("-o").arg(&obj));
        ok(Command::new("ar").arg("rcs").arg(&archive).arg(&obj));
        // `elsewhere_sha1` stands for a symbol of a C library an earlier group bundles.
        let wanted: BTreeSet<String> = ["own_add".to_string(), "elsewhere_sha1".to_string()].into();
        let args = |p: &Path| vec!["-shared".to_string(), p.display().to_string()];
        let expected: BTreeSet<String> = ["own_add".to_string()].into();
        assert_eq!(defined_by_link_inputs(&args(&archive), &wanted), expected);
        assert_eq!(defined_by_link_inputs(&args(&obj), &wanted), expected);
        assert!(defined_by_link_inputs(&["-shared".to_string()], &wanted).is_empty());
        // As rustc links a crate's own static native library: by name, from a search directory.
        let by_name = [
            "-L".to_string(),
            dir.path().display().to_string(),
            "-Wl,-Bstatic".to_string(),
            "-lown".to_string(),
        ];
        assert_eq!(defined_by_link_inputs(&by_name, &wanted), expected);
    }
}
