//! The build driver: from programs named on the command line to binaries in `OUT/bin` and the
//! shared libraries they need in `OUT/lib`.
//!
//! 1. Sources: fetch crates.io programs ([`crate::program`]).
//! 2. Graph: `cargo metadata` of every workspace; decide the shared crates ([`crate::graph`]).
//! 3. Plan: write the [`WrapperPlan`] the rustc wrapper reads.
//! 4. Cargo: one `cargo build --release --target HOST` per workspace, with cargo-share as
//!    `RUSTC_WRAPPER`, the shared-crate profile as `--config`, and one target directory for all
//!    builds, so a crate build with the same Cargo unit hash is compiled once and reused.
//! 5. Assemble: copy each binary to `OUT/bin` and the closure of crate dylibs and libstd it needs
//!    (read from `DT_NEEDED`) to `OUT/lib`, each file once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use cargo_metadata::Message;
use serde::Serialize;

use crate::elf;
use crate::graph::{self, BuildGraph};
use crate::grouping::{self, GroupPlan, GroupRecord, StoredGroup, GROUP_CRATE_PREFIX};
use crate::linker;
use crate::plan::{WrapperPlan, PLAN_ENV};
use crate::profile::{self, SharedProfile};
use crate::program::{self, ProgramSource};
use crate::program_set::{self, ProgramSet, SetMember, Unify, UnifyOptions};
use crate::shell::{human_bytes, Shell};

/// How shared crates are laid out in shared objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Each shared crate is its own dylib.
    PerCrate,
    /// Crates used by the same programs are packed into one dylib; crates used by one program
    /// stay static in it (see [`crate::grouping`]).
    #[default]
    Grouped,
}

/// Grouped layout: what a group's run-time copy exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupExports {
    /// Only the symbols the set's programs import, with unreferenced code dropped (smallest; a
    /// later program that imports more needs another copy of the group).
    #[default]
    Used,
    /// Every symbol of the full build (larger; any later program that can use the group's crate
    /// builds binds to the same file).
    All,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::PerCrate => "per-crate",
            Layout::Grouped => "grouped",
        })
    }
}

/// Options shared by `build` and `test`.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub programs: Vec<ProgramSource>,
    pub layout: Layout,
    pub locked: bool,
    /// Where cargo-share keeps fetched sources and its Cargo target directory.
    pub cache_dir: Option<PathBuf>,
    pub shared_profile: SharedProfile,
    pub jobs: Option<u32>,
    /// Append one JSON line per target unit the wrapper handled (for tests and debugging).
    pub unit_log: Option<PathBuf>,
    /// The output directory is a staging area (for `install`): do not report what was
    /// assembled there.
    pub staging: bool,
    /// Resolve the programs together (`--unify`), or each with its own lockfile.
    pub unify: UnifyOptions,
    /// Refuse programs whose own tests failed under this resolution (`install`), unless
    /// `allow_test_failures`.
    pub check_tests: bool,
    pub allow_test_failures: bool,
    /// Grouped layout: groups with less Rust source than this merge into a larger one.
    pub group_min_size: u64,
    /// Show the plan (programs, groups) and stop before building.
    pub dry_run: bool,
    /// Crates replaced by local copies for this build (`bench`'s update cost). Cargo may then
    /// rewrite lockfiles; they are put back when the build ends.
    pub patches: Vec<CratePatch>,
    /// Grouped layout: groups already in the store (`install`), used as they are wherever the
    /// set's resolution lets the programs link exactly their crate builds.
    pub stored_groups: Vec<StoredGroup>,
    /// Grouped layout: trim each group's exports to what the set imports, or keep them all.
    pub group_exports: GroupExports,
}

/// A crates.io crate replaced by a local copy of the same version (`[patch.crates-io]`).
#[derive(Debug, Clone)]
pub struct CratePatch {
    pub name: String,
    pub path: PathBuf,
}

/// Puts lockfiles back as they were when dropped (a patched build rewrites them).
struct LockRestore(Vec<(PathBuf, Option<Vec<u8>>)>);

impl LockRestore {
    fn save(roots: impl Iterator<Item = PathBuf>) -> Self {
        LockRestore(
            roots
                .map(|r| r.join("Cargo.lock"))
                .map(|l| {
                    let text = std::fs::read(&l).ok();
                    (l, text)
                })
                .collect(),
        )
    }
}

impl Drop for LockRestore {
    fn drop(&mut self) {
        for (path, text) in &self.0 {
            match text {
                Some(t) => {
                    let _ = std::fs::write(path, t);
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// The machine and toolchain facts a build needs.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub host: String,
    /// The full `rustc -vV` output: part of every crate identity.
    pub version_text: String,
    /// `rustc --print target-libdir`: where `libstd-<hash>.so` lives.
    pub std_libdir: PathBuf,
}

impl Toolchain {
    pub fn detect() -> Result<Self> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let vv = Command::new(&rustc)
            .arg("-vV")
            .output()
            .context("running `rustc -vV`: is a Rust toolchain installed and on PATH?")?;
        let text = String::from_utf8_lossy(&vv.stdout);
        let host = text
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .context("`rustc -vV` printed no host triple")?
            .to_string();
        let libdir = Command::new(&rustc)
            .args(["--print", "target-libdir"])
            .output()
            .context("running `rustc --print target-libdir`")?;
        let std_libdir = PathBuf::from(String::from_utf8_lossy(&libdir.stdout).trim());
        Ok(Toolchain {
            host,
            version_text: text.into_owned(),
            std_libdir,
        })
    }
}

impl Toolchain {
    /// The toolchain's `libstd-<hash>.so`.
    pub fn libstd(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.std_libdir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                n.starts_with("libstd-") && n.ends_with(".so")
            })
    }
}

/// The default cache: `$CARGO_SHARE_CACHE`, else `$XDG_CACHE_HOME/cargo-share`, else
/// `~/.cache/cargo-share`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("CARGO_SHARE_CACHE") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("cargo-share"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; pass --cache-dir")?;
    Ok(PathBuf::from(home).join(".cache").join("cargo-share"))
}

/// The groups of a grouped build and, by group name, what each one's store entry records.
pub type GroupedPlan = (GroupPlan, BTreeMap<String, GroupRecord>);

/// A build in progress: resolved programs, the plan, and where things go.
pub struct PreparedBuild {
    pub graph: BuildGraph,
    pub toolchain: Toolchain,
    pub target_dir: PathBuf,
    pub plan_file: tempfile::NamedTempFile,
    pub options: BuildOptions,
    /// The generated workspace of a unified build.
    pub set: Option<ProgramSet>,
    /// The groups of a grouped build.
    pub groups: Option<GroupedPlan>,
    /// The programs' own workspace roots and the programs from each: their profiles are what
    /// the build overrides (a set's copies carry none).
    pub origins: Vec<(PathBuf, Vec<String>)>,
    /// Held until the build ends: one cargo-share build per cache at a time.
    _cache_lock: std::fs::File,
}

/// Lock a cache directory for one build: generated set workspaces, fetched sources and target
/// directories are rewritten by a build, so a second build (or a `--dry-run`, which writes the
/// set workspace to plan it) waits for the first.
fn lock_cache(cache: &Path, shell: &Shell) -> Result<std::fs::File> {
    let path = cache.join("lock");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the cache lock {}", path.display()))?;
    if lock.try_lock().is_err() {
        shell.status(
            "Blocking",
            format!(
                "waiting for the cache lock ({} is in use by another cargo-share)",
                cache.display()
            ),
        );
        lock.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(lock)
}

/// Cargo's target directory for a layout under a cache directory. One per wrapper ABI: builds
/// made by a wrapper that rewrote units differently are never reused as if they were ours. One
/// per layout: the same Cargo unit is a dylib in one and an rlib in the other.
pub fn target_dir_of(cache: &Path, layout: Layout) -> PathBuf {
    cache.join(match layout {
        Layout::PerCrate => format!("target-{}", crate::identity::WRAPPER_ABI),
        Layout::Grouped => format!("target-{}-grouped", crate::identity::WRAPPER_ABI),
    })
}

/// Steps 1 to 3: sources, graph, plan.
pub fn prepare(options: &BuildOptions, shell: &Shell) -> Result<PreparedBuild> {
    if options.programs.is_empty() {
        bail!("no programs given: name them with --manifest-path PATH or --crate NAME[@VERSION]");
    }
    options.unify.validate()?;
    if options.layout == Layout::Grouped && options.unify.policy != Unify::Features {
        bail!(
            "--layout grouped builds the programs as one set with one build of each crate: \
             use it with --unify features (its default), or use --layout per-crate with --unify {}",
            options.unify.policy
        );
    }
    let cache = match &options.cache_dir {
        Some(d) => d.clone(),
        None => default_cache_dir()?,
    };
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("creating the cargo-share cache {}", cache.display()))?;
    let cache = cache.canonicalize()?;
    let cache_lock = lock_cache(&cache, shell)?;
    let toolchain = Toolchain::detect()?;
    let target_dir = target_dir_of(&cache, options.layout);
    std::fs::create_dir_all(&target_dir)?;

    let mut manifests = Vec::new();
    for source in &options.programs {
        let manifest = source.manifest(&cache, shell)?;
        if !manifests.contains(&manifest) {
            manifests.push(manifest);
        }
    }

    let mut sources = Vec::new();
    for manifest in manifests {
        let md = graph::load_metadata(&manifest, options.locked, &toolchain.host)?;
        sources.push((manifest, md));
    }
    let origins = sources
        .iter()
        .map(|(_, md)| {
            let names = graph::program_packages(md)
                .into_iter()
                .map(|p| p.name.to_string())
                .collect();
            (md.workspace_root.as_std_path().to_path_buf(), names)
        })
        .collect();
    let mut graph = BuildGraph::default();
    let (set, groups) = if options.unify.policy == Unify::None {
        for (manifest, md) in sources {
            graph.add_workspace(&manifest, md, &|_| true, false)?;
        }
        (None, None)
    } else {
        unify_sources(sources, options, &cache, &toolchain, &mut graph, shell)?
    };
    // Grouped: only the facades are dylibs (set by `unify_sources`); every other crate is an
    // rlib, linked into its group or, used by one program, into that program.
    if options.layout == Layout::PerCrate {
        graph.compute_shared();
        // A patched copy of a shared crate is shared too.
        for patch in &options.patches {
            let shared = graph.workspaces.iter().any(|ws| {
                ws.metadata.packages.iter().any(|p| {
                    let dir = p.manifest_path.parent().map(|m| m.as_std_path());
                    p.name.as_str() == patch.name
                        && dir
                            .and_then(|d| d.canonicalize().ok())
                            .is_some_and(|d| graph.shared_packages.contains(&d))
                })
            });
            if shared {
                let dir = patch.path.canonicalize().unwrap_or(patch.path.clone());
                graph.shared_packages.insert(dir);
            }
        }
    }

    let plan = WrapperPlan {
        shared_packages: graph.shared_packages.clone(),
        target_dir: target_dir.clone(),
        cargo_home: program::cargo_home()?,
        self_exe: std::env::current_exe().context("locating the cargo-share executable")?,
        unit_log: options.unit_log.clone(),
        grouped: options.layout == Layout::Grouped,
    };
    let plan_file = tempfile::Builder::new()
        .prefix("plan-")
        .suffix(".json")
        .tempfile_in(&cache)?;
    plan.save(plan_file.path())?;
    Ok(PreparedBuild {
        graph,
        toolchain,
        target_dir,
        plan_file,
        options: options.clone(),
        set,
        groups,
        origins,
        _cache_lock: cache_lock,
    })
}

/// Put the programs that join the set into one generated workspace (resolved together); keep the
/// `--own-lock` ones in their own workspaces.
fn unify_sources(
    sources: Vec<(PathBuf, cargo_metadata::Metadata)>,
    options: &BuildOptions,
    cache: &Path,
    toolchain: &Toolchain,
    graph: &mut BuildGraph,
    shell: &Shell,
) -> Result<(Option<ProgramSet>, Option<GroupedPlan>)> {
    let unify = &options.unify;
    let own_lock = |name: &str| unify.own_lock.iter().any(|o| o == name);
    let all: Vec<String> = sources
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| p.name.to_string())
        .collect();
    for name in &unify.own_lock {
        if !all.contains(name) {
            bail!(
                "--own-lock {name}: no program of this build is named `{name}` (programs: {})",
                all.join(", ")
            );
        }
    }
    let mut members = Vec::new();
    for (manifest, md) in &sources {
        if graph::program_packages(md).is_empty() {
            bail!(
                "{} has no binary target: cargo-share builds programs (packages with a [[bin]] or src/main.rs)",
                manifest.display()
            );
        }
        let lock = std::fs::read_to_string(md.workspace_root.join("Cargo.lock")).ok();
        for pkg in graph::program_packages(md) {
            if own_lock(&pkg.name) {
                continue;
            }
            members.push(SetMember {
                name: pkg.name.to_string(),
                version: pkg.version.to_string(),
                package_dir: pkg
                    .manifest_path
                    .parent()
                    .context("a manifest without a directory")?
                    .as_std_path()
                    .to_path_buf(),
                lock: lock.clone(),
            });
        }
    }
    let mut groups = None;
    let set = if members.is_empty() {
        None
    } else {
        let fixed_by_resolution = unify.lock_file.is_some() || !unify.pins.is_empty();
        let mut stored: Vec<StoredGroup> = if options.layout == Layout::Grouped {
            options.stored_groups.clone()
        } else {
            Vec::new()
        };
        if fixed_by_resolution && !stored.is_empty() {
            shell.status(
                "Ignoring",
                "the groups in the store: --lock and --pin fix the resolution",
            );
            stored.clear();
        }
        stored = grouping::compatible_subset(&stored);
        let (set, md) = loop {
            let set = match program_set::generate(&members, unify, cache, &stored, shell) {
                Err(e) if !stored.is_empty() => {
                    shell.status(
                        "Not reusing",
                        format!(
                            "the store's groups: Cargo cannot resolve the programs with them ({})",
                            e.to_string().lines().next().unwrap_or_default()
                        ),
                    );
                    stored.clear();
                    continue;
                }
                other => other?,
            };
            let md = graph::load_metadata(&set.manifest_path, true, &toolchain.host)?;
            let keep = reusable_groups(&md, &stored, shell);
            if keep.len() == stored.len() {
                break (set, md);
            }
            stored = keep;
        };
        if options.layout == Layout::Grouped {
            let programs: Vec<(String, cargo_metadata::PackageId)> = graph::program_packages(&md)
                .into_iter()
                .map(|p| (p.name.to_string(), p.id.clone()))
                .collect();
            let tag: String = set
                .root
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .chars()
                .take(8)
                .collect();
            let plan =
                grouping::plan_groups(&md, &programs, options.group_min_size, &tag, &stored)?;
            grouping::report(&plan, shell, options.dry_run);
            let manifest = program_set::grouped_workspace(&set, &plan, shell)?;
            let md = graph::load_metadata(&manifest, true, &toolchain.host)?;
            let lock = std::fs::read_to_string(manifest.with_file_name("Cargo.lock"))?;
            let mut records = BTreeMap::new();
            for group in &plan.groups {
                let mut record = group_record(&md, group, &lock)
                    .with_context(|| format!("recording how {} was resolved", group.name))?;
                // A reused group keeps exporting what it exported for the programs already
                // bound to it.
                record.exports = stored
                    .iter()
                    .find(|g| g.record.group.name == group.name)
                    .and_then(|g| g.record.exports.clone());
                records.insert(group.name.clone(), record);
            }
            graph.add_workspace(&manifest, md, &|_| true, false)?;
            let root = manifest
                .parent()
                .context("a manifest without a directory")?;
            graph.shared_packages = plan.groups.iter().map(|g| root.join(&g.name)).collect();
            groups = Some((plan, records));
        } else {
            graph.add_workspace(
                &set.manifest_path,
                md,
                &|_| true,
                set.policy == Unify::Semver,
            )?;
        }
        Some(set)
    };
    for (manifest, md) in sources {
        if graph::program_packages(&md)
            .iter()
            .any(|p| own_lock(&p.name))
        {
            graph.add_workspace(&manifest, md, &own_lock, false)?;
        }
    }
    Ok((set, groups))
}

/// The stored groups a set resolved as `md` can use exactly (see [`grouping::reuse_mismatch`])
/// and whose dependency groups it can use too. Each one dropped is named, with why; groups no
/// program of the set loads are dropped quietly.
fn reusable_groups(
    md: &cargo_metadata::Metadata,
    stored: &[StoredGroup],
    shell: &Shell,
) -> Vec<StoredGroup> {
    let mut keep: Vec<StoredGroup> = Vec::new();
    for g in stored {
        match grouping::reuse_mismatch(md, &g.record) {
            None => keep.push(g.clone()),
            Some(why) => shell.status(
                "Not reusing",
                format!("{} from the store: {why}", g.record.group.name),
            ),
        }
    }
    grouping::retain_loadable(&mut keep);
    let programs: Vec<(String, cargo_metadata::PackageId)> = graph::program_packages(md)
        .into_iter()
        .map(|p| (p.name.to_string(), p.id.clone()))
        .collect();
    let groups: Vec<grouping::Group> = keep.iter().map(|g| g.record.group.clone()).collect();
    let used = grouping::groups_used(md, &programs, &groups);
    keep.retain(|g| used.contains(&g.record.group.name));
    keep
}

/// What a new group's store entry keeps so that later builds can reuse it
/// ([`grouping::GroupRecord`]); the export list is added once the group is trimmed.
fn group_record(
    md: &cargo_metadata::Metadata,
    group: &grouping::Group,
    lock: &str,
) -> Result<GroupRecord> {
    let resolution = grouping::resolution_of(md, &group.name)
        .context("the group is missing from its build workspace")?;
    let keys = md
        .packages
        .iter()
        .filter(|p| resolution.contains_key(&p.id.repr))
        .map(|p| {
            (
                p.name.to_string(),
                p.version.to_string(),
                p.source.as_ref().map(|s| s.repr.clone()),
            )
        })
        .collect();
    Ok(GroupRecord {
        group: group.clone(),
        resolution,
        lock: program_set::lock_subset(lock, &keys)?,
        exports: None,
    })
}

/// What Cargo command to run per workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CargoVerb {
    Build,
    Test,
}

impl PreparedBuild {
    /// The Cargo invocations of this build: (workspace, programs built together).
    pub fn invocations(&self) -> Vec<(usize, Vec<usize>)> {
        let mut out = Vec::new();
        for (wi, ws) in self.graph.workspaces.iter().enumerate() {
            let programs: Vec<usize> = (0..self.graph.programs.len())
                .filter(|&p| self.graph.programs[p].workspace == wi)
                .collect();
            if ws.build_programs_alone {
                out.extend(programs.into_iter().map(|p| (wi, vec![p])));
            } else {
                out.push((wi, programs));
            }
        }
        out
    }

    fn program_names(&self, programs: &[usize]) -> Vec<String> {
        programs
            .iter()
            .map(|&p| {
                let p = &self.graph.programs[p];
                format!("{} v{}", p.name, p.version)
            })
            .collect()
    }

    fn cargo(
        &self,
        verb: CargoVerb,
        workspace: usize,
        programs: &[usize],
        shell: &Shell,
    ) -> Command {
        let ws = &self.graph.workspaces[workspace];
        let mut cmd = program::cargo_command();
        cmd.arg(match verb {
            CargoVerb::Build => "build",
            CargoVerb::Test => "test",
        });
        cmd.args(["--release", "--target", &self.toolchain.host]);
        cmd.arg("--manifest-path").arg(&ws.manifest_path);
        for &p in programs {
            let p = &self.graph.programs[p];
            cmd.args(["-p", &format!("{}@{}", p.name, p.version)]);
        }
        cmd.arg("--message-format").arg("json-render-diagnostics");
        if self.options.patches.is_empty() && (self.options.locked || self.set.is_some()) {
            cmd.arg("--locked");
        }
        for (i, patch) in self.options.patches.iter().enumerate() {
            let key = format!("patch.crates-io.cargo-share-patch-{i}");
            cmd.arg("--config")
                .arg(format!("{key}.path=\"{}\"", patch.path.display()));
            cmd.arg("--config")
                .arg(format!("{key}.package=\"{}\"", patch.name));
        }
        // `cargo test -q` would hide the "Running" lines that attribute test results to programs;
        // the output is filtered here instead.
        if shell.quiet && verb != CargoVerb::Test {
            cmd.arg("-q");
        }
        if let Some(j) = self.options.jobs {
            cmd.arg("-j").arg(j.to_string());
        }
        if verb == CargoVerb::Test {
            cmd.arg("--no-fail-fast");
        }
        cmd.args(self.options.shared_profile.cargo_config_args());
        // C and C++ code that build scripts compile (through the `cc` crate, which reads these)
        // gets the same path remapping as Rust code, so `-sys` dylibs are reproducible too.
        let plan_remaps = [
            (ws.root.clone(), "/src".to_string()),
            (program::cargo_home().unwrap_or_default(), "/cargo".into()),
            (self.target_dir.clone(), "/target".into()),
        ];
        for var in ["CFLAGS", "CXXFLAGS"] {
            let mut flags = std::env::var(var).unwrap_or_default();
            for (from, to) in &plan_remaps {
                flags.push_str(&format!(" -ffile-prefix-map={}={to}", from.display()));
            }
            cmd.env(var, flags.trim_start());
        }
        cmd.env("RUSTC_WRAPPER", std::env::current_exe().unwrap_or_default())
            .env(PLAN_ENV, self.plan_file.path())
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
            .stdout(Stdio::piped());
        cmd
    }

    fn warn_overrides(&self, shell: &Shell) {
        for (root, names) in &self.origins {
            let manifest = root.join("Cargo.toml");
            for o in profile::overridden_settings(&manifest) {
                shell.warn(format!(
                    "{}: {} overridden: {}",
                    names.join(", "),
                    o.setting,
                    o.reason
                ));
            }
        }
    }

    /// Where Cargo puts target binaries and dylibs.
    pub fn deps_dir(&self) -> PathBuf {
        self.release_dir().join("deps")
    }

    pub fn release_dir(&self) -> PathBuf {
        self.target_dir.join(&self.toolchain.host).join("release")
    }
}

/// One built program, as reported at the end of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltProgram {
    pub reason: &'static str,
    pub name: String,
    pub version: String,
    /// Paths of the installed binaries (in `OUT/bin`).
    pub binaries: Vec<PathBuf>,
    /// File names of the shared libraries it needs (in `OUT/lib`), libstd included.
    pub libraries: Vec<String>,
}

/// The result of `cargo share build`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub reason: &'static str,
    pub success: bool,
    pub layout: Layout,
    pub out: PathBuf,
    pub programs: Vec<BuiltProgram>,
    /// Every library in `OUT/lib` this build needs: file name -> size in bytes.
    pub libraries: BTreeMap<String, u64>,
    /// How many library crates the build made shared.
    pub shared_packages: usize,
    /// Where Cargo left the crate dylibs and the wrapper's unit records.
    #[serde(skip)]
    pub deps_dir: PathBuf,
    /// Grouped layout: by file name, what each group's store entry records.
    #[serde(skip)]
    pub group_records: BTreeMap<String, GroupRecord>,
    /// Grouped layout: groups taken from the store, by file name -> the entry's identity.
    #[serde(skip)]
    pub reused_groups: BTreeMap<String, String>,
    #[serde(skip)]
    pub toolchain: Option<Toolchain>,
}

/// `--dry-run`: steps 1 to 3, showing the plan (the groups, in the grouped layout) and what
/// would be built.
pub fn show_plan(options: &BuildOptions, shell: &Shell) -> Result<()> {
    let options = BuildOptions {
        dry_run: true,
        ..options.clone()
    };
    let prepared = prepare(&options, shell)?;
    for (_, programs) in prepared.invocations() {
        shell.result(format!(
            "would build: {}",
            prepared.program_names(&programs).join(", ")
        ));
    }
    Ok(())
}

/// `cargo share build`: steps 1 to 5.
pub fn build(options: &BuildOptions, out: &Path, shell: &Shell) -> Result<BuildReport> {
    let prepared = prepare(options, shell)?;
    prepared.warn_overrides(shell);
    prepared.check_recorded_tests(shell)?;
    let mut executables: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let _locks = (!options.patches.is_empty())
        .then(|| LockRestore::save(prepared.graph.workspaces.iter().map(|w| w.root.clone())));
    for (wi, programs) in prepared.invocations() {
        let ws = &prepared.graph.workspaces[wi];
        let names = prepared.program_names(&programs);
        shell.status(
            "Building",
            format!(
                "{} (shared, {})",
                names.join(", "),
                match &prepared.set {
                    Some(set) if set.manifest_path == ws.manifest_path =>
                        format!("--unify {}", set.policy),
                    _ => format!("{} workspace", ws.root.display()),
                }
            ),
        );
        let mut cmd = prepared.cargo(CargoVerb::Build, wi, &programs, shell);
        let mut child = cmd.spawn().context("running cargo")?;
        let stdout = child.stdout.take().expect("piped stdout");
        for message in Message::parse_stream(BufReader::new(stdout)) {
            if let Message::CompilerArtifact(artifact) = message? {
                let Some(exe) = artifact.executable else {
                    continue;
                };
                if let Some(program) = prepared
                    .graph
                    .programs
                    .iter()
                    .find(|p| p.package_id == artifact.package_id)
                {
                    executables
                        .entry(program.name.clone())
                        .or_default()
                        .push(exe.into_std_path_buf());
                }
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "cargo build failed for {} (see the errors above); nothing was written to {}",
                names.join(", "),
                out.display()
            );
        }
    }
    assemble(&prepared, &executables, out, shell)
}

/// Step 5: copy binaries and their library closure into `out`.
fn assemble(
    prepared: &PreparedBuild,
    executables: &BTreeMap<String, Vec<PathBuf>>,
    out: &Path,
    shell: &Shell,
) -> Result<BuildReport> {
    let bin_dir = out.join("bin");
    let lib_dir = out.join("lib");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    std::fs::create_dir_all(&lib_dir).with_context(|| format!("creating {}", lib_dir.display()))?;
    let search = [prepared.deps_dir(), prepared.toolchain.std_libdir.clone()];
    let mut report = BuildReport {
        reason: "build-finished",
        success: true,
        layout: prepared.options.layout,
        out: out.to_path_buf(),
        programs: Vec::new(),
        libraries: BTreeMap::new(),
        shared_packages: prepared.graph.shared_packages.len(),
        deps_dir: prepared.deps_dir(),
        group_records: BTreeMap::new(),
        reused_groups: BTreeMap::new(),
        toolchain: Some(prepared.toolchain.clone()),
    };
    let mut closures = Vec::new();
    for program in &prepared.graph.programs {
        let exes = executables.get(&program.name).cloned().unwrap_or_default();
        if exes.is_empty() {
            bail!(
                "cargo built no binary for {} v{} (do its binaries need features? see `required-features`)",
                program.name,
                program.version
            );
        }
        let mut needed = BTreeMap::new();
        for exe in &exes {
            needed.extend(elf::library_closure(exe, &search)?);
        }
        closures.push((program, exes, needed));
    }
    let mut runtime_copies = BTreeMap::new();
    if let Some((plan, records)) = &prepared.groups {
        let files = closures
            .iter()
            .flat_map(|(_, exes, needed)| exes.iter().chain(needed.values()));
        let groups: BTreeMap<&String, &PathBuf> = closures
            .iter()
            .flat_map(|(_, _, needed)| needed.iter())
            .filter(|(name, _)| name.starts_with(&format!("lib{GROUP_CRATE_PREFIX}")))
            .collect();
        let mut by_file: BTreeMap<String, GroupRecord> = records
            .values()
            .map(|r| (group_file(&r.group), r.clone()))
            .collect();
        let trimmed = match prepared.options.group_exports {
            GroupExports::Used => trim_groups(files, &groups, &by_file, shell)?,
            GroupExports::All => {
                keep_all_exports(&groups)?;
                BTreeMap::new()
            }
        };
        // A reused group is the store's entry unless it had to export more (a new entry).
        report.reused_groups = plan
            .groups
            .iter()
            .filter_map(|g| Some((group_file(g), plan.reused.get(&g.name)?.clone())))
            .filter(|(file, _)| {
                let before = by_file.get(file).and_then(|r| r.exports.as_ref());
                let now = trimmed.get(file).map(|(_, keep)| keep);
                before.is_none() || before == now
            })
            .collect();
        for (file, (path, keep)) in trimmed {
            if let Some(record) = by_file.get_mut(&file) {
                record.exports = Some(keep);
            }
            runtime_copies.insert(file, path);
        }
        report.group_records = by_file;
    }
    let mut copied: BTreeSet<String> = BTreeSet::new();
    for (program, exes, needed) in closures {
        let mut installed = Vec::new();
        for exe in &exes {
            let dest = bin_dir.join(exe.file_name().context("binary without a file name")?);
            install_file(exe, &dest)?;
            installed.push(dest);
        }
        for (name, path) in &needed {
            if copied.insert(name.clone()) {
                let dest = lib_dir.join(name);
                install_file(runtime_copies.get(name).unwrap_or(path), &dest)?;
                report
                    .libraries
                    .insert(name.clone(), std::fs::metadata(&dest)?.len());
            }
        }
        let built = BuiltProgram {
            reason: "program-built",
            name: program.name.clone(),
            version: program.version.clone(),
            binaries: installed,
            libraries: needed.keys().cloned().collect(),
        };
        if !prepared.options.staging {
            report_program(&built, shell);
        }
        report.programs.push(built);
    }
    if prepared.options.staging {
        return Ok(report);
    }
    let bytes: u64 = report.libraries.values().sum();
    shell.json(&report);
    shell.status(
        "Finished",
        format!(
            "{} programs, {} shared libraries ({:.1} MB) in {}",
            report.programs.len(),
            report.libraries.len(),
            bytes as f64 / 1e6,
            lib_dir.display()
        ),
    );
    Ok(report)
}

/// `--exports all`: the full build is the run-time copy. The trimmed copy and export list an
/// earlier build left beside it go, since a group's identity hashes the list when it is there.
fn keep_all_exports(groups: &BTreeMap<&String, &PathBuf>) -> Result<()> {
    for (&name, &full) in groups {
        let dir = linker::saved_link_dir(full);
        for stale in [dir.join(linker::TRIMMED_EXPORTS_FILE), dir.join(name)] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", stale.display()))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The file name of a group's shared object.
fn group_file(group: &grouping::Group) -> String {
    format!("lib{}.so", group.crate_name())
}

/// Grouped layout: relink every group exporting only the symbols that the set's files (`files`:
/// binaries and their libraries) import (see [`crate::linker`]), and whatever its record says it
/// exported before (a group reused from the store keeps serving the programs bound to it).
/// Returns the trimmed run-time copy of each group and its export list, by file name; a relink is
/// redone only when the group or its export list changed.
fn trim_groups<'a>(
    files: impl Iterator<Item = &'a PathBuf>,
    groups: &BTreeMap<&String, &PathBuf>,
    records: &BTreeMap<String, GroupRecord>,
    shell: &Shell,
) -> Result<BTreeMap<String, (PathBuf, Vec<String>)>> {
    let mut imports = BTreeSet::new();
    for f in files {
        imports.extend(elf::dynamic_symbols(f)?.0);
    }
    let mut trimmed = BTreeMap::new();
    for (&name, &full) in groups {
        let dir = linker::saved_link_dir(full);
        if !linker::has_recipe(&dir) {
            shell.warn(format!(
                "{name} was linked without a saved link (an older cargo-share built it), so it \
                 keeps every export; remove the cache's target directory to trim it"
            ));
            continue;
        }
        let (_, exports) = elf::dynamic_symbols(full)?;
        let before: BTreeSet<&String> = records
            .get(name.as_str())
            .and_then(|r| r.exports.as_ref())
            .into_iter()
            .flatten()
            .collect();
        let keep: BTreeSet<String> = exports
            .iter()
            .filter(|s| imports.contains(*s) || before.contains(s))
            .cloned()
            .collect();
        if !before.is_empty() && keep.len() > before.len() {
            shell.status(
                "Extending",
                format!(
                    "{name}: {} more exports than its store entry has, for the new programs \
                     (a new entry; programs installed before keep theirs)",
                    keep.len() - before.len()
                ),
            );
        }
        // The first line names how the relink is done: a changed relink redoes it (and changes
        // the group's identity, which hashes this file).
        let list: String = std::iter::once(format!("{}\n", linker::TRIM_FORMAT))
            .chain(keep.iter().map(|s| format!("{s}\n")))
            .collect();
        let list_file = dir.join(linker::TRIMMED_EXPORTS_FILE);
        let out = dir.join(name);
        let current = out.is_file()
            && std::fs::read_to_string(&list_file).ok().as_deref() == Some(list.as_str())
            && modified(&out)? >= modified(full)?;
        if !current {
            let tmp = dir.join(format!("{name}.new"));
            linker::relink_trimmed(&dir, &keep, &tmp)
                .with_context(|| format!("trimming the exports of {name}"))?;
            std::fs::write(&list_file, &list)?;
            std::fs::rename(&tmp, &out)?;
        }
        shell.status(
            "Trimmed",
            format!(
                "{name}: exports {} of {} symbols, {} -> {}",
                keep.len(),
                exports.len(),
                human_bytes(std::fs::metadata(full)?.len()),
                human_bytes(std::fs::metadata(&out)?.len())
            ),
        );
        trimmed.insert(name.clone(), (out, keep.into_iter().collect()));
    }
    Ok(trimmed)
}

fn modified(path: &Path) -> Result<std::time::SystemTime> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .modified()?)
}

fn report_program(built: &BuiltProgram, shell: &Shell) {
    shell.json(&built);
    let bins: Vec<String> = built
        .binaries
        .iter()
        .map(|b| b.display().to_string())
        .collect();
    shell.status(
        "Linked",
        format!(
            "{} v{}: {} (needs {} shared libraries)",
            built.name,
            built.version,
            bins.join(", "),
            built.libraries.len()
        ),
    );
    for lib in &built.libraries {
        shell.line(format!("{:>12}   {lib}", ""));
    }
}

/// Copy a file into place atomically (temporary file in the same directory, then rename), so a
/// program in `OUT` is never seen half-written.
pub fn install_file(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().context("destination without a directory")?;
    if let (Ok(a), Ok(b)) = (std::fs::read(from), std::fs::read(to)) {
        if a == b {
            return Ok(());
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".cargo-share-")
        .tempfile_in(dir)?;
    std::fs::copy(from, tmp.path())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    tmp.persist(to)
        .with_context(|| format!("moving into place {}", to.display()))?;
    Ok(())
}

/// Pass and fail counts of one program's test run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TestCounts {
    pub reason: &'static str,
    pub program: String,
    pub version: String,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub test_binaries: u64,
    pub success: bool,
    /// "no tests" or "tests did not build".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Add up the `test result:` lines libtest prints.
pub fn count_test_results(line: &str, counts: &mut TestCounts) {
    let Some(rest) = line.trim().strip_prefix("test result: ") else {
        return;
    };
    counts.test_binaries += 1;
    for part in rest.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (num, what) = match words.as_slice() {
            [_, n, w, ..] if n.parse::<u64>().is_ok() => (*n, *w),
            [n, w, ..] => (*n, *w),
            _ => continue,
        };
        let Ok(n) = num.parse::<u64>() else {
            continue;
        };
        match what {
            "passed" => counts.passed += n,
            "failed" => counts.failed += n,
            "ignored" => counts.ignored += n,
            _ => {}
        }
    }
}

/// `cargo share test`: each program's own test suite, built in shared mode under the chosen
/// resolution. Under `--unify`, the results are recorded against the set's lockfile, and
/// `install` refuses a program whose tests failed there.
pub fn test(options: &BuildOptions, shell: &Shell) -> Result<Vec<TestCounts>> {
    let prepared = prepare(options, shell)?;
    prepared.warn_overrides(shell);
    let mut results: Vec<TestCounts> = prepared
        .graph
        .programs
        .iter()
        .map(|p| TestCounts {
            reason: "test-finished",
            program: p.name.clone(),
            version: p.version.clone(),
            ..Default::default()
        })
        .collect();
    for (wi, programs) in prepared.invocations() {
        let names = prepared.program_names(&programs);
        shell.status("Testing", format!("{} (shared)", names.join(", ")));
        let mut started = vec![0u64; results.len()];
        let status = prepared.run_tests(wi, &programs, &mut results, &mut started, shell)?;
        for &p in &programs {
            let counts = &mut results[p];
            // In a run of several programs Cargo's status covers them all: a program passed if
            // every test binary it started reported, with no failures.
            counts.success = if counts.test_binaries == 0 {
                status.success()
            } else {
                counts.failed == 0
                    && counts.test_binaries >= started[p]
                    && (status.success() || programs.len() > 1)
            };
            if counts.test_binaries == 0 {
                counts.note = Some(if status.success() {
                    "no tests".into()
                } else {
                    "tests did not build".into()
                });
                if !status.success() {
                    shell.error(format!(
                        "{} v{}: the tests did not build (see the errors above)",
                        counts.program, counts.version
                    ));
                }
            }
            shell.json(&*counts);
        }
    }
    shell.result(format!(
        "\n{:<24} {:>8} {:>8} {:>8} {:>8}  {}",
        "program", "run", "passed", "failed", "ignored", "note"
    ));
    for r in &results {
        shell.result(format!(
            "{:<24} {:>8} {:>8} {:>8} {:>8}  {}",
            format!("{} {}", r.program, r.version),
            r.passed + r.failed,
            r.passed,
            r.failed,
            r.ignored,
            r.note.as_deref().unwrap_or("")
        ));
    }
    if let Some(set) = &prepared.set {
        record_tests(set, &prepared, &results)?;
        let failing: Vec<&str> = prepared
            .graph
            .programs
            .iter()
            .zip(&results)
            .filter(|(p, r)| prepared.in_set(p) && !r.success)
            .map(|(p, _)| p.name.as_str())
            .collect();
        if !failing.is_empty() {
            shell.warn(format!(
                "under --unify {}, the tests of {} do not pass. Ways out: build {} with its own lockfile \
                 (--own-lock NAME), or pin the crate that breaks it (--pin CRATE@VERSION). \
                 `cargo share install` refuses these programs under this resolution.",
                set.policy,
                failing.join(", "),
                if failing.len() == 1 { "it" } else { "each" },
            ));
        }
    }
    Ok(results)
}

/// One program's recorded test outcome under a set's resolution.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct RecordedTest {
    version: String,
    passed: u64,
    failed: u64,
    success: bool,
    note: Option<String>,
}

/// `SET/test-results.json`: [`ProgramSet::resolution_key`] -> program -> outcome.
type TestRecords = BTreeMap<String, BTreeMap<String, RecordedTest>>;

fn test_records_path(set: &ProgramSet) -> PathBuf {
    set.root.join("test-results.json")
}

fn load_test_records(set: &ProgramSet) -> TestRecords {
    std::fs::read(test_records_path(set))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn record_tests(set: &ProgramSet, prepared: &PreparedBuild, results: &[TestCounts]) -> Result<()> {
    let mut records = load_test_records(set);
    let entry = records.entry(set.resolution_key()).or_default();
    for (program, r) in prepared.graph.programs.iter().zip(results) {
        if prepared.in_set(program) {
            entry.insert(
                program.name.clone(),
                RecordedTest {
                    version: r.version.clone(),
                    passed: r.passed,
                    failed: r.failed,
                    success: r.success,
                    note: r.note.clone(),
                },
            );
        }
    }
    let path = test_records_path(set);
    let tmp = tempfile::NamedTempFile::new_in(&set.root)?;
    std::fs::write(tmp.path(), serde_json::to_vec_pretty(&records)?)?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl PreparedBuild {
    /// Whether a program is built in the unified set (not with `--own-lock`).
    fn in_set(&self, program: &graph::Program) -> bool {
        // By name: program names are unique in a build, and the set's programs may be built
        // from its grouped build workspace rather than the set workspace itself.
        self.set
            .as_ref()
            .is_some_and(|set| set.members.iter().any(|m| m.name == program.name))
    }

    /// Before an install under `--unify`: programs whose own tests failed under this exact
    /// resolution are refused; untested ones get a warning.
    fn check_recorded_tests(&self, shell: &Shell) -> Result<()> {
        let Some(set) = &self.set else {
            return Ok(());
        };
        if !self.options.check_tests {
            return Ok(());
        }
        let records = load_test_records(set);
        let recorded = records.get(&set.resolution_key());
        let mut failed = Vec::new();
        let mut untested = Vec::new();
        for program in self.graph.programs.iter().filter(|p| self.in_set(p)) {
            match recorded.and_then(|r| r.get(&program.name)) {
                Some(r) if !r.success => failed.push(format!(
                    "{} ({} of {} tests failed)",
                    program.name,
                    r.failed,
                    r.passed + r.failed
                )),
                Some(_) => {}
                None => untested.push(program.name.clone()),
            }
        }
        if !untested.is_empty() {
            shell.warn(format!(
                "{} not tested under this resolution (--unify {}); `cargo share test` with the same programs and options runs their own test suites",
                untested.join(", "),
                set.policy
            ));
        }
        if !failed.is_empty() {
            let message = format!(
                "under --unify {}, the tests of {} failed (`cargo share test`). Ways out: install it with its own lockfile \
                 (--own-lock NAME), pin the crate that breaks it (--pin CRATE@VERSION), or accept it with --allow-test-failures",
                set.policy,
                failed.join(", ")
            );
            if !self.options.allow_test_failures {
                bail!("{message}");
            }
            shell.warn(message);
        }
        Ok(())
    }

    /// Run `cargo test` for some programs of one workspace, attributing each test binary's
    /// results to its program: Cargo's stderr ("Running ... (PATH)", "Doc-tests NAME") and the
    /// tests' stdout share one pipe, so the order is kept.
    fn run_tests(
        &self,
        workspace: usize,
        programs: &[usize],
        results: &mut [TestCounts],
        started: &mut [u64],
        shell: &Shell,
    ) -> Result<std::process::ExitStatus> {
        let mut cmd = self.cargo(CargoVerb::Test, workspace, programs, shell);
        let (reader, writer) = std::io::pipe()?;
        cmd.stdout(writer.try_clone()?).stderr(writer);
        let mut child = cmd.spawn().context("running cargo test")?;
        drop(cmd);
        let md = &self.graph.workspaces[workspace].metadata;
        let mut by_executable: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_lib: BTreeMap<String, usize> = BTreeMap::new();
        for &p in programs {
            let id = &self.graph.programs[p].package_id;
            if let Some(pkg) = md.packages.iter().find(|k| &k.id == id) {
                for t in pkg.targets.iter().filter(|t| t.is_lib()) {
                    by_lib.insert(t.name.replace('-', "_"), p);
                }
            }
        }
        let mut current = programs.first().copied();
        for message in Message::parse_stream(BufReader::new(reader)) {
            match message? {
                Message::CompilerArtifact(a) => {
                    if let (Some(exe), Some(&p)) = (
                        &a.executable,
                        programs
                            .iter()
                            .find(|&&p| self.graph.programs[p].package_id == a.package_id),
                    ) {
                        if let Some(name) = exe.file_name() {
                            by_executable.insert(name.to_string(), p);
                        }
                    }
                }
                Message::TextLine(line) => {
                    let trimmed = line.trim();
                    if let Some(rest) = trimmed.strip_prefix("Running ") {
                        let path = rest
                            .rsplit_once('(')
                            .map(|(_, p)| p.trim_end_matches(')'))
                            .unwrap_or(rest);
                        let name = Path::new(path)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        current = by_executable.get(&name).copied().or(current);
                        current.inspect(|&p| started[p] += 1);
                    } else if let Some(lib) = trimmed.strip_prefix("Doc-tests ") {
                        current = by_lib.get(lib.trim()).copied().or(current);
                        current.inspect(|&p| started[p] += 1);
                    }
                    if let Some(p) = current {
                        count_test_results(&line, &mut results[p]);
                    }
                    if !shell.is_json() && !shell.quiet {
                        eprintln!("{line}");
                    }
                }
                _ => {}
            }
        }
        Ok(child.wait()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_added_up() {
        let mut c = TestCounts::default();
        count_test_results(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            &mut c,
        );
        count_test_results(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            &mut c,
        );
        count_test_results("running 5 tests", &mut c);
        assert_eq!(
            (c.passed, c.failed, c.ignored, c.test_binaries),
            (15, 2, 1, 2)
        );
    }
}
