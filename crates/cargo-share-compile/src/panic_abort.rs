//! `panic = "abort"` programs abort, as their static build does.
//!
//! rustc picks the panic runtime at the final link: a static `panic = "abort"` binary links
//! `panic_abort`, whose `__rust_start_panic` aborts the process (`std::process::abort`, SIGABRT)
//! after std has run the panic hook. The toolchain's `libstd-<hash>.so` carries `panic_unwind`
//! instead, and rustc refuses to link a crate compiled with `-C panic=abort` against it ("the
//! linked panic runtime `panic_unwind` is not compiled with this crate's panic strategy
//! `abort`"), so the program's crates are compiled to unwind (`compile::profile`).
//!
//! std starts every panic, `resume_unwind` included, with one call to `__rust_start_panic`
//! (v0-mangled `_RNvCs…_7___rustc18___rust_start_panic`), which std's objects reach through the
//! GOT (`R_X86_64_GOTPCREL`). The relinked run-time libstd keeps that symbol interposable
//! (`build::std_relink`, in its `--dynamic-list` as the allocator shim is), and the executable
//! of a `panic = "abort"` program links the toolchain's own `panic_abort` object and exports its
//! `__rust_start_panic` (the rlib's member, linked as an object, and `--export-dynamic-symbol`). Under `BIND_NOW` the loader binds libstd's call to the
//! executable's definition before any code runs: the hook runs, then the process aborts, even
//! inside `catch_unwind` and in any library of the process. What stays as in an unwinding build:
//! `cfg!(panic = "abort")` is false in the program's crates, and their code keeps its landing
//! pads.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Tells cargo-share in linker mode to give the executable the aborting panic runtime: the path
/// of the toolchain's `libpanic_abort-<hash>.rlib`.
pub(crate) const PANIC_ABORT_ENV: &str = "CARGO_SHARE_PANIC_ABORT";

/// The function std calls to start a panic, as the panic runtimes define it.
const START_PANIC: &str = "__rust_start_panic";

/// Whether `name` is the panic runtime's entry point, legacy or v0-mangled
/// (`_RNvCs<hash>_7___rustc18___rust_start_panic`).
pub fn is_start_panic(name: &str) -> bool {
    name == START_PANIC
        || (name.starts_with("_R")
            && name.contains("___rustc")
            && name.ends_with(&format!("{}_{START_PANIC}", START_PANIC.len())))
}

/// The member of `rlib` that defines `__rust_start_panic`, and the name it defines it under.
fn start_panic_member(rlib: &Path) -> Result<(Vec<u8>, String)> {
    match crate::elf::archive_member_defining(rlib, is_start_panic)? {
        Some(member) => Ok(member),
        None => bail!(
            "{} defines no `{START_PANIC}`: this toolchain's panic_abort is not laid out as \
             cargo-share expects; report it with `rustc -vV`",
            rlib.display()
        ),
    }
}

/// The linker arguments that give an executable the aborting panic runtime of `rlib` and export
/// its entry point. The member is copied into `scratch` and linked as an object: given the
/// archive, the linker would take the symbol from the toolchain's libstd.so, which defines it
/// too, and never pull the member.
pub(crate) fn abort_on_panic_args(rlib: &Path, scratch: &Path) -> Result<Vec<String>> {
    let (object, symbol) = start_panic_member(rlib)?;
    let path = scratch.join("panic_abort.o");
    std::fs::write(&path, object).with_context(|| format!("writing {}", path.display()))?;
    Ok(vec![
        path.display().to_string(),
        format!("-Wl,--export-dynamic-symbol={symbol}"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_point_is_told_from_its_neighbours() {
        assert!(is_start_panic("__rust_start_panic"));
        assert!(is_start_panic(
            "_RNvCsfLfy6EI15iL_7___rustc18___rust_start_panic"
        ));
        assert!(!is_start_panic(
            "_RNvCsfLfy6EI15iL_7___rustc20___rust_panic_cleanup"
        ));
        assert!(!is_start_panic("_RNvCsfLfy6EI15iL_7___rustc10rust_panic"));
        assert!(!is_start_panic("my__rust_start_panic"));
    }

    #[test]
    fn the_toolchains_panic_abort_defines_it() {
        let toolchain = crate::toolchain::Toolchain::detect().unwrap();
        let rlib = toolchain.panic_abort_rlib().expect("libpanic_abort-*.rlib");
        let scratch = tempfile::tempdir().unwrap();
        let args = abort_on_panic_args(&rlib, scratch.path()).unwrap();
        assert!(std::path::Path::new(&args[0]).is_file(), "{args:?}");
        assert!(
            args[1].starts_with("-Wl,--export-dynamic-symbol=_R"),
            "{args:?}"
        );
        assert!(args[1].ends_with("18___rust_start_panic"), "{args:?}");
    }
}
