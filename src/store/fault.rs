//! Fault injection for the crash-safety tests: when `CARGO_SHARE_FAULT` names a point the
//! process reaches, the process kills itself with SIGKILL right there (no destructors, no
//! cleanup), exactly like a power cut or the OOM killer would.

/// The environment variable naming the point at which to die.
pub const FAULT_ENV: &str = "CARGO_SHARE_FAULT";

/// Die here if `CARGO_SHARE_FAULT` is `name`.
pub fn point(name: &str) {
    if std::env::var(FAULT_ENV).as_deref() == Ok(name) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // `kill` not available: abort, which also skips all cleanup.
        std::process::abort();
    }
}
