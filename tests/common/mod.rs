//! Helpers shared by the integration tests: run cargo-share, build a fixture the normal (static)
//! way, run a binary with an empty environment.
#![allow(dead_code)]

pub mod fake_http;
pub mod registry;
pub mod store_env;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A scratch directory whose `.cargo/config.toml` replaces crates.io with the fixture directory
/// source `registry` (so Cargo run inside it stays offline), and its path.
pub fn scratch_with_directory_source(registry: &str) -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path().to_path_buf();
    replace_crates_io(&base, registry);
    (scratch, base)
}

/// `BASE/.cargo/config.toml` replacing crates.io with the fixture directory source `registry`,
/// so Cargo run from `base` stays offline.
pub fn replace_crates_io(base: &Path, registry: &str) {
    std::fs::create_dir_all(base.join(".cargo")).unwrap();
    std::fs::write(
        base.join(".cargo/config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n[source.fixture]\ndirectory = {:?}\n",
            fixture(registry).display().to_string()
        ),
    )
    .unwrap();
}

/// `cargo-share` with a private cache directory inside `scratch`.
pub fn cargo_share(scratch: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
    cmd.arg("--cache-dir").arg(scratch.join("cache"));
    cmd
}

/// Run and require success, returning the output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Build a fixture workspace the normal way (static, its own profile) and return its release dir.
pub fn static_build(workspace: &Path, scratch: &Path) -> PathBuf {
    let target = scratch.join("static-target");
    run_ok(
        Command::new(env!("CARGO"))
            .args(["build", "--release", "--offline", "--locked", "-q"])
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
    );
    target.join("release")
}

/// Run a binary from the filesystem root with an empty environment (no LD_LIBRARY_PATH) and
/// return its stdout.
pub fn run_clean(binary: &Path) -> String {
    let out = run_ok(Command::new(binary).env_clear().current_dir("/"));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Copy a directory tree, skipping `target` directories.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "target" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// File names in a directory, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What `binary` NEEDs, as file names (`$ORIGIN/../lib/FILE` is `FILE`), after checking that it
/// loads every library cargo-share provides by path: each such NEEDED entry is
/// `$ORIGIN/../lib/FILE` (`$ORIGIN/FILE` in a library of `lib/`) and names a file in `../lib`, there is no run path, and (where `strace`
/// is installed) the loader resolves the whole closure without one failed lookup, opening each
/// library of `../lib` once.
pub fn loads_by_path(binary: &Path) -> Vec<String> {
    use cargo_share_compile::elf::{dynamic_info, needed_file, LIB_DIR_PREFIX, SIBLING_PREFIX};
    let info = dynamic_info(binary).unwrap();
    assert!(
        info.runpath.is_empty(),
        "{} has a run path {:?}",
        binary.display(),
        info.runpath
    );
    let lib_dir = binary.parent().unwrap().join("../lib");
    // A library of `lib/` names its siblings `$ORIGIN/FILE`, a binary `$ORIGIN/../lib/FILE`.
    let in_lib_dir = binary.parent().and_then(|d| d.file_name()) == Some("lib".as_ref());
    let prefix = if in_lib_dir {
        SIBLING_PREFIX
    } else {
        LIB_DIR_PREFIX
    };
    for n in &info.needed {
        if lib_dir.join(needed_file(n)).is_file() {
            assert!(
                n.starts_with(prefix) && !n[prefix.len()..].contains('/'),
                "{} NEEDs {n} by name, not by path",
                binary.display()
            );
        }
    }
    if let Ok(out) = Command::new("strace")
        .args(["-f", "-e", "trace=%file", "-E", "LD_TRACE_LOADED_OBJECTS=1"])
        .arg(binary)
        .env_clear()
        .current_dir("/")
        .output()
    {
        if out.status.success() {
            let trace = String::from_utf8_lossy(&out.stderr);
            let failed: Vec<&str> = trace
                .lines()
                .filter(|l| l.contains("ENOENT") && !l.contains("/etc/ld.so.preload"))
                .collect();
            assert!(
                failed.is_empty(),
                "{}: the loader searched for libraries:\n{}",
                binary.display(),
                failed.join("\n")
            );
            let mut opened: std::collections::BTreeMap<&str, usize> = Default::default();
            for line in trace.lines().filter(|l| l.contains("openat(")) {
                let path = line.split('"').nth(1).unwrap_or_default();
                let file = path.rsplit('/').next().unwrap_or_default();
                if !file.is_empty() && lib_dir.join(file).is_file() {
                    *opened.entry(file).or_default() += 1;
                }
            }
            let again: Vec<_> = opened.iter().filter(|(_, n)| **n > 1).collect();
            assert!(
                again.is_empty(),
                "{}: libraries opened more than once: {again:?}\n{trace}",
                binary.display()
            );
        }
    }
    info.needed
        .iter()
        .map(|n| needed_file(n).to_string())
        .collect()
}

/// Every file of `dir/bin` and `dir/lib` (`bin/NAME` -> bytes): a build's output or an installed
/// program's store directory, to compare two of them byte for byte.
pub fn bin_and_lib_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for sub in ["bin", "lib"] {
        for name in file_names(&dir.join(sub)) {
            out.insert(
                format!("{sub}/{name}"),
                std::fs::read(dir.join(sub).join(&name)).unwrap(),
            );
        }
    }
    out
}

/// Whether the kernel has Landlock (`landlock_create_ruleset` asked for its ABI version).
pub fn kernel_has_landlock() -> bool {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: a query with no ruleset attributes; returns the ABI version or -1.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    abi >= 1
}
