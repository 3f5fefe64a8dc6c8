//! The `cargo share` command line: global options, one argument struct and `exec` per command
//! (in the module of its concern), and the exit code of an error ([`exit`]).

mod audit;
mod build;
mod cache;
mod docs;
mod exit;
mod image;
mod install;
mod program_args;
mod store;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use cargo_share_core::failure::ErrorKind;
use cargo_share_core::shell::{MessageFormat, Shell};
use clap::{Parser, Subcommand, ValueEnum};

pub(crate) use exit::exit_with;

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
    Build(build::BuildArgs),
    /// Run each program's own test suite with the program built in shared mode.
    Test(build::TestArgs),
    /// Build programs static and shared and measure what sharing buys.
    ///
    /// One run measures disk, memory, start-up, run time, build time and the bytes an update
    /// ships (see the book's "Bench" guide).
    Bench(build::BenchArgs),
    /// Count the crate builds a set of programs needs under each --unify policy.
    ///
    /// Nothing is built (except with --generics).
    Analyze(build::AnalyzeArgs),
    /// Build programs in shared mode and install them, bound to exact store entries.
    Install(install::InstallArgs),
    /// Move the programs `cargo install` put in ROOT/bin into the store.
    ///
    /// They are installed again through the store, as one set with their recorded versions and
    /// features; each replaced binary is kept in ROOT/cargo-share-adopted (see the book's
    /// "Adopt" guide).
    Adopt(store::AdoptArgs),
    /// Rebuild the installed programs that use a crate with a new version or a patched copy of it.
    ///
    /// Only the files whose bytes change are shipped (see the book's "Update" guide).
    Update(store::UpdateArgs),
    /// Uninstall programs (their libraries go at the next `gc` if nothing else uses them).
    Uninstall(store::UninstallArgs),
    /// List installed programs and the store's libraries, sizes and users.
    List,
    /// Find what the Rust binaries on this machine duplicate, and what sharing would save.
    ///
    /// It lists the Rust binaries on this machine (or under PATHs), the crate versions each
    /// carries, and what sharing their common crate versions would save (see the book's "Audit"
    /// guide).
    Audit(audit::AuditArgs),
    /// Which installed programs need a library (package name, file name or id).
    Why(store::WhyArgs),
    /// Warm the shared libraries most installed programs load (page cache), optionally locked.
    ///
    /// Run it at login with a systemd user unit (`--print-unit`; see the book's "Preload"
    /// guide). Only files of the store are read; anything else is skipped with a warning.
    Preload(store::PreloadArgs),
    /// Remove store entries and program builds that no installed program needs.
    Gc(store::GcArgs),
    /// Hard-link byte-identical files across store entries.
    #[command(alias = "optimize")]
    Optimise,
    /// Check every installed program's closure, file hashes and library resolution.
    Verify(store::VerifyArgs),
    /// Signing keys for the binary cache.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Push installed programs and the store entries they need to a binary cache, signed.
    ///
    /// The cache is an OCI registry (see the book's "Binary cache" guide).
    Push(cache::PushArgs),
    /// Build programs and ship one OCI image per program, the crates they share in shared layers.
    ///
    /// Each image holds its program's files under PREFIX (bin/, lib/): a layer per set of files
    /// several programs load, and the program's own layer, on top of --base (see the book's
    /// "Container images" guide).
    Image(image::ImageArgs),
    /// Build programs and write native packages: one per program, one per shared library.
    ///
    /// Shared libraries are packages of their own, named by the file binaries bind to, so the
    /// package manager installs each once, upgrades only what a fix changes and removes it with
    /// the last program (see the book's "Native packages" guide).
    Package(image::PackageCommand),
    /// Check the signature of an image `cargo share image --sign-key` pushed.
    VerifyImage(image::VerifyImageArgs),
    /// Install programs from a binary cache, verified, with no compiler run.
    Pull(cache::PullArgs),
    /// Print a shell completion script for cargo-share to stdout.
    ///
    /// For example `cargo share completions bash > ~/.local/share/bash-completion/completions/cargo-share`.
    Completions(docs::CompletionsArgs),
    /// Write the manual pages (cargo-share.1 and one per command) into a directory.
    Man(docs::ManArgs),
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

/// What every command's `exec` gets besides its own arguments: the global options.
pub(crate) struct Context {
    pub shell: Shell,
    pub cache_dir: Option<PathBuf>,
    /// `--store`, if given.
    pub store: Option<PathBuf>,
}

impl Context {
    /// The store directory: `--store`, else the default.
    pub fn store_dir(&self) -> Result<PathBuf> {
        match &self.store {
            Some(s) => Ok(s.clone()),
            None => cargo_share_core::store::default_store_dir(),
        }
    }
}

/// Run the command line `argv` (`cargo-share [share] COMMAND ...`).
pub(crate) fn run(mut argv: Vec<OsString>) -> ExitCode {
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
    let ctx = Context {
        shell: Shell::new(cli.quiet, format).with_verbose(cli.verbose),
        cache_dir: cli.cache_dir,
        store: cli.store,
    };
    match exec(cli.command, &ctx) {
        Ok(code) => exit_with(code),
        Err(e) => {
            // Said once: on stderr, and in JSON mode also as one `error` record.
            let kind = ErrorKind::of(&e);
            ctx.shell.error(kind, format!("{e:#}"));
            ExitCode::from(exit::code_of(kind))
        }
    }
}

/// Run one command: its exit code, or the error that ended it.
fn exec(command: Command, ctx: &Context) -> Result<i32> {
    match command {
        Command::Build(args) => args.exec(ctx),
        Command::Test(args) => args.exec(ctx),
        Command::Bench(args) => args.exec(ctx),
        Command::Analyze(args) => args.exec(ctx),
        Command::Install(args) => args.exec(ctx),
        Command::Adopt(args) => args.exec(ctx),
        Command::Update(args) => args.exec(ctx),
        Command::Uninstall(args) => args.exec(ctx),
        Command::List => store::list(ctx),
        Command::Audit(args) => args.exec(ctx),
        Command::Why(args) => args.exec(ctx),
        Command::Preload(args) => args.exec(ctx),
        Command::Gc(args) => args.exec(ctx),
        Command::Optimise => store::optimise(ctx),
        Command::Verify(args) => args.exec(ctx),
        Command::Key(key) => key.exec(ctx),
        Command::Push(args) => args.exec(ctx),
        Command::Image(args) => args.exec(ctx),
        Command::Package(args) => args.exec(ctx),
        Command::VerifyImage(args) => args.exec(ctx),
        Command::Pull(args) => args.exec(ctx),
        Command::Completions(args) => args.exec(),
        Command::Man(args) => args.exec(),
    }
}
