//! The arguments that say which programs to build and how (`build`, `test`, `bench`,
//! `analyze`, `install`, `adopt`, `image`), turned into [`BuildOptions`].

use std::path::PathBuf;

use cargo_share_compile::profile::SharedProfile;
use cargo_share_core::build::{self, Binding, BuildOptions, GroupExports, Layout, ProgramFeatures};
use cargo_share_core::resolve::grouping;
use cargo_share_core::resolve::set::{Unify, UnifyOptions};
use cargo_share_core::source::{self, CrateSpec, ProgramSource};
use cargo_share_core::store;
use clap::Args;

#[derive(Args, Debug)]
pub(crate) struct ProgramArgs {
    /// Programs from crates.io: NAME or NAME@VERSION (same as --crate).
    #[arg(value_name = "NAME[@VERSION]")]
    pub(crate) positional: Vec<CrateSpec>,
    /// A file of programs, one NAME@VERSION a line (`#` starts a comment), as
    /// examples/reference-programs.txt.
    #[arg(long, value_name = "FILE")]
    pub(crate) programs: Option<PathBuf>,
    /// A local program: path to its Cargo.toml (or directory). Repeatable.
    #[arg(long = "manifest-path", value_name = "PATH")]
    pub(crate) manifest_paths: Vec<PathBuf>,
    /// A program from crates.io: NAME or NAME@VERSION. Repeatable.
    #[arg(long = "crate", value_name = "NAME[@VERSION]")]
    pub(crate) crates: Vec<CrateSpec>,
    #[command(flatten)]
    pub(crate) tuning: BuildTuning,
}

/// How programs are built: shared by build, test and install.
#[derive(Args, Debug)]
pub(crate) struct BuildTuning {
    /// How shared crates are packed into shared objects: `grouped` (crates used by the same
    /// programs in one object, crates used by one program static in it) or `per-crate` (one
    /// dylib per crate).
    /// [default: grouped; `bench` measures both]
    #[arg(long, value_enum)]
    pub(crate) layout: Option<Layout>,
    /// What each group (grouped layout) and the relinked run-time libstd export, `used` (only
    /// what the programs import; smallest) or `all` (so that programs installed later can bind
    /// to the same file).
    /// [default: `all` for install, else `used`]
    #[arg(long, value_enum)]
    pub(crate) exports: Option<GroupExports>,
    /// When imports into the programs and their shared libraries are bound: `now` (at start,
    /// with the GOT read-only after: full RELRO, as rustc builds) or `lazy` (calls bound on first
    /// use through the PLT, each by name: partial RELRO). The static build `bench` compares
    /// with is always `now`.
    #[arg(long = "bind", value_enum, default_value_t = Binding::Now)]
    pub(crate) binding: Binding,
    /// Grouped layout: groups with less Rust source than this many bytes merge into a larger
    /// group their programs already load.
    #[arg(long, value_name = "BYTES", default_value_t = grouping::DEFAULT_MIN_GROUP_SOURCE_BYTES)]
    pub(crate) group_min_size: u64,
    /// Resolve the programs together: `none` (each its own Cargo.lock), `semver` (one version
    /// per semver-compatible range across the set) or `features` (as semver, and one build per
    /// crate version with the union of the features).
    /// [default: features for --layout grouped, else none; `analyze` compares all three]
    #[arg(long, value_enum)]
    pub(crate) unify: Option<Unify>,
    /// With --unify: save the set's resolution to FILE, or build exactly the one in FILE if it
    /// exists.
    #[arg(long, value_name = "FILE")]
    pub(crate) lock: Option<PathBuf>,
    /// With --unify: use this exact version of a crate in the set. Repeatable.
    #[arg(long, value_name = "CRATE@VERSION")]
    pub(crate) pin: Vec<CrateSpec>,
    /// With --unify: keep this program out of the set, built with its own Cargo.lock. Repeatable.
    #[arg(long, value_name = "PROGRAM")]
    pub(crate) own_lock: Vec<String>,
    /// With --unify: resolve this program after the others, in a set of its own with exactly the
    /// features it asks for (it loads only the earlier groups built the same). Repeatable. A
    /// program that fails to build with its set's unified features is retried so by itself.
    #[arg(long, value_name = "PROGRAM")]
    pub(crate) own_features: Vec<String>,
    /// Allow Cargo to update programs' lockfiles instead of requiring them to be exact.
    #[arg(long)]
    pub(crate) no_locked: bool,
    /// Set a key of the shared-crate profile, e.g. `opt-level=2`. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) shared_profile: Vec<String>,
    /// Features to activate: FEATURE (one program) or PROGRAM/FEATURE, comma- or
    /// space-separated. Repeatable.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub(crate) features: Vec<String>,
    /// Activate all features of every program.
    #[arg(long)]
    pub(crate) all_features: bool,
    /// Do not activate the default features of the programs.
    #[arg(long)]
    pub(crate) no_default_features: bool,
    /// Build with a patched copy of a crates.io crate (`[patch.crates-io]`): CRATE=DIR, DIR
    /// holding a package of that name. Repeatable. (`cargo share update --path` installs this.)
    #[arg(long, value_name = "CRATE=DIR")]
    pub(crate) patch: Vec<String>,
    /// Number of parallel jobs for Cargo.
    #[arg(short, long)]
    pub(crate) jobs: Option<u32>,
    /// Append one JSON line per target unit the wrapper handled to FILE (for debugging).
    #[arg(long, value_name = "FILE", hide = true)]
    pub(crate) unit_log: Option<PathBuf>,
}

impl ProgramArgs {
    pub(crate) fn options(self, cache_dir: Option<PathBuf>) -> anyhow::Result<BuildOptions> {
        let mut programs: Vec<ProgramSource> = self
            .manifest_paths
            .into_iter()
            .map(ProgramSource::Path)
            .collect();
        programs.extend(
            self.positional
                .into_iter()
                .chain(self.crates)
                .map(ProgramSource::Registry),
        );
        if let Some(file) = &self.programs {
            programs.extend(
                source::read_program_list(file)?
                    .into_iter()
                    .map(ProgramSource::Registry),
            );
        }
        self.tuning.options(programs, cache_dir)
    }
}

impl BuildTuning {
    /// As `options`, for a build that installs into the store: groups export everything unless
    /// told otherwise (programs installed later bind to the same file), and test results under
    /// `--unify` are checked.
    pub(crate) fn install_options(
        self,
        programs: Vec<ProgramSource>,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<BuildOptions> {
        let exports = self.exports;
        let mut build = self.options(programs, cache_dir)?;
        build.group_exports = exports.unwrap_or(GroupExports::All);
        build.check_tests = true;
        Ok(build)
    }

    pub(crate) fn options(
        self,
        programs: Vec<ProgramSource>,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<BuildOptions> {
        let layout = self.layout.unwrap_or_default();
        Ok(BuildOptions {
            programs,
            layout,
            locked: !self.no_locked,
            cache_dir,
            shared_profile: SharedProfile::default().with_overrides(&self.shared_profile)?,
            jobs: self.jobs,
            // The wrapper runs in each package's directory: a relative path means the user's.
            unit_log: self.unit_log.map(std::path::absolute).transpose()?,
            staging: false,
            group_min_size: self.group_min_size,
            dry_run: false,
            patches: self
                .patch
                .iter()
                .map(|p| build::CratePatch::parse(p))
                .collect::<anyhow::Result<_>>()?,
            stored_groups: Vec::new(),
            installed: Vec::new(),
            retest_installed: false,
            kept_resolutions: Default::default(),
            group_exports: self.exports.unwrap_or_default(),
            unify: UnifyOptions {
                policy: self.unify.unwrap_or(match layout {
                    Layout::Grouped => Unify::Features,
                    Layout::PerCrate => Unify::None,
                }),
                lock_file: self.lock,
                pins: self.pin,
                own_lock: self.own_lock,
                own_features: self.own_features,
                newest_locked: false,
                hold_installed: false,
                stable_names: false,
            },
            check_tests: false,
            allow_test_failures: false,
            features: ProgramFeatures::parse(
                &self.features,
                self.all_features,
                self.no_default_features,
            )?,
            plugin_host: false,
            plugins: Vec::new(),
            binding: self.binding,
        })
    }
}

/// `build`'s options; with `--plugin-for PROGRAM`, PROGRAM is the one program and every
/// `--manifest-path` a plugin for it.
pub(crate) fn plugin_options(
    programs: ProgramArgs,
    plugin_for: Option<String>,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<BuildOptions> {
    let Some(host) = plugin_for else {
        return programs.options(cache_dir);
    };
    if !programs.positional.is_empty() || !programs.crates.is_empty() || programs.programs.is_some()
    {
        anyhow::bail!(
            "--plugin-for {host}: the build has one program, {host}; its plugins are given with --manifest-path (other programs are built without --plugin-for)"
        );
    }
    let program = plugin_program(&host, None)?;
    let plugins = programs.manifest_paths;
    let mut options = programs.tuning.options(vec![program], cache_dir)?;
    options.plugin_host = true;
    options.plugins = plugins;
    Ok(options)
}

/// The program of `--plugin-for PROGRAM`: a path if one exists, else `NAME[@VERSION]`.
/// `--plugin-for PROGRAM`: a path, the name of a program installed in `store_dir` (built again
/// from where it was installed from), else `NAME[@VERSION]` from crates.io.
pub(crate) fn plugin_program(
    host: &str,
    store_dir: Option<&std::path::Path>,
) -> anyhow::Result<ProgramSource> {
    if std::path::Path::new(host).exists() {
        return Ok(ProgramSource::Path(PathBuf::from(host)));
    }
    if let Some(dir) = store_dir {
        if let Some(installed) = store::installed_source(dir, host)? {
            return Ok(installed);
        }
    }
    Ok(ProgramSource::Registry(host.parse().map_err(|e| {
        anyhow::anyhow!("--plugin-for {host}: neither a path nor NAME[@VERSION]: {e}")
    })?))
}
