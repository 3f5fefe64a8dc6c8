//! The `cargo-share` executable: a thin command line over the `cargo_share` library.
//!
//! One executable, three roles, chosen before any argument parsing:
//! * linker, when `CARGO_SHARE_EXPORT_SYMBOLS` is set (see `cargo_share::linker`);
//! * rustc wrapper, when `CARGO_SHARE_PLAN` is set (Cargo runs us as `RUSTC_WRAPPER`);
//! * otherwise the `cargo share` command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use cargo_share::plan::PLAN_ENV;
use cargo_share::profile::SharedProfile;
use cargo_share::program::{CrateSpec, ProgramSource};
use cargo_share::shared_build::{self, BuildOptions, Layout};
use cargo_share::shell::{MessageFormat, Shell};
use cargo_share::{linker, wrapper};

#[derive(Parser, Debug)]
#[command(
    name = "cargo-share",
    bin_name = "cargo share",
    version,
    about = "Build Cargo programs against shared Rust dylibs of their library crates"
)]
struct Cli {
    /// No progress output (warnings and errors are still shown).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Output format: `human` progress on stderr, or `json` lines on stdout.
    #[arg(long, value_enum, global = true, default_value = "human")]
    message_format: FormatArg,
    /// Same as `--message-format json`.
    #[arg(long, global = true)]
    json: bool,
    /// Where cargo-share keeps fetched sources and its build directory
    /// [default: $CARGO_SHARE_CACHE, $XDG_CACHE_HOME/cargo-share or ~/.cache/cargo-share].
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
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
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run each program's own test suite with the program built in shared mode.
    Test {
        #[command(flatten)]
        programs: ProgramArgs,
    },
}

#[derive(Args, Debug)]
struct ProgramArgs {
    /// A local program: path to its Cargo.toml (or directory). Repeatable.
    #[arg(long = "manifest-path", value_name = "PATH")]
    manifest_paths: Vec<PathBuf>,
    /// A program from crates.io: NAME or NAME@VERSION. Repeatable.
    #[arg(long = "crate", value_name = "NAME[@VERSION]")]
    crates: Vec<CrateSpec>,
    /// How shared crates are packed into shared objects.
    #[arg(long, value_enum, default_value = "per-crate")]
    layout: Layout,
    /// Allow Cargo to update programs' lockfiles instead of requiring them to be exact.
    #[arg(long)]
    no_locked: bool,
    /// Set a key of the shared-crate profile, e.g. `opt-level=2`. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    shared_profile: Vec<String>,
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
        programs.extend(self.crates.into_iter().map(ProgramSource::Registry));
        Ok(BuildOptions {
            programs,
            layout: self.layout,
            locked: !self.no_locked,
            cache_dir,
            shared_profile: SharedProfile::default().with_overrides(&self.shared_profile)?,
            jobs: self.jobs,
            unit_log: self.unit_log,
        })
    }
}

fn exit_with(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(101))
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();

    if let Some(exports) = std::env::var_os(linker::EXPORTS_ENV) {
        let args = argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return match linker::run(&PathBuf::from(exports), args) {
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
    let format = if cli.json || matches!(cli.message_format, FormatArg::Json) {
        MessageFormat::Json
    } else {
        MessageFormat::Human
    };
    let shell = Shell::new(cli.quiet, format);
    let result = match cli.command {
        Command::Build { programs, out } => programs
            .options(cli.cache_dir)
            .and_then(|o| shared_build::build(&o, &out, &shell))
            .map(|_| 0),
        Command::Test { programs } => programs
            .options(cli.cache_dir)
            .and_then(|o| shared_build::test(&o, &shell))
            .map(|results| {
                if results.iter().all(|r| r.success) {
                    0
                } else {
                    101
                }
            }),
    };
    match result {
        Ok(code) => exit_with(code),
        Err(e) => {
            shell.error(format!("{e:#}"));
            ExitCode::from(101)
        }
    }
}
