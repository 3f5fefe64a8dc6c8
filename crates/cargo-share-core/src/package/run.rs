//! `cargo share package --format deb`: build the programs together, partition their files into
//! sets by the programs that load them ([`crate::layout`], as `image` does), and write one
//! Debian package per program and one per shared library, versioned against the packages
//! already in the output directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build::BuildOptions;
use crate::layout::{
    build_closures, canonical_copies, checked_prefix, gzip, lay_out, lay_out_linked, partition,
    source_date_epoch, FileKind, FileSet, ProgramClosure, TreeEntry, TreeEntryKind,
};
use crate::message::{Message, Report};
use crate::package::control::{
    architecture, changelog, copyright, debian_name, debian_version, library_package_name,
    maintainer, revision_of, system_depends, Control,
};
use crate::package::deb::{data_tar, data_tar_of, deb, installed_size_kib, md5sums, payload};
use crate::shell::{human_bytes, Shell};

/// Where the programs' files go (`PREFIX/bin`, `PREFIX/lib`).
pub const DEFAULT_PREFIX: &str = "usr/lib/cargo-share";
/// Where each binary is linked from.
pub(crate) const DEFAULT_BIN_DIR: &str = "usr/bin";
/// The date of every file when `SOURCE_DATE_EPOCH` is not set: Rust 1.0's release
/// (2015-05-15). Fixed, so packages are reproducible; not 0, which Debian's lintian refuses
/// as an "ancient" file.
const DEFAULT_DATE: u64 = 1_431_648_000;
/// Where each package's changelog and copyright go (`usr/share/doc/PACKAGE/`).
const DOC_DIR: &str = "usr/share/doc/";
/// The version of a shared library's package before its revision: a group or libstd has no
/// version of its own; its name (the file binaries bind to) says which build it is.
const SHARED_BASE_VERSION: &str = "0";

/// The kind of native package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PackageFormat {
    /// Debian's `.deb` (dpkg, apt).
    #[default]
    Deb,
}

/// `cargo share package` options (the programs are given as to `build`).
#[derive(Debug, Clone, clap::Args)]
pub struct PackageArgs {
    /// The kind of package (RPM is not made yet: see the book's "Native packages" guide).
    #[arg(long, value_enum, default_value_t = PackageFormat::Deb)]
    pub format: PackageFormat,
    /// Write the packages here. Packages already in it are the earlier versions: a package
    /// whose files are unchanged is kept as it is, a changed one gets the next revision.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Where the programs' files go on the system (PREFIX/bin, PREFIX/lib).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// Where each binary is linked from (a relative link into PREFIX/bin).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BIN_DIR)]
    pub bin_dir: String,
    /// The packages' maintainer (`NAME <EMAIL>`; the default is `DEBFULLNAME <DEBEMAIL>`).
    #[arg(
        long,
        value_name = "NAME <EMAIL>",
        help = "The packages' maintainer, \"NAME <EMAIL>\" [default: DEBFULLNAME <DEBEMAIL>]"
    )]
    pub maintainer: Option<String>,
}

/// One package `package` wrote or kept.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltPackage {
    pub name: String,
    pub version: String,
    /// The `.deb` in the output directory.
    pub file: PathBuf,
    pub size: u64,
    /// Written by this run (a new package or a new revision); false: the one there is kept.
    pub(crate) written: bool,
    /// A shared library's package (false: a program's).
    pub(crate) shared: bool,
    /// The programs that load its files.
    pub(crate) loaders: BTreeSet<String>,
    /// The paths it installs (files and links).
    pub(crate) files: Vec<String>,
    pub(crate) depends: Vec<String>,
}

/// What `package` did.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    #[serde(serialize_with = "crate::message::built_packages")]
    pub packages: Vec<BuiltPackage>,
    /// Bytes of the packages this run wrote.
    pub(crate) written_bytes: u64,
}

/// A package to make: its name, version before the revision, and files.
struct Unit {
    name: String,
    base: String,
    shared: bool,
    set: FileSet,
    synopsis: String,
    description: Vec<String>,
    /// What its files were built from, for the copyright file.
    origin: String,
}

/// `cargo share package`: build `build`'s programs and write their packages.
pub fn package(build: &BuildOptions, args: &PackageArgs, shell: &Shell) -> Result<PackageReport> {
    // Everything that can be refused is checked before the build, which takes minutes.
    let checked = check(args)?;
    let (_scratch, closures) = build_closures(build, "package-build-", shell)?;
    package_closures(&closures, args, &checked, shell)
}

/// What `args` say, checked: the maintainer, the architecture and the date.
pub struct Checked {
    maintainer: String,
    arch: &'static str,
    mtime: u64,
}

/// Check `args` (and the environment's maintainer and date) and create the output directory.
pub fn check(args: &PackageArgs) -> Result<Checked> {
    let PackageFormat::Deb = args.format;
    let checked = Checked {
        maintainer: maintainer(args.maintainer.as_deref())?,
        arch: architecture()?,
        mtime: match std::env::var_os("SOURCE_DATE_EPOCH") {
            Some(_) => source_date_epoch()?,
            None => DEFAULT_DATE,
        },
    };
    checked_prefix(&args.prefix).context("--prefix")?;
    checked_prefix(&args.bin_dir).context("--bin-dir")?;
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the output directory {}", dir.display()))?;
    Ok(checked)
}

/// The packages of programs already built (`closures`, e.g. from a build's output or
/// installed programs' directories), written to `args.out_dir`.
pub fn package_closures(
    closures: &[ProgramClosure],
    args: &PackageArgs,
    checked: &Checked,
    shell: &Shell,
) -> Result<PackageReport> {
    let Checked {
        maintainer,
        arch,
        mtime,
    } = checked;
    let (arch, mtime, dir) = (*arch, *mtime, &args.out_dir);
    let mut units = units(partition(closures)?, closures)?;
    let scratch = tempfile::Builder::new()
        .prefix("cargo-share-package-")
        .tempdir()
        .context("creating a temporary directory for the stripped files")?;
    for unit in &mut units {
        strip(&mut unit.set, scratch.path())?;
    }
    let mut planned = Vec::new();
    for unit in &units {
        let layout = lay_out_linked(&unit.set, &args.prefix, Some(&args.bin_dir))?;
        // Compared without the documentation, which names the version being decided.
        let (version, kept) = version_of(unit, &with_docs(unit, &layout, "0", "", 0)?, dir, arch)?;
        let entries = with_docs(unit, &layout, &version, maintainer, mtime)?;
        let data = data_tar(&entries, mtime)?;
        planned.push((unit, entries, data, version, kept));
    }
    let versions: BTreeMap<String, String> = planned
        .iter()
        .map(|(u, _, _, v, _)| (u.name.clone(), v.clone()))
        .collect();
    let providers: BTreeMap<&str, &str> = units
        .iter()
        .flat_map(|u| {
            u.set
                .files
                .iter()
                .map(|f| (f.name.as_str(), u.name.as_str()))
        })
        .collect();
    let mut packages = Vec::new();
    let mut writes = Vec::new();
    for (unit, entries, data, version, kept) in planned {
        let depends = depends(unit, &providers, &versions)?;
        let file = args
            .out_dir
            .join(format!("{}_{version}_{arch}.deb", unit.name));
        let size = match kept {
            Some(size) => size,
            None => {
                let bytes = package_bytes(unit, &version, &entries, &data, &depends, checked)?;
                let size = bytes.len() as u64;
                writes.push((file.clone(), bytes));
                size
            }
        };
        packages.push(BuiltPackage {
            name: unit.name.clone(),
            version,
            file,
            size,
            written: kept.is_none(),
            shared: unit.shared,
            loaders: unit.set.loaders.clone(),
            files: file_paths(&entries),
            depends,
        });
    }
    // Written only once every package is made: a failure above leaves the directory as it was,
    // and one while writing removes what this run wrote.
    for (i, (file, bytes)) in writes.iter().enumerate() {
        if let Err(e) = write_new(file, bytes) {
            for (written, _) in &writes[..i] {
                let _ = std::fs::remove_file(written);
            }
            return Err(e);
        }
    }
    say(&packages, shell);
    let report = PackageReport {
        written_bytes: packages.iter().filter(|p| p.written).map(|p| p.size).sum(),
        packages,
    };
    shell.message(&Message::PackageFinished(Report::of(&report)));
    Ok(report)
}

/// The `.deb` of `unit` at `version`: its control file, `md5sums` and `data` (the tar of
/// `entries`).
fn package_bytes(
    unit: &Unit,
    version: &str,
    entries: &[TreeEntry],
    data: &[u8],
    depends: &[String],
    checked: &Checked,
) -> Result<Vec<u8>> {
    let control = Control {
        package: unit.name.clone(),
        version: version.to_string(),
        architecture: checked.arch.to_string(),
        maintainer: checked.maintainer.clone(),
        section: if unit.shared { "libs" } else { "misc" },
        installed_size_kib: installed_size_kib(entries)?,
        depends: depends.to_vec(),
        synopsis: unit.synopsis.clone(),
        description: unit.description.clone(),
    };
    deb(&control.text(), &md5sums(entries)?, data, checked.mtime)
}

/// A static program's package as `cargo-deb` makes one (its binary stripped in `/usr/bin`, a
/// changelog and copyright file), written with this module's code, so compressed and laid out
/// as `package`'s are: what the shared packages are measured against (`examples/package_sizes.rs`).
pub fn static_package(
    name: &str,
    version: &str,
    binary: &Path,
    maintainer: &str,
    mtime: u64,
) -> Result<Vec<u8>> {
    let scratch = tempfile::tempdir()?;
    let mut unit = Unit {
        name: debian_name(name),
        base: debian_version(version),
        shared: false,
        set: FileSet {
            loaders: BTreeSet::from([name.to_string()]),
            toolchain: false,
            files: vec![crate::layout::SetFile {
                kind: FileKind::Binary,
                name: name.to_string(),
                source: binary.to_path_buf(),
            }],
        },
        synopsis: "Rust program, statically linked".to_string(),
        description: vec![format!("The binary {name}.")],
        origin: format!("the Rust package {name} {version} and the crates it depends on"),
    };
    strip(&mut unit.set, scratch.path())?;
    let version = format!("{}-1", unit.base);
    let entries = with_docs(
        &unit,
        &lay_out(&unit.set, "usr")?,
        &version,
        maintainer,
        mtime,
    )?;
    let checked = Checked {
        maintainer: maintainer.to_string(),
        arch: architecture()?,
        mtime,
    };
    let depends = depends(&unit, &BTreeMap::new(), &BTreeMap::new())?;
    let data = data_tar(&entries, mtime)?;
    package_bytes(&unit, &version, &entries, &data, &depends, &checked)
}

/// The packages of `sets`: each library of a shared set, and libstd, a package of its own named
/// by its file; each program's own set (its binaries and the libraries only it loads) a
/// package named by the program.
fn units(sets: Vec<FileSet>, closures: &[ProgramClosure]) -> Result<Vec<Unit>> {
    let mut units: Vec<Unit> = Vec::new();
    for set in sets {
        let loaders: Vec<&str> = set.loaders.iter().map(String::as_str).collect();
        let loaders = loaders.join(", ");
        if set.is_shared() || set.toolchain {
            for file in &set.files {
                let (what, origin) = if set.toolchain {
                    (
                        "Rust standard library",
                        "the Rust standard library of the compiler that built the programs"
                            .to_string(),
                    )
                } else {
                    (
                        "Rust crates shared by programs",
                        format!("the Rust crates that {loaders} share"),
                    )
                };
                units.push(Unit {
                    name: library_package_name(&file.name),
                    base: SHARED_BASE_VERSION.to_string(),
                    shared: true,
                    set: FileSet {
                        loaders: set.loaders.clone(),
                        toolchain: set.toolchain,
                        files: vec![file.clone()],
                    },
                    synopsis: format!("{what}, one shared library"),
                    origin,
                    description: vec![
                        format!("The shared library {} that {loaders} load.", file.name),
                        "Built by cargo-share; a fix that leaves what the programs bind to as \
                         it is ships as a new version of this package alone."
                            .to_string(),
                    ],
                });
            }
            continue;
        }
        let program = closures
            .iter()
            .find(|c| set.loaders.contains(&c.name))
            .context("internal: a file set of no program")?;
        let binaries: Vec<&str> = program.binaries.keys().map(String::as_str).collect();
        units.push(Unit {
            name: debian_name(&program.name),
            base: debian_version(&program.version),
            shared: false,
            synopsis: "Rust program, its shared crates in packages of their own".to_string(),
            origin: format!(
                "the Rust package {} {} and the crates it depends on that no other program \
                 of its build loads",
                program.name, program.version
            ),
            description: vec![
                format!("The binaries {} of {}.", binaries.join(", "), program.name),
                "Built by cargo-share: the Rust crates it shares with other programs come in \
                 the library packages it depends on."
                    .to_string(),
            ],
            set,
        });
    }
    let mut names = BTreeSet::new();
    if let Some(twice) = units.iter().find(|u| !names.insert(u.name.as_str())) {
        bail!(
            "two packages would be named {}: a program's name is also a shared library's \
             package name; rename the program or package it apart",
            twice.name
        );
    }
    Ok(units)
}

/// The version `unit` gets: the latest revision in `dir` when it installs the same files as
/// `entries` (and that package's size, kept), else the next revision (revision 1 for a new base
/// version). Dates, the changelog and the copyright file are not compared.
fn version_of(
    unit: &Unit,
    entries: &[TreeEntry],
    dir: &Path,
    arch: &str,
) -> Result<(String, Option<u64>)> {
    let Some((revision, file)) = latest_revision(dir, &unit.name, &unit.base, arch)? else {
        return Ok((format!("{}-1", unit.base), None));
    };
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let earlier = data_tar_of(&bytes).with_context(|| {
        format!(
            "{} is not a package this command wrote (reading its data.tar.gz); move it out of \
             the output directory",
            file.display()
        )
    })?;
    let ours = data_tar(entries, 0)?;
    if payload(&earlier, DOC_DIR)? == payload(&ours, DOC_DIR)? {
        return Ok((
            format!("{}-{revision}", unit.base),
            Some(bytes.len() as u64),
        ));
    }
    Ok((format!("{}-{}", unit.base, revision + 1), None))
}

/// The highest revision of `NAME_BASE-N_ARCH.deb` in `dir`, and its file.
fn latest_revision(
    dir: &Path,
    name: &str,
    base: &str,
    arch: &str,
) -> Result<Option<(u32, PathBuf)>> {
    let mut best: Option<(u32, PathBuf)> = None;
    let read = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in read {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let version = file
            .strip_prefix(&format!("{name}_"))
            .and_then(|r| r.strip_suffix(&format!("_{arch}.deb")));
        if let Some(n) = version.and_then(|v| revision_of(v, base)) {
            if best.as_ref().is_none_or(|(b, _)| n > *b) {
                best = Some((n, entry.path()));
            }
        }
    }
    Ok(best)
}

/// What `unit` depends on: the packages of the libraries its files load, each at least at the
/// version made with it (a later revision, a body-only fix, satisfies it), and the system's.
fn depends(
    unit: &Unit,
    providers: &BTreeMap<&str, &str>,
    versions: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let own: BTreeSet<&str> = unit.set.files.iter().map(|f| f.name.as_str()).collect();
    let mut ours = BTreeSet::new();
    let mut system = Vec::new();
    let mut symbol_versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &unit.set.files {
        let bytes = std::fs::read(&file.source)
            .with_context(|| format!("reading {}", file.source.display()))?;
        let info = cargo_share_compile::elf::dynamic_info_of(&bytes)
            .with_context(|| format!("reading the libraries {} loads", file.source.display()))?;
        let mut others = Vec::new();
        for needed in &info.needed {
            let name = cargo_share_compile::elf::needed_file(needed);
            match providers.get(name) {
                Some(_) if own.contains(name) => {}
                Some(package) => {
                    ours.insert(format!("{package} (>= {})", versions[*package]));
                }
                None => others.push(name.to_string()),
            }
        }
        for (library, v) in cargo_share_compile::elf::needed_versions(&bytes)? {
            if others.contains(&library) {
                symbol_versions.entry(library).or_default().extend(v);
            }
        }
        system.push((file.name.clone(), others));
    }
    let mut out = system_depends(&system, &symbol_versions)?;
    out.extend(ours);
    Ok(out)
}

/// Each file of `set` stripped as Debian's `dh_strip` strips it (`.comment` and `.note` removed;
/// libraries also `--strip-unneeded`, executables every symbol table) into `dir`, the set
/// pointing at the copies, from their canonical copies (`layout::canonical`: the same canonical
/// copy strips to the same bytes, its build-id kept). The dynamic symbols and sections the
/// loader reads are kept.
fn strip(set: &mut FileSet, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    canonical_copies(set, &dir.join("canonical"))?;
    for file in &mut set.files {
        let out = dir.join(&file.name);
        let mut cmd = std::process::Command::new("strip");
        cmd.args(["--remove-section=.comment", "--remove-section=.note"]);
        if file.kind == FileKind::Library {
            cmd.arg("--strip-unneeded");
        }
        cmd.arg("-o").arg(&out).arg(&file.source);
        let output = cmd.output().with_context(|| {
            "running `strip` (GNU binutils) to strip the packages' files; install binutils"
        })?;
        if !output.status.success() {
            bail!(
                "`strip` failed on {}: {}",
                file.source.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        file.source = out;
    }
    Ok(())
}

/// `layout` and `usr/share/doc/PACKAGE/changelog.Debian.gz` (one entry, this version) and
/// `copyright`, as Debian requires of every binary package, and lintian's overrides if any.
fn with_docs(
    unit: &Unit,
    layout: &[TreeEntry],
    version: &str,
    maintainer: &str,
    mtime: u64,
) -> Result<Vec<TreeEntry>> {
    let doc = format!("{DOC_DIR}{}", unit.name);
    let log = changelog(&unit.name, version, maintainer, mtime);
    let mut files = vec![
        (format!("{doc}/changelog.Debian.gz"), gzip(log.as_bytes())?),
        (
            format!("{doc}/copyright"),
            copyright(&unit.name, &unit.origin).into_bytes(),
        ),
    ];
    let overrides = lintian_overrides(unit, layout)?;
    if !overrides.is_empty() {
        let path = format!("usr/share/lintian/overrides/{}", unit.name);
        files.push((path, overrides.into_bytes()));
    }
    // Each file's directories, those the layout has not made.
    let mut dirs = BTreeSet::new();
    for (path, _) in &files {
        let mut at = path.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            dirs.insert(parent.to_string());
            at = parent;
        }
    }
    let laid: BTreeSet<&str> = layout.iter().map(|e| e.path.as_str()).collect();
    let mut entries = layout.to_vec();
    entries.extend(
        dirs.into_iter()
            .filter(|d| !laid.contains(d.as_str()))
            .map(|path| TreeEntry {
                path,
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            }),
    );
    entries.extend(files.into_iter().map(|(path, bytes)| TreeEntry {
        path,
        kind: TreeEntryKind::Data(bytes),
        mode: 0o644,
    }));
    Ok(entries)
}

/// lintian's overrides for `unit`: a Rust library that calls nothing in libc itself (only
/// through libstd, which it loads) is not linked against it, which lintian's
/// `library-not-linked-against-libc` takes for a mistake.
fn lintian_overrides(unit: &Unit, layout: &[TreeEntry]) -> Result<String> {
    let mut text = String::new();
    for file in &unit.set.files {
        let installed = layout
            .iter()
            .find(|e| e.kind == TreeEntryKind::File(file.source.clone()))
            .map(|e| e.path.as_str());
        let (FileKind::Library, Some(installed)) = (file.kind, installed) else {
            continue;
        };
        let info = cargo_share_compile::elf::dynamic_info(&file.source)?;
        if !info.needed.iter().any(|n| n == "libc.so.6") {
            text.push_str(&format!(
                "# A Rust library that calls libc only through libstd, which it loads.\n{}: \
                 library-not-linked-against-libc [{}]\n",
                unit.name, installed
            ));
        }
    }
    Ok(text)
}

/// The installed paths of `entries` (files and links, not directories), from `/`.
fn file_paths(entries: &[TreeEntry]) -> Vec<String> {
    let mut files: Vec<String> = entries
        .iter()
        .filter(|e| !matches!(e.kind, TreeEntryKind::Dir))
        .map(|e| format!("/{}", e.path))
        .collect();
    files.sort();
    files
}

/// Write `bytes` to `file` through a temporary file beside it, renamed into place.
fn write_new(file: &Path, bytes: &[u8]) -> Result<()> {
    let dir = file
        .parent()
        .context("internal: a package file without a directory")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", file.display()))?;
    // Readable by all, as a package in a repository is (apt reads it as another user).
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("writing {}", file.display()))?;
    tmp.persist(file)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

fn say(packages: &[BuiltPackage], shell: &Shell) {
    for p in packages {
        let verb = if p.written { "Packaged" } else { "Unchanged" };
        shell.status(
            verb,
            format!(
                "{} {} ({}, {} files)",
                p.name,
                p.version,
                human_bytes(p.size),
                p.files.len()
            ),
        );
        shell.message(&Message::PackageBuilt(Report::of(p)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str) -> Unit {
        Unit {
            name: name.to_string(),
            base: SHARED_BASE_VERSION.to_string(),
            shared: true,
            set: FileSet {
                loaders: BTreeSet::new(),
                toolchain: false,
                files: vec![],
            },
            synopsis: String::new(),
            description: vec![],
            origin: String::new(),
        }
    }

    fn file(bytes: &[u8]) -> Vec<TreeEntry> {
        vec![TreeEntry {
            path: "usr/lib/x/libx.so".into(),
            kind: TreeEntryKind::Data(bytes.to_vec()),
            mode: 0o644,
        }]
    }

    /// A package of `entries` at `version` in `dir`, with a changelog naming the version.
    fn put(dir: &Path, unit: &Unit, version: &str, entries: &[TreeEntry], mtime: u64) {
        let entries = with_docs(unit, entries, version, "A <a@b>", mtime).unwrap();
        let data = data_tar(&entries, mtime).unwrap();
        let bytes = deb("Package: x\n", "", &data, mtime).unwrap();
        let name = format!("{}_{version}_amd64.deb", unit.name);
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn a_package_keeps_its_revision_while_its_files_do_not_change() {
        let dir = tempfile::tempdir().unwrap();
        let x = unit("libx");
        let (a, b) = (file(b"one"), file(b"two"));
        let version = |entries: &[TreeEntry]| {
            let probe = with_docs(&x, entries, "0", "", 0).unwrap();
            version_of(&x, &probe, dir.path(), "amd64").unwrap()
        };
        assert_eq!(version(&a), ("0-1".to_string(), None));
        // Another package, another base version and another architecture are not revisions.
        put(dir.path(), &unit("liby"), "0-7", &a, 0);
        put(dir.path(), &x, "0.1-3", &a, 0);
        std::fs::write(dir.path().join("libx_0-9_arm64.deb"), b"").unwrap();
        put(dir.path(), &x, "0-1", &a, 5);
        // The same files at another date and with another changelog: kept.
        let (v, kept) = version(&a);
        assert_eq!(v, "0-1");
        assert!(kept.is_some());
        assert_eq!(version(&b), ("0-2".to_string(), None));
        put(dir.path(), &x, "0-2", &b, 0);
        // Back to the first files: newer than the newest, not the old revision.
        assert_eq!(version(&a), ("0-3".to_string(), None));
        // A file that is not a package in the way: named.
        std::fs::write(dir.path().join("libx_0-4_amd64.deb"), b"junk").unwrap();
        let err = version_of(&x, &a, dir.path(), "amd64").unwrap_err();
        assert!(format!("{err:#}").contains("libx_0-4_amd64.deb"), "{err:#}");
    }
}
