//! The static variant of a bench: each program built alone, with its own lockfile, profile and
//! target directory, as `cargo install --locked` builds it; build times in CPU seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cargo_metadata::Message;

use crate::measure::bench::disk::stripped_copy;
use crate::measure::bench::model::*;
use crate::measure::bench::options::{BenchOptions, BuiltVariant};
use cargo_share_compile::toolchain::Toolchain;
use cargo_share_core::build::{self};
use cargo_share_core::resolve::graph;
use cargo_share_core::shell::Shell;
use cargo_share_core::source::{self};

/// CPU seconds (user + system) of all waited-for child processes so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Run `f`, returning its result with the CPU and wall seconds its child processes took.
pub(crate) fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64, f64)> {
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
pub(crate) struct BuildTimes {
    /// Variant name -> (CPU seconds, wall seconds).
    cold: BTreeMap<String, (f64, f64)>,
}

impl BuildTimes {
    fn file(work: &Path) -> PathBuf {
        work.join("build-times.json")
    }

    /// Record a cold build's times, or give a reused build the times recorded for it.
    pub(crate) fn settle(
        work: &Path,
        figures: &mut Variant,
        cold: bool,
        cpu: f64,
        wall: f64,
    ) -> Result<()> {
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

/// `cargo build --release` of one program as `cargo install` would build it (with `patches`,
/// not `--locked`: the patched crate changes the lock), returning its executables.
///
/// `package_manifest` is the program package's own `Cargo.toml` (in a workspace, a member's):
/// Cargo's artifacts are matched by it, since a copied package gets another package id.
pub(crate) fn static_cargo_build(
    manifest: &Path,
    package_manifest: &Path,
    pkg: &cargo_metadata::Package,
    target: &Path,
    patches: &[build::CratePatch],
    features: &[String],
    shell: &Shell,
) -> Result<Vec<PathBuf>> {
    let mut cmd = source::cargo_command();
    cmd.args(["build", "--release", "--message-format"])
        .arg("json-render-diagnostics")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["-p", &format!("{}@{}", pkg.name, pkg.version)])
        .args(features)
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

/// Static builds: each program with its own lockfile, profile and target directory.
pub(crate) fn build_static(
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
    let mut sources = Vec::new();
    for source in &options.build.programs {
        let manifest = source.manifest(&cache, shell)?;
        let md = graph::load_metadata(&manifest, true, &toolchain.host, &[])?;
        sources.push((manifest, md));
    }
    let names: Vec<String> = sources
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| p.name.to_string())
        .collect();
    let features = options.build.features.bind(&names)?;
    for (manifest, md) in &sources {
        let manifest = manifest.clone();
        for pkg in graph::program_packages(md) {
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
                    &features.cargo_args(&[pkg.name.as_str()]),
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
