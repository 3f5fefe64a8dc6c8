//! `cargo share bench`'s update cost on the update fixture (two programs sharing `fixlib` from a
//! directory source standing in for crates.io): the bench chooses a body-only fix and a fix to a
//! generic function itself, from the build's symbols, and reports what each layout ships.

mod common;

use common::*;

#[test]
fn bench_update_cost_separates_body_only_and_generic_fixes() {
    let (_scratch, base) = scratch_with_directory_source("update/registry");
    let work = base.join("work");
    let out = run_ok(
        cargo_share(&base)
            .current_dir(&base)
            .args([
                "bench", "--json", "-q", "--runs", "2", "--layout", "grouped",
            ])
            .args(["--update-crate", "fixlib", "--manifest-path"])
            .arg(fixture("update/fix-one"))
            .arg("--manifest-path")
            .arg(fixture("update/fix-two"))
            .arg("--work")
            .arg(&work),
    );
    let report: serde_json::Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["reason"] == "bench-finished")
        .expect("a bench-finished record");
    let update = &report["update"];
    assert_eq!(update["crate_name"], "fixlib", "{report}");
    let fixes = update["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 2, "both kinds measured: {update}");
    let variant = |fix: &serde_json::Value, name: &str| -> (u64, u64, u64) {
        let v = fix["per_variant"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["variant"].as_str().unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {fix}"));
        (
            v["files"].as_u64().unwrap(),
            v["total_files"].as_u64().unwrap(),
            v["identical_files"].as_u64().unwrap(),
        )
    };

    // Body-only: the non-inlined, non-generic `checksum`, called by both programs through
    // fixuser. Static ships both binaries; grouped ships only the group holding fixlib, and
    // both binaries and libstd come out byte-identical.
    let body = &fixes[0];
    assert_eq!(body["kind"], "body-only");
    assert_eq!(body["function"], "fixlib::checksum", "{body}");
    assert!(body["source"].as_str().unwrap().starts_with("src/lib.rs:"));
    assert_eq!(variant(body, "static"), (2, 2, 0));
    let (files, total, identical) = variant(body, "shared grouped");
    assert_eq!(files, 1, "{body}");
    assert_eq!(identical, total - 1);
    assert!(total >= 4, "two binaries, a group and libstd: {body}");

    // Inlined or generic: `scale` (`#[inline(always)]`) or `largest` (generic) are inlined into
    // fix-one's `main`, leaving no symbol: the first public one in the sources is fixed. Only
    // fix-one's binary ships, static and grouped alike: fix-two's code is the same (static,
    // Cargo gave the fixed crate new symbol names, but those are gone once stripped; the
    // stripped copies get build-ids of their own bytes), and so is the group holding fixlib.
    let generic = &fixes[1];
    assert_eq!(generic["kind"], "inlined-or-generic");
    let function = generic["function"].as_str().unwrap();
    assert!(
        function.starts_with("fixlib::largest") || function == "fixlib::scale",
        "{generic}"
    );
    assert_eq!(variant(generic, "static"), (1, 2, 1), "{generic}");
    assert_eq!(variant(generic, "shared grouped").0, 1, "{generic}");
}
