//! Step 4 of a build: the Cargo invocations of a prepared build, run with cargo-share as
//! `RUSTC_WRAPPER`, and the lockfiles a patched build rewrites put back afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::build::cargo_stderr::{CopiedPackage, StderrForwarding};
use crate::build::prepare::PreparedBuild;
use crate::build::sandbox;
use crate::build::test_only;
use crate::shell::Shell;
use crate::source;
use crate::source::ProgramSource;
use cargo_share_compile::plan::PLAN_ENV;
use cargo_share_compile::profile;
use cargo_share_compile::user_wrapper::{self, USER_WRAPPER_ENV};

/// Puts lockfiles back as they were when dropped (a patched build rewrites them).
pub(crate) struct LockRestore(Vec<(PathBuf, Option<Vec<u8>>)>);

impl LockRestore {
    pub(crate) fn save(roots: impl Iterator<Item = PathBuf>) -> Self {
        LockRestore(
            roots
                .map(|r| r.join("Cargo.lock"))
                .map(|l| {
                    let text = std::fs::read(&l).ok();
                    (l, text)
                })
                .collect(),
        )
    }
}

impl Drop for LockRestore {
    fn drop(&mut self) {
        for (path, text) in &self.0 {
            match text {
                Some(t) => {
                    let _ = std::fs::write(path, t);
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// What Cargo command to run per workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CargoVerb {
    Build,
    Test,
}

impl PreparedBuild {
    /// The Cargo invocations of this build: (workspace, programs built together).
    pub fn invocations(&self) -> Vec<(usize, Vec<usize>)> {
        let mut out = Vec::new();
        for (wi, ws) in self.graph.workspaces.iter().enumerate() {
            let programs = self.programs_of_workspace(wi);
            if ws.build_programs_alone || self.builds_programs_apart(wi) {
                out.extend(programs.into_iter().map(|p| (wi, vec![p])));
            } else {
                out.push((wi, programs));
            }
        }
        out
    }

    pub(crate) fn program_names(&self, programs: &[usize]) -> Vec<String> {
        programs
            .iter()
            .map(|&p| {
                let p = &self.graph.programs[p];
                format!("{} v{}", p.name, p.version)
            })
            .collect()
    }

    pub(crate) fn cargo(
        &self,
        verb: CargoVerb,
        workspace: usize,
        programs: &[usize],
        shell: &Shell,
    ) -> anyhow::Result<Command> {
        let ws = &self.graph.workspaces[workspace];
        let mut cmd = source::cargo_command();
        cmd.arg(match verb {
            CargoVerb::Build => "build",
            CargoVerb::Test => "test",
        });
        cmd.args(["--release", "--target", &self.toolchain.host]);
        cmd.arg("--manifest-path").arg(&ws.manifest_path);
        // By package id: a program may share its name and version with a library another
        // program depends on from the registry (fd-find and lscolors 0.13.0), which makes
        // `NAME@VERSION` name two packages.
        for &p in programs {
            cmd.args(["-p", &self.graph.programs[p].package_id.repr]);
        }
        // Exactly the features of the programs this invocation builds.
        let names: Vec<&str> = programs
            .iter()
            .map(|&p| self.graph.programs[p].name.as_str())
            .collect();
        cmd.args(self.options.features.cargo_args(&names));
        cmd.arg("--message-format").arg("json-render-diagnostics");
        if self.options.patches.is_empty() && (self.options.locked || self.set.is_some()) {
            cmd.arg("--locked");
        }
        for (i, patch) in self.options.patches.iter().enumerate() {
            let key = format!("patch.crates-io.cargo-share-patch-{i}");
            cmd.arg("--config")
                .arg(format!("{key}.path=\"{}\"", patch.path.display()));
            cmd.arg("--config")
                .arg(format!("{key}.package=\"{}\"", patch.name));
        }
        // `cargo test -q` would hide the "Running" lines that attribute test results to programs;
        // the output is filtered here instead.
        if shell.quiet && verb != CargoVerb::Test {
            cmd.arg("-q");
        }
        // Not for tests: their output is read (`Running` lines say which program's tests run).
        if verb == CargoVerb::Build {
            for _ in 0..shell.verbose.min(2) {
                cmd.arg("-v");
            }
        }
        if let Some(j) = self.options.jobs {
            cmd.arg("-j").arg(j.to_string());
        }
        match verb {
            CargoVerb::Test => cmd
                .arg("--no-fail-fast")
                .env(cargo_share_compile::wrapper::UNOPTIMISED_TESTS_ENV, "1"),
            // One program that fails does not stop the others (`build::failures`).
            CargoVerb::Build => cmd.arg("--keep-going"),
        };
        cmd.args(self.options.shared_profile.cargo_config_args());
        if verb == CargoVerb::Test {
            let programs: Vec<&cargo_metadata::PackageId> = self
                .graph
                .programs
                .iter()
                .filter(|p| p.workspace == workspace)
                .map(|p| &p.package_id)
                .collect();
            let test_only = test_only::test_only_packages(&ws.metadata, &programs);
            cmd.args(test_only::unoptimised_profile_args(&test_only));
        }
        // C and C++ code that build scripts compile (through the `cc` crate, which reads these)
        // gets the same path remapping as Rust code, so `-sys` dylibs are reproducible too.
        let plan_remaps = [
            (ws.root.clone(), "/src".to_string()),
            (source::cargo_home().unwrap_or_default(), "/cargo".into()),
            (self.target_dir.clone(), "/target".into()),
        ];
        for var in ["CFLAGS", "CXXFLAGS"] {
            let mut flags = std::env::var(var).unwrap_or_default();
            for (from, to) in &plan_remaps {
                flags.push_str(&format!(" -ffile-prefix-map={}={to}", from.display()));
            }
            cmd.env(var, flags.trim_start());
        }
        // The user's own rustc wrapper (sccache) is chained behind cargo-share's, for the
        // compiles it can cache. A workspace wrapper is not: Cargo would put it between
        // cargo-share and rustc for the programs' own crates (book: docs/src/guide/sccache.md).
        let self_exe = std::env::current_exe().unwrap_or_default();
        let cwd = std::env::current_dir().unwrap_or_default();
        let user = user_wrapper::detect(
            |var| std::env::var_os(var),
            &cwd,
            &source::cargo_home().unwrap_or_default(),
            &self_exe,
        );
        let writable = self.writable(&ws.root, user.as_deref(), programs);
        match user {
            Some(wrapper) => cmd.env(USER_WRAPPER_ENV, wrapper),
            None => cmd.env_remove(USER_WRAPPER_ENV),
        };
        cmd.env("RUSTC_WRAPPER", self_exe)
            .env("RUSTC_WORKSPACE_WRAPPER", "")
            .env(PLAN_ENV, self.plan_file.path())
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER")
            // Nothing a build runs needs to know where the store is.
            .env_remove("CARGO_SHARE_STORE")
            .stdout(Stdio::piped());
        sandbox::confine(&mut cmd, &writable, shell)?;
        Ok(cmd)
    }

    /// Where a build of `programs` of the workspace at `root` may write (`build::sandbox`),
    /// with the user's chained rustc `wrapper`'s cache. A program built alone may write into
    /// its own package directory, as `cargo install` lets it.
    fn writable(
        &self,
        root: &Path,
        wrapper: Option<&Path>,
        programs: &[usize],
    ) -> sandbox::Writable {
        let mut extra: Vec<PathBuf> = self
            .options
            .unit_log
            .iter()
            .filter_map(|log| log.parent().map(Path::to_path_buf))
            .collect();
        extra.extend(wrapper.and_then(sandbox::wrapper_cache));
        extra.extend(self.own_package_dirs(programs));
        sandbox::Writable {
            target_dir: self.target_dir.clone(),
            cargo_home: source::cargo_home().unwrap_or_default(),
            lockfile: Some(root.join("Cargo.lock")),
            extra,
        }
    }

    /// Whether the programs of workspace `wi` are built (and tested) by a Cargo command each
    /// although they could be built together: where builds are confined, so that a build
    /// script may write into its own program's package directory only (`build::sandbox`), and
    /// the workspace has the reuse member, which makes one program built alone resolve the
    /// features the whole set's build does (`resolve::set::reuse_member`). Without it (`--layout
    /// per-crate`) the programs are built together, features unified, and no program's
    /// directory is writable.
    pub(crate) fn builds_programs_apart(&self, wi: usize) -> bool {
        let md = &self.graph.workspaces[wi].metadata;
        sandbox::confines_builds()
            && md
                .packages
                .iter()
                .any(|p| p.name.as_str() == crate::resolve::set::reuse_member::REUSE_PACKAGE)
    }

    /// The package directories a confined Cargo command of `programs` may write (and so may
    /// find changed after it): its one program's own, none for several or unconfined.
    pub(crate) fn own_package_dirs(&self, programs: &[usize]) -> Vec<PathBuf> {
        match programs {
            [one] if sandbox::confines_builds() => self.package_dir(*one).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The graph's programs of workspace `wi` (indexes into `graph.programs`).
    pub(crate) fn programs_of_workspace(&self, wi: usize) -> Vec<usize> {
        (0..self.graph.programs.len())
            .filter(|&i| self.graph.programs[i].workspace == wi)
            .collect()
    }

    /// The copies of `programs` in their set workspaces, with the directories they were copied
    /// from (none for a program built where it is).
    /// How `base` forwards what a Cargo run about `programs` says: their copies named by their
    /// originals, cargo-share's cache never named.
    pub(crate) fn user_facing(
        &self,
        base: &StderrForwarding,
        programs: &[usize],
    ) -> StderrForwarding {
        let forwarding = base.with_copies(self.copied_packages(programs));
        match self
            .options
            .cache()
            .and_then(|cache| Ok(std::path::absolute(cache)?))
        {
            Ok(cache) => forwarding.hiding(cache),
            Err(_) => forwarding,
        }
    }

    pub(crate) fn copied_packages(&self, programs: &[usize]) -> Vec<CopiedPackage> {
        let members = self
            .set
            .iter()
            .chain(&self.later_sets)
            .flat_map(|s| &s.members);
        let fetched_sources = self
            .options
            .cache()
            .and_then(|cache| Ok(std::path::absolute(cache)?))
            .map(|cache| cache.join("sources"));
        let mut copies = Vec::new();
        for &index in programs {
            let program = &self.graph.programs[index];
            let root = &self.graph.workspaces[program.workspace].root;
            let Some(copy) = self.package_dir(index) else {
                continue;
            };
            let member = members
                .clone()
                .find(|m| m.name == program.name && m.version == program.version);
            if let (Some(member), Ok(inside)) = (member, copy.strip_prefix(root)) {
                if member.package_dir != copy {
                    copies.push(CopiedPackage {
                        copy_in_workspace: inside.to_path_buf(),
                        original: member.package_dir.clone(),
                        fetched: fetched_sources
                            .as_ref()
                            .is_ok_and(|dir| member.package_dir.starts_with(dir)),
                        copy,
                    });
                }
            }
        }
        copies
    }

    /// The directory of the graph's program `index`'s package (its copy in a set workspace).
    pub(crate) fn package_dir(&self, index: usize) -> Option<PathBuf> {
        let program = &self.graph.programs[index];
        let md = &self.graph.workspaces[program.workspace].metadata;
        md.packages
            .iter()
            .find(|p| p.id == program.package_id)
            .and_then(|p| p.manifest_path.parent())
            .map(|d| d.as_std_path().to_path_buf())
    }

    /// Say which profile settings of the programs the shared build overrides: a warning for a
    /// local program, a status line for one from crates.io.
    pub(crate) fn report_overrides(&self, shell: &Shell) {
        let registry = |p: &ProgramSource, name: &String| {
            matches!(p, ProgramSource::Registry(spec) | ProgramSource::OtherRegistry(spec, _)
                if &spec.name == name)
        };
        let from_registry = |name: &String| {
            self.options.programs.iter().any(|p| registry(p, name))
                || self
                    .options
                    .installed
                    .iter()
                    .any(|m| registry(&m.source, name))
        };
        for (root, names) in &self.origins {
            let manifest = root.join("Cargo.toml");
            for o in profile::overridden_settings(&manifest) {
                let what = format!("{}: {}", names.join(", "), o.setting);
                // A program from crates.io: its profile is nothing the user can change, so it
                // is said, not warned about (as `cargo install` caps its lints).
                if names.iter().all(from_registry) {
                    shell.status("Overriding", format!("{what}: {}", o.reason));
                } else {
                    shell.warn(format!("{what} overridden: {}", o.reason));
                }
            }
        }
    }

    /// Where Cargo puts target binaries and dylibs.
    pub(crate) fn deps_dir(&self) -> PathBuf {
        self.release_dir().join("deps")
    }

    pub(crate) fn release_dir(&self) -> PathBuf {
        self.target_dir.join(&self.toolchain.host).join("release")
    }
}
