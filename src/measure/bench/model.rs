//! The figures `cargo share bench` measures: one [`BenchReport`], serialized as the `--json`
//! output and rendered as the terminal table and the HTML report. Ratios are not stored; they
//! are computed from two variants when shown.

use serde::{Deserialize, Serialize};

/// Where and when a bench ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    /// UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// `uname -srm`.
    pub system: String,
    pub cpus: usize,
    pub memory_bytes: u64,
    /// `rustc -V`.
    pub rustc: String,
    pub cargo_share: String,
}

/// A sample distribution of one timed command, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Distribution {
    pub median_us: f64,
    /// 10th and 90th percentiles: the spread shown next to the median.
    pub p10_us: f64,
    pub p90_us: f64,
    /// Every sample, in the order taken (for the start-up distribution chart).
    pub samples_us: Vec<f64>,
}

/// One program in one variant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProgramFigures {
    /// Package name (e.g. `ripgrep`).
    pub program: String,
    /// The binary measured (e.g. `rg`).
    pub binary: String,
    /// Stripped size of the program's binaries, bytes.
    pub binary_bytes: u64,
    /// How many shared libraries it loads (libstd included; 0 for static).
    pub libraries: usize,
    /// Proportional and unique set size while all programs of the set run together, bytes.
    pub pss_bytes: Option<u64>,
    pub uss_bytes: Option<u64>,
    /// Exec of a trivial invocation (`--version`).
    pub startup: Option<Distribution>,
    /// A real workload, if the program has one (the command line is in `workload`).
    pub runtime: Option<Distribution>,
    pub workload: Option<String>,
}

/// One library file of a shared variant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LibraryFigures {
    pub file: String,
    /// Stripped runtime size (no `.rustc`), bytes.
    pub bytes: u64,
    /// How many programs of the set load it.
    pub users: usize,
}

/// One way of building the set: `static`, or shared with a layout and a unification policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Variant {
    /// `static`, `shared per-crate (unify semver)`, ...
    pub name: String,
    pub shared: bool,
    /// Stripped bytes: all binaries; all libraries, each file once (libstd included).
    pub binaries_bytes: u64,
    pub libraries_bytes: u64,
    /// CPU seconds (user + system, all child processes) to build the whole set from a cold cache;
    /// `None` if the build was reused from an earlier run.
    pub build_cpu_seconds: Option<f64>,
    pub build_wall_seconds: Option<f64>,
    pub programs: Vec<ProgramFigures>,
    pub libraries: Vec<LibraryFigures>,
    /// Sums over the programs running together.
    pub pss_total_bytes: Option<u64>,
    pub uss_total_bytes: Option<u64>,
    /// The smallest number of programs (in list order) for which this variant's disk total is
    /// no larger than static's; `None` if never within the set (or for static itself).
    pub break_even_programs: Option<usize>,
}

impl Variant {
    pub fn disk_total(&self) -> u64 {
        self.binaries_bytes + self.libraries_bytes
    }

    /// The figures of one program of this variant.
    pub fn program_mut(&mut self, program: &str) -> Option<&mut ProgramFigures> {
        self.programs.iter_mut().find(|p| p.program == program)
    }
}

/// The bytes shipped when one widely shared crate gets a fix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateCost {
    /// The crate rebuilt from a patched copy (e.g. `memchr`).
    pub crate_name: String,
    /// Variant name -> (files that changed, their stripped bytes).
    pub per_variant: Vec<(String, usize, u64)>,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchReport {
    pub reason: String,
    pub machine: Machine,
    /// The programs, in list order (`NAME@VERSION` or a path).
    pub programs: Vec<String>,
    /// `static` first, then the shared variants.
    pub variants: Vec<Variant>,
    /// Stripped static total if identical functions (same symbol name and size) were stored once
    /// across the static binaries: the limit any sharing scheme could approach.
    pub ideal_bytes: Option<u64>,
    pub update: Option<UpdateCost>,
    /// Figures that could not be taken, each with the reason.
    pub missing: Vec<String>,
}
