//! Fault injection for the crash-safety tests, at named points right after each step that
//! writes to the store or `ROOT/bin`.
//!
//! `CARGO_SHARE_FAULT=POINT[#N][:MODE]` acts at the `N`th time the process reaches `POINT` (every
//! time without `#N`): `kill` (the default) SIGKILLs the process right there (no destructors,
//! no cleanup), as a power cut or the OOM killer would; `enospc` and `eio` make the step fail
//! with that error (a full disk, a failing disk), as the next write would.
//! `CARGO_SHARE_FAULT_LOG=FILE` appends `POINT#N` for every point reached, so a test can find
//! every injection site of a command and try each.
//!
//! Compiled in only where tests run: debug builds (what `cargo test` builds) and builds with the
//! `fault-injection` feature. A release build (`cargo install cargo-share`) has no fault point:
//! `step` is an empty inline function there, and the variables are not read.

#[cfg(any(debug_assertions, feature = "fault-injection"))]
use std::collections::BTreeMap;
#[cfg(any(debug_assertions, feature = "fault-injection"))]
use std::io::Write;
#[cfg(any(debug_assertions, feature = "fault-injection"))]
use std::sync::Mutex;

/// The environment variable naming the point at which to fail.
#[cfg(any(debug_assertions, feature = "fault-injection"))]
pub(crate) const FAULT_ENV: &str = "CARGO_SHARE_FAULT";
/// The environment variable naming the file that records the points reached.
#[cfg(any(debug_assertions, feature = "fault-injection"))]
pub(crate) const FAULT_LOG_ENV: &str = "CARGO_SHARE_FAULT_LOG";

#[cfg(any(debug_assertions, feature = "fault-injection"))]
static REACHED: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

/// `POINT[#N][:MODE]`, read.
#[cfg(any(debug_assertions, feature = "fault-injection"))]
fn parse(spec: &str) -> (&str, Option<u32>, &str) {
    let (site, mode) = spec.split_once(':').unwrap_or((spec, "kill"));
    match site.split_once('#') {
        Some((name, n)) => (name, n.parse().ok(), mode),
        None => (site, None, mode),
    }
}

/// The step just done at `name`: fail here if `CARGO_SHARE_FAULT` says so.
#[cfg(any(debug_assertions, feature = "fault-injection"))]
pub fn step(name: &str) -> std::io::Result<()> {
    let log = std::env::var_os(FAULT_LOG_ENV);
    let spec = std::env::var(FAULT_ENV).ok();
    if log.is_none() && spec.is_none() {
        return Ok(());
    }
    let n = {
        let mut reached = REACHED.lock().unwrap_or_else(|e| e.into_inner());
        let n = reached.entry(name.to_string()).or_insert(0);
        *n += 1;
        *n
    };
    if let Some(log) = log {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{name}#{n}");
        }
    }
    let Some(spec) = spec else {
        return Ok(());
    };
    let (point, nth, mode) = parse(&spec);
    if point != name || nth.is_some_and(|want| want != n) {
        return Ok(());
    }
    let errno = match mode {
        "enospc" => libc::ENOSPC,
        "eio" => libc::EIO,
        _ => kill(),
    };
    let err = std::io::Error::from_raw_os_error(errno);
    Err(std::io::Error::new(
        err.kind(),
        format!("{err} (injected at {name}#{n})"),
    ))
}

#[cfg(any(debug_assertions, feature = "fault-injection"))]
/// SIGKILL to this process: no destructor or cleanup runs.
fn kill() -> ! {
    // SAFETY: kill(2) and getpid(2) on this process; nothing is shared.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // Not reached; abort skips all cleanup too.
    std::process::abort();
}

/// The step just done at `name`: a release build has no fault points.
#[cfg(not(any(debug_assertions, feature = "fault-injection")))]
#[inline(always)]
pub fn step(_name: &str) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, any(debug_assertions, feature = "fault-injection")))]
mod tests {
    use super::*;

    #[test]
    fn fault_specs_are_read() {
        assert_eq!(parse("entry-staged"), ("entry-staged", None, "kill"));
        assert_eq!(
            parse("entry-staged#3:eio"),
            ("entry-staged", Some(3), "eio")
        );
        assert_eq!(
            parse("gc-moved-aside:enospc"),
            ("gc-moved-aside", None, "enospc")
        );
    }
}
