//! `cargo share audit` on Rust programs this project did not build: Debian's own packages of
//! ripgrep, fd-find and hexyl, fetched with `apt-get download` into a temporary directory and
//! unpacked with `dpkg-deb -x`. Reaches the distribution's archive, hence `online_`; where
//! `apt-get` or the packages are not available it says so and passes without checking.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PACKAGES: &[&str] = &["ripgrep", "fd-find", "hexyl"];

/// Downloads and unpacks the packages into `dir/root`; `Err` says why it could not.
fn fetch(dir: &Path) -> Result<(), String> {
    let out = Command::new("apt-get")
        .arg("download")
        .args(PACKAGES)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("apt-get: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            let ok = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&path)
                .arg(dir.join("root"))
                .status()
                .map_err(|e| format!("dpkg-deb: {e}"))?
                .success();
            if !ok {
                return Err(format!("dpkg-deb -x {} failed", path.display()));
            }
        }
    }
    Ok(())
}

#[test]
fn online_debian_packages_are_audited_from_their_panic_paths() {
    let scratch = tempfile::tempdir().unwrap();
    if let Err(why) = fetch(scratch.path()) {
        eprintln!("skipped: Debian's packages could not be fetched here: {why}");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-share"))
        .args(["audit", "--json"])
        .arg(scratch.path().join("root"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["reason"] == "audit-finished")
        .expect("audit-finished record");
    let binaries = report["binaries"].as_array().unwrap();
    assert_eq!(binaries.len(), 3, "{report:#}");
    for b in binaries {
        // Distribution builds are stripped and name their compiler by its source directory.
        assert!(b["rustc"].is_string(), "{b:#}");
        assert!(!b["crates"].as_array().unwrap().is_empty(), "{b:#}");
    }
    let rg = binaries
        .iter()
        .find(|b| b["path"].as_str().unwrap().ends_with("/rg"))
        .expect("rg");
    let names: Vec<&str> = rg["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for expected in ["regex", "grep-searcher", "ignore"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    // ripgrep and fd-find share crates (ignore, regex, ...): something is shareable.
    assert!(report["projection"]["saving_bytes"].as_u64().unwrap() > 0);
}
