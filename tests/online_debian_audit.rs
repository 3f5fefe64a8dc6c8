//! `cargo share audit` on Rust programs this project did not build: Debian's own packages of
//! ripgrep, fd-find and hexyl, fetched with `apt-get download` into a temporary directory and
//! unpacked with `dpkg-deb -x`; and the packages apt's lists mark as built by Cargo
//! (`X-Cargo-Built-Using`). Reaches the distribution's archive, hence `online_`; where
//! `apt-get` or the packages are not available it says so and passes without checking (under
//! CI the Cargo-built listing must be there).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PACKAGES: &[&str] = &["ripgrep", "fd-find", "hexyl"];

/// Downloads `packages` (names, or `NAME=VERSION`) and unpacks them into `dir/root`; `Err` says
/// why it could not.
fn fetch<S: AsRef<std::ffi::OsStr>>(dir: &Path, packages: &[S]) -> Result<(), String> {
    let out = Command::new("apt-get")
        .arg("download")
        .args(packages)
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

/// `cargo share audit --json ROOT`'s `audit-finished` record.
fn audit(root: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-share"))
        .args(["audit", "--json"])
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["reason"] == "audit-finished")
        .expect("audit-finished record")
}

#[test]
fn online_debian_packages_are_audited_from_their_panic_paths() {
    let scratch = tempfile::tempdir().unwrap();
    if let Err(why) = fetch(scratch.path(), PACKAGES) {
        eprintln!("skipped: Debian's packages could not be fetched here: {why}");
        return;
    }
    let report = audit(&scratch.path().join("root"));
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

/// Every package apt's lists mark as built by Cargo (`X-Cargo-Built-Using`): `(name, version,
/// size)`, one per name (the first record of each), by name.
fn cargo_built_packages() -> Result<Vec<(String, String, u64)>, String> {
    let out = Command::new("apt-cache")
        .arg("dumpavail")
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = std::collections::BTreeMap::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        if field("X-Cargo-Built-Using").is_none() {
            continue;
        }
        if let (Some(name), Some(version), Some(size)) =
            (field("Package"), field("Version"), field("Size"))
        {
            found
                .entry(name)
                .or_insert((version, size.parse().unwrap_or(u64::MAX)));
        }
    }
    Ok(found.into_iter().map(|(n, (v, s))| (n, v, s)).collect())
}

/// The packages apt's own lists mark as built by Cargo are found there, and the smallest few,
/// downloaded by name and version, are audited: each is Rust, its compiler named, and sharing
/// their common crates saves something (`scripts/debian-rust-programs.sh` audits 30 this way
/// for the book's results).
#[test]
fn online_debian_packages_built_by_cargo_are_listed_and_audited() {
    let packages = match cargo_built_packages() {
        Ok(p) if !p.is_empty() => p,
        other if std::env::var_os("CI").is_some() => panic!("apt-cache under CI: {other:?}"),
        other => {
            eprintln!("skipped: no apt package lists here: {other:?}");
            return;
        }
    };
    // bookworm marks about 60; any Debian since has more.
    assert!(packages.len() >= 30, "{packages:?}");
    let mut smallest = packages.clone();
    smallest.sort_by_key(|(_, _, size)| *size);
    smallest.truncate(5);
    let scratch = tempfile::tempdir().unwrap();
    let names: Vec<String> = smallest
        .iter()
        .map(|(n, v, _)| format!("{n}={v}"))
        .collect();
    fetch(scratch.path(), &names).unwrap();
    let report = audit(&scratch.path().join("root"));
    let binaries = report["binaries"].as_array().unwrap();
    // Each package holds at least one Rust binary, compiler named.
    assert!(binaries.len() >= smallest.len(), "{report:#}");
    for b in binaries {
        assert!(b["rustc"].is_string(), "{b:#}");
    }
    let projection = &report["projection"];
    assert_eq!(
        projection["binaries"].as_u64().unwrap() as usize,
        binaries.len()
    );
    // At least libstd is common to all of them.
    assert!(
        projection["saving_bytes"].as_u64().unwrap() > 0,
        "{projection:#}"
    );
}
