//! The `cargo-share` executable: a thin command line over the `cargo_share` library.
//!
//! One executable, three roles, chosen before any argument parsing:
//! * linker, when `CARGO_SHARE_EXPORT_SYMBOLS` is set (see `cargo_share::compile::linker`);
//! * rustc wrapper, when `CARGO_SHARE_PLAN` is set (Cargo runs us as `RUSTC_WRAPPER`);
//! * otherwise the `cargo share` command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use cargo_share::adopt;
use cargo_share::audit;
use cargo_share::build::{self, Binding, BuildOptions, GroupExports, Layout, ProgramFeatures};
use cargo_share::cache;
use cargo_share::compile::plan::PLAN_ENV;
use cargo_share::compile::profile::SharedProfile;
use cargo_share::compile::{linker, wrapper};
use cargo_share::measure::{analyze, bench};
use cargo_share::preload;
use cargo_share::resolve::grouping;
use cargo_share::resolve::set::{Unify, UnifyOptions};
use cargo_share::shell::{MessageFormat, Shell};
use cargo_share::source::{self, CrateSpec, ProgramSource};
use cargo_share::store;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "cargo-share",
    bin_name = "cargo share",
    version,
    about = "Build Cargo programs against shared Rust dylibs of their library crates"
)]
struct Cli {
    /// No progress output (warnings and errors are still shown).
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "verbose"
    )]
    quiet: bool,
    /// Use verbose output: Cargo's builds show the commands they run (`-vv`: very verbose), as
    /// `cargo install -v`. Test runs and other Cargo commands stay as they are.
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Output format: `human` progress on stderr, or `json` lines on stdout.
    #[arg(
        long,
        value_enum,
        global = true,
        help_heading = "Global options",
        default_value = "human"
    )]
    message_format: FormatArg,
    /// Same as `--message-format json`.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    /// Where cargo-share keeps fetched sources and its build directory
    /// [default: $CARGO_SHARE_CACHE, $XDG_CACHE_HOME/cargo-share or ~/.cache/cargo-share].
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        help_heading = "Global options"
    )]
    cache_dir: Option<PathBuf>,
    /// The store [default: $CARGO_SHARE_STORE, $XDG_DATA_HOME/cargo-share/store or
    /// ~/.local/share/cargo-share/store].
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        help_heading = "Global options"
    )]
    store: Option<PathBuf>,
    /// Run Cargo without the network, as `cargo --offline`: crates come from Cargo's cache
    /// (`CARGO_NET_OFFLINE=true` for every Cargo that cargo-share runs).
    #[arg(long, global = true, help_heading = "Global options")]
    offline: bool,
    /// As `cargo --frozen`: `--offline`, and lockfiles are respected (they always are, unless
    /// `--no-locked`).
    #[arg(long, global = true, help_heading = "Global options")]
    frozen: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build programs with their library crates as shared dylibs, into OUT/bin and OUT/lib.
    Build {
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
    },
    /// Run each program's own test suite with the program built in shared mode.
    Test {
        #[command(flatten)]
        programs: ProgramArgs,
    },
    /// Build programs static and shared and measure what sharing buys.
    ///
    /// One run measures disk, memory, start-up, run time, build time and the bytes an update
    /// ships (see the book's "Bench" guide).
    Bench {
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
    },
    /// Count the crate builds a set of programs needs under each --unify policy.
    ///
    /// Nothing is built (except with --generics).
    Analyze {
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
    },
    /// Build programs in shared mode and install them, bound to exact store entries.
    Install {
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
        locked: bool,
        /// Install only this binary of the program (repeatable), as `cargo install --bin`; later
        /// installs and updates that rebuild the program keep to it. With several programs,
        /// every name must be a binary of one of them.
        #[arg(long = "bin", value_name = "NAME")]
        bins: Vec<String>,
        /// Install every binary of the programs (the default), as `cargo install --bins`.
        #[arg(long = "bins", conflicts_with = "bins")]
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
        /// (they then share only the groups already in the store that fit them exactly).
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
    },
    /// Move the programs `cargo install` put in ROOT/bin into the store.
    ///
    /// They are installed again through the store, as one set with their recorded versions and
    /// features; each replaced binary is kept in ROOT/cargo-share-adopted (see the book's
    /// "Adopt" guide).
    Adopt {
        /// The install root `cargo install` used [default: $CARGO_INSTALL_ROOT or $CARGO_HOME].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Show the plan and the saving the audit projects, and stop before building.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        tuning: BuildTuning,
    },
    /// Rebuild the installed programs that use a crate with a new version or a patched copy of it.
    ///
    /// Only the files whose bytes change are shipped (see the book's "Update" guide).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["krate", "rebuild_all"])))]
    Update {
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
    },
    /// Uninstall programs (their libraries go at the next `gc` if nothing else uses them).
    Uninstall {
        /// Installed programs, by package name (`cargo share list` shows them).
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Remove the programs' links from this root only; a program linked into other roots
        /// stays installed there [default: every root it is linked into].
        #[arg(long, value_name = "ROOT")]
        root: Option<PathBuf>,
    },
    /// List installed programs and the store's libraries, sizes and users.
    List,
    /// Find what the Rust binaries on this machine duplicate, and what sharing would save.
    ///
    /// It lists the Rust binaries on this machine (or under PATHs), the crate versions each
    /// carries, and what sharing their common crate versions would save (see the book's "Audit"
    /// guide).
    Audit {
        /// Files or directories [default: $CARGO_HOME/bin, /usr/bin, /usr/local/bin, /usr/lib].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Write a self-contained HTML report with charts.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Which installed programs need a library (package name, file name or id).
    Why {
        /// A library: a package name (a crate inside a group too), a file name or a store entry id.
        #[arg(value_name = "LIB")]
        lib: String,
    },
    /// Warm the shared libraries most installed programs load (page cache), optionally locked.
    ///
    /// Run it at login with a systemd user unit (`--print-unit`; see the book's "Preload"
    /// guide). Only files of the store are read; anything else is skipped with a warning.
    Preload {
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
    },
    /// Remove store entries and program builds that no installed program needs.
    Gc {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Hard-link byte-identical files across store entries.
    #[command(alias = "optimize")]
    Optimise,
    /// Check every installed program's closure, file hashes and library resolution.
    Verify {
        /// Rebuild the index from the entry and program manifests first.
        #[arg(long)]
        repair: bool,
    },
    /// Signing keys for the binary cache.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Push installed programs and the store entries they need to a binary cache, signed.
    ///
    /// The cache is an OCI registry (see the book's "Binary cache" guide).
    Push {
        /// The cache: oci://HOST[:PORT]/PATH (HTTPS; plain HTTP for 127.0.0.1 or with --insecure).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The secret key to sign with (`cargo share key generate`).
        #[arg(long, value_name = "FILE")]
        sign_key: PathBuf,
        /// Use plain HTTP for a registry that is not on 127.0.0.1.
        #[arg(long)]
        insecure: bool,
        /// Installed programs to push [default: all].
        #[arg(value_name = "PROGRAM")]
        programs: Vec<String>,
    },
    /// Build programs and ship one OCI image per program, the crates they share in shared layers.
    ///
    /// Each image holds its program's files under PREFIX (bin/, lib/): a layer per set of files
    /// several programs load, and the program's own layer, on top of --base (see the book's
    /// "Container images" guide).
    Image {
        #[command(flatten)]
        programs: ProgramArgs,
        /// Push PATH/PROGRAM:VERSION to this registry: oci://HOST[:PORT]/PATH (HTTPS; plain
        /// HTTP for 127.0.0.1 or with --insecure).
        #[arg(long, value_name = "URL", required_unless_present = "out_dir")]
        to: Option<String>,
        /// Write the images into an OCI image layout directory (`index.json` names each by its
        /// program).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// The image to start from (HOST[:PORT]/PATH[:TAG][@sha256:HEX], or a Docker Hub name);
        /// it must provide glibc (e.g. debian:bookworm-slim) [default: none: only the
        /// program's files].
        #[arg(long, value_name = "REF")]
        base: Option<String>,
        /// Sign each image manifest with this secret key (`cargo share key generate`).
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// Where the programs' files go in the image.
        #[arg(long, value_name = "DIR", default_value = cargo_share::image::DEFAULT_PREFIX)]
        prefix: String,
        /// Use plain HTTP for registries that are not on 127.0.0.1.
        #[arg(long)]
        insecure: bool,
    },
    /// Check the signature of an image `cargo share image --sign-key` pushed.
    VerifyImage {
        /// The image: HOST[:PORT]/PATH/PROGRAM:TAG or …@sha256:HEX (a digest is checked too).
        #[arg(value_name = "REF")]
        image: String,
        /// A public key whose signatures are trusted (repeatable; at least one).
        #[arg(long = "trusted-key", value_name = "FILE", required = true)]
        trusted_keys: Vec<PathBuf>,
        /// Use plain HTTP for a registry that is not on 127.0.0.1.
        #[arg(long)]
        insecure: bool,
    },
    /// Install programs from a binary cache, verified, with no compiler run.
    Pull {
        /// The cache: oci://HOST[:PORT]/PATH (HTTPS; plain HTTP for 127.0.0.1 or with --insecure).
        #[arg(long, value_name = "URL")]
        from: String,
        /// A public key whose signatures are trusted (repeatable; at least one).
        #[arg(long = "trusted-key", value_name = "FILE", required = true)]
        trusted_keys: Vec<PathBuf>,
        /// Install root: binaries are linked into ROOT/bin [default: $CARGO_INSTALL_ROOT or $CARGO_HOME].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Replace binaries in ROOT/bin that cargo share did not install.
        #[arg(long)]
        force: bool,
        /// Use plain HTTP for a registry that is not on 127.0.0.1 (credentials are then not sent).
        #[arg(long)]
        insecure: bool,
        /// Install the cache's `latest` of a program even when it is an older version than the
        /// one installed (without it, such a rollback of `latest` is refused; NAME@VERSION
        /// always installs the version asked for).
        #[arg(long)]
        allow_downgrade: bool,
        /// Programs: NAME or NAME@VERSION (default: the latest pushed).
        #[arg(value_name = "NAME[@VERSION]", required = true)]
        programs: Vec<CrateSpec>,
    },
    /// Print a shell completion script for cargo-share to stdout.
    ///
    /// For example `cargo share completions bash > ~/.local/share/bash-completion/completions/cargo-share`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (cargo-share.1 and one per command) into a directory.
    Man {
        /// Where to write them.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Make a signing key pair: DIR/NAME.secret (owner-only) and DIR/NAME.pub.
    Generate {
        /// The key's name (it travels with each signature).
        name: String,
        /// Where to write the two files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct ProgramArgs {
    /// Programs from crates.io: NAME or NAME@VERSION (same as --crate).
    #[arg(value_name = "NAME[@VERSION]")]
    positional: Vec<CrateSpec>,
    /// A file of programs, one NAME@VERSION a line (`#` starts a comment), as
    /// examples/reference-programs.txt.
    #[arg(long, value_name = "FILE")]
    programs: Option<PathBuf>,
    /// A local program: path to its Cargo.toml (or directory). Repeatable.
    #[arg(long = "manifest-path", value_name = "PATH")]
    manifest_paths: Vec<PathBuf>,
    /// A program from crates.io: NAME or NAME@VERSION. Repeatable.
    #[arg(long = "crate", value_name = "NAME[@VERSION]")]
    crates: Vec<CrateSpec>,
    #[command(flatten)]
    tuning: BuildTuning,
}

/// How programs are built: shared by build, test and install.
#[derive(Args, Debug)]
struct BuildTuning {
    /// How shared crates are packed into shared objects: `grouped` (crates used by the same
    /// programs in one object, crates used by one program static in it) or `per-crate` (one
    /// dylib per crate).
    /// [default: grouped; `bench` measures both]
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// What each group (grouped layout) and the relinked run-time libstd export, `used` (only
    /// what the programs import; smallest) or `all` (so that programs installed later can bind
    /// to the same file).
    /// [default: `all` for install, else `used`]
    #[arg(long, value_enum)]
    exports: Option<GroupExports>,
    /// When imports into the programs and their shared libraries are bound: `now` (at start,
    /// with the GOT read-only after: full RELRO, as rustc builds) or `lazy` (calls bound on first
    /// use through the PLT, each by name: partial RELRO). The static build `bench` compares
    /// with is always `now`.
    #[arg(long = "bind", value_enum, default_value_t = Binding::Now)]
    binding: Binding,
    /// Grouped layout: groups with less Rust source than this many bytes merge into a larger
    /// group their programs already load.
    #[arg(long, value_name = "BYTES", default_value_t = grouping::DEFAULT_MIN_GROUP_SOURCE_BYTES)]
    group_min_size: u64,
    /// Resolve the programs together: `none` (each its own Cargo.lock), `semver` (one version
    /// per semver-compatible range across the set) or `features` (as semver, and one build per
    /// crate version with the union of the features).
    /// [default: features for --layout grouped, else none; `analyze` compares all three]
    #[arg(long, value_enum)]
    unify: Option<Unify>,
    /// With --unify: save the set's resolution to FILE, or build exactly the one in FILE if it
    /// exists.
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,
    /// With --unify: use this exact version of a crate in the set. Repeatable.
    #[arg(long, value_name = "CRATE@VERSION")]
    pin: Vec<CrateSpec>,
    /// With --unify: keep this program out of the set, built with its own Cargo.lock. Repeatable.
    #[arg(long, value_name = "PROGRAM")]
    own_lock: Vec<String>,
    /// With --unify: resolve this program after the others, in a set of its own with exactly the
    /// features it asks for (it loads only the earlier groups built the same). Repeatable. A
    /// program that fails to build with its set's unified features is retried so by itself.
    #[arg(long, value_name = "PROGRAM")]
    own_features: Vec<String>,
    /// Allow Cargo to update programs' lockfiles instead of requiring them to be exact.
    #[arg(long)]
    no_locked: bool,
    /// Set a key of the shared-crate profile, e.g. `opt-level=2`. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    shared_profile: Vec<String>,
    /// Features to activate: FEATURE (one program) or PROGRAM/FEATURE, comma- or
    /// space-separated. Repeatable.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    features: Vec<String>,
    /// Activate all features of every program.
    #[arg(long)]
    all_features: bool,
    /// Do not activate the default features of the programs.
    #[arg(long)]
    no_default_features: bool,
    /// Build with a patched copy of a crates.io crate (`[patch.crates-io]`): CRATE=DIR, DIR
    /// holding a package of that name. Repeatable. (`cargo share update --path` installs this.)
    #[arg(long, value_name = "CRATE=DIR")]
    patch: Vec<String>,
    /// Number of parallel jobs for Cargo.
    #[arg(short, long)]
    jobs: Option<u32>,
    /// Append one JSON line per target unit the wrapper handled to FILE (for debugging).
    #[arg(long, value_name = "FILE", hide = true)]
    unit_log: Option<PathBuf>,
}

impl ProgramArgs {
    fn options(self, cache_dir: Option<PathBuf>) -> anyhow::Result<BuildOptions> {
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
    fn install_options(
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

    fn options(
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
fn plugin_options(
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
fn plugin_program(
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

/// `cargo share man --out DIR`: the manual page of `cargo-share` and of every command.
fn write_man_pages(out: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cli = <Cli as clap::CommandFactory>::command();
    cli.build();
    let mut pages = vec![("cargo-share".to_string(), cli.clone())];
    for sub in cli.get_subcommands() {
        let name = format!("cargo-share-{}", sub.get_name());
        for nested in sub.get_subcommands() {
            let nested_name = format!("{name}-{}", nested.get_name());
            pages.push((nested_name, nested.clone()));
        }
        pages.push((name, sub.clone()));
    }
    for (name, cmd) in pages {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .render(&mut page)?;
        let path = out.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn exit_with(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(101))
}

/// `install --debug`, `--profile NAME` other than `release`: refused, saying why and what to do.
fn refuse_other_profiles(debug: bool, profile: Option<&str>) -> anyhow::Result<()> {
    let asked = match (debug, profile) {
        (true, _) => "--debug",
        (false, Some(p)) if p != "release" => "--profile",
        _ => return Ok(()),
    };
    anyhow::bail!(
        "{asked}: cargo-share installs release builds only, because the store's shared crates \
         are built once, with one profile, for every program that loads them; nothing was \
         installed. Leave out {asked} (set the shared crates' profile keys with \
         --shared-profile KEY=VALUE), or build a debug copy with `cargo build`"
    )
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();

    if linker::linker_mode() {
        let args = argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return match linker::run(args) {
            Ok(code) => exit_with(code),
            Err(e) => {
                eprintln!("error: cargo-share linker: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    if let Some(plan) = std::env::var_os(PLAN_ENV) {
        if argv.len() > 1 {
            argv.remove(0);
            return match wrapper::run(&PathBuf::from(plan), argv) {
                Ok(code) => exit_with(code),
                Err(e) => {
                    eprintln!("error: cargo-share rustc wrapper: {e:#}");
                    ExitCode::from(101)
                }
            };
        }
    }

    // `cargo share ...` runs us as `cargo-share share ...`.
    if argv.get(1).is_some_and(|a| a == "share") {
        argv.remove(1);
    }
    let cli = Cli::parse_from(argv);
    if cli.offline || cli.frozen {
        // Every Cargo cargo-share runs inherits it; cargo-share starts no thread before this.
        std::env::set_var("CARGO_NET_OFFLINE", "true");
    }
    let format = if cli.json || matches!(cli.message_format, FormatArg::Json) {
        MessageFormat::Json
    } else {
        MessageFormat::Human
    };
    let shell = Shell::new(cli.quiet, format).with_verbose(cli.verbose);
    let store = || -> anyhow::Result<PathBuf> {
        match &cli.store {
            Some(s) => Ok(s.clone()),
            None => store::default_store_dir(),
        }
    };
    let result = match cli.command {
        Command::Build {
            programs,
            out,
            dry_run,
            plugin_for,
        } => plugin_options(programs, plugin_for, cli.cache_dir).and_then(|o| match out {
            Some(out) if !dry_run => build::build(&o, &out, &shell)
                .and_then(build::BuildReport::complete)
                .map(|_| 0),
            _ => build::show_plan(&o, &shell).map(|_| 0),
        }),
        Command::Bench {
            programs,
            work,
            runs,
            reuse,
            html,
            update_crate,
            no_update,
            startup_args,
        } => (|| {
            let unify = programs.tuning.unify;
            let layouts = match programs.tuning.layout {
                Some(l) => vec![l],
                None => vec![Layout::PerCrate, Layout::Grouped],
            };
            let mut build = programs.options(cli.cache_dir.clone())?;
            // Bench compares sharing at its best unless told otherwise: one resolution and one
            // build per crate (the grouped layout needs it anyway).
            build.unify.policy = unify.unwrap_or(Unify::Features);
            build.layout = Layout::PerCrate;
            let work_dir = match work {
                Some(w) => w,
                None => match &cli.cache_dir {
                    Some(c) => c.join("bench"),
                    None => build::default_cache_dir()?.join("bench"),
                },
            };
            let options = bench::BenchOptions {
                build,
                layouts,
                work_dir,
                runs: runs.max(3),
                reuse,
                html,
                update_crate: (!no_update).then_some(update_crate),
                startup_args: bench::parse_startup_args(&startup_args)?,
            };
            bench::bench(&options, &shell).map(|_| 0)
        })(),
        Command::Analyze {
            programs,
            generics: true,
            from,
        } => programs
            .options(cli.cache_dir)
            .and_then(|o| audit::generics(&o, &from, &shell))
            .map(|_| 0),
        Command::Analyze { programs, .. } => (|| {
            let policies = match programs.tuning.unify {
                Some(u) => vec![u],
                None => vec![Unify::None, Unify::Semver, Unify::Features],
            };
            let options = programs.options(cli.cache_dir)?;
            analyze::analyze(&options, &policies, &shell).map(|_| 0)
        })(),
        Command::Test { programs } => programs
            .options(cli.cache_dir)
            .and_then(|o| build::test(&o, &shell))
            .map(|results| {
                if results.iter().all(|r| r.success) {
                    0
                } else {
                    101
                }
            }),
        Command::Install {
            mut crates,
            paths,
            programs: programs_file,
            git,
            branch,
            tag,
            rev,
            version_req,
            root,
            force,
            locked: _,
            debug,
            profile,
            bins,
            all_bins: _,
            list,
            allow_test_failures,
            dry_run,
            plugin_for,
            no_regroup,
            keep_installed_versions,
            tuning,
        } => (|| {
            if list {
                return store::list(&store()?, &shell).map(|_| 0);
            }
            refuse_other_profiles(debug, profile.as_deref())?;
            if let Some(file) = &programs_file {
                crates.extend(source::read_program_list(file)?);
            }
            let mut build = match plugin_for {
                Some(host) => {
                    if !crates.is_empty() || git.is_some() {
                        anyhow::bail!(
                            "--plugin-for {host}: the install has one program, {host}; its \
                             plugins are given with --path"
                        );
                    }
                    let mut o = tuning.install_options(
                        vec![plugin_program(&host, Some(&store()?))?],
                        cli.cache_dir.clone(),
                    )?;
                    o.plugin_host = true;
                    o.plugins = paths;
                    o
                }
                None => {
                    let mut programs: Vec<ProgramSource> =
                        paths.into_iter().map(ProgramSource::Path).collect();
                    let git = git.map(|url| source::GitSpec {
                        url,
                        reference: match (branch, tag, rev) {
                            (Some(b), _, _) => source::GitReference::Branch(b),
                            (_, Some(t), _) => source::GitReference::Tag(t),
                            (_, _, Some(r)) => source::GitReference::Rev(r),
                            _ => source::GitReference::DefaultBranch,
                        },
                        package: None,
                    });
                    programs.extend(source::install_sources(crates, git, version_req)?);
                    tuning.install_options(programs, cli.cache_dir.clone())?
                }
            };
            build.allow_test_failures = allow_test_failures;
            build.retest_installed = !keep_installed_versions;
            build.unify.newest_locked = !keep_installed_versions;
            let options = store::InstallOptions {
                build,
                root: root.map_or_else(store::default_root, Ok)?,
                store: store()?,
                force,
                regroup: !no_regroup,
                replay: false,
                binaries: (!bins.is_empty()).then(|| bins.into_iter().collect()),
            };
            if dry_run {
                return store::show_install_plan(&options, &shell).map(|_| 0);
            }
            let mut options = options;
            if options.build.programs.is_empty() {
                anyhow::bail!(
                    "no program to install: name a crates.io package (`cargo share install \
                     NAME`), or use --path DIR or --git URL; to build the installed programs \
                     again, run `cargo share update --rebuild-all`"
                );
            }
            // A choice of binaries is installed afresh (the store does not know which binaries
            // an earlier install left out), and not from a binary cache (which has them all).
            if !force && !options.build.plugin_host && options.binaries.is_none() {
                store::skip_already_installed(
                    &mut options.build,
                    &options.store,
                    &options.root,
                    &shell,
                )?;
                if options.build.programs.is_empty() {
                    return Ok(0);
                }
            }
            let substituted = cache::substitute(&mut options, &shell)?;
            if options.build.programs.is_empty() && !substituted.is_empty() {
                return Ok(0);
            }
            store::install(&options, &shell).map(|_| 0)
        })(),
        Command::Adopt {
            root,
            dry_run,
            tuning,
        } => (|| {
            if !tuning.features.is_empty() || tuning.all_features || tuning.no_default_features {
                anyhow::bail!(
                    "adopt takes each program's features from what `cargo install` recorded: \
                     --features, --all-features and --no-default-features are not accepted"
                );
            }
            let options = adopt::AdoptOptions {
                build: tuning.install_options(Vec::new(), cli.cache_dir.clone())?,
                root: root.map_or_else(store::default_root, Ok)?,
                store: store()?,
                dry_run,
            };
            adopt::adopt(&options, &shell).map(|_| 0)
        })(),
        Command::Update {
            krate,
            to,
            path,
            rebuild_all: _,
            dry_run,
        } => store().and_then(|s| {
            let change = krate.map(|k| {
                let target = match (to, path) {
                    (Some(v), _) => cargo_share::update::UpdateTarget::Version(v),
                    (None, Some(dir)) => cargo_share::update::UpdateTarget::Path(dir),
                    (None, None) => cargo_share::update::UpdateTarget::Newest,
                };
                (k, target)
            });
            let options = cargo_share::update::UpdateOptions {
                store: s,
                cache_dir: cli.cache_dir.clone(),
                change,
                dry_run,
            };
            cargo_share::update::update(&options, &shell).map(|_| 0)
        }),
        Command::Uninstall { names, root } => {
            store().and_then(|s| store::uninstall(&s, &names, root.as_deref(), &shell).map(|_| 0))
        }
        Command::Audit { paths, html } => {
            audit::audit(&audit::AuditOptions { paths, html }, &shell).map(|_| 0)
        }
        Command::List => store().and_then(|s| store::list(&s, &shell).map(|_| 0)),
        Command::Why { lib } => store().and_then(|s| store::why(&s, &lib, &shell).map(|_| 0)),
        Command::Preload {
            min_programs,
            all,
            lock,
            print_unit,
        } => store().and_then(|s| {
            let selection = if all {
                preload::Selection::All
            } else {
                preload::Selection::MinPrograms(min_programs)
            };
            if print_unit {
                let exe = std::env::current_exe()?;
                let text = preload::unit::unit_text(&exe, cli.store.as_deref(), selection, lock);
                print!("{text}");
                return Ok(0);
            }
            let options = preload::PreloadOptions {
                store: s,
                selection,
                lock,
            };
            preload::preload(&options, &shell).map(|_| 0)
        }),
        Command::Gc { dry_run } => store().and_then(|s| store::gc(&s, dry_run, &shell).map(|_| 0)),
        Command::Optimise => store().and_then(|s| store::optimise(&s, &shell).map(|_| 0)),
        Command::Verify { repair } => store().and_then(|s| {
            store::verify(&s, repair, &shell).map(|p| if p.is_empty() { 0 } else { 1 })
        }),
        Command::Key(KeyCommand::Generate { name, out }) => {
            cache::generate_key(&name, &out).map(|(secret, public)| {
                shell.status(
                    "Generated",
                    format!(
                        "the key `{name}`: {} (secret, owner-only: sign with it) and {} \
                         (public: give it to pullers)",
                        secret.display(),
                        public.display()
                    ),
                );
                shell.json(&serde_json::json!({"reason": "key-generated", "name": name,
                    "secret": secret, "public": public}));
                0
            })
        }
        Command::Push {
            to,
            sign_key,
            insecure,
            programs,
        } => store().and_then(|store| {
            let options = cache::PushOptions {
                store,
                to,
                sign_key,
                programs,
                insecure,
            };
            cache::push(&options, &shell).map(|_| 0)
        }),
        Command::Image {
            programs,
            to,
            out_dir,
            base,
            sign_key,
            prefix,
            insecure,
        } => programs.options(cli.cache_dir).and_then(|build| {
            let options = cargo_share::image::ImageOptions {
                build,
                to,
                out_dir,
                base,
                sign_key,
                prefix,
                insecure,
            };
            cargo_share::image::image(&options, &shell).map(|_| 0)
        }),
        Command::VerifyImage {
            image,
            trusted_keys,
            insecure,
        } => cargo_share::image::verify_pushed(&image, &trusted_keys, insecure, &shell).map(|_| 0),
        Command::Pull {
            from,
            trusted_keys,
            root,
            force,
            insecure,
            allow_downgrade,
            programs,
        } => (|| {
            let options = cache::PullOptions {
                store: store()?,
                root: match root {
                    Some(r) => r,
                    None => store::default_root()?,
                },
                from,
                trusted_keys,
                programs,
                insecure,
                force,
                allow_downgrade,
            };
            cache::pull(&options, &shell).map(|_| 0)
        })(),
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli, "cargo-share", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .map(|_| 0)
                .map_err(anyhow::Error::from)
        }
        Command::Man { out } => write_man_pages(&out).map(|_| 0),
    };
    match result {
        Ok(code) => exit_with(code),
        Err(e) => {
            // Said once: on stderr, and in JSON mode also as one `error` record.
            shell.error(format!("{e:#}"));
            ExitCode::from(101)
        }
    }
}
