//! The user's own rustc wrapper (sccache, typically), chained behind cargo-share's.
//!
//! cargo-share must be Cargo's `RUSTC_WRAPPER` for its shared builds, so a wrapper the user set
//! would be replaced. Instead the driver finds the user's wrapper as Cargo would ([`detect`]) and
//! passes it in [`USER_WRAPPER_ENV`]; the wrapper then runs `USER_WRAPPER rustc ARGS...` for the
//! units a compiler cache can cache ([`routes`]) and plain `rustc ARGS...` for every other one.
//!
//! What is routed: compiles whose every crate type is `lib`, `rlib` or `staticlib` (target rlibs
//! and the host rlibs that build scripts and proc-macros depend on), which are the only ones
//! sccache caches. Not routed: dylibs and executables (cargo-share links them itself, through
//! `-C linker=cargo-share`, and sccache would only pass them on), build scripts and proc-macros
//! (sccache cannot cache them either), Cargo's probes, and the compiles build scripts run
//! themselves. cargo-share's own links (group relinks, the relinked libstd, `cc`) never see the
//! user's wrapper. The routed compile runs with cargo-share's own variables (`CARGO_SHARE_*`)
//! removed from its environment: rustc reads none of them, and sccache hashes every `CARGO_*`
//! variable, so the plan file's path (new in every build) would make every key new.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable with the user's rustc wrapper, set by the driver for the wrapper.
pub const USER_WRAPPER_ENV: &str = "CARGO_SHARE_RUSTC_WRAPPER";

/// The prefix of cargo-share's own environment variables, removed from a routed compile.
const OWN_ENV_PREFIX: &str = "CARGO_SHARE_";

/// The user's rustc wrapper as Cargo would find it when run in `cwd`: `RUSTC_WRAPPER`, then
/// `CARGO_BUILD_RUSTC_WRAPPER`, then `build.rustc-wrapper` in the Cargo config files of `cwd` and
/// its parents and of `cargo_home`. An empty value means none (as for Cargo), and so does a
/// wrapper that is `self_exe` (cargo-share itself). `env` reads a variable (the process's own in
/// the driver; a map in tests).
pub fn detect(
    env: impl Fn(&str) -> Option<OsString>,
    cwd: &Path,
    cargo_home: &Path,
    self_exe: &Path,
) -> Option<PathBuf> {
    let configured = ["RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER"]
        .into_iter()
        .find_map(&env)
        .map(|value| resolve(&PathBuf::from(value), cwd))
        .or_else(|| from_config_files(cwd, cargo_home))?;
    if configured.as_os_str().is_empty() {
        return None;
    }
    let program = on_path(&configured, env("PATH")).unwrap_or_else(|| configured.clone());
    let is_self = match (program.canonicalize(), self_exe.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    (!is_self).then_some(configured)
}

/// A configured program as Cargo resolves it: a bare name is looked up on `PATH` when run, a path
/// with a slash is relative to `base`.
fn resolve(value: &Path, base: &Path) -> PathBuf {
    let text = value.to_string_lossy();
    if text.contains('/') && value.is_relative() {
        base.join(value)
    } else {
        value.to_path_buf()
    }
}

/// Where a bare program name is found on `path` (a path with a slash is itself).
fn on_path(program: &Path, path: Option<OsString>) -> Option<PathBuf> {
    if program.to_string_lossy().contains('/') {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&path?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// `build.rustc-wrapper` from the first Cargo config file that sets it, in Cargo's precedence:
/// `cwd/.cargo/config[.toml]`, then each parent's, then `cargo_home/config[.toml]`. A relative
/// path with a slash is relative to the directory that holds the `.cargo` directory.
fn from_config_files(cwd: &Path, cargo_home: &Path) -> Option<PathBuf> {
    let in_tree = cwd
        .ancestors()
        .map(|dir| (dir.join(".cargo"), dir.to_path_buf()));
    let home = (
        cargo_home.to_path_buf(),
        cargo_home.parent().unwrap_or(cargo_home).to_path_buf(),
    );
    in_tree.chain([home]).find_map(|(dir, base)| {
        // Cargo reads `config` when both exist.
        ["config", "config.toml"].into_iter().find_map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).ok()?;
            let value: toml::Table = text.parse().ok()?;
            let wrapper = value.get("build")?.get("rustc-wrapper")?.as_str()?;
            Some(resolve(Path::new(wrapper), &base))
        })
    })
}

/// The command that compiles a unit: `rustc ARGS...`, or `USER_WRAPPER rustc ARGS...` for a unit
/// the user's own wrapper (sccache) can cache (see `user_wrapper`).
pub(crate) fn compiler_command(rustc: &Path, args: &[String], env: &[(String, String)]) -> Command {
    let chained = from_env().filter(|_| routes(args));
    let mut cmd = match &chained {
        Some(wrapper) => {
            let mut cmd = Command::new(wrapper);
            cmd.arg(rustc);
            for var in own_env_vars() {
                cmd.env_remove(var);
            }
            cmd
        }
        None => Command::new(rustc),
    };
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Whether a compile with these (rewritten) rustc arguments goes through the user's wrapper:
/// a crate compile whose every crate type is one a compiler cache can cache.
pub(crate) fn routes(args: &[String]) -> bool {
    let mut types = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--crate-type" {
            types.extend(iter.next().map(String::as_str));
        } else if let Some(t) = arg.strip_prefix("--crate-type=") {
            types.push(t);
        }
    }
    !types.is_empty()
        && !args.iter().any(|a| a == "--test")
        && types
            .iter()
            .all(|t| matches!(*t, "lib" | "rlib" | "staticlib"))
}

/// The user's wrapper the driver passed, if any.
pub(crate) fn from_env() -> Option<PathBuf> {
    std::env::var_os(USER_WRAPPER_ENV)
        .filter(|w| !w.is_empty())
        .map(PathBuf::from)
}

/// cargo-share's own variables in this process's environment, to remove from a routed compile.
pub(crate) fn own_env_vars() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.to_string_lossy().starts_with(OWN_ENV_PREFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn only_cacheable_crate_types_are_routed() {
        assert!(routes(&strings("--crate-name a --crate-type lib a.rs")));
        assert!(routes(&strings("--crate-name a --crate-type=rlib a.rs")));
        assert!(!routes(&strings(
            "--crate-name a --crate-type dylib --crate-type rlib a.rs"
        )));
        assert!(!routes(&strings("--crate-name b --crate-type bin b.rs")));
        assert!(!routes(&strings(
            "--crate-name m --crate-type proc-macro m.rs"
        )));
        assert!(!routes(&strings("--crate-name t --test t.rs")));
        assert!(!routes(&strings("-vV")));
    }

    fn detect_with(vars: &[(&str, &str)], cwd: &Path, home: &Path, me: &Path) -> Option<PathBuf> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        detect(|k| map.get(k).cloned(), cwd, home, me)
    }

    fn set_wrapper(config: &Path, wrapper: &str) {
        let text = format!("[build]\nrustc-wrapper = {wrapper:?}\n");
        std::fs::write(config, text).unwrap();
    }

    #[test]
    fn wrapper_is_found_as_cargo_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let sub = project.join("sub");
        let home = dir.path().join("cargo-home");
        std::fs::create_dir_all(project.join(".cargo")).unwrap();
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let me = dir.path().join("cargo-share");
        std::fs::write(&me, "").unwrap();

        assert_eq!(detect_with(&[], &sub, &home, &me), None);
        set_wrapper(&home.join("config.toml"), "bin/cache");
        assert_eq!(
            detect_with(&[], &sub, &home, &me),
            Some(dir.path().join("bin/cache"))
        );
        // A project's config file wins over the home's; a bare name stays a name.
        set_wrapper(&project.join(".cargo/config.toml"), "sccache");
        assert_eq!(
            detect_with(&[], &sub, &home, &me),
            Some(PathBuf::from("sccache"))
        );
        // The environment wins over config files; relative paths are relative to cwd.
        assert_eq!(
            detect_with(&[("CARGO_BUILD_RUSTC_WRAPPER", "./w")], &sub, &home, &me),
            Some(sub.join("./w"))
        );
        assert_eq!(
            detect_with(
                &[
                    ("RUSTC_WRAPPER", "/opt/w"),
                    ("CARGO_BUILD_RUSTC_WRAPPER", "x")
                ],
                &sub,
                &home,
                &me
            ),
            Some(PathBuf::from("/opt/w"))
        );
        // An empty RUSTC_WRAPPER turns the configured one off.
        assert_eq!(
            detect_with(&[("RUSTC_WRAPPER", "")], &sub, &home, &me),
            None
        );
        // cargo-share itself, by path or by name on PATH, is no user wrapper.
        let me_text = me.display().to_string();
        assert_eq!(
            detect_with(&[("RUSTC_WRAPPER", &me_text)], &sub, &home, &me),
            None
        );
        let path = dir.path().display().to_string();
        assert_eq!(
            detect_with(
                &[("RUSTC_WRAPPER", "cargo-share"), ("PATH", &path)],
                &sub,
                &home,
                &me
            ),
            None
        );
    }
}
