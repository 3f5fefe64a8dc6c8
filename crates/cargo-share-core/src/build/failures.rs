//! Programs that fail to build: Cargo runs with `--keep-going`, so the other programs of a set
//! are still built and delivered, as `cargo install a b c` does; each failure is reported with
//! the packages Cargo named and, where the error shows one, the system requirement missing.

use serde::Serialize;

/// A program of the build that Cargo did not build (`--json`: `program-failed`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FailedProgram {
    pub name: String,
    pub(crate) version: String,
    /// What Cargo said failed: `could not compile `X``, `build script of `X vY` failed`.
    pub(crate) causes: Vec<String>,
    /// A system requirement the errors point at, and the package that usually provides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) missing: Option<String>,
}

impl FailedProgram {
    /// `others`: the other programs of the Cargo invocation. A cause naming the program itself
    /// is its own; failures of the other programs are left out; what remains (a dependency's
    /// build script, a shared crate) is listed for every program of the invocation.
    pub(crate) fn new(
        name: &str,
        version: &str,
        cargo_stderr: &str,
        others: &[&str],
    ) -> FailedProgram {
        let names =
            |c: &str, p: &str| c.contains(&format!("`{p}`")) || c.contains(&format!("`{p} v"));
        let all = causes(cargo_stderr);
        let own: Vec<String> = all.iter().filter(|c| names(c, name)).cloned().collect();
        let causes = if own.is_empty() {
            all.into_iter()
                .filter(|c| !others.iter().any(|o| names(c, o)))
                .collect()
        } else {
            own
        };
        FailedProgram {
            name: name.to_string(),
            version: version.to_string(),
            causes,
            missing: missing_requirement(cargo_stderr),
        }
    }

    /// One line for the summary: `ouch v0.6.1 (build script of `clang-sys v1.8.1` failed;
    /// needs libclang: Debian/Ubuntu libclang-dev, Fedora clang-devel)`.
    pub fn describe(&self) -> String {
        let mut parts = self.causes.clone();
        if let Some(m) = &self.missing {
            parts.push(format!("needs {m}"));
        }
        if parts.is_empty() {
            parts.push("see Cargo's errors above".into());
        }
        format!("{} v{} ({})", self.name, self.version, parts.join("; "))
    }
}

/// Text without ANSI escape sequences (`ESC [ … letter`).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The packages Cargo's own error lines name.
fn causes(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        let cause = if let Some(rest) = line.strip_prefix("error: could not compile `") {
            rest.split('`')
                .next()
                .map(|p| format!("could not compile `{p}`"))
        } else {
            failed_build_script(line).map(|package| format!("build script of `{package}` failed"))
        };
        if let Some(c) = cause {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The package (`name vX.Y.Z`) whose build script Cargo's error `line` says failed. Cargo
/// writes `name vX.Y.Z (/path/to/package)`: the path says nothing the name does not.
pub(crate) fn failed_build_script(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("error: failed to run custom build command for `")?;
    let package = rest.split('`').next()?;
    Some(package.split(" (").next().unwrap_or(package))
}

/// The system requirement an error shows missing, with the packages that usually provide it.
pub(crate) fn missing_requirement(stderr: &str) -> Option<String> {
    if let Some(rest) = stderr.split("The system library `").nth(1) {
        let lib = rest.split('`').next().unwrap_or_default();
        return Some(format!(
            "the C library `{lib}` and its pkg-config file (Debian/Ubuntu: lib{lib}-dev; \
             Fedora: {lib}-devel)"
        ));
    }
    let lower = stderr.to_lowercase();
    let known: [(&[&str], &str); 7] = [
        (
            &["unable to find libclang", "libclang.so"],
            "libclang (Debian/Ubuntu: libclang-dev; Fedora: clang-devel)",
        ),
        (
            &["could not find directory of openssl", "openssl-sys"],
            "the OpenSSL headers (Debian/Ubuntu: libssl-dev and pkg-config; Fedora: openssl-devel)",
        ),
        (
            &[
                "could not run `pkg-config`",
                "pkg-config: not found",
                "pkg-config not found",
            ],
            "pkg-config (Debian/Ubuntu and Fedora: pkg-config)",
        ),
        (
            &["is `cmake` not installed", "cmake: not found"],
            "cmake (Debian/Ubuntu and Fedora: cmake)",
        ),
        (
            &["could not find `protoc`", "protoc failed"],
            "protoc (Debian/Ubuntu: protobuf-compiler; Fedora: protobuf-compiler)",
        ),
        (
            &["failed to find tool \"c++\"", "failed to find tool \"g++\""],
            "a C++ compiler (Debian/Ubuntu: g++; Fedora: gcc-c++)",
        ),
        (
            &["failed to find tool \"cc\"", "linker `cc` not found"],
            "a C compiler (Debian/Ubuntu: gcc; Fedora: gcc)",
        ),
    ];
    known
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| lower.contains(n)))
        .map(|(_, what)| what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_and_missing_requirements_are_read_from_cargo_errors() {
        let stderr = "\x1b[1m\x1b[91merror\x1b[0m: failed to run custom build command for `clang-sys v1.8.1 (/src/clang-sys)`\n\
            thread 'main' panicked: Unable to find libclang: \"couldn't find any valid shared libraries\"\n\
            error: could not compile `ouch` (bin \"ouch\") due to 1 previous error\n\
            error: could not compile `ouch` (bin \"ouch\") due to 1 previous error\n";
        // Cargo named the program itself: its own failure only.
        let failed = FailedProgram::new("ouch", "0.6.1", &strip_ansi(stderr), &["other"]);
        assert_eq!(failed.causes, ["could not compile `ouch`"]);
        assert!(failed.missing.as_deref().unwrap().contains("libclang-dev"));
        // Not named: what failed besides the other programs (here a dependency's build script).
        let zip = FailedProgram::new("zip", "1.0.0", &strip_ansi(stderr), &["ouch"]);
        assert_eq!(zip.causes, ["build script of `clang-sys v1.8.1` failed"]);
        assert!(zip
            .describe()
            .starts_with("zip v1.0.0 (build script of `clang-sys v1.8.1`"));

        let pc = "The system library `dbus-1` required by crate `libdbus-sys` was not found.";
        assert!(missing_requirement(pc).unwrap().contains("libdbus-1-dev"));
        assert_eq!(missing_requirement("error: could not compile `x`"), None);
    }
}
