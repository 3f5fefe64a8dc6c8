//! Plugins of installed programs (`install --plugin-for PROGRAM --path PLUGIN`): files in
//! `plugins/` of the program's directory, recorded in its `program.json`. They load exactly the
//! program's entries (`$ORIGIN/../lib` from `plugins/` is the program's `lib/`), so `uninstall`
//! and `gc` remove them with the program build, and `verify` checks their hashes, their
//! libraries and their closure note against the program's.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::plugin_closure::{note_mismatch, CLOSURE_SECTION};
use crate::build::BuiltProgram;
use crate::shell::Shell;
use crate::store::files::file_matches;
use crate::store::manifest::InstalledProgram;
use cargo_share_compile::digest::file_sha256;
use cargo_share_compile::elf;

/// One plugin of a program build: its file name, where to copy it from, its SHA-256.
#[derive(Debug, Clone)]
pub(crate) struct PluginFile {
    pub(crate) name: String,
    pub(crate) from: PathBuf,
    pub(crate) sha256: String,
}

/// The plugins a program build gets: those this install built for it, and those of its
/// installed build (`previous`, in `previous_dir`) that were built for the very same program
/// build (same entries, and binaries the same or some of them), which are kept. Any other earlier plugin would be
/// refused by the new build: it is not kept, and a warning names it.
pub(crate) fn plugins_of(
    program: &str,
    built: &[&BuiltProgram],
    previous: Option<(&InstalledProgram, PathBuf)>,
    same_build: bool,
    shell: &Shell,
) -> Result<Vec<PluginFile>> {
    let mut out = Vec::new();
    for b in built {
        for f in &b.binaries {
            out.push(PluginFile {
                name: f
                    .file_name()
                    .context("a plugin without a file name")?
                    .to_string_lossy()
                    .into_owned(),
                from: f.clone(),
                sha256: file_sha256(f)?,
            });
        }
    }
    if let Some((prev, dir)) = previous {
        for (name, sha) in &prev.plugins {
            if out.iter().any(|p| &p.name == name) {
                continue;
            }
            if same_build {
                out.push(PluginFile {
                    name: name.clone(),
                    from: dir.join("plugins").join(name),
                    sha256: sha.clone(),
                });
            } else {
                shell.warn(format!(
                    "plugin {name} of {program} is not kept: it was built for the build of \
                     {program} this install replaces, and the new one would refuse it; build it \
                     again with `cargo share install --plugin-for`"
                ));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `verify` of one program's plugins: each file as recorded, every Rust library it needs in the
/// program's `lib/`, and its closure note one the program's binaries accept.
pub(crate) fn verify_plugins(program_dir: &Path, p: &InstalledProgram) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let host_note = p.binaries.iter().find_map(|(b, _)| {
        let data = std::fs::read(program_dir.join("bin").join(b)).ok()?;
        elf::section_data(&data, CLOSURE_SECTION).ok().flatten()
    });
    for (f, sha) in &p.plugins {
        let name = &p.name;
        let path = program_dir.join("plugins").join(f);
        if !file_matches(&path, sha) {
            problems.push(format!("program {name}: plugin {f} missing or changed"));
            continue;
        }
        let found = elf::library_closure(&path, &[program_dir.join("lib")])?;
        // Every library of ours is named by path (`$ORIGIN/../lib/FILE`).
        for needed in elf::dynamic_info(&path)?.needed {
            let ours = needed.starts_with(elf::LIB_DIR_PREFIX);
            let needed = elf::needed_file(&needed);
            if ours && !found.contains_key(needed) {
                problems.push(format!(
                    "program {name}: plugin {f} needs {needed}, which is not in its library directory"
                ));
            }
        }
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let note = elf::section_data(&data, CLOSURE_SECTION)?;
        let why = match (&host_note, &note) {
            (None, _) => Some(format!("{name} has no closure note")),
            (_, None) => Some("it has no closure note".to_string()),
            (Some(h), Some(n)) => {
                note_mismatch(&String::from_utf8_lossy(h), &String::from_utf8_lossy(n))
            }
        };
        if let Some(why) = why {
            problems.push(format!(
                "program {name}: plugin {f} would be refused: {why}"
            ));
        }
    }
    Ok(problems)
}
