//! `cargo share pull --from oci://HOST[:PORT]/PATH --trusted-key FILE [--root DIR]
//! [--allow-downgrade] PROGRAM...`:
//! program builds and their entries from a binary cache into the store, through the same commit
//! point as `install` (`store::program_commit`), with no compiler run.
//!
//! Two phases, so that a refusal changes nothing: every artifact is fetched and verified
//! (signature by a trusted key, every blob's digest and size, names and versions, each entry's
//! identity computed again from its inputs, each file's hash against its manifest) into a
//! scratch directory in the store's `tmp/`, with no store lock held; only then is the lock
//! taken, the plan checked again against the store as it is, and entries added and programs
//! committed. What is verified and what is not: `docs/src/security-binary-cache.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cache::artifact::{
    fetch_signed, ExpectedFile, Signed, ENTRY_ARTIFACT, PROGRAM_ARTIFACT,
};
use crate::cache::keys::PublicKey;
use crate::cache::oci::OciRegistry;
use crate::cache::records::{EntryConfig, EntryRef, ProgramConfig};
use crate::cache::remote::{CacheUrl, Remote};
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::{human_bytes, Shell};
use cargo_share_core::source::CrateSpec;
use cargo_share_core::store::ancestors::check_safe_path;
use cargo_share_core::store::files::ScratchDir;
use cargo_share_core::store::index::EntryOutcome;
use cargo_share_core::store::open::entry_label;
use cargo_share_core::store::program_commit::{
    check_link, commit_program, program_roots, PlainInstall, ProgramBuild,
};
use cargo_share_core::store::{
    open_store_rolling_forward, Access, CrateIdentity, InstallRecord, Store, StoreEntry,
};

/// `cargo share pull` options.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub store: PathBuf,
    pub root: PathBuf,
    pub from: String,
    pub trusted_keys: Vec<PathBuf>,
    pub programs: Vec<CrateSpec>,
    pub insecure: bool,
    pub force: bool,
    /// Install a `latest` older than the installed version (a rollback) instead of refusing.
    pub allow_downgrade: bool,
}

/// Where and how pulled programs are committed.
#[derive(Debug, Clone)]
pub(crate) struct PullTarget<'a> {
    /// The store directory (made if new).
    pub(crate) store: &'a Path,
    pub(crate) root: &'a Path,
    /// Replace binaries in ROOT/bin that cargo share did not install.
    pub(crate) force: bool,
    /// Install a `latest` older than the installed version.
    pub(crate) allow_downgrade: bool,
}

/// A program's signed manifest and checked config, as fetched for what was asked.
pub(crate) struct FoundProgram {
    pub(crate) config: ProgramConfig,
    pub(crate) signed: Signed,
    /// Whether a version was asked for (else this is the cache's `latest`).
    pub(crate) pinned: bool,
}

/// The trusted public keys, read; at least one.
pub(crate) fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    if paths.is_empty() {
        bail!("no trusted key: pass --trusted-key FILE (a `.pub` file from `cargo share key generate`); nothing unsigned or signed by an unknown key is installed");
    }
    paths.iter().map(|p| PublicKey::read(p)).collect()
}

pub fn pull(opts: &PullOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let url = CacheUrl::parse(&opts.from)?;
    let trusted = read_trusted_keys(&opts.trusted_keys)?;
    let remote = OciRegistry::new(&url, opts.insecure)?;
    check_safe_path(&opts.root, "install root", "--root")?;
    cargo_share_core::store::roots::check_root_outside_store(&opts.root, &opts.store)?;
    let mut fetched = Vec::new();
    for spec in &opts.programs {
        shell.status("Fetching", format!("{} from {}", spec.name, url_text(&url)));
        let found = fetch_program(&remote, &url, &trusted, spec)?.with_context(|| {
            format!(
                "the cache {} has no program `{}`{}: push it first (`cargo share push`)",
                url_text(&url),
                spec.name,
                spec.version
                    .as_deref()
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default()
            )
        })?;
        fetched.push(found);
    }
    let target = PullTarget {
        store: &opts.store,
        root: &opts.root,
        force: opts.force,
        allow_downgrade: opts.allow_downgrade,
    };
    pull_found(&remote, &url, &trusted, fetched, &target, shell)
}

/// A program fetched and verified, its binaries staged in the pull's scratch directory.
struct FetchedProgram {
    config: ProgramConfig,
    pinned: bool,
    binaries: Vec<PathBuf>,
}

/// An entry fetched and verified: its manifest and files (`dev`, `lib`).
type FetchedEntry = (StoreEntry, Vec<u8>, Vec<u8>);

/// An entry fetched and verified, its files staged in the pull's scratch directory (so that
/// only one entry's files are in memory at a time).
struct StagedEntry {
    entry: StoreEntry,
    dev: PathBuf,
    lib: PathBuf,
}

/// What the network phase brought: the programs, and the entries the store lacked then.
struct Fetched {
    programs: Vec<FetchedProgram>,
    entries: BTreeMap<String, StagedEntry>,
}

/// The cache a pull reads, and the keys it trusts.
#[derive(Clone, Copy)]
struct Source<'a> {
    remote: &'a dyn Remote,
    url: &'a CacheUrl,
    trusted: &'a [PublicKey],
}

/// Fetch the program artifact for `spec`; `None` when the cache has none.
pub(crate) fn fetch_program(
    remote: &dyn Remote,
    url: &CacheUrl,
    trusted: &[PublicKey],
    spec: &CrateSpec,
) -> Result<Option<FoundProgram>> {
    let tag = spec
        .version
        .as_deref()
        .map(|v| v.replace('+', "_"))
        .unwrap_or_else(|| "latest".into());
    let repository = url.repository("programs", &spec.name);
    let what = format!("the program {}", spec.name);
    let Some(signed) = fetch_signed(
        remote,
        &repository,
        &tag,
        None,
        PROGRAM_ARTIFACT,
        trusted,
        &what,
    )?
    else {
        return Ok(None);
    };
    let config: ProgramConfig = serde_json::from_slice(&signed.config)
        .with_context(|| format!("{what}: its config is not a cargo-share program record"))?;
    config.check(&spec.name, &what)?;
    if let Some(v) = &spec.version {
        if &config.program.version != v {
            bail!(
                "{what}: the cache's `{tag}` is version {}, not {v}; refused",
                config.program.version
            );
        }
    }
    Ok(Some(FoundProgram {
        config,
        signed,
        pinned: spec.version.is_some(),
    }))
}

/// Refuse what cannot be committed: a `latest` older than the installed version (unless
/// allowed), a binary whose link in a root belongs to something else (unless forced).
fn check_programs<'a>(
    store: &Store,
    programs: impl IntoIterator<Item = (&'a ProgramConfig, bool)>,
    target: &PullTarget,
    root: &Path,
) -> Result<()> {
    let programs_dir = store.programs_dir()?;
    for (config, pinned) in programs {
        let p = &config.program;
        let installed = store.program(&p.name)?;
        if let Some(installed) = installed.filter(|_| !pinned && !target.allow_downgrade) {
            let older = match (
                semver::Version::parse(&installed.version),
                semver::Version::parse(&p.version),
            ) {
                (Ok(now), Ok(new)) => new < now,
                _ => false,
            };
            if older {
                bail!(
                    "the program {}: the cache's `latest` is version {}, older than the \
                     installed {}: `latest` was moved back (a rollback, or an older build \
                     pushed last); refused, nothing was installed. Pull {}@{} to install that \
                     version, or pass --allow-downgrade",
                    p.name,
                    p.version,
                    installed.version,
                    p.name,
                    p.version
                );
            }
        }
        for r in program_roots(store, &p.name, root)? {
            for (bin, _) in &p.binaries {
                let link = r.join("bin").join(bin);
                let force = target.force;
                check_link(store, &programs_dir, &link, &p.name, force, &PlainInstall)?;
            }
        }
    }
    Ok(())
}

/// Install `found` (fetched by [`fetch_program`]: their manifests and configs, signed and
/// checked) from `remote` into the target's store and root. What is installed is what was
/// checked: the files come by the digests of those signed manifests.
///
/// The store lock is held only while the store changes: the network phase stages into a
/// scratch directory of the pull's own in `STORE/tmp` (locked, so `gc` leaves it alone), and
/// the commit takes the lock and checks the plan against the store as it is then (another
/// command may have committed meanwhile).
pub(crate) fn pull_found(
    remote: &dyn Remote,
    url: &CacheUrl,
    trusted: &[PublicKey],
    found: Vec<FoundProgram>,
    target: &PullTarget,
    shell: &Shell,
) -> Result<Vec<InstallRecord>> {
    let root = std::path::absolute(target.root)
        .with_context(|| format!("resolving the install root {}", target.root.display()))?;
    let scratch = {
        let store = open_store_rolling_forward(target.store, Access::Create)?;
        let programs = found.iter().map(|f| (&f.config, f.pinned));
        check_programs(&store, programs, target, &root)?;
        ScratchDir::new(&store.root.join("tmp"), "pull-")?
    };
    let source = Source {
        remote,
        url,
        trusted,
    };
    let fetched = fetch_all(source, found, target.store, scratch.path(), shell)?;
    let store = open_store_rolling_forward(target.store, Access::Create)?;
    let records = commit_all(
        &store,
        source,
        fetched,
        target,
        &root,
        scratch.path(),
        shell,
    )?;
    let total = remote.transferred().1;
    shell.status(
        "Pulled",
        format!(
            "{} program(s), {} received",
            records.len(),
            human_bytes(total)
        ),
    );
    Ok(records)
}

/// The network phase, with no store lock held: each program's binaries into `scratch`, and
/// every entry the store lacks now (a shared lock for that look only).
fn fetch_all(
    source: Source,
    found: Vec<FoundProgram>,
    store_dir: &Path,
    scratch: &Path,
    shell: &Shell,
) -> Result<Fetched> {
    let mut programs = Vec::new();
    for (i, f) in found.into_iter().enumerate() {
        let dir = scratch.join(format!("bin-{i}"));
        let binaries = stage_binaries(source.remote, &f, &dir)?;
        programs.push(FetchedProgram {
            config: f.config,
            pinned: f.pinned,
            binaries,
        });
    }
    let present: BTreeSet<String> = {
        let store = Store::open(store_dir, Access::Read)?;
        let mut present = BTreeSet::new();
        for r in programs.iter().flat_map(|p| &p.config.entries) {
            if store.entry_intact(&r.hash)? == Some(true) {
                present.insert(r.hash.clone());
            }
        }
        present
    };
    let mut entries = BTreeMap::new();
    for r in programs.iter().flat_map(|p| &p.config.entries) {
        if present.contains(&r.hash) || entries.contains_key(&r.hash) {
            continue;
        }
        entries.insert(r.hash.clone(), stage_entry(source, r, scratch, shell)?);
    }
    Ok(Fetched { programs, entries })
}

/// An entry fetched, verified and written to `scratch/entries/HASH/` (`dev`, `lib`).
fn stage_entry(source: Source, r: &EntryRef, scratch: &Path, shell: &Shell) -> Result<StagedEntry> {
    let (entry, dev, lib) = fetch_entry(source.remote, source.url, source.trusted, r)?;
    shell.status(
        "Fetched",
        format!(
            "{} ({})",
            entry_label(&entry.identity),
            human_bytes(lib.len() as u64 + dev.len() as u64)
        ),
    );
    // The hash was checked (64 hex digits) with the program's config.
    let dir = scratch.join("entries").join(&r.hash);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let staged = StagedEntry {
        entry,
        dev: dir.join("dev"),
        lib: dir.join("lib"),
    };
    for (path, bytes) in [(&staged.dev, dev), (&staged.lib, lib)] {
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(staged)
}

/// A program's binaries, fetched, checked against its record and written to `dir`.
fn stage_binaries(remote: &dyn Remote, found: &FoundProgram, dir: &Path) -> Result<Vec<PathBuf>> {
    let p = &found.config.program;
    let expected: Vec<ExpectedFile> = p
        .binaries
        .iter()
        .map(|(bin, _)| ExpectedFile {
            title: format!("bin/{bin}"),
            size: None,
        })
        .collect();
    let files = found.signed.files(remote, &expected)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut paths = Vec::new();
    for ((bin, sha), (title, bytes)) in p.binaries.iter().zip(files) {
        if cargo_share_compile::digest::sha256_hex(&bytes) != *sha {
            bail!(
                "the program {}: {title} does not match its record; refused",
                p.name
            );
        }
        let path = dir.join(bin);
        std::fs::write(&path, &bytes)
            .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)))
            .with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The commit, under the store lock: the plan checked again against the store as it is now
/// (an entry that was there and is gone or damaged now is fetched), entries added, then each
/// program through the install's commit point.
fn commit_all(
    store: &Store,
    source: Source,
    mut fetched: Fetched,
    target: &PullTarget,
    root: &Path,
    scratch: &Path,
    shell: &Shell,
) -> Result<Vec<InstallRecord>> {
    let bin_dir = root.join("bin");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    check_safe_path(&bin_dir, "install root", "--root")?;
    let programs = fetched.programs.iter().map(|p| (&p.config, p.pinned));
    check_programs(store, programs, target, root)?;
    for r in fetched.programs.iter().flat_map(|p| &p.config.entries) {
        if fetched.entries.contains_key(&r.hash) || store.entry_intact(&r.hash)? == Some(true) {
            continue;
        }
        shell.status(
            "Fetching",
            format!(
                "{} v{} again: the store lost it while the pull ran",
                r.package, r.version
            ),
        );
        let staged = stage_entry(source, r, scratch, shell)?;
        fetched.entries.insert(r.hash.clone(), staged);
    }
    let mut added = BTreeSet::new();
    for (hash, staged) in &fetched.entries {
        let entry = &staged.entry;
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        match store.add_entry_files(entry, &read(&staged.dev)?, &read(&staged.lib)?)? {
            EntryOutcome::Reused => continue,
            EntryOutcome::Replaced => shell.warn(format!(
                "the store's entry {} did not match its hashes (damaged); it was replaced by the \
                 cache's. Run `cargo share verify --repair` to relink programs installed before",
                entry_label(&entry.identity)
            )),
            EntryOutcome::Added => shell.status("Adding", entry_label(&entry.identity)),
        }
        added.insert(hash.clone());
    }
    cargo_share_core::store::fault::step("pull-entries-added")?;
    let mut records = Vec::new();
    for program in &fetched.programs {
        if let Some(record) = commit_pulled(store, program, &added, root, shell)? {
            records.push(record);
        }
    }
    Ok(records)
}

/// One program through the install's commit point; `None` when it was installed as it is.
fn commit_pulled(
    store: &Store,
    program: &FetchedProgram,
    added: &BTreeSet<String>,
    root: &Path,
    shell: &Shell,
) -> Result<Option<InstallRecord>> {
    let p = &program.config.program;
    let mut needed: Vec<CrateIdentity> = Vec::new();
    for hash in &program.config.libraries {
        needed.push(stored_identity(store, hash)?);
    }
    shell.status("Installing", format!("{} v{}", p.name, p.version));
    let Some((_, linked)) = commit_program(
        store,
        &ProgramBuild {
            name: &p.name,
            version: &p.version,
            source: &p.source,
            features: &p.features,
            binaries: &program.binaries,
            needed: &needed,
            entries: &p.entries,
            // Plugins are not in the cache (README, "Binary cache": limitations).
            plugin_builds: &[],
            // A pulled program is not built again by a later install (README, "Binary
            // cache": limitations).
            origin: None,
            resolution: None,
            crates: &[],
            install_origin: None,
        },
        root,
        &mut PlainInstall,
        shell,
    )?
    else {
        return Ok(None);
    };
    let (pulled, reused): (Vec<String>, Vec<String>) =
        p.entries.iter().cloned().partition(|h| added.contains(h));
    let record = InstallRecord {
        name: p.name.clone(),
        version: p.version.clone(),
        binaries: linked,
        reused,
        added: pulled,
    };
    record.announce(shell, "from the cache; ");
    shell.message(&Message::ProgramPulled(Report::of(&record)));
    Ok(Some(record))
}

fn url_text(url: &CacheUrl) -> String {
    format!("oci://{}/{}", url.host, url.path)
}

/// The identity of an entry now in the store.
fn stored_identity(store: &Store, hash: &str) -> Result<CrateIdentity> {
    let row = store
        .entries()?
        .into_iter()
        .find(|r| r.hash == hash)
        .with_context(|| format!("internal: the entry {hash} is not in the store"))?;
    Ok(store.entry(&row)?.identity)
}

/// One entry from the cache, verified: its manifest and files (`dev`, `lib`).
fn fetch_entry(
    remote: &dyn Remote,
    url: &CacheUrl,
    trusted: &[PublicKey],
    reference: &EntryRef,
) -> Result<FetchedEntry> {
    let (hash, package) = (reference.hash.as_str(), reference.package.as_str());
    let repository = url.repository("entries", package);
    let what = format!("the entry {package} ({})", &hash[..hash.len().min(12)]);
    let signed = fetch_signed(
        remote,
        &repository,
        hash,
        Some(hash),
        ENTRY_ARTIFACT,
        trusted,
        &what,
    )?
    .with_context(|| {
        format!(
            "{what} is not in the cache {} ({repository}:{hash}): a push that did not finish \
             leaves it out; push its program again",
            url_text(url)
        )
    })?;
    let config: EntryConfig = serde_json::from_slice(&signed.config)
        .with_context(|| format!("{what}: its config is not a cargo-share entry record"))?;
    config.check(hash, &what)?;
    config.check_named(reference, &what)?;
    let file = &config.entry.identity.file;
    let expected = [
        ExpectedFile {
            title: format!("dev/{file}"),
            size: None,
        },
        ExpectedFile {
            title: format!("lib/{file}"),
            size: Some(config.entry.runtime_size),
        },
    ];
    let mut files = signed.files(remote, &expected)?.into_iter();
    let (Some((_, dev)), Some((_, lib))) = (files.next(), files.next()) else {
        bail!("internal: {what}: the checked files are missing");
    };
    if cargo_share_compile::digest::sha256_hex(&lib) != config.entry.runtime_sha256
        || cargo_share_compile::digest::sha256_hex(&dev) != config.entry.dev_sha256
        || lib.len() as u64 != config.entry.runtime_size
    {
        bail!("{what}: its files do not match its manifest's hashes; refused");
    }
    Ok((config.entry, dev, lib))
}
