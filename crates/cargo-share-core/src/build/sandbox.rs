//! Confining the Cargo builds and test runs cargo-share starts, with Landlock (Linux 5.13+,
//! unprivileged): Cargo, rustc, every build script and proc macro, the linker and the test
//! binaries may read everything but write only where a build must: the target directory,
//! Cargo's home (downloads, its locks), the temporary directory, `/dev` (`/dev/null`), the
//! workspace's own `Cargo.lock` (a build with `--no-locked` may rewrite it) and the cache of the
//! user's chained rustc wrapper (sccache). The store, the programs' sources (their set
//! workspace copies), the user's home and everything else are read-only to them.
//!
//! The ruleset is made in cargo-share's process and applied in the child between `fork` and
//! `exec` with two system calls (`prctl(PR_SET_NO_NEW_PRIVS)`, `landlock_restrict_self`),
//! which allocate nothing. Where the kernel has no Landlock the build runs unconfined, said
//! once. `CARGO_SHARE_NO_SANDBOX=1` turns the confinement off (for a build that must write
//! elsewhere; say why in an issue). Why the `landlock` crate and not `bubblewrap`: Landlock
//! needs no setuid helper, no user namespaces and no package, and confines the same processes.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use landlock::{
    Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, ABI,
};

use crate::shell::Shell;

/// Turns the confinement off when set to `1`.
pub(crate) const NO_SANDBOX_ENV: &str = "CARGO_SHARE_NO_SANDBOX";

/// The Landlock ABI whose write rights are handled: V3 adds truncation. Later ABIs' device
/// ioctls are left alone (Cargo asks the terminal its width).
const HANDLED_ABI: ABI = ABI::V3;

/// Where a confined build may write, besides the temporary directory and `/dev`.
pub(crate) struct Writable {
    pub(crate) target_dir: PathBuf,
    pub(crate) cargo_home: PathBuf,
    /// The workspace's `Cargo.lock` (a file; its directory stays read-only).
    pub(crate) lockfile: Option<PathBuf>,
    /// Other directories (the chained wrapper's cache, `--unit-log`'s directory).
    pub(crate) extra: Vec<PathBuf>,
}

/// Whether builds are confined here: Landlock is in the kernel and `CARGO_SHARE_NO_SANDBOX`
/// is not set. Confined, each program is built by a Cargo command of its own, whose build
/// scripts may write into that program's own package directory (as zoxide's writes its shell
/// completions there) and nowhere beside it.
pub(crate) fn confines_builds() -> bool {
    static CONFINES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CONFINES.get_or_init(|| {
        if std::env::var_os(NO_SANDBOX_ENV).is_some_and(|v| v == "1") {
            return false;
        }
        let probe = Writable {
            target_dir: std::env::temp_dir(),
            cargo_home: std::env::temp_dir(),
            lockfile: None,
            extra: Vec::new(),
        };
        matches!(ruleset(&probe), Ok(Some(_)))
    })
}

/// Confine `cmd` (when it runs) to writing only where `writable` says, or say once why it is
/// not confined.
pub(crate) fn confine(cmd: &mut Command, writable: &Writable, shell: &Shell) -> Result<()> {
    if std::env::var_os(NO_SANDBOX_ENV).is_some_and(|v| v == "1") {
        shell.status(
            "Unconfined",
            format!("builds and build scripts ({NO_SANDBOX_ENV}=1)"),
        );
        return Ok(());
    }
    let Some(fd) = ruleset(writable)? else {
        shell.status(
            "Unconfined",
            "builds and build scripts: this kernel has no Landlock (Linux 5.13 or later with \
             the Landlock LSM enabled), so they can write wherever you can",
        );
        return Ok(());
    };
    let raw = fd.as_raw_fd();
    // SAFETY: between fork and exec the closure only makes two system calls; `fd` stays open
    // in the parent (moved into the closure) until the command is dropped.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &fd;
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_landlock_restrict_self, raw, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// The ruleset's file descriptor, or `None` where the kernel has no Landlock.
fn ruleset(writable: &Writable) -> Result<Option<OwnedFd>> {
    let all = AccessFs::from_all(HANDLED_ABI);
    let read = AccessFs::from_read(HANDLED_ABI);
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .create()?
        .add_rule(PathBeneath::new(PathFd::new("/")?, read))?;
    let mut dirs = vec![
        writable.target_dir.clone(),
        writable.cargo_home.clone(),
        std::env::temp_dir(),
        PathBuf::from("/dev"),
    ];
    dirs.extend(writable.extra.iter().cloned());
    for dir in dirs {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating {} for the build", dir.display()))?;
        created = created.add_rule(PathBeneath::new(PathFd::new(&dir)?, all))?;
    }
    if let Some(lock) = writable.lockfile.as_deref().filter(|l| l.is_file()) {
        let file_rights = AccessFs::WriteFile | AccessFs::Truncate;
        created = created.add_rule(PathBeneath::new(PathFd::new(lock)?, file_rights))?;
    }
    Ok(Option::<OwnedFd>::from(created))
}

/// The cache directory of a chained rustc wrapper that keeps one (sccache), if `wrapper` is
/// one: `SCCACHE_DIR`, else sccache's default under the user's cache directory.
pub(crate) fn wrapper_cache(wrapper: &Path) -> Option<PathBuf> {
    let name = wrapper.file_name()?.to_string_lossy();
    if !name.starts_with("sccache") {
        return None;
    }
    if let Some(dir) = std::env::var_os("SCCACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let cache = crate::dirs::cache_home().ok()?;
    Some(cache.join("sccache"))
}
