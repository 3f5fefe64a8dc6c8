//! `cargo share preload`: the files it warms are in memory afterwards (dropped from the page
//! cache first, so the test proves the warming), only those loaded by enough installed programs,
//! and a store file that leads outside the store is skipped, never read.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cargo_share_core::preload::page_cache::{drop_page_cache, on_tmpfs, resident_share};
use common::store_env::Env;
use common::{fixture, run_ok};

/// `unrelated/ws-one` installed: programs one-a and one-b, both loading libstd and
/// unrelated-common (two entries, each loaded by two programs).
fn installed() -> Env {
    let env = Env::on_disk();
    assert!(
        !on_tmpfs(&env.base),
        "{} is on tmpfs: the page cache cannot be dropped there",
        env.base.display()
    );
    run_ok(&mut env.install(&fixture("unrelated/ws-one")));
    env
}

/// Every runtime file of the store's entries.
fn entry_files(store: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(store.join("entries")).unwrap() {
        for f in std::fs::read_dir(entry.unwrap().path().join("lib")).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    files
}

fn records<'a>(all: &'a [serde_json::Value], reason: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|r| r["reason"] == reason).collect()
}

#[test]
fn preload_makes_the_files_most_programs_load_resident() {
    let env = installed();
    let files = entry_files(&env.store());
    assert_eq!(files.len(), 2, "{files:?}");

    // Fewer programs load them than asked: nothing is read.
    drop_page_cache(&files).unwrap();
    assert!(resident_share(&files).unwrap() < 0.1);
    let out = run_ok(env.cmd().args(["preload", "--json", "--min-programs", "3"]));
    let all = env.json(&out);
    assert_eq!(records(&all, "preload-finished")[0]["files"], 0, "{all:?}");
    assert!(resident_share(&files).unwrap() < 0.1);

    // Both are loaded by both programs: the default (two) warms them.
    drop_page_cache(&files).unwrap();
    assert!(resident_share(&files).unwrap() < 0.1);
    let out = run_ok(env.cmd().args(["preload", "--json"]));
    let all = env.json(&out);
    let warmed = records(&all, "preload-file");
    let mut packages: Vec<&str> = warmed
        .iter()
        .map(|r| r["file"]["package"].as_str().unwrap())
        .collect();
    packages.sort();
    assert!(packages.contains(&"unrelated-common"), "{packages:?}");
    assert_eq!(packages.len(), 2, "{packages:?}");
    for r in &warmed {
        assert_eq!(r["file"]["programs"], 2, "{r}");
        assert_eq!(r["file"]["resident_bytes"], r["file"]["bytes"], "{r}");
    }
    let finished = records(&all, "preload-finished")[0];
    assert_eq!(finished["installed_programs"], 2);
    assert_eq!(finished["skipped"], 0);
    assert!(resident_share(&files).unwrap() > 0.99);
}

#[test]
fn preload_skips_a_store_file_that_leads_outside_the_store() {
    let env = installed();
    let outside = env.base.join("outside.so");
    std::fs::write(&outside, vec![1u8; 256 << 10]).unwrap();
    let lib = env.entry_runtime_file("unrelated-common");
    let dir = lib.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(&lib).unwrap();
    std::os::unix::fs::symlink(&outside, &lib).unwrap();
    let files = entry_files(&env.store());
    drop_page_cache(std::slice::from_ref(&outside)).unwrap();
    drop_page_cache(&files).unwrap();

    let out = run_ok(env.cmd().args(["preload", "--json", "--all"]));
    let all = env.json(&out);
    let skipped = records(&all, "preload-skipped");
    assert_eq!(skipped.len(), 1, "{all:?}");
    assert!(skipped[0]["path"]
        .as_str()
        .unwrap()
        .ends_with(&*lib.file_name().unwrap().to_string_lossy()));
    assert!(
        skipped[0]["cause"]
            .as_str()
            .unwrap()
            .contains("outside the store"),
        "{}",
        skipped[0]
    );
    assert!(records(&all, "warning")[0]["message"]
        .as_str()
        .unwrap()
        .contains("not preloading"));
    // Never read: still out of the page cache. The other entry (libstd) was warmed.
    assert!(resident_share(&[outside]).unwrap() < 0.1);
    let warmed = records(&all, "preload-file");
    assert_eq!(warmed.len(), 1, "{all:?}");
    let std_file = PathBuf::from(warmed[0]["file"]["path"].as_str().unwrap());
    assert!(resident_share(&[std_file]).unwrap() > 0.99);
}

#[test]
fn preload_lock_holds_the_files_locked_until_stopped() {
    use std::io::BufRead;
    let env = installed();
    let mut child = env
        .cmd()
        .args(["preload", "--json", "--lock"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut records = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let record: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let done = record["reason"] == "preload-finished";
        records.push(record);
        if done {
            break;
        }
    }
    // Still running, holding its locks: the kernel counts them for the process.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = records.last().unwrap();
    assert_eq!(finished["reason"], "preload-finished", "{records:?}");
    let locked_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let locked = finished["locked_bytes"].as_u64().unwrap();
    if locked < finished["bytes"].as_u64().unwrap() {
        // Beyond RLIMIT_MEMLOCK (not for root): said, and the rest stays warmed only.
        let warning = records.iter().find(|r| r["reason"] == "warning").unwrap();
        assert!(warning["message"]
            .as_str()
            .unwrap()
            .contains("RLIMIT_MEMLOCK"));
    }
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(finished["locked_bytes"], finished["bytes"], "{records:?}");
    }
    assert!(
        locked_kb * 1024 >= locked,
        "VmLck {locked_kb} kB for {finished}"
    );
}
