//! The audit's results as data: what the table, `--json` (stable field names) and `--html` show.

use serde::Serialize;

use crate::audit::scan::Unreadable;

/// Where a binary's crate list came from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CratesFrom {
    /// The `.dep-v0` section `cargo auditable` embeds: every crate and exact version.
    CargoAuditable,
    /// Crate names from the symbol table, versions from panic-location paths.
    SymbolTable,
    /// Crate names and versions from panic-location paths alone (stripped binaries).
    PanicPaths,
}

/// Where the bytes per crate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum BytesFrom {
    /// Function sizes in the symbol table.
    SymbolTable,
    /// The same crate version's size measured in another binary of this audit.
    OtherBinary,
    /// The binary's code split by how many source files of each crate its panic paths name.
    SourceFileShare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Confidence {
    High,
    Medium,
    Low,
}

/// One crate version a binary carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CrateCopy {
    /// Package name as in Cargo.toml (`regex-automata`), or as in symbols when no path or
    /// dependency list names the package.
    pub(crate) name: String,
    /// `None` when only the symbol table names the crate: a local crate, or a registry crate
    /// that left no panic path; such copies are not counted as shareable.
    pub(crate) version: Option<String>,
    /// Estimated bytes of code.
    pub(crate) bytes: u64,
    pub(crate) bytes_from: BytesFrom,
}

/// One Rust ELF file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BinaryAudit {
    pub(crate) path: String,
    /// `executable` or `shared-library`.
    pub(crate) kind: &'static str,
    pub(crate) file_bytes: u64,
    /// The size without the symbol table and debug sections: about what `strip --strip-all`
    /// leaves, the figure `bench` compares.
    pub(crate) stripped_bytes: u64,
    /// Bytes of executable sections (`.text` and the like).
    pub(crate) code_bytes: u64,
    /// The compiler: `1.95.0`, or `commit 59807616e…` when only the commit is known.
    pub(crate) rustc: Option<String>,
    /// Where `rustc` came from: `.comment`, `panic-paths`, …
    pub(crate) rustc_from: Option<&'static str>,
    /// The compiler's commit (first 9 hex digits), where known: it ties a stripped binary's
    /// `/rustc/HASH/` paths to another binary's `.comment`.
    pub(crate) rustc_commit: Option<String>,
    pub(crate) crates_from: CratesFrom,
    pub(crate) confidence: Confidence,
    /// Why that confidence, in a sentence.
    pub(crate) note: String,
    /// The toolchain's library (std, core, alloc, …) compiled in: shared as libstd.
    pub(crate) std_bytes: u64,
    /// The binary's own code: its root crate, crates whose version is not known, C code.
    pub(crate) own_bytes: u64,
    pub(crate) crates: Vec<CrateCopy>,
    /// Filled by the estimate: bytes in crate versions (std included) another binary built by
    /// the same rustc also carries.
    pub(crate) shared_bytes: u64,
}

/// One crate version across the audit (per rustc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CrateVersionRow {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) rustc: String,
    pub(crate) copies: usize,
    /// Mean estimated bytes per copy.
    pub(crate) bytes_per_copy: u64,
    /// What sharing saves: every copy but one.
    pub(crate) saving_bytes: u64,
    /// `bytes_per_copy` with the data that goes with the code ([`Projection::file_saving_bytes`]).
    pub(crate) file_bytes_per_copy: u64,
    /// `saving_bytes` the same way.
    pub(crate) file_saving_bytes: u64,
    pub(crate) binaries: Vec<String>,
}

/// A crate with more than one version among the binaries of one rustc: those copies cannot
/// share one library until the programs agree on a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VersionSpread {
    pub(crate) name: String,
    pub(crate) rustc: String,
    /// (version, copies), oldest first.
    pub(crate) versions: Vec<(String, usize)>,
    /// What one version for all of them would save beyond sharing each version.
    pub(crate) extra_saving_bytes: u64,
    /// The same with the data that goes with the code ([`Projection::file_saving_bytes`]).
    pub(crate) extra_file_saving_bytes: u64,
}

/// The projected saving if the binaries built by one rustc shared their common crate versions
/// (one library per crate version and rustc, as cargo-share's grouped layout builds them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Projection {
    pub(crate) binaries: usize,
    pub(crate) file_bytes: u64,
    pub(crate) stripped_bytes: u64,
    pub(crate) code_bytes: u64,
    /// Code bytes no longer stored twice.
    pub(crate) saving_bytes: u64,
    /// `saving_bytes / file_bytes`: the disk saving (code only; data and relocations that a
    /// shared library adds are not counted).
    pub(crate) disk_saving: f64,
    /// `saving_bytes / stripped_bytes`: the same over stripped sizes (as `bench` measures disk).
    pub(crate) stripped_disk_saving: f64,
    /// `saving_bytes / code_bytes`: the mapped code saving when all of them run.
    pub(crate) code_saving: f64,
    /// Further saving if every crate with several versions had one.
    pub(crate) unify_saving_bytes: u64,
    /// [`Self::saving_bytes`] with the data that goes with the code: each copy's code bytes
    /// scaled by its binary's stripped size over its code size (read-only data, unwind tables,
    /// relocations and the like grow with the code they serve, and a shared library stores them
    /// once too). An estimate of the stripped bytes sharing saves; the cost of sharing (dynamic
    /// symbols, a larger libstd) is not subtracted.
    pub(crate) file_saving_bytes: u64,
    /// `file_saving_bytes / stripped_bytes`.
    pub(crate) stripped_file_saving: f64,
    /// [`Self::unify_saving_bytes`] scaled the same way.
    pub(crate) unify_file_saving_bytes: u64,
    /// Distinct compilers: binaries of different rustc never share.
    pub(crate) rustc_versions: Vec<(String, usize)>,
}

/// The whole audit (`reason: "audit-finished"` in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub(crate) date: String,
    pub(crate) roots: Vec<String>,
    pub(crate) files_examined: usize,
    pub(crate) elf_files: usize,
    pub(crate) binaries: Vec<BinaryAudit>,
    pub(crate) unreadable: Vec<Unreadable>,
    pub(crate) crates: Vec<CrateVersionRow>,
    pub(crate) version_spread: Vec<VersionSpread>,
    pub(crate) projection: Projection,
}
