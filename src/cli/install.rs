//! `install`: programs built in shared mode (or substituted from a binary cache) into the store,
//! linked into a root.

use std::path::PathBuf;

use anyhow::{bail, Result};
use cargo_share_cache::cache;
use cargo_share_core::source::{self, CrateSpec, ProgramSource};
use cargo_share_core::store;
use clap::Args;

use super::program_args::{plugin_program, BuildTuning};
use super::Context;

#[derive(Args, Debug)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    sources: InstallSources,
    /// Install root: binaries are linked into ROOT/bin [default: $CARGO_INSTALL_ROOT or $CARGO_HOME].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Build a crates.io program installed already at that version again, and replace
    /// binaries in ROOT/bin that cargo share did not install.
    #[arg(long)]
    force: bool,
    /// Accepted for `cargo install` compatibility: unlike `cargo install`, lockfiles are
    /// always respected (see --no-locked).
    #[arg(long)]
    #[allow(dead_code)]
    locked: bool,
    /// Install only this binary of the program (repeatable), as `cargo install --bin`; later
    /// installs and updates that rebuild the program keep to it. With several programs,
    /// every name must be a binary of one of them.
    #[arg(long = "bin", value_name = "NAME")]
    bins: Vec<String>,
    /// Install every binary of the programs (the default), as `cargo install --bins`.
    #[arg(long = "bins", conflicts_with = "bins")]
    #[allow(dead_code)]
    all_bins: bool,
    /// Refused, unlike `cargo install --debug`: cargo-share installs release builds, since the
    /// store's shared crates are built once, with one profile, for every program that loads
    /// them (set that profile's keys with --shared-profile).
    #[arg(long)]
    debug: bool,
    /// Only `release` is accepted, unlike `cargo install --profile` (see --debug).
    #[arg(long, value_name = "PROFILE-NAME")]
    profile: Option<String>,
    /// List the installed programs and the store's libraries (as `cargo share list`), and
    /// install nothing.
    #[arg(long, conflicts_with_all = ["crates", "paths", "programs", "git", "plugin_for"])]
    list: bool,
    /// Install programs even if their own tests failed under this --unify resolution (the
    /// programs named; an installed program is never moved to versions its tests fail with).
    #[arg(long)]
    allow_test_failures: bool,
    /// Show the plan (with --layout grouped: the groups) and stop before building.
    #[arg(long)]
    dry_run: bool,
    /// Install this program (a directory or Cargo.toml, the name of an installed program,
    /// built again from where it was installed from, or NAME[@VERSION] from crates.io) with
    /// the plugins named by --path, into plugins/ of its store directory (see the book's
    /// "Plugins" guide).
    #[arg(long, value_name = "PROGRAM")]
    plugin_for: Option<String>,
    /// Build only the programs named: the installed ones are not built again with them
    /// (they then share only the groups already in the store that fit them exactly). Fast, but
    /// a store filled this way from empty never forms a group: the reference programs took 1.45x
    /// the bytes of installing them together (see the book's results).
    #[arg(long)]
    no_regroup: bool,
    /// Keep the installed programs' crate versions: the new program adapts to them where its
    /// requirements allow, untested, and an installed program it still moves is left as it
    /// is, untested (default: the new program adapts to them where its own tests pass with
    /// them; else the newest locked versions win, and a moved program's own tests decide).
    #[arg(long, conflicts_with = "no_regroup")]
    keep_installed_versions: bool,
    #[command(flatten)]
    tuning: BuildTuning,
}

/// Where the programs an install names come from (as `cargo install` takes them).
#[derive(Args, Debug)]
struct InstallSources {
    /// Programs from crates.io: NAME or NAME@VERSION.
    #[arg(value_name = "NAME[@VERSION]")]
    crates: Vec<CrateSpec>,
    /// A local program: its directory or Cargo.toml. Repeatable.
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// A file of crates.io programs, one NAME@VERSION a line (`#` starts a comment), as
    /// examples/reference-programs.txt; installed together with the ones named.
    #[arg(long, value_name = "FILE", conflicts_with = "git")]
    programs: Option<PathBuf>,
    /// A program from a git repository (NAME picks its package when it holds several).
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// With --git: the branch to install.
    #[arg(long, value_name = "BRANCH", requires = "git", conflicts_with_all = ["tag", "rev"])]
    branch: Option<String>,
    /// With --git: the tag to install.
    #[arg(long, value_name = "TAG", requires = "git", conflicts_with = "rev")]
    tag: Option<String>,
    /// With --git: the commit to install.
    #[arg(long, value_name = "SHA", requires = "git")]
    rev: Option<String>,
    /// The version of the one crates.io program named (as NAME@VERSION).
    #[arg(long = "version", value_name = "VERSION", conflicts_with = "git")]
    version_req: Option<String>,
    /// Install the programs named from this registry of Cargo's configuration
    /// (`[registries.NAME]`) instead of crates.io, as `cargo install --registry`.
    #[arg(long, value_name = "REGISTRY", conflicts_with_all = ["git", "index"])]
    registry: Option<String>,
    /// Install the programs named from the registry with this index URL, as `cargo install
    /// --index`.
    #[arg(long, value_name = "INDEX", conflicts_with = "git")]
    index: Option<String>,
}

impl InstallArgs {
    pub(crate) fn exec(self, ctx: &Context) -> Result<i32> {
        if self.list {
            store::list(&ctx.store_dir()?, &ctx.shell)?;
            return Ok(0);
        }
        refuse_other_profiles(self.debug, self.profile.as_deref())?;
        let mut build =
            Self::build_options(self.sources, self.plugin_for.as_deref(), self.tuning, ctx)?;
        build.allow_test_failures = self.allow_test_failures;
        build.retest_installed = !self.keep_installed_versions;
        build.unify.newest_locked = !self.keep_installed_versions;
        let force = self.force;
        let mut options = store::InstallOptions {
            build,
            root: self.root.map_or_else(store::default_root, Ok)?,
            store: ctx.store_dir()?,
            force,
            regroup: !self.no_regroup,
            replay: false,
            binaries: (!self.bins.is_empty()).then(|| self.bins.into_iter().collect()),
        };
        if self.dry_run {
            store::show_install_plan(&options, &ctx.shell)?;
            return Ok(0);
        }
        if options.build.programs.is_empty() {
            bail!(
                "no program to install: name a crates.io package (`cargo share install NAME`), \
                 or use --path DIR or --git URL; to build the installed programs again, run \
                 `cargo share update --rebuild-all`"
            );
        }
        // A choice of binaries is installed afresh (the store does not know which binaries an
        // earlier install left out), and not from a binary cache (which has them all).
        if !force && !options.build.plugin_host && options.binaries.is_none() {
            store::skip_already_installed(
                &mut options.build,
                &options.store,
                &options.root,
                &ctx.shell,
            )?;
            if options.build.programs.is_empty() {
                return Ok(0);
            }
        }
        let substituted = cache::substitute(&mut options, &ctx.shell)?;
        if options.build.programs.is_empty() && !substituted.is_empty() {
            return Ok(0);
        }
        store::install(&options, &ctx.shell)?;
        Ok(0)
    }

    /// The build of the programs the command names (or of `--plugin-for`'s program and its
    /// plugins).
    fn build_options(
        sources: InstallSources,
        plugin_for: Option<&str>,
        tuning: BuildTuning,
        ctx: &Context,
    ) -> Result<cargo_share_core::build::BuildOptions> {
        if let Some(host) = plugin_for {
            if !sources.crates.is_empty() || sources.programs.is_some() || sources.git.is_some() {
                bail!(
                    "--plugin-for {host}: the install has one program, {host}; its plugins are \
                     given with --path"
                );
            }
            let program = plugin_program(host, Some(&ctx.store_dir()?))?;
            let mut o = tuning.install_options(vec![program], ctx.cache_dir.clone())?;
            o.plugin_host = true;
            o.plugins = sources.paths;
            return Ok(o);
        }
        tuning.install_options(sources.programs()?, ctx.cache_dir.clone())
    }
}

impl InstallSources {
    /// Every program named, in the order `cargo install` takes them: paths, then crates.io
    /// names (with the list file's) or the git repository.
    fn programs(self) -> Result<Vec<ProgramSource>> {
        let mut crates = self.crates;
        if let Some(file) = &self.programs {
            crates.extend(source::read_program_list(file)?);
        }
        let mut programs: Vec<ProgramSource> =
            self.paths.into_iter().map(ProgramSource::Path).collect();
        let git = self.git.map(|url| source::GitSpec {
            url,
            reference: match (self.branch, self.tag, self.rev) {
                (Some(b), _, _) => source::GitReference::Branch(b),
                (_, Some(t), _) => source::GitReference::Tag(t),
                (_, _, Some(r)) => source::GitReference::Rev(r),
                _ => source::GitReference::DefaultBranch,
            },
            package: None,
            commit: None,
        });
        let registry = match (self.registry, self.index) {
            (Some(name), _) => Some(source::Registry::Named(name)),
            (None, Some(url)) => Some(source::Registry::Index(url)),
            (None, None) => None,
        };
        programs.extend(source::install_sources(
            crates,
            git,
            self.version_req,
            registry,
        )?);
        Ok(programs)
    }
}

/// `install --debug`, `--profile NAME` other than `release`: refused, saying why and what to do.
fn refuse_other_profiles(debug: bool, profile: Option<&str>) -> Result<()> {
    let asked = match (debug, profile) {
        (true, _) => "--debug",
        (false, Some(p)) if p != "release" => "--profile",
        _ => return Ok(()),
    };
    bail!(
        "{asked}: cargo-share installs release builds only, because the store's shared crates \
         are built once, with one profile, for every program that loads them; nothing was \
         installed. Leave out {asked} (set the shared crates' profile keys with \
         --shared-profile KEY=VALUE), or build a debug copy with `cargo build`"
    )
}
