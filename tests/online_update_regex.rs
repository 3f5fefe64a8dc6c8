//! ONLINE: reaches crates.io (regex, clap, serde, ...). The scenario of the book's Update guide:
//! two programs that share `regex` (examples/three-programs `words` and `config`) are
//! installed; `cargo share update regex-syntax --path FIXED`, FIXED a copy of the locked
//! regex-syntax with a one-line fix in a non-inlined function (an error message's text), ships
//! one file; both programs run, `words` shows the fix, `verify` passes, and a full install from
//! scratch with the same fix gives byte-identical files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/three-programs")
        .join(name)
}

/// Install `words` and `config` into `store`/`root` (cache `cache`), with `extra` arguments.
fn install(base: &Path, cache: &str, store: &str, extra: &[&str]) {
    run_ok(
        cargo_share(&base.join(cache))
            .arg("--store")
            .arg(base.join(store))
            .args(["install", "-q", "--path"])
            .arg(example("words"))
            .arg("--path")
            .arg(example("config"))
            .args(extra)
            .arg("--root")
            .arg(base.join(format!("{store}-root"))),
    );
}

/// The files the installed `program` runs (`bin/`, `lib/`), by name.
fn program_files(root: &Path, program: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = std::fs::canonicalize(root.join("bin").join(program)).unwrap();
    bin_and_lib_files(dir.parent().unwrap().parent().unwrap())
}

fn words(root: &Path, pattern: &str) -> String {
    let out = Command::new(root.join("bin/words"))
        .arg(pattern)
        .env_clear()
        .current_dir("/")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn online_update_regex_syntax_with_a_patched_copy_ships_one_file() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    install(base, "c", "store", &[]);
    let root = base.join("store-root");
    assert!(words(&root, "(").contains("unclosed group"));
    let config_before = run_clean(&root.join("bin/config"));

    // A copy of the locked regex-syntax with a one-line fix in a non-inlined function.
    let lock = std::fs::read_to_string(example("words/Cargo.lock")).unwrap();
    let version = cargo_share_core::source::locked_version(&lock, "regex-syntax").unwrap();
    let registry = cargo_share_core::source::cargo_home()
        .unwrap()
        .join("registry/src");
    let original = std::fs::read_dir(&registry)
        .unwrap()
        .map(|e| e.unwrap().path().join(format!("regex-syntax-{version}")))
        .find(|p| p.is_dir())
        .expect("regex-syntax sources fetched by the install");
    let fixed = base.join("regex-syntax-fixed");
    copy_dir(&original, &fixed);
    let ast = fixed.join("src/ast/mod.rs");
    let text = std::fs::read_to_string(&ast).unwrap();
    let line = r#"GroupUnclosed => write!(f, "unclosed group"),"#;
    assert!(text.contains(line));
    std::fs::write(
        &ast,
        text.replace(
            line,
            r#"GroupUnclosed => write!(f, "unclosed group (fixed)"),"#,
        ),
    )
    .unwrap();
    let bins_before = |p: &str| program_files(&root, p)[&format!("bin/{p}")].clone();
    let (words_bin, config_bin) = (bins_before("words"), bins_before("config"));

    let out = run_ok(
        cargo_share(&base.join("c"))
            .arg("--store")
            .arg(base.join("store"))
            .args(["update", "--json", "regex-syntax", "--path"])
            .arg(&fixed),
    );
    let report: serde_json::Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["reason"] == "update-finished")
        .expect("an update-finished record");
    eprintln!(
        "shipped {} of {} loaded",
        report["shipped"], report["loaded"]
    );
    assert_eq!(report["shipped"]["files"], 1, "{report}");
    assert!(words(&root, "(").contains("unclosed group (fixed)"));
    assert_eq!(run_clean(&root.join("bin/config")), config_before);
    assert_eq!(bins_before("words"), words_bin);
    assert_eq!(bins_before("config"), config_bin);
    run_ok(
        cargo_share(&base.join("c"))
            .arg("--store")
            .arg(base.join("store"))
            .arg("verify"),
    );

    // A full install from scratch with the fix: the same bytes.
    let patch = format!("regex-syntax={}", fixed.display());
    install(base, "fresh-cache", "fresh", &["--patch", &patch]);
    for program in ["words", "config"] {
        assert!(
            program_files(&base.join("fresh-root"), program) == program_files(&root, program),
            "{program}: the update and a fresh install differ"
        );
    }
}
