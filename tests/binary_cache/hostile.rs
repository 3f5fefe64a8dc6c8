//! A hostile cache: artifacts crafted and signed with the trusted key (`ci`), and registries that
//! misbehave (a proxy in front of the real one, `common::fake_http`). Every refusal leaves the
//! pulling store and root as they were.

use super::*;
use cargo_share::cache::artifact::{
    fetch_verified, prepare, upload, ENTRY_ARTIFACT, PROGRAM_ARTIFACT,
};
use cargo_share::cache::keys::{PublicKey, SecretKey};

/// The artifact `repository:tag` as pushed, its config changed by `change`, signed again with
/// the trusted key `ci` as `signed_tag` and stored under `tag`.
fn forge(
    registry: &Registry,
    repository: &str,
    tag: &str,
    signed_tag: &str,
    artifact_type: &str,
    change: impl FnOnce(&mut serde_json::Value),
) {
    let (client, _) = registry_client(registry);
    let keys = &source().keys;
    let trusted = [PublicKey::read(&keys.join("ci.pub")).unwrap()];
    let verified = fetch_verified(&client, repository, tag, None, artifact_type, &trusted, "t")
        .unwrap()
        .unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&verified.config).unwrap();
    change(&mut config);
    let key = SecretKey::read(&keys.join("ci.secret")).unwrap();
    let config = serde_json::to_vec(&config).unwrap();
    let prepared = prepare(artifact_type, signed_tag, config, verified.files, &key).unwrap();
    upload(&client, repository, &[tag], &prepared).unwrap();
}

/// Paths under `dir` whose name contains `part`.
fn named(dir: &std::path::Path, part: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name().unwrap().to_string_lossy().contains(part) {
                found.push(p.clone());
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

/// The store's entry of `package` (its package name, not `std`) and its identity.
fn lib_entry() -> (String, String) {
    let line = source()
        .env
        .entries()
        .into_iter()
        .find(|l| !l.starts_with("std "))
        .unwrap();
    let (package, id) = line.split_once(' ').unwrap();
    (package.to_string(), id.to_string())
}

#[test]
fn names_and_versions_with_paths_signed_by_a_trusted_key_are_refused() {
    let Some(registry) =
        registry("names_and_versions_with_paths_signed_by_a_trusted_key_are_refused")
    else {
        return;
    };
    let url = CacheUrl::parse(&registry.url("team/cache")).unwrap();
    let (package, id) = lib_entry();
    let entries = url.repository("entries", &package);
    let programs = url.repository("programs", "lto-one");
    type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, &str, &str, Change, &str)> = vec![
        (
            "a program version with ../",
            &programs,
            PROGRAM_ARTIFACT,
            Box::new(|c| c["program"]["version"] = "../../../escaped".into()),
            "is not a semver version",
        ),
        (
            "an entry package with ../",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["package"] = "../../../escaped".into()),
            "is not a Cargo package name",
        ),
        (
            "an entry version with /",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["version"] = "1.0.0/../../../escaped".into()),
            "is not a semver version",
        ),
        (
            "an entry version its inputs do not give",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["version"] = "9.9.9".into()),
            "does not match its identity inputs",
        ),
    ];
    run_ok(&mut push(&registry));
    let (client, _) = registry_client(&registry);
    for (case, repository, artifact_type, change, expected) in cases {
        let tag = if artifact_type == ENTRY_ARTIFACT {
            &id
        } else {
            "latest"
        };
        let original = client.get_manifest(repository, tag).unwrap().unwrap();
        forge(&registry, repository, tag, tag, artifact_type, change);
        let env = Env::new();
        let err = fails(&mut pull(&env, &registry.url("team/cache"), "ci"));
        assert!(err.contains(expected), "{case}: {err}");
        nothing_installed(&env);
        let escaped = named(&env.base, "escaped");
        assert!(escaped.is_empty(), "{case}: {escaped:?}");
        assert!(
            named(&env.base, "9.9.9").is_empty(),
            "{case}: an entry with a version its inputs do not give was written"
        );
        let media_type = "application/vnd.oci.image.manifest.v1+json";
        client
            .put_manifest(repository, tag, media_type, &original)
            .unwrap();
    }
}
