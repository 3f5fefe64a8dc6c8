//! `cargo share bench`: build a set of programs static and shared in one run, and measure what
//! sharing buys (NOTES.md section 8 for the method).
//!
//! * **Builds.** Static: each program on its own, with its own lockfile and release profile and
//!   its own Cargo target directory, as `cargo install --locked` builds it. Shared: one
//!   `cargo share build` of the whole set per layout (per-crate, grouped). All from cold caches
//!   inside the bench directory, timed in CPU seconds of all child processes
//!   (`getrusage(RUSAGE_CHILDREN)`).
//! * **Disk.** Stripped copies (`strip --strip-all`; libraries first lose `.rustc`), each shared
//!   file once, libstd included. Break-even: the first k programs (in list order) for which the
//!   shared total is no larger than the static one. Ideal: the static total minus every repeated
//!   function (same symbol name and size) across the static binaries.
//! * **Memory.** All programs of a variant run at once, each held at exit by a tiny preloaded
//!   library whose ELF destructor raises SIGSTOP (so short-lived programs are measured at their
//!   fullest, static and shared alike); PSS and USS are summed from `/proc/PID/smaps_rollup`.
//!   The library's constructor takes the request out of the environment, so the processes a
//!   program starts (hyperfine's benchmarked command, a shell) run to their end.
//! * **Start-up.** `--version`, static and shared interleaved, many runs: median and spread.
//! * **Run time.** A real workload for programs that have one, over generated inputs
//!   ([`workload`]).
//! * **Update cost.** Every build again with a patched copy of one crate; the stripped files that
//!   change are what a fix ships.

pub mod html;
pub mod model;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cargo_metadata::Message;

use crate::elf;
use crate::graph;
use crate::program::{self, ProgramSource};
use crate::program_set::Unify;
use crate::shared_build::{self, BuildOptions, Layout, Toolchain};
use crate::shell::{human_bytes, Shell};
use model::*;
use workload::Workload;

/// What to bench and how.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The programs and the shared builds' options (unification of the per-crate build).
    pub build: BuildOptions,
    /// The shared layouts to build and measure, each against static and each other.
    pub layouts: Vec<Layout>,
    /// Where builds, stripped copies and the corpus go. Kept, so a later run can `--reuse`.
    pub work_dir: PathBuf,
    /// Start-up runs per program and variant.
    pub runs: usize,
    /// Reuse builds found in the work directory (build times are then not reported).
    pub reuse: bool,
    pub html: Option<PathBuf>,
    /// Measure the update cost of a fix to this crate (rebuilds every variant once more).
    pub update_crate: Option<String>,
}

/// One built variant, before measuring: where its binaries and libraries are.
struct BuiltVariant {
    figures: Variant,
    /// program -> stripped binary to run.
    binaries: BTreeMap<String, PathBuf>,
    /// program -> unstripped binaries (for the symbol tables).
    unstripped: BTreeMap<String, Vec<PathBuf>>,
    /// program -> the library files it loads (shared variants).
    needs: BTreeMap<String, Vec<String>>,
}

/// CPU seconds (user + system) of all waited-for child processes so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Run `f`, returning its result with the CPU and wall seconds its child processes took.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64, f64)> {
    let cpu = children_cpu_seconds();
    let wall = Instant::now();
    let value = f()?;
    Ok((
        value,
        children_cpu_seconds() - cpu,
        wall.elapsed().as_secs_f64(),
    ))
}

/// Build times of cold builds, kept in `WORK/build-times.json` per variant name, so that a
/// `--reuse` run still reports how long the builds it reuses took when they were made.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct BuildTimes {
    /// Variant name -> (CPU seconds, wall seconds).
    cold: BTreeMap<String, (f64, f64)>,
}

impl BuildTimes {
    fn file(work: &Path) -> PathBuf {
        work.join("build-times.json")
    }

    /// Record a cold build's times, or give a reused build the times recorded for it.
    fn settle(work: &Path, figures: &mut Variant, cold: bool, cpu: f64, wall: f64) -> Result<()> {
        let file = Self::file(work);
        let mut times: BuildTimes = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if cold {
            times.cold.insert(figures.name.clone(), (cpu, wall));
            std::fs::write(&file, serde_json::to_string_pretty(&times)?)?;
        }
        if let Some(&(cpu, wall)) = times.cold.get(&figures.name) {
            figures.build_cpu_seconds = Some(cpu);
            figures.build_wall_seconds = Some(wall);
        }
        Ok(())
    }
}

/// `strip --strip-all` a copy of `from` into `to` (libraries lose `.rustc` first).
fn stripped_copy(from: &Path, to: &Path, library: bool) -> Result<u64> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let data = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let data = if library {
        elf::without_rustc_metadata(&data).unwrap_or(data)
    } else {
        data
    };
    let tmp = to.with_extension("unstripped");
    std::fs::write(&tmp, data)?;
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(to)
        .arg(&tmp)
        .status()
        .context("running `strip` (install binutils)")?;
    std::fs::remove_file(&tmp)?;
    if !status.success() {
        bail!("strip failed on {}", from.display());
    }
    Ok(std::fs::metadata(to)?.len())
}

/// `cargo build --release` of one program as `cargo install` would build it (with `patches`,
/// not `--locked`: the patched crate changes the lock), returning its executables.
///
/// `package_manifest` is the program package's own `Cargo.toml` (in a workspace, a member's):
/// Cargo's artifacts are matched by it, since a copied package gets another package id.
fn static_cargo_build(
    manifest: &Path,
    package_manifest: &Path,
    pkg: &cargo_metadata::Package,
    target: &Path,
    patches: &[shared_build::CratePatch],
    shell: &Shell,
) -> Result<Vec<PathBuf>> {
    let mut cmd = program::cargo_command();
    cmd.args(["build", "--release", "--message-format"])
        .arg("json-render-diagnostics")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["-p", &format!("{}@{}", pkg.name, pkg.version)])
        // Keep symbol tables (the ideal is computed from them); disk figures are taken from
        // stripped copies anyway.
        .args(["--config", "profile.release.strip=false"])
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTC_WRAPPER")
        .stdout(Stdio::piped());
    if patches.is_empty() {
        cmd.arg("--locked");
    }
    for patch in patches {
        cmd.arg("--config").arg(format!(
            "patch.crates-io.{}.path=\"{}\"",
            patch.name,
            patch.path.display()
        ));
    }
    if shell.quiet {
        cmd.arg("-q");
    }
    let mut child = cmd.spawn().context("running cargo build")?;
    let mut exes = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    for m in Message::parse_stream(std::io::BufReader::new(stdout)) {
        if let Message::CompilerArtifact(a) = m? {
            if a.manifest_path.as_std_path() == package_manifest
                || a.manifest_path.canonicalize().ok() == package_manifest.canonicalize().ok()
            {
                exes.extend(a.executable.map(|e| e.into_std_path_buf()));
            }
        }
    }
    if !child.wait()?.success() {
        bail!("the static build of {} failed (see above)", pkg.name);
    }
    Ok(exes)
}

/// Update cost: the bytes shipped when `crate_name` gets a fix. A copy of each version the
/// programs lock gets one more public function (any change to a crate's source changes its
/// Rust identity, hence every dependent); then every variant is rebuilt with the copies patched
/// in, and each stripped output file that differs from (or did not exist in) the original build
/// counts as shipped. Static: each program with its own lock, in its own target directory; the
/// shared layouts: one `cargo share build` each.
fn update_cost(
    options: &BenchOptions,
    crate_name: &str,
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<UpdateCost> {
    let work = &options.work_dir;
    let cache = work.join("cache");
    let update = work.join("update");
    if update.exists() {
        std::fs::remove_dir_all(&update)?;
    }
    // The versions the programs lock, and patched copies of each.
    let mut programs = Vec::new();
    let mut copies: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in &options.build.programs {
        let manifest = source.manifest(&cache, shell)?;
        let md = graph::load_metadata(&manifest, true, &toolchain.host)?;
        let mut versions = Vec::new();
        for pkg in md.packages.iter().filter(|p| {
            p.name.as_str() == crate_name && p.source.as_ref().is_some_and(|s| s.is_crates_io())
        }) {
            versions.push(pkg.version.to_string());
            if copies.contains_key(&pkg.version.to_string()) {
                continue;
            }
            let from = pkg
                .manifest_path
                .parent()
                .context("a manifest without a directory")?;
            let to = update
                .join("src")
                .join(format!("{crate_name}-{}", pkg.version));
            program::copy_tree(from.as_std_path(), &to, &[".git", "target"])?;
            let lib = pkg
                .targets
                .iter()
                .find(|t| t.is_lib())
                .context("the updated crate has no library target")?;
            let rel = lib
                .src_path
                .strip_prefix(from)
                .context("library outside its package")?;
            let file = to.join(rel.as_std_path());
            let mut text = std::fs::read_to_string(&file)?;
            text.push_str("\n/// Added by cargo-share bench: the \"fix\" whose shipping cost is measured.\n#[doc(hidden)]\npub fn cargo_share_bench_update() -> u32 {\n    1\n}\n");
            std::fs::write(&file, text)?;
            copies.insert(pkg.version.to_string(), to);
        }
        for pkg in graph::program_packages(&md) {
            programs.push((manifest.clone(), pkg.clone(), versions.clone()));
        }
    }
    if copies.is_empty() {
        bail!("no program of the set uses `{crate_name}`: choose another with --update-crate");
    }
    shell.status(
        "Updating",
        format!(
            "{crate_name} {} (a patched copy) in every build",
            copies.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    );
    let mut cost = UpdateCost {
        crate_name: crate_name.to_string(),
        per_variant: Vec::new(),
    };
    // Static: each program that locks the crate, in a copy of its workspace (the patch rewrites
    // the lock), reusing its target directory.
    let (mut files, mut bytes) = (0usize, 0u64);
    for (manifest, pkg, versions) in &programs {
        let Some(version) = versions.first() else {
            continue;
        };
        let root = manifest
            .parent()
            .context("a manifest without a directory")?;
        let copy = update.join("static").join(pkg.name.as_str());
        program::copy_tree(root, &copy, &[".git", "target"])?;
        let patches = [shared_build::CratePatch {
            name: crate_name.to_string(),
            path: copies[version].clone(),
        }];
        shell.status(
            "Building",
            format!("{} v{} (static, updated)", pkg.name, pkg.version),
        );
        let member = pkg
            .manifest_path
            .as_std_path()
            .strip_prefix(root)
            .context("a program outside its workspace")?;
        let exes = static_cargo_build(
            &copy.join(manifest.file_name().unwrap_or_default()),
            &copy.join(member),
            pkg,
            &work.join("static-target").join(pkg.name.as_str()),
            &patches,
            shell,
        )?;
        for exe in exes {
            let name = exe.file_name().unwrap_or_default();
            let (changed, size) = shipped(
                &exe,
                &update.join("stripped/static/bin").join(name),
                &work.join("stripped/static/bin").join(name),
                false,
            )?;
            files += changed;
            bytes += size;
        }
    }
    cost.per_variant.push(("static".into(), files, bytes));
    // Shared layouts.
    for &layout in &options.layouts {
        let (mut build, name) = shared_options(options, layout);
        build.patches = copies
            .values()
            .map(|path| shared_build::CratePatch {
                name: crate_name.to_string(),
                path: path.clone(),
            })
            .collect();
        shell.status("Building", format!("the set ({name}, updated)"));
        let out = update.join(format!("shared-{layout}"));
        let report = shared_build::build(&build, &out, shell)?;
        let (mut files, mut bytes) = (0usize, 0u64);
        let before = work.join(format!("stripped/shared-{layout}"));
        let after = update.join(format!("stripped/shared-{layout}"));
        for file in report.libraries.keys() {
            let (c, b) = shipped(
                &out.join("lib").join(file),
                &after.join("lib").join(file),
                &before.join("lib").join(file),
                true,
            )?;
            files += c;
            bytes += b;
        }
        for p in &report.programs {
            for bin in &p.binaries {
                let name = bin.file_name().unwrap_or_default();
                let (c, b) = shipped(
                    bin,
                    &after.join("bin").join(name),
                    &before.join("bin").join(name),
                    false,
                )?;
                files += c;
                bytes += b;
            }
        }
        cost.per_variant.push((name, files, bytes));
    }
    Ok(cost)
}

/// Strip `built` into `stripped` and compare with the original build's stripped file: (1, size)
/// if it must be shipped, (0, 0) if byte-identical.
fn shipped(built: &Path, stripped: &Path, original: &Path, library: bool) -> Result<(usize, u64)> {
    let size = stripped_copy(built, stripped, library)?;
    let same = std::fs::read(original).ok() == Some(std::fs::read(stripped)?);
    Ok(if same { (0, 0) } else { (1, size) })
}

/// Static builds: each program with its own lockfile, profile and target directory.
fn build_static(
    options: &BenchOptions,
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<BuiltVariant> {
    let work = &options.work_dir;
    let cache = work.join("cache");
    std::fs::create_dir_all(&cache)?;
    let mut figures = Variant {
        name: "static".into(),
        ..Default::default()
    };
    let mut binaries = BTreeMap::new();
    let mut unstripped = BTreeMap::new();
    let mut cpu_total = 0.0;
    let mut wall_total = 0.0;
    let static_was_built = work.join("static-target").is_dir();
    for source in &options.build.programs {
        let manifest = source.manifest(&cache, shell)?;
        let md = graph::load_metadata(&manifest, true, &toolchain.host)?;
        for pkg in graph::program_packages(&md) {
            let name = pkg.name.to_string();
            let target = work.join("static-target").join(&name);
            shell.status("Building", format!("{name} v{} (static)", pkg.version));
            let (exes, cpu, wall) = timed(|| {
                static_cargo_build(
                    &manifest,
                    pkg.manifest_path.as_std_path(),
                    pkg,
                    &target,
                    &[],
                    shell,
                )
            })?;
            cpu_total += cpu;
            wall_total += wall;
            let Some(first) = exes.first() else {
                bail!("the static build of {name} produced no binary");
            };
            let mut bytes = 0;
            for exe in &exes {
                let dest = work
                    .join("stripped/static/bin")
                    .join(exe.file_name().unwrap_or_default());
                bytes += stripped_copy(exe, &dest, false)?;
            }
            let run = work
                .join("stripped/static/bin")
                .join(first.file_name().unwrap_or_default());
            figures.binaries_bytes += bytes;
            figures.programs.push(ProgramFigures {
                program: name.clone(),
                binary: first
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                binary_bytes: bytes,
                ..Default::default()
            });
            binaries.insert(name.clone(), run);
            unstripped.insert(name, exes);
        }
    }
    let cold = !options.reuse || !static_was_built;
    BuildTimes::settle(&options.work_dir, &mut figures, cold, cpu_total, wall_total)?;
    Ok(BuiltVariant {
        figures,
        binaries,
        unstripped,
        needs: BTreeMap::new(),
    })
}

/// The options of the shared build in one layout (into the bench's cache), and its variant name.
fn shared_options(options: &BenchOptions, layout: Layout) -> (BuildOptions, String) {
    let mut build = options.build.clone();
    build.cache_dir = Some(options.work_dir.join("cache"));
    build.staging = true;
    build.layout = layout;
    if layout == Layout::Grouped {
        // Groups need one build of each crate (prepare says so for any other policy).
        build.unify.policy = Unify::Features;
    }
    let name = format!("shared {} (unify {})", build.layout, build.unify.policy);
    (build, name)
}

/// The shared build of the whole set in one layout, then stripped copies of `bin/` and `lib/`.
fn build_shared(options: &BenchOptions, layout: Layout, shell: &Shell) -> Result<BuiltVariant> {
    let work = &options.work_dir;
    let out = work.join(format!("shared-{layout}"));
    let (build, name) = shared_options(options, layout);
    shell.status("Building", format!("the set ({name})"));
    let was_built = shared_build::target_dir_of(&work.join("cache"), layout).is_dir();
    let (report, cpu, wall) = timed(|| shared_build::build(&build, &out, shell))?;
    let mut figures = Variant {
        name,
        shared: true,
        ..Default::default()
    };
    BuildTimes::settle(
        &options.work_dir,
        &mut figures,
        !options.reuse || !was_built,
        cpu,
        wall,
    )?;
    let stripped = work.join(format!("stripped/shared-{layout}"));
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &report.programs {
        for lib in &p.libraries {
            *users.entry(lib).or_default() += 1;
        }
    }
    for file in report.libraries.keys() {
        let bytes = stripped_copy(
            &out.join("lib").join(file),
            &stripped.join("lib").join(file),
            true,
        )?;
        figures.libraries_bytes += bytes;
        figures.libraries.push(LibraryFigures {
            file: file.clone(),
            bytes,
            users: users.get(file.as_str()).copied().unwrap_or(0),
        });
    }
    figures
        .libraries
        .sort_by_key(|l| std::cmp::Reverse(l.bytes));
    let mut binaries = BTreeMap::new();
    let mut unstripped = BTreeMap::new();
    for p in &report.programs {
        let mut bytes = 0;
        for b in &p.binaries {
            bytes += stripped_copy(
                b,
                &stripped.join("bin").join(b.file_name().unwrap_or_default()),
                false,
            )?;
        }
        let first = p.binaries.first().context("a program without binaries")?;
        let run = stripped
            .join("bin")
            .join(first.file_name().unwrap_or_default());
        figures.binaries_bytes += bytes;
        figures.programs.push(ProgramFigures {
            program: p.name.clone(),
            binary: first
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            binary_bytes: bytes,
            libraries: p.libraries.len(),
            ..Default::default()
        });
        binaries.insert(p.name.clone(), run);
        unstripped.insert(p.name.clone(), p.binaries.clone());
    }
    let needs = report
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.libraries.clone()))
        .collect();
    Ok(BuiltVariant {
        figures,
        binaries,
        unstripped,
        needs,
    })
}

/// The first k (in list order) for which shared binaries plus the union of their libraries is
/// no larger than the static binaries.
fn break_even(
    order: &[String],
    static_bytes: &BTreeMap<String, u64>,
    shared_bytes: &BTreeMap<String, u64>,
    needs: &BTreeMap<String, Vec<String>>,
    library_bytes: &BTreeMap<String, u64>,
) -> Option<usize> {
    let mut libs = BTreeSet::new();
    let (mut st, mut sh) = (0u64, 0u64);
    for (k, program) in order.iter().enumerate() {
        st += static_bytes.get(program).copied().unwrap_or(0);
        sh += shared_bytes.get(program).copied().unwrap_or(0);
        for lib in needs.get(program).into_iter().flatten() {
            if libs.insert(lib.clone()) {
                sh += library_bytes.get(lib).copied().unwrap_or(0);
            }
        }
        if sh <= st {
            return Some(k + 1);
        }
    }
    None
}

/// Static total minus every repeated function (same name and size) across the binaries.
fn ideal_bytes(static_total: u64, binaries: &[PathBuf]) -> Result<Option<u64>> {
    use object::{Object, ObjectSymbol, SymbolKind};
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for b in binaries {
        let data = std::fs::read(b)?;
        let file = object::File::parse(&*data)?;
        if file.symbols().next().is_none() {
            return Ok(None);
        }
        let mut here = BTreeSet::new();
        for sym in file.symbols() {
            if sym.kind() == SymbolKind::Text && sym.size() > 0 {
                if let Ok(name) = sym.name() {
                    here.insert((name.to_string(), sym.size()));
                }
            }
        }
        for key in here {
            *seen.entry(key).or_default() += 1;
        }
    }
    let repeated: u64 = seen
        .iter()
        .map(|((_, size), n)| size * (*n as u64 - 1))
        .sum();
    Ok(Some(static_total.saturating_sub(repeated)))
}

fn distribution(mut samples: Vec<f64>) -> Distribution {
    let order = samples.clone();
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Distribution {
        median_us: at(0.5),
        p10_us: at(0.1),
        p90_us: at(0.9),
        samples_us: order,
    }
}

/// Time `args` on every variant's binary of `program`, variants interleaved (and their order
/// alternating) run after run.
fn interleaved(
    variants: &[BuiltVariant],
    program: &str,
    workload: &Workload,
    runs: usize,
) -> Result<Vec<Option<Distribution>>> {
    let mut samples = vec![Vec::new(); variants.len()];
    for run in 0..runs {
        for i in 0..variants.len() {
            let v = if run % 2 == 0 {
                i
            } else {
                variants.len() - 1 - i
            };
            let Some(bin) = variants[v].binaries.get(program) else {
                continue;
            };
            samples[v].push(workload.run_once(bin)?.as_secs_f64() * 1e6);
        }
    }
    Ok(samples
        .into_iter()
        .map(|s| (!s.is_empty()).then(|| distribution(s)))
        .collect())
}

const STOP_ENV: &str = "CARGO_SHARE_STOP_AT_EXIT";

/// The preloaded library that stops a process at exit (see the module docs).
fn stop_at_exit_library(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let src = dir.join("stop_at_exit.c");
    let lib = dir.join("libstop_at_exit.so");
    std::fs::write(
        &src,
        format!(
            "#include <signal.h>\n#include <stdlib.h>\n\
             static int cargo_share_stop;\n\
             __attribute__((constructor)) static void cargo_share_arm(void) {{\n\
             \x20   cargo_share_stop = getenv(\"{STOP_ENV}\") != NULL;\n\
             \x20   unsetenv(\"{STOP_ENV}\");\n}}\n\
             __attribute__((destructor)) static void cargo_share_stop_at_exit(void) {{\n\
             \x20   if (cargo_share_stop) raise(SIGSTOP);\n}}\n"
        ),
    )?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .with_context(|| format!("running the C compiler `{cc}` for the memory harness"))?;
    if !status.success() {
        bail!("compiling the memory harness failed");
    }
    Ok(lib)
}

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// PSS and USS of a live process, bytes.
fn pss_uss(pid: u32) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok((
        field("Pss:"),
        field("Private_Clean:") + field("Private_Dirty:"),
    ))
}

/// Run every program of a variant at once, each stopped at exit; measure; kill.
fn measure_memory(
    variant: &mut BuiltVariant,
    preload: &Path,
    workloads: &BTreeMap<String, Workload>,
    missing: &mut Vec<String>,
) -> Result<()> {
    let mut children = Vec::new();
    for (program, bin) in &variant.binaries {
        let workload = workloads
            .get(program)
            .cloned()
            .unwrap_or_else(workload::version);
        let child = workload
            .command(bin)
            .env("LD_PRELOAD", preload)
            .env(STOP_ENV, "1")
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        children.push((program.clone(), child));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pss_total = 0;
    let mut uss_total = 0;
    let mut all = true;
    for (program, child) in &mut children {
        let pid = child.id();
        let stopped = loop {
            match process_state(pid) {
                Some('T') | Some('t') => break true,
                Some('Z') | None => break false,
                _ if Instant::now() > deadline => break false,
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let fig = variant
            .figures
            .program_mut(program)
            .expect("figures for every program");
        if stopped {
            let (pss, uss) = pss_uss(pid)?;
            fig.pss_bytes = Some(pss);
            fig.uss_bytes = Some(uss);
            pss_total += pss;
            uss_total += uss;
        } else {
            all = false;
            missing.push(format!(
                "memory of {program} ({}): it did not reach exit with the harness within 60 s, or exited without running ELF destructors",
                variant.figures.name
            ));
        }
    }
    for (_, child) in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    if all || pss_total > 0 {
        variant.figures.pss_total_bytes = Some(pss_total);
        variant.figures.uss_total_bytes = Some(uss_total);
    }
    Ok(())
}

/// Today's UTC date as `YYYY-MM-DD` (civil-from-days).
fn utc_date() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn machine(toolchain: &Toolchain) -> Machine {
    let uname = Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    Machine {
        date: utc_date(),
        system: uname,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        rustc: toolchain
            .version_text
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        cargo_share: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// `cargo share bench`.
pub fn bench(options: &BenchOptions, shell: &Shell) -> Result<BenchReport> {
    std::fs::create_dir_all(&options.work_dir)
        .with_context(|| format!("creating {}", options.work_dir.display()))?;
    // Cold builds unless told to reuse: build outputs of an earlier run are removed (fetched
    // sources and the corpus stay).
    let mut outputs = vec!["static-target".to_string(), "stripped".to_string()];
    outputs.extend(options.layouts.iter().map(|l| format!("shared-{l}")));
    for dir in outputs {
        let d = options.work_dir.join(dir);
        if !options.reuse && d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    if !options.reuse {
        if let Ok(entries) = std::fs::read_dir(options.work_dir.join("cache")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("target-") {
                    std::fs::remove_dir_all(e.path())?;
                }
            }
        }
    }
    let toolchain = Toolchain::detect()?;
    let mut report = BenchReport {
        reason: "bench-finished".into(),
        machine: machine(&toolchain),
        programs: options
            .build
            .programs
            .iter()
            .map(|p| match p {
                ProgramSource::Path(p) => p.display().to_string(),
                ProgramSource::Registry(s) => s.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    let mut variants = vec![build_static(options, &toolchain, shell)?];
    for &layout in &options.layouts {
        variants.push(build_shared(options, layout, shell)?);
    }
    let order: Vec<String> = variants[0]
        .figures
        .programs
        .iter()
        .map(|p| p.program.clone())
        .collect();

    // Disk: break-even and ideal.
    let sizes = |v: &BuiltVariant| -> BTreeMap<String, u64> {
        v.figures
            .programs
            .iter()
            .map(|p| (p.program.clone(), p.binary_bytes))
            .collect()
    };
    let static_sizes = sizes(&variants[0]);
    for v in variants.iter_mut().skip(1) {
        let lib_sizes: BTreeMap<String, u64> = v
            .figures
            .libraries
            .iter()
            .map(|l| (l.file.clone(), l.bytes))
            .collect();
        v.figures.break_even_programs =
            break_even(&order, &static_sizes, &sizes(v), &v.needs, &lib_sizes);
    }
    let static_unstripped: Vec<PathBuf> =
        variants[0].unstripped.values().flatten().cloned().collect();
    report.ideal_bytes = ideal_bytes(variants[0].figures.binaries_bytes, &static_unstripped)?;
    if report.ideal_bytes.is_none() {
        report
            .missing
            .push("ideal: a static binary has no symbol table".into());
    }

    // Workloads.
    shell.status("Preparing", "workload inputs");
    let binary_names: BTreeMap<String, String> = variants[0]
        .figures
        .programs
        .iter()
        .map(|p| (p.program.clone(), p.binary.clone()))
        .collect();
    let static_binary = |program: &str| variants[0].binaries.get(program).cloned();
    let workloads = workload::prepare(&options.work_dir, &binary_names, &static_binary)?;

    // Memory.
    shell.status("Measuring", "memory (all programs at once, held at exit)");
    match stop_at_exit_library(&options.work_dir.join("harness")) {
        Ok(preload) => {
            for v in &mut variants {
                measure_memory(v, &preload, &workloads, &mut report.missing)?;
            }
        }
        Err(e) => report.missing.push(format!("memory: {e:#}")),
    }

    // Start-up and run time.
    shell.status(
        "Measuring",
        format!("start-up ({} runs per program and build)", options.runs),
    );
    for program in &order {
        let d = interleaved(&variants, program, &workload::version(), options.runs)?;
        for (v, d) in variants.iter_mut().zip(d) {
            if let Some(f) = v.figures.program_mut(program) {
                f.startup = d;
            }
        }
        match workloads.get(program) {
            Some(workload) => {
                shell.status("Measuring", format!("{program} {}", workload.describe()));
                let runs = (options.runs / 3).max(5);
                let d = interleaved(&variants, program, workload, runs)?;
                for (v, d) in variants.iter_mut().zip(d) {
                    if let Some(f) = v.figures.program_mut(program) {
                        f.runtime = d;
                        f.workload = Some(workload.describe());
                    }
                }
            }
            None => report
                .missing
                .push(format!("run time of {program}: no workload defined for it")),
        }
    }
    report.variants = variants.into_iter().map(|v| v.figures).collect();
    if report
        .variants
        .iter()
        .any(|v| v.build_cpu_seconds.is_none())
    {
        report
            .missing
            .push("build time of reused builds (--reuse) that were never built cold in this work directory".into());
    }
    if let Some(crate_name) = &options.update_crate {
        match update_cost(options, crate_name, &toolchain, shell) {
            Ok(cost) => report.update = Some(cost),
            Err(e) => report.missing.push(format!("update cost: {e:#}")),
        }
    } else {
        report
            .missing
            .push("update cost: not asked for (--update-crate NAME)".into());
    }
    print_table(&report, shell);
    shell.json(&report);
    if let Some(path) = &options.html {
        std::fs::write(path, html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        shell.status("Wrote", format!("the report to {}", path.display()));
    }
    Ok(report)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "n/a".into(),
    }
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// The terminal table: per program and totals, each shared variant against static.
pub fn print_table(report: &BenchReport, shell: &Shell) {
    let Some(st) = report.variants.iter().find(|v| !v.shared) else {
        return;
    };
    let m = &report.machine;
    shell.result(format!(
        "\ncargo share bench, {}, {}, {} CPUs, {:.0} GiB, {}",
        m.date,
        m.system,
        m.cpus,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        m.rustc
    ));
    for v in report.variants.iter().filter(|v| v.shared) {
        shell.result(format!("\n{} against static", v.name));
        shell.result(format!(
            "{:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>12} {:>12} {:>8} {:>8}",
            "program",
            "bin st",
            "bin sh",
            "libs",
            "PSS st",
            "PSS sh",
            "start st",
            "start sh",
            "start",
            "run"
        ));
        for p in &v.programs {
            let s = st.programs.iter().find(|q| q.program == p.program);
            let us = |d: Option<&Distribution>| {
                d.map_or("n/a".into(), |d| format!("{:.0}us", d.median_us))
            };
            let pss = |x: Option<u64>| x.map_or("n/a".into(), human_bytes);
            shell.result(format!(
                "{:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>12} {:>12} {:>8} {:>8}",
                p.program,
                s.map_or("n/a".into(), |s| human_bytes(s.binary_bytes)),
                human_bytes(p.binary_bytes),
                p.libraries,
                pss(s.and_then(|s| s.pss_bytes)),
                pss(p.pss_bytes),
                us(s.and_then(|s| s.startup.as_ref())),
                us(p.startup.as_ref()),
                ratio(
                    p.startup.as_ref().map(|d| d.median_us),
                    s.and_then(|s| s.startup.as_ref()).map(|d| d.median_us)
                ),
                ratio(
                    p.runtime.as_ref().map(|d| d.median_us),
                    s.and_then(|s| s.runtime.as_ref()).map(|d| d.median_us)
                ),
            ));
        }
        let f = |x: u64| Some(x as f64);
        shell.result(format!(
            "disk: static {} | shared {} (binaries {} + {} libraries {}) = {} | ideal {} = {} | break-even: {}",
            human_bytes(st.disk_total()),
            human_bytes(v.disk_total()),
            human_bytes(v.binaries_bytes),
            v.libraries.len(),
            human_bytes(v.libraries_bytes),
            ratio(f(v.disk_total()), f(st.disk_total())),
            report.ideal_bytes.map_or("n/a".into(), human_bytes),
            ratio(report.ideal_bytes.map(|x| x as f64), f(st.disk_total())),
            v.break_even_programs.map_or(
                format!("not within these {} programs", v.programs.len()),
                |k| format!("from {k} programs")
            ),
        ));
        shell.result(format!(
            "memory, all at once: PSS static {} | shared {} = {} ; USS {} | {} = {}",
            st.pss_total_bytes.map_or("n/a".into(), human_bytes),
            v.pss_total_bytes.map_or("n/a".into(), human_bytes),
            ratio(
                v.pss_total_bytes.map(|x| x as f64),
                st.pss_total_bytes.map(|x| x as f64)
            ),
            st.uss_total_bytes.map_or("n/a".into(), human_bytes),
            v.uss_total_bytes.map_or("n/a".into(), human_bytes),
            ratio(
                v.uss_total_bytes.map(|x| x as f64),
                st.uss_total_bytes.map(|x| x as f64)
            ),
        ));
        let startup = |v: &Variant| {
            median(
                v.programs
                    .iter()
                    .filter_map(|p| p.startup.as_ref().map(|d| d.median_us)),
            )
        };
        let runtime = |v: &Variant| {
            median(
                v.programs
                    .iter()
                    .filter_map(|p| p.runtime.as_ref().map(|d| d.median_us)),
            )
        };
        shell.result(format!(
            "start-up, median of medians: {} | run time: {} | build CPU: static {} | shared {} = {}",
            ratio(startup(v), startup(st)),
            ratio(runtime(v), runtime(st)),
            st.build_cpu_seconds.map_or("n/a".into(), |s| format!("{s:.0}s")),
            v.build_cpu_seconds.map_or("n/a".into(), |s| format!("{s:.0}s")),
            ratio(v.build_cpu_seconds, st.build_cpu_seconds),
        ));
    }
    if let Some(update) = &report.update {
        shell.result(format!(
            "\nupdate cost: a fix to {} ships (stripped files that changed)",
            update.crate_name
        ));
        let base = update
            .per_variant
            .iter()
            .find(|(n, _, _)| n == "static")
            .map(|(_, _, b)| *b as f64);
        for (name, files, bytes) in &update.per_variant {
            shell.result(format!(
                "{name:<32} {files:>4} files {:>10} {}",
                human_bytes(*bytes),
                ratio(Some(*bytes as f64), base)
            ));
        }
    }
    for m in &report.missing {
        shell.result(format!("not measured: {m}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_even_counts_libraries_once() {
        let order = vec!["a".to_string(), "b".into(), "c".into()];
        let sizes = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let st = sizes(&[("a", 100), ("b", 100), ("c", 100)]);
        let sh = sizes(&[("a", 10), ("b", 10), ("c", 10)]);
        let needs: BTreeMap<String, Vec<String>> = ["a", "b", "c"]
            .into_iter()
            .map(|k| (k.to_string(), vec!["libx.so".to_string()]))
            .collect();
        let libs = sizes(&[("libx.so", 150)]);
        // 1: 160 > 100; 2: 170 <= 200.
        assert_eq!(break_even(&order, &st, &sh, &needs, &libs), Some(2));
        let big = sizes(&[("libx.so", 1000)]);
        assert_eq!(break_even(&order, &st, &sh, &needs, &big), None);
    }

    #[test]
    fn distributions_and_dates() {
        let d = distribution((1..=11).map(f64::from).collect());
        assert_eq!((d.median_us, d.p10_us, d.p90_us), (6.0, 2.0, 10.0));
        let date = utc_date();
        assert_eq!(date.len(), 10);
        assert!(date.starts_with("20"), "{date}");
    }
}
