//! Program sets: one resolution for many programs (`--unify semver|features`).
//!
//! Programs resolved one by one rarely agree on exact versions, so they share little. A program
//! set is a generated Cargo workspace with every unified program as a member, so that Cargo
//! resolves them together: one version per semver-compatible range, one `Cargo.lock`. cargo-share
//! does not resolve anything itself; it only decides what Cargo starts from:
//!
//! * The seed lockfile is the union of the programs' own lockfiles, with each semver-compatible
//!   range of a crate collapsed onto the newest version any program locked. Cargo keeps locked
//!   versions where every requirement accepts them, so the set uses versions at least one program
//!   was released (and tested) with, not whatever is newest on crates.io.
//! * Where a requirement rejects the seeded version (`=1.2.3`, `<1.4`), Cargo reports the crate;
//!   its seed entries are dropped and Cargo resolves it afresh.
//! * `--pin CRATE@VERSION` is applied with `cargo update --precise` on the resolved lock.
//! * `--lock FILE` saves the resolution; a later run with the same file builds exactly it.
//!
//! The workspace uses resolver 1: under resolver 2 a build-dependency can lose a feature the normal
//! dependency enabled, which breaks hyperfine's build script (NOTES.md section 10).
//!
//! `semver` builds each program in its own Cargo invocation (features as that program needs
//! them); `features` builds all in one invocation, so each crate version is built once with the
//! union of its consumers' features.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::semver::Version;
use serde::Serialize;

use crate::grouping::{self, compat_range, GroupPlan, StoredGroup};
use crate::identity::{sha256_hex, tree_sha256};
use crate::program::{cargo_command, CrateSpec};
use crate::shell::Shell;

/// How the programs of one build are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unify {
    /// Each program with its own `Cargo.lock`, exactly.
    #[default]
    None,
    /// One version per semver-compatible range across the set; features per program.
    Semver,
    /// As `semver`, and each crate version built once with the union of its consumers' features.
    Features,
}

impl std::fmt::Display for Unify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unify::None => "none",
            Unify::Semver => "semver",
            Unify::Features => "features",
        })
    }
}

/// The unification choices of one build.
#[derive(Debug, Clone, Default)]
pub struct UnifyOptions {
    pub policy: Unify,
    /// Save the resolution here, or reuse it exactly if the file exists.
    pub lock_file: Option<PathBuf>,
    /// `CRATE@VERSION`: force that version in the set's resolution.
    pub pins: Vec<CrateSpec>,
    /// Programs kept out of the set: built with their own lockfile.
    pub own_lock: Vec<String>,
}

impl UnifyOptions {
    /// Reject combinations that mean nothing, before anything is built.
    pub fn validate(&self) -> Result<()> {
        if self.policy == Unify::None {
            if let Some(flag) = [
                self.lock_file.as_ref().map(|_| "--lock"),
                self.pins.first().map(|_| "--pin"),
                self.own_lock.first().map(|_| "--own-lock"),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                bail!("{flag} only applies to a unified program set: add --unify semver or --unify features");
            }
        }
        for pin in &self.pins {
            let Some(v) = &pin.version else {
                bail!(
                    "--pin {pin}: give the exact version, for example --pin {}@1.2.3",
                    pin.name
                );
            };
            if Version::parse(v).is_err() {
                bail!("--pin {pin}: `{v}` is not an exact version (expected MAJOR.MINOR.PATCH)");
            }
        }
        Ok(())
    }
}

/// One program that joins the set.
#[derive(Debug, Clone)]
pub struct SetMember {
    pub name: String,
    pub version: String,
    /// The package directory (where its Cargo.toml is).
    pub package_dir: PathBuf,
    /// The program's own `Cargo.lock`, if it has one: part of the seed.
    pub lock: Option<String>,
}

/// A generated workspace holding the programs of a set.
#[derive(Debug, Clone)]
pub struct ProgramSet {
    pub root: PathBuf,
    pub manifest_path: PathBuf,
    /// SHA-256 of the resolved `Cargo.lock`.
    pub lock_sha256: String,
    pub policy: Unify,
    /// The programs of the set, as given to [`generate`].
    pub members: Vec<SetMember>,
}

impl ProgramSet {
    /// What test results are recorded against: the policy (it decides the features each crate
    /// is built with) and the exact resolution.
    pub fn resolution_key(&self) -> String {
        format!("{}:{}", self.policy, self.lock_sha256)
    }
}

/// Build (or refresh) the set workspace and resolve it. See the module docs.
///
/// `stored` are groups from the store that the set should build against as they are: their
/// facades join the workspace (requesting each member at its exact version and features) and
/// their lock entries win in the seed. The caller checks the result with
/// [`grouping::reuse_mismatch`]; not with `--lock` or `--pin`, which fix the resolution.
pub fn generate(
    members: &[SetMember],
    options: &UnifyOptions,
    cache: &Path,
    stored: &[StoredGroup],
    shell: &Shell,
) -> Result<ProgramSet> {
    if !stored.is_empty() && (options.lock_file.is_some() || !options.pins.is_empty()) {
        bail!("internal: stored groups are not combined with --lock or --pin");
    }
    let mut names: Vec<String> = members
        .iter()
        .map(|m| format!("{}@{}", m.name, m.version))
        .collect();
    names.sort();
    let id = sha256_hex(names.join("\n").as_bytes());
    let set_line = names.join(", ");
    let root = cache.join("sets").join(&id[..16]);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let mut dirs = Vec::new();
    for member in members {
        let dir = format!("{}-{}", member.name, member.version);
        copy_member(member, &root.join(&dir), &[])?;
        dirs.push(dir);
    }
    let pins_dir = root.join(PINS_PACKAGE);
    if pins_dir.exists() {
        std::fs::remove_dir_all(&pins_dir)?;
    }
    let facades: Vec<&grouping::Group> = stored.iter().map(|g| &g.record.group).collect();
    write_facades(&root, &facades)?;
    dirs.extend(facades.iter().map(|g| g.name.clone()));
    write_workspace_manifest(&root, &dirs)?;
    let manifest_path = root.join("Cargo.toml");
    let lock_path = root.join("Cargo.lock");

    let existing_lock = match &options.lock_file {
        Some(f) if f.is_file() => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading --lock {}", f.display()))?,
        ),
        _ => None,
    };
    match &existing_lock {
        Some(lock) if options.pins.is_empty() => {
            std::fs::write(&lock_path, lock)?;
            let file = options.lock_file.as_ref().expect("lock file given");
            shell.status("Using", format!("the resolution in {}", file.display()));
            let header = lock.lines().find_map(|l| l.strip_prefix(SET_HEADER));
            if header != Some(set_line.as_str()) {
                bail!(
                    "--lock {}: this resolution was made for {}, not for {set_line}; delete the file to resolve anew",
                    file.display(),
                    header.map_or("something else (it has no cargo-share header)".to_string(), |h| format!("the programs {h}"))
                );
            }
            let pins = recorded_pins(lock)
                .with_context(|| format!("--lock {}: not a Cargo.lock", file.display()))?;
            if !pins.is_empty() {
                write_pins_member(&root, &dirs, &pins)?;
            }
            let check = quiet_metadata(&manifest_path, &["--locked"])?;
            if !check.status.success() {
                bail!(
                    "--lock {}: this resolution does not fit these programs (it was made for another set, or they changed); \
                     delete the file to resolve anew\n\ncargo said:\n{}",
                    file.display(),
                    String::from_utf8_lossy(&check.stderr).trim_end()
                );
            }
        }
        _ => {
            shell.status(
                "Resolving",
                format!(
                    "{} programs together (--unify {})",
                    members.len(),
                    options.policy
                ),
            );
            let seed = match &existing_lock {
                Some(lock) => lock.clone(),
                None => {
                    let locks: Vec<&str> =
                        members.iter().filter_map(|m| m.lock.as_deref()).collect();
                    let preferred: Vec<&str> =
                        stored.iter().map(|g| g.record.lock.as_str()).collect();
                    seed_lockfile_preferring(&locks, &preferred)?
                }
            };
            resolve(&manifest_path, &lock_path, seed)?;
            apply_pins(&root, &dirs, &lock_path, &options.pins, shell)?;
            if let Some(file) = &options.lock_file {
                let lock = std::fs::read_to_string(&lock_path)?;
                std::fs::write(file, format!("{SET_HEADER}{set_line}\n{lock}"))
                    .with_context(|| format!("writing --lock {}", file.display()))?;
                shell.status("Saved", format!("the resolution to {}", file.display()));
            }
        }
    }
    let lock = std::fs::read_to_string(&lock_path)?;
    Ok(ProgramSet {
        root,
        manifest_path,
        lock_sha256: resolution_sha256(&lock)?,
        policy: options.policy,
        members: members.to_vec(),
    })
}

/// Copy a program's package into the set, rewriting its manifest so that it works there, with
/// `extra_deps` (name, path) added to its dependencies (the groups it loads, grouped layout).
/// The copy is replaced only when its contents change, so Cargo's fingerprints stay valid.
fn copy_member(member: &SetMember, dest: &Path, extra_deps: &[(String, PathBuf)]) -> Result<()> {
    let parent = dest.parent().context("set member without a parent")?;
    let staging = tempfile::Builder::new()
        .prefix(".member-")
        .tempdir_in(parent)?;
    // Build output and VCS data stay behind. The program's own `Cargo.lock` is copied: Cargo
    // ignores a member's lockfile, but a program's tests may read their package's files
    // (du-dust's do: a test counting them failed when the copy lacked it).
    crate::program::copy_tree(&member.package_dir, staging.path(), &[".git", "target"])?;
    let manifest = staging.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "reading {}",
            member.package_dir.join("Cargo.toml").display()
        )
    })?;
    let mut rewritten = rewrite_member_manifest(&text, &member.package_dir).with_context(|| {
        format!(
            "{} v{} cannot join a program set",
            member.name, member.version
        )
    })?;
    if !extra_deps.is_empty() {
        let mut doc: toml::Table = rewritten.parse()?;
        let deps = doc
            .entry("dependencies")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .context("`dependencies` is not a table")?;
        for (name, path) in extra_deps {
            let mut spec = toml::Table::new();
            spec.insert("path".into(), path.display().to_string().into());
            deps.insert(name.clone(), toml::Value::Table(spec));
        }
        rewritten = toml::to_string(&doc)?;
    }
    std::fs::write(&manifest, rewritten)?;
    let stamp: String = tree_sha256(staging.path())
        .into_iter()
        .map(|(p, h)| format!("{p} {h}\n"))
        .collect();
    let stamp = sha256_hex(stamp.as_bytes());
    let stamp_file = parent.join(format!(
        ".{}.stamp",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    if dest.is_dir() && std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp) {
        return Ok(());
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?;
    }
    let kept = staging.keep();
    std::fs::rename(&kept, dest).with_context(|| format!("moving {}", dest.display()))?;
    std::fs::write(stamp_file, stamp)?;
    Ok(())
}

const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// Make a program's manifest valid as a member of the generated workspace: drop its own
/// `[workspace]`, make path dependencies absolute (they point at the original tree), and refuse
/// what cannot move (inherited `workspace = true` values, `[patch]`).
pub fn rewrite_member_manifest(text: &str, package_dir: &Path) -> Result<String> {
    let mut doc: toml::Table = text.parse().context("parsing Cargo.toml")?;
    doc.remove("workspace");
    // Only a workspace root's profiles count (Cargo would warn and ignore them); the set's
    // programs are built with the release profile and the shared-crate profile.
    doc.remove("profile");
    for table in ["patch", "replace"] {
        if doc.contains_key(table) {
            bail!("its manifest has a [{table}] section, which only a workspace root may have; build it with --own-lock NAME");
        }
    }
    if let Some(pkg) = doc.get_mut("package").and_then(|p| p.as_table_mut()) {
        pkg.remove("workspace");
        for (key, value) in pkg.iter() {
            if inherits(value) {
                bail!("`package.{key}` is inherited from its workspace (`workspace = true`); build it with --own-lock NAME");
            }
        }
    }
    let mut tables: Vec<&mut toml::Table> = Vec::new();
    let (targets, rest): (Vec<_>, Vec<_>) = doc.iter_mut().partition(|(k, _)| *k == "target");
    for (key, value) in rest {
        if DEPENDENCY_TABLES.contains(&key.as_str()) {
            if let Some(t) = value.as_table_mut() {
                tables.push(t);
            }
        }
    }
    for (_, value) in targets {
        let Some(per_target) = value.as_table_mut() else {
            continue;
        };
        for (_, cfg) in per_target.iter_mut() {
            let Some(cfg) = cfg.as_table_mut() else {
                continue;
            };
            for (key, value) in cfg.iter_mut() {
                if DEPENDENCY_TABLES.contains(&key.as_str()) {
                    if let Some(t) = value.as_table_mut() {
                        tables.push(t);
                    }
                }
            }
        }
    }
    for deps in tables {
        for (name, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_mut() else {
                continue;
            };
            if inherits(&toml::Value::Table(dep.clone())) {
                bail!("dependency `{name}` is inherited from its workspace (`workspace = true`); build it with --own-lock NAME");
            }
            if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                let absolute = package_dir.join(path);
                let absolute = absolute.canonicalize().unwrap_or(absolute);
                dep.insert(
                    "path".into(),
                    toml::Value::String(absolute.display().to_string()),
                );
            }
        }
    }
    Ok(toml::to_string(&doc)?)
}

fn inherits(value: &toml::Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true)
}

/// A locked package: name, version and source (`None` for path packages).
type LockKey = (String, String, Option<String>);

#[derive(Debug, Clone)]
struct LockedPackage {
    checksum: Option<String>,
    dependencies: BTreeSet<LockKey>,
}

fn newer(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// Parse a Cargo.lock into packages with fully qualified dependency edges.
fn parse_lock(text: &str) -> Result<(i64, BTreeMap<LockKey, LockedPackage>)> {
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
fn resolution_sha256(lock: &str) -> Result<String> {
    let (format, mut packages) = parse_lock(lock)?;
    packages.retain(|k, _| !k.0.starts_with(grouping::GROUP_PACKAGE_PREFIX));
    Ok(sha256_hex(write_lock(format, &packages).as_bytes()))
}

/// The entries of `lock` for the packages `keep` names (name, version, source repr; `None` for
/// path packages), with their edges among them: what a group record keeps of its set's lock.
pub fn lock_subset(
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

/// The union of several lockfiles, each semver-compatible range of a crate collapsed onto the
/// newest locked version (edges to older ones redirected to it).
pub fn seed_lockfile(locks: &[&str]) -> Result<String> {
    seed_lockfile_preferring(locks, &[])
}

/// As [`seed_lockfile`], except that a version locked in `preferred` (the locks of stored groups
/// the set builds against) wins its compatible range, newer or not.
pub fn seed_lockfile_preferring(locks: &[&str], preferred: &[&str]) -> Result<String> {
    let mut format = 3;
    let mut all: BTreeMap<LockKey, LockedPackage> = BTreeMap::new();
    let mut forced: BTreeMap<(String, Option<String>, String), String> = BTreeMap::new();
    for text in preferred {
        for (name, version, source) in parse_lock(text)?.1.into_keys() {
            forced.insert((name, source, compat_range(&version)), version);
        }
    }
    for text in locks.iter().chain(preferred) {
        let (f, packages) = parse_lock(text)?;
        format = format.max(f);
        for (key, pkg) in packages {
            all.entry(key)
                .and_modify(|e| e.dependencies.extend(pkg.dependencies.clone()))
                .or_insert(pkg);
        }
    }
    // The newest version of each (name, source, compatible range).
    let mut newest: BTreeMap<(String, Option<String>, String), String> = BTreeMap::new();
    for (name, version, source) in all.keys() {
        let slot = newest
            .entry((name.clone(), source.clone(), compat_range(version)))
            .or_insert_with(|| version.clone());
        if newer(version, slot) {
            *slot = version.clone();
        }
    }
    newest.extend(forced);
    let keep = |k: &LockKey| -> LockKey {
        let v = &newest[&(k.0.clone(), k.2.clone(), compat_range(&k.1))];
        (k.0.clone(), v.clone(), k.2.clone())
    };
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

/// Drop the seed entries of `name` (all, or those in one compatible range) and the edges to
/// them, so that Cargo resolves them afresh.
fn forget_crate(seed: &str, name: &str, range: Option<&str>) -> Result<String> {
    let (format, mut packages) = parse_lock(seed)?;
    let forget = |k: &LockKey| k.0 == name && range.is_none_or(|r| compat_range(&k.1) == r);
    packages.retain(|k, _| !forget(k));
    for pkg in packages.values_mut() {
        pkg.dependencies.retain(|k| !forget(k));
    }
    Ok(write_lock(format, &packages))
}

/// Let Cargo resolve the set from the seed. A crate Cargo cannot fit is forgotten from the seed
/// and resolved afresh (at most a few times, then Cargo's error is shown).
fn resolve(manifest: &Path, lock_path: &Path, mut seed: String) -> Result<()> {
    let members: Vec<String> = std::fs::read_dir(manifest.parent().unwrap_or(Path::new(".")))?
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
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
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let culprit = stderr
            .split("failed to select a version for `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .map(String::from);
        match culprit {
            Some(name) if forgotten.len() < 16 && forgotten.insert(name.clone()) => {
                seed = forget_crate(&seed, &name, None)?;
            }
            _ => {
                // Name the programs Cargo's explanation mentions (`of package `NAME vVERSION (`).
                let mut involved: Vec<String> = Vec::new();
                for part in stderr.split("of package `").skip(1) {
                    let mut words = part.split(' ');
                    let (Some(name), Some(version)) = (words.next(), words.next()) else {
                        continue;
                    };
                    let dir = format!("{name}-{}", version.trim_start_matches('v'));
                    if members.contains(&dir) && !involved.contains(&name.to_string()) {
                        involved.push(name.to_string());
                    }
                }
                let hint = match involved.as_slice() {
                    [] => "build the programs that conflict with --own-lock NAME".to_string(),
                    [one] => format!("build {one} (or the program it conflicts with) with its own lockfile: --own-lock {one}"),
                    many => format!(
                        "{} cannot share one resolution; build one of them with its own lockfile, for example --own-lock {}",
                        many.join(" and "),
                        many[0]
                    ),
                };
                bail!(
                    "Cargo could not resolve these programs together: {hint}\n\ncargo said:\n{}",
                    stderr.trim_end()
                )
            }
        }
    }
}

/// The first line of a saved resolution: which programs it was made for.
const SET_HEADER: &str = "# cargo-share program set: ";

/// The generated member that carries `--pin` requirements.
const PINS_PACKAGE: &str = "cargo-share-pins";

fn write_workspace_manifest(root: &Path, dirs: &[String]) -> Result<()> {
    let members: Vec<String> = dirs.iter().map(|d| format!("{d:?}")).collect();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "# Generated by cargo-share: one resolution for a set of programs.\n\
             [workspace]\nresolver = \"1\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )?;
    Ok(())
}

/// The build workspace of a grouped set (`SET-grouped`, next to the set): the same programs,
/// each depending on the groups it loads (so Cargo builds a group before the binaries that link
/// it and relinks them when it changes), plus one facade package per group
/// ([`grouping::facade_files`]), and the set's resolution: Cargo only adds the facades (path
/// packages) to the lock, which is checked.
pub fn grouped_workspace(set: &ProgramSet, plan: &GroupPlan, shell: &Shell) -> Result<PathBuf> {
    let name = set
        .root
        .file_name()
        .context("a set without a directory name")?
        .to_string_lossy()
        .into_owned();
    let root = set.root.with_file_name(format!("{name}-grouped"));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let root = root.canonicalize()?;
    let group_dir = |g: &str| root.join(g);
    let mut dirs = Vec::new();
    for member in &set.members {
        let dir = format!("{}-{}", member.name, member.version);
        let extra: Vec<(String, PathBuf)> = plan
            .groups_of(&member.name)
            .into_iter()
            .map(|g| (g.name.clone(), group_dir(&g.name)))
            .collect();
        copy_member(member, &root.join(&dir), &extra)?;
        dirs.push(dir);
    }
    write_facades(&root, &plan.groups.iter().collect::<Vec<_>>())?;
    dirs.extend(plan.groups.iter().map(|g| g.name.clone()));
    write_workspace_manifest(&root, &dirs)?;
    let set_lock = std::fs::read_to_string(set.root.join("Cargo.lock"))?;
    let lock_path = root.join("Cargo.lock");
    write_if_changed(&lock_path, &set_lock)?;
    shell.status(
        "Grouping",
        format!(
            "{} crates into {} shared objects",
            plan.groups.iter().map(|g| g.members.len()).sum::<usize>(),
            plan.groups.len()
        ),
    );
    let manifest_path = root.join("Cargo.toml");
    let out = quiet_metadata(&manifest_path, &["--offline"])?;
    if !out.status.success() {
        bail!(
            "the grouped build workspace {} does not resolve; this is a cargo-share bug, please report it\n\ncargo said:\n{}",
            manifest_path.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let registry = |text: &str| -> Result<BTreeSet<LockKey>> {
        Ok(parse_lock(text)?
            .1
            .into_keys()
            .filter(|k| k.2.is_some())
            .collect())
    };
    let grouped_lock = std::fs::read_to_string(&lock_path)?;
    if registry(&grouped_lock)? != registry(&set_lock)? {
        bail!(
            "adding the group facades changed the set's resolution ({}); this is a cargo-share bug, please report it",
            lock_path.display()
        );
    }
    Ok(manifest_path)
}

/// Write the facade packages `groups` under `root` (the set workspace or its grouped build
/// workspace), each in a directory named after it, and remove facades no longer wanted. Files
/// are written only when they change (Cargo's fingerprints follow file times).
fn write_facades(root: &Path, groups: &[&grouping::Group]) -> Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(grouping::GROUP_PACKAGE_PREFIX)
            && !groups.iter().any(|g| g.name == file)
        {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let group_dir = |g: &str| root.join(g);
    for group in groups {
        let dir = group_dir(&group.name);
        std::fs::create_dir_all(&dir)?;
        let (manifest, lib) = grouping::facade_files(group, &group_dir);
        write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
        write_if_changed(&dir.join("lib.rs"), &lib)?;
    }
    Ok(())
}

/// Run `cargo metadata` on a generated workspace for its side effects (resolving, writing or
/// checking the lock), keeping only its status and stderr.
fn quiet_metadata(manifest: &Path, args: &[&str]) -> Result<std::process::Output> {
    cargo_command()
        .args(["metadata", "--format-version", "1"])
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .stdout(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running cargo metadata on {}", manifest.display()))
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `--pin NAME@VERSION`: a generated member requires `NAME = "=VERSION"` (no features), the
/// pinned range is dropped from the seed, and Cargo resolves the set again. Every program then
/// gets that version, since a set has one version per compatible range.
fn apply_pins(
    root: &Path,
    dirs: &[String],
    lock_path: &Path,
    pins: &[CrateSpec],
    shell: &Shell,
) -> Result<()> {
    let mut seed = std::fs::read_to_string(lock_path)?;
    let (_, packages) = parse_lock(&seed)?;
    let mut requirements = Vec::new();
    for pin in pins {
        let wanted = pin.version.as_deref().expect("validated");
        let have: Vec<&LockKey> = packages.keys().filter(|k| k.0 == pin.name).collect();
        if have.is_empty() {
            bail!("--pin {pin}: no program in the set uses `{}`", pin.name);
        }
        let Some(current) = have
            .iter()
            .find(|k| compat_range(&k.1) == compat_range(wanted))
        else {
            let versions: Vec<&str> = have.iter().map(|k| k.1.as_str()).collect();
            bail!(
                "--pin {pin}: the set uses {} {}, none semver-compatible with {wanted}; a pin chooses within a compatible range",
                pin.name,
                versions.join(", ")
            );
        };
        if current.1 == wanted {
            continue;
        }
        shell.status("Pinning", format!("{} {} -> {wanted}", pin.name, current.1));
        seed = forget_crate(&seed, &pin.name, Some(&compat_range(wanted)))?;
        requirements.push((pin.name.clone(), wanted.to_string()));
    }
    // Pins of an earlier resolution (this lock came from a --lock file) stay.
    if let Some((_, earlier)) = packages.iter().find(|(k, _)| k.0 == PINS_PACKAGE) {
        for (name, version, _) in &earlier.dependencies {
            if !requirements
                .iter()
                .any(|(n, v)| n == name && compat_range(v) == compat_range(version))
            {
                requirements.push((name.clone(), version.clone()));
            }
        }
    }
    if requirements.is_empty() {
        return Ok(());
    }
    write_pins_member(root, dirs, &requirements)?;
    resolve(&root.join("Cargo.toml"), lock_path, seed).context(
        "applying --pin: Cargo could not fit the pinned versions with every program's requirements",
    )
}

/// The generated member requiring `NAME = "=VERSION"` for each pin, added to the workspace.
fn write_pins_member(root: &Path, dirs: &[String], pins: &[(String, String)]) -> Result<()> {
    let requirements: Vec<String> = pins
        .iter()
        .map(|(name, version)| {
            format!("{name:?} = {{ version = \"={version}\", default-features = false }}\n")
        })
        .collect();
    let pins_dir = root.join(PINS_PACKAGE);
    std::fs::create_dir_all(pins_dir.join("src"))?;
    std::fs::write(pins_dir.join("src/lib.rs"), "")?;
    std::fs::write(
        pins_dir.join("Cargo.toml"),
        format!(
            "# Generated by cargo-share: the --pin requirements of this set.\n\
             [package]\nname = \"{PINS_PACKAGE}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\
             [dependencies]\n{}",
            requirements.concat()
        ),
    )?;
    let mut all = dirs.to_vec();
    all.push(PINS_PACKAGE.to_string());
    write_workspace_manifest(root, &all)
}

/// The pins recorded in a lockfile (the dependencies of the generated pins member).
fn recorded_pins(lock: &str) -> Result<Vec<(String, String)>> {
    let (_, packages) = parse_lock(lock)?;
    Ok(packages
        .iter()
        .filter(|(k, _)| k.0 == PINS_PACKAGE)
        .flat_map(|(_, p)| {
            p.dependencies
                .iter()
                .map(|(n, v, _)| (n.clone(), v.clone()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    #[test]
    fn compatible_ranges_follow_cargo() {
        assert_eq!(compat_range("1.10.6"), compat_range("1.13.1"));
        assert_ne!(compat_range("0.4.8"), compat_range("1.0.18"));
        assert_ne!(compat_range("0.4.8"), compat_range("0.5.0"));
        assert_ne!(compat_range("0.0.3"), compat_range("0.0.4"));
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
        let seed = seed_lockfile_preferring(&[&a, &b], &[&group]).unwrap();
        let (_, packages) = parse_lock(&seed).unwrap();
        let regex: Vec<_> = packages.iter().filter(|(k, _)| k.0 == "regex").collect();
        assert_eq!(regex.len(), 1);
        assert_eq!(regex[0].0 .1, "1.11.0");
        assert_eq!(regex[0].1.checksum.as_deref(), Some("def"));
        let b_deps = &packages[&("b".into(), "0.1.0".into(), None)].dependencies;
        assert!(b_deps.contains(&("regex".into(), "1.11.0".into(), Some(REG.into()))));
        assert_eq!(packages.keys().filter(|k| k.0 == "itoa").count(), 2);
    }

    #[test]
    fn member_manifests_lose_their_workspace_and_keep_their_path_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n[workspace]\nmembers = []\n\
                    [dependencies]\nlib = { path = \"../lib\" }\nserde = \"1\"\n\
                    [target.'cfg(unix)'.dev-dependencies]\nt = { path = \"t\" }\n";
        let out = rewrite_member_manifest(text, dir.path()).unwrap();
        let doc: toml::Table = out.parse().unwrap();
        assert!(!doc.contains_key("workspace"));
        let lib = doc["dependencies"]["lib"]["path"].as_str().unwrap();
        assert!(
            Path::new(lib).is_absolute() && lib.ends_with("lib"),
            "{lib}"
        );
        let t = doc["target"]["cfg(unix)"]["dev-dependencies"]["t"]["path"]
            .as_str()
            .unwrap();
        assert!(Path::new(t).is_absolute());
        assert!(rewrite_member_manifest(
            "[package]\nname = \"p\"\nversion.workspace = true\n",
            dir.path()
        )
        .is_err());
        assert!(rewrite_member_manifest(
            "[package]\nname = \"p\"\nversion = \"1.0.0\"\n[patch.crates-io]\nx = { path = \"x\" }\n",
            dir.path()
        )
        .is_err());
    }
}
