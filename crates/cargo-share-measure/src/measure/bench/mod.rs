//! `cargo share bench`: build a set of programs static and shared in one run, and measure what
//! sharing buys (the method: book,
//! docs/src/concepts/how-it-works.md, "Measuring honestly").
//!
//! * **Builds.** Static: each program on its own, with its own lockfile and release profile and
//!   its own Cargo target directory, as `cargo install --locked` builds it. Shared: one
//!   `cargo share build` of the whole set per layout (per-crate, grouped). All from cold caches
//!   inside the bench directory, timed in CPU seconds of all child processes
//!   (`getrusage(RUSAGE_CHILDREN)`).
//! * **Disk.** Stripped copies (`strip --strip-all`; libraries first lose `.rustc`), each shared
//!   file once, libstd included. Break-even: the first k programs (in list order) for which the
//!   shared total is no larger than the static one. Ideal: the static total minus every repeated
//!   function (same symbol name and size) across the static binaries.
//! * **Memory.** All programs of a variant run at once, each held at exit by a tiny preloaded
//!   library whose ELF destructor raises SIGSTOP (so short-lived programs are measured at their
//!   fullest, static and shared alike); PSS and USS are summed from `/proc/PID/smaps_rollup`.
//!   The library's constructor takes the request out of the environment, so the processes a
//!   program starts (hyperfine's benchmarked command, a shell) run to their end.
//! * **Start-up.** `--version`, static and shared interleaved, many runs: median and spread.
//! * **Start-up counters.** Instructions (callgrind), symbol lookups (`LD_DEBUG=statistics`)
//!   and file syscalls (strace) of one `--version` start ([`startup_counters`]).
//! * **Run time.** A real workload for programs that have one, over generated inputs
//!   ([`workload`]), and a long one (>= 100 ms static) over larger inputs ([`long_workload`]),
//!   reported apart.
//! * **Cold start.** The first start after the page cache of every build's files was dropped
//!   and another program ran ([`cold_start`]).
//! * **Update cost.** Every build again with a patched copy of one crate; the stripped files that
//!   change are what a fix ships.

pub(crate) mod cold_start;
pub(crate) mod disk;
pub(crate) mod html;
pub(crate) mod long_workload;
pub(crate) mod machine;
pub(crate) mod memory;
pub(crate) mod model;
pub(crate) mod options;
pub(crate) mod run;
pub(crate) mod shared_variant;
pub(crate) mod startup_counters;
pub(crate) mod static_build;
pub(crate) mod table;
pub(crate) mod timing;
pub(crate) mod update_cost;
pub(crate) mod update_fix;
pub(crate) mod workload;

pub use options::{parse_startup_args, BenchOptions};
pub use run::bench;
