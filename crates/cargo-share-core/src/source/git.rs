//! Programs from a git repository (`install --git URL [--branch B | --tag T | --rev R] [NAME]`),
//! as `cargo install --git` takes them: the repository is cloned with `git` into a scratch
//! directory of the cache, the reference checked out, and the tree (without `.git`) kept as
//! `CACHE/sources/git/URLHASH-COMMIT/`, one directory per commit, never written again. The
//! commit is recorded there (`.cargo-share-git.json`) and with the installed program, so a later
//! install builds exactly that commit again.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::shell::Shell;
use crate::source::fetch::{copy_tree, scratch_dir};
use cargo_share_compile::digest::sha256_hex;

/// Which commit of the repository: as `cargo install` has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitReference {
    /// The remote's default branch.
    DefaultBranch,
    Branch(String),
    Tag(String),
    Rev(String),
}

impl std::fmt::Display for GitReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitReference::DefaultBranch => f.write_str("its default branch"),
            GitReference::Branch(b) => write!(f, "branch {b}"),
            GitReference::Tag(t) => write!(f, "tag {t}"),
            GitReference::Rev(r) => write!(f, "rev {r}"),
        }
    }
}

/// A program from a git repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GitSpec {
    pub url: String,
    pub reference: GitReference,
    /// The package to install, when the repository holds several programs.
    pub package: Option<String>,
    /// The commit it was built from (an installed program's `origin`): fetched again, it is
    /// checked out at that commit, wherever `reference` points now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl std::fmt::Display for GitSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = &self.package {
            write!(f, "{p} from ")?;
        }
        write!(f, "{} ({})", self.url, self.reference)
    }
}

/// What a checkout records of where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GitCheckout {
    pub(crate) url: String,
    pub(crate) commit: String,
}

const CHECKOUT_RECORD: &str = ".cargo-share-git.json";

fn git(args: &[&str], dir: Option<&Path>, what: &str) -> Result<String> {
    let mut cmd = Command::new("git");
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd
        .output()
        .context("running git (is it installed? `cargo share install --git` needs it)")?;
    if !out.status.success() {
        bail!(
            "{what}\n\ngit said:\n{}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Clone the repository, check out the reference, and return the manifest of the program's
/// package in the kept copy of that commit.
pub(crate) fn fetch_git(spec: &GitSpec, cache: &Path, shell: &Shell) -> Result<PathBuf> {
    let scratch = scratch_dir(cache, "git-")?;
    let clone = scratch.path().join("clone");
    shell.status("Cloning", spec.to_string());
    let clone_str = clone.to_string_lossy().into_owned();
    git(
        &[
            "clone",
            "--quiet",
            "--no-checkout",
            "--",
            &spec.url,
            &clone_str,
        ],
        None,
        &format!(
            "--git {}: the repository could not be cloned (check the URL)",
            spec.url
        ),
    )?;
    let target = match &spec.reference {
        _ if spec.commit.is_some() => spec.commit.clone().unwrap_or_default(),
        GitReference::DefaultBranch => "HEAD".to_string(),
        GitReference::Branch(b) => format!("refs/remotes/origin/{b}"),
        GitReference::Tag(t) => format!("refs/tags/{t}"),
        GitReference::Rev(r) => r.clone(),
    };
    let commit = git(
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{target}^{{commit}}"),
        ],
        Some(&clone),
        &format!(
            "--git {}: it has no {} (check the name; `git ls-remote {}` lists them)",
            spec.url, spec.reference, spec.url
        ),
    )?;
    let dest = cache.join("sources").join("git").join(format!(
        "{}-{}",
        &sha256_hex(spec.url.as_bytes())[..16],
        &commit
    ));
    if !dest.join(CHECKOUT_RECORD).is_file() {
        git(
            &["checkout", "--quiet", "--detach", &commit],
            Some(&clone),
            &format!("--git {}: checking out {commit} failed", spec.url),
        )?;
        let staging = scratch.path().join("tree");
        copy_tree(&clone, &staging, &[".git"])?;
        let record = GitCheckout {
            url: spec.url.clone(),
            commit: commit.clone(),
        };
        std::fs::write(
            staging.join(CHECKOUT_RECORD),
            serde_json::to_string_pretty(&record)?,
        )?;
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(dest.parent().unwrap())?;
        std::fs::rename(&staging, &dest)
            .with_context(|| format!("moving sources into {}", dest.display()))?;
    }
    shell.status(
        "Checked out",
        format!("{} at {}", spec.url, &commit[..12.min(commit.len())]),
    );
    package_manifest(&dest, spec)
}

/// The manifest of the package to build: the one named, else the repository's root manifest.
fn package_manifest(checkout: &Path, spec: &GitSpec) -> Result<PathBuf> {
    let root = checkout.join("Cargo.toml");
    if !root.is_file() {
        bail!(
            "--git {}: the repository has no Cargo.toml at its root",
            spec.url
        );
    }
    let Some(package) = &spec.package else {
        return Ok(root);
    };
    let md = cargo_metadata::MetadataCommand::new()
        .manifest_path(&root)
        .no_deps()
        .exec()
        .with_context(|| format!("--git {}: reading its packages", spec.url))?;
    match md.packages.iter().find(|p| p.name.as_str() == package) {
        Some(p) => Ok(p.manifest_path.as_std_path().to_path_buf()),
        None => bail!(
            "--git {}: no package named `{package}` in it (packages: {})",
            spec.url,
            md.packages
                .iter()
                .map(|p| p.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The checkout a manifest belongs to (a directory above it with the record), if any.
pub(crate) fn checkout_of(manifest: &Path) -> Option<GitCheckout> {
    manifest.ancestors().skip(1).find_map(|dir| {
        let text = std::fs::read_to_string(dir.join(CHECKOUT_RECORD)).ok()?;
        serde_json::from_str(&text).ok()
    })
}
