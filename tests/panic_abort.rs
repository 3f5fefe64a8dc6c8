//! A `panic = "abort"` program behaves as its static build: the panic hook runs, then the process
//! aborts (SIGABRT), even inside `catch_unwind` and for a panic started in a shared library.
//! A program without it still unwinds (`hard_cases`: hard-b catches a panic in a thread).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// The signal `abort(3)` raises (Linux).
const SIGABRT: i32 = 6;

/// `pa-one panic-in-catch-unwind`, run from `/` with an empty environment.
fn panic_in_catch_unwind(binary: &Path) -> Output {
    Command::new(binary)
        .arg("panic-in-catch-unwind")
        .env_clear()
        .current_dir("/")
        .output()
        .unwrap()
}

/// The process was killed by SIGABRT after the hook printed the library's panic message, and
/// `catch_unwind` never returned.
fn assert_aborted_after_hook(out: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{what}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("pa-one hook: panicked at")
            && stderr.contains("pa-lib fails inside catch_unwind"),
        "{what}: the hook did not run:\n{stderr}"
    );
    assert!(
        !stdout.contains("catch_unwind returned"),
        "{what}: catch_unwind returned:\n{stdout}"
    );
}

fn aborts_as_static(layout: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let mut build = cargo_share(scratch.path());
    build.args(["build", "-q", "--layout", layout]);
    if layout == "grouped" {
        build.args(["--unify", "features"]);
    }
    run_ok(
        build
            .arg("--manifest-path")
            .arg(fixture("panic-abort"))
            .arg("--out")
            .arg(&out),
    );
    let static_dir = static_build(&fixture("panic-abort"), scratch.path());
    assert_aborted_after_hook(&panic_in_catch_unwind(&static_dir.join("pa-one")), "static");
    let shared = out.join("bin").join("pa-one");
    assert_aborted_after_hook(&panic_in_catch_unwind(&shared), layout);
    // The rest of the program is unchanged: the same output as static, but for the strategy
    // its crates were compiled with.
    for bin in ["pa-one", "pa-two"] {
        assert_eq!(
            run_clean(&out.join("bin").join(bin)),
            run_clean(&static_dir.join(bin)).replace("= abort", "= unwind"),
            "{bin}"
        );
    }
}

#[test]
fn a_panic_aborts_inside_catch_unwind_grouped() {
    aborts_as_static("grouped");
}

#[test]
fn a_panic_aborts_inside_catch_unwind_per_crate() {
    aborts_as_static("per-crate");
}
