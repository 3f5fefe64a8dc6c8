//! `cargo share analyze --generics`: the instances a set compiles into two or more of its
//! files, checked against the files' own symbol tables.

mod common;

use std::path::Path;

use common::{cargo_share, fixture, run_ok};
use object::{Object, ObjectSymbol, SymbolKind};

/// Demangled names (no hashes) of the Rust functions a file defines.
fn defined(file: &Path) -> Vec<String> {
    let data = std::fs::read(file).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    elf.symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.size() > 0)
        .filter_map(|s| rustc_demangle::try_demangle(s.name().ok()?).ok())
        .map(|d| format!("{d:#}"))
        .collect()
}

#[test]
fn instances_compiled_into_several_files_are_listed_with_their_copies() {
    let scratch = tempfile::tempdir().unwrap();
    let out = run_ok(
        cargo_share(scratch.path())
            .args(["analyze", "--generics", "--json", "--manifest-path"])
            .arg(fixture("suite")),
    );
    let record: serde_json::Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["reason"] == "generics-analysis")
        .expect("a generics-analysis record");
    let built = scratch.path().join("cache/analyze-generics");
    let files: Vec<&str> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("bin/hard-a")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with("bin/hard-b")), "{files:?}");
    let instances = record["instances"].as_array().unwrap();
    assert!(instances.len() >= 10, "{record:#}");
    let mut total = 0;
    for i in instances {
        let (copies, bytes) = (i["copies"].as_u64().unwrap(), i["bytes"].as_u64().unwrap());
        assert!(copies >= 2);
        assert_eq!(i["saving_bytes"].as_u64().unwrap(), (copies - 1) * bytes);
        total += i["saving_bytes"].as_u64().unwrap();
    }
    assert_eq!(record["saving_bytes"].as_u64().unwrap(), total);
    // An instance both programs compile: in both binaries' own symbol tables, as reported.
    let drop_error = instances
        .iter()
        .find(|i| i["name"] == "core::ptr::drop_in_place::<std::io::error::Error>")
        .expect("drop_in_place::<io::Error> is compiled more than once");
    assert_eq!(drop_error["defining_crate"], "core");
    assert_eq!(drop_error["generic"], true);
    let holders = files
        .iter()
        .filter(|f| {
            defined(Path::new(f))
                .iter()
                .any(|n| n == "core::ptr::drop_in_place::<std::io::error::Error>")
        })
        .count();
    assert_eq!(drop_error["copies"].as_u64().unwrap(), holders as u64);
    assert!(built.join("bin/hard-a").is_file());

    // The same files read with --from: the same figures, nothing built.
    let again = run_ok(
        cargo_share(scratch.path())
            .args(["analyze", "--generics", "--json", "--from"])
            .arg(built.join("bin"))
            .arg("--from")
            .arg(built.join("lib")),
    );
    let again: serde_json::Value = String::from_utf8_lossy(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["reason"] == "generics-analysis")
        .unwrap();
    assert_eq!(again["saving_bytes"], record["saving_bytes"]);

    // A path without ELF files is an error naming it.
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = cargo_share(scratch.path())
        .args(["analyze", "--generics", "--from"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ELF files under"));
}
