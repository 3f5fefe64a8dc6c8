//! The closure note: what a plugin host and each of its plugins record of the crates they share,
//! so that a host refuses a plugin built against other builds of them before any of its code
//! runs (the reader is the `cargo-share-plugin-host` crate in this repository).
//!
//! The note is a non-allocated ELF section [`CLOSURE_SECTION`] that `assemble` adds to the
//! host's binaries and to its plugins as it copies them to `OUT` (never loaded; read from the
//! file). Text, one fact a line:
//!
//! ```text
//! cargo-share closure v1
//! program NAME
//! crate NAME VERSION ID
//! ...
//! end N
//! ```
//!
//! `program` is the plugin host. There is one `crate` line for every crate of the shared
//! closure (each member of every group the file loads, and `std`), sorted by name and version;
//! `end` counts them, so a cut note is refused. A member's ID is the SHA-256 of the unit record
//! the wrapper wrote when it compiled it (its rustc arguments with Cargo's metadata hash, which
//! covers version, source, features and dependencies; its features as cfgs; the SHA-256 of
//! every source file and `OUT_DIR` file; its externs), so another version, other features or
//! changed sources of a path crate all give another ID. `std`'s ID is the SHA-256 of `rustc -vV`
//! and the libstd file name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::resolve::grouping::GROUP_CRATE_PREFIX;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::toolchain::Toolchain;
use cargo_share_compile::unit_record::{UnitRecord, UNIT_RECORD_SUFFIX};

/// The ELF section holding the closure note.
pub(crate) const CLOSURE_SECTION: &str = ".cargo-share.closure";
/// The note's first line (its format).
pub(crate) const CLOSURE_FORMAT: &str = "cargo-share closure v1";

/// The note for `program` (a plugin host) or one of its plugins, from the libraries the file
/// loads (`needed`: file name -> path, as [`cargo_share_compile::elf::library_closure`] gives them) and the
/// unit records in `deps`.
pub(crate) fn closure_note(
    program: &str,
    needed: &BTreeMap<String, PathBuf>,
    deps: &Path,
    toolchain: &Toolchain,
) -> Result<String> {
    let mut crates: Vec<(String, String, String)> = Vec::new();
    for (file, path) in needed {
        let stem = file.strip_suffix(".so").unwrap_or(file);
        if stem.starts_with(&format!("lib{GROUP_CRATE_PREFIX}")) {
            let facade = read_record(deps, stem)?;
            for member in facade
                .extern_stems
                .iter()
                .filter(|s| !s.starts_with(&format!("lib{GROUP_CRATE_PREFIX}")))
            {
                let bytes = std::fs::read(record_path(deps, member))
                    .with_context(|| format!("reading the unit record of {member} ({file})"))?;
                let record: UnitRecord = serde_json::from_slice(&bytes)
                    .with_context(|| format!("parsing the unit record of {member}"))?;
                crates.push((record.package, record.version, sha256_hex(&bytes)));
            }
        } else if path.starts_with(&toolchain.std_libdir) {
            let id = sha256_hex(format!("{}\n{file}", toolchain.version_text).as_bytes());
            let version = cargo_share_compile::toolchain::release_of(&toolchain.version_text)
                .unwrap_or("unknown")
                .to_string();
            crates.push(("std".into(), version, id));
        }
    }
    crates.sort();
    crates.dedup();
    let mut note = format!("{CLOSURE_FORMAT}\nprogram {program}\n");
    for (name, version, id) in &crates {
        note.push_str(&format!("crate {name} {version} {id}\n"));
    }
    note.push_str(&format!("end {}\n", crates.len()));
    Ok(note)
}

fn record_path(deps: &Path, stem: &str) -> PathBuf {
    deps.join(format!("{stem}{UNIT_RECORD_SUFFIX}"))
}

fn read_record(deps: &Path, stem: &str) -> Result<UnitRecord> {
    let path = record_path(deps, stem);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (the unit record of a group a plugin host loads)",
            path.display()
        )
    })?;
    let record: UnitRecord =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if record.extern_stems.is_empty() {
        bail!("{} names no member crates", path.display());
    }
    Ok(record)
}

/// The libraries a plugin needs that its program does not load: a plugin must bind to its
/// program's own files and bring nothing shared of its own (crates only it uses are static in it).
pub(crate) fn foreign_libraries<'a>(
    plugin: &'a BTreeMap<String, PathBuf>,
    program: &BTreeMap<String, PathBuf>,
) -> Vec<&'a str> {
    plugin
        .keys()
        .filter(|f| !program.contains_key(*f))
        .map(String::as_str)
        .collect()
}

/// What makes a plugin's note (`plugin`) not fit a program's (`program`): another program, or
/// the first crate (by name) the program does not have as the plugin was built against it.
/// `None` when it fits. (The loader's own check is `cargo_share_plugin_host::check`.)
pub(crate) fn note_mismatch(program: &str, plugin: &str) -> Option<String> {
    let line = |note: &str, prefix: &str| -> Option<String> {
        note.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(String::from)
    };
    if !program.starts_with(CLOSURE_FORMAT) || !plugin.starts_with(CLOSURE_FORMAT) {
        return Some(format!("a closure note is not `{CLOSURE_FORMAT}`"));
    }
    let (ours, theirs) = (line(program, "program "), line(plugin, "program "));
    if ours != theirs {
        return Some(format!(
            "it was built for {}, not for {}",
            theirs.unwrap_or_default(),
            ours.unwrap_or_default()
        ));
    }
    let crates: Vec<&str> = program
        .lines()
        .filter(|l| l.starts_with("crate "))
        .collect();
    let missing = plugin
        .lines()
        .filter(|l| l.starts_with("crate "))
        .find(|l| !crates.contains(l))?;
    let mut fields = missing.split(' ').skip(1);
    let (name, version) = (fields.next()?, fields.next()?);
    Some(format!(
        "it was built against another build of {name} {version} than the program's"
    ))
}
