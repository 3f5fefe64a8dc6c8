//! `cargo share push --to oci://HOST[:PORT]/PATH --sign-key FILE [PROGRAM...]`: the builds of
//! installed programs and every entry they need, as signed artifacts (`artifact`).
//!
//! Entries go first, each program's artifact after its entries, and within an artifact the blobs
//! before the manifest: whatever is visible in the cache is complete. An entry whose manifest the
//! cache has is not sent again; blobs the cache has are not uploaded again. The store is only
//! read (shared lock).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cache::artifact::{prepare, upload, ENTRY_ARTIFACT, PROGRAM_ARTIFACT};
use crate::cache::keys::SecretKey;
use crate::cache::oci::OciRegistry;
use crate::cache::records::{EntryConfig, EntryRef, ProgramConfig};
use crate::cache::remote::{CacheUrl, Remote};
use cargo_share_compile::digest::file_sha256;
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::{human_bytes, Shell};
use cargo_share_core::store::{Access, EntryRow, Store};

/// `cargo share push` options.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub store: PathBuf,
    pub to: String,
    pub sign_key: PathBuf,
    /// Installed programs to push; empty: all.
    pub programs: Vec<String>,
    pub insecure: bool,
}

/// What `push` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PushReport {
    pub(crate) programs: Vec<String>,
    /// Entries uploaded, and entries the cache had.
    pub(crate) entries_pushed: usize,
    pub(crate) entries_present: usize,
    /// Bytes of blobs uploaded, and of everything sent.
    pub(crate) blob_bytes: u64,
    pub(crate) bytes_sent: u64,
}

/// A program's tags: its build (`b-ID`), its version, `latest`.
pub(crate) fn program_tags(version: &str, dir: &str) -> Vec<String> {
    let id = dir.rsplit('-').next().unwrap_or(dir);
    vec![
        format!("b-{id}"),
        version.replace('+', "_"),
        "latest".to_string(),
    ]
}

pub fn push(opts: &PushOptions, shell: &Shell) -> Result<PushReport> {
    let url = CacheUrl::parse(&opts.to)?;
    let key = SecretKey::read(&opts.sign_key)?;
    let remote = OciRegistry::new(&url, opts.insecure)?;
    let store = Store::open(&opts.store, Access::Read)?;
    push_to(&store, &remote, &url, &key, &opts.programs, shell)
}

/// Push `programs` (all installed ones when empty) of `store` to `remote`.
pub(crate) fn push_to(
    store: &Store,
    remote: &dyn Remote,
    url: &CacheUrl,
    key: &SecretKey,
    programs: &[String],
    shell: &Shell,
) -> Result<PushReport> {
    let names = if programs.is_empty() {
        store.program_names()?
    } else {
        programs.to_vec()
    };
    if names.is_empty() {
        bail!(
            "the store {} has no installed programs to push",
            store.root.display()
        );
    }
    let rows: BTreeMap<String, EntryRow> = store
        .entries()?
        .into_iter()
        .map(|r| (r.hash.clone(), r))
        .collect();
    let mut report = PushReport {
        ..Default::default()
    };
    let mut done = BTreeSet::new();
    for name in &names {
        let program = store.program(name)?.with_context(|| {
            format!("`{name}` is not installed in the store; `cargo share list` names what is")
        })?;
        // Its entries and, to be sure, their dependencies.
        let mut closure: BTreeSet<String> = BTreeSet::new();
        let mut pending = program.entries.clone();
        while let Some(hash) = pending.pop() {
            if !closure.insert(hash.clone()) {
                continue;
            }
            let row = rows.get(&hash).with_context(|| {
                format!("{name} needs the entry {hash}, which the store does not have; run `cargo share verify`")
            })?;
            pending.extend(store.entry(row)?.identity.dependencies);
        }
        let mut refs = Vec::new();
        for hash in &closure {
            let row = &rows[hash];
            refs.push(EntryRef {
                hash: hash.clone(),
                package: row.package.clone(),
                version: row.version.clone(),
            });
            if done.insert(hash.clone()) {
                push_entry(store, remote, url, key, row, &mut report, shell)?;
            }
        }
        push_program(
            store,
            remote,
            url,
            key,
            program,
            refs,
            &rows,
            &mut report,
            shell,
        )?;
        report.programs.push(name.clone());
    }
    report.bytes_sent = remote.transferred().0;
    shell.status(
        "Pushed",
        format!(
            "{} to {}: {} entries uploaded, {} already there ({} of blobs sent)",
            report.programs.join(", "),
            url_text(url),
            report.entries_pushed,
            report.entries_present,
            human_bytes(report.blob_bytes)
        ),
    );
    shell.message(&Message::PushFinished(Report::of(&report)));
    Ok(report)
}

fn url_text(url: &CacheUrl) -> String {
    format!("oci://{}/{}", url.host, url.path)
}

fn push_entry(
    store: &Store,
    remote: &dyn Remote,
    url: &CacheUrl,
    key: &SecretKey,
    row: &EntryRow,
    report: &mut PushReport,
    shell: &Shell,
) -> Result<()> {
    let label = format!("{} v{} ({})", row.package, row.version, &row.hash[..12]);
    let repository = url.repository("entries", &row.package);
    if remote.get_manifest(&repository, &row.hash)?.is_some() {
        shell.status("Present", &label);
        report.entries_present += 1;
        return Ok(());
    }
    if store.entry_intact(&row.hash)? != Some(true) {
        bail!(
            "the store's entry {label} does not match its hashes (damaged); nothing of it was \
             pushed. Run `cargo share verify --repair`, or install its programs again"
        );
    }
    let entry = store.entry(row)?;
    if entry.identity.inputs.is_none() {
        bail!(
            "the store's entry {label} was installed before cargo-share recorded identity \
             inputs, so a puller could not check it; install its programs again (a rebuild that \
             compiles nothing new), then push"
        );
    }
    let dir = store.root.join(&row.dir);
    let mut files = Vec::new();
    for sub in ["lib", "dev"] {
        let path = dir.join(sub).join(&entry.identity.file);
        files.push((
            format!("{sub}/{}", entry.identity.file),
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        ));
    }
    shell.status("Pushing", &label);
    let config = serde_json::to_vec(&EntryConfig { entry })?;
    let prepared = prepare(ENTRY_ARTIFACT, &row.hash, config, files, key)?;
    report.blob_bytes += upload(remote, &repository, &[&row.hash], &prepared)?;
    report.entries_pushed += 1;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn push_program(
    store: &Store,
    remote: &dyn Remote,
    url: &CacheUrl,
    key: &SecretKey,
    mut program: cargo_share_core::store::InstalledProgram,
    refs: Vec<EntryRef>,
    rows: &BTreeMap<String, EntryRow>,
    report: &mut PushReport,
    shell: &Shell,
) -> Result<()> {
    let dir = store.root.join(&program.dir);
    // The entries in its lib/, by the file names there.
    let mut libraries = Vec::new();
    let lib_dir = dir.join("lib");
    for f in
        std::fs::read_dir(&lib_dir).with_context(|| format!("reading {}", lib_dir.display()))?
    {
        let file = f?.file_name().to_string_lossy().into_owned();
        let hash = program
            .entries
            .iter()
            .find(|h| rows.get(*h).is_some_and(|r| r.file == file))
            .with_context(|| {
                format!(
                    "{} is in {} but none of its entries is that file; run `cargo share verify`",
                    file,
                    lib_dir.display()
                )
            })?;
        libraries.push(hash.clone());
    }
    libraries.sort();
    let mut files = Vec::new();
    for (bin, sha) in &program.binaries {
        let path = dir.join("bin").join(bin);
        if file_sha256(&path)? != *sha {
            bail!(
                "{} does not match its recorded hash (damaged); nothing of {} was pushed. Install \
                 it again",
                path.display(),
                program.name
            );
        }
        files.push((
            format!("bin/{bin}"),
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        ));
    }
    let tags = program_tags(&program.version, &program.dir);
    let label = format!("{} v{}", program.name, program.version);
    shell.status("Pushing", &label);
    let repository = url.repository("programs", &program.name);
    // The pusher's install root means nothing on another machine.
    program.root = PathBuf::new();
    let config = serde_json::to_vec(&ProgramConfig {
        program,
        libraries,
        entries: refs,
    })?;
    let prepared = prepare(PROGRAM_ARTIFACT, &tags[0], config, files, key)?;
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    report.blob_bytes += upload(remote, &repository, &tag_refs, &prepared)?;
    Ok(())
}
