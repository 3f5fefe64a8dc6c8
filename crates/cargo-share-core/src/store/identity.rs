//! Store identities of crate builds.
//!
//! Cargo's file-name hash is not a content identity (book:
//! docs/src/concepts/how-it-works.md): for a path crate it
//! does not change when the sources do, and it says nothing of what a build script produced. A
//! [`CrateIdentity`] is a SHA-256 over everything that shaped a crate build's bytes (the exact
//! definition is in ARCHITECTURE.md, "Store identity"):
//!
//! * a version tag for this definition and [`WRAPPER_ABI`], the version of the wrapper's rewriting;
//! * the full `rustc -vV` output and the target triple;
//! * the library's file name (which carries Cargo's hash of package, version, source, features,
//!   profile and dependencies' hashes);
//! * the unit record the wrapper wrote ([`cargo_share_compile::unit_record::UnitRecord`]): crate and package name,
//!   version, the normalized rustc arguments (cfgs and features, codegen flags, edition, crate
//!   types), SHA-256 of every source file rustc read and of every file in the build script's
//!   `OUT_DIR`;
//! * the identities of its dependencies (every `--extern` that is itself a shared crate build).
//!
//! The toolchain's libstd is identified by its file name, `rustc -vV` and its SHA-256; the
//! run-time libstd a build relinked from the toolchain's rlibs also by its export list.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use cargo_share_compile::digest::{file_sha256, hex};
use cargo_share_compile::unit_record::WRAPPER_ABI;
use cargo_share_compile::unit_record::{UnitRecord, UNIT_RECORD_SUFFIX};
use cargo_share_compile::{elf, saved_link};

const IDENTITY_TAG: &str = "cargo-share crate identity v1";

/// The identity of one crate build (or of the toolchain's libstd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateIdentity {
    /// Hex SHA-256: the identity itself.
    pub hash: String,
    /// The library's file name (`libregex-<cargo hash>.so`), which is its `DT_NEEDED` name.
    pub file: String,
    pub package: String,
    pub version: String,
    /// Identities of the shared crate builds it was compiled against.
    pub dependencies: Vec<String>,
    /// What the hash is computed from, so that another machine (a binary cache's puller) can
    /// compute it again; absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<IdentityInputs>,
}

/// Everything an identity hashes, in the order it hashes it ("Store identity" in
/// ARCHITECTURE.md). Text where the hash covers bytes of a file (unit record, export lists),
/// exactly as hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum IdentityInputs {
    /// The toolchain's libstd (its `dev/` copy is the toolchain's file, `file_sha256`).
    Toolchain {
        file: String,
        rustc_version: String,
        target: String,
        file_sha256: String,
        /// The relinked run-time copy's export list, format line first.
        exports: Option<String>,
    },
    /// A crate build (or a group).
    Crate {
        wrapper_abi: String,
        lib_paths_format: String,
        rustc_version: String,
        target: String,
        file: String,
        /// The unit record's JSON as hashed.
        unit_record: String,
        dependencies: Vec<String>,
        /// Identities of the static members of a group.
        contained: Vec<String>,
        /// A trimmed group's export list.
        exports: Option<String>,
    },
}

impl IdentityInputs {
    /// The identity (hex SHA-256) these inputs give.
    pub fn hash(&self) -> String {
        fn part(h: &mut Sha256, bytes: &[u8]) {
            h.update(bytes);
            h.update([0]);
        }
        let mut h = Sha256::new();
        match self {
            IdentityInputs::Toolchain {
                file,
                rustc_version,
                target,
                file_sha256,
                exports,
            } => {
                for p in [IDENTITY_TAG, "toolchain", file, rustc_version, target] {
                    part(&mut h, p.as_bytes());
                }
                // The file's hash follows with no separator (as identities were first defined).
                h.update(file_sha256.as_bytes());
                if let Some(list) = exports {
                    h.update(b"relinked exports ");
                    part(&mut h, list.as_bytes());
                }
            }
            IdentityInputs::Crate {
                wrapper_abi,
                lib_paths_format,
                rustc_version,
                target,
                file,
                unit_record,
                dependencies,
                contained,
                exports,
            } => {
                for p in [
                    IDENTITY_TAG,
                    wrapper_abi,
                    lib_paths_format,
                    rustc_version,
                    target,
                    file,
                ] {
                    part(&mut h, p.as_bytes());
                }
                h.update(unit_record.as_bytes());
                for d in dependencies {
                    part(&mut h, d.as_bytes());
                }
                for c in contained {
                    h.update(b"contains ");
                    part(&mut h, c.as_bytes());
                }
                if let Some(list) = exports {
                    h.update(b"exports ");
                    part(&mut h, list.as_bytes());
                }
            }
        }
        hex(h.finalize().as_slice())
    }
}

/// An export list, as text (the identity hashes its bytes).
fn read_list(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

impl CrateIdentity {
    /// Short form used in store paths.
    pub(crate) fn short(&self) -> &str {
        &self.hash[..16]
    }
}

/// Computes identities for the libraries of one build.
pub(crate) struct IdentityResolver {
    rustc_version: String,
    target: String,
    deps_dir: PathBuf,
    std_libdir: PathBuf,
    /// The export list of the relinked run-time libstd (`build::std_relink`), when the build
    /// made one.
    std_exports: Option<PathBuf>,
    memo: BTreeMap<String, CrateIdentity>,
}

impl IdentityResolver {
    pub(crate) fn new(
        rustc_version: String,
        target: String,
        deps_dir: PathBuf,
        std_libdir: PathBuf,
    ) -> Self {
        IdentityResolver {
            rustc_version,
            target,
            deps_dir,
            std_libdir,
            std_exports: None,
            memo: BTreeMap::new(),
        }
    }

    /// The toolchain's libstd is the relinked copy whose export list (format line first) is
    /// `list`: its identity covers the list, so sets that export differently never share an
    /// entry.
    pub(crate) fn with_relinked_std(mut self, list: Option<PathBuf>) -> Self {
        self.std_exports = list;
        self
    }

    /// Every identity computed so far (the requested libraries and their dependencies).
    pub(crate) fn known(&self) -> impl Iterator<Item = &CrateIdentity> {
        self.memo.values()
    }

    /// The identity of the library with file name `file` (found in the deps dir or the
    /// toolchain's libdir).
    pub(crate) fn identify(&mut self, file: &str) -> Result<CrateIdentity> {
        if let Some(id) = self.memo.get(file) {
            return Ok(id.clone());
        }
        let id = self.compute(file, &mut Vec::new())?;
        Ok(id)
    }

    fn compute(&mut self, file: &str, stack: &mut Vec<String>) -> Result<CrateIdentity> {
        if let Some(id) = self.memo.get(file) {
            return Ok(id.clone());
        }
        if stack.iter().any(|f| f == file) {
            bail!("dependency cycle through {file}");
        }
        let std_path = self.std_libdir.join(file);
        let id = if std_path.is_file() && !self.deps_dir.join(file).is_file() {
            let exports = match &self.std_exports {
                None => None,
                Some(list) => Some(read_list(list).with_context(|| {
                    format!(
                        "reading the export list of the relinked {file} ({}); build again",
                        list.display()
                    )
                })?),
            };
            let inputs = IdentityInputs::Toolchain {
                file: file.to_string(),
                rustc_version: self.rustc_version.clone(),
                target: self.target.clone(),
                file_sha256: file_sha256(&std_path)?,
                exports,
            };
            let version = cargo_share_compile::toolchain::release_of(&self.rustc_version)
                .unwrap_or("")
                .to_string();
            CrateIdentity {
                hash: inputs.hash(),
                file: file.to_string(),
                package: "std".into(),
                version,
                dependencies: Vec::new(),
                inputs: Some(inputs),
            }
        } else {
            let stem = file
                .strip_suffix(".so")
                .or_else(|| file.strip_suffix(".rlib"))
                .unwrap_or(file);
            let record_path = self.deps_dir.join(format!("{stem}{UNIT_RECORD_SUFFIX}"));
            let text = std::fs::read_to_string(&record_path).with_context(|| {
                format!(
                    "{file} has no cargo-share unit record ({}); rebuild it with cargo share",
                    record_path.display()
                )
            })?;
            let record: UnitRecord = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", record_path.display()))?;
            stack.push(file.to_string());
            let mut dependencies = Vec::new();
            // Static crates linked into this library (a group's members, grouped layout):
            // their identities are part of its own, but they are not entries of their own.
            let mut contained = Vec::new();
            for dep in &record.extern_stems {
                let dep_file = format!("{dep}.so");
                // A `.so` next to an rlib may be a declared `cdylib` (grouped layout): only a
                // Rust dylib is a dependency entry.
                if elf::is_rust_dylib(&self.deps_dir.join(&dep_file)) {
                    dependencies.push(self.compute(&dep_file, stack)?.hash);
                } else if self
                    .deps_dir
                    .join(format!("{dep}{UNIT_RECORD_SUFFIX}"))
                    .is_file()
                {
                    contained.push(self.compute(&format!("{dep}.rlib"), stack)?.hash);
                }
            }
            stack.pop();
            dependencies.sort();
            contained.sort();
            // A trimmed group (grouped layout) exports only what its set imports: that list
            // shaped its run-time bytes.
            let exports = saved_link::saved_link_dir(&self.deps_dir.join(file))
                .join(saved_link::TRIMMED_EXPORTS_FILE);
            let exports = if exports.is_file() {
                Some(read_list(&exports)?)
            } else {
                None
            };
            let inputs = IdentityInputs::Crate {
                wrapper_abi: WRAPPER_ABI.to_string(),
                lib_paths_format: crate::build::lib_paths::LIB_PATHS_FORMAT.to_string(),
                rustc_version: self.rustc_version.clone(),
                target: self.target.clone(),
                file: file.to_string(),
                unit_record: serde_json::to_string(&record)?,
                dependencies: dependencies.clone(),
                contained,
                exports,
            };
            CrateIdentity {
                hash: inputs.hash(),
                file: file.to_string(),
                package: record.package.clone(),
                version: record.version.clone(),
                dependencies,
                inputs: Some(inputs),
            }
        };
        self.memo.insert(file.to_string(), id.clone());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn record(name: &str, externs: &[&str], source_digest: &str) -> UnitRecord {
        UnitRecord {
            crate_name: name.into(),
            package: name.into(),
            version: "1.0.0".into(),
            source_files: vec![("/package/src/lib.rs".into(), source_digest.into())],
            out_dir_files: vec![],
            extern_stems: externs.iter().map(|s| s.to_string()).collect(),
            normalized_args: vec!["--crate-name".into(), name.into()],
        }
    }

    fn write(deps: &Path, stem: &str, r: &UnitRecord) {
        // A real Rust dylib (with `.rustc`): the toolchain's libstd stands in.
        std::fs::copy(std_dylib(), deps.join(format!("{stem}.so"))).unwrap();
        std::fs::write(
            deps.join(format!("{stem}{UNIT_RECORD_SUFFIX}")),
            serde_json::to_string(r).unwrap(),
        )
        .unwrap();
    }

    fn std_dylib() -> PathBuf {
        let toolchain = cargo_share_compile::toolchain::Toolchain::detect().unwrap();
        toolchain.libstd().expect("libstd-*.so in the toolchain")
    }

    /// A resolver over `dir/deps` (unit records) and `dir/std` (toolchain libraries).
    fn test_resolver(dir: &Path) -> IdentityResolver {
        IdentityResolver::new(
            "rustc 1.95.0".into(),
            "x86_64".into(),
            dir.join("deps"),
            dir.join("std"),
        )
    }

    #[test]
    fn identity_follows_sources_and_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let resolver = || test_resolver(dir.path());
        write(&deps, "liba-1", &record("a", &[], "s1"));
        write(&deps, "libb-2", &record("b", &["liba-1"], "s2"));
        let b1 = resolver().identify("libb-2.so").unwrap();
        let a1 = resolver().identify("liba-1.so").unwrap();
        assert_eq!(b1.dependencies, vec![a1.hash.clone()]);
        assert_eq!(
            b1,
            resolver().identify("libb-2.so").unwrap(),
            "deterministic"
        );

        // A change in a dependency's sources changes the dependent's identity, though neither
        // file name changed (what Cargo's hash misses for path crates).
        write(&deps, "liba-1", &record("a", &[], "s1-changed"));
        let b2 = resolver().identify("libb-2.so").unwrap();
        assert_ne!(b1.hash, b2.hash);
        assert_eq!(b1.file, b2.file);

        // Another compiler is another identity.
        let other = IdentityResolver::new(
            "rustc 1.96.0".into(),
            "x86_64".into(),
            deps.clone(),
            dir.path().join("std"),
        )
        .identify("libb-2.so")
        .unwrap();
        assert_ne!(other.hash, b2.hash);

        let err = resolver().identify("libmissing-3.so").unwrap_err();
        assert!(format!("{err:#}").contains("no cargo-share unit record"));
    }

    #[test]
    fn a_relinked_libstd_identity_covers_its_export_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("std")).unwrap();
        std::fs::write(dir.path().join("std/libstd-1.so"), b"stock").unwrap();
        let list = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            Some(path)
        };
        let id = |exports: Option<PathBuf>| {
            test_resolver(dir.path())
                .with_relinked_std(exports)
                .identify("libstd-1.so")
                .unwrap()
        };
        let stock = id(None);
        let used = id(list("a", "# format\nalloc\nstdout\n"));
        let same = id(list("b", "# format\nalloc\nstdout\n"));
        let more = id(list("c", "# format\nalloc\nstdout\nstderr\n"));
        assert_eq!(used, same, "the same list is the same entry");
        assert_ne!(stock.hash, used.hash);
        assert_ne!(used.hash, more.hash, "another export list is another entry");
        assert_eq!(
            (used.file.as_str(), used.package.as_str()),
            ("libstd-1.so", "std")
        );
    }

    #[test]
    fn a_group_identity_covers_its_static_members() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let resolver = || test_resolver(dir.path());
        // A member rlib has a record but no .so: it is contained, not a dependency.
        let member = |digest: &str| {
            std::fs::write(
                deps.join(format!("libm-1{UNIT_RECORD_SUFFIX}")),
                serde_json::to_string(&record("m", &[], digest)).unwrap(),
            )
            .unwrap();
        };
        member("m1");
        write(&deps, "libgroup-9", &record("group", &["libm-1"], "g"));
        let g1 = resolver().identify("libgroup-9.so").unwrap();
        assert!(g1.dependencies.is_empty(), "{g1:?}");
        member("m1-changed");
        let g2 = resolver().identify("libgroup-9.so").unwrap();
        assert_ne!(g1.hash, g2.hash, "a member's sources are part of the group");
    }
}
