//! Lockfiles of a set: parsing, the seed (each compatible range collapsed onto the newest locked
//! version), forgetting a crate Cargo cannot fit, and resolving through `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use cargo_metadata::semver::Version;

use crate::resolve::grouping;
use crate::resolve::set::hold::{Holds, HOLD_PACKAGE};
use crate::resolve::set::workspace::quiet_metadata;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::semver_range::compatible_range;

/// A locked package: name, version and source (`None` for path packages).
pub(crate) type LockKey = (String, String, Option<String>);

#[derive(Debug, Clone)]
pub(crate) struct LockedPackage {
    pub(crate) checksum: Option<String>,
    pub(crate) dependencies: BTreeSet<LockKey>,
}

fn newer(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// Parse a Cargo.lock into packages with fully qualified dependency edges.
pub(crate) fn parse_lock(text: &str) -> Result<(i64, BTreeMap<LockKey, LockedPackage>)> {
    let doc: toml::Table = text.parse().context("parsing a Cargo.lock")?;
    let format = doc.get("version").and_then(|v| v.as_integer()).unwrap_or(1);
    let packages = doc
        .get("package")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let key_of = |p: &toml::Value| -> Option<LockKey> {
        Some((
            p.get("name")?.as_str()?.to_string(),
            p.get("version")?.as_str()?.to_string(),
            p.get("source").and_then(|s| s.as_str()).map(String::from),
        ))
    };
    let keys: Vec<LockKey> = packages.iter().filter_map(key_of).collect();
    let mut out = BTreeMap::new();
    for p in &packages {
        let Some(key) = key_of(p) else { continue };
        let mut deps = BTreeSet::new();
        for dep in p
            .get("dependencies")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
        {
            let mut parts = dep.splitn(3, ' ');
            let name = parts.next().unwrap_or_default();
            let version = parts.next();
            let source = parts
                .next()
                .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
            let found = keys.iter().find(|k| {
                k.0 == name
                    && version.is_none_or(|v| k.1 == v)
                    && source.is_none_or(|s| k.2.as_deref() == Some(s))
            });
            let Some(found) = found else {
                bail!(
                    "Cargo.lock: `{}` depends on `{dep}`, which it does not list",
                    key.0
                );
            };
            deps.insert(found.clone());
        }
        out.insert(
            key,
            LockedPackage {
                checksum: p.get("checksum").and_then(|c| c.as_str()).map(String::from),
                dependencies: deps,
            },
        );
    }
    Ok((format, out))
}

/// What test results are recorded against: the resolved packages, without the facades of
/// groups the set builds against (they add no crate and change no version).
pub(crate) fn resolution_sha256(lock: &str) -> Result<String> {
    let (format, mut packages) = parse_lock(lock)?;
    packages.retain(|k, _| !k.0.starts_with(grouping::GROUP_PACKAGE_PREFIX));
    Ok(sha256_hex(write_lock(format, &packages).as_bytes()))
}

/// The entries of `lock` for the packages `keep` names (name, version, source repr; `None` for
/// path packages), with their edges among them: what a group record keeps of its set's lock.
pub(crate) fn lock_subset(
    lock: &str,
    keep: &BTreeSet<(String, String, Option<String>)>,
) -> Result<String> {
    let (format, mut packages) = parse_lock(lock)?;
    packages.retain(|k, _| keep.contains(k));
    for pkg in packages.values_mut() {
        pkg.dependencies.retain(|d| keep.contains(d));
    }
    Ok(write_lock(format, &packages))
}

/// One lockfile as a seed candidate: its text, whether it is an installed build (a recorded
/// resolution, a stored group's lock), and the crates it holds only for its program's tests
/// (reached through a dev-dependency alone). A test-only crate never moves an installed build:
/// in a compatible range an installed build locks, it does not compete (a newcomer whose test
/// tools lock a newer `regex` does not move an installed program's `regex`). Elsewhere it
/// competes as any locked crate does, so a newcomer may be built from the newer release an
/// installed program's tests lock, and those tests keep their versions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeedLock<'a> {
    text: &'a str,
    installed: bool,
    test_only: &'a BTreeSet<String>,
}

static NO_TEST_ONLY: BTreeSet<String> = BTreeSet::new();

impl<'a> SeedLock<'a> {
    /// A program's own lockfile, with the crates it holds only for its tests.
    pub(crate) fn own(text: &'a str, test_only: &'a BTreeSet<String>) -> Self {
        SeedLock {
            text,
            installed: false,
            test_only,
        }
    }

    /// An installed build's lock: every crate in it is built.
    pub(crate) fn installed(text: &'a str) -> Self {
        SeedLock {
            text,
            installed: true,
            test_only: &NO_TEST_ONLY,
        }
    }

    fn is_built(&self, name: &str) -> bool {
        !self.test_only.contains(name)
    }
}

/// The (name, source, compatible range) of a locked package, and its version.
type RangeKey = (String, Option<String>, String);

fn range_of(key: &LockKey) -> RangeKey {
    (key.0.clone(), key.2.clone(), compatible_range(&key.1))
}

/// Keep the newer of `version` and what `slot` holds for its range.
fn keep_newest(slots: &mut BTreeMap<RangeKey, String>, range: RangeKey, version: &str) {
    let slot = slots.entry(range).or_insert_with(|| version.to_string());
    if newer(version, slot) {
        *slot = version.to_string();
    }
}

#[cfg(test)]
pub(crate) fn seed_lockfile(locks: &[&str]) -> Result<String> {
    let locks: Vec<SeedLock> = locks
        .iter()
        .map(|l| SeedLock::own(l, &NO_TEST_ONLY))
        .collect();
    seed_lockfile_preferring(&locks, &[])
}

/// The union of several lockfiles, each semver-compatible range of a crate collapsed onto the
/// newest locked version (edges to older ones redirected to it), a test-only crate left out of
/// the ranges installed builds lock ([`SeedLock`]). A version locked in `preferred` (the locks
/// of stored groups the set builds against) wins its compatible range, newer or not.
pub(crate) fn seed_lockfile_preferring(locks: &[SeedLock], preferred: &[&str]) -> Result<String> {
    let mut format = 3;
    let mut all: BTreeMap<LockKey, LockedPackage> = BTreeMap::new();
    let mut parsed = Vec::new();
    for lock in locks {
        let (f, packages) = parse_lock(lock.text)?;
        format = format.max(f);
        parsed.push((lock, packages));
    }
    let installed: BTreeSet<RangeKey> = parsed
        .iter()
        .filter(|(lock, _)| lock.installed)
        .flat_map(|(_, packages)| packages.keys().map(range_of))
        .collect();
    let mut newest: BTreeMap<RangeKey, String> = BTreeMap::new();
    for (lock, packages) in parsed {
        for (key, pkg) in packages {
            let range = range_of(&key);
            if lock.is_built(&key.0) || !installed.contains(&range) {
                keep_newest(&mut newest, range, &key.1);
            }
            all.entry(key)
                .and_modify(|e| e.dependencies.extend(pkg.dependencies.clone()))
                .or_insert(pkg);
        }
    }
    for text in preferred {
        let (f, packages) = parse_lock(text)?;
        format = format.max(f);
        for (key, pkg) in packages {
            newest.insert(range_of(&key), key.1.clone());
            all.entry(key)
                .and_modify(|e| e.dependencies.extend(pkg.dependencies.clone()))
                .or_insert(pkg);
        }
    }
    let keep =
        |k: &LockKey| -> LockKey { (k.0.clone(), newest[&range_of(k)].clone(), k.2.clone()) };
    let mut merged: BTreeMap<LockKey, LockedPackage> = BTreeMap::new();
    for (key, pkg) in all {
        let kept = keep(&key);
        let deps: BTreeSet<LockKey> = pkg.dependencies.iter().map(keep).collect();
        let entry = merged.entry(kept.clone()).or_insert(LockedPackage {
            checksum: None,
            dependencies: BTreeSet::new(),
        });
        if kept == key {
            entry.checksum = pkg.checksum.clone();
        }
        entry.dependencies.extend(deps);
    }
    Ok(write_lock(format, &merged))
}

fn write_lock(format: i64, packages: &BTreeMap<LockKey, LockedPackage>) -> String {
    let mut out =
        format!("# Seeded by cargo-share from the programs' own lockfiles.\nversion = {format}\n");
    for ((name, version, source), pkg) in packages {
        out.push_str(&format!(
            "\n[[package]]\nname = {name:?}\nversion = {version:?}\n"
        ));
        if let Some(s) = source {
            out.push_str(&format!("source = {s:?}\n"));
        }
        if let Some(c) = &pkg.checksum {
            out.push_str(&format!("checksum = {c:?}\n"));
        }
        if !pkg.dependencies.is_empty() {
            out.push_str("dependencies = [\n");
            for (n, v, s) in &pkg.dependencies {
                match s {
                    Some(s) => out.push_str(&format!(" \"{n} {v} ({s})\",\n")),
                    None => out.push_str(&format!(" \"{n} {v}\",\n")),
                }
            }
            out.push_str("]\n");
        }
    }
    out
}

/// Whether a resolution (`set_lock`) has every registry or git package of a program's own
/// lockfile at the version it locked: the set then runs the program on the crate versions its
/// own tests were written against.
pub(crate) fn keeps_locked_versions(own_lock: &str, set_lock: &str) -> Result<bool> {
    let (_, own) = parse_lock(own_lock)?;
    let (_, set) = parse_lock(set_lock)?;
    Ok(own
        .keys()
        .filter(|k| k.2.is_some())
        .all(|k| set.contains_key(k)))
}

/// Drop the seed entries of `name` (all, or those in one compatible range) and the edges to
/// them, so that Cargo resolves them afresh.
pub(crate) fn forget_crate(seed: &str, name: &str, range: Option<&str>) -> Result<String> {
    let (format, mut packages) = parse_lock(seed)?;
    let forget = |k: &LockKey| k.0 == name && range.is_none_or(|r| compatible_range(&k.1) == r);
    packages.retain(|k, _| !forget(k));
    for pkg in packages.values_mut() {
        pkg.dependencies.retain(|k| !forget(k));
    }
    Ok(write_lock(format, &packages))
}

/// Let Cargo resolve the set from the seed. A crate Cargo cannot fit is forgotten from the seed
/// and resolved afresh (at most a few times); then what Cargo explained is the inner error, a
/// conflict the caller may act on (an error of the outer result is not).
pub(crate) fn resolve(
    manifest: &Path,
    lock_path: &Path,
    seed: String,
) -> Result<Result<(), ResolutionConflict>> {
    resolve_holding(manifest, lock_path, seed, &mut Holds::default())
}

/// [`resolve`] with the installed programs' versions `holds` required (`set::hold`, its member
/// written where `manifest` is): a crate Cargo cannot select a version for that is held is
/// released first; a conflict that remains with some held lets them all go, and the set is
/// resolved from `seed` again as without them.
pub(crate) fn resolve_holding(
    manifest: &Path,
    lock_path: &Path,
    seed: String,
    holds: &mut Holds,
) -> Result<Result<(), ResolutionConflict>> {
    let root = manifest.parent().unwrap_or(Path::new("."));
    let members: Vec<String> = std::fs::read_dir(root)?
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let original = seed.clone();
    let mut seed = seed;
    let mut forgotten = BTreeSet::new();
    loop {
        std::fs::write(lock_path, &seed)?;
        let out = quiet_metadata(
            manifest,
            &[
                "--config",
                "resolver.incompatible-rust-versions=\"fallback\"",
            ],
        )?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let culprit = stderr
            .split("failed to select a version for `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .map(String::from);
        match culprit {
            // Two `links` of one native library, explained without the hold: the programs'
            // requirements of two semver ranges, which the hold and the seed (one version per
            // range each) take no part in, so neither forgetting nor releasing could help.
            _ if stderr.contains(LINKS_CONFLICT) && !stderr.contains(HOLD_PACKAGE) => {
                return Ok(Err(ResolutionConflict::from_cargo(&stderr, &members)));
            }
            // A held crate another crate of the seed needs newer: that crate is picked afresh
            // first (Cargo keeps a version the seed locks, and would not look for one that fits
            // the hold); a held crate a program needs newer is let go.
            Some(name) if holds.holds(&name) => {
                let picked_afresh = match requirer(&stderr) {
                    Some((by, version))
                        if !members.contains(&format!("{by}-{version}"))
                            && !holds.holds(&by)
                            && forgotten.insert(by.clone()) =>
                    {
                        // Not in the seed (a path package: a group's facade, the reuse
                        // member): nothing to pick afresh.
                        let without = forget_crate(&seed, &by, None)?;
                        let changed = without != seed;
                        seed = without;
                        changed
                    }
                    _ => false,
                };
                if !picked_afresh {
                    holds.release(&name);
                    holds.write(root)?;
                }
            }
            Some(name) if forgotten.len() < 16 && forgotten.insert(name.clone()) => {
                seed = forget_crate(&seed, &name, None)?;
            }
            // A conflict the hold takes part in; one Cargo explains without it (two `links`
            // of one library, programs' requirements) stays without it too.
            _ if !holds.is_empty() && stderr.contains(HOLD_PACKAGE) => {
                holds.clear();
                holds.write(root)?;
                seed = original.clone();
                forgotten.clear();
            }
            _ => {
                return Ok(Err(ResolutionConflict::from_cargo(&stderr, &members)));
            }
        }
    }
}

/// What Cargo says of a package that links a native library another package links too.
const LINKS_CONFLICT: &str = "links to the native library";

/// The package Cargo's "failed to select a version" explanation names first as requiring the
/// crate (`... required by package `NAME vVERSION`` or `... of package `NAME vVERSION``), the
/// hold member aside: name and version.
fn requirer(stderr: &str) -> Option<(String, String)> {
    let rest = stderr.split("failed to select a version for `").nth(1)?;
    package_mentions(rest)
        .into_iter()
        .find(|&(at, name, _)| {
            let before = &rest[..at];
            (before.ends_with("required by ") || before.ends_with("of ")) && name != HOLD_PACKAGE
        })
        .map(|(_, name, version)| (name.to_string(), version.to_string()))
}

/// Each package Cargo's explanation `text` names (``package `NAME vVERSION` ``, with
/// ` (PATH)` after the version for a path package): where the mention starts, name, version.
fn package_mentions(text: &str) -> Vec<(usize, &str, &str)> {
    text.match_indices("package `")
        .filter_map(|(at, mention)| {
            let quoted = text[at + mention.len()..].split('`').next()?;
            let mut words = quoted.split(' ');
            let (name, version) = (words.next()?, words.next()?.strip_prefix('v')?);
            Some((at, name, version))
        })
        .collect()
}

/// Cargo could not resolve the programs of a set together: which programs its explanation
/// names, and the requirement that split them.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub(crate) struct ResolutionConflict {
    /// The set's programs that Cargo's explanation names (`required by package `NAME vVERSION``,
    /// `of package `NAME vVERSION``).
    pub(crate) involved: Vec<String>,
    /// The crate requirement that split them, in a few words.
    pub(crate) requirement: String,
    /// The crate Cargo failed to select a version for, if it names one.
    pub(crate) krate: Option<String>,
    pub(crate) cargo_said: String,
}

impl ResolutionConflict {
    fn from_cargo(stderr: &str, members: &[String]) -> ResolutionConflict {
        let mut involved: Vec<String> = Vec::new();
        for (_, name, version) in package_mentions(stderr) {
            let dir = format!("{name}-{version}");
            if members.contains(&dir) && !involved.iter().any(|n| n == name) {
                involved.push(name.to_string());
            }
        }
        let krate = stderr
            .split("failed to select a version for `")
            .nth(1)
            .and_then(|rest| rest.split('`').next());
        let native = stderr
            .split(&format!("{LINKS_CONFLICT} `"))
            .nth(1)
            .and_then(|rest| rest.split('`').next());
        let requirement = match (krate, native) {
            (Some(k), Some(n)) => format!(
                "two versions of `{k}` both link the native library `{n}` (Cargo allows one \
                 package per `links` key)"
            ),
            (Some(k), None) => format!("no version of `{k}` meets every program's requirement"),
            _ => stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or("Cargo's resolver refused")
                .to_string(),
        };
        ResolutionConflict {
            involved,
            requirement,
            krate: krate.map(str::to_string),
            cargo_said: stderr.trim_end().to_string(),
        }
    }
}

impl ResolutionConflict {
    /// The error a user reads: the requirement, what to do, and what Cargo said.
    fn describe(&self) -> String {
        let hint = match self.involved.as_slice() {
            [] => "build the programs that conflict with --own-lock NAME".to_string(),
            [one] => format!("build {one} (or the program it conflicts with) with its own lockfile: --own-lock {one}"),
            many => format!(
                "{} cannot share one resolution; build one of them with its own lockfile, for example --own-lock {}",
                many.join(" and "),
                many[0]
            ),
        };
        format!(
            "Cargo could not resolve these programs together ({}): {hint}\n\ncargo said:\n{}",
            self.requirement, self.cargo_said
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    #[test]
    fn a_conflict_names_the_set_programs_cargo_names() {
        let stderr = "error: failed to select a version for `libgit2-sys`.\n    ... required by \
                      package `git2 v0.19.0`\n    ... which satisfies dependency `git2 = \
                      \"^0.19.0\"` of package `tokei v15.0.0 (/s/tokei-15.0.0)`\nthe package \
                      `libgit2-sys` links to the native library `git2`, but it conflicts with a \
                      previous package which links to `git2` as well:\npackage `libgit2-sys \
                      v0.18.8+1.9.7`\n    ... which satisfies dependency `git2 = \"^0.20\"` of \
                      package `bat v0.26.1 (/s/bat-0.26.1)`\n";
        let members = ["bat-0.26.1".to_string(), "tokei-15.0.0".to_string()];
        let conflict = ResolutionConflict::from_cargo(stderr, &members);
        assert_eq!(conflict.involved, ["tokei", "bat"]);
        assert_eq!(conflict.krate.as_deref(), Some("libgit2-sys"));
        assert!(
            conflict
                .requirement
                .contains("link the native library `git2`"),
            "{}",
            conflict.requirement
        );
    }

    #[test]
    fn the_first_requirer_cargo_names_is_read() {
        let stderr =
            "    Updating crates.io index\nerror: failed to select a version for `shim`.\n    \
                      ... required by package `shim-user v1.1.0`\n    ... which satisfies \
                      dependency `shim-user = \"^1\"` of package `wraps-shim v0.1.0 (/s/w)`\n\
                      previously selected package `shim v1.0.0`\n    ... which satisfies \
                      dependency `shim = \"=1.0.0\"` of package `cargo-share-hold v0.0.0`\n";
        assert_eq!(
            requirer(stderr),
            Some(("shim-user".to_string(), "1.1.0".to_string()))
        );
        assert_eq!(requirer("error: something else"), None);
        // The hold member names the crate first: the other requirer is the one that counts.
        let stderr = "error: failed to select a version for `shim`.\n    ... required by \
                      package `cargo-share-hold v0.0.0 (/s/cargo-share-hold)`\nversions that \
                      meet the requirements `=1.0.0` are: 1.0.0\n\n  previously selected \
                      package `shim v1.1.0`\n    ... which satisfies dependency `shim = \
                      \"^1.1\"` of package `needs-shim v0.1.0 (/s/needs-shim-0.1.0)`\n";
        assert_eq!(
            requirer(stderr),
            Some(("needs-shim".to_string(), "0.1.0".to_string()))
        );
    }

    #[test]
    fn compatible_ranges_follow_cargo() {
        assert_eq!(compatible_range("1.10.6"), compatible_range("1.13.1"));
        assert_ne!(compatible_range("0.4.8"), compatible_range("1.0.18"));
        assert_ne!(compatible_range("0.4.8"), compatible_range("0.5.0"));
        assert_ne!(compatible_range("0.0.3"), compatible_range("0.0.4"));
    }

    #[test]
    fn seed_keeps_the_newest_locked_version_per_compatible_range() {
        let a = format!(
            "version = 4\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\"regex\", \"itoa 0.4.8\", \"itoa 1.0.1\"]\n\
             [[package]]\nname = \"regex\"\nversion = \"1.10.6\"\nsource = \"{REG}\"\n\
             [[package]]\nname = \"itoa\"\nversion = \"0.4.8\"\nsource = \"{REG}\"\n\
             [[package]]\nname = \"itoa\"\nversion = \"1.0.1\"\nsource = \"{REG}\"\n"
        );
        let b = format!(
            "version = 4\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\ndependencies = [\"regex\"]\n\
             [[package]]\nname = \"regex\"\nversion = \"1.13.1\"\nsource = \"{REG}\"\nchecksum = \"abc\"\n"
        );
        let seed = seed_lockfile(&[&a, &b]).unwrap();
        let (_, packages) = parse_lock(&seed).unwrap();
        let versions = |n: &str| -> Vec<String> {
            packages
                .keys()
                .filter(|k| k.0 == n)
                .map(|k| k.1.clone())
                .collect()
        };
        assert_eq!(versions("regex"), ["1.13.1"]);
        assert_eq!(versions("itoa"), ["0.4.8", "1.0.1"]);
        let a_deps = &packages[&("a".into(), "0.1.0".into(), None)].dependencies;
        assert!(a_deps.contains(&("regex".into(), "1.13.1".into(), Some(REG.into()))));
        assert_eq!(a_deps.len(), 3);
        let regex = &packages[&("regex".into(), "1.13.1".into(), Some(REG.into()))];
        assert_eq!(regex.checksum.as_deref(), Some("abc"));

        // A stored group's lock wins its range, older or not; other ranges are untouched.
        let group = format!(
            "version = 4\n[[package]]\nname = \"regex\"\nversion = \"1.11.0\"\nsource = \"{REG}\"\nchecksum = \"def\"\n"
        );
        let seed = seed_lockfile_preferring(
            &[
                SeedLock::own(&a, &NO_TEST_ONLY),
                SeedLock::own(&b, &NO_TEST_ONLY),
            ],
            &[&group],
        )
        .unwrap();
        let (_, packages) = parse_lock(&seed).unwrap();
        let regex: Vec<_> = packages.iter().filter(|(k, _)| k.0 == "regex").collect();
        assert_eq!(regex.len(), 1);
        assert_eq!(regex[0].0 .1, "1.11.0");
        assert_eq!(regex[0].1.checksum.as_deref(), Some("def"));
        let b_deps = &packages[&("b".into(), "0.1.0".into(), None)].dependencies;
        assert!(b_deps.contains(&("regex".into(), "1.11.0".into(), Some(REG.into()))));
        assert_eq!(packages.keys().filter(|k| k.0 == "itoa").count(), 2);
    }

    /// A crate a program's lockfile holds only for its tests moves no installed build (nor
    /// counts as moving an installed program); in a range no installed build locks it competes
    /// as any crate does.
    #[test]
    fn a_crate_locked_only_for_tests_moves_no_installed_build() {
        let package = |name: &str, version: &str, deps: &[&str]| {
            let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
            format!(
                "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"{REG}\"\ndependencies = [{}]\n",
                deps.join(", ")
            )
        };
        let lock = |packages: &[String]| ["version = 4\n".to_string(), packages.concat()].concat();
        let installed = lock(&[package("regex", "1.10.6", &[])]);
        let newcomer = lock(&[
            package("assert_cmd", "2.0.0", &["regex", "bstr"]),
            package("regex", "1.12.0", &[]),
            package("bstr", "1.9.0", &[]),
        ]);
        let test_only: BTreeSet<String> = ["assert_cmd", "regex", "bstr"].map(String::from).into();
        let newcomer = SeedLock::own(&newcomer, &test_only);
        let versions = |seed: &str, name: &str| -> Vec<String> {
            let (_, packages) = parse_lock(seed).unwrap();
            packages
                .keys()
                .filter(|k| k.0 == name)
                .map(|k| k.1.clone())
                .collect()
        };
        let seed =
            seed_lockfile_preferring(&[SeedLock::installed(&installed), newcomer], &[]).unwrap();
        assert_eq!(versions(&seed, "regex"), ["1.10.6"]);
        assert_eq!(versions(&seed, "bstr"), ["1.9.0"]);
        let (_, packages) = parse_lock(&seed).unwrap();
        let tool = &packages[&("assert_cmd".into(), "2.0.0".into(), Some(REG.into()))];
        assert!(tool
            .dependencies
            .contains(&("regex".into(), "1.10.6".into(), Some(REG.into()))));
        let built = SeedLock::own(newcomer.text, &NO_TEST_ONLY);
        let seed =
            seed_lockfile_preferring(&[SeedLock::installed(&installed), built], &[]).unwrap();
        assert_eq!(versions(&seed, "regex"), ["1.12.0"]);
        // Where no installed build locks the range, an installed program's test tools win it
        // over a newcomer's older build.
        let older_build = lock(&[package("regex", "1.11.0", &[])]);
        let seed =
            seed_lockfile_preferring(&[SeedLock::own(&older_build, &NO_TEST_ONLY), newcomer], &[])
                .unwrap();
        assert_eq!(versions(&seed, "regex"), ["1.12.0"]);
    }
}
