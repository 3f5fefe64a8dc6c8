//! The rustc wrapper: Cargo runs `cargo-share` as `RUSTC_WRAPPER`, and every compiler invocation
//! passes through [`run`], which rewrites the arguments of *target* units and leaves everything else
//! alone.
//!
//! Why a wrapper and not a patched Cargo: Cargo stays the driver (resolution, features, build
//! scripts, pipelining, fingerprints); the wrapper changes only what rustc produces for a unit:
//!
//! * a shared library crate becomes `--crate-type dylib --crate-type rlib` with `-C prefer-dynamic`
//!   and a run path of `$ORIGIN`;
//! * an executable (bin or test harness) gets `-C prefer-dynamic` and a run path of `$ORIGIN/../lib`;
//! * every target unit gets `-C symbol-mangling-version=v0` (so that `RUSTC_BOOTSTRAP`, needed for
//!   no_std dylibs, cannot change the ABI) and path remapping (so outputs are reproducible);
//! * `--extern` paths to `.rmeta`/`.rlib` files of crates that exist as a dylib are pointed at the
//!   `.so`, and the early "metadata ready" notification of a dylib unit is held back, because a
//!   dependent that links against a dylib needs the finished `.so`, not just metadata
//!   (book: docs/src/concepts/how-it-works.md, "Cargo pipelining").
//!
//! Host units (build scripts, proc-macros and their dependencies, which Cargo compiles without
//! `--target`), Cargo's own probes, and anything the wrapper does not recognise run unchanged.
//!
//! Where the user has a rustc wrapper of their own (sccache), the compiles it can cache run
//! through it, with the same arguments (`user_wrapper`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::allocator;
use crate::linker;
use crate::panic_abort;
use crate::plan::{WrapperPlan, GROUP_CRATE_PREFIX};
use crate::program_objects;
use crate::rustc_args::{declares_no_std, RustcArgs, UnitKind};
use crate::saved_link;
use crate::stable_id;
use crate::unit_record::UnitRecord;
use crate::user_wrapper;

/// One line of the optional unit log (see [`WrapperPlan::unit_log`]).
#[derive(Debug, Serialize)]
struct UnitLogLine<'a> {
    crate_name: &'a str,
    package_dir: String,
    kind: UnitKind,
    no_std: bool,
    exported_native_symbols: usize,
}

/// Point `--extern name=path.rmeta|rlib` at a sibling `.so` when the dependency was built as a dylib.
fn rewrite_extern(value: &str) -> String {
    let Some((name, path)) = value.split_once('=') else {
        return value.to_string();
    };
    let p = Path::new(path);
    match p.extension().and_then(|e| e.to_str()) {
        Some("rmeta" | "rlib") => {
            let so = p.with_extension("so");
            if so.is_file() {
                format!("{name}={}", so.display())
            } else {
                value.to_string()
            }
        }
        _ => value.to_string(),
    }
}

/// Grouped layout: turn `--extern cargo_share_group_N=PATH` into `--extern force:...`, so that
/// an executable loads the groups it depends on. Returns whether there was any.
fn force_group_externs(args: &mut [String]) -> bool {
    let mut forced = false;
    for i in 1..args.len() {
        if args[i - 1] == "--extern" && args[i].starts_with(GROUP_CRATE_PREFIX) {
            args[i] = format!("force:{}", args[i]);
            forced = true;
        }
    }
    forced
}

/// Nothing in a program's (or plugin's) code names its groups, so rustc would not load them:
/// `force:` does (book: docs/src/concepts/how-it-works.md,
/// "Layouts compared"). It needs -Z, hence RUSTC_BOOTSTRAP, scoped to this one
/// invocation (symbol mangling is pinned to v0).
fn force_groups(args: &mut Vec<String>, out: &mut Rewritten) {
    if force_group_externs(args) {
        args.extend(["-Z".into(), "unstable-options".into()]);
        out.env.push(("RUSTC_BOOTSTRAP".into(), "1".into()));
    }
}

/// The rewritten command line and environment for one unit.
#[derive(Debug, Default)]
pub(crate) struct Rewritten {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) kind: Option<UnitKind>,
    pub(crate) no_std: bool,
    pub(crate) exported_native_symbols: usize,
    /// The unit's stable crate id (`stable_id`), which replaced Cargo's `-C metadata`.
    pub(crate) stable_id: Option<String>,
}

/// Whether a unit's lints are capped: a crate of a program from crates.io (Cargo's primary
/// package; a registry dependency is capped by Cargo already) that sets no cap itself.
fn caps_lints(plan: &WrapperPlan, primary: bool, package: &str, args: &[String]) -> bool {
    primary
        && plan.quiet_packages.contains(package)
        && !args.iter().any(|a| a.starts_with("--cap-lints"))
}

/// [`caps_lints`] for the unit Cargo is running us for (its package from Cargo's environment).
fn caps_lints_here(plan: &WrapperPlan, args: &[String]) -> bool {
    caps_lints(
        plan,
        std::env::var_os("CARGO_PRIMARY_PACKAGE").is_some(),
        &std::env::var("CARGO_PKG_NAME").unwrap_or_default(),
        args,
    )
}

/// Where a unit runs and what it is, as Cargo tells the wrapper (its environment).
struct UnitPlace<'a> {
    cwd: Option<PathBuf>,
    manifest_dir: Option<&'a Path>,
    package: String,
    version: String,
    out_dir: Option<PathBuf>,
}

/// The name a package's directory has in what rustc writes: `NAME-RANGE`, the version cut to
/// its semver-compatible part (`compile::stable_id::compatible_range`), so that a patch release
/// or a patched copy of a crate leaves the paths of its files as they were, as the stable id
/// leaves its symbol names; under `CARGO_HOME` (registry sources) in its place there
/// (`/cargo/registry/src/INDEX/NAME-RANGE`), anywhere else `/src/NAME-RANGE`.
fn remapped_package_dir(plan: &WrapperPlan, dir: &Path, package: &str, version: &str) -> String {
    let name = format!(
        "{package}-{}",
        crate::semver_range::compatible_range(version)
    );
    let Ok(rest) = dir.strip_prefix(&plan.cargo_home) else {
        return format!("/src/{name}");
    };
    let cargo = Path::new("/cargo");
    let versioned = format!("{package}-{version}");
    match (rest.parent(), rest.file_name()) {
        (Some(parent), Some(file)) if file == versioned.as_str() => {
            cargo.join(parent).join(name).display().to_string()
        }
        // A git checkout's directory carries no version.
        _ => cargo.join(rest).display().to_string(),
    }
}

/// Reproducible output: the places that differ between machines and directories, each with the
/// name rustc writes instead (`--remap-path-prefix`). When several prefixes match, rustc applies
/// the last one given: most specific last.
fn path_remaps(plan: &WrapperPlan, unit: &UnitPlace) -> Vec<(PathBuf, String)> {
    let mut remaps = vec![(plan.cargo_home.clone(), "/cargo".to_string())];
    // rustc records its working directory (the workspace root, for members) in crate metadata.
    if let Some(cwd) = &unit.cwd {
        if !cwd.starts_with(&plan.cargo_home) {
            remaps.push((cwd.clone(), "/src".to_string()));
        }
    }
    if let Some(dir) = unit.manifest_dir {
        // A patched copy (`--patch`) is named as the crates.io package it replaces: a body-only
        // fix then leaves the panic locations and `file!()`s that the crate's generic and
        // inlined code puts into its users (the programs) as they were.
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if let Some(original) = plan.patched_sources.get(&canonical) {
            let to = remapped_package_dir(plan, original, &unit.package, &unit.version);
            // A copy inside the workspace: Cargo names its files relative to the root.
            if let Some(rel) = unit.cwd.as_ref().and_then(|c| dir.strip_prefix(c).ok()) {
                if !rel.as_os_str().is_empty() {
                    remaps.push((rel.to_path_buf(), to.clone()));
                }
            }
            remaps.push((dir.to_path_buf(), to));
        } else {
            let to = remapped_package_dir(plan, dir, &unit.package, &unit.version);
            remaps.push((dir.to_path_buf(), to));
        }
    }
    remaps.push((plan.target_dir.clone(), "/target".to_string()));
    // A build script's output directory is named by Cargo's hash of the build script's unit,
    // which changes with any of its build dependencies (a patched crate a build-time tool uses)
    // though the files it writes do not: `include!`d code would carry the new name in its
    // panic locations and `file!()`s, and the program change bytes for nothing.
    if let Some(out_dir) = &unit.out_dir {
        let range = crate::semver_range::compatible_range(&unit.version);
        let to = format!("/target/out/{}-{range}", unit.package);
        remaps.push((out_dir.clone(), to));
    }
    remaps
}

/// Rewrite the rustc arguments of one unit. Pure apart from reading the crate root (no_std) and
/// the static archives a `-sys` crate bundles.
pub(crate) fn rewrite(
    rustc: &RustcArgs,
    plan: &WrapperPlan,
    manifest_dir: Option<&Path>,
) -> Result<Rewritten> {
    let kind = rustc.classify(plan, manifest_dir);
    let mut out = Rewritten {
        kind: Some(kind),
        ..Default::default()
    };
    if matches!(kind, UnitKind::Passthrough | UnitKind::Host) {
        out.args = rustc.args.clone();
        // A program's build script is its own crate too (zoxide's includes its clap
        // definitions, and warns about their deprecated attributes).
        if kind == UnitKind::Host && caps_lints_here(plan, &out.args) {
            out.args.extend(["--cap-lints".into(), "allow".into()]);
        }
        if kind == UnitKind::Host {
            set_optimisation(&mut out.args, HOST_OPT_LEVEL, HOST_CODEGEN_UNITS);
        }
        return Ok(out);
    }

    // Copy the arguments, rewriting externs (and crate types for shared libs).
    let mut args = Vec::with_capacity(rustc.args.len() + 16);
    let mut iter = rustc.args.iter();
    let mut kept_types = Vec::new();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--extern" => {
                args.push(arg.clone());
                if let Some(v) = iter.next() {
                    // Grouped: the only dylibs are facades, which Cargo already passes as
                    // `.so`; a sibling `.so` of an rlib is a declared `cdylib`, not Rust.
                    args.push(if plan.grouped {
                        v.clone()
                    } else {
                        rewrite_extern(v)
                    });
                }
            }
            "--crate-type" if kind == UnitKind::SharedLib => {
                // Replaced by dylib+rlib below. A `cdylib` or `staticlib` the manifest declares
                // is dropped: as a dependency nobody links it, and a cdylib's output file would
                // collide with the dylib's (`lib<name>.so`).
                if let Some(t) = iter.next() {
                    if !matches!(
                        t.as_str(),
                        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib"
                    ) {
                        kept_types.push(t.clone());
                    }
                }
            }
            _ => args.push(arg.clone()),
        }
    }

    // A program from crates.io: its own crates' warnings are capped, as `cargo install` does
    // for registry packages (a set copies it into a workspace as a path member, which Cargo
    // would not cap).
    if caps_lints_here(plan, &args) {
        args.extend(["--cap-lints".into(), "allow".into()]);
    }

    let unit = UnitPlace {
        cwd: std::env::current_dir().ok(),
        manifest_dir,
        package: std::env::var("CARGO_PKG_NAME").unwrap_or_default(),
        version: std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        out_dir: std::env::var_os("OUT_DIR").map(PathBuf::from),
    };
    for (from, to) in path_remaps(plan, &unit) {
        args.push(format!("--remap-path-prefix={}={to}", from.display()));
    }
    args.push("-Csymbol-mangling-version=v0".into());
    args.extend(plan.binding_args());
    // Symbol names that survive a patch release of this crate or of anything below it.
    let stable = stable_id::stable_metadata(
        rustc,
        &std::env::var("CARGO_PKG_NAME").unwrap_or_default(),
        &std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
    );
    if stable_id::replace_metadata(&mut args, &stable) {
        out.stable_id = Some(stable);
    }

    match kind {
        UnitKind::SharedLib => shared_lib_args(rustc, plan, kept_types, &mut args, &mut out)?,
        UnitKind::Executable => executable_args(rustc, plan, &mut args, &mut out),
        UnitKind::Plugin => {
            // As the declared crate type, but with libstd and the program's groups linked
            // dynamically (a dylib without prefer-dynamic carries its own std).
            args.push("-Cprefer-dynamic".into());
            args.push("-Clink-arg=-Wl,-rpath,$ORIGIN".into());
            force_groups(&mut args, &mut out);
        }
        _ => {}
    }
    out.args = args;
    Ok(out)
}

/// What a shared library unit gets: `dylib` and `rlib` (with the crate types `kept_types` it
/// declared besides), libstd linked dynamically, its run path, `force:std` for a `no_std`
/// crate, the C symbols it must export, and the link through cargo-share.
fn shared_lib_args(
    rustc: &RustcArgs,
    plan: &WrapperPlan,
    kept_types: Vec<String>,
    args: &mut Vec<String>,
    out: &mut Rewritten,
) -> Result<()> {
    for t in ["dylib", "rlib"]
        .into_iter()
        .map(String::from)
        .chain(kept_types)
    {
        args.push("--crate-type".into());
        args.push(t);
    }
    args.push("-Cprefer-dynamic".into());
    args.push("-Clink-arg=-Wl,-rpath,$ORIGIN".into());
    if let Some(src) = rustc.source_file() {
        let text = std::fs::read_to_string(src).unwrap_or_default();
        if declares_no_std(&text) {
            // A no_std dylib still links libstd.so for its panic handler and unwinding
            // (book: docs/src/concepts/how-it-works.md, "no_std crates, RUSTC_BOOTSTRAP and
            // symbol mangling"); `force:` needs -Z, hence RUSTC_BOOTSTRAP, scoped to
            // this one invocation.
            out.no_std = true;
            args.extend(["--extern".into(), "force:std".into()]);
            args.extend(["-Z".into(), "unstable-options".into()]);
            out.env.push(("RUSTC_BOOTSTRAP".into(), "1".into()));
        }
    }
    let is_group = rustc
        .value("--crate-name")
        .is_some_and(|n| n.starts_with(GROUP_CRATE_PREFIX));
    let archives = if is_group {
        // A group contains its members' bundled C libraries; the programs that call
        // them directly need them exported.
        linker::dependency_archives(rustc, &plan.target_dir)
    } else {
        linker::static_archives(rustc)
    };
    let exports = linker::prepare_native_exports(rustc, &archives, args)?;
    if let Some(exports) = &exports {
        out.exported_native_symbols = exports.count;
        out.env.push((
            linker::EXPORTS_ENV.into(),
            exports.file.display().to_string(),
        ));
    }
    if is_group {
        // Saved so the build can relink it exporting only what the set imports.
        out.env.push((
            linker::RELINK_ENV.into(),
            saved_link::group_link_dir(rustc).display().to_string(),
        ));
    }
    // Every shared library is linked through cargo-share, which also makes rustc's
    // version script readable by the linker (`version_script`: defmt's exported names).
    link_through_cargo_share(rustc, plan, args, out);
    Ok(())
}

/// What an executable (a program's binary, a test harness) gets: libstd and its groups linked
/// dynamically, its run path, DT_RELR, and the link through cargo-share (the allocator shim,
/// the aborting panic runtime where its profile asks for it).
fn executable_args(
    rustc: &RustcArgs,
    plan: &WrapperPlan,
    args: &mut Vec<String>,
    out: &mut Rewritten,
) {
    args.push("-Cprefer-dynamic".into());
    args.push("-Clink-arg=-Wl,-rpath,$ORIGIN/../lib".into());
    // DT_RELR, as the groups and libstd have (glibc 2.36): the executable's relative
    // relocations (11,000 in sd) are read from a bitmap instead of 24-byte entries.
    args.push("-Clink-arg=-Wl,-z,pack-relative-relocs".into());
    // cargo-share links the executable, so that a `#[global_allocator]` it defines
    // governs libstd.so and every dylib too (see `allocator`).
    link_through_cargo_share(rustc, plan, args, out);
    out.env
        .push((allocator::EXPORT_ALLOCATOR_ENV.into(), "1".into()));
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    if let Some(rlib) = aborting_runtime(&package, rustc, plan) {
        out.env.push((
            panic_abort::PANIC_ABORT_ENV.into(),
            rlib.display().to_string(),
        ));
    }
    force_groups(args, out);
}

/// The panic runtime a program's binary links when its profile says `panic = "abort"`
/// ([`panic_abort`]); a test harness keeps unwinding, as Cargo builds tests.
fn aborting_runtime<'p>(
    package: &str,
    rustc: &RustcArgs,
    plan: &'p WrapperPlan,
) -> Option<&'p PathBuf> {
    (!rustc.has("--test") && plan.abort_on_panic.contains(package))
        .then_some(plan.panic_abort_rlib.as_ref())
        .flatten()
}

/// Make cargo-share the unit's linker ([`linker::run`]), remembering the one rustc would use.
fn link_through_cargo_share(
    rustc: &RustcArgs,
    plan: &WrapperPlan,
    args: &mut Vec<String>,
    out: &mut Rewritten,
) {
    let real_linker = rustc.codegen("linker").unwrap_or("cc").to_string();
    args.push(format!("-Clinker={}", plan.self_exe.display()));
    out.env.push((linker::REAL_LINKER_ENV.into(), real_linker));
}

/// Entry point in wrapper mode: `cargo-share <rustc> <args...>`.
pub fn run(plan_path: &Path, mut argv: Vec<OsString>) -> Result<i32> {
    let rustc = PathBuf::from(argv.remove(0));
    let utf8: Option<Vec<String>> = argv.iter().map(|a| a.to_str().map(String::from)).collect();
    let Some(args) = utf8 else {
        // Non-UTF-8 arguments: not something cargo-share rewrites.
        return exec_plain(&rustc, &argv);
    };
    if invoked_by_build_script() {
        // A build script probing the compiler (proc-macro2, anyhow, ...): it must see rustc as
        // it is, or its feature detection answers for a different compiler configuration.
        return exec_plain(&rustc, &argv);
    }
    let plan = WrapperPlan::load(plan_path)?;
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let parsed = RustcArgs { args };
    let mut rewritten = rewrite(&parsed, &plan, manifest_dir.as_deref())?;
    let kind = rewritten.kind.unwrap_or(UnitKind::Passthrough);
    if parsed.has("--test") && std::env::var_os(UNOPTIMISED_TESTS_ENV).is_some() {
        unoptimised(&mut rewritten.args);
    }

    if let (Some(log), false) = (
        &plan.unit_log,
        matches!(kind, UnitKind::Passthrough | UnitKind::Host),
    ) {
        let line = UnitLogLine {
            crate_name: parsed.value("--crate-name").unwrap_or(""),
            package_dir: manifest_dir
                .as_deref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            kind,
            no_std: rewritten.no_std,
            exported_native_symbols: rewritten.exported_native_symbols,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening unit log {}", log.display()))?;
        // One write per line: with O_APPEND, concurrent wrappers cannot interleave it.
        let mut text = serde_json::to_string(&line)?;
        text.push('\n');
        f.write_all(text.as_bytes())?;
    }

    if let (Some(id), UnitKind::SharedLib | UnitKind::PrivateLib) = (&rewritten.stable_id, kind) {
        stable_id::save_stable_id(&parsed, id)?;
    }
    let primary = std::env::var_os("CARGO_PRIMARY_PACKAGE").is_some();
    if let Some(reuse) = program_objects::applies(&parsed, &plan, kind, primary) {
        let unit = program_objects::Unit {
            args: &rewritten.args,
            env: &rewritten.env,
        };
        let status = program_objects::run(&rustc, &parsed, &unit, &plan, reuse)?;
        if status == 0 && kind == UnitKind::PrivateLib {
            UnitRecord::from_unit(&parsed, &plan, manifest_dir.as_deref())
                .save_next_to_outputs(&parsed)?;
        }
        return Ok(status);
    }
    let mut cmd = user_wrapper::compiler_command(&rustc, &rewritten.args, &rewritten.env);
    if kind != UnitKind::SharedLib {
        let status = cmd.status().with_context(|| running(&cmd))?;
        if status.success() && kind == UnitKind::PrivateLib && plan.grouped {
            UnitRecord::from_unit(&parsed, &plan, manifest_dir.as_deref())
                .save_next_to_outputs(&parsed)?;
        }
        return Ok(status.code().unwrap_or(101));
    }

    // A dylib unit: forward rustc's stderr but hold back the "metadata ready" artifact
    // notification, so Cargo starts dependents only once the .so exists.
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| running(&cmd))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let mut err_out = std::io::stderr().lock();
    for line in BufReader::new(stderr).split(b'\n') {
        let line = line?;
        if is_metadata_notification(&line) {
            continue;
        }
        err_out.write_all(&line)?;
        err_out.write_all(b"\n")?;
    }
    let status = child.wait()?;
    if status.success() {
        UnitRecord::from_unit(&parsed, &plan, manifest_dir.as_deref())
            .save_next_to_outputs(&parsed)?;
    }
    Ok(status.code().unwrap_or(101))
}

/// Set by the driver on `cargo test` runs: test harnesses are compiled without optimisation.
pub const UNOPTIMISED_TESTS_ENV: &str = "CARGO_SHARE_UNOPTIMISED_TESTS";

/// A test harness's arguments without optimisation (`-C opt-level=0`, Cargo's default code
/// units). A harness (`--test`: a program's unit tests, an integration test) is never
/// installed, and compiled optimised it costs as much as the program itself; what it tests is
/// the release build all the same: the crates it calls (the shared ones and the program's own
/// library) and the binaries integration tests run are the release units the install links.
/// Only the harness's own code loses optimisation; debug assertions and overflow checks stay
/// as the profile sets them.
fn unoptimised(args: &mut Vec<String>) {
    set_optimisation(args, "0", "16");
}

/// Cargo's own `[profile.release.build-override]` defaults, which a host unit (a build script,
/// a proc macro, and what they depend on) gets. The shared profile reaches Cargo as
/// `profile.release.package."*"`, which outranks `build-override`, so without this every host
/// unit of a dependency is optimised as the shared crates are: in sd's first install `syn`
/// alone took 21 s of CPU instead of 3 s. A host unit is never installed, and what a build
/// script or proc macro produces does not depend on how it was optimised. (A program's own
/// `build-override` was overruled by the shared profile before this too: Cargo's defaults apply.)
const HOST_OPT_LEVEL: &str = "0";
const HOST_CODEGEN_UNITS: &str = "256";

/// Replace the unit's `opt-level` and `codegen-units` (as `-Cx=y` or `-C x=y`), keeping its
/// debug assertions and overflow checks as they were. rustc turns debug assertions on by
/// default at `opt-level=0`, and Cargo leaves out `-C debug-assertions` where the profile agrees
/// with that default: a release unit made unoptimised would otherwise be compiled with debug
/// assertions (and overflow checks, which follow them) that the crates it uses were compiled
/// without. rust-embed's derive emits code under `#[cfg(debug_assertions)]` that names a
/// variant its library declares only with debug assertions, so vivid's tests did not build.
fn set_optimisation(args: &mut Vec<String>, opt_level: &str, codegen_units: &str) {
    let assertions_before = debug_assertions(args);
    for arg in args.iter_mut() {
        let (prefix, setting) = match arg.strip_prefix("-C") {
            Some(setting) => ("-C", setting),
            None => ("", arg.as_str()),
        };
        if setting.starts_with("opt-level=") {
            *arg = format!("{prefix}opt-level={opt_level}");
        } else if setting.starts_with("codegen-units=") {
            *arg = format!("{prefix}codegen-units={codegen_units}");
        }
    }
    if debug_assertions(args) != assertions_before {
        let value = if assertions_before { "on" } else { "off" };
        args.extend(["-C".to_string(), format!("debug-assertions={value}")]);
    }
}

/// The value of a `-C` setting (as `-Cname=value` or `-C name=value`), the last one given.
fn codegen_setting<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .map(|arg| arg.strip_prefix("-C").unwrap_or(arg))
        .filter_map(|setting| setting.strip_prefix(name)?.strip_prefix('='))
        .next_back()
}

/// Whether rustc compiles with debug assertions: as given, else on without optimisation.
fn debug_assertions(args: &[String]) -> bool {
    match codegen_setting(args, "debug-assertions") {
        Some(value) => matches!(value, "on" | "yes" | "y" | "true"),
        None => matches!(codegen_setting(args, "opt-level"), None | Some("0")),
    }
}

/// What failed to start, for the error message: rustc, or the user's wrapper and how to build
/// without it.
fn running(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program()).display();
    if std::env::var_os(user_wrapper::USER_WRAPPER_ENV).as_deref() == Some(cmd.get_program()) {
        format!(
            "running {program}, your rustc wrapper (RUSTC_WRAPPER or build.rustc-wrapper), which \
             cargo-share chains: install it, or build without it with `RUSTC_WRAPPER=`"
        )
    } else {
        format!("running {program}")
    }
}

/// Cargo sets `HOST` and the `CARGO_CFG_*` variables only in the environment of a running build
/// script, never for its own rustc invocations.
fn invoked_by_build_script() -> bool {
    std::env::var_os("HOST").is_some() || std::env::var_os("CARGO_CFG_TARGET_ARCH").is_some()
}

fn is_metadata_notification(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    text.starts_with("{\"$message_type\":\"artifact\"") && text.contains("\"emit\":\"metadata\"")
}

fn exec_plain(rustc: &Path, args: &[OsString]) -> Result<i32> {
    let status = Command::new(rustc)
        .args(args)
        .status()
        .with_context(|| format!("running {}", rustc.display()))?;
    Ok(status.code().unwrap_or(101))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_harness_loses_optimisation_and_nothing_else() {
        let mut args: Vec<String> = [
            "--test",
            "-C",
            "opt-level=3",
            "-Ccodegen-units=1",
            "-C",
            "debug-assertions=on",
            "-C",
            "overflow-checks=on",
        ]
        .map(String::from)
        .to_vec();
        unoptimised(&mut args);
        assert_eq!(
            args,
            [
                "--test",
                "-C",
                "opt-level=0",
                "-Ccodegen-units=16",
                "-C",
                "debug-assertions=on",
                "-C",
                "overflow-checks=on",
            ]
        );
    }

    #[test]
    fn an_unoptimised_release_unit_keeps_debug_assertions_off() {
        // Cargo's release profile: `opt-level=3`, no `-C debug-assertions` (rustc's default).
        let mut harness: Vec<String> = ["--test", "-C", "opt-level=3", "-C", "codegen-units=1"]
            .map(String::from)
            .to_vec();
        assert!(!debug_assertions(&harness));
        unoptimised(&mut harness);
        assert_eq!(
            harness,
            [
                "--test",
                "-C",
                "opt-level=0",
                "-C",
                "codegen-units=16",
                "-C",
                "debug-assertions=off"
            ]
        );
        assert!(!debug_assertions(&harness));
        // A host unit of the release profile, as `build-override` would build it.
        let mut host: Vec<String> = ["--crate-type", "proc-macro", "-Copt-level=3"]
            .map(String::from)
            .to_vec();
        set_optimisation(&mut host, HOST_OPT_LEVEL, HOST_CODEGEN_UNITS);
        assert_eq!(&host[2..], ["-Copt-level=0", "-C", "debug-assertions=off"]);
        // A unit already unoptimised (Cargo leaves `opt-level` out) keeps rustc's default.
        let mut dev: Vec<String> = ["--test"].map(String::from).to_vec();
        unoptimised(&mut dev);
        assert_eq!(dev, ["--test"]);
        assert!(debug_assertions(&dev));
    }

    #[test]
    fn lints_are_capped_only_for_the_crates_of_programs_from_crates_io() {
        let plan = WrapperPlan {
            quiet_packages: ["tokei".to_string()].into(),
            ..Default::default()
        };
        let none: Vec<String> = Vec::new();
        assert!(caps_lints(&plan, true, "tokei", &none));
        // A dependency (not the primary package), a local program, a cap already given.
        assert!(!caps_lints(&plan, false, "tokei", &none));
        assert!(!caps_lints(&plan, true, "mytool", &none));
        let capped = vec!["--cap-lints".to_string(), "warn".to_string()];
        assert!(!caps_lints(&plan, true, "tokei", &capped));
    }

    /// What `path` is written as, by the remaps in order (rustc: the last matching prefix wins).
    fn written(remaps: &[(PathBuf, String)], path: &str) -> String {
        remaps
            .iter()
            .rev()
            .find_map(|(from, to)| {
                let rest = Path::new(path).strip_prefix(from).ok()?;
                Some(match rest.as_os_str().is_empty() {
                    true => to.clone(),
                    false => Path::new(to).join(rest).display().to_string(),
                })
            })
            .unwrap_or_else(|| path.to_string())
    }

    #[test]
    fn a_patched_copy_is_named_as_the_crates_io_package_it_replaces() {
        let home = "/home/u/.cargo";
        let original = format!("{home}/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1");
        let plan = WrapperPlan {
            cargo_home: PathBuf::from(home),
            target_dir: PathBuf::from("/w/target"),
            // Not canonicalizable here: the wrapper then compares the path as given.
            patched_sources: [(PathBuf::from("/fix/tokio"), PathBuf::from(&original))].into(),
            ..Default::default()
        };
        let from_registry = path_remaps(&plan, &unit(&original, &original));
        let patched = path_remaps(&plan, &unit("/fix/tokio", "/fix/tokio"));
        let file = |root: &str| format!("{root}/src/runtime/park.rs");
        let expected =
            "/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1/src/runtime/park.rs";
        assert_eq!(written(&from_registry, &file(&original)), expected);
        assert_eq!(written(&patched, &file("/fix/tokio")), expected);
        // The working directory rustc records is named the same way.
        assert_eq!(
            written(&patched, "/fix/tokio"),
            written(&from_registry, &original)
        );
        // A copy inside the workspace, whose files Cargo names relative to its root.
        let inside = WrapperPlan {
            patched_sources: [(PathBuf::from("/w/vendor/tokio"), PathBuf::from(&original))].into(),
            ..plan.clone()
        };
        let remaps = path_remaps(&inside, &unit("/w", "/w/vendor/tokio"));
        assert_eq!(
            written(&remaps, "vendor/tokio/src/runtime/park.rs"),
            expected
        );
        // Any other local package keeps its own name, its version cut to the compatible range.
        let local = path_remaps(&plan, &unit("/w", "/w/kit"));
        assert_eq!(
            written(&local, "/w/kit/src/lib.rs"),
            "/src/tokio-1/src/lib.rs"
        );
        // Another release of the same range is named the same; a git checkout keeps its path.
        let next = original.replace("1.54.1", "1.54.2");
        let unit_next = UnitPlace {
            version: "1.54.2".into(),
            ..unit(&next, &next)
        };
        assert_eq!(
            written(&path_remaps(&plan, &unit_next), &file(&next)),
            expected
        );
        let git = format!("{home}/git/checkouts/tokio-0123abcd/89ef012");
        let from_git = path_remaps(&plan, &unit(&git, &git));
        assert_eq!(
            written(&from_git, &file(&git)),
            "/cargo/git/checkouts/tokio-0123abcd/89ef012/src/runtime/park.rs"
        );
    }

    /// tokio 1.54.1 compiled in `dir`, rustc running in `cwd`.
    fn unit<'a>(cwd: &str, dir: &'a str) -> UnitPlace<'a> {
        UnitPlace {
            cwd: Some(PathBuf::from(cwd)),
            manifest_dir: Some(Path::new(dir)),
            package: "tokio".into(),
            version: "1.54.1".into(),
            out_dir: None,
        }
    }

    fn args(s: &str) -> RustcArgs {
        RustcArgs {
            args: s.split_whitespace().map(String::from).collect(),
        }
    }

    #[test]
    fn only_the_binaries_of_abort_programs_get_the_aborting_runtime() {
        let rlib = PathBuf::from("libpanic_abort-1.rlib");
        let plan = WrapperPlan {
            abort_on_panic: ["pa-one".to_string()].into(),
            panic_abort_rlib: Some(rlib.clone()),
            ..Default::default()
        };
        let bin = args("--crate-name pa_one --crate-type bin --target x86_64-unknown-linux-gnu");
        let test = args("--crate-name pa_one --test --target x86_64-unknown-linux-gnu");
        assert_eq!(aborting_runtime("pa-one", &bin, &plan), Some(&rlib));
        assert_eq!(aborting_runtime("pa-one", &test, &plan), None);
        assert_eq!(aborting_runtime("pa-two", &bin, &plan), None);
        let no_rlib = WrapperPlan {
            panic_abort_rlib: None,
            ..plan.clone()
        };
        assert_eq!(aborting_runtime("pa-one", &bin, &no_rlib), None);
    }

    #[test]
    fn probes_and_host_units_are_not_touched() {
        let plan = WrapperPlan::default();
        assert_eq!(
            args("- --crate-name ___ --print=file-names").classify(&plan, None),
            UnitKind::Passthrough
        );
        assert_eq!(args("-vV").classify(&plan, None), UnitKind::Passthrough);
        assert_eq!(
            args("--crate-name build_script_build --crate-type bin build.rs").classify(&plan, None),
            UnitKind::Host
        );
        assert_eq!(
            args("--crate-name d --crate-type proc-macro --target x86_64-unknown-linux-gnu")
                .classify(&plan, None),
            UnitKind::Host
        );
    }

    #[test]
    fn host_units_get_cargos_build_override_defaults_and_keep_the_rest() {
        let plan = WrapperPlan::default();
        let host = args(
            "--crate-name syn --crate-type lib src/lib.rs -C opt-level=3 -C codegen-units=16 \
             -C strip=debuginfo",
        );
        let out = rewrite(&host, &plan, None).unwrap();
        assert_eq!(out.kind, Some(UnitKind::Host));
        assert_eq!(
            out.args.join(" "),
            "--crate-name syn --crate-type lib src/lib.rs -C opt-level=0 -C codegen-units=256 \
             -C strip=debuginfo -C debug-assertions=off"
        );
        // A probe passes through untouched.
        let probe = args("- --crate-name ___ --print=file-names -C opt-level=3");
        assert_eq!(rewrite(&probe, &plan, None).unwrap().args, probe.args);
    }

    #[test]
    fn shared_libs_are_told_apart_from_private_ones() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let private = dir.path().join("private");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(&private).unwrap();
        let mut plan = WrapperPlan::default();
        plan.shared_packages.insert(shared.canonicalize().unwrap());
        let lib = args("--crate-name regex --crate-type lib --target x86_64-unknown-linux-gnu");
        assert_eq!(lib.classify(&plan, Some(&shared)), UnitKind::SharedLib);
        assert_eq!(lib.classify(&plan, Some(&private)), UnitKind::PrivateLib);
        let bin = args("--crate-name rg --crate-type bin --target x86_64-unknown-linux-gnu");
        assert_eq!(bin.classify(&plan, Some(&shared)), UnitKind::Executable);
        let test = args("--crate-name rg --test --target x86_64-unknown-linux-gnu");
        assert_eq!(test.classify(&plan, Some(&private)), UnitKind::Executable);
    }

    #[test]
    fn shared_lib_becomes_dylib_and_rlib_and_externs_point_at_so() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(pkg.join("src")).unwrap();
        std::fs::write(pkg.join("src/lib.rs"), "#![cfg_attr(not(test), no_std)]\n").unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(deps.join("libdep-abc.rmeta"), "").unwrap();
        std::fs::write(deps.join("libdep-abc.so"), "").unwrap();
        std::fs::write(deps.join("libstatic-def.rmeta"), "").unwrap();
        let mut plan = WrapperPlan::default();
        plan.shared_packages.insert(pkg.canonicalize().unwrap());
        let cmd = format!(
            "--crate-name pkg --edition 2021 {src} --crate-type lib --target x86_64-unknown-linux-gnu \
             --extern dep={d}/libdep-abc.rmeta --extern st={d}/libstatic-def.rmeta",
            src = pkg.join("src/lib.rs").display(),
            d = deps.display()
        );
        let out = rewrite(&args(&cmd), &plan, Some(&pkg)).unwrap();
        let joined = out.args.join(" ");
        assert!(
            joined.contains("--crate-type dylib --crate-type rlib"),
            "{joined}"
        );
        assert!(!joined.contains("--crate-type lib "), "{joined}");
        assert!(joined.contains(&format!("dep={}/libdep-abc.so", deps.display())));
        assert!(joined.contains(&format!("st={}/libstatic-def.rmeta", deps.display())));
        assert!(joined.contains("-Cprefer-dynamic"));
        assert!(joined.contains("--extern force:std"), "{joined}");
        assert!(out.no_std);
        assert_eq!(out.env[0], ("RUSTC_BOOTSTRAP".into(), "1".into()));
        // Every shared library is linked through cargo-share (its version script made
        // readable), with the linker rustc would have used remembered.
        assert_eq!(
            out.env[1..],
            [(linker::REAL_LINKER_ENV.to_string(), "cc".to_string())]
        );
        assert!(joined.contains(&format!("-Clinker={}", plan.self_exe.display())));
    }

    #[test]
    fn metadata_notifications_are_recognised() {
        assert!(is_metadata_notification(
            br#"{"$message_type":"artifact","artifact":"/t/libx-1.rmeta","emit":"metadata"}"#
        ));
        assert!(!is_metadata_notification(
            br#"{"$message_type":"artifact","artifact":"/t/libx-1.rlib","emit":"link"}"#
        ));
        assert!(!is_metadata_notification(
            br#"{"$message_type":"diagnostic"}"#
        ));
    }
}
