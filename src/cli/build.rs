//! `build`, `test`, `bench` and `analyze`: programs built in shared mode, without the store.

use std::path::PathBuf;

use anyhow::Result;
use cargo_share_core::build::{self, Layout};
use cargo_share_core::resolve::set::Unify;
use cargo_share_measure::audit;
use cargo_share_measure::measure::{analyze, bench};
use clap::Args;

use super::program_args::{plugin_options, ProgramArgs};
use super::Context;

#[derive(Args, Debug)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    programs: ProgramArgs,
    /// Output directory: binaries go to OUT/bin, the shared libraries they need to OUT/lib.
    #[arg(long, value_name = "DIR", required_unless_present = "dry_run")]
    out: Option<PathBuf>,
    /// Show the plan (with --layout grouped: the groups, their crates, sizes and programs)
    /// and stop before building.
    #[arg(long)]
    dry_run: bool,
    /// Build the plugins named by --manifest-path for this program (a directory or
    /// Cargo.toml, or NAME[@VERSION] from crates.io), into OUT/plugins, against the
    /// program's own shared objects (see the book's "Plugins" guide).
    #[arg(long, value_name = "PROGRAM")]
    plugin_for: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct TestArgs {
    #[command(flatten)]
    programs: ProgramArgs,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    programs: ProgramArgs,
    /// Work directory for builds, stripped copies and the corpus [default: CACHE/bench].
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Start-up runs per program and build (run-time workloads run a third as often).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Reuse the builds of an earlier run in the work directory (build times not reported).
    #[arg(long)]
    reuse: bool,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Measure the bytes shipped when this crate gets a fix: every build is redone with a
    /// fixed copy of it, once for a body-only fix and once for a fix to a generic function
    /// (static: each program using it; shared: the set).
    #[arg(long, value_name = "CRATE", default_value = "regex-syntax")]
    update_crate: String,
    /// Skip the update-cost rebuilds.
    #[arg(long)]
    no_update: bool,
    /// The start-up command line of a program, `PROGRAM=ARGS` (arguments split at spaces);
    /// repeatable. Default: `--version`, or `--help` when `--version` fails.
    #[arg(long, value_name = "PROGRAM=ARGS")]
    startup_args: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct AnalyzeArgs {
    #[command(flatten)]
    programs: ProgramArgs,
    /// List the function instances (generic or inline) compiled into two or more of the
    /// set's binaries and libraries, by defining crate, with their bytes: the programs are
    /// built grouped into CACHE/analyze-generics first, unless --from names built files.
    #[arg(long)]
    generics: bool,
    /// With --generics: read these files or directories (a `build --out` directory, a
    /// bench's `shared-grouped`) instead of building. Repeatable.
    #[arg(long, value_name = "PATH", requires = "generics")]
    from: Vec<PathBuf>,
}

impl BuildArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = plugin_options(self.programs, self.plugin_for, ctx.cache_dir.clone())?;
        match self.out {
            Some(out) if !self.dry_run => {
                build::build(&options, &out, &ctx.shell).and_then(build::BuildReport::complete)?;
            }
            _ => build::show_plan(&options, &ctx.shell)?,
        }
        Ok(0)
    }
}

impl TestArgs {
    /// `101` when some program's tests failed (as `cargo test`).
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let options = self.programs.options(ctx.cache_dir.clone())?;
        let results = build::test(&options, &ctx.shell)?;
        Ok(if results.iter().all(|r| r.success) {
            0
        } else {
            super::exit::FAILED
        })
    }
}

impl BenchArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let unify = self.programs.tuning.unify;
        let layouts = match self.programs.tuning.layout {
            Some(l) => vec![l],
            None => vec![Layout::PerCrate, Layout::Grouped],
        };
        let mut build = self.programs.options(ctx.cache_dir.clone())?;
        // Bench compares sharing at its best unless told otherwise: one resolution and one
        // build per crate (the grouped layout needs it anyway).
        build.unify.policy = unify.unwrap_or(Unify::Features);
        build.layout = Layout::PerCrate;
        let work_dir = match self.work {
            Some(w) => w,
            None => match &ctx.cache_dir {
                Some(c) => c.join("bench"),
                None => build::default_cache_dir()?.join("bench"),
            },
        };
        let options = bench::BenchOptions {
            build,
            layouts,
            work_dir,
            runs: self.runs.max(3),
            reuse: self.reuse,
            html: self.html,
            update_crate: (!self.no_update).then_some(self.update_crate),
            startup_args: bench::parse_startup_args(&self.startup_args)?,
        };
        bench::bench(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl AnalyzeArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        if self.generics {
            let options = self.programs.options(ctx.cache_dir.clone())?;
            audit::generics(&options, &self.from, &ctx.shell)?;
            return Ok(0);
        }
        let policies = match self.programs.tuning.unify {
            Some(u) => vec![u],
            None => vec![Unify::None, Unify::Semver, Unify::Features],
        };
        let options = self.programs.options(ctx.cache_dir.clone())?;
        analyze::analyze(&options, &policies, &ctx.shell)?;
        Ok(0)
    }
}
