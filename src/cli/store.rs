//! The store's commands besides `install`: `adopt`, `update`, `uninstall`, `list`, `why`,
//! `preload`, `gc`, `optimise` and `verify`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use cargo_share_core::update::{UpdateOptions, UpdateTarget};
use cargo_share_core::{preload, store};
use cargo_share_measure::adopt;
use clap::Args;

use super::program_args::BuildTuning;
use super::Context;

#[derive(Args, Debug)]
pub(crate) struct AdoptArgs {
    /// The install root `cargo install` used [default: $CARGO_INSTALL_ROOT or $CARGO_HOME].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Show the plan and the saving the audit projects, and stop before building.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    tuning: BuildTuning,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["krate", "rebuild_all"])))]
pub(crate) struct UpdateArgs {
    /// The crate to update.
    #[arg(value_name = "CRATE")]
    krate: Option<String>,
    /// The version to update to [default: the newest compatible with what the programs use].
    #[arg(long, value_name = "VERSION", conflicts_with_all = ["path", "rebuild_all"])]
    to: Option<String>,
    /// A patched copy of the crate (a directory holding a package of that name).
    #[arg(long, value_name = "DIR", conflicts_with = "rebuild_all")]
    path: Option<PathBuf>,
    /// Rebuild every installed program (after a toolchain upgrade).
    #[arg(long, conflicts_with = "krate")]
    rebuild_all: bool,
    /// Show which programs would be rebuilt, and stop.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args, Debug)]
pub(crate) struct UninstallArgs {
    /// Installed programs, by package name (`cargo share list` shows them).
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Remove the programs' links from this root only; a program linked into other roots
    /// stays installed there [default: every root it is linked into].
    #[arg(long, value_name = "ROOT")]
    root: Option<PathBuf>,
    /// Only uninstall the binary NAME (repeatable), as `cargo uninstall --bin`: the program
    /// stays installed with its other binaries, in every root it is linked into.
    #[arg(long = "bin", value_name = "NAME")]
    bins: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct WhyArgs {
    /// A library: a package name (a crate inside a group too), a file name or a store entry id.
    #[arg(value_name = "LIB")]
    lib: String,
}

#[derive(Args, Debug)]
pub(crate) struct PreloadArgs {
    /// Warm the files loaded by at least N installed programs.
    #[arg(long, value_name = "N", default_value_t = 2, conflicts_with = "all")]
    min_programs: usize,
    /// Warm every file some installed program loads.
    #[arg(long)]
    all: bool,
    /// Also lock the files in memory (mlock, within RLIMIT_MEMLOCK) and keep running to hold
    /// them until stopped.
    #[arg(long)]
    lock: bool,
    /// Print a systemd user unit that runs this preload at login, and do nothing else.
    #[arg(long)]
    print_unit: bool,
}

#[derive(Args, Debug)]
pub(crate) struct GcArgs {
    /// Only say what would be removed.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Rebuild the index from the entry and program manifests first.
    #[arg(long)]
    repair: bool,
}

impl AdoptArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let tuning = self.tuning;
        if !tuning.features.is_empty() || tuning.all_features || tuning.no_default_features {
            bail!(
                "adopt takes each program's features from what `cargo install` recorded: \
                 --features, --all-features and --no-default-features are not accepted"
            );
        }
        let options = adopt::AdoptOptions {
            build: tuning.install_options(Vec::new(), ctx.cache_dir.clone())?,
            root: self.root.map_or_else(store::default_root, Ok)?,
            store: ctx.store_dir()?,
            dry_run: self.dry_run,
        };
        adopt::adopt(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl UpdateArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let change = self.krate.map(|k| {
            let target = match (self.to, self.path) {
                (Some(v), _) => UpdateTarget::Version(v),
                (None, Some(dir)) => UpdateTarget::Path(dir),
                (None, None) => UpdateTarget::Newest,
            };
            (k, target)
        });
        let options = UpdateOptions {
            store: ctx.store_dir()?,
            cache_dir: ctx.cache_dir.clone(),
            change,
            dry_run: self.dry_run,
        };
        cargo_share_core::update::update(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl UninstallArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        store::uninstall(
            &ctx.store_dir()?,
            &self.names,
            self.root.as_deref(),
            &self.bins,
            &ctx.shell,
        )?;
        Ok(0)
    }
}

/// `list`.
pub(crate) fn list(ctx: &Context) -> Result<i32> {
    store::list(&ctx.store_dir()?, &ctx.shell)?;
    Ok(0)
}

impl WhyArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        store::why(&ctx.store_dir()?, &self.lib, &ctx.shell)?;
        Ok(0)
    }
}

impl PreloadArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let selection = if self.all {
            preload::Selection::All
        } else {
            preload::Selection::MinPrograms(self.min_programs)
        };
        if self.print_unit {
            let exe = std::env::current_exe()?;
            print!(
                "{}",
                preload::unit::unit_text(&exe, ctx.store.as_deref(), selection, self.lock)
            );
            return Ok(0);
        }
        let options = preload::PreloadOptions {
            store: ctx.store_dir()?,
            selection,
            lock: self.lock,
        };
        preload::preload(&options, &ctx.shell)?;
        Ok(0)
    }
}

impl GcArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        store::gc(&ctx.store_dir()?, self.dry_run, &ctx.shell)?;
        Ok(0)
    }
}

/// `optimise`.
pub(crate) fn optimise(ctx: &Context) -> Result<i32> {
    store::optimise(&ctx.store_dir()?, &ctx.shell)?;
    Ok(0)
}

impl VerifyArgs {
    /// `1` when problems were found.
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        let problems = store::verify(&ctx.store_dir()?, self.repair, &ctx.shell)?;
        Ok(if problems.is_empty() {
            0
        } else {
            super::exit::PROBLEMS_FOUND
        })
    }
}
