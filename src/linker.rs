//! cargo-share as the linker of shared library units: exporting bundled C libraries, and saving
//! a group's link so it can be redone exporting only what the set uses.
//!
//! ## Bundled C libraries
//!
//! A `-sys` crate whose build script bundles a static C library (`cargo:rustc-link-lib=static=git2`)
//! links that archive into its own dylib, but rustc's version script exports only Rust symbols,
//! so the C functions stay local and other crates that call them (git2 calling libgit2-sys's
//! `extern "C"` declarations) fail at link time with `undefined reference` (NOTES.md section 9,
//! bat). The fix has two halves:
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
//! it (NOTES.md section 10: 16%); every process that loads a group still relocates all of it.
//! For each group (grouped layout) this module saves the link as rustc ran it (a recipe, with
//! rustc's temporary inputs copied); once every program of the set is linked, the build redoes
//! the link with a version script cut down to the symbols the set's files import
//! ([`relink_trimmed`]) and `--gc-sections` (rustc links dylibs without it), which drops what
//! nothing reaches. The trimmed file is the
//! run-time copy; the full one stays in Cargo's target directory for linking later builds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};

use crate::wrapper::RustcArgs;

/// Set for the linker run of a unit whose bundled C symbols must be exported: the symbol list.
pub const EXPORTS_ENV: &str = "CARGO_SHARE_EXPORT_SYMBOLS";
/// The linker rustc would have used (`cc` unless `-C linker` said otherwise).
pub const REAL_LINKER_ENV: &str = "CARGO_SHARE_REAL_LINKER";
/// Set for the linker run of a group (grouped layout): the directory where the link is saved so
/// that it can be redone with fewer exports ([`relink_trimmed`]).
pub const RELINK_ENV: &str = "CARGO_SHARE_RELINK_RECIPE";

/// A saved link: the real linker and its arguments, with rustc's temporary inputs (objects,
/// version script) copied into the recipe directory, since rustc deletes them after linking.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LinkRecipe {
    linker: String,
    args: Vec<String>,
    /// Index in `args` of the output path (after `-o`).
    output: usize,
    /// Index in `args` of the version script argument.
    version_script: usize,
}

const RECIPE_FILE: &str = "recipe.json";

/// The symbol list written for one unit.
#[derive(Debug)]
pub struct NativeExports {
    pub file: PathBuf,
    pub count: usize,
}

/// Static native libraries named on a rustc command line (`-l static=NAME`, with or without
/// modifiers), resolved against its `-L` search directories.
pub fn static_archives(rustc: &RustcArgs) -> Vec<PathBuf> {
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
pub fn dependency_archives(rustc: &RustcArgs, target_dir: &Path) -> Vec<PathBuf> {
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
pub fn archive_global_symbols(path: &Path) -> Result<BTreeSet<String>> {
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
pub fn prepare_native_exports(
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

/// A unit's output directory and file stem (`NAME-HASH`, as Cargo's `-C extra-filename` makes
/// it), from its rustc command line.
fn unit_output(rustc: &RustcArgs) -> (PathBuf, String) {
    let out_dir = PathBuf::from(rustc.value("--out-dir").unwrap_or("."));
    let stem = format!(
        "{}{}",
        rustc.value("--crate-name").unwrap_or("crate"),
        rustc.codegen("extra-filename").unwrap_or("")
    );
    (out_dir, stem)
}

/// Where the link of a shared library is saved: next to it, `libNAME-HASH.cargo-share-link/`.
pub fn saved_link_dir(library: &Path) -> PathBuf {
    let stem = library
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    library.with_file_name(format!("{stem}.cargo-share-link"))
}

/// [`saved_link_dir`] of the dylib a group unit's rustc command line produces.
pub fn group_link_dir(rustc: &RustcArgs) -> PathBuf {
    let (out_dir, stem) = unit_output(rustc);
    saved_link_dir(&out_dir.join(format!("lib{stem}.so")))
}

/// In a saved-link directory: the symbols the trimmed copy exports, one per line, after a first
/// line naming the relink ([`TRIM_FORMAT`]).
pub const TRIMMED_EXPORTS_FILE: &str = "exports";

/// Add `symbols` to the `global:` list of a version script as rustc writes it.
pub fn extend_version_script(script: &str, symbols: &[String]) -> String {
    let mut extra = String::new();
    for s in symbols {
        extra.push_str(&format!("    {s};\n"));
    }
    if let Some(pos) = script.find("global:") {
        let insert_at = pos + "global:".len();
        let (head, tail) = script.split_at(insert_at);
        format!("{head}\n{extra}{tail}")
    } else if let Some(pos) = script.find('{') {
        let (head, tail) = script.split_at(pos + 1);
        format!("{head}\n  global:\n{extra}{tail}")
    } else {
        script.to_string()
    }
}

/// Whether this process was started as the linker of a unit (see [`run`]).
pub fn linker_mode() -> bool {
    std::env::var_os(EXPORTS_ENV).is_some() || std::env::var_os(RELINK_ENV).is_some()
}

fn version_script_arg(arg: &str) -> Option<&str> {
    arg.strip_prefix("-Wl,--version-script=")
        .or_else(|| arg.strip_prefix("--version-script="))
}

/// Entry point in linker mode: add the bundled C symbols to the version script
/// ([`EXPORTS_ENV`]), save the link for a later trimmed relink ([`RELINK_ENV`]), then run the
/// real linker.
pub fn run(args: Vec<String>) -> Result<i32> {
    let real = std::env::var(REAL_LINKER_ENV).unwrap_or_else(|_| "cc".into());
    let script = args.iter().find_map(|a| version_script_arg(a));
    if let Some(exports_file) = std::env::var_os(EXPORTS_ENV).map(PathBuf::from) {
        let symbols: Vec<String> = std::fs::read_to_string(&exports_file)
            .with_context(|| format!("reading {}", exports_file.display()))?
            .lines()
            .map(String::from)
            .collect();
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
    if let Some(dir) = std::env::var_os(RELINK_ENV).map(PathBuf::from) {
        save_recipe(&dir, &real, &args)
            .with_context(|| format!("saving the link of a group in {}", dir.display()))?;
    }
    // Do not let the real linker see our own variables.
    let status = Command::new(&real)
        .args(&args)
        .env_remove(EXPORTS_ENV)
        .env_remove(REAL_LINKER_ENV)
        .env_remove(RELINK_ENV)
        .status()
        .with_context(|| format!("running the linker `{real}`"))?;
    Ok(status.code().unwrap_or(1))
}

/// Save a link into `dir`: inputs that rustc deletes after linking (object files, the version
/// script) are copied; libraries (`.rlib`, `.a`, `.so`) stay where Cargo keeps them.
fn save_recipe(dir: &Path, linker: &str, args: &[String]) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let mut saved = Vec::with_capacity(args.len());
    let mut output = None;
    let mut version_script = None;
    let mut copied = 0usize;
    let mut copy = |from: &str| -> Result<String> {
        let name = Path::new(from)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let to = dir.join(format!("{copied}-{name}"));
        copied += 1;
        std::fs::copy(from, &to).with_context(|| format!("copying {from}"))?;
        Ok(to.display().to_string())
    };
    for (i, arg) in args.iter().enumerate() {
        if arg.starts_with('@') {
            bail!("the link uses a response file ({arg}); relinking it is not supported");
        }
        if i > 0 && args[i - 1] == "-o" {
            output = Some(i);
            saved.push(arg.clone());
        } else if let Some(script) = version_script_arg(arg) {
            version_script = Some(i);
            saved.push(format!("-Wl,--version-script={}", copy(script)?));
        } else if Path::new(arg).is_file()
            && !arg.ends_with(".rlib")
            && !arg.ends_with(".a")
            && !arg.ends_with(".so")
        {
            saved.push(copy(arg)?);
        } else {
            saved.push(arg.clone());
        }
    }
    let recipe = LinkRecipe {
        linker: linker.to_string(),
        args: saved,
        output: output.context("the link names no output (-o)")?,
        version_script: version_script.context("the link has no version script")?,
    };
    std::fs::write(dir.join(RECIPE_FILE), serde_json::to_vec_pretty(&recipe)?)?;
    Ok(())
}

/// Whether a group's link was saved in `dir`.
pub fn has_recipe(dir: &Path) -> bool {
    dir.join(RECIPE_FILE).is_file()
}

/// Keep only the `global:` entries of a version script that are in `keep`. Returns the new
/// script and how many entries were kept and dropped.
pub fn filter_version_script(script: &str, keep: &BTreeSet<String>) -> (String, usize, usize) {
    let mut out = String::with_capacity(script.len());
    let (mut in_global, mut kept, mut dropped) = (false, 0, 0);
    for line in script.lines() {
        let t = line.trim();
        if t == "global:" {
            in_global = true;
        } else if t == "local:" || t.starts_with('}') {
            in_global = false;
        } else if in_global {
            if let Some(sym) = t.strip_suffix(';') {
                if keep.contains(sym.trim()) {
                    kept += 1;
                } else {
                    dropped += 1;
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, kept, dropped)
}

/// How [`relink_trimmed`] links, recorded with each trimmed group: change it when the relink
/// changes.
pub const TRIM_FORMAT: &str = "# cargo-share trimmed relink 2: version script, --gc-sections";

/// Redo the link saved in `dir`, exporting only the symbols in `keep` (what the programs and
/// libraries of the set import), into `output`. Unexported code that nothing reaches is then
/// dropped by the linker's `--gc-sections`, with the relocations it carried.
pub fn relink_trimmed(dir: &Path, keep: &BTreeSet<String>, output: &Path) -> Result<()> {
    let recipe: LinkRecipe = serde_json::from_slice(
        &std::fs::read(dir.join(RECIPE_FILE))
            .with_context(|| format!("reading the saved link in {}", dir.display()))?,
    )?;
    let mut args = recipe.args.clone();
    let script_path = version_script_arg(&args[recipe.version_script])
        .context("the saved link lost its version script")?
        .to_string();
    let script = std::fs::read_to_string(&script_path)?;
    let (trimmed, kept, _) = filter_version_script(&script, keep);
    let trimmed_path = dir.join("version-script.trimmed");
    std::fs::write(&trimmed_path, trimmed)?;
    args[recipe.version_script] = format!("-Wl,--version-script={}", trimmed_path.display());
    args[recipe.output] = output.display().to_string();
    // rustc links dylibs without garbage collection (everything is exported anyway); with the
    // exports cut down, sections nothing reaches can go.
    args.push("-Wl,--gc-sections".into());
    let result = Command::new(&recipe.linker)
        .args(&args)
        .output()
        .with_context(|| format!("running the linker `{}`", recipe.linker))?;
    if !result.status.success() {
        bail!(
            "relinking {} with {kept} exports failed: {}",
            output.display(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_script_keeps_only_the_symbols_asked_for() {
        let script = "{\n  global:\n    a;\n    b;\n    c;\n\n  local:\n    *;\n};\n";
        let keep: BTreeSet<String> = ["a".to_string(), "c".to_string()].into();
        let (out, kept, dropped) = filter_version_script(script, &keep);
        assert_eq!((kept, dropped), (2, 1));
        assert_eq!(
            out,
            "{\n  global:\n    a;\n    c;\n\n  local:\n    *;\n};\n"
        );
    }

    #[test]
    fn version_script_gains_globals() {
        let script = "{\n  global:\n    _ZN3foo3bar;\n  local:\n    *;\n};\n";
        let out = extend_version_script(script, &["git_repository_open".into()]);
        assert!(out.contains("global:\n    git_repository_open;\n"), "{out}");
        assert!(out.contains("local:\n    *;"));
        let bare = "{\n  local:\n    *;\n};\n";
        let out = extend_version_script(bare, &["x".into()]);
        assert!(out.starts_with("{\n  global:\n    x;\n"), "{out}");
    }
}
