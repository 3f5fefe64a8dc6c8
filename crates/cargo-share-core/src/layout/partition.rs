//! The files of several programs partitioned by who loads them, and one partition laid out
//! under a prefix.
//!
//! A *file set* is the files loaded by exactly the same programs: each program's own set (its
//! binaries and the libraries only it loads) and one set per group of programs sharing
//! libraries. In the grouped layout the groups are already partitioned by consumer set, so a
//! file set is a group, or a few groups with the same consumers. The toolchain's libstd is a set
//! of its own, although the programs that load it also load the group every program loads: it
//! changes only with the compiler (or the set's export list), while that group changes with
//! every fix to one of its crates, so apart, a fix ships the group alone (and a native package
//! of libstd is one package, as a C++ runtime is). A set is the unit that ships once: one image
//! layer, one package.
//!
//! Laid out under `PREFIX`, binaries go to `PREFIX/bin/` and libraries to `PREFIX/lib/`: every
//! file names the libraries it loads as `$ORIGIN/../lib/FILE`, which from `PREFIX/bin` and from
//! `PREFIX/lib` is `PREFIX/lib/FILE`, so the names stay valid wherever the prefix is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::layout::archive::{TreeEntry, TreeEntryKind};
use crate::layout::closure::ProgramClosure;
use cargo_share_compile::toolchain::is_libstd_file;

/// What a file of a set is: it decides its folder and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FileKind {
    /// `PREFIX/bin/NAME`, mode 0755.
    Binary,
    /// `PREFIX/lib/NAME`, mode 0644 (the loader maps it; nothing executes it).
    Library,
}

/// One file of a set: its kind, file name and where it is now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SetFile {
    pub(crate) kind: FileKind,
    pub(crate) name: String,
    pub(crate) source: PathBuf,
}

/// The files loaded by exactly the programs `loaders`: the toolchain's (libstd) or the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet {
    pub loaders: BTreeSet<String>,
    /// The toolchain's libstd, kept apart from the crates' files of the same programs.
    pub(crate) toolchain: bool,
    pub(crate) files: Vec<SetFile>,
}

impl FileSet {
    /// Loaded by several programs (a set that ships once for all of them).
    pub(crate) fn is_shared(&self) -> bool {
        self.loaders.len() > 1
    }
}

/// The file sets of `programs`: shared sets first, those loaded by the most programs first (libstd
/// before the crates' set of the same programs), then each program's own sets in name order.
/// Files are sorted within a set. A library two programs take from different paths is refused
/// (they would be two files under one name).
pub fn partition(programs: &[ProgramClosure]) -> Result<Vec<FileSet>> {
    let mut names = BTreeSet::new();
    let mut loaders: BTreeMap<&str, (BTreeSet<String>, &Path)> = BTreeMap::new();
    for program in programs {
        if !names.insert(program.name.as_str()) {
            bail!(
                "the program {} is named twice: lay out each program once",
                program.name
            );
        }
        for (file, path) in &program.libraries {
            let (who, first) = loaders
                .entry(file.as_str())
                .or_insert_with(|| (BTreeSet::new(), path.as_path()));
            if *first != path.as_path() {
                bail!(
                    "{} loads {file} from {}, another program from {}: two files under one name \
                     cannot be laid out side by side; build the programs together into one \
                     output",
                    program.name,
                    path.display(),
                    first.display()
                );
            }
            who.insert(program.name.clone());
        }
    }
    let mut sets: BTreeMap<(BTreeSet<String>, bool), Vec<SetFile>> = BTreeMap::new();
    for program in programs {
        let own = sets
            .entry((BTreeSet::from([program.name.clone()]), false))
            .or_default();
        own.extend(program.binaries.iter().map(|(name, path)| SetFile {
            kind: FileKind::Binary,
            name: name.clone(),
            source: path.clone(),
        }));
    }
    for (file, (who, path)) in loaders {
        let toolchain = is_libstd_file(file);
        sets.entry((who, toolchain)).or_default().push(SetFile {
            kind: FileKind::Library,
            name: file.to_string(),
            source: path.to_path_buf(),
        });
    }
    let mut sets: Vec<FileSet> = sets
        .into_iter()
        .map(|((loaders, toolchain), mut files)| {
            files.sort();
            FileSet {
                loaders,
                toolchain,
                files,
            }
        })
        .collect();
    sets.sort_by_key(|s| {
        (
            !s.is_shared(),
            std::cmp::Reverse(s.loaders.len()),
            s.loaders.clone(),
            !s.toolchain,
        )
    });
    Ok(sets)
}

/// The entries that put `set` under `prefix` (a relative path such as `opt/cargo-share`):
/// every directory from the prefix's first component down, then `PREFIX/bin/NAME` (0755) and
/// `PREFIX/lib/NAME` (0644).
pub fn lay_out(set: &FileSet, prefix: &str) -> Result<Vec<TreeEntry>> {
    lay_out_linked(set, prefix, None)
}

/// As [`lay_out`], and when `bin_dir` (a relative path such as `usr/bin`) is not `PREFIX/bin`,
/// a symbolic link `BIN_DIR/NAME` to each binary, relative (`../lib/cargo-share/bin/NAME`):
/// the loader takes `$ORIGIN` from the binary's real path, so its libraries are still found
/// beside it under the prefix.
pub(crate) fn lay_out_linked(
    set: &FileSet,
    prefix: &str,
    bin_dir: Option<&str>,
) -> Result<Vec<TreeEntry>> {
    let prefix = checked_prefix(prefix)?;
    let bin_dir = bin_dir
        .map(|d| checked_prefix(d).context("the directory for binaries"))
        .transpose()?;
    let mut entries = Vec::new();
    let mut dirs = BTreeSet::new();
    let join = |sub: &str| {
        if prefix.is_empty() {
            sub.to_string()
        } else {
            format!("{prefix}/{sub}")
        }
    };
    add_dirs(&mut dirs, &prefix);
    for file in &set.files {
        let (sub, mode) = match file.kind {
            FileKind::Binary => ("bin", 0o755),
            FileKind::Library => ("lib", 0o644),
        };
        add_dirs(&mut dirs, &join(sub));
        let path = join(&format!("{sub}/{}", file.name));
        if let (FileKind::Binary, Some(bin_dir)) = (file.kind, &bin_dir) {
            if *bin_dir != join("bin") {
                add_dirs(&mut dirs, bin_dir);
                entries.push(TreeEntry {
                    path: format!("{bin_dir}/{}", file.name),
                    kind: TreeEntryKind::Symlink(relative_target(bin_dir, &path)),
                    mode: 0o777,
                });
            }
        }
        entries.push(TreeEntry {
            path,
            kind: TreeEntryKind::File(file.source.clone()),
            mode,
        });
    }
    entries.extend(dirs.into_iter().map(|path| TreeEntry {
        path,
        kind: TreeEntryKind::Dir,
        mode: 0o755,
    }));
    Ok(entries)
}

/// `dir` and each directory above it (`a`, `a/b`, `a/b/c` for `a/b/c`).
fn add_dirs(dirs: &mut BTreeSet<String>, dir: &str) {
    let mut at = String::new();
    for component in dir.split('/').filter(|c| !c.is_empty()) {
        if !at.is_empty() {
            at.push('/');
        }
        at.push_str(component);
        dirs.insert(at.clone());
    }
}

/// The relative link target from a link in directory `from` to the path `to` (both relative
/// to one root).
fn relative_target(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|c| !c.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|c| !c.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// `prefix` without leading or trailing `/`, refused when it climbs (`..`) or is not plain.
pub fn checked_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_matches('/');
    let plain = Path::new(trimmed)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain || trimmed.contains("//") {
        bail!(
            "the prefix `{prefix}` is not a plain path: give directories below the root, such \
             as `opt/cargo-share` (no `..`, `.` or empty parts)"
        );
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(name: &str, bins: &[&str], libs: &[&str]) -> ProgramClosure {
        ProgramClosure {
            name: name.to_string(),
            version: "1.0.0".to_string(),
            binaries: bins
                .iter()
                .map(|b| (b.to_string(), PathBuf::from(format!("out/bin/{b}"))))
                .collect(),
            libraries: libs
                .iter()
                .map(|l| (l.to_string(), PathBuf::from(format!("out/lib/{l}"))))
                .collect(),
        }
    }

    fn summary(sets: &[FileSet]) -> Vec<(Vec<&str>, Vec<&str>)> {
        sets.iter()
            .map(|s| {
                (
                    s.loaders.iter().map(String::as_str).collect(),
                    s.files.iter().map(|f| f.name.as_str()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn files_are_partitioned_by_the_programs_that_load_them() {
        let sets = partition(&[
            program("web", &["web"], &["libstd-1.so", "libg1.so", "libg2.so"]),
            program(
                "worker",
                &["worker", "worker-cli"],
                &["libstd-1.so", "libg1.so", "libg2.so", "libg3.so"],
            ),
            program("cli", &["cli"], &["libstd-1.so", "libg1.so", "libg4.so"]),
        ])
        .unwrap();
        assert_eq!(
            summary(&sets),
            vec![
                (vec!["cli", "web", "worker"], vec!["libstd-1.so"]),
                (vec!["cli", "web", "worker"], vec!["libg1.so"]),
                (vec!["web", "worker"], vec!["libg2.so"]),
                (vec!["cli"], vec!["cli", "libg4.so"]),
                (vec!["web"], vec!["web"]),
                (vec!["worker"], vec!["worker", "worker-cli", "libg3.so"]),
            ]
        );
        assert!(sets[0].toolchain && !sets[1].toolchain);
        assert!(sets[2].is_shared() && !sets[3].is_shared());
        assert_eq!(sets[3].files[0].kind, FileKind::Binary);
    }

    #[test]
    fn one_name_from_two_paths_or_a_program_twice_is_refused() {
        let mut other = program("b", &["b"], &["libx.so"]);
        other
            .libraries
            .insert("libx.so".into(), PathBuf::from("elsewhere/libx.so"));
        let err = partition(&[program("a", &["a"], &["libx.so"]), other]).unwrap_err();
        assert!(
            format!("{err}").contains("two files under one name"),
            "{err}"
        );
        let err = partition(&[program("a", &["a"], &[]), program("a", &["a"], &[])]).unwrap_err();
        assert!(format!("{err}").contains("named twice"), "{err}");
    }

    #[test]
    fn a_set_is_laid_out_with_bin_beside_lib_under_the_prefix() {
        let sets = partition(&[program("a", &["a"], &["liby.so"])]).unwrap();
        let mut entries = lay_out(&sets[0], "/opt/share/").unwrap();
        entries.sort_by(|x, y| x.path.cmp(&y.path));
        let shown: Vec<(String, u32, bool)> = entries
            .iter()
            .map(|e| (e.path.clone(), e.mode, matches!(e.kind, TreeEntryKind::Dir)))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("opt".to_string(), 0o755, true),
                ("opt/share".to_string(), 0o755, true),
                ("opt/share/bin".to_string(), 0o755, true),
                ("opt/share/bin/a".to_string(), 0o755, false),
                ("opt/share/lib".to_string(), 0o755, true),
                ("opt/share/lib/liby.so".to_string(), 0o644, false),
            ]
        );
        for bad in ["../x", "a/../b", "a//b", "./a"] {
            assert!(lay_out(&sets[0], bad).is_err(), "{bad}");
        }
        let bare = lay_out(&sets[0], "").unwrap();
        assert!(bare.iter().any(|e| e.path == "bin/a"), "{bare:?}");

        // Binaries linked from another directory, by a relative path; each directory once.
        let linked = lay_out_linked(&sets[0], "usr/lib/share", Some("/usr/bin/")).unwrap();
        let link = linked.iter().find(|e| e.path == "usr/bin/a").unwrap();
        assert_eq!(
            link.kind,
            TreeEntryKind::Symlink("../lib/share/bin/a".into())
        );
        let dirs: Vec<&str> = linked
            .iter()
            .filter(|e| e.kind == TreeEntryKind::Dir)
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(
            dirs,
            [
                "usr",
                "usr/bin",
                "usr/lib",
                "usr/lib/share",
                "usr/lib/share/bin",
                "usr/lib/share/lib"
            ]
        );
        // Into PREFIX/bin itself: no link.
        let same = lay_out_linked(&sets[0], "opt/x", Some("opt/x/bin")).unwrap();
        assert_eq!(same, lay_out(&sets[0], "opt/x").unwrap());
        assert_eq!(relative_target("a/b", "a/c/d"), "../c/d");
    }
}
