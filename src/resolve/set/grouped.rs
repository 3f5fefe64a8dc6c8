//! The grouped build workspace: the set's members with path dependencies on their groups' facades.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::resolve::grouping;
use crate::resolve::grouping::GroupPlan;
use crate::resolve::set::lockfile::{parse_lock, LockKey};
use crate::resolve::set::program_set::ProgramSet;
use crate::resolve::set::reuse_member::REUSE_PACKAGE;
use crate::resolve::set::workspace::{
    copy_member, quiet_metadata, write_if_changed, write_workspace_manifest,
};
use crate::shell::Shell;

/// The build workspace of a grouped set (`SET-grouped`, next to the set): the same programs,
/// each depending on the groups it loads (so Cargo builds a group before the binaries that link
/// it and relinks them when it changes), plus one facade package per group
/// ([`grouping::facade_files`]), and the set's resolution: Cargo only adds the facades (path
/// packages) to the lock, which is checked.
///
/// `elsewhere` are groups of an earlier set of the same build, by name: their facades stay in
/// that set's build workspace, and this one depends on them there (one package, one build of it).
pub fn grouped_workspace(
    set: &ProgramSet,
    plan: &GroupPlan,
    elsewhere: &BTreeMap<String, PathBuf>,
    shell: &Shell,
) -> Result<PathBuf> {
    let name = set
        .root
        .file_name()
        .context("a set without a directory name")?
        .to_string_lossy()
        .into_owned();
    let root = set.root.with_file_name(format!("{name}-grouped"));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let root = root.canonicalize()?;
    let group_dir = |g: &str| elsewhere.get(g).cloned().unwrap_or_else(|| root.join(g));
    // The set's reuse member, if it has one (`reuse_member`): each program takes it as a build
    // dependency, so that building it resolves the features the set resolved.
    let reuse: Vec<(String, PathBuf)> = Some(set.root.join(REUSE_PACKAGE))
        .filter(|d| d.join("Cargo.toml").is_file())
        .map(|d| (REUSE_PACKAGE.to_string(), d))
        .into_iter()
        .collect();
    let mut dirs = Vec::new();
    for member in &set.members {
        let dir = format!("{}-{}", member.name, member.version);
        // A plugin loads the groups of its program (all of them: it binds to the program's own
        // files, whatever it uses).
        let consumer = match &member.plugin_for {
            Some(host) => grouping::plugins_consumer(host),
            None => member.name.clone(),
        };
        let extra: Vec<(String, PathBuf)> = plan
            .groups_of(&consumer)
            .into_iter()
            .map(|g| (g.name.clone(), group_dir(&g.name)))
            .collect();
        copy_member(member, &root.join(&dir), &extra, &reuse)?;
        dirs.push(dir);
    }
    let own: Vec<&grouping::Group> = plan
        .groups
        .iter()
        .filter(|g| !elsewhere.contains_key(&g.name))
        .collect();
    write_facades(&root, &own, elsewhere)?;
    dirs.extend(own.iter().map(|g| g.name.clone()));
    write_workspace_manifest(&root, &dirs)?;
    let set_lock = std::fs::read_to_string(set.root.join("Cargo.lock"))?;
    let lock_path = root.join("Cargo.lock");
    write_if_changed(&lock_path, &set_lock)?;
    shell.status(
        "Grouping",
        format!(
            "{} crates into {} shared objects{}",
            own.iter().map(|g| g.members.len()).sum::<usize>(),
            own.len(),
            match plan.groups.len() - own.len() {
                0 => String::new(),
                1 => ", with 1 group of an earlier set".to_string(),
                n => format!(", with {n} groups of earlier sets"),
            }
        ),
    );
    let manifest_path = root.join("Cargo.toml");
    let out = quiet_metadata(&manifest_path, &["--offline"])?;
    if !out.status.success() {
        bail!(
            "the grouped build workspace {} does not resolve; this is a cargo-share bug, please report it\n\ncargo said:\n{}",
            manifest_path.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let registry = |text: &str| -> Result<BTreeSet<LockKey>> {
        Ok(parse_lock(text)?
            .1
            .into_keys()
            .filter(|k| k.2.is_some())
            .collect())
    };
    let grouped_lock = std::fs::read_to_string(&lock_path)?;
    if registry(&grouped_lock)? != registry(&set_lock)? {
        bail!(
            "adding the group facades changed the set's resolution ({}); this is a cargo-share bug, please report it",
            lock_path.display()
        );
    }
    Ok(manifest_path)
}

/// Write the facade packages `groups` under `root` (the set workspace or its grouped build
/// workspace), each in a directory named after it, and remove facades no longer wanted. Files
/// are written only when they change (Cargo's fingerprints follow file times). A facade loads
/// the groups in `elsewhere` (by name) from their directories there.
pub(crate) fn write_facades(
    root: &Path,
    groups: &[&grouping::Group],
    elsewhere: &BTreeMap<String, PathBuf>,
) -> Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(grouping::GROUP_PACKAGE_PREFIX)
            && !groups.iter().any(|g| g.name == file)
        {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let group_dir = |g: &str| elsewhere.get(g).cloned().unwrap_or_else(|| root.join(g));
    for group in groups {
        let dir = group_dir(&group.name);
        std::fs::create_dir_all(&dir)?;
        let (manifest, lib) = grouping::facade_files(group, &group_dir);
        write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
        write_if_changed(&dir.join("lib.rs"), &lib)?;
    }
    Ok(())
}
