//! The files of a set workspace: member copies with rewritten manifests, the workspace
//! manifest, writes that keep Cargo's fingerprints when nothing changed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::resolve::cargo_memo::{self, GENERATED_HEADER};
use crate::resolve::set::program_set::SetMember;
use crate::source::cargo_command;
use cargo_share_compile::digest::tree_sha256;

/// Copy a program's package into the set, rewriting its manifest so that it works there, with
/// `extra_deps` (name, path) added to its dependencies (the groups it loads, grouped layout) and
/// `build_deps` to its build dependencies.
/// Only the files that differ from the copy already there, made from the same directory, are
/// written (`source::sync_tree`): the others keep their times, so Cargo's fingerprints of the
/// program hold when only its manifest changed, or nothing did.
pub(crate) fn copy_member(
    member: &SetMember,
    dest: &Path,
    extra_deps: &[(String, PathBuf)],
    build_deps: &[(String, PathBuf)],
) -> Result<()> {
    let manifest = member.package_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let mut rewritten = rewrite_member_manifest(&text, &member.package_dir).with_context(|| {
        format!(
            "{} v{} cannot join a program set",
            member.name, member.version
        )
    })?;
    if !extra_deps.is_empty() || !build_deps.is_empty() {
        let mut doc: toml::Table = rewritten.parse()?;
        for (table, added) in [
            ("dependencies", extra_deps),
            ("build-dependencies", build_deps),
        ] {
            let deps = doc
                .entry(table)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("`{table}` is not a table"))?;
            for (name, path) in added {
                let mut spec = toml::Table::new();
                spec.insert("path".into(), path.display().to_string().into());
                deps.insert(name.clone(), toml::Value::Table(spec));
            }
        }
        rewritten = toml::to_string(&doc)?;
    }
    // A copy made from another directory (the same program from crates.io, then local) is
    // made again whole: its files get new times, so Cargo compiles it again, with what the
    // wrapper does differently for a local program (its warnings are shown, not capped).
    if dest.exists() && read_stamp(dest).is_some_and(|(from, _)| from != member.package_dir) {
        std::fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?;
    }
    // Build output and VCS data stay behind. The program's own `Cargo.lock` is copied: Cargo
    // ignores a member's lockfile, but a program's tests may read their package's files
    // (du-dust's do: a test counting them failed when the copy lacked it).
    let listing = crate::source::sync_tree(
        &member.package_dir,
        dest,
        &[".git", "target"],
        &[("Cargo.toml", rewritten.as_bytes())],
    )?;
    let stamp_text = format!(
        "{STAMP_FROM}{}\n{}",
        member.package_dir.display(),
        stamp_of(listing)
    );
    write_if_changed(&stamp_file_of(dest), &stamp_text)
}

/// The first line of a stamp file: the package directory the copy was made from.
const STAMP_FROM: &str = "from\t";

/// A copy's stamp file: the directory it was copied from and its listing ([`tree_stamp`]);
/// `None` without one, or for a stamp of an older cargo-share (a digest, no listing).
fn read_stamp(copy: &Path) -> Option<(PathBuf, String)> {
    let text = std::fs::read_to_string(stamp_file_of(copy)).ok()?;
    let (first, listing) = text.split_once('\n')?;
    let from = first.strip_prefix(STAMP_FROM)?;
    Some((PathBuf::from(from), listing.to_string()))
}

/// What the member copy `copy` holds of its package's sources, as its stamp lists them (every
/// file and its hash, not where it was copied from), but its manifest, which each workspace
/// rewrites its own way (a grouped one names the set's groups); None without a stamp.
pub(crate) fn copy_listing(copy: &Path) -> Option<String> {
    let (_, listing) = read_stamp(copy)?;
    Some(
        listing
            .lines()
            .filter(|line| !line.starts_with("Cargo.toml\t"))
            .map(|line| format!("{line}\n"))
            .collect(),
    )
}

/// What a member copy holds: a line `PATH<TAB>SHA256` per file (`-> TARGET` for a link),
/// sorted (`digest::tree_sha256`).
fn tree_stamp(dir: &Path) -> String {
    stamp_of(tree_sha256(dir))
}

fn stamp_of(listing: Vec<(String, String)>) -> String {
    listing
        .into_iter()
        .map(|(p, h)| format!("{p}\t{h}\n"))
        .collect()
}

/// Put the copies of programs (member directories of the set workspace) back as they were
/// copied, after a run that may write into them: their tests (a test may write into its own
/// package directory, as it may in the user's checkout: ruplacer 0.10.0's doc test writes
/// `data.txt` there), or a confined build of one program, whose build script may write into
/// its own package directory as `cargo install` lets it (du-dust 1.2.7's rewrites its shell
/// completions there). The builds that follow must see only the programs' sources, and the
/// check after them (`check_member_copies`) finds the copies as copied. Files added are
/// removed (directories made stay, empty: an empty directory may be part of the sources, and
/// the build ignores it); a file changed or removed is copied again from the package directory
/// the copy was made from, with its time ([`restore_file`]), so Cargo finds it as it was.
pub(crate) fn restore_copies(copies: &[PathBuf]) -> Result<()> {
    for copy in copies {
        let Some((from, listing)) = read_stamp(copy) else {
            continue;
        };
        let Some(copied) = listing
            .lines()
            .map(|l| l.split_once('\t'))
            .collect::<Option<std::collections::BTreeMap<&str, &str>>>()
        else {
            continue;
        };
        let now: std::collections::BTreeMap<String, String> =
            tree_sha256(copy).into_iter().collect();
        for (path, hash) in &now {
            if !copied.contains_key(path.as_str()) {
                std::fs::remove_file(copy.join(path))
                    .with_context(|| format!("removing {path}, which a test wrote"))?;
            } else if copied.get(path.as_str()) != Some(&hash.as_str()) {
                restore_file(copy, &from, path)?;
            }
        }
        for path in copied.keys().filter(|p| !now.contains_key(**p)) {
            restore_file(copy, &from, path)?;
        }
    }
    Ok(())
}

/// Put `path` of a set copy back from the package directory it was copied from, with that
/// file's modification time, as the copy was made; the manifest, which the copy rewrote, and a
/// file no longer there cannot be, and are an error naming the file.
fn restore_file(copy: &Path, from: &Path, path: &str) -> Result<()> {
    let original = from.join(path);
    if path == "Cargo.toml" || !original.is_file() {
        bail!(changed_by_run(copy, path));
    }
    let to = copy.join(path);
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&to);
    std::fs::copy(&original, &to)
        .with_context(|| format!("putting back {path}, which a test changed"))?;
    let modified = std::fs::metadata(&original)?.modified()?;
    std::fs::File::options()
        .write(true)
        .open(&to)?
        .set_modified(modified)?;
    Ok(())
}

fn changed_by_run(copy: &Path, path: &str) -> String {
    let member = copy.file_name().unwrap_or_default().to_string_lossy();
    format!(
        "the tests or build script of {member} changed its file {path} (in cargo-share's copy of \
         its sources), which cannot be put back, so the build would not be of its sources; \
         nothing was installed. Report it to the program's authors; if its tests did it, \
         --keep-installed-versions installs it without running them"
    )
}

/// `ROOT/.NAME-VERSION.stamp`: the stamp of the member copy `ROOT/NAME-VERSION`.
fn stamp_file_of(dest: &Path) -> PathBuf {
    dest.with_file_name(format!(
        ".{}.stamp",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// Refuse a build whose member copies in the set workspace `root` no longer hold what was
/// copied: something the build ran (a build script, a proc macro) wrote into a program's
/// sources. Confined builds cannot (`build::sandbox`) but for the program they build, whose
/// own build script may write into its own copy (`own`, left unchecked); this catches the rest
/// where builds are not confined.
pub(crate) fn check_member_copies(root: &Path, own: &[PathBuf]) -> Result<()> {
    // Only the workspace's members: a copy left by an earlier build of other programs (one
    // that failed, its copy written into) is not part of this one.
    for member in workspace_members(root)? {
        let copy = root.join(&member);
        if own.contains(&copy) {
            continue;
        }
        let Some((_, stamp)) = read_stamp(&copy) else {
            continue;
        };
        if copy.is_dir() && tree_stamp(&copy) != stamp {
            bail!(
                "the sources of {member} (cargo-share's copy of them) changed while the programs \
                 were built: something the build ran (a build script or a proc macro of a program \
                 or of one of its crates) wrote into them; nothing was installed. The next build \
                 copies them again; find the build script that writes outside its OUT_DIR"
            );
        }
    }
    Ok(())
}

const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// Make a program's manifest valid as a member of the generated workspace: drop its own
/// `[workspace]`, make path dependencies absolute (they point at the original tree), and refuse
/// what cannot move (inherited `workspace = true` values, `[patch]`).
pub(crate) fn rewrite_member_manifest(text: &str, package_dir: &Path) -> Result<String> {
    let mut doc: toml::Table = text.parse().context("parsing Cargo.toml")?;
    doc.remove("workspace");
    // Only a workspace root's profiles count (Cargo would warn and ignore them); the set's
    // programs are built with the release profile and the shared-crate profile.
    doc.remove("profile");
    for table in ["patch", "replace"] {
        if doc.contains_key(table) {
            bail!("its manifest has a [{table}] section, which only a workspace root may have");
        }
    }
    if let Some(pkg) = doc.get_mut("package").and_then(|p| p.as_table_mut()) {
        pkg.remove("workspace");
        for (key, value) in pkg.iter() {
            if inherits(value) {
                bail!("`package.{key}` is inherited from its workspace (`workspace = true`)");
            }
        }
    }
    let mut tables: Vec<&mut toml::Table> = Vec::new();
    let (targets, rest): (Vec<_>, Vec<_>) = doc.iter_mut().partition(|(k, _)| *k == "target");
    for (key, value) in rest {
        if DEPENDENCY_TABLES.contains(&key.as_str()) {
            if let Some(t) = value.as_table_mut() {
                tables.push(t);
            }
        }
    }
    for (_, value) in targets {
        let Some(per_target) = value.as_table_mut() else {
            continue;
        };
        for (_, cfg) in per_target.iter_mut() {
            let Some(cfg) = cfg.as_table_mut() else {
                continue;
            };
            for (key, value) in cfg.iter_mut() {
                if DEPENDENCY_TABLES.contains(&key.as_str()) {
                    if let Some(t) = value.as_table_mut() {
                        tables.push(t);
                    }
                }
            }
        }
    }
    for deps in tables {
        for (name, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_mut() else {
                continue;
            };
            if inherits(&toml::Value::Table(dep.clone())) {
                bail!("dependency `{name}` is inherited from its workspace (`workspace = true`)");
            }
            if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                let absolute = package_dir.join(path);
                let absolute = absolute.canonicalize().unwrap_or(absolute);
                dep.insert(
                    "path".into(),
                    toml::Value::String(absolute.display().to_string()),
                );
            }
        }
    }
    Ok(toml::to_string(&doc)?)
}

fn inherits(value: &toml::Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true)
}

/// The first line of a saved resolution: which programs it was made for.
pub(crate) const SET_HEADER: &str = "# cargo-share program set: ";

pub(crate) fn write_workspace_manifest(root: &Path, dirs: &[String]) -> Result<()> {
    let members: Vec<String> = dirs.iter().map(|d| format!("{d:?}")).collect();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "{GENERATED_HEADER}\n[workspace]\nresolver = \"1\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )?;
    Ok(())
}

/// The member directories the generated workspace at `root` lists (none without a manifest).
fn workspace_members(root: &Path) -> Result<Vec<String>> {
    let manifest = root.join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(Vec::new());
    };
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("reading {}", manifest.display()))?;
    Ok(doc
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect())
}

/// Run `cargo metadata` on a generated workspace for its side effects (resolving, writing or
/// checking the lock), keeping only its status and stderr.
/// The same inputs get the answer Cargo gave before in this process (`cargo_memo`).
pub(crate) fn quiet_metadata(manifest: &Path, args: &[&str]) -> Result<std::process::Output> {
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    cargo_memo::resolved(manifest, &owned, || {
        cargo_command()
            .args(["metadata", "--format-version", "1"])
            .args(args)
            .arg("--manifest-path")
            .arg(manifest)
            .stdout(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running cargo metadata on {}", manifest.display()))
    })
}

pub(crate) fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member copy `prog-0.1.0` of `original/` holding `src/main.rs`, `Cargo.toml` and a
    /// link, stamped.
    fn stamped_copy() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let original = root.path().join("original");
        std::fs::create_dir_all(original.join("src")).unwrap();
        std::fs::write(original.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(original.join("Cargo.toml"), "[package]").unwrap();
        let copy = root.path().join("prog-0.1.0");
        crate::source::copy_tree(&original, &copy, &[]).unwrap();
        std::os::unix::fs::symlink("src/main.rs", copy.join("main link")).unwrap();
        let stamp = format!("{STAMP_FROM}{}\n{}", original.display(), tree_stamp(&copy));
        std::fs::write(stamp_file_of(&copy), stamp).unwrap();
        write_workspace_manifest(root.path(), &["prog-0.1.0".to_string()]).unwrap();
        (root, copy)
    }

    /// A copy's listing keys what is recorded of its sources (`build::unprovable_tests`): the
    /// manifest, which a grouped workspace rewrites for each grouping, is not part of it.
    #[test]
    fn a_copys_listing_leaves_out_its_rewritten_manifest() {
        let (root, copy) = stamped_copy();
        let listing = copy_listing(&copy).unwrap();
        assert!(listing.contains("src/main.rs\t"), "{listing}");
        assert!(!listing.contains("Cargo.toml"), "{listing}");
        std::fs::write(copy.join("Cargo.toml"), "[package]\nname = \"regrouped\"").unwrap();
        let original = root.path().join("original");
        let stamp = format!("{STAMP_FROM}{}\n{}", original.display(), tree_stamp(&copy));
        std::fs::write(stamp_file_of(&copy), stamp).unwrap();
        assert_eq!(copy_listing(&copy).unwrap(), listing);
        std::fs::write(copy.join("src/main.rs"), "fn main() { changed() }").unwrap();
        let stamp = format!("{STAMP_FROM}{}\n{}", original.display(), tree_stamp(&copy));
        std::fs::write(stamp_file_of(&copy), stamp).unwrap();
        assert_ne!(copy_listing(&copy).unwrap(), listing);
    }

    /// The check after a build reads the workspace's members only: a copy an earlier build of
    /// other programs left, written into, is not this build's.
    #[test]
    fn a_member_copy_written_into_fails_the_check_and_a_stale_one_does_not() {
        let (root, copy) = stamped_copy();
        let stale = root.path().join("gone-0.1.0");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("a.txt"), "x").unwrap();
        let stamp = format!("{STAMP_FROM}{}\nb.txt\t00\n", stale.display());
        std::fs::write(stamp_file_of(&stale), stamp).unwrap();
        check_member_copies(root.path(), &[]).unwrap();
        std::fs::write(copy.join("data.txt"), "x").unwrap();
        let err = check_member_copies(root.path(), &[]).unwrap_err();
        assert!(
            err.to_string().contains("the sources of prog-0.1.0"),
            "{err}"
        );
        check_member_copies(root.path(), std::slice::from_ref(&copy)).unwrap();
    }

    #[test]
    fn files_a_test_added_are_removed_and_files_it_changed_put_back() {
        let (root, copy) = stamped_copy();
        std::fs::create_dir(copy.join("out")).unwrap();
        std::fs::write(copy.join("out/data.txt"), "x").unwrap();
        std::fs::write(copy.join("data.txt"), "x").unwrap();
        std::fs::write(copy.join("src/main.rs"), "fn main() { changed() }").unwrap();
        std::fs::remove_file(copy.join("main link")).unwrap();
        std::os::unix::fs::symlink("elsewhere", copy.join("main link")).unwrap();
        let err = restore_copies(std::slice::from_ref(&copy)).unwrap_err();
        // A link is not a file of the package directory to copy back.
        assert!(
            err.to_string().contains("changed its file main link"),
            "{err}"
        );
        std::fs::remove_file(copy.join("main link")).unwrap();
        std::os::unix::fs::symlink("src/main.rs", copy.join("main link")).unwrap();
        restore_copies(std::slice::from_ref(&copy)).unwrap();
        assert!(!copy.join("data.txt").exists());
        assert!(!copy.join("out/data.txt").exists());
        let original = root.path().join("original/src/main.rs");
        assert_eq!(
            std::fs::read(copy.join("src/main.rs")).unwrap(),
            b"fn main() {}"
        );
        assert_eq!(
            std::fs::metadata(copy.join("src/main.rs"))
                .unwrap()
                .modified()
                .unwrap(),
            std::fs::metadata(original).unwrap().modified().unwrap()
        );
        std::fs::remove_file(copy.join("src/main.rs")).unwrap();
        restore_copies(std::slice::from_ref(&copy)).unwrap();
        assert!(copy.join("src/main.rs").is_file());
        check_member_copies(root.path(), &[]).unwrap();
    }

    #[test]
    fn a_manifest_a_test_changed_is_named() {
        let (_root, copy) = stamped_copy();
        std::fs::write(copy.join("Cargo.toml"), "[package] # changed").unwrap();
        let err = restore_copies(std::slice::from_ref(&copy)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the tests or build script of prog-0.1.0 changed its file Cargo.toml"),
            "{err}"
        );
    }

    #[test]
    fn member_manifests_lose_their_workspace_and_keep_their_path_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n[workspace]\nmembers = []\n\
                    [dependencies]\nlib = { path = \"../lib\" }\nserde = \"1\"\n\
                    [target.'cfg(unix)'.dev-dependencies]\nt = { path = \"t\" }\n";
        let out = rewrite_member_manifest(text, dir.path()).unwrap();
        let doc: toml::Table = out.parse().unwrap();
        assert!(!doc.contains_key("workspace"));
        let lib = doc["dependencies"]["lib"]["path"].as_str().unwrap();
        assert!(
            Path::new(lib).is_absolute() && lib.ends_with("lib"),
            "{lib}"
        );
        let t = doc["target"]["cfg(unix)"]["dev-dependencies"]["t"]["path"]
            .as_str()
            .unwrap();
        assert!(Path::new(t).is_absolute());
        assert!(rewrite_member_manifest(
            "[package]\nname = \"p\"\nversion.workspace = true\n",
            dir.path()
        )
        .is_err());
        assert!(rewrite_member_manifest(
            "[package]\nname = \"p\"\nversion = \"1.0.0\"\n[patch.crates-io]\nx = { path = \"x\" }\n",
            dir.path()
        )
        .is_err());
    }
}
