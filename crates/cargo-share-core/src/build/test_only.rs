//! The crates a test run compiles only for the programs' tests, compiled without optimisation.
//!
//! Proving a program (a newcomer adapted to installed versions, an installed program moved to a
//! newcomer's) runs its own test suite, and `cargo test` compiles its dev-dependencies
//! (`proptest`, `insta`, `assert_cmd`, …) with the release profile the shared crates get: they
//! cost as much as the program's own dependencies and are never installed. Those reached only
//! through a dev-dependency of a program, never through a normal or build dependency of any
//! program of the workspace, get `opt-level = 0` for the test run, through Cargo's per-package
//! profile: Cargo then names them as other units (its hash covers the profile), so a program's
//! build never links one, and every crate a program's build needs is compiled for the tests as
//! the build compiles it (the build then finds it fresh). What the tests check is unchanged:
//! the program's binaries and its own library keep the release build.

use std::collections::{BTreeSet, HashMap};

use cargo_metadata::{DependencyKind, Metadata, PackageId};

/// The names of the packages of `metadata`'s resolution that only the tests of workspace members
/// reach: not in the normal or build closure of any of `programs`, and not a workspace member.
/// A name with one version in that closure is not among them.
pub(crate) fn test_only_packages(metadata: &Metadata, programs: &[&PackageId]) -> BTreeSet<String> {
    let Some(resolve) = &metadata.resolve else {
        return BTreeSet::new();
    };
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut built: BTreeSet<&PackageId> = BTreeSet::new();
    let mut todo: Vec<&PackageId> = programs.to_vec();
    while let Some(id) = todo.pop() {
        if !built.insert(id) {
            continue;
        }
        for dep in nodes.get(id).map(|n| n.deps.as_slice()).unwrap_or_default() {
            let builds = dep
                .dep_kinds
                .iter()
                .any(|k| matches!(k.kind, DependencyKind::Normal | DependencyKind::Build));
            if builds {
                todo.push(&dep.pkg);
            }
        }
    }
    let name = |id: &PackageId| metadata[id].name.to_string();
    let built_names: BTreeSet<String> = built.iter().map(|id| name(id)).collect();
    resolve
        .nodes
        .iter()
        .map(|n| &n.id)
        .filter(|id| !metadata.workspace_members.contains(id))
        .map(name)
        .filter(|n| !built_names.contains(n))
        .collect()
}

/// Cargo `--config` arguments that build `packages` without optimisation in the release profile.
pub(crate) fn unoptimised_profile_args(packages: &BTreeSet<String>) -> Vec<String> {
    packages
        .iter()
        .flat_map(|name| {
            [
                "--config".to_string(),
                format!("profile.release.package.\"{name}\".opt-level=0"),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str) -> serde_json::Value {
        serde_json::json!({
            "name": name, "version": "1.0.0", "id": format!("{name} 1.0.0"),
            "source": null, "dependencies": [], "targets": [], "features": {},
            "manifest_path": format!("/w/{name}/Cargo.toml"),
        })
    }

    fn edge(to: &str, kind: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "name": to, "pkg": format!("{to} 1.0.0"),
            "dep_kinds": [{ "kind": kind, "target": null }],
        })
    }

    fn node(name: &str, deps: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({
            "id": format!("{name} 1.0.0"), "deps": deps, "dependencies": [], "features": [],
        })
    }

    /// prog -> lib (normal) -> shared; prog -> probe (build); prog -dev-> tester -> shared,
    /// helper; prog -dev-> lib; reuse (a member) -build-> tester.
    #[test]
    fn only_what_tests_alone_reach_is_test_only() {
        let names = [
            "prog", "lib", "shared", "probe", "tester", "helper", "reuse",
        ];
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "packages": names.iter().map(|n| package(n)).collect::<Vec<_>>(),
            "workspace_members": ["prog 1.0.0", "reuse 1.0.0"],
            "resolve": { "root": null, "nodes": [
                node("prog", vec![edge("lib", None), edge("probe", Some("build")),
                    edge("tester", Some("dev")), edge("lib", Some("dev"))]),
                node("lib", vec![edge("shared", None)]),
                node("shared", vec![]),
                node("probe", vec![]),
                node("tester", vec![edge("shared", None), edge("helper", None)]),
                node("helper", vec![]),
                node("reuse", vec![edge("tester", Some("build"))]),
            ]},
            "target_directory": "/w/target", "version": 1, "workspace_root": "/w",
        }))
        .unwrap();
        let prog = PackageId {
            repr: "prog 1.0.0".into(),
        };
        let test_only = test_only_packages(&metadata, &[&prog]);
        assert_eq!(
            test_only.into_iter().collect::<Vec<_>>(),
            ["helper", "tester"]
        );
        let args = unoptimised_profile_args(&["tester".to_string()].into());
        assert_eq!(
            args,
            ["--config", "profile.release.package.\"tester\".opt-level=0"]
        );
    }
}
