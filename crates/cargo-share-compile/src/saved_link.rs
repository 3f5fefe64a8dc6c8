//! A group's saved link (arguments, rustc's temporary objects and version script, copied before
//! rustc deletes them) and its trimmed relink.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::import_order::link_with_imports_in_name_order;
use crate::rustc_args::unit_output;
use crate::rustc_args::RustcArgs;
use crate::version_script::{filter_version_script, linker_readable, version_script_arg};

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

/// Where the link of a shared library is saved: next to it, `libNAME-HASH.cargo-share-link/`.
pub fn saved_link_dir(library: &Path) -> PathBuf {
    let stem = library
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    library.with_file_name(format!("{stem}.cargo-share-link"))
}

/// [`saved_link_dir`] of the dylib a group unit's rustc command line produces.
pub(crate) fn group_link_dir(rustc: &RustcArgs) -> PathBuf {
    let (out_dir, stem) = unit_output(rustc);
    saved_link_dir(&out_dir.join(format!("lib{stem}.so")))
}

/// In a saved-link directory: the symbols the trimmed copy exports, one per line, after a first
/// line naming the relink ([`TRIM_FORMAT`]).
pub const TRIMMED_EXPORTS_FILE: &str = "exports";

/// Save a link into `dir`: inputs that rustc deletes after linking (object files, the version
/// script) are copied; libraries (`.rlib`, `.a`, `.so`) stay where Cargo keeps them.
pub(crate) fn save_recipe(dir: &Path, linker: &str, args: &[String]) -> Result<()> {
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

/// Linker arguments that make a group's calls and references to its own definitions bind at
/// link time (no symbol lookup at start-up, no PLT/GOT indirection), as `-Bsymbolic` would,
/// and pack its relative relocations (DT_RELR, which glibc 2.36 reads). Only the allocator
/// shim, if the group defines it (among `exports`), stays interposable, so that a program's
/// `#[global_allocator]` governs the group too (`crate::allocator`). The list is written into
/// `dir` as `file`; it names a symbol nothing defines so that it is never empty. Every group
/// link gets these, the first (`--exports all` keeps it as the run-time copy) and the trimmed
/// relink alike: with every export of a group interposable, each of its calls to a function of
/// its own crates was a symbol lookup at start (520 of sd's 1,044, measured 2026-12-07).
pub(crate) fn symbolic_binding_args<'a>(
    dir: &Path,
    file: &str,
    exports: impl Iterator<Item = &'a String>,
) -> Result<Vec<String>> {
    let dynlist: String = std::iter::once("{\n  cargo_share_no_symbol;\n".to_string())
        .chain(
            exports
                .filter(|s| crate::allocator::is_allocator_shim(s))
                .map(|s| format!("  {s};\n")),
        )
        .chain(std::iter::once("};\n".to_string()))
        .collect();
    let dynlist_path = dir.join(file);
    std::fs::write(&dynlist_path, dynlist)
        .with_context(|| format!("writing {}", dynlist_path.display()))?;
    Ok(vec![
        format!("-Wl,--dynamic-list={}", dynlist_path.display()),
        "-Wl,-z,pack-relative-relocs".into(),
    ])
}

/// How [`relink_trimmed`] links, recorded with each trimmed group: change it when the relink
/// changes.
pub const TRIM_FORMAT: &str = "# cargo-share trimmed relink 4: version script, --gc-sections, \
     symbolic binding but the allocator shim (--dynamic-list), packed relative relocations, \
     imports in name order";

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
    std::fs::write(&trimmed_path, linker_readable(&trimmed).0)?;
    args[recipe.version_script] = format!("-Wl,--version-script={}", trimmed_path.display());
    args[recipe.output] = output.display().to_string();
    // rustc links dylibs without garbage collection (everything is exported anyway); with the
    // exports cut down, sections nothing reaches can go.
    args.push("-Wl,--gc-sections".into());
    args.extend(symbolic_binding_args(
        dir,
        "interposable.dynlist",
        keep.iter(),
    )?);
    let mut stderr = Vec::new();
    let code = link_with_imports_in_name_order(output, |extra| {
        let result = Command::new(&recipe.linker)
            .args(&args)
            .args(extra)
            .output()
            .with_context(|| format!("running the linker `{}`", recipe.linker))?;
        stderr = result.stderr;
        Ok(result.status.code().unwrap_or(1))
    })?;
    if code != 0 {
        bail!(
            "relinking {} with {kept} exports failed: {}",
            output.display(),
            String::from_utf8_lossy(&stderr)
        );
    }
    Ok(())
}
