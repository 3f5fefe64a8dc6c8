//! The exit codes of `cargo share`. The book's reference (`docs/src/reference/exit-codes.md`)
//! lists them for users; a test checks that it names each one.

use std::process::ExitCode;

use cargo_share_core::failure::ErrorKind;

/// `verify` found problems.
pub(crate) const PROBLEMS_FOUND: i32 = 1;
/// Some programs were installed and the others failed (`Failure::Partial`).
pub(crate) const PARTIAL: i32 = 3;
/// A remote could not be reached (`Failure::Unreachable`).
pub(crate) const UNREACHABLE: i32 = 4;
/// Something a remote sent failed its signature check (`Failure::Untrusted`).
pub(crate) const UNTRUSTED: i32 = 5;
/// The command failed (as Cargo's 101): any other error, or `test` with failing tests.
pub(crate) const FAILED: i32 = 101;

/// The process exit code for `code` (a code outside 0-255 is a failure).
pub(crate) fn exit_with(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(FAILED as u8))
}

/// The exit code of an error of `kind` (the `kind` of its `error` record).
pub(crate) fn code_of(kind: ErrorKind) -> u8 {
    let code = match kind {
        ErrorKind::Problem => PROBLEMS_FOUND,
        ErrorKind::Partial => PARTIAL,
        ErrorKind::Unreachable => UNREACHABLE,
        ErrorKind::Untrusted => UNTRUSTED,
        ErrorKind::Failed => FAILED,
    };
    code as u8
}
