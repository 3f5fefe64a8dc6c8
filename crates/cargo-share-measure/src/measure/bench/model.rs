//! The figures `cargo share bench` measures: one [`BenchReport`], serialized as the `--json`
//! output and rendered as the terminal table and the HTML report. Ratios are not stored; they
//! are computed from two variants when shown.

use serde::{Deserialize, Serialize};

/// Where and when a bench ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// UTC date, `YYYY-MM-DD`.
    pub(crate) date: String,
    /// `uname -srm`.
    pub(crate) system: String,
    pub(crate) cpus: usize,
    pub(crate) memory_bytes: u64,
    /// `rustc -V`.
    pub(crate) rustc: String,
    pub(crate) cargo_share: String,
}

/// A sample distribution of one timed command, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Distribution {
    pub(crate) median_us: f64,
    /// 10th and 90th percentiles: the spread shown next to the median.
    pub(crate) p10_us: f64,
    pub(crate) p90_us: f64,
    /// Every sample, in the order taken (for the start-up distribution chart).
    pub(crate) samples_us: Vec<f64>,
}

/// One program in one variant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ProgramFigures {
    /// Package name (e.g. `ripgrep`).
    pub(crate) program: String,
    /// The binary measured (e.g. `rg`).
    pub(crate) binary: String,
    /// Stripped size of the program's binaries, bytes.
    pub(crate) binary_bytes: u64,
    /// How many shared libraries it loads (libstd included; 0 for static).
    pub(crate) libraries: usize,
    /// Proportional and unique set size while all programs of the set run together, bytes.
    pub(crate) pss_bytes: Option<u64>,
    pub(crate) uss_bytes: Option<u64>,
    /// Exec of a trivial invocation (`--version`, else `--help`, or `--startup-args`).
    pub(crate) startup: Option<Distribution>,
    /// That invocation's arguments.
    #[serde(default)]
    pub(crate) startup_command: Option<String>,
    /// A real workload, if the program has one (the command line is in `workload`).
    pub(crate) runtime: Option<Distribution>,
    pub(crate) workload: Option<String>,
    /// A long workload (>= 100 ms static, meant to show code speed rather than start-up),
    /// reported apart from the short one (the command line is in `long_workload`).
    #[serde(default)]
    pub(crate) long_runtime: Option<Distribution>,
    #[serde(default)]
    pub(crate) long_workload: Option<String>,
    /// What one `--version` start costs in work: instructions, symbol lookups, file syscalls.
    #[serde(default)]
    pub(crate) counters: StartupCounters,
    /// First `--version` start after the page cache of every file of every build was dropped
    /// and `cold_after` (another program of the same build) ran once.
    #[serde(default)]
    pub(crate) cold_start: Option<Distribution>,
    #[serde(default)]
    pub(crate) cold_after: Option<String>,
    /// Fully cold first start: the page cache of every file of every build dropped, nothing
    /// run before it (the C library and the loader stay cached: no build owns them).
    #[serde(default)]
    pub(crate) cold_full: Option<Distribution>,
    /// Shared variants: the same fully cold start, after the variant's libraries that two or
    /// more programs of the set load were warmed as `cargo share preload` warms them.
    #[serde(default)]
    pub(crate) cold_preloaded: Option<Distribution>,
}

/// Counted work of one `--version` start, each `None` where it could not be counted (the
/// reason is in the report's `missing`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StartupCounters {
    /// Instructions executed (callgrind's total `Ir`): the median of `instructions_samples`.
    pub(crate) instructions: Option<u64>,
    pub(crate) instructions_samples: Vec<u64>,
    /// Symbol lookups by the dynamic loader (`LD_DEBUG=statistics`, "final number of
    /// relocations", summed over namespaces), and of those, how many came from its cache.
    pub(crate) symbol_lookups: Option<u64>,
    pub(crate) symbol_lookups_from_cache: Option<u64>,
    /// File syscalls (`strace -f -c -e trace=%file`), and how many of them failed (probing).
    pub(crate) file_syscalls: Option<u64>,
    pub(crate) file_syscalls_failed: Option<u64>,
}

/// One library file of a shared variant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LibraryFigures {
    pub(crate) file: String,
    /// Stripped runtime size (no `.rustc`), bytes.
    pub(crate) bytes: u64,
    /// How many programs of the set load it.
    pub(crate) users: usize,
}

/// One way of building the set: `static`, or shared with a layout and a unification policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Variant {
    /// `static`, `shared per-crate (unify semver)`, ...
    pub(crate) name: String,
    pub(crate) shared: bool,
    /// Stripped bytes: all binaries; all libraries, each file once (libstd included).
    pub(crate) binaries_bytes: u64,
    pub(crate) libraries_bytes: u64,
    /// CPU seconds (user + system, all child processes) to build the whole set from a cold cache;
    /// `None` if the build was reused from an earlier run.
    pub(crate) build_cpu_seconds: Option<f64>,
    pub(crate) build_wall_seconds: Option<f64>,
    pub(crate) programs: Vec<ProgramFigures>,
    pub(crate) libraries: Vec<LibraryFigures>,
    /// Sums over the programs running together.
    pub(crate) pss_total_bytes: Option<u64>,
    pub(crate) uss_total_bytes: Option<u64>,
    /// The smallest number of programs (in list order) for which this variant's disk total is
    /// no larger than static's; `None` if never within the set (or for static itself).
    pub(crate) break_even_programs: Option<usize>,
    /// Shared variants: this variant against static, per figure (per-program ratios of the
    /// medians, summarised), filled once all figures are taken.
    #[serde(default)]
    pub(crate) ratios: Vec<RatioSummary>,
}

/// Per-program ratios (this variant / static) of one figure: their median and range.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct RatioSummary {
    /// `startup`, `run-short`, `run-long`, `cold-start`, `cold-full`, `instructions`,
    /// `symbol-lookups`, `file-syscalls`, and `cold-preloaded` (this variant's fully cold start
    /// after a preload against static's fully cold start).
    pub(crate) figure: String,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// How many programs had the figure in both variants.
    pub(crate) programs: usize,
}

/// Reads one figure of a program (`None` where it was not measured).
pub(crate) type FigureOf = fn(&ProgramFigures) -> Option<f64>;

/// The per-program figures ratios are summarised for, with the name each has in
/// [`RatioSummary::figure`].
pub(crate) const RATIO_FIGURES: [(&str, FigureOf); 8] = [
    ("startup", |p| p.startup.as_ref().map(|d| d.median_us)),
    ("run-short", |p| p.runtime.as_ref().map(|d| d.median_us)),
    ("run-long", |p| p.long_runtime.as_ref().map(|d| d.median_us)),
    ("cold-start", |p| p.cold_start.as_ref().map(|d| d.median_us)),
    ("cold-full", |p| p.cold_full.as_ref().map(|d| d.median_us)),
    ("instructions", |p| {
        p.counters.instructions.map(|x| x as f64)
    }),
    ("symbol-lookups", |p| {
        p.counters.symbol_lookups.map(|x| x as f64)
    }),
    ("file-syscalls", |p| {
        p.counters.file_syscalls.map(|x| x as f64)
    }),
];

/// The ratios of `variant` against `base`, one [`RatioSummary`] per figure that at least one
/// program has in both (with a non-zero base).
pub(crate) fn ratio_summaries(variant: &Variant, base: &Variant) -> Vec<RatioSummary> {
    let preloaded: (&str, FigureOf, FigureOf) = (
        "cold-preloaded",
        |p| p.cold_preloaded.as_ref().map(|d| d.median_us),
        |p| p.cold_full.as_ref().map(|d| d.median_us),
    );
    RATIO_FIGURES
        .iter()
        .map(|&(figure, get)| (figure, get, get))
        .chain([preloaded])
        .filter_map(|(figure, of_variant, of_base)| {
            summary(figure, variant, base, of_variant, of_base)
        })
        .collect()
}

/// One figure's per-program ratios, summarised (`None` when no program has both).
fn summary(
    figure: &str,
    variant: &Variant,
    base: &Variant,
    of_variant: FigureOf,
    of_base: FigureOf,
) -> Option<RatioSummary> {
    let mut ratios: Vec<f64> = variant
        .programs
        .iter()
        .filter_map(|p| {
            let b = base.programs.iter().find(|q| q.program == p.program)?;
            let (v, b) = (of_variant(p)?, of_base(b)?);
            (b > 0.0).then(|| v / b)
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    Some(RatioSummary {
        figure: figure.to_string(),
        median: ratios[ratios.len() / 2],
        min: ratios[0],
        max: ratios[ratios.len() - 1],
        programs: ratios.len(),
    })
}

impl Variant {
    pub(crate) fn disk_total(&self) -> u64 {
        self.binaries_bytes + self.libraries_bytes
    }

    /// The figures of one program of this variant.
    pub(crate) fn program_mut(&mut self, program: &str) -> Option<&mut ProgramFigures> {
        self.programs.iter_mut().find(|p| p.program == program)
    }
}

/// The bytes shipped when one widely shared crate gets a fix: one measurement per kind of fix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct UpdateCost {
    /// The crate rebuilt from a patched copy (e.g. `regex-syntax`).
    pub(crate) crate_name: String,
    pub(crate) fixes: Vec<FixCost>,
}

/// One fix to the crate and what each variant ships for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FixCost {
    /// `body-only` (a non-inlined, non-generic function) or `inlined-or-generic`.
    pub(crate) kind: String,
    /// The function changed, as its symbol demangles (`<regex_syntax::hir::Hir>::literal`).
    pub(crate) function: String,
    /// `file:line` of its body in the crate.
    pub(crate) source: String,
    pub(crate) per_variant: Vec<ShippedFiles>,
}

/// What one variant ships for one fix: the stripped files whose bytes changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ShippedFiles {
    pub(crate) variant: String,
    /// Files that changed (or are new), and their stripped bytes.
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    /// Every file of the variant's build (binaries and libraries), and how many of them came out
    /// byte-identical.
    pub(crate) total_files: usize,
    pub(crate) identical_files: usize,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchReport {
    pub(crate) machine: Machine,
    /// The programs, in list order (`NAME@VERSION` or a path).
    pub(crate) programs: Vec<String>,
    /// `static` first, then the shared variants.
    pub(crate) variants: Vec<Variant>,
    /// Stripped static total if identical functions (same symbol name and size) were stored once
    /// across the static binaries: the limit any sharing scheme could approach.
    pub(crate) ideal_bytes: Option<u64>,
    pub(crate) update: Option<UpdateCost>,
    /// Cold start: the largest share of the dropped files' pages still in the page cache right
    /// after a drop (0 when every drop took; book: docs/src/guide/bench.md).
    #[serde(default)]
    pub(crate) cold_resident_after_drop: Option<f64>,
    /// Figures that could not be taken, each with the reason.
    pub(crate) missing: Vec<String>,
}
