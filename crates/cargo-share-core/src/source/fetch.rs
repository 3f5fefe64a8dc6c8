//! Fetching a crates.io package through Cargo itself (a throwaway manifest, `cargo fetch`) and
//! copying it out of Cargo's registry cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::shell::Shell;
use crate::source::crate_spec::CrateSpec;
use crate::source::registry::Registry;

/// `CARGO_HOME`, as Cargo finds it.
pub fn cargo_home() -> Result<PathBuf> {
    crate::dirs::cargo_home()
}

/// The `cargo` to run: `$CARGO` when Cargo started us as a subcommand, else `cargo` on PATH.
pub fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Download a package of crates.io (or of `registry`) and return the path of its private
/// source copy's manifest.
pub(crate) fn fetch_registry_crate(
    spec: &CrateSpec,
    registry: Option<&Registry>,
    cache: &Path,
    shell: &Shell,
) -> Result<PathBuf> {
    let fetched = spec
        .version
        .as_deref()
        .and_then(|v| fetched_before(cache, &spec.name, v, registry));
    let manifest = match fetched {
        Some(manifest) => manifest,
        None => {
            let req = spec
                .version
                .as_deref()
                .map_or_else(|| "*".to_string(), |v| format!("={v}"));
            fetch_registry_crate_matching(&spec.name, &req, registry, cache, shell)?
        }
    };
    refuse_newer_rust_version(&manifest, &spec.name)?;
    if !manifest.with_file_name("Cargo.lock").is_file() {
        shell.warn(format!(
            "{} ships no Cargo.lock; its dependencies are resolved anew",
            manifest
                .parent()
                .and_then(|d| d.file_name())
                .unwrap_or_default()
                .to_string_lossy()
        ));
    }
    Ok(manifest)
}

/// Refuse a fetched program whose `package.rust-version` is newer than the active rustc, as
/// `cargo install` does, before anything is resolved or built: the build would fail at its
/// end, after every installed program it moves was tested.
fn refuse_newer_rust_version(manifest: &Path, name: &str) -> Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let parsed: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let package = parsed.get("package");
    let Some(required) = package
        .and_then(|p| p.get("rust-version"))
        .and_then(|v| v.as_str())
    else {
        return Ok(());
    };
    let version = package
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let text = cargo_share_compile::toolchain::version_text(Path::new(&rustc))?;
    let Some(active) = cargo_share_compile::toolchain::release_of(&text) else {
        return Ok(());
    };
    match (rust_version(required), rust_version(active)) {
        (Some(needs), Some(has)) if needs > has => bail!(
            "cannot install `{name}` v{version}: it requires rustc {required} or newer, and the \
             active rustc is {active}; nothing was installed or changed: update the toolchain \
             (`rustup update`), or name an older version (`cargo share install {name}` without \
             a version takes the newest this rustc builds)"
        ),
        _ => Ok(()),
    }
}

/// A `rust-version` (`1.97`, `1.97.0`) or rustc release (`1.95.0`, `1.96.0-nightly`), as
/// comparable numbers (a pre-release counts as its release).
fn rust_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split('-').next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// Download the newest version of `name` on crates.io (or on `registry`) that matches the
/// requirement `req` (`*`, `=1.2.3`, `^1.2.3`) and return the path of its private source
/// copy's manifest.
pub(crate) fn fetch_registry_crate_matching(
    name: &str,
    req: &str,
    registry: Option<&Registry>,
    cache: &Path,
    shell: &Shell,
) -> Result<PathBuf> {
    let spec = match req {
        "*" => name.to_string(),
        req => format!("{name}@{req}"),
    };
    let scratch_root = cache.join("tmp");
    let scratch = scratch_dir(cache, "fetch-")?;
    let dependency = match registry {
        Some(r) => format!(
            "{{ version = \"{req}\", registry = \"{}\" }}",
            r.dependency_name()
        ),
        None => format!("\"{req}\""),
    };
    let manifest = format!(
        "[package]\nname = \"cargo-share-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [lib]\npath = \"lib.rs\"\n[dependencies]\n{name} = {dependency}\n"
    );
    std::fs::write(scratch.path().join("Cargo.toml"), manifest)?;
    std::fs::write(scratch.path().join("lib.rs"), "")?;
    let registry_args = registry.map(Registry::cargo_args).unwrap_or_default();
    let (on, hint) = match registry {
        Some(r @ Registry::Named(named)) => (format!("`{named}`"), r.hint()),
        Some(r @ Registry::Index(url)) => (url.clone(), r.hint()),
        None => (
            "crates.io".to_string(),
            format!("check the name and version; `cargo search {name}` lists candidates"),
        ),
    };
    shell.status("Resolving", format!("{spec} on {on}"));
    run_quiet(
        cargo_command()
            .arg("generate-lockfile")
            // The newest release this toolchain builds (its `rust-version`), as `cargo install`
            // picks it: hyperfine's newest, 2.0.0, needs rustc 1.97.
            .args([
                "--config",
                "resolver.incompatible-rust-versions=\"fallback\"",
            ])
            .args(&registry_args)
            .current_dir(scratch.path()),
        &format!("`{spec}` could not be resolved on {on} ({hint})"),
        scratch.path(),
    )?;
    let lock = std::fs::read_to_string(scratch.path().join("Cargo.lock"))?;
    let version = locked_version(&lock, name)
        .with_context(|| format!("`{spec}` is missing from the resolved lockfile"))?;
    shell.status("Downloading", format!("{} v{version}", name));
    run_quiet(
        cargo_command()
            .args(["fetch", "--locked"])
            .args(&registry_args)
            .current_dir(scratch.path()),
        &format!("downloading `{}` v{version} failed", name),
        scratch.path(),
    )?;
    // Cargo's registry cache first: `cargo metadata` leaves out a dependency without a library
    // target, which every binary-only program (most of them) is.
    let unpacked = find_in_registry_cache(&cargo_home()?, name, &version)
        .or_else(|_| find_unpacked(scratch.path(), name, &version, &registry_args))
        .or_else(|e| replaced_source_dir(scratch.path(), name, &version).ok_or(e))?;
    let dest = cache.join("sources").join(format!("{}-{version}", name));
    if !is_complete_copy(&dest, registry) {
        let staging = tempfile::Builder::new()
            .prefix("src-")
            .tempdir_in(&scratch_root)?;
        copy_tree(&unpacked, staging.path(), &[])?;
        std::fs::write(
            staging.path().join(COMPLETE_MARKER),
            registry_marker(registry),
        )?;
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(dest.parent().unwrap())?;
        let staged = staging.keep();
        std::fs::rename(&staged, &dest)
            .with_context(|| format!("moving sources into {}", dest.display()))?;
    }
    Ok(dest.join("Cargo.toml"))
}

/// The file that marks a complete source copy in `CACHE/sources/NAME-VERSION`; it holds the
/// registry the copy came from ([`registry_marker`]).
const COMPLETE_MARKER: &str = ".cargo-share-complete";

/// What a source copy's marker holds: the registry it was downloaded from (`crates-io`,
/// `registry NAME`, `index URL`). Crates.io replaced by a mirror in Cargo's configuration
/// counts as crates.io: a mirror serves the same package for a name and exact version.
fn registry_marker(registry: Option<&Registry>) -> String {
    match registry {
        None => "crates-io".to_string(),
        Some(Registry::Named(name)) => format!("registry {name}"),
        Some(Registry::Index(url)) => format!("index {url}"),
    }
}

/// The manifest of the source copy an earlier command downloaded of exactly `name` `version`
/// from the same registry, if there is one: a published version never changes, so it is not
/// resolved and downloaded again (each costs a Cargo run that reads the registry's index).
fn fetched_before(
    cache: &Path,
    name: &str,
    version: &str,
    registry: Option<&Registry>,
) -> Option<PathBuf> {
    let dir = cache.join("sources").join(format!("{name}-{version}"));
    is_complete_copy(&dir, registry).then(|| dir.join("Cargo.toml"))
}

/// Whether `dir` holds a complete source copy downloaded from `registry`.
fn is_complete_copy(dir: &Path, registry: Option<&Registry>) -> bool {
    std::fs::read_to_string(dir.join(COMPLETE_MARKER))
        .is_ok_and(|marker| marker == registry_marker(registry))
}

/// A scratch directory in `CACHE/tmp` (removed when dropped).
pub(crate) fn scratch_dir(cache: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    let root = cache.join("tmp");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(&root)?)
}

fn run_quiet(cmd: &mut Command, what: &str, scratch: &Path) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{what}\n\ncargo said:\n{}",
            without_scratch(&stderr, scratch)
        );
    }
    Ok(())
}

/// Cargo's errors without the lines that name the throwaway package it ran on (`required by
/// package `cargo-share-fetch v0.0.0 (…/tmp/fetch-…)``): it is not the user's, and the path is
/// an internal temporary one.
fn without_scratch(stderr: &str, scratch: &Path) -> String {
    let scratch = scratch.display().to_string();
    stderr
        .lines()
        .filter(|l| !l.contains(&scratch) && !l.contains("cargo-share-fetch"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// The version of `name` recorded in a Cargo.lock.
pub fn locked_version(lock: &str, name: &str) -> Option<String> {
    let doc: toml::Value = lock.parse().ok()?;
    doc.get("package")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        .and_then(|p| p.get("version")?.as_str().map(String::from))
}

/// Where Cargo reads `name` `version` from when crates.io is replaced by a directory source
/// (`cargo vendor`, or an offline mirror): the `directory` of a `[source.*]` table in the Cargo
/// configuration files that apply to `workspace` (it and the directories above, then
/// `CARGO_HOME`), as `NAME-VERSION` or `NAME` in it.
fn replaced_source_dir(workspace: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let mut configs: Vec<PathBuf> = workspace
        .ancestors()
        .map(|d| d.join(".cargo/config.toml"))
        .collect();
    if let Ok(home) = cargo_home() {
        configs.push(home.join("config.toml"));
    }
    for config in configs {
        let Ok(text) = std::fs::read_to_string(&config) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        // Relative paths are relative to the directory holding `.cargo/`.
        let base = config.parent()?.parent()?;
        let sources = doc.get("source").and_then(|s| s.as_table());
        for dir in sources.into_iter().flat_map(|t| t.values()) {
            let Some(dir) = dir.get("directory").and_then(|d| d.as_str()) else {
                continue;
            };
            for sub in [format!("{name}-{version}"), name.to_string()] {
                let candidate = base.join(dir).join(sub);
                let manifest = std::fs::read_to_string(candidate.join("Cargo.toml"));
                let matches = manifest
                    .ok()
                    .and_then(|m| m.parse::<toml::Table>().ok())
                    .is_some_and(|m| {
                        m.get("package")
                            .and_then(|p| p.get("version"))
                            .and_then(|v| v.as_str())
                            == Some(version)
                    });
                if matches {
                    return Some(candidate);
                }
            }
        }
    }
    None
}

/// `CARGO_HOME/registry/src/INDEX/NAME-VERSION`, where Cargo unpacks a registry package.
fn find_in_registry_cache(cargo_home: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let src = cargo_home.join("registry").join("src");
    let dir_name = format!("{name}-{version}");
    for index in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let candidate = index.path().join(&dir_name);
        if candidate.join("Cargo.toml").is_file() {
            return Ok(candidate);
        }
    }
    bail!("{name} v{version} is not under {}", src.display())
}

/// Where Cargo keeps the sources of `name` `version` that the scratch package at `scratch`
/// depends on (a registry's unpacked copy, or a directory source's), as `cargo metadata` says.
fn find_unpacked(
    scratch: &Path,
    name: &str,
    version: &str,
    registry_args: &[String],
) -> Result<PathBuf> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    let mut options = vec!["--locked".to_string()];
    options.extend_from_slice(registry_args);
    cmd.manifest_path(scratch.join("Cargo.toml"))
        .current_dir(scratch)
        .other_options(options);
    if let Some(cargo) = std::env::var_os("CARGO") {
        cmd.cargo_path(cargo);
    }
    let md = cmd
        .exec()
        .with_context(|| format!("reading where cargo fetched {name} v{version}"))?;
    md.packages
        .iter()
        .find(|p| p.name.as_str() == name && p.version.to_string() == version)
        .and_then(|p| p.manifest_path.parent())
        .map(|d| d.as_std_path().to_path_buf())
        .with_context(|| {
            format!("cargo fetched {name} v{version} but does not say where its sources are")
        })
}

/// Copy a directory tree, leaving out the top-level entries named in `skip`. Symbolic links are
/// copied as links (a dangling link or a loop stays what it is, as Cargo sees it in the
/// original): one that resolves inside the tree keeps its target, one that leaves the tree is
/// made absolute so that it still names the same file.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    let top = std::fs::canonicalize(from).with_context(|| format!("reading {}", from.display()))?;
    copy_dir(from, to, skip, &top)
}

/// What the copy of the link `path` (in the tree whose canonical root is `top`) names: its
/// target, made absolute when it is relative and resolves outside the tree.
pub(crate) fn copied_link_target(path: &Path, top: &Path) -> Result<PathBuf> {
    let link =
        std::fs::read_link(path).with_context(|| format!("reading the link {}", path.display()))?;
    Ok(match std::fs::canonicalize(path) {
        Ok(real) if link.is_relative() && !real.starts_with(top) => real,
        _ => link,
    })
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str], top: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let path = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_symlink() {
            let link = copied_link_target(&path, top)?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("copying the link {}", path.display()))?;
        } else if kind.is_dir() {
            copy_dir(&path, &target, &[], top)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("copying {} to {}", path.display(), target.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_fetched_before_from_the_same_registry_is_not_fetched_again() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("sources/tool-1.2.3");
        std::fs::create_dir_all(&dir).unwrap();
        // A copy without a marker is incomplete; one an older cargo-share marked (empty) does
        // not say where it came from.
        assert_eq!(fetched_before(cache.path(), "tool", "1.2.3", None), None);
        std::fs::write(dir.join(COMPLETE_MARKER), "").unwrap();
        assert_eq!(fetched_before(cache.path(), "tool", "1.2.3", None), None);
        std::fs::write(dir.join(COMPLETE_MARKER), registry_marker(None)).unwrap();
        assert_eq!(
            fetched_before(cache.path(), "tool", "1.2.3", None),
            Some(dir.join("Cargo.toml"))
        );
        let company = Registry::Named("company".into());
        assert_eq!(
            fetched_before(cache.path(), "tool", "1.2.3", Some(&company)),
            None
        );
        assert_eq!(fetched_before(cache.path(), "tool", "1.2.4", None), None);
    }

    /// hyperfine 2.0.0 asks for rustc 1.97: refused before anything is resolved, as `cargo
    /// install` refuses it, with what to do.
    #[test]
    fn a_program_for_a_newer_rustc_is_refused_before_anything_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let write = |rust_version: &str| {
            std::fs::write(
                &manifest,
                format!(
                    "[package]\nname = \"tool\"\nversion = \"2.0.0\"\n\
                     rust-version = \"{rust_version}\"\n"
                ),
            )
            .unwrap()
        };
        write("99.0");
        let err = refuse_newer_rust_version(&manifest, "tool")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot install `tool` v2.0.0: it requires rustc 99.0 or newer")
                && err.contains("nothing was installed or changed"),
            "{err}"
        );
        write("1.56");
        refuse_newer_rust_version(&manifest, "tool").unwrap();
        assert_eq!(rust_version("1.97"), Some((1, 97, 0)));
        assert_eq!(rust_version("1.96.0-nightly"), Some((1, 96, 0)));
        assert!(rust_version("1.97") > rust_version("1.95.0"));
    }

    #[test]
    fn locked_version_reads_cargo_lock() {
        let lock = "version = 3\n[[package]]\nname = \"a\"\nversion = \"1.2.3\"\n";
        assert_eq!(locked_version(lock, "a").as_deref(), Some("1.2.3"));
        assert_eq!(locked_version(lock, "b"), None);
    }

    #[test]
    fn a_binary_only_package_is_found_in_the_registry_cache() {
        // `cargo metadata` does not list a dependency without a library target (a program), so
        // the registry cache is read first.
        let home = tempfile::tempdir().unwrap();
        let dir = home
            .path()
            .join("registry/src/index.crates.io-0000/prog-1.2.3");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"prog\"\n").unwrap();
        assert_eq!(
            find_in_registry_cache(home.path(), "prog", "1.2.3").unwrap(),
            dir
        );
        let missing = find_in_registry_cache(home.path(), "prog", "1.2.4").unwrap_err();
        assert!(missing.to_string().contains("prog v1.2.4"), "{missing}");
    }
}
