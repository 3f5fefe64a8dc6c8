//! A program's executable built in two steps: its code, compiled to objects that are kept and
//! reused while their inputs match, and its link, done again whenever Cargo asks.
//!
//! Why: a program's own crates depend on its groups' facades, so when an install changes the
//! groups around an installed program (a crate joins a group, a group splits), Cargo compiles
//! the program again, though nothing in its code changed. What changed is only what it links:
//! on x86-64 a PIE's calls and data references to another crate are compiled the same way
//! whether that crate ends up in the executable or in a shared library (an external
//! declaration is never assumed local), the stable crate ids leave the groups out of a
//! program's symbol names (`stable_id`), and the code step below does not load the groups at
//! all. So the objects of a program compiled against one grouping are the objects of the same
//! program compiled against another, and only the link has to be done again.
//!
//! The two steps, for every grouped executable that is not a test harness:
//!
//! 1. **Code**: rustc with the unit's arguments but `--emit=dep-info,obj`, without the group
//!    facades, into a slot `TARGET/cargo-share-objects/CRATE-KEY/` whose key hashes the
//!    arguments that shape the code (the toolchain's `rustc -vV`, the working directory, every
//!    flag but outputs, search paths and Cargo's hashes, the names of the dependencies). The
//!    slot records what the compile read ([`Inputs`]): each dependency's file contents, each
//!    source file of rustc's dep-info, each environment variable it recorded. A later compile
//!    with the same key whose inputs all match takes the objects and rustc's diagnostics from
//!    the slot instead of compiling.
//! 2. **Link**: rustc on an empty `#![no_main]` crate with the unit's own arguments (crate name,
//!    flags, linker, run path), every dependency and group loaded (`--extern force:`), and the
//!    objects passed first on the linker's command line (`-Z pre-link-arg`). rustc then decides
//!    what it always decides at a link (which crates are linked statically and which from
//!    which shared library, the native libraries, the allocator, `panic = "abort"`) and links
//!    through cargo-share as before.
//!
//! A test harness is compiled as before (a harness is never installed, and its `main` comes from
//! libtest). So is a `no_std` executable and any unit the wrapper does not group.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::digest::{file_sha256, sha256_hex};
use crate::plan::{is_group_extern, WrapperPlan};
use crate::rustc_args::{declares_no_std, unit_output, RustcArgs, UnitKind};
use crate::unit_record::dep_info_sources;
use crate::user_wrapper::compiler_command;

/// The directory, in Cargo's target directory, that holds the slots.
const OBJECTS_DIR: &str = "cargo-share-objects";

/// Bumped when what a slot holds, or how its key is made, changes.
const SLOT_TAG: &str = "cargo-share program objects v1";

/// What one compile of a program's code read, as the slot records it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Inputs {
    /// Each `--extern` (name as given, without modifiers) and the SHA-256 of its file.
    externs: Vec<(String, String)>,
    /// Each source file of rustc's dep-info (as rustc wrote it) and its SHA-256.
    files: Vec<(String, String)>,
    /// Each environment variable rustc recorded (`# env-dep:`) and its value, escaped as
    /// rustc escapes it (`None`: unset).
    env: Vec<(String, Option<String>)>,
    /// Each file the slot keeps (objects, library files, dep-info, diagnostics) and its
    /// SHA-256: a slot whose files are not all there as written is compiled again.
    #[serde(default)]
    kept: Vec<(String, String)>,
    /// What the slot's key hashes, one part a line: read when a program is compiled again
    /// where its slot was expected to hold (a part that changes from build to build).
    #[serde(default)]
    key: Vec<String>,
}

/// What a program's unit reuses from its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// A program's executable (not a test harness): its objects, then always a link.
    Executable,
    /// A program's own library (an rlib of a package Cargo builds as asked): its files.
    Library,
}

/// Whether and how this unit reuses a slot: a program's executable or own library (a static
/// library of a package Cargo builds as asked, `primary`, not as a dependency) in a grouped
/// build, compiled to a file (`--emit` with `link`), whose source is not `no_std`.
pub(crate) fn applies(
    rustc: &RustcArgs,
    plan: &WrapperPlan,
    kind: UnitKind,
    primary: bool,
) -> Option<Reuse> {
    let links = rustc
        .value("--emit")
        .is_some_and(|e| e.split(',').any(|k| k == "link"));
    if !plan.grouped || !links {
        return None;
    }
    let reuse = match kind {
        UnitKind::Executable if !rustc.has("--test") => Reuse::Executable,
        UnitKind::PrivateLib
            if primary
                && rustc
                    .values("--crate-type")
                    .all(|t| t == "lib" || t == "rlib") =>
        {
            Reuse::Library
        }
        _ => return None,
    };
    let std_source = rustc
        .source_file()
        .and_then(|s| std::fs::read_to_string(s).ok())
        .is_some_and(|text| !declares_no_std(&text));
    std_source.then_some(reuse)
}

/// Build the unit from its slot or compiled: an executable's objects and then its link, a
/// library's files. Returns rustc's exit status.
pub(crate) fn run(
    rustc: &Path,
    unit: &RustcArgs,
    rewritten: &Unit,
    plan: &WrapperPlan,
    reuse: Reuse,
) -> Result<i32> {
    let code = CodeStep::new(rustc, rewritten)?;
    let slot = plan.target_dir.join(OBJECTS_DIR).join(format!(
        "{}-{}",
        unit.value("--crate-name").unwrap_or("crate"),
        &code.key[..20]
    ));
    let externs = extern_hashes(&code.args)?;
    let reused = match read_inputs(&slot) {
        Some(recorded) => {
            recorded.externs == externs && inputs_unchanged(&recorded) && intact(&slot, &recorded)
        }
        None => false,
    };
    let (out_dir, stem) = unit_output(unit);
    match (reuse, reused) {
        (Reuse::Executable, true) => replay_diagnostics(&slot)?,
        (Reuse::Executable, false) => {
            let status = code.compile_objects(rustc, &slot, externs)?;
            if status != 0 {
                return Ok(status);
            }
        }
        (Reuse::Library, true) => {
            replay_diagnostics(&slot)?;
            return library_from_slot(unit, &slot, &out_dir, &stem).map(|()| 0);
        }
        (Reuse::Library, false) => return code.compile_library(rustc, &slot, externs, unit),
    }
    copy_dep_info(unit, &slot)?;
    link(rustc, rewritten, &slot, plan)
}

/// The unit as the wrapper rewrote it: rustc's arguments and the environment it runs with.
pub(crate) struct Unit<'a> {
    pub(crate) args: &'a [String],
    pub(crate) env: &'a [(String, String)],
}

/// The code step's command line and environment, and the slot key they give.
struct CodeStep {
    args: Vec<String>,
    env: Vec<(String, String)>,
    key: String,
    /// What `key` hashes.
    key_parts: Vec<String>,
}

impl CodeStep {
    /// The unit's arguments without the group facades (and without `-Z unstable-options` and
    /// `RUSTC_BOOTSTRAP` when the facades were what needed them), and the key of the slot.
    fn new(rustc: &Path, rewritten: &Unit) -> Result<Self> {
        let mut args = without_groups(rewritten.args);
        let mut env = rewritten.env.to_vec();
        if !args.iter().any(|a| a.starts_with("force:")) {
            remove_unstable_options(&mut args);
            env.retain(|(k, _)| k != "RUSTC_BOOTSTRAP");
        }
        // Asked of the compiler Cargo runs for this unit, which is the one the objects come from.
        let version = crate::toolchain::version_text(rustc)?;
        let cwd = std::env::current_dir().context("reading the working directory")?;
        let mut key = vec![
            SLOT_TAG.to_string(),
            version,
            cwd.display().to_string(),
            format!(
                "RUSTC_BOOTSTRAP={:?}",
                env.iter().find(|(k, _)| k == "RUSTC_BOOTSTRAP")
            ),
        ];
        key.extend(key_args(&args));
        Ok(CodeStep {
            key: sha256_hex(key.join("\0").as_bytes()),
            key_parts: key,
            args,
            env,
        })
    }

    /// Compile the objects into `slot` (through a sibling directory, renamed into place once
    /// complete), forwarding rustc's diagnostics and keeping them. Returns rustc's exit status.
    fn compile_objects(
        &self,
        rustc: &Path,
        slot: &Path,
        externs: Vec<(String, String)>,
    ) -> Result<i32> {
        let fresh = empty_sibling(slot)?;
        let mut args = Vec::with_capacity(self.args.len() + 2);
        let mut iter = self.args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--out-dir" || arg == "--emit" {
                iter.next();
            } else if !arg.starts_with("--out-dir=") && !arg.starts_with("--emit=") {
                args.push(arg.clone());
            }
        }
        args.push("--emit=dep-info,obj".into());
        args.extend(["--out-dir".into(), fresh.display().to_string()]);
        let (status, diagnostics) = run_keeping_diagnostics(rustc, &args, &self.env, false)?;
        if status != 0 {
            std::fs::remove_dir_all(&fresh).ok();
            return Ok(status);
        }
        let dep_info = dep_info_file(&fresh)?;
        self.fill_slot(&fresh, slot, &diagnostics, &dep_info, externs)?;
        Ok(0)
    }

    /// Compile a library where Cargo asked (its notifications passed on, so Cargo pipelines as
    /// ever), then keep a copy of its files in `slot`. Returns rustc's exit status.
    fn compile_library(
        &self,
        rustc: &Path,
        slot: &Path,
        externs: Vec<(String, String)>,
        unit: &RustcArgs,
    ) -> Result<i32> {
        let (status, diagnostics) = run_keeping_diagnostics(rustc, &self.args, &self.env, true)?;
        if status != 0 {
            return Ok(status);
        }
        let (out_dir, stem) = unit_output(unit);
        let fresh = empty_sibling(slot)?;
        for file in library_files(&stem) {
            let from = out_dir.join(&file);
            if from.is_file() {
                copy(&from, &fresh.join(&file))?;
            }
        }
        let dep_info = out_dir.join(format!("{stem}.d"));
        self.fill_slot(&fresh, slot, &diagnostics, &dep_info, externs)?;
        Ok(0)
    }

    /// Keep rustc's diagnostics and what the compile read (`dep_info`, `externs`, this step's
    /// key) in `fresh`, then put it in the place of `slot`.
    fn fill_slot(
        &self,
        fresh: &Path,
        slot: &Path,
        diagnostics: &[u8],
        dep_info: &Path,
        externs: Vec<(String, String)>,
    ) -> Result<()> {
        std::fs::write(fresh.join("diagnostics"), diagnostics)?;
        let inputs = Inputs {
            key: self.key_parts.clone(),
            ..recorded_inputs(dep_info, externs)?
        };
        write_record(fresh, inputs)?;
        replace_dir(fresh, slot)
    }
}

/// The files rustc writes for a library whose file stem is `stem` (`NAME-HASH`).
fn library_files(stem: &str) -> [String; 3] {
    [
        format!("lib{stem}.rlib"),
        format!("lib{stem}.rmeta"),
        format!("{stem}.d"),
    ]
}

/// A library's files from its slot, under Cargo's names for this unit (`stem`) and, where
/// missing, under the names they were compiled with: a crate compiled against the library
/// records that name, and rustc looks for the library by it when it loads that crate's
/// dependencies.
fn library_from_slot(unit: &RustcArgs, slot: &Path, out_dir: &Path, stem: &str) -> Result<()> {
    let dep_info = dep_info_file(slot)?;
    let kept_stem = dep_info
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (kept, wanted) in library_files(&kept_stem).iter().zip(library_files(stem)) {
        let from = slot.join(kept);
        if !from.is_file() {
            continue;
        }
        copy(&from, &out_dir.join(wanted))?;
        let by_kept_name = out_dir.join(kept);
        if !by_kept_name.exists() {
            copy(&from, &by_kept_name)?;
        }
    }
    if unit
        .value("--json")
        .is_some_and(|j| j.split(',').any(|k| k == "artifacts"))
    {
        let rmeta = out_dir.join(format!("lib{stem}.rmeta"));
        let line = serde_json::json!({
            "$message_type": "artifact",
            "artifact": rmeta.display().to_string(),
            "emit": "metadata",
        });
        writeln!(std::io::stderr().lock(), "{line}")?;
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// `slot`'s sibling `SLOT.new`, empty: where a slot is written before it replaces the old one.
fn empty_sibling(slot: &Path) -> Result<PathBuf> {
    let fresh = slot.with_extension("new");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).with_context(|| format!("removing {}", fresh.display()))?;
    }
    std::fs::create_dir_all(&fresh).with_context(|| format!("creating {}", fresh.display()))?;
    Ok(fresh)
}

/// Put the complete `fresh` in the place of `slot`.
fn replace_dir(fresh: &Path, slot: &Path) -> Result<()> {
    if slot.exists() {
        std::fs::remove_dir_all(slot).with_context(|| format!("removing {}", slot.display()))?;
    }
    std::fs::rename(fresh, slot)
        .with_context(|| format!("renaming {} to {}", fresh.display(), slot.display()))
}

/// Run rustc, its diagnostics passed on to Cargo and kept (without artifact notifications, which
/// are passed on only if `notifications`). Returns the exit status and the kept lines.
fn run_keeping_diagnostics(
    rustc: &Path,
    args: &[String],
    env: &[(String, String)],
    notifications: bool,
) -> Result<(i32, Vec<u8>)> {
    let mut cmd = compiler_command(rustc, args, env);
    cmd.stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", rustc.display()))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let mut kept = Vec::new();
    let mut err_out = std::io::stderr().lock();
    for line in BufReader::new(stderr).split(b'\n') {
        let line = line?;
        let notification = is_artifact_notification(&line);
        if notification && !notifications {
            continue;
        }
        err_out.write_all(&line)?;
        err_out.write_all(b"\n")?;
        if !notification {
            kept.extend_from_slice(&line);
            kept.push(b'\n');
        }
    }
    let status = child.wait()?;
    Ok((status.code().unwrap_or(101), kept))
}

/// `args` without `--extern` of the group facades.
fn without_groups(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--extern" && args.get(i + 1).is_some_and(|v| is_group_extern(v)) {
            i += 2;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}

/// Remove `-Z unstable-options` (both spellings).
fn remove_unstable_options(args: &mut Vec<String>) {
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-Z" && args.get(i + 1).is_some_and(|v| v == "unstable-options") {
            args.drain(i..i + 2);
        } else if args[i] == "-Zunstable-options" {
            args.remove(i);
        } else {
            i += 1;
        }
    }
}

/// The arguments as the key sees them: without the output directory, emitted kinds, search
/// paths, Cargo's file name suffix and incremental directory; a dependency by its name (its
/// file's contents are checked against the slot's [`Inputs`]).
fn key_args(args: &[String]) -> Vec<String> {
    const WITH_VALUE: &[&str] = &["--out-dir", "--emit", "-L"];
    const CODEGEN: &[&str] = &["extra-filename=", "incremental="];
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let a = arg.as_str();
        if WITH_VALUE.contains(&a) {
            iter.next();
            continue;
        }
        if WITH_VALUE.iter().any(|f| a.starts_with(&format!("{f}="))) || a.starts_with("-L") {
            continue;
        }
        match a {
            "--extern" => {
                if let Some(v) = iter.next() {
                    out.push(format!(
                        "--extern {}",
                        v.split_once('=').map_or(v.as_str(), |(n, _)| n)
                    ));
                }
            }
            "-C" => {
                if let Some(v) = iter.next() {
                    if !CODEGEN.iter().any(|c| v.starts_with(c)) {
                        out.push(format!("-C{v}"));
                    }
                }
            }
            a if a.starts_with("-C") && CODEGEN.iter().any(|c| a[2..].starts_with(c)) => {}
            a => out.push(a.to_string()),
        }
    }
    out
}

/// Each `--extern name=path` of `args` as (name, SHA-256 of the file).
fn extern_hashes(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in args.windows(2) {
        if pair[0] != "--extern" {
            continue;
        }
        if let Some((name, path)) = pair[1].split_once('=') {
            out.push((name.to_string(), file_sha256(Path::new(path))?));
        }
    }
    Ok(out)
}

fn read_inputs(slot: &Path) -> Option<Inputs> {
    serde_json::from_slice(&std::fs::read(slot.join("inputs.json")).ok()?).ok()
}

/// Write the slot's record (`inputs.json`), with the files it keeps listed.
fn write_record(fresh: &Path, mut inputs: Inputs) -> Result<()> {
    inputs.kept = crate::digest::tree_sha256(fresh);
    std::fs::write(fresh.join("inputs.json"), serde_json::to_vec(&inputs)?)
        .with_context(|| format!("writing {}", fresh.join("inputs.json").display()))
}

/// Whether the files a slot keeps are all there as they were written.
fn intact(slot: &Path, recorded: &Inputs) -> bool {
    !recorded.kept.is_empty()
        && recorded
            .kept
            .iter()
            .all(|(name, sha)| file_sha256(&slot.join(name)).is_ok_and(|now| &now == sha))
}

/// Whether every source file and environment variable a slot's compile read is as it was.
fn inputs_unchanged(recorded: &Inputs) -> bool {
    recorded
        .files
        .iter()
        .all(|(path, sha)| file_sha256(Path::new(path)).is_ok_and(|now| &now == sha))
        && recorded
            .env
            .iter()
            .all(|(var, value)| &std::env::var(var).ok().map(|v| escape_env(&v)) == value)
}

/// The inputs of a compile: its dep-info's files and variables, and `externs`.
fn recorded_inputs(dep_info: &Path, externs: Vec<(String, String)>) -> Result<Inputs> {
    let text = std::fs::read_to_string(dep_info)
        .with_context(|| format!("reading {}", dep_info.display()))?;
    let mut files = Vec::new();
    for path in dep_info_sources(&text) {
        let sha = file_sha256(Path::new(&path))?;
        files.push((path, sha));
    }
    let env = text
        .lines()
        .filter_map(|l| l.strip_prefix("# env-dep:"))
        .map(|dep| match dep.split_once('=') {
            Some((var, value)) => (var.to_string(), Some(value.to_string())),
            None => (dep.to_string(), None),
        })
        .collect();
    Ok(Inputs {
        externs,
        files,
        env,
        kept: Vec::new(),
        key: Vec::new(),
    })
}

/// An environment variable's value as rustc writes it in dep-info (`\n`, `\r` and `\`
/// escaped).
fn escape_env(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

/// The one `.d` file rustc wrote in a slot.
fn dep_info_file(slot: &Path) -> Result<PathBuf> {
    files_with_extension(slot, "d")?
        .into_iter()
        .next()
        .with_context(|| format!("rustc wrote no dep-info in {}", slot.display()))
}

/// The files of `dir` whose extension is `ext`, in a fixed order (by length, then name: rustc's
/// code units `cgu.2` before `cgu.10`).
fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort_by_key(|p| (p.as_os_str().len(), p.clone()));
    Ok(files)
}

/// rustc's diagnostics of the compile the slot holds, written again, as Cargo expects of a
/// compile that ran.
fn replay_diagnostics(slot: &Path) -> Result<()> {
    let kept = std::fs::read(slot.join("diagnostics")).unwrap_or_default();
    std::io::stderr().lock().write_all(&kept)?;
    Ok(())
}

/// Cargo reads the unit's dep-info where rustc would have written it (`--out-dir`, file stem).
fn copy_dep_info(unit: &RustcArgs, slot: &Path) -> Result<()> {
    if !unit
        .value("--emit")
        .is_some_and(|e| e.split(',').any(|k| k == "dep-info"))
    {
        return Ok(());
    }
    let (out_dir, stem) = unit_output(unit);
    let to = out_dir.join(format!("{stem}.d"));
    let from = dep_info_file(slot)?;
    std::fs::copy(&from, &to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Link the executable from the slot's objects: rustc on an empty `#![no_main]` crate with the
/// unit's arguments, every dependency loaded, the objects first on the linker's command line.
fn link(rustc: &Path, rewritten: &Unit, slot: &Path, plan: &WrapperPlan) -> Result<i32> {
    let source = plan.target_dir.join(OBJECTS_DIR).join("no_main.rs");
    if !source.is_file() {
        let tmp = source.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, "#![no_main]\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &source).with_context(|| format!("writing {}", source.display()))?;
    }
    let unit = RustcArgs {
        args: rewritten.args.to_vec(),
    };
    let original_source = unit.source_file().map(String::from);
    let mut args = Vec::with_capacity(rewritten.args.len() + 16);
    let mut iter = rewritten.args.iter();
    while let Some(arg) = iter.next() {
        let a = arg.as_str();
        if Some(a) == original_source.as_deref() {
            args.push(source.display().to_string());
        } else if a == "--emit" || a == "--cap-lints" {
            iter.next();
        } else if a.starts_with("--emit=") || a.starts_with("--cap-lints=") {
        } else if a == "--extern" {
            if let Some(v) = iter.next() {
                args.extend(["--extern".to_string(), forced(v)]);
            }
        } else if a == "-C"
            && iter
                .clone()
                .next()
                .is_some_and(|v| v.starts_with("incremental="))
        {
            iter.next();
        } else if !a.starts_with("-Cincremental=") {
            args.push(arg.clone());
        }
    }
    args.extend(["--emit=link".into(), "--cap-lints".into(), "allow".into()]);
    if !args
        .windows(2)
        .any(|w| w[0] == "-Z" && w[1] == "unstable-options")
    {
        args.extend(["-Z".into(), "unstable-options".into()]);
    }
    for object in files_with_extension(slot, "o")? {
        args.push(format!("-Zpre-link-arg={}", object.display()));
    }
    let mut cmd = Command::new(rustc);
    cmd.args(&args);
    for (k, v) in rewritten.env {
        cmd.env(k, v);
    }
    cmd.env("RUSTC_BOOTSTRAP", "1");
    let status = cmd
        .status()
        .with_context(|| format!("running {}", rustc.display()))?;
    Ok(status.code().unwrap_or(101))
}

/// An `--extern` value with the `force` modifier, so that rustc loads (and links) the crate
/// though the empty crate never names it.
fn forced(value: &str) -> String {
    match value.split_once(':') {
        Some((modifiers, _)) if !modifiers.contains('=') => {
            if modifiers.split(',').any(|m| m == "force") {
                value.to_string()
            } else {
                format!("force,{value}")
            }
        }
        _ => format!("force:{value}"),
    }
}

fn is_artifact_notification(line: &[u8]) -> bool {
    line.starts_with(b"{\"$message_type\":\"artifact\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_key_leaves_out_groups_outputs_and_cargos_hashes() {
        let one = strings(
            "--crate-name rg --edition=2021 src/main.rs --emit=dep-info,link -C opt-level=3 \
             -C metadata=stable -C extra-filename=-aaaa --out-dir /t/deps -L dependency=/t/deps \
             --extern regex=/t/deps/libregex-1.rlib --extern force:cargo_share_group_1_set1=/t/deps/libg.so",
        );
        let two = strings(
            "--crate-name rg --edition=2021 src/main.rs --emit=dep-info,link -C opt-level=3 \
             -C metadata=stable -C extra-filename=-bbbb --out-dir /u/deps -L dependency=/u/deps \
             --extern regex=/u/deps/libregex-2.rlib --extern force:cargo_share_group_2_set1=/t/deps/libh.so \
             --extern force:cargo_share_group_3_set1=/t/deps/libi.so",
        );
        assert_eq!(
            key_args(&without_groups(&one)),
            key_args(&without_groups(&two))
        );
        // What shapes the code changes the key: a flag, a dependency's name.
        let three = strings(
            "--crate-name rg --edition=2021 src/main.rs --emit=dep-info,link -C opt-level=2 \
             -C metadata=stable --extern regex=/t/deps/libregex-1.rlib",
        );
        assert_ne!(
            key_args(&without_groups(&one)),
            key_args(&without_groups(&three))
        );
        let four = strings(
            "--crate-name rg --edition=2021 src/main.rs --emit=dep-info,link -C opt-level=3 \
             -C metadata=stable --extern regex2=/t/deps/libregex-1.rlib",
        );
        assert_ne!(
            key_args(&without_groups(&one)),
            key_args(&without_groups(&four))
        );
    }

    #[test]
    fn unstable_options_go_with_the_groups_that_needed_them() {
        let mut args = strings("-Z unstable-options --crate-name x -Zunstable-options");
        remove_unstable_options(&mut args);
        assert_eq!(args, strings("--crate-name x"));
    }

    #[test]
    fn every_dependency_is_forced_once() {
        assert_eq!(
            forced("regex=/t/libregex.rlib"),
            "force:regex=/t/libregex.rlib"
        );
        assert_eq!(forced("force:g=/t/libg.so"), "force:g=/t/libg.so");
        assert_eq!(forced("priv:x=/t/libx.rlib"), "force,priv:x=/t/libx.rlib");
        // A colon in the path is not a modifier.
        assert_eq!(forced("x=/t:u/libx.rlib"), "force:x=/t:u/libx.rlib");
    }

    #[test]
    fn a_changed_source_or_variable_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("main.rs");
        std::fs::write(&src, "fn main() {}").unwrap();
        let var = "CARGO_SHARE_TEST_PROGRAM_OBJECTS_VAR";
        std::env::set_var(var, "a\nb");
        std::fs::write(
            dir.path().join("x-1.d"),
            format!(
                "{dir}/x-1.o: {src}\n\n{src}:\n\n# env-dep:{var}=a\\nb\n",
                dir = dir.path().display(),
                src = src.display()
            ),
        )
        .unwrap();
        let inputs = recorded_inputs(&dir.path().join("x-1.d"), Vec::new()).unwrap();
        assert_eq!(inputs.files.len(), 1);
        assert!(inputs_unchanged(&inputs));
        std::env::set_var(var, "a\nc");
        assert!(!inputs_unchanged(&inputs));
        std::env::set_var(var, "a\nb");
        std::fs::write(&src, "fn main() { }").unwrap();
        assert!(!inputs_unchanged(&inputs));
        std::env::remove_var(var);
    }

    #[test]
    fn a_slot_whose_files_changed_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x-1.x.cgu.0.rcgu.o"), "object").unwrap();
        let inputs = Inputs {
            externs: Vec::new(),
            files: Vec::new(),
            env: Vec::new(),
            kept: Vec::new(),
            key: Vec::new(),
        };
        write_record(dir.path(), inputs).unwrap();
        let recorded = read_inputs(dir.path()).unwrap();
        assert!(intact(dir.path(), &recorded));
        std::fs::write(dir.path().join("x-1.x.cgu.0.rcgu.o"), "damaged").unwrap();
        assert!(!intact(dir.path(), &recorded));
        std::fs::remove_file(dir.path().join("x-1.x.cgu.0.rcgu.o")).unwrap();
        assert!(!intact(dir.path(), &recorded));
    }
}
