//! `cargo share audit` on binaries built here: a static program with its symbol table, a
//! stripped copy of another, and one carrying a `cargo auditable`-style `.dep-v0` section, all
//! using a dependency whose directory is named `fakedep-0.3.1` (as in a registry), plus an
//! unreadable entry and a broken ELF file. Hermetic: path dependencies only, built offline.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::run_ok;
use serde_json::Value;

const FAKEDEP: &str = r#"
/// Panics with a location inside this crate's source, as registry crates do.
#[inline(never)]
pub fn pick(v: &[u64], i: usize) -> u64 {
    if i >= v.len() {
        panic!("fakedep: index {i} out of range");
    }
    v[i].wrapping_mul(2654435761) ^ (v[i] >> 3)
}
"#;

const OTHERDEP: &str = r#"
#[inline(never)]
pub fn mix(x: u64) -> u64 {
    if x == u64::MAX {
        panic!("otherdep: saturated");
    }
    x.rotate_left(13) ^ 0x9e37_79b9
}
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn package(dir: &Path, name: &str, version: &str, deps: &str, lib: bool, code: &str) {
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n\
             [dependencies]\n{deps}"
        ),
    );
    let file = if lib { "src/lib.rs" } else { "src/main.rs" };
    write(&dir.join(file), code);
}

/// Builds programs `a`, `b`, `c` (release, symbols kept) and returns the audit directory:
/// `a`, a stripped copy of `b`, `c`, a dangling link and a broken ELF file.
fn build_fixture(root: &Path) -> PathBuf {
    let deps = root.join("deps");
    package(
        &deps.join("fakedep-0.3.1"),
        "fakedep",
        "0.3.1",
        "",
        true,
        FAKEDEP,
    );
    package(
        &deps.join("otherdep-1.2.0"),
        "otherdep",
        "1.2.0",
        "",
        true,
        OTHERDEP,
    );
    let ws = root.join("ws");
    write(
        &ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\nresolver = \"2\"\n\n\
         [profile.release]\nstrip = \"none\"\n",
    );
    let fakedep = format!("fakedep = {{ path = {:?} }}\n", deps.join("fakedep-0.3.1"));
    let otherdep = format!(
        "otherdep = {{ path = {:?} }}\n",
        deps.join("otherdep-1.2.0")
    );
    let main = |extra: &str, call: &str| {
        format!(
            "{extra}\nfn main() {{\n    let v: Vec<u64> = std::env::args().map(|a| a.len() as u64).collect();\n    \
             println!(\"{{}}\", {call});\n}}\n"
        )
    };
    package(
        &ws.join("a"),
        "a",
        "0.1.0",
        &format!("{fakedep}{otherdep}"),
        false,
        &main("", "otherdep::mix(fakedep::pick(&v, 0))"),
    );
    package(
        &ws.join("b"),
        "b",
        "0.1.0",
        &fakedep,
        false,
        &main("", "fakedep::pick(&v, 0)"),
    );
    // `c` embeds the dependency list the way `cargo auditable` does: zlib-compressed JSON in a
    // `.dep-v0` section.
    let json = r#"{"packages":[{"name":"c","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"fakedep","version":"0.3.1","source":"crates.io"}]}"#;
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6);
    std::fs::create_dir_all(ws.join("c")).unwrap();
    std::fs::write(ws.join("c/dep.zlib"), &compressed).unwrap();
    let section = format!(
        "#[used]\n#[link_section = \".dep-v0\"]\n\
         static AUDITABLE: [u8; {}] = *include_bytes!(\"../dep.zlib\");\n",
        compressed.len()
    );
    package(
        &ws.join("c"),
        "c",
        "0.1.0",
        &fakedep,
        false,
        &main(&section, "fakedep::pick(&v, 0) + AUDITABLE.len() as u64"),
    );
    let target = root.join("target");
    run_ok(
        Command::new(env!("CARGO"))
            .args(["build", "--release", "--offline", "-q"])
            .arg("--manifest-path")
            .arg(ws.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
    );
    let release = target.join("release");
    let bins = root.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    std::fs::copy(release.join("a"), bins.join("a")).unwrap();
    std::fs::copy(release.join("c"), bins.join("c")).unwrap();
    run_ok(
        Command::new("strip")
            .arg("--strip-all")
            .arg("-o")
            .arg(bins.join("b-stripped"))
            .arg(release.join("b")),
    );
    std::os::unix::fs::symlink(root.join("gone"), bins.join("dangling")).unwrap();
    std::fs::write(bins.join("broken"), b"\x7fELF\x02\x01\x01 not really").unwrap();
    std::fs::write(bins.join("notes.txt"), b"not a binary").unwrap();
    bins
}

fn binary<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"].as_str().unwrap().ends_with(&format!("/{name}")))
        .unwrap_or_else(|| panic!("{name} not audited: {report:#}"))
}

fn crate_copy<'a>(binary: &'a Value, name: &str) -> Option<&'a Value> {
    binary["crates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

/// The string field `key` of every element of an array.
fn strings<'a>(array: &'a Value, key: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap())
        .collect()
}

fn local_rustc_release() -> String {
    let out = run_ok(Command::new("rustc").arg("-vV"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .unwrap()
        .to_string()
}

#[test]
fn audit_finds_crates_versions_sources_and_unreadable_files() {
    let scratch = tempfile::tempdir().unwrap();
    let bins = build_fixture(scratch.path());
    let html = scratch.path().join("audit.html");
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_cargo-share"))
            .args(["share", "audit", "--json", "--html"])
            .arg(&html)
            .arg(&bins),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["reason"] == "audit-finished")
        .unwrap_or_else(|| panic!("no audit-finished record:\n{stdout}"));

    assert_eq!(
        report["binaries"].as_array().unwrap().len(),
        3,
        "{report:#}"
    );
    assert_eq!(report["files_examined"], 5);
    let unreadable = strings(&report["unreadable"], "path");
    assert_eq!(unreadable.len(), 2, "{unreadable:?}");
    assert!(unreadable.iter().any(|p| p.ends_with("/dangling")));
    assert!(unreadable.iter().any(|p| p.ends_with("/broken")));
    // Unreadable entries are warned about (as JSON lines in JSON mode).
    assert!(stdout.contains("\"reason\":\"warning\""), "{stdout}");

    let release = local_rustc_release();
    let a = binary(&report, "a");
    assert_eq!(a["crates_from"], "symbol-table");
    assert_eq!(a["confidence"], "medium");
    assert_eq!(a["rustc"], release.as_str());
    for (name, version) in [("fakedep", "0.3.1"), ("otherdep", "1.2.0")] {
        let c = crate_copy(a, name).unwrap_or_else(|| panic!("{name} missing: {a:#}"));
        assert_eq!(c["version"], version);
        assert_eq!(c["bytes_from"], "symbol-table");
        assert!(c["bytes"].as_u64().unwrap() > 0, "{c}");
    }
    assert!(a["std_bytes"].as_u64().unwrap() > 10_000, "{a:#}");
    // `a` keeps its symbol table: its stripped size is smaller than the file.
    assert!(
        a["stripped_bytes"].as_u64() < a["file_bytes"].as_u64(),
        "{a:#}"
    );

    let b = binary(&report, "b-stripped");
    assert_eq!(b["crates_from"], "panic-paths");
    assert_eq!(b["confidence"], "low");
    let fakedep = crate_copy(b, "fakedep").expect("fakedep from panic paths");
    assert_eq!(fakedep["version"], "0.3.1");
    // The size measured in `a` is lent to the stripped copy.
    assert_eq!(fakedep["bytes_from"], "other-binary");
    assert!(crate_copy(b, "otherdep").is_none(), "{b:#}");
    assert_eq!(b["rustc"], release.as_str());
    assert_eq!(b["stripped_bytes"], b["file_bytes"]);

    let c = binary(&report, "c");
    assert_eq!(c["crates_from"], "cargo-auditable");
    assert_eq!(c["confidence"], "high");
    let listed = strings(&c["crates"], "name");
    assert_eq!(listed, vec!["fakedep"], "the root package is own code");

    let row = report["crates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "fakedep")
        .expect("fakedep row");
    assert_eq!(row["version"], "0.3.1");
    assert_eq!(row["copies"], 3);
    let std_row = report["crates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "std (toolchain)")
        .expect("std row");
    assert_eq!(std_row["copies"], 3);
    let p = &report["projection"];
    assert_eq!(p["binaries"], 3);
    assert!(p["saving_bytes"].as_u64().unwrap() > 0);
    let disk = p["disk_saving"].as_f64().unwrap();
    assert!(disk > 0.0 && disk < 1.0, "{p}");
    assert!(p["stripped_disk_saving"].as_f64().unwrap() > disk, "{p}");
    // With the data that goes with the code, each copy weighs more than its code alone.
    assert!(
        p["file_saving_bytes"].as_u64() > p["saving_bytes"].as_u64(),
        "{p}"
    );
    assert!(
        p["stripped_file_saving"].as_f64() > p["stripped_disk_saving"].as_f64(),
        "{p}"
    );
    assert!(a["shared_bytes"].as_u64().unwrap() > 0);

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg") && page.contains("b-stripped"), "html");
    assert!(!page.contains("<script"));

    // The table on stdout, and -q silences progress.
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_cargo-share"))
            .args(["audit", "-q"])
            .arg(&bins),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("fakedep") && table.contains("Projected saving"),
        "{table}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Scanning"), "{stderr}");
    assert!(stderr.contains("warning: skipped"), "{stderr}");
}

#[test]
fn audit_of_a_missing_path_fails_with_a_json_error() {
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-share"))
        .args(["audit", "--json"])
        .arg(scratch.path().join("nothing-here"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let error: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["reason"] == "error")
        .unwrap_or_else(|| panic!("no error record:\n{stdout}"));
    assert!(error["message"].as_str().unwrap().contains("nothing-here"));
}
