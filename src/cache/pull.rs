//! `cargo share pull --from oci://HOST[:PORT]/PATH --trusted-key FILE [--root DIR] PROGRAM...`:
//! program builds and their entries from a binary cache into the store, through the same commit
//! point as `install` (`store::program_commit`), with no compiler run.
//!
//! Two phases, so that a refusal changes nothing: every artifact is fetched and verified
//! (signature by a trusted key, every blob's digest, each entry's identity computed again from
//! its inputs, each file's hash against its manifest) into a scratch directory in the store's
//! `tmp/`; only then are entries added and programs committed.

use std::collections::BTreeMap;
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
use crate::shell::{human_bytes, Shell};
use crate::source::CrateSpec;
use crate::store::ancestors::check_safe_path;
use crate::store::files::ScratchDir;
use crate::store::index::EntryOutcome;
use crate::store::open::entry_label;
use crate::store::program_commit::{
    check_link, commit_program, program_roots, PlainInstall, ProgramBuild,
};
use crate::store::{
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
pub struct PullTarget<'a> {
    pub root: &'a Path,
    /// Replace binaries in ROOT/bin that cargo share did not install.
    pub force: bool,
    /// Install a `latest` older than the installed version.
    pub allow_downgrade: bool,
}

/// A program's signed manifest and checked config, as fetched for what was asked.
pub struct FoundProgram {
    pub config: ProgramConfig,
    pub signed: Signed,
    /// Whether a version was asked for (else this is the cache's `latest`).
    pub pinned: bool,
}

/// The trusted public keys, read; at least one.
pub fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
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
    let store = open_store_rolling_forward(&opts.store, Access::Create)?;
    let target = PullTarget {
        root: &opts.root,
        force: opts.force,
        allow_downgrade: opts.allow_downgrade,
    };
    pull_into(&store, &remote, &url, &trusted, fetched, &target, shell)
}

/// A program fetched and verified, with its binaries' bytes.
struct FetchedProgram {
    config: ProgramConfig,
    binaries: Vec<(String, Vec<u8>)>,
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
fn check_programs(store: &Store, found: &[FoundProgram], target: &PullTarget) -> Result<()> {
    let root = std::path::absolute(target.root)
        .with_context(|| format!("resolving the install root {}", target.root.display()))?;
    let programs_dir = store.programs_dir()?;
    for f in found {
        let p = &f.config.program;
        let installed = store.program(&p.name)?;
        if let Some(installed) = installed.filter(|_| !f.pinned && !target.allow_downgrade) {
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
        for r in program_roots(store, &p.name, &root)? {
            for (bin, _) in &p.binaries {
                let link = r.join("bin").join(bin);
                let force = target.force;
                check_link(store, &programs_dir, &link, &p.name, force, &PlainInstall)?;
            }
        }
    }
    Ok(())
}

/// Install `programs` (fetched by [`fetch_program`]: their manifests and configs, signed and
/// checked) from `remote` into `store` and link them into the target's root. What is installed
/// is what was checked: the files come by the digests of those signed manifests.
pub fn pull_into(
    store: &Store,
    remote: &dyn Remote,
    url: &CacheUrl,
    trusted: &[PublicKey],
    programs: Vec<FoundProgram>,
    target: &PullTarget,
    shell: &Shell,
) -> Result<Vec<InstallRecord>> {
    let root = std::path::absolute(target.root)
        .with_context(|| format!("resolving the install root {}", target.root.display()))?;
    let bin_dir = root.join("bin");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    check_safe_path(&bin_dir, "install root", "--root")?;
    check_programs(store, &programs, target)?;

    // Phase 1: fetch and verify everything; nothing is written to the store.
    let scratch = ScratchDir::new(&store.root.join("tmp"), "pull-")?;
    let fetched = programs;
    let mut programs = Vec::new();
    for FoundProgram { config, signed, .. } in fetched {
        let p = &config.program;
        let expected: Vec<ExpectedFile> = p
            .binaries
            .iter()
            .map(|(bin, _)| ExpectedFile {
                title: format!("bin/{bin}"),
                size: None,
            })
            .collect();
        let files = signed.files(remote, &expected)?;
        let mut binaries = Vec::new();
        for ((bin, sha), (title, bytes)) in p.binaries.iter().zip(files) {
            if crate::digest::sha256_hex(&bytes) != *sha {
                bail!(
                    "the program {}: {title} does not match its record; refused",
                    p.name
                );
            }
            binaries.push((bin.clone(), bytes));
        }
        programs.push(FetchedProgram { config, binaries });
    }
    let mut entries: BTreeMap<String, (StoreEntry, Vec<u8>, Vec<u8>)> = BTreeMap::new();
    let mut reused_by: BTreeMap<String, bool> = BTreeMap::new();
    for program in &programs {
        for r in &program.config.entries {
            if entries.contains_key(&r.hash) || reused_by.contains_key(&r.hash) {
                continue;
            }
            if store.entry_intact(&r.hash)? == Some(true) {
                reused_by.insert(r.hash.clone(), true);
                continue;
            }
            let (entry, dev, lib) = fetch_entry(remote, url, trusted, r)?;
            shell.status(
                "Fetched",
                format!(
                    "{} ({})",
                    entry_label(&entry.identity),
                    human_bytes(lib.len() as u64 + dev.len() as u64)
                ),
            );
            entries.insert(r.hash.clone(), (entry, dev, lib));
        }
    }

    // Phase 2: entries, then each program through the install's commit point.
    for (hash, (entry, dev, lib)) in &entries {
        match store.add_entry_files(entry, dev, lib)? {
            EntryOutcome::Replaced => shell.warn(format!(
                "the store's entry {} did not match its hashes (damaged); it was replaced by the \
                 cache's. Run `cargo share verify --repair` to relink programs installed before",
                entry_label(&entry.identity)
            )),
            _ => shell.status("Adding", entry_label(&entry.identity)),
        }
        debug_assert_eq!(hash, &entry.identity.hash);
    }
    crate::store::fault::step("pull-entries-added")?;
    let mut records = Vec::new();
    for (i, program) in programs.iter().enumerate() {
        let p = &program.config.program;
        let bin_scratch = scratch.path().join(format!("bin-{i}"));
        std::fs::create_dir_all(&bin_scratch)?;
        let mut paths = Vec::new();
        for (bin, bytes) in &program.binaries {
            let path = bin_scratch.join(bin);
            std::fs::write(&path, bytes)
                .and_then(|_| {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                })
                .with_context(|| format!("writing {}", path.display()))?;
            paths.push(path);
        }
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
                binaries: &paths,
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
            &root,
            &mut PlainInstall,
            shell,
        )?
        else {
            continue;
        };
        let (reused, pulled): (Vec<String>, Vec<String>) = p
            .entries
            .iter()
            .cloned()
            .partition(|h| reused_by.contains_key(h));
        let record = InstallRecord {
            reason: "program-pulled",
            name: p.name.clone(),
            version: p.version.clone(),
            binaries: linked,
            reused,
            added: pulled,
        };
        record.announce(shell, "from the cache; ");
        records.push(record);
    }
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
pub(crate) fn fetch_entry(
    remote: &dyn Remote,
    url: &CacheUrl,
    trusted: &[PublicKey],
    reference: &EntryRef,
) -> Result<(StoreEntry, Vec<u8>, Vec<u8>)> {
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
    if crate::digest::sha256_hex(&lib) != config.entry.runtime_sha256
        || crate::digest::sha256_hex(&dev) != config.entry.dev_sha256
        || lib.len() as u64 != config.entry.runtime_size
    {
        bail!("{what}: its files do not match its manifest's hashes; refused");
    }
    Ok((config.entry, dev, lib))
}
