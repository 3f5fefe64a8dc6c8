//! Generating a set workspace: members copied and rewritten, the seed lock written, Cargo run
//! to resolve, pins applied, the resolution saved or restored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::resolve::grouping;
use crate::resolve::grouping::{parse_package_id, StoredGroup};
use crate::resolve::set::grouped::write_facades;
use crate::resolve::set::hold::{Holds, HOLD_PACKAGE};
use crate::resolve::set::lockfile::{
    parse_lock, resolution_sha256, resolve_holding, seed_lockfile_preferring, ResolutionConflict,
    SeedLock,
};
use crate::resolve::set::pins::{apply_pins, recorded_pins, write_pins_member, PINS_PACKAGE};
use crate::resolve::set::program_set::{ProgramSet, SetMember, UnifyOptions};
use crate::resolve::set::reuse_member::{stored_packages, write_reuse_member, REUSE_PACKAGE};
use crate::resolve::set::workspace::{
    copy_member, quiet_metadata, write_workspace_manifest, SET_HEADER,
};
use crate::shell::Shell;
use cargo_share_compile::digest::sha256_hex;

/// Build (or refresh) the set workspace and resolve it. See the module docs.
///
/// `stored` are groups from the store that the set should build against as they are: their
/// facades join the workspace (requesting each member at its exact version and features) and
/// their lock entries win in the seed. The caller checks the result with
/// [`grouping::reuse_mismatch`]; not with `--lock` or `--pin`, which fix the resolution.
///
/// `number`: the set's place in the build, which names it when `options.stable_names` (else,
/// and for trial sets, `None`, it is named by its programs).
pub(crate) fn generate(
    members: &[SetMember],
    options: &UnifyOptions,
    cache: &Path,
    stored: &[StoredGroup],
    number: Option<usize>,
    shell: &Shell,
) -> Result<Generated> {
    if !stored.is_empty() && (options.lock_file.is_some() || !options.pins.is_empty()) {
        bail!("internal: stored groups are not combined with --lock or --pin");
    }
    let mut holds = match options.hold_installed {
        true => installed_holds(members)?,
        false => Holds::default(),
    };
    // What the reuse member will require exactly (`SetWorkspace::write`).
    holds.release_ruled_out(
        stored_packages(stored)
            .keys()
            .filter_map(|id| parse_package_id(id))
            .map(|(_, name, version)| (name, version)),
    );
    let ws = SetWorkspace::write(members, options, cache, stored, number, &holds)?;
    let existing_lock = match &options.lock_file {
        Some(f) if f.is_file() => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading --lock {}", f.display()))?,
        ),
        _ => None,
    };
    match &existing_lock {
        Some(lock) if options.pins.is_empty() => {
            let file = options.lock_file.as_ref().expect("lock file given");
            ws.use_lock_file(lock, file, shell)?;
        }
        _ => {
            shell.status("Resolving", resolving_note(members, options, stored));
            let seed = match &existing_lock {
                Some(lock) => lock.clone(),
                None => seed_lock(members, options, stored)?,
            };
            if let Err(conflict) = ws.resolve_anew(seed, options, &mut holds, shell)? {
                return Ok(Generated::Conflict(conflict));
            }
        }
    }
    let lock = std::fs::read_to_string(&ws.lock_path)?;
    Ok(Generated::Set(ProgramSet {
        root: ws.root,
        manifest_path: ws.manifest_path,
        lock_sha256: resolution_sha256(&lock)?,
        policy: options.policy,
        members: members.to_vec(),
    }))
}

/// What `generate` made of a set: its resolved workspace, or the conflict Cargo explained (the
/// set planner splits a program off on it; to every other caller it is an error).
#[derive(Debug)]
pub(crate) enum Generated {
    Set(ProgramSet),
    Conflict(ResolutionConflict),
}

impl Generated {
    /// The set, or the conflict as an error.
    pub(crate) fn set(self) -> Result<ProgramSet> {
        match self {
            Generated::Set(set) => Ok(set),
            Generated::Conflict(conflict) => Err(conflict.into()),
        }
    }
}

/// A set's workspace on disk, as `generate` resolves it.
struct SetWorkspace {
    /// `CACHE/sets/NAME`.
    root: PathBuf,
    /// Its members' folders (programs, facades of stored groups, the reuse member).
    dirs: Vec<String>,
    manifest_path: PathBuf,
    lock_path: PathBuf,
    /// The programs it resolves, `name@version, ...`, as the `--lock` file's header names them.
    set_line: String,
}

impl SetWorkspace {
    /// Names the set (by its number or its programs), then writes its members, the facades of
    /// `stored` groups, the reuse member, the hold member (when `holds` holds any) and the
    /// workspace manifest (a pins or hold member left by an earlier run is removed).
    fn write(
        members: &[SetMember],
        options: &UnifyOptions,
        cache: &Path,
        stored: &[StoredGroup],
        number: Option<usize>,
        holds: &Holds,
    ) -> Result<SetWorkspace> {
        let mut names: Vec<String> = members
            .iter()
            .filter(|m| m.plugin_for.is_none())
            .map(|m| format!("{}@{}", m.name, m.version))
            .collect();
        names.sort();
        let id = sha256_hex(names.join("\n").as_bytes());
        let set_line = names.join(", ");
        let dir_name = match number.filter(|_| options.stable_names) {
            // Short: a group's name takes its tag from the first 8 characters.
            Some(n) => format!("set{n}"),
            None => id[..16].to_string(),
        };
        let root = cache.join("sets").join(dir_name);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut dirs = Vec::new();
        for member in members {
            let dir = format!("{}-{}", member.name, member.version);
            copy_member(member, &root.join(&dir), &[], &[])?;
            dirs.push(dir);
        }
        for generated in [PINS_PACKAGE, HOLD_PACKAGE] {
            let dir = root.join(generated);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
        }

        let facades: Vec<&grouping::Group> = stored.iter().map(|g| &g.record.group).collect();
        write_facades(&root, &facades)?;
        dirs.extend(facades.iter().map(|g| g.name.clone()));
        if write_reuse_member(&root, &stored_packages(stored))? {
            dirs.push(REUSE_PACKAGE.to_string());
        }
        // The hold member is there while Cargo resolves only: `dirs` does not name it.
        let mut resolved_with = dirs.clone();
        if !holds.is_empty() {
            holds.write(&root)?;
            resolved_with.push(HOLD_PACKAGE.to_string());
        }
        write_workspace_manifest(&root, &resolved_with)?;
        Ok(SetWorkspace {
            manifest_path: root.join("Cargo.toml"),
            lock_path: root.join("Cargo.lock"),
            root,
            dirs,
            set_line,
        })
    }

    /// Remove the hold member once Cargo has answered, if it was there, and when it `resolved`
    /// the set, let Cargo drop from the lock what only the member required: removing
    /// requirements keeps every locked version, so the resolution is otherwise the one made
    /// with it.
    fn drop_hold(&self, resolved: bool) -> Result<()> {
        let dir = self.root.join(HOLD_PACKAGE);
        if !dir.exists() {
            return Ok(());
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        write_workspace_manifest(&self.root, &self.dirs)?;
        if !resolved {
            return Ok(());
        }
        let out = quiet_metadata(
            &self.manifest_path,
            &[
                "--config",
                "resolver.incompatible-rust-versions=\"fallback\"",
            ],
        )?;
        if !out.status.success() {
            bail!(
                "resolving {} again without the held versions failed: {}",
                self.manifest_path.display(),
                String::from_utf8_lossy(&out.stderr)
                    .trim_end()
                    .replace('\n', " | ")
            );
        }
        Ok(())
    }

    /// `--lock FILE` (its text `lock`) without `--pin`: the resolution is taken as it is, once
    /// its header names this set and Cargo accepts it `--locked`.
    fn use_lock_file(&self, lock: &str, file: &Path, shell: &Shell) -> Result<()> {
        let set_line = &self.set_line;
        std::fs::write(&self.lock_path, lock)?;
        shell.status("Using", format!("the resolution in {}", file.display()));
        let header = lock.lines().find_map(|l| l.strip_prefix(SET_HEADER));
        if header != Some(set_line.as_str()) {
            bail!(
                "--lock {}: this resolution was made for {}, not for {set_line}; delete the file to resolve anew",
                file.display(),
                header.map_or("something else (it has no cargo-share header)".to_string(), |h| format!("the programs {h}"))
            );
        }
        let pins = recorded_pins(lock)
            .with_context(|| format!("--lock {}: not a Cargo.lock", file.display()))?;
        if !pins.is_empty() {
            write_pins_member(&self.root, &self.dirs, &pins)?;
        }
        let check = quiet_metadata(&self.manifest_path, &["--locked"])?;
        if !check.status.success() {
            bail!(
                "--lock {}: this resolution does not fit these programs (it was made for another set, or they changed); \
                 delete the file to resolve anew\n\ncargo said:\n{}",
                file.display(),
                String::from_utf8_lossy(&check.stderr).trim_end()
            );
        }
        Ok(())
    }

    /// Cargo resolves the workspace from `seed`, the pins are applied, and with `--lock FILE`
    /// the resolution is saved there under this set's header.
    fn resolve_anew(
        &self,
        seed: String,
        options: &UnifyOptions,
        holds: &mut Holds,
        shell: &Shell,
    ) -> Result<Result<(), ResolutionConflict>> {
        let resolved = resolve_holding(&self.manifest_path, &self.lock_path, seed, holds)?;
        self.drop_hold(resolved.is_ok())?;
        if let Err(conflict) = resolved {
            return Ok(Err(conflict));
        }
        apply_pins(
            &self.root,
            &self.dirs,
            &self.lock_path,
            &options.pins,
            shell,
        )?;
        if let Some(file) = &options.lock_file {
            let lock = std::fs::read_to_string(&self.lock_path)?;
            std::fs::write(file, format!("{SET_HEADER}{}\n{lock}", self.set_line))
                .with_context(|| format!("writing --lock {}", file.display()))?;
            shell.status("Saved", format!("the resolution to {}", file.display()));
        }
        Ok(Ok(()))
    }
}

/// The crates.io versions the installed members' recorded resolutions lock, to be held while
/// the newcomers are adapted to them (`set::hold`).
fn installed_holds(members: &[SetMember]) -> Result<Holds> {
    let mut locked = Vec::new();
    for member in members.iter().filter(|m| m.keep_resolution) {
        if let Some(lock) = &member.lock {
            locked.push(parse_lock(lock)?.1.into_keys().collect());
        }
    }
    Ok(Holds::of_locked(locked))
}

/// The `Resolving` status: which programs, the `--unify` policy, and the groups reused.
fn resolving_note(members: &[SetMember], options: &UnifyOptions, stored: &[StoredGroup]) -> String {
    format!(
        "{} (--unify {}{})",
        match members {
            [only] => only.name.clone(),
            _ => format!("{} programs together", members.len()),
        },
        options.policy,
        match (stored.len(), stored.iter().any(|g| g.set.is_some())) {
            (0, _) => String::new(),
            (1, false) => ", with 1 group from the store".to_string(),
            (n, false) => format!(", with {n} groups from the store"),
            (1, true) => ", with 1 group of an earlier set".to_string(),
            (n, true) => format!(", with {n} groups of earlier sets"),
        }
    )
}

/// The seed lock when no `--lock` file is given: the members' own and released locks, with the
/// stored groups' locks and those of members that keep their resolution preferred.
fn seed_lock(
    members: &[SetMember],
    options: &UnifyOptions,
    stored: &[StoredGroup],
) -> Result<String> {
    let mut locks: Vec<SeedLock> = Vec::new();
    for m in members {
        let own = |text| SeedLock::own(text, &m.test_only);
        // A kept member's `lock` is its recorded resolution: preferred below, or a candidate
        // as an installed build.
        if !m.keep_resolution {
            locks.extend(m.lock.as_deref().map(own));
        }
        locks.extend(m.released_lock.as_deref().map(own));
    }
    let mut preferred: Vec<&str> = stored
        .iter()
        .map(|g| g.record.lock.as_str())
        .chain(
            members
                .iter()
                .filter(|m| m.keep_resolution)
                .filter_map(|m| m.lock.as_deref()),
        )
        .collect();
    if options.newest_locked && members.iter().any(|m| m.keep_resolution) {
        // Candidates like every other lock: the newest version wins.
        locks.extend(preferred.drain(..).map(SeedLock::installed));
    }
    seed_lockfile_preferring(&locks, &preferred)
}
