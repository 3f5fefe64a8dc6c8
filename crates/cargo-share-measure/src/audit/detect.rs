//! One ELF file: is it Rust, which rustc built it, and which crate versions it carries with
//! how many bytes each, from the best source it has (module docs of [`crate::audit`]).

use std::collections::BTreeMap;

use object::{Object, ObjectKind, ObjectSection, SectionKind};

use crate::audit::model::{BinaryAudit, BytesFrom, Confidence, CrateCopy, CratesFrom};
use crate::audit::panic_paths::{read_paths, PathEvidence, STD_VENDORED};
use crate::audit::symbols::{symbol_bytes, SymbolBytes, TOOLCHAIN_CRATES};

/// At most this many bytes of code per source file a stripped binary's panic paths name. Pure
/// Rust programs measure about 9 KB (sd 1.0.0, hexyl 0.17.0, Debian's ripgrep: code over
/// files); the cap keeps a large binary with a little Rust in it (a C++ browser with a few
/// Rust crates) from having all its code put on those crates: the rest is its own.
const MAX_BYTES_PER_FILE: u64 = 16_000;

/// Largest decompressed `.dep-v0` accepted (as `auditable-info`'s default).
const AUDIT_JSON_LIMIT: usize = 8 << 20;

/// A compiler whose commit hash maps to a release (the local `rustc -vV`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownRustc {
    pub(crate) commit: String,
    pub(crate) release: String,
}

impl KnownRustc {
    /// From `rustc -vV` output.
    pub(crate) fn from_version_text(text: &str) -> Option<Self> {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        Some(KnownRustc {
            commit: field("commit-hash:")?,
            release: field("release:")?,
        })
    }
}

/// What one file turned out to be.
#[derive(Debug)]
pub(crate) enum Detected {
    Rust(Box<BinaryAudit>),
    /// An ELF file that is not a Rust executable or shared library (or an object file).
    NotRust,
    /// Not parseable as ELF, with the parser's message.
    Broken(String),
}

/// Package names normalized the way they appear in symbols (`regex-automata` -> `regex_automata`).
fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// `rustc version 1.95.0 (59807616e 2026-04-14)` in `.comment` -> (release, short commit).
fn comment_rustc(file: &object::File) -> Option<(String, Option<String>)> {
    let data = file.section_by_name(".comment")?.data().ok()?;
    let text = String::from_utf8_lossy(data);
    let rest = &text[text.find("rustc version ")? + "rustc version ".len()..];
    let rest = rest.split('\0').next().unwrap_or(rest);
    let release = rest.split_whitespace().next()?.to_string();
    let commit = rest
        .split_once('(')
        .and_then(|(_, r)| r.split_whitespace().next())
        .map(str::to_string);
    Some((release, commit))
}

/// The compiler, where it came from, and its (short) commit if known.
fn rustc_of(
    file: &object::File,
    paths: &PathEvidence,
    known: &[KnownRustc],
) -> (Option<String>, Option<&'static str>, Option<String>) {
    if let Some((release, commit)) = comment_rustc(file) {
        return (Some(release), Some(".comment"), commit);
    }
    if let Some(v) = paths.rustc_versions.iter().next() {
        return (Some(v.clone()), Some("panic-paths"), None);
    }
    if let Some(commit) = paths.rustc_commits.iter().next() {
        let short = commit[..9].to_string();
        if let Some(k) = known.iter().find(|k| k.commit == *commit) {
            return (Some(k.release.clone()), Some("panic-paths"), Some(short));
        }
        return (
            Some(format!("commit {short}")),
            Some("panic-paths"),
            Some(short),
        );
    }
    (None, None, None)
}

/// (package name, version) pairs.
type Listed = Vec<(String, String)>;

/// (package name, version) pairs the binary's `.dep-v0` lists at run time, and its root package.
fn auditable_crates(data: &[u8]) -> Option<(Listed, Option<String>)> {
    let info = auditable_info::audit_info_from_slice(data, AUDIT_JSON_LIMIT).ok()?;
    let root = info
        .packages
        .iter()
        .find(|p| p.root)
        .map(|p| p.name.clone());
    let crates = info
        .packages
        .iter()
        .filter(|p| !p.root && p.kind == auditable_serde::DependencyKind::Runtime)
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect();
    Some((crates, root))
}

/// Bytes per crate from symbols; what is left goes to std (toolchain crates, std's vendored
/// crates with no registry version here) or the binary's own code.
fn bytes_from_symbols(
    audit: &mut BinaryAudit,
    listed: &[(String, String)],
    symbols: &SymbolBytes,
    root: Option<&str>,
) {
    let mut versions: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
    for c in listed {
        versions.entry(norm(&c.0)).or_default().push(c);
    }
    for (name, copies) in &versions {
        let total = symbols.per_crate.get(name).copied().unwrap_or(0);
        for (package, version) in copies {
            audit.crates.push(CrateCopy {
                name: package.clone(),
                version: Some(version.clone()),
                bytes: total / copies.len() as u64,
                bytes_from: BytesFrom::SymbolTable,
            });
        }
    }
    audit.own_bytes = symbols.unattributed;
    for (name, &bytes) in &symbols.per_crate {
        if versions.contains_key(name) {
            continue;
        }
        if TOOLCHAIN_CRATES.contains(&name.as_str()) || STD_VENDORED.contains(&name.as_str()) {
            audit.std_bytes += bytes;
        } else {
            audit.own_bytes += bytes;
            if root.map(norm).as_deref() != Some(name) {
                audit.crates.push(CrateCopy {
                    name: name.clone(),
                    version: None,
                    bytes,
                    bytes_from: BytesFrom::SymbolTable,
                });
            }
        }
    }
}

/// Without symbols: the code split by how many distinct source files of each crate (and of the
/// toolchain's library) the panic paths name.
fn bytes_from_file_share(
    audit: &mut BinaryAudit,
    listed: &[(String, String)],
    paths: &PathEvidence,
    root: Option<&str>,
) {
    let files = |c: &(String, String)| paths.crates.get(c).map_or(0, |f| f.len()) as u64;
    let std_files = paths.toolchain_files.len() as u64;
    let root_files: u64 = paths
        .crates
        .iter()
        .filter(|((name, _), _)| root.is_some_and(|r| norm(r) == norm(name)))
        .map(|(_, f)| f.len() as u64)
        .sum();
    let own_files = paths.own_files.len() as u64 + root_files;
    let total: u64 = std_files + own_files + listed.iter().map(files).sum::<u64>();
    let per_file = (audit.code_bytes / total.max(1)).min(MAX_BYTES_PER_FILE);
    let share = |n: u64| per_file * n;
    audit.std_bytes = share(std_files);
    let crate_bytes: u64 = listed.iter().map(|c| share(files(c))).sum();
    // Own code: its files' share, and whatever the cap left over.
    audit.own_bytes = audit
        .code_bytes
        .saturating_sub(audit.std_bytes + crate_bytes)
        .max(share(own_files));
    let crates: Vec<CrateCopy> = listed
        .iter()
        .map(|c| CrateCopy {
            name: c.0.clone(),
            version: Some(c.1.clone()),
            bytes: share(files(c)),
            bytes_from: BytesFrom::SourceFileShare,
        })
        .collect();
    audit.crates = crates;
}

/// Bytes of the symbol table and debug sections (what stripping removes).
fn strippable_bytes(file: &object::File) -> u64 {
    file.sections()
        .filter(|s| {
            let name = s.name().unwrap_or_default();
            matches!(name, ".symtab" | ".strtab")
                || name.starts_with(".debug")
                || name.starts_with(".zdebug")
        })
        .map(|s| s.size())
        .sum()
}

/// Audits one file's bytes; `path` is how the report names it.
pub(crate) fn detect(path: &str, data: &[u8], known: &[KnownRustc]) -> Detected {
    let file = match object::File::parse(data) {
        Ok(f) => f,
        Err(e) => return Detected::Broken(format!("not a readable ELF file: {e}")),
    };
    let kind = match file.kind() {
        ObjectKind::Executable => "executable",
        ObjectKind::Dynamic if file.section_by_name(".interp").is_some() => "executable",
        ObjectKind::Dynamic => "shared-library",
        _ => return Detected::NotRust,
    };
    let paths = read_paths(data);
    let symbols = symbol_bytes(&file);
    let auditable = file
        .section_by_name(".dep-v0")
        .and_then(|_| auditable_crates(data));
    let (rustc, rustc_from, rustc_commit) = rustc_of(&file, &paths, known);
    let std_paths = paths
        .toolchain_files
        .iter()
        .any(|f| f.contains("core/src/") || f.contains("std/src/"));
    let is_rust = auditable.is_some()
        || symbols.is_some()
        || rustc_from == Some(".comment")
        || file.section_by_name(".rustc").is_some()
        || std_paths;
    if !is_rust {
        return Detected::NotRust;
    }
    let code_bytes = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| s.size())
        .sum();
    let (listed, root, crates_from) = match (&auditable, &symbols) {
        (Some((crates, root)), _) => (crates.clone(), root.clone(), CratesFrom::CargoAuditable),
        (None, symbols) => {
            let root = symbols
                .as_ref()
                .and_then(|s| s.main_crate.clone())
                .or_else(|| paths.binary_crate().map(|c| c.0.clone()));
            let listed: Vec<(String, String)> = paths
                .crates
                .keys()
                .filter(|(name, _)| root.as_ref().is_none_or(|r| norm(r) != norm(name)))
                .cloned()
                .collect();
            let from = if symbols.is_some() {
                CratesFrom::SymbolTable
            } else {
                CratesFrom::PanicPaths
            };
            (listed, root, from)
        }
    };
    let mut audit = BinaryAudit {
        path: path.to_string(),
        kind,
        file_bytes: data.len() as u64,
        stripped_bytes: data.len() as u64 - strippable_bytes(&file),
        code_bytes,
        rustc,
        rustc_from,
        rustc_commit,
        crates_from,
        confidence: Confidence::Low,
        note: String::new(),
        std_bytes: 0,
        own_bytes: 0,
        crates: Vec::new(),
        shared_bytes: 0,
    };
    match &symbols {
        Some(symbols) => bytes_from_symbols(&mut audit, &listed, symbols, root.as_deref()),
        None => bytes_from_file_share(&mut audit, &listed, &paths, root.as_deref()),
    }
    let unversioned = audit.crates.iter().filter(|c| c.version.is_none()).count();
    (audit.confidence, audit.note) = match (crates_from, symbols.is_some()) {
        (CratesFrom::CargoAuditable, true) => (
            Confidence::High,
            "exact crate versions from cargo auditable's .dep-v0; bytes from symbol sizes".into(),
        ),
        (CratesFrom::CargoAuditable, false) => (
            Confidence::Medium,
            "exact crate versions from cargo auditable's .dep-v0; stripped, so bytes are estimated"
                .into(),
        ),
        (_, true) => (
            Confidence::Medium,
            format!(
                "crates and bytes from the symbol table, versions from panic paths \
                 ({unversioned} crates left no path: version unknown, counted as own code)"
            ),
        ),
        _ => (
            Confidence::Low,
            "stripped: crates and versions from panic-location paths (a crate that never \
             panics leaves none), bytes estimated"
                .into(),
        ),
    };
    audit
        .crates
        .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Detected::Rust(Box::new(audit))
}
