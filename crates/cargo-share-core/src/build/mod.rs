//! The build driver: from programs named on the command line to binaries in `OUT/bin` and the
//! shared libraries they need in `OUT/lib`.
//!
//! 1. Sources: fetch crates.io programs ([`crate::source::program`]).
//! 2. Graph: `cargo metadata` of every workspace; decide the shared crates ([`crate::resolve::graph`]).
//! 3. Plan: write the [`WrapperPlan`](cargo_share_compile::plan::WrapperPlan) the rustc wrapper reads.
//! 4. Cargo: one `cargo build --release --target HOST` per workspace, with cargo-share as
//!    `RUSTC_WRAPPER`, the shared-crate profile as `--config`, and one target directory for all
//!    builds, so a crate build with the same Cargo unit hash is compiled once and reused.
//! 5. Assemble: copy each binary to `OUT/bin` and the closure of crate dylibs and libstd it needs
//!    (read from `DT_NEEDED`) to `OUT/lib`, each file once; libstd relinked from the toolchain's
//!    rlibs with the exports the set needs ([`std_relink`]).
//! 6. Plugins (`--plugin-for`): library crates built in their program's set, copied to
//!    `OUT/plugins`; the program and each plugin carry a note of the crates they share
//!    ([`plugins`], [`plugin_closure`]).
//! 7. Bind: the copies in `OUT` name the libraries they load as `$ORIGIN/../lib/FILE` (binaries,
//!    plugins) or `$ORIGIN/FILE` (libraries), with no run path, so the loader opens each directly
//!    and once ([`lib_paths`]).

pub(crate) mod adapt;
pub(crate) mod assemble;
pub(crate) mod cargo;
pub(crate) mod cargo_stderr;
pub(crate) mod failures;
pub(crate) mod features;
pub(crate) mod installed;
pub(crate) mod later_sets;
pub mod lib_paths;
pub(crate) mod load_order;
pub(crate) mod options;
pub(crate) mod own_features;
pub(crate) mod patch_paths;
pub(crate) mod path_sources;
pub(crate) mod plugin_closure;
pub(crate) mod plugins;
pub mod positions;
pub(crate) mod prepare;
pub(crate) mod retest;
pub(crate) mod retest_baseline;
pub(crate) mod sandbox;
pub(crate) mod set_cargo;
pub(crate) mod set_planner;
pub(crate) mod set_split;
pub mod short_names;
pub(crate) mod source_metadata;
pub(crate) mod std_relink;
pub(crate) mod test;
pub(crate) mod test_only;
pub(crate) mod trim;
pub(crate) mod unprovable_tests;

pub use assemble::{build, show_plan, BuildReport, BuiltProgram};
pub(crate) use failures::FailedProgram;
pub use features::{FeatureChoice, ProgramFeatures};
pub(crate) use options::InstalledMember;
pub use options::{default_cache_dir, Binding, BuildOptions, CratePatch, GroupExports, Layout};
pub use prepare::{prepare, target_dir_of};
pub use test::test;
