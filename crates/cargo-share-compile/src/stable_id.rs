//! The crate identity rustc gives a target unit (`-C metadata`, from which rustc derives the
//! `StableCrateId` that every mangled symbol name of the crate carries), made stable across the
//! releases of one semver-compatible range.
//!
//! Cargo's `-C metadata` hashes the package id (version and source included) and its
//! dependencies' hashes, so a patch release of one crate, or a patched copy of it
//! (`[patch.crates-io]` with a path), renames every symbol of that crate and of everything
//! compiled against it: every file that contains or calls such code changes bytes. The wrapper
//! replaces it with [`stable_metadata`]: a hash of what a build of the crate *is* within its
//! compatible range (package and crate name, the compatible part of the version, crate types,
//! `--test`, target, cfgs and features, codegen flags, edition) and of the stable ids of the
//! crates it is compiled against. The exact version, the source (registry, git, path) and the
//! source files are not in it: two builds that differ only there get the same symbol names.
//!
//! Why that is safe (ARCHITECTURE.md, "Stable crate identities"): two crate builds with equal
//! symbol names never meet in one process. A program's process holds its own closure only (its
//! `lib/` holds exactly its entries), and one Cargo resolution has one version per compatible
//! range of a package (per source). A closure that holds two builds with one stable id (the same
//! package, range, features and dependencies from two sources) is refused by rustc when it
//! compiles their common dependent ("colliding StableCrateId values"): a build error, never two
//! crates silently sharing names. Cargo's own `-C extra-filename` is kept, so files in the
//! target directory keep Cargo's names and Cargo's fingerprints hold; the store identity
//! (`store::identity`) still covers the exact version, the sources and the file name.

use std::path::Path;

use anyhow::{Context, Result};

use crate::digest::sha256_hex;
use crate::plan::{is_group_extern, GROUP_CRATE_PREFIX};
use crate::rustc_args::RustcArgs;

/// Versions the rule: part of every stable id, so a change of rule is a change of id.
const STABLE_ID_TAG: &str = "cargo-share stable crate id v1";

/// Suffix of the file, next to a target library's outputs, that holds its stable id (what its
/// dependents hash in for it).
pub(crate) const STABLE_ID_SUFFIX: &str = ".cargo-share-stable-id";

/// Flags whose value does not shape the crate's code or names: outputs, diagnostics, lints,
/// search paths, path remapping, Cargo's hashes.
const IGNORED_WITH_VALUE: &[&str] = &[
    "--out-dir",
    "--error-format",
    "--json",
    "--diagnostic-width",
    "--color",
    "--cap-lints",
    "--check-cfg",
    "-L",
    "-W",
    "-A",
    "-D",
    "-F",
    "--warn",
    "--allow",
    "--deny",
    "--forbid",
    "--remap-path-prefix",
    "--emit",
];

/// Codegen options that are Cargo's identity or a place on this machine, not a property of the
/// crate build.
const IGNORED_CODEGEN: &[&str] = &["metadata=", "extra-filename=", "incremental=", "linker="];

/// The stable id of the unit `rustc` compiles: package `package` at `version`. The stable ids
/// of its `--extern` dependencies are read from the files their own compiles wrote
/// ([`STABLE_ID_SUFFIX`]); a dependency without one (a proc-macro, a host crate) counts by its
/// crate name only.
pub(crate) fn stable_metadata(rustc: &RustcArgs, package: &str, version: &str) -> String {
    let mut key: Vec<String> = vec![
        STABLE_ID_TAG.to_string(),
        format!("package {package}"),
        format!("range {}", crate::semver_range::compatible_range(version)),
    ];
    let source = rustc.source_file();
    let is_group = rustc
        .value("--crate-name")
        .is_some_and(|n| n.starts_with(GROUP_CRATE_PREFIX));
    let mut iter = rustc.args.iter();
    while let Some(arg) = iter.next() {
        let a = arg.as_str();
        if Some(a) == source {
            continue;
        }
        if IGNORED_WITH_VALUE.contains(&a) {
            iter.next();
            continue;
        }
        if IGNORED_WITH_VALUE
            .iter()
            .any(|f| f.starts_with("--") && a.starts_with(&format!("{f}=")))
            || (a.len() > 2 && ["-W", "-A", "-D", "-F"].contains(&&a[..2]))
        {
            continue;
        }
        match a {
            "--extern" => {
                if let Some(v) = iter.next() {
                    // A program is named by what it is, not by the groups around it, so that
                    // its code does not change when an install regroups (`program_objects`).
                    if !is_group_extern(v) || is_group {
                        key.push(format!("--extern {}", extern_stable_id(v)));
                    }
                }
            }
            "-C" => {
                if let Some(v) = iter.next() {
                    if !IGNORED_CODEGEN.iter().any(|p| v.starts_with(p)) {
                        key.push(format!("-C{v}"));
                    }
                }
            }
            a if a.starts_with("-C") => {
                if !IGNORED_CODEGEN.iter().any(|p| a[2..].starts_with(p)) {
                    key.push(a.to_string());
                }
            }
            a => key.push(a.to_string()),
        }
    }
    // The order of `--extern`s and cfgs is Cargo's and stable; sorting makes the id independent
    // of it anyway.
    key[3..].sort();
    sha256_hex(key.join("\0").as_bytes())[..32].to_string()
}

/// `=STABLE_ID` for an `--extern name=path` whose compile left a stable id, else `name` (with
/// its `force:`/`noprelude:` modifiers). The name a crate gives a dependency is not in any
/// symbol, and a group facade's names carry the member's exact version (`cs_regex_1_11_1`).
fn extern_stable_id(value: &str) -> String {
    let Some((name, path)) = value.split_once('=') else {
        return value.to_string();
    };
    let p = Path::new(path);
    let id = p
        .file_stem()
        .and_then(|stem| {
            let file = p.with_file_name(format!("{}{STABLE_ID_SUFFIX}", stem.to_string_lossy()));
            std::fs::read_to_string(file).ok()
        })
        .map(|s| s.trim().to_string());
    match id {
        Some(id) => format!("={id}"),
        None => name.to_string(),
    }
}

/// Write `id` next to the unit's outputs (`--out-dir/lib<crate><extra-filename>`), before rustc
/// runs: Cargo may start dependents as soon as the metadata is ready.
pub(crate) fn save_stable_id(rustc: &RustcArgs, id: &str) -> Result<()> {
    let Some(out_dir) = rustc.value("--out-dir") else {
        return Ok(());
    };
    let path = Path::new(out_dir).join(format!(
        "lib{}{}{STABLE_ID_SUFFIX}",
        rustc.value("--crate-name").unwrap_or_default(),
        rustc.codegen("extra-filename").unwrap_or("")
    ));
    std::fs::write(&path, id).with_context(|| format!("writing {}", path.display()))
}

/// Replace every `-C metadata=…` of `args` with `-C metadata=ID`. Returns whether there was one.
pub(crate) fn replace_metadata(args: &mut [String], id: &str) -> bool {
    let mut replaced = false;
    for i in 0..args.len() {
        if args[i].starts_with("-Cmetadata=") {
            args[i] = format!("-Cmetadata={id}");
            replaced = true;
        } else if args[i].starts_with("metadata=") && i > 0 && args[i - 1] == "-C" {
            args[i] = format!("metadata={id}");
            replaced = true;
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> RustcArgs {
        RustcArgs {
            args: s.split_whitespace().map(String::from).collect(),
        }
    }

    #[test]
    fn a_patch_release_keeps_the_id_and_features_or_ranges_change_it() {
        let a = args(
            "--crate-name x --edition=2021 /cargo/x-1.2.3/src/lib.rs --crate-type lib \
             -C opt-level=3 -C metadata=aaaa -C extra-filename=-aaaa --cap-lints allow \
             --cfg feature=\"std\" --target x86_64-unknown-linux-gnu -L dependency=/t/deps",
        );
        // Another version and source path, Cargo's hashes, no lint cap (a path patch).
        let b = args(
            "--crate-name x --edition=2021 /patched/src/lib.rs --crate-type lib \
             -C opt-level=3 -C metadata=bbbb -C extra-filename=-bbbb \
             --cfg feature=\"std\" --target x86_64-unknown-linux-gnu -L dependency=/u/deps",
        );
        assert_eq!(
            stable_metadata(&a, "x", "1.2.3"),
            stable_metadata(&b, "x", "1.2.9")
        );
        assert_ne!(
            stable_metadata(&a, "x", "1.2.3"),
            stable_metadata(&a, "x", "2.0.0")
        );
        let c = args(
            "--crate-name x --edition=2021 /cargo/x-1.2.3/src/lib.rs --crate-type lib \
             -C opt-level=3 -C metadata=aaaa --target x86_64-unknown-linux-gnu",
        );
        assert_ne!(
            stable_metadata(&a, "x", "1.2.3"),
            stable_metadata(&c, "x", "1.2.3")
        );
    }

    #[test]
    fn dependencies_count_by_their_stable_ids() {
        let dir = tempfile::tempdir().unwrap();
        let dep = dir.path().join("liby-1111.rlib");
        std::fs::write(dir.path().join("liby-1111.cargo-share-stable-id"), "one").unwrap();
        let with = |p: &Path| {
            args(&format!(
                "--crate-name x src/lib.rs --crate-type lib --extern y={}",
                p.display()
            ))
        };
        let first = stable_metadata(&with(&dep), "x", "1.0.0");
        std::fs::write(dir.path().join("liby-1111.cargo-share-stable-id"), "two").unwrap();
        assert_ne!(first, stable_metadata(&with(&dep), "x", "1.0.0"));
        // A host dependency (no stable id) counts by name, wherever it is.
        let host = with(Path::new("/a/libz-1.so"));
        assert_eq!(
            stable_metadata(&host, "x", "1.0.0"),
            stable_metadata(&with(Path::new("/b/libz-2.so")), "x", "1.0.0")
        );
    }

    #[test]
    fn metadata_is_replaced_in_both_spellings() {
        let mut a: Vec<String> = ["-C", "metadata=1", "-Cmetadata=2", "-C", "opt-level=3"]
            .map(String::from)
            .to_vec();
        assert!(replace_metadata(&mut a, "s"));
        assert_eq!(a, ["-C", "metadata=s", "-Cmetadata=s", "-C", "opt-level=3"]);
    }
}
