//! The `cargo-share` executable: a thin command line over the `cargo_share` library.
//!
//! One executable, three roles, chosen before any argument parsing:
//! * linker, when `CARGO_SHARE_REAL_LINKER` is set (see `cargo_share_compile::linker`);
//! * rustc wrapper, when `CARGO_SHARE_PLAN` is set (Cargo runs us as `RUSTC_WRAPPER`);
//! * otherwise the `cargo share` command line (`cli`).

mod cli;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use cargo_share_compile::plan::PLAN_ENV;
use cargo_share_compile::{linker, wrapper};

use cli::exit_with;

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

    cli::run(argv)
}
