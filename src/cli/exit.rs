//! The exit codes of `cargo share` (the book's reference, `docs/src/reference/exit-codes.md`,
//! lists them for users; a test checks the two agree).

use std::process::ExitCode;

/// `verify` found problems.
pub(crate) const PROBLEMS_FOUND: i32 = 1;
/// The command failed (as Cargo's 101): an error, or `test` with failing tests.
pub(crate) const FAILED: i32 = 101;

/// The process exit code for `code` (a code outside 0-255 is a failure).
pub(crate) fn exit_with(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(FAILED as u8))
}

/// The exit code of a command that ended with `error`.
pub(crate) fn code_of(_error: &anyhow::Error) -> u8 {
    FAILED as u8
}
