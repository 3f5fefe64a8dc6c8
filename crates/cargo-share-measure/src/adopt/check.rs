//! Does a shared build run? Each binary runs `--version`, else `--help`, on its own: no
//! `LD_LIBRARY_PATH` or `LD_PRELOAD`, stdin closed, killed after a time limit.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

/// How long one `--version` may take before it counts as failed.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Run `binary --version`, and `binary --help` if that does not exit 0. `Ok` names the
/// command line that succeeded; `Err` says what each did.
pub(crate) fn runs(binary: &Path) -> Result<&'static str, String> {
    let mut tried = Vec::new();
    for arg in ["--version", "--help"] {
        match run_once(binary, arg) {
            Ok(()) => return Ok(arg),
            Err(e) => tried.push(format!("`{} {arg}` {e}", name(binary))),
        }
    }
    Err(tried.join("; "))
}

fn name(binary: &Path) -> String {
    binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| binary.display().to_string())
}

fn run_once(binary: &Path, arg: &str) -> Result<(), String> {
    let mut child = Command::new(binary)
        .arg(arg)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    // Read stderr on a thread: a program that fills the pipe must not block before the limit.
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(64 * 1024).read_to_string(&mut text);
        }
        text
    });
    let status = match child.wait_timeout(CHECK_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not end within {} s", CHECK_TIMEOUT.as_secs()));
        }
        Err(e) => return Err(format!("could not be waited for: {e}")),
    };
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(if first.is_empty() {
        format!("ended with {status}")
    } else {
        format!("ended with {status}: {}", first.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("prog");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn version_then_help_then_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let ok = script(dir.path(), "exit 0");
        assert_eq!(runs(&ok), Ok("--version"));
        let help_only = script(dir.path(), "[ \"$1\" = --help ]");
        assert_eq!(runs(&help_only), Ok("--help"));
        let broken = script(
            dir.path(),
            "echo 'error while loading shared libraries' >&2; exit 127",
        );
        let err = runs(&broken).unwrap_err();
        assert!(err.contains("`prog --version` ended with exit status: 127: error while loading shared libraries"), "{err}");
        assert!(err.contains("`prog --help`"), "{err}");
        assert!(runs(&dir.path().join("missing"))
            .unwrap_err()
            .contains("could not start"));
    }
}
