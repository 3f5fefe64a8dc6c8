//! The grouped build workspace: the set's members with path dependencies on their groups' facades.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::resolve::grouping;
use crate::resolve::grouping::GroupPlan;
use crate::resolve::set::lockfile::{parse_lock, LockKey};
use crate::resolve::set::program_set::ProgramSet;
use crate::resolve::set::reuse_member::{write_reuse_member, REUSE_PACKAGE};
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
/// The groups of an earlier set of the same build (`plan.earlier`) are written here too, at the
/// same place relative to the workspace root as in theirs, with the same files and file times
/// ([`write_facades`]): Cargo names a path package's build by its path relative to the
/// workspace root, so the copy is the same Cargo unit, found fresh, and never compiled a second
/// time (which would rewrite the earlier set's group file, and make Cargo rebuild the earlier
/// set's programs on the next build).
///
/// `resolved` is the set's resolution (package id -> features, [`resolved_packages`](crate::resolve::set::reuse_member::resolved_packages)): every
/// program takes a member requiring it as a build dependency ([`write_reuse_member`]), so one
/// program built or tested alone resolves the features the whole set's build does.
pub(crate) fn grouped_workspace(
    set: &ProgramSet,
    plan: &GroupPlan,
    resolved: &BTreeMap<String, Vec<String>>,
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
    // Each program takes the member as a build dependency, so that building or testing it
    // alone resolves the features the set resolved (the set's own reuse member, which holds it
    // to stored groups, is part of that resolution).
    let mut dirs = Vec::new();
    let reuse: Vec<(String, PathBuf)> = if write_reuse_member(&root, resolved)? {
        dirs.push(REUSE_PACKAGE.to_string());
        vec![(REUSE_PACKAGE.to_string(), root.join(REUSE_PACKAGE))]
    } else {
        Vec::new()
    };
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
            .map(|g| (g.name.clone(), root.join(&g.name)))
            .collect();
        copy_member(member, &root.join(&dir), &extra, &reuse)?;
        dirs.push(dir);
    }
    let groups: Vec<&grouping::Group> = plan.groups.iter().collect();
    write_facades(&root, &groups)?;
    dirs.extend(groups.iter().map(|g| g.name.clone()));
    let own: Vec<&&grouping::Group> = groups
        .iter()
        .filter(|g| !plan.earlier.contains_key(&g.name))
        .collect();
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

/// The modification time of every facade file, in seconds after 1970 (2001-09-09): older than
/// any build.
const FACADE_FILE_TIME: u64 = 1_000_000_000;

/// Write the facade packages `groups` under `root` (the set workspace or its grouped build
/// workspace), each in a directory named after it, and remove facades no longer wanted. Files
/// are written only when they change (Cargo's fingerprints follow file times). A facade loads
/// the groups in `elsewhere` (by name) from their directories there.
pub(crate) fn write_facades(root: &Path, groups: &[&grouping::Group]) -> Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(grouping::GROUP_PACKAGE_PREFIX)
            && !groups.iter().any(|g| g.name == file)
        {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    for group in groups {
        let dir = root.join(&group.name);
        std::fs::create_dir_all(&dir)?;
        let (manifest, lib) = grouping::facade_files(group);
        for (file, text) in [("Cargo.toml", manifest), ("lib.rs", lib)] {
            let path = dir.join(file);
            write_if_changed(&path, &text)?;
            // One fixed time for every facade's files, so that the copy of a group in another
            // workspace (a later set's, an install's) is as fresh to Cargo as the original. Safe:
            // the text is a function of the facade's dependencies (names, packages, features),
            // which Cargo's fingerprint of the unit holds, so a change of text is a change of
            // fingerprint whatever the file's time.
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| {
                    f.set_modified(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(FACADE_FILE_TIME),
                    )
                })
                .with_context(|| format!("setting the time of {}", path.display()))?;
        }
    }
    Ok(())
}
